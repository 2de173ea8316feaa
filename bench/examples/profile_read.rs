//! A fixed workload for instruction-count profiling of a year's read:
//! `valgrind --tool=callgrind target/release/examples/profile_read`.
use cairn_bench::{Opts, Workdir, build_store, days_query, first_day, last_day, open_store};

fn main() {
    let opts = Opts {
        quick: true,
        dir: None,
        only: None,
    };
    let dir = Workdir::new(&opts, "cairn-profile-read").expect("bench folder");
    let path = dir.join("year.db");
    build_store(&path, first_day(1));
    let q = days_query(first_day(1), last_day());
    let store = open_store(&path);
    let mut n = 0;
    for _ in 0..10 {
        n += store.entries(&q).expect("entries").entries.len();
    }
    println!("{n}");
}
