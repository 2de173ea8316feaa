#![allow(dead_code)]
use cairn_core::*;
use chrono::{DateTime, TimeZone, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const KEY: [u8; 32] = [7u8; 32];
pub const OTHER_KEY: [u8; 32] = [9u8; 32];
/// 2026-11-27T12:00:00Z
pub const NOW_MS: i64 = 1_795_780_800_000;

pub fn opts() -> StoreOptions {
    StoreOptions {
        zones: Arc::new(ZoneDb::directory("/usr/share/zoneinfo")),
        clock: Arc::new(FixedClock::new(NOW_MS)),
    }
}

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn new_store() -> (TempStore, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.cairn");
    let store = Store::create(&path, Key::Raw(&KEY), opts()).unwrap();
    (TempStore { dir, path }, store)
}

pub fn entry(tracker: &str, value: Value, when: DateTime<Utc>) -> NewEntry {
    NewEntry {
        tracker: tracker.into(),
        value,
        note: None,
        tags: vec![],
        at: when,
        zone: "Europe/London".into(),
    }
}

/// Every file in the store's directory (database, -wal, -shm, temp files).
pub fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
