//! The core's own device side (`Store::sync_enroll`, `sync_prepare`,
//! `sync_receive`, as the phone apps and the `cairn` CLI use it) against
//! this server: two phones of one patient end with the same entries, and
//! the clinic holds them once.

mod common;

use cairn_clinic::handle;
use cairn_core::sync::device::{Category, SyncRequest};
use cairn_core::{EntryQuery, Key, NewEntry, Store, StoreOptions, Tag, Value};
use common::Clinic;

const KEY: [u8; 32] = [7; 32];

fn phone(dir: &std::path::Path, name: &str) -> Store {
    Store::create(dir.join(name), Key::Raw(&KEY), StoreOptions::default()).unwrap()
}

fn log(store: &Store, tracker: &str, value: Value, note: Option<&str>) -> String {
    store
        .log(NewEntry {
            tracker: tracker.into(),
            value,
            note: note.map(Into::into),
            tags: vec![Tag::parse("activity:walk").unwrap()],
            at: chrono::Utc::now() - chrono::Duration::hours(1),
            zone: "Europe/Paris".into(),
        })
        .unwrap()
        .id
}

/// Exchanges requests with the clinic until neither side has more.
fn sync(store: &Store, clinic: &Clinic, first: Option<SyncRequest>) {
    let mut next = first;
    for _ in 0..50 {
        let req = match next.take() {
            Some(r) => r,
            None => store.sync_prepare().unwrap().expect("enrolled"),
        };
        assert_eq!(req.content_type, "application/cairn-sync");
        let reply = handle(&clinic.server, &req.body, cairn_clinic::now_ms()).unwrap();
        let outcome = store.sync_receive(&req.request_id, &reply).unwrap();
        assert_eq!(outcome.rejected, 0);
        if !outcome.more {
            return;
        }
    }
    panic!("sync did not settle");
}

fn listed(store: &Store) -> Vec<(String, Option<String>, String)> {
    let mut v: Vec<_> = store
        .entries(&EntryQuery::default())
        .unwrap()
        .entries
        .into_iter()
        .map(|e| (e.id.clone(), e.note.clone(), e.tracker.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn two_phones_of_one_patient_converge_through_the_clinic() {
    let clinic = Clinic::new();
    let tmp = tempfile::tempdir().unwrap();
    let now = cairn_clinic::now_ms();

    let a = phone(tmp.path(), "a.cairn");
    let first = log(&a, "mood", Value::Scale(6.0), Some("slept well"));
    log(
        &a,
        "sleep",
        Value::Sleep {
            minutes: 450,
            quality: Some(8),
        },
        None,
    );
    let code =
        cairn_clinic::admin::enrollment_code(&clinic.server, "Ann", 14, common::URL, now).unwrap();
    let req = a
        .sync_enroll(&code, &[Category::Ratings, Category::Notes])
        .unwrap();
    sync(&a, &clinic, Some(req));
    sync(&a, &clinic, None);
    assert_eq!(clinic.entries("Ann").len(), 2);

    let b = phone(tmp.path(), "b.cairn");
    let code =
        cairn_clinic::admin::enrollment_code(&clinic.server, "Ann", 14, common::URL, now).unwrap();
    let req = b
        .sync_enroll(&code, &[Category::Ratings, Category::Notes])
        .unwrap();
    sync(&b, &clinic, Some(req));
    sync(&b, &clinic, None);
    assert_eq!(
        listed(&b),
        listed(&a),
        "the second phone has the first's entries"
    );

    // An edit on B and a delete on A meet on both phones and at the clinic.
    let mut edited = b.entry(&first).unwrap();
    let second = listed(&a).into_iter().find(|e| e.0 != first).unwrap().0;
    b.update_entry(
        &first,
        NewEntry {
            tracker: edited.tracker.to_string(),
            value: Value::Scale(8.0),
            note: Some("better today".into()),
            tags: std::mem::take(&mut edited.tags),
            at: edited.at(),
            zone: edited.zone.to_string(),
        },
    )
    .unwrap();
    a.delete_entry(&second).unwrap();
    sync(&b, &clinic, None);
    sync(&a, &clinic, None);
    sync(&b, &clinic, None);
    assert_eq!(listed(&a), listed(&b));
    let on_a = listed(&a);
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a[0].1.as_deref(), Some("better today"));

    let at_clinic = clinic.entries("Ann");
    assert_eq!(at_clinic.len(), 1, "{at_clinic:?}");
    assert_eq!(at_clinic[0]["id"], first);
    assert_eq!(at_clinic[0]["note"], "better today");
    assert_eq!(at_clinic[0]["value"], 8.0);
}

/// Deleted on one phone, edited on the other: the winner is chosen the
/// same everywhere and the other version is a conflict version; the
/// patient resolves it either way, and every phone and the clinic follow.
#[test]
fn a_conflict_between_a_delete_and_an_edit_is_resolved_either_way() {
    let clinic = Clinic::new();
    let tmp = tempfile::tempdir().unwrap();
    let now = cairn_clinic::now_ms();
    let a = phone(tmp.path(), "a.cairn");
    let b = phone(tmp.path(), "b.cairn");
    for p in [&a, &b] {
        let code =
            cairn_clinic::admin::enrollment_code(&clinic.server, "Ann", 14, common::URL, now)
                .unwrap();
        let req = p
            .sync_enroll(&code, &[Category::Ratings, Category::Notes])
            .unwrap();
        sync(p, &clinic, Some(req));
    }
    for keep_edit in [true, false] {
        let id = log(&a, "mood", Value::Scale(3.0), Some("first"));
        sync(&a, &clinic, None);
        sync(&b, &clinic, None);
        // Offline on both: A deletes, B edits.
        a.delete_entry(&id).unwrap();
        let mut new: NewEntry = b.entry(&id).unwrap().into();
        new.note = Some("edited".into());
        b.update_entry(&id, new).unwrap();
        for _ in 0..2 {
            sync(&a, &clinic, None);
            sync(&b, &clinic, None);
        }
        let on_a = a.sync_conflicts().unwrap();
        assert_eq!(on_a.len(), 1, "one version kept aside");
        assert_eq!(on_a, b.sync_conflicts().unwrap());
        let edit_author = b.sync_status().unwrap().device_id;
        let delete_won = a.entry(&id).is_err();
        assert_eq!(delete_won, b.entry(&id).is_err());
        let wanted_author = if keep_edit == delete_won {
            // The kept version is the conflict one: name its author.
            Some(on_a[0].author.clone())
        } else {
            None
        };
        if keep_edit && delete_won {
            assert_eq!(on_a[0].author, edit_author);
        }
        // Resolved on A.
        let kept = a
            .sync_resolve_conflict(&id, wanted_author.as_deref())
            .unwrap();
        assert_eq!(kept.is_some(), keep_edit);
        assert!(a.sync_conflicts().unwrap().is_empty());
        for _ in 0..2 {
            sync(&a, &clinic, None);
            sync(&b, &clinic, None);
        }
        for p in [&a, &b] {
            assert!(p.sync_conflicts().unwrap().is_empty());
            match p.entry(&id) {
                Ok(e) => {
                    assert!(keep_edit);
                    assert_eq!(e.note.as_deref(), Some("edited"));
                }
                Err(_) => assert!(!keep_edit),
            }
        }
        let at_clinic = clinic.entries("Ann");
        assert_eq!(
            at_clinic.iter().any(|e| e["id"] == id.as_str()),
            keep_edit,
            "{at_clinic:?}"
        );
        // Nothing left to resolve.
        assert!(a.sync_resolve_conflict(&id, None).is_err());
    }
}
