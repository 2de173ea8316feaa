//! Cairn against plain SQLite baselines, in one process.
//!
//! `cargo run --release -p cairn-bench -- [--quick] [--dir PATH] [--only CASE]`
//!
//! Prints one JSON object per line on stdout:
//! `{"name", "ours", "baseline", "unit", "ratio", ...extras}`; progress goes
//! to stderr. Nothing is asserted: the figures are for people and for CI
//! logs. See bench/README.md for what each case measures.

use cairn_bench::{
    DAY_MS, Generator, KEY, Opts, Report, Workdir, alternate, build_store, create_store,
    days_query, first_day, last_day, midnight, note, open_and_read, open_store, scaled,
    store_pragmas, time, warm_wal,
};
use cairn_core::NewEntry;
use cairn_core::crypto::{Binding, DataKey, Sealer};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use std::path::Path;
use std::time::Instant;

fn main() {
    let opts = Opts::from_args();
    let started = Instant::now();
    let dir = Workdir::new(&opts, "cairn-bench").expect("make the bench folder");
    note(&format!(
        "mode {}, files in {}, SQLite {}",
        if opts.quick { "quick" } else { "full" },
        dir.path().display(),
        rusqlite::version()
    ));
    if opts.wants("write_entry_vs_raw_sqlite") {
        write_entry_vs_raw_sqlite(&opts, &dir);
    }
    if opts.wants("read_year_vs_floor") {
        read_year_vs_floor(&opts, &dir);
    }
    if opts.wants("open_ten_years") {
        open_ten_years(&opts, &dir);
    }
    note(&format!("done in {:.1} s", started.elapsed().as_secs_f64()));
}

/// Case 1: one entry through `Store::log` (validate, encode, seal, insert
/// the entry and its outbox row, commit with synchronous=FULL) against one
/// raw insert of a blob of the same sealed size into a table shaped like
/// `entries`, one transaction per row, same pragmas, own file.
fn write_entry_vs_raw_sqlite(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "write_entry_vs_raw_sqlite";
    let rounds = opts.pick(11, 41);
    let batch = opts.pick(40, 200);
    note(&format!(
        "{NAME}: warming both files past their first WAL checkpoint"
    ));

    // Ours.
    let ours_path = dir.join("write-ours.db");
    let store = create_store(&ours_path);
    let source = Generator::new(first_day(1)).all();
    let mut i = 0usize;
    let warm_ours = warm_wal(&ours_path, 64, || {
        store.log(source[i % source.len()].clone()).expect("log");
        i += 1;
    });
    // The sealed sizes core wrote, in logging order: the baseline writes
    // blobs of exactly these sizes, and ours keeps cycling the same entries.
    let cycle = warm_ours.min(source.len());
    let sizes: Vec<(usize, i64)> = {
        let c = Connection::open_with_flags(&ours_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open read-only");
        let mut s = c
            .prepare("SELECT length(body), day FROM entries ORDER BY rowid")
            .expect("prepare");
        s.query_map([], |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)))
            .expect("query")
            .take(cycle)
            .collect::<Result<_, _>>()
            .expect("sizes")
    };
    let mean_size = sizes.iter().map(|s| s.0).sum::<usize>() as f64 / sizes.len() as f64;

    // Baseline.
    let raw_path = dir.join("write-raw.db");
    let mut conn = Connection::open(&raw_path).expect("open raw");
    store_pragmas(&conn);
    conn.execute_batch(
        "CREATE TABLE rows (
             id       TEXT NOT NULL UNIQUE,
             day      INTEGER,
             revision INTEGER NOT NULL,
             deleted  INTEGER NOT NULL DEFAULT 0,
             body     BLOB
         );
         CREATE INDEX rows_by_day ON rows(day) WHERE deleted = 0;",
    )
    .expect("schema");
    let mut noise = vec![0u8; 70_000];
    cairn_core::crypto::fill_random(&mut noise).expect("random");
    let mut j = 0usize;
    let mut raw_insert = |conn: &mut Connection| {
        let (len, day) = sizes[j % cycle];
        let off = (j * 7919) % (noise.len() - len);
        j += 1;
        let id = cairn_core::crypto::random_id().expect("id");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        tx.prepare_cached(
            "INSERT INTO rows(id, day, revision, deleted, body) VALUES (?1, ?2, 1, 0, ?3)",
        )
        .expect("prepare")
        .execute(params![id, day, &noise[off..off + len]])
        .expect("insert");
        tx.commit().expect("commit");
    };
    let warm_raw = warm_wal(&raw_path, 64, || raw_insert(&mut conn));

    note(&format!(
        "{NAME}: {rounds} rounds of {batch} writes a side, interleaved"
    ));
    let (ours, base) = alternate(
        rounds,
        batch,
        || {
            // Cloned before the clock starts (the baseline has no such copy).
            let e: NewEntry = source[i % cycle].clone();
            i += 1;
            time(|| drop(store.log(e).expect("log")))
        },
        || time(|| raw_insert(&mut conn)),
    );
    let (ours, base) = (scaled(&ours, 1e6), scaled(&base, 1e6));
    Report::from_rounds(NAME, "us", &ours, &base, Some(1.3))
        .with("writes_per_round", batch)
        .with("mean_body_bytes", mean_size.round())
        .with(
            "warmup_writes",
            serde_json::json!({"ours": warm_ours, "baseline": warm_raw}),
        )
        .print();
}

/// Case 2: a year (about 6,500 entries) read on a freshly opened store,
/// against the floor: a plain connection, the day-range query, and opening
/// each sealed body, nothing else (no decoding, no sorting, no checks).
fn read_year_vs_floor(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "read_year_vs_floor";
    let rounds = opts.pick(15, 61);
    let path = dir.join("year.db");
    let t = Instant::now();
    let n = build_store(&path, first_day(1));
    note(&format!(
        "{NAME}: built a store of {n} entries in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let (first, last) = (first_day(1), last_day());
    let q = days_query(first, last);
    let lo = midnight(first).timestamp_millis() / DAY_MS;
    let hi = midnight(last).timestamp_millis() / DAY_MS;
    let sealer = Sealer::new(&DataKey::from_bytes(&KEY).expect("key"));

    let ours_round = || {
        let mut got = 0;
        let s = time(|| got = open_and_read(&path, &q).len());
        assert_eq!(got, n);
        s
    };
    let floor_round = || {
        let mut got = 0;
        let s = time(|| got = floor_read(&path, &sealer, lo, hi).len());
        assert_eq!(got, n);
        s
    };
    // One untimed pass of each, to load the file into the page cache.
    ours_round();
    floor_round();
    note(&format!("{NAME}: {rounds} rounds a side"));
    let (ours, base) = alternate(rounds, 1, ours_round, floor_round);
    let (ours, base) = (scaled(&ours, 1e3), scaled(&base, 1e3));
    Report::from_rounds(NAME, "ms", &ours, &base, Some(1.5))
        .with("n", n)
        .print();
}

/// The floor for reading: bodies opened, nothing else.
fn floor_read(path: &Path, sealer: &Sealer, lo: i64, hi: i64) -> Vec<Vec<u8>> {
    let conn = Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT id, day, body FROM entries WHERE deleted = 0 AND day BETWEEN ?1 AND ?2")
        .expect("prepare");
    let mut rows = stmt.query(params![lo, hi]).expect("query");
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let id: String = r.get(0).expect("id");
        let day: i64 = r.get(1).expect("day");
        let body: Vec<u8> = r.get(2).expect("body");
        let (_, plain) = sealer
            .open_vec(
                Binding {
                    table: "entries",
                    id: &id,
                    column: day,
                },
                body,
            )
            .expect("open sealed body");
        out.push(plain);
    }
    out
}

/// Case 3: app start on a store holding ten years: `Store::open` plus
/// today's entries, against a raw open of the same file and a select of
/// today's bodies (no decrypt).
fn open_ten_years(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "open_ten_years";
    let years = 10;
    let rounds = opts.pick(15, 61);
    let per_round = opts.pick(20, 100);
    let path = dir.join("ten-years.db");
    let t = Instant::now();
    let n = build_store(&path, first_day(years));
    note(&format!(
        "{NAME}: built a store of {n} entries in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let today = last_day();
    let q = days_query(today, today);
    let day = midnight(today).timestamp_millis() / DAY_MS;
    let expect = {
        let s = open_store(&path);
        s.entries(&q).expect("today").entries.len()
    };
    assert!(expect > 0);
    let ours_one = || {
        let store = open_store(&path);
        let page = store.entries(&q).expect("today");
        assert_eq!(page.entries.len(), expect);
    };
    let base_one = || {
        let conn = Connection::open(&path).expect("open");
        // `deleted = 0` lets SQLite use the partial index on day (the same
        // rows: only deleted rows lack a day); without it this is a scan.
        let mut stmt = conn
            .prepare("SELECT body FROM entries WHERE deleted = 0 AND day = ?1")
            .expect("prepare");
        let bodies: Vec<Vec<u8>> = stmt
            .query_map([day], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(bodies.len(), expect);
    };
    ours_one();
    base_one();
    note(&format!(
        "{NAME}: {rounds} rounds of {per_round} opens a side, interleaved"
    ));
    let (ours, base) = alternate(rounds, per_round, || time(ours_one), || time(base_one));
    let (ours, base) = (scaled(&ours, 1e3), scaled(&base, 1e3));
    Report::from_rounds(NAME, "ms", &ours, &base, None)
        .with("years", years)
        .with("n", n)
        .with("today_entries", expect)
        .with("opens_per_round", per_round)
        .print();
}
