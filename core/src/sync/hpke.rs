//! HPKE (RFC 9180) base mode, sender side, for the one suite sync uses:
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
//!
//! ring has every primitive a sender needs (an ephemeral X25519 key, HMAC,
//! HKDF-Expand, AES-128-GCM) but no static X25519 key, so the receiver (the
//! clinic server) uses its own implementation; both are checked against the
//! RFC's published vectors (Appendix A.1) and against each other. The key
//! schedule is public ([`Context::from_dh`]) so that a receiver holding a
//! DH result can use it too.

use ring::{aead, agreement, hkdf, hmac, rand::SystemRandom};
use zeroize::Zeroizing;

use super::WireError;

const KEM_SUITE: &[u8] = b"KEM\x00\x20";
const HPKE_SUITE: &[u8] = b"HPKE\x00\x20\x00\x01\x00\x01";

/// Length of an encapsulated key (`enc`) and of X25519 public keys.
pub const ENC_LEN: usize = 32;
/// AES-128-GCM tag length.
pub const TAG_LEN: usize = 16;

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    let mut ctx = hmac::Context::with_key(&key);
    for part in [b"HPKE-v1".as_slice(), suite, label, ikm] {
        ctx.update(part);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

fn labeled_expand(suite: &[u8], prk: &[u8; 32], label: &[u8], info: &[u8], out: &mut [u8]) {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk);
    let l = (out.len() as u16).to_be_bytes();
    let info = [&l[..], b"HPKE-v1", suite, label, info];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("lengths here are far below HKDF's limit");
}

/// An HPKE context after `SetupBaseS` (or `SetupBaseR`): the AEAD key and
/// base nonce for its one message, and the exporter secret.
pub struct Context {
    key: Zeroizing<[u8; 16]>,
    base_nonce: [u8; 12],
    exporter_secret: Zeroizing<[u8; 32]>,
    /// The encapsulated key to send with the ciphertext.
    pub enc: [u8; ENC_LEN],
}

impl Context {
    /// `SetupBaseS(pkR, info)`: a fresh ephemeral X25519 key from the system
    /// random source, agreed with the recipient's public key.
    pub fn sender(pk_r: &[u8; 32], info: &[u8]) -> Result<Context, WireError> {
        let rng = SystemRandom::new();
        let sk_e = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng)
            .map_err(|_| WireError::Random)?;
        let pk_e = sk_e.compute_public_key().map_err(|_| WireError::Random)?;
        let enc: [u8; 32] = pk_e.as_ref().try_into().expect("X25519 keys are 32 bytes");
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, pk_r);
        // ring refuses a low-order public key (an all-zero shared secret),
        // as RFC 9180 §7.1.4 asks.
        agreement::agree_ephemeral(sk_e, &peer, |dh| {
            let dh: &[u8; 32] = dh.try_into().expect("X25519 output is 32 bytes");
            Context::from_dh(dh, &enc, pk_r, info)
        })
        .map_err(|_| WireError::Malformed("the clinic's HPKE key is not a valid X25519 key"))
    }

    /// The key schedule from a DH result: `dh = X25519(skE, pkR)` for a
    /// sender, `X25519(skR, enc)` for a receiver (RFC 9180 §4.1, §5.1).
    pub fn from_dh(dh: &[u8; 32], enc: &[u8; 32], pk_r: &[u8; 32], info: &[u8]) -> Context {
        let mut kem_context = [0u8; 64];
        kem_context[..32].copy_from_slice(enc);
        kem_context[32..].copy_from_slice(pk_r);
        let eae_prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh);
        let mut shared_secret = Zeroizing::new([0u8; 32]);
        labeled_expand(
            KEM_SUITE,
            &eae_prk,
            b"shared_secret",
            &kem_context,
            &mut *shared_secret,
        );
        Context::key_schedule(&shared_secret, enc, info)
    }

    fn key_schedule(shared_secret: &[u8; 32], enc: &[u8; 32], info: &[u8]) -> Context {
        let psk_id_hash = labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"");
        let info_hash = labeled_extract(HPKE_SUITE, b"", b"info_hash", info);
        let mut ks_context = [0u8; 65];
        ks_context[1..33].copy_from_slice(&*psk_id_hash);
        ks_context[33..].copy_from_slice(&*info_hash);
        let secret = labeled_extract(HPKE_SUITE, shared_secret, b"secret", b"");
        let mut key = Zeroizing::new([0u8; 16]);
        let mut base_nonce = [0u8; 12];
        let mut exporter_secret = Zeroizing::new([0u8; 32]);
        labeled_expand(HPKE_SUITE, &secret, b"key", &ks_context, &mut *key);
        labeled_expand(
            HPKE_SUITE,
            &secret,
            b"base_nonce",
            &ks_context,
            &mut base_nonce,
        );
        labeled_expand(
            HPKE_SUITE,
            &secret,
            b"exp",
            &ks_context,
            &mut *exporter_secret,
        );
        Context {
            key,
            base_nonce,
            exporter_secret,
            enc: *enc,
        }
    }

    fn aead_key(&self) -> aead::LessSafeKey {
        aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::AES_128_GCM, &*self.key).expect("16-byte key"),
        )
    }

    /// `Seal(aad, pt)` at sequence number `seq` (sync seals one message per
    /// context, at 0).
    pub fn seal(&self, seq: u64, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self.seal_in_place(seq, aad, &mut out);
        out.extend_from_slice(&tag);
        out
    }

    /// [`seal`](Context::seal) in place: `in_out` holds the plaintext and
    /// is left holding the ciphertext; the tag that follows it is returned.
    pub fn seal_in_place(&self, seq: u64, aad: &[u8], in_out: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .aead_key()
            .seal_in_place_separate_tag(self.nonce(seq), aead::Aad::from(aad), in_out)
            .expect("a message under 64 GiB seals");
        tag.as_ref()
            .try_into()
            .expect("AES-128-GCM tags are 16 bytes")
    }

    /// `Open(aad, ct)` at sequence number `seq`.
    pub fn open(&self, seq: u64, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, WireError> {
        let mut buf = ciphertext.to_vec();
        let n = self
            .aead_key()
            .open_in_place(self.nonce(seq), aead::Aad::from(aad), &mut buf)
            .map_err(|_| WireError::Unreadable)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }

    fn nonce(&self, seq: u64) -> aead::Nonce {
        let mut n = self.base_nonce;
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        aead::Nonce::assume_unique_for_key(n)
    }

    /// `Export(exporter_context, L)` into `out`.
    pub fn export(&self, exporter_context: &[u8], out: &mut [u8]) {
        labeled_expand(
            HPKE_SUITE,
            &self.exporter_secret,
            b"sec",
            exporter_context,
            out,
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::from_hex;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        from_hex(s).unwrap().try_into().unwrap()
    }

    /// X25519 with a static private key, which ring lacks (tests only).
    pub(crate) fn x25519(sk: &[u8; 32], pk: &[u8; 32]) -> [u8; 32] {
        x25519_dalek::x25519(*sk, *pk)
    }

    // RFC 9180, Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
    // AES-128-GCM, base mode.
    const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    const SK_EM: &str = "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736";
    const PK_EM: &str = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431";
    const SK_RM: &str = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8";
    const PK_RM: &str = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d";
    const KEY: &str = "4531685d41d65f03dc48f6b8302c05b0";
    const BASE_NONCE: &str = "56d890e5accaaf011cff4b7d";
    const EXPORTER_SECRET: &str =
        "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8";

    #[test]
    fn rfc9180_a1_base_mode_vectors() {
        let sk_e: [u8; 32] = h(SK_EM);
        let pk_r: [u8; 32] = h(PK_RM);
        let info = from_hex(INFO).unwrap();
        let base = x25519_dalek::X25519_BASEPOINT_BYTES;
        assert_eq!(x25519_dalek::x25519(sk_e, base), h::<32>(PK_EM));
        assert_eq!(x25519_dalek::x25519(h(SK_RM), base), pk_r);
        let ctx = Context::from_dh(&x25519(&sk_e, &pk_r), &h(PK_EM), &pk_r, &info);
        assert_eq!(*ctx.key, h::<16>(KEY));
        assert_eq!(ctx.base_nonce, h::<12>(BASE_NONCE));
        assert_eq!(*ctx.exporter_secret, h::<32>(EXPORTER_SECRET));
        // The receiver's side computes the same context from its static key.
        let r = Context::from_dh(&x25519(&h(SK_RM), &h(PK_EM)), &h(PK_EM), &pk_r, &info);
        assert_eq!(*r.key, *ctx.key);

        let encryptions = [
            (
                0u64,
                "436f756e742d30",
                "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
            ),
            (
                1,
                "436f756e742d31",
                "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84",
            ),
            (
                2,
                "436f756e742d32",
                "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180",
            ),
            (
                4,
                "436f756e742d34",
                "583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d",
            ),
            (
                255,
                "436f756e742d323535",
                "7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a",
            ),
            (
                256,
                "436f756e742d323536",
                "957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2",
            ),
        ];
        let pt = from_hex("4265617574792069732074727574682c20747275746820626561757479").unwrap();
        for (seq, aad, ct) in encryptions {
            let aad = from_hex(aad).unwrap();
            assert_eq!(ctx.seal(seq, &aad, &pt), from_hex(ct).unwrap(), "seq {seq}");
            assert_eq!(r.open(seq, &aad, &from_hex(ct).unwrap()).unwrap(), pt);
        }
        for (context, value) in [
            (
                "",
                "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee",
            ),
            (
                "00",
                "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5",
            ),
            (
                "54657374436f6e74657874",
                "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931",
            ),
        ] {
            let mut out = [0u8; 32];
            ctx.export(&from_hex(context).unwrap(), &mut out);
            assert_eq!(out, h::<32>(value), "export {context}");
        }
    }

    #[test]
    fn ring_sender_and_a_static_receiver_agree() {
        let sk_r = [7u8; 32];
        let pk_r = x25519_dalek::x25519(sk_r, x25519_dalek::X25519_BASEPOINT_BYTES);
        let s = Context::sender(&pk_r, b"info").unwrap();
        let ct = s.seal(0, b"aad", b"hello");
        let r = Context::from_dh(&x25519(&sk_r, &s.enc), &s.enc, &pk_r, b"info");
        assert_eq!(r.open(0, b"aad", &ct).unwrap(), b"hello");
        assert_eq!(r.open(0, b"other aad", &ct), Err(WireError::Unreadable));
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        s.export(b"x", &mut a);
        r.export(b"x", &mut b);
        assert_eq!(a, b);
        // A low-order public key is refused, not used.
        assert!(Context::sender(&[0u8; 32], b"info").is_err());
    }
}
