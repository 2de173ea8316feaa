//! Rollback and replay against every sealed table, as an attacker with the
//! file but not the key would try them: an older body under the current
//! revision, an undone tombstone, a row moved into another store opened
//! with the same key, `revision` or `deleted` edited alone. Each must read
//! as `Corrupted` for exactly that record, with everything else readable.
//! Also: damage confined in the reminder tables (the plan keeps every good
//! rule), and a flipped key id told apart from a wrong key.
mod common;
use cairn_core::reminders::*;
use cairn_core::*;
use chrono::{NaiveDate, NaiveTime};
use common::*;
use rusqlite::OptionalExtension;
use rusqlite::types::Value as Sql;
use std::path::Path;

/// The plaintext columns of one row and its sealed body.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    day: Option<i64>,
    revision: i64,
    deleted: bool,
    body: Vec<u8>,
}

fn has_day(table: &str) -> bool {
    matches!(table, "entries" | "reminder_log")
}

fn get_row(path: &Path, table: &str, id: &str) -> Row {
    let day = if has_day(table) { "day" } else { "NULL" };
    raw(path)
        .query_row(
            &format!("SELECT {day}, revision, deleted, body FROM {table} WHERE id = ?1"),
            [id],
            |r| {
                Ok(Row {
                    day: r.get(0)?,
                    revision: r.get(1)?,
                    deleted: r.get(2)?,
                    body: r.get(3)?,
                })
            },
        )
        .unwrap()
}

/// Writes `row` over (or as) the record `id`, as a file editor would.
fn put_row(path: &Path, table: &str, id: &str, row: &Row) {
    let conn = raw(path);
    let exists: Option<i64> = conn
        .query_row(&format!("SELECT 1 FROM {table} WHERE id = ?1"), [id], |r| {
            r.get(0)
        })
        .optional()
        .unwrap();
    let (day_col, day_set, day_arg) = if has_day(table) {
        (", day", ", day = ?5", ", ?5")
    } else {
        ("", "", "")
    };
    let sql = match exists {
        None => format!(
            "INSERT INTO {table}(id, revision, deleted, body{day_col}) VALUES (?1, ?2, ?3, ?4{day_arg})"
        ),
        Some(_) => format!(
            "UPDATE {table} SET revision = ?2, deleted = ?3, body = ?4{day_set} WHERE id = ?1"
        ),
    };
    let mut args: Vec<Sql> = vec![
        id.to_owned().into(),
        row.revision.into(),
        i64::from(row.deleted).into(),
        row.body.clone().into(),
    ];
    if has_day(table) {
        args.push(row.day.into());
    }
    conn.execute(&sql, rusqlite::params_from_iter(args))
        .unwrap();
}

/// How one table's records are made, changed, deleted and read back.
struct Case {
    table: &'static str,
    /// Makes a record; returns its id.
    make: fn(&Store, u32) -> String,
    /// Changes it (a new revision), if the table has edits.
    edit: Option<fn(&Store, &str)>,
    /// Deletes it, if the table has deletes.
    delete: Option<fn(&Store, &str)>,
    /// Reads it: `Ok` if it reads, the error if not.
    read: fn(&Store, &str) -> Result<()>,
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(NOW_MS).unwrap()
}

fn rule(n: u32) -> NewReminder {
    let mut r = NewReminder::new(
        Category::Medication,
        Schedule::Daily {
            times: vec![NaiveTime::from_hms_opt(8 + n % 12, 0, 0).unwrap()],
        },
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    );
    r.title = Some(format!("rule {n}"));
    r
}

/// Reads `id` from a plan's (or adherence's) corrupted list.
fn damaged_in(corrupted: &[RecordRef], table: &str, id: &str) -> Result<()> {
    match corrupted.iter().find(|r| r.id == id) {
        Some(r) => {
            assert_eq!(r.table, table);
            Err(Error::Corrupted { record: r.clone() })
        }
        None => Ok(()),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            table: "entries",
            make: |s, n| {
                s.log(entry(
                    "mood",
                    Value::Scale(f64::from(n % 10)),
                    at(2026, 11, 20, 9, n % 60),
                ))
                .unwrap()
                .id
            },
            edit: Some(|s, id| {
                s.update_entry(id, entry("mood", Value::Scale(1.0), at(2026, 11, 21, 9, 0)))
                    .unwrap();
            }),
            delete: Some(|s, id| s.delete_entry(id).unwrap()),
            read: |s, id| s.entry(id).map(drop),
        },
        Case {
            table: "trackers",
            make: |s, n| {
                s.add_tracker(NewTracker {
                    name: format!("Tracker {n}"),
                    kind: TrackerKind::Count,
                })
                .unwrap()
                .id
            },
            edit: None,
            delete: Some(|s, id| s.delete_tracker(id).unwrap()),
            read: |s, id| s.tracker(id).map(drop),
        },
        Case {
            table: "reminders",
            make: |s, n| s.add_reminder(rule(n)).unwrap().id,
            edit: Some(|s, id| {
                s.update_reminder(id, rule(7)).unwrap();
            }),
            delete: Some(|s, id| s.delete_reminder(id).unwrap()),
            read: |s, id| {
                let listed = s.reminders().unwrap();
                let single = s.reminder(id).map(drop);
                assert_eq!(
                    single.is_ok(),
                    listed.reminders.iter().any(|r| r.id == id),
                    "the list and the single read agree"
                );
                if single.is_err() {
                    damaged_in(&listed.corrupted, "reminders", id)?;
                }
                single
            },
        },
        Case {
            table: "reminder_events",
            make: |s, n| {
                s.record_event("infusion", at(2026, 11, 20, 15, n % 60), "UTC")
                    .unwrap()
                    .id
            },
            edit: None,
            delete: None,
            read: |s, id| {
                let plan = s.plan_reminders(now(), "UTC", &Limits::IOS, 2).unwrap();
                damaged_in(&plan.corrupted, "reminder_events", id)?;
                assert!(s.events().unwrap().iter().any(|e| e.id == id));
                Ok(())
            },
        },
        Case {
            table: "reminder_log",
            make: |s, n| {
                // One report per make: a rule of its own, its first occurrence.
                let r = s.add_reminder(rule(n)).unwrap();
                let o = s
                    .occurrences(at(2026, 11, 20, 0, 0), at(2026, 11, 21, 0, 0), "UTC")
                    .unwrap()
                    .into_iter()
                    .find(|o| o.reminder_id == r.id)
                    .unwrap();
                s.report_reminder(
                    &o.key,
                    o.fire_ms,
                    ReminderReport::Shown { at_ms: o.fire_ms },
                )
                .unwrap();
                raw_log_id(s, &o.key)
            },
            edit: Some(|s, id| {
                let (key, due) = log_key(s, id);
                s.report_reminder(&key, due, ReminderReport::Done { at_ms: due + 1 })
                    .unwrap();
            }),
            delete: None,
            read: |s, id| {
                let report = s
                    .adherence(at(2026, 11, 1, 0, 0), at(2026, 11, 27, 0, 0), now(), "UTC")
                    .unwrap();
                damaged_in(&report.corrupted, "reminder_log", id)
            },
        },
        Case {
            table: "settings",
            make: |s, n| {
                s.set_quiet_hours(Some(QuietHours {
                    start: NaiveTime::from_hms_opt(22, n % 60, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                }))
                .unwrap();
                "quiet_hours".into()
            },
            edit: Some(|s, _| s.set_quiet_hours(None).unwrap()),
            delete: None,
            read: |s, _| s.quiet_hours().map(drop),
        },
    ]
}

/// The id of the occurrence report for `key` (ids of reports are random;
/// the test finds it by the one row that changed).
fn raw_log_id(s: &Store, _key: &str) -> String {
    raw(s.path())
        .query_row(
            "SELECT id FROM reminder_log ORDER BY rowid DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// The occurrence key and due time of the report `id`, from the plan's view
/// of the rule it belongs to (the only rule whose report row is `id`).
fn log_key(s: &Store, id: &str) -> (String, i64) {
    let rowid: i64 = raw(s.path())
        .query_row("SELECT rowid FROM reminder_log WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    // Rules and reports are made in step: the n-th report is the n-th rule's.
    let rules = s.reminders().unwrap().reminders;
    let r = &rules[(rowid - 1) as usize];
    let o = s
        .occurrences(at(2026, 11, 20, 0, 0), at(2026, 11, 21, 0, 0), "UTC")
        .unwrap()
        .into_iter()
        .find(|o| o.reminder_id == r.id)
        .unwrap();
    (o.key, o.fire_ms)
}

fn assert_corrupted(c: &Case, s: &Store, id: &str, attack: &str) {
    match (c.read)(s, id) {
        Err(Error::Corrupted { record }) => {
            assert_eq!(
                (record.table.as_str(), record.id.as_str()),
                (c.table, id),
                "{attack}"
            )
        }
        other => panic!("{}: {attack}: expected Corrupted, got {other:?}", c.table),
    }
}

#[test]
fn rollback_and_replay_are_corruption_of_exactly_that_record_in_every_sealed_table() {
    for c in cases() {
        let (t, s) = new_store();
        let id = (c.make)(&s, 1);
        let first = get_row(&t.path, c.table, &id);
        // A second record that must stay readable whatever happens to the first.
        let other = (c.make)(&s, 2);
        if c.table == "settings" {
            // One row only: the bystander is an entry.
            let e = s
                .log(entry("mood", Value::Scale(5.0), at(2026, 11, 20, 9, 0)))
                .unwrap();
            assert_eq!(s.entry(&e.id).unwrap().id, e.id);
        }
        let bystander_ok = |s: &Store| {
            if c.table != "settings" {
                (c.read)(s, &other).unwrap_or_else(|e| panic!("{}: bystander: {e:?}", c.table));
            }
        };
        if let Some(edit) = c.edit {
            edit(&s, &id);
        }
        let current = get_row(&t.path, c.table, &id);
        (c.read)(&s, &id).unwrap();

        // The revision edited alone, up and down.
        for rev in [current.revision + 1, current.revision + 7] {
            put_row(
                &t.path,
                c.table,
                &id,
                &Row {
                    revision: rev,
                    ..current.clone()
                },
            );
            assert_corrupted(&c, &s, &id, "revision edited");
            bystander_ok(&s);
        }
        put_row(&t.path, c.table, &id, &current);
        // The deleted flag set alone (and the day cleared, as the schema asks).
        // Occurrence reports are only ever read by day, and a flagged row
        // leaves the day index: to the reader it is a removed row, which no
        // per-record binding can see (docs/security.md). Sync verifies it.
        if c.table != "reminder_log" {
            put_row(
                &t.path,
                c.table,
                &id,
                &Row {
                    deleted: true,
                    day: None,
                    ..current.clone()
                },
            );
            assert_corrupted(&c, &s, &id, "deleted set without the key");
            bystander_ok(&s);
            put_row(&t.path, c.table, &id, &current);
        }
        (c.read)(&s, &id).unwrap();

        if c.edit.is_some() {
            // An older body under the current revision.
            put_row(
                &t.path,
                c.table,
                &id,
                &Row {
                    revision: current.revision,
                    ..first.clone()
                },
            );
            assert_corrupted(&c, &s, &id, "older body under the current revision");
            bystander_ok(&s);
            put_row(&t.path, c.table, &id, &current);
        }

        // The row copied into another store opened with the same key.
        let other_dir = tempfile::tempdir().unwrap();
        let other_path = other_dir.path().join("other.cairn");
        let s2 = Store::create(&other_path, Key::Raw(&KEY), opts()).unwrap();
        put_row(&other_path, c.table, &id, &current);
        assert_corrupted(&c, &s2, &id, "row moved into another store");
        drop(s2);

        if let Some(delete) = c.delete {
            delete(&s, &id);
            let tomb = get_row(&t.path, c.table, &id);
            assert!(tomb.deleted);
            // Undone: the last live body restored, the flag cleared.
            put_row(
                &t.path,
                c.table,
                &id,
                &Row {
                    revision: tomb.revision,
                    deleted: false,
                    ..current.clone()
                },
            );
            assert_corrupted(&c, &s, &id, "tombstone undone");
            // Undone by clearing the flag on the tombstone itself.
            put_row(
                &t.path,
                c.table,
                &id,
                &Row {
                    deleted: false,
                    day: current.day,
                    ..tomb.clone()
                },
            );
            assert_corrupted(&c, &s, &id, "tombstone flag cleared");
            bystander_ok(&s);
            put_row(&t.path, c.table, &id, &tomb);
            if c.table != "reminders" {
                assert!(
                    (c.read)(&s, &id).is_err_and(|e| !matches!(e, Error::Corrupted { .. })),
                    "{}: a genuine tombstone reads as gone",
                    c.table
                );
            }
        }
        assert!(s.integrity_check().unwrap());
    }
}

/// What per-record binding cannot see, stated as a test so that a change in
/// it is noticed: a whole row put back to an older revision together with
/// its body and day reads as that older version. Sync catches it (the
/// clinic holds the higher revision); docs/security.md says so.
#[test]
fn a_whole_row_restored_to_an_older_revision_reads_as_that_revision() {
    let (t, s) = new_store();
    let e = s
        .log(entry("mood", Value::Scale(3.0), at(2026, 11, 20, 9, 0)))
        .unwrap();
    let old = get_row(&t.path, "entries", &e.id);
    s.update_entry(
        &e.id,
        entry("mood", Value::Scale(8.0), at(2026, 11, 20, 9, 0)),
    )
    .unwrap();
    put_row(&t.path, "entries", &e.id, &old);
    let back = s.entry(&e.id).unwrap();
    assert_eq!((back.revision, back.value), (1, Value::Scale(3.0)));
}

#[test]
fn one_damaged_row_in_each_reminder_table_leaves_every_good_rule_planned() {
    let (t, s) = new_store();
    let rules: Vec<Reminder> = (0..3).map(|n| s.add_reminder(rule(n)).unwrap()).collect();
    let mut after = NewReminder::new(
        Category::PostSession,
        Schedule::AfterEvent {
            event: "infusion".into(),
            steps: vec![Step::After { minutes: 60 * 30 }],
        },
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    );
    after.title = None;
    let after = s.add_reminder(after).unwrap();
    let event = s
        .record_event("infusion", at(2026, 11, 27, 11, 0), "UTC")
        .unwrap();
    s.set_quiet_hours(Some(QuietHours {
        start: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
    }))
    .unwrap();
    let o = s
        .occurrences(at(2026, 11, 26, 0, 0), at(2026, 11, 27, 0, 0), "UTC")
        .unwrap()
        .into_iter()
        .find(|o| o.reminder_id == rules[0].id)
        .unwrap();
    s.report_reminder(
        &o.key,
        o.fire_ms,
        ReminderReport::Shown { at_ms: o.fire_ms },
    )
    .unwrap();
    let log_id: String = raw(&t.path)
        .query_row("SELECT id FROM reminder_log", [], |r| r.get(0))
        .unwrap();
    let planned_rules = |plan: &ReminderPlan| {
        let mut ids: Vec<String> = plan
            .notifications
            .iter()
            .map(|n| n.reminder_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let baseline = s.plan_reminders(now(), "UTC", &Limits::IOS, 3).unwrap();
    assert!(baseline.corrupted.is_empty());
    let mut everyone: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
    everyone.push(after.id.clone());
    everyone.sort();
    assert_eq!(planned_rules(&baseline), everyone);

    let damage = |table: &str, id: &str| {
        let row = get_row(&t.path, table, id);
        let mut bad = row.clone();
        let last = bad.body.len() - 1;
        bad.body[last] ^= 0x40;
        put_row(&t.path, table, id, &bad);
        row
    };
    for (table, id, expect_missing) in [
        ("reminders", rules[1].id.clone(), Some(rules[1].id.clone())),
        ("reminder_events", event.id.clone(), Some(after.id.clone())),
        ("reminder_log", log_id.clone(), None),
        ("settings", "quiet_hours".to_owned(), None),
    ] {
        let good = damage(table, &id);
        let plan = s.plan_reminders(now(), "UTC", &Limits::IOS, 3).unwrap();
        assert_eq!(
            plan.corrupted,
            vec![RecordRef {
                table: table.into(),
                id: id.clone()
            }],
            "{table}"
        );
        let expected: Vec<String> = everyone
            .iter()
            .filter(|r| Some(*r) != expect_missing.as_ref())
            .cloned()
            .collect();
        assert_eq!(
            planned_rules(&plan),
            expected,
            "{table}: every good rule is planned"
        );
        // The rule list and adherence go on too, and say what they skipped.
        let list = s.reminders().unwrap();
        assert_eq!(
            list.reminders.len(),
            if table == "reminders" { 3 } else { 4 },
            "{table}"
        );
        let adherence = s
            .adherence(at(2026, 11, 20, 0, 0), at(2026, 11, 27, 0, 0), now(), "UTC")
            .unwrap();
        assert_eq!(adherence.by_rule.len(), list.reminders.len(), "{table}");
        if table != "settings" {
            assert!(!adherence.corrupted.is_empty(), "{table}");
        }
        put_row(&t.path, table, &id, &good);
        let healed = s.plan_reminders(now(), "UTC", &Limits::IOS, 3).unwrap();
        assert_eq!(
            healed, baseline,
            "{table}: repaired, the plan is whole again"
        );
    }
}

#[test]
fn a_flipped_key_id_is_corruption_not_a_wrong_key() {
    let (t, s) = new_store();
    let e = s
        .log(entry("mood", Value::Scale(6.0), at(2026, 11, 20, 9, 0)))
        .unwrap();
    let conn = raw(&t.path);
    let id: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE name = 'key_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut flipped = id.clone();
    flipped[3] ^= 0x01;
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'key_id'",
        [&flipped],
    )
    .unwrap();
    // An open handle notices on its next call...
    match s.entry(&e.id) {
        Err(Error::Corrupted { record }) => assert_eq!(record.id, "key_id"),
        other => panic!("{other:?}"),
    }
    drop(s);
    // ...and so does a new open with the right key; the wrong key is still
    // just a wrong key.
    match Store::open(&t.path, Key::Raw(&KEY), opts()) {
        Err(Error::Corrupted { record }) => assert_eq!(record.id, "key_id"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Store::open(&t.path, Key::Raw(&OTHER_KEY), opts()),
        Err(Error::WrongKey)
    ));
    conn.execute("UPDATE meta SET value = ?1 WHERE name = 'key_id'", [&id])
        .unwrap();
    let s = Store::open(&t.path, Key::Raw(&KEY), opts()).unwrap();
    assert_eq!(s.entry(&e.id).unwrap().id, e.id);
}

#[test]
fn a_damaged_record_can_be_deleted_or_rewritten_and_the_damage_report_clears() {
    let (t, s) = new_store();
    let a = s
        .log(entry("mood", Value::Scale(3.0), at(2026, 11, 20, 9, 0)))
        .unwrap();
    let b = s
        .log(entry("mood", Value::Scale(4.0), at(2026, 11, 20, 10, 0)))
        .unwrap();
    let r = s.add_reminder(rule(1)).unwrap();
    s.set_quiet_hours(Some(QuietHours {
        start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    }))
    .unwrap();
    // One body flipped, one tombstone flag set without the key, one rule
    // and the quiet hours flagged likewise.
    let mut row = get_row(&t.path, "entries", &a.id);
    let last = row.body.len() - 1;
    row.body[last] ^= 1;
    put_row(&t.path, "entries", &a.id, &row);
    let flag = |table: &str, id: &str| {
        let row = get_row(&t.path, table, id);
        put_row(
            &t.path,
            table,
            id,
            &Row {
                deleted: true,
                day: None,
                ..row
            },
        );
    };
    flag("entries", &b.id);
    flag("reminders", &r.id);
    flag("settings", "quiet_hours");
    for id in [&a.id, &b.id] {
        assert!(matches!(s.entry(id), Err(Error::Corrupted { .. })));
        s.delete_entry(id).unwrap();
        assert!(matches!(s.entry(id), Err(Error::NotFound { .. })));
        assert!(matches!(s.delete_entry(id), Err(Error::NotFound { .. })));
    }
    assert!(!s.reminders().unwrap().corrupted.is_empty());
    s.delete_reminder(&r.id).unwrap();
    assert!(s.reminders().unwrap().corrupted.is_empty());
    // Setting the quiet hours again makes the setting live and whole.
    assert!(matches!(s.quiet_hours(), Err(Error::Corrupted { .. })));
    let q = QuietHours {
        start: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
    };
    s.set_quiet_hours(Some(q)).unwrap();
    assert_eq!(s.quiet_hours().unwrap(), Some(q));
    let plan = s.plan_reminders(now(), "UTC", &Limits::IOS, 2).unwrap();
    assert!(plan.corrupted.is_empty());
    assert!(s.integrity_check().unwrap());
}
