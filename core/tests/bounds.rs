//! Every time, range and count argument of the public API at its extremes
//! (i64 and u32 limits, chrono's first and last instants and dates): a
//! typed `InvalidInput` naming the field, never a panic, an allocation
//! without limit, or a write. The FFI and the CLI pass these through.
mod common;
use cairn_core::reminders::*;
use cairn_core::*;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use common::*;

fn invalid<T: std::fmt::Debug>(r: Result<T>, field: &str) {
    match r {
        Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected InvalidInput {{ {field} }}, got {other:?}"),
    }
}

/// Instants no phone should send: chrono's ends, and just outside the
/// supported calendar.
fn extreme_instants() -> Vec<DateTime<Utc>> {
    vec![
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::from_timestamp_millis(-1).unwrap(),
        DateTime::from_timestamp_millis(bounds::LATEST_MS + 1).unwrap(),
    ]
}

fn extreme_ms() -> [i64; 4] {
    [i64::MIN, -1, bounds::LATEST_MS + 1, i64::MAX]
}

fn rule_with(schedule: Schedule) -> NewReminder {
    NewReminder::new(
        Category::CheckIn,
        schedule,
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    )
}

fn nine() -> Vec<NaiveTime> {
    vec![NaiveTime::from_hms_opt(9, 0, 0).unwrap()]
}

#[test]
fn journal_calls_refuse_instants_outside_the_calendar() {
    let (_t, s) = new_store();
    let e = s
        .log(entry("mood", Value::Scale(5.0), at(2026, 11, 20, 9, 0)))
        .unwrap();
    for when in extreme_instants() {
        invalid(s.log(entry("mood", Value::Scale(5.0), when)), "at");
        invalid(
            s.update_entry(&e.id, entry("mood", Value::Scale(5.0), when)),
            "at",
        );
        // Queries may name any range: they only filter.
        let page = s
            .entries(&EntryQuery {
                from: Some(DateTime::<Utc>::MIN_UTC),
                to: Some(when),
                ..Default::default()
            })
            .unwrap();
        assert!(page.entries.len() <= 1);
    }
    for day in [NaiveDate::MIN, NaiveDate::MAX] {
        s.entries(&EntryQuery {
            from_day: Some(day),
            to_day: Some(day),
            ..Default::default()
        })
        .unwrap();
    }
    let all = s
        .entries(&EntryQuery {
            limit: Some(u32::MAX),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.entries.len(), 1);
    for ms in [i64::MIN, i64::MAX] {
        let cursor = format!("{ms}.{}", e.id);
        s.entries(&EntryQuery {
            after: Some(cursor.clone()),
            ..Default::default()
        })
        .unwrap();
        s.entries(&EntryQuery {
            after: Some(cursor),
            newest_first: true,
            ..Default::default()
        })
        .unwrap();
    }
    invalid(
        s.entries(&EntryQuery {
            after: Some("99999999999999999999999.x".into()),
            ..Default::default()
        }),
        "cursor",
    );
    assert_eq!(s.pending_changes().unwrap(), 1, "nothing else was written");
}

#[test]
fn reminder_calls_refuse_instants_ranges_and_counts_out_of_bounds() {
    let (_t, s) = new_store();
    let r = s
        .add_reminder(rule_with(Schedule::Daily { times: nine() }))
        .unwrap();
    let now = DateTime::from_timestamp_millis(NOW_MS).unwrap();
    for when in extreme_instants() {
        invalid(s.record_event("infusion", when, "UTC"), "at");
        invalid(s.plan_reminders(when, "UTC", &Limits::IOS, 7), "now");
        let e = s.adherence(when, now, now, "UTC").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let e = s.adherence(now, now, when, "UTC").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let e = s.occurrences(when, now, "UTC").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let e = s.occurrences(now, when, "UTC").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    }
    // The whole calendar at once is a range too long, not a year-long loop.
    let first = DateTime::from_timestamp_millis(0).unwrap();
    let last = DateTime::from_timestamp_millis(bounds::LATEST_MS).unwrap();
    invalid(s.occurrences(first, last, "UTC"), "range");
    invalid(s.adherence(first, last, last, "UTC"), "range");
    // Plan horizons and platform limits.
    for horizon in [0, MAX_HORIZON_DAYS + 1, u32::MAX] {
        invalid(
            s.plan_reminders(now, "UTC", &Limits::IOS, horizon),
            "horizon",
        );
    }
    for max_pending in [0, MAX_PENDING + 1, u32::MAX] {
        let limits = Limits {
            max_pending,
            ..Limits::IOS
        };
        invalid(s.plan_reminders(now, "UTC", &limits, 7), "limit");
    }
    let wide = Limits {
        inexact_window_minutes: u32::MAX,
        ..Limits::ANDROID_INEXACT
    };
    invalid(s.plan_reminders(now, "UTC", &wide, 7), "window");
    // Reports: every instant they carry.
    let o = s
        .occurrences(at(2026, 11, 20, 0, 0), at(2026, 11, 21, 0, 0), "UTC")
        .unwrap()
        .remove(0);
    for ms in extreme_ms() {
        invalid(
            s.report_reminder(&o.key, ms, ReminderReport::Done { at_ms: o.fire_ms }),
            "due",
        );
        for report in [
            ReminderReport::Shown { at_ms: ms },
            ReminderReport::Done { at_ms: ms },
            ReminderReport::Skipped { at_ms: ms },
        ] {
            invalid(s.report_reminder(&o.key, o.fire_ms, report), "at");
        }
        invalid(
            s.report_reminder(&o.key, o.fire_ms, ReminderReport::Snoozed { until_ms: ms }),
            "snooze",
        );
    }
    // Rules: counts, steps and dates at their type's limits.
    let mut counted = rule_with(Schedule::Daily { times: nine() });
    counted.count = Some(u32::MAX);
    counted.grace_minutes = u32::MAX;
    let e = s.add_reminder(counted).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    let mut huge_count = rule_with(Schedule::Daily { times: nine() });
    huge_count.count = Some(u32::MAX);
    let r2 = s.add_reminder(huge_count).unwrap();
    // A rule without end and with the largest count still plans a bounded
    // horizon.
    let plan = s.plan_reminders(now, "UTC", &Limits::IOS, 62).unwrap();
    assert!(plan.notifications.len() <= 64);
    s.delete_reminder(&r2.id).unwrap();
    for schedule in [
        Schedule::EveryNDays {
            n: u16::MAX,
            times: nine(),
        },
        Schedule::MonthDay {
            day: u8::MAX,
            times: nine(),
        },
        Schedule::AfterEvent {
            event: "infusion".into(),
            steps: vec![Step::After { minutes: u32::MAX }],
        },
        Schedule::AfterEvent {
            event: "infusion".into(),
            steps: vec![Step::DayAt {
                day: u16::MAX,
                time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            }],
        },
        Schedule::Once {
            date: NaiveDate::MAX,
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        },
    ] {
        let e = s.add_reminder(rule_with(schedule)).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    }
    for date in [NaiveDate::MIN, NaiveDate::MAX] {
        let mut bad = rule_with(Schedule::Daily { times: nine() });
        bad.start = date;
        invalid(s.add_reminder(bad), "start");
        let mut bad = rule_with(Schedule::Daily { times: nine() });
        bad.end = Some(date);
        invalid(s.add_reminder(bad), "end");
    }
    // The store still plans the good rule.
    let plan = s.plan_reminders(now, "UTC", &Limits::IOS, 2).unwrap();
    assert!(plan.notifications.iter().all(|n| n.reminder_id == r.id));
    assert!(!plan.notifications.is_empty());
}

#[test]
fn adherence_checks_its_range_before_clamping_it_to_now() {
    let (_t, s) = new_store();
    s.add_reminder(rule_with(Schedule::Daily { times: nine() }))
        .unwrap();
    let now = DateTime::from_timestamp_millis(NOW_MS).unwrap();
    let from = at(2026, 11, 1, 0, 0);
    for to in extreme_instants() {
        invalid(s.adherence(from, to, now, "UTC"), "to");
    }
    invalid(s.adherence(from, at(2026, 10, 1, 0, 0), now, "UTC"), "to");
    // Up to a moment in the future is fine: nothing is due after now.
    let report = s
        .adherence(from, at(2026, 12, 31, 0, 0), now, "UTC")
        .unwrap();
    assert_eq!(
        report.by_rule[0].due, 27,
        "1 to 27 November at 09:00; now is the 27th at noon"
    );
}
