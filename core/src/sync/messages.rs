//! The bodies of requests and replies, and the changes they carry
//! (docs/sync-protocol.md §6-§8), as typed values.

use super::WireError;
use super::body::{self, FieldWriter, Fields, Seen};
use crate::journal::{Tag, TagGroup};
use crate::trackers::Value;

type R<T> = Result<T, WireError>;
/// A 16-byte id.
pub type Id16 = [u8; 16];

fn malformed<T>(what: &'static str) -> R<T> {
    Err(WireError::Malformed(what))
}

fn id16(v: &[u8]) -> R<Id16> {
    body::fixed(v, "id is not 16 bytes")
}

fn u32_of(v: &[u8]) -> R<u32> {
    Ok(body::uint_max(v, u64::from(u32::MAX), "number out of range")? as u32)
}

/// A record's id: 16 random bytes (32 hex characters in the store), or a
/// short text id for fixed records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordId {
    /// A random id.
    Bytes(Id16),
    /// A fixed record's text id (at most 64 bytes).
    Text(String),
}

impl RecordId {
    /// The wire form of a store id.
    pub fn from_store(id: &str) -> RecordId {
        match crate::crypto::check_id(id)
            .ok()
            .and_then(|()| crate::crypto::from_hex(id))
        {
            Some(b) => RecordId::Bytes(b.try_into().expect("16 bytes")),
            None => RecordId::Text(id.to_owned()),
        }
    }
    /// The store's form of this id.
    pub fn to_store(&self) -> String {
        match self {
            RecordId::Bytes(b) => crate::crypto::to_hex(b),
            RecordId::Text(t) => t.clone(),
        }
    }
}

/// Put or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A new or edited version.
    Put = 1,
    /// A tombstone.
    Delete = 2,
}

/// Record kinds (docs/sync-protocol.md §8).
pub mod kind {
    /// A journal entry.
    pub const ENTRY: u64 = 1;
    /// A custom tracker.
    pub const TRACKER: u64 = 2;
    /// A reminder rule.
    pub const REMINDER: u64 = 3;
    /// A treatment session.
    pub const TREATMENT_SESSION: u64 = 4;
    /// What happened to a reminder.
    pub const REMINDER_REPORT: u64 = 5;
    /// A setting.
    pub const SETTING: u64 = 6;
    /// The safety plan (text id `safety_plan`).
    pub const SAFETY_PLAN: u64 = 7;
    /// A risk flag and its review state.
    pub const FLAG: u64 = 8;
    /// What the clinic tells the patient's devices (text id
    /// `clinic_settings`): its name, how soon it reviews flags, the
    /// no-check-in rule's days.
    pub const CLINIC_SETTINGS: u64 = 9;
}

/// One version of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Random, made when the change is queued.
    pub change_id: Id16,
    /// The author's sequence number.
    pub seq: u64,
    /// Hybrid logical clock stamp.
    pub hlc: u64,
    /// Record kind ([`kind`]); unknown kinds are kept, not refused.
    pub kind: u64,
    /// Which record.
    pub record_id: RecordId,
    /// Put or delete.
    pub op: Op,
    /// Version vector: the highest seq from each author this version includes.
    pub vv: Vec<(Id16, u64)>,
    /// The record's body (a message, by kind), for puts.
    pub body: Option<Vec<u8>>,
    /// Sharing category.
    pub category: u64,
    /// The device (or clinic) that wrote this version: the device id, or
    /// after a restore from an older copy, its replica id for `incarnation`.
    pub author: Id16,
    /// How many times the author's store was found restored from an older
    /// copy (0 almost always).
    pub incarnation: u32,
}

impl Change {
    /// Appends this change as fields of `w`.
    pub fn encode(&self, w: &mut FieldWriter) {
        w.bytes(1, &self.change_id);
        w.uint(2, self.seq);
        w.uint(3, self.hlc);
        w.uint(4, self.kind);
        match &self.record_id {
            RecordId::Bytes(b) => w.bytes_always(5, b),
            RecordId::Text(t) => w.bytes_always(6, t.as_bytes()),
        }
        w.uint(7, self.op as u64);
        for (device, seq) in &self.vv {
            w.message(8, |m| {
                m.bytes_always(1, device);
                m.uint(2, *seq);
            });
        }
        if let Some(b) = &self.body {
            w.message(9, |m| m.raw(b));
        }
        w.uint(10, self.category);
        w.bytes(11, &self.author);
        w.uint(12, u64::from(self.incarnation));
    }

    /// Reads a change.
    pub fn decode(buf: &[u8]) -> R<Change> {
        let mut seen = Seen::default();
        let (mut change_id, mut seq, mut hlc, mut kind) = (None, 0, 0, 0);
        let (mut record_id, mut op, mut vv, mut body, mut category, mut author) =
            (None, None, Vec::new(), None, 0, None);
        let mut incarnation = 0;
        for f in Fields::new(buf) {
            let (key, v) = f?;
            if key != 8 {
                seen.once(key)?;
            }
            match key {
                1 => change_id = Some(id16(v)?),
                2 => seq = body::uint(v)?,
                3 => hlc = body::uint(v)?,
                4 => kind = body::uint(v)?,
                5 | 6 if record_id.is_some() => return malformed("two record ids"),
                5 => record_id = Some(RecordId::Bytes(id16(v)?)),
                6 => {
                    if v.is_empty() || v.len() > 64 || v.iter().any(u8::is_ascii_control) {
                        return malformed(
                            "text record id is empty, longer than 64 bytes or holds control characters",
                        );
                    }
                    record_id = Some(RecordId::Text(body::string(v)?));
                }
                7 => {
                    op = Some(match body::uint(v)? {
                        1 => Op::Put,
                        2 => Op::Delete,
                        _ => return malformed("unknown op"),
                    })
                }
                8 => {
                    let mut s = Seen::default();
                    let (mut d, mut n) = (None, 0);
                    for f in Fields::new(v) {
                        let (k, v) = f?;
                        s.once(k)?;
                        match k {
                            1 => d = Some(id16(v)?),
                            2 => n = body::uint(v)?,
                            _ => {}
                        }
                    }
                    vv.push((
                        d.ok_or(WireError::Malformed(
                            "version vector entry without a device",
                        ))?,
                        n,
                    ));
                }
                9 => body = Some(v.to_vec()),
                10 => category = body::uint(v)?,
                11 => author = Some(id16(v)?),
                12 => incarnation = u32_of(v)?,
                _ => {}
            }
        }
        let op = op.ok_or(WireError::Malformed("change without an op"))?;
        if (op == Op::Delete) == body.is_some() {
            return malformed("a put needs a body and a delete has none");
        }
        if seq == 0 {
            return malformed("change without a sequence number");
        }
        Ok(Change {
            change_id: change_id.ok_or(WireError::Malformed("change without an id"))?,
            seq,
            hlc,
            kind,
            record_id: record_id.ok_or(WireError::Malformed("change without a record id"))?,
            op,
            vv,
            body,
            category,
            author: author.ok_or(WireError::Malformed("change without an author"))?,
            incarnation,
        })
    }
}

/// An entry's body (record kind 1).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryBody {
    /// Tracker id.
    pub tracker: String,
    /// The value.
    pub value: Value,
    /// The note, if any (and not withheld).
    pub note: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it happened, ms.
    pub at_ms: i64,
    /// IANA zone.
    pub zone: String,
    /// UTC offset at that instant, seconds.
    pub utc_offset_seconds: i32,
    /// Created, ms.
    pub created_ms: i64,
    /// Updated, ms.
    pub updated_ms: i64,
    /// Keys of fields the patient does not share (absent here, not erased).
    pub withheld: Vec<u64>,
}

/// The note's key in an entry body (the field that can be withheld).
pub const ENTRY_NOTE: u64 = 3;

impl EntryBody {
    /// The body's fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(64 + self.note.as_ref().map_or(0, String::len));
        w.str(1, &self.tracker);
        w.message(2, |m| match &self.value {
            Value::Scale(x) => m.f64(1, *x),
            Value::YesNo(b) => m.uint_always(2, *b as u64),
            Value::Duration { minutes } => m.uint_always(3, u64::from(*minutes)),
            Value::Count(n) => m.uint_always(4, u64::from(*n)),
            Value::Text(t) => m.bytes_always(5, t.as_bytes()),
            Value::Sleep { minutes, quality } => m.message(6, |s| {
                s.uint(1, u64::from(*minutes));
                if let Some(q) = quality {
                    s.uint_always(2, u64::from(*q));
                }
            }),
            Value::Medication { name, taken } => m.message(7, |s| {
                s.str(1, name);
                s.bool(2, *taken);
            }),
            Value::Answers { version, answers } => m.message(8, |s| {
                s.uint_always(1, u64::from(*version));
                s.bytes_always(2, &crate::journal::answer_bytes(answers));
            }),
        });
        if let Some(n) = &self.note {
            w.bytes_always(3, n.as_bytes());
        }
        for t in &self.tags {
            w.message(4, |m| {
                m.uint(
                    1,
                    match t.group {
                        TagGroup::Trigger => 1,
                        TagGroup::Activity => 2,
                        TagGroup::Other => 3,
                    },
                );
                m.str(2, &t.label);
            });
        }
        w.sint(5, self.at_ms);
        w.str(6, &self.zone);
        w.sint(7, i64::from(self.utc_offset_seconds));
        w.sint(8, self.created_ms);
        w.sint(9, self.updated_ms);
        for k in &self.withheld {
            w.uint_always(10, *k);
        }
        w.finish()
    }

    /// Reads an entry body.
    pub fn decode(buf: &[u8]) -> R<EntryBody> {
        let mut seen = Seen::default();
        let mut e = EntryBody {
            tracker: String::new(),
            value: Value::Count(0),
            note: None,
            tags: Vec::new(),
            at_ms: 0,
            zone: String::new(),
            utc_offset_seconds: 0,
            created_ms: 0,
            updated_ms: 0,
            withheld: Vec::new(),
        };
        let mut value = None;
        for f in Fields::new(buf) {
            let (key, v) = f?;
            if !matches!(key, 4 | 10) {
                seen.once(key)?;
            }
            match key {
                1 => e.tracker = body::string(v)?,
                2 => value = Some(decode_value(v)?),
                3 => e.note = Some(body::string(v)?),
                4 => e.tags.push(decode_tag(v)?),
                5 => e.at_ms = body::sint(v)?,
                6 => e.zone = body::string(v)?,
                7 => {
                    let o = body::sint(v)?;
                    e.utc_offset_seconds =
                        i32::try_from(o)
                            .ok()
                            .filter(|o| o.abs() <= 26 * 3600)
                            .ok_or(WireError::Malformed("UTC offset out of range"))?;
                }
                8 => e.created_ms = body::sint(v)?,
                9 => e.updated_ms = body::sint(v)?,
                10 => e.withheld.push(body::uint(v)?),
                _ => {}
            }
        }
        if e.tracker.is_empty() {
            return malformed("entry without a tracker");
        }
        e.value = value.ok_or(WireError::Malformed("entry without a value"))?;
        Ok(e)
    }
}

fn decode_value(buf: &[u8]) -> R<Value> {
    let mut value = None;
    for f in Fields::new(buf) {
        let (key, v) = f?;
        let got = match key {
            1 => Value::Scale(body::f64(v)?),
            2 => Value::YesNo(body::bool(v)?),
            3 => Value::Duration {
                minutes: u32_of(v)?,
            },
            4 => Value::Count(u32_of(v)?),
            5 => Value::Text(body::string(v)?),
            6 => {
                let (mut minutes, mut quality, mut s) = (0, None, Seen::default());
                for f in Fields::new(v) {
                    let (k, v) = f?;
                    s.once(k)?;
                    match k {
                        1 => minutes = u32_of(v)?,
                        2 => {
                            quality =
                                Some(body::uint_max(v, 255, "sleep quality out of range")? as u8)
                        }
                        _ => {}
                    }
                }
                Value::Sleep { minutes, quality }
            }
            7 => {
                let (mut name, mut taken, mut s) = (String::new(), false, Seen::default());
                for f in Fields::new(v) {
                    let (k, v) = f?;
                    s.once(k)?;
                    match k {
                        1 => name = body::string(v)?,
                        2 => taken = body::bool(v)?,
                        _ => {}
                    }
                }
                Value::Medication { name, taken }
            }
            8 => {
                let (mut version, mut answers, mut s) = (0, Vec::new(), Seen::default());
                for f in Fields::new(v) {
                    let (k, v) = f?;
                    s.once(k)?;
                    match k {
                        1 => version = u32_of(v)?,
                        2 => answers = crate::journal::answers_of(v),
                        _ => {}
                    }
                }
                if answers.len() > 64 {
                    return malformed("too many answers");
                }
                Value::Answers { version, answers }
            }
            _ => continue,
        };
        if value.replace(got).is_some() {
            return malformed("a value holds two kinds");
        }
    }
    value.ok_or(WireError::Malformed("a value of no known kind"))
}

fn decode_tag(buf: &[u8]) -> R<Tag> {
    let (mut group, mut label, mut s) = (TagGroup::Other, String::new(), Seen::default());
    for f in Fields::new(buf) {
        let (k, v) = f?;
        s.once(k)?;
        match k {
            1 => {
                group = match body::uint(v)? {
                    1 => TagGroup::Trigger,
                    2 => TagGroup::Activity,
                    3 => TagGroup::Other,
                    _ => return malformed("unknown tag group"),
                }
            }
            2 => label = body::string(v)?,
            _ => {}
        }
    }
    Ok(Tag { group, label })
}

/// The body of an enroll request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollBody {
    /// The device's Ed25519 public key.
    pub device_key: [u8; 32],
    /// The enrollment being used.
    pub enrollment_id: Id16,
    /// HMAC-SHA256(secret, "cairn enroll v1" || enrollment id || device key).
    pub proof: [u8; 32],
    /// Sharing categories turned on.
    pub categories: Vec<u64>,
}

impl EnrollBody {
    /// The proof of the one-time secret.
    pub fn proof_for(secret: &[u8; 16], enrollment_id: &Id16, device_key: &[u8; 32]) -> [u8; 32] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(b"cairn enroll v1");
        ctx.update(enrollment_id);
        ctx.update(device_key);
        ctx.sign().as_ref().try_into().expect("32 bytes")
    }

    /// Checks the proof in constant time.
    pub fn proof_ok(&self, secret: &[u8; 16]) -> bool {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let msg = [
            &b"cairn enroll v1"[..],
            &self.enrollment_id,
            &self.device_key,
        ]
        .concat();
        ring::hmac::verify(&key, &msg, &self.proof).is_ok()
    }

    /// The body's fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(96);
        w.bytes(1, &self.device_key);
        w.bytes(2, &self.enrollment_id);
        w.bytes(3, &self.proof);
        for c in &self.categories {
            w.uint_always(4, *c);
        }
        w.finish()
    }

    /// Reads the body.
    pub fn decode(buf: &[u8]) -> R<EnrollBody> {
        let (mut seen, mut key, mut id, mut proof, mut categories) =
            (Seen::default(), None, None, None, Vec::new());
        for f in Fields::new(buf) {
            let (k, v) = f?;
            if k != 4 {
                seen.once(k)?;
            }
            match k {
                1 => key = Some(body::fixed(v, "device key is not 32 bytes")?),
                2 => id = Some(id16(v)?),
                3 => proof = Some(body::fixed(v, "proof is not 32 bytes")?),
                4 => categories.push(body::uint(v)?),
                _ => {}
            }
        }
        Ok(EnrollBody {
            device_key: key.ok_or(WireError::Malformed("enroll without a device key"))?,
            enrollment_id: id.ok_or(WireError::Malformed("enroll without an enrollment id"))?,
            proof: proof.ok_or(WireError::Malformed("enroll without a proof"))?,
            categories,
        })
    }
}

/// The body of a push request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushBody {
    /// Changes, in sequence order.
    pub changes: Vec<Change>,
    /// The pull cursor last received (empty: from the beginning).
    pub cursor: Vec<u8>,
}

impl PushBody {
    /// The body's fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(64 + 128 * self.changes.len());
        for c in &self.changes {
            w.message(1, |m| c.encode(m));
        }
        w.bytes(2, &self.cursor);
        w.finish()
    }

    /// Reads the body.
    pub fn decode(buf: &[u8]) -> R<PushBody> {
        let (mut seen, mut out) = (Seen::default(), PushBody::default());
        for f in Fields::new(buf) {
            let (k, v) = f?;
            match k {
                1 => out.changes.push(Change::decode(v)?),
                2 => {
                    seen.once(k)?;
                    out.cursor = v.to_vec();
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// An HPKE key certificate, signed by the clinic's root key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The key's id.
    pub key_id: u32,
    /// The X25519 public key.
    pub public: [u8; 32],
    /// Valid from, ms.
    pub not_before_ms: u64,
    /// Valid until, ms.
    pub not_after_ms: u64,
    /// The root's signature.
    pub signature: [u8; 64],
}

impl Certificate {
    fn encode(&self, w: &mut FieldWriter) {
        w.uint(1, u64::from(self.key_id));
        w.bytes(2, &self.public);
        w.uint(3, self.not_before_ms);
        w.uint(4, self.not_after_ms);
        w.bytes(5, &self.signature);
    }

    fn decode(buf: &[u8]) -> R<Certificate> {
        let (mut seen, mut key_id, mut public, mut nb, mut na, mut sig) =
            (Seen::default(), 0, None, 0, 0, None);
        for f in Fields::new(buf) {
            let (k, v) = f?;
            seen.once(k)?;
            match k {
                1 => key_id = u32_of(v)?,
                2 => public = Some(body::fixed(v, "HPKE key is not 32 bytes")?),
                3 => nb = body::uint(v)?,
                4 => na = body::uint(v)?,
                5 => sig = Some(body::fixed(v, "signature is not 64 bytes")?),
                _ => {}
            }
        }
        Ok(Certificate {
            key_id,
            public: public.ok_or(WireError::Malformed("certificate without a key"))?,
            not_before_ms: nb,
            not_after_ms: na,
            signature: sig.ok_or(WireError::Malformed("certificate without a signature"))?,
        })
    }

    /// The signed bytes.
    pub fn signed_bytes(&self, clinic_id: &Id16) -> Vec<u8> {
        super::wire::certificate_bytes(
            clinic_id,
            self.key_id,
            &self.public,
            self.not_before_ms,
            self.not_after_ms,
        )
    }
}

/// A change the server refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its sequence number.
    pub seq: u64,
    /// Its id.
    pub change_id: Id16,
    /// Reason code.
    pub code: u64,
    /// Reason, without patient content.
    pub reason: String,
}

/// The body of an ok reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OkBody {
    /// The last sequence number applied from this device.
    pub last_applied: u64,
    /// The receipt's signature.
    pub receipt: Option<[u8; 64]>,
    /// Changes refused.
    pub rejected: Vec<Rejected>,
    /// Changes whose HLC the server replaced (too far ahead).
    pub restamped: Vec<(Id16, u64)>,
    /// Changes to apply on the device.
    pub changes: Vec<Change>,
    /// The new pull cursor.
    pub cursor: Vec<u8>,
    /// Sync again at once.
    pub more: bool,
    /// Current HPKE key certificates.
    pub certificates: Vec<Certificate>,
    /// The patient's id (enroll replies).
    pub patient_id: Option<Id16>,
}

impl OkBody {
    /// The body's fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(128 + 128 * self.changes.len());
        w.uint(1, self.last_applied);
        if let Some(r) = &self.receipt {
            w.bytes(2, r);
        }
        for r in &self.rejected {
            w.message(3, |m| {
                m.uint(1, r.seq);
                m.bytes(2, &r.change_id);
                m.uint(3, r.code);
                m.str(4, &r.reason);
            });
        }
        for (id, hlc) in &self.restamped {
            w.message(4, |m| {
                m.bytes(1, id);
                m.uint(2, *hlc);
            });
        }
        for c in &self.changes {
            w.message(5, |m| c.encode(m));
        }
        w.bytes(6, &self.cursor);
        w.bool(7, self.more);
        for c in &self.certificates {
            w.message(8, |m| c.encode(m));
        }
        if let Some(p) = &self.patient_id {
            w.bytes(9, p);
        }
        w.finish()
    }

    /// Reads the body.
    pub fn decode(buf: &[u8]) -> R<OkBody> {
        let (mut seen, mut out) = (Seen::default(), OkBody::default());
        for f in Fields::new(buf) {
            let (k, v) = f?;
            if !matches!(k, 3 | 4 | 5 | 8) {
                seen.once(k)?;
            }
            match k {
                1 => out.last_applied = body::uint(v)?,
                2 => out.receipt = Some(body::fixed(v, "receipt is not 64 bytes")?),
                3 => {
                    let (mut s, mut r) = (
                        Seen::default(),
                        Rejected {
                            seq: 0,
                            change_id: [0; 16],
                            code: 0,
                            reason: String::new(),
                        },
                    );
                    for f in Fields::new(v) {
                        let (k, v) = f?;
                        s.once(k)?;
                        match k {
                            1 => r.seq = body::uint(v)?,
                            2 => r.change_id = id16(v)?,
                            3 => r.code = body::uint(v)?,
                            4 => r.reason = body::string(v)?,
                            _ => {}
                        }
                    }
                    out.rejected.push(r);
                }
                4 => {
                    let (mut s, mut id, mut hlc) = (Seen::default(), None, 0);
                    for f in Fields::new(v) {
                        let (k, v) = f?;
                        s.once(k)?;
                        match k {
                            1 => id = Some(id16(v)?),
                            2 => hlc = body::uint(v)?,
                            _ => {}
                        }
                    }
                    out.restamped.push((
                        id.ok_or(WireError::Malformed("restamp without a change id"))?,
                        hlc,
                    ));
                }
                5 => out.changes.push(Change::decode(v)?),
                6 => out.cursor = v.to_vec(),
                7 => out.more = body::bool(v)?,
                8 => out.certificates.push(Certificate::decode(v)?),
                9 => out.patient_id = Some(id16(v)?),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Error codes (docs/sync-protocol.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ErrorCode {
    Malformed = 1,
    Incompatible = 2,
    UnknownDevice = 3,
    BadSignature = 4,
    DeviceRevoked = 5,
    Replayed = 6,
    UnknownKey = 7,
    EnrollmentUsed = 8,
    EnrollmentExpired = 9,
    EnrollmentRevoked = 10,
    BadProof = 11,
    Gap = 12,
    SequenceReused = 13,
    Stale = 14,
    Busy = 15,
    WrongClinic = 16,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::Malformed,
        ErrorCode::Incompatible,
        ErrorCode::UnknownDevice,
        ErrorCode::BadSignature,
        ErrorCode::DeviceRevoked,
        ErrorCode::Replayed,
        ErrorCode::UnknownKey,
        ErrorCode::EnrollmentUsed,
        ErrorCode::EnrollmentExpired,
        ErrorCode::EnrollmentRevoked,
        ErrorCode::BadProof,
        ErrorCode::Gap,
        ErrorCode::SequenceReused,
        ErrorCode::Stale,
        ErrorCode::Busy,
        ErrorCode::WrongClinic,
    ];

    /// The code of a number, if known.
    pub fn from_u64(n: u64) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| *c as u64 == n)
    }

    /// The code's name in docs/sync-protocol.md.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::Incompatible => "incompatible",
            ErrorCode::UnknownDevice => "unknown_device",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::Replayed => "replayed",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::EnrollmentUsed => "enrollment_used",
            ErrorCode::EnrollmentExpired => "enrollment_expired",
            ErrorCode::EnrollmentRevoked => "enrollment_revoked",
            ErrorCode::BadProof => "bad_proof",
            ErrorCode::Gap => "gap",
            ErrorCode::SequenceReused => "sequence_reused",
            ErrorCode::Stale => "stale",
            ErrorCode::Busy => "busy",
            ErrorCode::WrongClinic => "wrong_clinic",
        }
    }
}

/// The body of an error reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorBody {
    /// The error code's number (an unknown number is kept).
    pub code: u64,
    /// The last sequence number applied from this device (gap, reuse).
    pub last_applied: u64,
    /// Seconds to wait (busy).
    pub retry_after: u64,
    /// Current HPKE key certificates (unknown key).
    pub certificates: Vec<Certificate>,
    /// The changes the server holds from this device at the sequence
    /// numbers the request reused (sequence reused).
    pub held: Vec<Held>,
}

/// A change the server holds, as a `sequence_reused` error lists it: where,
/// and with which author and version vector it was stored (a device
/// restored from an older copy takes them over for its copy of the change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its sequence number.
    pub seq: u64,
    /// Its id.
    pub change_id: Id16,
    /// Its author, as stored.
    pub author: Option<Id16>,
    /// Its version vector, as stored.
    pub vv: Vec<(Id16, u64)>,
}

impl ErrorBody {
    /// The body's fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(32);
        w.uint(1, self.code);
        w.uint(2, self.last_applied);
        w.uint(3, self.retry_after);
        for c in &self.certificates {
            w.message(4, |m| c.encode(m));
        }
        for h in &self.held {
            w.message(5, |m| {
                m.uint(1, h.seq);
                m.bytes(2, &h.change_id);
                if let Some(a) = &h.author {
                    m.bytes(3, a);
                }
                for (d, n) in &h.vv {
                    m.message(4, |e| {
                        e.bytes_always(1, d);
                        e.uint(2, *n);
                    });
                }
            });
        }
        w.finish()
    }

    /// Reads the body.
    pub fn decode(buf: &[u8]) -> R<ErrorBody> {
        let (mut seen, mut out) = (Seen::default(), ErrorBody::default());
        for f in Fields::new(buf) {
            let (k, v) = f?;
            if k != 4 && k != 5 {
                seen.once(k)?;
            }
            match k {
                1 => out.code = body::uint(v)?,
                2 => out.last_applied = body::uint(v)?,
                3 => out.retry_after = body::uint(v)?,
                4 => out.certificates.push(Certificate::decode(v)?),
                5 => {
                    let (mut s, mut seq, mut id, mut author) = (Seen::default(), 0, None, None);
                    let mut vv = Vec::new();
                    for f in Fields::new(v) {
                        let (k, v) = f?;
                        if k != 4 {
                            s.once(k)?;
                        }
                        match k {
                            1 => seq = body::uint(v)?,
                            2 => id = Some(id16(v)?),
                            3 => author = Some(id16(v)?),
                            4 => {
                                let (mut d, mut n, mut s2) = (None, 0, Seen::default());
                                for f in Fields::new(v) {
                                    let (k, v) = f?;
                                    s2.once(k)?;
                                    match k {
                                        1 => d = Some(id16(v)?),
                                        2 => n = body::uint(v)?,
                                        _ => {}
                                    }
                                }
                                vv.push((
                                    d.ok_or(WireError::Malformed(
                                        "version vector entry without a device",
                                    ))?,
                                    n,
                                ));
                            }
                            _ => {}
                        }
                    }
                    out.held.push(Held {
                        seq,
                        change_id: id.ok_or(WireError::Malformed("held change without an id"))?,
                        author,
                        vv,
                    });
                }
                _ => {}
            }
        }
        if out.code == 0 {
            return malformed("error without a code");
        }
        Ok(out)
    }
}
