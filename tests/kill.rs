//! SIGKILL the real `cairn` at random moments, re-keys included: every id
//! it printed must be there afterwards, the file must pass SQLite's
//! integrity check, and the store must open with exactly one of the keys.
mod common;
use cairn_core::{EntryQuery, Error, Key, Store, StoreOptions};
use common::*;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const ROUNDS: usize = 60;

/// Deterministic, seedable jitter (the seed is printed on failure).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn key_bytes(p: &Path) -> Vec<u8> {
    let b = std::fs::read(p).unwrap();
    if b.len() == 32 {
        b
    } else {
        cairn_core::crypto::from_hex(String::from_utf8(b).unwrap().trim()).unwrap()
    }
}

/// Which of the two keys opens the store now; panics unless exactly one does.
fn current_key<'a>(path: &Path, a: &'a Path, b: &'a Path) -> &'a Path {
    let opens = |k: &Path| match Store::open(path, Key::Raw(&key_bytes(k)), StoreOptions::default())
    {
        Ok(s) => {
            s.close().unwrap();
            true
        }
        Err(Error::WrongKey) => false,
        Err(e) => panic!("store did not open cleanly: {e}"),
    };
    match (opens(a), opens(b)) {
        (true, false) => a,
        (false, true) => b,
        other => panic!("the store opens with {other:?} of the keys"),
    }
}

/// Runs `cairn` with `args`, kills it after `delay`, and returns what it had
/// printed on stdout by then.
fn run_and_kill(env: &Env, key: &Path, args: &[&str], delay: Duration) -> String {
    let mut child = env
        .cmd(key)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill(); // SIGKILL
    child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[test]
fn killed_writers_and_rekeys_lose_nothing_they_reported_saved() {
    let env = Env::new();
    env.ok(&["init"]);
    // Enough entries that a re-key takes a while and can be interrupted.
    {
        let s = Store::open(
            env.store_path(),
            Key::Raw(&key_bytes(&env.key)),
            StoreOptions::default(),
        )
        .unwrap();
        let t0 = chrono::Utc::now() - chrono::Duration::days(30);
        for i in 0..1500 {
            s.log(cairn_core::NewEntry {
                tracker: "mood".into(),
                value: cairn_core::Value::Scale((i % 11) as f64),
                note: Some(format!("seed entry {i}")),
                tags: vec![],
                at: t0 + chrono::Duration::minutes(i),
                zone: "UTC".into(),
            })
            .unwrap();
        }
        s.close().unwrap();
    }
    // How long one `cairn log` takes here, to aim the kills inside it.
    let t = Instant::now();
    env.ok(&["log", "mood", "5"]);
    let log_us = t.elapsed().as_micros().max(1000) as u64;
    let t = Instant::now();
    env.ok(&["rekey", "--new-key-file", env.key2.to_str().unwrap()]);
    env.cmd(&env.key2)
        .args(["rekey", "--new-key-file", env.key.to_str().unwrap()])
        .output()
        .unwrap();
    let rekey_us = (t.elapsed().as_micros() / 2).max(1000) as u64;

    let seed = std::env::var("CAIRN_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_u64);
    let mut rng = Rng(seed);
    let mut printed: Vec<String> = vec![];
    let (mut killed_logs, mut killed_rekeys, mut completed_rekeys) = (0, 0, 0);
    let mut key = env.key.clone();
    for round in 0..ROUNDS {
        let other = if key == env.key {
            env.key2.clone()
        } else {
            env.key.clone()
        };
        if round % 4 == 3 {
            // Re-key, with a writer racing it, both killed at random moments.
            let mut writer = env
                .cmd(&key)
                .args(["log", "energy", "6", "--note", "during rekey"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let delay = Duration::from_micros(rng.below(rekey_us * 2));
            let out = run_and_kill(
                &env,
                &key,
                &["rekey", "--new-key-file", other.to_str().unwrap()],
                delay,
            );
            let _ = out;
            std::thread::sleep(Duration::from_micros(rng.below(log_us)));
            let _ = writer.kill();
            writer.wait().unwrap();
            let mut w = String::new();
            writer
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut w)
                .unwrap();
            printed.extend(w.lines().map(str::to_owned));
            let now = current_key(&env.store_path(), &env.key, &env.key2).to_path_buf();
            if now == other {
                completed_rekeys += 1;
            } else {
                killed_rekeys += 1;
            }
            key = now;
        } else {
            let delay = Duration::from_micros(rng.below(log_us * 2));
            let out = run_and_kill(
                &env,
                &key,
                &[
                    "log",
                    "mood",
                    &format!("{}", round % 11),
                    "--note",
                    "kill test",
                ],
                delay,
            );
            if out.is_empty() {
                killed_logs += 1;
            }
            printed.extend(out.lines().map(str::to_owned));
        }
    }
    eprintln!(
        "seed {seed:#x}: {ROUNDS} rounds, {} ids printed, {killed_logs} logs killed before printing, \
         {killed_rekeys} re-keys killed, {completed_rekeys} completed",
        printed.len()
    );
    assert!(
        killed_logs > 0,
        "no log was interrupted: the kills came too late to test anything"
    );
    let key = current_key(&env.store_path(), &env.key, &env.key2);
    let s = Store::open(
        env.store_path(),
        Key::Raw(&key_bytes(key)),
        StoreOptions::default(),
    )
    .unwrap();
    assert!(
        s.integrity_check().unwrap(),
        "PRAGMA integrity_check failed (seed {seed:#x})"
    );
    for id in &printed {
        assert_eq!(id.len(), 32, "partial line printed: {id:?}");
        s.entry(id)
            .unwrap_or_else(|e| panic!("printed id {id} is missing: {e} (seed {seed:#x})"));
    }
    let all = s.entries(&EntryQuery::default()).unwrap();
    assert!(
        all.corrupted.is_empty(),
        "records unreadable after kills: {:?}",
        all.corrupted
    );
    assert!(all.entries.len() >= 1501 + printed.len());
}
