//! The sync cases: what a push weighs on the wire, what encoding and
//! sealing it costs, what the clinic server's ingest costs against plain
//! inserts (SQLite and PostgreSQL), and a bounded load test over HTTP.
//! See bench/README.md.

use std::collections::HashSet;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_clinic::{Server, admin, handle, testing};
use cairn_core::sync::frame;
use cairn_core::sync::messages::{EntryBody, Id16, PushBody};
use cairn_core::sync::wire::ReplyKey;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::device::{SimDevice, random16};
use super::http::Conn;
use super::mix::{Cut, JsonChange, JsonPush, Mix, MixChange, encode_change, hex};
use crate::{Opts, Report, Workdir, alternate, median, note, scaled, time};

/// Changes in the payload and encoding cases.
pub const PAYLOAD_CHANGES: usize = 10_000;
/// The base URL in enrollment codes of the in-process clinics (nothing is
/// sent there: requests go straight to `handle`).
const URL: &str = "https://clinic.example";
/// Bytes the clinic's at-rest sealing adds to a value (format byte, nonce,
/// tag): the raw-insert baselines store blobs this much longer than the
/// encoded change, as the server does.
const SEAL_OVERHEAD: usize = 1 + 12 + 16;
const CONTENT_TYPE: &str = "application/cairn-sync";

/// The server's clock, ms.
pub fn now_ms() -> u64 {
    cairn_clinic::now_ms()
}

/// A clinic on SQLite in `dir` (created).
pub fn sqlite_clinic(dir: &Path) -> Server {
    Server::new(Box::new(
        cairn_clinic::open_sqlite(dir, None, now_ms()).expect("open the SQLite clinic"),
    ))
}

/// A device of a new patient `name`, enrolled through `handle`.
pub fn enroll(server: &Server, name: &str) -> SimDevice {
    let now = now_ms();
    let code = admin::enrollment_code(server, name, 14, URL, now).expect("enrollment code");
    let mut d = SimDevice::new(&code);
    let (req, key) = d.enroll_request(now);
    let reply = handle(server, &req, now).expect("enroll handled");
    d.read(&reply, &key).expect("enrolled");
    d
}

/// Sends batch `i` of `mix` from `dev` through `handle`, checking that
/// every change was applied; returns the seconds `handle` took.
pub fn push_batch(server: &Server, dev: &mut SimDevice, mix: &Mix, i: usize) -> f64 {
    let now = now_ms();
    let (first, last) = mix.seq_range(i);
    let (req, key) = dev.push_request(first, last, &mix.push_body(i, &dev.cursor), now);
    let mut reply = Vec::new();
    let s = time(|| reply = handle(server, &req, now).expect("push handled"));
    let ok = dev.read(&reply, &key).expect("an ok reply");
    assert_eq!(ok.last_applied, last, "every change of the batch applied");
    assert!(
        ok.rejected.is_empty(),
        "no change rejected: {:?}",
        ok.rejected
    );
    s
}

/// The device, its 10,000 changes and the clinic they go to, for cases
/// 1 and 2.
struct Payload {
    server: Server,
    dev: SimDevice,
    mix: Mix,
}

fn payload(dir: &Workdir) -> Payload {
    let server = sqlite_clinic(&dir.join("payload-clinic"));
    let dev = enroll(&server, "Payload");
    let t = Instant::now();
    let mix = Mix::new(dev.id, PAYLOAD_CHANGES, Cut::Prepare);
    note(&format!(
        "payload: {} changes ({} new entries, {} edits, {} deletes) in {} batches, made in {:.2} s",
        mix.changes.len(),
        mix.puts,
        mix.edits,
        mix.deletes,
        mix.batches.len(),
        t.elapsed().as_secs_f64()
    ));
    Payload { server, dev, mix }
}

/// Case: bytes per change of real push requests (the core's encoding, LZ4
/// framing, HPKE, signature) for the 10,000 changes in sync_prepare's
/// batches, against the same changes as named-field JSON. The requests are
/// then sent to a real clinic, which must apply every change.
pub fn push_payload_bytes_vs_json(_opts: &Opts, dir: &Workdir) {
    const NAME: &str = "push_payload_bytes_vs_json";
    let Payload {
        server,
        mut dev,
        mix,
    } = payload(dir);
    let json: Vec<JsonChange<'_>> = mix.changes.iter().map(MixChange::json).collect();
    let n = mix.changes.len() as f64;
    let (mut ours, mut body, mut framed, mut base, mut base_lz4) = (0, 0, 0, 0, 0);
    let mut envelope = Vec::new();
    for i in 0..mix.batches.len() {
        let now = now_ms();
        let (first, last) = mix.seq_range(i);
        let encoded = mix.push_body(i, &dev.cursor).encode();
        let (req, key) = dev.push_request_raw(first, last, &encoded, now);
        let f = frame::frame(&encoded, false).len();
        ours += req.len();
        body += encoded.len();
        framed += f;
        envelope.push(req.len() - f - 16);
        let cursor = hex(&dev.cursor);
        let j = serde_json::to_vec(&JsonPush {
            cursor: Some(&cursor),
            changes: &json[mix.batches[i].clone()],
        })
        .expect("JSON");
        base += j.len();
        base_lz4 += frame::frame(&j, false).len();
        // A real request: the clinic applies every change of it.
        let reply = handle(&server, &req, now).expect("push handled");
        let ok = dev.read(&reply, &key).expect("an ok reply");
        assert_eq!(ok.last_applied, last);
        assert!(ok.rejected.is_empty(), "rejected: {:?}", ok.rejected);
    }
    let per = |x: usize| ((x as f64 / n) * 10.0).round() / 10.0;
    let r = Report {
        name: NAME.into(),
        ours: ours as f64 / n,
        baseline: base as f64 / n,
        unit: "bytes/change",
        extra: Vec::new(),
    };
    r.with("target", 0.35)
        .with("n", mix.changes.len())
        .with("puts", mix.puts)
        .with("edits", mix.edits)
        .with("deletes", mix.deletes)
        .with("batches", mix.batches.len())
        .with("request_bytes", ours)
        .with("json_bytes", base)
        .with("body_bytes_per_change", per(body))
        .with("lz4_framed_bytes_per_change", per(framed))
        .with("envelope_bytes_per_request", envelope[0])
        .with("json_lz4_framed_bytes_per_change", per(base_lz4))
        .with("all_applied", true)
        .print();
}

/// Case: time to encode the 10,000 changes (each entry body, then each
/// batch's push body) and frame (LZ4) and seal (HPKE, Ed25519) each batch
/// as `sync_prepare` does, against `serde_json::to_vec` of the same
/// changes as JSON structs (ids already hex strings), batch by batch.
pub fn encode_10k_changes_vs_json(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "encode_10k_changes_vs_json";
    let rounds = opts.pick(15, 61);
    let Payload { dev, mix, .. } = payload(dir);
    let json: Vec<JsonChange<'_>> = mix.changes.iter().map(MixChange::json).collect();
    let cursor = dev.cursor.clone();
    let cursor_hex = hex(&cursor);
    let nb = mix.batches.len();
    // The push bodies, their changes' bodies filled in the timed part.
    let mut bodies: Vec<PushBody> = (0..nb)
        .map(|i| PushBody {
            changes: mix.changes[mix.batches[i].clone()]
                .iter()
                .map(|m| m.change.clone())
                .collect(),
            cursor: cursor.clone(),
        })
        .collect();
    let encode = |bodies: &mut Vec<PushBody>, i: usize| -> Vec<u8> {
        let start = mix.batches[i].start;
        for (k, c) in bodies[i].changes.iter_mut().enumerate() {
            c.body = mix.changes[start + k].entry.as_ref().map(EntryBody::encode);
        }
        bodies[i].encode()
    };
    let ours_one = |bodies: &mut Vec<PushBody>| {
        time(|| {
            for i in 0..nb {
                let (first, last) = mix.seq_range(i);
                let b = encode(bodies, i);
                black_box(dev.push_request_raw(first, last, &b, 1));
            }
        })
    };
    let base_one = || {
        time(|| {
            for r in &mix.batches {
                black_box(
                    serde_json::to_vec(&JsonPush {
                        cursor: Some(&cursor_hex),
                        changes: &json[r.clone()],
                    })
                    .expect("JSON"),
                );
            }
        })
    };
    // One untimed pass of each (allocator, caches).
    ours_one(&mut bodies);
    base_one();
    note(&format!("{NAME}: {rounds} rounds a side"));
    let mut bodies_cell = bodies;
    let (o, b) = alternate(rounds, 1, || ours_one(&mut bodies_cell), base_one);
    let (o, b) = (scaled(&o, 1e3), scaled(&b, 1e3));
    // Where ours goes: each step timed alone.
    let (mut enc, mut lz4, mut seal) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opts.pick(7, 21) {
        let mut encoded = Vec::with_capacity(nb);
        enc.push(time(|| {
            for i in 0..nb {
                encoded.push(encode(&mut bodies_cell, i));
            }
        }));
        lz4.push(time(|| {
            for e in &encoded {
                black_box(frame::frame(e, false));
            }
        }));
        seal.push(time(|| {
            for (i, e) in encoded.iter().enumerate() {
                let (first, last) = mix.seq_range(i);
                black_box(dev.push_request_raw(first, last, e, 1));
            }
        }));
    }
    let ms = |xs: &[f64]| (median(xs) * 1e6).round() / 1e3;
    Report::from_rounds(NAME, "ms", &o, &b, Some(1.0))
        .with("n", mix.changes.len())
        .with("batches", nb)
        .with("ours_encode_ms", ms(&enc))
        .with("ours_lz4_frame_ms", ms(&lz4))
        .with("ours_frame_seal_sign_ms", ms(&seal))
        .print();
}

// --- server ingest ---------------------------------------------------------------

/// The engine of an ingest case.
enum Engine<'a> {
    Sqlite,
    Postgres(&'a testing::Cluster),
}

/// One change's rows for the raw baselines (as the server stores them).
struct RawRow {
    change_id: Id16,
    seq: i64,
    kind: i64,
    record_id: String,
    hlc: i64,
    op: i64,
    body_len: usize,
}

/// What a raw baseline inserts for a batch.
#[derive(Clone, Copy, PartialEq)]
enum RawRows {
    /// The rows the server stores for it, into the server's own schema:
    /// a `requests` row; per change a `changes` row; per record touched a
    /// `records` row (its tip's feed position) and an owner row (new ids
    /// only: `ON CONFLICT DO NOTHING`); the patient's feed and the device's
    /// last sequence updated. The issue's baseline, "inserting the same
    /// rows directly".
    Same,
    /// The `changes` rows alone (the baseline before 2026-12-03), printed
    /// beside it.
    ChangesOnly,
}

/// The raw baseline's connection, its schema the server's.
enum Raw {
    Sqlite(Connection, Box<LiteSql>, RawRows),
    Postgres(Box<postgres::Client>, Box<PgStatements>, RawRows),
}

/// The PostgreSQL baseline's statements, prepared once.
struct PgStatements {
    change: postgres::Statement,
    request: postgres::Statement,
    owner: postgres::Statement,
    record: postgres::Statement,
    feed: postgres::Statement,
    device: postgres::Statement,
}

const INSERT_CHANGE: &str = "INSERT INTO changes (clinic_id, patient_id, change_id, device_id, seq,
    server_seq, feed_hash, record_table, record_id, hlc, op, sealed_body, received_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const INSERT_REQUEST: &str = "INSERT INTO requests (clinic_id, device_id, request_id, received_at,
    request_hash) VALUES ($1, $2, $3, $4, $5)";
const INSERT_OWNER: &str = "INSERT INTO record_owners (clinic_id, record_id, patient_id)
    VALUES ($1, $2, $3) ON CONFLICT (clinic_id, record_id) DO NOTHING";
const UPSERT_RECORD: &str = "INSERT INTO records (clinic_id, patient_id, record_table, record_id,
    tip_position, stamp, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (clinic_id, patient_id, record_table, record_id) DO UPDATE
    SET sealed_state = NULL, tip_position = excluded.tip_position, stamp = excluded.stamp,
        updated_at = excluded.updated_at";
const UPDATE_FEED: &str = "UPDATE feeds SET position = $3, hlc = $4, hash = $5
    WHERE clinic_id = $1 AND patient_id = $2";
const UPDATE_DEVICE: &str = "UPDATE devices SET last_applied_seq = $3, last_seen_at = $4
    WHERE clinic_id = $1 AND device_id = $2";

/// `sql` with SQLite's `?N` for PostgreSQL's `$N`.
fn lite(sql: &str) -> String {
    sql.replace('$', "?")
}

/// The SQLite baseline's statements, translated once (`prepare_cached`
/// prepares each once).
struct LiteSql {
    change: String,
    request: String,
    owner: String,
    record: String,
    feed: String,
    device: String,
}

/// One batch for the raw baselines, made before the clock starts: its
/// changes' rows, and per record touched (last change first) its kind, id,
/// the feed position and HLC of its last change.
struct RawBatch {
    rows: Vec<RawRow>,
    touched: Vec<(i64, String, i64, i64)>,
}

impl RawBatch {
    fn new(rows: Vec<RawRow>) -> RawBatch {
        let mut seen = HashSet::new();
        let touched = rows
            .iter()
            .rev()
            .filter(|r| seen.insert((r.kind, r.record_id.as_str())))
            .map(|r| (r.kind, r.record_id.clone(), r.seq, r.hlc))
            .collect();
        RawBatch { rows, touched }
    }
}

impl Raw {
    fn open(engine: &Engine<'_>, dir: &Workdir, rows: RawRows) -> Raw {
        let tag = match rows {
            RawRows::Same => "same",
            RawRows::ChangesOnly => "changes",
        };
        match engine {
            Engine::Sqlite => {
                let conn =
                    Connection::open(dir.join(&format!("ingest-raw-{tag}.sqlite"))).expect("open");
                // The clinic's pragmas (clinic/src/storage/sqlite.rs).
                conn.busy_timeout(Duration::from_secs(10)).expect("timeout");
                let mode: String = conn
                    .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                    .expect("WAL");
                assert_eq!(mode, "wal");
                conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
                    .expect("pragmas");
                conn.execute_batch(cairn_clinic::storage::sqlite::SCHEMA)
                    .expect("schema");
                let sql = LiteSql {
                    change: lite(INSERT_CHANGE),
                    request: lite(INSERT_REQUEST),
                    owner: lite(INSERT_OWNER),
                    record: lite(UPSERT_RECORD),
                    feed: lite(UPDATE_FEED),
                    device: lite(UPDATE_DEVICE),
                };
                Raw::Sqlite(conn, Box::new(sql), rows)
            }
            Engine::Postgres(cluster) => {
                let url = cluster.database();
                let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                let schema = format!("raw_{tag}");
                c.batch_execute(&format!(
                    "CREATE SCHEMA {schema}; SET search_path TO {schema};"
                ))
                .expect("schema");
                c.batch_execute(cairn_clinic::storage::postgres::SCHEMA)
                    .expect("tables");
                let mut prepare = |sql: &str| c.prepare(sql).expect("prepare");
                let statements = PgStatements {
                    change: prepare(INSERT_CHANGE),
                    request: prepare(INSERT_REQUEST),
                    owner: prepare(INSERT_OWNER),
                    record: prepare(UPSERT_RECORD),
                    feed: prepare(UPDATE_FEED),
                    device: prepare(UPDATE_DEVICE),
                };
                Raw::Postgres(Box::new(c), Box::new(statements), rows)
            }
        }
    }

    /// The patient's feed row and the device's row, once, untimed (the
    /// server has them from enrollment).
    fn enroll(&mut self, ids: (&Id16, &Id16, &Id16)) {
        let (clinic, patient, device) = ids;
        const FEED: &str = "INSERT INTO feeds (clinic_id, patient_id, position, hlc)
            VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING";
        const DEVICE: &str = "INSERT INTO devices (clinic_id, device_id, patient_id, public_key,
            enrollment_id, sealed_categories, enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, 0)
            ON CONFLICT DO NOTHING";
        let (c, p, d) = (&clinic[..], &patient[..], &device[..]);
        let (key, blob) = ([7u8; 32], [9u8; 60]);
        match self {
            Raw::Sqlite(conn, _, _) => {
                conn.execute(&lite(FEED), params![c, p]).expect("feed");
                conn.execute(&lite(DEVICE), params![c, d, p, &key[..], d, &blob[..]])
                    .expect("device");
            }
            Raw::Postgres(conn, _, _) => {
                conn.execute(FEED, &[&c, &p]).expect("feed");
                conn.execute(DEVICE, &[&c, &d, &p, &&key[..], &d, &&blob[..]])
                    .expect("device");
            }
        }
    }

    /// Inserts one push's rows in one transaction, each statement prepared
    /// once per connection.
    fn insert(&mut self, ids: (&Id16, &Id16, &Id16), batch: &RawBatch, noise: &[u8], now: i64) {
        let (clinic, patient, device) = ids;
        let blob = |seq: i64, len: usize| {
            let off = (seq as usize * 7919) % (noise.len() - len);
            &noise[off..off + len]
        };
        let hash = |seq: i64| blob(seq + 1, 16);
        let (c, p, d) = (&clinic[..], &patient[..], &device[..]);
        let RawBatch { rows, touched } = batch;
        let Some(last) = rows.last() else { return };
        match self {
            Raw::Sqlite(conn, sql, what) => {
                let what = *what;
                let t = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .expect("begin");
                if what == RawRows::Same {
                    t.prepare_cached(&sql.request)
                        .and_then(|mut s| {
                            s.execute(params![c, d, blob(last.seq, 16), now, hash(last.seq)])
                        })
                        .expect("request");
                }
                {
                    let mut s = t.prepare_cached(&sql.change).expect("prepare");
                    for r in rows {
                        s.execute(params![
                            c,
                            p,
                            &r.change_id[..],
                            d,
                            r.seq,
                            r.seq,
                            hash(r.seq),
                            r.kind,
                            r.record_id,
                            r.hlc,
                            r.op,
                            blob(r.seq, r.body_len),
                            now
                        ])
                        .expect("insert");
                    }
                }
                if what == RawRows::Same {
                    {
                        let mut owner = t.prepare_cached(&sql.owner).expect("prepare");
                        let mut record = t.prepare_cached(&sql.record).expect("prepare");
                        for (kind, id, pos, hlc) in touched {
                            owner.execute(params![c, id, p]).expect("owner");
                            record
                                .execute(params![c, p, kind, id, pos, hlc, now])
                                .expect("record");
                        }
                    }
                    t.prepare_cached(&sql.feed)
                        .and_then(|mut s| {
                            s.execute(params![c, p, last.seq, last.hlc, hash(last.seq)])
                        })
                        .expect("feed");
                    t.prepare_cached(&sql.device)
                        .and_then(|mut s| s.execute(params![c, d, last.seq, now]))
                        .expect("device");
                }
                t.commit().expect("commit");
            }
            Raw::Postgres(conn, st, what) => {
                let what = *what;
                let mut t = conn.transaction().expect("begin");
                if what == RawRows::Same {
                    t.execute(
                        &st.request,
                        &[&c, &d, &blob(last.seq, 16), &now, &hash(last.seq)],
                    )
                    .expect("request");
                }
                for r in rows {
                    t.execute(
                        &st.change,
                        &[
                            &c,
                            &p,
                            &&r.change_id[..],
                            &d,
                            &r.seq,
                            &r.seq,
                            &hash(r.seq),
                            &r.kind,
                            &r.record_id,
                            &r.hlc,
                            &r.op,
                            &blob(r.seq, r.body_len),
                            &now,
                        ],
                    )
                    .expect("insert");
                }
                if what == RawRows::Same {
                    for (kind, id, pos, hlc) in touched {
                        t.execute(&st.owner, &[&c, id, &p]).expect("owner");
                        t.execute(&st.record, &[&c, &p, kind, id, pos, hlc, &now])
                            .expect("record");
                    }
                    t.execute(&st.feed, &[&c, &p, &last.seq, &last.hlc, &hash(last.seq)])
                        .expect("feed");
                    t.execute(&st.device, &[&c, &d, &last.seq, &now])
                        .expect("device");
                }
                t.commit().expect("commit");
            }
        }
    }
}

/// A device pushing its mix, batch after batch.
struct Pusher {
    dev: SimDevice,
    mix: Mix,
    patient: Id16,
}

/// Case: one push batch (as sync_prepare cuts it) through `handle` (open,
/// verify, decrypt, validate, merge, seal at rest, commit, pull, reply)
/// against inserting the same changes as rows of a table shaped like the
/// server's `changes`, one transaction per batch, same engine.
fn server_ingest(opts: &Opts, dir: &Workdir, engine: Engine<'_>, name: &str) {
    let rounds = opts.pick(4, 15);
    let server = match &engine {
        Engine::Sqlite => sqlite_clinic(&dir.join("ingest-clinic")),
        Engine::Postgres(cluster) => {
            let key = dir.join("ingest-postgres.key");
            cairn_clinic::seal::StorageKey::generate()
                .and_then(|k| k.create_file(&key))
                .expect("storage key");
            Server::new(Box::new(
                cairn_clinic::open_postgres(&cluster.database(), &key, 4, now_ms())
                    .expect("open the PostgreSQL clinic"),
            ))
        }
    };
    let mut raw = Raw::open(&engine, dir, RawRows::Same);
    let mut changes_only = Raw::open(&engine, dir, RawRows::ChangesOnly);
    let mut changes_only_ms = Vec::new();
    // The schedule: (device, batch) per round; a new patient's device when
    // one runs out of batches.
    let mut pushers: Vec<Pusher> = Vec::new();
    let mut schedule = Vec::new();
    while schedule.len() < rounds {
        let dev = enroll(&server, &format!("Ingest {}", pushers.len()));
        let mix = Mix::new(dev.id, PAYLOAD_CHANGES, Cut::Prepare);
        for i in 0..mix.batches.len() {
            schedule.push((pushers.len(), i));
        }
        pushers.push(Pusher {
            dev,
            mix,
            patient: random16(),
        });
    }
    schedule.truncate(rounds);
    let clinic = random16();
    // Each baseline has the patients' feed rows and the devices' rows
    // before the clock starts, as the server has them from enrollment.
    for p in &pushers {
        let ids = (&clinic, &p.patient, &p.dev.id);
        raw.enroll(ids);
        changes_only.enroll(ids);
    }
    let mut noise = vec![0u8; 1 << 20];
    cairn_core::crypto::fill_random(&mut noise).expect("random");
    let rows_of = |p: &Pusher, i: usize| -> Vec<RawRow> {
        p.mix.changes[p.mix.batches[i].clone()]
            .iter()
            .map(|m| {
                let c = m.to_change();
                RawRow {
                    change_id: c.change_id,
                    seq: c.seq as i64,
                    kind: c.kind as i64,
                    record_id: hex(match &c.record_id {
                        cairn_core::sync::messages::RecordId::Bytes(b) => b,
                        cairn_core::sync::messages::RecordId::Text(_) => unreachable!(),
                    }),
                    hlc: c.hlc as i64,
                    op: c.op as i64,
                    body_len: encode_change(&c).len() + SEAL_OVERHEAD,
                }
            })
            .collect()
    };
    let changes: Vec<usize> = schedule
        .iter()
        .map(|&(p, i)| pushers[p].mix.batches[i].len())
        .collect();
    note(&format!(
        "{name}: {rounds} rounds of one batch a side ({}-{} changes each), interleaved",
        changes.iter().min().unwrap_or(&0),
        changes.iter().max().unwrap_or(&0)
    ));
    let (mut ours_round, mut base_round) = (0usize, 0usize);
    let pushers_cell = std::cell::RefCell::new(pushers);
    let (o, b) = alternate(
        rounds,
        1,
        || {
            let (p, i) = schedule[ours_round];
            ours_round += 1;
            let mut ps = pushers_cell.borrow_mut();
            let Pusher { dev, mix, .. } = &mut ps[p];
            push_batch(&server, dev, mix, i)
        },
        || {
            let (p, i) = schedule[base_round];
            base_round += 1;
            let ps = pushers_cell.borrow();
            let batch = RawBatch::new(rows_of(&ps[p], i));
            let ids = (&clinic, &ps[p].patient, &ps[p].dev.id);
            let now = now_ms() as i64;
            // The changes-only baseline too, in turn before or after.
            let mut other =
                || changes_only_ms.push(time(|| changes_only.insert(ids, &batch, &noise, now)));
            if base_round % 2 == 0 {
                other();
            }
            let t = time(|| raw.insert(ids, &batch, &noise, now));
            if base_round % 2 == 1 {
                other();
            }
            t
        },
    );
    let (o, b) = (scaled(&o, 1e3), scaled(&b, 1e3));
    let c = scaled(&changes_only_ms, 1e3);
    let per_change = |xs: &[f64]| {
        let v: Vec<f64> = xs
            .iter()
            .zip(&changes)
            .map(|(ms, n)| ms * 1e3 / *n as f64)
            .collect();
        (median(&v) * 10.0).round() / 10.0
    };
    Report::from_rounds(name, "ms/batch", &o, &b, Some(3.0))
        .with(
            "changes_per_batch",
            median(&changes.iter().map(|&n| n as f64).collect::<Vec<_>>()),
        )
        .with("ours_us_per_change", per_change(&o))
        .with("baseline_us_per_change", per_change(&b))
        .with("changes_only_us_per_change", per_change(&c))
        .with(
            "ratio_vs_changes_only",
            (median(&o) / median(&c) * 1000.0).round() / 1000.0,
        )
        .print();
}

/// Case: `server_ingest` on SQLite (the clinic's pragmas: WAL,
/// synchronous=FULL), files in the bench folder.
pub fn server_ingest_vs_raw_insert_sqlite(opts: &Opts, dir: &Workdir) {
    server_ingest(
        opts,
        dir,
        Engine::Sqlite,
        "server_ingest_vs_raw_insert_sqlite",
    );
}

/// Case: `server_ingest` on a private PostgreSQL cluster (clinic's
/// `testing` feature); a skip line when its binaries are missing.
pub fn server_ingest_vs_raw_insert_postgres(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "server_ingest_vs_raw_insert_postgres";
    if let Some(why) = testing::missing() {
        note(&format!("{NAME}: skipped: {why}"));
        println!(
            "{}",
            serde_json::json!({"name": NAME, "skipped": true, "reason": why})
        );
        return;
    }
    let t = Instant::now();
    let cluster = testing::Cluster::start();
    note(&format!(
        "{NAME}: private cluster on 127.0.0.1:{} started in {:.1} s",
        cluster.port,
        t.elapsed().as_secs_f64()
    ));
    server_ingest(opts, dir, Engine::Postgres(&cluster), NAME);
    drop(cluster);
}

// --- load over HTTP ----------------------------------------------------------------

/// Sends each thread's requests in order on its own keep-alive connection
/// (one thread per list); returns the replies in the same shape, each
/// request's latency (seconds), and the wall time of the whole.
fn run_clients(addr: SocketAddr, jobs: &[Vec<&[u8]>]) -> (Vec<Vec<Vec<u8>>>, Vec<f64>, f64) {
    let start = Instant::now();
    let results: Vec<(Vec<Vec<u8>>, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|list| {
                s.spawn(move || {
                    let mut conn = Conn::new(addr);
                    let mut replies = Vec::with_capacity(list.len());
                    let mut lat = Vec::with_capacity(list.len());
                    for body in list {
                        let t = Instant::now();
                        let (status, reply) = conn
                            .post("/v1/sync", CONTENT_TYPE, body)
                            .expect("the server answers");
                        lat.push(t.elapsed().as_secs_f64());
                        assert_eq!(status, 200, "HTTP status");
                        replies.push(reply);
                    }
                    (replies, lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let mut replies = Vec::new();
    let mut lat = Vec::new();
    for (r, l) in results {
        replies.push(r);
        lat.extend(l);
    }
    (replies, lat, wall)
}

/// The `p`-th percentile (0-100) of `xs`, nearest rank.
fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// A device's pushes: its changes, cut every `per_push`.
fn plan(dev: &SimDevice, pushes: usize, per_push: usize) -> Mix {
    let mix = Mix::new(dev.id, pushes * per_push, Cut::Every(per_push));
    assert_eq!(mix.batches.len(), pushes);
    mix
}

/// Push `k` of `mix`, sealed with the cursor the device holds now.
fn seal_push(dev: &SimDevice, mix: &Mix, k: usize) -> (Vec<u8>, ReplyKey) {
    let (first, last) = mix.seq_range(k);
    dev.push_request(first, last, &mix.push_body(k, &dev.cursor), now_ms())
}

/// Reads push `k`'s reply: ok, and every change up to it applied.
fn check_reply(dev: &mut SimDevice, mix: &Mix, k: usize, key: &ReplyKey, reply: &[u8]) {
    let ok = dev.read(reply, key).expect("an ok push reply");
    assert_eq!(ok.last_applied, mix.seq_range(k).1, "push {k} applied");
    assert!(ok.rejected.is_empty(), "rejected: {:?}", ok.rejected);
    assert!(!ok.more, "one patient, one device: nothing to pull");
}

/// Case: a bounded load test on loopback. The real HTTP server
/// (`cairn_clinic::http::serve`, axum on tokio, as `cairn-clinic serve`
/// runs it) on SQLite in the bench folder; devices enrolled over HTTP, then
/// each sending its changes in pushes over HTTP from 32 client threads with
/// keep-alive connections, round by round (every device's push k is sealed,
/// with the cursor its last reply gave it, before the round's clock
/// starts: the devices' own CPU is not the server's). Afterwards it CHECKS
/// (asserts) every reply and that the clinic holds every change sent
/// exactly once. The baseline: the same pushes through `handle` called
/// directly on one thread (no HTTP, no concurrency) on a clinic of its
/// own, for up to 100 devices.
pub fn load_1000_devices(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "load_1000_devices";
    const CLIENTS: usize = 32;
    let (devices, pushes, per_push) = opts.pick((100, 2, 10), (1000, 5, 20));
    let changes_per_device = pushes * per_push;
    let total = devices * changes_per_device;

    // The baseline first: direct calls, one thread.
    let direct = sqlite_clinic(&dir.join("load-direct"));
    let sample = devices.min(100);
    let mut direct_s = 0.0;
    for d in 0..sample {
        let mut dev = enroll(&direct, &format!("Direct {d}"));
        let mix = plan(&dev, pushes, per_push);
        for k in 0..pushes {
            let (req, key) = seal_push(&dev, &mix, k);
            let now = now_ms();
            let mut reply = Vec::new();
            direct_s += time(|| reply = handle(&direct, &req, now).expect("handled"));
            check_reply(&mut dev, &mix, k, &key, &reply);
        }
    }
    drop(direct);
    let base_us = direct_s * 1e6 / (sample * changes_per_device) as f64;

    // The server.
    let data = dir.join("load-clinic");
    let server = Arc::new(sqlite_clinic(&data));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("listen on loopback");
    let addr = listener.local_addr().expect("address");
    let url = format!("http://{addr}");
    let t = Instant::now();
    let now = now_ms();
    let codes: Vec<String> = (0..devices)
        .map(|i| {
            admin::enrollment_code(&server, &format!("Load {i}"), 14, &url, now)
                .expect("enrollment code")
        })
        .collect();
    note(&format!(
        "{NAME}: {devices} enrollment codes in {:.1} s; serving on {url}",
        t.elapsed().as_secs_f64()
    ));
    rt.spawn(cairn_clinic::http::serve(
        listener,
        server.clone(),
        std::future::pending(),
    ));
    let mut devs: Vec<SimDevice> = codes.iter().map(|c| SimDevice::new(c)).collect();
    // Client thread t sends for devices t, t + 32, ...
    let threads: Vec<Vec<usize>> = (0..CLIENTS)
        .map(|t| (t..devices).step_by(CLIENTS).collect())
        .collect();

    // Enrollment over HTTP.
    let enrolls: Vec<(Vec<u8>, ReplyKey)> =
        devs.iter().map(|d| d.enroll_request(now_ms())).collect();
    let jobs: Vec<Vec<&[u8]>> = threads
        .iter()
        .map(|ds| ds.iter().map(|&d| enrolls[d].0.as_slice()).collect())
        .collect();
    let (replies, enroll_lat, enroll_wall) = run_clients(addr, &jobs);
    for (ds, rs) in threads.iter().zip(&replies) {
        for (&d, r) in ds.iter().zip(rs) {
            devs[d].read(r, &enrolls[d].1).expect("enrolled over HTTP");
        }
    }
    note(&format!(
        "{NAME}: {devices} devices enrolled over HTTP in {enroll_wall:.1} s; \
         then {pushes} rounds of one push of {per_push} changes a device, {CLIENTS} clients"
    ));

    // The pushes, round by round: every device's push k is sealed (with
    // the cursor its last reply gave it) before the clock starts, sent,
    // and its reply read after the round.
    let mixes: Vec<Mix> = devs.iter().map(|d| plan(d, pushes, per_push)).collect();
    let (mut push_lat, mut push_wall) = (Vec::new(), 0.0);
    for k in 0..pushes {
        let sealed: Vec<(Vec<u8>, ReplyKey)> = std::thread::scope(|s| {
            let half = devices.div_ceil(2);
            let parts: Vec<_> = devs
                .chunks(half)
                .zip(mixes.chunks(half))
                .map(|(ds, ms)| {
                    s.spawn(move || {
                        ds.iter()
                            .zip(ms)
                            .map(|(d, m)| seal_push(d, m, k))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|h| h.join().expect("sealing thread"))
                .collect()
        });
        let jobs: Vec<Vec<&[u8]>> = threads
            .iter()
            .map(|ds| ds.iter().map(|&d| sealed[d].0.as_slice()).collect())
            .collect();
        let (replies, lat, wall) = run_clients(addr, &jobs);
        push_lat.extend(lat);
        push_wall += wall;
        for (ds, rs) in threads.iter().zip(&replies) {
            for (&d, r) in ds.iter().zip(rs) {
                check_reply(&mut devs[d], &mixes[d], k, &sealed[d].1, r);
            }
        }
    }
    rt.shutdown_timeout(Duration::from_secs(10));
    drop(server);

    // The clinic holds every change sent, exactly once.
    let db = Connection::open_with_flags(
        data.join(cairn_clinic::storage::sqlite::FILE_NAME),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the clinic's database");
    let (stored, distinct): (i64, i64) = db
        .query_row(
            "SELECT count(*), count(DISTINCT change_id) FROM changes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    let held: HashSet<Vec<u8>> = db
        .prepare("SELECT change_id FROM changes")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<Result<_, _>>()
        })
        .expect("change ids");
    let sent: HashSet<Vec<u8>> = mixes
        .iter()
        .flat_map(|m| m.changes.iter().map(|c| c.change.change_id.to_vec()))
        .collect();
    let applied: i64 = db
        .query_row(
            "SELECT count(*) FROM devices WHERE last_applied_seq = ?1",
            [changes_per_device as i64],
            |r| r.get(0),
        )
        .expect("devices");
    assert_eq!(sent.len(), total, "every change id sent is distinct");
    assert_eq!(stored as usize, total, "stored changes == changes sent");
    assert_eq!(distinct as usize, total, "each change id once");
    assert!(held == sent, "the stored change ids are the ids sent");
    assert_eq!(applied as usize, devices, "every device fully applied");

    let ours_us = push_wall * 1e6 / total as f64;
    let ms = |x: f64| (x * 1e4).round() / 10.0;
    let r = Report {
        name: NAME.into(),
        ours: ours_us,
        baseline: base_us,
        unit: "us/change",
        extra: Vec::new(),
    };
    r.with("devices", devices)
        .with("changes_per_device", changes_per_device)
        .with("pushes_per_device", pushes)
        .with("clients", CLIENTS)
        .with("changes_per_s", (total as f64 / push_wall).round())
        .with("push_p50_ms", ms(percentile(&push_lat, 50.0)))
        .with("push_p99_ms", ms(percentile(&push_lat, 99.0)))
        .with("push_max_ms", ms(percentile(&push_lat, 100.0)))
        .with("push_wall_s", (push_wall * 100.0).round() / 100.0)
        .with("enroll_per_s", (devices as f64 / enroll_wall).round())
        .with("enroll_p99_ms", ms(percentile(&enroll_lat, 99.0)))
        .with("baseline_devices", sample)
        .with(
            "check",
            serde_json::json!({
                "stored": stored, "distinct": distinct, "sent": total,
                "all_sent_held": true, "devices_fully_applied": applied
            }),
        )
        .print();
}
