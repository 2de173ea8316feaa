//! The `tracker`, `reminder`, `session` and `safety-plan` commands: parsing
//! their options into record bodies ([`cairn_clinic::records`] writes them).

use cairn_clinic::records::{self, find, write};
use cairn_clinic::{Error, Server};
use cairn_core::reminders::{
    Category, QuietPolicy, Reminder, ReminderEvent, Schedule, Step, ZonePolicy, parse_time,
    parse_weekday,
};
use cairn_core::sync::lww;
use cairn_core::sync::messages::{RecordId, kind};
use cairn_core::{PART_NAMES, SAFETY_PLAN_ID, SafetyPlan, Tracker, TrackerKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;

use super::{ReminderCommand, SafetyPlanCommand, SessionCommand, TrackerCommand};

fn usage(e: impl std::fmt::Display) -> Error {
    Error::Usage(e.to_string())
}

fn done(changed: bool, what: &str) {
    if changed {
        println!("{what}");
    } else {
        println!("nothing to change");
    }
}

pub fn tracker(server: &Server, c: TrackerCommand, now: u64) -> Result<(), Error> {
    match c {
        TrackerCommand::Add {
            patient,
            name,
            kind: k,
            min,
            max,
            step,
            min_label,
            max_label,
            max_minutes,
        } => {
            let tk = match k.trim().to_ascii_lowercase().as_str() {
                "scale" => TrackerKind::Scale {
                    min,
                    max,
                    step,
                    min_label,
                    max_label,
                },
                "yes-no" | "yes_no" | "yesno" => TrackerKind::YesNo,
                "count" => TrackerKind::Count,
                "duration" => TrackerKind::Duration { max_minutes },
                "text" => TrackerKind::Text,
                _ => {
                    return Err(usage(
                        "--kind: expected scale, yes-no, count, duration or text",
                    ));
                }
            };
            let id = records::new_id()?;
            let t = Tracker {
                id: id.to_store(),
                name,
                kind: tk,
                builtin: false,
            };
            add(
                server,
                &patient,
                kind::TRACKER,
                &id,
                lww::tracker_body(&t),
                now,
            )?;
            Ok(())
        }
        TrackerCommand::Delete { patient, id } => {
            delete(server, &patient, kind::TRACKER, &id, now)?;
            Ok(())
        }
    }
}

/// Writes a new record and prints its id.
fn add(
    server: &Server,
    patient: &str,
    k: u64,
    id: &RecordId,
    body: Vec<u8>,
    now: u64,
) -> Result<(), Error> {
    write(server, patient, k, id, Some(body), now)?;
    println!("{}", id.to_store());
    Ok(())
}

/// Deletes a record the clinic holds for the patient (given as 32 hex
/// characters).
fn delete(server: &Server, patient: &str, k: u64, id: &str, now: u64) -> Result<(), Error> {
    let id = records::parse_id(id)?;
    existing(server, patient, k, &id)?;
    done(write(server, patient, k, &id, None, now)?, "deleted");
    Ok(())
}

fn existing(server: &Server, patient: &str, k: u64, id: &RecordId) -> Result<Vec<u8>, Error> {
    find(server.storage(), patient, k, id)?
        .and_then(|h| h.body())
        .ok_or_else(|| Error::Runtime("no such record for this patient".into()))
}

fn times(s: &str) -> Result<Vec<chrono::NaiveTime>, Error> {
    s.split(',').map(|t| parse_time(t).map_err(usage)).collect()
}

fn date(s: &str, flag: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| usage(format!("{flag}: expected YYYY-MM-DD")))
}

fn steps(s: &str) -> Result<Vec<Step>, Error> {
    s.split(',')
        .map(|p| {
            let p = p.trim();
            let bad = || usage(format!("--steps: {p:?} is not 30m, 2h or 1d@09:00"));
            if let Some((d, t)) = p.split_once('@') {
                let day = d
                    .strip_suffix('d')
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(bad)?;
                return Ok(Step::DayAt {
                    day,
                    time: parse_time(t).map_err(usage)?,
                });
            }
            let minutes = if let Some(n) = p.strip_suffix('m') {
                n.parse().map_err(|_| bad())?
            } else if let Some(n) = p.strip_suffix('h') {
                n.parse::<u32>()
                    .ok()
                    .and_then(|h| h.checked_mul(60))
                    .ok_or_else(bad)?
            } else {
                return Err(bad());
            };
            Ok(Step::After { minutes })
        })
        .collect()
}

pub fn reminder(server: &Server, c: ReminderCommand, now: u64) -> Result<(), Error> {
    match c {
        ReminderCommand::Add { patient, plan } => {
            let schedule = match (&plan.times, &plan.after_event) {
                (Some(t), None) => match &plan.days {
                    Some(d) => Schedule::Weekly {
                        days: d
                            .split(',')
                            .map(|w| parse_weekday(w).map_err(usage))
                            .collect::<Result<_, _>>()?,
                        times: times(t)?,
                    },
                    None => Schedule::Daily { times: times(t)? },
                },
                (None, Some(e)) => Schedule::AfterEvent {
                    event: e.clone(),
                    steps: steps(plan.steps.as_deref().unwrap_or(""))?,
                },
                _ => {
                    return Err(usage(
                        "give --times (with --days for weekly) or --after-event with --steps",
                    ));
                }
            };
            let start = match &plan.start {
                Some(s) => date(s, "--start")?,
                None => DateTime::<Utc>::from_timestamp_millis(now as i64)
                    .map(|t| t.date_naive())
                    .ok_or_else(|| usage("the clock is out of range"))?,
            };
            let mut seed = [0u8; 8];
            cairn_core::crypto::fill_random(&mut seed)
                .map_err(|_| Error::Runtime("the system random source failed".into()))?;
            let id = records::new_id()?;
            let r = Reminder {
                id: id.to_store(),
                revision: 1,
                category: Category::parse(&plan.category).map_err(usage)?,
                title: plan.title.filter(|t| !t.trim().is_empty()),
                schedule,
                zone: plan
                    .zone
                    .map_or(ZonePolicy::FollowDevice, ZonePolicy::Pinned),
                start,
                end: plan.end.as_deref().map(|e| date(e, "--end")).transpose()?,
                count: None,
                quiet: QuietPolicy::Defer,
                grace_minutes: 60,
                show_title: false,
                enabled: true,
                seed: u64::from_be_bytes(seed),
            };
            add(
                server,
                &patient,
                kind::REMINDER,
                &id,
                lww::reminder_body(&r),
                now,
            )?;
            Ok(())
        }
        ReminderCommand::Set {
            patient,
            id,
            enabled,
            title,
            times: t,
        } => {
            let id = records::parse_id(&id)?;
            let body = existing(server, &patient, kind::REMINDER, &id)?;
            let mut r = lww::reminder_from(&id.to_store(), 1, &body)
                .map_err(|_| Error::Runtime("the stored plan does not read".into()))?;
            if let Some(e) = enabled {
                r.enabled = e;
            }
            if let Some(t) = title {
                r.title = Some(t).filter(|t| !t.trim().is_empty());
            }
            if let Some(t) = t {
                let new = times(&t)?;
                match &mut r.schedule {
                    Schedule::Daily { times } | Schedule::Weekly { times, .. } => *times = new,
                    _ => return Err(usage("--times: this plan has no times of day")),
                }
            }
            let changed = write(
                server,
                &patient,
                kind::REMINDER,
                &id,
                Some(lww::reminder_body(&r)),
                now,
            )?;
            done(changed, "changed");
            Ok(())
        }
        ReminderCommand::Delete { patient, id } => {
            delete(server, &patient, kind::REMINDER, &id, now)?;
            Ok(())
        }
    }
}

pub fn session(server: &Server, c: SessionCommand, now: u64) -> Result<(), Error> {
    match c {
        SessionCommand::Add {
            patient,
            kind: k,
            at,
            zone,
        } => {
            let at = DateTime::parse_from_rfc3339(at.trim())
                .map_err(|_| usage("--at: expected RFC 3339, e.g. 2026-12-01T10:00:00Z"))?;
            let id = records::new_id()?;
            let e = ReminderEvent {
                id: id.to_store(),
                kind: k,
                at_ms: at.timestamp_millis(),
                zone: zone.trim().to_owned(),
            };
            add(
                server,
                &patient,
                kind::TREATMENT_SESSION,
                &id,
                lww::session_body(&e),
                now,
            )?;
            Ok(())
        }
        SessionCommand::Delete { patient, id } => {
            delete(server, &patient, kind::TREATMENT_SESSION, &id, now)?;
            Ok(())
        }
    }
}

fn plan_of(server: &Server, patient: &str) -> Result<SafetyPlan, Error> {
    let id = RecordId::Text(SAFETY_PLAN_ID.into());
    Ok(
        match find(server.storage(), patient, kind::SAFETY_PLAN, &id)?.and_then(|h| h.body()) {
            Some(b) => lww::safety_plan_from(&b).map_err(|e| Error::Runtime(e.to_string()))?,
            None => SafetyPlan::default(),
        },
    )
}

pub fn safety_plan(server: &Server, c: SafetyPlanCommand, now: u64) -> Result<(), Error> {
    match c {
        SafetyPlanCommand::Show { patient, json } => {
            let plan = plan_of(server, &patient)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&plan).expect("JSON values serialise")
                );
            } else {
                print!("{}", plan.to_text(false));
            }
            Ok(())
        }
        SafetyPlanCommand::Set {
            patient,
            part,
            items,
        } => {
            let i = PART_NAMES
                .iter()
                .position(|p| *p == part.trim().to_ascii_lowercase())
                .ok_or_else(|| {
                    usage(format!("--part: expected one of {}", PART_NAMES.join(", ")))
                })?;
            let mut plan = plan_of(server, &patient)?;
            *plan.part_mut(i).expect("0-6") = items;
            let plan = plan.checked().map_err(usage)?;
            let id = RecordId::Text(SAFETY_PLAN_ID.into());
            let changed = write(
                server,
                &patient,
                kind::SAFETY_PLAN,
                &id,
                Some(lww::safety_plan_body(&plan)),
                now,
            )?;
            done(changed, "changed");
            Ok(())
        }
    }
}

/// `records` without --json: one line per record.
pub fn text(all: &Json) -> String {
    let mut out = String::new();
    let list = |k: &str| all[k].as_array().cloned().unwrap_or_default();
    out.push_str("TRACKERS\n");
    for t in list("trackers") {
        out.push_str(&format!(
            "  {}  {}  ({})\n",
            t["id"].as_str().unwrap_or(""),
            t["name"].as_str().unwrap_or(""),
            t["kind"]["kind"].as_str().unwrap_or("")
        ));
    }
    out.push_str("REMINDERS\n");
    for r in list("reminders") {
        out.push_str(&format!(
            "  {}  {}{}\n",
            r["id"].as_str().unwrap_or(""),
            r["category"].as_str().unwrap_or(""),
            if r["enabled"].as_bool() == Some(false) {
                "  (paused)"
            } else {
                ""
            }
        ));
    }
    out.push_str("SESSIONS\n");
    for e in list("sessions") {
        out.push_str(&format!(
            "  {}  {}  {}\n",
            e["id"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            e["at"].as_str().unwrap_or("")
        ));
    }
    out.push_str("SAFETY PLAN\n");
    match serde_json::from_value::<Json>(all["safety_plan"].clone()) {
        Ok(Json::Object(p)) => {
            let n: usize = p.values().filter_map(|v| v.as_array()).map(Vec::len).sum();
            out.push_str(&format!("  {n} items (see `safety-plan show`)\n"));
        }
        _ => out.push_str("  none\n"),
    }
    out
}
