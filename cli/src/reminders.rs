//! `cairn reminders ...`: rules, the OS plan, events, reports, adherence.

use crate::Failure;
use cairn_core::reminders::{
    Category, Limits, NewReminder, PlannedNotification, QuietHours, QuietPolicy, Reminder,
    ReminderReport, Schedule, Step, ZonePolicy, parse_time, parse_weekday,
};
use cairn_core::{Error, Store};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Subcommand)]
pub enum RemindersCommand {
    /// Add a reminder rule; prints its id
    #[command(
        after_help = "SCHEDULES (one of; daily when none is given):\n  --days mon,wed,fri     on those weekdays\n  --every N              every N days from --start\n  --month-day N          on that day of each month (or the month's last day)\n  --once DATE            once, on DATE at the first --at time\n  --window HH:MM-HH:MM   once a day at a reproducible random minute in the window\n  --after-event KIND --step +2h --step day1@09:00 ...\n                         after each recorded event (cairn reminders event KIND)\n\nTIMES follow the device's zone unless --tz pins them to a zone. A time that does\nnot exist on a spring-forward day fires later by the gap's length; one that\nhappens twice fires once, at the first."
    )]
    Add(Box<AddArgs>),
    /// List reminder rules
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete a reminder rule
    Delete {
        /// The rule's id
        id: String,
    },
    /// The notifications the OS should hold next (the plan)
    Plan(PlanArgs),
    /// Record an event that post-session rules follow (a treatment session)
    Event {
        /// Kind, for example infusion
        kind: String,
        /// When it happened (RFC 3339) [default: now]
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// IANA zone [default: TZ, the system zone, UTC]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
    },
    /// Report what happened to a planned occurrence
    Report {
        /// The occurrence key (from the plan's "occurrence")
        occurrence: String,
        /// When it was due (the plan's "due"), RFC 3339
        #[arg(long, value_name = "RFC3339")]
        due: String,
        /// shown, done, skipped, or snooze
        #[arg(value_parser = ["shown", "done", "skipped", "snooze"])]
        what: String,
        /// Snooze length in minutes
        #[arg(long, default_value_t = 10)]
        minutes: u32,
        /// When it happened [default: now]
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Set quiet hours (HH:MM-HH:MM, may wrap midnight) or turn them off
    Quiet {
        /// For example 22:00-07:00, or off
        hours: String,
    },
    /// Adherence per rule and per category
    Adherence {
        /// From this instant or day [default: 30 days ago]
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Up to this instant or day [default: now]
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// The device's zone [default: TZ, the system zone, UTC]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct AddArgs {
    /// A time, HH:MM (repeatable)
    #[arg(long = "at", value_name = "HH:MM")]
    at: Vec<String>,
    /// Weekdays, for example mon,wed,fri
    #[arg(long, value_delimiter = ',', value_name = "DAYS")]
    days: Vec<String>,
    /// Every N days
    #[arg(long, value_name = "N")]
    every: Option<u16>,
    /// A day of the month
    #[arg(long, value_name = "N")]
    month_day: Option<u8>,
    /// Once, on this local date
    #[arg(long, value_name = "DATE")]
    once: Option<String>,
    /// A window, HH:MM-HH:MM
    #[arg(long, value_name = "HH:MM-HH:MM")]
    window: Option<String>,
    /// After each event of this kind
    #[arg(long, value_name = "KIND")]
    after_event: Option<String>,
    /// A step after the event: +2h, +90m, or dayN@HH:MM (repeatable)
    #[arg(long = "step", value_name = "STEP")]
    steps: Vec<String>,
    /// Pin the times to this IANA zone
    #[arg(long, value_name = "ZONE", conflicts_with = "follow_device")]
    tz: Option<String>,
    /// Follow the device's zone (the default)
    #[arg(long)]
    follow_device: bool,
    /// check-in, medication, journaling, coping-step, post-session or appointment
    #[arg(long, default_value = "check-in")]
    kind: String,
    /// A title (sealed; on the lock screen only with --show-title)
    #[arg(long)]
    title: Option<String>,
    /// Show the title on the lock screen instead of generic text
    #[arg(long)]
    show_title: bool,
    /// First local date [default: today]
    #[arg(long, value_name = "DATE")]
    start: Option<String>,
    /// Last local date
    #[arg(long, value_name = "DATE")]
    end: Option<String>,
    /// At most this many occurrences
    #[arg(long)]
    count: Option<u32>,
    /// In quiet hours: defer, skip or ignore
    #[arg(long, default_value = "defer", value_parser = ["defer", "skip", "ignore"])]
    quiet: String,
    /// Minutes before an unacknowledged reminder counts as missed
    #[arg(long, default_value_t = 60)]
    grace: u32,
}

#[derive(Args)]
pub struct PlanArgs {
    /// Plan from this instant, RFC 3339 [default: now]
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// The device's IANA zone [default: TZ, the system zone, UTC]
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Most notifications the OS may hold (iOS: 64)
    #[arg(long, default_value_t = 64)]
    limit: u32,
    /// How many days ahead
    #[arg(long, default_value_t = 7)]
    horizon_days: u32,
    /// Exact alarms are not allowed (Android 14+ default): plan delivery windows
    #[arg(long)]
    inexact: bool,
    /// Print JSON (an array of notifications)
    #[arg(long)]
    json: bool,
}

fn bad(field: &'static str, reason: &str) -> Failure {
    Error::InvalidInput {
        field,
        reason: reason.into(),
    }
    .into()
}

fn date(s: &str, field: &'static str) -> Result<NaiveDate, Failure> {
    s.trim()
        .parse()
        .map_err(|_| bad(field, "expected a date, YYYY-MM-DD"))
}

fn instant(s: Option<&str>, field: &'static str) -> Result<DateTime<Utc>, Failure> {
    match s {
        None => Ok(Utc::now()),
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                bad(
                    field,
                    "expected an RFC 3339 time such as 2026-11-27T08:30:00+01:00",
                )
            }),
    }
}

fn parse_step(s: &str) -> Result<Step, Failure> {
    let s = s.trim().to_ascii_lowercase();
    if let Some(rest) = s.strip_prefix('+') {
        let minutes = cairn_core::parse_minutes(rest).map_err(Failure::from)?;
        return Ok(Step::After { minutes });
    }
    if let Some((day, time)) = s.strip_prefix("day").and_then(|r| r.split_once('@')) {
        let day: u16 = day
            .parse()
            .map_err(|_| bad("step", "expected +2h, +90m or dayN@HH:MM"))?;
        return Ok(Step::DayAt {
            day,
            time: parse_time(time)?,
        });
    }
    Err(bad("step", "expected +2h, +90m or dayN@HH:MM"))
}

pub fn today_in(zone: &str) -> Result<NaiveDate, Failure> {
    let db = cairn_core::ZoneDb::system();
    let z = db.zone(zone)?;
    let now = Utc::now().timestamp_millis();
    Ok(
        DateTime::from_timestamp_millis(now + i64::from(z.offset_at(now)) * 1000)
            .unwrap_or_default()
            .date_naive(),
    )
}

fn build(a: &AddArgs) -> Result<NewReminder, Failure> {
    let times =
        a.at.iter()
            .map(|t| parse_time(t))
            .collect::<Result<Vec<_>, _>>()?;
    let chosen = [
        !a.days.is_empty(),
        a.every.is_some(),
        a.month_day.is_some(),
        a.once.is_some(),
        a.window.is_some(),
        a.after_event.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if chosen > 1 {
        return Err(Failure::usage(
            "choose one schedule: --days, --every, --month-day, --once, --window or --after-event",
        ));
    }
    let needs_times = a.window.is_none() && a.after_event.is_none();
    if needs_times && times.is_empty() {
        return Err(Failure::usage("give at least one --at HH:MM"));
    }
    let schedule = if !a.days.is_empty() {
        Schedule::Weekly {
            days: a
                .days
                .iter()
                .map(|d| parse_weekday(d))
                .collect::<Result<_, _>>()?,
            times,
        }
    } else if let Some(n) = a.every {
        Schedule::EveryNDays { n, times }
    } else if let Some(day) = a.month_day {
        Schedule::MonthDay { day, times }
    } else if let Some(d) = &a.once {
        Schedule::Once {
            date: date(d, "once")?,
            time: times[0],
        }
    } else if let Some(w) = &a.window {
        let (f, t) = w
            .split_once('-')
            .ok_or_else(|| bad("window", "expected HH:MM-HH:MM"))?;
        Schedule::Window {
            from: parse_time(f)?,
            to: parse_time(t)?,
            days: vec![],
        }
    } else if let Some(kind) = &a.after_event {
        if a.steps.is_empty() {
            return Err(Failure::usage("--after-event needs at least one --step"));
        }
        Schedule::AfterEvent {
            event: kind.clone(),
            steps: a
                .steps
                .iter()
                .map(|s| parse_step(s))
                .collect::<Result<_, _>>()?,
        }
    } else {
        Schedule::Daily { times }
    };
    let zone = match &a.tz {
        Some(z) => ZonePolicy::Pinned(z.clone()),
        None => ZonePolicy::FollowDevice,
    };
    let start = match &a.start {
        Some(s) => date(s, "start")?,
        None => today_in(&match &zone {
            ZonePolicy::Pinned(z) => z.clone(),
            ZonePolicy::FollowDevice => crate::default_zone(),
        })?,
    };
    Ok(NewReminder {
        category: Category::parse(&a.kind)?,
        title: a.title.clone(),
        schedule,
        zone,
        start,
        end: a.end.as_deref().map(|e| date(e, "end")).transpose()?,
        count: a.count,
        quiet: match a.quiet.as_str() {
            "skip" => QuietPolicy::Skip,
            "ignore" => QuietPolicy::Ignore,
            _ => QuietPolicy::Defer,
        },
        grace_minutes: a.grace,
        show_title: a.show_title,
        enabled: true,
    })
}

/// An instant with the UTC offset in force, as RFC 3339.
pub fn with_offset(ms: i64, offset_s: i32) -> String {
    let off = FixedOffset::east_opt(offset_s).unwrap_or(FixedOffset::east_opt(0).expect("zero"));
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&off)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub fn notification_json(n: &PlannedNotification) -> serde_json::Value {
    json!({
        "id": n.id,
        "reminder_id": n.reminder_id,
        "occurrence": n.occurrence,
        "fire_at": with_offset(n.fire_at_ms, n.utc_offset_seconds),
        "due": with_offset(n.due_ms, n.utc_offset_seconds),
        "category": n.category.as_str(),
        "title": n.title,
        "body": n.body,
        "exact": n.exact,
        "window_minutes": n.window_minutes,
    })
}

pub fn describe(r: &Reminder) -> String {
    let times = |ts: &[chrono::NaiveTime]| {
        ts.iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let what = match &r.schedule {
        Schedule::Daily { times: t } => format!("daily at {}", times(t)),
        Schedule::Weekly { days, times: t } => {
            format!(
                "{} at {}",
                days.iter()
                    .map(|d| d.to_string().to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(","),
                times(t)
            )
        }
        Schedule::EveryNDays { n, times: t } => format!("every {n} days at {}", times(t)),
        Schedule::MonthDay { day, times: t } => format!("monthly on day {day} at {}", times(t)),
        Schedule::Once { date, time } => format!("once on {date} at {}", time.format("%H:%M")),
        Schedule::Window { from, to, .. } => format!(
            "daily between {} and {}",
            from.format("%H:%M"),
            to.format("%H:%M")
        ),
        Schedule::AfterEvent { event, steps } => {
            format!("after each {event} ({} steps)", steps.len())
        }
    };
    let zone = match &r.zone {
        ZonePolicy::FollowDevice => "device zone".to_owned(),
        ZonePolicy::Pinned(z) => z.clone(),
    };
    format!("{what}, {zone}")
}

pub fn run(store: &Store, cmd: &RemindersCommand) -> Result<(), Failure> {
    match cmd {
        RemindersCommand::Add(a) => {
            let r = store.add_reminder(build(a)?)?;
            println!("{}", r.id);
        }
        RemindersCommand::List { json } => {
            let list = store.reminders()?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list.reminders).expect("reminders serialise")
                );
            } else {
                for r in &list.reminders {
                    println!(
                        "{}  {:<12}  {}{}",
                        r.id,
                        r.category.as_str(),
                        describe(r),
                        if r.enabled { "" } else { " (paused)" }
                    );
                }
            }
            return crate::skipped_records(&list.corrupted);
        }
        RemindersCommand::Delete { id } => store.delete_reminder(id)?,
        RemindersCommand::Plan(p) => {
            let now = instant(p.now.as_deref(), "now")?;
            let zone = p.tz.clone().unwrap_or_else(crate::default_zone);
            let limits = Limits {
                max_pending: p.limit,
                exact_alarms: !p.inexact,
                inexact_window_minutes: Limits::ANDROID_INEXACT.inexact_window_minutes,
            };
            let plan = store.plan_reminders(now, &zone, &limits, p.horizon_days)?;
            if p.json {
                let v: Vec<_> = plan.notifications.iter().map(notification_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("JSON values serialise")
                );
            } else {
                for n in &plan.notifications {
                    println!(
                        "{}  {:<12}  {}  {}",
                        with_offset(n.fire_at_ms, n.utc_offset_seconds),
                        n.category.as_str(),
                        n.title,
                        n.id
                    );
                }
            }
            return crate::skipped_records(&plan.corrupted);
        }
        RemindersCommand::Event { kind, at, tz } => {
            let e = store.record_event(
                kind,
                instant(at.as_deref(), "at")?,
                tz.as_deref().unwrap_or(&crate::default_zone()),
            )?;
            println!("{}", e.id);
        }
        RemindersCommand::Report {
            occurrence,
            due,
            what,
            minutes,
            at,
        } => {
            let due = instant(Some(due), "due")?.timestamp_millis();
            let at = instant(at.as_deref(), "at")?.timestamp_millis();
            let report = match what.as_str() {
                "shown" => ReminderReport::Shown { at_ms: at },
                "done" => ReminderReport::Done { at_ms: at },
                "skipped" => ReminderReport::Skipped { at_ms: at },
                _ => ReminderReport::Snoozed {
                    until_ms: at.max(due) + i64::from(*minutes) * 60_000,
                },
            };
            store.report_reminder(occurrence, due, report)?;
        }
        RemindersCommand::Quiet { hours } => {
            let q = if hours.trim().eq_ignore_ascii_case("off") {
                None
            } else {
                let (s, e) = hours
                    .split_once('-')
                    .ok_or_else(|| bad("quiet hours", "expected HH:MM-HH:MM or off"))?;
                Some(QuietHours {
                    start: parse_time(s)?,
                    end: parse_time(e)?,
                })
            };
            store.set_quiet_hours(q)?;
        }
        RemindersCommand::Adherence { from, to, tz, json } => {
            let now = Utc::now();
            let parse = |s: &Option<String>,
                         default: DateTime<Utc>,
                         field|
             -> Result<DateTime<Utc>, Failure> {
                match s {
                    None => Ok(default),
                    Some(s) => match s.parse::<NaiveDate>() {
                        Ok(d) => Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
                        Err(_) => instant(Some(s), field),
                    },
                }
            };
            let from = parse(from, now - chrono::Duration::days(30), "from")?;
            let to = parse(to, now, "to")?;
            let zone = tz.clone().unwrap_or_else(crate::default_zone);
            let report = store.adherence(from, to, now, &zone)?;
            let (rules, cats) = (&report.by_rule, &report.by_category);
            if *json {
                println!("{}", json!({ "rules": rules, "categories": cats }));
            } else {
                for a in cats.iter().chain(rules.iter()) {
                    let pct = if a.due > 0 {
                        100.0 * f64::from(a.done) / f64::from(a.due)
                    } else {
                        0.0
                    };
                    println!(
                        "{:<32}  due {:>3}  done {:>3} ({pct:.0}%)  skipped {:>3}  missed {:>3}  shown late {:>3}  never shown {:>3}",
                        a.key, a.due, a.done, a.skipped, a.missed, a.late, a.not_shown
                    );
                }
            }
            return crate::skipped_records(&report.corrupted);
        }
    }
    Ok(())
}
