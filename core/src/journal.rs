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
use crate::store::{Store, WriteCtx, outbox};
use crate::trackers::{MAX_LABEL_CHARS, Tracker, Value, check_label, check_text};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Random id (32 hex characters).
    pub id: String,
    /// The tracker's id.
    pub tracker: String,
    /// The value.
    pub value: Value,
    /// The note, if any.
    pub note: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it happened (millisecond precision).
    pub at: DateTime<Utc>,
    /// IANA zone the patient was in.
    pub zone: String,
    /// UTC offset in force in that zone at that instant, in seconds.
    pub utc_offset_seconds: i32,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Starts at 1, one more with each change.
    pub revision: i64,
}

impl Entry {
    /// The wall-clock time where the patient was.
    pub fn local_time(&self) -> DateTime<FixedOffset> {
        let off = FixedOffset::east_opt(self.utc_offset_seconds)
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
        self.at.with_timezone(&off)
    }

    /// The patient's local calendar day.
    pub fn local_date(&self) -> NaiveDate {
        self.local_time().date_naive()
    }
}

/// Which entries to list. All filters combine.
#[derive(Debug, Clone, Default)]
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
        _ => return Err(DecodeError),
    })
}

fn encode_entry(e: &Entry) -> Vec<u8> {
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
    w.ivar(e.at.timestamp_millis());
    w.ivar(e.utc_offset_seconds as i64);
    w.str(&e.zone);
    w.ivar(e.created_at.timestamp_millis());
    w.ivar(e.updated_at.timestamp_millis());
    w.finish()
}

fn ms(v: i64) -> Result<DateTime<Utc>, DecodeError> {
    DateTime::from_timestamp_millis(v).ok_or(DecodeError)
}

fn decode_entry(id: &str, revision: i64, body: &[u8]) -> Result<Entry, DecodeError> {
    let mut r = Reader::new(body);
    let tracker = r.str()?;
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
    let at = ms(r.ivar()?)?;
    let utc_offset_seconds = r.i32var()?;
    let zone = r.str()?;
    let created_at = ms(r.ivar()?)?;
    let updated_at = ms(r.ivar()?)?;
    r.end()?;
    Ok(Entry {
        id: id.to_owned(),
        tracker,
        value,
        note,
        tags,
        at,
        zone,
        utc_offset_seconds,
        created_at,
        updated_at,
        revision,
    })
}

fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

fn open_entry(sealer: &Sealer, id: &str, day: i64, revision: i64, body: Vec<u8>) -> Result<Entry> {
    let at = Binding {
        table: "entries",
        id,
        column: day,
    };
    let bad = || Error::corrupted("entries", id);
    let (schema, plain) = sealer.open_vec(at, body).map_err(|_| bad())?;
    if schema != ENTRY_SCHEMA {
        return Err(bad());
    }
    let e = decode_entry(id, revision, &plain).map_err(|_| bad())?;
    // The sealed instant must fall on the bound day bucket.
    if day_of(e.at.timestamp_millis()) != day {
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
    let at_ms = new.at.timestamp_millis();
    let now = ctx.clock.now_ms();
    if at_ms < 0 {
        return Err(Error::invalid("at", "must not be before 1970"));
    }
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

impl Store {
    /// Logs an entry. Returns once its transaction (entry and outbox row)
    /// has committed to disk.
    pub fn log(&self, new: NewEntry) -> Result<Entry> {
        let id = crate::crypto::random_id()?;
        self.write(|tx, sealer, ctx| {
            let tracker = resolve_tracker(ctx, tx, sealer, &new.tracker)?;
            let c = check(new, tracker, ctx)?;
            let now = DateTime::from_timestamp_millis(ctx.clock.now_ms()).unwrap_or_default();
            let entry = Entry {
                id: id.clone(),
                tracker: c.tracker.id,
                value: c.value,
                note: c.note,
                tags: c.tags,
                at: DateTime::from_timestamp_millis(c.at_ms)
                    .ok_or_else(|| Error::invalid("at", "out of range"))?,
                zone: c.zone,
                utc_offset_seconds: c.offset,
                created_at: now,
                updated_at: now,
                revision: 1,
            };
            let day = day_of(c.at_ms);
            let body = sealer.seal(
                Binding {
                    table: "entries",
                    id: &id,
                    column: day,
                },
                ENTRY_SCHEMA,
                &encode_entry(&entry),
            )?;
            tx.prepare_cached(
                "INSERT INTO entries(id, day, revision, deleted, body) VALUES (?1, ?2, 1, 0, ?3)",
            )?
            .execute(params![id, day, body])?;
            outbox(tx, "entries", &id, 1, false)?;
            Ok(entry)
        })
    }

    /// Replaces an entry's content (tracker, value, note, tags, time, zone);
    /// keeps its id and creation time.
    pub fn update_entry(&self, id: &str, new: NewEntry) -> Result<Entry> {
        self.write(|tx, sealer, ctx| {
            let old = read_entry(tx, sealer, id)?;
            let tracker = resolve_tracker(ctx, tx, sealer, &new.tracker)?;
            let c = check(new, tracker, ctx)?;
            let now = DateTime::from_timestamp_millis(ctx.clock.now_ms()).unwrap_or_default();
            let entry = Entry {
                id: id.to_owned(),
                tracker: c.tracker.id,
                value: c.value,
                note: c.note,
                tags: c.tags,
                at: DateTime::from_timestamp_millis(c.at_ms)
                    .ok_or_else(|| Error::invalid("at", "out of range"))?,
                zone: c.zone,
                utc_offset_seconds: c.offset,
                created_at: old.created_at,
                updated_at: now,
                revision: old.revision + 1,
            };
            let day = day_of(c.at_ms);
            let body = sealer.seal(
                Binding {
                    table: "entries",
                    id,
                    column: day,
                },
                ENTRY_SCHEMA,
                &encode_entry(&entry),
            )?;
            tx.execute(
                "UPDATE entries SET day = ?2, revision = ?3, body = ?4 WHERE id = ?1",
                params![id, day, entry.revision, body],
            )?;
            outbox(tx, "entries", id, entry.revision, false)?;
            Ok(entry)
        })
    }

    /// Deletes an entry: its sealed content is erased (`secure_delete`) and a
    /// tombstone (id, revision) stays for sync.
    pub fn delete_entry(&self, id: &str) -> Result<()> {
        self.write(|tx, _, _| {
            let rev: Option<i64> = tx
                .query_row("SELECT revision FROM entries WHERE id = ?1 AND deleted = 0", [id], |r| r.get(0))
                .optional()?;
            let rev = rev.ok_or_else(|| Error::NotFound { table: "entries", id: id.to_owned() })? + 1;
            tx.execute(
                "UPDATE entries SET deleted = 1, body = NULL, day = NULL, revision = ?2 WHERE id = ?1",
                params![id, rev],
            )?;
            outbox(tx, "entries", id, rev, true)?;
            Ok(())
        })
    }

    /// One entry by id. `NotFound` if absent or deleted, `Corrupted` if its
    /// record fails to open.
    pub fn entry(&self, id: &str) -> Result<Entry> {
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
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let local_day = |d: NaiveDate| (d - epoch).num_days();
        let mut lo = i64::MIN;
        let mut hi = i64::MAX;
        if let Some(f) = from_ms {
            lo = lo.max(day_of(f));
        }
        if let Some(t) = to_ms {
            hi = hi.min(day_of(t));
        }
        if let Some(d) = q.from_day {
            lo = lo.max(local_day(d) - 1);
        }
        if let Some(d) = q.to_day {
            hi = hi.min(local_day(d) + 1);
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
            let t = e.at.timestamp_millis();
            from_ms.is_none_or(|f| t >= f)
                && to_ms.is_none_or(|to| t < to)
                && tracker.as_ref().is_none_or(|id| &e.tracker == id)
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
            let mut bucket: Vec<Entry> = Vec::new();
            let mut bucket_day: Option<i64> = None;
            let mut more = false;
            // Entries are sorted within each day bucket, then emitted.
            let flush = |bucket: &mut Vec<Entry>, page: &mut EntryPage| -> bool {
                bucket.sort_by(|a, b| {
                    let o = (a.at, &a.id).cmp(&(b.at, &b.id));
                    if q.newest_first { o.reverse() } else { o }
                });
                for e in bucket.drain(..) {
                    if page.entries.len() == limit {
                        return true;
                    }
                    page.entries.push(e);
                }
                false
            };
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                let day: i64 = r.get(1)?;
                if bucket_day.is_some_and(|d| d != day) && flush(&mut bucket, &mut page) {
                    more = true;
                    break;
                }
                bucket_day = Some(day);
                match open_entry(&inner.sealer, &id, day, r.get(2)?, r.get(3)?) {
                    Ok(e) if matches(&e) => bucket.push(e),
                    Ok(_) => {}
                    Err(Error::Corrupted { record }) => page.corrupted.push(record),
                    Err(e) => return Err(e),
                }
            }
            if !more && flush(&mut bucket, &mut page) {
                more = true;
            }
            if more {
                page.next = page
                    .entries
                    .last()
                    .map(|e| format!("{}.{}", e.at.timestamp_millis(), e.id));
            }
            Ok(page)
        })
    }
}

fn read_entry(conn: &Connection, sealer: &Sealer, id: &str) -> Result<Entry> {
    let row: Option<(i64, i64, Vec<u8>)> = conn
        .prepare_cached("SELECT day, revision, body FROM entries WHERE id = ?1 AND deleted = 0")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (day, rev, body) = row.ok_or_else(|| Error::NotFound {
        table: "entries",
        id: id.to_owned(),
    })?;
    open_entry(sealer, id, day, rev, body)
}

fn parse_cursor(s: &str) -> Result<(i64, String)> {
    let bad = || Error::invalid("cursor", "not a cursor from a previous page");
    let (ms, id) = s.split_once('.').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((ms, id.to_owned()))
}
