//! The plan of notifications for the OS, and its diff against what the OS
//! holds.

use super::{Category, Occurrence, QuietHours, QuietPolicy, Reminder};
use crate::zones::Zone;
use chrono::{Duration, NaiveTime, Timelike};
use serde::Serialize;
use std::collections::HashSet;

/// What the platform allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most notifications the OS may hold (iOS: 64).
    pub max_pending: u32,
    /// Whether exact alarms may be used (Android: `SCHEDULE_EXACT_ALARM`).
    pub exact_alarms: bool,
    /// Width of an inexact delivery window, in minutes (at least 10).
    pub inexact_window_minutes: u32,
}

impl Limits {
    /// iOS: 64 pending local notifications, delivered on time.
    pub const IOS: Limits = Limits {
        max_pending: 64,
        exact_alarms: true,
        inexact_window_minutes: 10,
    };
    /// Android with exact alarms allowed. Android caps an app at 500 alarms
    /// (WorkManager included): keep room.
    pub const ANDROID_EXACT: Limits = Limits {
        max_pending: 400,
        exact_alarms: true,
        inexact_window_minutes: 10,
    };
    /// Android without the exact-alarm permission (the default from Android 14).
    pub const ANDROID_INEXACT: Limits = Limits {
        max_pending: 400,
        exact_alarms: false,
        inexact_window_minutes: 15,
    };
}

/// One notification for the OS.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PlannedNotification {
    /// Stable id: the same occurrence at the same time keeps it across plans.
    pub id: String,
    /// The rule.
    pub reminder_id: String,
    /// The occurrence's key, for reporting what happened to it.
    pub occurrence: String,
    /// When the occurrence was due (before quiet hours or a snooze moved it), ms.
    pub due_ms: i64,
    /// When to show it, ms since the epoch.
    pub fire_at_ms: i64,
    /// The UTC offset in force at `fire_at_ms` in the zone used for it.
    pub utc_offset_seconds: i32,
    /// The rule's category.
    pub category: Category,
    /// Lock-screen title (generic unless the patient opted in).
    pub title: String,
    /// Lock-screen body (generic).
    pub body: String,
    /// Deliver exactly, or anywhere in `[fire_at, fire_at + window_minutes]`.
    pub exact: bool,
    /// Width of the delivery window when not exact.
    pub window_minutes: u32,
}

/// What the shell changes in the OS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanDiff {
    /// Notifications to schedule.
    pub add: Vec<PlannedNotification>,
    /// Ids to cancel.
    pub remove: Vec<String>,
}

/// Compares a plan with the ids the OS holds now.
pub fn diff_plan(plan: &[PlannedNotification], held: &[String]) -> PlanDiff {
    let held_set: HashSet<&str> = held.iter().map(String::as_str).collect();
    let planned: HashSet<&str> = plan.iter().map(|n| n.id.as_str()).collect();
    let mut remove: Vec<String> = held
        .iter()
        .filter(|h| !planned.contains(h.as_str()))
        .cloned()
        .collect();
    remove.sort();
    remove.dedup();
    PlanDiff {
        add: plan
            .iter()
            .filter(|n| !held_set.contains(n.id.as_str()))
            .cloned()
            .collect(),
        remove,
    }
}

/// Every planned notification's id starts with this.
pub const NOTIFICATION_ID_PREFIX: &str = "cairn-";

/// Stable while the occurrence, its time and its text stay the same; any
/// change gives a new id, so the diff replaces what the OS shows.
pub(crate) fn notification_id(occurrence: &str, fire_ms: i64, title: &str, body: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        occurrence.as_bytes(),
        &fire_ms.to_be_bytes(),
        title.as_bytes(),
        body.as_bytes(),
    ] {
        ctx.update(&(part.len() as u32).to_be_bytes());
        ctx.update(part);
    }
    let h = ctx.finish();
    format!(
        "{NOTIFICATION_ID_PREFIX}{}",
        crate::crypto::to_hex(&h.as_ref()[..10])
    )
}

/// Applies quiet hours (in the device's zone) to one fire time: `None` when
/// the occurrence is skipped.
pub(crate) fn apply_quiet(
    fire_ms: i64,
    next_due_ms: Option<i64>,
    policy: QuietPolicy,
    quiet: Option<&QuietHours>,
    device: &Zone,
) -> Option<i64> {
    let Some(q) = quiet else { return Some(fire_ms) };
    if policy == QuietPolicy::Ignore {
        return Some(fire_ms);
    }
    let off = i64::from(device.offset_at(fire_ms));
    let local = chrono::DateTime::from_timestamp_millis(fire_ms + off * 1000)?.naive_utc();
    let t = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())?;
    if !q.contains(t) {
        return Some(fire_ms);
    }
    if policy == QuietPolicy::Skip {
        return None;
    }
    // The end of these quiet hours: today's end, or tomorrow's when the
    // hours wrap midnight and we are before it.
    let end_date = if q.start > q.end && t >= q.start {
        local.date() + Duration::days(1)
    } else {
        local.date()
    };
    let (end_s, _) = super::expand::local_to_utc(device, end_date, q.end);
    let deferred = end_s * 1000;
    // Never past the rule's next occurrence: then it is skipped.
    match next_due_ms {
        Some(n) if deferred >= n => None,
        _ => Some(deferred),
    }
}

/// One candidate before selection.
pub(crate) struct Candidate {
    pub occ: Occurrence,
    pub fire_ms: i64,
    pub offset: i32,
}

/// Picks at most `limits.max_pending`, fair across rules (every rule's
/// k-th occurrence before any rule's (k+1)-th), and builds notifications in
/// time order.
pub(crate) fn select(
    mut candidates: Vec<Candidate>,
    rules: &[Reminder],
    limits: &Limits,
) -> Vec<PlannedNotification> {
    candidates.sort_by(|a, b| {
        (a.occ.seq, a.fire_ms, &a.occ.key).cmp(&(b.occ.seq, b.fire_ms, &b.occ.key))
    });
    candidates.truncate(limits.max_pending as usize);
    candidates.sort_by(|a, b| (a.fire_ms, &a.occ.key).cmp(&(b.fire_ms, &b.occ.key)));
    let window = limits.inexact_window_minutes.max(10);
    candidates
        .into_iter()
        .filter_map(|c| {
            let rule = rules.iter().find(|r| r.id == c.occ.reminder_id)?;
            let (generic_title, body) = rule.category.generic_text();
            let title = match (&rule.title, rule.show_title) {
                (Some(t), true) => t.clone(),
                _ => generic_title.to_owned(),
            };
            Some(PlannedNotification {
                id: notification_id(&c.occ.key, c.fire_ms, &title, body),
                reminder_id: rule.id.clone(),
                occurrence: c.occ.key,
                due_ms: c.occ.fire_ms,
                fire_at_ms: c.fire_ms,
                utc_offset_seconds: c.offset,
                category: rule.category,
                title,
                body: body.to_owned(),
                exact: limits.exact_alarms,
                window_minutes: if limits.exact_alarms { 0 } else { window },
            })
        })
        .collect()
}
