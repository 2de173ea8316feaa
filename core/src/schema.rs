//! The SQL schema and its migrations, by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a store from version `i` to `i + 1`. Migrations run
//! in one transaction together with the version bump, so a store is always
//! at exactly one version. Plaintext columns are listed, with their reason,
//! in docs/security.md; everything a patient wrote or rated is in `body`.

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Version 1: the journal.
const V1: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE entries (
    id       TEXT NOT NULL UNIQUE,
    day      INTEGER,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB,
    CHECK ((deleted = 0) = (body IS NOT NULL AND day IS NOT NULL))
);
CREATE INDEX entries_by_day ON entries(day) WHERE deleted = 0;

CREATE TABLE trackers (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB,
    CHECK ((deleted = 0) = (body IS NOT NULL))
);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    record_table TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    op           TEXT NOT NULL CHECK (op IN ('put', 'delete'))
);
";

/// Version 2: reminders. Rules, the events they follow (treatment sessions),
/// what happened to each occurrence, and per-patient settings (quiet hours),
/// all sealed; `reminder_log.day` is the UTC day of the occurrence's due
/// time, bound into its body's associated data like `entries.day`.
const V2: &str = "
CREATE TABLE reminders (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB,
    CHECK ((deleted = 0) = (body IS NOT NULL))
);

CREATE TABLE reminder_events (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB,
    CHECK ((deleted = 0) = (body IS NOT NULL))
);

CREATE TABLE reminder_log (
    id       TEXT NOT NULL UNIQUE,
    day      INTEGER NOT NULL,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    body     BLOB NOT NULL
);
CREATE INDEX reminder_log_by_day ON reminder_log(day);

CREATE TABLE settings (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    body     BLOB NOT NULL
);
";

/// Every migration, oldest first.
pub const MIGRATIONS: &[&str] = &[V1, V2];

/// A table holding sealed bodies, and the plaintext column (if any) bound
/// into each body's associated data. Re-keying walks this list, so a new
/// sealed table is added here and nowhere else.
pub(crate) struct SealedTable {
    pub table: &'static str,
    pub bound_column: Option<&'static str>,
}

pub(crate) const SEALED_TABLES: &[SealedTable] = &[
    SealedTable {
        table: "entries",
        bound_column: Some("day"),
    },
    SealedTable {
        table: "trackers",
        bound_column: None,
    },
    SealedTable {
        table: "reminders",
        bound_column: None,
    },
    SealedTable {
        table: "reminder_events",
        bound_column: None,
    },
    SealedTable {
        table: "reminder_log",
        bound_column: Some("day"),
    },
    SealedTable {
        table: "settings",
        bound_column: None,
    },
];
