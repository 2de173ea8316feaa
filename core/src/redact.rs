//! `Debug` for every type that carries what a patient wrote or rated: the
//! type, its ids and bookkeeping, never the content (notes, tags, values,
//! names, titles, times, zones). A `{:?}` in a log line, a panic message
//! or an `assert_eq!` failure therefore cannot leak it.

use std::fmt;

/// `Debug` showing only the named fields, then `..`.
macro_rules! redacted_debug {
    ($($t:ty { $($shown:ident),* });* $(;)?) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($shown), &self.$shown))*
                    .finish_non_exhaustive()
            }
        }
    )*};
}

/// `Debug` as the type's name only.
macro_rules! opaque_debug {
    ($($t:ty),* $(,)?) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(..)"))
            }
        }
    )*};
}

use crate::journal::{Entry, EntryQuery, NewEntry, Tag};
use crate::reminders::{
    NewReminder, PlannedNotification, QuietHours, Reminder, ReminderEvent, Schedule,
};
use crate::trackers::{NewTracker, Tracker, TrackerKind, Value};

redacted_debug! {
    Entry { id, revision };
    NewEntry {};
    EntryQuery { limit, newest_first };
    Tracker { id, builtin };
    NewTracker {};
    Reminder { id, revision, category, enabled };
    NewReminder { category, enabled };
    ReminderEvent { id };
    PlannedNotification { id, reminder_id, category, exact };
}

opaque_debug!(Tag, Value, TrackerKind, Schedule, QuietHours);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::{Category, ZonePolicy};
    use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
    use std::sync::Arc;

    const MARK: &str = "SECRET-PATIENT-TEXT";

    #[test]
    fn debug_output_holds_no_patient_content() {
        let tag = Tag {
            group: crate::journal::TagGroup::Trigger,
            label: MARK.into(),
        };
        let new_entry = NewEntry {
            tracker: MARK.into(),
            value: Value::Text(MARK.into()),
            note: Some(MARK.into()),
            tags: vec![tag.clone()],
            at: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
            zone: MARK.into(),
        };
        let entry = Entry {
            id: "0123456789abcdef0123456789abcdef".into(),
            tracker: Arc::from(MARK),
            value: Value::Medication {
                name: MARK.into(),
                taken: true,
            },
            note: Some(MARK.into()),
            tags: vec![tag.clone()],
            at_ms: 0,
            zone: Arc::from(MARK),
            utc_offset_seconds: 0,
            created_at_ms: 0,
            updated_at_ms: 0,
            revision: 1,
        };
        let tracker = Tracker {
            id: "t".into(),
            name: MARK.into(),
            kind: TrackerKind::Scale {
                min: 0.0,
                max: 10.0,
                step: 1.0,
                min_label: MARK.into(),
                max_label: MARK.into(),
            },
            builtin: false,
        };
        let mut rule = NewReminder::new(
            Category::Medication,
            Schedule::AfterEvent {
                event: MARK.into(),
                steps: vec![],
            },
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        rule.title = Some(MARK.into());
        rule.zone = ZonePolicy::Pinned(MARK.into());
        let quiet = QuietHours {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        };
        let printed = format!(
            "{new_entry:?} {entry:?} {tag:?} {tracker:?} {rule:?} {quiet:?} {:?} {:?}",
            EntryQuery {
                tracker: Some(MARK.into()),
                ..Default::default()
            },
            NewTracker {
                name: MARK.into(),
                kind: TrackerKind::Count,
            },
        );
        assert!(!printed.contains(MARK), "{printed}");
        assert!(
            printed.contains("0123456789abcdef0123456789abcdef"),
            "ids stay"
        );
    }
}
