//! [`CairnError`], the one error the API raises, and the one mapping from
//! the core's errors to it.

use cairn_core as core;

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

/// The result of every export.
pub(crate) type Result<T> = std::result::Result<T, CairnError>;
