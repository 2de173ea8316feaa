//! Keys and sealed records.
//!
//! The platform hands the core one 32-byte data key. From it HKDF-SHA256
//! derives a record-sealing key (AES-256-GCM) and a 32-bit key id. Every
//! sealed record is an envelope:
//!
//! ```text
//! [0]      envelope format (1 = AES-256-GCM, random 96-bit nonce)
//! [1..5]   key id (big-endian u32)
//! [5]      record schema version (of the plaintext body)
//! [6..18]  nonce
//! [18..]   ciphertext || 16-byte tag
//! ```
//!
//! The associated data binds the ciphertext to the envelope header, its
//! table, its record id and one plaintext column of the row (for entries,
//! the day bucket), so a ciphertext copied or swapped into another row or
//! table fails to authenticate.

use crate::error::{Error, Result};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use std::num::NonZeroU32;

/// Size of every key the core accepts.
pub const KEY_LEN: usize = 32;
/// Envelope format written by this build.
pub const ENVELOPE_V1: u8 = 1;
const HEADER_LEN: usize = 6;
const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// PBKDF2-HMAC-SHA256 iterations for new passphrase-protected stores
/// (OWASP's 2023 recommendation).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Fewest iterations a store may declare; a file asking for fewer is refused.
pub const PBKDF2_MIN_ITERATIONS: u32 = 600_000;
/// Salt size for passphrase-derived keys.
pub const SALT_LEN: usize = 16;

/// A 32-byte data key. Wiped from memory when dropped.
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    /// Takes a key from the platform; anything but 32 bytes is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::InvalidKeyLength { len: bytes.len() })?;
        Ok(Self(arr))
    }

    /// A fresh random key (for demos, tests and shells that need one).
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; KEY_LEN];
        fill_random(&mut k)?;
        Ok(Self(k))
    }

    /// Derives a key from a passphrase with PBKDF2-HMAC-SHA256.
    pub fn from_passphrase(passphrase: &str, params: &KdfParams) -> Result<Self> {
        if passphrase.is_empty() {
            return Err(Error::invalid("passphrase", "must not be empty"));
        }
        let iterations = NonZeroU32::new(params.iterations)
            .ok_or_else(|| Error::invalid("passphrase", "zero iterations"))?;
        let mut k = [0u8; KEY_LEN];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &params.salt,
            passphrase.as_bytes(),
            &mut k,
        );
        Ok(Self(k))
    }

    /// The raw bytes (for the shell to store in the keystore).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // Volatile writes so the wipe is not optimised away.
        for b in self.0.iter_mut() {
            unsafe { std::ptr::write_volatile(b, 0) };
        }
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
        if iterations < PBKDF2_MIN_ITERATIONS {
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
    let prk = salt.extract(&key.0);
    let info = [info];
    let okm = prk
        .expand(&info, HkdfLen(out.len()))
        .expect("HKDF output length is small");
    okm.fill(out).expect("HKDF output length matches");
}

/// Where a sealed blob belongs: bound into the associated data.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// Table name.
    pub table: &'a str,
    /// Record id.
    pub id: &'a str,
    /// A plaintext column of the row that must not change independently of
    /// the ciphertext (0 when there is none).
    pub column: i64,
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

/// Seals and opens records under one data key.
pub struct Sealer {
    aead: LessSafeKey,
    key_id: u32,
    rng: SystemRandom,
}

impl Sealer {
    /// Derives the record key and key id from a data key.
    pub fn new(key: &DataKey) -> Self {
        let mut k = [0u8; 32];
        derive(key, b"record seal aes-256-gcm", &mut k);
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).expect("32-byte key"));
        k.iter_mut().for_each(|b| *b = 0);
        let mut id = [0u8; 4];
        derive(key, b"key id", &mut id);
        Self {
            aead,
            key_id: u32::from_be_bytes(id),
            rng: SystemRandom::new(),
        }
    }

    /// The key id written into every envelope (public; identifies, does not reveal, the key).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Seals `plaintext` for the record at `at`, with record schema `schema`.
    pub fn seal(&self, at: Binding<'_>, schema: u8, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plaintext.len() + ENVELOPE_OVERHEAD);
        out.push(ENVELOPE_V1);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.push(schema);
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| Error::Random)?;
        out.extend_from_slice(&nonce);
        let body_start = out.len();
        out.extend_from_slice(plaintext);
        let aad = associated_data(&out[..HEADER_LEN], at);
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
    pub fn open_vec(&self, at: Binding<'_>, mut buf: Vec<u8>) -> Result<(u8, Vec<u8>), OpenError> {
        let (schema, len) = self.open_in_place(at, &mut buf)?;
        buf.truncate(len);
        buf.drain(..HEADER_LEN + NONCE_LEN);
        Ok((schema, buf))
    }

    /// Opens in place; on success the plaintext is
    /// `buf[HEADER_LEN + NONCE_LEN .. returned length]`.
    fn open_in_place(&self, at: Binding<'_>, buf: &mut [u8]) -> Result<(u8, usize), OpenError> {
        if buf.len() < ENVELOPE_OVERHEAD {
            return Err(OpenError::Malformed);
        }
        if buf[0] != ENVELOPE_V1 {
            return Err(OpenError::Malformed);
        }
        let key_id = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        if key_id != self.key_id {
            return Err(OpenError::OtherKey);
        }
        let schema = buf[5];
        let aad = associated_data(&buf[..HEADER_LEN], at);
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

fn associated_data(header: &[u8], at: Binding<'_>) -> Vec<u8> {
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
        column: 7,
    };

    #[test]
    fn keys_of_other_sizes_are_refused() {
        for len in [0usize, 16, 31, 33, 64] {
            let e = DataKey::from_bytes(&vec![1; len]).unwrap_err();
            assert!(matches!(e, Error::InvalidKeyLength { len: l } if l == len));
        }
    }

    #[test]
    fn sealed_record_opens_only_where_it_was_sealed() {
        let s = Sealer::new(&key(1));
        let env = s.seal(AT, 3, b"hello").unwrap();
        assert_eq!(env.len(), 5 + ENVELOPE_OVERHEAD);
        assert_eq!(s.open(AT, &env).unwrap(), (3, b"hello".to_vec()));
        let other_id = Binding { id: "a2", ..AT };
        let other_table = Binding {
            table: "trackers",
            ..AT
        };
        let other_col = Binding { column: 8, ..AT };
        for b in [other_id, other_table, other_col] {
            assert_eq!(s.open(b, &env), Err(OpenError::Forged));
        }
        let mut schema_changed = env.clone();
        schema_changed[5] = 4;
        assert_eq!(s.open(AT, &schema_changed), Err(OpenError::Forged));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let s = Sealer::new(&key(1));
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
        let env = Sealer::new(&key(1)).seal(AT, 1, b"x").unwrap();
        assert_eq!(
            Sealer::new(&key(2)).open(AT, &env),
            Err(OpenError::OtherKey)
        );
    }

    #[test]
    fn nonces_differ_between_seals() {
        let s = Sealer::new(&key(1));
        assert_ne!(s.seal(AT, 1, b"x").unwrap(), s.seal(AT, 1, b"x").unwrap());
    }

    #[test]
    fn kdf_params_round_trip_and_refuse_weak_settings() {
        let p = KdfParams::generate().unwrap();
        assert_eq!(KdfParams::decode(&p.encode()), Some(p.clone()));
        let weak = KdfParams {
            iterations: 1000,
            ..p
        };
        assert_eq!(KdfParams::decode(&weak.encode()), None);
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
