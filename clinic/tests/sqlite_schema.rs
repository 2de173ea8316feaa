//! A data directory made by an earlier schema version opens, is migrated in
//! place, and keeps serving: the changes it held are read back and pulled,
//! new ones are stored next to them.

mod common;

use common::{Clinic, MINUTE, T0, TestDevice, enrolled, mood, random};
use rusqlite::Connection;

/// The `changes` table as schema version 1 made it (`WITHOUT ROWID`).
const CHANGES_V1: &str = "CREATE TABLE changes (
    clinic_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    change_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    server_seq INTEGER NOT NULL,
    feed_hash BLOB NOT NULL,
    record_table INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    op INTEGER NOT NULL,
    sealed_body BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, server_seq),
    UNIQUE (clinic_id, change_id),
    UNIQUE (clinic_id, device_id, seq)
) WITHOUT ROWID";

fn db(clinic: &Clinic) -> Connection {
    Connection::open(
        clinic
            .dir
            .path()
            .join(cairn_clinic::storage::sqlite::FILE_NAME),
    )
    .unwrap()
}

fn changes_sql(conn: &Connection) -> String {
    conn.query_row(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'changes'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn all_changes(conn: &Connection) -> Vec<(Vec<u8>, i64, Vec<u8>)> {
    let mut stmt = conn
        .prepare("SELECT change_id, server_seq, sealed_body FROM changes ORDER BY server_seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Puts the database back to schema version 1: `changes` rebuilt as
/// version 1 made it, rows unchanged, `user_version` 1.
fn downgrade_to_v1(conn: &Connection) {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         ALTER TABLE changes RENAME TO changes_v2;
         {CHANGES_V1};
         INSERT INTO changes SELECT clinic_id, patient_id, change_id, device_id, seq,
             server_seq, feed_hash, record_table, record_id, hlc, op, sealed_body, received_at
             FROM changes_v2;
         DROP TABLE changes_v2;
         PRAGMA user_version = 1;
         COMMIT;"
    ))
    .unwrap();
}

#[test]
fn a_version_1_data_directory_is_migrated_and_keeps_its_changes() {
    let clinic = Clinic::new();
    assert!(
        !changes_sql(&db(&clinic)).contains("WITHOUT ROWID"),
        "a new database's changes are a rowid table"
    );
    let mut a = enrolled(&clinic, "Ann", T0);
    let (r1, r2) = (random::<16>(), random::<16>());
    let changes = vec![
        a.entry(r1, "mood", mood(6.0), Some("before the upgrade")),
        a.entry(r2, "mood", mood(4.0), None),
    ];
    a.exchange(
        &clinic,
        a.push_request(1, 2, &changes, T0 + MINUTE),
        T0 + MINUTE,
    )
    .ok();
    let before = all_changes(&db(&clinic));
    assert_eq!(before.len(), 2);

    // The directory as version 1 left it, then opened by this build.
    let Clinic { dir, server } = clinic;
    drop(server);
    {
        let conn =
            Connection::open(dir.path().join(cairn_clinic::storage::sqlite::FILE_NAME)).unwrap();
        downgrade_to_v1(&conn);
        assert!(changes_sql(&conn).contains("WITHOUT ROWID"));
    }
    let storage = cairn_clinic::open_sqlite(dir.path(), None, T0).unwrap();
    let clinic = Clinic {
        dir,
        server: cairn_clinic::Server::new(Box::new(storage)),
    };
    let conn = db(&clinic);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    assert!(!changes_sql(&conn).contains("WITHOUT ROWID"));
    assert_eq!(all_changes(&conn), before, "every change kept as it was");
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'changes_v1'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(names.is_empty(), "the old table is gone: {names:?}");

    // Opened again: nothing more to do.
    drop(cairn_clinic::open_sqlite(clinic.dir.path(), None, T0).unwrap());

    // The stored changes still open, and new ones go next to them.
    let notes: Vec<String> = clinic
        .entries("Ann")
        .iter()
        .filter_map(|e| e["note"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(notes, ["before the upgrade"]);
    let later = vec![a.entry(random(), "mood", mood(5.0), Some("after"))];
    let ok = a
        .exchange(
            &clinic,
            a.push_request(3, 3, &later, T0 + 2 * MINUTE),
            T0 + 2 * MINUTE,
        )
        .ok();
    assert_eq!(ok.last_applied, 3);
    assert!(ok.rejected.is_empty());
    // A second device of the patient pulls all three, in feed order.
    let mut b: TestDevice = enrolled(&clinic, "Ann", T0 + 3 * MINUTE);
    let ok = b
        .exchange(
            &clinic,
            b.push_request(1, 0, &[], T0 + 3 * MINUTE),
            T0 + 3 * MINUTE,
        )
        .ok();
    let pulled: Vec<_> = ok.changes.iter().map(|c| c.change_id).collect();
    let sent: Vec<_> = changes.iter().chain(&later).map(|c| c.change_id).collect();
    assert_eq!(pulled, sent);
    assert_eq!(clinic.entries("Ann").len(), 3);
}
