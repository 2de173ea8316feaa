//! Test-only exports, in builds with the `testing` feature only.

use crate::error::{CairnError, Result};

/// Panics inside Rust, to test that the panic arrives as an exception and
/// the host keeps running. Only in builds with the `testing` feature.
#[uniffi::export]
pub fn testing_panic() -> Result<()> {
    panic!("deliberate panic for tests");
}

/// Edits a sealed record in the file at `path` as an attacker with the file
/// but not the key would (for the Kotlin and Swift tests of damage
/// confinement): `how` is `flip_body` (one bit of the ciphertext),
/// `bump_revision` (the revision edited alone) or `set_deleted` (the
/// tombstone flag set without the key). Only in builds with the `testing`
/// feature.
#[uniffi::export]
pub fn testing_tamper(path: String, table: String, id: String, how: String) -> Result<()> {
    let bad = |message: &str| CairnError::InvalidInput {
        message: message.to_owned(),
    };
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
