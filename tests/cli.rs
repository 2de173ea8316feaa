//! The `cairn` command line, as scripts and people use it.
mod common;
use common::*;
use serde_json::Value as Json;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn log_then_list_as_json() {
    let env = Env::new();
    env.ok(&["init"]);
    let id = env.ok(&[
        "log",
        "mood",
        "7",
        "--note",
        "after the walk",
        "--tag",
        "trigger:work",
        "--tag",
        "activity:walk",
        "--at",
        "2026-11-20T08:30:00+09:00",
        "--tz",
        "Asia/Tokyo",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 32);
    env.ok(&[
        "log",
        "sleep",
        "7h30m",
        "--quality",
        "6",
        "--at",
        "2026-11-21T07:00:00Z",
        "--tz",
        "UTC",
    ]);
    env.ok(&[
        "log",
        "medication",
        "sertraline 50 mg",
        "--skipped",
        "--at",
        "2026-11-21T08:00:00Z",
        "--tz",
        "UTC",
    ]);
    let out = env.ok(&["entries", "--json"]);
    let v: Json = serde_json::from_str(&out).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    let e = &arr[0];
    assert_eq!(e["id"], id);
    assert_eq!(e["tracker"], "mood");
    assert_eq!(e["value"], 7.0);
    assert_eq!(e["note"], "after the walk");
    assert_eq!(
        e["tags"],
        serde_json::json!(["trigger:work", "activity:walk"])
    );
    assert_eq!(e["at"], "2026-11-19T23:30:00.000Z");
    assert_eq!(e["local_date"], "2026-11-20");
    assert_eq!(e["zone"], "Asia/Tokyo");
    assert_eq!(
        arr[1]["value"],
        serde_json::json!({"minutes": 450, "quality": 6})
    );
    assert_eq!(
        arr[2]["value"],
        serde_json::json!({"name": "sertraline 50 mg", "taken": false})
    );
    // Local days: the Tokyo entry is on the 20th there, the 19th in UTC.
    let day: Json = serde_json::from_str(&env.ok(&[
        "entries",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-20",
        "--json",
    ]))
    .unwrap();
    assert_eq!(day.as_array().unwrap().len(), 1);
    let range: Json =
        serde_json::from_str(&env.ok(&["entries", "--from", "2026-11-21T00:00:00Z", "--json"]))
            .unwrap();
    assert_eq!(range.as_array().unwrap().len(), 2);
    // Delete, then it is gone.
    env.ok(&["delete", id]);
    let v: Json = serde_json::from_str(&env.ok(&["entries", "--json"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let o = env.run(&["delete", id]);
    assert_eq!(o.status.code(), Some(5));
}

#[test]
fn errors_are_one_line_typed_and_never_repeat_the_patients_words() {
    let env = Env::new();
    env.ok(&["init"]);
    let secret = "SECRETWORDS";
    let cases: Vec<(Vec<String>, i32)> = vec![
        (
            vec![
                "log".into(),
                "mood".into(),
                "11".into(),
                "--note".into(),
                secret.into(),
            ],
            2,
        ),
        (vec!["log".into(), "mood".into(), "NaN".into()], 2),
        (
            vec![
                "log".into(),
                "journal".into(),
                secret.into(),
                "more".into(),
                "words".into(),
            ],
            2,
        ),
        (vec!["log".into(), secret.into(), "5".into()], 2),
        (
            vec![
                "log".into(),
                "mood".into(),
                "5".into(),
                "--tz".into(),
                format!("{secret}/Zone"),
            ],
            2,
        ),
        (
            vec![
                "log".into(),
                "mood".into(),
                "5".into(),
                "--at".into(),
                secret.into(),
            ],
            2,
        ),
        (
            vec![
                "log".into(),
                "mood".into(),
                "5".into(),
                "--note".into(),
                "x".repeat(100 * 1024),
            ],
            2,
        ),
        (
            vec![
                "log".into(),
                "mood".into(),
                "5".into(),
                "--tag".into(),
                format!("trigger:{}", "y".repeat(100)),
            ],
            2,
        ),
        (vec!["entries".into(), "--from".into(), secret.into()], 2),
        (
            vec![
                "trackers".into(),
                "add".into(),
                format!("{secret} tracker"),
                "--kind".into(),
                "scale".into(),
                "--min".into(),
                "5".into(),
                "--max".into(),
                "1".into(),
            ],
            2,
        ),
        (
            vec!["show".into(), "00000000000000000000000000000000".into()],
            5,
        ),
        (vec!["frobnicate".into()], 2),
    ];
    for (args, code) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = env.run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("cairn: "), "{err}");
        assert!(
            !err.contains(secret) && !err.contains("yyyy") && !err.contains("panicked"),
            "{err}"
        );
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout");
    }
    // Nothing was logged by any of them.
    assert_eq!(env.ok(&["entries", "--json"]).trim(), "[]");
}

#[test]
fn wrong_and_malformed_keys_are_refused() {
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&["log", "mood", "5"]);
    let before = std::fs::read(env.store_path()).unwrap();
    let o = env.cmd(&env.key2).args(["entries"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    for bad in [vec![], vec![1u8; 31], vec![1u8; 33]] {
        let f = env.dir.path().join("bad");
        std::fs::write(&f, &bad).unwrap();
        let o = env.cmd(&f).args(["entries"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("32 bytes"), "{}", stderr(&o));
    }
    let o = Command::new(cairn_bin())
        .args(["--data"])
        .arg(&env.data)
        .args(["entries"])
        .env("CAIRN_KEY", "zz")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(cairn_bin())
        .args(["--data"])
        .arg(&env.data)
        .args(["entries"])
        .env_remove("CAIRN_KEY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no key"));
    assert_eq!(
        std::fs::read(env.store_path()).unwrap(),
        before,
        "failed opens changed the file"
    );
    // CAIRN_KEY works as the key file does.
    let o = Command::new(cairn_bin())
        .args(["--data"])
        .arg(&env.data)
        .args(["entries", "--json"])
        .env("CAIRN_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert!(o.status.success());
}

#[test]
fn rekey_to_a_new_key_file_and_to_a_passphrase() {
    let env = Env::new();
    env.ok(&["init"]);
    let id = env.ok(&["log", "anxiety", "4"]).trim().to_owned();
    env.ok(&["rekey", "--new-key-file", env.key2.to_str().unwrap()]);
    assert_eq!(env.run(&["show", &id]).status.code(), Some(3));
    let o = env.cmd(&env.key2).args(["show", &id]).output().unwrap();
    assert!(o.status.success());
    // To a passphrase, given on standard input (no terminal in tests).
    let mut c = env.cmd(&env.key2);
    let mut child = c
        .args(["rekey", "--new-passphrase"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"river stones at dusk\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let with_pass = |pass: &str, args: &[&str]| {
        let mut c = Command::new(cairn_bin());
        c.arg("--data")
            .arg(&env.data)
            .arg("--passphrase")
            .args(args)
            .env_remove("CAIRN_KEY");
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pass}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(
        with_pass("river stones at dusk", &["show", &id])
            .status
            .success()
    );
    assert_eq!(
        with_pass("river stones at noon", &["show", &id])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        env.cmd(&env.key2)
            .args(["show", &id])
            .output()
            .unwrap()
            .status
            .code(),
        Some(3)
    );
}

#[test]
fn passphrase_init_reads_standard_input() {
    let env = Env::new();
    let mut child = Command::new(cairn_bin())
        .arg("--data")
        .arg(&env.data)
        .args(["--passphrase", "init"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a passphrase\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let raw = std::fs::read(env.store_path()).unwrap();
    assert!(!raw.windows(12).any(|w| w == b"a passphrase"));
    // A key file does not open it, and the message says what does.
    let o = env.run(&["entries"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("--passphrase"), "{}", stderr(&o));
}

#[test]
fn custom_trackers_from_the_command_line() {
    let env = Env::new();
    env.ok(&["init"]);
    let id = env.ok(&[
        "trackers",
        "add",
        "Racing thoughts",
        "--kind",
        "scale",
        "--min",
        "0",
        "--max",
        "4",
        "--min-label",
        "calm",
        "--max-label",
        "racing",
    ]);
    assert_eq!(id.trim().len(), 32);
    env.ok(&["log", "racing thoughts", "3"]);
    assert_eq!(
        env.run(&["log", "racing thoughts", "5"]).status.code(),
        Some(2)
    );
    assert_eq!(
        env.run(&["trackers", "add", "racing THOUGHTS", "--kind", "count"])
            .status
            .code(),
        Some(2)
    );
    let list: Json = serde_json::from_str(&env.ok(&["trackers", "--json"])).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Racing thoughts" && t["builtin"] == false)
    );
    let es: Json =
        serde_json::from_str(&env.ok(&["entries", "--tracker", "Racing thoughts", "--json"]))
            .unwrap();
    assert_eq!(es.as_array().unwrap().len(), 1);
    assert_eq!(es[0]["tracker_name"], "Racing thoughts");
}

#[test]
fn edit_changes_only_what_is_given() {
    let env = Env::new();
    env.ok(&["init"]);
    let id = env.ok(&[
        "log",
        "mood",
        "3",
        "--note",
        "rough",
        "--tag",
        "trigger:work",
        "--at",
        "2026-11-20T20:00:00Z",
        "--tz",
        "UTC",
    ]);
    let id = id.trim();
    env.ok(&["edit", id, "--value", "4"]);
    let e: Json = serde_json::from_str(&env.ok(&["show", id, "--json"])).unwrap();
    assert_eq!(e["value"], 4.0);
    assert_eq!(e["note"], "rough");
    assert_eq!(e["tags"], serde_json::json!(["trigger:work"]));
    assert_eq!(e["revision"], 2);
}

#[test]
fn the_demo_runs_end_to_end_and_leaves_an_explorable_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let o = Command::new(cairn_bin())
        .args(["demo", "--days", "21", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("21 days"), "{out}");
    assert!(
        out.contains("another key is refused with WrongKey"),
        "{out}"
    );
    assert!(
        out.contains("journal text found in the file in the clear: none"),
        "{out}"
    );
    assert!(out.contains("Mood"), "{out}");
    // Questionnaires, an infusion course, and a clinic on loopback that
    // acknowledges the item 9 flag, seen on the phone after a sync.
    assert!(out.contains("PHQ-9: baseline"), "{out}");
    assert!(out.contains("session 1 "), "{out}");
    assert!(out.contains("enrolled  as \"Demo patient\""), "{out}");
    assert!(
        out.contains("after the next sync the flag shows: acknowledged"),
        "{out}"
    );
    let html = std::fs::read_to_string(data.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("PHQ-9"),
        "the report's charts"
    );
    // The store it leaves opens with the key it wrote.
    let o = Command::new(cairn_bin())
        .arg("--data")
        .arg(&data)
        .arg("--key-file")
        .arg(data.join("demo.key"))
        .args(["entries", "--tracker", "mood", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Json = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 21 * 2);
    // A second demo into the same folder is refused, not mixed in.
    let o = Command::new(cairn_bin())
        .args(["demo", "--days", "3", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_describes_the_contract() {
    let o = Command::new(cairn_bin()).arg("--help").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for word in [
        "init",
        "log",
        "entries",
        "delete",
        "rekey",
        "demo",
        "--data",
        "--key-file",
        "--passphrase",
        "CAIRN_KEY",
        "EXIT CODES",
    ] {
        assert!(out.contains(word), "--help lacks {word}");
    }
}

#[test]
fn reminders_add_list_and_plan_from_the_command_line() {
    let env = Env::new();
    env.ok(&["init"]);
    let id = env.ok(&[
        "reminders",
        "add",
        "--at",
        "02:30",
        "--at",
        "20:00",
        "--tz",
        "America/New_York",
        "--kind",
        "medication",
        "--title",
        "SECRETPILL",
        "--start",
        "2026-03-01",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 32);
    env.ok(&[
        "reminders",
        "add",
        "--at",
        "09:00",
        "--days",
        "mon,wed",
        "--follow-device",
        "--start",
        "2026-03-01",
    ]);
    let list: Json = serde_json::from_str(&env.ok(&["reminders", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let plan: Json = serde_json::from_str(&env.ok(&[
        "reminders",
        "plan",
        "--now",
        "2026-03-07T12:00:00Z",
        "--tz",
        "Europe/Paris",
        "--horizon-days",
        "2",
        "--json",
    ]))
    .unwrap();
    let plan = plan.as_array().unwrap();
    let fire: Vec<&str> = plan
        .iter()
        .filter(|n| n["reminder_id"] == id)
        .map(|n| n["fire_at"].as_str().unwrap())
        .collect();
    // 20:00 EST, then 02:30 on the spring-forward day (03:30 EDT), then 20:00 EDT.
    assert_eq!(
        fire,
        vec![
            "2026-03-07T20:00:00-05:00",
            "2026-03-08T03:30:00-04:00",
            "2026-03-08T20:00:00-04:00",
            "2026-03-09T02:30:00-04:00"
        ]
    );
    assert!(
        plan.iter()
            .all(|n| n["id"].as_str().unwrap().starts_with("cairn-"))
    );
    assert!(
        !serde_json::to_string(plan).unwrap().contains("SECRETPILL"),
        "titles stay off the lock screen"
    );
    // The Monday rule follows the device: 09:00 in Paris.
    let monday: Vec<&str> = plan
        .iter()
        .filter(|n| n["reminder_id"] != id)
        .map(|n| n["fire_at"].as_str().unwrap())
        .collect();
    assert_eq!(monday, vec!["2026-03-09T09:00:00+01:00"]);
    let limited: Json = serde_json::from_str(&env.ok(&[
        "reminders",
        "plan",
        "--now",
        "2026-03-07T12:00:00Z",
        "--tz",
        "Europe/Paris",
        "--horizon-days",
        "7",
        "--limit",
        "3",
        "--inexact",
        "--json",
    ]))
    .unwrap();
    let limited = limited.as_array().unwrap();
    assert_eq!(limited.len(), 3);
    assert!(
        limited
            .iter()
            .all(|n| n["exact"] == false && n["window_minutes"].as_u64().unwrap() >= 10)
    );
    for bad in [
        vec!["reminders", "add", "--at", "25:00"],
        vec!["reminders", "add", "--at", "09:00", "--days", "funday"],
        vec!["reminders", "plan", "--tz", "Mars/Base"],
    ] {
        let o = env.run(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1);
    }
}

#[test]
fn a_replayed_or_rolled_back_record_is_exit_code_4_and_only_that_record() {
    let env = Env::new();
    env.ok(&["init"]);
    let log = |value: &str, at: &str| {
        env.ok(&["log", "mood", value, "--at", at, "--tz", "UTC"])
            .trim()
            .to_owned()
    };
    let a = log("3", "2026-11-20T08:00:00Z");
    let b = log("6", "2026-11-21T08:00:00Z");
    let db = || rusqlite::Connection::open(env.store_path()).unwrap();
    let row = |id: &str| -> (i64, i64, Vec<u8>) {
        db().query_row(
            "SELECT day, revision, body FROM entries WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    let first = row(&a);
    env.ok(&["edit", &a, "--value", "4"]);
    let second = row(&a);
    let show = |id: &str| env.run(&["show", id]);
    let attacks: [(&str, &str, Vec<rusqlite::types::Value>); 3] = [
        (
            "older body under the current revision",
            "UPDATE entries SET body = ?2 WHERE id = ?1",
            vec![a.clone().into(), first.2.clone().into()],
        ),
        (
            "revision edited alone",
            "UPDATE entries SET revision = revision + 1 WHERE id = ?1",
            vec![a.clone().into()],
        ),
        (
            "deleted set alone",
            "UPDATE entries SET deleted = 1, day = NULL WHERE id = ?1",
            vec![a.clone().into()],
        ),
    ];
    for (what, sql, args) in attacks {
        db().execute(sql, rusqlite::params_from_iter(args)).unwrap();
        let o = show(&a);
        assert_eq!(o.status.code(), Some(4), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(&a), "{what}: names the record");
        assert!(show(&b).status.success(), "{what}: the other entry reads");
        // Listing goes on with the good records.
        let listed = env.run(&["entries", "--json"]);
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains(&b),
            "{what}"
        );
        db().execute(
            "UPDATE entries SET day = ?2, revision = ?3, deleted = 0, body = ?4 WHERE id = ?1",
            rusqlite::params![a, second.0, second.1, second.2],
        )
        .unwrap();
        assert!(show(&a).status.success(), "{what}: restored");
    }
    // Undone delete: the tombstone's flag cleared and the old body put back.
    env.ok(&["delete", &a]);
    assert_eq!(
        show(&a).status.code(),
        Some(5),
        "a genuine delete: not found"
    );
    let tomb_rev: i64 = db()
        .query_row("SELECT revision FROM entries WHERE id = ?1", [&a], |r| {
            r.get(0)
        })
        .unwrap();
    db().execute(
        "UPDATE entries SET day = ?2, deleted = 0, body = ?3 WHERE id = ?1",
        rusqlite::params![a, second.0, second.2],
    )
    .unwrap();
    assert_eq!(tomb_rev, second.1 + 1);
    let o = show(&a);
    assert_eq!(o.status.code(), Some(4), "undone delete: {}", stderr(&o));
    // The same row copied into another store opened with the same key.
    let other = Env::new();
    other.ok(&["init"]);
    rusqlite::Connection::open(other.store_path())
        .unwrap()
        .execute(
            "INSERT INTO entries(id, day, revision, deleted, body) VALUES (?1, ?2, ?3, 0, ?4)",
            rusqlite::params![b, row(&b).0, row(&b).1, row(&b).2],
        )
        .unwrap();
    let o = other.run(&["show", &b]);
    assert_eq!(o.status.code(), Some(4), "moved row: {}", stderr(&o));
}

#[test]
fn the_safety_plan_is_set_part_by_part_and_bad_parts_are_refused() {
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&[
        "safety-plan",
        "set",
        "warning-signs",
        "Not sleeping",
        " ",
        "Pacing",
    ]);
    env.ok(&["safety-plan", "set", "reasons", "My dog"]);
    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&["safety-plan", "--json"])).unwrap();
    assert_eq!(
        plan["warning_signs"],
        serde_json::json!(["Not sleeping", "Pacing"])
    );
    assert_eq!(plan["reasons_for_living"], serde_json::json!(["My dog"]));
    assert_eq!(plan["coping_strategies"], serde_json::json!([]));
    let text = env.ok(&["safety-plan", "show"]);
    assert!(
        text.contains("1. Warning signs") && text.contains("- Pacing"),
        "{text}"
    );
    // An unknown part is a usage error; an item too long is refused and
    // not repeated back.
    let out = env.run(&["safety-plan", "set", "hobbies", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let long = "SECRET".repeat(100);
    let out = env.run(&["safety-plan", "set", "coping", &long]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(!common::stderr(&out).contains("SECRET"));
    assert_eq!(common::stderr(&out).lines().count(), 1);
    // Nothing was lost by the refused write.
    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&["safety-plan", "--json"])).unwrap();
    assert_eq!(
        plan["warning_signs"],
        serde_json::json!(["Not sleeping", "Pacing"])
    );
    // The export of everything holds it.
    let out = env.dir.path().join("all.json");
    env.ok(&["export", "json", "--out", out.to_str().unwrap()]);
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        all["safety_plan"]["reasons_for_living"],
        serde_json::json!(["My dog"])
    );
}

#[test]
fn resolving_a_conflict_that_is_not_there_says_so() {
    let env = Env::new();
    env.ok(&["init"]);
    let id = env.ok(&["log", "mood", "5"]);
    let out = env.run(&["conflicts", "resolve", id.trim()]);
    assert_eq!(out.status.code(), Some(5), "{}", common::stderr(&out));
    assert_eq!(
        common::stderr(&out).trim(),
        "cairn: no conflicting version of that entry (from that device)"
    );
    let out = env.run(&["conflicts", "resolve", "not-an-id"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(env.ok(&["conflicts"]).contains("no conflicting versions"));
}

/// `cairn` with no locale and no CAIRN_COUNTRY, so tests choose the country.
fn crisis_cmd(env: &Env) -> Command {
    let mut c = env.cmd(&env.key);
    c.env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("CAIRN_COUNTRY");
    c
}

fn json_of(o: &std::process::Output) -> Json {
    assert!(o.status.success(), "{}", common::stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn crisis_resources_by_country_as_json_and_bad_codes_refused() {
    let env = Env::new();
    let gb = json_of(
        &crisis_cmd(&env)
            .args(["crisis", "--country", "gb", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(gb["country"], "GB");
    assert_eq!(gb["emergency"], "999");
    assert_eq!(gb["fallback"], false);
    assert_eq!(gb["reviewed"], "2026-12-02");
    let lines = gb["lines"].as_array().unwrap();
    assert_eq!(lines[0]["name"], "Samaritans");
    assert_eq!(lines[0]["number"], "116123");
    assert_eq!(lines[0]["hours"], "24/7");
    for l in lines {
        for k in ["name", "how", "number", "hours", "source"] {
            assert!(l[k].as_str().is_some_and(|s| !s.is_empty()), "{k}");
        }
    }
    assert!(gb["sources"].as_array().unwrap().len() >= 2);
    // The locale's region, then CAIRN_COUNTRY, then --country.
    let au = json_of(
        &crisis_cmd(&env)
            .env("LANG", "en_AU.UTF-8")
            .args(["crisis", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(au["emergency"], "000");
    let us = crisis_cmd(&env)
        .env("LANG", "en_AU.UTF-8")
        .env("CAIRN_COUNTRY", "us")
        .arg("crisis")
        .output()
        .unwrap();
    let text = String::from_utf8(us.stdout).unwrap();
    assert!(text.starts_with("In an emergency, call 911."), "{text}");
    assert!(text.contains("text HOME to 741741"), "{text}");
    // No country, or one not in the table: the fallback, never empty.
    for args in [
        vec!["crisis", "--json"],
        vec!["crisis", "--country", "JP", "--json"],
    ] {
        let v = json_of(
            &crisis_cmd(&env)
                .env("LANG", "C.UTF-8")
                .args(&args)
                .output()
                .unwrap(),
        );
        assert_eq!(v["fallback"], true);
        assert_eq!(v["country"], Json::Null);
        let advice = v["emergency_advice"].as_str().unwrap();
        assert!(advice.contains("local emergency number") && advice.contains("112"));
    }
    // A code that is not one: exit code 2, one line, from the flag or the variable.
    for (flag, var) in [(Some("USA"), None), (Some("X1"), None), (None, Some("XX"))] {
        let mut c = crisis_cmd(&env);
        c.arg("crisis");
        if let Some(f) = flag {
            c.args(["--country", f]);
        }
        if let Some(v) = var {
            c.env("CAIRN_COUNTRY", v);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag:?} {var:?}");
        let err = common::stderr(&o);
        assert!(err.starts_with("cairn: invalid country"), "{err}");
        assert_eq!(err.lines().count(), 1);
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn the_monitoring_statement_says_nothing_is_sent_before_enrolling() {
    let env = Env::new();
    // No store yet: nothing can be shared.
    let before = crisis_cmd(&env)
        .args(["monitoring", "--country", "ie"])
        .output()
        .unwrap();
    let text = String::from_utf8(before.stdout).unwrap();
    assert!(text.contains("not connected to a clinic"), "{text}");
    assert!(text.contains("not monitored around the clock"), "{text}");
    assert!(text.contains("call 112 now"), "{text}");
    assert!(text.contains("Samaritans: call 116 123"), "{text}");
    env.ok(&["init"]);
    let v = json_of(
        &crisis_cmd(&env)
            .args(["monitoring", "--review-within", "2 working days", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["enrolled"], false);
    assert_eq!(v["flags_shared"], false);
    assert_eq!(v["country"], Json::Null);
    assert_eq!(v["review"], "No clinic receives flags from this app.");
    for k in ["who_sees", "review", "not_monitored", "in_crisis"] {
        assert!(v[k].as_str().is_some_and(|s| !s.is_empty()), "{k}");
    }
    assert!(
        v["in_crisis"]
            .as_str()
            .unwrap()
            .contains("local emergency number")
    );
    // Bad input: exit code 2.
    let long = "x".repeat(101);
    for args in [
        vec!["monitoring", "--country", "ABC"],
        vec!["monitoring", "--review-within", long.as_str()],
    ] {
        let o = crisis_cmd(&env).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    }
}

#[test]
fn checkin_scores_flags_item_9_and_refuses_bad_answers_with_exit_2() {
    let env = Env::new();
    env.ok(&["init"]);
    let c = |args: &[&str]| -> Json {
        serde_json::from_str(&env.ok(&[&["checkin"], args, &["--json"]].concat())).unwrap()
    };
    // Item 9 positive with a minimal total: flagged all the same.
    let v = c(&["phq9", "--answers", "0,0,0,0,0,0,0,0,1"]);
    assert_eq!(v["total"], 1);
    assert_eq!(v["band"], "minimal");
    assert_eq!(v["item9_positive"], true);
    assert_eq!(v["flags"], serde_json::json!(["item9_positive"]));
    // Negative item 9: no flag, and nothing that reads as reassurance.
    let out = env.ok(&["checkin", "phq9", "--answers", "3,3,3,3,3,2,2,1,0,2"]);
    assert!(out.contains("PHQ-9: 20 of 27 (severe)"), "{out}");
    assert!(!out.to_lowercase().contains("no risk"), "{out}");
    let v = c(&["gad7", "--answers", "1,1,1,1,1,0,-"]);
    assert_eq!(
        (v["total"].clone(), v["prorated"].clone()),
        (6.into(), true.into())
    );
    assert!(v.get("item9_positive").is_none(), "PHQ-9 only");
    let v = c(&["gad2", "--answers", "2,1"]);
    assert_eq!(v["positive_screen"], true);
    let v = c(&["phq2", "--answers", "1,1"]);
    assert_eq!(v["band"], "negative screen");
    // Wrong counts, out-of-range answers, unknown questionnaires: exit 2,
    // one line, nothing saved.
    for bad in [
        &["phq9", "--answers", "0,0,0"][..],
        &["phq9", "--answers", "0,0,0,0,0,0,0,0,4"],
        &["gad7", "--answers", "0,0,0,0,0,0,0,0"],
        &["gad2", "--answers", "0,x"],
        &["bdi2", "--answers", "0"],
    ] {
        let out = env.run(&[&["checkin"], bad].concat());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            common::stderr(&out)
        );
        assert_eq!(common::stderr(&out).lines().count(), 1);
    }
    let entries: Json = serde_json::from_str(&env.ok(&["entries", "--json"])).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 5);
    assert_eq!(entries[0]["tracker"], "phq9");
    // The flag list: the item 9 flag and a help-now one, both open.
    let out = crisis_cmd(&env)
        .args(["help-now", "--country", "US"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not monitored around the clock"), "{text}");
    assert!(text.contains("988"), "the crisis line is shown: {text}");
    let flags: Json = serde_json::from_str(&env.ok(&["flags", "--json"])).unwrap();
    let kinds: Vec<&str> = flags
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            for k in ["id", "kind", "reason", "state"] {
                assert!(f.get(k).is_some(), "flags --json has {k}");
            }
            assert_eq!(f["state"], "open");
            f["kind"].as_str().unwrap()
        })
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"item9_positive") && kinds.contains(&"help_now"));
}

#[test]
fn summary_and_patterns_over_local_days() {
    let env = Env::new();
    env.ok(&["init"]);
    // Nothing logged yet: nothing to claim.
    assert_eq!(
        env.ok(&["patterns", "--to", "2026-02-28", "--json"]).trim(),
        "[]"
    );
    assert!(
        env.ok(&["patterns", "--to", "2026-02-28"])
            .contains("Nothing stands out")
    );
    // February 2026 in Paris: anxiety every morning, higher on work days
    // (every third day).
    let anxiety = |d: u32| if d % 3 == 1 { 7 + d % 2 } else { 2 + d % 2 };
    for d in 1..=28u32 {
        let mut args = vec![
            "log".to_owned(),
            "anxiety".into(),
            anxiety(d).to_string(),
            "--at".into(),
            format!("2026-02-{d:02}T09:00:00+01:00"),
            "--tz".into(),
            "Europe/Paris".into(),
        ];
        if d % 3 == 1 {
            args.extend(["--tag".into(), "trigger:work".into()]);
        }
        env.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    // 00:30 on 1 March in Paris is still 28 February in UTC: it counts on
    // the 1st, its local day.
    env.ok(&[
        "log",
        "mood",
        "6",
        "--at",
        "2026-02-28T23:30:00Z",
        "--tz",
        "Europe/Paris",
    ]);

    let s: Json =
        serde_json::from_str(&env.ok(&["summary", "--to", "2026-03-01", "--json"])).unwrap();
    assert_eq!(s["from"], "2026-02-01");
    assert_eq!(
        (s["days"].as_u64(), s["check_in_days"].as_u64()),
        (Some(29), Some(29))
    );
    assert_eq!(s["streak_days"], 29);
    let a = &s["trackers"][0];
    assert_eq!(
        (a["tracker"].as_str(), a["tracker_name"].as_str()),
        (Some("anxiety"), Some("Anxiety"))
    );
    assert_eq!(a["check_in_days"], 28);
    assert_eq!(a["daily"].as_array().unwrap().len(), 28);
    // ISO weeks: 1 February 2026 is a Sunday.
    let weeks: Vec<&str> = a["weekly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        weeks,
        [
            "2026-01-26",
            "2026-02-02",
            "2026-02-09",
            "2026-02-16",
            "2026-02-23"
        ]
    );
    assert_eq!(a["monthly"][0]["start"], "2026-02-01");
    assert_eq!(a["monthly"][0]["days"], 28);
    assert_eq!(a["trend"]["days"], 28);
    assert_eq!(s["trackers"][1]["tracker"], "mood");
    assert_eq!(s["trackers"][1]["daily"][0]["start"], "2026-03-01");
    let text = env.ok(&["summary", "--from", "2026-02-01", "--to", "2026-03-01"]);
    assert!(text.contains("check-ins on 29 of 29 days (100%)"), "{text}");
    assert!(text.contains("Anxiety"), "{text}");

    let f: Json = serde_json::from_str(&env.ok(&[
        "patterns",
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-28",
        "--json",
    ]))
    .unwrap();
    let work = f
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["lag_days"] == 0 && x["factor"]["label"] == "work")
        .unwrap_or_else(|| panic!("{f:#}"));
    let (with, without): (Vec<u32>, Vec<u32>) = (1..=28).partition(|d| d % 3 == 1);
    let mean =
        |ds: &[u32]| ds.iter().map(|d| f64::from(anxiety(*d))).sum::<f64>() / ds.len() as f64;
    assert_eq!(work["tracker"], "anxiety");
    assert_eq!(
        work["factor"],
        serde_json::json!({"kind": "tag", "group": "trigger", "label": "work"})
    );
    assert_eq!(
        (work["n_with"].as_u64(), work["n_without"].as_u64()),
        (Some(10), Some(18))
    );
    assert!((work["mean_with"].as_f64().unwrap() - mean(&with)).abs() < 1e-9);
    assert!((work["mean_without"].as_f64().unwrap() - mean(&without)).abs() < 1e-9);
    assert!(work["p_adjusted"].as_f64().unwrap() < 0.05);
    let sentence = format!(
        "On days tagged \u{201c}work\u{201d}, anxiety averaged {:.1} over 10 days, against {:.1} over 18 other days.",
        mean(&with),
        mean(&without)
    );
    assert_eq!(work["sentence"], sentence.as_str());
    let text = env.ok(&["patterns", "--from", "2026-02-01", "--to", "2026-02-28"]);
    assert!(text.contains(&sentence), "{text}");
    assert!(text.contains("do not say what causes what"), "{text}");
    // Ten days are too few for any claim.
    assert_eq!(
        env.ok(&[
            "patterns",
            "--from",
            "2026-02-01",
            "--to",
            "2026-02-10",
            "--json"
        ])
        .trim(),
        "[]"
    );

    for bad in [
        vec!["summary", "--from", "2026-02-30"],
        vec!["patterns", "--from", "2026-03-02", "--to", "2026-03-01"],
        vec!["summary", "--to", "yesterday"],
    ] {
        let o = env.run(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
}

#[test]
fn treatment_coping_prompts_and_practice_from_the_command_line() {
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&[
        "checkin",
        "phq9",
        "--answers",
        "3,3,3,2,2,2,2,2,0",
        "--at",
        "2026-11-01T09:00:00Z",
    ]);
    let out = env.ok(&[
        "treatment",
        "add",
        "infusion",
        "--at",
        "2026-11-03T09:00:00Z",
        "--routine",
    ]);
    assert!(
        out.contains("post-session routine: 5 reminder(s) added"),
        "{out}"
    );
    env.ok(&["treatment", "add", "--at", "2026-11-06T09:00:00Z"]);
    env.ok(&[
        "checkin",
        "phq9",
        "--answers",
        "1,1,1,1,1,1,1,1,0",
        "--at",
        "2026-11-15T09:00:00Z",
    ]);
    let text = env.ok(&["treatment", "list"]);
    assert!(
        text.contains("PHQ-9: baseline 19 on 2026-11-01, latest 8 on 2026-11-15; response"),
        "{text}"
    );
    assert!(text.contains("held 9 days and still holds"), "{text}");
    let c: Json = serde_json::from_str(&env.ok(&["treatment", "list", "--json"])).unwrap();
    assert_eq!(c["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(c["changes"][0]["response"], true);
    let rules: Json = serde_json::from_str(&env.ok(&["reminders", "list", "--json"])).unwrap();
    assert_eq!(rules.as_array().map_or(0, Vec::len), 5, "{rules}");
    assert_eq!(
        env.run(&["treatment", "add", "Bad Kind!"]).status.code(),
        Some(2)
    );

    env.ok(&["coping", "steps", "Walk", "Call Sam"]);
    env.ok(&[
        "coping",
        "add-if-then",
        "--if",
        "I wake at 3 am",
        "--then",
        "I read",
    ]);
    let plan: Json = serde_json::from_str(&env.ok(&["coping", "--json"])).unwrap();
    assert_eq!(plan["steps"], serde_json::json!(["Walk", "Call Sam"]));
    assert_eq!(plan["if_then"][0]["action"], "I read");
    assert_eq!(
        env.run(&["coping", "remove-if-then", "3"]).status.code(),
        Some(2)
    );
    env.ok(&["coping", "remove-if-then", "1"]);
    let plan: Json = serde_json::from_str(&env.ok(&["coping", "--json"])).unwrap();
    assert_eq!(plan["if_then"], serde_json::json!([]));

    let p: Json =
        serde_json::from_str(&env.ok(&["prompts", "--when", "hard_day", "--json"])).unwrap();
    assert!(
        p.as_array()
            .unwrap()
            .iter()
            .any(|p| p["when"] == "hard_day")
    );
    assert_eq!(
        env.run(&["prompts", "--when", "never"]).status.code(),
        Some(2)
    );
    assert!(env.ok(&["practice", "breathing"]).contains("Breathe in"));
    let id = env.ok(&["practice", "breathing", "--minutes", "5"]);
    let e: Json = serde_json::from_str(&env.ok(&["show", id.trim(), "--json"])).unwrap();
    assert_eq!(e["tracker"], "breathing");
    assert_eq!(env.run(&["practice", "juggling"]).status.code(), Some(2));
}
