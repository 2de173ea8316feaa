//! The core's error type.
//!
//! Every message here is safe to show and to log: it names the kind of
//! problem, the field or the record id, and never the patient's content
//! (no note text, no tracker names, no values, no zone names).

use std::fmt;

/// Which record a problem concerns: its table and its id (ids are random
/// and carry no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RecordRef {
    /// The table holding the record (`entries`, `trackers`, `meta`).
    pub table: String,
    /// The record's id.
    pub id: String,
}

impl RecordRef {
    pub(crate) fn new(table: &str, id: &str) -> Self {
        Self {
            table: table.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.table, self.id)
    }
}

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key of the wrong size was given; keys are exactly 32 bytes.
    #[error("a key must be 32 bytes; got {len}")]
    InvalidKeyLength {
        /// The size that was given.
        len: usize,
    },
    /// The key (or passphrase) does not open this store. Nothing was written.
    #[error("the key does not open this store")]
    WrongKey,
    /// A passphrase was given for a store that is opened with a platform key
    /// (or the other way round).
    #[error("this store is not protected by a passphrase")]
    NotPassphraseProtected,
    /// A record failed authentication or could not be decoded: it was altered,
    /// moved from another row, or damaged on disk. Other records are unaffected.
    #[error("record {record} is corrupted")]
    Corrupted {
        /// The damaged record.
        record: RecordRef,
    },
    /// No store exists at the path.
    #[error("no store exists at this path")]
    StoreNotFound,
    /// A store already exists at the path.
    #[error("a store already exists at this path")]
    StoreExists,
    /// The file is not a Cairn store (not SQLite, or not initialised by Cairn).
    #[error("the file is not a Cairn store")]
    NotAStore,
    /// The store was written by a newer version of Cairn.
    #[error("the store has schema version {found}; this build reads up to {supported}")]
    UnsupportedVersion {
        /// The version found in the file.
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
    /// An input failed validation. `field` names the input; `reason` says what
    /// is wrong without repeating the value.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input (`value`, `note`, `tag`, `at`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No built-in or custom tracker has that id or name.
    #[error("unknown tracker")]
    UnknownTracker,
    /// A custom tracker with that name already exists (or the name is a
    /// built-in tracker's).
    #[error("a tracker with that name already exists")]
    DuplicateTracker,
    /// The time zone is not an IANA zone known to the zone database in use.
    #[error("unknown time zone")]
    UnknownZone,
    /// The time zone database could not be read or is in an unknown format.
    #[error("time zone database unavailable: {0}")]
    ZoneDatabase(String),
    /// No record with that id exists (or it was deleted).
    #[error("no record {id} in {table}")]
    NotFound {
        /// The table searched.
        table: &'static str,
        /// The id asked for.
        id: String,
    },
    /// SQLite reported an error. The text comes from SQLite and holds no
    /// column values (Cairn never builds SQL from patient data).
    #[error("storage error: {0}")]
    Storage(String),
    /// The operating system reported an I/O error.
    #[error("i/o error: {0}")]
    Io(String),
    /// The call was stopped through an [`crate::InterruptHandle`]; its
    /// transaction rolled back and nothing was written.
    #[error("the call was interrupted")]
    Interrupted,
    /// The system random source failed.
    #[error("the system random source failed")]
    Random,
    /// Sync was asked of a journal that is not enrolled with a clinic (or
    /// that withdrew).
    #[error("this journal is not enrolled with a clinic")]
    NotEnrolled,
    /// Enrollment was asked of a journal already enrolled with a clinic.
    #[error("this journal is already enrolled with a clinic")]
    AlreadyEnrolled,
    /// The enrollment code was used by another device.
    #[error("the enrollment code was already used by another device")]
    EnrollmentUsed,
    /// The enrollment code is past its expiry.
    #[error("the enrollment code has expired")]
    EnrollmentExpired,
    /// The clinic cancelled the enrollment code (or the secret was wrong).
    #[error("the clinic cancelled this enrollment code")]
    EnrollmentRevoked,
    /// The clinic revoked this device: it no longer syncs.
    #[error("the clinic revoked this device")]
    DeviceRevoked,
    /// The clinic refused the request; nothing was applied on either side.
    #[error("the clinic refused the request: {reason}")]
    SyncRefused {
        /// The clinic's error code (docs/sync-protocol.md §7).
        reason: &'static str,
    },
    /// The clinic's reply failed a check (signature, seal, format, or it
    /// answers another request); nothing was applied.
    #[error("the clinic's reply was refused: {reason}")]
    BadReply {
        /// What failed.
        reason: String,
    },
    /// A reply to a request this journal is no longer waiting for (the app
    /// was restarted in between, or it was answered already). Nothing is
    /// lost: the next sync sends again what was not acknowledged.
    #[error("the reply answers no request this journal is waiting for")]
    StaleReply,
    /// The clinic asks to try later.
    #[error("the clinic is busy; try again in {retry_after_seconds} s")]
    ServerBusy {
        /// Seconds to wait.
        retry_after_seconds: u64,
    },
    /// The clinic speaks another major version of the sync protocol.
    #[error("the clinic speaks sync protocol version {found}; this build speaks {supported}")]
    IncompatibleProtocol {
        /// The clinic's major version.
        found: u8,
        /// This build's.
        supported: u8,
    },
}

impl From<crate::sync::WireError> for Error {
    fn from(e: crate::sync::WireError) -> Self {
        use crate::sync::WireError as W;
        match e {
            W::BadCode(reason) => Error::invalid("code", reason),
            W::Incompatible { found, supported } => {
                Error::IncompatibleProtocol { found, supported }
            }
            W::Random => Error::Random,
            other => Error::BadReply {
                reason: other.to_string(),
            },
        }
    }
}

/// Shorthand for results in the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupted(table: &str, id: &str) -> Self {
        Error::Corrupted {
            record: RecordRef::new(table, id),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::NotADatabase => {
                Error::NotAStore
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::OperationInterrupted => {
                Error::Interrupted
            }
            // Messages from SQLite name tables and columns, never values:
            // every statement binds parameters. rusqlite appends the file's
            // path to a failed open's message; the path can hold the user's
            // name (a macOS home folder), so it is cut.
            rusqlite::Error::SqliteFailure(f, Some(msg)) => Error::Storage(without_path(msg, f)),
            _ => Error::Storage(e.to_string()),
        }
    }
}

/// SQLite's message without a file path: cut at `": /"` (a path appended),
/// or the error code's description when the message is only a path.
fn without_path(msg: &str, code: &rusqlite::ffi::Error) -> String {
    if msg.starts_with('/') {
        return code.to_string();
    }
    match msg.find(": /") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.kind().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_open_does_not_repeat_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("no-such-folder").join("journal.cairn");
        let e = rusqlite::Connection::open_with_flags(
            &inside,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
        )
        .map(drop)
        .map_err(Error::from)
        .unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("no-such-folder"), "{text}");
        assert!(text.starts_with("storage error: "), "{text}");
        let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN);
        assert_eq!(without_path("x: y", &code), "x: y");
        assert_eq!(without_path("x: /home/alice/j", &code), "x");
        assert!(!without_path("/home/alice/j", &code).contains("alice"));
    }
}
