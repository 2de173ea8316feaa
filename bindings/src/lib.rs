//! Cairn's FFI facade: the API Kotlin and Swift see, generated with uniffi.
//!
//! A thin layer: it re-shapes core types into records, enums and objects
//! with typed values (instants, local days and times, zones, weekdays,
//! ids: see `values.rs`), folds the core's errors into one structured
//! [`CairnError`], and holds no logic a CLI user or a core test would miss.
//!
//! **Never blocks the caller.** Every call on a journal is `suspend`
//! (Kotlin) or `async` (Swift) and runs on threads the journal owns
//! (`pool.rs`); no async runtime ships in the library. A few `…Blocking`
//! twins exist for platform callbacks that must finish synchronously.
//!
//! **Panics** never cross the boundary: work runs under `catch_unwind` on
//! the pool's threads and a panic arrives as `CairnError.Internal`.

use cairn_core as core;

uniffi::setup_scaffolding!();

mod clinical;
mod crisis;
mod error;
mod flags;
mod insights;
mod journal;
mod pool;
mod questionnaires;
mod reminders;
mod report;
mod support;
mod sync;
#[cfg(feature = "testing")]
mod testing;
mod treatment;
mod values;
mod zones;

pub use crisis::*;
pub use error::CairnError;
pub use flags::*;
pub use insights::*;
pub use journal::*;
pub use questionnaires::*;
pub use reminders::*;
pub use report::*;
pub use support::*;
pub use sync::*;
#[cfg(feature = "testing")]
pub use testing::*;
pub use treatment::*;
pub use values::{
    EntryId, EventId, FlagId, LocalDay, RecordRef, ReminderId, Timestamp, TrackerId, WallTime,
    Weekday, ZoneName,
};
pub use zones::ZoneDatabase;

use error::Result;

/// Runs a synchronous export's body; a panic becomes `CairnError.Internal`
/// (the asynchronous calls get the same from the pool).
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(Err(CairnError::Internal))
}

// --- free functions --------------------------------------------------------

/// A fresh random 32-byte key, for shells that create the data key before
/// wrapping it in the platform keystore. The core's copy is wiped; the
/// bytes handed over are the caller's to wipe (`fill(0)`, `resetBytes`).
#[uniffi::export]
pub fn generate_key() -> Result<Vec<u8>> {
    guard(|| Ok(core::crypto::DataKey::generate()?.as_bytes().to_vec()))
}

/// The core's version.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
