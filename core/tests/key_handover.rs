//! The key handover protocol (docs/design.md, "Keys") against real kills:
//! a child process saves the new key as pending, re-keys and promotes,
//! announcing each step; the parent SIGKILLs it right after a step and then
//! opens the store the way a shell does (current key, else pending). Every
//! stop must leave a store that opens, with every entry, and no pending key.
mod common;
use cairn_core::*;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const CHILD: &str = "CAIRN_HANDOVER_CHILD";
const NEW_KEY: [u8; 32] = [0x5c; 32];

/// Writes a key file durably (the keystore's part in the protocol).
fn save(path: &Path, key: &[u8]) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(key).unwrap();
    f.sync_all().unwrap();
}

/// Promotes the pending key: current := pending, then pending removed
/// (a rename is atomic, so a stop leaves one or the other).
fn promote(dir: &Path) {
    std::fs::rename(dir.join("key.pending"), dir.join("key.current")).unwrap();
    std::fs::File::open(dir).unwrap().sync_all().unwrap();
}

/// What a shell does on every open.
fn open_as_a_shell(dir: &Path) -> Store {
    let current = std::fs::read(dir.join("key.current")).unwrap();
    let pending = std::fs::read(dir.join("key.pending")).ok();
    let (store, slot) = Store::open_with_pending(
        dir.join("journal.cairn"),
        Key::Raw(&current),
        pending.as_deref().map(Key::Raw),
        opts(),
    )
    .unwrap();
    match slot {
        KeySlot::Pending => promote(dir),
        KeySlot::Current => {
            let _ = std::fs::remove_file(dir.join("key.pending"));
        }
    }
    store
}

/// The child: runs the whole protocol, announcing each step, then waits to
/// be killed.
#[test]
fn handover_child() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let dir = Path::new(&dir);
    let s = open_as_a_shell(dir);
    // Announces a step, then waits for the parent's word to go on: the
    // parent kills the child at exactly the step it chose.
    let mut go = String::new();
    let mut say = |step: &str| {
        println!("{step}");
        std::io::stdout().flush().unwrap();
        std::io::stdin().read_line(&mut go).unwrap();
    };
    save(&dir.join("key.pending"), &NEW_KEY);
    say("pending-saved");
    s.rekey(Key::Raw(&NEW_KEY)).unwrap();
    say("rekeyed");
    promote(dir);
    say("promoted");
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
#[cfg_attr(
    not(target_arch = "x86_64"),
    ignore = "re-runs its own binary, which qemu user mode cannot start without binfmt"
)]
fn a_kill_at_any_step_of_the_handover_leaves_a_store_that_opens() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    for stop_after in ["pending-saved", "rekeyed", "promoted"] {
        let dir = tempfile::tempdir().unwrap();
        save(&dir.path().join("key.current"), &KEY);
        let s = Store::create(dir.path().join("journal.cairn"), Key::Raw(&KEY), opts()).unwrap();
        let ids: Vec<String> = (0..50)
            .map(|i| {
                s.log(entry(
                    "mood",
                    Value::Scale(5.0),
                    at(2026, 11, 1 + i % 20, 9, i),
                ))
                .unwrap()
                .id
            })
            .collect();
        drop(s);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "handover_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stdin = child.stdin.take().unwrap();
        loop {
            let line = lines.next().expect("the child stopped early").unwrap();
            // libtest may print "test handover_child ... " before the first line.
            if line.ends_with(stop_after) {
                break;
            }
            if ["pending-saved", "rekeyed"]
                .iter()
                .any(|s| line.ends_with(s))
            {
                writeln!(stdin).unwrap();
            }
        }
        child.kill().unwrap(); // SIGKILL: no destructors, no close
        child.wait().unwrap();
        let pending_left = dir.path().join("key.pending").exists();
        assert_eq!(pending_left, stop_after != "promoted", "{stop_after}");
        let s = open_as_a_shell(dir.path());
        for id in &ids {
            assert_eq!(&s.entry(id).unwrap().id, id, "{stop_after}");
        }
        assert!(s.integrity_check().unwrap());
        assert!(!dir.path().join("key.pending").exists(), "{stop_after}");
        let current = std::fs::read(dir.path().join("key.current")).unwrap();
        let expected: &[u8] = if stop_after == "pending-saved" {
            &KEY
        } else {
            &NEW_KEY
        };
        assert_eq!(current, expected, "{stop_after}");
        drop(s);
        Store::open(dir.path().join("journal.cairn"), Key::Raw(&current), opts()).unwrap();
    }
}
