//! Cairn against SQLCipher, in one process.
//!
//! `cargo run --release --manifest-path bench/sqlcipher/Cargo.toml -- [--quick] [--dir PATH] [--only CASE]`
//!
//! This crate is a workspace of its own so that rusqlite's
//! `bundled-sqlcipher-vendored-openssl` feature never reaches the shipped
//! library's build. Inside this build, libsqlite3-sys is compiled once, as
//! SQLCipher, and cairn-core links it too: Cairn's store then runs on
//! SQLCipher's engine *unkeyed* (it never issues `PRAGMA key`), which is
//! plain SQLite behaviour (no page encryption, the ordinary file format).
//! So both sides here run on the very same SQLite build; the difference is
//! Cairn's record sealing against SQLCipher's page encryption.
//!
//! Prints one JSON object per line on stdout, progress on stderr.

use cairn_bench::{
    Generator, KEY, Opts, Report, Workdir, alternate, build_store, create_store, days_query,
    first_day, last_day, note, open_and_read, scaled, store_pragmas, time, warm_wal,
};
use cairn_core::{Entry, NewEntry, Tag, TagGroup, Value};
use chrono::Utc;
use rusqlite::{Connection, Row, TransactionBehavior, params};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let opts = Opts::from_args();
    let started = Instant::now();
    let dir = Workdir::new(&opts, "cairn-bench-sqlcipher").expect("make the bench folder");
    let engine = engine_versions(&dir);
    note(&format!(
        "mode {}, files in {}, engine {engine}",
        if opts.quick { "quick" } else { "full" },
        dir.path().display()
    ));
    if opts.wants("write_entry_vs_sqlcipher") {
        write_entry_vs_sqlcipher(&opts, &dir, &engine);
    }
    if opts.wants("read_year_vs_sqlcipher") {
        read_year_vs_sqlcipher(&opts, &dir, &engine);
    }
    note(&format!("done in {:.1} s", started.elapsed().as_secs_f64()));
}

/// "SQLCipher x.y.z, SQLite a.b.c", checking on the way that the engine
/// is SQLCipher (an unkeyed connection, as Cairn's, answers the pragma).
fn engine_versions(dir: &Workdir) -> String {
    let conn = Connection::open(dir.join("probe.db")).expect("open probe");
    let cipher: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .ok();
    let cipher = cipher.expect("this build must link SQLCipher (no cipher_version)");
    format!("SQLCipher {cipher}, SQLite {}", rusqlite::version())
}

/// `PRAGMA key` with the benchmark key as a raw 256-bit key: no PBKDF2
/// (SQLCipher's equivalent of Cairn's `Key::Raw` from the keystore).
fn key_pragma() -> String {
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    format!("PRAGMA key = \"x'{hex}'\";")
}

/// Opens (or creates) a SQLCipher database keyed with [`KEY`], with the
/// pragmas Cairn's store uses.
fn open_cipher(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open sqlcipher");
    conn.execute_batch(&key_pragma()).expect("key");
    store_pragmas(&conn);
    conn
}

/// The same content as Cairn's sealed body, as plaintext columns (inside
/// SQLCipher's encrypted pages), plus Cairn's outbox.
const SCHEMA: &str = "
CREATE TABLE entries (
    id         TEXT NOT NULL UNIQUE,
    tracker    TEXT NOT NULL,
    kind       INTEGER NOT NULL,  -- which Value variant
    num        REAL,              -- scale
    int        INTEGER,           -- minutes, count
    text       TEXT,              -- journal text, medication name
    flag       INTEGER,           -- yes/no, taken, sleep quality
    note       TEXT,
    tags       TEXT,              -- 'trigger:work' lines
    at         INTEGER NOT NULL,  -- ms since 1970
    zone       TEXT NOT NULL,
    utc_offset INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revision   INTEGER NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX entries_by_at ON entries(at, id) WHERE deleted = 0;
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    record_table TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    op           TEXT NOT NULL CHECK (op IN ('put', 'delete'))
);
";

const INSERT: &str = "INSERT INTO entries(id, tracker, kind, num, int, text, flag, note, tags,
     at, zone, utc_offset, created_at, updated_at, revision, deleted)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0)";

const SELECT: &str = "SELECT id, tracker, kind, num, int, text, flag, note, tags,
     at, zone, utc_offset, created_at, updated_at, revision
     FROM entries WHERE deleted = 0 AND at >= ?1 AND at < ?2 ORDER BY at, id";

type ValueCols<'a> = (i64, Option<f64>, Option<i64>, Option<&'a str>, Option<i64>);

fn value_cols(v: &Value) -> ValueCols<'_> {
    match v {
        Value::Scale(x) => (1, Some(*x), None, None, None),
        Value::YesNo(b) => (2, None, None, None, Some(*b as i64)),
        Value::Duration { minutes } => (3, None, Some(*minutes as i64), None, None),
        Value::Count(n) => (4, None, Some(*n as i64), None, None),
        Value::Text(t) => (5, None, None, Some(t), None),
        Value::Sleep { minutes, quality } => (
            6,
            None,
            Some(*minutes as i64),
            None,
            quality.map(|q| q as i64),
        ),
        Value::Medication { name, taken } => (7, None, None, Some(name), Some(*taken as i64)),
        // The benchmark's mix (cairn_bench::entries) logs trackers, never a
        // questionnaire.
        Value::Answers { .. } => unreachable!("the benchmark's entries hold no answers"),
    }
}

fn tags_text(tags: &[Tag]) -> Option<String> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn insert_entry(tx: &rusqlite::Transaction<'_>, e: &Entry) {
    let (kind, num, int, text, flag) = value_cols(&e.value);
    tx.prepare_cached(INSERT)
        .expect("prepare")
        .execute(params![
            e.id,
            e.tracker,
            kind,
            num,
            int,
            text,
            flag,
            e.note,
            tags_text(&e.tags),
            e.at_ms,
            e.zone,
            e.utc_offset_seconds,
            e.created_at_ms,
            e.updated_at_ms,
            e.revision,
        ])
        .expect("insert entry");
}

/// Decodes one row into the same struct Cairn's reads return.
fn decode_row(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let kind: i64 = r.get(2)?;
    let value = match kind {
        1 => Value::Scale(r.get(3)?),
        2 => Value::YesNo(r.get::<_, i64>(6)? != 0),
        3 => Value::Duration { minutes: r.get(4)? },
        4 => Value::Count(r.get(4)?),
        5 => Value::Text(r.get(5)?),
        6 => Value::Sleep {
            minutes: r.get(4)?,
            quality: r.get(6)?,
        },
        7 => Value::Medication {
            name: r.get(5)?,
            taken: r.get::<_, i64>(6)? != 0,
        },
        _ => panic!("unknown value kind {kind}"),
    };
    let tags = match r.get_ref(8)?.as_str_or_null()? {
        None => Vec::new(),
        Some(s) => s
            .lines()
            .map(|l| match l.split_once(':') {
                Some(("trigger", label)) => Tag {
                    group: TagGroup::Trigger,
                    label: label.into(),
                },
                Some(("activity", label)) => Tag {
                    group: TagGroup::Activity,
                    label: label.into(),
                },
                _ => Tag {
                    group: TagGroup::Other,
                    label: l.into(),
                },
            })
            .collect(),
    };
    Ok(Entry {
        id: r.get(0)?,
        tracker: Arc::from(r.get_ref(1)?.as_str()?),
        value,
        note: r.get(7)?,
        tags,
        at_ms: r.get(9)?,
        zone: Arc::from(r.get_ref(10)?.as_str()?),
        utc_offset_seconds: r.get(11)?,
        created_at_ms: r.get(12)?,
        updated_at_ms: r.get(13)?,
        revision: r.get(14)?,
    })
}

/// Case 4: one entry through `Store::log` against SQLCipher inserting the
/// same content as plaintext columns plus an outbox row, one transaction
/// per entry, same pragmas, both past their first WAL checkpoint.
fn write_entry_vs_sqlcipher(opts: &Opts, dir: &Workdir, engine: &str) {
    const NAME: &str = "write_entry_vs_sqlcipher";
    let rounds = opts.pick(11, 41);
    let batch = opts.pick(40, 200);
    note(&format!(
        "{NAME}: warming both files past their first WAL checkpoint"
    ));

    let ours_path = dir.join("write-ours.db");
    let store = create_store(&ours_path);
    let source = Generator::new(first_day(1)).all();
    let mut i = 0usize;
    let warm_ours = warm_wal(&ours_path, 64, || {
        store.log(source[i % source.len()].clone()).expect("log");
        i += 1;
    });
    // SQLCipher stores what the store stored: read the logged entries back
    // (so the zone offsets and timestamps are core's own), and cycle them.
    let cycle = warm_ours.min(source.len());
    let logged = store.entries(&Default::default()).expect("list").entries;
    let logged = &logged[..cycle];

    let cipher_path = dir.join("write-sqlcipher.db");
    let mut conn = open_cipher(&cipher_path);
    conn.execute_batch(SCHEMA).expect("schema");
    // Like `Store::log`: a fresh random id and the creation time are set
    // here, in the timed part; the content comes in already built.
    let cipher_insert = |conn: &mut Connection, mut e: Entry| {
        e.id = cairn_core::crypto::random_id().expect("id");
        let now = Utc::now().timestamp_millis();
        e.created_at_ms = now;
        e.updated_at_ms = now;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        insert_entry(&tx, &e);
        tx.prepare_cached(
            "INSERT INTO outbox(record_table, record_id, revision, op) VALUES (?1, ?2, ?3, ?4)",
        )
        .expect("prepare")
        .execute(params!["entries", e.id, 1, "put"])
        .expect("insert outbox");
        tx.commit().expect("commit");
    };
    let mut j = 0usize;
    let mut next_content = || {
        j += 1;
        logged[(j - 1) % cycle].clone()
    };
    let warm_cipher = warm_wal(&cipher_path, 64, || {
        cipher_insert(&mut conn, next_content())
    });

    note(&format!(
        "{NAME}: {rounds} rounds of {batch} writes a side, interleaved"
    ));
    let (ours, base) = alternate(
        rounds,
        batch,
        || {
            // Each side's input is cloned before its clock starts.
            let e: NewEntry = source[i % cycle].clone();
            i += 1;
            time(|| drop(store.log(e).expect("log")))
        },
        || {
            let e = next_content();
            time(|| cipher_insert(&mut conn, e))
        },
    );
    let (ours, base) = (scaled(&ours, 1e6), scaled(&base, 1e6));
    Report::from_rounds(NAME, "us", &ours, &base, Some(1.0))
        .with("writes_per_round", batch)
        .with(
            "warmup_writes",
            serde_json::json!({"ours": warm_ours, "baseline": warm_cipher}),
        )
        .with("engine", engine)
        .print();
}

/// Case 5: a year read on a freshly opened store (as read_year_vs_floor)
/// against SQLCipher opening the same year of plaintext rows and building
/// the same `Entry` structs, oldest first.
fn read_year_vs_sqlcipher(opts: &Opts, dir: &Workdir, engine: &str) {
    const NAME: &str = "read_year_vs_sqlcipher";
    let rounds = opts.pick(15, 61);
    let path = dir.join("year.db");
    let t = Instant::now();
    let n = build_store(&path, first_day(1));
    note(&format!(
        "{NAME}: built a store of {n} entries in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let q = days_query(first_day(1), last_day());
    let year = open_and_read(&path, &q);
    assert_eq!(year.len(), n);

    let cipher_path = dir.join("year-sqlcipher.db");
    {
        let mut conn = open_cipher(&cipher_path);
        conn.execute_batch(SCHEMA).expect("schema");
        let tx = conn.transaction().expect("begin");
        for e in &year {
            insert_entry(&tx, e);
        }
        tx.commit().expect("commit");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
    }
    let from = q.from.expect("from").timestamp_millis();
    let to = q.to.expect("to").timestamp_millis();
    let cipher_read = || -> Vec<Entry> {
        let conn = open_cipher(&cipher_path);
        let mut stmt = conn.prepare(SELECT).expect("prepare");
        stmt.query_map([from, to], decode_row)
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    // The two must agree, entry for entry.
    assert!(
        cipher_read() == year,
        "SQLCipher's year differs from the store's"
    );

    let ours_round = || {
        let mut got = 0;
        let s = time(|| got = open_and_read(&path, &q).len());
        assert_eq!(got, n);
        s
    };
    let cipher_round = || {
        let mut got = 0;
        let s = time(|| got = cipher_read().len());
        assert_eq!(got, n);
        s
    };
    ours_round();
    cipher_round();
    note(&format!("{NAME}: {rounds} rounds a side"));
    let (ours, base) = alternate(rounds, 1, ours_round, cipher_round);
    let (ours, base) = (scaled(&ours, 1e3), scaled(&base, 1e3));
    Report::from_rounds(NAME, "ms", &ours, &base, Some(1.0))
        .with("n", n)
        .with("engine", engine)
        .print();
}
