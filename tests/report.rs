//! `cairn report` end to end: a demo-like patient built through the real
//! `cairn`, the page screenshotted by Debian's headless Chromium and the
//! picture checked for the charts, then axe-core over the page. Needs
//! `chromium` and `npm ci` in tests/report (scripts/setup.sh does both);
//! without them the test fails and says what to install.
//!
//! What it made stays in target/tmp/report/ (report.html, report.png at
//! 800 px, report-phone.png at 390 px, report.json) to look at.
mod common;
use chrono::{Days, NaiveDate, Utc};
use common::*;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MOOD: &str = "#1d4ed8";
const SCORE: &str = "#0f766e";
const SESSION: &str = "#b45309";
const ITEM9: &str = "#b91c1c";

fn chromium() -> PathBuf {
    let p = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    assert!(
        p.exists(),
        "{} is missing: install Debian's chromium (apt-get install chromium; scripts/setup.sh does)",
        p.display()
    );
    p
}

fn node_tools() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/report");
    assert!(
        dir.join("node_modules/axe-core").exists()
            && dir.join("node_modules/playwright-core").exists()
            && dir.join("node_modules/pngjs").exists(),
        "the Node tools are missing: run `npm ci` in {} (scripts/setup.sh does)",
        dir.display()
    );
    dir
}

/// Runs `cmd` to completion within `limit`, returning stdout.
fn run_within(mut cmd: Command, limit: Duration, what: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// 8 weeks ending today: mood every day but a few up to yesterday (low,
/// rising after a course of four infusions), anxiety every other day, PHQ-9
/// every two weeks and today (item 9 positive at first: a flag, raised as
/// the check-in is saved, now), GAD-7 twice, a daily medication reminder up
/// to yesterday, mostly done. Returns the doses reported done.
fn build_patient(env: &Env, from: NaiveDate) -> u32 {
    let tz = "Europe/London";
    let day = |i: u64| from + Days::new(i);
    let at = |i: u64, h: u32| format!("{}T{h:02}:00:00Z", day(i));
    env.ok(&["init"]);
    let rule = env.ok(&[
        "reminders",
        "add",
        "--at",
        "08:00",
        "--kind",
        "medication",
        "--tz",
        tz,
        "--start",
        &from.to_string(),
        "--end",
        &day(54).to_string(),
    ]);
    let mut done = 0;
    let rule = rule.split_whitespace().next().unwrap().to_owned();
    for i in 0..55u64 {
        if [5, 19, 33].contains(&i) {
            continue; // days without a check-in
        }
        let base = if i < 8 {
            3.0
        } else {
            (3.0 + (i - 7) as f64 * 0.25).min(7.5)
        };
        let wobble = [0.0, 1.0, -1.0, 0.5, -0.5, 1.0, 0.0][(i % 7) as usize];
        let mood = format!("{}", (base + wobble).round().clamp(0.0, 10.0));
        env.ok(&["log", "mood", &mood, "--at", &at(i, 12), "--tz", tz]);
        if i % 2 == 0 {
            let anxiety = format!("{}", (8.0 - base * 0.6 + wobble).round().clamp(0.0, 10.0));
            env.ok(&["log", "anxiety", &anxiety, "--at", &at(i, 19), "--tz", tz]);
        }
        if i % 9 != 4 {
            done += 1;
            let key = format!("{rule}:{}:0", day(i));
            env.ok(&[
                "reminders",
                "report",
                &key,
                "--due",
                &at(i, 8),
                "done",
                "--at",
                &at(i, 9),
            ]);
        }
    }
    for (i, answers) in [
        (0, "3,2,2,3,2,2,2,2,1"),
        (14, "2,2,2,2,1,2,1,1,0"),
        (28, "1,1,2,1,1,1,1,0,0"),
        (42, "1,1,1,1,0,1,0,0,0"),
        (55, "1,0,1,1,0,0,0,0,0"),
    ] {
        // Today's early enough not to lie ahead of the clock.
        let when = format!("{}T00:05:00Z", day(i));
        env.ok(&[
            "checkin",
            "phq9",
            "--answers",
            answers,
            "--at",
            &when,
            "--tz",
            tz,
        ]);
    }
    for (i, answers) in [(0, "2,2,2,2,1,2,1"), (28, "1,1,1,1,0,1,0")] {
        env.ok(&[
            "checkin",
            "gad7",
            "--answers",
            answers,
            "--at",
            &at(i, 10),
            "--tz",
            tz,
        ]);
    }
    for i in [7, 9, 11, 14] {
        env.ok(&[
            "reminders",
            "event",
            "infusion",
            "--at",
            &at(i, 15),
            "--tz",
            tz,
        ]);
    }
    done
}

#[test]
fn the_report_renders_its_charts_in_chromium_and_passes_axe() {
    let chromium = chromium();
    let tools = node_tools();
    let env = Env::new();
    let to = Utc::now().date_naive();
    let from = to - Days::new(55);
    let done = build_patient(&env, from);

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&out).unwrap();
    let html = out.join("report.html");
    let json = env.ok(&[
        "report",
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--out",
        html.to_str().unwrap(),
        "--json",
    ]);
    std::fs::write(out.join("report.json"), &json).unwrap();

    // The data.
    let r: Json = serde_json::from_str(&json).unwrap();
    assert_eq!(r["days"], 56);
    assert_eq!(r["check_in_days"], 53);
    assert_eq!(r["trackers"][0]["tracker"], "mood");
    assert_eq!(r["trackers"][0]["days"].as_array().unwrap().len(), 52);
    assert_eq!(r["trackers"][1]["tracker"], "anxiety");
    let totals: Vec<i64> = r["questionnaires"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["questionnaire"] == "phq9")
        .map(|q| q["total"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, [19, 13, 8, 5, 3]);
    assert_eq!(r["questionnaires"][0]["item9_positive"], true);
    assert_eq!(r["sessions"].as_array().unwrap().len(), 4);
    assert_eq!(r["sessions"][0]["kind"], "infusion");
    assert_eq!(r["reminders"][0]["key"], "medication");
    assert_eq!(r["reminders"][0]["due"], 55);
    assert_eq!(r["reminders"][0]["done"], done);
    let flags = r["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(
        (&flags[0]["kind"], &flags[0]["state"]),
        (&"item9_positive".into(), &"open".into())
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "the page holds no script");

    // The picture: the charts are drawn, in their colours.
    let png = out.join("report.png");
    let _ = std::fs::remove_file(&png);
    let profile = env.dir.path().join("chromium-profile");
    let mut shot = Command::new(&chromium);
    shot.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--screenshot={}", png.display()))
    .arg("--window-size=800,2400")
    .arg(format!("file://{}", html.display()));
    run_within(shot, Duration::from_secs(120), "chromium --screenshot");
    assert!(png.exists(), "chromium wrote no screenshot");
    let mut check = Command::new("node");
    check
        .current_dir(&tools)
        .arg("png.mjs")
        .arg(&png)
        .args([MOOD, SCORE, SESSION, ITEM9]);
    let seen: Json =
        serde_json::from_str(&run_within(check, Duration::from_secs(60), "png.mjs")).unwrap();
    eprintln!("screenshot {}: {seen}", png.display());
    let width = seen["width"].as_i64().unwrap();
    let c = |colour: &str, what: &str| -> (i64, i64, i64) {
        let v = &seen["colours"][colour];
        (
            v["count"].as_i64().unwrap(),
            v["maxX"].as_i64().unwrap() - v["minX"].as_i64().unwrap(),
            v["columns"].as_i64().unwrap(),
        )
            .tap(|(n, _, _)| assert!(*n > 0, "no {what} ({colour}) in the screenshot"))
    };
    // The mood line runs across the chart (not just a key swatch).
    let (n, span, _) = c(MOOD, "mood line");
    assert!(
        n > 1500 && span > width / 2,
        "mood line: {n} pixels over {span}"
    );
    let (n, span, _) = c(SCORE, "questionnaire line");
    assert!(
        n > 300 && span > width / 2,
        "questionnaire line: {n} pixels over {span}"
    );
    // Four sessions, marked on each chart: badges and dashed lines.
    let (n, _, columns) = c(SESSION, "session markers");
    assert!(
        n > 1000 && columns > 40,
        "session markers: {n} pixels in {columns} columns"
    );
    c(ITEM9, "item 9 marker");

    // Accessibility: axe-core at a phone's width and a desktop's.
    let phone = out.join("report-phone.png");
    let mut axe = Command::new("node");
    axe.current_dir(&tools)
        .arg("axe.mjs")
        .arg(&html)
        .arg(&phone);
    let result: Json =
        serde_json::from_str(&run_within(axe, Duration::from_secs(180), "axe.mjs")).unwrap();
    let violations = result["violations"].as_array().unwrap();
    eprintln!(
        "axe: {} violations, {} rules passed",
        violations.len(),
        result["passes"]
    );
    assert!(
        violations.is_empty(),
        "axe-core found violations:\n{}",
        serde_json::to_string_pretty(violations).unwrap()
    );
    assert!(result["passes"].as_i64().unwrap() > 20);
}

/// `x.tap(f)`: runs `f` on `x`, then gives `x` back.
trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&Self)) -> Self {
        f(&self);
        self
    }
}
impl<T> Tap for T {}

#[test]
fn an_empty_period_and_bad_dates() {
    let env = Env::new();
    env.ok(&["init"]);
    let dir = env.dir.path();
    let html = dir.join("empty.html");
    env.ok(&[
        "report",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--out",
        html.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("No data for this period"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&html).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the page is the owner's only");
    }
    for args in [
        &[
            "report",
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
            "--json",
        ][..],
        &["report", "--from", "yesterday", "--json"],
        &[
            "report",
            "--from",
            "2024-01-01",
            "--to",
            "2026-01-01",
            "--json",
        ],
        &["report", "--from", "2026-01-01"],
    ] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}
