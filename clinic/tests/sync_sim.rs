//! A deterministic fault-injection simulation of sync (docs/sync-design.md
//! §11): three devices of one patient (real stores) and the clinic's
//! handler (a real SQLite database), driven by a seeded generator through
//! offline periods, dropped, duplicated, reordered and truncated messages,
//! replies lost after the server committed (a crash between the server's
//! acceptance and the device's trim), restarts, a server restored from an
//! older snapshot, devices restored from older copies, and device clocks
//! hours off. Devices and the clinic also edit the safety plan, which
//! merges part by part. After a quiet phase every run must show: all
//! replicas agree (entries and the safety plan), nothing lost, nothing
//! applied twice, no conflict version lost.
//!
//! `SYNC_SIM_RUNS` sets the number of runs (default 1,000; CI runs the
//! default), `SYNC_SIM_SEED` replays one seed and prints its trace.

use cairn_clinic::{Server, handle, records};
use cairn_core::sync::device::{Category, SyncRequest};
use cairn_core::sync::lww;
use cairn_core::sync::messages::{RecordId, kind};
use cairn_core::{
    EntryQuery, Error, FixedClock, Key, NewEntry, SAFETY_PLAN_ID, SafetyPlan, Store, StoreOptions,
    Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;
const KEY: [u8; 32] = [9; 32];
const DEVICES: usize = 3;
const STEPS: usize = 120;

/// SplitMix64: small, seedable, good enough to pick actions.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What the harness knows of every version ever written: the record, and
/// the versions its writer could see of that record when writing it (the
/// ones the new version includes).
struct Truth {
    record: BTreeMap<String, String>,
    seen: BTreeMap<String, BTreeSet<String>>,
    deletes: BTreeSet<String>,
}

impl Truth {
    /// Every version `v` includes, transitively.
    fn ancestors(&self, v: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<String> = self.seen.get(v).into_iter().flatten().cloned().collect();
        while let Some(x) = todo.pop() {
            if out.insert(x.clone()) {
                todo.extend(self.seen.get(&x).into_iter().flatten().cloned());
            }
        }
        out
    }
}

struct Device {
    path: PathBuf,
    store: Option<Store>,
    clock: Arc<FixedClock>,
    skew: i64,
    offline: bool,
    copy: Option<Vec<u8>>,
}

impl Device {
    fn open(path: &Path, clock: &Arc<FixedClock>) -> Store {
        let opts = StoreOptions {
            clock: clock.clone(),
            ..StoreOptions::default()
        };
        Store::open(path, Key::Raw(&KEY), opts).unwrap()
    }
    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
    fn restart(&mut self) {
        self.store.take().unwrap().close().unwrap();
        self.store = Some(Device::open(&self.path, &self.clock));
    }
    fn file(&self) -> Vec<u8> {
        self.store().checkpoint().unwrap();
        std::fs::read(&self.path).unwrap()
    }
    fn restore(&mut self, bytes: &[u8]) {
        self.store.take().unwrap().close().unwrap();
        for suffix in ["-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        std::fs::write(&self.path, bytes).unwrap();
        self.store = Some(Device::open(&self.path, &self.clock));
    }
    /// The versions this device shows of each entry: the live one's token
    /// (its note) and its conflict versions' (`deleted` for a delete).
    fn view(&self) -> BTreeMap<String, (Option<String>, Vec<String>)> {
        let s = self.store();
        let mut out: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
        let page = s
            .entries(&EntryQuery {
                limit: Some(100_000),
                ..Default::default()
            })
            .unwrap();
        assert!(page.corrupted.is_empty());
        for e in page.entries {
            out.entry(e.id.clone()).or_default().0 = e.note.clone();
        }
        for c in s.sync_conflicts().unwrap() {
            let token = c
                .entry
                .as_ref()
                .and_then(|e| e.note.clone())
                .unwrap_or_else(|| "deleted".into());
            out.entry(c.entry_id.clone()).or_default().1.push(token);
        }
        for v in out.values_mut() {
            v.1.sort();
        }
        out
    }
}

enum Msg {
    Request {
        dev: usize,
        req: SyncRequest,
    },
    Reply {
        dev: usize,
        id: String,
        bytes: Vec<u8>,
        /// The request was cut on the way: the reply cannot answer it.
        cut: bool,
    },
}

struct World {
    rng: Rng,
    dir: tempfile::TempDir,
    server: Option<Server>,
    server_copy: Option<Vec<(String, Vec<u8>)>>,
    /// A device was restored from an older copy since the server's snapshot
    /// was taken (see `restore_server`).
    device_restored: bool,
    /// The clinic edited the safety plan since the server's snapshot.
    clinic_wrote: bool,
    devices: Vec<Device>,
    net: Vec<Msg>,
    truth: Truth,
    now: i64,
    tokens: u64,
    trace: Vec<String>,
    seed: u64,
}

const SERVER_FILES: [&str; 2] = ["clinic.sqlite", "storage.key"];

impl World {
    fn new(seed: u64) -> World {
        let dir = tempfile::Builder::new()
            .prefix("cairn-sim")
            .tempdir_in(scratch())
            .unwrap();
        let server = Server::new(Box::new(
            cairn_clinic::open_sqlite(&dir.path().join("clinic"), None, T0 as u64).unwrap(),
        ));
        let mut rng = Rng(seed);
        let mut devices = Vec::new();
        for i in 0..DEVICES {
            let skew = (rng.below(7) as i64 - 3) * HOUR;
            let clock = Arc::new(FixedClock::new(T0 + skew));
            let path = dir.path().join(format!("d{i}.cairn"));
            let opts = StoreOptions {
                clock: clock.clone(),
                ..StoreOptions::default()
            };
            let store = Store::create(&path, Key::Raw(&KEY), opts).unwrap();
            devices.push(Device {
                path,
                store: Some(store),
                clock,
                skew,
                offline: false,
                copy: None,
            });
        }
        World {
            rng,
            dir,
            server: Some(server),
            server_copy: None,
            device_restored: false,
            clinic_wrote: false,
            devices,
            net: Vec::new(),
            truth: Truth {
                record: BTreeMap::new(),
                seen: BTreeMap::new(),
                deletes: BTreeSet::new(),
            },
            now: T0,
            tokens: 0,
            trace: Vec::new(),
            seed,
        }
    }

    fn note(&mut self, line: String) {
        if std::env::var_os("SYNC_SIM_SEED").is_some() {
            eprintln!("  {line}");
        }
        self.trace.push(line);
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    fn tick(&mut self) {
        self.now += (self.rng.below(30) as i64 + 1) * 60_000;
        for d in &self.devices {
            d.clock.set(self.now + d.skew);
        }
    }

    fn token(&mut self) -> String {
        self.tokens += 1;
        format!("s{}v{}", self.seed, self.tokens)
    }

    fn enroll_all(&mut self) {
        for i in 0..DEVICES {
            let code = cairn_clinic::admin::enrollment_code(
                self.server(),
                "sim patient",
                30,
                "https://clinic.example",
                self.now as u64,
            )
            .unwrap();
            let req = self.devices[i]
                .store()
                .sync_enroll(&code, &Category::ALL)
                .unwrap();
            let _ = self.deliver_now(i, req);
        }
    }

    /// Sends a request and applies its reply at once (no faults).
    fn deliver_now(&mut self, dev: usize, req: SyncRequest) -> Result<bool, Error> {
        let reply = handle(self.server(), &req.body, self.now as u64).unwrap();
        self.devices[dev]
            .store()
            .sync_receive(&req.request_id, &reply)
            .map(|o| o.more)
    }

    fn write(&mut self, dev: usize) {
        let view = self.devices[dev].view();
        // Ordered by their notes (tokens of this seed), not by the random
        // ids, so that a seed replays the same run.
        if self.rng.chance(15) {
            // The safety plan, merged part by part: one part replaced.
            let token = self.token();
            let store = self.devices[dev].store();
            let mut plan = store.safety_plan().unwrap();
            let part = self.rng.below(7);
            *plan.part_mut(part).unwrap() = vec![token.clone()];
            store.set_safety_plan(plan).unwrap();
            self.note(format!("d{dev} plan part {part} {token}"));
            return;
        }
        let mut live: Vec<(String, Option<String>, Vec<String>)> = view
            .iter()
            .filter(|(_, v)| v.0.is_some())
            .map(|(id, v)| (id.clone(), v.0.clone(), v.1.clone()))
            .collect();
        live.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
        let token = self.token();
        let store = self.devices[dev].store();
        let at = chrono::DateTime::from_timestamp_millis(self.now - HOUR).unwrap();
        let pick = self.rng.below(10);
        if live.is_empty() || pick < 4 {
            let e = store
                .log(NewEntry {
                    tracker: "mood".into(),
                    value: Value::Scale(self.rng.below(11) as f64),
                    note: Some(token.clone()),
                    tags: vec![],
                    at,
                    zone: "Europe/Paris".into(),
                })
                .unwrap();
            self.truth.record.insert(token.clone(), e.id.clone());
            self.truth.seen.insert(token.clone(), BTreeSet::new());
            self.note(format!("d{dev} new {} {token}", &e.id[..6]));
            return;
        }
        let (id, note, conflicts) = live[self.rng.below(live.len())].clone();
        let mut seen: BTreeSet<String> = conflicts.into_iter().filter(|c| c != "deleted").collect();
        seen.extend(note);
        if pick < 9 {
            let mut new: NewEntry = store.entry(&id).unwrap().into();
            new.note = Some(token.clone());
            new.value = Value::Scale(self.rng.below(11) as f64);
            store.update_entry(&id, new).unwrap();
            self.note(format!("d{dev} edit {} {token}", &id[..6]));
        } else {
            store.delete_entry(&id).unwrap();
            self.truth.deletes.insert(token.clone());
            self.note(format!("d{dev} delete {} {token}", &id[..6]));
        }
        self.truth.record.insert(token.clone(), id);
        self.truth.seen.insert(token, seen);
    }

    fn start_sync(&mut self, dev: usize) {
        match self.devices[dev].store().sync_prepare() {
            Ok(Some(req)) => {
                self.note(format!("d{dev} sends"));
                self.net.push(Msg::Request { dev, req });
            }
            Ok(None) => {}
            Err(e) => panic!("prepare: {e}"),
        }
    }

    fn network(&mut self) {
        if self.net.is_empty() {
            return;
        }
        // Mostly the oldest message, sometimes another (reordering).
        let i = if self.rng.chance(70) {
            0
        } else {
            self.rng.below(self.net.len())
        };
        let fault = self.rng.below(100);
        let msg = self.net.remove(i);
        match msg {
            Msg::Request { dev, req } => {
                if self.devices[dev].offline || fault < 8 {
                    self.note(format!("net drops d{dev}'s request"));
                    return;
                }
                let mut body = req.body.clone();
                if fault < 12 {
                    body.truncate(self.rng.below(body.len()));
                    self.note(format!("net truncates d{dev}'s request"));
                }
                let reply = handle(self.server(), &body, self.now as u64).unwrap();
                if (12..18).contains(&fault) {
                    // Duplicated: the server sees it twice.
                    let _ = handle(self.server(), &body, self.now as u64).unwrap();
                    self.note(format!("net duplicates d{dev}'s request"));
                }
                if (18..26).contains(&fault) {
                    // Committed on the server, the reply lost on the way.
                    self.note(format!("reply to d{dev} lost after the commit"));
                    return;
                }
                self.net.push(Msg::Reply {
                    dev,
                    id: req.request_id.clone(),
                    bytes: reply,
                    cut: fault < 12,
                });
                if (26..30).contains(&fault) {
                    // A late duplicate of the request, after others.
                    let req = SyncRequest { body, ..req };
                    self.net.push(Msg::Request { dev, req });
                }
            }
            Msg::Reply {
                dev,
                id,
                mut bytes,
                cut,
            } => {
                if fault < 6 {
                    self.note(format!("net drops the reply to d{dev}"));
                    return;
                }
                if fault < 10 {
                    bytes.truncate(self.rng.below(bytes.len()));
                }
                let r = self.devices[dev].store().sync_receive(&id, &bytes);
                self.note(format!("d{dev} receives: {}", short(&r)));
                if (10..14).contains(&fault) {
                    // Delivered twice: the second is stale.
                    let again = self.devices[dev].store().sync_receive(&id, &bytes);
                    assert!(again.is_err(), "a reply applies once");
                }
                match r {
                    Ok(_) | Err(Error::SyncRefused { .. }) | Err(Error::StaleReply) => {}
                    Err(Error::BadReply { .. }) if fault < 10 || cut => {}
                    Err(e) => panic!("receive: {e}"),
                }
            }
        }
    }

    fn step(&mut self) {
        self.tick();
        let dev = self.rng.below(DEVICES);
        match self.rng.below(100) {
            0..=29 => self.write(dev),
            30..=54 => self.start_sync(dev),
            55..=84 => self.network(),
            85..=87 => {
                self.devices[dev].offline = !self.devices[dev].offline;
                self.note(format!("d{dev} offline: {}", self.devices[dev].offline));
            }
            88..=89 => {
                self.devices[dev].restart();
                self.note(format!("d{dev} restarts"));
            }
            90..=91 => {
                let bytes = self.devices[dev].file();
                self.devices[dev].copy = Some(bytes);
                self.note(format!("d{dev} copied"));
            }
            92 => {
                if let Some(copy) = self.devices[dev].copy.take() {
                    // What was never sent is lost with any restore; what
                    // was sent must come back, and what is written after
                    // the restore must not be taken for already applied.
                    if !self.devices[dev].offline {
                        self.sync_now(dev);
                    } else {
                        self.devices[dev].copy = Some(copy);
                        return;
                    }
                    self.devices[dev].restore(&copy);
                    self.device_restored = true;
                    self.note(format!("d{dev} restored from its older copy"));
                }
            }
            93..=94 => {
                let jump = (self.rng.below(9) as i64 - 4) * HOUR;
                self.devices[dev].skew += jump;
                self.note(format!("d{dev} clock jumps {}h", jump / HOUR));
            }
            95 => self.snapshot_server(),
            96 => self.restore_server(),
            97 => self.clinic_edits_plan(),
            _ => self.network(),
        }
    }

    fn server_dir(&self) -> PathBuf {
        self.dir.path().join("clinic")
    }

    fn reopen_server(&mut self) {
        self.server = Some(Server::new(Box::new(
            cairn_clinic::open_sqlite(&self.server_dir(), None, self.now as u64).unwrap(),
        )));
    }

    /// The clinic replaces one part of the safety plan.
    fn clinic_edits_plan(&mut self) {
        let token = self.token();
        let part = self.rng.below(7);
        let id = RecordId::Text(SAFETY_PLAN_ID.into());
        let storage = self.server().storage();
        let mut plan = match records::find(storage, "sim patient", kind::SAFETY_PLAN, &id)
            .unwrap()
            .and_then(|h| h.body())
        {
            Some(b) => lww::safety_plan_from(&b).unwrap(),
            None => SafetyPlan::default(),
        };
        *plan.part_mut(part).unwrap() = vec![token.clone()];
        records::write(
            self.server(),
            "sim patient",
            kind::SAFETY_PLAN,
            &id,
            Some(lww::safety_plan_body(&plan)),
            self.now as u64,
        )
        .unwrap();
        self.clinic_wrote = true;
        self.note(format!("clinic plan part {part} {token}"));
    }

    /// The safety plan as the clinic holds it.
    fn clinic_plan(&self) -> SafetyPlan {
        let id = RecordId::Text(SAFETY_PLAN_ID.into());
        records::find(
            self.server().storage(),
            "sim patient",
            kind::SAFETY_PLAN,
            &id,
        )
        .unwrap()
        .and_then(|h| h.body())
        .map(|b| lww::safety_plan_from(&b).unwrap())
        .unwrap_or_default()
    }

    fn snapshot_server(&mut self) {
        self.server = None;
        let dir = self.server_dir();
        self.device_restored = false;
        self.clinic_wrote = false;
        self.server_copy = Some(
            SERVER_FILES
                .iter()
                .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
                .collect(),
        );
        self.reopen_server();
        self.note("server snapshot".into());
    }

    fn restore_server(&mut self) {
        if std::env::var_os("SYNC_SIM_NO_SERVER_RESTORE").is_some() {
            return;
        }
        // One side goes back in time at once: a change that only a device
        // restored from an older copy and a server restored from an older
        // snapshot both lost survives on the patient's other devices only,
        // and devices send again their own versions, not each other's
        // (docs/sync-design.md §7).
        if self.device_restored {
            return;
        }
        // The clinic's own edits since the snapshot would be lost with it:
        // devices send again their own versions, not the clinic's.
        if self.clinic_wrote {
            return;
        }
        let Some(copy) = self.server_copy.take() else {
            return;
        };
        self.server = None;
        let dir = self.server_dir();
        for f in ["clinic.sqlite-wal", "clinic.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        for (f, bytes) in &copy {
            std::fs::write(dir.join(f), bytes).unwrap();
        }
        self.reopen_server();
        self.note("server restored from its older snapshot".into());
    }

    /// Syncs one device until it has nothing more, without faults.
    fn sync_now(&mut self, dev: usize) {
        for _ in 0..50 {
            let req = self.devices[dev].store().sync_prepare().unwrap().unwrap();
            match self.deliver_now(dev, req) {
                Ok(true) | Err(Error::SyncRefused { .. }) => continue,
                Ok(false) => return,
                Err(e) => panic!("sync of d{dev}: {e}"),
            }
        }
        panic!("d{dev} did not settle");
    }

    /// Everyone online, no faults, until no device has anything to do.
    fn quiet(&mut self) {
        self.net.clear();
        for d in &mut self.devices {
            d.offline = false;
        }
        for _round in 0..3 {
            for dev in 0..DEVICES {
                self.sync_now(dev);
            }
        }
    }

    fn check(&self) {
        // Convergence: every device shows the same versions.
        let views: Vec<_> = self.devices.iter().map(Device::view).collect();
        for (i, v) in views.iter().enumerate().skip(1) {
            if *v != views[0] {
                let keys: BTreeSet<_> = v.keys().chain(views[0].keys()).collect();
                for k in keys {
                    if v.get(k) != views[0].get(k) {
                        panic!(
                            "d{i} and d0 disagree on {k}: {:?} vs {:?}",
                            v.get(k),
                            views[0].get(k)
                        );
                    }
                }
            }
        }
        // The clinic holds the same winners.
        let clinic: BTreeMap<String, Option<String>> =
            cairn_clinic::admin::entries(self.server().storage(), "sim patient")
                .unwrap()
                .into_iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap().to_owned(),
                        e["note"].as_str().map(str::to_owned),
                    )
                })
                .collect();
        let live: BTreeMap<String, Option<String>> = views[0]
            .iter()
            .filter(|(_, v)| v.0.is_some())
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        assert_eq!(clinic, live, "the clinic's winners are the devices'");
        // The safety plan, merged part by part, is the same everywhere.
        let plans: Vec<SafetyPlan> = self
            .devices
            .iter()
            .map(|d| d.store().safety_plan().unwrap())
            .collect();
        for (i, p) in plans.iter().enumerate() {
            assert_eq!(p, &plans[0], "d{i} and d0 disagree on the safety plan");
        }
        assert_eq!(
            self.clinic_plan(),
            plans[0],
            "the clinic's safety plan is the devices'"
        );

        // Nothing lost: every version is shown, or included by one that is
        // (directly or through others).
        let shown: BTreeSet<String> = views[0]
            .values()
            .flat_map(|(live, conflicts)| live.iter().chain(conflicts.iter()).cloned())
            .collect();
        let mut covered = shown.clone();
        for v in self.truth.seen.keys() {
            if shown.contains(v) || self.truth.deletes.contains(v) {
                covered.extend(self.truth.ancestors(v));
            }
        }
        for v in self.truth.seen.keys() {
            if self.truth.deletes.contains(v) {
                continue;
            }
            assert!(
                covered.contains(v),
                "version {v} of {} is lost: not shown and no shown or deleting version includes it",
                self.truth.record[v]
            );
        }
        // Nothing twice: the clinic stored each change once.
        let db = rusqlite::Connection::open(self.server_dir().join("clinic.sqlite")).unwrap();
        let (n, distinct): (i64, i64) = db
            .query_row(
                "SELECT count(*), count(DISTINCT change_id) FROM changes",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(n, distinct, "a change stored twice");
    }
}

fn short<T>(r: &Result<T, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// A folder on tmpfs when there is one: a run makes thousands of commits.
fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

fn run(seed: u64, verbose: bool) {
    let mut w = World::new(seed);
    w.enroll_all();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..STEPS {
            w.step();
        }
        w.quiet();
        w.check();
    }));
    if verbose || result.is_err() {
        eprintln!("seed {seed}:");
        if !verbose {
            for t in &w.trace {
                eprintln!("  {t}");
            }
        }
        for (i, d) in w.devices.iter().enumerate() {
            if let Some(store) = &d.store
                && let Ok(log) = store.sync_log(1000)
            {
                for e in log.iter().rev() {
                    eprintln!(
                        "  d{i} log: {} sent {} acked {} pulled {} {}",
                        e.event, e.sent, e.acknowledged, e.pulled, e.detail
                    );
                }
            }
        }
    }
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn the_simulation_converges_without_loss() {
    if let Some(seed) = std::env::var("SYNC_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run(seed, true);
        return;
    }
    let runs: u64 = std::env::var("SYNC_SIM_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..threads {
            let failures = &failures;
            s.spawn(move || {
                let mut seed = t;
                while seed < runs {
                    if std::panic::catch_unwind(|| run(seed, false)).is_err() {
                        failures.lock().unwrap().push(seed);
                    }
                    seed += threads;
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed; replay one with SYNC_SIM_SEED={}",
        failures.len(),
        failures[0]
    );
}
