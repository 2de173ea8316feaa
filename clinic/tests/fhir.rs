//! `cairn-clinic export fhir`: a phone (the real `cairn` CLI) enrolls with
//! a real `cairn-clinic serve` on loopback, answers PHQ-9 and GAD-7, logs
//! mood, sleep and a journal entry, and syncs; the clinic's Bundle is valid
//! for the `fhir.resources` parser and tests/fhir_validate.py, the same
//! every time, and byte for byte the phone's own `cairn export fhir`.

mod common;
#[path = "../../tests/fhir_check.rs"]
mod fhir_check;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use fhir_check::{assert_damage_is_caught, assert_valid, resources, with_code};

/// The `cairn` CLI binary, beside this package's (built if missing).
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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn clinic_cmd(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn-clinic"));
    c.arg("--data")
        .arg(data)
        .args(args)
        .env_remove("CAIRN_CLINIC_DATA")
        .env_remove("CAIRN_CLINIC_DATABASE")
        .env_remove("CAIRN_CLINIC_KEY_FILE");
    c
}

fn clinic(data: &Path, args: &[&str]) -> Output {
    let o = clinic_cmd(data, args).output().unwrap();
    assert!(
        o.status.success(),
        "cairn-clinic {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Starts `serve` on a free loopback port; returns it and its URL.
fn serve(data: &Path, log: &Path) -> (Server, String) {
    let mut child = clinic_cmd(data, &["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let addr = format!("http://{}", common::serve_addr(&mut child));
    (Server(child), addr)
}

fn phone(data: &Path, args: &[&str]) -> Output {
    Command::new(cairn_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env("CAIRN_KEY", "5a".repeat(32))
        .env("TZ", "Europe/Paris")
        .env_remove("CAIRN_DATA")
        .output()
        .unwrap()
}

fn phone_ok(data: &Path, args: &[&str]) -> String {
    let o = phone(data, args);
    assert!(
        o.status.success(),
        "cairn {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_clinic_exports_the_same_valid_bundle_as_the_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("clinic");
    let (_server, url) = serve(&data, &tmp.path().join("server.log"));
    let p = tmp.path().join("phone");
    phone_ok(&p, &["init"]);
    let code = clinic(
        &data,
        &["enroll", "--patient", "FHIR patient", "--url", &url],
    );
    let code = String::from_utf8(code.stdout).unwrap();
    phone_ok(
        &p,
        &[
            "enroll",
            code.trim(),
            "--share",
            "ratings,questionnaires,notes,journal",
        ],
    );

    for (day, args) in (1..).zip([
        &["checkin", "phq9", "--answers", "1,2,3,0,1,2,0,1,0,1"][..],
        &["checkin", "gad7", "--answers", "1,1,1,1,1,0,2"],
        &["checkin", "phq9", "--answers", "1,-,-,-,1,1,1,1,0"],
        &["log", "mood", "6", "--note", "a private note"],
        &["log", "sleep", "7h30m", "--quality", "6"],
        &["log", "journal", "words only I should read"],
    ]) {
        let at = format!("2026-11-2{day}T08:30:00+01:00");
        phone_ok(&p, &[args, &["--at", &at, "--tz", "Europe/Paris"]].concat());
    }
    phone_ok(&p, &["sync"]);
    // Deleted after the clinic had it: in neither Bundle.
    let gone = phone_ok(
        &p,
        &["log", "mood", "2", "--at", "2026-11-27T09:00:00+01:00"],
    );
    phone_ok(&p, &["sync"]);
    phone_ok(&p, &["delete", gone.trim()]);
    phone_ok(&p, &["sync"]);

    let devices: serde_json::Value =
        serde_json::from_slice(&clinic(&data, &["devices", "--json"]).stdout).unwrap();
    let patient = format!("Patient/{}", devices[0]["patient_id"].as_str().unwrap());

    let s1 = tmp.path().join("server-1.json");
    let s2 = tmp.path().join("server-2.json");
    for f in [&s1, &s2] {
        let o = clinic(
            &data,
            &[
                "export",
                "fhir",
                "--patient",
                "FHIR patient",
                "--out",
                f.to_str().unwrap(),
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            f.to_str().unwrap()
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("5 entries as 33 resources; 1 left out"),
            "{err}"
        );
    }
    let bytes = std::fs::read(&s1).unwrap();
    assert_eq!(bytes, std::fs::read(&s2).unwrap(), "the same bytes twice");
    let summary = assert_valid(&s1, &["--expect-subject", &patient]);
    assert!(
        summary.contains("33 entries, 3 QuestionnaireResponse, 30 Observation, 3 panels"),
        "{summary}"
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("private") && !text.contains("should read"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        resources(&doc)
            .iter()
            .all(|r| r["subject"]["reference"] == patient.as_str())
    );
    assert_eq!(
        with_code(&doc, "44261-6").len(),
        1,
        "no total when incomplete"
    );
    assert_eq!(with_code(&doc, "44261-6")[0]["valueInteger"], 10);
    assert_eq!(with_code(&doc, "70274-6")[0]["valueInteger"], 7);
    assert_damage_is_caught(&s1);

    // The phone, enrolled, exports the same Bundle from its own store.
    let mine = tmp.path().join("phone.json");
    phone_ok(&p, &["export", "fhir", "--out", mine.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        text,
        "the phone's and the clinic's Bundles are the same bytes"
    );

    // Local days on the server too: the 22nd only (GAD-7).
    let day = tmp.path().join("day.json");
    let o = clinic(
        &data,
        &[
            "export",
            "fhir",
            "--patient",
            "FHIR patient",
            "--out",
            day.to_str().unwrap(),
            "--from",
            "2026-11-22",
            "--to",
            "2026-11-22",
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 entries as 10 resources"));
    assert_valid(&day, &["--expect-subject", &patient]);

    // No such patient: an error, no file.
    let none = tmp.path().join("none.json");
    let o = clinic_cmd(
        &data,
        &[
            "export",
            "fhir",
            "--patient",
            "Nobody",
            "--out",
            none.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(!o.status.success());
    assert!(!none.exists());
}
