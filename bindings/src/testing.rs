//! Test-only exports, in builds with the `testing` feature only.

use crate::error::{CairnError, Result};
use crate::journal::Journal;
use crate::values::{EntryId, LocalDay, Timestamp, WallTime, Weekday, ZoneName};

#[uniffi::export]
impl Journal {
    /// Panics inside a job on the journal's threads, to test that it
    /// arrives as `Internal` and the journal keeps working. Only in builds
    /// with the `testing` feature.
    pub async fn testing_panic(&self) -> Result<()> {
        self.pool
            .read(|_| -> Result<()> { panic!("deliberate panic for tests") })
            .await
    }

    /// A read that runs until it is cancelled (a recursive query that never
    /// ends): cancelling the caller must interrupt it and free its reader.
    /// Only in builds with the `testing` feature.
    pub async fn testing_endless_read(&self) -> Result<()> {
        self.pool.read(|s| Ok(s.testing_endless_read()?)).await
    }
}

/// Every typed value, as the tests send it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TestingValues {
    /// An instant.
    pub at: Timestamp,
    /// A local day.
    pub day: LocalDay,
    /// A time of day.
    pub time: WallTime,
    /// A zone.
    pub zone: ZoneName,
    /// A weekday.
    pub weekday: Weekday,
    /// An id.
    pub id: EntryId,
}

/// Sends every typed value through Rust and back, checked and converted
/// the way real calls convert them (instants to whole milliseconds, days,
/// times and weekdays validated). Only in builds with the `testing`
/// feature.
#[uniffi::export]
pub fn testing_echo(values: TestingValues) -> Result<TestingValues> {
    use crate::values::*;
    Ok(TestingValues {
        at: instant_out(ms_in(values.at)),
        day: day_out(day_in("day", values.day)?),
        time: time_out(time_in("time", values.time)?),
        zone: values.zone,
        weekday: weekday_out(weekday_in("weekday", values.weekday)?),
        id: values.id,
    })
}

/// Edits a sealed record in the file at `path` as an attacker with the file
/// but not the key would (for the Kotlin and Swift tests of damage
/// confinement): `how` is `flip_body` (one bit of the ciphertext),
/// `bump_revision` (the revision edited alone) or `set_deleted` (the
/// tombstone flag set without the key). Only in builds with the `testing`
/// feature.
#[uniffi::export]
pub fn testing_tamper(path: String, table: String, id: String, how: String) -> Result<()> {
    let bad = |reason: &str| CairnError::invalid("tamper", reason);
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
