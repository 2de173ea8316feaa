//! Cairn's core: an encrypted, offline-first journal for mental-health
//! companion apps.
//!
//! Everything a patient writes or rates is sealed with AES-256-GCM under a
//! key the platform keystore holds, bound to its row, and stored in one
//! SQLite file per patient. See docs/design.md and docs/security.md.
//!
//! All calls block on disk I/O; call them from a background thread. A
//! [`Store`] is `Send + Sync`.

#![warn(missing_docs)]

pub mod bounds;
mod clock;
mod codec;
mod crisis;
pub mod crypto;
mod error;
pub mod fhir;
pub mod flags;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod insights;
mod journal;
pub mod patterns;
pub mod questionnaires;
mod redact;
pub mod reminders;
pub mod report;
mod safety;
mod schema;
mod store;
pub mod support;
pub mod sync;
mod trackers;
pub mod treatment;
pub mod zones;

pub use clock::{Clock, FixedClock, SystemClock};
pub use crisis::{
    CRISIS_FALLBACK, CRISIS_REVIEWED, CRISIS_TABLE, CrisisLine, CrisisResources,
    MAX_MONITORING_FIELD_CHARS, MonitoringFacts, MonitoringStatement, country_code,
    crisis_resources, monitoring_statement,
};
pub use error::{Error, RecordRef, Result};
pub use flags::{CheckIn, ClinicSettings, Flag, FlagSettings};
pub use journal::{Entry, EntryPage, EntryQuery, MAX_TAGS, NewEntry, Tag, TagGroup};
pub use safety::{MAX_ITEM_CHARS, MAX_ITEMS, PART_NAMES, PART_TITLES, SAFETY_PLAN_ID, SafetyPlan};
pub use schema::LATEST as SCHEMA_VERSION;
pub use store::{
    InterruptHandle, Key, KeySlot, RekeyReport, Store, StoreOptions, pragmas as store_pragmas,
};
pub use trackers::{
    BUILTIN_TRACKERS, BuiltinTracker, MAX_COUNT, MAX_DURATION_MINUTES, MAX_LABEL_CHARS,
    MAX_SCALE_BOUND, MAX_SLEEP_MINUTES, MAX_TEXT_BYTES, NewTracker, Tracker, TrackerKind, Value,
    parse_minutes,
};
pub use zones::ZoneDb;
