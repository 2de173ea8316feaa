//! Cairn against plain SQLite baselines (and, for reminders, the `rrule`
//! crate), in one process.
//!
//! `cargo run --release -p cairn-bench -- [--quick] [--dir PATH] [--only CASE]`
//!
//! Prints one JSON object per line on stdout:
//! `{"name", "ours", "baseline", "unit", "ratio", ...extras}`; progress goes
//! to stderr. Nothing is asserted: the figures are for people and for CI
//! logs. See bench/README.md for what each case measures.

use cairn_bench::{
    DAY_MS, Generator, Opts, Report, Workdir, ZONE, alternate, build_store, create_store,
    days_query, first_day, floor_read, floor_sealer, last_day, median, midnight, note,
    open_and_read, open_store, scaled, store_pragmas, time, warm_wal,
};
use cairn_core::crypto::Sealer;
use cairn_core::insights::summary;
use cairn_core::patterns::patterns;
use cairn_core::reminders::{
    Category, Limits, NewReminder, QuietHours, QuietPolicy, Schedule, ZonePolicy, local_to_utc,
};
use cairn_core::zones::Zone;
use cairn_core::{NewEntry, Store, ZoneDb};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use rrule::RRuleSet;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use std::collections::{BTreeMap, BTreeSet};
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
    if opts.wants("expand_year_vs_rrule") {
        expand_year_vs_rrule(&opts, &dir);
    }
    if opts.wants("plan_64_of_50_rules") {
        plan_64_of_50_rules(&opts, &dir);
    }
    if opts.wants("ffi_day_page_vs_core") {
        ffi_day_page_vs_core(&opts, &dir);
    }
    if opts.wants("summary_ten_years_vs_floor") {
        summary_ten_years_vs_floor(&opts, &dir);
    }
    #[cfg(feature = "sync")]
    {
        use cairn_bench::sync::cases;
        if opts.wants("push_payload_bytes_vs_json") {
            cases::push_payload_bytes_vs_json(&opts, &dir);
        }
        if opts.wants("encode_10k_changes_vs_json") {
            cases::encode_10k_changes_vs_json(&opts, &dir);
        }
        if opts.wants("server_ingest_vs_raw_insert_sqlite") {
            cases::server_ingest_vs_raw_insert_sqlite(&opts, &dir);
        }
        if opts.wants("server_ingest_vs_raw_insert_postgres") {
            cases::server_ingest_vs_raw_insert_postgres(&opts, &dir);
        }
        if opts.wants("load_1000_devices") {
            cases::load_1000_devices(&opts, &dir);
        }
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
    let sealer = floor_sealer(&path);

    let ours_round = || {
        let mut got = 0;
        let s = time(|| got = open_and_read(&path, &q).len());
        assert_eq!(got, n);
        s
    };
    let floor_round = || {
        let mut got = 0;
        let s = time(|| got = floor_read_fresh(&path, &sealer, lo, hi).len());
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

/// The floor for reading on a fresh connection.
fn floor_read_fresh(path: &Path, sealer: &Sealer, lo: i64, hi: i64) -> Vec<Vec<u8>> {
    floor_read(&Connection::open(path).expect("open"), sealer, lo, hi)
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

/// Case 14: the whole summary over ten years, as `cairn summary` makes it
/// (open, read and decode every entry, then `insights::summary`), against
/// the floor of decoding those entries (open, read and decode with
/// `Store::entries`, nothing else). The summary is one pass over the
/// entries and one over the days, so it should add little.
fn summary_ten_years_vs_floor(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "summary_ten_years_vs_floor";
    let years = 10;
    let rounds = opts.pick(9, 31);
    // The same store as case 3 (the same generator): built once a run.
    let path = dir.join("ten-years.db");
    let (first, last) = (first_day(years), last_day());
    let q = days_query(first, last);
    let t = Instant::now();
    let n = if path.exists() {
        open_and_read(&path, &q).len()
    } else {
        build_store(&path, first)
    };
    note(&format!(
        "{NAME}: a store of {n} entries ready in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let ours_round = || {
        let mut days = 0;
        let s = time(|| days = summary(&open_and_read(&path, &q), first, last).days);
        assert_eq!(days, (last - first).num_days() as u32 + 1);
        s
    };
    let floor_round = || {
        let mut got = 0;
        let s = time(|| got = open_and_read(&path, &q).len());
        assert_eq!(got, n);
        s
    };
    ours_round();
    floor_round();
    note(&format!("{NAME}: {rounds} rounds a side"));
    let (ours, base) = alternate(rounds, 1, ours_round, floor_round);
    let (ours, base) = (scaled(&ours, 1e3), scaled(&base, 1e3));
    // Each step alone on entries already decoded, for the record.
    let entries = open_and_read(&path, &q);
    let trackers = open_store(&path).trackers().expect("trackers");
    let alone = |f: &dyn Fn()| {
        let xs: Vec<f64> = (0..opts.pick(5, 15)).map(|_| time(f)).collect();
        (median(&xs) * 1e4).round() / 10.0
    };
    let summary_ms = alone(&|| {
        std::hint::black_box(summary(&entries, first, last));
    });
    let patterns_ms = alone(&|| {
        std::hint::black_box(patterns(&entries, &trackers, first, last));
    });
    Report::from_rounds(NAME, "ms", &ours, &base, Some(2.0))
        .with("years", years)
        .with("n", n)
        .with("summary_alone_ms", summary_ms)
        .with("patterns_alone_ms", patterns_ms)
        .print();
}

/// Polls a future on this thread, parking between wakes: what Kotlin's or
/// Swift's executor does for a call, minus the foreign side's own costs.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Case 6: what the native API's threads cost. One day's page of entries
/// (a diary screen) through the FFI `Journal.entries` (a job sent to a
/// reader thread, its result sent back through the future, converted to
/// the FFI records) against the same page from `Store::entries` called
/// directly on the caller's thread, same file.
fn ffi_day_page_vs_core(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "ffi_day_page_vs_core";
    let rounds = opts.pick(15, 61);
    let per_round = opts.pick(200, 1000);
    let path = dir.join("ffi-month.db");
    let n = build_store(&path, first_day(1));
    let today = last_day();
    let q = days_query(today, today);
    let store = open_store(&path);
    let expect = store.entries(&q).expect("today").entries.len();
    assert!(expect > 0);
    let journal = block_on(cairn_ffi::Journal::open(
        path.to_string_lossy().into_owned(),
        cairn_bench::KEY.to_vec(),
        None,
    ))
    .expect("open through the FFI");
    let from_day = cairn_ffi::LocalDay(
        today
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
            .num_days(),
    );
    let fq = cairn_ffi::EntryQuery {
        from_day: Some(from_day),
        to_day: Some(from_day),
        ..Default::default()
    };
    let ours_one = || {
        let page = block_on(journal.entries(fq.clone())).expect("page");
        assert_eq!(page.entries.len(), expect);
    };
    let base_one = || {
        let page = store.entries(&q).expect("page");
        assert_eq!(page.entries.len(), expect);
    };
    ours_one();
    base_one();
    note(&format!(
        "{NAME}: {rounds} rounds of {per_round} pages a side, interleaved"
    ));
    let (ours, base) = alternate(rounds, per_round, || time(ours_one), || time(base_one));
    let (ours, base) = (scaled(&ours, 1e6), scaled(&base, 1e6));
    Report::from_rounds(NAME, "us", &ours, &base, None)
        .with("n", n)
        .with("page_entries", expect)
        .with("pages_per_round", per_round)
        .print();
}

// --- reminders ----------------------------------------------------------------

/// A wall-clock time.
fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

/// A date.
fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Unix seconds as a UTC instant.
fn utc_s(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).expect("instant in range")
}

/// An instant as local time in `zone` with its offset
/// (`2026-03-08T03:30:00-04:00`), for the report.
fn local_string(zone: &Zone, s: i64) -> String {
    let off = FixedOffset::east_opt(zone.offset_at(s * 1000)).expect("offset");
    utc_s(s).with_timezone(&off).to_rfc3339()
}

/// The instant in `set` within `[lo, hi)` (Unix seconds), as local time.
fn instant_in(set: &BTreeSet<i64>, zone: &Zone, lo: i64, hi: i64) -> serde_json::Value {
    let found: Vec<String> = set.range(lo..hi).map(|s| local_string(zone, *s)).collect();
    match found.as_slice() {
        [one] => one.clone().into(),
        _ => found.into(),
    }
}

/// The year of the expansion case and the New York transitions in it.
const REMINDER_YEAR: i32 = 2026;
const SPRING_FORWARD: (u32, u32) = (3, 8);
const FALL_BACK: (u32, u32) = (11, 1);

/// `RRULE` text for a daily rule at `times` in [`ZONE`] from January 1st of
/// [`REMINDER_YEAR`]. BYHOUR and BYMINUTE combine as a cartesian product,
/// so one RRULE is written per distinct minute (08:00 and 14:00 share one;
/// 02:30 has its own) and the rrule crate merges them as a set.
fn rrule_text(times: &[NaiveTime]) -> String {
    use chrono::Timelike;
    let mut by_minute: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for t in times {
        by_minute
            .entry(t.minute())
            .or_default()
            .push(t.hour().to_string());
    }
    let mut s = format!("DTSTART;TZID={ZONE}:{REMINDER_YEAR}0101T000000");
    for (minute, hours) in by_minute {
        s.push_str(&format!(
            "\nRRULE:FREQ=DAILY;BYHOUR={};BYMINUTE={minute};BYSECOND=0",
            hours.join(",")
        ));
    }
    s
}

/// Expands `text` over `[from, to)` with the rrule crate.
fn rrule_expand(text: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<rrule::Tz>> {
    let set: RRuleSet = text.parse().expect("valid RRULE text");
    // `after` and `before` are inclusive: stop a second short of `to`.
    set.after(from.with_timezone(&rrule::Tz::UTC))
        .before((to - Duration::seconds(1)).with_timezone(&rrule::Tz::UTC))
        .all(u16::MAX)
        .dates
}

/// A store at `path` holding one daily rule at `times`, starting on
/// `start`, following the device's zone.
fn one_rule_store(path: &Path, times: &[NaiveTime], start: NaiveDate) -> Store {
    let store = create_store(path);
    store
        .add_reminder(NewReminder::new(
            Category::CheckIn,
            Schedule::Daily {
                times: times.to_vec(),
            },
            start,
        ))
        .expect("add reminder");
    store
}

/// Case 6: one year of a three-times-a-day rule in New York (one time in
/// the spring-forward gap), `Store::occurrences` on a store holding just
/// that rule against the rrule crate parsing and expanding the same rule.
/// Both must give the same instants; the line says whether they did.
fn expand_year_vs_rrule(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "expand_year_vs_rrule";
    let rounds = opts.pick(15, 61);
    let per_round = opts.pick(20, 100);
    let times = [hm(8, 0), hm(14, 0), hm(2, 30)];
    let zones = ZoneDb::system();
    let zone = zones.zone(ZONE).expect("zone");
    let start = ymd(REMINDER_YEAR, 1, 1);
    let local_midnight = |d: NaiveDate| local_to_utc(&zone, d, NaiveTime::MIN).0;
    let from = utc_s(local_midnight(start));
    let to = utc_s(local_midnight(ymd(REMINDER_YEAR + 1, 1, 1)));
    let store = one_rule_store(&dir.join("reminders-year.db"), &times, start);
    let text = rrule_text(&times);

    // Same instants? (UTC seconds, as sets.)
    let ours_list = store.occurrences(from, to, ZONE).expect("occurrences");
    let n = ours_list.len();
    let ours: BTreeSet<i64> = ours_list
        .iter()
        .map(|o| o.fire_ms.div_euclid(1000))
        .collect();
    let theirs_list = rrule_expand(&text, from, to);
    let theirs: BTreeSet<i64> = theirs_list.iter().map(|d| d.timestamp()).collect();
    let mismatches = ours.symmetric_difference(&theirs).count();
    let same = mismatches == 0 && n == ours.len() && theirs_list.len() == theirs.len();
    // The spring-forward day's 02:30: RFC 5545 says 03:30 EDT.
    let day_span = |(m, d): (u32, u32), until: NaiveTime| {
        let day = ymd(REMINDER_YEAR, m, d);
        (local_midnight(day), local_to_utc(&zone, day, until).0)
    };
    let (lo, hi) = day_span(SPRING_FORWARD, hm(8, 0));
    let gap_day = serde_json::json!({
        "ours": instant_in(&ours, &zone, lo, hi),
        "rrule": instant_in(&theirs, &zone, lo, hi),
    });
    // Untimed: a 01:30 rule, which the fall-back day has twice (RFC 5545:
    // the first, 01:30 EDT).
    let overlap_store = one_rule_store(&dir.join("reminders-overlap.db"), &[hm(1, 30)], start);
    let ours_overlap: BTreeSet<i64> = overlap_store
        .occurrences(from, to, ZONE)
        .expect("occurrences")
        .iter()
        .map(|o| o.fire_ms.div_euclid(1000))
        .collect();
    let theirs_overlap: BTreeSet<i64> = rrule_expand(&rrule_text(&[hm(1, 30)]), from, to)
        .iter()
        .map(|d| d.timestamp())
        .collect();
    let (lo, hi) = day_span(FALL_BACK, hm(8, 0));
    let fall_back_day = serde_json::json!({
        "ours": instant_in(&ours_overlap, &zone, lo, hi),
        "rrule": instant_in(&theirs_overlap, &zone, lo, hi),
        "same_instants_all_year": ours_overlap == theirs_overlap,
    });
    drop(overlap_store);
    note(&format!(
        "{NAME}: ours {n} instants, rrule {}, {mismatches} mismatches",
        theirs_list.len()
    ));

    let ours_once = || {
        let mut got = 0;
        let s = time(|| {
            got = store
                .occurrences(from, to, ZONE)
                .expect("occurrences")
                .len()
        });
        assert_eq!(got, n);
        s
    };
    let rrule_once = || {
        let mut got = 0;
        let s = time(|| got = rrule_expand(&text, from, to).len());
        assert_eq!(got, theirs_list.len());
        s
    };
    ours_once();
    rrule_once();
    note(&format!(
        "{NAME}: {rounds} rounds of {per_round} expansions a side, interleaved"
    ));
    let (ours_t, base_t) = alternate(rounds, per_round, ours_once, rrule_once);
    // What each side spends besides expanding: ours, the read transaction
    // and loading one sealed rule (`occurrences` over an empty range);
    // rrule, parsing the text.
    let (load_t, parse_t) = alternate(
        rounds,
        per_round,
        || time(|| drop(store.occurrences(from, from, ZONE).expect("occurrences"))),
        || time(|| drop(text.parse::<RRuleSet>().expect("valid RRULE text"))),
    );
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    let (ours_t, base_t) = (scaled(&ours_t, 1e6), scaled(&base_t, 1e6));
    Report::from_rounds(NAME, "us", &ours_t, &base_t, Some(1.0))
        .with("n", n)
        .with("rrule_n", theirs_list.len())
        .with("mismatches", mismatches)
        .with("same_instants", same)
        .with("gap_day_0230", gap_day)
        .with("fall_back_day_0130", fall_back_day)
        .with("ours_load_us", round2(median(&scaled(&load_t, 1e6))))
        .with("rrule_parse_us", round2(median(&scaled(&parse_t, 1e6))))
        .with("expansions_per_round", per_round)
        .print();
}

/// The 50 rules of case 7: 20 daily (three times a day, five of them with
/// 22:30, inside the quiet hours), 15 weekly, 15 windows; every seventh
/// pinned to Chicago, every ninth skipped (not deferred) in quiet hours.
fn fifty_rules(start: NaiveDate) -> Vec<NewReminder> {
    use chrono::Weekday::{Fri, Mon, Thu, Tue, Wed};
    (0..50u32)
        .map(|i| {
            let schedule = match i % 10 {
                0..=3 => Schedule::Daily {
                    times: vec![
                        hm(8, 15 * (i % 4)),
                        hm(13, 30 * (i % 2)),
                        if i % 10 == 0 {
                            hm(22, 30)
                        } else {
                            hm(20, 15 * (i % 3))
                        },
                    ],
                },
                4..=6 => Schedule::Weekly {
                    days: if i % 2 == 0 {
                        vec![Mon, Wed, Fri]
                    } else {
                        vec![Tue, Thu]
                    },
                    times: if i % 3 == 0 {
                        vec![hm(9, 30), hm(18, 0)]
                    } else {
                        vec![hm(9, 30)]
                    },
                },
                _ => Schedule::Window {
                    from: hm(10 + i % 3, 0),
                    to: hm(12 + i % 3, 0),
                    days: if i % 2 == 0 {
                        Vec::new()
                    } else {
                        vec![Mon, Tue, Wed, Thu, Fri]
                    },
                },
            };
            let mut r = NewReminder::new(Category::ALL[i as usize % 5], schedule, start);
            if i % 7 == 0 {
                r.zone = ZonePolicy::Pinned("America/Chicago".into());
            }
            if i % 9 == 0 {
                r.quiet = QuietPolicy::Skip;
            }
            r
        })
        .collect()
}

/// Case 7: the plan for iOS (at most 64 notifications, 7 days ahead) of a
/// store with 50 rules and quiet hours, against expanding one daily
/// three-times-a-day rule over the same 7 days (`Store::occurrences` on a
/// store holding just that rule).
fn plan_64_of_50_rules(opts: &Opts, dir: &Workdir) {
    const NAME: &str = "plan_64_of_50_rules";
    let rounds = opts.pick(15, 61);
    let per_round = opts.pick(10, 40);
    let horizon_days = 7;
    let start = ymd(REMINDER_YEAR, 1, 1);
    // Thursday 06:00 in New York (app start); the week ahead crosses
    // spring-forward. Nothing fires within an hour of either end of the
    // range, so its counts do not depend on the rules' random window seeds.
    let now = utc_s(
        ymd(REMINDER_YEAR, 3, 5)
            .and_hms_opt(11, 0, 0)
            .expect("valid time")
            .and_utc()
            .timestamp(),
    );
    let to = now + Duration::days(horizon_days);
    let rules = fifty_rules(start);
    let store = create_store(&dir.join("reminders-fifty.db"));
    store
        .set_quiet_hours(Some(QuietHours {
            start: hm(22, 0),
            end: hm(7, 0),
        }))
        .expect("quiet hours");
    for r in &rules {
        store.add_reminder(r.clone()).expect("add reminder");
    }
    let Schedule::Daily { times } = &rules[1].schedule else {
        unreachable!("rule 1 is daily")
    };
    let one = one_rule_store(&dir.join("reminders-week.db"), times, start);

    let plan = || {
        store
            .plan_reminders(now, ZONE, &Limits::IOS, horizon_days as u32)
            .expect("plan")
    };
    let planned = plan().notifications.len();
    assert_eq!(planned, Limits::IOS.max_pending as usize);
    let in_horizon = store.occurrences(now, to, ZONE).expect("occurrences").len();
    let one_n = one.occurrences(now, to, ZONE).expect("occurrences").len();
    note(&format!(
        "{NAME}: {} rules, {in_horizon} occurrences in {horizon_days} days, {planned} planned",
        rules.len()
    ));

    let ours_once = || {
        let mut got = 0;
        let s = time(|| got = plan().notifications.len());
        assert_eq!(got, planned);
        s
    };
    let one_once = || {
        let mut got = 0;
        let s = time(|| got = one.occurrences(now, to, ZONE).expect("occurrences").len());
        assert_eq!(got, one_n);
        s
    };
    ours_once();
    one_once();
    note(&format!(
        "{NAME}: {rounds} rounds of {per_round} a side, interleaved"
    ));
    let (ours_t, base_t) = alternate(rounds, per_round, ours_once, one_once);
    let (ours_t, base_t) = (scaled(&ours_t, 1e6), scaled(&base_t, 1e6));
    Report::from_rounds(NAME, "us", &ours_t, &base_t, None)
        .with("rules", rules.len())
        .with("horizon_days", horizon_days)
        .with("occurrences_in_horizon", in_horizon)
        .with("planned", planned)
        .with("baseline_occurrences", one_n)
        .with("plans_per_round", per_round)
        .print();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrule_text_has_one_rule_per_distinct_minute() {
        assert_eq!(
            rrule_text(&[hm(8, 0), hm(14, 0), hm(2, 30)]),
            "DTSTART;TZID=America/New_York:20260101T000000\n\
             RRULE:FREQ=DAILY;BYHOUR=8,14;BYMINUTE=0;BYSECOND=0\n\
             RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0"
        );
    }
}
