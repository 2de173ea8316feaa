//! Reminders in the store: rules, events, occurrence reports, quiet hours,
//! the plan and adherence.

use super::plan::{Candidate, Limits, PlannedNotification, apply_quiet, select};
use super::{
    Category, NewReminder, Occurrence, QuietHours, Reminder, ReminderEvent, ZonePolicy,
    decode_reminder, encode_reminder, expand::expand,
};
use crate::codec::{Reader, Writer};
use crate::crypto::Sealer;
use crate::error::{Error, RecordRef, Result};
use crate::store::{Store, load_row, load_rows, outbox, tombstone, upsert_sealed};
use crate::zones::{Zone, ZoneDb};
use chrono::{DateTime, NaiveTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
const SCHEMA: u8 = 1;
/// A delivery more than this after the fire time counts as late.
pub const LATE_AFTER_MS: i64 = 5 * 60 * 1000;
/// The longest horizon a plan may look ahead.
pub const MAX_HORIZON_DAYS: u32 = 62;
/// The most notifications a plan may hold (Android allows an app 500 alarms).
pub const MAX_PENDING: u32 = 500;

/// What happened to an occurrence, as the shell reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderReport {
    /// The OS showed it at `at_ms`.
    Shown {
        /// When it was shown, ms.
        at_ms: i64,
    },
    /// The patient did it.
    Done {
        /// When, ms.
        at_ms: i64,
    },
    /// The patient chose to skip it.
    Skipped {
        /// When, ms.
        at_ms: i64,
    },
    /// The patient snoozed it until `until_ms`.
    Snoozed {
        /// When to show it again, ms.
        until_ms: i64,
    },
}

/// Adherence over a range, for one rule or one category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Adherence {
    /// A rule id, or a category name.
    pub key: String,
    /// Occurrences due in the range (up to now).
    pub due: u32,
    /// Shown by the OS (reported by the shell).
    pub shown: u32,
    /// Shown more than 5 minutes late.
    pub late: u32,
    /// Never reported shown: a delivery problem, not the patient's.
    pub not_shown: u32,
    /// Done.
    pub done: u32,
    /// Skipped on purpose.
    pub skipped: u32,
    /// Neither done nor skipped within the grace period.
    pub missed: u32,
}

/// Every rule, and the rules whose records are damaged (skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReminderList {
    /// The rules that opened, in the order they were added.
    pub reminders: Vec<Reminder>,
    /// Damaged records: log them; everything else works.
    pub corrupted: Vec<RecordRef>,
}

/// The notifications the OS should hold, and the records that could not be
/// read while planning them (damaged rules, events, reports or settings,
/// each skipped: every good rule is still planned).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReminderPlan {
    /// In time order, fair across rules, within the limits.
    pub notifications: Vec<PlannedNotification>,
    /// Damaged records: log them and keep scheduling the rest.
    pub corrupted: Vec<RecordRef>,
}

/// Adherence per rule and per category, and the damaged records skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdherenceReport {
    /// One row per enabled rule.
    pub by_rule: Vec<Adherence>,
    /// One row per category, by name.
    pub by_category: Vec<Adherence>,
    /// Damaged records, skipped.
    pub corrupted: Vec<RecordRef>,
}

/// The state kept per occurrence (sealed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogState {
    key: String,
    reminder_id: String,
    due_ms: i64,
    shown_ms: Option<i64>,
    outcome: u8, // 0 none, 1 done, 2 skipped
    outcome_ms: i64,
    snoozed_until: Option<i64>,
}

fn opt_i64(w: &mut Writer, v: Option<i64>) {
    match v {
        Some(x) => {
            w.u8(1);
            w.ivar(x);
        }
        None => w.u8(0),
    }
}

pub(crate) fn encode_log(l: &LogState) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    w.str(&l.key);
    w.str(&l.reminder_id);
    w.ivar(l.due_ms);
    opt_i64(&mut w, l.shown_ms);
    w.u8(l.outcome);
    w.ivar(l.outcome_ms);
    opt_i64(&mut w, l.snoozed_until);
    w.finish()
}

pub(crate) fn decode_log(b: &[u8]) -> Option<LogState> {
    let mut r = Reader::new(b);
    let get_opt = |r: &mut Reader<'_>| -> Option<Option<i64>> {
        Some(if r.bool().ok()? {
            Some(r.ivar().ok()?)
        } else {
            None
        })
    };
    let l = LogState {
        key: r.str().ok()?,
        reminder_id: r.str().ok()?,
        due_ms: r.ivar().ok()?,
        shown_ms: get_opt(&mut r)?,
        outcome: r.u8().ok()?,
        outcome_ms: r.ivar().ok()?,
        snoozed_until: get_opt(&mut r)?,
    };
    r.end().ok()?;
    Some(l)
}

pub(crate) fn encode_event(e: &ReminderEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(48);
    w.str(&e.kind);
    w.ivar(e.at_ms);
    w.str(&e.zone);
    w.finish()
}

pub(crate) fn decode_event(id: &str, b: &[u8]) -> Option<ReminderEvent> {
    let mut r = Reader::new(b);
    let e = ReminderEvent {
        id: id.to_owned(),
        kind: r.str().ok()?,
        // The writer keeps instants in 1970-2199; others would overflow the
        // expansion's arithmetic (as for entries).
        at_ms: crate::bounds::ms("at", r.ivar().ok()?).ok()?,
        zone: r.str().ok()?,
    };
    r.end().ok()?;
    Some(e)
}

/// Writes a reminder rule that arrived through sync (no outbox row).
pub(crate) fn put_synced_reminder(
    tx: &rusqlite::Transaction<'_>,
    sealer: &Sealer,
    r: &Reminder,
) -> Result<i64> {
    upsert_sealed(
        tx,
        sealer,
        "reminders",
        &r.id,
        None,
        SCHEMA,
        &super::encode_reminder(r),
    )
}

/// Writes a treatment session that arrived through sync (no outbox row).
pub(crate) fn put_synced_event(
    tx: &rusqlite::Transaction<'_>,
    sealer: &Sealer,
    e: &ReminderEvent,
) -> Result<i64> {
    upsert_sealed(
        tx,
        sealer,
        "reminder_events",
        &e.id,
        None,
        SCHEMA,
        &encode_event(e),
    )
}

/// Writes a live record in the caller's transaction: its next revision,
/// sealed (with `day` as the bound column where the table has one), and its
/// outbox row. A row flagged deleted, even by a flag forged without the key,
/// is live again. Returns the revision.
fn put_sealed(
    tx: &rusqlite::Transaction<'_>,
    sealer: &Sealer,
    now_ms: i64,
    table: &'static str,
    id: &str,
    day: Option<i64>,
    body: &[u8],
) -> Result<i64> {
    let rev = upsert_sealed(tx, sealer, table, id, day, SCHEMA, body)?;
    outbox(tx, sealer, now_ms, table, id, rev, false)?;
    Ok(rev)
}

/// What the loaders could not read, gathered for the caller's report.
type Damaged = Vec<RecordRef>;

fn load_rules(conn: &Connection, sealer: &Sealer, damaged: &mut Damaged) -> Result<Vec<Reminder>> {
    let (rows, bad) = load_rows(conn, sealer, "reminders", "1", [])?;
    damaged.extend(bad);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match decode_reminder(&row.id, row.revision, &row.plain) {
            Ok(r) if row.schema == SCHEMA => out.push(r),
            _ => damaged.push(RecordRef::new("reminders", &row.id)),
        }
    }
    Ok(out)
}

fn load_events(
    conn: &Connection,
    sealer: &Sealer,
    damaged: &mut Damaged,
) -> Result<Vec<ReminderEvent>> {
    let (rows, bad) = load_rows(conn, sealer, "reminder_events", "1", [])?;
    damaged.extend(bad);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match decode_event(&row.id, &row.plain) {
            Some(e) => out.push(e),
            None => damaged.push(RecordRef::new("reminder_events", &row.id)),
        }
    }
    Ok(out)
}

/// Occurrence reports whose due time falls in `[from_ms, to_ms)`, by key.
fn load_logs(
    conn: &Connection,
    sealer: &Sealer,
    from_ms: i64,
    to_ms: i64,
    damaged: &mut Damaged,
) -> Result<HashMap<String, (String, i64, LogState)>> {
    let (rows, bad) = load_rows(
        conn,
        sealer,
        "reminder_log",
        "deleted = 0 AND day BETWEEN ?1 AND ?2",
        params![from_ms.div_euclid(DAY_MS) - 1, to_ms.div_euclid(DAY_MS) + 1],
    )?;
    damaged.extend(bad);
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        match decode_log(&row.plain) {
            Some(l) => {
                out.insert(l.key.clone(), (row.id, row.revision, l));
            }
            None => damaged.push(RecordRef::new("reminder_log", &row.id)),
        }
    }
    Ok(out)
}

/// The quiet hours; a damaged setting reads as none and is reported.
fn quiet_hours(
    conn: &Connection,
    sealer: &Sealer,
    damaged: &mut Damaged,
) -> Result<Option<QuietHours>> {
    let (rows, bad) = load_rows(conn, sealer, "settings", "id = 'quiet_hours'", [])?;
    damaged.extend(bad);
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let decoded = (|| {
        let mut r = Reader::new(&row.plain);
        if !r.bool().ok()? {
            return Some(None);
        }
        let t = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0);
        let start = t(r.u32var().ok()?)?;
        let end = t(r.u32var().ok()?)?;
        r.end().ok()?;
        Some(Some(QuietHours { start, end }))
    })();
    decoded.map_or_else(
        || {
            damaged.push(RecordRef::new("settings", "quiet_hours"));
            Ok(None)
        },
        Ok,
    )
}

fn rule_zone(zones: &ZoneDb, rule: &Reminder, device: &Arc<Zone>) -> Result<Arc<Zone>> {
    match &rule.zone {
        ZonePolicy::FollowDevice => Ok(device.clone()),
        ZonePolicy::Pinned(z) => zones.zone(z),
    }
}

fn check_key(key: &str) -> Result<&str> {
    // `rule:date:slot` or `rule:eEVENT:step`; the rule id is random hex.
    let rule = key.split(':').next().unwrap_or("");
    let ok = key.len() <= 120
        && key.split(':').count() == 3
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-');
    crate::crypto::check_id(rule)?;
    if ok {
        Ok(rule)
    } else {
        Err(Error::invalid(
            "occurrence",
            "not an occurrence key from a plan",
        ))
    }
}

impl Store {
    /// Adds a reminder rule.
    pub fn add_reminder(&self, new: NewReminder) -> Result<Reminder> {
        let new = new.checked()?;
        let id = crate::crypto::random_id()?;
        let mut seed = [0u8; 8];
        crate::crypto::fill_random(&mut seed)?;
        self.save_reminder(id, new, u64::from_be_bytes(seed))
    }

    /// Replaces a rule's content (its id and window seed stay).
    pub fn update_reminder(&self, id: &str, new: NewReminder) -> Result<Reminder> {
        crate::crypto::check_id(id)?;
        let old = self.reminder(id)?;
        self.save_reminder(id.to_owned(), new.checked()?, old.seed)
    }

    fn save_reminder(&self, id: String, new: NewReminder, seed: u64) -> Result<Reminder> {
        self.write(|tx, sealer, ctx| {
            if let ZonePolicy::Pinned(z) = &new.zone {
                ctx.zones.zone(z)?;
            }
            let mut rule = new.into_reminder(id.clone(), 0, seed);
            let rev = put_sealed(
                tx,
                sealer,
                ctx.clock.now_ms(),
                "reminders",
                &id,
                None,
                &encode_reminder(&rule),
            )?;
            rule.revision = rev;
            Ok(rule)
        })
    }

    /// One rule.
    pub fn reminder(&self, id: &str) -> Result<Reminder> {
        crate::crypto::check_id(id)?;
        self.read(|inner| {
            let row = load_row(&inner.conn, &inner.sealer, "reminders", id)?;
            match decode_reminder(id, row.revision, &row.plain) {
                Ok(r) if row.schema == SCHEMA => Ok(r),
                _ => Err(Error::corrupted("reminders", id)),
            }
        })
    }

    /// Every rule, in the order they were added; damaged rules are skipped
    /// and listed in `corrupted`.
    pub fn reminders(&self) -> Result<ReminderList> {
        self.read(|inner| {
            let mut corrupted = Vec::new();
            let reminders = load_rules(&inner.conn, &inner.sealer, &mut corrupted)?;
            Ok(ReminderList {
                reminders,
                corrupted,
            })
        })
    }

    /// Deletes a rule (a tombstone stays for sync).
    pub fn delete_reminder(&self, id: &str) -> Result<()> {
        crate::crypto::check_id(id)?;
        self.write(|tx, sealer, ctx| tombstone(tx, sealer, ctx.clock.now_ms(), "reminders", id))
    }

    /// Records an event that `AfterEvent` rules follow (a treatment session).
    pub fn record_event(&self, kind: &str, at: DateTime<Utc>, zone: &str) -> Result<ReminderEvent> {
        let kind = super::check_event_kind(kind)?;
        let at_ms = crate::bounds::instant("at", at)?;
        let id = crate::crypto::random_id()?;
        self.write(|tx, sealer, ctx| {
            let zone = ctx.zones.zone(zone)?.name().to_owned();
            let e = ReminderEvent {
                id: id.clone(),
                kind,
                at_ms,
                zone,
            };
            put_sealed(
                tx,
                sealer,
                ctx.clock.now_ms(),
                "reminder_events",
                &id,
                None,
                &encode_event(&e),
            )?;
            Ok(e)
        })
    }

    /// Every recorded event, by time (damaged ones are skipped here and
    /// reported by the plan).
    pub fn events(&self) -> Result<Vec<ReminderEvent>> {
        self.read(|inner| {
            let mut v = load_events(&inner.conn, &inner.sealer, &mut Vec::new())?;
            v.sort_by_key(|e| e.at_ms);
            Ok(v)
        })
    }

    /// Sets (or clears, with `None`) the patient's quiet hours.
    pub fn set_quiet_hours(&self, quiet: Option<QuietHours>) -> Result<()> {
        use chrono::Timelike;
        self.write(|tx, sealer, ctx| {
            let mut w = Writer::default();
            match quiet {
                Some(q) => {
                    w.u8(1);
                    w.uvar(u64::from(q.start.hour() * 60 + q.start.minute()));
                    w.uvar(u64::from(q.end.hour() * 60 + q.end.minute()));
                }
                None => w.u8(0),
            }
            put_sealed(
                tx,
                sealer,
                ctx.clock.now_ms(),
                "settings",
                "quiet_hours",
                None,
                &w.finish(),
            )?;
            Ok(())
        })
    }

    /// The patient's quiet hours, if set.
    /// `Corrupted` if the setting is damaged (the plan then uses none).
    pub fn quiet_hours(&self) -> Result<Option<QuietHours>> {
        self.read(|inner| {
            let mut damaged = Vec::new();
            let q = quiet_hours(&inner.conn, &inner.sealer, &mut damaged)?;
            match damaged.pop() {
                Some(record) => Err(Error::Corrupted { record }),
                None => Ok(q),
            }
        })
    }

    /// Records what happened to an occurrence (`due_ms` as in the plan).
    pub fn report_reminder(
        &self,
        occurrence: &str,
        due_ms: i64,
        report: ReminderReport,
    ) -> Result<()> {
        let rule_id = check_key(occurrence)?.to_owned();
        crate::bounds::ms("due", due_ms)?;
        match report {
            ReminderReport::Shown { at_ms }
            | ReminderReport::Done { at_ms }
            | ReminderReport::Skipped { at_ms } => crate::bounds::ms("at", at_ms)?,
            ReminderReport::Snoozed { until_ms } => crate::bounds::ms("snooze", until_ms)?,
        };
        self.write(|tx, sealer, ctx| {
            let known: bool = tx
                .query_row(
                    "SELECT count(*) FROM reminders WHERE id = ?1 AND deleted = 0",
                    [&rule_id],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)?;
            if !known {
                return Err(Error::NotFound {
                    table: "reminders",
                    id: rule_id.clone(),
                });
            }
            // A damaged report of this occurrence is superseded by a new one.
            let existing =
                load_logs(tx, sealer, due_ms, due_ms + 1, &mut Vec::new())?.remove(occurrence);
            let (id, mut state) = match existing {
                Some((id, _, s)) => (id, s),
                None => (
                    crate::crypto::random_id()?,
                    LogState {
                        key: occurrence.to_owned(),
                        reminder_id: rule_id,
                        due_ms,
                        ..Default::default()
                    },
                ),
            };
            match report {
                ReminderReport::Shown { at_ms } => {
                    state.shown_ms = Some(state.shown_ms.map_or(at_ms, |s| s.min(at_ms)))
                }
                ReminderReport::Done { at_ms } => {
                    state.outcome = 1;
                    state.outcome_ms = at_ms;
                    state.snoozed_until = None;
                }
                ReminderReport::Skipped { at_ms } => {
                    state.outcome = 2;
                    state.outcome_ms = at_ms;
                    state.snoozed_until = None;
                }
                ReminderReport::Snoozed { until_ms } => {
                    if until_ms <= due_ms {
                        return Err(Error::invalid(
                            "snooze",
                            "must end after the reminder was due",
                        ));
                    }
                    state.snoozed_until = Some(until_ms);
                }
            }
            let day = due_ms.div_euclid(DAY_MS);
            put_sealed(
                tx,
                sealer,
                ctx.clock.now_ms(),
                "reminder_log",
                &id,
                Some(day),
                &encode_log(&state),
            )?;
            Ok(())
        })
    }

    /// Every occurrence of every enabled rule firing in `[from, to)`, with
    /// rules following the device expanded in `device_zone`.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        device_zone: &str,
    ) -> Result<Vec<Occurrence>> {
        crate::bounds::range(from, to)?;
        self.read(|inner| {
            let device = inner.zones.zone(device_zone)?;
            let mut damaged = Vec::new();
            let rules = load_rules(&inner.conn, &inner.sealer, &mut damaged)?;
            let events = load_events(&inner.conn, &inner.sealer, &mut damaged)?;
            let mut out = Vec::new();
            for r in rules.iter().filter(|r| r.enabled) {
                let z = rule_zone(&inner.zones, r, &device)?;
                out.extend(expand(r, &z, &events, from.timestamp(), to.timestamp()));
            }
            out.sort_by(|a, b| (a.fire_ms, &a.key).cmp(&(b.fire_ms, &b.key)));
            Ok(out)
        })
    }

    /// The notifications the OS should hold from `now` to `now +
    /// horizon_days`, within `limits`, fair across rules, in time order.
    pub fn plan_reminders(
        &self,
        now: DateTime<Utc>,
        device_zone: &str,
        limits: &Limits,
        horizon_days: u32,
    ) -> Result<ReminderPlan> {
        if horizon_days == 0 || horizon_days > MAX_HORIZON_DAYS {
            return Err(Error::invalid(
                "horizon",
                format!("1 to {MAX_HORIZON_DAYS} days"),
            ));
        }
        if !(1..=MAX_PENDING).contains(&limits.max_pending) {
            return Err(Error::invalid("limit", format!("1 to {MAX_PENDING}")));
        }
        if limits.inexact_window_minutes > 24 * 60 {
            return Err(Error::invalid("window", "at most a day"));
        }
        let now_ms = crate::bounds::instant("now", now)?;
        let to_ms = now_ms + i64::from(horizon_days) * DAY_MS;
        self.read(|inner| {
            let device = inner.zones.zone(device_zone)?;
            let mut damaged = Vec::new();
            let rules = load_rules(&inner.conn, &inner.sealer, &mut damaged)?;
            let events = load_events(&inner.conn, &inner.sealer, &mut damaged)?;
            let quiet = quiet_hours(&inner.conn, &inner.sealer, &mut damaged)?;
            // Reports from a week back: snoozes of occurrences already due.
            let logs = load_logs(
                &inner.conn,
                &inner.sealer,
                now_ms - 7 * DAY_MS,
                to_ms,
                &mut damaged,
            )?;
            let mut candidates = Vec::new();
            for r in rules.iter().filter(|r| r.enabled) {
                let z = rule_zone(&inner.zones, r, &device)?;
                let occ = expand(r, &z, &events, (now_ms - 7 * DAY_MS) / 1000, to_ms / 1000);
                let mut seq = 0u32;
                for (i, o) in occ.iter().enumerate() {
                    let state = logs.get(&o.key).map(|(_, _, s)| s);
                    if state.is_some_and(|s| s.outcome != 0) {
                        continue;
                    }
                    let fire = match state.and_then(|s| s.snoozed_until) {
                        Some(until) => until,
                        None => o.fire_ms,
                    };
                    if fire < now_ms || fire >= to_ms {
                        continue;
                    }
                    let next = occ.get(i + 1).map(|n| n.fire_ms);
                    let Some(fire) = apply_quiet(fire, next, r.quiet, quiet.as_ref(), &device)
                    else {
                        continue;
                    };
                    let off = if fire == o.fire_ms {
                        o.utc_offset_seconds
                    } else {
                        z.offset_at(fire)
                    };
                    candidates.push(Candidate {
                        occ: Occurrence { seq, ..o.clone() },
                        fire_ms: fire,
                        offset: off,
                    });
                    seq += 1;
                }
            }
            Ok(ReminderPlan {
                notifications: select(candidates, &rules, limits),
                corrupted: damaged,
            })
        })
    }

    /// Adherence per rule and per category for occurrences due in
    /// `[from, min(to, now))`.
    pub fn adherence(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        device_zone: &str,
    ) -> Result<AdherenceReport> {
        let now_ms = crate::bounds::instant("now", now)?;
        crate::bounds::instant("to", to)?;
        if to < from {
            return Err(Error::invalid("to", "must not be before from"));
        }
        // Nothing is due after now: a range reaching past it ends there.
        let end = to.min(now);
        crate::bounds::range(from, end.max(from))?;
        self.read(|inner| {
            let device = inner.zones.zone(device_zone)?;
            let mut damaged = Vec::new();
            let rules = load_rules(&inner.conn, &inner.sealer, &mut damaged)?;
            let events = load_events(&inner.conn, &inner.sealer, &mut damaged)?;
            let logs = load_logs(
                &inner.conn,
                &inner.sealer,
                from.timestamp_millis(),
                end.timestamp_millis(),
                &mut damaged,
            )?;
            let mut by_rule: Vec<Adherence> = Vec::new();
            let mut by_cat: HashMap<Category, Adherence> = HashMap::new();
            // Paused rules planned nothing, so they owe nothing.
            for r in rules.iter().filter(|r| r.enabled) {
                let z = rule_zone(&inner.zones, r, &device)?;
                let mut a = Adherence {
                    key: r.id.clone(),
                    ..Default::default()
                };
                for o in expand(r, &z, &events, from.timestamp(), end.timestamp()) {
                    a.due += 1;
                    let state = logs.get(&o.key).map(|(_, _, s)| s);
                    match state.and_then(|s| s.shown_ms) {
                        Some(shown) => {
                            a.shown += 1;
                            if shown - o.fire_ms > LATE_AFTER_MS {
                                a.late += 1;
                            }
                        }
                        None => a.not_shown += 1,
                    }
                    match state.map_or(0, |s| s.outcome) {
                        1 => a.done += 1,
                        2 => a.skipped += 1,
                        _ => {
                            let grace = i64::from(r.grace_minutes) * 60_000;
                            let snoozed = state.and_then(|s| s.snoozed_until).unwrap_or(o.fire_ms);
                            if now_ms > snoozed.max(o.fire_ms) + grace {
                                a.missed += 1;
                            }
                        }
                    }
                }
                let c = by_cat.entry(r.category).or_insert_with(|| Adherence {
                    key: r.category.as_str().to_owned(),
                    ..Default::default()
                });
                c.due += a.due;
                c.shown += a.shown;
                c.late += a.late;
                c.not_shown += a.not_shown;
                c.done += a.done;
                c.skipped += a.skipped;
                c.missed += a.missed;
                by_rule.push(a);
            }
            let mut cats: Vec<Adherence> = by_cat.into_values().collect();
            cats.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(AdherenceReport {
                by_rule,
                by_category: cats,
                corrupted: damaged,
            })
        })
    }
}
