//! [`CairnError`], the one error the API raises, and the one mapping from
//! the core's errors to it.

use cairn_core as core;

/// Every error the API raises: a kind, the field or record it concerns, and
/// a plain sentence (Kotlin `message`, Swift `localizedDescription`). Never
/// the patient's content: no note text, no values, no tracker names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum CairnError {
    /// An argument was refused: out of range, malformed, too long.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The argument or record field (`at`, `note`, `horizonDays`...).
        field: String,
        /// What is wrong, without repeating the value.
        reason: String,
    },
    /// A key that is not 32 bytes.
    #[error("a key must be 32 bytes; got {got}")]
    KeyLength {
        /// The length given.
        got: i64,
    },
    /// The time zone is not in the zone database in use.
    #[error("unknown time zone in {field}")]
    UnknownZone {
        /// The argument or record field.
        field: String,
    },
    /// No built-in or custom tracker has that id or name.
    #[error("unknown tracker")]
    UnknownTracker,
    /// A tracker with that name already exists.
    #[error("a tracker with that name already exists")]
    DuplicateTracker,
    /// The key does not open this store (or it was re-keyed elsewhere).
    /// Nothing was written.
    #[error("the key does not open this store")]
    WrongKey,
    /// A record failed authentication or could not be decoded; other
    /// records are unaffected.
    #[error("record {table}/{id} is damaged and cannot be opened")]
    Corrupted {
        /// Its table.
        table: String,
        /// Its id.
        id: String,
    },
    /// `create` found a store already there.
    #[error("a store already exists at this path")]
    StoreExists,
    /// `open` found no store there.
    #[error("no store exists at this path")]
    StoreNotFound,
    /// The file is not a Cairn store.
    #[error("the file is not a Cairn store")]
    NotAStore,
    /// The store was written by a newer version of Cairn.
    #[error("the store has schema version {found}; this version reads up to {supported}")]
    Incompatible {
        /// The store's schema version.
        found: i64,
        /// The newest this library reads.
        supported: i64,
    },
    /// No record with that id (or it was deleted).
    #[error("no record {id} in {table}")]
    NotFound {
        /// The table searched.
        table: String,
        /// The id asked for.
        id: String,
    },
    /// The journal was closed; open it again.
    #[error("the journal is closed")]
    Closed,
    /// SQLite reported an error (its words; never column values).
    #[error("storage error: {message}")]
    Storage {
        /// SQLite's description.
        message: String,
    },
    /// The operating system reported an error (disk full, permissions),
    /// or the time zone database could not be read.
    #[error("i/o error: {message}")]
    Io {
        /// The system's description.
        message: String,
    },
    /// A bug in Cairn (a caught panic). The app keeps running; please
    /// report it.
    #[error("internal error in Cairn")]
    Internal,
    /// Sync was asked of a journal not enrolled with a clinic (or that
    /// withdrew).
    #[error("this journal is not enrolled with a clinic")]
    NotEnrolled,
    /// Enrollment was asked of a journal already enrolled.
    #[error("this journal is already enrolled with a clinic")]
    AlreadyEnrolled,
    /// The enrollment code was used by another device: ask for a new one.
    #[error("the enrollment code was already used by another device")]
    EnrollmentUsed,
    /// The enrollment code expired: ask for a new one.
    #[error("the enrollment code has expired")]
    EnrollmentExpired,
    /// The clinic cancelled the code (or its secret was wrong).
    #[error("the clinic cancelled this enrollment code")]
    EnrollmentRevoked,
    /// The clinic revoked this device; it no longer syncs.
    #[error("the clinic revoked this device")]
    DeviceRevoked,
    /// The clinic refused the request (its code, no content); nothing was
    /// applied on either side. Call `prepare()` again: the core has
    /// adjusted what it sends (`gap`, `sequence_reused`, `unknown_key`,
    /// `replayed`, `stale` go away by themselves).
    #[error("the clinic refused the request: {reason}")]
    SyncRefused {
        /// The clinic's error code (docs/sync-protocol.md §7).
        reason: String,
    },
    /// The reply failed a check (signature, seal, format, or it answers
    /// another request); nothing was applied.
    #[error("the clinic's reply was refused: {reason}")]
    BadReply {
        /// What failed.
        reason: String,
    },
    /// A reply to a request this journal is no longer waiting for (the app
    /// restarted meanwhile). Nothing is lost: sync again.
    #[error("the reply answers no request this journal is waiting for")]
    StaleReply,
    /// The clinic asks to try later.
    #[error("the clinic is busy; try again in {retry_after_seconds} s")]
    ServerBusy {
        /// Seconds to wait.
        retry_after_seconds: i64,
    },
    /// The clinic speaks another major version of the sync protocol.
    #[error("the clinic speaks sync protocol version {found}; this version speaks {supported}")]
    ProtocolIncompatible {
        /// The clinic's major version.
        found: i32,
        /// This library's.
        supported: i32,
    },
}

impl CairnError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        CairnError::InvalidInput {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// The core's error, with `UnknownZone` attributed to `field`.
    pub(crate) fn zone(field: &'static str) -> impl Fn(core::Error) -> CairnError {
        move |e| match e {
            core::Error::UnknownZone => CairnError::UnknownZone {
                field: field.to_owned(),
            },
            e => e.into(),
        }
    }
}

impl From<core::Error> for CairnError {
    fn from(e: core::Error) -> Self {
        use core::Error as E;
        match e {
            E::InvalidKeyLength { len } => CairnError::KeyLength {
                got: i64::try_from(len).unwrap_or(i64::MAX),
            },
            E::InvalidInput { field, reason } => CairnError::InvalidInput {
                field: api_field(field),
                reason,
            },
            E::NotPassphraseProtected => {
                CairnError::invalid("key", "this store is opened with a platform key")
            }
            E::UnknownTracker => CairnError::UnknownTracker,
            E::DuplicateTracker => CairnError::DuplicateTracker,
            E::UnknownZone => CairnError::UnknownZone {
                field: "zone".into(),
            },
            E::WrongKey => CairnError::WrongKey,
            E::Corrupted { record } => CairnError::Corrupted {
                table: record.table,
                id: record.id,
            },
            E::StoreNotFound => CairnError::StoreNotFound,
            E::StoreExists => CairnError::StoreExists,
            E::NotAStore => CairnError::NotAStore,
            E::UnsupportedVersion { found, supported } => {
                CairnError::Incompatible { found, supported }
            }
            E::NotFound { table, id } => CairnError::NotFound {
                table: table.to_owned(),
                id,
            },
            E::Storage(message) => CairnError::Storage { message },
            E::Io(message) | E::ZoneDatabase(message) => CairnError::Io { message },
            // Only a cancelled read is interrupted, and its caller is gone.
            E::Interrupted => CairnError::Storage {
                message: "interrupted".into(),
            },
            E::Random => CairnError::Io {
                message: "the system random source failed".into(),
            },
            E::NotEnrolled => CairnError::NotEnrolled,
            E::AlreadyEnrolled => CairnError::AlreadyEnrolled,
            E::EnrollmentUsed => CairnError::EnrollmentUsed,
            E::EnrollmentExpired => CairnError::EnrollmentExpired,
            E::EnrollmentRevoked => CairnError::EnrollmentRevoked,
            E::DeviceRevoked => CairnError::DeviceRevoked,
            E::SyncRefused { reason } => CairnError::SyncRefused {
                reason: reason.to_owned(),
            },
            E::BadReply { reason } => CairnError::BadReply { reason },
            E::StaleReply => CairnError::StaleReply,
            E::ServerBusy {
                retry_after_seconds,
            } => CairnError::ServerBusy {
                retry_after_seconds: big(retry_after_seconds),
            },
            E::IncompatibleProtocol { found, supported } => CairnError::ProtocolIncompatible {
                found: i32::from(found),
                supported: i32::from(supported),
            },
            _ => CairnError::Internal,
        }
    }
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The core's name for a field, as the Kotlin and Swift parameter is named
/// (the core's names serve the CLI too).
fn api_field(core: &str) -> String {
    match core {
        "horizon" => "horizonDays".into(),
        "snooze" => "until".into(),
        "tracker name" => "name".into(),
        "no check-in days" => "noCheckinDays".into(),
        "review time" => "reviewWithin".into(),
        other => crate::values::camel(other),
    }
}

/// The result of every export.
pub(crate) type Result<T> = std::result::Result<T, CairnError>;
