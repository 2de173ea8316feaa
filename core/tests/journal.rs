//! Logging, validation, local days, paging, edits and deletes.
mod common;
use cairn_core::*;
use common::*;

#[test]
fn bad_input_gets_a_typed_error_and_nothing_is_written() {
    let (_t, s) = new_store();
    let when = at(2026, 11, 20, 9, 0);
    let field = |r: Result<Entry>| match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    assert_eq!(
        field(s.log(entry("mood", Value::Scale(11.0), when))),
        "value"
    );
    assert_eq!(
        field(s.log(entry("mood", Value::Scale(-1.0), when))),
        "value"
    );
    assert_eq!(
        field(s.log(entry("mood", Value::Scale(f64::NAN), when))),
        "value"
    );
    assert_eq!(
        field(s.log(entry("mood", Value::Scale(f64::INFINITY), when))),
        "value"
    );
    assert_eq!(
        field(s.log(entry("mood", Value::Scale(5.5), when))),
        "value"
    );
    assert_eq!(
        field(s.log(entry("mood", Value::YesNo(true), when))),
        "value"
    );
    assert_eq!(
        field(s.log(entry(
            "sleep",
            Value::Sleep {
                minutes: 1441,
                quality: None
            },
            when
        ))),
        "value"
    );
    assert_eq!(
        field(s.log(entry(
            "sleep",
            Value::Sleep {
                minutes: 400,
                quality: Some(11)
            },
            when
        ))),
        "quality"
    );
    assert_eq!(
        field(s.log(entry("journal", Value::Text("   ".into()), when))),
        "value"
    );
    let mut big = entry("mood", Value::Scale(5.0), when);
    big.note = Some("x".repeat(1024 * 1024));
    assert_eq!(field(s.log(big)), "note");
    let mut tags = entry("mood", Value::Scale(5.0), when);
    tags.tags = (0..40)
        .map(|i| Tag::parse(&format!("t{i}")).unwrap())
        .collect();
    assert_eq!(field(s.log(tags)), "tags");
    assert!(Tag::parse("trigger:   ").is_err());
    assert!(Tag::parse(&"x".repeat(65)).is_err());
    let future = entry("mood", Value::Scale(5.0), at(2026, 11, 29, 0, 0));
    assert_eq!(field(s.log(future)), "at");
    let ancient = entry("mood", Value::Scale(5.0), at(1969, 12, 31, 0, 0));
    assert_eq!(field(s.log(ancient)), "at");
    assert!(matches!(
        s.log(entry("moood", Value::Scale(5.0), when)),
        Err(Error::UnknownTracker)
    ));
    for zone in [
        "Mars/Base",
        "",
        "../../etc/passwd",
        "Europe",
        "EST5EDT,M3.2.0,M11.1.0",
    ] {
        let mut n = entry("mood", Value::Scale(5.0), when);
        n.zone = zone.into();
        assert!(matches!(s.log(n), Err(Error::UnknownZone)), "{zone:?}");
    }
    assert_eq!(s.pending_changes().unwrap(), 0);
    assert!(
        s.entries(&EntryQuery::default())
            .unwrap()
            .entries
            .is_empty()
    );
}

#[test]
fn documented_acceptances() {
    let (_t, s) = new_store();
    let when = at(2026, 11, 20, 9, 0);
    // An empty or blank note is no note.
    let mut n = entry("mood", Value::Scale(5.0), when);
    n.note = Some("  ".into());
    assert_eq!(s.log(n).unwrap().note, None);
    // A note at the limit is kept whole.
    let mut n = entry("mood", Value::Scale(5.0), when);
    n.note = Some("é".repeat(MAX_TEXT_BYTES / 2));
    assert_eq!(s.log(n).unwrap().note.unwrap().len(), MAX_TEXT_BYTES);
    // Duplicate tags collapse; labels are trimmed.
    let mut n = entry("mood", Value::Scale(5.0), when);
    n.tags = vec![
        Tag::parse("trigger: Work ").unwrap(),
        Tag::parse("trigger:work").unwrap(),
        Tag::parse("work").unwrap(),
    ];
    let e = s.log(n).unwrap();
    assert_eq!(e.tags.len(), 2);
    assert_eq!(
        e.tags[0],
        Tag {
            group: TagGroup::Trigger,
            label: "Work".into()
        }
    );
    // Trackers are found by id or name, any case.
    assert_eq!(
        s.log(entry("IRRITABILITY", Value::Scale(2.0), when))
            .unwrap()
            .tracker
            .as_ref(),
        "irritability"
    );
    // Appetite runs both ways.
    assert!(s.log(entry("appetite", Value::Scale(-2.0), when)).is_ok());
    // Up to a day ahead of the device clock is accepted (clock skew).
    assert!(
        s.log(entry("mood", Value::Scale(5.0), at(2026, 11, 28, 11, 0)))
            .is_ok()
    );
}

#[test]
fn values_typed_by_a_person_parse() {
    let k = |id: &str| {
        BUILTIN_TRACKERS
            .iter()
            .find(|b| b.id == id)
            .unwrap()
            .tracker()
            .kind
    };
    assert_eq!(
        k("sleep").parse("7h30m").unwrap(),
        Value::Sleep {
            minutes: 450,
            quality: None
        }
    );
    assert_eq!(
        k("sleep").parse("7.5h").unwrap(),
        Value::Sleep {
            minutes: 450,
            quality: None
        }
    );
    assert_eq!(
        k("sleep").parse("6:45").unwrap(),
        Value::Sleep {
            minutes: 405,
            quality: None
        }
    );
    assert_eq!(
        k("sleep").parse("90m").unwrap(),
        Value::Sleep {
            minutes: 90,
            quality: None
        }
    );
    assert!(k("sleep").parse("25h").is_err());
    assert!(k("sleep").parse("soon").is_err());
    assert!(k("sleep").parse("-3h").is_err());
    assert_eq!(k("mood").parse(" 7 ").unwrap(), Value::Scale(7.0));
    assert!(k("mood").parse("NaN").is_err());
    assert!(k("mood").parse("seven").is_err());
    assert_eq!(
        k("medication").parse("sertraline 50mg").unwrap(),
        Value::Medication {
            name: "sertraline 50mg".into(),
            taken: true
        }
    );
    assert_eq!(TrackerKind::YesNo.parse("Yes").unwrap(), Value::YesNo(true));
    assert!(TrackerKind::YesNo.parse("maybe").is_err());
    assert_eq!(TrackerKind::Count.parse("3").unwrap(), Value::Count(3));
    assert!(TrackerKind::Count.parse("-3").is_err());
    assert!(TrackerKind::Count.parse("100001").is_err());
}

#[test]
fn custom_trackers_are_validated_and_unique() {
    let (_t, s) = new_store();
    let scale = |min: f64, max: f64, step: f64| TrackerKind::Scale {
        min,
        max,
        step,
        min_label: "calm".into(),
        max_label: "racing".into(),
    };
    let t = s
        .add_tracker(NewTracker {
            name: "Racing thoughts".into(),
            kind: scale(0.0, 4.0, 1.0),
        })
        .unwrap();
    assert!(!t.builtin);
    assert!(matches!(
        s.add_tracker(NewTracker {
            name: "racing THOUGHTS".into(),
            kind: TrackerKind::Count
        }),
        Err(Error::DuplicateTracker)
    ));
    assert!(matches!(
        s.add_tracker(NewTracker {
            name: "Mood".into(),
            kind: TrackerKind::Count
        }),
        Err(Error::DuplicateTracker)
    ));
    for bad in [
        scale(4.0, 0.0, 1.0),
        scale(0.0, f64::NAN, 1.0),
        scale(0.0, 4.0, 0.0),
        scale(0.0, 1e9, 1.0),
    ] {
        assert!(matches!(
            s.add_tracker(NewTracker {
                name: "x".into(),
                kind: bad
            }),
            Err(Error::InvalidInput { .. })
        ));
    }
    assert!(
        s.add_tracker(NewTracker {
            name: "".into(),
            kind: TrackerKind::Count
        })
        .is_err()
    );
    assert!(
        s.add_tracker(NewTracker {
            name: "s".into(),
            kind: TrackerKind::Sleep
        })
        .is_err()
    );
    let e = s
        .log(entry(
            "racing thoughts",
            Value::Scale(3.0),
            at(2026, 11, 1, 9, 0),
        ))
        .unwrap();
    assert_eq!(*e.tracker, *t.id);
    assert!(
        s.log(entry(
            "racing thoughts",
            Value::Scale(5.0),
            at(2026, 11, 1, 9, 0)
        ))
        .is_err()
    );
    assert_eq!(s.trackers().unwrap().len(), BUILTIN_TRACKERS.len() + 1);
    s.delete_tracker(&t.id).unwrap();
    assert!(matches!(
        s.tracker("racing thoughts"),
        Err(Error::UnknownTracker)
    ));
    assert_eq!(
        *s.entry(&e.id).unwrap().tracker,
        *t.id,
        "entries outlive their tracker"
    );
    assert!(s.delete_tracker("mood").is_err());
}

#[test]
fn local_day_follows_the_zone_the_patient_was_in() {
    let (_t, s) = new_store();
    // 2026-11-10T23:30Z is the 11th in Tokyo and the 10th in Los Angeles.
    let mut tokyo = entry("mood", Value::Scale(7.0), at(2026, 11, 10, 23, 30));
    tokyo.zone = "Asia/Tokyo".into();
    let mut la = entry("mood", Value::Scale(3.0), at(2026, 11, 10, 23, 30));
    la.zone = "America/Los_Angeles".into();
    let tokyo = s.log(tokyo).unwrap();
    let la = s.log(la).unwrap();
    assert_eq!(tokyo.utc_offset_seconds, 9 * 3600);
    assert_eq!(tokyo.local_date().to_string(), "2026-11-11");
    assert_eq!(la.local_date().to_string(), "2026-11-10");
    let day = |d: &str| {
        let d = d.parse().unwrap();
        s.entries(&EntryQuery {
            from_day: Some(d),
            to_day: Some(d),
            ..Default::default()
        })
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect::<Vec<_>>()
    };
    assert_eq!(day("2026-11-11"), vec![tokyo.id.clone()]);
    assert_eq!(day("2026-11-10"), vec![la.id.clone()]);
    assert!(day("2026-11-12").is_empty());
    // Daylight saving: the offset is the one in force at that instant.
    let mut summer = entry("mood", Value::Scale(5.0), at(2026, 7, 1, 12, 0));
    summer.zone = "America/Los_Angeles".into();
    assert_eq!(s.log(summer).unwrap().utc_offset_seconds, -7 * 3600);
    assert_eq!(la.utc_offset_seconds, -8 * 3600);
}

#[test]
fn pages_cover_every_entry_once_in_both_directions() {
    let (_t, s) = new_store();
    let mut all = vec![];
    for i in 0..60u32 {
        // Several per day, some at the same instant.
        let e = s
            .log(entry(
                "mood",
                Value::Scale((i % 11) as f64),
                at(2026, 9, 1 + i / 4, 8 + (i % 4) / 2 * 5, 0),
            ))
            .unwrap();
        all.push((e.at_ms, e.id));
    }
    s.log(entry("anxiety", Value::Scale(1.0), at(2026, 9, 3, 12, 0)))
        .unwrap();
    all.sort();
    for newest_first in [false, true] {
        let mut seen = vec![];
        let mut q = EntryQuery {
            tracker: Some("mood".into()),
            limit: Some(7),
            newest_first,
            ..Default::default()
        };
        loop {
            let page = s.entries(&q).unwrap();
            assert!(page.entries.len() <= 7);
            seen.extend(page.entries.iter().map(|e| (e.at_ms, e.id.clone())));
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let mut want = all.clone();
        if newest_first {
            want.reverse();
        }
        assert_eq!(seen, want, "newest_first={newest_first}");
    }
    // Instant ranges are half-open.
    let q = EntryQuery {
        from: Some(at(2026, 9, 2, 0, 0)),
        to: Some(at(2026, 9, 3, 0, 0)),
        tracker: Some("mood".into()),
        ..Default::default()
    };
    assert_eq!(s.entries(&q).unwrap().entries.len(), 4);
    assert!(matches!(
        s.entries(&EntryQuery {
            after: Some("garbage".into()),
            ..Default::default()
        }),
        Err(Error::InvalidInput {
            field: "cursor",
            ..
        })
    ));
    assert!(matches!(
        s.entries(&EntryQuery {
            tracker: Some("nope".into()),
            ..Default::default()
        }),
        Err(Error::UnknownTracker)
    ));
}

#[test]
fn edits_and_deletes_leave_revisions_tombstones_and_outbox_rows() {
    let (t, s) = new_store();
    let e = s
        .log(entry("mood", Value::Scale(2.0), at(2026, 11, 20, 9, 0)))
        .unwrap();
    let mut n = entry("mood", Value::Scale(4.0), at(2026, 11, 21, 9, 0));
    n.note = Some("better after a walk".into());
    let e2 = s.update_entry(&e.id, n).unwrap();
    assert_eq!(e2.revision, 2);
    assert_eq!(e2.created_at_ms, e.created_at_ms);
    assert_eq!(s.entry(&e.id).unwrap(), e2);
    s.delete_entry(&e.id).unwrap();
    assert!(matches!(s.entry(&e.id), Err(Error::NotFound { .. })));
    assert!(matches!(s.delete_entry(&e.id), Err(Error::NotFound { .. })));
    assert!(matches!(
        s.update_entry(
            &e.id,
            entry("mood", Value::Scale(1.0), at(2026, 11, 21, 9, 0))
        ),
        Err(Error::NotFound { .. })
    ));
    let conn = raw(&t.path);
    // The tombstone is a sealed empty body (header, nonce and tag only):
    // the content is gone, and the flag cannot be changed without the key.
    let (deleted, body_len, day_null, rev): (i64, i64, bool, i64) = conn
        .query_row(
            "SELECT deleted, length(body), day IS NULL, revision FROM entries WHERE id = ?1",
            [&e.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (deleted, body_len, day_null, rev),
        (1, cairn_core::crypto::ENVELOPE_OVERHEAD as i64, true, 3)
    );
    let ops: Vec<(i64, String)> = conn
        .prepare("SELECT revision, op FROM outbox WHERE record_id = ?1 ORDER BY seq")
        .unwrap()
        .query_map([&e.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        ops,
        vec![(1, "put".into()), (2, "put".into()), (3, "delete".into())]
    );
}

#[test]
fn threads_share_one_store_without_losing_writes() {
    let (_t, s) = new_store();
    let s = std::sync::Arc::new(s);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut ids = vec![];
                for i in 0..25u32 {
                    ids.push(
                        s.log(entry(
                            "energy",
                            Value::Scale((i % 10) as f64),
                            at(2026, 11, 1 + t, 9, i),
                        ))
                        .unwrap()
                        .id,
                    );
                    s.entries(&EntryQuery {
                        limit: Some(5),
                        ..Default::default()
                    })
                    .unwrap();
                }
                ids
            })
        })
        .collect();
    let ids: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 200);
    assert_eq!(
        s.entries(&EntryQuery::default()).unwrap().entries.len(),
        200
    );
    assert_eq!(s.pending_changes().unwrap(), 200);
}
