//! Where the time of `expand_year_vs_rrule` goes: the read transaction and
//! loading the sealed rule, the local-to-UTC conversions, the zone offset
//! lookups, and building each occurrence's key.
//!
//! `cargo run --release -p cairn-bench --example expand_breakdown`
//!
//! Each figure is the median of 41 rounds of 20 calls; the steps are
//! interleaved round by round like the main bench.

use cairn_bench::{Opts, Workdir, ZONE, create_store, median, time};
use cairn_core::ZoneDb;
use cairn_core::reminders::{Category, NewReminder, Schedule, local_to_utc};
use chrono::{DateTime, NaiveDate, NaiveTime};
use std::hint::black_box;

const ROUNDS: usize = 41;
const CALLS: usize = 20;

fn main() {
    let opts = Opts {
        quick: true,
        dir: None,
        only: None,
    };
    let dir = Workdir::new(&opts, "cairn-expand-breakdown").expect("bench folder");
    let zones = ZoneDb::system();
    let zone = zones.zone(ZONE).expect("zone");
    let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
    let times = [hm(2, 30), hm(8, 0), hm(14, 0)];
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date");
    let end = NaiveDate::from_ymd_opt(2027, 1, 1).expect("valid date");
    let instant =
        |d| DateTime::from_timestamp(local_to_utc(&zone, d, NaiveTime::MIN).0, 0).expect("instant");
    let (from, to) = (instant(start), instant(end));
    let store = create_store(&dir.join("year.db"));
    let id = store
        .add_reminder(NewReminder::new(
            Category::CheckIn,
            Schedule::Daily {
                times: times.to_vec(),
            },
            start,
        ))
        .expect("add reminder")
        .id;
    let id = id.as_str();
    let days = || std::iter::successors(Some(start), |d| d.succ_opt()).take_while(|d| *d < end);
    let n = store
        .occurrences(from, to, ZONE)
        .expect("occurrences")
        .len();

    let steps: [(&str, &dyn Fn()); 5] = [
        ("Store::occurrences, the year", &|| {
            let occ = store.occurrences(from, to, ZONE).expect("occurrences");
            assert_eq!(black_box(occ).len(), n);
        }),
        ("Store::occurrences, an empty range", &|| {
            black_box(store.occurrences(from, from, ZONE).expect("occurrences"));
        }),
        ("local_to_utc for each time of each day", &|| {
            let v: Vec<i64> = days()
                .flat_map(|d| times.map(|t| local_to_utc(&zone, d, t).0))
                .collect();
            assert_eq!(black_box(v).len(), n);
        }),
        ("Zone::offset_at, five a day", &|| {
            let step = 86_400_000 / 5;
            let s: i64 = (0..5 * 365)
                .map(|i| i64::from(zone.offset_at(from.timestamp_millis() + i * step)))
                .sum();
            black_box(s);
        }),
        ("occurrence keys and rule ids only", &|| {
            let v: Vec<(String, String)> = days()
                .flat_map(|d| {
                    (0..times.len()).map(move |slot| (format!("{id}:{d}:{slot}"), id.to_owned()))
                })
                .collect();
            assert_eq!(black_box(v).len(), n);
        }),
    ];
    let mut figures = vec![Vec::with_capacity(ROUNDS); steps.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in steps.iter().enumerate() {
            figures[i].push(time(|| (0..CALLS).for_each(|_| f())) / CALLS as f64 * 1e6);
        }
    }
    println!("{n} occurrences, median of {ROUNDS} rounds of {CALLS} calls:");
    for ((name, _), fig) in steps.iter().zip(&figures) {
        println!("  {:>8.1} us  {name}", median(fig));
    }
}
