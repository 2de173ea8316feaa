//! Reminders: time semantics over every IANA zone, travel, the OS plan and
//! its limits, quiet hours, events, lifecycle and adherence.
mod common;
use cairn_core::reminders::*;
use cairn_core::*;
use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use common::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

fn t(s: &str) -> NaiveTime {
    parse_time(s).unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn daily(times: &[&str], start: &str) -> NewReminder {
    NewReminder::new(
        Category::CheckIn,
        Schedule::Daily {
            times: times.iter().map(|s| t(s)).collect(),
        },
        d(start),
    )
}

fn zones() -> Arc<ZoneDb> {
    Arc::new(ZoneDb::directory("/usr/share/zoneinfo"))
}

/// Every zone name in the host's tz database (TZif files outside the
/// `posix/` and `right/` copies).
fn all_zone_names() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == "posix"
                || rel == "right"
                || rel.starts_with("Etc/") && rel.contains("localtime")
            {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if std::fs::read(&p)
                .map(|b| b.starts_with(b"TZif"))
                .unwrap_or(false)
                && rel != "localtime"
                && rel != "posixrules"
                && rel != "Factory"
                && rel.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            {
                out.push(rel);
            }
        }
    }
    let root = Path::new("/usr/share/zoneinfo");
    let mut out = vec![];
    walk(root, root, &mut out);
    out.sort();
    out
}

/// An independent answer for a wall-clock time: scan offsets around it.
/// Returns (instant seconds, kind) where kind is "unique", "overlap" or "gap".
fn oracle(zone: &zones::Zone, date: NaiveDate, time: NaiveTime) -> (i64, &'static str) {
    let local = date.and_time(time).and_utc().timestamp();
    let off = |s: i64| i64::from(zone.offset_at(s * 1000));
    let (early, late) = (off(local - 30 * 3600), off(local + 30 * 3600));
    if early == late && off(local - early) == early {
        // No transition near (checked at both ends and in the middle).
        let mid =
            off(local - early - 15 * 3600) == early && off(local - early + 15 * 3600) == early;
        if mid {
            return (local - early, "unique");
        }
    }
    // Every offset in force within 30 hours either side, sampled every 10 minutes.
    let mut offsets: Vec<i64> = (-180..=180).map(|k| off(local + k * 600)).collect();
    offsets.sort();
    offsets.dedup();
    let mut valid: Vec<i64> = offsets
        .iter()
        .map(|o| local - o)
        .filter(|&t| off(t) + t == local)
        .collect();
    valid.sort();
    valid.dedup();
    match valid.len() {
        1 => (valid[0], "unique"),
        0 => {
            // A gap: the transition that skipped this time; read the time
            // with the offset in force before it.
            let mut lo = local - 30 * 3600;
            let before = off(lo);
            let mut hi = local + 30 * 3600;
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if off(mid) == before {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            (local - off(lo), "gap")
        }
        _ => (valid[0], "overlap"),
    }
}

#[test]
fn daily_rules_are_right_in_every_iana_zone_for_two_years() {
    let names = all_zone_names();
    assert!(names.len() > 300, "found only {} zones", names.len());
    // Emulated ARM runs are 25-250 times slower: take every 10th zone there
    // (plus the ones with unusual transitions).
    let names: Vec<String> = if cfg!(target_arch = "x86_64") {
        names
    } else {
        names
            .iter()
            .enumerate()
            .filter(|(i, n)| {
                i % 10 == 0
                    || [
                        "America/New_York",
                        "Australia/Lord_Howe",
                        "Pacific/Apia",
                        "America/Santiago",
                        "Asia/Gaza",
                        "Europe/Dublin",
                        "Africa/Casablanca",
                    ]
                    .contains(&n.as_str())
            })
            .map(|(_, n)| n.clone())
            .collect()
    };
    let (_t, s) = new_store_with(zones());
    let times = [
        "00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "12:00", "23:30",
    ];
    let rule = s.add_reminder(daily(&times, "2026-01-01")).unwrap();
    let from = Utc.with_ymd_and_hms(2025, 12, 30, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2028, 1, 3, 0, 0, 0).unwrap();
    let db = zones();
    let (mut gaps, mut overlaps, mut checked) = (0, 0, 0u64);
    for name in &names {
        let zone = db.zone(name).unwrap();
        // Two years, asked for as two ranges (a range is at most 400 days).
        let mid = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let mut occ = s.occurrences(from, mid, name).unwrap();
        occ.extend(s.occurrences(mid, to, name).unwrap());
        let mut seen: HashMap<String, i64> = HashMap::new();
        let mut last = i64::MIN;
        for o in &occ {
            // Non-decreasing: a time in a gap moves forward and may meet the
            // rule's next time (00:00 and 01:00 on a midnight spring-forward).
            assert!(
                o.fire_ms >= last,
                "{name}: fire times out of order at {}",
                o.key
            );
            last = o.fire_ms;
            assert!(
                seen.insert(o.key.clone(), o.fire_ms).is_none(),
                "{name}: duplicate {}",
                o.key
            );
            assert_eq!(
                i64::from(zone.offset_at(o.fire_ms)),
                i64::from(o.utc_offset_seconds),
                "{name}: offset of {}",
                o.key
            );
        }
        let mut day = d("2026-01-01");
        while day <= d("2027-12-31") {
            for (slot, time) in times.iter().enumerate() {
                let key = format!("{}:{}:{}", rule.id, day, slot);
                let fire = *seen
                    .get(&key)
                    .unwrap_or_else(|| panic!("{name}: missing {key}"));
                let (want, kind) = oracle(&zone, day, t(time));
                assert_eq!(fire / 1000, want, "{name}: {day} {time} ({kind})");
                match kind {
                    "gap" => gaps += 1,
                    "overlap" => overlaps += 1,
                    _ => {}
                }
                checked += 1;
            }
            day += Duration::days(1);
        }
    }
    eprintln!(
        "{} zones, {checked} occurrences checked, {gaps} in gaps, {overlaps} in overlaps",
        names.len()
    );
    // Every zone meets about 750 of each in these two years; a tenth, about 75.
    let least = if cfg!(target_arch = "x86_64") {
        500
    } else {
        40
    };
    assert!(
        gaps > least && overlaps > least,
        "the test met too few transitions: {gaps} gaps, {overlaps} overlaps"
    );
}

fn new_store_with(z: Arc<ZoneDb>) -> (TempStore, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.cairn");
    let store = Store::create(
        &path,
        Key::Raw(&KEY),
        StoreOptions {
            zones: z,
            clock: Arc::new(FixedClock::new(NOW_MS)),
        },
    )
    .unwrap();
    (TempStore { dir, path }, store)
}

fn utc(s: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn gaps_move_forward_and_overlaps_fire_once() {
    let (_t, s) = new_store_with(zones());
    let r = s
        .add_reminder(daily(&["02:30", "01:30"], "2026-03-01"))
        .unwrap();
    let occ = s
        .occurrences(
            utc("2026-03-08T00:00:00Z"),
            utc("2026-03-09T00:00:00Z"),
            "America/New_York",
        )
        .unwrap();
    let at: Vec<String> = occ
        .iter()
        .map(|o| {
            chrono::DateTime::from_timestamp_millis(o.fire_ms)
                .unwrap()
                .to_rfc3339()
        })
        .collect();
    // 01:30 EST, and 02:30 (which does not exist) at 03:30 EDT.
    assert_eq!(
        at,
        vec!["2026-03-08T06:30:00+00:00", "2026-03-08T07:30:00+00:00"]
    );
    let occ = s
        .occurrences(
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-02T00:00:00Z"),
            "America/New_York",
        )
        .unwrap();
    let at: Vec<i64> = occ
        .iter()
        .filter(|o| o.key.ends_with(":0"))
        .map(|o| o.fire_ms)
        .collect();
    // 01:30 happens twice: once, at the first (EDT).
    assert_eq!(at, vec![utc("2026-11-01T05:30:00Z").timestamp_millis()]);
    assert!(occ.iter().all(|o| o.reminder_id == r.id));
}

#[test]
fn travel_follows_the_device_or_stays_home_as_the_rule_says() {
    let (_t, s) = new_store_with(zones());
    let follow = s.add_reminder(daily(&["09:00"], "2026-06-01")).unwrap();
    let mut pinned = daily(&["09:00"], "2026-06-01");
    pinned.zone = ZonePolicy::Pinned("America/Chicago".into());
    let pinned = s.add_reminder(pinned).unwrap();
    let plan = |zone: &str| {
        s.plan_reminders(utc("2026-06-10T00:00:00Z"), zone, &Limits::IOS, 2)
            .unwrap()
            .notifications
    };
    let local = |n: &PlannedNotification| {
        chrono::DateTime::from_timestamp_millis(
            n.fire_at_ms + i64::from(n.utc_offset_seconds) * 1000,
        )
        .unwrap()
        .format("%H:%M")
        .to_string()
    };
    let home = plan("America/Chicago");
    assert!(home.iter().all(|n| local(n) == "09:00"));
    let away = plan("Europe/Lisbon");
    let lisbon = ZoneDb::directory("/usr/share/zoneinfo")
        .zone("Europe/Lisbon")
        .unwrap();
    for n in &away {
        let in_lisbon = chrono::DateTime::from_timestamp_millis(
            n.fire_at_ms + i64::from(lisbon.offset_at(n.fire_at_ms)) * 1000,
        )
        .unwrap()
        .format("%H:%M")
        .to_string();
        if n.reminder_id == follow.id {
            assert_eq!(in_lisbon, "09:00");
        } else {
            assert_eq!(n.reminder_id, pinned.id);
            assert_eq!(
                in_lisbon, "15:00",
                "09:00 in Chicago is 15:00 in Lisbon in June"
            );
            assert_eq!(local(n), "09:00", "its offset is Chicago's");
        }
    }
}

#[test]
fn sixty_four_of_fifty_rules_is_fair_and_stable() {
    let (_t, s) = new_store_with(zones());
    for i in 0..50 {
        let mut r = daily(&["08:00", "13:00", "20:00"], "2026-01-01");
        r.category = Category::ALL[i % 6];
        r.title = Some(format!("PRIVATE rule {i}"));
        s.add_reminder(r).unwrap();
    }
    let now = utc("2026-11-27T12:00:00Z");
    let plan = s
        .plan_reminders(now, "Europe/Berlin", &Limits::IOS, 7)
        .unwrap()
        .notifications;
    assert_eq!(plan.len(), 64);
    let mut per_rule: HashMap<&str, u32> = HashMap::new();
    for n in &plan {
        *per_rule.entry(&n.reminder_id).or_default() += 1;
    }
    assert_eq!(per_rule.len(), 50, "every rule gets its next occurrence");
    assert!(per_rule.values().all(|&c| c <= 2));
    assert!(plan.windows(2).all(|w| w[0].fire_at_ms <= w[1].fire_at_ms));
    assert!(plan.iter().all(|n| n.fire_at_ms >= now.timestamp_millis()));
    let ids: HashSet<&str> = plan.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), 64);
    // Generic text only: nothing personal on the lock screen.
    assert!(
        plan.iter()
            .all(|n| !n.title.contains("PRIVATE") && !n.body.contains("PRIVATE"))
    );
    // Same inputs, same ids; the diff against itself is empty.
    let again = s
        .plan_reminders(now, "Europe/Berlin", &Limits::IOS, 7)
        .unwrap()
        .notifications;
    assert_eq!(plan, again);
    let held: Vec<String> = plan.iter().map(|n| n.id.clone()).collect();
    assert_eq!(diff_plan(&again, &held), PlanDiff::default());
    // An hour later the first ones have fired: the diff removes them and adds as many.
    let later = s
        .plan_reminders(now + Duration::hours(9), "Europe/Berlin", &Limits::IOS, 7)
        .unwrap()
        .notifications;
    let diff = diff_plan(&later, &held);
    assert!(!diff.remove.is_empty());
    assert_eq!(later.len(), 64);
    assert_eq!(held.len() - diff.remove.len() + diff.add.len(), 64);
}

#[test]
fn without_exact_alarms_notifications_get_a_window() {
    let (_t, s) = new_store_with(zones());
    s.add_reminder(daily(&["08:00"], "2026-01-01")).unwrap();
    let plan = s
        .plan_reminders(
            utc("2026-11-27T12:00:00Z"),
            "UTC",
            &Limits::ANDROID_INEXACT,
            3,
        )
        .unwrap()
        .notifications;
    assert_eq!(plan.len(), 3);
    assert!(plan.iter().all(|n| !n.exact && n.window_minutes >= 10));
    let tight = Limits {
        inexact_window_minutes: 1,
        ..Limits::ANDROID_INEXACT
    };
    let plan = s
        .plan_reminders(utc("2026-11-27T12:00:00Z"), "UTC", &tight, 3)
        .unwrap()
        .notifications;
    assert!(
        plan.iter().all(|n| n.window_minutes == 10),
        "Android's minimum window is 10 minutes"
    );
    let exact = s
        .plan_reminders(
            utc("2026-11-27T12:00:00Z"),
            "UTC",
            &Limits::ANDROID_EXACT,
            3,
        )
        .unwrap()
        .notifications;
    assert!(exact.iter().all(|n| n.exact && n.window_minutes == 0));
}

#[test]
fn quiet_hours_defer_skip_or_ignore() {
    let (_t, s) = new_store_with(zones());
    s.set_quiet_hours(Some(QuietHours {
        start: t("22:00"),
        end: t("07:00"),
    }))
    .unwrap();
    let mut defer = daily(&["06:00"], "2026-01-01");
    defer.quiet = QuietPolicy::Defer;
    let defer = s.add_reminder(defer).unwrap();
    let mut skip = daily(&["23:00"], "2026-01-01");
    skip.quiet = QuietPolicy::Skip;
    let skip = s.add_reminder(skip).unwrap();
    let mut ignore = daily(&["23:30"], "2026-01-01");
    ignore.quiet = QuietPolicy::Ignore;
    let ignore = s.add_reminder(ignore).unwrap();
    let plan = s
        .plan_reminders(utc("2026-11-27T12:00:00Z"), "Europe/Paris", &Limits::IOS, 2)
        .unwrap()
        .notifications;
    let hm = |n: &PlannedNotification| {
        chrono::DateTime::from_timestamp_millis(n.fire_at_ms + 3_600_000)
            .unwrap()
            .format("%H:%M")
            .to_string()
    };
    let of = |id: &str| {
        plan.iter()
            .filter(|n| n.reminder_id == id)
            .map(hm)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&defer.id), vec!["07:00", "07:00"]);
    assert!(of(&skip.id).is_empty());
    assert_eq!(of(&ignore.id), vec!["23:30", "23:30"]);
    assert!(
        plan.iter()
            .filter(|n| n.reminder_id == defer.id)
            .all(|n| n.due_ms < n.fire_at_ms)
    );
    assert_eq!(
        s.quiet_hours().unwrap(),
        Some(QuietHours {
            start: t("22:00"),
            end: t("07:00")
        })
    );
    s.set_quiet_hours(None).unwrap();
    let plan = s
        .plan_reminders(utc("2026-11-27T12:00:00Z"), "Europe/Paris", &Limits::IOS, 2)
        .unwrap()
        .notifications;
    assert_eq!(plan.iter().filter(|n| n.reminder_id == skip.id).count(), 2);
}

#[test]
fn schedules_weekly_every_n_month_day_once_window_and_limits() {
    let (_t, s) = new_store_with(zones());
    let z = "UTC";
    let occ_of = |id: &str, from: &str, to: &str| -> Vec<NaiveDate> {
        s.occurrences(utc(from), utc(to), z)
            .unwrap()
            .into_iter()
            .filter(|o| o.reminder_id == id)
            .map(|o| {
                chrono::DateTime::from_timestamp_millis(o.fire_ms)
                    .unwrap()
                    .date_naive()
            })
            .collect()
    };
    let weekly = s
        .add_reminder(NewReminder::new(
            Category::Medication,
            Schedule::Weekly {
                days: vec![Weekday::Mon, Weekday::Thu],
                times: vec![t("09:00")],
            },
            d("2026-11-01"),
        ))
        .unwrap();
    assert_eq!(
        occ_of(&weekly.id, "2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z"),
        vec![
            d("2026-11-02"),
            d("2026-11-05"),
            d("2026-11-09"),
            d("2026-11-12")
        ]
    );
    let every3 = s
        .add_reminder(NewReminder::new(
            Category::CopingStep,
            Schedule::EveryNDays {
                n: 3,
                times: vec![t("10:00")],
            },
            d("2026-11-02"),
        ))
        .unwrap();
    assert_eq!(
        occ_of(&every3.id, "2026-11-01T00:00:00Z", "2026-11-12T00:00:00Z"),
        vec![
            d("2026-11-02"),
            d("2026-11-05"),
            d("2026-11-08"),
            d("2026-11-11")
        ]
    );
    let monthly = s
        .add_reminder(NewReminder::new(
            Category::Medication,
            Schedule::MonthDay {
                day: 31,
                times: vec![t("08:00")],
            },
            d("2026-01-01"),
        ))
        .unwrap();
    assert_eq!(
        occ_of(&monthly.id, "2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z"),
        vec![
            d("2026-01-31"),
            d("2026-02-28"),
            d("2026-03-31"),
            d("2026-04-30")
        ]
    );
    let once = s
        .add_reminder(NewReminder::new(
            Category::Appointment,
            Schedule::Once {
                date: d("2026-12-03"),
                time: t("14:15"),
            },
            d("2026-01-01"),
        ))
        .unwrap();
    assert_eq!(once.start, d("2026-12-03"));
    assert_eq!(
        occ_of(&once.id, "2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        vec![d("2026-12-03")]
    );
    let mut limited = daily(&["07:00", "19:00"], "2026-11-01");
    limited.count = Some(5);
    let limited = s.add_reminder(limited).unwrap();
    assert_eq!(
        occ_of(&limited.id, "2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z").len(),
        5
    );
    assert_eq!(
        occ_of(&limited.id, "2026-11-02T12:00:00Z", "2026-12-01T00:00:00Z").len(),
        2,
        "the count runs from the start"
    );
    let mut ended = daily(&["07:00"], "2026-11-01");
    ended.end = Some(d("2026-11-03"));
    let ended = s.add_reminder(ended).unwrap();
    assert_eq!(
        occ_of(&ended.id, "2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z").len(),
        3
    );
    // Windows: one time a day inside [from, to), reproducible, varying.
    let w = s
        .add_reminder(NewReminder::new(
            Category::CheckIn,
            Schedule::Window {
                from: t("09:00"),
                to: t("11:00"),
                days: vec![],
            },
            d("2026-11-01"),
        ))
        .unwrap();
    let times = |_: ()| -> Vec<i64> {
        s.occurrences(utc("2026-11-01T00:00:00Z"), utc("2026-12-01T00:00:00Z"), z)
            .unwrap()
            .into_iter()
            .filter(|o| o.reminder_id == w.id)
            .map(|o| o.fire_ms)
            .collect()
    };
    let a = times(());
    assert_eq!(a.len(), 30);
    assert_eq!(a, times(()));
    let minutes: HashSet<i64> = a
        .iter()
        .map(|ms| ms.rem_euclid(86_400_000) / 60_000)
        .collect();
    assert!(minutes.iter().all(|m| (540..660).contains(m)));
    assert!(
        minutes.len() > 15,
        "the chosen minutes vary from day to day"
    );
}

#[test]
fn post_session_routines_follow_recorded_events() {
    let (_t, s) = new_store_with(zones());
    let mut r = NewReminder::new(
        Category::PostSession,
        Schedule::AfterEvent {
            event: "Infusion".into(),
            steps: vec![
                Step::After { minutes: 120 },
                Step::DayAt {
                    day: 1,
                    time: t("09:00"),
                },
                Step::DayAt {
                    day: 3,
                    time: t("09:00"),
                },
                Step::DayAt {
                    day: 7,
                    time: t("09:00"),
                },
            ],
        },
        d("2026-01-01"),
    );
    r.zone = ZonePolicy::Pinned("America/Denver".into());
    let r = s.add_reminder(r).unwrap();
    let e = s
        .record_event("infusion", utc("2026-11-16T17:00:00Z"), "America/Denver")
        .unwrap();
    assert_eq!(s.events().unwrap(), vec![e.clone()]);
    let occ = s
        .occurrences(
            utc("2026-11-01T00:00:00Z"),
            utc("2026-12-01T00:00:00Z"),
            "UTC",
        )
        .unwrap();
    let got: Vec<String> = occ
        .iter()
        .filter(|o| o.reminder_id == r.id)
        .map(|o| {
            chrono::DateTime::from_timestamp_millis(o.fire_ms)
                .unwrap()
                .to_rfc3339()
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "2026-11-16T19:00:00+00:00", // +2 h
            "2026-11-17T16:00:00+00:00", // day 1, 09:00 MST
            "2026-11-19T16:00:00+00:00",
            "2026-11-23T16:00:00+00:00",
        ]
    );
    assert!(
        s.record_event("not a kind!", utc("2026-11-16T17:00:00Z"), "UTC")
            .is_err()
    );
}

#[test]
fn done_skipped_snoozed_late_and_missed_feed_the_plan_and_adherence() {
    let (_t, s) = new_store_with(zones());
    let r = s.add_reminder(daily(&["09:00"], "2026-11-20")).unwrap();
    let key = |day: &str| format!("{}:{}:0", r.id, day);
    let due = |day: &str| utc(&format!("{day}T09:00:00Z")).timestamp_millis();
    let min = 60_000;
    // 20th: shown on time, done. 21st: shown 20 minutes late, skipped.
    // 22nd: never shown (an OS problem), missed. 23rd: shown, not acted on: missed.
    // 24th: shown, snoozed past "now", not yet missed.
    s.report_reminder(
        &key("2026-11-20"),
        due("2026-11-20"),
        ReminderReport::Shown {
            at_ms: due("2026-11-20") + min,
        },
    )
    .unwrap();
    s.report_reminder(
        &key("2026-11-20"),
        due("2026-11-20"),
        ReminderReport::Done {
            at_ms: due("2026-11-20") + 5 * min,
        },
    )
    .unwrap();
    s.report_reminder(
        &key("2026-11-21"),
        due("2026-11-21"),
        ReminderReport::Shown {
            at_ms: due("2026-11-21") + 20 * min,
        },
    )
    .unwrap();
    s.report_reminder(
        &key("2026-11-21"),
        due("2026-11-21"),
        ReminderReport::Skipped {
            at_ms: due("2026-11-21") + 25 * min,
        },
    )
    .unwrap();
    s.report_reminder(
        &key("2026-11-23"),
        due("2026-11-23"),
        ReminderReport::Shown {
            at_ms: due("2026-11-23"),
        },
    )
    .unwrap();
    let now = utc("2026-11-24T09:30:00Z");
    s.report_reminder(
        &key("2026-11-24"),
        due("2026-11-24"),
        ReminderReport::Shown {
            at_ms: due("2026-11-24"),
        },
    )
    .unwrap();
    s.report_reminder(
        &key("2026-11-24"),
        due("2026-11-24"),
        ReminderReport::Snoozed {
            until_ms: now.timestamp_millis() + 15 * min,
        },
    )
    .unwrap();
    let AdherenceReport {
        by_rule: rules,
        by_category: cats,
        corrupted,
    } = s
        .adherence(
            utc("2026-11-20T00:00:00Z"),
            utc("2026-11-25T00:00:00Z"),
            now,
            "UTC",
        )
        .unwrap();
    assert!(corrupted.is_empty());
    let a = &rules[0];
    assert_eq!(
        (
            a.due,
            a.shown,
            a.late,
            a.not_shown,
            a.done,
            a.skipped,
            a.missed
        ),
        (5, 4, 1, 1, 1, 1, 2),
        "{a:?}"
    );
    assert_eq!(cats[0].key, "check_in");
    assert_eq!(cats[0].due, 5);
    // The snoozed occurrence is planned at the snooze time, ahead of tomorrow's.
    let plan = s
        .plan_reminders(now, "UTC", &Limits::IOS, 2)
        .unwrap()
        .notifications;
    assert_eq!(plan[0].occurrence, key("2026-11-24"));
    assert_eq!(plan[0].fire_at_ms, now.timestamp_millis() + 15 * min);
    assert_eq!(plan[0].due_ms, due("2026-11-24"));
    // Done occurrences leave the plan.
    s.report_reminder(
        &key("2026-11-25"),
        due("2026-11-25"),
        ReminderReport::Done {
            at_ms: now.timestamp_millis(),
        },
    )
    .unwrap();
    let plan = s
        .plan_reminders(now, "UTC", &Limits::IOS, 2)
        .unwrap()
        .notifications;
    assert!(plan.iter().all(|n| n.occurrence != key("2026-11-25")));
    // Bad keys and snoozes are typed errors.
    assert!(matches!(
        s.report_reminder("garbage", 0, ReminderReport::Done { at_ms: 0 }),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        s.report_reminder(
            &key("2026-11-26"),
            due("2026-11-26"),
            ReminderReport::Snoozed {
                until_ms: due("2026-11-26") - 1
            }
        ),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn titles_are_sealed_and_shown_only_when_chosen() {
    const MARK: &str = "QUOKKAMARKER";
    let (t_, s) = new_store_with(zones());
    let mut r = daily(&["08:00"], "2026-01-01");
    r.title = Some(format!("{MARK} pill"));
    let hidden = s.add_reminder(r.clone()).unwrap();
    r.show_title = true;
    let shown = s.add_reminder(r).unwrap();
    let plan = s
        .plan_reminders(utc("2026-11-27T12:00:00Z"), "UTC", &Limits::IOS, 1)
        .unwrap()
        .notifications;
    let of = |id: &str| plan.iter().find(|n| n.reminder_id == id).unwrap();
    assert_eq!(of(&hidden.id).title, "Time for your check-in");
    assert_eq!(of(&shown.id).title, format!("{MARK} pill"));
    assert!(!of(&shown.id).body.contains(MARK));
    s.checkpoint().unwrap();
    for (p, bytes) in files_in(t_.dir.path()) {
        assert!(
            !contains(&bytes, MARK.as_bytes()),
            "{} holds a reminder title",
            p.display()
        );
    }
}

#[test]
fn rules_are_validated_edited_deleted_and_rekeyed() {
    let (t_, s) = new_store_with(zones());
    let bad: Vec<NewReminder> = vec![
        daily(&[], "2026-01-01"),
        NewReminder::new(
            Category::CheckIn,
            Schedule::EveryNDays {
                n: 0,
                times: vec![t("09:00")],
            },
            d("2026-01-01"),
        ),
        NewReminder::new(
            Category::CheckIn,
            Schedule::MonthDay {
                day: 32,
                times: vec![t("09:00")],
            },
            d("2026-01-01"),
        ),
        NewReminder::new(
            Category::CheckIn,
            Schedule::Window {
                from: t("11:00"),
                to: t("09:00"),
                days: vec![],
            },
            d("2026-01-01"),
        ),
        NewReminder::new(
            Category::CheckIn,
            Schedule::Weekly {
                days: vec![],
                times: vec![t("09:00")],
            },
            d("2026-01-01"),
        ),
        NewReminder {
            end: Some(d("2025-01-01")),
            ..daily(&["09:00"], "2026-01-01")
        },
        NewReminder {
            count: Some(0),
            ..daily(&["09:00"], "2026-01-01")
        },
        daily(&["09:00"], "1969-12-31"),
        NewReminder {
            end: Some(d("2300-01-01")),
            ..daily(&["09:00"], "2026-01-01")
        },
        NewReminder {
            title: Some("x".repeat(200)),
            ..daily(&["09:00"], "2026-01-01")
        },
    ];
    for b in bad {
        assert!(matches!(s.add_reminder(b), Err(Error::InvalidInput { .. })));
    }
    let pinned_bad = NewReminder {
        zone: ZonePolicy::Pinned("Mars/Base".into()),
        ..daily(&["09:00"], "2026-01-01")
    };
    assert!(matches!(
        s.add_reminder(pinned_bad),
        Err(Error::UnknownZone)
    ));
    assert!(Category::parse("check-in").is_ok());
    assert!(Category::parse("nap").is_err());
    assert!(parse_time("25:00").is_err());
    assert!(parse_weekday("funday").is_err());
    let r = s
        .add_reminder(daily(&["09:00", "09:00", "08:00"], "2026-01-01"))
        .unwrap();
    assert_eq!(
        r.schedule,
        Schedule::Daily {
            times: vec![t("08:00"), t("09:00")]
        },
        "sorted and de-duplicated"
    );
    let edited = s
        .update_reminder(&r.id, daily(&["10:00"], "2026-02-01"))
        .unwrap();
    assert_eq!((edited.revision, edited.seed), (2, r.seed));
    assert_eq!(s.reminders().unwrap().reminders, vec![edited.clone()]);
    s.rekey(Key::Raw(&OTHER_KEY)).unwrap();
    s.set_quiet_hours(Some(QuietHours {
        start: t("22:00"),
        end: t("06:00"),
    }))
    .unwrap();
    drop(s);
    let s = Store::open(
        &t_.path,
        Key::Raw(&OTHER_KEY),
        StoreOptions {
            zones: zones(),
            clock: Arc::new(FixedClock::new(NOW_MS)),
        },
    )
    .unwrap();
    assert_eq!(s.reminder(&r.id).unwrap(), edited);
    assert!(s.quiet_hours().unwrap().is_some());
    s.delete_reminder(&r.id).unwrap();
    assert!(matches!(s.reminder(&r.id), Err(Error::NotFound { .. })));
    assert!(s.reminders().unwrap().reminders.is_empty());
    assert!(matches!(
        s.plan_reminders(Utc::now(), "UTC", &Limits::IOS, 0),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        s.plan_reminders(Utc::now(), "Mars/Base", &Limits::IOS, 7),
        Err(Error::UnknownZone)
    ));
}

#[test]
fn reports_need_a_known_rule_paused_rules_owe_nothing_and_new_text_gets_a_new_id() {
    let (_t, s) = new_store_with(zones());
    let unknown = format!("{}:2026-11-20:0", "ab".repeat(16));
    assert!(matches!(
        s.report_reminder(&unknown, 0, ReminderReport::Done { at_ms: 0 }),
        Err(Error::NotFound { .. })
    ));
    let mut paused = daily(&["09:00"], "2026-11-01");
    paused.enabled = false;
    s.add_reminder(paused).unwrap();
    let rules = s
        .adherence(
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-20T00:00:00Z"),
            utc("2026-11-20T00:00:00Z"),
            "UTC",
        )
        .unwrap()
        .by_rule;
    assert!(rules.is_empty());
    let mut r = daily(&["09:00"], "2026-11-01");
    r.title = Some("walk".into());
    let rule = s.add_reminder(r.clone()).unwrap();
    let now = utc("2026-11-27T00:00:00Z");
    let before = s
        .plan_reminders(now, "UTC", &Limits::IOS, 1)
        .unwrap()
        .notifications;
    r.show_title = true;
    s.update_reminder(&rule.id, r).unwrap();
    let after = s
        .plan_reminders(now, "UTC", &Limits::IOS, 1)
        .unwrap()
        .notifications;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].occurrence, after[0].occurrence);
    assert_ne!(
        before[0].id, after[0].id,
        "new text, new id: the diff replaces the shown text"
    );
    assert!(after[0].id.starts_with(NOTIFICATION_ID_PREFIX));
}
