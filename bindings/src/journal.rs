//! The journal: [`Journal`], its entries, trackers, tags, values, queries,
//! summaries and re-keying, and the free functions about trackers, tags and
//! values.

use crate::error::{CairnError, Result};
use crate::values::{RecordRef, date_in, ms_in};
use crate::zones::{ZoneDatabase, store_options};
use cairn_core as core;
use std::sync::{Arc, RwLock};
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
        minutes: u32,
    },
    /// Counts (0-100,000).
    Count {
        /// The count.
        value: u32,
    },
    /// Text (the journal).
    Text {
        /// The text (at most 64 KiB).
        text: String,
    },
    /// Sleep.
    Sleep {
        /// Minutes slept (at most 24 h).
        minutes: u32,
        /// Quality 0-10, if rated.
        quality: Option<u8>,
    },
    /// Medication.
    Medication {
        /// Medication name and dose as the patient writes them.
        name: String,
        /// Taken (true) or skipped (false).
        taken: bool,
    },
}

impl From<core::Value> for Value {
    fn from(v: core::Value) -> Self {
        match v {
            core::Value::Scale(value) => Value::Scale { value },
            core::Value::YesNo(value) => Value::YesNo { value },
            core::Value::Duration { minutes } => Value::Duration { minutes },
            core::Value::Count(value) => Value::Count { value },
            core::Value::Text(text) => Value::Text { text },
            core::Value::Sleep { minutes, quality } => Value::Sleep { minutes, quality },
            core::Value::Medication { name, taken } => Value::Medication { name, taken },
        }
    }
}

impl From<Value> for core::Value {
    fn from(v: Value) -> Self {
        match v {
            Value::Scale { value } => core::Value::Scale(value),
            Value::YesNo { value } => core::Value::YesNo(value),
            Value::Duration { minutes } => core::Value::Duration { minutes },
            Value::Count { value } => core::Value::Count(value),
            Value::Text { text } => core::Value::Text(text),
            Value::Sleep { minutes, quality } => core::Value::Sleep { minutes, quality },
            Value::Medication { name, taken } => core::Value::Medication { name, taken },
        }
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
    /// Minutes, up to `max_minutes` (at most 7 days).
    Duration {
        /// Longest accepted duration.
        max_minutes: u32,
    },
    /// A whole number, 0-100,000.
    Count,
    /// Free text.
    Text,
    /// Sleep (built-in only).
    Sleep,
    /// Medication (built-in only).
    Medication,
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
            K::Duration { max_minutes } => TrackerKind::Duration { max_minutes },
            K::Count => TrackerKind::Count,
            K::Text => TrackerKind::Text,
            K::Sleep => TrackerKind::Sleep,
            K::Medication => TrackerKind::Medication,
        }
    }
}

impl From<TrackerKind> for core::TrackerKind {
    fn from(k: TrackerKind) -> Self {
        use core::TrackerKind as K;
        match k {
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
            TrackerKind::Duration { max_minutes } => K::Duration { max_minutes },
            TrackerKind::Count => K::Count,
            TrackerKind::Text => K::Text,
            TrackerKind::Sleep => K::Sleep,
            TrackerKind::Medication => K::Medication,
        }
    }
}

/// A tracker, built-in or custom.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Tracker {
    /// Stable id: a word for built-ins (`mood`), 32 hex characters for custom ones.
    pub id: String,
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
            id: t.id,
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
    /// When it happened, ms since the epoch (at most a day ahead of the clock).
    pub at_ms: i64,
    /// IANA zone the patient was in.
    pub zone: String,
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
            value: self.value.into(),
            note: self.note,
            tags: self.tags.into_iter().map(Into::into).collect(),
            at: ms_in("at", self.at_ms)?,
            zone: self.zone,
        })
    }
}

/// A logged entry.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Entry {
    /// Random id.
    pub id: String,
    /// The tracker's id.
    pub tracker: String,
    /// The value.
    pub value: Value,
    /// The note, if any.
    pub note: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it happened, ms since the epoch.
    pub at_ms: i64,
    /// IANA zone the patient was in.
    pub zone: String,
    /// UTC offset in force there and then, in seconds.
    pub utc_offset_seconds: i32,
    /// The patient's local day, `YYYY-MM-DD`.
    pub local_date: String,
    /// First saved, ms since the epoch.
    pub created_at_ms: i64,
    /// Last changed, ms since the epoch.
    pub updated_at_ms: i64,
    /// 1, plus one per change.
    pub revision: i64,
}

impl From<core::Entry> for Entry {
    fn from(e: core::Entry) -> Self {
        Entry {
            local_date: e.local_date().to_string(),
            id: e.id,
            tracker: e.tracker.to_string(),
            value: e.value.into(),
            note: e.note,
            tags: e.tags.into_iter().map(Into::into).collect(),
            at_ms: e.at_ms,
            zone: e.zone.to_string(),
            utc_offset_seconds: e.utc_offset_seconds,
            created_at_ms: e.created_at_ms,
            updated_at_ms: e.updated_at_ms,
            revision: e.revision,
        }
    }
}

/// Which entries to list; every filter is optional and they combine.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct EntryQuery {
    /// At or after this instant (ms since the epoch).
    #[uniffi(default = None)]
    pub from_ms: Option<i64>,
    /// Before this instant.
    #[uniffi(default = None)]
    pub to_ms: Option<i64>,
    /// On or after this local day, `YYYY-MM-DD`, in each entry's own zone.
    #[uniffi(default = None)]
    pub from_day: Option<String>,
    /// On or before this local day.
    #[uniffi(default = None)]
    pub to_day: Option<String>,
    /// Only this tracker (id or name).
    #[uniffi(default = None)]
    pub tracker: Option<String>,
    /// Page size (at least 1); none means all.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
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
            from: self.from_ms.map(|ms| ms_in("from_ms", ms)).transpose()?,
            to: self.to_ms.map(|ms| ms_in("to_ms", ms)).transpose()?,
            from_day: self
                .from_day
                .as_deref()
                .map(|d| date_in("from_day", d))
                .transpose()?,
            to_day: self
                .to_day
                .as_deref()
                .map(|d| date_in("to_day", d))
                .transpose()?,
            tracker: self.tracker,
            limit: self.limit,
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
    pub resealed: u64,
    /// Records that were already unreadable, kept as they were.
    pub corrupted: Vec<RecordRef>,
}

/// Counts and means for one tracker.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TrackerSummary {
    /// Tracker id.
    pub tracker: String,
    /// Entries.
    pub count: u64,
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
    pub count: u64,
}

// --- the journal -----------------------------------------------------------

/// A patient's encrypted journal: one SQLite file, sealed with a 32-byte
/// key from the platform keystore. `close()` it when done; calls after
/// that raise `CairnError.Closed`.
#[derive(uniffi::Object)]
pub struct Journal {
    store: RwLock<Option<Arc<core::Store>>>,
}

impl Journal {
    pub(crate) fn store(&self) -> Result<Arc<core::Store>> {
        self.store
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(CairnError::Closed)
    }

    fn wrap(store: core::Store) -> Arc<Self> {
        Arc::new(Journal {
            store: RwLock::new(Some(Arc::new(store))),
        })
    }
}

#[uniffi::export]
impl Journal {
    /// Creates a new store at `path` (must not exist) sealed with `key`
    /// (exactly 32 bytes). `zones` defaults to the system database.
    #[uniffi::constructor(default(zones = None))]
    pub fn create(
        path: String,
        key: Vec<u8>,
        zones: Option<Arc<ZoneDatabase>>,
    ) -> Result<Arc<Self>> {
        let key = Zeroizing::new(key);
        Ok(Self::wrap(core::Store::create(
            &path,
            core::Key::Raw(&key),
            store_options(zones),
        )?))
    }

    /// Opens the store at `path`. `WrongKey` if `key` does not open it
    /// (nothing is written then).
    #[uniffi::constructor(default(zones = None))]
    pub fn open(path: String, key: Vec<u8>, zones: Option<Arc<ZoneDatabase>>) -> Result<Arc<Self>> {
        let key = Zeroizing::new(key);
        Ok(Self::wrap(core::Store::open(
            &path,
            core::Key::Raw(&key),
            store_options(zones),
        )?))
    }

    /// Opens the store at `path`, creating it if there is none.
    #[uniffi::constructor(default(zones = None))]
    pub fn open_or_create(
        path: String,
        key: Vec<u8>,
        zones: Option<Arc<ZoneDatabase>>,
    ) -> Result<Arc<Self>> {
        let key = Zeroizing::new(key);
        let opts = store_options(zones);
        match core::Store::open(&path, core::Key::Raw(&key), opts.clone()) {
            Err(core::Error::StoreNotFound) => {
                match core::Store::create(&path, core::Key::Raw(&key), opts.clone()) {
                    // Another thread created it meanwhile.
                    Err(core::Error::StoreExists) => Ok(Self::wrap(core::Store::open(
                        &path,
                        core::Key::Raw(&key),
                        opts,
                    )?)),
                    other => Ok(Self::wrap(other?)),
                }
            }
            other => Ok(Self::wrap(other?)),
        }
    }

    /// Logs an entry; returns once it (and its sync outbox row) is on disk.
    pub fn log(&self, entry: NewEntry) -> Result<Entry> {
        Ok(self.store()?.log(entry.into_core()?)?.into())
    }

    /// Replaces an entry's content; keeps its id and creation time.
    pub fn update_entry(&self, id: String, entry: NewEntry) -> Result<Entry> {
        Ok(self.store()?.update_entry(&id, entry.into_core()?)?.into())
    }

    /// Deletes an entry (its content is erased; a tombstone stays for sync).
    pub fn delete_entry(&self, id: String) -> Result<()> {
        Ok(self.store()?.delete_entry(&id)?)
    }

    /// One entry by id.
    pub fn entry(&self, id: String) -> Result<Entry> {
        Ok(self.store()?.entry(&id)?.into())
    }

    /// A page of entries.
    pub fn entries(&self, query: EntryQuery) -> Result<EntryPage> {
        let page = self.store()?.entries(&query.into_core()?)?;
        Ok(EntryPage {
            entries: page.entries.into_iter().map(Into::into).collect(),
            next: page.next,
            corrupted: page.corrupted.into_iter().map(Into::into).collect(),
        })
    }

    /// Per-tracker counts and means over the entries `query` selects
    /// (its `limit` and `after` are ignored).
    pub fn summary(&self, query: EntryQuery) -> Result<Vec<TrackerSummary>> {
        let entries = self.all(query)?;
        Ok(core::insights::summarize(&entries)
            .into_iter()
            .map(|s| TrackerSummary {
                tracker: s.tracker,
                count: s.count,
                mean: s.mean,
                min: s.min,
                max: s.max,
            })
            .collect())
    }

    /// Tags on the local days whose mean on `tracker` is at or below
    /// `threshold`, most frequent first: a pattern to look at, not a cause.
    pub fn tags_on_low_days(
        &self,
        query: EntryQuery,
        tracker: String,
        threshold: f64,
    ) -> Result<Vec<TagCount>> {
        let store = self.store()?;
        let id = store.tracker(&tracker)?.id;
        let entries = self.all(query)?;
        Ok(core::insights::tags_on_low_days(&entries, &id, threshold)
            .into_iter()
            .map(|(tag, count)| TagCount {
                tag: tag.into(),
                count,
            })
            .collect())
    }

    /// All trackers: built-in first, then custom ones.
    pub fn trackers(&self) -> Result<Vec<Tracker>> {
        Ok(self
            .store()?
            .trackers()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A tracker by id or name (case-insensitive).
    pub fn tracker(&self, id_or_name: String) -> Result<Tracker> {
        Ok(self.store()?.tracker(&id_or_name)?.into())
    }

    /// Defines a custom tracker.
    pub fn add_tracker(&self, tracker: NewTracker) -> Result<Tracker> {
        let new = core::NewTracker {
            name: tracker.name,
            kind: tracker.kind.into(),
        };
        Ok(self.store()?.add_tracker(new)?.into())
    }

    /// Deletes a custom tracker (its entries are kept).
    pub fn delete_tracker(&self, id: String) -> Result<()> {
        Ok(self.store()?.delete_tracker(&id)?)
    }

    /// Re-seals everything under `new_key` (32 bytes) in one transaction.
    pub fn rekey(&self, new_key: Vec<u8>) -> Result<RekeyReport> {
        let new_key = Zeroizing::new(new_key);
        let r = self.store()?.rekey(core::Key::Raw(&new_key))?;
        Ok(RekeyReport {
            resealed: r.resealed,
            corrupted: r.corrupted.into_iter().map(Into::into).collect(),
        })
    }

    /// Changes waiting in the sync outbox.
    pub fn pending_changes(&self) -> Result<u64> {
        Ok(self.store()?.pending_changes()?)
    }

    /// SQLite's integrity check: true when the file is sound.
    pub fn integrity_check(&self) -> Result<bool> {
        Ok(self.store()?.integrity_check()?)
    }

    /// Closes the journal. Later calls raise `Closed`; closing twice is fine.
    /// Calls already running finish first.
    pub fn close(&self) -> Result<()> {
        let taken = self.store.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(store) = taken {
            // The last reference closes the connection; if a call is still
            // running, it closes when that call returns.
            if let Ok(store) = Arc::try_unwrap(store) {
                let _ = store.close();
            }
        }
        Ok(())
    }
}

impl Journal {
    fn all(&self, mut query: EntryQuery) -> Result<Vec<core::Entry>> {
        query.limit = None;
        query.after = None;
        Ok(self.store()?.entries(&query.into_core()?)?.entries)
    }
}

// --- free functions --------------------------------------------------------

/// The built-in trackers, with their kinds.
#[uniffi::export]
pub fn builtin_trackers() -> Result<Vec<Tracker>> {
    Ok(core::BUILTIN_TRACKERS
        .iter()
        .map(|b| b.tracker().into())
        .collect())
}

/// Parses `trigger:work`, `activity:walk` or a plain label.
#[uniffi::export]
pub fn parse_tag(text: String) -> Result<Tag> {
    Ok(core::Tag::parse(&text)?.into())
}

/// Parses a value as a person types it for a tracker of `kind`: `7`,
/// `yes`, `7h30m`, text.
#[uniffi::export]
pub fn parse_value(kind: TrackerKind, text: String) -> Result<Value> {
    Ok(core::TrackerKind::from(kind).parse(&text)?.into())
}
