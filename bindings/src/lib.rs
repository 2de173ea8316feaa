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

uniffi::setup_scaffolding!();

mod error;
mod journal;
mod reminders;
#[cfg(feature = "testing")]
mod testing;
mod values;
mod zones;

pub use error::CairnError;
pub use journal::*;
pub use reminders::*;
#[cfg(feature = "testing")]
pub use testing::*;
pub use values::RecordRef;
pub use zones::ZoneDatabase;

use error::Result;

// --- free functions --------------------------------------------------------

/// A fresh random 32-byte key, for shells that create the data key before
/// wrapping it in the platform keystore. The core's copy is wiped; the
/// bytes handed over are the caller's to wipe (`fill(0)`, `resetBytes`).
#[uniffi::export]
pub fn generate_key() -> Result<Vec<u8>> {
    Ok(core::crypto::DataKey::generate()?.as_bytes().to_vec())
}

/// The core's version.
#[uniffi::export]
pub fn core_version() -> Result<String> {
    Ok(env!("CARGO_PKG_VERSION").to_owned())
}
