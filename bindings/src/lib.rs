//! Cairn's FFI facade: the API Kotlin and Swift see, generated with uniffi.
//!
//! A thin layer: it re-shapes core types into records, enums and objects,
//! folds the core's errors into one small public enum ([`CairnError`]), and
//! holds no logic a CLI user or a core test would miss.
//!
//! **Threading.** Every object is `Send + Sync`. Every call blocks on disk
//! I/O (a write returns once it is durable): call from a background thread
//! (Kotlin: `Dispatchers.IO`; Swift: a `Task` or a background queue), never
//! from the main thread.
//!
//! **Panics** never cross the boundary: every export returns a `Result`, so
//! a Rust panic arrives as an exception (Kotlin `InternalException`, Swift
//! `CairnError` / uniffi's unexpected error) and the app keeps running.
//!
//! **Times** are milliseconds since the Unix epoch, UTC (`at_ms`); zones are
//! IANA names (`Europe/Paris`); local days are `YYYY-MM-DD` strings.

use cairn_core as core;
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

uniffi::setup_scaffolding!();

// --- errors ----------------------------------------------------------------

/// Every error the API raises. Messages never hold the patient's content.
///
/// Flat across the FFI: each variant arrives with its Display text as the
/// message (Kotlin `Throwable.message`, Swift `message`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum CairnError {
    /// An argument was refused: a key that is not 32 bytes, a value out of
    /// range, an unknown tracker or zone, text too long, a bad cursor...
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What was wrong (names the field, never repeats the value).
        message: String,
    },
    /// The key does not open this store (or it was re-keyed elsewhere).
    /// Nothing was written.
    #[error("the key does not open this store")]
    WrongKey,
    /// A record failed authentication or could not be decoded; other
    /// records are unaffected.
    #[error("corrupted record: {message}")]
    Corrupted {
        /// Which record (table and random id).
        message: String,
    },
    /// No such store or record.
    #[error("not found: {message}")]
    NotFound {
        /// What was looked for.
        message: String,
    },
    /// The file is not a Cairn store, or was written by a newer version.
    #[error("incompatible store: {message}")]
    Incompatible {
        /// Why.
        message: String,
    },
    /// The object was closed; open a new one.
    #[error("this object was closed")]
    Closed,
    /// Storage, file system or time zone database trouble.
    #[error("storage error: {message}")]
    Storage {
        /// SQLite's or the system's description (no patient data).
        message: String,
    },
}

impl From<core::Error> for CairnError {
    fn from(e: core::Error) -> Self {
        use core::Error as E;
        let message = e.to_string();
        match e {
            E::InvalidKeyLength { .. }
            | E::InvalidInput { .. }
            | E::UnknownTracker
            | E::DuplicateTracker
            | E::UnknownZone
            | E::NotPassphraseProtected => CairnError::InvalidInput { message },
            E::WrongKey => CairnError::WrongKey,
            E::Corrupted { .. } => CairnError::Corrupted { message },
            E::StoreNotFound | E::NotFound { .. } => CairnError::NotFound { message },
            E::StoreExists => CairnError::InvalidInput { message },
            E::NotAStore | E::UnsupportedVersion { .. } => CairnError::Incompatible { message },
            _ => CairnError::Storage { message },
        }
    }
}

type Result<T> = std::result::Result<T, CairnError>;

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
            at: chrono::DateTime::from_timestamp_millis(self.at_ms).ok_or_else(|| {
                CairnError::InvalidInput {
                    message: "invalid at: out of range".into(),
                }
            })?,
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

fn date_in(field: &str, s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| CairnError::InvalidInput {
        message: format!("invalid {field}: expected YYYY-MM-DD"),
    })
}

fn ms_in(field: &str, ms: i64) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| CairnError::InvalidInput {
        message: format!("invalid {field}: out of range"),
    })
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

/// A record that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordRef {
    /// Its table.
    pub table: String,
    /// Its id.
    pub id: String,
}

impl From<core::RecordRef> for RecordRef {
    fn from(r: core::RecordRef) -> Self {
        RecordRef {
            table: r.table,
            id: r.id,
        }
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

// --- zones -----------------------------------------------------------------

/// The IANA time zone database Cairn reads: the platform's own, so the
/// library stays small and agrees with the phone's clock.
#[derive(uniffi::Object)]
pub struct ZoneDatabase {
    db: Arc<core::ZoneDb>,
}

#[uniffi::export]
impl ZoneDatabase {
    /// The platform's database: Android's `tzdata` where present, else
    /// `TZDIR`, else `/usr/share/zoneinfo` (Apple platforms, Linux).
    #[uniffi::constructor]
    pub fn system() -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::system()),
        }))
    }

    /// TZif files in a directory tree (`Europe/Paris` is `dir/Europe/Paris`).
    /// `InvalidInput` if `path` is not a folder.
    #[uniffi::constructor]
    pub fn directory(path: String) -> Result<Arc<Self>> {
        if !std::path::Path::new(&path).is_dir() {
            return Err(CairnError::InvalidInput {
                message: "invalid zone database: not a folder".into(),
            });
        }
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::directory(path)),
        }))
    }

    /// Android's concatenated `tzdata` file at `path`. `Storage` if it is
    /// missing or not in Android's format.
    #[uniffi::constructor]
    pub fn android_tzdata(path: String) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::android_tzdata_checked(path)?),
        }))
    }

    /// An empty database (UTC only) to fill with [`ZoneDatabase::add_tzif`].
    #[uniffi::constructor]
    pub fn in_memory() -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::in_memory()),
        }))
    }

    /// Adds a zone from TZif bytes (iOS: `NSTimeZone(name:)?.data`; CairnKit's
    /// `addFoundationZone` does it).
    pub fn add_tzif(&self, name: String, tzif: Vec<u8>) -> Result<()> {
        Ok(self.db.add_tzif(&name, &tzif)?)
    }

    /// The UTC offset, in seconds, in force in `zone` at `at_ms`.
    pub fn utc_offset_seconds(&self, zone: String, at_ms: i64) -> Result<i32> {
        Ok(self.db.zone(&zone)?.offset_at(at_ms))
    }
}

// --- the journal -----------------------------------------------------------

/// A patient's encrypted journal: one SQLite file, sealed with a 32-byte
/// key from the platform keystore. `close()` it when done; calls after
/// that raise `CairnError.Closed`.
#[derive(uniffi::Object)]
pub struct Journal {
    store: RwLock<Option<Arc<core::Store>>>,
}

fn options(zones: Option<Arc<ZoneDatabase>>) -> core::StoreOptions {
    let mut o = core::StoreOptions::default();
    if let Some(z) = zones {
        o.zones = z.db.clone();
    }
    o
}

impl Journal {
    fn store(&self) -> Result<Arc<core::Store>> {
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
            options(zones),
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
            options(zones),
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
        let opts = options(zones);
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

/// A fresh random 32-byte key, for shells that create the data key before
/// wrapping it in the platform keystore. The core's copy is wiped; the
/// bytes handed over are the caller's to wipe (`fill(0)`, `resetBytes`).
#[uniffi::export]
pub fn generate_key() -> Result<Vec<u8>> {
    Ok(core::crypto::DataKey::generate()?.as_bytes().to_vec())
}

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

/// The core's version.
#[uniffi::export]
pub fn core_version() -> Result<String> {
    Ok(env!("CARGO_PKG_VERSION").to_owned())
}

/// Panics inside Rust, to test that the panic arrives as an exception and
/// the host keeps running. Only in builds with the `testing` feature.
#[cfg(feature = "testing")]
#[uniffi::export]
pub fn testing_panic() -> Result<()> {
    panic!("deliberate panic for tests");
}

/// Edits a sealed record in the file at `path` as an attacker with the file
/// but not the key would (for the Kotlin and Swift tests of damage
/// confinement): `how` is `flip_body` (one bit of the ciphertext),
/// `bump_revision` (the revision edited alone) or `set_deleted` (the
/// tombstone flag set without the key). Only in builds with the `testing`
/// feature.
#[cfg(feature = "testing")]
#[uniffi::export]
pub fn testing_tamper(path: String, table: String, id: String, how: String) -> Result<()> {
    let bad = |message: &str| CairnError::InvalidInput {
        message: message.to_owned(),
    };
    if ![
        "entries",
        "trackers",
        "reminders",
        "reminder_events",
        "reminder_log",
        "settings",
    ]
    .contains(&table.as_str())
    {
        return Err(bad("unknown table"));
    }
    let storage = |e: rusqlite::Error| CairnError::Storage {
        message: e.to_string(),
    };
    let conn = rusqlite::Connection::open(&path).map_err(storage)?;
    let sql = match how.as_str() {
        "flip_body" => {
            let mut body: Vec<u8> = conn
                .query_row(
                    &format!("SELECT body FROM {table} WHERE id = ?1"),
                    [&id],
                    |r| r.get(0),
                )
                .map_err(|_| bad("no such record"))?;
            if let Some(last) = body.last_mut() {
                *last ^= 0x01;
            }
            return conn
                .execute(
                    &format!("UPDATE {table} SET body = ?2 WHERE id = ?1"),
                    rusqlite::params![id, body],
                )
                .map(drop)
                .map_err(storage);
        }
        "bump_revision" => format!("UPDATE {table} SET revision = revision + 1 WHERE id = ?1"),
        "set_deleted" if table == "entries" || table == "reminder_log" => {
            format!("UPDATE {table} SET deleted = 1, day = NULL WHERE id = ?1")
        }
        "set_deleted" => format!("UPDATE {table} SET deleted = 1 WHERE id = ?1"),
        _ => return Err(bad("unknown tampering")),
    };
    match conn.execute(&sql, [&id]).map_err(storage)? {
        1 => Ok(()),
        _ => Err(bad("no such record")),
    }
}

// --- reminders ---------------------------------------------------------------

use core::reminders as rem;

/// What a reminder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderCategory {
    /// A mood or symptom check-in.
    CheckIn,
    /// A medication dose.
    Medication,
    /// A journaling prompt.
    Journaling,
    /// A step of the coping plan.
    CopingStep,
    /// A routine after a treatment session.
    PostSession,
    /// An appointment.
    Appointment,
}

impl From<rem::Category> for ReminderCategory {
    fn from(c: rem::Category) -> Self {
        match c {
            rem::Category::CheckIn => Self::CheckIn,
            rem::Category::Medication => Self::Medication,
            rem::Category::Journaling => Self::Journaling,
            rem::Category::CopingStep => Self::CopingStep,
            rem::Category::PostSession => Self::PostSession,
            rem::Category::Appointment => Self::Appointment,
        }
    }
}

impl From<ReminderCategory> for rem::Category {
    fn from(c: ReminderCategory) -> Self {
        match c {
            ReminderCategory::CheckIn => Self::CheckIn,
            ReminderCategory::Medication => Self::Medication,
            ReminderCategory::Journaling => Self::Journaling,
            ReminderCategory::CopingStep => Self::CopingStep,
            ReminderCategory::PostSession => Self::PostSession,
            ReminderCategory::Appointment => Self::Appointment,
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

const WEEKDAYS: [(Weekday, chrono::Weekday); 7] = [
    (Weekday::Mon, chrono::Weekday::Mon),
    (Weekday::Tue, chrono::Weekday::Tue),
    (Weekday::Wed, chrono::Weekday::Wed),
    (Weekday::Thu, chrono::Weekday::Thu),
    (Weekday::Fri, chrono::Weekday::Fri),
    (Weekday::Sat, chrono::Weekday::Sat),
    (Weekday::Sun, chrono::Weekday::Sun),
];

fn weekday_in(w: Weekday) -> chrono::Weekday {
    WEEKDAYS
        .iter()
        .find(|(a, _)| *a == w)
        .map(|(_, b)| *b)
        .unwrap_or(chrono::Weekday::Mon)
}

fn weekday_out(w: chrono::Weekday) -> Weekday {
    WEEKDAYS
        .iter()
        .find(|(_, b)| *b == w)
        .map(|(a, _)| *a)
        .unwrap_or(Weekday::Mon)
}

/// One step after an event.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderStep {
    /// Minutes after the event.
    After {
        /// Minutes (at most 30 days).
        minutes: u32,
    },
    /// On the `day`-th local day after the event's (0 = that day) at `time`.
    DayAt {
        /// Days after (at most 365).
        day: u16,
        /// Wall-clock time, `HH:MM`.
        time: String,
    },
}

/// When a reminder fires. Times are wall-clock `HH:MM`; dates `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderSchedule {
    /// Every day at each time.
    Daily {
        /// Times.
        times: Vec<String>,
    },
    /// On the chosen weekdays at each time.
    Weekly {
        /// Weekdays.
        days: Vec<Weekday>,
        /// Times.
        times: Vec<String>,
    },
    /// Every `n` days from the start date.
    EveryNDays {
        /// Interval (1-365).
        n: u16,
        /// Times.
        times: Vec<String>,
    },
    /// On a day of each month (a month without it uses its last day).
    MonthDay {
        /// Day 1-31.
        day: u8,
        /// Times.
        times: Vec<String>,
    },
    /// Once.
    Once {
        /// Date.
        date: String,
        /// Time.
        time: String,
    },
    /// Once a day at a reproducible random minute in `[from, to)`.
    Window {
        /// Start.
        from: String,
        /// End (exclusive).
        to: String,
        /// Weekdays, or every day when empty.
        days: Vec<Weekday>,
    },
    /// After each recorded event of a kind (a treatment session).
    AfterEvent {
        /// Event kind (`infusion`).
        event: String,
        /// Steps.
        steps: Vec<ReminderStep>,
    },
}

fn time_in(s: &str) -> Result<chrono::NaiveTime> {
    Ok(rem::parse_time(s)?)
}

fn time_out(t: chrono::NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn times_in(ts: &[String]) -> Result<Vec<chrono::NaiveTime>> {
    ts.iter().map(|t| time_in(t)).collect()
}

fn times_out(ts: &[chrono::NaiveTime]) -> Vec<String> {
    ts.iter().map(|t| time_out(*t)).collect()
}

impl ReminderSchedule {
    fn into_core(self) -> Result<rem::Schedule> {
        Ok(match self {
            Self::Daily { times } => rem::Schedule::Daily {
                times: times_in(&times)?,
            },
            Self::Weekly { days, times } => rem::Schedule::Weekly {
                days: days.into_iter().map(weekday_in).collect(),
                times: times_in(&times)?,
            },
            Self::EveryNDays { n, times } => rem::Schedule::EveryNDays {
                n,
                times: times_in(&times)?,
            },
            Self::MonthDay { day, times } => rem::Schedule::MonthDay {
                day,
                times: times_in(&times)?,
            },
            Self::Once { date, time } => rem::Schedule::Once {
                date: date_in("date", &date)?,
                time: time_in(&time)?,
            },
            Self::Window { from, to, days } => rem::Schedule::Window {
                from: time_in(&from)?,
                to: time_in(&to)?,
                days: days.into_iter().map(weekday_in).collect(),
            },
            Self::AfterEvent { event, steps } => rem::Schedule::AfterEvent {
                event,
                steps: steps
                    .into_iter()
                    .map(|s| {
                        Ok(match s {
                            ReminderStep::After { minutes } => rem::Step::After { minutes },
                            ReminderStep::DayAt { day, time } => rem::Step::DayAt {
                                day,
                                time: time_in(&time)?,
                            },
                        })
                    })
                    .collect::<Result<_>>()?,
            },
        })
    }

    fn from_core(s: rem::Schedule) -> Self {
        match s {
            rem::Schedule::Daily { times } => Self::Daily {
                times: times_out(&times),
            },
            rem::Schedule::Weekly { days, times } => Self::Weekly {
                days: days.into_iter().map(weekday_out).collect(),
                times: times_out(&times),
            },
            rem::Schedule::EveryNDays { n, times } => Self::EveryNDays {
                n,
                times: times_out(&times),
            },
            rem::Schedule::MonthDay { day, times } => Self::MonthDay {
                day,
                times: times_out(&times),
            },
            rem::Schedule::Once { date, time } => Self::Once {
                date: date.to_string(),
                time: time_out(time),
            },
            rem::Schedule::Window { from, to, days } => Self::Window {
                from: time_out(from),
                to: time_out(to),
                days: days.into_iter().map(weekday_out).collect(),
            },
            rem::Schedule::AfterEvent { event, steps } => Self::AfterEvent {
                event,
                steps: steps
                    .into_iter()
                    .map(|s| match s {
                        rem::Step::After { minutes } => ReminderStep::After { minutes },
                        rem::Step::DayAt { day, time } => ReminderStep::DayAt {
                            day,
                            time: time_out(time),
                        },
                    })
                    .collect(),
            },
        }
    }
}

/// Inside the patient's quiet hours, a reminder is...
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum QuietPolicy {
    /// ...moved to their end.
    Defer,
    /// ...dropped.
    Skip,
    /// ...shown anyway.
    Ignore,
}

/// A reminder rule to add, or the new content of one.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewReminder {
    /// What it is for.
    pub category: ReminderCategory,
    /// When it fires.
    pub schedule: ReminderSchedule,
    /// First local date, `YYYY-MM-DD`.
    pub start: String,
    /// An IANA zone to pin the times to; none follows the device's zone.
    #[uniffi(default = None)]
    pub zone: Option<String>,
    /// Last local date.
    #[uniffi(default = None)]
    pub end: Option<String>,
    /// At most this many occurrences.
    #[uniffi(default = None)]
    pub count: Option<u32>,
    /// A title (sealed; on the lock screen only with `show_title`).
    #[uniffi(default = None)]
    pub title: Option<String>,
    /// Show the title on the lock screen instead of generic text.
    #[uniffi(default = false)]
    pub show_title: bool,
    /// Inside quiet hours (none: defer).
    #[uniffi(default = None)]
    pub quiet: Option<QuietPolicy>,
    /// Minutes before an unacknowledged occurrence is missed.
    #[uniffi(default = 60)]
    pub grace_minutes: u32,
    /// Paused rules plan nothing.
    #[uniffi(default = true)]
    pub enabled: bool,
}

impl NewReminder {
    fn into_core(self) -> Result<rem::NewReminder> {
        Ok(rem::NewReminder {
            category: self.category.into(),
            title: self.title,
            schedule: self.schedule.into_core()?,
            zone: match self.zone {
                Some(z) => rem::ZonePolicy::Pinned(z),
                None => rem::ZonePolicy::FollowDevice,
            },
            start: date_in("start", &self.start)?,
            end: self.end.map(|e| date_in("end", &e)).transpose()?,
            count: self.count,
            quiet: match self.quiet.unwrap_or(QuietPolicy::Defer) {
                QuietPolicy::Defer => rem::QuietPolicy::Defer,
                QuietPolicy::Skip => rem::QuietPolicy::Skip,
                QuietPolicy::Ignore => rem::QuietPolicy::Ignore,
            },
            grace_minutes: self.grace_minutes,
            show_title: self.show_title,
            enabled: self.enabled,
        })
    }
}

/// A stored reminder rule.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Reminder {
    /// Random id.
    pub id: String,
    /// 1, plus one per change.
    pub revision: i64,
    /// What it is for.
    pub category: ReminderCategory,
    /// When it fires.
    pub schedule: ReminderSchedule,
    /// First local date.
    pub start: String,
    /// Pinned zone, or none for the device's.
    pub zone: Option<String>,
    /// Last local date.
    pub end: Option<String>,
    /// Occurrence limit.
    pub count: Option<u32>,
    /// Title.
    pub title: Option<String>,
    /// Title on the lock screen.
    pub show_title: bool,
    /// Inside quiet hours.
    pub quiet: QuietPolicy,
    /// Grace minutes.
    pub grace_minutes: u32,
    /// Enabled.
    pub enabled: bool,
}

impl From<rem::Reminder> for Reminder {
    fn from(r: rem::Reminder) -> Self {
        Reminder {
            id: r.id,
            revision: r.revision,
            category: r.category.into(),
            schedule: ReminderSchedule::from_core(r.schedule),
            start: r.start.to_string(),
            zone: match r.zone {
                rem::ZonePolicy::Pinned(z) => Some(z),
                rem::ZonePolicy::FollowDevice => None,
            },
            end: r.end.map(|e| e.to_string()),
            count: r.count,
            title: r.title,
            show_title: r.show_title,
            quiet: match r.quiet {
                rem::QuietPolicy::Defer => QuietPolicy::Defer,
                rem::QuietPolicy::Skip => QuietPolicy::Skip,
                rem::QuietPolicy::Ignore => QuietPolicy::Ignore,
            },
            grace_minutes: r.grace_minutes,
            enabled: r.enabled,
        }
    }
}

/// What the platform allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PlatformLimits {
    /// Most notifications the OS may hold (iOS: 64).
    pub max_pending: u32,
    /// Exact alarms allowed (Android: `SCHEDULE_EXACT_ALARM` granted).
    pub exact_alarms: bool,
    /// Width of inexact delivery windows (at least 10 minutes).
    pub inexact_window_minutes: u32,
}

impl From<PlatformLimits> for rem::Limits {
    fn from(l: PlatformLimits) -> Self {
        rem::Limits {
            max_pending: l.max_pending,
            exact_alarms: l.exact_alarms,
            inexact_window_minutes: l.inexact_window_minutes,
        }
    }
}

/// iOS: at most 64 pending notifications, delivered on time.
#[uniffi::export]
pub fn ios_limits() -> Result<PlatformLimits> {
    let l = rem::Limits::IOS;
    Ok(PlatformLimits {
        max_pending: l.max_pending,
        exact_alarms: true,
        inexact_window_minutes: l.inexact_window_minutes,
    })
}

/// Android: exact alarms if the app may schedule them, else inexact windows.
#[uniffi::export]
pub fn android_limits(exact_alarms_allowed: bool) -> Result<PlatformLimits> {
    let l = if exact_alarms_allowed {
        rem::Limits::ANDROID_EXACT
    } else {
        rem::Limits::ANDROID_INEXACT
    };
    Ok(PlatformLimits {
        max_pending: l.max_pending,
        exact_alarms: l.exact_alarms,
        inexact_window_minutes: l.inexact_window_minutes,
    })
}

/// One notification for the OS. Its text is generic unless the patient
/// chose to show a title; never patient content.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedNotification {
    /// Stable id (use it as the OS notification id).
    pub id: String,
    /// The rule.
    pub reminder_id: String,
    /// The occurrence key, for `report`.
    pub occurrence: String,
    /// When it was due, ms (pass to `report`).
    pub due_ms: i64,
    /// When to show it, ms.
    pub fire_at_ms: i64,
    /// UTC offset in force then, seconds.
    pub utc_offset_seconds: i32,
    /// Category.
    pub category: ReminderCategory,
    /// Lock-screen title.
    pub title: String,
    /// Lock-screen body.
    pub body: String,
    /// Exact, or within `window_minutes` after `fire_at_ms`.
    pub exact: bool,
    /// Delivery window when not exact.
    pub window_minutes: u32,
}

impl From<rem::PlannedNotification> for PlannedNotification {
    fn from(n: rem::PlannedNotification) -> Self {
        PlannedNotification {
            id: n.id,
            reminder_id: n.reminder_id,
            occurrence: n.occurrence,
            due_ms: n.due_ms,
            fire_at_ms: n.fire_at_ms,
            utc_offset_seconds: n.utc_offset_seconds,
            category: n.category.into(),
            title: n.title,
            body: n.body,
            exact: n.exact,
            window_minutes: n.window_minutes,
        }
    }
}

impl From<PlannedNotification> for rem::PlannedNotification {
    fn from(n: PlannedNotification) -> Self {
        rem::PlannedNotification {
            id: n.id,
            reminder_id: n.reminder_id,
            occurrence: n.occurrence,
            due_ms: n.due_ms,
            fire_at_ms: n.fire_at_ms,
            utc_offset_seconds: n.utc_offset_seconds,
            category: n.category.into(),
            title: n.title,
            body: n.body,
            exact: n.exact,
            window_minutes: n.window_minutes,
        }
    }
}

/// What to change in the OS.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlanDiff {
    /// Notifications to schedule.
    pub add: Vec<PlannedNotification>,
    /// Notification ids to cancel.
    pub remove: Vec<String>,
}

/// The prefix of every notification id Cairn plans (`cairn-`), so a shell
/// can tell its reminders apart from the app's other notifications.
#[uniffi::export]
pub fn notification_id_prefix() -> Result<String> {
    Ok(rem::NOTIFICATION_ID_PREFIX.to_owned())
}

/// Compares a plan with the notification ids the OS holds now.
#[uniffi::export]
pub fn diff_plan(plan: Vec<PlannedNotification>, held_ids: Vec<String>) -> Result<PlanDiff> {
    let plan: Vec<rem::PlannedNotification> = plan.into_iter().map(Into::into).collect();
    let d = rem::diff_plan(&plan, &held_ids);
    Ok(PlanDiff {
        add: d.add.into_iter().map(Into::into).collect(),
        remove: d.remove,
    })
}

/// What happened to an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderReport {
    /// The OS showed it.
    Shown {
        /// When, ms.
        at_ms: i64,
    },
    /// Done.
    Done {
        /// When, ms.
        at_ms: i64,
    },
    /// Skipped on purpose.
    Skipped {
        /// When, ms.
        at_ms: i64,
    },
    /// Snoozed.
    Snoozed {
        /// Show again at, ms.
        until_ms: i64,
    },
}

/// Adherence for one rule or category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Adherence {
    /// Rule id or category name.
    pub key: String,
    /// Occurrences due.
    pub due: u32,
    /// Shown by the OS.
    pub shown: u32,
    /// Shown more than 5 minutes late.
    pub late: u32,
    /// Never reported shown.
    pub not_shown: u32,
    /// Done.
    pub done: u32,
    /// Skipped.
    pub skipped: u32,
    /// Missed (grace period passed).
    pub missed: u32,
}

impl From<rem::Adherence> for Adherence {
    fn from(a: rem::Adherence) -> Self {
        Adherence {
            key: a.key,
            due: a.due,
            shown: a.shown,
            late: a.late,
            not_shown: a.not_shown,
            done: a.done,
            skipped: a.skipped,
            missed: a.missed,
        }
    }
}

/// Adherence per rule and per category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdherenceReport {
    /// Per rule.
    pub rules: Vec<Adherence>,
    /// Per category.
    pub categories: Vec<Adherence>,
    /// Damaged records skipped (ids only): log them.
    pub corrupted: Vec<RecordRef>,
}

/// Every rule, and the damaged ones that were skipped.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderList {
    /// The rules that opened, in the order they were added.
    pub reminders: Vec<Reminder>,
    /// Damaged records skipped (ids only): log them; the rest works.
    pub corrupted: Vec<RecordRef>,
}

/// The notifications the OS should hold, and the damaged records skipped
/// while planning them. Schedule every notification; log `corrupted`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReminderPlan {
    /// In time order, fair across rules, within the limits.
    pub notifications: Vec<PlannedNotification>,
    /// Damaged rules, events, reports or settings (ids only): every good
    /// rule is still planned.
    pub corrupted: Vec<RecordRef>,
}

/// Quiet hours in the device's zone (`22:00`-`07:00` wraps midnight).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuietHours {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`.
    pub end: String,
}

/// A recorded event (a treatment session).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderEvent {
    /// Random id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// When, ms.
    pub at_ms: i64,
    /// IANA zone.
    pub zone: String,
}

impl From<rem::ReminderEvent> for ReminderEvent {
    fn from(e: rem::ReminderEvent) -> Self {
        ReminderEvent {
            id: e.id,
            kind: e.kind,
            at_ms: e.at_ms,
            zone: e.zone,
        }
    }
}

/// One computed occurrence.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Occurrence {
    /// Key.
    pub key: String,
    /// Rule.
    pub reminder_id: String,
    /// When it fires, ms.
    pub fire_ms: i64,
    /// UTC offset then, seconds.
    pub utc_offset_seconds: i32,
}

/// The patient's reminders: rules, the plan for the OS, reports and
/// adherence. Shares its journal's store (closing the journal closes it).
#[derive(uniffi::Object)]
pub struct Reminders {
    journal: Arc<Journal>,
}

#[uniffi::export]
impl Journal {
    /// The reminders kept in this journal's store.
    pub fn reminders(self: Arc<Self>) -> Result<Arc<Reminders>> {
        self.store()?;
        Ok(Arc::new(Reminders { journal: self }))
    }
}

#[uniffi::export]
impl Reminders {
    /// Adds a rule.
    pub fn add(&self, reminder: NewReminder) -> Result<Reminder> {
        Ok(self
            .journal
            .store()?
            .add_reminder(reminder.into_core()?)?
            .into())
    }

    /// Replaces a rule's content.
    pub fn update(&self, id: String, reminder: NewReminder) -> Result<Reminder> {
        Ok(self
            .journal
            .store()?
            .update_reminder(&id, reminder.into_core()?)?
            .into())
    }

    /// One rule.
    pub fn get(&self, id: String) -> Result<Reminder> {
        Ok(self.journal.store()?.reminder(&id)?.into())
    }

    /// Every rule; damaged ones are skipped and listed in `corrupted`.
    pub fn list(&self) -> Result<ReminderList> {
        let list = self.journal.store()?.reminders()?;
        Ok(ReminderList {
            reminders: list.reminders.into_iter().map(Into::into).collect(),
            corrupted: list.corrupted.into_iter().map(Into::into).collect(),
        })
    }

    /// Deletes a rule.
    pub fn delete(&self, id: String) -> Result<()> {
        Ok(self.journal.store()?.delete_reminder(&id)?)
    }

    /// Records an event (a treatment session) that post-session rules follow.
    pub fn record_event(&self, kind: String, at_ms: i64, zone: String) -> Result<ReminderEvent> {
        Ok(self
            .journal
            .store()?
            .record_event(&kind, ms_in("at_ms", at_ms)?, &zone)?
            .into())
    }

    /// Every recorded event.
    pub fn events(&self) -> Result<Vec<ReminderEvent>> {
        Ok(self
            .journal
            .store()?
            .events()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sets, or clears with none, the quiet hours.
    pub fn set_quiet_hours(&self, quiet: Option<QuietHours>) -> Result<()> {
        let q = match quiet {
            Some(q) => Some(rem::QuietHours {
                start: time_in(&q.start)?,
                end: time_in(&q.end)?,
            }),
            None => None,
        };
        Ok(self.journal.store()?.set_quiet_hours(q)?)
    }

    /// The quiet hours, if set.
    pub fn quiet_hours(&self) -> Result<Option<QuietHours>> {
        Ok(self.journal.store()?.quiet_hours()?.map(|q| QuietHours {
            start: time_out(q.start),
            end: time_out(q.end),
        }))
    }

    /// Reports what happened to a planned occurrence (`occurrence` and
    /// `due_ms` as in the plan).
    pub fn report(&self, occurrence: String, due_ms: i64, report: ReminderReport) -> Result<()> {
        let r = match report {
            ReminderReport::Shown { at_ms } => rem::ReminderReport::Shown { at_ms },
            ReminderReport::Done { at_ms } => rem::ReminderReport::Done { at_ms },
            ReminderReport::Skipped { at_ms } => rem::ReminderReport::Skipped { at_ms },
            ReminderReport::Snoozed { until_ms } => rem::ReminderReport::Snoozed { until_ms },
        };
        Ok(self
            .journal
            .store()?
            .report_reminder(&occurrence, due_ms, r)?)
    }

    /// The notifications the OS should hold from `now_ms` for `horizon_days`
    /// (1-62), in time order, fair across rules within `limits`. Apply it
    /// with `diff_plan` at app start, after boot, after a zone change and
    /// after each report. A damaged record is skipped and listed in
    /// `corrupted`; every good rule is still planned.
    pub fn plan(
        &self,
        now_ms: i64,
        device_zone: String,
        limits: PlatformLimits,
        horizon_days: u32,
    ) -> Result<ReminderPlan> {
        let plan = self.journal.store()?.plan_reminders(
            ms_in("now_ms", now_ms)?,
            &device_zone,
            &limits.into(),
            horizon_days,
        )?;
        Ok(ReminderPlan {
            notifications: plan.notifications.into_iter().map(Into::into).collect(),
            corrupted: plan.corrupted.into_iter().map(Into::into).collect(),
        })
    }

    /// Every occurrence firing in `[from_ms, to_ms)` (at most 400 days).
    pub fn occurrences(
        &self,
        from_ms: i64,
        to_ms: i64,
        device_zone: String,
    ) -> Result<Vec<Occurrence>> {
        Ok(self
            .journal
            .store()?
            .occurrences(
                ms_in("from_ms", from_ms)?,
                ms_in("to_ms", to_ms)?,
                &device_zone,
            )?
            .into_iter()
            .map(|o| Occurrence {
                key: o.key,
                reminder_id: o.reminder_id,
                fire_ms: o.fire_ms,
                utc_offset_seconds: o.utc_offset_seconds,
            })
            .collect())
    }

    /// Adherence for occurrences due in `[from_ms, min(to_ms, now_ms))`.
    pub fn adherence(
        &self,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
        device_zone: String,
    ) -> Result<AdherenceReport> {
        let report = self.journal.store()?.adherence(
            ms_in("from_ms", from_ms)?,
            ms_in("to_ms", to_ms)?,
            ms_in("now_ms", now_ms)?,
            &device_zone,
        )?;
        Ok(AdherenceReport {
            rules: report.by_rule.into_iter().map(Into::into).collect(),
            categories: report.by_category.into_iter().map(Into::into).collect(),
            corrupted: report.corrupted.into_iter().map(Into::into).collect(),
        })
    }
}
