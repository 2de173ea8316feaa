//! The journal: [`Journal`], its entries, trackers, tags, values, queries,
//! summaries and re-keying, and the free functions about trackers, tags and
//! values.

use crate::error::{CairnError, Result};
use crate::pool::{Job, OpenSpec, Pool};
use crate::values::{
    EntryId, LocalDay, RecordRef, Timestamp, TrackerId, ZoneName, count_in, count_out, day_in,
    day_out, instant_in, instant_out,
};
use crate::zones::{ZoneDatabase, store_options};
use cairn_core as core;
use std::sync::{Arc, Weak};
use zeroize::Zeroizing;

// --- records and enums -----------------------------------------------------

/// What a tag says about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TagGroup {
    /// Something that set the feeling off.
    Trigger,
    /// Something the patient did.
    Activity,
    /// Anything else.
    Other,
}

/// A tag on an entry.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Tag {
    /// Trigger, activity or other.
    pub group: TagGroup,
    /// The tag's text (1-64 characters).
    pub label: String,
}

impl From<core::Tag> for Tag {
    fn from(t: core::Tag) -> Self {
        Tag {
            group: match t.group {
                core::TagGroup::Trigger => TagGroup::Trigger,
                core::TagGroup::Activity => TagGroup::Activity,
                core::TagGroup::Other => TagGroup::Other,
            },
            label: t.label,
        }
    }
}

impl From<Tag> for core::Tag {
    fn from(t: Tag) -> Self {
        core::Tag {
            group: match t.group {
                TagGroup::Trigger => core::TagGroup::Trigger,
                TagGroup::Activity => core::TagGroup::Activity,
                TagGroup::Other => core::TagGroup::Other,
            },
            label: t.label,
        }
    }
}

/// A value for one entry; which variant fits depends on the tracker's kind.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Value {
    /// Scales (mood 0-10, appetite -2..2, custom scales).
    Scale {
        /// The rating.
        value: f64,
    },
    /// Yes/no trackers.
    YesNo {
        /// The answer.
        value: bool,
    },
    /// Duration trackers.
    Duration {
        /// Minutes.
        minutes: i32,
    },
    /// Counts (0-100,000).
    Count {
        /// The count.
        value: i32,
    },
    /// Text (the journal).
    Text {
        /// The text (at most 64 KiB).
        text: String,
    },
    /// Sleep.
    Sleep {
        /// Minutes slept (at most 24 h).
        minutes: i32,
        /// Quality 0-10, if rated.
        quality: Option<i32>,
    },
    /// Medication.
    Medication {
        /// Medication name and dose as the patient writes them.
        name: String,
        /// Taken (true) or skipped (false).
        taken: bool,
    },
    /// A questionnaire's answers (use `Journal.checkin` to save and score
    /// them).
    Answers {
        /// The questionnaire table's version they were given to.
        version: i32,
        /// One answer (0-3) per item in order; `null` where unanswered.
        answers: Vec<Option<i32>>,
    },
}

/// Answers from the FFI: each 0-255 (the questionnaire checks its range).
pub(crate) fn answers_in(answers: Vec<Option<i32>>) -> Result<Vec<Option<u8>>> {
    answers
        .into_iter()
        .map(|a| {
            a.map(|a| {
                u8::try_from(a)
                    .map_err(|_| CairnError::invalid("answers", "each answer must be from 0 to 3"))
            })
            .transpose()
        })
        .collect()
}

fn small(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<core::Value> for Value {
    fn from(v: core::Value) -> Self {
        match v {
            core::Value::Scale(value) => Value::Scale { value },
            core::Value::YesNo(value) => Value::YesNo { value },
            core::Value::Duration { minutes } => Value::Duration {
                minutes: small(minutes),
            },
            core::Value::Count(value) => Value::Count {
                value: small(value),
            },
            core::Value::Text(text) => Value::Text { text },
            core::Value::Sleep { minutes, quality } => Value::Sleep {
                minutes: small(minutes),
                quality: quality.map(i32::from),
            },
            core::Value::Medication { name, taken } => Value::Medication { name, taken },
            core::Value::Answers { version, answers } => Value::Answers {
                version: small(version),
                answers: answers.into_iter().map(|a| a.map(i32::from)).collect(),
            },
        }
    }
}

impl Value {
    fn into_core(self) -> Result<core::Value> {
        Ok(match self {
            Value::Scale { value } => core::Value::Scale(value),
            Value::YesNo { value } => core::Value::YesNo(value),
            Value::Duration { minutes } => core::Value::Duration {
                minutes: count_in("value", minutes.into())?,
            },
            Value::Count { value } => core::Value::Count(count_in("value", value.into())?),
            Value::Text { text } => core::Value::Text(text),
            Value::Sleep { minutes, quality } => core::Value::Sleep {
                minutes: count_in("value", minutes.into())?,
                quality: quality.map(|q| count_in("value", q.into())).transpose()?,
            },
            Value::Medication { name, taken } => core::Value::Medication { name, taken },
            Value::Answers { version, answers } => core::Value::Answers {
                version: count_in("version", version.into())?,
                answers: answers_in(answers)?,
            },
        })
    }
}

/// What kind of value a tracker takes.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum TrackerKind {
    /// A number from `min` to `max` in steps of `step`.
    Scale {
        /// Lowest value.
        min: f64,
        /// Highest value.
        max: f64,
        /// Granularity.
        step: f64,
        /// What `min` means.
        min_label: String,
        /// What `max` means.
        max_label: String,
    },
    /// Yes or no.
    YesNo,
    /// Minutes, up to `maxMinutes` (at most 7 days).
    Duration {
        /// Longest accepted duration.
        max_minutes: i32,
    },
    /// A whole number, 0-100,000.
    Count,
    /// Free text.
    Text,
    /// Sleep (built-in only).
    Sleep,
    /// Medication (built-in only).
    Medication,
    /// A standard questionnaire (built-in only): PHQ-9, PHQ-2, GAD-7, GAD-2.
    Questionnaire {
        /// Its id (`phq9`, `phq2`, `gad7`, `gad2`).
        questionnaire: String,
    },
}

impl From<core::TrackerKind> for TrackerKind {
    fn from(k: core::TrackerKind) -> Self {
        use core::TrackerKind as K;
        match k {
            K::Scale {
                min,
                max,
                step,
                min_label,
                max_label,
            } => TrackerKind::Scale {
                min,
                max,
                step,
                min_label,
                max_label,
            },
            K::YesNo => TrackerKind::YesNo,
            K::Duration { max_minutes } => TrackerKind::Duration {
                max_minutes: small(max_minutes),
            },
            K::Count => TrackerKind::Count,
            K::Text => TrackerKind::Text,
            K::Sleep => TrackerKind::Sleep,
            K::Medication => TrackerKind::Medication,
            K::Questionnaire { questionnaire } => TrackerKind::Questionnaire { questionnaire },
        }
    }
}

impl TrackerKind {
    fn into_core(self) -> Result<core::TrackerKind> {
        use core::TrackerKind as K;
        Ok(match self {
            TrackerKind::Scale {
                min,
                max,
                step,
                min_label,
                max_label,
            } => K::Scale {
                min,
                max,
                step,
                min_label,
                max_label,
            },
            TrackerKind::YesNo => K::YesNo,
            TrackerKind::Duration { max_minutes } => K::Duration {
                max_minutes: count_in("maxMinutes", max_minutes.into())?,
            },
            TrackerKind::Count => K::Count,
            TrackerKind::Text => K::Text,
            TrackerKind::Sleep => K::Sleep,
            TrackerKind::Medication => K::Medication,
            TrackerKind::Questionnaire { questionnaire } => K::Questionnaire { questionnaire },
        })
    }
}

/// A tracker, built-in or custom.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Tracker {
    /// Stable id: a word for built-ins (`mood`), 32 hex characters for custom ones.
    pub id: TrackerId,
    /// Name shown to the patient.
    pub name: String,
    /// Kind of value.
    pub kind: TrackerKind,
    /// Whether it is built in.
    pub builtin: bool,
}

impl From<core::Tracker> for Tracker {
    fn from(t: core::Tracker) -> Self {
        Tracker {
            id: TrackerId(t.id),
            name: t.name,
            kind: t.kind.into(),
            builtin: t.builtin,
        }
    }
}

/// A custom tracker to define.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewTracker {
    /// Name (sealed; unique, case-insensitive, across all trackers).
    pub name: String,
    /// Kind (not sleep or medication).
    pub kind: TrackerKind,
}

/// An entry to log, or the new content of an edited one.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewEntry {
    /// Tracker id or name.
    pub tracker: String,
    /// The value; must fit the tracker's kind.
    pub value: Value,
    /// When it happened (at most a day ahead of the clock; 1970-2199).
    pub at: Timestamp,
    /// The zone the patient was in.
    pub zone: ZoneName,
    /// A note; empty or blank is stored as none.
    #[uniffi(default = None)]
    pub note: Option<String>,
    /// Tags (at most 32; duplicates collapse).
    #[uniffi(default = [])]
    pub tags: Vec<Tag>,
}

impl NewEntry {
    fn into_core(self) -> Result<core::NewEntry> {
        Ok(core::NewEntry {
            tracker: self.tracker,
            value: self.value.into_core()?,
            note: self.note,
            tags: self.tags.into_iter().map(Into::into).collect(),
            at: instant_in("at", self.at)?,
            zone: self.zone.0,
        })
    }
}

/// A logged entry.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Entry {
    /// Random id.
    pub id: EntryId,
    /// The tracker's id.
    pub tracker: TrackerId,
    /// The value.
    pub value: Value,
    /// The note, if any.
    pub note: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it happened.
    pub at: Timestamp,
    /// The zone the patient was in.
    pub zone: ZoneName,
    /// UTC offset in force there and then, in seconds.
    pub utc_offset_seconds: i32,
    /// The patient's local day there and then.
    pub local_date: LocalDay,
    /// First saved.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// 1, plus one per change.
    pub revision: i64,
}

impl From<core::Entry> for Entry {
    fn from(e: core::Entry) -> Self {
        Entry {
            local_date: day_out(e.local_date()),
            id: EntryId(e.id),
            tracker: TrackerId(e.tracker.to_string()),
            value: e.value.into(),
            note: e.note,
            tags: e.tags.into_iter().map(Into::into).collect(),
            at: instant_out(e.at_ms),
            zone: ZoneName(e.zone.to_string()),
            utc_offset_seconds: e.utc_offset_seconds,
            created_at: instant_out(e.created_at_ms),
            updated_at: instant_out(e.updated_at_ms),
            revision: e.revision,
        }
    }
}

/// Which entries to list; every filter is optional and they combine.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct EntryQuery {
    /// At or after this instant.
    #[uniffi(default = None)]
    pub from: Option<Timestamp>,
    /// Before this instant.
    #[uniffi(default = None)]
    pub to: Option<Timestamp>,
    /// On or after this local day, in each entry's own zone.
    #[uniffi(default = None)]
    pub from_day: Option<LocalDay>,
    /// On or before this local day.
    #[uniffi(default = None)]
    pub to_day: Option<LocalDay>,
    /// Only this tracker (id or name).
    #[uniffi(default = None)]
    pub tracker: Option<String>,
    /// Page size (at least 1); none means all.
    #[uniffi(default = None)]
    pub limit: Option<i32>,
    /// The previous page's `next` cursor.
    #[uniffi(default = None)]
    pub after: Option<String>,
    /// Newest first.
    #[uniffi(default = false)]
    pub newest_first: bool,
}

impl EntryQuery {
    fn into_core(self) -> Result<core::EntryQuery> {
        Ok(core::EntryQuery {
            from: self.from.map(|t| instant_in("from", t)).transpose()?,
            to: self.to.map(|t| instant_in("to", t)).transpose()?,
            from_day: self.from_day.map(|d| day_in("fromDay", d)).transpose()?,
            to_day: self.to_day.map(|d| day_in("toDay", d)).transpose()?,
            tracker: self.tracker,
            limit: self
                .limit
                .map(|n| count_in("limit", n.into()))
                .transpose()?,
            after: self.after,
            newest_first: self.newest_first,
        })
    }
}

/// One page of entries.
#[derive(Debug, Clone, uniffi::Record)]
pub struct EntryPage {
    /// The entries.
    pub entries: Vec<Entry>,
    /// Cursor for the next page (`EntryQuery.after`), if there may be more.
    pub next: Option<String>,
    /// Records in range that failed to open; every other record is listed.
    pub corrupted: Vec<RecordRef>,
}

/// What a re-key did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RekeyReport {
    /// Records re-sealed under the new key.
    pub resealed: i64,
    /// Records that were already unreadable, kept as they were.
    pub corrupted: Vec<RecordRef>,
}

/// Counts and means for one tracker.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TrackerSummary {
    /// Tracker id.
    pub tracker: TrackerId,
    /// Entries.
    pub count: i64,
    /// Mean of numeric values (minutes for durations and sleep, share of
    /// yes and of doses taken); none for text.
    pub mean: Option<f64>,
    /// Lowest numeric value.
    pub min: Option<f64>,
    /// Highest numeric value.
    pub max: Option<f64>,
}

/// How often a tag appears on low days.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TagCount {
    /// The tag.
    pub tag: Tag,
    /// Entries carrying it on low days.
    pub count: i64,
}

// --- the journal -----------------------------------------------------------

/// A patient's encrypted journal: one SQLite file, sealed with a 32-byte
/// key from the platform keystore.
///
/// Every call is `suspend` (Kotlin) or `async` (Swift) and runs on threads
/// the journal owns: one writer, two readers. Cancelling a read stops it;
/// a write, once called, always completes. `close()` when done: later calls
/// raise `Closed`, and every object taken from the journal (its
/// `Reminders`) stops with it.
#[derive(uniffi::Object)]
pub struct Journal {
    pub(crate) pool: Arc<Pool>,
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Kotlin's close() (the handle is freed) or the last reference gone:
        // queued calls finish, then the connections close.
        self.pool.shut();
    }
}

/// Which part of the journal a change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ChangeTable {
    /// Entries.
    Entries,
    /// Custom trackers.
    Trackers,
    /// Reminder rules.
    Reminders,
    /// Recorded events (treatment sessions).
    Events,
    /// What happened to reminder occurrences.
    ReminderReports,
    /// Settings (quiet hours, the safety plan, flag settings).
    Settings,
    /// Risk flags (raised by a check-in, `helpNow`, `checkFlags`).
    Flags,
    /// Every record (a re-key re-sealed them all).
    All,
}

/// A committed change: what was touched, never its content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct JournalChange {
    /// Where.
    pub table: ChangeTable,
    /// The records' ids (empty for `All`).
    pub ids: Vec<String>,
    /// True when the records were deleted.
    pub deleted: bool,
}

impl JournalChange {
    pub(crate) fn put(table: ChangeTable, id: impl Into<String>) -> Option<Self> {
        Some(JournalChange {
            table,
            ids: vec![id.into()],
            deleted: false,
        })
    }

    pub(crate) fn deleted(table: ChangeTable, id: impl Into<String>) -> Option<Self> {
        Some(JournalChange {
            table,
            ids: vec![id.into()],
            deleted: true,
        })
    }
}

/// Told after each commit made through this journal. Called on a thread of
/// the journal's own, one change at a time, in commit order: return quickly
/// (hand the change to a channel or a stream).
#[uniffi::export(callback_interface)]
pub trait JournalListener: Send + Sync {
    /// One committed change.
    fn on_change(&self, change: JournalChange);
    /// The journal closed: every change committed before was delivered,
    /// and none will follow. Called once; the listener is then released.
    fn on_closed(&self);
}

/// A registered listener; `cancel()` stops it. Closing the journal stops
/// every listener.
#[derive(uniffi::Object)]
pub struct Subscription {
    pool: Weak<Pool>,
    id: u64,
}

#[uniffi::export]
impl Subscription {
    /// Stops the listener; it is not called again once this returns
    /// (a call already running finishes). Cancelling twice is fine.
    pub fn cancel(&self) {
        if let Some(p) = self.pool.upgrade() {
            p.unlisten(self.id);
        }
    }
}

fn open_job(
    path: String,
    key: Vec<u8>,
    zones: Option<Arc<ZoneDatabase>>,
    open: impl FnOnce(&OpenSpec, &[u8]) -> core::Result<core::Store> + Send + 'static,
) -> Job<Arc<Pool>> {
    let key = Zeroizing::new(key);
    let spec = OpenSpec {
        path,
        opts: store_options(zones),
    };
    Pool::start(spec, key, open)
}

fn create_store(spec: &OpenSpec, key: &[u8]) -> core::Result<core::Store> {
    core::Store::create(&spec.path, core::Key::Raw(key), spec.opts.clone())
}

fn open_store(spec: &OpenSpec, key: &[u8]) -> core::Result<core::Store> {
    core::Store::open(&spec.path, core::Key::Raw(key), spec.opts.clone())
}

fn open_or_create_store(spec: &OpenSpec, key: &[u8]) -> core::Result<core::Store> {
    match open_store(spec, key) {
        Err(core::Error::StoreNotFound) => match create_store(spec, key) {
            // Another thread or process created it meanwhile.
            Err(core::Error::StoreExists) => open_store(spec, key),
            other => other,
        },
        other => other,
    }
}

#[uniffi::export]
impl Journal {
    /// Creates a new store at `path` (must not exist) sealed with `key`
    /// (exactly 32 bytes). `zones` defaults to the system database.
    #[uniffi::constructor(default(zones = None))]
    pub async fn create(
        path: String,
        key: Vec<u8>,
        zones: Option<Arc<ZoneDatabase>>,
    ) -> Result<Arc<Self>> {
        check_key(&key)?;
        let pool = open_job(path, key, zones, create_store).await?;
        Ok(Arc::new(Journal { pool }))
    }

    /// Opens the store at `path`. `WrongKey` if `key` does not open it
    /// (nothing is written then).
    #[uniffi::constructor(default(zones = None))]
    pub async fn open(
        path: String,
        key: Vec<u8>,
        zones: Option<Arc<ZoneDatabase>>,
    ) -> Result<Arc<Self>> {
        check_key(&key)?;
        let pool = open_job(path, key, zones, open_store).await?;
        Ok(Arc::new(Journal { pool }))
    }

    /// Opens the store at `path`, creating it if there is none.
    #[uniffi::constructor(default(zones = None))]
    pub async fn open_or_create(
        path: String,
        key: Vec<u8>,
        zones: Option<Arc<ZoneDatabase>>,
    ) -> Result<Arc<Self>> {
        check_key(&key)?;
        let pool = open_job(path, key, zones, open_or_create_store).await?;
        Ok(Arc::new(Journal { pool }))
    }

    /// Logs an entry; returns once it (and its sync outbox row) is on disk.
    pub async fn log(&self, entry: NewEntry) -> Result<Entry> {
        let entry = entry.into_core()?;
        self.pool
            .write(
                move |s| Ok(s.log(entry).map_err(CairnError::zone("zone"))?.into()),
                |e: &Entry| JournalChange::put(ChangeTable::Entries, e.id.0.clone()),
            )
            .await
    }

    /// Replaces an entry's content; keeps its id and creation time.
    pub async fn update_entry(&self, id: EntryId, entry: NewEntry) -> Result<Entry> {
        let entry = entry.into_core()?;
        self.pool
            .write(
                move |s| {
                    Ok(s.update_entry(&id.0, entry)
                        .map_err(CairnError::zone("zone"))?
                        .into())
                },
                |e: &Entry| JournalChange::put(ChangeTable::Entries, e.id.0.clone()),
            )
            .await
    }

    /// Deletes an entry (its content is erased; a tombstone stays for sync).
    pub async fn delete_entry(&self, id: EntryId) -> Result<()> {
        let changed = id.0.clone();
        self.pool
            .write(
                move |s| Ok(s.delete_entry(&id.0)?),
                move |_| JournalChange::deleted(ChangeTable::Entries, changed),
            )
            .await
    }

    /// One entry by id.
    pub async fn entry(&self, id: EntryId) -> Result<Entry> {
        self.pool.read(move |s| Ok(s.entry(&id.0)?.into())).await
    }

    /// A page of entries. Cancelling the caller stops a long listing.
    pub async fn entries(&self, query: EntryQuery) -> Result<EntryPage> {
        let query = query.into_core()?;
        self.pool
            .read(move |s| {
                let page = s.entries(&query)?;
                Ok(EntryPage {
                    entries: page.entries.into_iter().map(Into::into).collect(),
                    next: page.next,
                    corrupted: page.corrupted.into_iter().map(Into::into).collect(),
                })
            })
            .await
    }

    /// Per-tracker counts and means over the entries `query` selects
    /// (its `limit` and `after` are ignored).
    pub async fn summary(&self, query: EntryQuery) -> Result<Vec<TrackerSummary>> {
        let query = all(query)?;
        self.pool
            .read(move |s| {
                let entries = s.entries(&query)?.entries;
                Ok(core::insights::summarize(&entries)
                    .into_iter()
                    .map(|s| TrackerSummary {
                        tracker: TrackerId(s.tracker),
                        count: count_out(s.count),
                        mean: s.mean,
                        min: s.min,
                        max: s.max,
                    })
                    .collect())
            })
            .await
    }

    /// Tags on the local days whose mean on `tracker` is at or below
    /// `threshold`, most frequent first: a pattern to look at, not a cause.
    pub async fn tags_on_low_days(
        &self,
        query: EntryQuery,
        tracker: String,
        threshold: f64,
    ) -> Result<Vec<TagCount>> {
        let query = all(query)?;
        self.pool
            .read(move |s| {
                let id = s.tracker(&tracker)?.id;
                let entries = s.entries(&query)?.entries;
                Ok(core::insights::tags_on_low_days(&entries, &id, threshold)
                    .into_iter()
                    .map(|(tag, count)| TagCount {
                        tag: tag.into(),
                        count: count_out(count),
                    })
                    .collect())
            })
            .await
    }

    /// All trackers: built-in first, then custom ones.
    pub async fn trackers(&self) -> Result<Vec<Tracker>> {
        self.pool
            .read(|s| Ok(s.trackers()?.into_iter().map(Into::into).collect()))
            .await
    }

    /// A tracker by id or name (case-insensitive).
    pub async fn tracker(&self, id_or_name: String) -> Result<Tracker> {
        self.pool
            .read(move |s| Ok(s.tracker(&id_or_name)?.into()))
            .await
    }

    /// Defines a custom tracker.
    pub async fn add_tracker(&self, tracker: NewTracker) -> Result<Tracker> {
        let new = core::NewTracker {
            name: tracker.name,
            kind: tracker.kind.into_core()?,
        };
        self.pool
            .write(
                move |s| Ok(s.add_tracker(new)?.into()),
                |t: &Tracker| JournalChange::put(ChangeTable::Trackers, t.id.0.clone()),
            )
            .await
    }

    /// Deletes a custom tracker (its entries are kept).
    pub async fn delete_tracker(&self, id: TrackerId) -> Result<()> {
        let changed = id.0.clone();
        self.pool
            .write(
                move |s| Ok(s.delete_tracker(&id.0)?),
                move |_| JournalChange::deleted(ChangeTable::Trackers, changed),
            )
            .await
    }

    /// Re-seals everything under `newKey` (32 bytes) in one transaction.
    /// Reads wait for it; after it, every connection uses the new key.
    pub async fn rekey(&self, new_key: Vec<u8>) -> Result<RekeyReport> {
        check_key(&new_key)?;
        self.pool
            .write_rekey(
                Zeroizing::new(new_key),
                |s, key| {
                    let r = s.rekey(core::Key::Raw(key))?;
                    Ok(RekeyReport {
                        resealed: count_out(r.resealed),
                        corrupted: r.corrupted.into_iter().map(Into::into).collect(),
                    })
                },
                |_| {
                    Some(JournalChange {
                        table: ChangeTable::All,
                        ids: Vec::new(),
                        deleted: false,
                    })
                },
            )
            .await
    }

    /// Changes waiting in the sync outbox.
    pub async fn pending_changes(&self) -> Result<i64> {
        self.pool
            .read(|s| Ok(count_out(s.pending_changes()?)))
            .await
    }

    /// SQLite's integrity check: true when the file is sound. Cancelling
    /// the caller stops it.
    pub async fn integrity_check(&self) -> Result<bool> {
        self.pool.read(|s| Ok(s.integrity_check()?)).await
    }

    /// Calls `listener` after each commit made through this journal, until
    /// the returned subscription is cancelled or the journal closes.
    /// Kotlin: `changes()` gives a `Flow`; Swift: `changes()` an
    /// `AsyncStream`.
    pub fn observe(&self, listener: Box<dyn JournalListener>) -> Result<Arc<Subscription>> {
        let id = self.pool.listen(Arc::from(listener))?;
        Ok(Arc::new(Subscription {
            pool: Arc::downgrade(&self.pool),
            id,
        }))
    }

    /// Closes the journal: new calls raise `Closed`, calls already made
    /// finish, then the file is closed. Resolves once it is. Closing twice
    /// is fine.
    pub async fn close(&self) -> Result<()> {
        self.pool.close().await
    }
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.len() != 32 {
        return Err(CairnError::KeyLength {
            got: count_out(key.len()),
        });
    }
    Ok(())
}

fn all(mut query: EntryQuery) -> Result<core::EntryQuery> {
    query.limit = None;
    query.after = None;
    query.into_core()
}

// --- free functions --------------------------------------------------------

/// The built-in trackers, with their kinds.
#[uniffi::export]
pub fn builtin_trackers() -> Vec<Tracker> {
    core::BUILTIN_TRACKERS
        .iter()
        .map(|b| b.tracker().into())
        .collect()
}

/// Parses `trigger:work`, `activity:walk` or a plain label.
#[uniffi::export]
pub fn parse_tag(text: String) -> Result<Tag> {
    crate::guard(|| Ok(core::Tag::parse(&text)?.into()))
}

/// Parses a value as a person types it for a tracker of `kind`: `7`,
/// `yes`, `7h30m`, text.
#[uniffi::export]
pub fn parse_value(kind: TrackerKind, text: String) -> Result<Value> {
    crate::guard(|| Ok(kind.into_core()?.parse(&text)?.into()))
}
