//! Shared pieces of Cairn's benchmarks: options, a deterministic journal
//! generator, store building, WAL warm-up, alternating timed rounds with
//! medians, and the one-JSON-object-per-line report.
//!
//! Used by the `cairn-bench` binary (baselines on stock SQLite) and by
//! `bench/sqlcipher` (the SQLCipher baseline, built in a workspace of its
//! own). See bench/README.md.

#[cfg(feature = "sync")]
pub mod sync;

use cairn_core::{
    Entry, EntryQuery, FixedClock, Key, NewEntry, Store, StoreOptions, Tag, TagGroup, Value, ZoneDb,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The data key every benchmark store is created with (a fixed test key).
pub const KEY: [u8; 32] = [0x5a; 32];
/// The zone every generated entry is logged in.
pub const ZONE: &str = "America/New_York";
/// Entries the generator writes per day: six trackers, three check-ins.
pub const PER_DAY: usize = 18;
/// Milliseconds in a day (core's day buckets are UTC days since 1970).
pub const DAY_MS: i64 = 86_400_000;

/// The last day of generated data ("today" for the benchmarks). Fixed, so
/// every run writes the same journal.
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).expect("valid date")
}

/// Midnight UTC starting `d`.
pub fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("valid time"))
}

/// The first day of `years` years of data ending on [`last_day`].
pub fn first_day(years: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(last_day().year() - years as i32 + 1, 1, 1).expect("valid date")
}

/// The query for every entry from `first` to `last` (inclusive, UTC days).
pub fn days_query(first: NaiveDate, last: NaiveDate) -> EntryQuery {
    EntryQuery {
        from: Some(midnight(first)),
        to: Some(midnight(last + Duration::days(1))),
        ..Default::default()
    }
}

// --- options ----------------------------------------------------------------

/// Command-line options shared by both bench binaries.
#[derive(Debug, Clone)]
pub struct Opts {
    /// `--quick`: fewer and shorter rounds (for CI).
    pub quick: bool,
    /// `--dir PATH`: where the benchmark files go (default: the system temp
    /// dir); a fresh folder is made inside and removed at the end. Put it on
    /// the disk you want the fsync figures for.
    pub dir: Option<PathBuf>,
    /// `--only NAME`: run only cases whose name contains NAME.
    pub only: Option<String>,
}

impl Opts {
    /// Parses `std::env::args()`; exits with a usage line on anything else.
    pub fn from_args() -> Opts {
        let mut o = Opts {
            quick: false,
            dir: None,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--dir" => o.dir = args.next().map(PathBuf::from),
                "--only" => o.only = args.next(),
                _ => {
                    eprintln!("usage: [--quick] [--dir PATH] [--only CASE]");
                    std::process::exit(2);
                }
            }
        }
        o
    }

    /// Whether the case `name` is selected.
    pub fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| name.contains(o))
    }

    /// Picks the quick or the full figure.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// A fresh folder for benchmark files (inside `--dir` or the system temp
/// dir), removed with its contents when dropped.
pub struct Workdir {
    path: PathBuf,
}

impl Workdir {
    /// The folder `--dir` named, or a fresh one under the temp dir.
    pub fn new(opts: &Opts, tag: &str) -> std::io::Result<Workdir> {
        let parent = opts.dir.clone().unwrap_or_else(std::env::temp_dir);
        let path = parent.join(format!("{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Workdir { path })
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes a SQLite file and its `-wal`/`-shm` companions.
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The `-wal` file next to `db`.
pub fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

// --- stores -----------------------------------------------------------------

/// Store options with the system zone database and a clock fixed just after
/// [`last_day`], so every generated (back-dated) entry is accepted.
pub fn store_options() -> StoreOptions {
    let now = midnight(last_day() + Duration::days(1)) + Duration::hours(1);
    StoreOptions {
        zones: Arc::new(ZoneDb::system()),
        clock: Arc::new(FixedClock::new(now.timestamp_millis())),
    }
}

/// Creates an empty store at `path` under [`KEY`].
pub fn create_store(path: &Path) -> Store {
    Store::create(path, Key::Raw(&KEY), store_options()).expect("create store")
}

/// Opens the store at `path` under [`KEY`].
pub fn open_store(path: &Path) -> Store {
    Store::open(path, Key::Raw(&KEY), store_options()).expect("open store")
}

/// Builds a store at `path` holding every generated entry from `first` to
/// [`last_day`], each logged through `Store::log` exactly as an app would.
///
/// The logging runs on a RAM-backed folder (`/dev/shm` where there is one),
/// where each commit's fsync costs nothing, and the finished file
/// (checkpointed and closed) is copied to `path`: the same bytes core wrote,
/// without tens of thousands of real disk flushes. Returns the entry count.
pub fn build_store(path: &Path, first: NaiveDate) -> usize {
    let shm = Path::new("/dev/shm");
    let stage_dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        path.parent().expect("parent").to_path_buf()
    };
    let stage = stage_dir.join(format!(
        "cairn-bench-stage-{}-{}.db",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("store")
    ));
    remove_db(&stage);
    let store = create_store(&stage);
    let mut n = 0;
    let mut g = Generator::new(first);
    while let Some(day) = g.next_day() {
        for e in day {
            store.log(e).expect("log generated entry");
            n += 1;
        }
    }
    store.checkpoint().expect("checkpoint");
    store.close().expect("close");
    remove_db(path);
    std::fs::copy(&stage, path).expect("copy built store");
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .expect("sync copied store");
    remove_db(&stage);
    n
}

/// Calls `write` until the `-wal` file of `db` has stopped growing for
/// `settle` writes in a row, i.e. SQLite has checkpointed once and now
/// reuses the log from its start (the steady state of a long-lived store).
/// Returns how many writes that took.
pub fn warm_wal(db: &Path, settle: usize, mut write: impl FnMut()) -> usize {
    let wal = wal_path(db);
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let mut max = size();
    let mut since_growth = 0;
    let mut n = 0;
    // A checkpoint happens after 1000 pages by default, a few hundred commits.
    while since_growth < settle || max == 0 {
        write();
        n += 1;
        let s = size();
        if s > max {
            max = s;
            since_growth = 0;
        } else {
            since_growth += 1;
        }
        assert!(n < 200_000, "the WAL never settled");
    }
    n
}

// --- baselines --------------------------------------------------------------

/// Applies the pragmas the store uses (see core/src/store.rs) to a baseline
/// connection, in WAL mode.
pub fn store_pragmas(conn: &Connection) {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = FULL;",
    )
    .expect("pragmas");
}

// --- the generator ----------------------------------------------------------

/// A small deterministic PRNG (xorshift64*), so runs write the same journal.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (any seed; zero is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    /// One element of `xs`.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const SENTENCES: &[&str] = &[
    "Woke up at four again and couldn't get back to sleep.",
    "Felt flat most of the morning, better after lunch.",
    "Meeting with my manager went better than I feared.",
    "Skipped breakfast, which never helps.",
    "Walked the long way home through the park.",
    "Racing thoughts before bed, used the breathing exercise.",
    "Had a good talk with my sister on the phone.",
    "Tired but not in the heavy way of last week.",
    "The news put me on edge for a while.",
    "Therapy today: we worked on the thought record again.",
    "Noticed I was snapping at people in the afternoon.",
    "Cooked a proper dinner for the first time in days.",
    "Headache most of the day, maybe the weather.",
    "Got through the whole to-do list, small win.",
    "Felt lonely in the evening and didn't reach out.",
    "Ran into an old friend, it lifted me a bit.",
    "Too much coffee, jittery by three o'clock.",
    "Stayed in bed longer than I wanted to.",
    "Sunny day, sat outside for twenty minutes.",
    "Argument about money, left me shaky afterwards.",
    "Could concentrate on reading for once.",
    "Body felt heavy, but I still went to yoga.",
    "Worried about the appointment on Thursday.",
    "Laughed properly at something for the first time this week.",
];

const TRIGGERS: &[&str] = &[
    "work",
    "argument",
    "news",
    "money",
    "commute",
    "family",
    "deadline",
    "poor sleep",
];
const ACTIVITIES: &[&str] = &[
    "walk",
    "therapy",
    "yoga",
    "cooking",
    "friends",
    "reading",
    "meditation",
    "gym",
];
const OTHER_TAGS: &[&str] = &["weekend", "travel", "period", "rain", "holiday"];
const MEDICATIONS: [&str; 3] = ["sertraline 100 mg", "vitamin D 1000 IU", "quetiapine 25 mg"];

fn text(rng: &mut Rng, min: u64, max: u64) -> String {
    let n = min + rng.below(max - min + 1);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let sentence: &&str = rng.pick(SENTENCES);
        s.push_str(sentence);
    }
    s
}

fn tags(rng: &mut Rng, p: f64) -> Vec<Tag> {
    let mut out = Vec::new();
    if rng.chance(p) {
        let n = 1 + rng.below(3);
        for _ in 0..n {
            let (group, bank) = match rng.below(5) {
                0 | 1 => (TagGroup::Trigger, TRIGGERS),
                2 | 3 => (TagGroup::Activity, ACTIVITIES),
                _ => (TagGroup::Other, OTHER_TAGS),
            };
            let label = rng.pick(bank).to_string();
            if !out
                .iter()
                .any(|t: &Tag| t.group == group && t.label == label)
            {
                out.push(Tag { group, label });
            }
        }
    }
    out
}

fn scale(rng: &mut Rng, centre: f64, lo: f64, hi: f64) -> f64 {
    let jitter = rng.below(5) as f64 - 2.0;
    (centre + jitter).round().clamp(lo, hi)
}

/// Writes a realistic journal one day at a time: three check-ins a day (at
/// 12:xx, 18:xx and 23:xx UTC: morning, afternoon and evening in New York,
/// so each day's entries fall in one UTC day bucket), each
/// rating mood, anxiety, energy and irritability, logging a medication, and
/// one of sleep (morning), appetite (afternoon) or a journal text (evening).
/// Some ratings carry a note, some carry tags. Eighteen entries a day.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    day: NaiveDate,
    mood: f64,
}

impl Generator {
    /// Starts on `first`, ends after [`last_day`].
    pub fn new(first: NaiveDate) -> Generator {
        Generator {
            rng: Rng::new(0x00c0_ffee ^ first.num_days_from_ce() as u64),
            day: first,
            mood: 6.0,
        }
    }

    /// The next day's entries, or `None` past [`last_day`].
    pub fn next_day(&mut self) -> Option<Vec<NewEntry>> {
        if self.day > last_day() {
            return None;
        }
        let day = self.day;
        self.day += Duration::days(1);
        let rng = &mut self.rng;
        // The mood drifts slowly from day to day.
        self.mood = (self.mood + rng.below(3) as f64 - 1.0).clamp(2.0, 9.0);
        let mut out = Vec::with_capacity(PER_DAY);
        for (slot, hour) in [12u32, 18, 23].into_iter().enumerate() {
            let base = midnight(day) + Duration::hours(hour as i64);
            let at = |rng: &mut Rng| {
                base + Duration::minutes(rng.below(50) as i64)
                    + Duration::seconds(rng.below(60) as i64)
            };
            let entry = |tracker: &str,
                         value: Value,
                         note: Option<String>,
                         tags: Vec<Tag>,
                         rng: &mut Rng| NewEntry {
                tracker: tracker.into(),
                value,
                note,
                tags,
                at: at(rng),
                zone: ZONE.into(),
            };
            let mood = scale(rng, self.mood, 0.0, 10.0);
            let note = rng.chance(0.25).then(|| text(rng, 1, 2));
            let t = tags(rng, 0.35);
            out.push(entry("mood", Value::Scale(mood), note, t, rng));
            let anxiety = scale(rng, 10.0 - self.mood, 0.0, 10.0);
            let note = rng.chance(0.10).then(|| text(rng, 1, 1));
            let t = tags(rng, 0.2);
            out.push(entry("anxiety", Value::Scale(anxiety), note, t, rng));
            let energy = scale(rng, self.mood - 1.0, 0.0, 10.0);
            out.push(entry("energy", Value::Scale(energy), None, Vec::new(), rng));
            let irritability = scale(rng, 9.0 - self.mood, 0.0, 10.0);
            let t = tags(rng, 0.1);
            out.push(entry(
                "irritability",
                Value::Scale(irritability),
                None,
                t,
                rng,
            ));
            let taken = rng.chance(0.95);
            let med = Value::Medication {
                name: MEDICATIONS[slot].into(),
                taken,
            };
            out.push(entry("medication", med, None, Vec::new(), rng));
            match slot {
                0 => {
                    let minutes = 300 + rng.below(240) as u32;
                    let quality = Some(rng.below(11) as u8);
                    let note = rng.chance(0.15).then(|| text(rng, 1, 1));
                    out.push(entry(
                        "sleep",
                        Value::Sleep { minutes, quality },
                        note,
                        Vec::new(),
                        rng,
                    ));
                }
                1 => {
                    let appetite = rng.below(5) as f64 - 2.0;
                    out.push(entry(
                        "appetite",
                        Value::Scale(appetite),
                        None,
                        Vec::new(),
                        rng,
                    ));
                }
                _ => {
                    let body = text(rng, 3, 10);
                    let t = tags(rng, 0.5);
                    out.push(entry("journal", Value::Text(body), None, t, rng));
                }
            }
        }
        Some(out)
    }

    /// Every entry from the start to [`last_day`].
    pub fn all(mut self) -> Vec<NewEntry> {
        let mut v = Vec::new();
        while let Some(d) = self.next_day() {
            v.extend(d);
        }
        v
    }
}

// --- timing -----------------------------------------------------------------

/// Median of `xs` (mean of the middle two for an even count).
pub fn median(xs: &[f64]) -> f64 {
    assert!(!xs.is_empty(), "median of nothing");
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Seconds `f` took.
pub fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Runs `rounds` rounds; in each, `per_round` operations of each side
/// interleaved one by one (ours, base, base, ours, ...: each side goes
/// first half the time), so both sides meet the same disk and CPU weather
/// on a shared machine. Each call does one operation and returns the
/// seconds it took (it times itself, so it can prepare untimed). Returns
/// each side's mean seconds per operation, one figure per round.
pub fn alternate(
    rounds: usize,
    per_round: usize,
    mut ours: impl FnMut() -> f64,
    mut base: impl FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut a = Vec::with_capacity(rounds);
    let mut b = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let (mut sa, mut sb) = (0.0, 0.0);
        for k in 0..per_round {
            if (r + k) % 2 == 0 {
                sa += ours();
                sb += base();
            } else {
                sb += base();
                sa += ours();
            }
        }
        a.push(sa / per_round as f64);
        b.push(sb / per_round as f64);
    }
    (a, b)
}

/// `xs`, each times `factor` (seconds to ms: 1e3; to us: 1e6).
pub fn scaled(xs: &[f64], factor: f64) -> Vec<f64> {
    xs.iter().map(|x| x * factor).collect()
}

/// One result line.
#[derive(Debug, Clone)]
pub struct Report {
    /// Case name.
    pub name: String,
    /// Median of our rounds.
    pub ours: f64,
    /// Median of the baseline's rounds.
    pub baseline: f64,
    /// Unit of both figures.
    pub unit: &'static str,
    /// Extra fields (rounds, n, target, ...), printed in insertion order.
    pub extra: Vec<(String, serde_json::Value)>,
}

impl Report {
    /// A report from each side's round figures (medians taken here), with
    /// the target ratio (if the case has one), the round count and the
    /// median of the per-round ratios as extra fields.
    pub fn from_rounds(
        name: &str,
        unit: &'static str,
        ours: &[f64],
        base: &[f64],
        target: Option<f64>,
    ) -> Report {
        let mut r = Report {
            name: name.into(),
            ours: median(ours),
            baseline: median(base),
            unit,
            extra: Vec::new(),
        };
        if let Some(t) = target {
            r.extra.push(("target".into(), t.into()));
        }
        r.extra.push(("rounds".into(), ours.len().into()));
        // Less sensitive to a noisy neighbour than the ratio of medians:
        // each round's two sides ran interleaved in the same time window.
        let per_round: Vec<f64> = ours.iter().zip(base).map(|(a, b)| a / b).collect();
        let m = median(&per_round);
        r.extra.push((
            "round_ratio_median".into(),
            ((m * 1000.0).round() / 1000.0).into(),
        ));
        r
    }

    /// Adds an extra field.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Report {
        self.extra.retain(|(k, _)| k != key);
        self.extra.push((key.into(), value.into()));
        self
    }

    /// The JSON line: name, ours, baseline, unit, ratio, then the extras,
    /// in that order (written by hand: serde_json's `preserve_order` would
    /// unify into the rest of the workspace).
    pub fn json(&self) -> String {
        let round = |x: f64| serde_json::Value::from((x * 1000.0).round() / 1000.0);
        let mut fields: Vec<(String, serde_json::Value)> = vec![
            ("name".into(), self.name.clone().into()),
            ("ours".into(), round(self.ours)),
            ("baseline".into(), round(self.baseline)),
            ("unit".into(), self.unit.into()),
            ("ratio".into(), round(self.ours / self.baseline)),
        ];
        fields.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Prints the JSON line on stdout (and flushes, so CI logs stream).
    pub fn print(&self) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.json());
        let _ = out.flush();
    }
}

/// Progress on stderr (stdout carries only the JSON lines).
pub fn note(msg: &str) {
    eprintln!("[bench] {msg}");
}

// --- reading helpers --------------------------------------------------------

/// Opens `path`, lists every entry from `first` to [`last_day`], and drops
/// the store: one round of "open the app and show the year".
pub fn open_and_read(path: &Path, q: &EntryQuery) -> Vec<Entry> {
    let store = open_store(path);
    let page = store.entries(q).expect("list entries");
    assert!(
        page.corrupted.is_empty(),
        "corrupted records in a fresh store"
    );
    page.entries
}

/// A sealer for the store at `path` under [`KEY`] (its store id read from
/// the file), for the benchmarks' decrypt floor.
pub fn floor_sealer(path: &Path) -> cairn_core::crypto::Sealer {
    let store_id: String = Connection::open(path)
        .expect("open")
        .query_row(
            "SELECT CAST(value AS TEXT) FROM meta WHERE name = 'store_id'",
            [],
            |r| r.get(0),
        )
        .expect("store id");
    let key = cairn_core::crypto::DataKey::from_bytes(&KEY).expect("key");
    cairn_core::crypto::Sealer::new(&key, &store_id)
}

/// The floor for reading: the bodies of days `lo..=hi` selected and opened,
/// nothing else.
pub fn floor_read(
    conn: &Connection,
    sealer: &cairn_core::crypto::Sealer,
    lo: i64,
    hi: i64,
) -> Vec<Vec<u8>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, day, revision, body FROM entries WHERE deleted = 0 AND day BETWEEN ?1 AND ?2",
        )
        .expect("prepare");
    let mut rows = stmt.query(rusqlite::params![lo, hi]).expect("query");
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let id: String = r.get(0).expect("id");
        let at = cairn_core::crypto::Binding {
            column: r.get(1).expect("day"),
            ..cairn_core::crypto::Binding::live("entries", &id, r.get(2).expect("revision"))
        };
        let body: Vec<u8> = r.get(3).expect("body");
        out.push(sealer.open_vec(at, body).expect("open sealed body").1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn alternate_lets_each_side_go_first_half_the_time() {
        let order = std::cell::RefCell::new(String::new());
        alternate(
            2,
            2,
            || {
                order.borrow_mut().push('a');
                1.0
            },
            || {
                order.borrow_mut().push('b');
                2.0
            },
        );
        assert_eq!(order.into_inner(), "abbabaab");
    }

    #[test]
    fn report_line_keeps_its_field_order() {
        let line = Report::from_rounds("case", "ms", &[2.0, 4.0, 3.0], &[2.0, 2.0, 2.0], Some(1.5))
            .with("n", 7)
            .json();
        assert_eq!(
            line,
            r#"{"name":"case","ours":3.0,"baseline":2.0,"unit":"ms","ratio":1.5,"target":1.5,"rounds":3,"round_ratio_median":1.5,"n":7}"#
        );
    }

    #[test]
    fn a_year_is_eighteen_entries_a_day_and_the_same_every_run() {
        let a = Generator::new(first_day(1)).all();
        assert_eq!(a.len(), 365 * PER_DAY);
        let b = Generator::new(first_day(1)).all();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(a.iter().any(|e| e.note.is_some()) && a.iter().any(|e| !e.tags.is_empty()));
    }

    #[test]
    fn the_store_accepts_every_generated_entry() {
        let dir = Workdir::new(
            &Opts {
                quick: true,
                dir: None,
                only: None,
            },
            "cairn-bench-test",
        )
        .expect("dir");
        let path = dir.join("t.db");
        let first = last_day() - Duration::days(6);
        let store = create_store(&path);
        let mut g = Generator::new(first);
        let mut n = 0;
        while let Some(day) = g.next_day() {
            for e in day {
                store.log(e).expect("generated entries are valid");
                n += 1;
            }
        }
        drop(store);
        assert_eq!(
            open_and_read(&path, &days_query(first, last_day())).len(),
            n
        );
        let today = open_and_read(&path, &days_query(last_day(), last_day()));
        assert_eq!(today.len(), PER_DAY, "a day's entries fall in its UTC day");
    }
}
