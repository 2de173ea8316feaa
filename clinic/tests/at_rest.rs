//! Patient content is sealed at rest: the database file, read byte by byte
//! and column by column, holds no note, value text, tag, medication or
//! patient name; a sealed value moved to another row does not open; another
//! storage key opens nothing.

mod common;

use cairn_core::Value;
use common::*;
use rusqlite::types::ValueRef;

const NOTE: &str = "NOTE-MARKER-5fd2e1";
const TEXT: &str = "JOURNAL-MARKER-91ac";
const TAG: &str = "TAG-MARKER-77b0";
const MEDICATION: &str = "MED-MARKER-c3d4";
const NAME: &str = "Patient Marker-Name-7319";

const MARKERS: [&str; 5] = [NOTE, TEXT, TAG, MEDICATION, NAME];

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every text and blob value of every table.
fn every_value(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.len() >= 11, "{tables:?}");
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                match row.get_ref(i).unwrap() {
                    ValueRef::Text(b) | ValueRef::Blob(b) => out.push((t.clone(), b.to_vec())),
                    _ => {}
                }
            }
        }
    }
    out
}

#[test]
fn no_patient_content_in_the_database() {
    let clinic = Clinic::new();
    let mut a = enrolled(&clinic, NAME, T0);
    let note = format!("slept badly {NOTE}");
    let mut tagged = a.entry(random(), "mood", mood(4.0), Some(&note));
    {
        let mut e =
            cairn_core::sync::messages::EntryBody::decode(tagged.body.as_ref().unwrap()).unwrap();
        e.tags
            .push(cairn_core::Tag::parse(&format!("trigger:{TAG}")).unwrap());
        tagged.body = Some(e.encode());
    }
    let changes = vec![
        tagged,
        a.entry(
            random(),
            "journal",
            Value::Text(format!("dear diary {TEXT}")),
            None,
        ),
        a.entry(
            random(),
            "medication",
            Value::Medication {
                name: format!("{MEDICATION} 50 mg"),
                taken: true,
            },
            None,
        ),
    ];
    let ok = a
        .exchange(&clinic, a.push_request(1, 3, &changes, T0), T0)
        .ok();
    assert!(ok.rejected.is_empty(), "{:?}", ok.rejected);
    // A second device pulls them (the pull path reads what was sealed).
    let mut b = enrolled(&clinic, NAME, T0);
    assert_eq!(
        b.exchange(&clinic, b.push_request(1, 0, &[], T0), T0)
            .ok()
            .changes
            .len(),
        3
    );
    let entries = clinic.entries(NAME);
    assert_eq!(entries.len(), 3);
    assert!(
        entries.iter().any(|e| e["note"] == note),
        "readable through the server"
    );

    let dir = clinic.dir.path().to_owned();
    let db = dir.join("clinic.sqlite");
    // Column by column, with the server still open (the WAL is read too).
    let values = every_value(&db);
    for (table, v) in &values {
        for m in MARKERS {
            assert!(!contains(v, m), "{m} in table {table}");
        }
    }
    // Byte by byte, every file of the data directory, open and after close.
    let scan = || {
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let bytes = std::fs::read(&f).unwrap();
            for m in MARKERS {
                assert!(!contains(&bytes, m), "{m} in {}", f.display());
            }
        }
    };
    scan();
    let Clinic { dir: tmp, server } = clinic;
    drop(server);
    scan();
    assert!(
        std::fs::metadata(db.with_extension("sqlite-wal")).map_or(true, |m| m.len() == 0),
        "the WAL was checkpointed on close"
    );

    // The storage key file is the owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("storage.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Another key opens nothing; a missing key is not replaced.
    let other = tmp.path().join("other.key");
    std::fs::write(&other, [9u8; 32]).unwrap();
    let err = cairn_clinic::open_sqlite(&dir, Some(&other), T0)
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not open"), "{err}");
    std::fs::rename(dir.join("storage.key"), tmp.path().join("moved.key")).unwrap();
    let err = cairn_clinic::open_sqlite(&dir, None, T0).err().unwrap();
    assert!(err.to_string().contains("no storage.key"), "{err}");
    assert!(!dir.join("storage.key").exists());
    cairn_clinic::open_sqlite(&dir, Some(&tmp.path().join("moved.key")), T0).unwrap();
}

#[test]
fn a_sealed_value_moved_to_another_row_does_not_open() {
    let clinic = Clinic::new();
    let mut a = enrolled(&clinic, "Ann", T0);
    let changes = vec![
        a.entry(random(), "mood", mood(4.0), Some("one")),
        a.entry(random(), "mood", mood(5.0), Some("two")),
    ];
    a.exchange(&clinic, a.push_request(1, 2, &changes, T0), T0)
        .ok();
    let conn = rusqlite::Connection::open(clinic.dir.path().join("clinic.sqlite")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    // Swap the two records' states (each a reference to its one change).
    conn.execute_batch(
        "UPDATE records SET (sealed_state, tip_position) =
             (SELECT sealed_state, tip_position FROM records r2
              WHERE r2.record_id <> records.record_id)",
    )
    .unwrap();
    let err = cairn_clinic::admin::entries(clinic.server.storage(), "Ann")
        .err()
        .unwrap();
    assert!(err.to_string().contains("records"), "{err}");
    // Swap two changes' bodies: the pull refuses (a server error, not a
    // reply with someone else's change).
    conn.execute_batch(
        "UPDATE changes SET sealed_body = (SELECT sealed_body FROM changes c2
                                             WHERE c2.change_id <> changes.change_id)",
    )
    .unwrap();
    let b = enrolled(&clinic, "Ann", T0);
    let (bytes, _) = b.push_request(1, 0, &[], T0);
    assert!(cairn_clinic::handle(&clinic.server, &bytes, T0).is_err());
}
