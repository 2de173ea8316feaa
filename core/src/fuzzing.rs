//! Entry points for fuzzing the decoders: the `fuzz/` crate (feature
//! `fuzzing`) and the property test in the normal suite (`cfg(test)`).
//!
//! Each function takes arbitrary bytes, hands them to the real decoder and
//! says whether it accepted them. Nothing here decodes anything itself;
//! where a decoder accepts its input, the value is encoded again with the
//! real encoder, which must be stable (decode, encode, decode, encode gives
//! the same bytes twice). [`seeds`] makes valid encodings with the real
//! encoders, for the seed corpora (`fuzz/seeds/<target>/`) and the tests.
//! Not part of the API.

use crate::crypto::{Binding, DataKey, KdfParams, Sealer};
use crate::journal::{self, Entry, Interner, Tag, TagGroup};
use crate::reminders::store::{self as reminder_store, LogState};
use crate::reminders::{
    self, Category, QuietPolicy, Reminder, ReminderEvent, Schedule, Step, ZonePolicy,
};
use crate::trackers::{self, MAX_DURATION_MINUTES, Tracker, TrackerKind, Value};
use crate::zones::ZoneDb;
use chrono::{NaiveDate, NaiveTime, Weekday};
use std::sync::{Arc, OnceLock};

/// A record id that passes `check_id`.
const ID: &str = "0123456789abcdef0123456789abcdef";
/// Zones the Android tzdata target looks up (the seeds hold them; UTC is
/// what `android_tzdata_checked` reads, every other lookup of UTC is cached).
const ANDROID_ZONES: &[&str] = &["UTC", "Europe/Paris", "America/New_York"];
/// Instants at which a parsed zone is asked for its offset: 1970 to 2200,
/// the range the journal and the reminders use.
const INSTANTS_MS: &[i64] = &[
    0,
    1_000_000_000_000,
    1_768_478_400_000,
    4_102_444_800_000,
    7_258_118_400_000,
];

/// A fuzz entry point: arbitrary bytes in, whether the decoder accepted them out.
pub type Target = fn(&[u8]) -> bool;

/// The fuzz targets: name (as in `fuzz/fuzz_targets/<name>.rs`) and entry point.
pub const TARGETS: &[(&str, Target)] = &[
    ("envelope_open", envelope_open),
    ("entry", entry),
    ("tracker", tracker),
    ("reminder", reminder),
    ("reminder_log", reminder_log),
    ("reminder_event", reminder_event),
    ("kdf_params", kdf_params),
    ("android_tzdata", android_tzdata),
    ("add_tzif", add_tzif),
    ("cursor", cursor),
    ("tag", tag),
    ("duration", duration),
    ("sync_code", sync_code),
    ("sync_frame", sync_frame),
    ("sync_body", sync_body),
    ("sync_request", sync_request),
    ("sync_reply", sync_reply),
];

/// The one place a `Binding` is built here (its shape changes with the
/// envelope format).
fn binding() -> Binding<'static> {
    Binding {
        column: 20_454,
        ..Binding::live("entries", ID, 2)
    }
}

/// A sealer under a fixed 32-byte key, made once.
fn sealer() -> &'static Sealer {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    SEALER.get_or_init(|| Sealer::new(&DataKey::from_bytes(&[0x5a; 32]).expect("32 bytes"), ID))
}

/// `Sealer::open` (and `open_vec`, which must agree) on arbitrary bytes, and
/// the same bytes as a tombstone and as an envelope-1 body (which the
/// migration to schema 3 reads).
pub fn envelope_open(data: &[u8]) -> bool {
    let at = binding();
    let live = sealer().open(at, data);
    assert_eq!(
        live,
        sealer().open_vec(at, data.to_vec()),
        "open and open_vec disagree"
    );
    let tombstone = sealer().open_tombstone(at.table, at.id, at.revision, data);
    let v1 = sealer().open_v1(at.table, at.id, at.column, data.to_vec());
    live.is_ok() || tombstone.is_ok() || v1.is_ok()
}

/// Decodes again what was encoded from a decoded value: the bytes must not
/// change (and the decoder must accept its own encoder's output).
fn stable<T>(
    first: Option<T>,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<T>,
) -> bool {
    let Some(v) = first else { return false };
    let once = encode(&v);
    let again = decode(&once).expect("the decoder refused its own encoder's output");
    assert_eq!(once, encode(&again), "encoding is not stable");
    true
}

fn decode_entry(data: &[u8]) -> Option<Entry> {
    journal::decode_entry(ID, 1, data, &mut Interner::default()).ok()
}

/// An entry's sealed body (`decode_entry`); an entry it accepts is asked
/// for its times, as listings and summaries do.
pub fn entry(data: &[u8]) -> bool {
    let e = decode_entry(data);
    if let Some(e) = &e {
        let _ = (e.at(), e.created_at(), e.updated_at());
        let _ = (e.local_time(), e.local_date());
    }
    stable(e, journal::encode_entry, decode_entry)
}

fn decode_tracker(data: &[u8]) -> Option<Tracker> {
    trackers::decode_tracker(ID, data).ok()
}

/// A custom tracker's sealed body (`decode_tracker`).
pub fn tracker(data: &[u8]) -> bool {
    stable(
        decode_tracker(data),
        trackers::encode_tracker,
        decode_tracker,
    )
}

fn decode_reminder(data: &[u8]) -> Option<Reminder> {
    reminders::decode_reminder(ID, 1, data).ok()
}

/// A reminder rule's sealed body (`decode_reminder`); a rule it accepts is
/// expanded as a plan would (62 days, UTC, with one event).
pub fn reminder(data: &[u8]) -> bool {
    let rule = decode_reminder(data);
    if let Some(rule) = &rule {
        let utc = ZoneDb::in_memory()
            .zone("UTC")
            .expect("UTC is always known");
        let from_s = 1_767_225_600;
        let _ =
            reminders::expand::expand(rule, &utc, &sample_events(), from_s, from_s + 62 * 86_400);
    }
    stable(rule, reminders::encode_reminder, decode_reminder)
}

/// An occurrence's sealed log state (`decode_log`).
pub fn reminder_log(data: &[u8]) -> bool {
    stable(
        reminder_store::decode_log(data),
        reminder_store::encode_log,
        reminder_store::decode_log,
    )
}

fn decode_event(data: &[u8]) -> Option<ReminderEvent> {
    reminder_store::decode_event(ID, data)
}

/// A reminder event's sealed body (`decode_event`); an event it accepts
/// is expanded with the after-event sample rule, as a plan would.
pub fn reminder_event(data: &[u8]) -> bool {
    let event = decode_event(data);
    if let Some(e) = &event {
        let utc = ZoneDb::in_memory()
            .zone("UTC")
            .expect("UTC is always known");
        let rules = sample_reminders();
        let rule = rules.last().expect("the after-event rule");
        let from_s = e.at_ms.div_euclid(1000).saturating_sub(86_400);
        let to_s = from_s.saturating_add(62 * 86_400);
        let _ = reminders::expand::expand(rule, &utc, std::slice::from_ref(e), from_s, to_s);
    }
    stable(event, reminder_store::encode_event, decode_event)
}

/// `KdfParams::decode`: the format is fixed, so what it accepts encodes
/// back to exactly the same bytes.
pub fn kdf_params(data: &[u8]) -> bool {
    match KdfParams::decode(data) {
        Some(p) => {
            assert_eq!(p.encode(), data, "KDF parameters did not round-trip");
            true
        }
        None => false,
    }
}

/// Asks a parsed zone for its offset over the range the app uses.
fn use_zone(db: &ZoneDb, name: &str) -> bool {
    match db.zone(name) {
        Ok(z) => {
            for &ms in INSTANTS_MS {
                let _ = z.offset_at(ms);
            }
            true
        }
        Err(_) => false,
    }
}

/// Android's concatenated `tzdata` file: the header and index check, and
/// the lookup and parse of a few zones (through a file, as on a phone).
pub fn android_tzdata(data: &[u8]) -> bool {
    let path = std::env::temp_dir().join(format!(
        "cairn-fuzz-tzdata-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, data).is_err() {
        return false;
    }
    let checked = ZoneDb::android_tzdata_checked(&path).is_ok();
    let db = ZoneDb::android_tzdata(&path);
    let mut found = false;
    for name in &ANDROID_ZONES[1..] {
        found |= use_zone(&db, name);
    }
    let _ = std::fs::remove_file(&path);
    checked && found
}

/// `ZoneDb::add_tzif` (TZif bytes from the shell, as on iOS).
pub fn add_tzif(data: &[u8]) -> bool {
    let db = ZoneDb::in_memory();
    db.add_tzif("Fuzz/Zone", data).is_ok() && use_zone(&db, "Fuzz/Zone")
}

/// The paging cursor (`EntryQuery::after`).
pub fn cursor(data: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    match journal::parse_cursor(s) {
        Ok((ms, id)) => {
            let again = journal::parse_cursor(&format!("{ms}.{id}")).expect("a cursor we made");
            assert_eq!(again, (ms, id), "cursor did not round-trip");
            true
        }
        Err(_) => false,
    }
}

/// `Tag::parse` (`--tag trigger:work`).
pub fn tag(data: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    Tag::parse(s).is_ok()
}

/// Duration parsing: `parse_minutes` and the duration and sleep kinds'
/// value parsers (`7h30m`, `1.5h`, `7:30`).
pub fn duration(data: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    let kind = TrackerKind::Duration {
        max_minutes: MAX_DURATION_MINUTES,
    };
    let _ = kind.parse(s);
    let _ = TrackerKind::Sleep.parse(s);
    trackers::parse_minutes(s).is_ok()
}

// --- valid encodings, from the real encoders ---------------------------------

fn sample_entries() -> Vec<Entry> {
    let base = Entry {
        id: ID.into(),
        tracker: Arc::from("mood"),
        value: Value::Scale(6.5),
        note: Some("slept better, walked to the river".into()),
        tags: vec![
            Tag {
                group: TagGroup::Trigger,
                label: "work".into(),
            },
            Tag {
                group: TagGroup::Activity,
                label: "walk".into(),
            },
            Tag {
                group: TagGroup::Other,
                label: "café".into(),
            },
        ],
        at_ms: 1_767_225_600_123,
        zone: Arc::from("Europe/Paris"),
        utc_offset_seconds: 3600,
        created_at_ms: 1_767_225_600_500,
        updated_at_ms: 1_767_225_700_000,
        revision: 1,
    };
    let values = [
        Value::YesNo(true),
        Value::Duration { minutes: 95 },
        Value::Count(3),
        Value::Text("a long day; better in the evening".into()),
        Value::Sleep {
            minutes: 450,
            quality: Some(7),
        },
        Value::Sleep {
            minutes: 300,
            quality: None,
        },
        Value::Medication {
            name: "sertraline 50 mg".into(),
            taken: false,
        },
        Value::Answers {
            version: 1,
            answers: vec![
                Some(0),
                Some(3),
                None,
                Some(1),
                Some(2),
                Some(0),
                Some(1),
                None,
                Some(1),
            ],
        },
    ];
    let mut out = vec![base.clone()];
    for value in values {
        out.push(Entry {
            value,
            note: None,
            tags: Vec::new(),
            tracker: Arc::from("0123456789abcdef0123456789abcdef"),
            zone: Arc::from("America/Argentina/Buenos_Aires"),
            utc_offset_seconds: -3 * 3600,
            ..base.clone()
        });
    }
    out
}

fn sample_trackers() -> Vec<Tracker> {
    let kinds = [
        TrackerKind::Scale {
            min: 0.0,
            max: 4.0,
            step: 0.5,
            min_label: "none".into(),
            max_label: "constant".into(),
        },
        TrackerKind::YesNo,
        TrackerKind::Duration { max_minutes: 600 },
        TrackerKind::Count,
        TrackerKind::Text,
        TrackerKind::Sleep,
        TrackerKind::Medication,
    ];
    kinds
        .into_iter()
        .map(|kind| Tracker {
            id: ID.into(),
            name: "Racing thoughts".into(),
            kind,
            builtin: false,
        })
        .collect()
}

fn sample_reminders() -> Vec<Reminder> {
    let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("valid date");
    let schedules = [
        Schedule::Daily {
            times: vec![t(8, 0), t(20, 30)],
        },
        Schedule::Weekly {
            days: vec![Weekday::Mon, Weekday::Thu],
            times: vec![t(9, 15)],
        },
        Schedule::EveryNDays {
            n: 3,
            times: vec![t(7, 45)],
        },
        Schedule::MonthDay {
            day: 31,
            times: vec![t(12, 0)],
        },
        Schedule::Once {
            date: d(2026, 12, 24),
            time: t(18, 0),
        },
        Schedule::Window {
            from: t(10, 0),
            to: t(14, 0),
            days: vec![Weekday::Sat, Weekday::Sun],
        },
        Schedule::AfterEvent {
            event: "infusion".into(),
            steps: vec![
                Step::After { minutes: 120 },
                Step::DayAt {
                    day: 1,
                    time: t(21, 0),
                },
            ],
        },
    ];
    schedules
        .into_iter()
        .enumerate()
        .map(|(i, schedule)| Reminder {
            id: ID.into(),
            revision: 1,
            category: Category::Medication,
            title: (i % 2 == 0).then(|| "Evening dose".into()),
            schedule,
            zone: if i % 2 == 0 {
                ZonePolicy::Pinned("America/Denver".into())
            } else {
                ZonePolicy::FollowDevice
            },
            start: d(2026, 11, 1),
            end: (i % 3 == 0).then(|| d(2027, 2, 1)),
            count: (i % 3 == 1).then_some(10),
            quiet: [QuietPolicy::Defer, QuietPolicy::Skip, QuietPolicy::Ignore][i % 3],
            grace_minutes: 90,
            show_title: i % 2 == 0,
            enabled: i != 4,
            seed: 0x1234_5678_9abc_def0 ^ i as u64,
        })
        .collect()
}

fn sample_events() -> Vec<ReminderEvent> {
    vec![ReminderEvent {
        id: ID.into(),
        kind: "infusion".into(),
        at_ms: 1_767_225_600_000,
        zone: "Asia/Kolkata".into(),
    }]
}

/// Host TZif files for the zone seeds (`TZDIR` or `/usr/share/zoneinfo`);
/// zones the host lacks are left out.
fn host_tzif(names: &[&str]) -> Vec<(String, Vec<u8>)> {
    let dir = std::env::var_os("TZDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/share/zoneinfo".into());
    names
        .iter()
        .filter_map(|n| Some((n.to_string(), std::fs::read(dir.join(n)).ok()?)))
        .collect()
}

/// An Android `tzdata` file holding `zones` (the layout `zones.rs`
/// documents: header, index of 52-byte entries, data, final section).
fn android_file(zones: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data = Vec::new();
    for (name, tzif) in zones {
        let mut e = [0u8; 52];
        e[..name.len()].copy_from_slice(name.as_bytes());
        e[40..44].copy_from_slice(&(data.len() as u32).to_be_bytes());
        e[44..48].copy_from_slice(&(tzif.len() as u32).to_be_bytes());
        index.extend_from_slice(&e);
        data.extend_from_slice(tzif);
    }
    let mut file = b"tzdata2026b\0".to_vec();
    let index_at = 24u32;
    let data_at = index_at + index.len() as u32;
    let final_at = data_at + data.len() as u32;
    for v in [index_at, data_at, final_at] {
        file.extend_from_slice(&v.to_be_bytes());
    }
    file.extend_from_slice(&index);
    file.extend_from_slice(&data);
    file
}

// --- sync (docs/sync-protocol.md) -----------------------------------------

/// An enrollment code, as text and as bytes; a code's bytes read back to
/// exactly what was read (the layout is fixed).
pub fn sync_code(data: &[u8]) -> bool {
    use crate::sync::code::EnrollmentCode;
    let text = std::str::from_utf8(data)
        .ok()
        .and_then(|t| EnrollmentCode::parse(t).ok());
    let bytes = EnrollmentCode::from_bytes(data).ok();
    if let Some(c) = &bytes {
        assert_eq!(c.to_bytes(), data, "a code's bytes did not round-trip");
    }
    if let Some(c) = &text {
        let again = EnrollmentCode::parse(&c.to_text().expect("a read code writes")).unwrap();
        assert_eq!(&again, c, "a code's text did not round-trip");
    }
    text.is_some() || bytes.is_some()
}

/// The sealed plaintext's framing (padding, compression, lengths); what it
/// accepts frames again to a plaintext that reads back the same.
pub fn sync_frame(data: &[u8]) -> bool {
    use crate::sync::frame;
    match frame::unframe(data) {
        Ok(body) => {
            assert_eq!(frame::unframe(&frame::frame(&body, false)).unwrap(), body);
            true
        }
        Err(_) => false,
    }
}

/// Every body decoder (push, enroll, ok, error, a change, an entry's body);
/// each value accepted encodes stably.
pub fn sync_body(data: &[u8]) -> bool {
    use crate::sync::body::FieldWriter;
    use crate::sync::lww;
    use crate::sync::messages::*;
    let change = |d: &[u8]| Change::decode(d).ok();
    let enc_change = |c: &Change| {
        let mut w = FieldWriter::default();
        c.encode(&mut w);
        w.finish()
    };
    let results = [
        stable(PushBody::decode(data).ok(), PushBody::encode, |d| {
            PushBody::decode(d).ok()
        }),
        stable(EnrollBody::decode(data).ok(), EnrollBody::encode, |d| {
            EnrollBody::decode(d).ok()
        }),
        stable(OkBody::decode(data).ok(), OkBody::encode, |d| {
            OkBody::decode(d).ok()
        }),
        stable(ErrorBody::decode(data).ok(), ErrorBody::encode, |d| {
            ErrorBody::decode(d).ok()
        }),
        stable(change(data), enc_change, change),
        stable(EntryBody::decode(data).ok(), EntryBody::encode, |d| {
            EntryBody::decode(d).ok()
        }),
        // Records merged by field: the change body, the cells kept at rest,
        // and each kind's record body.
        stable(lww::LwwBody::decode(data).ok(), lww::LwwBody::encode, |d| {
            lww::LwwBody::decode(d).ok()
        }),
        stable(lww::Cells::decode(data).ok(), lww::Cells::encode, |d| {
            lww::Cells::decode(d).ok()
        }),
        stable(lww::tracker_from(ID, data).ok(), lww::tracker_body, |d| {
            lww::tracker_from(ID, d).ok()
        }),
        stable(
            lww::reminder_from(ID, 1, data).ok(),
            lww::reminder_body,
            |d| lww::reminder_from(ID, 1, d).ok(),
        ),
        stable(lww::session_from(ID, data).ok(), lww::session_body, |d| {
            lww::session_from(ID, d).ok()
        }),
        stable(
            lww::safety_plan_from(data).ok(),
            lww::safety_plan_body,
            |d| lww::safety_plan_from(d).ok(),
        ),
        stable(lww::flag_from(ID, data).ok(), lww::flag_body, |d| {
            lww::flag_from(ID, d).ok()
        }),
    ];
    results.iter().any(|r| *r)
}

/// The receiver's side of a request: the envelope, the signature check and
/// the opening (under the vectors' keys: an arbitrary input opens only if
/// it was sealed for them).
pub fn sync_request(data: &[u8]) -> bool {
    use crate::sync::{hpke::Context, wire};
    let Ok(req) = wire::Request::parse(data) else {
        return false;
    };
    let _ = req.verify(&[0x11; 32]);
    // The receiver's DH needs a static key ring lacks; a fixed "DH result"
    // still runs the whole key schedule and the AEAD over the input.
    let info = wire::hpke_info(&req.header.clinic_id, &req.header.device_id);
    let ctx = Context::from_dh(&[0x42; 32], &req.enc, &[0x24; 32], &info);
    let _ = req.open(&ctx);
    true
}

/// The device's side of a reply: the envelope, the signature, the ids and
/// the opening.
pub fn sync_reply(data: &[u8]) -> bool {
    use crate::sync::{hpke::Context, wire};
    let Ok(reply) = wire::Reply::parse(data) else {
        return false;
    };
    let ctx = Context::from_dh(&[0x42; 32], &[0x33; 32], &[0x24; 32], b"info");
    let key = wire::ReplyKey::new(&ctx, reply.header.request_id, b"request");
    let _ = reply.open(
        &[0x11; 32],
        &reply.header.clinic_id,
        &reply.header.device_id,
        &key,
    );
    true
}

macro_rules! golden {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/sync/",
            $name
        ))
        .to_vec()
    };
}

fn sync_seeds(target: &str) -> Vec<Vec<u8>> {
    use crate::sync::{frame, messages::*};
    match target {
        "sync_code" => vec![golden!("code.txt"), golden!("code.bin")],
        "sync_frame" => vec![
            frame::frame(b"", false),
            frame::frame(&[7u8; 600], false),
            frame::frame(b"a short body", true),
        ],
        "sync_body" => {
            let entry = EntryBody {
                tracker: "mood".into(),
                value: Value::Scale(6.0),
                note: Some("seed".into()),
                tags: sample_tags(),
                at_ms: 1_767_225_600_000,
                zone: "Europe/Paris".into(),
                utc_offset_seconds: 3600,
                created_ms: 1_767_225_600_000,
                updated_ms: 1_767_225_600_000,
                withheld: vec![],
            };
            let change = Change {
                change_id: [1; 16],
                seq: 3,
                hlc: 1_767_225_600_000 << 16,
                kind: kind::ENTRY,
                record_id: RecordId::Bytes([2; 16]),
                op: Op::Put,
                vv: vec![([3; 16], 3)],
                body: Some(entry.encode()),
                category: 1,
                author: [3; 16],
                incarnation: 0,
            };
            vec![
                entry.encode(),
                PushBody {
                    changes: vec![change.clone()],
                    cursor: vec![0; 8],
                }
                .encode(),
                OkBody {
                    last_applied: 3,
                    receipt: Some([4; 64]),
                    changes: vec![change],
                    cursor: vec![1; 24],
                    more: true,
                    ..OkBody::default()
                }
                .encode(),
                ErrorBody {
                    code: 13,
                    last_applied: 7,
                    held: vec![Held {
                        seq: 5,
                        change_id: [6; 16],
                        author: Some([7; 16]),
                        vv: vec![([7; 16], 5)],
                    }],
                    ..ErrorBody::default()
                }
                .encode(),
                EnrollBody {
                    device_key: [7; 32],
                    enrollment_id: [8; 16],
                    proof: [9; 32],
                    categories: vec![1, 2],
                }
                .encode(),
            ]
        }
        "sync_request" => vec![golden!("enroll_request.bin"), golden!("push_request.bin")],
        "sync_reply" => vec![
            golden!("ok_reply.bin"),
            golden!("error_reply.bin"),
            golden!("unsealed_error_reply.bin"),
        ],
        _ => Vec::new(),
    }
}

fn sample_tags() -> Vec<Tag> {
    vec![
        Tag {
            group: TagGroup::Trigger,
            label: "work".into(),
        },
        Tag {
            group: TagGroup::Other,
            label: "café".into(),
        },
    ]
}

/// Valid inputs for a target, made with the real encoders (seed corpora
/// and tests). Empty for an unknown target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let strings =
        |v: &[&str]| -> Vec<Vec<u8>> { v.iter().map(|s| s.as_bytes().to_vec()).collect() };
    match target {
        "envelope_open" => {
            let mut bodies: Vec<Vec<u8>> =
                sample_entries().iter().map(journal::encode_entry).collect();
            bodies.push(Vec::new());
            let at = binding();
            let mut sealed: Vec<Vec<u8>> = bodies
                .iter()
                .map(|b| sealer().seal(at, 1, b).expect("sealing works"))
                .collect();
            sealed.push(
                sealer()
                    .seal_tombstone(at.table, at.id, at.revision)
                    .expect("sealing works"),
            );
            sealed
        }
        "entry" => sample_entries().iter().map(journal::encode_entry).collect(),
        "tracker" => sample_trackers()
            .iter()
            .map(trackers::encode_tracker)
            .collect(),
        "reminder" => sample_reminders()
            .iter()
            .map(reminders::encode_reminder)
            .collect(),
        "reminder_log" => vec![reminder_store::encode_log(&LogState::default())],
        "reminder_event" => sample_events()
            .iter()
            .map(reminder_store::encode_event)
            .collect(),
        "kdf_params" => vec![
            KdfParams {
                iterations: crate::crypto::PBKDF2_ITERATIONS,
                salt: *b"0123456789abcdef",
            }
            .encode(),
        ],
        "android_tzdata" => {
            let zones = host_tzif(ANDROID_ZONES);
            if zones.is_empty() {
                Vec::new()
            } else {
                let last = zones.len() - 1;
                vec![android_file(&zones), android_file(&zones[last..])]
            }
        }
        "add_tzif" => host_tzif(&[
            "UTC",
            "Europe/Paris",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ])
        .into_iter()
        .map(|(_, b)| b)
        .collect(),
        "cursor" => strings(&[
            "1767225600123.0123456789abcdef0123456789abcdef",
            "-5.ffffffffffffffffffffffffffffffff",
        ]),
        "tag" => strings(&["trigger:work", "activity:walk", "Activity : run", "café"]),
        "duration" => strings(&["7h30m", "45m", "1.5h", "450", "7:30", "8h"]),
        sync if sync.starts_with("sync_") => sync_seeds(sync),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a seeded generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
        /// A few random edits: flip, overwrite, insert, delete, truncate.
        fn mutate(&mut self, mut v: Vec<u8>) -> Vec<u8> {
            for _ in 0..1 + self.below(4) {
                let at = self.below(v.len() + 1);
                match self.below(5) {
                    0 if at < v.len() => v[at] ^= 1 << self.below(8),
                    1 if at < v.len() => v[at] = self.next() as u8,
                    2 => v.insert(at, self.next() as u8),
                    3 if at < v.len() => {
                        v.remove(at);
                    }
                    4 => v.truncate(at),
                    _ => {}
                }
            }
            v
        }
    }

    /// Targets whose input is a whole record: a strict prefix or trailing
    /// bytes must be refused, never read as something else.
    const WHOLE: &[&str] = &[
        "envelope_open",
        "entry",
        "tracker",
        "reminder",
        "reminder_log",
        "reminder_event",
        "kdf_params",
        "cursor",
    ];

    #[test]
    fn every_target_has_valid_seeds() {
        for (name, f) in TARGETS {
            let seeds = seeds(name);
            let zone_target = name.contains("tz");
            // The zone seeds come from the host's tz database (scripts/setup.sh installs it).
            assert!(!seeds.is_empty() || zone_target, "{name}: no seeds");
            for (i, s) in seeds.iter().enumerate() {
                assert!(f(s), "{name}: seed {i} was refused");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (name, f) in TARGETS {
            // Slow targets (a file per call, TZif parsing) get fewer cases.
            let cases = if name.contains("tz") { 1_000 } else { 10_000 };
            let seeds = seeds(name);
            for _ in 0..cases {
                let len = if rng.below(8) == 0 {
                    rng.below(400)
                } else {
                    rng.below(48)
                };
                f(&rng.bytes(len));
                if !seeds.is_empty() {
                    let s = seeds[rng.below(seeds.len())].clone();
                    f(&rng.mutate(s));
                }
            }
        }
    }

    #[test]
    fn truncated_or_extended_records_are_refused() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        for name in WHOLE {
            let f = TARGETS.iter().find(|(n, _)| n == name).expect("a target").1;
            for s in seeds(name) {
                for cut in 0..s.len() {
                    assert!(!f(&s[..cut]), "{name}: a {cut}-byte prefix was accepted");
                }
                for _ in 0..64 {
                    let mut longer = s.clone();
                    let extra = 1 + rng.below(16);
                    longer.extend(rng.bytes(extra));
                    assert!(!f(&longer), "{name}: {extra} trailing bytes were accepted");
                }
            }
        }
    }

    #[test]
    fn decoders_read_back_what_the_encoders_wrote() {
        let mut names = Interner::default();
        for e in sample_entries() {
            let got = journal::decode_entry(ID, 1, &journal::encode_entry(&e), &mut names);
            assert_eq!(got, Ok(e));
        }
        for t in sample_trackers() {
            assert_eq!(
                trackers::decode_tracker(ID, &trackers::encode_tracker(&t)),
                Ok(t)
            );
        }
        for r in sample_reminders() {
            let got = reminders::decode_reminder(ID, 1, &reminders::encode_reminder(&r));
            assert_eq!(got, Ok(r));
        }
        for e in sample_events() {
            assert_eq!(decode_event(&reminder_store::encode_event(&e)), Some(e));
        }
        let l = LogState::default();
        assert_eq!(
            reminder_store::decode_log(&reminder_store::encode_log(&l)),
            Some(l)
        );
    }

    /// Found by the `reminder` target: a window ending before it starts (and
    /// a start in year 0) made expansion subtract with overflow. Rules the
    /// writer refuses are refused by the decoder too.
    #[test]
    fn an_event_out_of_range_is_refused_not_expanded() {
        // Found by scripts/fuzz.sh: an event whose instant is near i64::MAX
        // ms overflowed the expansion's seconds-to-ms arithmetic.
        let crash: &[u8] = &[
            0x08, 0x69, 0x6e, 0x66, 0x75, 0x73, 0x69, 0x6f, 0x6e, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0x01, 0x0c, 0x41, 0x73, 0x00, 0x69, 0x6e, 0x66, 0x75, 0x73,
            0x69, 0x6f, 0x6e, 0x04,
        ];
        assert!(!reminder_event(crash));
    }

    #[test]
    fn rules_expansion_cannot_handle_are_refused() {
        let crash: &[u8] = &[1, 0, 6, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        assert!(!reminder(crash));
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let base = sample_reminders()[1].clone();
        let refused = [
            Schedule::EveryNDays {
                n: 0,
                times: vec![t(8, 0)],
            },
            Schedule::Window {
                from: t(14, 0),
                to: t(10, 0),
                days: Vec::new(),
            },
        ]
        .map(|schedule| Reminder {
            schedule,
            ..base.clone()
        });
        let far = Reminder {
            start: NaiveDate::from_ymd_opt(1900, 1, 1).unwrap(),
            ..base.clone()
        };
        for rule in refused.iter().chain([&far]) {
            assert!(!reminder(&reminders::encode_reminder(rule)), "{rule:?}");
        }
        assert!(reminder(&reminders::encode_reminder(&base)));
    }

    /// Found by the `entry` target: an instant near `i64::MAX` overflowed
    /// `Entry::local_date`. Instants outside 1970-2199 are refused.
    #[test]
    fn entries_outside_the_calendar_are_refused() {
        let crash = [
            1, 1, 2, 0, 0, 0, 0xf6, 0xa1, 0xd5, 0xc0, 0xba, 0xff, 0xff, 0xff, 0xff, 1, 0xf6, 0xa1,
            0xd5, 0xc0, 0, 0, 2, 4,
        ];
        assert!(!entry(&crash));
        let base = sample_entries()[0].clone();
        for at_ms in [-1, crate::bounds::LATEST_MS + 1, i64::MAX, i64::MIN] {
            let e = Entry {
                at_ms,
                ..base.clone()
            };
            assert!(!entry(&journal::encode_entry(&e)), "{at_ms}");
        }
        assert!(entry(&journal::encode_entry(&base)));
    }

    /// Writes the seed corpora: `CAIRN_WRITE_FUZZ_SEEDS=fuzz/seeds cargo
    /// test -p cairn-core write_fuzz_seeds` (from the workspace root; the
    /// path is relative to core/).
    #[test]
    fn write_fuzz_seeds() {
        let Some(dir) = std::env::var_os("CAIRN_WRITE_FUZZ_SEEDS") else {
            return;
        };
        let dir = std::path::Path::new(&dir);
        for (name, _) in TARGETS {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).unwrap();
            for (i, s) in seeds(name).iter().enumerate() {
                std::fs::write(d.join(format!("seed-{i:02}")), s).unwrap();
            }
        }
    }
}
