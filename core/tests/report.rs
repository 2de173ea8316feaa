//! The report for the appointment: its numbers on a small store.
mod common;
use cairn_core::reminders::{
    Category, NewReminder, ReminderReport, Schedule, ZonePolicy, parse_time,
};
use cairn_core::report::report_html;
use cairn_core::*;
use chrono::NaiveDate;
use common::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn phq9(s: &Store, answers: [u8; 9], when: chrono::DateTime<chrono::Utc>) {
    s.checkin("phq9", answers.map(Some).to_vec(), when, "Europe/London")
        .unwrap();
}

#[test]
fn a_period_in_numbers() {
    // The store's clock reads 2026-11-27T12:00Z.
    let (_t, s) = new_store();
    let scale = Value::Scale;
    for (tracker, v, when) in [
        ("mood", 4.0, at(2026, 11, 2, 8, 0)),
        ("mood", 6.0, at(2026, 11, 2, 20, 0)),
        ("mood", 7.0, at(2026, 11, 3, 9, 0)),
        ("mood", 3.0, at(2026, 11, 10, 9, 0)),
        ("anxiety", 8.0, at(2026, 11, 5, 9, 0)),
        ("mood", 9.0, at(2026, 10, 31, 9, 0)), // before the period
    ] {
        s.log(entry(tracker, scale(v), when)).unwrap();
    }
    s.log(entry(
        "sleep",
        Value::Sleep {
            minutes: 420,
            quality: None,
        },
        at(2026, 11, 6, 7, 0),
    ))
    .unwrap();
    // 00:30 on the 21st in Tokyo is the 20th in UTC: it counts on the 21st.
    let mut tokyo = entry("energy", scale(5.0), at(2026, 11, 20, 15, 30));
    tokyo.zone = "Asia/Tokyo".into();
    s.log(tokyo).unwrap();
    phq9(&s, [2, 2, 2, 2, 2, 2, 2, 2, 0], at(2026, 11, 4, 10, 0));
    phq9(&s, [1, 1, 1, 1, 1, 1, 1, 0, 1], at(2026, 11, 18, 10, 0));
    s.checkin(
        "gad7",
        vec![Some(1); 7],
        at(2026, 11, 4, 10, 5),
        "Europe/London",
    )
    .unwrap();
    s.help_now().unwrap();
    for day in [3, 10] {
        s.record_event("infusion", at(2026, 11, day, 15, 0), "Europe/London")
            .unwrap();
    }
    s.record_event("infusion", at(2026, 10, 20, 15, 0), "Europe/London")
        .unwrap();
    let mut r = NewReminder::new(
        Category::CheckIn,
        Schedule::Daily {
            times: vec![parse_time("09:00").unwrap()],
        },
        d("2026-11-20"),
    );
    r.zone = ZonePolicy::Pinned("Europe/London".into());
    let r = s.add_reminder(r).unwrap();
    let due = at(2026, 11, 20, 9, 0).timestamp_millis();
    s.report_reminder(
        &format!("{}:2026-11-20:0", r.id),
        due,
        ReminderReport::Done {
            at_ms: due + 60_000,
        },
    )
    .unwrap();
    // The latest entry sets the report's zone.
    s.log(entry("mood", scale(5.0), at(2026, 11, 25, 9, 0)))
        .unwrap();

    let rep = s.report(d("2026-11-01"), d("2026-11-30")).unwrap();
    assert_eq!(rep.zone, "Europe/London");
    assert_eq!(rep.generated_at, at(2026, 11, 27, 12, 0));
    // Up to today: 27 days; entries on the 2nd, 3rd, 4th, 5th, 6th, 10th,
    // 18th, 21st (Tokyo) and 25th.
    assert_eq!((rep.days, rep.check_in_days), (27, 9));
    assert!((rep.check_in_adherence.unwrap() - 9.0 / 27.0).abs() < 1e-12);

    let names: Vec<&str> = rep.trackers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Mood", "Anxiety", "Energy"]);
    let mood = &rep.trackers[0];
    assert_eq!(
        (mood.min, mood.max, mood.min_label.as_str()),
        (0.0, 10.0, "very low")
    );
    let days: Vec<(NaiveDate, f64, u32)> = mood
        .days
        .iter()
        .map(|x| (x.date, x.mean, x.ratings))
        .collect();
    assert_eq!(
        days,
        [
            (d("2026-11-02"), 5.0, 2),
            (d("2026-11-03"), 7.0, 1),
            (d("2026-11-10"), 3.0, 1),
            (d("2026-11-25"), 5.0, 1)
        ]
    );
    assert_eq!(rep.trackers[2].days[0].date, d("2026-11-21"));

    let q: Vec<_> = rep
        .questionnaires
        .iter()
        .map(|q| (q.questionnaire, q.date, q.total, q.band, q.item9_positive))
        .collect();
    assert_eq!(
        q,
        [
            (
                "phq9",
                d("2026-11-04"),
                Some(16),
                Some("moderately severe"),
                Some(false)
            ),
            ("gad7", d("2026-11-04"), Some(7), Some("mild"), None),
            ("phq9", d("2026-11-18"), Some(8), Some("mild"), Some(true)),
        ]
    );
    assert_eq!(rep.questionnaires[2].item9_answer, Some(1));

    let sessions: Vec<_> = rep
        .sessions
        .iter()
        .map(|x| (x.date, x.kind.as_str()))
        .collect();
    assert_eq!(
        sessions,
        [(d("2026-11-03"), "infusion"), (d("2026-11-10"), "infusion")]
    );

    // Due from the 20th to now (the 27th, 12:00): 8, one done.
    assert_eq!(rep.reminders.len(), 1);
    let a = &rep.reminders[0];
    assert_eq!(
        (a.key.as_str(), a.due, a.done, a.missed),
        ("check_in", 8, 1, 7)
    );

    // The item 9 flag and the help-now flag, both raised "now", open.
    let flags: Vec<_> = rep
        .flags
        .iter()
        .map(|f| (f.kind.as_str(), f.state, f.date))
        .collect();
    assert_eq!(flags.len(), 2);
    assert!(flags.contains(&("item9_positive", "open", d("2026-11-27"))));
    assert!(flags.contains(&("help_now", "open", d("2026-11-27"))));
    let f = rep
        .flags
        .iter()
        .find(|f| f.kind == "item9_positive")
        .unwrap();
    assert_eq!(f.title, "PHQ-9 item 9 positive");
    assert!(f.reason.contains("(1 of 3)"), "{}", f.reason);
    assert_eq!(rep.skipped_records, 0);

    let html = report_html(&rep);
    for part in [
        "<h2>Summary</h2>",
        "aria-labelledby=\"t0-t t0-d\"",
        "aria-labelledby=\"q-phq9-t q-phq9-d\"",
        "aria-labelledby=\"q-gad7-t q-gad7-d\"",
        "Reminders done: check in</strong>",
        "1 done of 8 due; 0 skipped, 7 missed",
        "First 16 (moderately severe) on 4 Nov, last 8 (mild) on 18 Nov: a change of -8.",
        "positive (1 of 3), flagged for review",
        "PHQ-9 item 9 positive",
    ] {
        assert!(html.contains(part), "{part} is missing");
    }
    // Five time charts, each with its table; two adherence bars.
    assert_eq!(html.matches("<svg").count(), 7);
    assert_eq!(html.matches("role=\"img\"").count(), 5);
    assert_eq!(html.matches("<details>").count(), 5);
}

#[test]
fn empty_and_bad_periods() {
    let (_t, s) = new_store();
    s.log(entry("mood", Value::Scale(5.0), at(2026, 11, 2, 8, 0)))
        .unwrap();
    let r = s.report(d("2025-01-01"), d("2025-01-31")).unwrap();
    assert!(r.is_empty());
    assert_eq!((r.days, r.zone.as_str()), (31, "UTC"));
    assert!(report_html(&r).contains("No data for this period"));
    // A period wholly after today has no day to miss.
    let r = s.report(d("2026-12-01"), d("2026-12-07")).unwrap();
    assert_eq!((r.days, r.check_in_adherence), (0, None));
    assert!(matches!(
        s.report(d("2026-11-02"), d("2026-11-01")),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        s.report(d("2025-01-01"), d("2026-11-01")),
        Err(Error::InvalidInput { .. })
    ));
}
