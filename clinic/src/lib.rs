//! `cairn-clinic`: the reference clinic server for Cairn sync.
//!
//! It speaks docs/sync-protocol.md with the core's own wire code
//! ([`cairn_core::sync`]): the server opens requests with an HPKE receiver
//! ([`receiver`]), answers each one with [`handler::handle`] following the
//! protocol's §9 processing rules, and keeps its state in a storage backend
//! ([`storage`]: SQLite on one machine, PostgreSQL for several processes),
//! with patient content sealed at rest under a storage key ([`seal`]).

#![warn(missing_docs)]

pub mod admin;
pub mod handler;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod receiver;
pub mod records;
pub mod seal;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::Path;

pub use handler::{Server, handle};

/// An error for the operator: one line, never patient content.
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong (exit code 2).
    Usage(String),
    /// Something failed while running (exit code 1).
    Runtime(String),
    /// The database is locked by another writer for too long.
    Busy,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(m) | Error::Runtime(m) => f.write_str(m),
            Error::Busy => f.write_str("the database is busy; try again"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match e.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => Error::Busy,
            // SQLite's messages name SQL and constraints, never values:
            // every value here is bound as a parameter.
            _ => Error::Runtime(format!("database error: {e}")),
        }
    }
}

impl Error {
    /// The process exit code: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// The storage key file made in a data directory when none is given.
pub const KEY_FILE_NAME: &str = "storage.key";

/// Opens the SQLite storage in `dir` with the storage key from `key_file`,
/// or from `dir/storage.key`, which is created (mode 0600) when the data
/// directory holds no database yet. Creates the clinic on first use.
pub fn open_sqlite(
    dir: &Path,
    key_file: Option<&Path>,
    now_ms: u64,
) -> Result<storage::sqlite::Sqlite, Error> {
    let key = match key_file {
        Some(path) => seal::StorageKey::read(path)?,
        None => {
            let path = dir.join(KEY_FILE_NAME);
            if path.exists() {
                seal::StorageKey::read(&path)?
            } else if dir.join(storage::sqlite::FILE_NAME).exists() {
                return Err(Error::Runtime(format!(
                    "the data directory has a database but no {KEY_FILE_NAME}; \
                     pass --key-file with its storage key"
                )));
            } else {
                storage::sqlite::create_dir(dir)?;
                let key = seal::StorageKey::generate()?;
                key.create_file(&path)?;
                key
            }
        }
    };
    storage::sqlite::Sqlite::open(dir, &key, now_ms)
}

/// Opens the PostgreSQL storage at `url` with the storage key from
/// `key_file` (required: a database server keeps no key file beside the
/// data), with `pool` connections. Creates the schema and the clinic on
/// first use of an empty database.
pub fn open_postgres(
    url: &str,
    key_file: &Path,
    pool: usize,
    now_ms: u64,
) -> Result<storage::postgres::Postgres, Error> {
    let key = seal::StorageKey::read(key_file)?;
    storage::postgres::Postgres::open(url, &key, pool, now_ms)
}

/// Milliseconds since 1970 by the system clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
