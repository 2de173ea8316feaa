//! Patient content at rest: AES-256-GCM under the server's storage key.
//!
//! The storage key is 32 bytes from a key file. Two keys are derived from it
//! with HKDF-SHA256: one seals bodies (change bodies, record states, patient
//! names, enrollment secrets, the clinic's private keys), one computes the
//! keyed hash that finds a patient by name without storing the name in the
//! clear. Every sealed value is bound to where it lives (clinic, patient,
//! table, record id, change id) through the AEAD's associated data, so a
//! value copied to another row does not open.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, hkdf, hmac};
use zeroize::Zeroizing;

use crate::Error;

/// The storage key's length.
pub const KEY_LEN: usize = 32;
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const AAD_LABEL: &[u8] = b"cairn clinic at rest v1";

/// The server's storage key, as read from its file.
pub struct StorageKey(Zeroizing<[u8; KEY_LEN]>);

impl StorageKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> StorageKey {
        StorageKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<StorageKey, Error> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(&mut *k)
            .map_err(|_| Error::Runtime("the system random source failed".into()))?;
        Ok(StorageKey(k))
    }

    /// Reads a key file: 32 raw bytes, or 64 hex characters (a trailing
    /// line break is allowed).
    pub fn read(path: &Path) -> Result<StorageKey, Error> {
        let raw = Zeroizing::new(fs::read(path).map_err(|e| {
            Error::Runtime(format!("cannot read the storage key file: {}", e.kind()))
        })?);
        if raw.len() == KEY_LEN {
            let mut k = Zeroizing::new([0u8; KEY_LEN]);
            k.copy_from_slice(&raw);
            return Ok(StorageKey(k));
        }
        let text = std::str::from_utf8(&raw).unwrap_or("").trim_end();
        if text.len() == 2 * KEY_LEN
            && let Some(b) = cairn_core::crypto::from_hex(text)
        {
            let b = Zeroizing::new(b);
            let mut k = Zeroizing::new([0u8; KEY_LEN]);
            k.copy_from_slice(&b);
            return Ok(StorageKey(k));
        }
        Err(Error::Runtime(
            "the storage key file must hold 32 bytes or 64 hex characters".into(),
        ))
    }

    /// Writes a new key file readable by its owner only; refuses to replace
    /// an existing file.
    pub fn create_file(&self, path: &Path) -> Result<(), Error> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            Error::Runtime(format!("cannot create the storage key file: {}", e.kind()))
        })?;
        f.write_all(&*self.0)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::Runtime(format!("cannot write the storage key file: {}", e.kind())))
    }
}

/// What precedes the ciphertext of a sealed value: the format byte and the
/// nonce.
pub const PREFIX_LEN: usize = 1 + NONCE_LEN;
const TAG_LEN: usize = 16;

/// Nonces drawn together ([`Sealer::nonces`]), each given out once.
pub struct Nonces {
    all: Vec<u8>,
    next: usize,
}

impl Nonces {
    fn take(&mut self) -> Option<[u8; NONCE_LEN]> {
        let n = self.all.get(self.next..self.next + NONCE_LEN)?;
        self.next += NONCE_LEN;
        Some(n.try_into().expect("12 bytes"))
    }
}

/// Where a sealed value lives: its associated data.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    /// The clinic.
    pub clinic: &'a [u8; 16],
    /// The patient (empty for clinic-wide values such as keys).
    pub patient: &'a [u8],
    /// The table.
    pub table: &'a str,
    /// The row's record id (or key id, enrollment id, device id).
    pub record: &'a [u8],
    /// The change id, where the row is a change.
    pub change: &'a [u8],
}

impl Place<'_> {
    fn aad(&self) -> Vec<u8> {
        let len = AAD_LABEL.len()
            + self.clinic.len()
            + self.patient.len()
            + self.table.len()
            + self.record.len()
            + self.change.len();
        let mut out = Vec::with_capacity(6 * 4 + len);
        for part in [
            AAD_LABEL,
            &self.clinic[..],
            self.patient,
            self.table.as_bytes(),
            self.record,
            self.change,
        ] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// Seals and opens values at rest.
pub struct Sealer {
    aead: aead::LessSafeKey,
    names: hmac::Key,
    rng: SystemRandom,
}

impl Sealer {
    /// The sealer of a storage key.
    pub fn new(key: &StorageKey) -> Sealer {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"cairn clinic storage v1").extract(&*key.0);
        let mut aead_key = Zeroizing::new([0u8; 32]);
        let mut mac_key = Zeroizing::new([0u8; 32]);
        prk.expand(&[b"aead"], Len(32))
            .and_then(|o| o.fill(&mut *aead_key))
            .expect("32 bytes");
        prk.expand(&[b"name mac"], Len(32))
            .and_then(|o| o.fill(&mut *mac_key))
            .expect("32 bytes");
        Sealer {
            aead: aead::LessSafeKey::new(
                aead::UnboundKey::new(&aead::AES_256_GCM, &*aead_key).expect("32-byte key"),
            ),
            names: hmac::Key::new(hmac::HMAC_SHA256, &*mac_key),
            rng: SystemRandom::new(),
        }
    }

    /// Seals `plaintext` for `place`: `1 || nonce (12) || ciphertext || tag`.
    pub fn seal(&self, place: Place<'_>, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonces = self.nonces(1)?;
        let mut out = Vec::with_capacity(PREFIX_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&[0; PREFIX_LEN]);
        out.extend_from_slice(plaintext);
        self.seal_prefixed(&mut nonces, place, &mut out)?;
        Ok(out)
    }

    /// Fresh random nonces for `n` values sealed together: one draw from
    /// the system random source for all of them (a batch's changes) rather
    /// than one a value. Each is used once ([`Sealer::seal_prefixed`]).
    pub fn nonces(&self, n: usize) -> Result<Nonces, Error> {
        let mut all = vec![0u8; n * NONCE_LEN];
        self.rng
            .fill(&mut all)
            .map_err(|_| Error::Runtime("the system random source failed".into()))?;
        Ok(Nonces { all, next: 0 })
    }

    /// Seals in place a buffer that holds [`PREFIX_LEN`] bytes of room
    /// (format and nonce, overwritten) then the plaintext, with the next of
    /// `nonces`; appends the tag. The result is [`Sealer::seal`]'s, made
    /// without copying the plaintext.
    pub fn seal_prefixed(
        &self,
        nonces: &mut Nonces,
        place: Place<'_>,
        buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let nonce = nonces
            .take()
            .ok_or_else(|| Error::Runtime("sealing failed: no nonce left".into()))?;
        if buf.len() < PREFIX_LEN {
            return Err(Error::Runtime("sealing failed".into()));
        }
        buf[0] = FORMAT;
        buf[1..PREFIX_LEN].copy_from_slice(&nonce);
        let tag = self
            .aead
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(place.aad()),
                &mut buf[PREFIX_LEN..],
            )
            .map_err(|_| Error::Runtime("sealing failed".into()))?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens a value sealed for `place`. A value that does not open (another
    /// key, another row, altered) is an error that names the table only.
    pub fn open(&self, place: Place<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let bad = || {
            Error::Runtime(format!(
                "a sealed value in table {} does not open (wrong storage key, or altered)",
                place.table
            ))
        };
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT {
            return Err(bad());
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("12 bytes");
        let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let n = self
            .aead
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(place.aad()),
                &mut buf,
            )
            .map_err(|_| bad())?
            .len();
        buf.truncate(n);
        Ok(buf)
    }

    /// The keyed hash that finds a patient by name: HMAC-SHA256 over the
    /// clinic id and the name (trimmed). Equal names give equal hashes; the
    /// name cannot be read back without the storage key.
    pub fn name_mac(&self, clinic: &[u8; 16], name: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.names);
        ctx.update(b"cairn clinic patient name v1");
        ctx.update(clinic);
        ctx.update(name.trim().as_bytes());
        ctx.sign().as_ref().try_into().expect("32 bytes")
    }

    /// Random bytes from the system source.
    pub fn random<const N: usize>(&self) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.rng
            .fill(&mut b)
            .map_err(|_| Error::Runtime("the system random source failed".into()))?;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<'a>(clinic: &'a [u8; 16], record: &'a [u8]) -> Place<'a> {
        Place {
            clinic,
            patient: b"p",
            table: "changes",
            record,
            change: b"c",
        }
    }

    #[test]
    fn values_open_only_where_they_were_sealed() {
        let s = Sealer::new(&StorageKey::from_bytes([7; 32]));
        let c = [1u8; 16];
        let sealed = s.seal(place(&c, b"r1"), b"hello").unwrap();
        assert_eq!(&**s.open(place(&c, b"r1"), &sealed).unwrap(), b"hello");
        assert!(s.open(place(&c, b"r2"), &sealed).is_err(), "another row");
        let other = Sealer::new(&StorageKey::from_bytes([8; 32]));
        assert!(
            other.open(place(&c, b"r1"), &sealed).is_err(),
            "another key"
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(s.open(place(&c, b"r1"), &flipped).is_err(), "altered");
        assert_eq!(s.name_mac(&c, " Ann "), s.name_mac(&c, "Ann"));
        assert_ne!(s.name_mac(&c, "Ann"), s.name_mac(&[2; 16], "Ann"));
    }

    #[test]
    fn nonces_drawn_together_seal_as_one_at_a_time() {
        let s = Sealer::new(&StorageKey::from_bytes([7; 32]));
        let c = [1u8; 16];
        let mut nonces = s.nonces(2).unwrap();
        let mut sealed = Vec::new();
        for text in [&b"first"[..], b"second"] {
            let mut buf = vec![0xAA; PREFIX_LEN];
            buf.extend_from_slice(text);
            s.seal_prefixed(&mut nonces, place(&c, b"r1"), &mut buf)
                .unwrap();
            assert_eq!(buf.len(), PREFIX_LEN + text.len() + TAG_LEN);
            assert_eq!(&**s.open(place(&c, b"r1"), &buf).unwrap(), text);
            assert!(s.open(place(&c, b"r2"), &buf).is_err(), "another row");
            sealed.push(buf);
        }
        assert_ne!(
            sealed[0][1..PREFIX_LEN],
            sealed[1][1..PREFIX_LEN],
            "two nonces"
        );
        let mut buf = vec![0; PREFIX_LEN + 1];
        assert!(
            s.seal_prefixed(&mut nonces, place(&c, b"r1"), &mut buf)
                .is_err(),
            "each nonce is given once"
        );
    }

    #[test]
    fn key_files_hold_raw_bytes_or_hex() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.key");
        let k = StorageKey::generate().unwrap();
        k.create_file(&raw).unwrap();
        assert_eq!(*StorageKey::read(&raw).unwrap().0, *k.0);
        assert!(k.create_file(&raw).is_err(), "never replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&raw).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let hex = dir.path().join("hex.key");
        fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(*StorageKey::read(&hex).unwrap().0, [0xab; 32]);
        fs::write(&hex, "short").unwrap();
        assert!(StorageKey::read(&hex).is_err());
    }
}
