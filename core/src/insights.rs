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
        Value::Text(_) => None,
    }
}

/// Per-tracker counts and means, ordered by tracker id.
pub fn summarize<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<TrackerSummary> {
    let mut by: BTreeMap<&str, (u64, f64, u64, f64, f64)> = BTreeMap::new();
    for e in entries {
        let s = by
            .entry(&e.tracker)
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
