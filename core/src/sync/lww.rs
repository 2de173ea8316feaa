//! Records merged field by field, last writer wins (docs/sync-protocol.md
//! §8, "Last-writer-wins records"): custom trackers, reminder plans,
//! treatment sessions and the safety plan, which the clinic and the patient
//! may both edit.
//!
//! A change of such a record carries the record's body as its author had
//! it after the edit, and the keys of the fields the edit **changed**. Each
//! replica keeps, per field, a **cell**: the value and the stamp
//! `(hlc, author)` of the change that last set it; merging keeps, key by
//! key, the cell with the larger stamp. That is commutative, associative and
//! idempotent, so every replica (the devices and the server) reaches the same
//! record whatever order the changes arrive in, and an edit of one field
//! never undoes a concurrent edit of another. Cell 0 is the record's
//! existence: a put sets it live, a delete sets it removed.
//!
//! The record bodies are tagged fields ([`super::body`]), one layout per
//! kind, converted here to and from the store's types. This module is pure:
//! the device (`device.rs`) and the reference server use it alike.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};

use super::WireError;
use super::body::{self, FieldWriter, Fields, Seen};
use super::device::Category;
use super::messages::{Change, Id16, Op, RecordId, kind};
use crate::reminders::{
    Category as ReminderCategory, NewReminder, QuietPolicy, Reminder, ReminderEvent, Schedule,
    Step, ZonePolicy,
};
use crate::safety::{SAFETY_PLAN_ID, SafetyPlan};
use crate::trackers::{Tracker, TrackerKind};

type R<T> = Result<T, WireError>;

fn malformed<T>(what: &'static str) -> R<T> {
    Err(WireError::Malformed(what))
}

/// Cell key 0: the record is removed (value `1`) or live (empty).
pub const REMOVED: u32 = 0;

/// Record field keys are 1 to 63.
const MAX_KEY: u32 = 63;

/// The cell key that keeps the whole record as the latest put had it (the
/// put with the largest stamp): what a replica shows when the merged fields
/// do not make a valid record together (a start date one side moved past an
/// end date the other side set), the same on every replica.
pub const LATEST: u32 = 64;

/// A change body of a last-writer-wins kind (field 9 of a change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LwwBody {
    /// Field 1: the record's body after the edit, every field (absent for
    /// a delete).
    pub record: Option<Vec<u8>>,
    /// Field 2, repeated: the keys of the fields the edit set (a key absent
    /// from `record` was set to its default).
    pub changed: Vec<u32>,
}

impl LwwBody {
    /// The body's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let r = self.record.as_deref().unwrap_or_default();
        let mut w = FieldWriter::with_capacity(r.len() + 8 + self.changed.len() * 2);
        if let Some(r) = &self.record {
            w.bytes_always(1, r);
        }
        for k in &self.changed {
            w.uint_always(2, u64::from(*k));
        }
        w.finish()
    }

    /// Reads a body: changed keys ascending, unique, 1 to 63, and each
    /// field of the record at most once.
    pub fn decode(buf: &[u8]) -> R<LwwBody> {
        let mut out = LwwBody::default();
        let mut seen = Seen::default();
        for f in Fields::new(buf) {
            let (k, v) = f?;
            match k {
                1 => {
                    seen.once(1)?;
                    let mut keys = Seen::default();
                    for f in Fields::new(v) {
                        let (k, _) = f?;
                        if k > MAX_KEY {
                            return malformed("record field key out of range");
                        }
                        keys.once(k)?;
                    }
                    out.record = Some(v.to_vec());
                }
                2 => {
                    let k =
                        body::uint_max(v, u64::from(MAX_KEY), "changed key out of range")? as u32;
                    if k == REMOVED || out.changed.last().is_some_and(|l| *l >= k) {
                        return malformed("changed keys out of order, repeated or zero");
                    }
                    out.changed.push(k);
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The value of field `key` in the record (empty: the default).
    fn value(&self, key: u32) -> Vec<u8> {
        let Some(r) = &self.record else {
            return Vec::new();
        };
        Fields::new(r)
            .filter_map(|f| f.ok())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_vec())
            .unwrap_or_default()
    }
}

/// One field of a record with the stamp of the change that last set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The field's key in the record body (0: removed).
    pub key: u32,
    /// The setting change's HLC.
    pub hlc: u64,
    /// The setting change's author (device, replica or clinic author id).
    pub author: Id16,
    /// The setting change's id (so a re-stamp reaches its cells).
    pub change_id: Id16,
    /// The field's value bytes as in the record body; empty: the default.
    pub value: Vec<u8>,
}

impl Cell {
    fn beats(&self, other: &Cell) -> bool {
        (self.hlc, self.author, &self.value) > (other.hlc, other.author, &other.value)
    }
}

/// A record's merged state: at most one cell per key, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cells(pub Vec<Cell>);

impl Cells {
    /// The cells a change sets: cell 0 by its op, and its changed fields.
    pub fn of_change(c: &Change) -> R<Cells> {
        let b = match &c.body {
            Some(b) => LwwBody::decode(b)?,
            None => LwwBody::default(),
        };
        let cell = |key, value| Cell {
            key,
            hlc: c.hlc,
            author: c.author,
            change_id: c.change_id,
            value,
        };
        let mut cells = vec![cell(
            REMOVED,
            if c.op == Op::Delete {
                vec![1]
            } else {
                Vec::new()
            },
        )];
        if c.op == Op::Put {
            let Some(record) = &b.record else {
                return malformed("a put without its record");
            };
            for k in &b.changed {
                cells.push(cell(*k, b.value(*k)));
            }
            cells.push(cell(LATEST, record.clone()));
        }
        Ok(Cells(cells))
    }

    /// The cells as bytes (sealed at rest): field 1, repeated.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(64 + self.0.len() * 48);
        for c in &self.0 {
            w.message(1, |m| {
                m.uint_always(1, u64::from(c.key));
                m.uint(2, c.hlc);
                m.bytes_always(3, &c.author);
                m.bytes_always(4, &c.change_id);
                m.bytes(5, &c.value);
            });
        }
        w.finish()
    }

    /// Reads [`Cells::encode`]'s bytes.
    pub fn decode(buf: &[u8]) -> R<Cells> {
        let mut cells: Vec<Cell> = Vec::new();
        for f in Fields::new(buf) {
            let (k, v) = f?;
            if k != 1 {
                continue;
            }
            let mut c = Cell {
                key: u32::MAX,
                hlc: 0,
                author: [0; 16],
                change_id: [0; 16],
                value: Vec::new(),
            };
            for f in Fields::new(v) {
                let (k, v) = f?;
                match k {
                    1 => c.key = body::uint_max(v, u64::from(LATEST), "cell key")? as u32,
                    2 => c.hlc = body::uint(v)?,
                    3 => c.author = body::fixed(v, "cell author")?,
                    4 => c.change_id = body::fixed(v, "cell change id")?,
                    5 => c.value = v.to_vec(),
                    _ => {}
                }
            }
            if c.key == u32::MAX || cells.last().is_some_and(|l| l.key >= c.key) {
                return malformed("cells out of order or without a key");
            }
            cells.push(c);
        }
        Ok(Cells(cells))
    }

    /// Merges `other` in, key by key; returns whether anything changed.
    pub fn merge(&mut self, other: &Cells) -> bool {
        let mut changed = false;
        for c in &other.0 {
            match self.0.binary_search_by_key(&c.key, |x| x.key) {
                Ok(i) => {
                    if c.beats(&self.0[i]) {
                        self.0[i] = c.clone();
                        changed = true;
                    }
                }
                Err(i) => {
                    self.0.insert(i, c.clone());
                    changed = true;
                }
            }
        }
        changed
    }

    /// Whether the record is removed (or was never put).
    pub fn removed(&self) -> bool {
        self.0
            .iter()
            .find(|c| c.key == REMOVED)
            .is_none_or(|c| c.value.as_slice() == [1])
    }

    /// The largest stamp's HLC (0 for no cells).
    pub fn hlc(&self) -> u64 {
        self.0.iter().map(|c| c.hlc).max().unwrap_or(0)
    }

    /// The record body the cells hold (fields with a value, ascending).
    pub fn record_body(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(256);
        for c in &self.0 {
            if c.key != REMOVED && c.key < LATEST && !c.value.is_empty() {
                w.bytes_always(c.key, &c.value);
            }
        }
        w.finish()
    }

    /// The record to show: the merged fields when they make a valid record
    /// of `record_kind`, else the latest put's whole record (the same on
    /// every replica); `None` when the record is removed.
    pub fn effective_body(&self, record_kind: u64, id: &RecordId) -> Option<Vec<u8>> {
        if self.removed() {
            return None;
        }
        let merged = self.record_body();
        if valid(record_kind, id, &merged) {
            return Some(merged);
        }
        match self.0.iter().find(|c| c.key == LATEST) {
            Some(l) if valid(record_kind, id, &l.value) => Some(l.value.clone()),
            _ => Some(merged),
        }
    }

    /// What an edit changes. `shown` is the record as the editor saw it
    /// (`None`: never shown, so every field is new), `new` the record after
    /// the edit (`None`: deleted), both bodies of `record_kind`. The fields
    /// whose value differs (compared in this version's canonical form, so a
    /// merely re-encoded field is not an edit) are the change's; the record
    /// sent is `new` with the fields this version does not know taken from
    /// the cells as they are, so an older app never erases a newer app's
    /// field. Returns the op and the change body, or `None` when nothing
    /// changed.
    pub fn diff(
        &self,
        record_kind: u64,
        id: &RecordId,
        shown: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> R<Option<(Op, LwwBody)>> {
        let Some(r) = new else {
            return Ok((!self.removed()).then(|| (Op::Delete, LwwBody::default())));
        };
        let known = known_keys(record_kind);
        let fields = |b: &[u8]| -> R<Vec<(u32, Vec<u8>)>> {
            let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
            for f in Fields::new(b) {
                let (k, v) = f?;
                if k > MAX_KEY || out.iter().any(|(x, _)| *x == k) {
                    return malformed("record field key out of range or repeated");
                }
                out.push((k, v.to_vec()));
            }
            Ok(out)
        };
        let new_fields = fields(&canonical(record_kind, id, r).unwrap_or_else(|| r.to_vec()))?;
        let shown_fields = match shown {
            Some(s) => fields(&canonical(record_kind, id, s).unwrap_or_else(|| s.to_vec()))?,
            None => Vec::new(),
        };
        let value = |fs: &[(u32, Vec<u8>)], k: u32| {
            fs.iter()
                .find(|(x, _)| *x == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut changed: Vec<u32> = new_fields
            .iter()
            .chain(shown_fields.iter())
            .map(|(k, _)| *k)
            .filter(|k| known.contains(k) && value(&new_fields, *k) != value(&shown_fields, *k))
            .collect();
        changed.sort_unstable();
        changed.dedup();
        if changed.is_empty() && !self.removed() {
            return Ok(None);
        }
        // The fields this version knows from the edit; the others as the
        // cells hold them.
        let mut record: Vec<(u32, Vec<u8>)> = new_fields
            .into_iter()
            .filter(|(k, _)| known.contains(k))
            .collect();
        for c in &self.0 {
            if c.key != REMOVED && c.key < LATEST && !known.contains(&c.key) && !c.value.is_empty()
            {
                record.push((c.key, c.value.clone()));
            }
        }
        record.sort_by_key(|(k, _)| *k);
        let mut w = FieldWriter::with_capacity(256);
        for (k, v) in record {
            w.bytes_always(k, &v);
        }
        Ok(Some((
            Op::Put,
            LwwBody {
                record: Some(w.finish()),
                changed,
            },
        )))
    }

    /// Gives the cells set by change `change_id` a new stamp `hlc` (the
    /// server re-stamped that change) or a new `author` (relabelled after a
    /// restore); returns whether any cell changed.
    pub fn relabel(&mut self, change_id: &Id16, hlc: Option<u64>, author: Option<Id16>) -> bool {
        let mut any = false;
        for c in self.0.iter_mut().filter(|c| c.change_id == *change_id) {
            let before = (c.hlc, c.author);
            c.hlc = hlc.unwrap_or(c.hlc);
            c.author = author.unwrap_or(c.author);
            any |= before != (c.hlc, c.author);
        }
        any
    }
}

// --- which records --------------------------------------------------------

/// The device table of a last-writer-wins kind, and whether its record ids
/// are random (16 bytes) rather than the fixed text id.
pub fn table_of(record_kind: u64) -> Option<&'static str> {
    match record_kind {
        kind::TRACKER => Some("trackers"),
        kind::REMINDER => Some("reminders"),
        kind::TREATMENT_SESSION => Some("reminder_events"),
        kind::SAFETY_PLAN => Some("settings"),
        kind::FLAG => Some("flags"),
        kind::CLINIC_SETTINGS => Some("settings"),
        _ => None,
    }
}

/// The sharing category of a last-writer-wins kind (docs/sync-protocol.md
/// §8): trackers go with ratings, reminder plans with reminders.
pub fn category(record_kind: u64) -> Category {
    match record_kind {
        kind::TRACKER => Category::Ratings,
        kind::TREATMENT_SESSION => Category::Treatment,
        kind::SAFETY_PLAN => Category::SafetyPlan,
        kind::FLAG | kind::CLINIC_SETTINGS => Category::Flags,
        _ => Category::Reminders,
    }
}

/// The kind of a device table's record, for the tables that merge by field.
pub fn kind_of(table: &str, id: &str) -> Option<u64> {
    match (table, id) {
        ("trackers", _) => Some(kind::TRACKER),
        ("reminders", _) => Some(kind::REMINDER),
        ("reminder_events", _) => Some(kind::TREATMENT_SESSION),
        ("settings", SAFETY_PLAN_ID) => Some(kind::SAFETY_PLAN),
        ("flags", _) => Some(kind::FLAG),
        ("settings", crate::flags::CLINIC_SETTINGS_ID) => Some(kind::CLINIC_SETTINGS),
        _ => None,
    }
}

/// Whether `id` is a valid record id for `record_kind`.
pub fn id_fits(record_kind: u64, id: &RecordId) -> bool {
    match (record_kind, id) {
        (kind::SAFETY_PLAN, RecordId::Text(t)) => t == SAFETY_PLAN_ID,
        (kind::CLINIC_SETTINGS, RecordId::Text(t)) => t == crate::flags::CLINIC_SETTINGS_ID,
        (kind::SAFETY_PLAN | kind::CLINIC_SETTINGS, _) | (_, RecordId::Text(_)) => false,
        (_, RecordId::Bytes(_)) => true,
    }
}

/// The record fields this version knows, by kind.
pub fn known_keys(record_kind: u64) -> &'static [u32] {
    match record_kind {
        kind::TRACKER => &[1, 2],
        kind::REMINDER => &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        kind::TREATMENT_SESSION => &[1, 2, 3],
        kind::SAFETY_PLAN => &[1, 2, 3, 4, 5, 6, 7],
        kind::FLAG => &[1, 2, 3, 4, 5, 6],
        kind::CLINIC_SETTINGS => &[1, 2, 3],
        _ => &[],
    }
}

/// Whether `record` is a valid record of `record_kind` (ranges as
/// docs/sync-protocol.md §8 states them; zones are the device's to check).
pub fn valid(record_kind: u64, id: &RecordId, record: &[u8]) -> bool {
    let rid = id.to_store();
    match record_kind {
        kind::TRACKER => tracker_from(&rid, record).is_ok(),
        kind::REMINDER => reminder_from(&rid, 1, record).is_ok(),
        kind::TREATMENT_SESSION => session_from(&rid, record).is_ok(),
        kind::SAFETY_PLAN => safety_plan_from(record).is_ok(),
        kind::FLAG => flag_from(&rid, record).is_ok(),
        kind::CLINIC_SETTINGS => clinic_settings_from(record).is_ok(),
        _ => true,
    }
}

/// A record in this version's canonical form (decoded, checked and encoded
/// again: times sorted, text trimmed, event kinds in lower case), or `None`
/// when it is not a valid record of its kind.
pub fn canonical(record_kind: u64, id: &RecordId, record: &[u8]) -> Option<Vec<u8>> {
    let rid = id.to_store();
    match record_kind {
        kind::TRACKER => tracker_from(&rid, record).ok().map(|t| tracker_body(&t)),
        kind::REMINDER => reminder_from(&rid, 1, record)
            .ok()
            .map(|r| reminder_body(&r)),
        kind::TREATMENT_SESSION => session_from(&rid, record).ok().map(|e| session_body(&e)),
        kind::SAFETY_PLAN => safety_plan_from(record).ok().map(|p| safety_plan_body(&p)),
        kind::FLAG => flag_from(&rid, record).ok().map(|f| flag_body(&f)),
        kind::CLINIC_SETTINGS => clinic_settings_from(record)
            .ok()
            .map(|c| clinic_settings_body(&c)),
        _ => None,
    }
}

/// Checks a change of a last-writer-wins kind as a server does: the record
/// id fits the kind, the body decodes, and a put's record (as its author had
/// it, every field) is valid for its kind. The reason names no content.
pub fn check(c: &Change) -> Result<(), &'static str> {
    if !id_fits(c.kind, &c.record_id) {
        return Err("the record id does not fit the record kind");
    }
    let body = match &c.body {
        Some(b) => LwwBody::decode(b).map_err(|_| "the change body does not decode")?,
        None => LwwBody::default(),
    };
    let Some(record) = body.record.filter(|_| c.op == Op::Put) else {
        return if c.op == Op::Put {
            Err("a put without its record")
        } else {
            Ok(())
        };
    };
    if valid(c.kind, &c.record_id, &record) {
        Ok(())
    } else {
        Err("the record is not valid for its kind")
    }
}

// --- custom trackers (kind 2) ----------------------------------------------

/// A custom tracker's record body: 1 name, 2 kind.
pub fn tracker_body(t: &Tracker) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(64);
    w.str(1, &t.name);
    w.message(2, |m| match &t.kind {
        TrackerKind::Scale {
            min,
            max,
            step,
            min_label,
            max_label,
        } => m.message(1, |s| {
            s.f64(1, *min);
            s.f64(2, *max);
            s.f64(3, *step);
            s.str(4, min_label);
            s.str(5, max_label);
        }),
        TrackerKind::YesNo => m.uint_always(2, 1),
        TrackerKind::Duration { max_minutes } => {
            m.message(3, |d| d.uint_always(1, u64::from(*max_minutes)))
        }
        TrackerKind::Count => m.uint_always(4, 1),
        TrackerKind::Text => m.uint_always(5, 1),
        // Built-in only; never a custom tracker's kind.
        TrackerKind::Sleep => m.uint_always(6, 1),
        TrackerKind::Medication => m.uint_always(7, 1),
        TrackerKind::Questionnaire { questionnaire } => m.message(8, |q| q.str(1, questionnaire)),
    });
    w.finish()
}

/// Reads a custom tracker's record body and checks it as
/// [`crate::Store::add_tracker`] would.
pub fn tracker_from(id: &str, b: &[u8]) -> crate::Result<Tracker> {
    let bad = |_| crate::Error::invalid("tracker", "the record does not decode");
    let mut seen = Seen::default();
    let (mut name, mut k) = (String::new(), None);
    for f in Fields::new(b) {
        let (key, v) = f.map_err(bad)?;
        seen.once(key).map_err(bad)?;
        match key {
            1 => name = body::string(v).map_err(bad)?,
            2 => k = Some(tracker_kind(v).map_err(bad)?),
            _ => {}
        }
    }
    let kind = k.ok_or_else(|| crate::Error::invalid("tracker", "without a kind"))?;
    Ok(Tracker {
        id: id.to_owned(),
        name: crate::trackers::check_label("tracker name", &name)?,
        kind: kind.check_definition()?,
        builtin: false,
    })
}

fn tracker_kind(v: &[u8]) -> R<TrackerKind> {
    let mut out = None;
    for f in Fields::new(v) {
        let (k, v) = f?;
        let got = match k {
            1 => {
                let (mut min, mut max, mut step) = (0.0, 0.0, 0.0);
                let (mut min_label, mut max_label) = (String::new(), String::new());
                let mut seen = Seen::default();
                for f in Fields::new(v) {
                    let (k, v) = f?;
                    seen.once(k)?;
                    match k {
                        1 => min = body::f64(v)?,
                        2 => max = body::f64(v)?,
                        3 => step = body::f64(v)?,
                        4 => min_label = body::string(v)?,
                        5 => max_label = body::string(v)?,
                        _ => {}
                    }
                }
                TrackerKind::Scale {
                    min,
                    max,
                    step,
                    min_label,
                    max_label,
                }
            }
            2 => TrackerKind::YesNo,
            3 => {
                let mut max_minutes = 0;
                for f in Fields::new(v) {
                    let (k, v) = f?;
                    if k == 1 {
                        max_minutes = u32::try_from(body::uint(v)?)
                            .map_err(|_| WireError::Malformed("duration out of range"))?;
                    }
                }
                TrackerKind::Duration { max_minutes }
            }
            4 => TrackerKind::Count,
            5 => TrackerKind::Text,
            6 | 7 => return malformed("a custom tracker cannot be of a built-in-only kind"),
            _ => continue,
        };
        if out.replace(got).is_some() {
            return malformed("a tracker with two kinds");
        }
    }
    out.ok_or(WireError::Malformed(
        "a tracker kind this version does not know",
    ))
}

// --- reminder plans (kind 3) -----------------------------------------------

fn date_num(d: NaiveDate) -> u64 {
    (d.year().max(0) as u64) * 10_000 + u64::from(d.month()) * 100 + u64::from(d.day())
}

fn date_of(v: &[u8]) -> R<NaiveDate> {
    let n = body::uint(v)?;
    i32::try_from(n / 10_000)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, (n / 100 % 100) as u32, (n % 100) as u32))
        .ok_or(WireError::Malformed("not a date"))
}

fn minutes(t: NaiveTime) -> u64 {
    u64::from(t.hour() * 60 + t.minute())
}

fn time_of(v: &[u8]) -> R<NaiveTime> {
    let m = body::uint_max(v, 24 * 60 - 1, "time of day out of range")? as u32;
    Ok(NaiveTime::from_hms_opt(m / 60, m % 60, 0).expect("in range"))
}

fn weekday_of(v: &[u8]) -> R<Weekday> {
    let n = body::uint(v)?;
    if !(1..=7).contains(&n) {
        return malformed("weekday out of range");
    }
    Ok(Weekday::try_from((n - 1) as u8).expect("in range"))
}

fn put_times(w: &mut FieldWriter, key: u32, times: &[NaiveTime]) {
    for t in times {
        w.uint_always(key, minutes(*t));
    }
}

fn put_days(w: &mut FieldWriter, key: u32, days: &[Weekday]) {
    for d in days {
        w.uint_always(key, u64::from(d.number_from_monday()));
    }
}

/// A reminder plan's record body (docs/sync-protocol.md §8).
pub fn reminder_body(r: &Reminder) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(96);
    let cat = ReminderCategory::ALL
        .iter()
        .position(|c| *c == r.category)
        .map_or(0, |i| i as u64 + 1);
    w.uint(1, cat);
    if let Some(t) = &r.title {
        w.str(2, t);
    }
    w.message(3, |s| match &r.schedule {
        Schedule::Daily { times } => s.message(1, |m| put_times(m, 1, times)),
        Schedule::Weekly { days, times } => s.message(2, |m| {
            put_days(m, 1, days);
            put_times(m, 2, times);
        }),
        Schedule::EveryNDays { n, times } => s.message(3, |m| {
            m.uint(1, u64::from(*n));
            put_times(m, 2, times);
        }),
        Schedule::MonthDay { day, times } => s.message(4, |m| {
            m.uint(1, u64::from(*day));
            put_times(m, 2, times);
        }),
        Schedule::Once { date, time } => s.message(5, |m| {
            m.uint(1, date_num(*date));
            m.uint_always(2, minutes(*time));
        }),
        Schedule::Window { from, to, days } => s.message(6, |m| {
            m.uint_always(1, minutes(*from));
            m.uint_always(2, minutes(*to));
            put_days(m, 3, days);
        }),
        Schedule::AfterEvent { event, steps } => s.message(7, |m| {
            m.str(1, event);
            for st in steps {
                m.message(2, |x| match st {
                    Step::After { minutes } => x.uint_always(1, u64::from(*minutes)),
                    Step::DayAt { day, time } => {
                        x.uint_always(2, u64::from(*day));
                        x.uint_always(3, minutes(*time));
                    }
                });
            }
        }),
    });
    if let ZonePolicy::Pinned(z) = &r.zone {
        w.str(4, z);
    }
    w.uint(5, date_num(r.start));
    if let Some(e) = r.end {
        w.uint(6, date_num(e));
    }
    if let Some(c) = r.count {
        w.uint_always(7, u64::from(c));
    }
    w.uint(
        8,
        match r.quiet {
            QuietPolicy::Defer => 0,
            QuietPolicy::Skip => 1,
            QuietPolicy::Ignore => 2,
        },
    );
    w.uint(9, u64::from(r.grace_minutes));
    w.bool(10, r.show_title);
    w.bool(11, !r.enabled);
    w.uint(12, r.seed);
    w.finish()
}

fn schedule_of(v: &[u8]) -> R<Schedule> {
    let mut out = None;
    for f in Fields::new(v) {
        let (k, v) = f?;
        let (mut times, mut days, mut n, mut date, mut t1, mut t2) =
            (Vec::new(), Vec::new(), 0u64, None, None, None);
        let (mut event, mut steps) = (String::new(), Vec::new());
        for f in Fields::new(v) {
            let (kk, vv) = f?;
            match (k, kk) {
                (1, 1) | (2..=4, 2) => times.push(time_of(vv)?),
                (2, 1) | (6, 3) => days.push(weekday_of(vv)?),
                (3 | 4, 1) => n = body::uint(vv)?,
                (5, 1) => date = Some(date_of(vv)?),
                (5 | 6, 2) => t2 = Some(time_of(vv)?),
                (6, 1) => t1 = Some(time_of(vv)?),
                (7, 1) => event = body::string(vv)?,
                (7, 2) => {
                    let (mut after, mut day, mut time) = (None, None, None);
                    for f in Fields::new(vv) {
                        let (sk, sv) = f?;
                        match sk {
                            1 => after = Some(body::uint_max(sv, u64::from(u32::MAX), "step")?),
                            2 => day = Some(body::uint_max(sv, u64::from(u16::MAX), "step")?),
                            3 => time = Some(time_of(sv)?),
                            _ => {}
                        }
                    }
                    steps.push(match (after, day, time) {
                        (Some(m), None, None) => Step::After { minutes: m as u32 },
                        (None, Some(d), Some(t)) => Step::DayAt {
                            day: d as u16,
                            time: t,
                        },
                        _ => return malformed("a step is neither after nor day-at"),
                    });
                }
                _ => {}
            }
        }
        let small = |n: u64, max: u64| -> R<u64> {
            if n > max {
                malformed("schedule number out of range")
            } else {
                Ok(n)
            }
        };
        let got = match k {
            1 => Schedule::Daily { times },
            2 => Schedule::Weekly { days, times },
            3 => Schedule::EveryNDays {
                n: small(n, 365)? as u16,
                times,
            },
            4 => Schedule::MonthDay {
                day: small(n, 31)? as u8,
                times,
            },
            5 => Schedule::Once {
                date: date.ok_or(WireError::Malformed("a one-off without a date"))?,
                time: t2.unwrap_or(NaiveTime::MIN),
            },
            6 => Schedule::Window {
                from: t1.unwrap_or(NaiveTime::MIN),
                to: t2.unwrap_or(NaiveTime::MIN),
                days,
            },
            7 => Schedule::AfterEvent { event, steps },
            _ => continue,
        };
        if out.replace(got).is_some() {
            return malformed("two schedules");
        }
    }
    out.ok_or(WireError::Malformed(
        "a schedule this version does not know",
    ))
}

/// Reads a reminder plan's record body and checks it as
/// [`crate::Store::add_reminder`] would (except the pinned zone, which the
/// device checks against its zone database).
pub fn reminder_from(id: &str, revision: i64, b: &[u8]) -> crate::Result<Reminder> {
    let bad = |_| crate::Error::invalid("reminder", "the record does not decode");
    let mut seen = Seen::default();
    let mut cat = 0u64;
    let mut title = None;
    let mut schedule = None;
    let mut zone = ZonePolicy::FollowDevice;
    let (mut start, mut end, mut count) = (None, None, None);
    let (mut quiet, mut grace, mut show_title, mut paused, mut seed) =
        (QuietPolicy::Defer, 0u32, false, false, 0u64);
    for f in Fields::new(b) {
        let (key, v) = f.map_err(bad)?;
        seen.once(key).map_err(bad)?;
        match key {
            1 => cat = body::uint(v).map_err(bad)?,
            2 => title = Some(body::string(v).map_err(bad)?),
            3 => schedule = Some(schedule_of(v).map_err(bad)?),
            4 => zone = ZonePolicy::Pinned(body::string(v).map_err(bad)?),
            5 => start = Some(date_of(v).map_err(bad)?),
            6 => end = Some(date_of(v).map_err(bad)?),
            7 => {
                count = Some(
                    u32::try_from(body::uint(v).map_err(bad)?)
                        .map_err(|_| crate::Error::invalid("count", "out of range"))?,
                )
            }
            8 => {
                quiet = match body::uint(v).map_err(bad)? {
                    0 => QuietPolicy::Defer,
                    1 => QuietPolicy::Skip,
                    2 => QuietPolicy::Ignore,
                    _ => return Err(crate::Error::invalid("quiet", "unknown policy")),
                }
            }
            9 => {
                grace = u32::try_from(body::uint(v).map_err(bad)?)
                    .map_err(|_| crate::Error::invalid("grace", "out of range"))?
            }
            10 => show_title = body::bool(v).map_err(bad)?,
            11 => paused = body::bool(v).map_err(bad)?,
            12 => seed = body::uint(v).map_err(bad)?,
            _ => {}
        }
    }
    let category = usize::try_from(cat)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|c| ReminderCategory::ALL.get(c).copied())
        .ok_or_else(|| crate::Error::invalid("reminder", "unknown category"))?;
    let schedule = schedule.ok_or_else(|| crate::Error::invalid("reminder", "no schedule"))?;
    let start = match (&schedule, start) {
        (_, Some(s)) => s,
        (Schedule::Once { date, .. }, None) => *date,
        _ => return Err(crate::Error::invalid("reminder", "no start date")),
    };
    let new = NewReminder {
        category,
        title,
        schedule,
        zone,
        start,
        end,
        count,
        quiet,
        grace_minutes: grace,
        show_title,
        enabled: !paused,
    }
    .checked()?;
    Ok(new.into_reminder(id.to_owned(), revision, seed))
}

// --- treatment sessions (kind 4) -------------------------------------------

/// A treatment session's record body: 1 event kind, 2 when (ms), 3 zone.
pub fn session_body(e: &ReminderEvent) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(48);
    w.str(1, &e.kind);
    w.sint(2, e.at_ms);
    w.str(3, &e.zone);
    w.finish()
}

/// Reads a treatment session's record body (the zone is checked by the
/// device against its zone database).
pub fn session_from(id: &str, b: &[u8]) -> crate::Result<ReminderEvent> {
    let bad = |_| crate::Error::invalid("session", "the record does not decode");
    let mut seen = Seen::default();
    let (mut k, mut at, mut zone) = (String::new(), 0i64, String::new());
    for f in Fields::new(b) {
        let (key, v) = f.map_err(bad)?;
        seen.once(key).map_err(bad)?;
        match key {
            1 => k = body::string(v).map_err(bad)?,
            2 => at = body::sint(v).map_err(bad)?,
            3 => zone = body::string(v).map_err(bad)?,
            _ => {}
        }
    }
    if zone.is_empty() || zone.len() > 64 {
        return Err(crate::Error::invalid("session", "without a zone"));
    }
    Ok(ReminderEvent {
        id: id.to_owned(),
        kind: crate::reminders::check_event_kind(&k)?,
        at_ms: crate::bounds::ms("at", at)?,
        zone,
    })
}

// --- the safety plan (kind 7) ----------------------------------------------

/// The safety plan's record body: one field per part (1-7), each a message
/// of repeated items (field 1, strings).
pub fn safety_plan_body(p: &SafetyPlan) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(256);
    for (i, part) in p.parts().iter().enumerate() {
        if !part.is_empty() {
            w.message(i as u32 + 1, |m| {
                for item in *part {
                    m.bytes_always(1, item.as_bytes());
                }
            });
        }
    }
    w.finish()
}

/// Reads the safety plan's record body and checks it as
/// [`crate::Store::set_safety_plan`] would.
pub fn safety_plan_from(b: &[u8]) -> crate::Result<SafetyPlan> {
    let bad = |_| crate::Error::invalid("safety plan", "the record does not decode");
    let mut seen = Seen::default();
    let mut parts: [Vec<String>; 7] = Default::default();
    for f in Fields::new(b) {
        let (key, v) = f.map_err(bad)?;
        seen.once(key).map_err(bad)?;
        let Some(part) = (key as usize).checked_sub(1).and_then(|i| parts.get_mut(i)) else {
            continue;
        };
        for f in Fields::new(v) {
            let (k, v) = f.map_err(bad)?;
            if k == 1 {
                part.push(body::string(v).map_err(bad)?);
            }
        }
    }
    SafetyPlan::from_parts(parts).checked()
}

// --- risk flags (kind 8) -----------------------------------------------------

/// A flag's record body: 1 kind, 2 reason, 3 raised at (ms), 4 source
/// record id, 5 acknowledged at (ms), 6 acknowledged by. The device sets
/// 1-4, the clinic 5-6; merged field by field, the two never overwrite
/// each other.
pub fn flag_body(f: &crate::flags::Flag) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(64 + f.reason.len());
    w.str(1, &f.kind);
    w.str(2, &f.reason);
    w.sint(3, f.raised_at_ms);
    if let Some(s) = &f.source {
        w.str(4, s);
    }
    if let Some(a) = f.acknowledged_at_ms {
        w.sint(5, a);
    }
    if let Some(b) = &f.acknowledged_by {
        w.str(6, b);
    }
    w.finish()
}

/// Reads a flag's record body and checks it.
pub fn flag_from(id: &str, b: &[u8]) -> crate::Result<crate::flags::Flag> {
    let bad = |_| crate::Error::invalid("flag", "the record does not decode");
    let mut seen = Seen::default();
    let mut f = crate::flags::Flag {
        id: id.to_owned(),
        kind: String::new(),
        reason: String::new(),
        raised_at_ms: 0,
        source: None,
        acknowledged_at_ms: None,
        acknowledged_by: None,
    };
    for field in Fields::new(b) {
        let (key, v) = field.map_err(bad)?;
        seen.once(key).map_err(bad)?;
        match key {
            1 => f.kind = body::string(v).map_err(bad)?,
            2 => f.reason = body::string(v).map_err(bad)?,
            3 => f.raised_at_ms = body::sint(v).map_err(bad)?,
            4 => f.source = Some(body::string(v).map_err(bad)?),
            5 => f.acknowledged_at_ms = Some(body::sint(v).map_err(bad)?),
            6 => f.acknowledged_by = Some(body::string(v).map_err(bad)?),
            _ => {}
        }
    }
    f.checked()
}

// --- what the clinic tells the devices (kind 9) ------------------------------

/// The clinic settings' record body: 1 the clinic's name, 2 how soon it
/// reviews flags (text, as the patient reads it), 3 days without a
/// check-in before a flag. Each 1-100 characters or 0-365 days; absent:
/// not set.
pub fn clinic_settings_body(c: &crate::flags::ClinicSettings) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(64);
    if let Some(n) = &c.clinic_name {
        w.str(1, n);
    }
    if let Some(r) = &c.review_within {
        w.str(2, r);
    }
    if let Some(d) = c.no_checkin_days {
        w.uint_always(3, u64::from(d));
    }
    w.finish()
}

/// Reads the clinic settings' record body and checks it.
pub fn clinic_settings_from(b: &[u8]) -> crate::Result<crate::flags::ClinicSettings> {
    let bad = |_| crate::Error::invalid("clinic settings", "the record does not decode");
    let mut seen = Seen::default();
    let mut c = crate::flags::ClinicSettings::default();
    for field in Fields::new(b) {
        let (key, v) = field.map_err(bad)?;
        seen.once(key).map_err(bad)?;
        match key {
            1 => c.clinic_name = Some(body::string(v).map_err(bad)?),
            2 => c.review_within = Some(body::string(v).map_err(bad)?),
            3 => {
                c.no_checkin_days =
                    Some(body::uint(v).map_err(bad)?.min(u64::from(u32::MAX)) as u32)
            }
            _ => {}
        }
    }
    c.checked()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::Category as C;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn rule(schedule: Schedule) -> Reminder {
        Reminder {
            id: "ab".repeat(16),
            revision: 1,
            category: C::PostSession,
            title: Some("Water".into()),
            schedule,
            zone: ZonePolicy::Pinned("Europe/Paris".into()),
            start: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            end: Some(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()),
            count: Some(9),
            quiet: QuietPolicy::Ignore,
            grace_minutes: 0,
            show_title: true,
            enabled: false,
            seed: 42,
        }
    }

    #[test]
    fn every_record_body_reads_back_as_written() {
        let id = "ab".repeat(16);
        for schedule in [
            Schedule::Daily {
                times: vec![t(0, 0), t(21, 30)],
            },
            Schedule::Weekly {
                days: vec![Weekday::Mon, Weekday::Sun],
                times: vec![t(8, 0)],
            },
            Schedule::EveryNDays {
                n: 3,
                times: vec![t(9, 15)],
            },
            Schedule::MonthDay {
                day: 31,
                times: vec![t(12, 0)],
            },
            Schedule::Window {
                from: t(0, 0),
                to: t(23, 59),
                days: vec![],
            },
            Schedule::AfterEvent {
                event: "infusion".into(),
                steps: vec![
                    Step::After { minutes: 0 },
                    Step::DayAt {
                        day: 0,
                        time: t(0, 0),
                    },
                ],
            },
        ] {
            let r = rule(schedule);
            assert_eq!(reminder_from(&id, 1, &reminder_body(&r)).unwrap(), r);
        }
        let once = Reminder {
            start: NaiveDate::from_ymd_opt(2027, 3, 4).unwrap(),
            end: None,
            count: None,
            quiet: QuietPolicy::Defer,
            grace_minutes: 60,
            enabled: true,
            ..rule(Schedule::Once {
                date: NaiveDate::from_ymd_opt(2027, 3, 4).unwrap(),
                time: t(0, 0),
            })
        };
        assert_eq!(reminder_from(&id, 1, &reminder_body(&once)).unwrap(), once);

        for kind in [
            TrackerKind::Scale {
                min: -5.0,
                max: 5.0,
                step: 0.5,
                min_label: "low".into(),
                max_label: String::new(),
            },
            TrackerKind::YesNo,
            TrackerKind::Duration { max_minutes: 90 },
            TrackerKind::Count,
            TrackerKind::Text,
        ] {
            let tr = Tracker {
                id: id.clone(),
                name: "Focus".into(),
                kind,
                builtin: false,
            };
            assert_eq!(tracker_from(&id, &tracker_body(&tr)).unwrap(), tr);
        }
        let e = ReminderEvent {
            id: id.clone(),
            kind: "infusion".into(),
            at_ms: 1_764_000_000_000,
            zone: "America/New_York".into(),
        };
        assert_eq!(session_from(&id, &session_body(&e)).unwrap(), e);
        let p = SafetyPlan {
            warning_signs: vec!["a".into(), "b".into()],
            reasons_for_living: vec!["c".into()],
            ..SafetyPlan::default()
        };
        assert_eq!(safety_plan_from(&safety_plan_body(&p)).unwrap(), p);
    }

    #[test]
    fn out_of_range_records_are_refused() {
        let id = "ab".repeat(16);
        let mut bad = rule(Schedule::Daily { times: vec![] });
        assert!(reminder_from(&id, 1, &reminder_body(&bad)).is_err());
        bad.schedule = Schedule::Daily {
            times: vec![t(8, 0)],
        };
        bad.end = Some(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap());
        assert!(reminder_from(&id, 1, &reminder_body(&bad)).is_err());
        let tr = Tracker {
            id: id.clone(),
            name: " ".into(),
            kind: TrackerKind::Count,
            builtin: false,
        };
        assert!(tracker_from(&id, &tracker_body(&tr)).is_err());
        let sleep = Tracker {
            name: "Sleep 2".into(),
            kind: TrackerKind::Sleep,
            ..tr
        };
        assert!(tracker_from(&id, &tracker_body(&sleep)).is_err());
        let long = SafetyPlan {
            people_to_ask: vec!["x".repeat(501)],
            ..SafetyPlan::default()
        };
        assert!(safety_plan_from(&safety_plan_body(&long)).is_err());
    }

    fn change(author: u8, hlc: u64, record: Option<&SafetyPlan>, base: &Cells) -> Change {
        let id = RecordId::Text(SAFETY_PLAN_ID.into());
        let shown = (!base.0.is_empty()).then(|| base.record_body());
        let (op, body) = base
            .diff(
                kind::SAFETY_PLAN,
                &id,
                shown.as_deref(),
                record.map(safety_plan_body).as_deref(),
            )
            .unwrap()
            .expect("a change");
        Change {
            change_id: [author ^ hlc as u8; 16],
            seq: hlc,
            hlc,
            kind: kind::SAFETY_PLAN,
            record_id: RecordId::Text(SAFETY_PLAN_ID.into()),
            op,
            vv: vec![([author; 16], hlc)],
            body: (op == Op::Put).then(|| body.encode()),
            category: category(kind::SAFETY_PLAN) as u64,
            author: [author; 16],
            incarnation: 0,
        }
    }

    fn apply(cells: &mut Cells, c: &Change) {
        cells.merge(&Cells::of_change(c).unwrap());
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_hold_in_any_order() {
        let base = SafetyPlan {
            warning_signs: vec!["w".into()],
            coping_strategies: vec!["c".into()],
            ..SafetyPlan::default()
        };
        let c0 = change(1, 10, Some(&base), &Cells::default());
        let mut start = Cells::default();
        apply(&mut start, &c0);
        let mut a = base.clone();
        a.warning_signs.push("w2".into());
        let mut b = base.clone();
        b.coping_strategies.clear();
        b.people_to_ask = vec!["p".into()];
        let ca = change(2, 20, Some(&a), &start);
        let cb = change(3, 15, Some(&b), &start);
        assert_eq!(
            LwwBody::decode(ca.body.as_ref().unwrap()).unwrap().changed,
            [1]
        );
        assert_eq!(
            LwwBody::decode(cb.body.as_ref().unwrap()).unwrap().changed,
            [2, 4]
        );
        let delete = change(4, 12, None, &start);
        let orders = [
            [&c0, &ca, &cb, &delete],
            [&cb, &delete, &ca, &c0],
            [&delete, &ca, &c0, &cb],
            [&ca, &cb, &ca, &c0],
        ];
        let mut results = Vec::new();
        for order in orders {
            let mut cells = Cells::default();
            for c in order {
                apply(&mut cells, c);
            }
            apply(&mut cells, &delete);
            results.push(cells);
        }
        for r in &results {
            assert_eq!(r, &results[0]);
        }
        // The edits after the delete (by HLC) keep the record.
        assert!(!results[0].removed());
        let merged = safety_plan_from(&results[0].record_body()).unwrap();
        assert_eq!(merged.warning_signs, ["w", "w2"]);
        assert!(merged.coping_strategies.is_empty());
        assert_eq!(merged.people_to_ask, ["p"]);
        // A delete later than every edit removes it.
        let mut cells = results[0].clone();
        let late = change(4, 30, None, &cells);
        apply(&mut cells, &late);
        assert!(cells.removed());
        let plan_id = RecordId::Text(SAFETY_PLAN_ID.into());
        assert!(
            cells
                .diff(kind::SAFETY_PLAN, &plan_id, None, None)
                .unwrap()
                .is_none(),
            "deleting twice changes nothing"
        );
        // Nothing changed: no change to send.
        let shown = results[0].record_body();
        assert!(
            results[0]
                .diff(kind::SAFETY_PLAN, &plan_id, Some(&shown), Some(&shown))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_edit_keeps_fields_this_version_does_not_know() {
        let id = RecordId::Text(SAFETY_PLAN_ID.into());
        // A newer app set part 1 and a field 13 this version cannot read.
        let mut w = FieldWriter::default();
        w.message(1, |m| m.bytes_always(1, b"w"));
        w.str(13, "newer");
        let newer = Change {
            change_id: [1; 16],
            seq: 1,
            hlc: 10,
            kind: kind::SAFETY_PLAN,
            record_id: id.clone(),
            op: Op::Put,
            vv: vec![([1; 16], 1)],
            body: Some(
                LwwBody {
                    record: Some(w.finish()),
                    changed: vec![1, 13],
                }
                .encode(),
            ),
            category: 9,
            author: [1; 16],
            incarnation: 0,
        };
        let mut cells = Cells::default();
        cells.merge(&Cells::of_change(&newer).unwrap());
        let shown = safety_plan_body(&safety_plan_from(&cells.record_body()).unwrap());
        let mut edited = safety_plan_from(&shown).unwrap();
        edited.reasons_for_living = vec!["r".into()];
        let (_, body) = cells
            .diff(
                kind::SAFETY_PLAN,
                &id,
                Some(&shown),
                Some(&safety_plan_body(&edited)),
            )
            .unwrap()
            .unwrap();
        assert_eq!(body.changed, [7], "only the part edited");
        assert_eq!(body.value(13), b"newer", "field 13 passes through");
    }

    #[test]
    fn a_restamp_reaches_the_cells_of_its_change() {
        let p = SafetyPlan {
            warning_signs: vec!["w".into()],
            ..SafetyPlan::default()
        };
        let c = change(1, 1 << 40, Some(&p), &Cells::default());
        let mut cells = Cells::default();
        apply(&mut cells, &c);
        assert!(cells.relabel(&c.change_id, Some(5), None));
        assert!(cells.0.iter().all(|x| x.hlc == 5));
        assert!(!cells.relabel(&[9; 16], Some(6), None));
    }

    #[test]
    fn malformed_change_bodies_are_refused() {
        // Changed keys out of order, zero, or over 63.
        for changed in [vec![2, 1], vec![0], vec![64]] {
            let mut w = FieldWriter::default();
            w.bytes_always(1, &[]);
            for k in changed {
                w.uint_always(2, k);
            }
            assert!(LwwBody::decode(&w.finish()).is_err());
        }
        // A record field twice.
        let mut w = FieldWriter::default();
        w.bytes_always(1, &[8, 0, 8, 0]);
        assert!(LwwBody::decode(&w.finish()).is_err());
        // The safety plan's id only with its kind, and random ids elsewhere.
        assert!(!id_fits(
            kind::TRACKER,
            &RecordId::Text(SAFETY_PLAN_ID.into())
        ));
        assert!(!id_fits(kind::SAFETY_PLAN, &RecordId::Bytes([1; 16])));
        assert!(!id_fits(kind::SAFETY_PLAN, &RecordId::Text("other".into())));
    }
}
