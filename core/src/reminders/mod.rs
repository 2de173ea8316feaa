//! Reminders: rules, their occurrences, what happened to each, and the plan
//! of notifications the shell hands to the OS. The core computes; the OS
//! delivers. Semantics in docs/reminders.md.

pub(crate) mod expand;
mod plan;
pub(crate) mod store;

pub use expand::local_to_utc;
pub use plan::{Limits, NOTIFICATION_ID_PREFIX, PlanDiff, PlannedNotification, diff_plan};
pub use store::{
    Adherence, AdherenceReport, MAX_HORIZON_DAYS, MAX_PENDING, ReminderList, ReminderPlan,
    ReminderReport,
};

use crate::error::{Error, Result};
use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Serialize;

/// What a reminder is for. Each has generic notification text
/// ([`GENERIC_TEXT`]) shown unless the patient opts in to the rule's title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A mood or symptom check-in.
    CheckIn,
    /// A medication dose.
    Medication,
    /// A journaling prompt.
    Journaling,
    /// A step of the coping plan.
    CopingStep,
    /// A routine after a treatment session (sleep, hydration, journaling).
    PostSession,
    /// An appointment.
    Appointment,
}

/// Lock-screen text per category: generic on purpose, never patient
/// content. Reviewed as data.
pub const GENERIC_TEXT: &[(Category, &str, &str)] = &[
    (
        Category::CheckIn,
        "Time for your check-in",
        "Open Cairn to note how you are doing.",
    ),
    (
        Category::Medication,
        "Reminder",
        "Open Cairn for your reminder.",
    ),
    (
        Category::Journaling,
        "Time to write",
        "Open Cairn for today's journal prompt.",
    ),
    (
        Category::CopingStep,
        "A moment for yourself",
        "Open Cairn for your next step.",
    ),
    (
        Category::PostSession,
        "After your session",
        "Open Cairn for your routine.",
    ),
    (
        Category::Appointment,
        "Upcoming appointment",
        "Open Cairn for the details.",
    ),
];

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::CheckIn,
        Category::Medication,
        Category::Journaling,
        Category::CopingStep,
        Category::PostSession,
        Category::Appointment,
    ];

    /// The generic (title, body) shown on the lock screen.
    pub fn generic_text(self) -> (&'static str, &'static str) {
        GENERIC_TEXT
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, t, b)| (*t, *b))
            .unwrap_or(("Reminder", "Open Cairn for your reminder."))
    }

    /// The category's name as in the CLI and JSON (`check_in`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::CheckIn => "check_in",
            Category::Medication => "medication",
            Category::Journaling => "journaling",
            Category::CopingStep => "coping_step",
            Category::PostSession => "post_session",
            Category::Appointment => "appointment",
        }
    }

    /// Parses a category name (`check-in`, `check_in`, `medication`...).
    pub fn parse(s: &str) -> Result<Category> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| Error::invalid("category", "expected check_in, medication, journaling, coping_step, post_session or appointment"))
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(c: u8) -> Option<Category> {
        Category::ALL.get(c as usize).copied()
    }
}

/// One step after an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `minutes` after the event.
    After {
        /// Minutes after the event (at most 30 days).
        minutes: u32,
    },
    /// On the `day`-th local day after the event's day (0 = that day) at `time`.
    DayAt {
        /// Days after the event's local day (at most 365).
        day: u16,
        /// Wall-clock time.
        time: NaiveTime,
    },
}

/// When a rule fires.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Every day at each time.
    Daily {
        /// Wall-clock times.
        times: Vec<NaiveTime>,
    },
    /// On the chosen weekdays at each time.
    Weekly {
        /// Weekdays.
        #[serde(serialize_with = "ser_weekdays")]
        days: Vec<Weekday>,
        /// Wall-clock times.
        times: Vec<NaiveTime>,
    },
    /// Every `n` days from the start date.
    EveryNDays {
        /// The interval in days (1-365).
        n: u16,
        /// Wall-clock times.
        times: Vec<NaiveTime>,
    },
    /// On a day of each month (months without it use their last day).
    MonthDay {
        /// Day of the month, 1-31.
        day: u8,
        /// Wall-clock times.
        times: Vec<NaiveTime>,
    },
    /// Once.
    Once {
        /// Local date.
        date: NaiveDate,
        /// Wall-clock time.
        time: NaiveTime,
    },
    /// Once a day (or on the chosen weekdays) at a reproducible pseudo-random
    /// minute in `[from, to)`.
    Window {
        /// Earliest time.
        from: NaiveTime,
        /// End of the window (exclusive; after `from`).
        to: NaiveTime,
        /// Weekdays, or every day when empty.
        #[serde(serialize_with = "ser_weekdays")]
        days: Vec<Weekday>,
    },
    /// After each recorded event of a kind.
    AfterEvent {
        /// The event kind (`infusion`, ...).
        event: String,
        /// Steps after each event.
        steps: Vec<Step>,
    },
}

fn ser_weekdays<S: serde::Serializer>(d: &[Weekday], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(d.len()))?;
    for w in d {
        seq.serialize_element(&w.to_string().to_ascii_lowercase())?;
    }
    seq.end()
}

/// Which zone a rule's wall-clock times are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZonePolicy {
    /// The device's current zone: the same wall-clock time wherever the patient is.
    FollowDevice,
    /// A fixed (home) zone.
    Pinned(String),
}

/// What to do with an occurrence inside the patient's quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietPolicy {
    /// Move it to the end of the quiet hours.
    Defer,
    /// Drop it.
    Skip,
    /// Fire anyway (for example a dose that must not move).
    Ignore,
}

/// A rule to add (or the new content of an edited one).
#[derive(Clone, PartialEq, Eq)]
pub struct NewReminder {
    /// What it is for.
    pub category: Category,
    /// A title the patient chose (sealed; shown on the lock screen only if
    /// `show_title` is set).
    pub title: Option<String>,
    /// When it fires.
    pub schedule: Schedule,
    /// Which zone its times are in.
    pub zone: ZonePolicy,
    /// First local date (inclusive).
    pub start: NaiveDate,
    /// Last local date (inclusive), if any.
    pub end: Option<NaiveDate>,
    /// At most this many occurrences, if set.
    pub count: Option<u32>,
    /// Inside quiet hours: defer, skip or ignore.
    pub quiet: QuietPolicy,
    /// Minutes after the fire time before an unacknowledged occurrence is missed.
    pub grace_minutes: u32,
    /// Show the title on the lock screen instead of the generic text.
    pub show_title: bool,
    /// Paused rules plan nothing.
    pub enabled: bool,
}

impl NewReminder {
    /// A rule with the usual defaults: follows the device, starts on
    /// `start`, no end, deferred in quiet hours, 60 minutes of grace,
    /// generic lock-screen text, enabled.
    pub fn new(category: Category, schedule: Schedule, start: NaiveDate) -> Self {
        NewReminder {
            category,
            title: None,
            schedule,
            zone: ZonePolicy::FollowDevice,
            start,
            end: None,
            count: None,
            quiet: QuietPolicy::Defer,
            grace_minutes: 60,
            show_title: false,
            enabled: true,
        }
    }
}

/// A stored rule.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// Random id.
    pub id: String,
    /// 1, plus one per change.
    pub revision: i64,
    /// What it is for.
    pub category: Category,
    /// The patient's title, if any.
    pub title: Option<String>,
    /// When it fires.
    pub schedule: Schedule,
    /// Which zone its times are in.
    pub zone: ZonePolicy,
    /// First local date.
    pub start: NaiveDate,
    /// Last local date.
    pub end: Option<NaiveDate>,
    /// Occurrence limit.
    pub count: Option<u32>,
    /// Quiet-hours policy.
    pub quiet: QuietPolicy,
    /// Grace period in minutes.
    pub grace_minutes: u32,
    /// Title on the lock screen.
    pub show_title: bool,
    /// Enabled.
    pub enabled: bool,
    /// Seed of the window choice (random per rule).
    pub seed: u64,
}

/// An event that `AfterEvent` rules follow (a treatment session).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ReminderEvent {
    /// Random id.
    pub id: String,
    /// Kind (`infusion`, ...): lowercase letters, digits, `_` and `-`.
    pub kind: String,
    /// When it happened, ms since the epoch.
    pub at_ms: i64,
    /// IANA zone the patient was in.
    pub zone: String,
}

/// Quiet hours, in the device's zone; `start > end` wraps midnight.
#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuietHours {
    /// Start (inclusive).
    pub start: NaiveTime,
    /// End (exclusive).
    pub end: NaiveTime,
}

impl QuietHours {
    /// Whether a wall-clock time falls inside.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// One occurrence of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// Stable key: `rule:date:slot` or `rule:event:step`.
    pub key: String,
    /// The rule.
    pub reminder_id: String,
    /// Its position among the rule's occurrences in the expanded range.
    pub seq: u32,
    /// When it fires, ms since the epoch.
    pub fire_ms: i64,
    /// UTC offset in force in the rule's zone then.
    pub utc_offset_seconds: i32,
}

const MAX_TIMES: usize = 24;
const MAX_STEPS: usize = 32;
const MAX_GRACE_MINUTES: u32 = 7 * 24 * 60;

fn check_times(times: &[NaiveTime]) -> Result<()> {
    if times.is_empty() || times.len() > MAX_TIMES {
        return Err(Error::invalid(
            "times",
            format!("give 1 to {MAX_TIMES} times"),
        ));
    }
    Ok(())
}

/// Normalises a wall-clock time to whole minutes.
fn minute(t: NaiveTime) -> NaiveTime {
    use chrono::Timelike;
    NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).expect("valid time")
}

/// Parses `HH:MM`.
pub fn parse_time(s: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| Error::invalid("time", "expected HH:MM (24-hour)"))
}

/// Parses weekday names (`mon`, `Tuesday`, ...).
pub fn parse_weekday(s: &str) -> Result<Weekday> {
    s.trim()
        .parse::<Weekday>()
        .map_err(|_| Error::invalid("weekday", "expected mon, tue, wed, thu, fri, sat or sun"))
}

pub(crate) fn check_event_kind(kind: &str) -> Result<String> {
    let k = kind.trim().to_ascii_lowercase();
    if k.is_empty()
        || k.len() > 32
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid(
            "event kind",
            "1-32 letters, digits, '_' or '-'",
        ));
    }
    Ok(k)
}

impl NewReminder {
    /// The stored rule with this content.
    pub(crate) fn into_reminder(self, id: String, revision: i64, seed: u64) -> Reminder {
        Reminder {
            id,
            revision,
            category: self.category,
            title: self.title,
            schedule: self.schedule,
            zone: self.zone,
            start: self.start,
            end: self.end,
            count: self.count,
            quiet: self.quiet,
            grace_minutes: self.grace_minutes,
            show_title: self.show_title,
            enabled: self.enabled,
            seed,
        }
    }

    /// Validates and normalises (sorted, de-duplicated times and weekdays).
    pub(crate) fn checked(mut self) -> Result<NewReminder> {
        let norm = |times: &mut Vec<NaiveTime>| -> Result<()> {
            for t in times.iter_mut() {
                *t = minute(*t);
            }
            times.sort();
            times.dedup();
            check_times(times)
        };
        let days = |d: &mut Vec<Weekday>| {
            d.sort_by_key(|w| w.num_days_from_monday());
            d.dedup();
        };
        match &mut self.schedule {
            Schedule::Daily { times } => norm(times)?,
            Schedule::Weekly { days: d, times } => {
                norm(times)?;
                days(d);
                if d.is_empty() {
                    return Err(Error::invalid("days", "choose at least one weekday"));
                }
            }
            Schedule::EveryNDays { n, times } => {
                norm(times)?;
                if *n == 0 || *n > 365 {
                    return Err(Error::invalid("every", "between 1 and 365 days"));
                }
            }
            Schedule::MonthDay { day, times } => {
                norm(times)?;
                if *day == 0 || *day > 31 {
                    return Err(Error::invalid("day", "between 1 and 31"));
                }
            }
            Schedule::Once { time, .. } => *time = minute(*time),
            Schedule::Window { from, to, days: d } => {
                *from = minute(*from);
                *to = minute(*to);
                days(d);
                if from >= to {
                    return Err(Error::invalid("window", "the end must be after the start"));
                }
            }
            Schedule::AfterEvent { event, steps } => {
                *event = check_event_kind(event)?;
                if steps.is_empty() || steps.len() > MAX_STEPS {
                    return Err(Error::invalid(
                        "steps",
                        format!("give 1 to {MAX_STEPS} steps"),
                    ));
                }
                for s in steps.iter_mut() {
                    match s {
                        Step::After { minutes } if *minutes > 30 * 24 * 60 => {
                            return Err(Error::invalid("steps", "at most 30 days after the event"));
                        }
                        Step::DayAt { day, .. } if *day > 365 => {
                            return Err(Error::invalid(
                                "steps",
                                "at most 365 days after the event",
                            ));
                        }
                        Step::DayAt { time, .. } => *time = minute(*time),
                        Step::After { .. } => {}
                    }
                }
            }
        }
        if let Schedule::Once { date, .. } = &self.schedule {
            self.start = *date;
        }
        // Far-off dates are typing mistakes, and expansion near the ends of
        // the calendar would overflow.
        let (first, last) = (
            NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date"),
            NaiveDate::from_ymd_opt(2199, 12, 31).expect("valid date"),
        );
        let outside = |d: NaiveDate| d < first || d > last;
        if outside(self.start) {
            // A one-off's start is its date.
            let field = match self.schedule {
                Schedule::Once { .. } => "date",
                _ => "start",
            };
            return Err(Error::invalid(field, "between 1970 and 2199"));
        }
        if self.end.is_some_and(outside) {
            return Err(Error::invalid("end", "between 1970 and 2199"));
        }
        if self.end.is_some_and(|e| e < self.start) {
            return Err(Error::invalid("end", "must not be before the start"));
        }
        if self.count == Some(0) {
            return Err(Error::invalid("count", "must be at least 1"));
        }
        if self.grace_minutes > MAX_GRACE_MINUTES {
            return Err(Error::invalid("grace", "at most 7 days"));
        }
        if let Some(t) = &self.title {
            self.title = crate::trackers::check_text("title", t)?;
            if self.title.as_ref().is_some_and(|t| t.chars().count() > 120) {
                return Err(Error::invalid("title", "at most 120 characters"));
            }
        }
        Ok(self)
    }
}

// --- encoding --------------------------------------------------------------

use crate::codec::{DecodeError, Reader, Writer};

fn put_time(w: &mut Writer, t: NaiveTime) {
    use chrono::Timelike;
    w.uvar(u64::from(t.hour() * 60 + t.minute()));
}

fn get_time(r: &mut Reader<'_>) -> Result<NaiveTime, DecodeError> {
    let m = r.u32var()?;
    if m >= 24 * 60 {
        return Err(DecodeError);
    }
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).ok_or(DecodeError)
}

fn put_times(w: &mut Writer, ts: &[NaiveTime]) {
    w.uvar(ts.len() as u64);
    for t in ts {
        put_time(w, *t);
    }
}

fn get_times(r: &mut Reader<'_>) -> Result<Vec<NaiveTime>, DecodeError> {
    let n = r.count(1)?;
    (0..n).map(|_| get_time(r)).collect()
}

fn put_date(w: &mut Writer, d: NaiveDate) {
    use chrono::Datelike;
    w.ivar(i64::from(d.num_days_from_ce()));
}

fn get_date(r: &mut Reader<'_>) -> Result<NaiveDate, DecodeError> {
    let n = i32::try_from(r.ivar()?).map_err(|_| DecodeError)?;
    NaiveDate::from_num_days_from_ce_opt(n).ok_or(DecodeError)
}

fn put_days(w: &mut Writer, d: &[Weekday]) {
    w.uvar(d.len() as u64);
    for x in d {
        w.u8(x.num_days_from_monday() as u8);
    }
}

fn get_days(r: &mut Reader<'_>) -> Result<Vec<Weekday>, DecodeError> {
    let n = r.count(1)?;
    (0..n)
        .map(|_| Weekday::try_from(r.u8()?).map_err(|_| DecodeError))
        .collect()
}

pub(crate) fn encode_reminder(x: &Reminder) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    w.u8(x.category.code());
    w.opt_str(x.title.as_deref());
    match &x.schedule {
        Schedule::Daily { times } => {
            w.u8(1);
            put_times(&mut w, times);
        }
        Schedule::Weekly { days, times } => {
            w.u8(2);
            put_days(&mut w, days);
            put_times(&mut w, times);
        }
        Schedule::EveryNDays { n, times } => {
            w.u8(3);
            w.uvar(u64::from(*n));
            put_times(&mut w, times);
        }
        Schedule::MonthDay { day, times } => {
            w.u8(4);
            w.u8(*day);
            put_times(&mut w, times);
        }
        Schedule::Once { date, time } => {
            w.u8(5);
            put_date(&mut w, *date);
            put_time(&mut w, *time);
        }
        Schedule::Window { from, to, days } => {
            w.u8(6);
            put_time(&mut w, *from);
            put_time(&mut w, *to);
            put_days(&mut w, days);
        }
        Schedule::AfterEvent { event, steps } => {
            w.u8(7);
            w.str(event);
            w.uvar(steps.len() as u64);
            for s in steps {
                match s {
                    Step::After { minutes } => {
                        w.u8(1);
                        w.uvar(u64::from(*minutes));
                    }
                    Step::DayAt { day, time } => {
                        w.u8(2);
                        w.uvar(u64::from(*day));
                        put_time(&mut w, *time);
                    }
                }
            }
        }
    }
    match &x.zone {
        ZonePolicy::FollowDevice => w.opt_str(None),
        ZonePolicy::Pinned(z) => w.opt_str(Some(z)),
    }
    put_date(&mut w, x.start);
    match x.end {
        Some(d) => {
            w.u8(1);
            put_date(&mut w, d);
        }
        None => w.u8(0),
    }
    w.uvar(u64::from(x.count.unwrap_or(0)));
    w.u8(match x.quiet {
        QuietPolicy::Defer => 0,
        QuietPolicy::Skip => 1,
        QuietPolicy::Ignore => 2,
    });
    w.uvar(u64::from(x.grace_minutes));
    w.u8(u8::from(x.show_title) | u8::from(x.enabled) << 1);
    w.uvar(x.seed);
    w.finish()
}

pub(crate) fn decode_reminder(
    id: &str,
    revision: i64,
    body: &[u8],
) -> Result<Reminder, DecodeError> {
    let mut r = Reader::new(body);
    let category = Category::from_code(r.u8()?).ok_or(DecodeError)?;
    let title = r.opt_str()?;
    let schedule = match r.u8()? {
        1 => Schedule::Daily {
            times: get_times(&mut r)?,
        },
        2 => Schedule::Weekly {
            days: get_days(&mut r)?,
            times: get_times(&mut r)?,
        },
        3 => Schedule::EveryNDays {
            n: u16::try_from(r.uvar()?).map_err(|_| DecodeError)?,
            times: get_times(&mut r)?,
        },
        4 => Schedule::MonthDay {
            day: r.u8()?,
            times: get_times(&mut r)?,
        },
        5 => Schedule::Once {
            date: get_date(&mut r)?,
            time: get_time(&mut r)?,
        },
        6 => Schedule::Window {
            from: get_time(&mut r)?,
            to: get_time(&mut r)?,
            days: get_days(&mut r)?,
        },
        7 => {
            let event = r.str()?;
            let n = r.count(2)?;
            let mut steps = Vec::with_capacity(n);
            for _ in 0..n {
                steps.push(match r.u8()? {
                    1 => Step::After {
                        minutes: r.u32var()?,
                    },
                    2 => Step::DayAt {
                        day: u16::try_from(r.uvar()?).map_err(|_| DecodeError)?,
                        time: get_time(&mut r)?,
                    },
                    _ => return Err(DecodeError),
                });
            }
            Schedule::AfterEvent { event, steps }
        }
        _ => return Err(DecodeError),
    };
    let zone = match r.opt_str()? {
        None => ZonePolicy::FollowDevice,
        Some(z) => ZonePolicy::Pinned(z),
    };
    let start = get_date(&mut r)?;
    let end = if r.bool()? {
        Some(get_date(&mut r)?)
    } else {
        None
    };
    let count = match r.u32var()? {
        0 => None,
        n => Some(n),
    };
    let quiet = match r.u8()? {
        0 => QuietPolicy::Defer,
        1 => QuietPolicy::Skip,
        2 => QuietPolicy::Ignore,
        _ => return Err(DecodeError),
    };
    let grace_minutes = r.u32var()?;
    let flags = r.u8()?;
    let seed = r.uvar()?;
    r.end()?;
    // A rule this build would refuse to write (every 0 days, a window that
    // ends before it starts, a date outside 1970-2199, ...) would make
    // expansion panic or run for years: such a body reads as damaged.
    let show_title = flags & 1 != 0;
    let enabled = flags & 2 != 0;
    NewReminder {
        category,
        title: title.clone(),
        schedule: schedule.clone(),
        zone: zone.clone(),
        start,
        end,
        count,
        quiet,
        grace_minutes,
        show_title,
        enabled,
    }
    .checked()
    .map_err(|_| DecodeError)?;
    Ok(Reminder {
        id: id.to_owned(),
        revision,
        category,
        title,
        schedule,
        zone,
        start,
        end,
        count,
        quiet,
        grace_minutes,
        show_title,
        enabled,
        seed,
    })
}
