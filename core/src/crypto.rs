//! Keys and sealed records.
//!
//! The platform hands the core one 32-byte data key. From it HKDF-SHA256
//! derives a record-sealing key (AES-256-GCM) and a 32-bit key id. Every
//! sealed record is an envelope:
//!
//! ```text
//! [0]      envelope format (2 = AES-256-GCM, random 96-bit nonce, v2 AAD)
//! [1..5]   key id (big-endian u32)
//! [5]      record schema version (of the plaintext body; 0 for a tombstone)
//! [6..18]  nonce
//! [18..]   ciphertext || 16-byte tag
//! ```
//!
//! The associated data binds the ciphertext to the envelope header, the
//! store, its table, its record id, its revision, its deleted state and one
//! plaintext column of the row (for entries, the day bucket), so a
//! ciphertext copied into another row, table or store, or written back
//! under another revision or deleted state, fails to authenticate.
//! Envelope 1 (no store, revision or deleted state in the AAD) is opened
//! only by the migration to schema 3.

use crate::error::{Error, Result};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use std::num::NonZeroU32;
use zeroize::{Zeroize, Zeroizing};

/// Size of every key the core accepts.
pub const KEY_LEN: usize = 32;
/// Envelope format written by this build.
pub const ENVELOPE_V2: u8 = 2;
/// The envelope format of schema versions 1 and 2 (read by the migration only).
const ENVELOPE_V1: u8 = 1;
const HEADER_LEN: usize = 6;
const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// PBKDF2-HMAC-SHA256 iterations for new passphrase-protected stores
/// (OWASP's 2023 recommendation).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Fewest iterations a store may declare; a file asking for fewer is refused.
pub const PBKDF2_MIN_ITERATIONS: u32 = 600_000;
/// Most iterations a store may declare (about 15 s here); a file asking for
/// more is refused rather than stalling every open.
pub const PBKDF2_MAX_ITERATIONS: u32 = 10_000_000;
/// Fewest characters a new passphrase may have (NIST SP 800-63B).
pub const PASSPHRASE_MIN_CHARS: usize = 8;
/// Salt size for passphrase-derived keys.
pub const SALT_LEN: usize = 16;

/// A 32-byte data key. Wiped from memory when dropped.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// Takes a key from the platform; anything but 32 bytes is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != KEY_LEN {
            return Err(Error::InvalidKeyLength { len: bytes.len() });
        }
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        k.copy_from_slice(bytes);
        Ok(Self(k))
    }

    /// A fresh random key (for demos, tests and shells that need one).
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(&mut *k)?;
        Ok(Self(k))
    }

    /// Derives a key from a passphrase with PBKDF2-HMAC-SHA256 (to open an
    /// existing store: any non-empty passphrase).
    pub fn from_passphrase(passphrase: &str, params: &KdfParams) -> Result<Self> {
        if passphrase.is_empty() {
            return Err(Error::invalid("passphrase", "must not be empty"));
        }
        let iterations = NonZeroU32::new(params.iterations)
            .ok_or_else(|| Error::invalid("passphrase", "zero iterations"))?;
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &params.salt,
            passphrase.as_bytes(),
            &mut *k,
        );
        Ok(Self(k))
    }

    /// Like [`DataKey::from_passphrase`], for a new store or a re-key: the
    /// passphrase must have at least [`PASSPHRASE_MIN_CHARS`] characters.
    pub fn from_new_passphrase(passphrase: &str, params: &KdfParams) -> Result<Self> {
        if passphrase.chars().count() < PASSPHRASE_MIN_CHARS {
            return Err(Error::invalid(
                "passphrase",
                format!("must have at least {PASSPHRASE_MIN_CHARS} characters"),
            ));
        }
        Self::from_passphrase(passphrase, params)
    }

    /// The raw bytes (for the shell to store in the keystore).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Parameters of a passphrase-derived key, stored in the clear in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// Random salt.
    pub salt: [u8; SALT_LEN],
}

impl KdfParams {
    /// Fresh parameters with a random salt.
    pub fn generate() -> Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        Ok(Self {
            iterations: PBKDF2_ITERATIONS,
            salt,
        })
    }

    /// `[1][iterations u32 BE][salt]`
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + 4 + SALT_LEN);
        v.push(1);
        v.extend_from_slice(&self.iterations.to_be_bytes());
        v.extend_from_slice(&self.salt);
        v
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 1 + 4 + SALT_LEN || bytes[0] != 1 {
            return None;
        }
        let iterations = u32::from_be_bytes(bytes[1..5].try_into().ok()?);
        if !(PBKDF2_MIN_ITERATIONS..=PBKDF2_MAX_ITERATIONS).contains(&iterations) {
            return None;
        }
        let salt = bytes[5..].try_into().ok()?;
        Some(Self { iterations, salt })
    }
}

/// Fills `buf` from the operating system's secure random source.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Random)
}

/// A fresh random id: 16 bytes as 32 lowercase hex characters.
pub fn random_id() -> Result<String> {
    let mut b = [0u8; 16];
    fill_random(&mut b)?;
    Ok(to_hex(&b))
}

/// Checks that `id` looks like [`random_id`]'s output (so that errors may
/// repeat it without repeating arbitrary text).
pub(crate) fn check_id(id: &str) -> Result<()> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(Error::invalid("id", "expected 32 lowercase hex characters"))
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Parses hex (either case); `None` on any other character or odd length.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    s.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

struct HkdfLen(usize);
impl hkdf::KeyType for HkdfLen {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(key: &DataKey, info: &[u8], out: &mut [u8]) {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"cairn data key v1");
    let prk = salt.extract(&key.0[..]);
    let info = [info];
    let okm = prk
        .expand(&info, HkdfLen(out.len()))
        .expect("HKDF output length is small");
    okm.fill(out).expect("HKDF output length matches");
}

/// Where a sealed blob belongs: bound into the associated data, together
/// with the store id the [`Sealer`] was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// Table name.
    pub table: &'a str,
    /// Record id.
    pub id: &'a str,
    /// The row's revision.
    pub revision: i64,
    /// Whether the row is a tombstone.
    pub deleted: bool,
    /// A plaintext column of the row that must not change independently of
    /// the ciphertext (0 when there is none).
    pub column: i64,
}

impl<'a> Binding<'a> {
    /// A live record with no bound column.
    pub fn live(table: &'a str, id: &'a str, revision: i64) -> Self {
        Self {
            table,
            id,
            revision,
            deleted: false,
            column: 0,
        }
    }
}

/// Why an envelope did not open. Callers map it to `Error::Corrupted` with
/// the record's id; the distinction helps tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Too short or unknown envelope format.
    Malformed,
    /// Sealed under another key.
    OtherKey,
    /// Authentication failed: altered, moved, or damaged.
    Forged,
}

/// Seals and opens the records of one store under one data key.
pub struct Sealer {
    aead: LessSafeKey,
    key_id: u32,
    store_id: String,
    rng: SystemRandom,
}

impl Sealer {
    /// Derives the record key and key id from a data key, for the store
    /// whose `meta.store_id` is `store_id`.
    pub fn new(key: &DataKey, store_id: &str) -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        derive(key, b"record seal aes-256-gcm", &mut *k);
        // ring keeps its own expanded key schedule, which it does not wipe
        // (docs/security.md); the derived bytes themselves are wiped here.
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &*k).expect("32-byte key"));
        k.zeroize();
        let mut id = [0u8; 4];
        derive(key, b"key id", &mut id);
        Self {
            aead,
            key_id: u32::from_be_bytes(id),
            store_id: store_id.to_owned(),
            rng: SystemRandom::new(),
        }
    }

    /// The store this sealer seals for (`meta.store_id`).
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// The key id written into every envelope (public; identifies, does not reveal, the key).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Seals `plaintext` for the record at `at`, with record schema `schema`.
    pub fn seal(&self, at: Binding<'_>, schema: u8, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| Error::Random)?;
        self.seal_with_nonce(at, schema, plaintext, nonce)
    }

    /// The tombstone of a deleted record: an empty body bound to
    /// `deleted = true`, so the flag cannot be set or cleared without the key.
    pub fn seal_tombstone(&self, table: &str, id: &str, revision: i64) -> Result<Vec<u8>> {
        let at = Binding {
            deleted: true,
            ..Binding::live(table, id, revision)
        };
        self.seal(at, 0, &[])
    }

    /// Verifies a tombstone sealed by [`Sealer::seal_tombstone`].
    pub fn open_tombstone(
        &self,
        table: &str,
        id: &str,
        revision: i64,
        envelope: &[u8],
    ) -> Result<(), OpenError> {
        let at = Binding {
            deleted: true,
            ..Binding::live(table, id, revision)
        };
        match self.open(at, envelope)? {
            (0, body) if body.is_empty() => Ok(()),
            _ => Err(OpenError::Forged),
        }
    }

    /// [`Sealer::seal`] with a given nonce: for golden test vectors only
    /// (a nonce must never repeat under one key).
    pub(crate) fn seal_with_nonce(
        &self,
        at: Binding<'_>,
        schema: u8,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plaintext.len() + ENVELOPE_OVERHEAD);
        out.push(ENVELOPE_V2);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.push(schema);
        out.extend_from_slice(&nonce);
        let body_start = out.len();
        out.extend_from_slice(plaintext);
        let aad = self.associated_data(&out[..HEADER_LEN], at)?;
        let tag = self
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut out[body_start..],
            )
            .map_err(|_| Error::Random)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens an envelope sealed for `at`; returns the record schema version
    /// and the plaintext.
    pub fn open(&self, at: Binding<'_>, envelope: &[u8]) -> Result<(u8, Vec<u8>), OpenError> {
        self.open_vec(at, envelope.to_vec())
    }

    /// Like [`Sealer::open`], reusing the envelope's buffer for the plaintext.
    pub fn open_vec(&self, at: Binding<'_>, buf: Vec<u8>) -> Result<(u8, Vec<u8>), OpenError> {
        self.open_format(ENVELOPE_V2, at, buf)
    }

    /// Opens an envelope-1 body (schema versions 1 and 2) bound to
    /// `table`, `id` and `column`: for the migration to schema 3 only.
    pub(crate) fn open_v1(
        &self,
        table: &str,
        id: &str,
        column: i64,
        envelope: Vec<u8>,
    ) -> Result<(u8, Vec<u8>), OpenError> {
        let at = Binding {
            column,
            ..Binding::live(table, id, 0)
        };
        self.open_format(ENVELOPE_V1, at, envelope)
    }

    fn open_format(
        &self,
        format: u8,
        at: Binding<'_>,
        mut buf: Vec<u8>,
    ) -> Result<(u8, Vec<u8>), OpenError> {
        let (schema, len) = self.open_in_place(format, at, &mut buf)?;
        buf.truncate(len);
        buf.drain(..HEADER_LEN + NONCE_LEN);
        Ok((schema, buf))
    }

    /// Opens in place; on success the plaintext is
    /// `buf[HEADER_LEN + NONCE_LEN .. returned length]`.
    fn open_in_place(
        &self,
        format: u8,
        at: Binding<'_>,
        buf: &mut [u8],
    ) -> Result<(u8, usize), OpenError> {
        if buf.len() < ENVELOPE_OVERHEAD {
            return Err(OpenError::Malformed);
        }
        if buf[0] != format {
            return Err(OpenError::Malformed);
        }
        let key_id = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        if key_id != self.key_id {
            return Err(OpenError::OtherKey);
        }
        let schema = buf[5];
        let aad = if format == ENVELOPE_V1 {
            associated_data_v1(&buf[..HEADER_LEN], at)
        } else {
            self.associated_data(&buf[..HEADER_LEN], at)
                .map_err(|_| OpenError::Malformed)?
        };
        let nonce: [u8; NONCE_LEN] = buf[HEADER_LEN..HEADER_LEN + NONCE_LEN]
            .try_into()
            .expect("length checked");
        let plain = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut buf[HEADER_LEN + NONCE_LEN..],
            )
            .map_err(|_| OpenError::Forged)?;
        let len = HEADER_LEN + NONCE_LEN + plain.len();
        Ok((schema, len))
    }
}

impl Sealer {
    /// Envelope 2's associated data:
    /// `"cairn\x02" || header || lp(store id) || lp(table) || lp(id) ||
    /// revision (i64 BE) || deleted (u8) || column (i64 BE)`, where `lp` is a
    /// big-endian u16 length followed by the bytes.
    fn associated_data(&self, header: &[u8], at: Binding<'_>) -> Result<Vec<u8>> {
        let parts = [
            self.store_id.as_bytes(),
            at.table.as_bytes(),
            at.id.as_bytes(),
        ];
        let mut aad = Vec::with_capacity(
            6 + header.len() + 6 + 17 + parts.iter().map(|p| p.len()).sum::<usize>(),
        );
        aad.extend_from_slice(b"cairn\x02");
        aad.extend_from_slice(header);
        for p in parts {
            let len = u16::try_from(p.len()).map_err(|_| Error::invalid("id", "too long"))?;
            aad.extend_from_slice(&len.to_be_bytes());
            aad.extend_from_slice(p);
        }
        aad.extend_from_slice(&at.revision.to_be_bytes());
        aad.push(u8::from(at.deleted));
        aad.extend_from_slice(&at.column.to_be_bytes());
        Ok(aad)
    }
}

/// Envelope 1's associated data (schema versions 1 and 2).
fn associated_data_v1(header: &[u8], at: Binding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(8 + header.len() + at.table.len() + at.id.len() + 8);
    aad.extend_from_slice(b"cairn\x01");
    aad.extend_from_slice(header);
    aad.push(at.table.len() as u8);
    aad.extend_from_slice(at.table.as_bytes());
    aad.push(at.id.len() as u8);
    aad.extend_from_slice(at.id.as_bytes());
    aad.extend_from_slice(&at.column.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> DataKey {
        DataKey::from_bytes(&[b; 32]).unwrap()
    }
    const AT: Binding<'static> = Binding {
        table: "entries",
        id: "a1",
        revision: 3,
        deleted: false,
        column: 7,
    };
    const STORE: &str = "00112233445566778899aabbccddeeff";

    fn sealer(b: u8) -> Sealer {
        Sealer::new(&key(b), STORE)
    }

    #[test]
    fn keys_of_other_sizes_are_refused() {
        for len in [0usize, 16, 31, 33, 64] {
            let e = DataKey::from_bytes(&vec![1; len]).unwrap_err();
            assert!(matches!(e, Error::InvalidKeyLength { len: l } if l == len));
        }
    }

    #[test]
    fn sealed_record_opens_only_where_it_was_sealed() {
        let s = sealer(1);
        let env = s.seal(AT, 3, b"hello").unwrap();
        assert_eq!(env.len(), 5 + ENVELOPE_OVERHEAD);
        assert_eq!(s.open(AT, &env).unwrap(), (3, b"hello".to_vec()));
        let other_id = Binding { id: "a2", ..AT };
        let other_table = Binding {
            table: "trackers",
            ..AT
        };
        let other_col = Binding { column: 8, ..AT };
        let older = Binding { revision: 2, ..AT };
        let newer = Binding { revision: 4, ..AT };
        let deleted = Binding {
            deleted: true,
            ..AT
        };
        for b in [other_id, other_table, other_col, older, newer, deleted] {
            assert_eq!(s.open(b, &env), Err(OpenError::Forged), "{b:?}");
        }
        // The same key in another store (Android shares one data key).
        let other_store = Sealer::new(&key(1), "ffeeddccbbaa99887766554433221100");
        assert_eq!(other_store.open(AT, &env), Err(OpenError::Forged));
        let mut schema_changed = env.clone();
        schema_changed[5] = 4;
        assert_eq!(s.open(AT, &schema_changed), Err(OpenError::Forged));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let s = sealer(1);
        let env = s.seal(AT, 1, b"some body text").unwrap();
        for i in 0..env.len() {
            let mut t = env.clone();
            t[i] ^= 0x01;
            assert!(s.open(AT, &t).is_err(), "flip at {i} went unnoticed");
        }
        for n in 0..env.len() {
            assert!(s.open(AT, &env[..n]).is_err());
        }
    }

    #[test]
    fn another_key_is_told_apart() {
        let env = sealer(1).seal(AT, 1, b"x").unwrap();
        assert_eq!(sealer(2).open(AT, &env), Err(OpenError::OtherKey));
    }

    #[test]
    fn nonces_differ_between_seals() {
        let s = sealer(1);
        assert_ne!(s.seal(AT, 1, b"x").unwrap(), s.seal(AT, 1, b"x").unwrap());
    }

    #[test]
    fn tombstones_open_only_as_tombstones_of_their_revision() {
        let s = sealer(1);
        let t = s.seal_tombstone("entries", "a1", 4).unwrap();
        assert_eq!(s.open_tombstone("entries", "a1", 4, &t), Ok(()));
        assert!(s.open_tombstone("entries", "a1", 3, &t).is_err());
        assert!(s.open_tombstone("entries", "a2", 4, &t).is_err());
        // A tombstone is not a live record, and a live record is no tombstone.
        let live = Binding::live("entries", "a1", 4);
        assert_eq!(s.open(live, &t), Err(OpenError::Forged));
        let body = s.seal(live, 1, b"").unwrap();
        assert!(s.open_tombstone("entries", "a1", 4, &body).is_err());
    }

    /// Golden vectors: fixed key, store id, binding and nonce give fixed
    /// bytes (published in docs/security.md). A change here is a format
    /// change and needs a new envelope version.
    #[test]
    fn golden_envelope_vectors() {
        let k: Vec<u8> = (0u8..32).collect();
        let s = Sealer::new(&DataKey::from_bytes(&k).unwrap(), STORE);
        let nonce: [u8; NONCE_LEN] = core::array::from_fn(|i| 0xa0 + i as u8);
        let live = Binding {
            table: "entries",
            id: "0123456789abcdef0123456789abcdef",
            revision: 2,
            deleted: false,
            column: 20_500,
        };
        let env = s.seal_with_nonce(live, 1, b"golden body", nonce).unwrap();
        assert_eq!(to_hex(&s.key_id().to_be_bytes()), GOLDEN_KEY_ID);
        assert_eq!(to_hex(&env), GOLDEN_LIVE);
        assert_eq!(s.open(live, &env).unwrap(), (1, b"golden body".to_vec()));
        let tomb = Binding {
            deleted: true,
            column: 0,
            revision: 3,
            ..live
        };
        let env = s.seal_with_nonce(tomb, 0, b"", nonce).unwrap();
        assert_eq!(to_hex(&env), GOLDEN_TOMBSTONE);
        assert_eq!(s.open_tombstone(tomb.table, tomb.id, 3, &env), Ok(()));
    }
    // Computed independently by scripts/envelope_vectors.py (Python's
    // `cryptography`), from the format in docs/design.md.
    const GOLDEN_KEY_ID: &str = "72a0e9c0";
    const GOLDEN_LIVE: &str = "0272a0e9c001a0a1a2a3a4a5a6a7a8a9aaabdceac8b7f2825a6ef2ece2853ebf931940d74e997274389e0e4460";
    const GOLDEN_TOMBSTONE: &str =
        "0272a0e9c000a0a1a2a3a4a5a6a7a8a9aaabe33840df9deb9091e7418d7f45cf552e";

    #[test]
    fn kdf_params_round_trip_and_refuse_weak_settings() {
        let p = KdfParams::generate().unwrap();
        assert_eq!(KdfParams::decode(&p.encode()), Some(p.clone()));
        let weak = KdfParams {
            iterations: 1000,
            ..p.clone()
        };
        assert_eq!(KdfParams::decode(&weak.encode()), None);
        let stalling = KdfParams {
            iterations: PBKDF2_MAX_ITERATIONS + 1,
            ..p.clone()
        };
        assert_eq!(KdfParams::decode(&stalling.encode()), None);
        let most = KdfParams {
            iterations: PBKDF2_MAX_ITERATIONS,
            ..p
        };
        assert_eq!(KdfParams::decode(&most.encode()), Some(most.clone()));
        assert_eq!(KdfParams::decode(&[1, 2, 3]), None);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 0xab, 0xff])).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert_eq!(from_hex("ABcd").unwrap(), vec![0xab, 0xcd]);
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
    }
}
