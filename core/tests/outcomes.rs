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
