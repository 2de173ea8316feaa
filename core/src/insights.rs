//! Summaries over entries (more arrives with the outcomes issues).

use crate::journal::Entry;
use crate::trackers::Value;
use std::collections::BTreeMap;

/// Counts and averages for one tracker over a set of entries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackerSummary {
    /// Tracker id.
    pub tracker: String,
    /// Number of entries.
    pub count: u64,
    /// Mean of numeric values (scales, counts, minutes of durations and
    /// sleep, share of "yes" and of doses taken); `None` for text.
    pub mean: Option<f64>,
    /// Lowest numeric value.
    pub min: Option<f64>,
    /// Highest numeric value.
    pub max: Option<f64>,
}

/// The number a value contributes to means, if any.
pub fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Scale(x) => Some(*x),
        Value::YesNo(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Duration { minutes } | Value::Sleep { minutes, .. } => Some(*minutes as f64),
        Value::Count(n) => Some(*n as f64),
        Value::Medication { taken, .. } => Some(if *taken { 1.0 } else { 0.0 }),
        Value::Text(_) | Value::Answers { .. } => None,
    }
}

/// Per-tracker counts and means, ordered by tracker id.
pub fn summarize<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<TrackerSummary> {
    let mut by: BTreeMap<&str, (u64, f64, u64, f64, f64)> = BTreeMap::new();
    for e in entries {
        let s = by
            .entry(&*e.tracker)
            .or_insert((0, 0.0, 0, f64::INFINITY, f64::NEG_INFINITY));
        s.0 += 1;
        if let Some(x) = numeric(&e.value) {
            s.1 += x;
            s.2 += 1;
            s.3 = s.3.min(x);
            s.4 = s.4.max(x);
        }
    }
    by.into_iter()
        .map(|(t, (count, sum, n, lo, hi))| TrackerSummary {
            tracker: t.to_owned(),
            count,
            mean: (n > 0).then(|| sum / n as f64),
            min: (n > 0).then_some(lo),
            max: (n > 0).then_some(hi),
        })
        .collect()
}

/// How often each tag appears on the patient's low days: local days whose
/// mean on `tracker` is at or below `threshold`. Most frequent first.
/// A pattern to look at, not a cause.
pub fn tags_on_low_days<'a>(
    entries: impl IntoIterator<Item = &'a Entry> + Clone,
    tracker: &str,
    threshold: f64,
) -> Vec<(crate::journal::Tag, u64)> {
    let mut day_sum: BTreeMap<chrono::NaiveDate, (f64, u64)> = BTreeMap::new();
    for e in entries.clone() {
        if &*e.tracker == tracker
            && let Some(x) = numeric(&e.value)
        {
            let d = day_sum.entry(e.local_date()).or_insert((0.0, 0));
            d.0 += x;
            d.1 += 1;
        }
    }
    let mut counts: std::collections::HashMap<crate::journal::Tag, u64> = Default::default();
    for e in entries {
        let low = day_sum
            .get(&e.local_date())
            .is_some_and(|(s, n)| s / *n as f64 <= threshold);
        if low {
            for t in &e.tags {
                *counts.entry(t.clone()).or_default() += 1;
            }
        }
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.label.cmp(&b.0.label)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Tag, TagGroup};

    fn e(day: i64, tracker: &str, v: f64, tags: &[&str]) -> Entry {
        let at = (day * 86_400 + 43_200) * 1000;
        Entry {
            id: format!("{day}{tracker}"),
            tracker: tracker.into(),
            value: Value::Scale(v),
            note: None,
            tags: tags.iter().map(|t| Tag::parse(t).unwrap()).collect(),
            at_ms: at,
            zone: "UTC".into(),
            utc_offset_seconds: 0,
            created_at_ms: at,
            updated_at_ms: at,
            revision: 1,
        }
    }

    #[test]
    fn summaries_and_low_day_tags() {
        let es = [
            e(1, "mood", 2.0, &["trigger:work"]),
            e(1, "anxiety", 8.0, &["trigger:work", "activity:walk"]),
            e(2, "mood", 8.0, &["activity:walk"]),
            e(3, "mood", 3.0, &["trigger:work", "trigger:sleep"]),
        ];
        let s = summarize(&es);
        assert_eq!(s[1].tracker, "mood");
        assert_eq!((s[1].count, s[1].min, s[1].max), (3, Some(2.0), Some(8.0)));
        assert!((s[1].mean.unwrap() - 13.0 / 3.0).abs() < 1e-9);
        let tags = tags_on_low_days(&es, "mood", 4.0);
        assert_eq!(
            tags[0],
            (
                Tag {
                    group: TagGroup::Trigger,
                    label: "work".into()
                },
                3
            )
        );
        assert_eq!(tags.len(), 3);
    }
}
