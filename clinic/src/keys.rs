//! The clinic's keys: the root Ed25519 key (signs replies, receipts and
//! certificates) and the HPKE X25519 keys devices seal to, each with a
//! certificate signed by the root.

use cairn_core::sync::messages::{Certificate, Id16};
use cairn_core::sync::wire;
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use zeroize::Zeroizing;

use crate::Error;

const DAY_MS: u64 = 86_400_000;
/// How long a new HPKE key's certificate is valid.
pub const HPKE_VALIDITY_MS: u64 = 365 * DAY_MS;
/// How long past its `not_after` a retired HPKE key still opens requests.
pub const GRACE_MS: u64 = 30 * DAY_MS;

/// An HPKE key with its private half (opened from storage).
pub struct HpkeKey {
    /// The key id devices name.
    pub key_id: u32,
    /// X25519 public key.
    pub public: [u8; 32],
    /// X25519 private key.
    pub private: Zeroizing<[u8; 32]>,
    /// Certificate validity, ms.
    pub not_before_ms: u64,
    /// Certificate validity, ms.
    pub not_after_ms: u64,
    /// The root's signature over the certificate.
    pub signature: [u8; 64],
    /// The key new enrollments and devices should seal to (exactly one).
    pub current: bool,
}

impl HpkeKey {
    /// The key's certificate as sent to devices.
    pub fn certificate(&self) -> Certificate {
        Certificate {
            key_id: self.key_id,
            public: self.public,
            not_before_ms: self.not_before_ms,
            not_after_ms: self.not_after_ms,
            signature: self.signature,
        }
    }

    /// Whether a request sealed to this key is opened at `now_ms`: the
    /// current key always; a retired one until 30 days past its
    /// `not_after`.
    pub fn opens_at(&self, now_ms: u64) -> bool {
        self.current || now_ms <= self.not_after_ms.saturating_add(GRACE_MS)
    }
}

/// Everything the handler needs to answer for one clinic, loaded from
/// storage and cached until `version` changes.
pub struct KeySet {
    /// The clinic's id.
    pub clinic_id: Id16,
    /// The server epoch.
    pub epoch: Id16,
    /// The `keys_version` this set was loaded at.
    pub version: i64,
    /// The root signing key.
    pub root: Ed25519KeyPair,
    /// The HPKE keys that still open requests, current first.
    pub hpke: Vec<HpkeKey>,
}

impl KeySet {
    /// The root's public key (what devices pin).
    pub fn root_public(&self) -> [u8; 32] {
        wire::public_key(&self.root)
    }

    /// The current HPKE key.
    pub fn current(&self) -> &HpkeKey {
        self.hpke
            .iter()
            .find(|k| k.current)
            .expect("a clinic always has a current HPKE key")
    }

    /// The certificates a device should take: the current key's.
    pub fn certificates(&self) -> Vec<Certificate> {
        vec![self.current().certificate()]
    }

    /// The key a request names, if it still opens requests at `now_ms`.
    pub fn find(&self, key_id: u32, now_ms: u64) -> Option<&HpkeKey> {
        self.hpke
            .iter()
            .find(|k| k.key_id == key_id && k.opens_at(now_ms))
    }
}

/// A new root key, as PKCS#8 bytes.
pub fn new_root() -> Result<Zeroizing<Vec<u8>>, Error> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| Error::Runtime("the system random source failed".into()))?;
    Ok(Zeroizing::new(doc.as_ref().to_vec()))
}

/// Reads a root key's PKCS#8 bytes.
pub fn root_from_pkcs8(pkcs8: &[u8]) -> Result<Ed25519KeyPair, Error> {
    Ed25519KeyPair::from_pkcs8(pkcs8)
        .map_err(|_| Error::Runtime("the clinic's root key does not read".into()))
}

/// A new HPKE key pair: (private, public).
pub fn new_hpke(private: [u8; 32]) -> (Zeroizing<[u8; 32]>, [u8; 32]) {
    let public = crate::receiver::public_key(&private);
    (Zeroizing::new(private), public)
}

/// Signs an HPKE key certificate.
pub fn certify(
    root: &Ed25519KeyPair,
    clinic_id: &Id16,
    key_id: u32,
    public: &[u8; 32],
    not_before_ms: u64,
    not_after_ms: u64,
) -> [u8; 64] {
    let bytes = wire::certificate_bytes(clinic_id, key_id, public, not_before_ms, not_after_ms);
    wire::sign_certificate(root, &bytes)
}
