//! Where the time of `read_year_vs_floor` goes: open, SQL, decrypt, and
//! what `Store::entries` adds on top (decode, checks, per-day sort).
//!
//! `cargo run --release -p cairn-bench --example read_breakdown`
//!
//! Each figure is the median of 41 rounds on an already warm page cache;
//! the steps are interleaved round by round like the main bench.

use cairn_bench::{
    DAY_MS, Opts, Workdir, build_store, days_query, first_day, floor_read, floor_sealer, last_day,
    median, midnight, open_store, time,
};
use rusqlite::{Connection, params};

const ROUNDS: usize = 41;

fn main() {
    let opts = Opts {
        quick: true,
        dir: None,
        only: None,
    };
    let dir = Workdir::new(&opts, "cairn-read-breakdown").expect("bench folder");
    let path = dir.join("year.db");
    let n = build_store(&path, first_day(1));
    let q = days_query(first_day(1), last_day());
    let lo = midnight(first_day(1)).timestamp_millis() / DAY_MS;
    let hi = midnight(last_day()).timestamp_millis() / DAY_MS;
    let sealer = floor_sealer(&path);
    let store = open_store(&path);
    let conn = Connection::open(&path).expect("open");

    let steps: [(&str, &dyn Fn()); 5] = [
        ("Store::open + drop", &|| drop(open_store(&path))),
        ("Connection::open + first read + drop", &|| {
            let c = Connection::open(&path).expect("open");
            c.query_row("SELECT count(*) FROM meta", [], |_| Ok(()))
                .expect("read");
        }),
        ("SQL only: core's query, columns fetched", &|| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, day, revision, body FROM entries
                     WHERE deleted = 0 AND day BETWEEN ?1 AND ?2 ORDER BY day",
                )
                .expect("prepare");
            let mut rows = stmt.query(params![lo, hi]).expect("query");
            let mut k = 0;
            while let Some(r) = rows.next().expect("row") {
                let _: (String, i64, i64, Vec<u8>) = (
                    r.get(0).expect("id"),
                    r.get(1).expect("day"),
                    r.get(2).expect("revision"),
                    r.get(3).expect("body"),
                );
                k += 1;
            }
            assert_eq!(k, n);
        }),
        ("floor on an open connection: SQL + decrypt", &|| {
            assert_eq!(floor_read(&conn, &sealer, lo, hi).len(), n);
        }),
        ("Store::entries on an open store", &|| {
            assert_eq!(store.entries(&q).expect("entries").entries.len(), n);
        }),
    ];
    let mut figures = vec![Vec::with_capacity(ROUNDS); steps.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in steps.iter().enumerate() {
            figures[i].push(time(f) * 1e3);
        }
    }
    println!("{n} entries, median of {ROUNDS} rounds:");
    for ((name, _), fig) in steps.iter().zip(&figures) {
        println!("  {:>8.3} ms  {name}", median(fig));
    }
}
