//! The server's §9 processing rules, end to end through `handle`, with a
//! device built from `cairn_core::sync` primitives, on both backends: each
//! test runs as `sqlite::NAME` against a real SQLite file and as
//! `postgres::NAME` against a database of a private PostgreSQL cluster
//! (tests/common/pg.rs).

mod common;

use cairn_clinic::ingest::{REASON_FOREIGN, REASON_INVALID, REASON_MALFORMED};
use cairn_core::sync::hlc::Hlc;
use cairn_core::sync::messages::{
    EntryBody, ErrorBody, ErrorCode, OkBody, PushBody, RecordId, kind,
};
use cairn_core::sync::wire::{self, ReplyKind, RequestKind};
use common::*;

/// Runs each named test (a `fn(Clinic)`) on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Clinic::new());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Clinic::postgres());
                }
            )*
        }
    };
}

on_both_backends!(
    enroll_then_push_then_a_second_device_pulls_exactly_once,
    an_empty_cursor_returns_the_devices_own_changes_too,
    a_gap_and_a_reused_sequence_apply_nothing,
    bad_changes_are_rejected_one_by_one_and_the_batch_goes_on,
    another_patients_device_cannot_touch_a_record,
    enrollment_proof_use_and_expiry,
    refused_before_opening_unsealed,
    replies_verify_under_the_root_key_only,
    stale_requests_and_clocks_far_ahead,
    entries_show_each_record_once_winner_only_without_tombstones,
    concurrent_edits_keep_both_versions_and_the_winner_shows,
    a_pull_is_capped_and_says_more,
    withdraw_revokes_and_hides_the_devices_data,
    key_rotation_keeps_opening_requests_sealed_to_the_old_key,
    text_record_ids_are_per_patient,
    two_servers_on_one_database_apply_each_change_once,
    change_ids_held_before_leave_no_gap_in_the_feed,
);

fn device_last_applied(clinic: &Clinic, d: &TestDevice) -> u64 {
    clinic
        .server
        .storage()
        .devices()
        .unwrap()
        .into_iter()
        .find(|x| x.device_id == d.id)
        .unwrap()
        .last_applied
}

fn enroll_then_push_then_a_second_device_pulls_exactly_once(clinic: Clinic) {
    let mut a = TestDevice::new(&clinic.code("Ann", T0));
    let ok = a.enroll(&clinic, T0);
    assert_eq!(ok.last_applied, 0);
    let patient = ok.patient_id.expect("enroll replies carry the patient id");
    let [cert] = &ok.certificates[..] else {
        panic!("the current certificate")
    };
    assert_eq!(
        (cert.key_id, cert.public),
        (a.code.hpke_key_id, a.code.hpke_key)
    );

    let (r1, r2) = (random::<16>(), random::<16>());
    let changes = vec![
        a.entry(r1, "mood", mood(6.0), Some("first note")),
        a.entry(
            r2,
            "sleep",
            cairn_core::Value::Sleep {
                minutes: 420,
                quality: Some(7),
            },
            None,
        ),
    ];
    let req = a.push_request(1, 2, &changes, T0 + MINUTE);
    let reply = clinic.send(&req.0, T0 + MINUTE);
    let ok = a.read(&reply, &req.1).ok();
    assert_eq!(ok.last_applied, 2);
    assert!(ok.rejected.is_empty() && ok.restamped.is_empty());
    assert!(
        ok.changes.is_empty(),
        "the enroll reply's cursor starts the feed without the device's own changes"
    );
    // An empty cursor (a device restored, or starting over) pulls from the
    // beginning, its own changes included.
    a.cursor.clear();
    let ok = a
        .exchange(&clinic, a.push_request(3, 2, &[], T0 + MINUTE), T0 + MINUTE)
        .ok();
    assert_eq!(ok.changes, changes);
    assert!(ok.certificates.is_empty(), "sealed to the current key");

    // The same request again: replayed, nothing applied twice.
    let again = clinic.send(&req.0, T0 + 2 * MINUTE);
    assert_eq!(a.read(&again, &req.1).error(), (ErrorCode::Replayed, true));
    // The same changes in a new request: duplicates, skipped.
    let ok = a
        .exchange(
            &clinic,
            a.push_request(1, 2, &changes, T0 + 3 * MINUTE),
            T0 + 3 * MINUTE,
        )
        .ok();
    assert_eq!(ok.last_applied, 2);
    assert!(ok.rejected.is_empty());
    assert_eq!(clinic.entries("Ann").len(), 2, "each entry once");

    // A second device of the same patient pulls both, once.
    let mut b = TestDevice::new(&clinic.code("Ann", T0));
    assert_eq!(b.enroll(&clinic, T0 + 4 * MINUTE).patient_id, Some(patient));
    let ok = b
        .exchange(
            &clinic,
            b.push_request(1, 0, &[], T0 + 5 * MINUTE),
            T0 + 5 * MINUTE,
        )
        .ok();
    assert_eq!(ok.changes, changes, "the first device's changes, as sent");
    let hash2 = cairn_clinic::ingest::feed_hash(
        &cairn_clinic::ingest::feed_hash(&[], &changes[0].change_id),
        &changes[1].change_id,
    );
    assert_eq!(
        ok.cursor,
        [&2u64.to_be_bytes()[..], &hash2].concat(),
        "the last feed position sent, and the feed's hash there"
    );
    assert!(!ok.more);
    let note = EntryBody::decode(ok.changes[0].body.as_ref().unwrap())
        .unwrap()
        .note;
    assert_eq!(note.as_deref(), Some("first note"));
    // With its cursor: nothing new.
    let ok = b
        .exchange(
            &clinic,
            b.push_request(1, 0, &[], T0 + 6 * MINUTE),
            T0 + 6 * MINUTE,
        )
        .ok();
    assert!(ok.changes.is_empty());
    assert_eq!(ok.cursor, [&2u64.to_be_bytes()[..], &hash2].concat());

    // B edits the first entry; A pulls the edit (and not its own changes).
    let edit = {
        let mut c = b.entry(r1, "mood", mood(8.0), Some("edited"));
        c.vv = vec![(a.id, 1), (b.id, c.seq)];
        c.hlc = (T0 + 7 * MINUTE) << 16;
        c
    };
    b.exchange(
        &clinic,
        b.push_request(1, 1, std::slice::from_ref(&edit), T0 + 7 * MINUTE),
        T0 + 7 * MINUTE,
    )
    .ok();
    let ok = a
        .exchange(
            &clinic,
            a.push_request(3, 2, &[], T0 + 8 * MINUTE),
            T0 + 8 * MINUTE,
        )
        .ok();
    assert_eq!(
        ok.changes,
        [edit],
        "from the beginning (empty cursor) only the other's..."
    );
    let entries = clinic.entries("Ann");
    assert_eq!(entries.len(), 2);
    let e = entries
        .iter()
        .find(|e| e["id"] == cairn_clinic::ingest::hex(&r1))
        .unwrap();
    assert_eq!(e["value"], 8.0);
    assert_eq!(e["note"], "edited");
}

fn an_empty_cursor_returns_the_devices_own_changes_too(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let changes = vec![a.entry(random(), "mood", mood(5.0), None)];
    a.exchange(&clinic, a.push_request(1, 1, &changes, T0), T0)
        .ok();
    // A restored device pulls from the beginning.
    a.cursor.clear();
    let ok = a.exchange(&clinic, a.push_request(2, 1, &[], T0), T0).ok();
    assert_eq!(ok.changes, changes);
    // A cursor from another epoch means the same.
    a.cursor = 1u64.to_be_bytes().to_vec();
    a.epoch = [9; 16];
    let ok = a.exchange(&clinic, a.push_request(2, 1, &[], T0), T0).ok();
    assert_eq!(ok.changes, changes);
}

fn a_gap_and_a_reused_sequence_apply_nothing(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let first = a.entry(random(), "mood", mood(4.0), None);
    a.exchange(
        &clinic,
        a.push_request(1, 1, std::slice::from_ref(&first), T0),
        T0,
    )
    .ok();

    // A batch starting after last_applied + 1.
    a.next_seq = 3;
    let later = a.entry(random(), "mood", mood(5.0), None);
    let err = a
        .exchange(&clinic, a.push_request(3, 3, &[later], T0), T0)
        .error_body();
    assert_eq!(ErrorCode::from_u64(err.code), Some(ErrorCode::Gap));
    assert_eq!(err.last_applied, 1);

    // A restored copy numbers a new change with seq 1, already applied.
    a.next_seq = 1;
    let reused = a.entry(random(), "mood", mood(9.0), None);
    let fresh = a.entry(random(), "mood", mood(2.0), None);
    let req = a.push_request(1, 2, &[reused, fresh], T0);
    let answer = a.exchange(&clinic, req, T0);
    assert_eq!(answer.error(), (ErrorCode::SequenceReused, true));
    let err = answer.error_body();
    assert_eq!(err.last_applied, 1);
    assert_eq!(
        err.held,
        [cairn_core::sync::messages::Held {
            seq: 1,
            change_id: first.change_id,
            author: Some(first.author),
            vv: first.vv.clone(),
        }],
        "what the server holds, as it holds it"
    );
    assert_eq!(
        clinic.entries("Ann").len(),
        1,
        "the whole batch rolled back"
    );
    assert_eq!(device_last_applied(&clinic, &a), 1);

    // The first change again under a new seq is a duplicate, not an error.
    let mut moved = first.clone();
    moved.seq = 2;
    let ok = a
        .exchange(&clinic, a.push_request(2, 2, &[moved], T0), T0)
        .ok();
    assert_eq!(ok.last_applied, 2);
    assert_eq!(clinic.entries("Ann").len(), 1);
}

fn bad_changes_are_rejected_one_by_one_and_the_batch_goes_on(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let good = a.entry(random(), "mood", mood(3.0), None);
    let out_of_range = a.entry(random(), "mood", mood(42.0), None);
    let mut wrong_author = a.entry(random(), "mood", mood(3.0), None);
    wrong_author.author = [7; 16];
    let mut bad_vv = a.entry(random(), "mood", mood(3.0), None);
    bad_vv.vv = vec![(a.id, 99)];
    let mut bad_body = a.entry(random(), "mood", mood(3.0), None);
    bad_body.body = Some(vec![0xff, 0xff]);
    let unknown_tracker = a.entry(random(), "not-a-tracker", mood(3.0), None);
    let good2 = a.entry(random(), "anxiety", mood(2.0), None);
    let batch = [
        good,
        out_of_range,
        wrong_author,
        bad_vv,
        bad_body,
        unknown_tracker,
        good2,
    ];
    let ok = a
        .exchange(&clinic, a.push_request(1, 7, &batch, T0), T0)
        .ok();
    assert_eq!(
        ok.last_applied, 7,
        "rejected changes do not hold the device back"
    );
    let got: Vec<(u64, u64)> = ok.rejected.iter().map(|r| (r.seq, r.code)).collect();
    assert_eq!(
        got,
        [
            (2, REASON_INVALID),
            (3, REASON_MALFORMED),
            (4, REASON_MALFORMED),
            (5, REASON_MALFORMED),
            (6, REASON_INVALID),
        ]
    );
    for r in &ok.rejected {
        assert!(!r.reason.is_empty());
    }
    assert_eq!(clinic.entries("Ann").len(), 2);
    // Sent again (a lost reply): the same rejections, nothing applied.
    let ok = a
        .exchange(&clinic, a.push_request(1, 7, &batch, T0), T0)
        .ok();
    assert_eq!(ok.rejected.len(), 5);
    assert_eq!(clinic.entries("Ann").len(), 2);
}

fn another_patients_device_cannot_touch_a_record(clinic: Clinic) {
    let mut ann = enrolled(&clinic, "Ann", T0);
    let record = random();
    let c = ann.entry(record, "mood", mood(5.0), Some("ann's"));
    ann.exchange(&clinic, ann.push_request(1, 1, &[c], T0), T0)
        .ok();
    let mut bob = enrolled(&clinic, "Bob", T0);
    let theft = bob.entry(record, "mood", mood(1.0), Some("bob's"));
    let ok = bob
        .exchange(&clinic, bob.push_request(1, 1, &[theft], T0), T0)
        .ok();
    assert_eq!(ok.rejected.len(), 1);
    assert_eq!(ok.rejected[0].code, REASON_FOREIGN);
    assert!(ok.changes.is_empty(), "Bob pulls nothing of Ann's");
    let ann_entries = clinic.entries("Ann");
    assert_eq!(ann_entries.len(), 1);
    assert_eq!(ann_entries[0]["note"], "ann's");
    assert!(clinic.entries("Bob").is_empty());
}

fn enrollment_proof_use_and_expiry(clinic: Clinic) {
    let code = clinic.code("Ann", T0);

    // A wrong proof.
    let mut a = TestDevice::new(&code);
    let mut body = a.enroll_body();
    body.proof[0] ^= 1;
    let h = a.header(RequestKind::Enroll, 1, 0, T0);
    let req = a.seal(&h, &body.encode());
    assert_eq!(
        a.exchange(&clinic, req, T0).error(),
        (ErrorCode::BadProof, true)
    );

    // The right one; the same device again after a lost reply: the same
    // success; another device with the same code: used.
    let ok = a.enroll(&clinic, T0);
    let again = a.enroll(&clinic, T0 + MINUTE);
    assert_eq!(again.patient_id, ok.patient_id);
    let mut other = TestDevice::new(&code);
    let req = other.enroll_request(T0);
    assert_eq!(
        other.exchange(&clinic, req, T0).error(),
        (ErrorCode::EnrollmentUsed, true)
    );

    // A code past its expiry (the server decides, by its clock).
    let mut late = TestDevice::new(&clinic.code("Ann", T0));
    let now = T0 + 15 * DAY;
    let req = late.enroll_request(now);
    assert_eq!(
        late.exchange(&clinic, req, now).error(),
        (ErrorCode::EnrollmentExpired, true)
    );

    // A device key that does not match the header's device id.
    let mut liar = TestDevice::new(&clinic.code("Ann", T0));
    let mut body = liar.enroll_body();
    body.device_key = a.public;
    let h = liar.header(RequestKind::Enroll, 1, 0, T0);
    let req = liar.seal(&h, &body.encode());
    assert_eq!(
        liar.exchange(&clinic, req, T0).error(),
        (ErrorCode::BadSignature, false)
    );
}

/// The key to read the (unsealed) reply to a request altered in transit:
/// the reply names the bytes the server received.
fn altered(key: &wire::ReplyKey, sent: &[u8]) -> wire::ReplyKey {
    wire::ReplyKey::from_secret([0; 16], [0; 32], key.request_id, sent)
}

fn refused_before_opening_unsealed(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);

    // Unknown device.
    let mut stranger = TestDevice::new(&clinic.code("Ann", T0));
    let req = stranger.push_request(1, 0, &[], T0);
    assert_eq!(
        stranger.exchange(&clinic, req, T0).error(),
        (ErrorCode::UnknownDevice, false)
    );

    // A flipped ciphertext byte: the signature no longer verifies (push),
    // the body no longer opens (enroll).
    let (mut bytes, key) = a.push_request(1, 0, &[], T0);
    let at = wire::REQUEST_HEADER + 36 + 3;
    bytes[at] ^= 1;
    let key = altered(&key, &bytes);
    assert_eq!(
        a.read(&clinic.send(&bytes, T0), &key).error(),
        (ErrorCode::BadSignature, false)
    );
    let mut fresh = TestDevice::new(&clinic.code("Ann", T0));
    let (mut bytes, key) = fresh.enroll_request(T0);
    bytes[at] ^= 1;
    let key = altered(&key, &bytes);
    assert_eq!(
        fresh.read(&clinic.send(&bytes, T0), &key).error(),
        (ErrorCode::Malformed, false)
    );
    // A flipped signature byte.
    let (mut bytes, key) = a.push_request(1, 0, &[], T0);
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let key = altered(&key, &bytes);
    assert_eq!(
        a.read(&clinic.send(&bytes, T0), &key).error(),
        (ErrorCode::BadSignature, false)
    );

    // Another major version, another clinic, bytes that are not a request.
    let (mut bytes, key) = a.push_request(1, 0, &[], T0);
    bytes[4] = 2;
    let key = altered(&key, &bytes);
    assert_eq!(
        a.read(&clinic.send(&bytes, T0), &key).error(),
        (ErrorCode::Incompatible, false)
    );
    let mut h = a.header(RequestKind::Push, 1, 0, T0);
    h.clinic_id = [1; 16];
    let (bytes, key) = a.seal(&h, &PushBody::default().encode());
    let reply = clinic.send(&bytes, T0);
    let parsed = wire::Reply::parse(&reply).unwrap();
    assert_eq!(parsed.header.kind, ReplyKind::UnsealedError);
    let body = parsed
        .open(&clinic.root_public(), &a.code.clinic_id, &a.id, &key)
        .unwrap();
    assert_eq!(
        ErrorBody::decode(&body).unwrap().code,
        ErrorCode::WrongClinic as u64
    );
    let reply = clinic.send(b"GET / HTTP/1.1", T0);
    let parsed = wire::Reply::parse(&reply).unwrap();
    assert_eq!(parsed.header.kind, ReplyKind::UnsealedError);

    // Revoked by the clinic: refused, nothing else read.
    clinic.server.storage().revoke(&a.id, T0).unwrap();
    let req = a.push_request(1, 0, &[], T0);
    assert_eq!(
        a.exchange(&clinic, req, T0).error(),
        (ErrorCode::DeviceRevoked, false)
    );
}

fn replies_verify_under_the_root_key_only(clinic: Clinic) {
    let mut a = TestDevice::new(&clinic.code("Ann", T0));
    let (bytes, key) = a.enroll_request(T0);
    let reply = clinic.send(&bytes, T0);
    let parsed = wire::Reply::parse(&reply).unwrap();
    assert_eq!(parsed.header.request_hash, wire::sha256(&bytes));
    assert_eq!(parsed.header.server_clock_ms, T0);
    assert!(
        parsed
            .open(&a.code.root_key, &a.code.clinic_id, &a.id, &key)
            .is_ok()
    );
    assert!(
        parsed
            .open(&a.public, &a.code.clinic_id, &a.id, &key)
            .is_err()
    );
    assert_eq!(a.read(&reply, &key).ok().last_applied, 0);
    // An unsealed error is signed by the root too.
    let reply = clinic.send(b"nonsense", T0);
    let parsed = wire::Reply::parse(&reply).unwrap();
    assert_eq!(parsed.header.kind, ReplyKind::UnsealedError);
}

fn stale_requests_and_clocks_far_ahead(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let now = T0 + 10 * DAY;
    let req = a.push_request(1, 0, &[], now - 8 * DAY);
    assert_eq!(
        a.exchange(&clinic, req, now).error(),
        (ErrorCode::Stale, true)
    );

    let mut ahead = a.entry(random(), "mood", mood(5.0), None);
    ahead.hlc = Hlc::new(now + 2 * 3_600_000, 0).0;
    let mut near = a.entry(random(), "mood", mood(5.0), None);
    near.hlc = Hlc::new(now + 30 * MINUTE, 0).0;
    let ok = a
        .exchange(
            &clinic,
            a.push_request(1, 2, &[ahead.clone(), near], now),
            now,
        )
        .ok();
    let [(id, hlc)] = ok.restamped[..] else {
        panic!("one change re-stamped")
    };
    assert_eq!(id, ahead.change_id);
    assert!(
        Hlc(hlc).ms() <= now + 3_600_000,
        "the server's clock, not the device's"
    );
    // The re-stamp reaches other devices with the change.
    let mut b = enrolled(&clinic, "Ann", now);
    let ok = b
        .exchange(&clinic, b.push_request(1, 0, &[], now), now)
        .ok();
    assert_eq!(ok.changes[0].hlc, hlc);
    // Sent again after a lost reply: the re-stamp is said again.
    let ok = a
        .exchange(&clinic, a.push_request(1, 1, &[ahead], now), now)
        .ok();
    assert_eq!(ok.restamped, [(id, hlc)]);
}

fn entries_show_each_record_once_winner_only_without_tombstones(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let (r1, r2) = (random(), random());
    let v1 = a.entry(r1, "mood", mood(3.0), Some("v1"));
    let v2 = {
        let mut c = a.entry(r1, "mood", mood(4.0), Some("v2"));
        c.hlc = (T0 + MINUTE) << 16;
        c
    };
    let other = a.entry(r2, "energy", mood(6.0), None);
    let gone = a.delete(r2, &[(a.id, 3)]);
    a.exchange(
        &clinic,
        a.push_request(1, 4, &[v1, v2, other, gone], T0),
        T0,
    )
    .ok();
    let entries = clinic.entries("Ann");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["id"], cairn_clinic::ingest::hex(&r1));
    assert_eq!(e["tracker"], "mood");
    assert_eq!(e["value"], 4.0);
    assert_eq!(e["note"], "v2");
    assert_eq!(e["tags"], serde_json::json!(["trigger:work"]));
    assert_eq!(e["at"], "2025-12-31T00:02:00.000Z");
}

fn concurrent_edits_keep_both_versions_and_the_winner_shows(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let mut b = enrolled(&clinic, "Ann", T0);
    let r = random();
    let base = a.entry(r, "mood", mood(5.0), None);
    a.exchange(&clinic, a.push_request(1, 1, &[base], T0), T0)
        .ok();
    b.exchange(&clinic, b.push_request(1, 0, &[], T0), T0).ok();
    let mut ea = a.entry(r, "mood", mood(6.0), Some("from a"));
    ea.hlc = (T0 + 10 * MINUTE) << 16;
    let mut eb = b.entry(r, "mood", mood(7.0), Some("from b"));
    eb.vv = vec![(a.id, 1), (b.id, 1)];
    eb.hlc = (T0 + 20 * MINUTE) << 16;
    a.exchange(&clinic, a.push_request(2, 2, &[ea.clone()], T0), T0)
        .ok();
    b.exchange(&clinic, b.push_request(1, 1, &[eb], T0), T0)
        .ok();
    let e = clinic.entries("Ann");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["note"], "from b", "the later stamp wins");
    let kept = clinic
        .server
        .storage()
        .records("Ann", kind::ENTRY)
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.records[0].tips.len(),
        2,
        "the loser is kept as a conflict"
    );
    assert_eq!(kept.records[0].tips[1].change_id, ea.change_id);
}

fn a_pull_is_capped_and_says_more(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let note = "x".repeat(8 * 1024);
    let changes: Vec<_> = (0..60)
        .map(|_| a.entry(random(), "mood", mood(5.0), Some(&note)))
        .collect();
    for chunk in changes.chunks(20) {
        let (first, last) = (chunk[0].seq, chunk[chunk.len() - 1].seq);
        a.exchange(&clinic, a.push_request(first, last, chunk, T0), T0)
            .ok();
    }
    let mut b = enrolled(&clinic, "Ann", T0);
    let mut got = Vec::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let ok: OkBody = b.exchange(&clinic, b.push_request(1, 0, &[], T0), T0).ok();
        let bytes: usize = ok
            .changes
            .iter()
            .map(|c| cairn_clinic::ingest::encode_change(c).len())
            .sum();
        assert!(bytes <= cairn_clinic::ingest::PULL_BUDGET);
        got.extend(ok.changes);
        if !ok.more {
            break;
        }
    }
    assert!(rounds >= 2, "480 KiB take more than one reply");
    assert_eq!(got, changes, "every change once, in feed order");
}

fn withdraw_revokes_and_hides_the_devices_data(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let c = a.entry(random(), "mood", mood(5.0), None);
    a.exchange(&clinic, a.push_request(1, 1, &[c], T0), T0).ok();
    assert_eq!(clinic.entries("Ann").len(), 1);
    let ok = a.exchange(&clinic, a.withdraw_request(T0), T0).ok();
    assert_eq!(ok.last_applied, 1);
    assert!(clinic.entries("Ann").is_empty());
    let req = a.push_request(2, 1, &[], T0);
    assert_eq!(
        a.exchange(&clinic, req, T0).error(),
        (ErrorCode::DeviceRevoked, false)
    );
    let d = clinic.server.storage().devices().unwrap();
    assert!(d[0].withdrawn && d[0].revoked_at_ms.is_some());
}

fn key_rotation_keeps_opening_requests_sealed_to_the_old_key(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let old = a.hpke_key_id;
    let rotated = clinic.server.storage().rotate_keys(T0 + DAY).unwrap();
    assert_ne!(rotated.key_id, old);

    // A request sealed to the old key is still accepted, and its reply
    // carries the new certificate.
    let now = T0 + 2 * DAY;
    let c = a.entry(random(), "mood", mood(5.0), None);
    let req = a.push_request(1, 1, &[c], now);
    let ok = a.exchange(&clinic, req, now).ok();
    assert_eq!(ok.last_applied, 1);
    assert_eq!(ok.certificates.len(), 1);
    assert_eq!(a.hpke_key_id, rotated.key_id, "the device took the new key");
    let ok = a
        .exchange(&clinic, a.push_request(2, 1, &[], now), now)
        .ok();
    assert!(ok.certificates.is_empty());

    // New codes carry the new key.
    let code = cairn_core::sync::code::EnrollmentCode::parse(&clinic.code("Bob", now)).unwrap();
    assert_eq!(code.hpke_key_id, rotated.key_id);

    // Past the grace period the old key is unknown; the device takes the
    // certificates from the (unsealed) error and seals again.
    let late = T0 + DAY + 31 * DAY;
    a.hpke_key_id = old;
    a.hpke_key = a.code.hpke_key;
    let req = a.push_request(2, 1, &[], late);
    let answer = a.exchange(&clinic, req, late);
    assert_eq!(answer.error(), (ErrorCode::UnknownKey, false));
    a.take_certificates(&answer.error_body().certificates);
    assert_eq!(a.hpke_key_id, rotated.key_id);
    a.exchange(&clinic, a.push_request(2, 1, &[], late), late)
        .ok();
}

fn text_record_ids_are_per_patient(clinic: Clinic) {
    let mut ann = enrolled(&clinic, "Ann", T0);
    let mut bob = enrolled(&clinic, "Bob", T0);
    for d in [&mut ann, &mut bob] {
        let mut c = d.entry(random(), "mood", mood(5.0), None);
        c.kind = kind::SETTING;
        c.record_id = RecordId::Text("quiet_hours".into());
        c.body = Some(vec![0x08, 0x01, 0x01]);
        let ok = d.exchange(&clinic, d.push_request(1, 1, &[c], T0), T0).ok();
        assert!(
            ok.rejected.is_empty(),
            "a fixed record of each patient's own"
        );
    }
}

fn two_servers_on_one_database_apply_each_change_once(clinic: Clinic) {
    let second = clinic.another_server();
    let mut a = enrolled(&clinic, "Ann", T0);
    let changes: Vec<_> = (0..20)
        .map(|i| a.entry(random(), "mood", mood(f64::from(i % 10)), None))
        .collect();
    // The same batch, under different request ids, at both servers at once.
    let requests: Vec<_> = (0..8)
        .map(|_| a.push_request(1, 20, &changes, T0).0)
        .collect();
    std::thread::scope(|s| {
        for (i, r) in requests.iter().enumerate() {
            let server = if i % 2 == 0 { &clinic.server } else { &second };
            s.spawn(move || cairn_clinic::handle(server, r, T0).unwrap());
        }
    });
    assert_eq!(clinic.entries("Ann").len(), 20);
    let mut b = enrolled(&clinic, "Ann", T0);
    let ok = b.exchange(&clinic, b.push_request(1, 0, &[], T0), T0).ok();
    assert_eq!(
        ok.changes, changes,
        "each change once in the feed, in order"
    );
    assert_eq!(
        ok.cursor[..8],
        20u64.to_be_bytes(),
        "feed positions 1 to 20, no gaps"
    );
}

fn change_ids_held_before_leave_no_gap_in_the_feed(clinic: Clinic) {
    let mut a = enrolled(&clinic, "Ann", T0);
    let first = a.entry(random(), "mood", mood(4.0), None);
    a.exchange(
        &clinic,
        a.push_request(1, 1, std::slice::from_ref(&first), T0),
        T0,
    )
    .ok();
    let mut bob = enrolled(&clinic, "Bob", T0);
    let bobs = bob.entry(random(), "mood", mood(4.0), None);
    bob.exchange(
        &clinic,
        bob.push_request(1, 1, std::slice::from_ref(&bobs), T0),
        T0,
    )
    .ok();
    // New changes around ones whose ids are held: the first change under
    // a new seq (a duplicate), Bob's change id (another device's), and a
    // change sent twice in the batch.
    let n1 = a.entry(random(), "mood", mood(1.0), None);
    let mut moved = first.clone();
    moved.seq = a.next_seq;
    a.next_seq += 1;
    let mut stolen = a.entry(random(), "mood", mood(2.0), None);
    stolen.change_id = bobs.change_id;
    let n2 = a.entry(random(), "mood", mood(3.0), None);
    let mut twice = n2.clone();
    twice.seq = a.next_seq;
    a.next_seq += 1;
    let n3 = a.entry(random(), "anxiety", mood(2.0), None);
    let batch = [
        n1.clone(),
        moved,
        stolen.clone(),
        n2.clone(),
        twice,
        n3.clone(),
    ];
    let ok = a
        .exchange(&clinic, a.push_request(2, 7, &batch, T0), T0)
        .ok();
    assert_eq!(ok.last_applied, 7);
    let got: Vec<(u64, u64)> = ok.rejected.iter().map(|r| (r.seq, r.code)).collect();
    assert_eq!(got, [(stolen.seq, REASON_MALFORMED)]);
    assert!(ok.restamped.is_empty());
    assert_eq!(clinic.entries("Ann").len(), 4);
    assert_eq!(clinic.entries("Bob").len(), 1);
    // A second device reads the feed from the first position: each stored
    // change once, at consecutive positions, the running hash unbroken.
    let mut c = enrolled(&clinic, "Ann", T0);
    let ok = c.exchange(&clinic, c.push_request(1, 0, &[], T0), T0).ok();
    let ids: Vec<_> = ok.changes.iter().map(|c| c.change_id).collect();
    let want = [first.change_id, n1.change_id, n2.change_id, n3.change_id];
    assert_eq!(ids, want);
    let mut hash = Vec::new();
    for id in &want {
        hash = cairn_clinic::ingest::feed_hash(&hash, id).to_vec();
    }
    assert_eq!(ok.cursor[..8], 4u64.to_be_bytes());
    assert_eq!(ok.cursor[8..], hash[..]);
    // The whole batch again (a lost reply): nothing new, the same rejection.
    let ok = a
        .exchange(&clinic, a.push_request(2, 7, &batch, T0), T0)
        .ok();
    assert_eq!(ok.rejected.len(), 1);
    assert_eq!(clinic.entries("Ann").len(), 4);
}
