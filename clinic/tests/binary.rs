//! The real binary: `serve` on a free loopback port, requests over plain
//! HTTP (a raw TCP client), and the operator commands run beside it on the
//! same data directory; two `serve` processes on one PostgreSQL database
//! (tests/common/pg.rs), requests alternating between them.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cairn_core::sync::messages::ErrorCode;
use common::*;

const NOTE: &str = "NOTE-MARKER-binary-42";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn-clinic"));
    c.env_remove("CAIRN_CLINIC_DATA")
        .env_remove("CAIRN_CLINIC_DATABASE")
        .env_remove("CAIRN_CLINIC_KEY_FILE")
        .env_remove("CAIRN_CLINIC_LOG");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin().arg("--data").arg(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The server process, killed when dropped.
struct Serving {
    child: Child,
    addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, log: &Path) -> Serving {
    let mut cmd = bin();
    cmd.arg("--data")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    spawn_serve(cmd, log)
}

/// Starts `cmd` (a `serve` command) and waits for its address.
fn spawn_serve(mut cmd: Command, log: &Path) -> Serving {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let addr = common::serve_addr(&mut child);
    Serving { child, addr }
}

/// One HTTP/1.1 exchange; returns the status and the body.
fn http(addr: &str, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!("{head}Host: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (413) before taking the whole body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(raw.len() - split - 4);
    (status, raw[split + 4..split + 4 + len].to_vec())
}

fn post(addr: &str, body: &[u8]) -> (u16, Vec<u8>) {
    http(
        addr,
        &format!(
            "POST /v1/sync HTTP/1.1\r\nContent-Type: application/cairn-sync\r\nContent-Length: {}\r\n",
            body.len()
        ),
        body,
    )
}

#[test]
fn serve_and_the_commands_over_one_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("clinic");
    let log = tmp.path().join("serve.log");
    let server = serve(&dir, &log);
    let base = format!("http://{}", server.addr);

    // The code carries the URL `serve` runs at.
    let out = run(&dir, &["enroll", "--patient", "Ann Example"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let code = stdout(&out).trim().to_owned();
    assert!(code.starts_with("CAIRN1"));
    let mut device = TestDevice::new(&code);
    assert_eq!(device.code.url, base);

    let now = cairn_clinic::now_ms();
    let (bytes, key) = device.enroll_request(now);
    let (status, reply) = post(&server.addr, &bytes);
    assert_eq!(status, 200);
    let ok = device.read(&reply, &key).ok();
    assert!(ok.patient_id.is_some());

    let change = {
        let mut c = device.entry(random(), "mood", mood(7.0), Some(NOTE));
        c.hlc = now << 16;
        c
    };
    let (bytes, key) = device.push_request(1, 1, &[change], now);
    let (status, reply) = post(&server.addr, &bytes);
    assert_eq!(status, 200);
    assert_eq!(device.read(&reply, &key).ok().last_applied, 1);

    // Every protocol outcome is a 200 with a signed reply, errors too.
    let (status, reply) = post(&server.addr, &bytes);
    assert_eq!(status, 200);
    assert_eq!(
        device.read(&reply, &key).error(),
        (ErrorCode::Replayed, true)
    );

    // The operator's view, from another process while serving.
    let out = run(&dir, &["entries", "--patient", "Ann Example", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["note"], NOTE);
    assert_eq!(entries[0]["value"], 7.0);
    assert_eq!(entries[0]["tracker"], "mood");
    assert_eq!(entries[0]["id"].as_str().unwrap().len(), 32);
    assert!(entries[0]["at"].as_str().unwrap().ends_with('Z'));

    let out = run(&dir, &["devices", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let devices: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        devices[0]["device_id"],
        cairn_clinic::ingest::hex(&device.id)
    );
    assert_eq!(devices[0]["patient"], "Ann Example");
    assert_eq!(devices[0]["last_applied"], 1);
    let out = run(&dir, &["devices"]);
    assert!(stdout(&out).contains(&cairn_clinic::ingest::hex(&device.id)));

    // Rotation while serving: the old key still opens, the reply carries
    // the new certificate.
    let out = run(&dir, &["rotate-keys"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let old_key = device.hpke_key_id;
    let (bytes, key) = device.push_request(2, 1, &[], now);
    let (status, reply) = post(&server.addr, &bytes);
    assert_eq!(status, 200);
    let ok = device.read(&reply, &key).ok();
    assert_eq!(ok.certificates.len(), 1);
    assert_ne!(device.hpke_key_id, old_key);

    // Revoked: refused from the next request on.
    let id = cairn_clinic::ingest::hex(&device.id);
    let out = run(&dir, &["revoke", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("revoked {id}"));
    let (bytes, key) = device.push_request(2, 1, &[], now);
    let (_, reply) = post(&server.addr, &bytes);
    assert_eq!(
        device.read(&reply, &key).error(),
        (ErrorCode::DeviceRevoked, false)
    );

    // HTTP around the protocol.
    let (status, body) = http(&server.addr, "GET /healthz HTTP/1.1\r\n", b"");
    assert_eq!((status, body.as_slice()), (200, &b"ok\n"[..]));
    let big = vec![0u8; 2 * 1024 * 1024];
    assert_eq!(post(&server.addr, &big).0, 413);
    let (status, _) = http(
        &server.addr,
        "POST /v1/sync HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n",
        b"abc",
    );
    assert_eq!(status, 415);
    let (status, reply) = post(&server.addr, b"not a request");
    assert_eq!(status, 200, "an unsealed malformed error, signed");
    assert_eq!(&reply[..4], b"CSR\x83");

    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("listening") || log.contains("ok"), "{log}");
    assert!(!log.contains(NOTE) && !log.contains("Ann Example"), "{log}");
}

#[test]
fn errors_are_one_line_with_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("clinic");

    // --database needs --key-file, and excludes --data.
    let out = bin()
        .args(["--database", "postgres://localhost/clinic", "devices"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "cairn-clinic: --database needs --key-file FILE (or CAIRN_CLINIC_KEY_FILE): the storage key"
    );
    let out = bin()
        .env("CAIRN_CLINIC_DATABASE", "postgres://localhost/clinic")
        .arg("devices")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    let out = bin()
        .args(["--database", "postgres://localhost/clinic", "--data"])
        .arg(&dir)
        .arg("devices")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--pool", "2", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "cairn-clinic: --pool is for --database (SQLite has one connection)"
    );
    let out = bin().arg("devices").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = bin().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    // `enroll` before any `serve` needs --url; a non-TLS remote URL is bad usage.
    let out = run(&dir, &["enroll", "--patient", "Ann"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1);
    let out = run(
        &dir,
        &[
            "enroll",
            "--patient",
            "Ann",
            "--url",
            "http://clinic.example",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(
        &dir,
        &[
            "enroll",
            "--patient",
            "Ann",
            "--url",
            "https://clinic.example",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let code = cairn_core::sync::code::EnrollmentCode::parse(stdout(&out).trim()).unwrap();
    let days = (u64::from(code.expires_minutes) * 60_000).saturating_sub(cairn_clinic::now_ms())
        / 86_400_000;
    assert_eq!(days, 13, "14 days by default, to the minute");

    let out = run(&dir, &["revoke", &"00".repeat(16)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "cairn-clinic: no such device");
    let out = run(&dir, &["revoke", "xyz"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&dir, &["entries", "--patient", "Nobody", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("Nobody"));
    let out = run(&dir, &["entries", "--patient", "Ann", "--json"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "[]");

    // A wrong storage key is a runtime error, and says so without a path.
    let wrong = tmp.path().join("wrong.key");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    let out = bin()
        .arg("--data")
        .arg(&dir)
        .arg("--key-file")
        .arg(&wrong)
        .arg("devices")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("EXIT CODES"));
}

#[test]
fn two_serve_processes_on_one_postgres_database() {
    const BATCHES: u64 = 6;
    const PER_BATCH: u64 = 3;
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("storage.key");
    cairn_clinic::seal::StorageKey::generate()
        .unwrap()
        .create_file(&key)
        .unwrap();
    let url = pg::cluster().database();
    let on_db = || {
        let mut c = bin();
        c.arg("--database").arg(&url).arg("--key-file").arg(&key);
        c
    };
    let command = |args: &[&str]| {
        let out = on_db().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    };

    // Both start at once on the empty database: one clinic.
    let logs = [tmp.path().join("serve1.log"), tmp.path().join("serve2.log")];
    let servers: Vec<Serving> = std::thread::scope(|s| {
        let t: Vec<_> = logs
            .iter()
            .map(|log| {
                let mut cmd = on_db();
                cmd.args(["serve", "--listen", "127.0.0.1:0", "--pool", "2"]);
                s.spawn(move || spawn_serve(cmd, log))
            })
            .collect();
        t.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let addrs: Vec<&str> = servers.iter().map(|s| s.addr.as_str()).collect();

    // Codes from the command line, with the URL a `serve` recorded.
    let code = |patient: &str| {
        stdout(&command(&["enroll", "--patient", patient]))
            .trim()
            .to_owned()
    };
    let mut devices = [
        TestDevice::new(&code("Ann Example")),
        TestDevice::new(&code("Ann Example")),
    ];
    assert!(
        addrs
            .iter()
            .any(|a| devices[0].code.url == format!("http://{a}")),
        "{}",
        devices[0].code.url
    );
    let now = cairn_clinic::now_ms();
    for (k, d) in devices.iter_mut().enumerate() {
        let (bytes, key) = d.enroll_request(now);
        let (status, reply) = post(addrs[k], &bytes);
        assert_eq!(status, 200);
        d.read(&reply, &key).ok();
    }

    // Both devices at once, each batch at one server and again (a lost
    // reply) at the other.
    let sent: Vec<Vec<String>> = std::thread::scope(|s| {
        let t: Vec<_> = devices
            .iter_mut()
            .enumerate()
            .map(|(k, d)| {
                let addrs = &addrs;
                s.spawn(move || {
                    let mut notes = Vec::new();
                    for b in 0..BATCHES {
                        let changes: Vec<_> = (0..PER_BATCH)
                            .map(|n| {
                                let note = format!("{NOTE}-{k}-{b}-{n}");
                                let c = d.entry(random(), "mood", mood(5.0), Some(&note));
                                notes.push(note);
                                c
                            })
                            .collect();
                        let (first, last) = (changes[0].seq, changes[changes.len() - 1].seq);
                        for turn in 0..2 {
                            let at = addrs[(k + b as usize + turn) % 2];
                            let (bytes, key) = d.push_request(first, last, &changes, now);
                            let (status, reply) = post(at, &bytes);
                            assert_eq!(status, 200);
                            let ok = d.read(&reply, &key).ok();
                            assert_eq!(ok.last_applied, last);
                            assert!(ok.rejected.is_empty());
                        }
                    }
                    notes
                })
            })
            .collect();
        t.into_iter().map(|t| t.join().unwrap()).collect()
    });

    // Each entry once, as the command line sees it.
    let out = command(&["entries", "--patient", "Ann Example", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut notes: Vec<String> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["note"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = sent.concat();
    notes.sort();
    expected.sort();
    assert_eq!(notes, expected);
    // A third device pulls the feed from the beginning, from both servers
    // in turn: each change once.
    let mut third = TestDevice::new(&code("Ann Example"));
    let (bytes, key) = third.enroll_request(now);
    third.read(&post(addrs[0], &bytes).1, &key).ok();
    let mut pulled = Vec::new();
    for turn in 0.. {
        let (bytes, key) = third.push_request(1, 0, &[], now);
        let ok = third.read(&post(addrs[turn % 2], &bytes).1, &key).ok();
        pulled.extend(ok.changes);
        if !ok.more {
            break;
        }
    }
    assert_eq!(pulled.len(), (2 * BATCHES * PER_BATCH) as usize);
    let mut ids: Vec<_> = pulled.iter().map(|c| c.change_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), pulled.len(), "each change once");
    let out = command(&["devices", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for d in &devices {
        let row = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["device_id"] == cairn_clinic::ingest::hex(&d.id))
            .unwrap();
        assert_eq!(row["last_applied"], BATCHES * PER_BATCH);
    }

    // A rotation by the command line reaches both processes.
    command(&["rotate-keys"]);
    let [a, _] = &mut devices;
    let old = a.hpke_key_id;
    for at in &addrs {
        let (bytes, key) = a.push_request(BATCHES * PER_BATCH + 1, BATCHES * PER_BATCH, &[], now);
        let ok = a.read(&post(at, &bytes).1, &key).ok();
        assert_eq!(ok.certificates.len(), 1, "the new certificate, from {at}");
        assert_ne!(a.hpke_key_id, old);
        a.hpke_key_id = old;
        a.hpke_key = a.code.hpke_key;
    }
    // Revoked by the command line: both refuse.
    command(&["revoke", &cairn_clinic::ingest::hex(&a.id)]);
    for at in &addrs {
        let (bytes, key) = a.push_request(1, 0, &[], now);
        assert_eq!(
            a.read(&post(at, &bytes).1, &key).error(),
            (ErrorCode::DeviceRevoked, false)
        );
    }

    drop(servers);
    for log in &logs {
        let log = std::fs::read_to_string(log).unwrap();
        assert!(log.contains("listening"), "{log}");
        assert!(!log.contains(NOTE) && !log.contains("Ann Example"), "{log}");
    }
}

#[test]
fn clinic_records_commands_write_what_devices_will_pull() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("clinic");
    // Enrolling creates the patient.
    let out = run(
        &dir,
        &[
            "enroll",
            "--patient",
            "Ann",
            "--url",
            "https://clinic.example",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let ok = |args: &[&str]| {
        let out = run(&dir, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    let tracker = ok(&[
        "tracker",
        "add",
        "--patient",
        "Ann",
        "--name",
        "Focus",
        "--kind",
        "count",
    ]);
    assert_eq!(tracker.len(), 32);
    let rule = ok(&[
        "reminder",
        "add",
        "--patient",
        "Ann",
        "--category",
        "check-in",
        "--times",
        "09:00,21:00",
        "--days",
        "mon,thu",
    ]);
    ok(&[
        "session",
        "add",
        "--patient",
        "Ann",
        "--kind",
        "infusion",
        "--at",
        "2026-12-01T10:00:00Z",
        "--zone",
        "Europe/Paris",
    ]);
    ok(&[
        "safety-plan",
        "set",
        "--patient",
        "Ann",
        "--part",
        "people",
        "Sam",
        "Ari",
    ]);
    assert_eq!(
        ok(&[
            "reminder",
            "set",
            "--patient",
            "Ann",
            &rule,
            "--enabled",
            "false"
        ]),
        "changed"
    );
    assert_eq!(
        ok(&[
            "reminder",
            "set",
            "--patient",
            "Ann",
            &rule,
            "--enabled",
            "false"
        ]),
        "nothing to change"
    );
    let all: serde_json::Value =
        serde_json::from_str(&ok(&["records", "--patient", "Ann", "--json"])).unwrap();
    assert_eq!(all["trackers"][0]["name"], "Focus");
    assert_eq!(all["trackers"][0]["id"], tracker.as_str());
    assert_eq!(all["reminders"][0]["enabled"], false);
    assert_eq!(all["sessions"][0]["at"], "2026-12-01T10:00:00.000Z");
    assert_eq!(
        all["safety_plan"]["people_to_ask"],
        serde_json::json!(["Sam", "Ari"])
    );
    ok(&["tracker", "delete", "--patient", "Ann", &tracker]);
    let all: serde_json::Value =
        serde_json::from_str(&ok(&["records", "--patient", "Ann", "--json"])).unwrap();
    assert_eq!(all["trackers"], serde_json::json!([]));
    // The clinic's own author is not listed as a device.
    assert!(!ok(&["devices"]).contains("Ann"));

    // Bad input: exit 2, one line; unknown patient or record: exit 1.
    for (args, code) in [
        (
            vec![
                "tracker",
                "add",
                "--patient",
                "Ann",
                "--name",
                "S",
                "--kind",
                "sleep",
            ],
            2,
        ),
        (
            vec![
                "tracker",
                "add",
                "--patient",
                "Ann",
                "--name",
                " ",
                "--kind",
                "count",
            ],
            2,
        ),
        (
            vec![
                "reminder",
                "add",
                "--patient",
                "Ann",
                "--category",
                "check-in",
            ],
            2,
        ),
        (
            vec![
                "reminder",
                "add",
                "--patient",
                "Ann",
                "--category",
                "x",
                "--times",
                "09:00",
            ],
            2,
        ),
        (
            vec![
                "reminder",
                "add",
                "--patient",
                "Ann",
                "--category",
                "check-in",
                "--times",
                "25:00",
            ],
            2,
        ),
        (
            vec![
                "session",
                "add",
                "--patient",
                "Ann",
                "--kind",
                "infusion",
                "--at",
                "yesterday",
                "--zone",
                "UTC",
            ],
            2,
        ),
        (
            vec![
                "safety-plan",
                "set",
                "--patient",
                "Ann",
                "--part",
                "hobbies",
                "x",
            ],
            2,
        ),
        (vec!["tracker", "delete", "--patient", "Ann", "nothex"], 2),
        (
            vec![
                "tracker",
                "delete",
                "--patient",
                "Ann",
                "00000000000000000000000000000000",
            ],
            1,
        ),
        (vec!["safety-plan", "show", "--patient", "Nobody"], 1),
    ] {
        let out = run(&dir, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
