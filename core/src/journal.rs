//! The journal: entries on trackers, several a day, sealed at rest.
//!
//! Each entry keeps the instant it happened and the IANA zone the patient
//! was in, and the UTC offset in force then, so "which local day" stays
//! right after travel and after later tz database updates. In the clear the
//! row keeps only its id, a revision, a tombstone flag and the UTC day
//! number (to find a day's entries without decrypting the year); the exact
//! time, the tracker, the value, the note and the tags are sealed, and the
//! day number is bound into the sealed body's associated data.

use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto::{Binding, Sealer};
use crate::error::{Error, RecordRef, Result};
use crate::store::{Store, WriteCtx, load_row, outbox, tombstone};
use crate::trackers::{MAX_LABEL_CHARS, Tracker, Value, check_label, check_text};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
/// Most tags on one entry.
pub const MAX_TAGS: usize = 32;
/// How far ahead of the device clock an entry may be dated (clock skew).
pub const MAX_FUTURE_MS: i64 = DAY_MS;
pub(crate) const ENTRY_SCHEMA: u8 = 1;

/// What a tag says about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagGroup {
    /// Something that set the feeling off ("work", "argument").
    Trigger,
    /// Something the patient did ("walk", "therapy").
    Activity,
    /// Anything else.
    Other,
}

/// A tag on an entry (sealed with it).
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Tag {
    /// Trigger, activity or other.
    pub group: TagGroup,
    /// The tag's text.
    pub label: String,
}

impl Tag {
    /// Parses `trigger:work`, `activity:walk` or a plain `label` (group other).
    pub fn parse(s: &str) -> Result<Tag> {
        let (group, label) = match s.split_once(':') {
            Some((g, l)) if g.trim().eq_ignore_ascii_case("trigger") => (TagGroup::Trigger, l),
            Some((g, l)) if g.trim().eq_ignore_ascii_case("activity") => (TagGroup::Activity, l),
            _ => (TagGroup::Other, s),
        };
        Ok(Tag {
            group,
            label: check_label("tag", label)?,
        })
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.group {
            TagGroup::Trigger => write!(f, "trigger:{}", self.label),
            TagGroup::Activity => write!(f, "activity:{}", self.label),
            TagGroup::Other => f.write_str(&self.label),
        }
    }
}

/// An entry to log (or the new content of an edited one).
#[derive(Clone)]
pub struct NewEntry {
    /// Tracker id or name.
    pub tracker: String,
    /// The value; must fit the tracker's kind.
    pub value: Value,
    /// Optional free text; empty or blank text is stored as no note.
    pub note: Option<String>,
    /// Tags; duplicates are dropped, at most [`MAX_TAGS`].
    pub tags: Vec<Tag>,
    /// When it happened. At most a day ahead of the device clock.
    pub at: DateTime<Utc>,
    /// IANA zone the patient was in.
    pub zone: String,
}

/// A logged entry.
#[derive(Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Random id (32 hex characters).
    pub id: String,
    /// The tracker's id (shared between the entries of one listing).
    pub tracker: Arc<str>,
    /// The value.
    pub value: Value,
    /// The note, if any.
    pub note: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it happened, milliseconds since the Unix epoch (see [`Entry::at`]).
    pub at_ms: i64,
    /// IANA zone the patient was in (shared between the entries of one listing).
    pub zone: Arc<str>,
    /// UTC offset in force in that zone at that instant, in seconds.
    pub utc_offset_seconds: i32,
    /// When it was first saved, milliseconds since the epoch.
    pub created_at_ms: i64,
    /// When it was last changed, milliseconds since the epoch.
    pub updated_at_ms: i64,
    /// Starts at 1, one more with each change.
    pub revision: i64,
}

/// An entry's content, ready to edit and pass to [`Store::update_entry`].
impl From<Entry> for NewEntry {
    fn from(e: Entry) -> Self {
        NewEntry {
            at: e.at(),
            tracker: e.tracker.to_string(),
            value: e.value,
            note: e.note,
            tags: e.tags,
            zone: e.zone.to_string(),
        }
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    // Every stored instant was validated (1970 onwards, near the present).
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Entry {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        utc(self.at_ms)
    }

    /// When it was first saved.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at_ms)
    }

    /// When it was last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        utc(self.updated_at_ms)
    }

    /// The wall-clock time where the patient was.
    pub fn local_time(&self) -> DateTime<FixedOffset> {
        let off = FixedOffset::east_opt(self.utc_offset_seconds)
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
        self.at().with_timezone(&off)
    }

    /// The patient's local calendar day.
    pub fn local_date(&self) -> NaiveDate {
        epoch_day(self.local_day())
    }

    /// The patient's local calendar day as days since 1970-01-01.
    pub(crate) fn local_day(&self) -> i64 {
        (self.at_ms + i64::from(self.utc_offset_seconds) * 1000).div_euclid(DAY_MS)
    }
}

/// The date `days` days after 1970-01-01.
pub(crate) fn epoch_day(days: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(719_163 + days as i32).unwrap_or_default()
}

/// Days since 1970-01-01 of a date.
pub(crate) fn days_since_epoch(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

/// Which entries to list. All filters combine.
#[derive(Clone, Default)]
pub struct EntryQuery {
    /// Only entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only entries on or after this local day (in each entry's own zone).
    pub from_day: Option<NaiveDate>,
    /// Only entries on or before this local day.
    pub to_day: Option<NaiveDate>,
    /// Only entries on this tracker (id or name).
    pub tracker: Option<String>,
    /// At most this many entries per page (`None`: all).
    pub limit: Option<u32>,
    /// Continue after this cursor (from the previous page's `next`).
    pub after: Option<String>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

/// One page of entries.
#[derive(Debug, Clone, Default)]
pub struct EntryPage {
    /// The entries, in the order asked for.
    pub entries: Vec<Entry>,
    /// Cursor for the next page, if there may be more.
    pub next: Option<String>,
    /// Records in the scanned range that failed to open (altered or
    /// damaged); every other record is still listed.
    pub corrupted: Vec<RecordRef>,
}

// --- encoding --------------------------------------------------------------

fn encode_value(w: &mut Writer, v: &Value) {
    match v {
        Value::Scale(x) => {
            w.u8(1);
            w.f64(*x);
        }
        Value::YesNo(b) => {
            w.u8(2);
            w.u8(*b as u8);
        }
        Value::Duration { minutes } => {
            w.u8(3);
            w.uvar(*minutes as u64);
        }
        Value::Count(n) => {
            w.u8(4);
            w.uvar(*n as u64);
        }
        Value::Text(t) => {
            w.u8(5);
            w.str(t);
        }
        Value::Sleep { minutes, quality } => {
            w.u8(6);
            w.uvar(*minutes as u64);
            w.u8(quality.map_or(0xff, |q| q));
        }
        Value::Medication { name, taken } => {
            w.u8(7);
            w.str(name);
            w.u8(*taken as u8);
        }
        Value::Answers { version, answers } => {
            w.u8(8);
            w.uvar(u64::from(*version));
            w.bytes(&answer_bytes(answers));
        }
    }
}

fn decode_value(r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    Ok(match r.u8()? {
        1 => Value::Scale(r.f64()?),
        2 => Value::YesNo(r.bool()?),
        3 => Value::Duration {
            minutes: r.u32var()?,
        },
        4 => Value::Count(r.u32var()?),
        5 => Value::Text(r.str()?),
        6 => Value::Sleep {
            minutes: r.u32var()?,
            quality: match r.u8()? {
                0xff => None,
                q => Some(q),
            },
        },
        7 => Value::Medication {
            name: r.str()?,
            taken: r.bool()?,
        },
        8 => Value::Answers {
            version: r.u32var()?,
            answers: answers_of(r.bytes()?),
        },
        _ => return Err(DecodeError),
    })
}

/// Answers as bytes, one per item, 0xff for an unanswered item (in sealed
/// bodies and on the wire).
pub(crate) fn answer_bytes(answers: &[Option<u8>]) -> Vec<u8> {
    answers.iter().map(|a| a.unwrap_or(0xff)).collect()
}

/// Reads [`answer_bytes`].
pub(crate) fn answers_of(b: &[u8]) -> Vec<Option<u8>> {
    b.iter().map(|&a| (a != 0xff).then_some(a)).collect()
}

pub(crate) fn encode_entry(e: &Entry) -> Vec<u8> {
    let mut w = Writer::with_capacity(96 + e.note.as_ref().map_or(0, String::len));
    w.str(&e.tracker);
    encode_value(&mut w, &e.value);
    w.opt_str(e.note.as_deref());
    w.uvar(e.tags.len() as u64);
    for t in &e.tags {
        w.u8(match t.group {
            TagGroup::Trigger => 1,
            TagGroup::Activity => 2,
            TagGroup::Other => 3,
        });
        w.str(&t.label);
    }
    w.ivar(e.at_ms);
    w.ivar(e.utc_offset_seconds as i64);
    w.str(&e.zone);
    w.ivar(e.created_at_ms);
    w.ivar(e.updated_at_ms);
    w.finish()
}

/// Shares the few distinct tracker ids and zone names of a listing instead
/// of allocating them for every entry.
#[derive(Default)]
pub(crate) struct Interner(Vec<Arc<str>>);

impl Interner {
    fn get(&mut self, bytes: &[u8]) -> Result<Arc<str>, DecodeError> {
        if let Some(s) = self.0.iter().find(|s| s.as_bytes() == bytes) {
            return Ok(s.clone());
        }
        let s: Arc<str> = Arc::from(std::str::from_utf8(bytes).map_err(|_| DecodeError)?);
        if self.0.len() < 64 {
            self.0.push(s.clone());
        }
        Ok(s)
    }
}

pub(crate) fn decode_entry(
    id: &str,
    revision: i64,
    body: &[u8],
    names: &mut Interner,
) -> Result<Entry, DecodeError> {
    let mut r = Reader::new(body);
    let tracker = names.get(r.bytes()?)?;
    let value = decode_value(&mut r)?;
    let note = r.opt_str()?;
    let n = r.count(2)?;
    let mut tags = Vec::with_capacity(n);
    for _ in 0..n {
        let group = match r.u8()? {
            1 => TagGroup::Trigger,
            2 => TagGroup::Activity,
            3 => TagGroup::Other,
            _ => return Err(DecodeError),
        };
        tags.push(Tag {
            group,
            label: r.str()?,
        });
    }
    // The writer keeps instants in 1970-2199; others would overflow the
    // local-day arithmetic.
    let at_ms = crate::bounds::ms("at", r.ivar()?).map_err(|_| DecodeError)?;
    let utc_offset_seconds = r.i32var()?;
    let zone = names.get(r.bytes()?)?;
    let created_at_ms = r.ivar()?;
    let updated_at_ms = r.ivar()?;
    r.end()?;
    Ok(Entry {
        id: id.to_owned(),
        tracker,
        value,
        note,
        tags,
        at_ms,
        zone,
        utc_offset_seconds,
        created_at_ms,
        updated_at_ms,
        revision,
    })
}

fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

fn open_entry(
    sealer: &Sealer,
    id: &str,
    day: i64,
    revision: i64,
    body: Vec<u8>,
    names: &mut Interner,
) -> Result<Entry> {
    let at = Binding {
        column: day,
        ..Binding::live("entries", id, revision)
    };
    let (schema, plain) = sealer
        .open_vec(at, body)
        .map_err(|_| Error::corrupted("entries", id))?;
    decode_opened(id, day, revision, schema, &plain, names)
}

/// Decodes an opened entry body and checks it against its bound day.
fn decode_opened(
    id: &str,
    day: i64,
    revision: i64,
    schema: u8,
    plain: &[u8],
    names: &mut Interner,
) -> Result<Entry> {
    let bad = || Error::corrupted("entries", id);
    if schema != ENTRY_SCHEMA {
        return Err(bad());
    }
    let e = decode_entry(id, revision, plain, names).map_err(|_| bad())?;
    // The sealed instant must fall on the bound day bucket.
    if day_of(e.at_ms) != day {
        return Err(bad());
    }
    Ok(e)
}

// --- validation ------------------------------------------------------------

struct Checked {
    tracker: Tracker,
    value: Value,
    note: Option<String>,
    tags: Vec<Tag>,
    at_ms: i64,
    offset: i32,
    zone: String,
}

fn check(new: NewEntry, tracker: Tracker, ctx: &WriteCtx<'_>) -> Result<Checked> {
    let value = tracker.kind.check(new.value)?;
    let note = match new.note {
        Some(n) => check_text("note", &n)?,
        None => None,
    };
    if new.tags.len() > MAX_TAGS * 4 {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(new.tags.len());
    for t in new.tags {
        let label = check_label("tag", &t.label)?;
        debug_assert!(label.chars().count() <= MAX_LABEL_CHARS);
        let t = Tag {
            group: t.group,
            label,
        };
        if !tags
            .iter()
            .any(|x| x.group == t.group && x.label.to_lowercase() == t.label.to_lowercase())
        {
            tags.push(t);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    let at_ms = crate::bounds::instant("at", new.at)?;
    let now = ctx.clock.now_ms();
    if at_ms > now.saturating_add(MAX_FUTURE_MS) {
        return Err(Error::invalid(
            "at",
            "must not be more than a day in the future",
        ));
    }
    let zone = ctx.zones.zone(new.zone.trim())?;
    let offset = zone.offset_at(at_ms);
    Ok(Checked {
        tracker,
        value,
        note,
        tags,
        at_ms,
        offset,
        zone: zone.name().to_owned(),
    })
}

fn resolve_tracker(
    ctx: &mut WriteCtx<'_>,
    conn: &Connection,
    sealer: &Sealer,
    key: &str,
) -> Result<Tracker> {
    let custom = ctx.custom_trackers(conn, sealer)?;
    crate::trackers::find(custom, key).ok_or(Error::UnknownTracker)
}

/// Writes a new entry and its outbox row in the caller's transaction.
pub(crate) fn insert_entry(
    tx: &rusqlite::Transaction<'_>,
    sealer: &Sealer,
    ctx: &mut WriteCtx<'_>,
    id: &str,
    new: NewEntry,
) -> Result<Entry> {
    let tracker = resolve_tracker(ctx, tx, sealer, &new.tracker)?;
    let c = check(new, tracker, ctx)?;
    let now = ctx.clock.now_ms();
    let entry = Entry {
        id: id.to_owned(),
        tracker: Arc::from(c.tracker.id),
        value: c.value,
        note: c.note,
        tags: c.tags,
        at_ms: c.at_ms,
        zone: Arc::from(c.zone),
        utc_offset_seconds: c.offset,
        created_at_ms: now,
        updated_at_ms: now,
        revision: 1,
    };
    let day = day_of(c.at_ms);
    let body = sealer.seal(
        Binding {
            column: day,
            ..Binding::live("entries", id, 1)
        },
        ENTRY_SCHEMA,
        &encode_entry(&entry),
    )?;
    tx.prepare_cached(
        "INSERT INTO entries(id, day, revision, deleted, body) VALUES (?1, ?2, 1, 0, ?3)",
    )?
    .execute(params![id, day, body])?;
    outbox(tx, sealer, now, "entries", id, 1, false)?;
    Ok(entry)
}

impl Store {
    /// Logs an entry. Returns once its transaction (entry and outbox row)
    /// has committed to disk.
    pub fn log(&self, new: NewEntry) -> Result<Entry> {
        let id = crate::crypto::random_id()?;
        self.write(|tx, sealer, ctx| insert_entry(tx, sealer, ctx, &id, new))
    }

    /// Replaces an entry's content (tracker, value, note, tags, time, zone);
    /// keeps its id and creation time.
    pub fn update_entry(&self, id: &str, new: NewEntry) -> Result<Entry> {
        crate::crypto::check_id(id)?;
        self.write(|tx, sealer, ctx| {
            let old = read_entry(tx, sealer, id)?;
            let tracker = resolve_tracker(ctx, tx, sealer, &new.tracker)?;
            let c = check(new, tracker, ctx)?;
            let entry = Entry {
                id: id.to_owned(),
                tracker: Arc::from(c.tracker.id),
                value: c.value,
                note: c.note,
                tags: c.tags,
                at_ms: c.at_ms,
                zone: Arc::from(c.zone),
                utc_offset_seconds: c.offset,
                created_at_ms: old.created_at_ms,
                updated_at_ms: ctx.clock.now_ms(),
                revision: old.revision + 1,
            };
            let day = day_of(c.at_ms);
            let body = sealer.seal(
                Binding {
                    column: day,
                    ..Binding::live("entries", id, entry.revision)
                },
                ENTRY_SCHEMA,
                &encode_entry(&entry),
            )?;
            tx.execute(
                "UPDATE entries SET day = ?2, revision = ?3, body = ?4 WHERE id = ?1",
                params![id, day, entry.revision, body],
            )?;
            outbox(
                tx,
                sealer,
                entry.updated_at_ms,
                "entries",
                id,
                entry.revision,
                false,
            )?;
            Ok(entry)
        })
    }

    /// Deletes an entry: its sealed content is erased (`secure_delete`) and a
    /// tombstone (id, revision) stays for sync.
    pub fn delete_entry(&self, id: &str) -> Result<()> {
        crate::crypto::check_id(id)?;
        self.write(|tx, sealer, ctx| tombstone(tx, sealer, ctx.clock.now_ms(), "entries", id))
    }

    /// One entry by id. `NotFound` if absent or deleted, `Corrupted` if its
    /// record fails to open.
    pub fn entry(&self, id: &str) -> Result<Entry> {
        crate::crypto::check_id(id)?;
        self.read(|inner| read_entry(&inner.conn, &inner.sealer, id))
    }

    /// Lists entries, oldest first unless `newest_first`, one page at a time.
    pub fn entries(&self, q: &EntryQuery) -> Result<EntryPage> {
        let tracker = match &q.tracker {
            Some(t) => Some(self.tracker(t)?.id),
            None => None,
        };
        let after = q.after.as_deref().map(parse_cursor).transpose()?;
        let from_ms = q.from.map(|t| t.timestamp_millis());
        let to_ms = q.to.map(|t| t.timestamp_millis());
        // Day buckets that can hold a match. Local days are widened by a day
        // each side: no UTC offset exceeds 24 hours.
        let mut lo = i64::MIN;
        let mut hi = i64::MAX;
        if let Some(f) = from_ms {
            lo = lo.max(day_of(f));
        }
        if let Some(t) = to_ms {
            hi = hi.min(day_of(t));
        }
        if let Some(d) = q.from_day {
            lo = lo.max(days_since_epoch(d) - 1);
        }
        if let Some(d) = q.to_day {
            hi = hi.min(days_since_epoch(d) + 1);
        }
        if let Some((c_ms, _)) = &after {
            if q.newest_first {
                hi = hi.min(day_of(*c_ms));
            } else {
                lo = lo.max(day_of(*c_ms));
            }
        }
        let limit = q.limit.map(|l| l as usize).unwrap_or(usize::MAX);
        if limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        let matches = |e: &Entry| {
            let t = e.at_ms;
            from_ms.is_none_or(|f| t >= f)
                && to_ms.is_none_or(|to| t < to)
                && tracker.as_ref().is_none_or(|id| *e.tracker == **id)
                && q.from_day.is_none_or(|d| e.local_date() >= d)
                && q.to_day.is_none_or(|d| e.local_date() <= d)
                && after.as_ref().is_none_or(|(c_ms, c_id)| {
                    let key = (t, e.id.as_str());
                    let cur = (*c_ms, c_id.as_str());
                    if q.newest_first { key < cur } else { key > cur }
                })
        };
        self.read(|inner| {
            let sql = if q.newest_first {
                "SELECT id, day, revision, body FROM entries
                 WHERE deleted = 0 AND day BETWEEN ?1 AND ?2 ORDER BY day DESC"
            } else {
                "SELECT id, day, revision, body FROM entries
                 WHERE deleted = 0 AND day BETWEEN ?1 AND ?2 ORDER BY day"
            };
            let mut stmt = inner.conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![lo, hi])?;
            let mut page = EntryPage::default();
            // Rows arrive by day bucket; within a bucket, entries are put in
            // order (instant, then id) before the next bucket starts.
            let order = |a: &Entry, b: &Entry| {
                let o = a.at_ms.cmp(&b.at_ms).then_with(|| a.id.cmp(&b.id));
                if q.newest_first { o.reverse() } else { o }
            };
            let sort_from = |v: &mut Vec<Entry>, start: usize| {
                let tail = &v[start..];
                if tail.is_sorted_by(|a, b| order(a, b).is_le()) {
                    return;
                }
                // Sort positions, then move each entry once (entries are
                // large; an insertion sort would shift them repeatedly).
                let mut idx: Vec<usize> = (0..tail.len()).collect();
                idx.sort_by(|&i, &j| order(&tail[i], &tail[j]));
                let mut slots: Vec<Option<Entry>> = v.drain(start..).map(Some).collect();
                v.extend(idx.into_iter().filter_map(|i| slots[i].take()));
            };
            let mut bucket_start = 0;
            let mut names = Interner::default();
            let mut bucket_day: Option<i64> = None;
            let mut more = false;
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                let day: i64 = r.get(1)?;
                if let Some(prev) = bucket_day.filter(|d| *d != day) {
                    sort_from(&mut page.entries, bucket_start);
                    if page.entries.len() > limit {
                        more = true;
                        break;
                    }
                    if bucket_start == 0 {
                        // After the first day, size the page for the days
                        // left at that rate: a year of entries is then not
                        // copied again and again as the page grows.
                        let days_left = if q.newest_first {
                            prev.saturating_sub(lo)
                        } else {
                            hi.saturating_sub(prev)
                        };
                        let guess = (page.entries.len() as i64).saturating_mul(days_left.max(0));
                        let guess = guess.clamp(0, 1 << 16) as usize;
                        page.entries.reserve(guess.min(limit));
                    }
                    bucket_start = page.entries.len();
                }
                bucket_day = Some(day);
                match open_entry(&inner.sealer, &id, day, r.get(2)?, r.get(3)?, &mut names) {
                    Ok(e) if matches(&e) => page.entries.push(e),
                    Ok(_) => {}
                    Err(Error::Corrupted { record }) => page.corrupted.push(record),
                    Err(e) => return Err(e),
                }
            }
            if !more {
                sort_from(&mut page.entries, bucket_start);
                more = page.entries.len() > limit;
            }
            if more {
                page.entries.truncate(limit);
                page.next = page.entries.last().map(|e| format!("{}.{}", e.at_ms, e.id));
            }
            Ok(page)
        })
    }
}

pub(crate) fn read_entry(conn: &Connection, sealer: &Sealer, id: &str) -> Result<Entry> {
    let row = load_row(conn, sealer, "entries", id)?;
    decode_opened(
        id,
        row.column,
        row.revision,
        row.schema,
        &row.plain,
        &mut Interner::default(),
    )
}

/// Writes an entry that arrived through sync (no outbox row: it is not a
/// local change): inserted, or replacing the row under the next revision
/// (a tombstone comes alive again). Returns the revision written.
pub(crate) fn put_synced_entry(tx: &Transaction<'_>, sealer: &Sealer, e: &Entry) -> Result<i64> {
    let rev: i64 = tx
        .query_row("SELECT revision FROM entries WHERE id = ?1", [&e.id], |r| {
            r.get(0)
        })
        .optional()?
        .map_or(1, |r: i64| r + 1);
    let day = day_of(e.at_ms);
    let entry = Entry {
        revision: rev,
        ..e.clone()
    };
    let body = sealer.seal(
        Binding {
            column: day,
            ..Binding::live("entries", &e.id, rev)
        },
        ENTRY_SCHEMA,
        &encode_entry(&entry),
    )?;
    tx.execute(
        "INSERT INTO entries(id, day, revision, deleted, body) VALUES (?1, ?2, ?3, 0, ?4)
         ON CONFLICT(id) DO UPDATE SET day = excluded.day, revision = excluded.revision,
                                       deleted = 0, body = excluded.body",
        params![e.id, day, rev, body],
    )?;
    Ok(rev)
}

/// Deletes an entry because of a tombstone that arrived through sync (no
/// outbox row); a record never seen is stored as a tombstone.
pub(crate) fn tombstone_synced_entry(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    id: &str,
) -> Result<()> {
    let rev: Option<(i64, bool)> = tx
        .query_row(
            "SELECT revision, deleted FROM entries WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((_, true)) = rev {
        return Ok(());
    }
    let rev = rev.map_or(1, |(r, _)| r + 1);
    let body = sealer.seal_tombstone("entries", id, rev)?;
    tx.execute(
        "INSERT INTO entries(id, day, revision, deleted, body) VALUES (?1, NULL, ?2, 1, ?3)
         ON CONFLICT(id) DO UPDATE SET day = NULL, revision = excluded.revision, deleted = 1,
                                       body = excluded.body",
        params![id, rev, body],
    )?;
    Ok(())
}

pub(crate) fn parse_cursor(s: &str) -> Result<(i64, String)> {
    let bad = || Error::invalid("cursor", "not a cursor from a previous page");
    let (ms, id) = s.split_once('.').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((ms, id.to_owned()))
}
