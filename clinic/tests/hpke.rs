//! The server's HPKE receiver (the `hpke` crate) against RFC 9180 A.1.1,
//! against the core's sender, and against the protocol's golden files.

use cairn_clinic::receiver;
use cairn_core::crypto::from_hex;
use cairn_core::sync::frame;
use cairn_core::sync::hpke::Context;
use cairn_core::sync::messages::{EnrollBody, PushBody};
use cairn_core::sync::wire::{self, ReplyKey, Request};
use ring::signature::Ed25519KeyPair;

fn h(s: &str) -> Vec<u8> {
    from_hex(s).unwrap()
}

fn a32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

// RFC 9180, Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// AES-128-GCM, base mode.
const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
const ENC: &str = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431";
const SK_RM: &str = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8";
const PK_RM: &str = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d";
const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";

#[test]
fn the_receiver_matches_rfc9180_a_1_1() {
    assert_eq!(receiver::public_key(&a32(SK_RM)), a32(PK_RM));
    let mut ctx = receiver::setup(&a32(SK_RM), &a32(ENC), &h(INFO)).unwrap();
    for (aad, ct) in [
        (
            "436f756e742d30",
            "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
        ),
        (
            "436f756e742d31",
            "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84",
        ),
        (
            "436f756e742d32",
            "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180",
        ),
    ] {
        assert_eq!(ctx.open(&h(ct), &h(aad)).unwrap(), h(PT), "aad {aad}");
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
        ctx.export(&h(context), &mut out).unwrap();
        assert_eq!(out, a32(value), "export {context}");
    }
    // The one-shot path the server uses: sequence 0, then the reply secret.
    let opened = receiver::open(
        &a32(SK_RM),
        &a32(ENC),
        &h(INFO),
        &h("436f756e742d30"),
        &h("f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"),
        b"",
    )
    .unwrap();
    assert_eq!(*opened.plaintext, h(PT));
    // Export(L = 16) is its own output (L is in HKDF's info), checked
    // against the same context.
    let mut sixteen = [0u8; 16];
    ctx.export(b"", &mut sixteen).unwrap();
    assert_eq!(*opened.reply_secret, sixteen);
    // A flipped byte, other associated data, another key: refused.
    let mut ct = h(
        "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
    );
    assert!(receiver::open(&a32(SK_RM), &a32(ENC), &h(INFO), b"other", &ct, b"").is_err());
    ct[0] ^= 1;
    assert!(
        receiver::open(
            &a32(SK_RM),
            &a32(ENC),
            &h(INFO),
            &h("436f756e742d30"),
            &ct,
            b""
        )
        .is_err()
    );
}

#[test]
fn the_cores_sender_and_the_servers_receiver_agree() {
    for seed in 0u8..8 {
        let sk: [u8; 32] = core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8));
        let pk = receiver::public_key(&sk);
        let info = [b"cairn sync v1".as_slice(), &[seed; 32]].concat();
        let sender = Context::sender(&pk, &info).unwrap();
        let ct = sender.seal(0, b"header", b"framed body");
        let opened = receiver::open(
            &sk,
            &sender.enc,
            &info,
            b"header",
            &ct,
            ReplyKey::EXPORT_LABEL,
        )
        .unwrap();
        assert_eq!(&**opened.plaintext, b"framed body");
        let mut secret = [0u8; 16];
        sender.export(ReplyKey::EXPORT_LABEL, &mut secret);
        assert_eq!(*opened.reply_secret, secret);
        assert!(receiver::open(&sk, &sender.enc, b"other info", b"header", &ct, b"").is_err());
    }
    // A low-order `enc` is refused, not used.
    assert!(receiver::open(&[7; 32], &[0; 32], b"", b"", &[0; 32], b"").is_err());
}

fn golden(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../core/tests/golden/sync/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

fn range<const N: usize>(from: u8) -> [u8; N] {
    core::array::from_fn(|i| from.wrapping_add(i as u8))
}

#[test]
fn the_receiver_opens_the_protocols_golden_requests_and_seals_the_golden_reply() {
    let sk_r: [u8; 32] = range(0x20);
    let root = Ed25519KeyPair::from_seed_unchecked(&range::<32>(0)).unwrap();

    let bytes = golden("enroll_request.bin");
    let req = Request::parse(&bytes).unwrap();
    let info = wire::hpke_info(&req.header.clinic_id, &req.header.device_id);
    let opened = receiver::open(
        &sk_r,
        &req.enc,
        &info,
        req.header_bytes,
        req.ciphertext,
        b"",
    )
    .unwrap();
    let body = EnrollBody::decode(&frame::unframe(&opened.plaintext).unwrap()).unwrap();
    assert!(body.proof_ok(&range(0xe0)));

    // The push request, and the ok reply to it: the reply key from the
    // crate's exporter seals the golden reply byte for byte.
    let bytes = golden("push_request.bin");
    let req = Request::parse(&bytes).unwrap();
    let info = wire::hpke_info(&req.header.clinic_id, &req.header.device_id);
    let opened = receiver::open(
        &sk_r,
        &req.enc,
        &info,
        req.header_bytes,
        req.ciphertext,
        ReplyKey::EXPORT_LABEL,
    )
    .unwrap();
    assert_eq!(
        opened.reply_secret[..],
        h("71abba7276aa5e305e7a23a48d080598")
    );
    let push = PushBody::decode(&frame::unframe(&opened.plaintext).unwrap()).unwrap();
    assert_eq!(push.changes.len(), 3);
    let key = ReplyKey::from_secret(*opened.reply_secret, req.enc, req.header.request_id, &bytes);
    let ok_reply = golden("ok_reply.bin");
    let parsed = wire::Reply::parse(&ok_reply).unwrap();
    let body = parsed
        .open(
            &wire::public_key(&root),
            &req.header.clinic_id,
            &req.header.device_id,
            &key,
        )
        .unwrap();
    assert_eq!(
        wire::seal_reply(&parsed.header, &body, &key, &range(0xb0), &root),
        ok_reply
    );
}
