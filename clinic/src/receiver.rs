//! The HPKE receiver (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM) with the maintained `hpke` crate: the core only
//! has the sender side (ring has no static X25519 key).

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, Kem as _, OpModeR, Serializable as _};
use zeroize::Zeroizing;

/// What went wrong opening a sealed request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFailed;

/// An opened HPKE message: the plaintext and the context's exported
/// secrets the caller asked for.
pub struct Opened {
    /// The decrypted plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// `Export(label, 16)` for the reply key.
    pub reply_secret: Zeroizing<[u8; 16]>,
}

/// The public key of an X25519 private key.
pub fn public_key(private: &[u8; 32]) -> [u8; 32] {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(private)
        .expect("32 bytes is an X25519 private key");
    X25519HkdfSha256::sk_to_pk(&sk)
        .to_bytes()
        .as_slice()
        .try_into()
        .expect("32 bytes")
}

/// `SetupBaseR(enc, skR, info)`, then `Open(aad, ciphertext)` at sequence
/// number 0 and `Export(export_label, 16)`.
pub fn open(
    private: &[u8; 32],
    enc: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    export_label: &[u8],
) -> Result<Opened, OpenFailed> {
    let mut ctx = setup(private, enc, info)?;
    let plaintext = Zeroizing::new(ctx.open(ciphertext, aad).map_err(|_| OpenFailed)?);
    let mut reply_secret = Zeroizing::new([0u8; 16]);
    ctx.export(export_label, &mut *reply_secret)
        .map_err(|_| OpenFailed)?;
    Ok(Opened {
        plaintext,
        reply_secret,
    })
}

/// The receiver's context, for tests that open more than one message.
pub fn setup(
    private: &[u8; 32],
    enc: &[u8; 32],
    info: &[u8],
) -> Result<hpke::aead::AeadCtxR<AesGcm128, HkdfSha256, X25519HkdfSha256>, OpenFailed> {
    let sk =
        <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(private).map_err(|_| OpenFailed)?;
    let enc =
        <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| OpenFailed)?;
    // A low-order `enc` (an all-zero shared secret) is refused by the crate.
    hpke::setup_receiver::<AesGcm128, HkdfSha256, X25519HkdfSha256>(&OpModeR::Base, &sk, &enc, info)
        .map_err(|_| OpenFailed)
}
