//! `cairn export fhir`: the real CLI writes a transaction Bundle that the
//! `fhir.resources` parser and tests/fhir_validate.py accept, the same bytes
//! every time (docs/fhir.md).
mod common;
mod fhir_check;
use common::*;
use fhir_check::{assert_damage_is_caught, assert_valid, resources, with_code};
use serde_json::Value as Json;

fn log_a_fortnight(env: &Env) {
    let paris = ["--tz", "Europe/Paris"];
    let run = |args: &[&str]| env.ok(&[args, &paris[..]].concat());
    // Deleted: not exported.
    let gone = run(&["log", "mood", "2", "--at", "2026-11-20T07:00:00+01:00"]);
    env.ok(&["delete", gone.trim()]);
    run(&[
        "checkin",
        "phq9",
        "--answers",
        "1,2,3,0,1,2,0,1,0,1",
        "--at",
        "2026-11-20T08:30:00+01:00",
    ]);
    run(&[
        "checkin",
        "gad7",
        "--answers",
        "1,1,1,1,1,0,2",
        "--at",
        "2026-11-20T08:35:00+01:00",
    ]);
    // Three scored items unanswered: incomplete, no total.
    run(&[
        "checkin",
        "phq9",
        "--answers",
        "1,-,-,-,1,1,1,1,0",
        "--at",
        "2026-11-27T08:30:00+01:00",
    ]);
    run(&[
        "log",
        "mood",
        "6",
        "--note",
        "a private note",
        "--at",
        "2026-11-20T21:00:00+01:00",
    ]);
    run(&[
        "log",
        "sleep",
        "7h30m",
        "--quality",
        "6",
        "--at",
        "2026-11-21T07:00:00+01:00",
    ]);
    run(&[
        "log",
        "journal",
        "words only I should read",
        "--at",
        "2026-11-21T22:00:00+01:00",
    ]);
}

#[test]
fn export_fhir_is_a_valid_bundle_and_the_same_every_time() {
    let env = Env::new();
    env.ok(&["init"]);
    log_a_fortnight(&env);

    let a = env.dir.path().join("a.json");
    let b = env.dir.path().join("b.json");
    let out = env.run(&["export", "fhir", "--out", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        a.to_str().unwrap()
    );
    assert!(
        stderr(&out).contains("5 entries as 33 resources; 1 left out"),
        "{}",
        stderr(&out)
    );
    env.ok(&["export", "fhir", "--out", b.to_str().unwrap()]);
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&b).unwrap(),
        "exporting twice gives the same bytes"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let summary = assert_valid(&a, &[]);
    assert!(
        summary.contains("33 entries, 3 QuestionnaireResponse, 30 Observation, 3 panels"),
        "{summary}"
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("private") && !text.contains("should read"));
    let doc: Json = serde_json::from_str(&text).unwrap();
    // Not enrolled, no --patient: no subject and no profile claimed.
    assert!(resources(&doc).iter().all(|r| r.get("subject").is_none()));
    // One PHQ-9 total, an integer; none for the incomplete set.
    let totals = with_code(&doc, "44261-6");
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0]["valueInteger"], 10);
    assert!(text.contains("\"valueInteger\": 10,"));
    assert_eq!(with_code(&doc, "70274-6")[0]["valueInteger"], 7);
    assert_eq!(with_code(&doc, "44249-1").len(), 2);
    assert_eq!(with_code(&doc, "mood")[0]["valueQuantity"]["value"], 6);
    assert_eq!(with_code(&doc, "93832-4")[0]["valueQuantity"]["value"], 450);
    assert_damage_is_caught(&a);

    // A subject: US Core's profiles claimed, and still valid.
    let c = env.dir.path().join("c.json");
    env.ok(&[
        "export",
        "fhir",
        "--out",
        c.to_str().unwrap(),
        "--patient",
        "Patient/example-1",
    ]);
    assert_valid(&c, &["--expect-subject", "Patient/example-1"]);

    // Local days, inclusive: only the 27th's (incomplete) PHQ-9.
    let d = env.dir.path().join("d.json");
    let out = env.run(&[
        "export",
        "fhir",
        "--out",
        d.to_str().unwrap(),
        "--from",
        "2026-11-27",
        "--to",
        "2026-11-27",
    ]);
    assert!(
        stderr(&out).contains("1 entries as 8 resources"),
        "{}",
        stderr(&out)
    );
    let summary = assert_valid(&d, &[]);
    assert!(
        summary.contains("1 QuestionnaireResponse, 7 Observation"),
        "{summary}"
    );

    // Bad usage: exit 2, one line.
    for bad in [
        &[
            "export",
            "fhir",
            "--out",
            "x.json",
            "--patient",
            "not a reference",
        ][..],
        &["export", "json", "--out", "x.json", "--from", "2026-11-27"],
        &["export", "fhir", "--out", "x.json", "--from", "27/11/2026"],
    ] {
        let o = env.run(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
}
