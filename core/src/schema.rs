//! The SQL schema and its migrations, by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a store from version `i` to `i + 1` in SQL; version
//! 3 rebuilds every sealed table in the shape of [`SEALED_TABLES`] and
//! re-seals every body as envelope 2 (`store::migrate`, which needs the key).
//! Migrations run in one transaction together with the version bump, so a
//! store is always at exactly one version. Plaintext columns are listed,
//! with their reason, in docs/security.md; everything a patient wrote or
//! rated is in `body`.

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;
/// The first version whose bodies are envelope 2 (and tombstones sealed).
pub const ENVELOPE_V2_SINCE: i64 = 3;

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

/// Version 3 is the re-seal, done in Rust (`store::migrate`): no SQL.
const V3: &str = "";

/// Version 4: sync with the clinic (docs/sync-design.md §8). The outbox
/// gains the change id the server de-duplicates by; the sealed tables hold
/// the enrollment and device key (`sync_state`), each synced record's
/// version metadata (`sync_meta`), the outgoing changes of an enrolled store
/// (`sync_outbox`, keyed by change id), conflict versions (`conflicts`),
/// the audit log (`sync_log`, bound to its day) and changes this version
/// cannot read yet (`sync_pending`). Their shapes are in [`SEALED_TABLES`];
/// they are created here so that the version-3 re-seal of an older store
/// finds them (empty).
const V4: &str = "
ALTER TABLE outbox ADD COLUMN change_id TEXT;
UPDATE outbox SET change_id = lower(hex(randomblob(16)));
CREATE TABLE sync_state (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL
);
CREATE TABLE sync_meta (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL
);
CREATE TABLE sync_outbox (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL
);
CREATE TABLE conflicts (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL
);
CREATE TABLE sync_log (
    id       TEXT NOT NULL UNIQUE,
    day      INTEGER,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL,
    CHECK ((deleted = 0) = (day IS NOT NULL))
);
CREATE INDEX sync_log_by_day ON sync_log(day) WHERE deleted = 0;
CREATE TABLE sync_pending (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL
);
";

/// Version 5: risk flags for review (docs/outcomes.md, "Flags"), sealed,
/// merged field by field through sync (record kind 8).
const V5: &str = "
CREATE TABLE flags (
    id       TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    body     BLOB NOT NULL
);
";

/// Every SQL migration, oldest first: `MIGRATIONS[i]` takes a store from
/// version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// A table holding sealed bodies, the plaintext column (if any) bound into
/// each body's associated data, and its shape since version 3. Re-keying,
/// the version-3 migration and tombstones walk this list, so a new sealed
/// table is added here and nowhere else.
pub(crate) struct SealedTable {
    pub table: &'static str,
    pub bound_column: Option<&'static str>,
    /// Whether the version-2 table had a `deleted` column.
    pub had_deleted: bool,
    /// `CREATE TABLE` of the version-3 shape: every body is a sealed
    /// envelope, tombstones included; a bound day is NULL exactly for
    /// tombstones.
    pub create: &'static str,
    /// The index over the bound day, if the table has one: its name, and
    /// its `CREATE INDEX`.
    pub index: Option<(&'static str, &'static str)>,
}

pub(crate) const SEALED_TABLES: &[SealedTable] = &[
    SealedTable {
        table: "entries",
        bound_column: Some("day"),
        had_deleted: true,
        create: "CREATE TABLE entries (
            id       TEXT NOT NULL UNIQUE,
            day      INTEGER,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL,
            CHECK ((deleted = 0) = (day IS NOT NULL))
        )",
        index: Some((
            "entries_by_day",
            "CREATE INDEX entries_by_day ON entries(day) WHERE deleted = 0",
        )),
    },
    SealedTable {
        table: "trackers",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE trackers (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "reminders",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE reminders (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "reminder_events",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE reminder_events (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "reminder_log",
        bound_column: Some("day"),
        had_deleted: false,
        create: "CREATE TABLE reminder_log (
            id       TEXT NOT NULL UNIQUE,
            day      INTEGER,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL,
            CHECK ((deleted = 0) = (day IS NOT NULL))
        )",
        index: Some((
            "reminder_log_by_day",
            "CREATE INDEX reminder_log_by_day ON reminder_log(day) WHERE deleted = 0",
        )),
    },
    SealedTable {
        table: "settings",
        bound_column: None,
        had_deleted: false,
        create: "CREATE TABLE settings (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "sync_state",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE sync_state (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "sync_meta",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE sync_meta (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "sync_outbox",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE sync_outbox (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "conflicts",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE conflicts (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "sync_log",
        bound_column: Some("day"),
        had_deleted: true,
        create: "CREATE TABLE sync_log (
            id       TEXT NOT NULL UNIQUE,
            day      INTEGER,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL,
            CHECK ((deleted = 0) = (day IS NOT NULL))
        )",
        index: Some((
            "sync_log_by_day",
            "CREATE INDEX sync_log_by_day ON sync_log(day) WHERE deleted = 0",
        )),
    },
    SealedTable {
        table: "sync_pending",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE sync_pending (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
    SealedTable {
        table: "flags",
        bound_column: None,
        had_deleted: true,
        create: "CREATE TABLE flags (
            id       TEXT NOT NULL UNIQUE,
            revision INTEGER NOT NULL CHECK (revision >= 1),
            deleted  INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
            body     BLOB NOT NULL
        )",
        index: None,
    },
];

/// The entry of [`SEALED_TABLES`] for `table`.
pub(crate) fn sealed_table(table: &str) -> &'static SealedTable {
    SEALED_TABLES
        .iter()
        .find(|t| t.table == table)
        .expect("every sealed table is listed")
}
