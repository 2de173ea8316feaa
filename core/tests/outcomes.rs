//! Questionnaire check-ins and risk flags on the device.
mod common;
use cairn_core::*;
use common::*;
use std::sync::Arc;

const DAY: i64 = 86_400_000;

fn store_with_clock() -> (TempStore, Store, Arc<FixedClock>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.cairn");
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let store = Store::create(
        &path,
        Key::Raw(&KEY),
        StoreOptions {
            zones: Arc::new(ZoneDb::directory("/usr/share/zoneinfo")),
            clock: clock.clone(),
        },
    )
    .unwrap();
    (TempStore { dir, path }, store, clock)
}

fn when(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap()
}

#[test]
fn a_checkin_is_a_sealed_entry_scored_from_the_table() {
    let (t, s) = new_store();
    let answers = [1, 2, 1, 2, 1, 0, 1, 1, 0].map(Some).to_vec();
    let c = s
        .checkin("PHQ-9", answers.clone(), when(NOW_MS), "Europe/London")
        .unwrap();
    assert_eq!(c.score.total, Some(9));
    assert_eq!(c.score.band, Some("mild"));
    assert_eq!(c.score.item9_positive, Some(false));
    assert!(c.flags.is_empty(), "a negative item 9 raises nothing");
    // Kept as an entry of the PHQ-9 tracker, the difficulty item unanswered.
    let e = s.entry(&c.entry.id).unwrap();
    assert_eq!(&*e.tracker, "phq9");
    let mut stored = answers.clone();
    stored.push(None);
    assert_eq!(
        e.value,
        Value::Answers {
            version: 1,
            answers: stored
        }
    );
    // Sealed: the answers are not on disk in the clear.
    s.checkpoint().unwrap();
    for (_, bytes) in files_in(t.dir.path()) {
        assert!(!contains(&bytes, &[1, 2, 1, 2, 1, 0, 1, 1, 0, 0xff]));
    }
    // Wrong counts and ranges: typed errors, nothing written.
    for bad in [vec![Some(0); 8], vec![Some(4); 9], vec![Some(0); 11]] {
        assert!(matches!(
            s.checkin("phq9", bad, when(NOW_MS), "Europe/London"),
            Err(Error::InvalidInput { .. })
        ));
    }
    assert!(matches!(
        s.checkin("bdi", vec![Some(0)], when(NOW_MS), "Europe/London"),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(s.entries(&EntryQuery::default()).unwrap().entries.len(), 1);
    // The same value through `log` is checked alike.
    assert!(
        s.log(entry(
            "gad7",
            Value::Answers {
                version: 2,
                answers: vec![Some(0); 7]
            },
            when(NOW_MS)
        ))
        .is_err()
    );
}

#[test]
fn a_positive_item_9_raises_a_flag_every_time_whatever_the_total() {
    let (_t, s) = new_store();
    for (n, answer) in [1u8, 2, 3, 1].into_iter().enumerate() {
        let mut a = vec![Some(0); 9];
        a[8] = Some(answer);
        let c = s.checkin("phq9", a, when(NOW_MS), "Europe/London").unwrap();
        assert_eq!(c.score.band, Some("minimal"));
        assert_eq!(c.flags.len(), 1);
        let f = &c.flags[0];
        assert_eq!(f.kind, flags::kind::ITEM9);
        assert_eq!(f.state(), "open");
        assert_eq!(f.source.as_deref(), Some(c.entry.id.as_str()));
        assert!(
            f.reason.contains(&format!("({answer} of 3)")),
            "{}",
            f.reason
        );
        assert_eq!(s.flags().unwrap().len(), n + 1);
    }
    // An unanswered item 9 is neither flagged nor negative.
    let mut a = vec![Some(1); 9];
    a[8] = None;
    let c = s.checkin("phq9", a, when(NOW_MS), "Europe/London").unwrap();
    assert_eq!(c.score.item9_positive, None);
    assert!(c.flags.is_empty());
}

#[test]
fn help_now_raises_a_flag_each_time() {
    let (_t, s) = new_store();
    let a = s.help_now().unwrap();
    let b = s.help_now().unwrap();
    assert_ne!(a.id, b.id);
    let all = s.flags().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|f| f.kind == flags::kind::HELP_NOW));
}

#[test]
fn silence_raises_one_flag_until_the_patient_checks_in_again() {
    let (_t, s, clock) = store_with_clock();
    // No entries yet: nothing to compare with.
    assert!(s.check_flags().unwrap().is_empty());
    s.log(entry("mood", Value::Scale(6.0), when(NOW_MS)))
        .unwrap();
    clock.set(NOW_MS + 6 * DAY);
    assert!(s.check_flags().unwrap().is_empty());
    clock.set(NOW_MS + 7 * DAY + 1);
    let raised = s.check_flags().unwrap();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, flags::kind::NO_CHECKINS);
    assert!(raised[0].reason.contains("7 days"), "{}", raised[0].reason);
    clock.set(NOW_MS + 9 * DAY);
    assert!(s.check_flags().unwrap().is_empty(), "not again");
    // Back, then silent again: a new flag.
    clock.set(NOW_MS + 9 * DAY);
    s.log(entry("mood", Value::Scale(6.0), when(NOW_MS + 9 * DAY)))
        .unwrap();
    clock.set(NOW_MS + 17 * DAY);
    assert_eq!(s.check_flags().unwrap().len(), 1);
    // The clinic's number of days; 0 turns the rule off.
    s.set_flag_settings(FlagSettings { no_checkin_days: 0 })
        .unwrap();
    clock.set(NOW_MS + 40 * DAY);
    assert!(s.check_flags().unwrap().is_empty());
    assert!(
        s.set_flag_settings(FlagSettings {
            no_checkin_days: 400
        })
        .is_err()
    );
}

#[test]
fn a_sharp_fall_against_the_own_baseline_is_flagged_once() {
    let (_t, s, clock) = store_with_clock();
    // Four weeks around 7, then three days around 3.
    for d in 0..28 {
        let v = if d % 2 == 0 { 7.0 } else { 6.0 };
        clock.set(NOW_MS + d * DAY);
        s.log(entry("mood", Value::Scale(v), when(NOW_MS + d * DAY)))
            .unwrap();
    }
    clock.set(NOW_MS + 28 * DAY);
    assert!(s.check_flags().unwrap().is_empty(), "steady");
    for d in 28..31 {
        clock.set(NOW_MS + d * DAY);
        s.log(entry("mood", Value::Scale(3.0), when(NOW_MS + d * DAY)))
            .unwrap();
    }
    clock.set(NOW_MS + 30 * DAY + 3_600_000);
    let raised = s.check_flags().unwrap();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].kind, flags::kind::SHARP_FALL);
    assert!(
        raised[0]
            .reason
            .starts_with("Mood averaged 3.0 over the last 3 rated days"),
        "{}",
        raised[0].reason
    );
    assert!(s.check_flags().unwrap().is_empty(), "not while open");
    // A fall of less than 3 points is not flagged.
    let (_t2, s2, clock2) = store_with_clock();
    for d in 0..31 {
        clock2.set(NOW_MS + d * DAY);
        let v = if d < 28 { 6.0 } else { 4.0 };
        s2.log(entry("mood", Value::Scale(v), when(NOW_MS + d * DAY)))
            .unwrap();
    }
    clock2.set(NOW_MS + 30 * DAY + 3_600_000);
    assert!(s2.check_flags().unwrap().is_empty());
}

#[test]
fn every_flag_kind_has_a_reviewed_rule() {
    for k in [
        flags::kind::ITEM9,
        flags::kind::HELP_NOW,
        flags::kind::SHARP_FALL,
        flags::kind::NO_CHECKINS,
    ] {
        let r = flags::rule(k).unwrap();
        assert!(!r.title.is_empty() && !r.rule.is_empty() && !r.source.is_empty());
    }
}

fn phq9_with_total(total: u8) -> Vec<Option<u8>> {
    let mut left = total;
    (0..9)
        .map(|i| {
            // Item 9 stays 0, so that no flag muddles the course.
            let v = if i == 8 { 0 } else { left.min(3) };
            left -= v;
            Some(v)
        })
        .collect()
}

#[test]
fn a_course_aligns_scores_to_sessions_and_says_how_long_a_response_held() {
    let (_t, s, clock) = store_with_clock();
    let zone = "America/New_York";
    let at = |d: i64| when(NOW_MS + d * DAY);
    let checkin = |d: i64, total: u8| {
        clock.set(NOW_MS + d * DAY);
        s.checkin("phq9", phq9_with_total(total), at(d), zone)
            .unwrap();
    };
    // A baseline of 20 (an earlier 22 is not the baseline: the last before
    // the first session is), then four infusions over 12 days.
    checkin(-20, 22);
    checkin(-2, 20);
    for d in [0, 4, 8, 12] {
        clock.set(NOW_MS + d * DAY);
        s.record_event("infusion", at(d), zone).unwrap();
        // Mood 3 the week before each session, 6 the days after.
        for k in 1..=3 {
            s.log(entry("mood", Value::Scale(3.0), at(d - k))).unwrap();
        }
    }
    for d in [13, 14, 15] {
        clock.set(NOW_MS + d * DAY);
        s.log(entry("mood", Value::Scale(6.0), at(d))).unwrap();
    }
    checkin(6, 14);
    checkin(19, 9); // a response (a drop of at least 50% from 20)
    checkin(33, 4); // and a remission
    checkin(47, 12); // no longer a response
    let c = s.course(Some("infusion")).unwrap();
    assert_eq!(c.sessions.len(), 4);
    assert_eq!(c.sessions[3].number, 4);
    let phq9 = &c.changes[0];
    assert_eq!(phq9.questionnaire, "phq9");
    assert_eq!(phq9.baseline.total, 20);
    assert_eq!(phq9.latest.as_ref().unwrap().total, 12);
    assert_eq!(phq9.change, Some(-8));
    assert_eq!(phq9.response, Some(false));
    assert_eq!(phq9.remission, Some(false));
    assert_eq!(
        phq9.change_text.as_deref(),
        Some("improved by 8 points (at least 5)")
    );
    // Phases and days since the latest session.
    let phases: Vec<(Phase, Option<i64>)> = c
        .scores
        .iter()
        .map(|a| (a.phase, a.days_since_session))
        .collect();
    use cairn_core::treatment::Phase;
    assert_eq!(
        phases,
        vec![
            (Phase::Before, None),
            (Phase::Before, None),
            (Phase::During, Some(2)),
            (Phase::After, Some(7)),
            (Phase::After, Some(21)),
            (Phase::After, Some(35)),
        ]
    );
    // The response held from the last session to day 33: 21 days, and no
    // longer holds.
    let held = c.response_held.unwrap();
    assert_eq!((held.days, held.holding, held.scores_after), (21, false, 3));
    // Mood around the last session: 3 before, 6 after.
    let last = c
        .around_sessions
        .iter()
        .find(|a| a.session == 4 && a.tracker == "mood")
        .unwrap();
    assert_eq!(last.before, Some((3.0, 6)), "days 5-7 and 9-11");
    assert_eq!(last.after, Some((6.0, 3)));
    // Without sessions of that kind: the first score is the baseline.
    let none = s.course(Some("tms")).unwrap();
    assert!(none.sessions.is_empty());
    assert_eq!(none.changes[0].baseline.total, 22);
    assert!(none.response_held.is_none());
}

#[test]
fn the_post_session_routine_is_planned_once_and_follows_each_session() {
    let (_t, s) = new_store();
    let day = when(NOW_MS).date_naive();
    let n = s.add_post_session_routine("infusion", day).unwrap();
    assert_eq!(n as usize, treatment::POST_SESSION_ROUTINE.len());
    assert_eq!(s.add_post_session_routine("infusion", day).unwrap(), 0);
    let rules = s.reminders().unwrap().reminders;
    assert_eq!(rules.len(), n as usize);
    assert!(rules.iter().all(|r| matches!(
        &r.schedule,
        reminders::Schedule::AfterEvent { event, .. } if event == "infusion"
    )));
    assert!(s.add_post_session_routine("Bad Kind!", day).is_err());
}

#[test]
fn coping_plans_prompts_and_skills_practice() {
    let (t, s) = new_store();
    assert_eq!(s.coping_plan().unwrap(), support::CopingPlan::default());
    let plan = s
        .set_coping_plan(support::CopingPlan {
            steps: vec!["  Walk round the block ".into(), "Call Sam".into()],
            if_then: vec![support::IfThen {
                situation: "I wake at 3 am and can't sleep".into(),
                action: "I get up and read for 20 minutes".into(),
            }],
        })
        .unwrap();
    assert_eq!(plan.steps[0], "Walk round the block");
    assert_eq!(s.coping_plan().unwrap(), plan);
    // Bad items are refused and the plan stays as it was.
    for bad in [
        support::CopingPlan {
            steps: vec![" ".into()],
            if_then: vec![],
        },
        support::CopingPlan {
            steps: vec!["x".repeat(501)],
            if_then: vec![],
        },
        support::CopingPlan {
            steps: vec!["ok".into(); 21],
            if_then: vec![],
        },
    ] {
        assert!(matches!(
            s.set_coping_plan(bad),
            Err(Error::InvalidInput { .. })
        ));
    }
    assert_eq!(s.coping_plan().unwrap(), plan);
    // Sealed: the plan's words are not on disk.
    s.checkpoint().unwrap();
    for (_, bytes) in files_in(t.dir.path()) {
        assert!(!contains(&bytes, b"read for 20 minutes"));
    }
    // Prompts: after a session, the session ones and the general ones.
    let after = support::prompts(Some("after_session")).unwrap();
    assert!(after.iter().any(|p| p.when == "after_session"));
    assert!(
        after
            .iter()
            .all(|p| p.when == "after_session" || p.when == "any")
    );
    assert!(support::prompts(Some("never")).is_err());
    // Practice is an entry of the skill's tracker.
    let e = s
        .log_practice("Breathing", 5, when(NOW_MS), "Europe/London")
        .unwrap();
    assert_eq!(&*e.tracker, "breathing");
    assert_eq!(e.value, Value::Duration { minutes: 5 });
    assert!(s.log_practice("juggling", 5, when(NOW_MS), "UTC").is_err());
    assert!(s.log_practice("grounding", 0, when(NOW_MS), "UTC").is_err());
    assert!(
        s.log_practice("grounding", 121, when(NOW_MS), "UTC")
            .is_err()
    );
    for sk in support::SKILLS {
        assert!(sk.steps.len() >= 3 && !sk.source.is_empty());
    }
}
