//! Clinic to device (issue 9, item 6): custom trackers, reminder plans,
//! treatment sessions and the safety plan set by the clinic reach the
//! patient's phones through sync, and edits on both sides merge field by
//! field (docs/sync-protocol.md §8). Real phones (`cairn_core::Store`) and
//! the real server (`handle`), on SQLite and on PostgreSQL.

mod common;

use cairn_clinic::handle;
use cairn_clinic::records::{self, write};
use cairn_core::reminders::{NewReminder, Schedule, Step};
use cairn_core::sync::device::{Category, SyncRequest};
use cairn_core::sync::lww;
use cairn_core::sync::messages::{RecordId, kind};
use cairn_core::{Key, NewTracker, SAFETY_PLAN_ID, SafetyPlan, Store, StoreOptions, TrackerKind};
use common::Clinic;
use serde_json::Value as Json;

const KEY: [u8; 32] = [9; 32];

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Clinic::new());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Clinic::postgres());
                }
            )*
        }
    };
}

on_both_backends!(
    what_the_clinic_sets_reaches_every_phone,
    edits_on_both_sides_merge_field_by_field,
    the_patients_own_records_reach_the_clinic_as_shared,
    edits_change_only_what_the_editor_changed,
);

fn phone(dir: &std::path::Path, name: &str) -> Store {
    Store::create(dir.join(name), Key::Raw(&KEY), StoreOptions::default()).unwrap()
}

fn sync(store: &Store, clinic: &Clinic, first: Option<SyncRequest>) {
    let mut next = first;
    for _ in 0..50 {
        let req = match next.take() {
            Some(r) => r,
            None => store.sync_prepare().unwrap().expect("enrolled"),
        };
        let reply = handle(&clinic.server, &req.body, cairn_clinic::now_ms()).unwrap();
        let outcome = store.sync_receive(&req.request_id, &reply).unwrap();
        assert_eq!(outcome.rejected, 0);
        if !outcome.more {
            return;
        }
    }
    panic!("sync did not settle");
}

fn enroll(store: &Store, clinic: &Clinic, patient: &str, cats: &[Category]) {
    let code = cairn_clinic::admin::enrollment_code(
        &clinic.server,
        patient,
        14,
        common::URL,
        cairn_clinic::now_ms(),
    )
    .unwrap();
    let req = store.sync_enroll(&code, cats).unwrap();
    sync(store, clinic, Some(req));
    sync(store, clinic, None);
}

fn held(clinic: &Clinic, patient: &str) -> Json {
    records::records_json(clinic.server.storage(), patient).unwrap()
}

fn now() -> u64 {
    cairn_clinic::now_ms()
}

fn custom_trackers(s: &Store) -> Vec<String> {
    s.trackers()
        .unwrap()
        .into_iter()
        .filter(|t| !t.builtin)
        .map(|t| t.name)
        .collect()
}

fn clinic_tracker(clinic: &Clinic, patient: &str, name: &str) -> RecordId {
    let id = records::new_id().unwrap();
    let t = cairn_core::Tracker {
        id: id.to_store(),
        name: name.into(),
        kind: TrackerKind::Scale {
            min: 0.0,
            max: 10.0,
            step: 1.0,
            min_label: "none".into(),
            max_label: "worst".into(),
        },
        builtin: false,
    };
    assert!(
        write(
            &clinic.server,
            patient,
            kind::TRACKER,
            &id,
            Some(lww::tracker_body(&t)),
            now()
        )
        .unwrap()
    );
    id
}

fn clinic_plan(clinic: &Clinic, patient: &str, plan: &SafetyPlan) -> bool {
    write(
        &clinic.server,
        patient,
        kind::SAFETY_PLAN,
        &RecordId::Text(SAFETY_PLAN_ID.into()),
        Some(lww::safety_plan_body(plan)),
        now(),
    )
    .unwrap()
}

fn clinic_plan_now(clinic: &Clinic, patient: &str) -> SafetyPlan {
    serde_json::from_value::<Json>(held(clinic, patient)["safety_plan"].clone())
        .ok()
        .and_then(|v| {
            let part = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(Into::into))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            (!v.is_null()).then(|| SafetyPlan {
                warning_signs: part("warning_signs"),
                coping_strategies: part("coping_strategies"),
                distractions: part("distractions"),
                people_to_ask: part("people_to_ask"),
                professionals: part("professionals"),
                safe_environment: part("safe_environment"),
                reasons_for_living: part("reasons_for_living"),
            })
        })
        .unwrap_or_default()
}

fn what_the_clinic_sets_reaches_every_phone(clinic: Clinic) {
    let tmp = tempfile::tempdir().unwrap();
    let a = phone(tmp.path(), "a.cairn");
    enroll(&a, &clinic, "Ann", &[Category::Ratings]);

    // The clinic sets a tracker, a post-infusion routine, a session and a
    // safety plan while the phone is offline.
    let tracker = clinic_tracker(&clinic, "Ann", "Dissociation");
    let routine = records::new_id().unwrap();
    let rule = cairn_core::reminders::Reminder {
        id: routine.to_store(),
        revision: 1,
        category: cairn_core::reminders::Category::PostSession,
        title: Some("Drink water".into()),
        schedule: Schedule::AfterEvent {
            event: "infusion".into(),
            steps: vec![
                Step::After { minutes: 120 },
                Step::DayAt {
                    day: 1,
                    time: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                },
            ],
        },
        ..NewReminderDefaults::rule()
    };
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &routine,
        Some(lww::reminder_body(&rule)),
        now(),
    )
    .unwrap();
    let session = records::new_id().unwrap();
    let at = chrono::Utc::now().timestamp_millis() - 3_600_000;
    write(
        &clinic.server,
        "Ann",
        kind::TREATMENT_SESSION,
        &session,
        Some(lww::session_body(&cairn_core::reminders::ReminderEvent {
            id: session.to_store(),
            kind: "infusion".into(),
            at_ms: at,
            zone: "Europe/Paris".into(),
        })),
        now(),
    )
    .unwrap();
    let plan = SafetyPlan {
        warning_signs: vec!["Not sleeping".into()],
        professionals: vec!["Clinic line 01 23 45 67 89".into()],
        ..SafetyPlan::default()
    };
    assert!(clinic_plan(&clinic, "Ann", &plan));
    assert!(
        !clinic_plan(&clinic, "Ann", &plan),
        "the same plan again changes nothing"
    );

    sync(&a, &clinic, None);
    assert_eq!(custom_trackers(&a), ["Dissociation"]);
    let rules = a.reminders().unwrap().reminders;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].id, routine.to_store());
    assert_eq!(rules[0].title.as_deref(), Some("Drink water"));
    let events = a.events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind.as_str(), events[0].at_ms), ("infusion", at));
    assert_eq!(a.safety_plan().unwrap(), plan);
    // The routine plans from the session: two hours after it, then 09:00
    // the next day.
    let planned = a
        .plan_reminders(
            chrono::Utc::now() - chrono::Duration::minutes(30),
            "Europe/Paris",
            &cairn_core::reminders::Limits::IOS,
            7,
        )
        .unwrap();
    assert!(
        planned
            .notifications
            .iter()
            .any(|n| n.reminder_id == routine.to_store()),
        "the post-infusion routine is planned"
    );

    // A second phone enrolled later gets all of it.
    let b = phone(tmp.path(), "b.cairn");
    enroll(&b, &clinic, "Ann", &[Category::Ratings]);
    assert_eq!(custom_trackers(&b), ["Dissociation"]);
    assert_eq!(b.reminders().unwrap().reminders.len(), 1);
    assert_eq!(b.safety_plan().unwrap(), plan);

    // The clinic pauses the routine and deletes the tracker: both phones
    // follow.
    let mut paused = rule.clone();
    paused.enabled = false;
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &routine,
        Some(lww::reminder_body(&paused)),
        now(),
    )
    .unwrap();
    assert!(write(&clinic.server, "Ann", kind::TRACKER, &tracker, None, now()).unwrap());
    assert!(
        held(&clinic, "Ann")["trackers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for s in [&a, &b] {
        sync(s, &clinic, None);
        assert!(custom_trackers(s).is_empty());
        assert!(!s.reminders().unwrap().reminders[0].enabled);
    }
    // Another patient sees none of it.
    let c = phone(tmp.path(), "c.cairn");
    enroll(&c, &clinic, "Bob", &[Category::Ratings]);
    assert!(c.reminders().unwrap().reminders.is_empty());
    assert!(c.safety_plan().unwrap().is_empty());
    assert!(c.events().unwrap().is_empty());
}

/// Reminder defaults for building a rule by hand.
struct NewReminderDefaults;

impl NewReminderDefaults {
    fn rule() -> cairn_core::reminders::Reminder {
        let n = NewReminder::new(
            cairn_core::reminders::Category::CheckIn,
            Schedule::Daily {
                times: vec![chrono::NaiveTime::from_hms_opt(20, 0, 0).unwrap()],
            },
            chrono::Utc::now().date_naive(),
        );
        cairn_core::reminders::Reminder {
            id: String::new(),
            revision: 1,
            category: n.category,
            title: n.title,
            schedule: n.schedule,
            zone: n.zone,
            start: n.start,
            end: n.end,
            count: n.count,
            quiet: n.quiet,
            grace_minutes: n.grace_minutes,
            show_title: n.show_title,
            enabled: n.enabled,
            seed: 7,
        }
    }
}

fn edits_on_both_sides_merge_field_by_field(clinic: Clinic) {
    let tmp = tempfile::tempdir().unwrap();
    let a = phone(tmp.path(), "a.cairn");
    let b = phone(tmp.path(), "b.cairn");
    enroll(
        &a,
        &clinic,
        "Ann",
        &[Category::SafetyPlan, Category::Reminders],
    );
    enroll(
        &b,
        &clinic,
        "Ann",
        &[Category::SafetyPlan, Category::Reminders],
    );

    let base = SafetyPlan {
        warning_signs: vec!["Not sleeping".into()],
        coping_strategies: vec!["Walk".into()],
        people_to_ask: vec!["Sam".into()],
        ..SafetyPlan::default()
    };
    clinic_plan(&clinic, "Ann", &base);
    sync(&a, &clinic, None);
    sync(&b, &clinic, None);
    assert_eq!(a.safety_plan().unwrap(), base);

    // Offline: phone A changes the coping part, phone B the reasons for
    // living, the clinic the people to ask. Nobody's edit is lost.
    let mut on_a = a.safety_plan().unwrap();
    on_a.coping_strategies.push("Breathing 4-7-8".into());
    a.set_safety_plan(on_a).unwrap();
    let mut on_b = b.safety_plan().unwrap();
    on_b.reasons_for_living = vec!["My daughter".into()];
    b.set_safety_plan(on_b).unwrap();
    let mut at_clinic = clinic_plan_now(&clinic, "Ann");
    at_clinic.people_to_ask.push("Crisis team".into());
    clinic_plan(&clinic, "Ann", &at_clinic);

    for _ in 0..2 {
        sync(&a, &clinic, None);
        sync(&b, &clinic, None);
    }
    let want = SafetyPlan {
        warning_signs: vec!["Not sleeping".into()],
        coping_strategies: vec!["Walk".into(), "Breathing 4-7-8".into()],
        people_to_ask: vec!["Sam".into(), "Crisis team".into()],
        reasons_for_living: vec!["My daughter".into()],
        ..SafetyPlan::default()
    };
    assert_eq!(a.safety_plan().unwrap(), want);
    assert_eq!(b.safety_plan().unwrap(), want);
    assert_eq!(clinic_plan_now(&clinic, "Ann"), want);

    // The same part edited on both phones: one version wins, the same
    // everywhere.
    let mut x = a.safety_plan().unwrap();
    x.warning_signs = vec!["Skipping meals".into()];
    a.set_safety_plan(x).unwrap();
    let mut y = b.safety_plan().unwrap();
    y.warning_signs = vec!["Staying in bed".into()];
    b.set_safety_plan(y).unwrap();
    for _ in 0..2 {
        sync(&b, &clinic, None);
        sync(&a, &clinic, None);
    }
    let pa = a.safety_plan().unwrap();
    assert_eq!(pa, b.safety_plan().unwrap());
    assert_eq!(pa, clinic_plan_now(&clinic, "Ann"));
    assert!(
        pa.warning_signs == ["Staying in bed"] || pa.warning_signs == ["Skipping meals"],
        "{pa:?}"
    );

    // A reminder plan the clinic set: the patient renames it while the
    // clinic pauses it; both edits hold.
    let id = records::new_id().unwrap();
    let rule = cairn_core::reminders::Reminder {
        id: id.to_store(),
        ..NewReminderDefaults::rule()
    };
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &id,
        Some(lww::reminder_body(&rule)),
        now(),
    )
    .unwrap();
    sync(&a, &clinic, None);
    let r = a.reminder(&id.to_store()).unwrap();
    let mut mine = NewReminder::new(r.category, r.schedule.clone(), r.start);
    mine.title = Some("Evening check-in".into());
    a.update_reminder(&id.to_store(), mine).unwrap();
    let mut paused = rule.clone();
    paused.enabled = false;
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &id,
        Some(lww::reminder_body(&paused)),
        now(),
    )
    .unwrap();
    sync(&a, &clinic, None);
    sync(&b, &clinic, None);
    for s in [&a, &b] {
        let r = s.reminder(&id.to_store()).unwrap();
        assert_eq!(r.title.as_deref(), Some("Evening check-in"));
        assert!(!r.enabled);
    }
    let held = held(&clinic, "Ann");
    let r = &held["reminders"][0];
    assert_eq!(r["title"], "Evening check-in");
    assert_eq!(r["enabled"], false);
}

fn the_patients_own_records_reach_the_clinic_as_shared(clinic: Clinic) {
    let tmp = tempfile::tempdir().unwrap();
    let a = phone(tmp.path(), "a.cairn");
    // Made before enrolling.
    a.add_tracker(NewTracker {
        name: "Hours outside".into(),
        kind: TrackerKind::Duration { max_minutes: 720 },
    })
    .unwrap();
    a.set_safety_plan(SafetyPlan {
        reasons_for_living: vec!["The sea".into()],
        ..SafetyPlan::default()
    })
    .unwrap();
    enroll(&a, &clinic, "Ann", &[Category::Ratings]);
    let h = held(&clinic, "Ann");
    assert_eq!(h["trackers"][0]["name"], "Hours outside");
    assert!(h["safety_plan"].is_null(), "the safety plan is not shared");

    a.sync_set_sharing(Category::SafetyPlan, true).unwrap();
    sync(&a, &clinic, None);
    let h = held(&clinic, "Ann");
    assert_eq!(h["safety_plan"]["reasons_for_living"][0], "The sea");

    // A patient's session reaches the clinic when treatment is shared.
    a.record_event("infusion", chrono::Utc::now(), "Europe/Paris")
        .unwrap();
    sync(&a, &clinic, None);
    assert!(
        held(&clinic, "Ann")["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    a.sync_set_sharing(Category::Treatment, true).unwrap();
    sync(&a, &clinic, None);
    assert_eq!(held(&clinic, "Ann")["sessions"][0]["kind"], "infusion");
}

fn reminder_now(clinic: &Clinic, patient: &str, id: &RecordId) -> Json {
    held(clinic, patient)["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.to_store().as_str())
        .cloned()
        .unwrap_or(Json::Null)
}

fn edits_change_only_what_the_editor_changed(clinic: Clinic) {
    let tmp = tempfile::tempdir().unwrap();
    let a = phone(tmp.path(), "a.cairn");
    let b = phone(tmp.path(), "b.cairn");
    enroll(
        &a,
        &clinic,
        "Ann",
        &[Category::Reminders, Category::SafetyPlan],
    );
    enroll(
        &b,
        &clinic,
        "Ann",
        &[Category::Reminders, Category::SafetyPlan],
    );

    // A rule written by another server in a non-canonical form (times out
    // of order).
    let id = records::new_id().unwrap();
    let mut rule = cairn_core::reminders::Reminder {
        id: id.to_store(),
        ..NewReminderDefaults::rule()
    };
    rule.schedule = Schedule::Daily {
        times: vec![
            chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        ],
    };
    let body = lww::reminder_body(&rule);
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &id,
        Some(body),
        now(),
    )
    .unwrap();
    sync(&a, &clinic, None);
    sync(&b, &clinic, None);

    // Offline: phone A pauses it; the clinic moves its times.
    let r = a.reminder(&id.to_store()).unwrap();
    let mut paused = NewReminder::new(r.category, r.schedule.clone(), r.start);
    paused.enabled = false;
    a.update_reminder(&id.to_store(), paused).unwrap();
    let held_body = records::find(clinic.server.storage(), "Ann", kind::REMINDER, &id)
        .unwrap()
        .unwrap()
        .body()
        .unwrap();
    let mut moved = lww::reminder_from(&id.to_store(), 1, &held_body).unwrap();
    moved.schedule = Schedule::Daily {
        times: vec![chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap()],
    };
    // The whole rule with new times: only the schedule differs from what
    // the clinic holds, so only it is stamped.
    let moved_body = lww::reminder_body(&moved);
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &id,
        Some(moved_body),
        now(),
    )
    .unwrap();
    for _ in 0..2 {
        sync(&a, &clinic, None);
        sync(&b, &clinic, None);
    }
    for s in [&a, &b] {
        let r = s.reminder(&id.to_store()).unwrap();
        assert!(!r.enabled, "the phone's pause holds");
        assert_eq!(
            r.schedule,
            Schedule::Daily {
                times: vec![chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap()]
            },
            "the clinic's times hold: the pause did not send the times again"
        );
    }
    let at_clinic = records::find(clinic.server.storage(), "Ann", kind::REMINDER, &id)
        .unwrap()
        .unwrap();

    // Start and end edited apart so that together they are not a valid
    // rule: every replica shows the same rule (the latest edit's).
    let mut ends = lww::reminder_from(&id.to_store(), 1, &at_clinic.body().unwrap()).unwrap();
    ends.end = Some(ends.start + chrono::Duration::days(10));
    write(
        &clinic.server,
        "Ann",
        kind::REMINDER,
        &id,
        Some(lww::reminder_body(&ends)),
        now(),
    )
    .unwrap();
    let r = b.reminder(&id.to_store()).unwrap();
    let mut later = NewReminder::new(
        r.category,
        r.schedule.clone(),
        r.start + chrono::Duration::days(30),
    );
    later.enabled = r.enabled;
    b.update_reminder(&id.to_store(), later).unwrap();
    for _ in 0..2 {
        sync(&a, &clinic, None);
        sync(&b, &clinic, None);
    }
    let ra = a.reminder(&id.to_store()).unwrap();
    let rb = b.reminder(&id.to_store()).unwrap();
    assert_eq!((ra.start, ra.end), (rb.start, rb.end));
    let shown = reminder_now(&clinic, "Ann", &id);
    assert_eq!(shown["start"], json_date(ra.start), "{shown}");

    // Withdrawn, then enrolled again with the same clinic: what the clinic
    // changed meanwhile wins over the phone's older copy.
    let plan = SafetyPlan {
        warning_signs: vec!["old".into()],
        ..SafetyPlan::default()
    };
    clinic_plan(&clinic, "Ann", &plan);
    sync(&a, &clinic, None);
    let w = a.sync_withdraw().unwrap();
    let reply = handle(&clinic.server, &w.body, now()).unwrap();
    a.sync_receive(&w.request_id, &reply).unwrap();
    let newer = SafetyPlan {
        warning_signs: vec!["new".into()],
        ..SafetyPlan::default()
    };
    clinic_plan(&clinic, "Ann", &newer);
    enroll(&a, &clinic, "Ann", &[Category::SafetyPlan]);
    sync(&a, &clinic, None);
    assert_eq!(a.safety_plan().unwrap().warning_signs, ["new"]);
    assert_eq!(clinic_plan_now(&clinic, "Ann").warning_signs, ["new"]);
}

fn json_date(d: chrono::NaiveDate) -> Json {
    serde_json::to_value(d).unwrap()
}
