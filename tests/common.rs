//! Helpers shared by the end-to-end tests: run the real `cairn` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn cairn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cairn"))
}

/// A store folder and key files, removed afterwards.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub key: PathBuf,
    pub key2: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("store");
        let key = dir.path().join("key");
        let key2 = dir.path().join("key2");
        std::fs::write(&key, [0x11u8; 32]).unwrap();
        // The second key as hex, as a script would write it.
        std::fs::write(&key2, format!("{}\n", "ab".repeat(32))).unwrap();
        Env {
            dir,
            data,
            key,
            key2,
        }
    }

    pub fn cmd(&self, key: &Path) -> Command {
        let mut c = Command::new(cairn_bin());
        c.arg("--data").arg(&self.data).arg("--key-file").arg(key);
        c.env_remove("CAIRN_KEY")
            .env_remove("CAIRN_DATA")
            .env("RUST_BACKTRACE", "1");
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(&self.key).args(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    pub fn store_path(&self) -> PathBuf {
        self.data.join("journal.cairn")
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
