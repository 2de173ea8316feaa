//! A device's outgoing changes, as the core's `local_write` would queue
//! them, cut into batches as `Store::sync_prepare` cuts them; and the same
//! changes as a typical JSON sync API would send them.
//!
//! The content is the journal of [`crate::Generator`] (eighteen entries a
//! day over six built-in trackers, notes, journal texts, tags) plus two
//! custom trackers (a daily step count and a yes/no), with the patient
//! travelling now and then (London, Los Angeles). Mixed in: edits of
//! entries already synced (a value or the medication corrected, a note or
//! a journal sentence added) and deletes.

use std::ops::Range;

use cairn_core::sync::body::FieldWriter;
use cairn_core::sync::device::{Category, MAX_BATCH_BYTES, MAX_BATCH_CHANGES};
use cairn_core::sync::hlc::Hlc;
use cairn_core::sync::messages::{Change, EntryBody, Id16, Op, PushBody, RecordId, kind};
use cairn_core::{BUILTIN_TRACKERS, Tag, TrackerKind, Value, ZoneDb};
use serde::Serialize;

use crate::{Generator, Rng, SENTENCES, ZONE, first_day};

/// Share of new entries followed by an edit of an entry already synced.
pub const EDIT_SHARE: f64 = 0.045;
/// Share of new entries followed by a delete of an entry already synced.
pub const DELETE_SHARE: f64 = 0.015;
/// A custom tracker (a count: steps walked), as its 32-hex id.
pub const STEPS_TRACKER: &str = "5c1f0d2e9a8b4c3d2e1f0a9b8c7d6e5f";
/// A custom tracker (yes/no: went outside), as its 32-hex id.
pub const OUTSIDE_TRACKER: &str = "a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8";

/// How a device's queue is cut into requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// As `Store::sync_prepare` cuts it: at most 2,000 changes and 256 KiB
    /// of encoded changes a request.
    Prepare,
    /// Every `n` changes (a device that syncs after every few entries).
    Every(usize),
}

/// One queued change: its fields, and the entry it carries (a put).
#[derive(Debug, Clone)]
pub struct MixChange {
    /// The change, without its body (`body` is `None` here).
    pub change: Change,
    /// The entry it puts; `None` for a delete.
    pub entry: Option<EntryBody>,
}

impl MixChange {
    /// The change as the core sends it: its body the encoded entry.
    pub fn to_change(&self) -> Change {
        let mut c = self.change.clone();
        c.body = self.entry.as_ref().map(EntryBody::encode);
        c
    }
}

/// A change's encoding (what `sync_prepare` counts against 256 KiB).
pub fn encode_change(c: &Change) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(160);
    c.encode(&mut w);
    w.finish()
}

/// A device's queue of changes and its batches.
#[derive(Debug, Clone)]
pub struct Mix {
    /// The author (the device id).
    pub author: Id16,
    /// Every change, in sequence order (seq 1, 2, ...).
    pub changes: Vec<MixChange>,
    /// The requests: ranges of `changes`.
    pub batches: Vec<Range<usize>>,
    /// New entries.
    pub puts: usize,
    /// Edits of entries synced before.
    pub edits: usize,
    /// Deletes of entries synced before.
    pub deletes: usize,
}

struct Record {
    id: Id16,
    body: EntryBody,
}

fn category_of(tracker: &str, value: &Value) -> Category {
    match (tracker, value) {
        ("journal", _) | (_, Value::Text(_)) => Category::Journal,
        (_, Value::Medication { .. }) => Category::Medication,
        _ => Category::Ratings,
    }
}

fn scale_bounds(tracker: &str) -> Option<(f64, f64)> {
    let b = BUILTIN_TRACKERS.iter().find(|b| b.id == tracker)?;
    match b.tracker().kind {
        TrackerKind::Scale { min, max, .. } => Some((min, max)),
        _ => None,
    }
}

fn id16(rng: &mut Rng) -> Id16 {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    b
}

/// Builds the mix: puts, edits, deletes, in the order a patient makes them.
struct Builder {
    author: Id16,
    cut: Cut,
    rng: Rng,
    hlc: Hlc,
    records: Vec<Record>,
    /// Records whose latest change went in a closed batch (and live):
    /// those an edit or a delete may touch without being coalesced.
    synced: Vec<usize>,
    /// Records touched in the open batch (back to `synced` at the cut).
    touched: Vec<usize>,
    out: Mix,
    open_start: usize,
    open_bytes: usize,
}

impl Builder {
    fn push(&mut self, write_ms: i64, record: usize, op: Op) {
        self.hlc = self.hlc.tick(write_ms as u64);
        let seq = self.out.changes.len() as u64 + 1;
        let rec = &self.records[record];
        let entry = (op == Op::Put).then(|| rec.body.clone());
        let category = entry
            .as_ref()
            .map_or(0, |e| category_of(&e.tracker, &e.value) as u64);
        let m = MixChange {
            change: Change {
                change_id: id16(&mut self.rng),
                seq,
                hlc: self.hlc.0,
                kind: kind::ENTRY,
                record_id: RecordId::Bytes(rec.id),
                op,
                vv: vec![(self.author, seq)],
                body: None,
                category,
                author: self.author,
                incarnation: 0,
            },
            entry,
        };
        let open = self.out.changes.len() - self.open_start;
        match self.cut {
            Cut::Prepare => {
                let size = encode_change(&m.to_change()).len();
                if open > 0
                    && (open >= MAX_BATCH_CHANGES || self.open_bytes + size > MAX_BATCH_BYTES)
                {
                    self.close();
                }
                self.open_bytes += size;
            }
            Cut::Every(n) => {
                if open >= n {
                    self.close();
                }
            }
        }
        self.out.changes.push(m);
        if op == Op::Put {
            self.touched.push(record);
        }
    }

    fn close(&mut self) {
        let end = self.out.changes.len();
        if end > self.open_start {
            self.out.batches.push(self.open_start..end);
        }
        self.open_start = end;
        self.open_bytes = 0;
        self.synced.append(&mut self.touched);
    }

    /// A record synced before, among the most recent few hundred (people
    /// correct what they logged lately), taken out of the pool.
    fn take_synced(&mut self) -> Option<usize> {
        if self.synced.is_empty() {
            return None;
        }
        let recent = self.synced.len().min(400) as u64;
        let k = self.synced.len() - 1 - self.rng.below(recent) as usize;
        Some(self.synced.swap_remove(k))
    }

    fn edit(&mut self, now_ms: i64) {
        let Some(r) = self.take_synced() else { return };
        let rng = &mut self.rng;
        let body = &mut self.records[r].body;
        match &mut body.value {
            Value::Scale(x) => {
                let (lo, hi) = scale_bounds(&body.tracker).unwrap_or((0.0, 10.0));
                let step = if rng.chance(0.5) { 1.0 } else { -1.0 };
                let y = (*x + step).clamp(lo, hi);
                *x = if y == *x {
                    (*x - step).clamp(lo, hi)
                } else {
                    y
                };
            }
            Value::Text(t) => {
                let sentence: &&str = rng.pick(SENTENCES);
                t.push(' ');
                t.push_str(sentence);
            }
            Value::Medication { taken, .. } => *taken = !*taken,
            Value::Sleep { minutes, quality } => {
                *minutes += 15;
                *quality = Some(rng.below(11) as u8);
            }
            Value::Count(n) => *n = n.saturating_add(250),
            Value::YesNo(b) => *b = !*b,
            Value::Duration { minutes } => *minutes += 5,
            Value::Answers { answers, .. } => {
                if let Some(a) = answers.first_mut() {
                    *a = Some(a.map_or(0, |v| (v + 1) % 4));
                }
            }
        }
        if rng.chance(0.3) {
            body.note = Some((*rng.pick(SENTENCES)).to_string());
        }
        body.updated_ms = now_ms;
        self.out.edits += 1;
        self.push(now_ms, r, Op::Put);
    }

    fn delete(&mut self, now_ms: i64) {
        let Some(r) = self.take_synced() else { return };
        self.out.deletes += 1;
        self.push(now_ms, r, Op::Delete);
    }
}

impl Mix {
    /// `n` changes by `author` (ids drawn from a generator seeded with the
    /// author, so two devices never share one), cut as `cut` says.
    pub fn new(author: Id16, n: usize, cut: Cut) -> Mix {
        static ZONES: std::sync::OnceLock<ZoneDb> = std::sync::OnceLock::new();
        let zones = ZONES.get_or_init(ZoneDb::system);
        let zone = |name: &str| zones.zone(name).expect("zone in the system tz database");
        let (home, london, la) = (
            zone(ZONE),
            zone("Europe/London"),
            zone("America/Los_Angeles"),
        );
        let seed = u64::from_le_bytes(author[..8].try_into().expect("8 bytes"))
            ^ u64::from_le_bytes(author[8..].try_into().expect("8 bytes"));
        let mut b = Builder {
            author,
            cut,
            rng: Rng::new(seed ^ 0x5eed_c4a1),
            hlc: Hlc(0),
            records: Vec::new(),
            synced: Vec::new(),
            touched: Vec::new(),
            out: Mix {
                author,
                changes: Vec::with_capacity(n),
                batches: Vec::new(),
                puts: 0,
                edits: 0,
                deletes: 0,
            },
            open_start: 0,
            open_bytes: 0,
        };
        let mut days = Generator::new(first_day(3));
        let mut day_index = 0u32;
        'days: while let Some(mut entries) = days.next_day() {
            let first_at = entries[0].at;
            // The custom trackers, logged in the evening.
            let evening = first_at + chrono::Duration::hours(11);
            if b.rng.chance(0.8) {
                let steps = 2000 + b.rng.below(14_000) as u32;
                entries.push(cairn_core::NewEntry {
                    tracker: STEPS_TRACKER.into(),
                    value: Value::Count(steps),
                    note: None,
                    tags: Vec::new(),
                    at: evening,
                    zone: ZONE.into(),
                });
            }
            if b.rng.chance(0.5) {
                let outside = b.rng.chance(0.7);
                entries.push(cairn_core::NewEntry {
                    tracker: OUTSIDE_TRACKER.into(),
                    value: Value::YesNo(outside),
                    note: None,
                    tags: Vec::new(),
                    at: evening + chrono::Duration::minutes(2),
                    zone: ZONE.into(),
                });
            }
            // Two weeks in London and one in Los Angeles every 140 days.
            let z = match day_index % 140 {
                50..64 => &london,
                100..107 => &la,
                _ => &home,
            };
            day_index += 1;
            for e in entries {
                let at_ms = e.at.timestamp_millis();
                let write_ms = at_ms + b.rng.below(15 * 60_000) as i64;
                let rec = Record {
                    id: id16(&mut b.rng),
                    body: EntryBody {
                        tracker: e.tracker,
                        value: e.value,
                        note: e.note,
                        tags: e.tags,
                        at_ms,
                        zone: z.name().to_string(),
                        utc_offset_seconds: z.offset_at(at_ms),
                        created_ms: write_ms,
                        updated_ms: write_ms,
                        withheld: Vec::new(),
                    },
                };
                b.records.push(rec);
                b.out.puts += 1;
                b.push(write_ms, b.records.len() - 1, Op::Put);
                if b.out.changes.len() >= n {
                    break 'days;
                }
                let later = write_ms + 60_000 + b.rng.below(30 * 60_000) as i64;
                if b.rng.chance(EDIT_SHARE) {
                    b.edit(later);
                } else if b.rng.chance(DELETE_SHARE / (1.0 - EDIT_SHARE)) {
                    b.delete(later);
                }
                if b.out.changes.len() >= n {
                    break 'days;
                }
            }
        }
        assert_eq!(
            b.out.changes.len(),
            n,
            "three years of journal hold {n} changes"
        );
        b.close();
        b.out
    }

    /// The changes of batch `i`, as the core sends them (bodies encoded).
    pub fn batch_changes(&self, i: usize) -> Vec<Change> {
        self.changes[self.batches[i].clone()]
            .iter()
            .map(MixChange::to_change)
            .collect()
    }

    /// The push body of batch `i` with `cursor`.
    pub fn push_body(&self, i: usize, cursor: &[u8]) -> PushBody {
        PushBody {
            changes: self.batch_changes(i),
            cursor: cursor.to_vec(),
        }
    }

    /// The first and last sequence numbers of batch `i`.
    pub fn seq_range(&self, i: usize) -> (u64, u64) {
        let r = &self.batches[i];
        (r.start as u64 + 1, r.end as u64)
    }
}

// --- the JSON a typical sync API would send ------------------------------------

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    cairn_clinic::ingest::hex(bytes)
}

/// A push as JSON: `{"cursor": "...", "changes": [...]}`.
#[derive(Serialize)]
pub struct JsonPush<'a> {
    /// The pull cursor, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<&'a str>,
    /// The changes.
    pub changes: &'a [JsonChange<'a>],
}

/// One change as named-field JSON, ids in hex.
#[derive(Serialize)]
pub struct JsonChange<'a> {
    /// Change id, 32 hex characters.
    pub change_id: String,
    /// Sequence number.
    pub seq: u64,
    /// HLC stamp.
    pub hlc: u64,
    /// `"entry"`.
    pub kind: &'static str,
    /// Record id, 32 hex characters.
    pub record_id: String,
    /// `"put"` or `"delete"`.
    pub op: &'static str,
    /// The version vector.
    pub version_vector: Vec<JsonVersion>,
    /// Sharing category (puts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'static str>,
    /// Author device id, hex.
    pub author: String,
    /// Incarnation.
    pub incarnation: u32,
    /// The entry (puts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<JsonEntry<'a>>,
}

/// A version vector element.
#[derive(Serialize)]
pub struct JsonVersion {
    /// Device id, hex.
    pub device_id: String,
    /// Its sequence number.
    pub seq: u64,
}

/// An entry as JSON (the value and tags as the core serialises them, as
/// `cairn entries --json` prints them).
#[derive(Serialize)]
pub struct JsonEntry<'a> {
    /// Tracker id.
    pub tracker: &'a str,
    /// The value.
    pub value: &'a Value,
    /// The note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// Tags, `{"group", "label"}`.
    pub tags: &'a [Tag],
    /// When, ms since 1970.
    pub at: i64,
    /// IANA zone.
    pub zone: &'a str,
    /// UTC offset, seconds.
    pub utc_offset_seconds: i32,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
}

impl MixChange {
    /// This change as JSON.
    pub fn json(&self) -> JsonChange<'_> {
        let c = &self.change;
        let RecordId::Bytes(rid) = &c.record_id else {
            unreachable!("entries have random ids")
        };
        JsonChange {
            change_id: hex(&c.change_id),
            seq: c.seq,
            hlc: c.hlc,
            kind: "entry",
            record_id: hex(rid),
            op: match c.op {
                Op::Put => "put",
                Op::Delete => "delete",
            },
            version_vector: c
                .vv
                .iter()
                .map(|(d, s)| JsonVersion {
                    device_id: hex(d),
                    seq: *s,
                })
                .collect(),
            category: Category::from_code(c.category).map(Category::name),
            author: hex(&c.author),
            incarnation: c.incarnation,
            entry: self.entry.as_ref().map(|e| JsonEntry {
                tracker: &e.tracker,
                value: &e.value,
                note: e.note.as_deref(),
                tags: &e.tags,
                at: e.at_ms,
                zone: &e.zone,
                utc_offset_seconds: e.utc_offset_seconds,
                created_at: e.created_ms,
                updated_at: e.updated_ms,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_cut_as_sync_prepare_cuts_and_never_coalesces() {
        let author = [7u8; 16];
        let m = Mix::new(author, 10_000, Cut::Prepare);
        assert_eq!(m.changes.len(), 10_000);
        assert_eq!(m.puts + m.edits + m.deletes, 10_000);
        assert!(m.edits > 300 && m.deletes > 80, "{} {}", m.edits, m.deletes);
        let mut next = 0;
        for (i, r) in m.batches.iter().enumerate() {
            assert_eq!(r.start, next);
            next = r.end;
            assert!(r.len() <= MAX_BATCH_CHANGES);
            let bytes: usize = m
                .batch_changes(i)
                .iter()
                .map(|c| encode_change(c).len())
                .sum();
            assert!(bytes <= MAX_BATCH_BYTES);
            // No record twice in a batch: sync_prepare would drop the
            // earlier version.
            let mut ids: Vec<_> = m.changes[r.clone()]
                .iter()
                .map(|c| c.change.record_id.clone())
                .collect();
            ids.sort();
            let n = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), n, "batch {i} touches a record twice");
        }
        assert_eq!(next, 10_000);
        assert!(m.batches.len() >= 5);
        // Three zones, custom trackers, notes and tags all occur.
        let zones: std::collections::BTreeSet<_> = m
            .changes
            .iter()
            .filter_map(|c| c.entry.as_ref().map(|e| e.zone.clone()))
            .collect();
        assert_eq!(zones.len(), 3);
        assert!(
            m.changes
                .iter()
                .any(|c| c.entry.as_ref().is_some_and(|e| e.tracker == STEPS_TRACKER))
        );
        // The same author gives the same mix.
        let again = Mix::new(author, 10_000, Cut::Prepare);
        assert_eq!(again.batches, m.batches);
        assert_eq!(again.changes[9_999].change, m.changes[9_999].change);
    }

    #[test]
    fn fixed_cuts_and_json() {
        let m = Mix::new([9u8; 16], 100, Cut::Every(20));
        assert_eq!(m.batches.len(), 5);
        assert!(m.batches.iter().all(|r| r.len() == 20));
        let j = serde_json::to_string(&m.changes[0].json()).unwrap();
        assert!(j.starts_with(r#"{"change_id":""#), "{j}");
        assert!(
            j.contains(r#""op":"put""#) && j.contains(r#""zone":"#),
            "{j}"
        );
    }
}
