//! The PostgreSQL backend on a private cluster (tests/common/pg.rs): two
//! servers with their own pools on one database, devices pushing at once
//! through both, every change applied once and every patient's feed
//! positions unique and gap-free; processes starting at once on an empty
//! database make one clinic; a `pg_dump` holds no patient content; storage
//! may be called, and dropped, inside a tokio runtime.

mod common;

use std::collections::BTreeMap;

use cairn_clinic::{Server, handle};
use cairn_core::Value;
use cairn_core::sync::messages::{ErrorCode, Id16};
use common::*;

/// A device's pushes and pulls, for the checks after the run.
struct Log {
    patient: &'static str,
    id: Id16,
    sent: Vec<Id16>,
    pulled: Vec<Id16>,
}

#[test]
fn two_servers_many_devices_at_once_each_change_once_and_gap_free_feeds() {
    const BATCHES: u64 = 8;
    const PER_BATCH: u64 = 5;
    let clinic = Clinic::postgres();
    let second = clinic.another_server();
    let servers: [&Server; 2] = [&clinic.server, &second];
    let mut devices = Vec::new();
    for patient in ["Ann", "Bob"] {
        for _ in 0..3 {
            devices.push((patient, enrolled(&clinic, patient, T0)));
        }
    }

    let done = std::sync::Barrier::new(devices.len());
    let done = &done;
    let logs: Vec<Log> = std::thread::scope(|s| {
        let threads: Vec<_> = devices
            .into_iter()
            .enumerate()
            .map(|(k, (patient, mut d))| {
                s.spawn(move || {
                    let mut log = Log {
                        patient,
                        id: d.id,
                        sent: Vec::new(),
                        pulled: Vec::new(),
                    };
                    for b in 0..BATCHES {
                        let changes: Vec<_> = (0..PER_BATCH)
                            .map(|n| d.entry(random(), "mood", mood((n % 10) as f64), None))
                            .collect();
                        let (first, last) = (changes[0].seq, changes[changes.len() - 1].seq);
                        // The batch at one server, alternating, its pull
                        // taken as a device takes it.
                        let at = servers[(k + b as usize) % 2];
                        let req = d.push_request(first, last, &changes, T0);
                        let reply = handle(at, &req.0, T0).unwrap();
                        let ok = d.read(&reply, &req.1).ok();
                        assert_eq!(ok.last_applied, last);
                        assert!(ok.rejected.is_empty(), "{:?}", ok.rejected);
                        log.pulled.extend(ok.changes.iter().map(|c| c.change_id));
                        log.sent.extend(changes.iter().map(|c| c.change_id));

                        // The same batch again at both servers at once
                        // (replies lost): duplicates; their pulls are
                        // dropped, so the cursor stays.
                        let cursor = d.cursor.clone();
                        let again = [
                            d.push_request(first, last, &changes, T0),
                            d.push_request(first, last, &changes, T0),
                        ];
                        let replies: Vec<Vec<u8>> = std::thread::scope(|s| {
                            let t: Vec<_> = again
                                .iter()
                                .zip(servers)
                                .map(|(r, server)| {
                                    s.spawn(move || handle(server, &r.0, T0).unwrap())
                                })
                                .collect();
                            t.into_iter().map(|t| t.join().unwrap()).collect()
                        });
                        for (reply, r) in replies.iter().zip(&again) {
                            let ok = d.read(reply, &r.1).ok();
                            assert_eq!(ok.last_applied, last);
                            assert!(ok.rejected.is_empty());
                        }
                        d.cursor = cursor;
                        // A replayed request applies nothing.
                        let replayed = handle(servers[(k + 1) % 2], &req.0, T0).unwrap();
                        assert_eq!(
                            d.read(&replayed, &req.1).error(),
                            (ErrorCode::Replayed, true)
                        );
                    }
                    // Then, once every device has pushed, pull what is left.
                    done.wait();
                    for turn in 0.. {
                        let req =
                            d.push_request(BATCHES * PER_BATCH + 1, BATCHES * PER_BATCH, &[], T0);
                        let reply = handle(servers[turn % 2], &req.0, T0).unwrap();
                        let ok = d.read(&reply, &req.1).ok();
                        log.pulled.extend(ok.changes.iter().map(|c| c.change_id));
                        if !ok.more {
                            break;
                        }
                    }
                    log
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });

    // Each device pulled every change of its patient's other devices,
    // exactly once, and nothing of the other patient's.
    for log in &logs {
        let mut expected: Vec<Id16> = logs
            .iter()
            .filter(|o| o.patient == log.patient && o.id != log.id)
            .flat_map(|o| o.sent.iter().copied())
            .collect();
        let mut pulled = log.pulled.clone();
        expected.sort();
        pulled.sort();
        assert_eq!(pulled.len(), expected.len(), "each change pulled once");
        assert_eq!(pulled, expected);
    }

    // In the database: each change once, feed positions 1..=n per patient.
    let url = clinic.database_url().unwrap();
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut feeds: BTreeMap<Vec<u8>, Vec<i64>> = BTreeMap::new();
    for row in db
        .query(
            "SELECT patient_id, server_seq FROM changes ORDER BY patient_id, server_seq",
            &[],
        )
        .unwrap()
    {
        feeds.entry(row.get(0)).or_default().push(row.get(1));
    }
    assert_eq!(feeds.len(), 2);
    let per_patient = (3 * BATCHES * PER_BATCH) as i64;
    for positions in feeds.values() {
        assert_eq!(
            positions,
            &(1..=per_patient).collect::<Vec<_>>(),
            "unique and gap-free"
        );
    }
    let counters: Vec<i64> = db
        .query("SELECT position FROM feeds", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(counters, [per_patient, per_patient]);
    let applied: Vec<i64> = db
        .query("SELECT last_applied_seq FROM devices", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(applied, [(BATCHES * PER_BATCH) as i64; 6]);
    for patient in ["Ann", "Bob"] {
        assert_eq!(clinic.entries(patient).len(), per_patient as usize);
    }
}

#[test]
fn a_conflict_is_tried_again_whole_and_a_lasting_one_answers_busy() {
    let clinic = Clinic::postgres();
    let mut a = enrolled(&clinic, "Ann", T0);
    let mut db =
        postgres::Client::connect(&clinic.database_url().unwrap(), postgres::NoTls).unwrap();
    // A trigger that fails the insert of a change with the SQLSTATE in
    // `inject`, as long as a (non-transactional) sequence stays within
    // `times`.
    db.batch_execute(
        "CREATE SEQUENCE conflicts;
         CREATE TABLE inject (code TEXT NOT NULL, times BIGINT NOT NULL);
         CREATE FUNCTION conflict() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE i inject;
         BEGIN
           SELECT * INTO i FROM inject;
           IF FOUND AND nextval('conflicts') <= i.times THEN
             RAISE EXCEPTION 'injected' USING ERRCODE = i.code;
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER conflict BEFORE INSERT ON changes
           FOR EACH ROW EXECUTE FUNCTION conflict();
         INSERT INTO inject VALUES ('40001', 2);",
    )
    .unwrap();
    let batch = [
        a.entry(random(), "mood", mood(3.0), None),
        a.entry(random(), "mood", mood(4.0), None),
    ];
    // Two serialization failures, then the whole transaction once more.
    let ok = a
        .exchange(&clinic, a.push_request(1, 2, &batch, T0), T0)
        .ok();
    assert_eq!(ok.last_applied, 2);
    let tries: i64 = db
        .query_one("SELECT last_value FROM conflicts", &[])
        .unwrap()
        .get(0);
    assert_eq!(tries, 4, "two failed tries, then both inserts");
    let positions: Vec<i64> = db
        .query("SELECT server_seq FROM changes ORDER BY server_seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(positions, [1, 2], "nothing left of the failed tries");

    // Deadlocks that do not end: a sealed `busy`, nothing applied.
    db.batch_execute("UPDATE inject SET code = '40P01', times = 1000000")
        .unwrap();
    let more = [a.entry(random(), "mood", mood(5.0), None)];
    let answer = a.exchange(&clinic, a.push_request(3, 3, &more, T0), T0);
    assert_eq!(answer.error(), (ErrorCode::Busy, true));
    assert_eq!(clinic.entries("Ann").len(), 2);
    // A unique violation that does not go away is a server error (500).
    db.batch_execute("UPDATE inject SET code = '23505'")
        .unwrap();
    let (bytes, _) = a.push_request(3, 3, &more, T0);
    let err = cairn_clinic::handle(&clinic.server, &bytes, T0)
        .err()
        .unwrap();
    assert!(err.to_string().contains("23505"), "{err}");
    // Once it passes, the device sends again and it applies once.
    db.batch_execute("DELETE FROM inject").unwrap();
    let ok = a
        .exchange(&clinic, a.push_request(3, 3, &more, T0), T0)
        .ok();
    assert_eq!(ok.last_applied, 3);
    assert_eq!(clinic.entries("Ann").len(), 3);
}

#[test]
fn processes_starting_at_once_on_an_empty_database_make_one_clinic() {
    let url = pg::cluster().database();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("storage.key");
    cairn_clinic::seal::StorageKey::generate()
        .unwrap()
        .create_file(&key)
        .unwrap();
    let ids: Vec<Id16> = std::thread::scope(|s| {
        let t: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    cairn_clinic::open_postgres(&url, &key, 1, T0)
                        .unwrap()
                        .clinic_id()
                })
            })
            .collect();
        t.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = db
        .query_one("SELECT count(*) FROM clinics", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // Another storage key opens nothing.
    let other = dir.path().join("other.key");
    std::fs::write(&other, [9u8; 32]).unwrap();
    let err = cairn_clinic::open_postgres(&url, &other, 1, T0)
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not open"), "{err}");
    // A server that is not there: a one-line runtime error.
    let err = cairn_clinic::open_postgres(&pg::cluster().url("no_such_database"), &key, 1, T0)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("cannot connect to the database"),
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 1);
}

#[test]
fn storage_can_be_called_and_dropped_inside_a_tokio_runtime() {
    let clinic = Clinic::postgres();
    let Clinic { dir, server } = clinic;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // On the runtime's own thread: the blocking client would panic
        // here; the pool's threads do the work.
        assert!(server.storage().devices().unwrap().is_empty());
        server.storage().set_server_url(Some(URL)).unwrap();
        assert_eq!(server.storage().server_url().unwrap().as_deref(), Some(URL));
        drop(server);
    });
    drop(dir);
}

const NOTE: &str = "NOTE-MARKER-pg-5fd2e1";
const TEXT: &str = "JOURNAL-MARKER-pg-91ac";
const TAG: &str = "TAG-MARKER-pg-77b0";
const MEDICATION: &str = "MED-MARKER-pg-c3d4";
const NAME: &str = "Patient Marker-Name-pg-7319";
const MARKERS: [&str; 5] = [NOTE, TEXT, TAG, MEDICATION, NAME];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A marker as it would show in the dump's text, and as a BYTEA in hex.
fn forms(marker: &str) -> [Vec<u8>; 2] {
    [
        marker.as_bytes().to_vec(),
        cairn_clinic::ingest::hex(marker.as_bytes()).into_bytes(),
    ]
}

#[test]
fn a_pg_dump_holds_no_patient_content() {
    let clinic = Clinic::postgres();
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
    let mut b = enrolled(&clinic, NAME, T0);
    let pulled = b
        .exchange(&clinic, b.push_request(1, 0, &[], T0), T0)
        .ok()
        .changes;
    assert_eq!(pulled, changes, "readable through the server");
    assert!(clinic.entries(NAME).iter().any(|e| e["note"] == note));

    let url = clinic.database_url().unwrap();
    let dump = pg::cluster().dump(&url);
    // The scan sees plaintext columns: ids are in the dump, in hex.
    assert!(contains(&dump, cairn_clinic::ingest::hex(&a.id).as_bytes()));
    assert!(contains(&dump, b"CREATE TABLE public.changes"));
    for m in MARKERS {
        for form in forms(m) {
            assert!(
                !contains(&dump, &form),
                "{m} in the dump ({})",
                String::from_utf8_lossy(&form)
            );
        }
    }

    // Column by column too: every text and bytea value of every table.
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let columns = db
        .query(
            "SELECT table_name::text, column_name::text, data_type::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('bytea', 'text')",
            &[],
        )
        .unwrap();
    assert!(columns.len() > 20);
    for col in columns {
        let (table, column, kind): (String, String, String) = (col.get(0), col.get(1), col.get(2));
        for row in db
            .query(&format!("SELECT \"{column}\" FROM \"{table}\""), &[])
            .unwrap()
        {
            let value: Option<Vec<u8>> = if kind == "bytea" {
                row.get(0)
            } else {
                row.get::<_, Option<String>>(0).map(String::into_bytes)
            };
            let Some(value) = value else { continue };
            for m in MARKERS {
                assert!(!contains(&value, m.as_bytes()), "{m} in {table}.{column}");
            }
        }
    }
}
