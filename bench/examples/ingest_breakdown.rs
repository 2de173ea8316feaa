//! Where the time of `server_ingest_vs_raw_insert_sqlite` (or, with
//! `--postgres`, `_postgres`) goes: a batch through `handle`, against its
//! parts replayed outside the server on the same batch:
//!
//! - the envelope: parse, signature, HPKE open, unframe, decode, checks;
//! - sealing at rest: each change's encoding and seal, its record's tips
//!   encoded and sealed;
//! - the per-change SQL the server issues (clinic/src/storage/: the owner
//!   row inserted then read, the change inserted, the record read then
//!   upserted), on tables of the same shape, three ways: each statement
//!   prepared anew, as the server issues them (`execute(sql, ...)`); the
//!   same statements prepared once; and fewer statements (SQLite: a new
//!   owner row means a new record, so neither read is needed; PostgreSQL:
//!   the five statements once per batch over arrays, `unnest` and `ANY`);
//! - the raw baseline: one insert per change.
//!
//! `cargo run --release -p cairn-bench --example ingest_breakdown [-- --postgres]`
//!
//! Figures are µs per change, medians over the rounds (one batch each, as
//! `sync_prepare` cuts them, about 1,300 changes). The replay is a model of
//! the server's SQL (its own copy of the tables, not the server's schema
//! file), to price statement preparation and round trips; `handle` is the
//! real thing.

use cairn_bench::sync::cases::{enroll, now_ms, push_batch, sqlite_clinic};
use cairn_bench::sync::device::{SimDevice, random16};
use cairn_bench::sync::mix::{Cut, Mix, encode_change, hex};
use cairn_bench::{Opts, Workdir, median, time};
use cairn_clinic::seal::{Place, Sealer, StorageKey};
use cairn_clinic::{Server, ingest, receiver, testing};
use cairn_core::sync::frame;
use cairn_core::sync::messages::{Change, Id16, PushBody, RecordId};
use cairn_core::sync::wire::{self, ReplyKey, Request};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

const ROUNDS: usize = 9;
const SEAL_OVERHEAD: usize = 1 + 12 + 16;

const TABLES_SQLITE: &str = "
CREATE TABLE changes (
    clinic_id BLOB NOT NULL, patient_id BLOB NOT NULL, change_id BLOB NOT NULL,
    device_id BLOB NOT NULL, seq INTEGER NOT NULL, server_seq INTEGER NOT NULL,
    record_table INTEGER NOT NULL, record_id TEXT NOT NULL, hlc INTEGER NOT NULL,
    op INTEGER NOT NULL, sealed_body BLOB NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, change_id),
    UNIQUE (clinic_id, device_id, seq),
    UNIQUE (clinic_id, patient_id, server_seq));
CREATE TABLE records (
    clinic_id BLOB NOT NULL, patient_id BLOB NOT NULL, record_table INTEGER NOT NULL,
    record_id TEXT NOT NULL, sealed_state BLOB NOT NULL, stamp INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, record_table, record_id));
CREATE TABLE record_owners (
    clinic_id BLOB NOT NULL, record_id TEXT NOT NULL, patient_id BLOB NOT NULL,
    PRIMARY KEY (clinic_id, record_id));";

const OWNER_INSERT: &str = "INSERT INTO record_owners (clinic_id, record_id, patient_id)
    VALUES ($1, $2, $3) ON CONFLICT (clinic_id, record_id) DO NOTHING";
const OWNER_SELECT: &str =
    "SELECT patient_id FROM record_owners WHERE clinic_id = $1 AND record_id = $2";
const CHANGE_INSERT: &str = "INSERT INTO changes (clinic_id, patient_id, change_id, device_id,
    seq, server_seq, record_table, record_id, hlc, op, sealed_body, received_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING";
const RECORD_SELECT: &str = "SELECT sealed_state FROM records WHERE clinic_id = $1
    AND patient_id = $2 AND record_table = $3 AND record_id = $4";
const RECORD_UPSERT: &str = "INSERT INTO records (clinic_id, patient_id, record_table,
    record_id, sealed_state, stamp, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (clinic_id, patient_id, record_table, record_id) DO UPDATE
    SET sealed_state = excluded.sealed_state, stamp = excluded.stamp,
        updated_at = excluded.updated_at";

fn sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

/// One change's row values, blobs of the sizes the server stores.
struct Row {
    change_id: Vec<u8>,
    seq: i64,
    record_id: String,
    hlc: i64,
    op: i64,
    body: Vec<u8>,
    state: Vec<u8>,
}

fn rows(changes: &[Change], noise: &[u8]) -> Vec<Row> {
    changes
        .iter()
        .map(|c| {
            let RecordId::Bytes(rid) = &c.record_id else {
                unreachable!()
            };
            let blob = |len: usize| {
                let off = (c.seq as usize * 7919) % (noise.len() - len);
                noise[off..off + len].to_vec()
            };
            Row {
                change_id: c.change_id.to_vec(),
                seq: c.seq as i64,
                record_id: hex(rid),
                hlc: c.hlc as i64,
                op: c.op as i64,
                body: blob(encode_change(c).len() + SEAL_OVERHEAD),
                state: blob(ingest::encode_tips(std::slice::from_ref(c)).len() + SEAL_OVERHEAD),
            }
        })
        .collect()
}

struct Ids {
    clinic: Vec<u8>,
    patient: Vec<u8>,
    device: Vec<u8>,
    now: i64,
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    AsIssued,
    Prepared,
    Fewer,
    Raw,
}

const WAYS: [(Way, &str); 4] = [
    (
        Way::AsIssued,
        "SQL as the server issues it (each statement prepared anew)",
    ),
    (Way::Prepared, "the same statements, prepared once"),
    (
        Way::Fewer,
        "fewer statements (SQLite: skip both reads for a new record; PostgreSQL: five statements a batch)",
    ),
    (Way::Raw, "raw baseline: one insert per change"),
];

fn sqlite_replay(conn: &mut Connection, way: Way, ids: &Ids, rows: &[Row]) {
    let t = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let (c, p, d) = (&ids.clinic, &ids.patient, &ids.device);
    for (k, r) in rows.iter().enumerate() {
        let change = params![
            c,
            p,
            r.change_id,
            d,
            r.seq,
            r.seq,
            1i64,
            r.record_id,
            r.hlc,
            r.op,
            r.body,
            ids.now
        ];
        let _ = k;
        let record = params![c, p, 1i64, r.record_id, r.state, r.hlc, ids.now];
        match way {
            Way::Raw => {
                t.prepare_cached(&sqlite(CHANGE_INSERT))
                    .and_then(|mut s| s.execute(change))
                    .expect("insert");
            }
            Way::AsIssued => {
                t.execute(&sqlite(OWNER_INSERT), params![c, r.record_id, p])
                    .expect("owner");
                let _: Vec<u8> = t
                    .query_row(&sqlite(OWNER_SELECT), params![c, r.record_id], |x| x.get(0))
                    .expect("owner");
                t.execute(&sqlite(CHANGE_INSERT), change).expect("change");
                let _: Option<Vec<u8>> = t
                    .query_row(
                        &sqlite(RECORD_SELECT),
                        params![c, p, 1i64, r.record_id],
                        |x| x.get(0),
                    )
                    .optional()
                    .expect("state");
                t.execute(&sqlite(RECORD_UPSERT), record).expect("record");
            }
            Way::Prepared | Way::Fewer => {
                let new_owner = t
                    .prepare_cached(&sqlite(OWNER_INSERT))
                    .and_then(|mut s| s.execute(params![c, r.record_id, p]))
                    .expect("owner")
                    == 1;
                if way == Way::Prepared || !new_owner {
                    let _: Vec<u8> = t
                        .prepare_cached(&sqlite(OWNER_SELECT))
                        .and_then(|mut s| s.query_row(params![c, r.record_id], |x| x.get(0)))
                        .expect("owner");
                }
                t.prepare_cached(&sqlite(CHANGE_INSERT))
                    .and_then(|mut s| s.execute(change))
                    .expect("change");
                if way == Way::Prepared || !new_owner {
                    let _: Option<Vec<u8>> = t
                        .prepare_cached(&sqlite(RECORD_SELECT))
                        .and_then(|mut s| {
                            s.query_row(params![c, p, 1i64, r.record_id], |x| x.get(0))
                                .optional()
                        })
                        .expect("state");
                }
                t.prepare_cached(&sqlite(RECORD_UPSERT))
                    .and_then(|mut s| s.execute(record))
                    .expect("record");
            }
        }
    }
    t.commit().expect("commit");
}

struct Pg {
    client: postgres::Client,
    stmts: Vec<postgres::Statement>,
}

const SET_OWNERS: &str = "INSERT INTO record_owners (clinic_id, record_id, patient_id)
    SELECT $1, r, $3 FROM unnest($2::text[]) AS r ON CONFLICT (clinic_id, record_id) DO NOTHING";
const SET_OWNER_SELECT: &str =
    "SELECT record_id, patient_id FROM record_owners WHERE clinic_id = $1 AND record_id = ANY($2)";
const SET_CHANGES: &str = "INSERT INTO changes (clinic_id, patient_id, change_id, device_id, seq,
    server_seq, record_table, record_id, hlc, op, sealed_body, received_at)
    SELECT $1, $2, u.c, $3, u.s, u.s, 1, u.r, u.h, u.o, u.b, $4
    FROM unnest($5::bytea[], $6::int8[], $7::text[], $8::int8[], $9::int8[], $10::bytea[])
         AS u(c, s, r, h, o, b)
    ON CONFLICT DO NOTHING";
const SET_RECORD_SELECT: &str = "SELECT record_id, sealed_state FROM records WHERE clinic_id = $1
    AND patient_id = $2 AND record_table = 1 AND record_id = ANY($3)";
const SET_RECORDS: &str = "INSERT INTO records (clinic_id, patient_id, record_table, record_id,
    sealed_state, stamp, updated_at)
    SELECT $1, $2, 1, u.r, u.b, u.h, $3 FROM unnest($4::text[], $5::bytea[], $6::int8[]) AS u(r, b, h)
    ON CONFLICT (clinic_id, patient_id, record_table, record_id) DO UPDATE
    SET sealed_state = excluded.sealed_state, stamp = excluded.stamp,
        updated_at = excluded.updated_at";

impl Pg {
    fn new(url: &str) -> Pg {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        client
            .batch_execute(
                &TABLES_SQLITE
                    .replace("BLOB", "BYTEA")
                    .replace("INTEGER", "BIGINT"),
            )
            .expect("tables");
        let stmts = [
            OWNER_INSERT,
            OWNER_SELECT,
            CHANGE_INSERT,
            RECORD_SELECT,
            RECORD_UPSERT,
            SET_OWNERS,
            SET_OWNER_SELECT,
            SET_CHANGES,
            SET_RECORD_SELECT,
            SET_RECORDS,
        ]
        .iter()
        .map(|s| client.prepare(s).expect("prepare"))
        .collect();
        Pg { client, stmts }
    }

    fn replay(&mut self, way: Way, ids: &Ids, rows: &[Row]) {
        let st = &self.stmts;
        let mut t = self.client.transaction().expect("begin");
        let (c, p, d) = (&ids.clinic, &ids.patient, &ids.device);
        if way == Way::Fewer {
            let rids: Vec<&str> = rows.iter().map(|r| r.record_id.as_str()).collect();
            t.execute(&st[5], &[c, &rids, p]).expect("owners");
            t.query(&st[6], &[c, &rids]).expect("owners");
            let cids: Vec<&[u8]> = rows.iter().map(|r| &r.change_id[..]).collect();
            let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
            let hlcs: Vec<i64> = rows.iter().map(|r| r.hlc).collect();
            let ops: Vec<i64> = rows.iter().map(|r| r.op).collect();
            let bodies: Vec<&[u8]> = rows.iter().map(|r| &r.body[..]).collect();
            t.execute(
                &st[7],
                &[c, p, d, &ids.now, &cids, &seqs, &rids, &hlcs, &ops, &bodies],
            )
            .expect("changes");
            t.query(&st[8], &[c, p, &rids]).expect("states");
            let states: Vec<&[u8]> = rows.iter().map(|r| &r.state[..]).collect();
            t.execute(&st[9], &[c, p, &ids.now, &rids, &states, &hlcs])
                .expect("records");
            t.commit().expect("commit");
            return;
        }
        for r in rows {
            let change: [&(dyn postgres::types::ToSql + Sync); 12] = [
                c,
                p,
                &r.change_id,
                d,
                &r.seq,
                &r.seq,
                &1i64,
                &r.record_id,
                &r.hlc,
                &r.op,
                &r.body,
                &ids.now,
            ];
            let record: [&(dyn postgres::types::ToSql + Sync); 7] =
                [c, p, &1i64, &r.record_id, &r.state, &r.hlc, &ids.now];
            match way {
                Way::Raw => {
                    t.execute(&st[2], &change).expect("insert");
                }
                Way::AsIssued => {
                    t.execute(OWNER_INSERT, &[c, &r.record_id, p])
                        .expect("owner");
                    t.query_one(OWNER_SELECT, &[c, &r.record_id])
                        .expect("owner");
                    t.execute(CHANGE_INSERT, &change).expect("change");
                    t.query_opt(RECORD_SELECT, &[c, p, &1i64, &r.record_id])
                        .expect("state");
                    t.execute(RECORD_UPSERT, &record).expect("record");
                }
                Way::Prepared | Way::Fewer => {
                    t.execute(&st[0], &[c, &r.record_id, p]).expect("owner");
                    t.query_one(&st[1], &[c, &r.record_id]).expect("owner");
                    t.execute(&st[2], &change).expect("change");
                    t.query_opt(&st[3], &[c, p, &1i64, &r.record_id])
                        .expect("state");
                    t.execute(&st[4], &record).expect("record");
                }
            }
        }
        t.commit().expect("commit");
    }
}

/// The envelope steps `handle` takes before storage, on a request sealed
/// like the one it got: parse, verify, HPKE open, unframe, decode, checks.
fn envelope(server: &Server, dev: &SimDevice, req: &[u8]) -> f64 {
    let keys = server.keys().expect("keys");
    let public = dev.public_key();
    time(|| {
        let r = Request::parse(req).expect("parse");
        r.verify(&public).expect("signature");
        let h = &r.header;
        let key = keys.find(h.key_id, now_ms()).expect("key");
        let info = wire::hpke_info(&h.clinic_id, &h.device_id);
        let opened = receiver::open(
            &key.private,
            &r.enc,
            &info,
            r.header_bytes,
            r.ciphertext,
            ReplyKey::EXPORT_LABEL,
        )
        .map_err(|_| "open")
        .expect("open");
        let body = frame::unframe(&opened.plaintext).expect("unframe");
        let push = PushBody::decode(&body).expect("decode");
        std::hint::black_box(ingest::check_batch(
            h.first,
            h.last,
            &h.device_id,
            push.changes,
        ));
    })
}

/// Sealing at rest: each change encoded and sealed, its record's tips
/// encoded and sealed.
fn at_rest(sealer: &Sealer, clinic: &Id16, patient: &[u8], changes: &[Change]) -> f64 {
    time(|| {
        for c in changes {
            let RecordId::Bytes(rid) = &c.record_id else {
                unreachable!()
            };
            let rkey = hex(rid);
            let enc = ingest::encode_change(c);
            std::hint::black_box(
                sealer
                    .seal(
                        Place {
                            clinic,
                            patient,
                            table: "changes",
                            record: rkey.as_bytes(),
                            change: &c.change_id,
                        },
                        &enc,
                    )
                    .expect("seal"),
            );
            let record = format!("1/{rkey}");
            let tips = ingest::encode_tips(std::slice::from_ref(c));
            std::hint::black_box(
                sealer
                    .seal(
                        Place {
                            clinic,
                            patient,
                            table: "records",
                            record: record.as_bytes(),
                            change: &[],
                        },
                        &tips,
                    )
                    .expect("seal"),
            );
        }
    })
}

fn main() {
    let postgres = std::env::args().any(|a| a == "--postgres");
    let opts = Opts {
        quick: true,
        dir: None,
        only: None,
    };
    let dir = Workdir::new(&opts, "cairn-ingest-breakdown").expect("bench folder");
    let cluster = postgres.then(|| {
        if let Some(m) = testing::missing() {
            eprintln!("{m}");
            std::process::exit(2);
        }
        testing::Cluster::start()
    });
    let server = match &cluster {
        None => sqlite_clinic(&dir.join("clinic")),
        Some(c) => {
            let key = dir.join("storage.key");
            StorageKey::generate()
                .and_then(|k| k.create_file(&key))
                .expect("key");
            Server::new(Box::new(
                cairn_clinic::open_postgres(&c.database(), &key, 4, now_ms()).expect("open"),
            ))
        }
    };
    // Each way on tables of its own.
    let mut lite: Vec<Connection> = Vec::new();
    let mut pg: Vec<Pg> = Vec::new();
    for (k, _) in WAYS.iter().enumerate() {
        match &cluster {
            None => {
                let conn = Connection::open(dir.join(&format!("replay-{k}.sqlite"))).expect("open");
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .expect("timeout");
                let _: String = conn
                    .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                    .expect("WAL");
                conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
                    .expect("pragmas");
                conn.execute_batch(TABLES_SQLITE).expect("tables");
                lite.push(conn);
            }
            Some(c) => pg.push(Pg::new(&c.database())),
        }
    }
    let sealer = Sealer::new(&StorageKey::generate().expect("key"));
    let mut noise = vec![0u8; 1 << 20];
    cairn_core::crypto::fill_random(&mut noise).expect("random");
    let clinic = random16();

    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); 3 + WAYS.len()];
    let mut devices = Vec::new();
    let mut n_changes = Vec::new();
    for round in 0..ROUNDS {
        if devices
            .last()
            .is_none_or(|(_, m, i, _): &(SimDevice, Mix, usize, Id16)| *i >= m.batches.len())
        {
            let dev = enroll(&server, &format!("Breakdown {round}"));
            let mix = Mix::new(dev.id, 10_000, Cut::Prepare);
            devices.push((dev, mix, 0, random16()));
        }
        let (dev, mix, i, patient) = devices.last_mut().expect("a device");
        let b = *i;
        *i += 1;
        let changes = mix.batch_changes(b);
        let n = changes.len() as f64;
        n_changes.push(changes.len());
        // The envelope, on a copy sealed like the real one (not sent).
        let (first, last) = mix.seq_range(b);
        let (copy, _) = dev.push_request(first, last, &mix.push_body(b, &dev.cursor), now_ms());
        figures[1].push(envelope(&server, dev, &copy) * 1e6 / n);
        figures[2].push(at_rest(&sealer, &clinic, &patient[..], &changes) * 1e6 / n);
        figures[0].push(push_batch(&server, dev, mix, b) * 1e6 / n);
        let rows = rows(&changes, &noise);
        let ids = Ids {
            clinic: clinic.to_vec(),
            patient: patient.to_vec(),
            device: dev.id.to_vec(),
            now: now_ms() as i64,
        };
        for (k, (way, _)) in WAYS.iter().enumerate() {
            let s = match &cluster {
                None => time(|| sqlite_replay(&mut lite[k], *way, &ids, &rows)),
                Some(_) => time(|| pg[k].replay(*way, &ids, &rows)),
            };
            figures[3 + k].push(s * 1e6 / n);
        }
    }
    let engine = if cluster.is_some() {
        "PostgreSQL (private cluster, fsync off)"
    } else {
        "SQLite (WAL, synchronous=FULL)"
    };
    println!(
        "{engine}: {ROUNDS} rounds, one batch of {}-{} changes each; µs per change (median)",
        n_changes.iter().min().unwrap_or(&0),
        n_changes.iter().max().unwrap_or(&0)
    );
    let labels = [
        "handle (the whole server path)",
        "  envelope: parse, verify, HPKE open, unframe, decode, checks",
        "  at rest: encode and seal each change and its record's tips",
    ];
    for (k, label) in labels.iter().enumerate() {
        println!("{:8.1}  {label}", median(&figures[k]));
    }
    for (k, (_, label)) in WAYS.iter().enumerate() {
        println!("{:8.1}  replay: {label}", median(&figures[3 + k]));
    }
}
