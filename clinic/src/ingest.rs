//! What every storage backend does the same way when it takes in a push
//! (docs/sync-protocol.md §9, "Server, push"): checking each change,
//! re-stamping clocks too far ahead, merging into a record's tips, and
//! choosing what the pull feed sends. The backends hold the SQL; the rules
//! are here, once.

use cairn_core::sync::body::{FieldWriter, Fields};
use cairn_core::sync::device::replica_id;
use cairn_core::sync::hlc::Hlc;
use cairn_core::sync::lww::{self, Cells};
use cairn_core::sync::merge::{self, Version};
use cairn_core::sync::messages::{Change, EntryBody, Id16, Op, RecordId, kind};
use cairn_core::{
    BUILTIN_TRACKERS, MAX_COUNT, MAX_DURATION_MINUTES, MAX_LABEL_CHARS, MAX_SCALE_BOUND,
    MAX_SLEEP_MINUTES, MAX_TAGS, MAX_TEXT_BYTES, TrackerKind, Value,
};

/// Reason code: the change does not follow the protocol.
pub const REASON_MALFORMED: u64 = 1;
/// Reason code: the record belongs to another patient of the clinic.
pub const REASON_FOREIGN: u64 = 2;
/// Reason code: the body decodes but a value is out of range.
pub const REASON_INVALID: u64 = 3;

/// A `sequence_reused` error lists at most this many held changes.
pub const MAX_HELD: usize = 10_000;

/// Pull replies carry at most this many bytes of encoded changes (and at
/// least one change).
pub const PULL_BUDGET: usize = 256 * 1024;

/// The reason text of a reason code (no patient content).
pub fn reason_text(code: u64) -> &'static str {
    match code {
        REASON_MALFORMED => "malformed change",
        REASON_FOREIGN => "the record belongs to another patient",
        REASON_INVALID => "invalid value",
        _ => "rejected",
    }
}

/// A change of a batch after the checks that need no database.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// Refused: listed in the reply, never applied.
    Rejected {
        /// Its sequence number.
        seq: u64,
        /// Its id.
        change_id: Id16,
        /// Reason code.
        code: u64,
        /// Reason (no patient content).
        reason: &'static str,
    },
    /// To be stored (or skipped as a duplicate).
    Valid(Change),
}

/// Step 2 of §9 "Server, push", the parts that need no database: every
/// change in `[first, last]` and increasing, authored by
/// `replica(device, incarnation)`, with a version vector that names no
/// author twice and holds `(author, n)` with `1 ≤ n ≤ seq`, and a body that
/// decodes (for a known kind) with values in range. Record ownership is
/// checked by the backend.
pub fn check_batch(first: u64, last: u64, device: &Id16, changes: Vec<Change>) -> Vec<Candidate> {
    let mut prev = 0u64;
    changes
        .into_iter()
        .map(|c| {
            let reject = |code, reason| Candidate::Rejected {
                seq: c.seq,
                change_id: c.change_id,
                code,
                reason,
            };
            if c.seq < first || c.seq > last || c.seq <= prev {
                return reject(
                    REASON_MALFORMED,
                    "sequence number outside the batch or not increasing",
                );
            }
            prev = c.seq;
            if c.author != replica_id(device, c.incarnation) {
                return reject(REASON_MALFORMED, "the author is not the sending device");
            }
            if merge::vv_normalize(c.vv.clone()).is_none() {
                return reject(REASON_MALFORMED, "the version vector names an author twice");
            }
            if !c
                .vv
                .iter()
                .any(|(d, n)| *d == c.author && (1..=c.seq).contains(n))
            {
                return reject(
                    REASON_MALFORMED,
                    "the version vector does not hold its author at or below the change's sequence number",
                );
            }
            if lww::table_of(c.kind).is_some()
                && let Err(reason) = lww::check(&c)
            {
                return reject(REASON_INVALID, reason);
            }
            if c.kind == kind::ENTRY
                && let Some(body) = &c.body
            {
                match EntryBody::decode(body) {
                    Err(_) => return reject(REASON_MALFORMED, "the entry body does not decode"),
                    Ok(e) => {
                        if let Err(reason) = check_entry(&e) {
                            return reject(REASON_INVALID, reason);
                        }
                    }
                }
            }
            Candidate::Valid(c)
        })
        .collect()
}

fn is_custom_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An entry's values in range. Built-in trackers: the value fits the
/// tracker's kind (scales within their bounds; steps are not enforced, so
/// that a later app with finer steps is not refused). Custom trackers (whose
/// definition the server does not read yet): the general limits.
fn check_entry(e: &EntryBody) -> Result<(), &'static str> {
    let builtin = BUILTIN_TRACKERS.iter().find(|b| b.id == e.tracker);
    if builtin.is_none() && !is_custom_id(&e.tracker) {
        return Err("unknown tracker");
    }
    let value_ok = match (builtin.map(|b| b.tracker().kind), &e.value) {
        (_, Value::Scale(x)) if !x.is_finite() || x.abs() > MAX_SCALE_BOUND => false,
        (Some(TrackerKind::Scale { min, max, .. }), Value::Scale(x)) => (min..=max).contains(x),
        (Some(TrackerKind::Scale { .. }), _) => false,
        // Any table version: a newer app's questionnaire is kept, not refused.
        (Some(TrackerKind::Questionnaire { .. }), Value::Answers { answers, .. }) => {
            answers.len() <= 64 && answers.iter().all(|a| a.is_none_or(|a| a <= 3))
        }
        (Some(k), v) => k.check(v.clone()).is_ok(),
        (None, Value::Scale(_) | Value::YesNo(_)) => true,
        (None, Value::Count(n)) => *n <= MAX_COUNT,
        (None, Value::Duration { minutes }) => *minutes <= MAX_DURATION_MINUTES,
        (None, Value::Text(t)) => !t.trim().is_empty() && t.len() <= MAX_TEXT_BYTES,
        (None, Value::Sleep { minutes, quality }) => {
            *minutes <= MAX_SLEEP_MINUTES && quality.is_none_or(|q| q <= 10)
        }
        (None, Value::Medication { name, .. }) => {
            !name.trim().is_empty() && name.chars().count() <= MAX_LABEL_CHARS
        }
        (None, Value::Answers { .. }) => false,
    };
    if !value_ok {
        return Err("the value does not fit the tracker");
    }
    if e.note.as_ref().is_some_and(|n| n.len() > MAX_TEXT_BYTES) {
        return Err("the note is too long");
    }
    if e.tags.len() > MAX_TAGS
        || e.tags.iter().any(|t| {
            t.label.trim().is_empty()
                || t.label.chars().count() > MAX_LABEL_CHARS
                || t.label.chars().any(char::is_control)
        })
    {
        return Err("a tag is empty, too long, or too many tags");
    }
    if cairn_core::bounds::ms("at", e.at_ms).is_err() {
        return Err("the entry's time is outside 1970-2199");
    }
    Ok(())
}

/// Step 4: a change whose clock is more than an hour ahead of the server's
/// takes the server's own clock instead. `clock` is the patient's server
/// clock, advanced either way; returns the new stamp when it was replaced.
pub fn stamp(clock: &mut Hlc, change: &mut Change, now_ms: u64) -> Option<u64> {
    let hlc = Hlc(change.hlc);
    if hlc.too_far_ahead(now_ms) {
        *clock = clock.tick(now_ms);
        change.hlc = clock.0;
        Some(clock.0)
    } else {
        *clock = clock.receive(hlc, now_ms);
        None
    }
}

/// Whether a record kind keeps every concurrent version (entries) or only
/// the last writer's (every other kind, known or not).
pub fn keeps_conflicts(record_kind: u64) -> bool {
    record_kind == kind::ENTRY
}

/// Merges `change` into a record's tips (winner first afterwards); the
/// tips are changes whose version vector is the tip's. A record merged by
/// field (trackers, reminders, sessions, the safety plan) has one tip: the
/// latest change, as a put whose body is the merged cells
/// ([`Cells::encode`], cell 0 saying whether the record exists) rather
/// than a change body.
pub fn merge_into(tips: Vec<Change>, change: Change) -> (Vec<Change>, merge::Applied) {
    if lww::table_of(change.kind).is_some() {
        let Ok(incoming) = Cells::of_change(&change) else {
            return (tips, merge::Applied::Seen);
        };
        let mut cells = tips
            .first()
            .and_then(|t| t.body.as_deref())
            .and_then(|b| Cells::decode(b).ok())
            .unwrap_or_default();
        if !cells.merge(&incoming) {
            return (tips, merge::Applied::Seen);
        }
        let hlc = cells.hlc();
        // The state is stored as a put whatever the record's existence
        // (cell 0 says it), so that it decodes as a change with a body.
        let state = Change {
            hlc,
            op: Op::Put,
            body: Some(cells.encode()),
            vv: tips
                .first()
                .map_or_else(|| change.vv.clone(), |t| merge::vv_join(&t.vv, &change.vv)),
            ..change
        };
        let superseded = tips.len();
        return (vec![state], merge::Applied::Added { superseded });
    }
    let lww = !keeps_conflicts(change.kind);
    let mut versions: Vec<Version<Change>> = tips
        .into_iter()
        .map(|c| Version {
            hlc: c.hlc,
            author: c.author,
            vv: c.vv.clone(),
            data: c,
        })
        .collect();
    let v = Version {
        hlc: change.hlc,
        author: change.author,
        vv: change.vv.clone(),
        data: change,
    };
    let applied = merge::apply(&mut versions, v, lww);
    let tips = versions
        .into_iter()
        .map(|v| Change { vv: v.vv, ..v.data })
        .collect();
    (tips, applied)
}

/// A record's tips as bytes (sealed at rest): field 1, repeated, one change
/// each, in the protocol's change encoding.
pub fn encode_tips(tips: &[Change]) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(256 * tips.len());
    for t in tips {
        w.message(1, |m| t.encode(m));
    }
    w.finish()
}

/// Reads [`encode_tips`]'s bytes.
pub fn decode_tips(bytes: &[u8]) -> Option<Vec<Change>> {
    let mut out = Vec::new();
    for f in Fields::new(bytes) {
        let (key, v) = f.ok()?;
        if key == 1 {
            out.push(Change::decode(v).ok()?);
        }
    }
    Some(out)
}

/// A change's bytes (sealed at rest, sent in pulls).
pub fn encode_change(c: &Change) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(256);
    c.encode(&mut w);
    w.finish()
}

/// A record id as a database key: 32 lowercase hex characters for a
/// 16-byte id, `t:` and the text for a text id (which cannot collide).
pub fn record_key(id: &RecordId) -> String {
    match id {
        RecordId::Bytes(b) => hex(b),
        RecordId::Text(t) => format!("t:{t}"),
    }
}

/// The author id of changes the clinic writes for a patient (trackers,
/// reminder plans, sessions, safety-plan edits): the first 16 bytes of
/// SHA-256(`"cairn clinic author v1"` || clinic id || patient id). It is a
/// device of the patient to the protocol, whose key is the clinic's root.
pub fn clinic_author_id(clinic: &Id16, patient: &Id16) -> Id16 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"cairn clinic author v1");
    ctx.update(clinic);
    ctx.update(patient);
    ctx.finish().as_ref()[..16].try_into().expect("16 bytes")
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The feed's running hash after `change_id`: the first 16 bytes of
/// SHA-256(`previous` || change id), `previous` empty before the first.
/// A cursor carries the hash at its position, so a feed whose earlier
/// positions changed (a server restored from an older backup, then given
/// new changes) is told apart from the one the device read.
pub fn feed_hash(previous: &[u8], change_id: &Id16) -> [u8; 16] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(previous);
    ctx.update(change_id);
    ctx.finish().as_ref()[..16].try_into().expect("16 bytes")
}

/// Where a pull starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullFrom {
    /// After this feed position (0: from the first).
    pub after: u64,
    /// The feed's hash the device saw at that position ([`feed_hash`]): a
    /// server restored from an older backup may have given this or an
    /// earlier position to another change since, and the device then reads
    /// the feed again from the beginning.
    pub check: Option<Id16>,
}

/// The pull cursor: the last feed position passed, 8 bytes big-endian, and
/// (after the first) the feed's hash there, 16 bytes. `None` ("from
/// the beginning, the device's own changes included") for an empty or
/// unreadable cursor.
pub fn read_cursor(cursor: &[u8]) -> Option<PullFrom> {
    match cursor.len() {
        8 if cursor == [0; 8] => Some(PullFrom {
            after: 0,
            check: None,
        }),
        24 => Some(PullFrom {
            after: u64::from_be_bytes(cursor[..8].try_into().expect("8 bytes")),
            check: Some(cursor[8..].try_into().expect("16 bytes")),
        }),
        _ => None,
    }
}

/// Chooses what a pull sends, change by change in feed order.
pub struct Pull {
    /// Leave the requesting device's own changes out.
    pub skip_own: bool,
    /// The last feed position sent or passed over.
    pub position: u64,
    /// The feed's hash at `position`.
    pub position_id: Option<Id16>,
    /// The changes to send.
    pub changes: Vec<Change>,
    /// Whether more remain.
    pub more: bool,
    bytes: usize,
}

impl Pull {
    /// A pull from `from` (`None`: from the beginning, own changes included).
    pub fn new(from: Option<PullFrom>) -> Pull {
        Pull {
            skip_own: from.is_some(),
            position: from.map_or(0, |f| f.after),
            position_id: from.and_then(|f| f.check),
            changes: Vec::new(),
            more: false,
            bytes: 0,
        }
    }

    /// Offers the change at `position`, `hash` the feed's hash there, `own` when the requesting device
    /// wrote it, `encoded` its bytes. Returns false when the reply is full
    /// (`more` is then set and the change is not taken).
    pub fn offer(&mut self, position: u64, hash: &[u8], own: bool, encoded: &[u8]) -> bool {
        if own && self.skip_own {
            self.position = position;
            self.position_id = hash.try_into().ok();
            return true;
        }
        if !self.changes.is_empty() && self.bytes + encoded.len() > PULL_BUDGET {
            self.more = true;
            return false;
        }
        match Change::decode(encoded) {
            Ok(c) => {
                self.bytes += encoded.len();
                self.changes.push(c);
            }
            // Stored by this server after decoding: cannot happen unless the
            // row was altered, which the AEAD catches first.
            Err(_) => tracing::warn!(position, "a stored change does not decode; skipped"),
        }
        self.position = position;
        self.position_id = hash.try_into().ok();
        true
    }

    /// The cursor to send back (see [`read_cursor`]).
    pub fn cursor(&self) -> Vec<u8> {
        let mut c = self.position.to_be_bytes().to_vec();
        if self.position > 0
            && let Some(id) = self.position_id
        {
            c.extend_from_slice(&id);
        }
        c
    }
}

/// Whether a tip is a tombstone.
pub fn is_tombstone(c: &Change) -> bool {
    c.op == Op::Delete
}
