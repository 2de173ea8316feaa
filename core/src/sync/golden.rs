//! Round trips of whole messages, and the golden files of
//! core/tests/golden/sync (computed independently by scripts/sync_vectors.py).

use ring::signature::Ed25519KeyPair;

use super::hpke::{Context, tests::x25519};
use super::messages::*;
use super::wire::*;
use super::*;
use crate::trackers::Value;

fn key(seed: u8) -> Ed25519KeyPair {
    let seed: Vec<u8> = (seed..seed + 32).collect();
    Ed25519KeyPair::from_seed_unchecked(&seed).unwrap()
}

fn entry_change(seq: u64, device: Id16) -> Change {
    Change {
        change_id: [seq as u8; 16],
        seq,
        hlc: 1_767_225_000_000 << 16,
        kind: kind::ENTRY,
        record_id: RecordId::Bytes([0x22; 16]),
        op: Op::Put,
        vv: vec![(device, seq)],
        body: Some(
            EntryBody {
                tracker: "mood".into(),
                value: Value::Scale(6.5),
                note: Some("a note".into()),
                tags: vec![crate::Tag::parse("trigger:work").unwrap()],
                at_ms: 1_767_225_000_000,
                zone: "Europe/Paris".into(),
                utc_offset_seconds: 3600,
                created_ms: 1_767_225_000_000,
                updated_ms: 1_767_225_000_000,
                withheld: vec![],
            }
            .encode(),
        ),
        category: 1,
        author: device,
        incarnation: 0,
    }
}

#[test]
fn a_push_round_trips_through_seal_sign_open_and_reply() {
    let (root, device) = (key(0), key(0x40));
    let sk_r: [u8; 32] = core::array::from_fn(|i| 0x20 + i as u8);
    let pk_r = x25519_dalek::x25519(sk_r, x25519_dalek::X25519_BASEPOINT_BYTES);
    let device_pub = public_key(&device);
    let header = RequestHeader {
        kind: RequestKind::Push,
        minor: MINOR,
        clinic_id: [0xc0; 16],
        device_id: device_id(&device_pub),
        key_id: 7,
        request_id: [0xa0; 16],
        epoch: [0; 16],
        first: 1,
        last: 2,
        clock_ms: 1_767_225_600_000,
        extensions: vec![0, 9, 0, 1, 0xff],
    };
    let push = PushBody {
        changes: vec![
            entry_change(1, header.device_id),
            entry_change(2, header.device_id),
        ],
        cursor: b"c0".to_vec(),
    };
    let (bytes, reply_key) = seal_request(&header, &push.encode(), &pk_r, &device, false).unwrap();

    // The server's side.
    let req = Request::parse(&bytes).unwrap();
    assert_eq!(req.header, header);
    req.verify(&device_pub).unwrap();
    assert_eq!(req.verify(&public_key(&root)), Err(WireError::BadSignature));
    let info = hpke_info(&header.clinic_id, &header.device_id);
    let ctx = Context::from_dh(&x25519(&sk_r, &req.enc), &req.enc, &pk_r, &info);
    let got = PushBody::decode(&req.open(&ctx).unwrap()).unwrap();
    assert_eq!(got, push);
    let entry = EntryBody::decode(got.changes[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(entry.note.as_deref(), Some("a note"));

    let server_key = ReplyKey::new(&ctx, header.request_id, &bytes);
    let rh = ReplyHeader {
        kind: ReplyKind::Ok,
        minor: MINOR,
        clinic_id: header.clinic_id,
        device_id: header.device_id,
        request_id: header.request_id,
        request_hash: sha256(&bytes),
        epoch: [0xf0; 16],
        server_clock_ms: 1_767_225_601_000,
        extensions: vec![],
    };
    let ok = OkBody {
        last_applied: 2,
        receipt: Some(sign_receipt(&root, &rh, 2)),
        cursor: b"c1".to_vec(),
        ..OkBody::default()
    };
    let reply = seal_reply(&rh, &ok.encode(), &server_key, &[0xb0; 16], &root);

    // The device's side.
    let parsed = Reply::parse(&reply).unwrap();
    let root_pub = public_key(&root);
    let body = parsed
        .open(&root_pub, &header.clinic_id, &header.device_id, &reply_key)
        .unwrap();
    let got = OkBody::decode(&body).unwrap();
    assert_eq!(got, ok);
    verify_receipt(&root_pub, &parsed.header, 2, &got.receipt.unwrap()).unwrap();
    assert!(verify_receipt(&root_pub, &parsed.header, 3, &got.receipt.unwrap()).is_err());
    // Signed by another key, or answering another device: refused.
    assert_eq!(
        parsed.open(
            &public_key(&device),
            &header.clinic_id,
            &header.device_id,
            &reply_key
        ),
        Err(WireError::BadSignature)
    );
    assert_eq!(
        parsed.open(&root_pub, &header.clinic_id, &[9; 16], &reply_key),
        Err(WireError::WrongRequest)
    );
    // Every flipped byte of the request or of the reply is refused.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let refused = match Request::parse(&b) {
            Err(_) => true,
            Ok(r) => r.verify(&device_pub).is_err(),
        };
        assert!(refused, "request byte {i}");
    }
    for i in 0..reply.len() {
        let mut b = reply.clone();
        b[i] ^= 0x01;
        let refused = match Reply::parse(&b) {
            Err(_) => true,
            Ok(r) => r
                .open(&root_pub, &header.clinic_id, &header.device_id, &reply_key)
                .is_err(),
        };
        assert!(refused, "reply byte {i}");
    }
}

#[test]
fn a_re_signed_ciphertext_does_not_open_under_another_header() {
    // Another enrolled device takes a captured request, puts its own id in
    // the header and signs it: the signature is then its own, but the AEAD
    // refuses the changed header.
    let (victim, thief) = (key(0x40), key(0x60));
    let sk_r = [0x20u8; 32];
    let pk_r = x25519_dalek::x25519(sk_r, x25519_dalek::X25519_BASEPOINT_BYTES);
    let mut header = RequestHeader {
        kind: RequestKind::Push,
        minor: 0,
        clinic_id: [1; 16],
        device_id: device_id(&public_key(&victim)),
        key_id: 1,
        request_id: [2; 16],
        epoch: [0; 16],
        first: 1,
        last: 0,
        clock_ms: 0,
        extensions: vec![],
    };
    let (bytes, _) = seal_request(&header, b"", &pk_r, &victim, false).unwrap();
    let req = Request::parse(&bytes).unwrap();
    let info = hpke_info(&header.clinic_id, &header.device_id);
    let ctx = Context::from_dh(&x25519(&sk_r, &req.enc), &req.enc, &pk_r, &info);
    assert!(req.open(&ctx).is_ok());

    header.device_id = device_id(&public_key(&thief));
    let mut forged = header.encode();
    forged.extend_from_slice(&bytes[REQUEST_HEADER..bytes.len() - SIG_LEN]);
    let sig = thief.sign(&[&b"cairn sync request v1"[..], &forged].concat());
    forged.extend_from_slice(sig.as_ref());
    let req = Request::parse(&forged).unwrap();
    req.verify(&public_key(&thief)).unwrap();
    let info = hpke_info(&header.clinic_id, &header.device_id);
    let ctx = Context::from_dh(&x25519(&sk_r, &req.enc), &req.enc, &pk_r, &info);
    assert_eq!(req.open(&ctx), Err(WireError::Unreadable));
}

#[test]
fn versions_and_lengths_are_checked() {
    let device = key(0x40);
    let pk_r = x25519_dalek::x25519([0x20; 32], x25519_dalek::X25519_BASEPOINT_BYTES);
    let header = RequestHeader {
        kind: RequestKind::Withdraw,
        minor: 9,
        clinic_id: [1; 16],
        device_id: [2; 16],
        key_id: 1,
        request_id: [3; 16],
        epoch: [0; 16],
        first: 5,
        last: 4,
        clock_ms: 0,
        extensions: vec![],
    };
    let (bytes, _) = seal_request(&header, b"", &pk_r, &device, false).unwrap();
    assert_eq!(
        Request::parse(&bytes).unwrap().header.minor,
        9,
        "a newer minor reads"
    );
    let mut major = bytes.clone();
    major[4] = 2;
    assert_eq!(
        Request::parse(&major).err(),
        Some(WireError::Incompatible {
            found: 2,
            supported: 1
        })
    );
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Request::parse(&trailing).is_err());
    assert!(Request::parse(&bytes[..bytes.len() - 1]).is_err());
    let mut inverted = header.clone();
    inverted.last = 3;
    let (bytes, _) = seal_request(&inverted, b"", &pk_r, &device, false).unwrap();
    assert!(Request::parse(&bytes).is_err());
}

#[test]
fn decoders_survive_arbitrary_bytes() {
    // A small deterministic generator: the cargo-fuzz targets go further.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let sample = entry_change(1, [5; 16]);
    let mut w = body::FieldWriter::default();
    sample.encode(&mut w);
    let seedbuf = w.finish();
    for _ in 0..20_000 {
        let len = (next() % 300) as usize;
        let mut b: Vec<u8> = if next() % 2 == 0 {
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut b = seedbuf.clone();
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
            b.truncate(b.len().min(len + 20));
            b
        };
        let _ = Change::decode(&b);
        let _ = EntryBody::decode(&b);
        let _ = PushBody::decode(&b);
        let _ = OkBody::decode(&b);
        let _ = ErrorBody::decode(&b);
        let _ = EnrollBody::decode(&b);
        let _ = frame::unframe(&b);
        let _ = Request::parse(&b);
        let _ = Reply::parse(&b);
        let _ = code::EnrollmentCode::from_bytes(&b);
        b.splice(0..0, *b"CSY");
        let _ = Request::parse(&b);
    }
}

// --- golden files ----------------------------------------------------------

macro_rules! golden {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/sync/",
            $name
        ))
    };
}

fn range(from: u8) -> [u8; 32] {
    core::array::from_fn(|i| from + i as u8)
}

fn r16(from: u8) -> [u8; 16] {
    core::array::from_fn(|i| from.wrapping_add(i as u8))
}

struct Fixture {
    root: Ed25519KeyPair,
    device: Ed25519KeyPair,
    sk_r: [u8; 32],
    pk_r: [u8; 32],
    clinic_id: Id16,
    device_id: Id16,
}

fn fixture() -> Fixture {
    let sk_r = range(0x20);
    let device = key(0x40);
    let device_id = device_id(&public_key(&device));
    Fixture {
        root: key(0),
        device,
        sk_r,
        pk_r: x25519_dalek::x25519(sk_r, x25519_dalek::X25519_BASEPOINT_BYTES),
        clinic_id: r16(0xc0),
        device_id,
    }
}

impl Fixture {
    /// The receiver's context for a request, and the sender's context made
    /// again from the fixed ephemeral key the vectors used.
    fn contexts(&self, req: &Request<'_>, ephemeral: u8) -> (Context, Context) {
        let info = hpke_info(&self.clinic_id, &self.device_id);
        let r = Context::from_dh(&x25519(&self.sk_r, &req.enc), &req.enc, &self.pk_r, &info);
        let sk_e = range(ephemeral);
        let enc = x25519_dalek::x25519(sk_e, x25519_dalek::X25519_BASEPOINT_BYTES);
        assert_eq!(enc, req.enc, "the vectors' ephemeral key");
        let s = Context::from_dh(&x25519(&sk_e, &self.pk_r), &enc, &self.pk_r, &info);
        (r, s)
    }
}

#[test]
fn golden_enrollment_code() {
    let f = fixture();
    let text = std::str::from_utf8(golden!("code.txt")).unwrap().trim();
    let code = code::EnrollmentCode::parse(text).unwrap();
    assert_eq!(code.clinic_id, f.clinic_id);
    assert_eq!(code.enrollment_id, r16(0xd0));
    assert_eq!(code.secret, r16(0xe0));
    assert_eq!(code.expires_minutes, 29_500_000);
    assert_eq!(code.root_key, public_key(&f.root));
    assert_eq!(code.hpke_key_id, 0x0102_0304);
    assert_eq!(code.hpke_key, f.pk_r);
    assert_eq!(code.url, "https://clinic.example");
    assert_eq!(code.to_bytes(), golden!("code.bin"));
    assert_eq!(code.to_text().unwrap(), text);
}

#[test]
fn golden_enroll_request() {
    let f = fixture();
    let bytes = golden!("enroll_request.bin");
    let req = Request::parse(bytes).unwrap();
    assert_eq!(req.header.kind, RequestKind::Enroll);
    assert_eq!(req.header.device_id, f.device_id);
    assert_eq!((req.header.first, req.header.last), (1, 0));
    let (r, s) = f.contexts(&req, 0x60);
    let body = EnrollBody::decode(&req.open(&r).unwrap()).unwrap();
    // The device id is derived from the key inside, and the signature is
    // that key's.
    assert_eq!(device_id(&body.device_key), req.header.device_id);
    req.verify(&body.device_key).unwrap();
    assert!(body.proof_ok(&r16(0xe0)));
    assert!(!body.proof_ok(&r16(0xe1)));
    assert_eq!(body.categories, [1, 2]);
    assert_eq!(
        body.proof,
        EnrollBody::proof_for(&r16(0xe0), &r16(0xd0), &public_key(&f.device))
    );
    // Encoding the same content again gives the same bytes.
    let (again, _) = seal_request_with(&req.header, &body.encode(), &s, &f.device, false);
    assert_eq!(again, bytes);
}

fn golden_push() -> (Fixture, ReplyKey, PushBody) {
    let f = fixture();
    let bytes = golden!("push_request.bin");
    let req = Request::parse(bytes).unwrap();
    req.verify(&public_key(&f.device)).unwrap();
    assert_eq!(req.header.epoch, r16(0xf0));
    assert_eq!((req.header.first, req.header.last), (1, 3));
    let (r, _) = f.contexts(&req, 0x80);
    let plain = r.open(0, req.header_bytes, req.ciphertext).unwrap();
    assert_eq!(plain[0], 1, "the vector's body is LZ4-compressed");
    let raw = frame::unframe(&plain).unwrap();
    let push = PushBody::decode(&raw).unwrap();
    assert_eq!(push.encode(), raw, "the body's encoding is canonical");
    let key = ReplyKey::new(&r, req.header.request_id, bytes);
    (f, key, push)
}

#[test]
fn seal_request_is_frame_seal_sign_composed() {
    // The request built in one buffer is the plain composition: header,
    // enc, length, Seal(header, frame(body)), Sign(label || all that);
    // with extensions, and bodies stored, compressed and large.
    let f = fixture();
    let header = RequestHeader {
        kind: RequestKind::Push,
        minor: MINOR,
        clinic_id: f.clinic_id,
        device_id: f.device_id,
        key_id: 7,
        request_id: [0xa0; 16],
        epoch: [0; 16],
        first: 1,
        last: 2,
        clock_ms: 1_767_225_600_000,
        extensions: vec![0, 9, 0, 1, 0xff],
    };
    let sk_e = range(0x80);
    let enc = x25519_dalek::x25519(sk_e, x25519_dalek::X25519_BASEPOINT_BYTES);
    let info = hpke_info(&f.clinic_id, &f.device_id);
    let ctx = Context::from_dh(&x25519(&sk_e, &f.pk_r), &enc, &f.pk_r, &info);
    let push = PushBody {
        changes: (1..=600).map(|s| entry_change(s, f.device_id)).collect(),
        cursor: b"c0".to_vec(),
    }
    .encode();
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for body in [&b""[..], b"abc", &noise, &push] {
        for force in [false, true] {
            let mut plain = header.encode();
            let ct = ctx.seal(0, &plain, &frame::frame(body, force));
            plain.extend_from_slice(&enc);
            plain.extend_from_slice(&(ct.len() as u32).to_be_bytes());
            plain.extend_from_slice(&ct);
            let sig = f
                .device
                .sign(&[b"cairn sync request v1", &plain[..]].concat());
            plain.extend_from_slice(sig.as_ref());
            let (bytes, key) = seal_request_with(&header, body, &ctx, &f.device, force);
            assert_eq!(bytes, plain, "{} bytes, force {force}", body.len());
            assert_eq!(key.request_hash, sha256(&plain));
        }
    }
}

#[test]
fn golden_push_request() {
    let (f, _, push) = golden_push();
    assert!(push.cursor.is_empty());
    let [a, b, c] = &push.changes[..] else {
        panic!("three changes")
    };
    assert_eq!(
        (a.change_id, a.seq, a.hlc),
        ([0x11; 16], 1, 1_767_225_000_000 << 16)
    );
    assert_eq!(
        (a.kind, a.op, a.category, a.author),
        (kind::ENTRY, Op::Put, 1, f.device_id)
    );
    assert_eq!(a.record_id, RecordId::Bytes([0x22; 16]));
    assert_eq!(a.vv, [(f.device_id, 1)]);
    let e = EntryBody::decode(a.body.as_ref().unwrap()).unwrap();
    assert_eq!(e.tracker, "mood");
    assert_eq!(e.value, Value::Scale(6.5));
    assert_eq!(e.note.as_deref(), Some("golden note"));
    assert_eq!(e.tags, [crate::Tag::parse("trigger:work").unwrap()]);
    assert_eq!((e.at_ms, e.utc_offset_seconds), (1_767_225_000_000, 3600));
    assert_eq!(e.zone, "Europe/Paris");
    assert_eq!(
        (e.created_ms, e.updated_ms),
        (1_767_225_000_000, 1_767_225_000_000)
    );

    assert_eq!(b.hlc, (1_767_225_060_000 << 16) | 1);
    let e = EntryBody::decode(b.body.as_ref().unwrap()).unwrap();
    assert_eq!(e.value, Value::Scale(7.0));
    assert_eq!((e.note, e.withheld), (None, vec![ENTRY_NOTE]));
    assert_eq!(e.updated_ms, 1_767_225_060_000);

    assert_eq!((c.op, c.body.as_ref()), (Op::Delete, None));
    assert_eq!(c.record_id, RecordId::Bytes([0x33; 16]));
    assert_eq!(c.vv, [(f.device_id, 3)]);
}

#[test]
fn golden_replies() {
    let (f, key, _) = golden_push();
    let root_pub = public_key(&f.root);

    let bytes = golden!("ok_reply.bin");
    let reply = Reply::parse(bytes).unwrap();
    assert_eq!(reply.header.kind, ReplyKind::Ok);
    assert_eq!(reply.header.server_clock_ms, 1_767_225_601_000);
    let body = reply
        .open(&root_pub, &f.clinic_id, &f.device_id, &key)
        .unwrap();
    let ok = OkBody::decode(&body).unwrap();
    assert_eq!(ok.last_applied, 3);
    assert_eq!(ok.cursor, b"c1");
    assert!(!ok.more);
    verify_receipt(&root_pub, &reply.header, 3, &ok.receipt.unwrap()).unwrap();
    let [cert] = &ok.certificates[..] else {
        panic!("one certificate")
    };
    assert_eq!((cert.key_id, cert.public), (0x0102_0304, f.pk_r));
    verify_certificate(&root_pub, &cert.signed_bytes(&f.clinic_id), &cert.signature).unwrap();
    assert_eq!(ok.encode(), body);
    assert_eq!(
        seal_reply(&reply.header, &body, &key, &r16(0xb0), &f.root),
        bytes
    );

    let bytes = golden!("error_reply.bin");
    let reply = Reply::parse(bytes).unwrap();
    assert_eq!(reply.header.kind, ReplyKind::Error);
    let body = reply
        .open(&root_pub, &f.clinic_id, &f.device_id, &key)
        .unwrap();
    let err = ErrorBody::decode(&body).unwrap();
    assert_eq!(
        ErrorCode::from_u64(err.code),
        Some(ErrorCode::SequenceReused)
    );
    assert_eq!(err.last_applied, 7);
    assert_eq!(
        seal_reply(&reply.header, &body, &key, &r16(0x90), &f.root),
        bytes
    );

    let bytes = golden!("unsealed_error_reply.bin");
    let reply = Reply::parse(bytes).unwrap();
    assert_eq!(reply.header.kind, ReplyKind::UnsealedError);
    let body = reply
        .open(&root_pub, &f.clinic_id, &f.device_id, &key)
        .unwrap();
    let err = ErrorBody::decode(&body).unwrap();
    assert_eq!(ErrorCode::from_u64(err.code), Some(ErrorCode::UnknownKey));
    assert_eq!(err.certificates, ok.certificates);
    assert_eq!(unsealed_reply(&reply.header, &body, &f.root), bytes);
}
