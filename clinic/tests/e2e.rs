//! End to end over HTTP on loopback: the real `cairn-clinic serve` and two
//! real `cairn` CLI devices of one patient, once on SQLite and once on
//! PostgreSQL (a private cluster the test starts). Entries logged offline on
//! both reach the clinic exactly once; the server killed with SIGKILL in the
//! middle of syncs and restarted loses nothing; on PostgreSQL two server
//! processes share the database and the phones alternate between them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The `cairn` CLI binary, built beside this package's binary (cargo test
/// --workspace builds it; built here if this package is tested alone).
fn cairn_bin() -> PathBuf {
    let clinic = PathBuf::from(env!("CARGO_BIN_EXE_cairn-clinic"));
    let cairn = clinic.with_file_name(format!("cairn{}", std::env::consts::EXE_SUFFIX));
    if !cairn.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "cairn-cli", "--bin", "cairn"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "building the cairn CLI");
    }
    cairn
}

/// Where the clinic keeps its state: a data folder (SQLite) or a
/// PostgreSQL database and a storage key file.
#[derive(Clone)]
enum Backend {
    Sqlite(PathBuf),
    Postgres { url: String, key_file: PathBuf },
}

impl Backend {
    fn args(&self) -> Vec<std::ffi::OsString> {
        match self {
            Backend::Sqlite(dir) => vec!["--data".into(), dir.clone().into()],
            Backend::Postgres { url, key_file } => vec![
                "--database".into(),
                url.into(),
                "--key-file".into(),
                key_file.clone().into(),
            ],
        }
    }
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(backend: &Backend, log: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-clinic"))
            .args(backend.args())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("CAIRN_CLINIC_DATA")
            .env_remove("CAIRN_CLINIC_KEY_FILE")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        let addr = common::serve_addr(&mut child);
        Server { child, addr }
    }

    /// SIGKILL: no shutdown, no flush beyond what was committed.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clinic(backend: &Backend, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_cairn-clinic"))
        .args(backend.args())
        .args(args)
        .env_remove("CAIRN_CLINIC_DATA")
        .env_remove("CAIRN_CLINIC_KEY_FILE")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cairn-clinic {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

struct Phone {
    data: PathBuf,
}

impl Phone {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(cairn_bin());
        c.arg("--data")
            .arg(&self.data)
            .args(args)
            .env("CAIRN_KEY", "5a".repeat(32))
            .env("TZ", "Europe/Paris")
            .env_remove("CAIRN_DATA");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "cairn {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn notes(&self) -> Vec<String> {
        let out = self.ok(&["entries", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut notes: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["note"].as_str().map(str::to_owned))
            .collect();
        notes.sort();
        notes
    }
}

fn clinic_notes(backend: &Backend) -> Vec<String> {
    let out = clinic(backend, &["entries", "--patient", "E2E patient", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut notes: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            for field in ["id", "tracker", "value", "note", "tags", "at"] {
                assert!(e.get(field).is_some(), "entries --json has {field}");
            }
            e["note"].as_str().unwrap().to_owned()
        })
        .collect();
    notes.sort();
    notes
}

#[test]
fn offline_logs_from_two_phones_arrive_once_through_server_kills_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(tmp.path().join("clinic"));
    offline_logs_arrive_once(tmp.path(), &backend, 1);
}

#[test]
fn two_servers_on_one_postgres_database_with_phones_alternating() {
    let tmp = tempfile::tempdir().unwrap();
    let url = cairn_clinic::testing::cluster().database();
    let key_file = tmp.path().join("storage.key");
    std::fs::write(&key_file, "6b".repeat(32)).unwrap();
    let backend = Backend::Postgres { url, key_file };
    offline_logs_arrive_once(tmp.path(), &backend, 2);
}

/// Two phones enroll, log offline, then sync through `servers` server
/// processes on one backend (alternating) that are SIGKILLed at varying
/// moments and restarted; in the end the clinic holds every entry once and
/// both phones hold both phones' entries.
fn offline_logs_arrive_once(tmp: &Path, backend: &Backend, servers: usize) {
    let data = backend;
    let log = tmp.join("server.log");
    let server = Server::start(data, &log);
    let url = format!("http://{}", server.addr);

    let phones: Vec<Phone> = ["a", "b"]
        .iter()
        .map(|n| Phone { data: tmp.join(n) })
        .collect();
    for p in &phones {
        p.ok(&["init"]);
        let code = clinic(data, &["enroll", "--patient", "E2E patient", "--url", &url]);
        let code = String::from_utf8(code.stdout).unwrap();
        let out = p.ok(&["enroll", code.trim(), "--share", "ratings,notes"]);
        assert!(out.contains("enrolled with"), "{out}");
    }

    // Offline: the server is down; both phones log, and a sync fails
    // without losing anything.
    server.kill();
    let mut expected = Vec::new();
    for (i, p) in phones.iter().enumerate() {
        for k in 0..40 {
            let note = format!("E2E-{i}-{k:02}");
            p.ok(&["log", "mood", &format!("{}", k % 11), "--note", &note]);
            expected.push(note);
        }
        let o = p.run(&["sync"]);
        assert_eq!(o.status.code(), Some(1), "no server: an error");
        assert!(String::from_utf8_lossy(&o.stderr).contains("could not reach"));
    }
    expected.sort();

    // Back online, with the server killed (SIGKILL) at varying moments of
    // syncs in flight, and restarted on a new port each time.
    let mut interrupted = 0;
    for round in 0..12u64 {
        let running: Vec<Server> = (0..servers).map(|_| Server::start(data, &log)).collect();
        let children: Vec<Child> = phones
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let at = &running[(i + round as usize) % servers].addr;
                p.cmd(&["sync", "--server", &format!("http://{at}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5 + (round * 7) % 40));
        for s in running {
            s.kill();
        }
        for mut c in children {
            if !c.wait().unwrap().success() {
                interrupted += 1;
            }
        }
        // A few more entries between kills.
        let p = &phones[(round % 2) as usize];
        let note = format!("E2E-late-{round:02}");
        p.ok(&["log", "anxiety", "3", "--note", &note]);
        expected.push(note);
    }
    expected.sort();
    assert!(interrupted > 0, "some syncs were cut by the kill");

    // Quiet: both phones sync to the end, alternating between the servers.
    let running: Vec<Server> = (0..servers).map(|_| Server::start(data, &log)).collect();
    for round in 0..2 {
        for (i, p) in phones.iter().enumerate() {
            let at = &running[(i + round) % servers].addr;
            let out = p.ok(&["sync", "--server", &format!("http://{at}")]);
            assert!(out.contains("the clinic has everything up to"), "{out}");
        }
    }
    assert_eq!(clinic_notes(data), expected, "each entry exactly once");
    for p in &phones {
        assert_eq!(p.notes(), expected, "each phone has both phones' entries");
        let status = p.ok(&["sync-log"]);
        assert!(status.contains("0 pending"), "{status}");
    }
    drop(running);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !log.contains("E2E-"),
        "no patient content in the server's log"
    );
}

#[test]
fn a_flag_raised_on_the_phone_is_acknowledged_at_the_clinic_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(tmp.path().join("clinic"));
    flag_round_trip(tmp.path(), &backend);
}

#[test]
fn a_flag_raised_on_the_phone_is_acknowledged_at_the_clinic_on_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let url = cairn_clinic::testing::cluster().database();
    let key_file = tmp.path().join("storage.key");
    std::fs::write(&key_file, "6c".repeat(32)).unwrap();
    flag_round_trip(tmp.path(), &Backend::Postgres { url, key_file });
}

/// Issue 10: a positive PHQ-9 item 9 on the phone is a flag; it reaches
/// `cairn-clinic flags`, is acknowledged there with `ack-flag`, and the
/// phone shows it acknowledged (when, by whom) after its next sync.
fn flag_round_trip(tmp: &Path, backend: &Backend) {
    let log = tmp.join("server.log");
    let server = Server::start(backend, &log);
    let url = format!("http://{}", server.addr);
    let phone = Phone {
        data: tmp.join("phone"),
    };
    phone.ok(&["init"]);
    let code = clinic(
        backend,
        &["enroll", "--patient", "Flag patient", "--url", &url],
    );
    let code = String::from_utf8(code.stdout).unwrap();
    phone.ok(&["enroll", code.trim()]);

    let out = phone.ok(&[
        "checkin",
        "phq9",
        "--answers",
        "0,0,1,0,0,0,0,0,2",
        "--json",
    ]);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["total"], 3);
    assert_eq!(c["band"], "minimal");
    assert_eq!(c["item9_positive"], true);
    assert_eq!(c["flags"], serde_json::json!(["item9_positive"]));
    let flag_id = c["flag_ids"][0].as_str().unwrap().to_owned();
    phone.ok(&["help-now"]);
    phone.ok(&["sync"]);

    let listed = |backend: &Backend| -> Vec<serde_json::Value> {
        let out = clinic(backend, &["flags", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let flags = listed(backend);
    assert_eq!(flags.len(), 2, "{flags:?}");
    let item9 = flags.iter().find(|f| f["id"] == flag_id.as_str()).unwrap();
    assert_eq!(item9["patient"], "Flag patient");
    assert_eq!(item9["kind"], "item9_positive");
    assert_eq!(item9["state"], "open");
    assert!(
        item9["reason"]
            .as_str()
            .unwrap()
            .contains("More than half the days")
    );
    assert!(flags.iter().any(|f| f["kind"] == "help_now"));

    let out = clinic(
        backend,
        &[
            "ack-flag",
            "--patient",
            "Flag patient",
            "--by",
            "Dr Rivera",
            &flag_id,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "acknowledged");
    let out = clinic(
        backend,
        &["ack-flag", "--patient", "Flag patient", &flag_id],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "already acknowledged"
    );
    let flags = listed(backend);
    let item9 = flags.iter().find(|f| f["id"] == flag_id.as_str()).unwrap();
    assert_eq!(item9["state"], "acknowledged");
    assert_eq!(flags[0]["kind"], "help_now", "open ones first");

    // Not on the phone until it syncs.
    let mine = |p: &Phone| -> Vec<serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(&p.ok(&["flags", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let before = mine(&phone);
    assert!(before.iter().all(|f| f["state"] == "open"), "{before:?}");
    // What the clinic tells the phone: its name, how soon it reviews
    // flags, the no-check-in days; shown in the monitoring statement.
    clinic(
        backend,
        &[
            "settings",
            "--patient",
            "Flag patient",
            "--clinic-name",
            "Lakeside Clinic",
            "--review-within",
            "within 2 working days",
            "--no-checkin-days",
            "3",
        ],
    );
    let out = clinic(
        backend,
        &["settings", "--patient", "Flag patient", "--json"],
    );
    let set: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(set["no_checkin_days"], 3);
    phone.ok(&["sync"]);
    let m: serde_json::Value =
        serde_json::from_str(&phone.ok(&["monitoring", "--country", "GB", "--json"])).unwrap();
    assert_eq!(m["clinic"], "Lakeside Clinic");
    assert_eq!(m["review_within"], "within 2 working days");
    assert!(
        m["review"]
            .as_str()
            .unwrap()
            .contains("within 2 working days"),
        "{m}"
    );
    assert!(
        m["not_monitored"]
            .as_str()
            .unwrap()
            .contains("not monitored"),
        "{m}"
    );
    let after = mine(&phone);
    assert_eq!(after.len(), 2);
    let item9 = after.iter().find(|f| f["id"] == flag_id.as_str()).unwrap();
    assert_eq!(item9["state"], "acknowledged");
    assert_eq!(item9["acknowledged_by"], "Dr Rivera");
    assert!(item9["acknowledged_at"].is_string());
    let text = phone.ok(&["flags"]);
    assert!(text.contains("acknowledged by Dr Rivera"), "{text}");
    assert!(text.contains("open: not yet reviewed"), "{text}");

    // A bad flag id is a usage error.
    let o = Command::new(env!("CARGO_BIN_EXE_cairn-clinic"))
        .args(backend.args())
        .args(["ack-flag", "--patient", "Flag patient", "xyz"])
        .env_remove("CAIRN_CLINIC_DATA")
        .env_remove("CAIRN_CLINIC_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !log.contains("half the days"),
        "no patient content in the log"
    );
}
