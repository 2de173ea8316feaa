//! Reminders: [`Reminders`], its rules, schedules, platform limits, plans
//! and their diff, reports, adherence and events.

use crate::error::Result;
use crate::journal::Journal;
use crate::values::{RecordRef, date_in, ms_in, time_in, time_out, times_in, times_out};
use cairn_core as core;
use core::reminders as rem;
use std::sync::Arc;

/// What a reminder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderCategory {
    /// A mood or symptom check-in.
    CheckIn,
    /// A medication dose.
    Medication,
    /// A journaling prompt.
    Journaling,
    /// A step of the coping plan.
    CopingStep,
    /// A routine after a treatment session.
    PostSession,
    /// An appointment.
    Appointment,
}

impl From<rem::Category> for ReminderCategory {
    fn from(c: rem::Category) -> Self {
        match c {
            rem::Category::CheckIn => Self::CheckIn,
            rem::Category::Medication => Self::Medication,
            rem::Category::Journaling => Self::Journaling,
            rem::Category::CopingStep => Self::CopingStep,
            rem::Category::PostSession => Self::PostSession,
            rem::Category::Appointment => Self::Appointment,
        }
    }
}

impl From<ReminderCategory> for rem::Category {
    fn from(c: ReminderCategory) -> Self {
        match c {
            ReminderCategory::CheckIn => Self::CheckIn,
            ReminderCategory::Medication => Self::Medication,
            ReminderCategory::Journaling => Self::Journaling,
            ReminderCategory::CopingStep => Self::CopingStep,
            ReminderCategory::PostSession => Self::PostSession,
            ReminderCategory::Appointment => Self::Appointment,
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

const WEEKDAYS: [(Weekday, chrono::Weekday); 7] = [
    (Weekday::Mon, chrono::Weekday::Mon),
    (Weekday::Tue, chrono::Weekday::Tue),
    (Weekday::Wed, chrono::Weekday::Wed),
    (Weekday::Thu, chrono::Weekday::Thu),
    (Weekday::Fri, chrono::Weekday::Fri),
    (Weekday::Sat, chrono::Weekday::Sat),
    (Weekday::Sun, chrono::Weekday::Sun),
];

fn weekday_in(w: Weekday) -> chrono::Weekday {
    WEEKDAYS
        .iter()
        .find(|(a, _)| *a == w)
        .map(|(_, b)| *b)
        .unwrap_or(chrono::Weekday::Mon)
}

fn weekday_out(w: chrono::Weekday) -> Weekday {
    WEEKDAYS
        .iter()
        .find(|(_, b)| *b == w)
        .map(|(a, _)| *a)
        .unwrap_or(Weekday::Mon)
}

/// One step after an event.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderStep {
    /// Minutes after the event.
    After {
        /// Minutes (at most 30 days).
        minutes: u32,
    },
    /// On the `day`-th local day after the event's (0 = that day) at `time`.
    DayAt {
        /// Days after (at most 365).
        day: u16,
        /// Wall-clock time, `HH:MM`.
        time: String,
    },
}

/// When a reminder fires. Times are wall-clock `HH:MM`; dates `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderSchedule {
    /// Every day at each time.
    Daily {
        /// Times.
        times: Vec<String>,
    },
    /// On the chosen weekdays at each time.
    Weekly {
        /// Weekdays.
        days: Vec<Weekday>,
        /// Times.
        times: Vec<String>,
    },
    /// Every `n` days from the start date.
    EveryNDays {
        /// Interval (1-365).
        n: u16,
        /// Times.
        times: Vec<String>,
    },
    /// On a day of each month (a month without it uses its last day).
    MonthDay {
        /// Day 1-31.
        day: u8,
        /// Times.
        times: Vec<String>,
    },
    /// Once.
    Once {
        /// Date.
        date: String,
        /// Time.
        time: String,
    },
    /// Once a day at a reproducible random minute in `[from, to)`.
    Window {
        /// Start.
        from: String,
        /// End (exclusive).
        to: String,
        /// Weekdays, or every day when empty.
        days: Vec<Weekday>,
    },
    /// After each recorded event of a kind (a treatment session).
    AfterEvent {
        /// Event kind (`infusion`).
        event: String,
        /// Steps.
        steps: Vec<ReminderStep>,
    },
}

impl ReminderSchedule {
    fn into_core(self) -> Result<rem::Schedule> {
        Ok(match self {
            Self::Daily { times } => rem::Schedule::Daily {
                times: times_in(&times)?,
            },
            Self::Weekly { days, times } => rem::Schedule::Weekly {
                days: days.into_iter().map(weekday_in).collect(),
                times: times_in(&times)?,
            },
            Self::EveryNDays { n, times } => rem::Schedule::EveryNDays {
                n,
                times: times_in(&times)?,
            },
            Self::MonthDay { day, times } => rem::Schedule::MonthDay {
                day,
                times: times_in(&times)?,
            },
            Self::Once { date, time } => rem::Schedule::Once {
                date: date_in("date", &date)?,
                time: time_in(&time)?,
            },
            Self::Window { from, to, days } => rem::Schedule::Window {
                from: time_in(&from)?,
                to: time_in(&to)?,
                days: days.into_iter().map(weekday_in).collect(),
            },
            Self::AfterEvent { event, steps } => rem::Schedule::AfterEvent {
                event,
                steps: steps
                    .into_iter()
                    .map(|s| {
                        Ok(match s {
                            ReminderStep::After { minutes } => rem::Step::After { minutes },
                            ReminderStep::DayAt { day, time } => rem::Step::DayAt {
                                day,
                                time: time_in(&time)?,
                            },
                        })
                    })
                    .collect::<Result<_>>()?,
            },
        })
    }

    fn from_core(s: rem::Schedule) -> Self {
        match s {
            rem::Schedule::Daily { times } => Self::Daily {
                times: times_out(&times),
            },
            rem::Schedule::Weekly { days, times } => Self::Weekly {
                days: days.into_iter().map(weekday_out).collect(),
                times: times_out(&times),
            },
            rem::Schedule::EveryNDays { n, times } => Self::EveryNDays {
                n,
                times: times_out(&times),
            },
            rem::Schedule::MonthDay { day, times } => Self::MonthDay {
                day,
                times: times_out(&times),
            },
            rem::Schedule::Once { date, time } => Self::Once {
                date: date.to_string(),
                time: time_out(time),
            },
            rem::Schedule::Window { from, to, days } => Self::Window {
                from: time_out(from),
                to: time_out(to),
                days: days.into_iter().map(weekday_out).collect(),
            },
            rem::Schedule::AfterEvent { event, steps } => Self::AfterEvent {
                event,
                steps: steps
                    .into_iter()
                    .map(|s| match s {
                        rem::Step::After { minutes } => ReminderStep::After { minutes },
                        rem::Step::DayAt { day, time } => ReminderStep::DayAt {
                            day,
                            time: time_out(time),
                        },
                    })
                    .collect(),
            },
        }
    }
}

/// Inside the patient's quiet hours, a reminder is...
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum QuietPolicy {
    /// ...moved to their end.
    Defer,
    /// ...dropped.
    Skip,
    /// ...shown anyway.
    Ignore,
}

/// A reminder rule to add, or the new content of one.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewReminder {
    /// What it is for.
    pub category: ReminderCategory,
    /// When it fires.
    pub schedule: ReminderSchedule,
    /// First local date, `YYYY-MM-DD`.
    pub start: String,
    /// An IANA zone to pin the times to; none follows the device's zone.
    #[uniffi(default = None)]
    pub zone: Option<String>,
    /// Last local date.
    #[uniffi(default = None)]
    pub end: Option<String>,
    /// At most this many occurrences.
    #[uniffi(default = None)]
    pub count: Option<u32>,
    /// A title (sealed; on the lock screen only with `show_title`).
    #[uniffi(default = None)]
    pub title: Option<String>,
    /// Show the title on the lock screen instead of generic text.
    #[uniffi(default = false)]
    pub show_title: bool,
    /// Inside quiet hours (none: defer).
    #[uniffi(default = None)]
    pub quiet: Option<QuietPolicy>,
    /// Minutes before an unacknowledged occurrence is missed.
    #[uniffi(default = 60)]
    pub grace_minutes: u32,
    /// Paused rules plan nothing.
    #[uniffi(default = true)]
    pub enabled: bool,
}

impl NewReminder {
    fn into_core(self) -> Result<rem::NewReminder> {
        Ok(rem::NewReminder {
            category: self.category.into(),
            title: self.title,
            schedule: self.schedule.into_core()?,
            zone: match self.zone {
                Some(z) => rem::ZonePolicy::Pinned(z),
                None => rem::ZonePolicy::FollowDevice,
            },
            start: date_in("start", &self.start)?,
            end: self.end.map(|e| date_in("end", &e)).transpose()?,
            count: self.count,
            quiet: match self.quiet.unwrap_or(QuietPolicy::Defer) {
                QuietPolicy::Defer => rem::QuietPolicy::Defer,
                QuietPolicy::Skip => rem::QuietPolicy::Skip,
                QuietPolicy::Ignore => rem::QuietPolicy::Ignore,
            },
            grace_minutes: self.grace_minutes,
            show_title: self.show_title,
            enabled: self.enabled,
        })
    }
}

/// A stored reminder rule.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Reminder {
    /// Random id.
    pub id: String,
    /// 1, plus one per change.
    pub revision: i64,
    /// What it is for.
    pub category: ReminderCategory,
    /// When it fires.
    pub schedule: ReminderSchedule,
    /// First local date.
    pub start: String,
    /// Pinned zone, or none for the device's.
    pub zone: Option<String>,
    /// Last local date.
    pub end: Option<String>,
    /// Occurrence limit.
    pub count: Option<u32>,
    /// Title.
    pub title: Option<String>,
    /// Title on the lock screen.
    pub show_title: bool,
    /// Inside quiet hours.
    pub quiet: QuietPolicy,
    /// Grace minutes.
    pub grace_minutes: u32,
    /// Enabled.
    pub enabled: bool,
}

impl From<rem::Reminder> for Reminder {
    fn from(r: rem::Reminder) -> Self {
        Reminder {
            id: r.id,
            revision: r.revision,
            category: r.category.into(),
            schedule: ReminderSchedule::from_core(r.schedule),
            start: r.start.to_string(),
            zone: match r.zone {
                rem::ZonePolicy::Pinned(z) => Some(z),
                rem::ZonePolicy::FollowDevice => None,
            },
            end: r.end.map(|e| e.to_string()),
            count: r.count,
            title: r.title,
            show_title: r.show_title,
            quiet: match r.quiet {
                rem::QuietPolicy::Defer => QuietPolicy::Defer,
                rem::QuietPolicy::Skip => QuietPolicy::Skip,
                rem::QuietPolicy::Ignore => QuietPolicy::Ignore,
            },
            grace_minutes: r.grace_minutes,
            enabled: r.enabled,
        }
    }
}

/// What the platform allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PlatformLimits {
    /// Most notifications the OS may hold (iOS: 64).
    pub max_pending: u32,
    /// Exact alarms allowed (Android: `SCHEDULE_EXACT_ALARM` granted).
    pub exact_alarms: bool,
    /// Width of inexact delivery windows (at least 10 minutes).
    pub inexact_window_minutes: u32,
}

impl From<PlatformLimits> for rem::Limits {
    fn from(l: PlatformLimits) -> Self {
        rem::Limits {
            max_pending: l.max_pending,
            exact_alarms: l.exact_alarms,
            inexact_window_minutes: l.inexact_window_minutes,
        }
    }
}

/// iOS: at most 64 pending notifications, delivered on time.
#[uniffi::export]
pub fn ios_limits() -> Result<PlatformLimits> {
    let l = rem::Limits::IOS;
    Ok(PlatformLimits {
        max_pending: l.max_pending,
        exact_alarms: true,
        inexact_window_minutes: l.inexact_window_minutes,
    })
}

/// Android: exact alarms if the app may schedule them, else inexact windows.
#[uniffi::export]
pub fn android_limits(exact_alarms_allowed: bool) -> Result<PlatformLimits> {
    let l = if exact_alarms_allowed {
        rem::Limits::ANDROID_EXACT
    } else {
        rem::Limits::ANDROID_INEXACT
    };
    Ok(PlatformLimits {
        max_pending: l.max_pending,
        exact_alarms: l.exact_alarms,
        inexact_window_minutes: l.inexact_window_minutes,
    })
}

/// One notification for the OS. Its text is generic unless the patient
/// chose to show a title; never patient content.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedNotification {
    /// Stable id (use it as the OS notification id).
    pub id: String,
    /// The rule.
    pub reminder_id: String,
    /// The occurrence key, for `report`.
    pub occurrence: String,
    /// When it was due, ms (pass to `report`).
    pub due_ms: i64,
    /// When to show it, ms.
    pub fire_at_ms: i64,
    /// UTC offset in force then, seconds.
    pub utc_offset_seconds: i32,
    /// Category.
    pub category: ReminderCategory,
    /// Lock-screen title.
    pub title: String,
    /// Lock-screen body.
    pub body: String,
    /// Exact, or within `window_minutes` after `fire_at_ms`.
    pub exact: bool,
    /// Delivery window when not exact.
    pub window_minutes: u32,
}

impl From<rem::PlannedNotification> for PlannedNotification {
    fn from(n: rem::PlannedNotification) -> Self {
        PlannedNotification {
            id: n.id,
            reminder_id: n.reminder_id,
            occurrence: n.occurrence,
            due_ms: n.due_ms,
            fire_at_ms: n.fire_at_ms,
            utc_offset_seconds: n.utc_offset_seconds,
            category: n.category.into(),
            title: n.title,
            body: n.body,
            exact: n.exact,
            window_minutes: n.window_minutes,
        }
    }
}

impl From<PlannedNotification> for rem::PlannedNotification {
    fn from(n: PlannedNotification) -> Self {
        rem::PlannedNotification {
            id: n.id,
            reminder_id: n.reminder_id,
            occurrence: n.occurrence,
            due_ms: n.due_ms,
            fire_at_ms: n.fire_at_ms,
            utc_offset_seconds: n.utc_offset_seconds,
            category: n.category.into(),
            title: n.title,
            body: n.body,
            exact: n.exact,
            window_minutes: n.window_minutes,
        }
    }
}

/// What to change in the OS.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlanDiff {
    /// Notifications to schedule.
    pub add: Vec<PlannedNotification>,
    /// Notification ids to cancel.
    pub remove: Vec<String>,
}

/// The prefix of every notification id Cairn plans (`cairn-`), so a shell
/// can tell its reminders apart from the app's other notifications.
#[uniffi::export]
pub fn notification_id_prefix() -> Result<String> {
    Ok(rem::NOTIFICATION_ID_PREFIX.to_owned())
}

/// Compares a plan with the notification ids the OS holds now.
#[uniffi::export]
pub fn diff_plan(plan: Vec<PlannedNotification>, held_ids: Vec<String>) -> Result<PlanDiff> {
    let plan: Vec<rem::PlannedNotification> = plan.into_iter().map(Into::into).collect();
    let d = rem::diff_plan(&plan, &held_ids);
    Ok(PlanDiff {
        add: d.add.into_iter().map(Into::into).collect(),
        remove: d.remove,
    })
}

/// What happened to an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderReport {
    /// The OS showed it.
    Shown {
        /// When, ms.
        at_ms: i64,
    },
    /// Done.
    Done {
        /// When, ms.
        at_ms: i64,
    },
    /// Skipped on purpose.
    Skipped {
        /// When, ms.
        at_ms: i64,
    },
    /// Snoozed.
    Snoozed {
        /// Show again at, ms.
        until_ms: i64,
    },
}

/// Adherence for one rule or category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Adherence {
    /// Rule id or category name.
    pub key: String,
    /// Occurrences due.
    pub due: u32,
    /// Shown by the OS.
    pub shown: u32,
    /// Shown more than 5 minutes late.
    pub late: u32,
    /// Never reported shown.
    pub not_shown: u32,
    /// Done.
    pub done: u32,
    /// Skipped.
    pub skipped: u32,
    /// Missed (grace period passed).
    pub missed: u32,
}

impl From<rem::Adherence> for Adherence {
    fn from(a: rem::Adherence) -> Self {
        Adherence {
            key: a.key,
            due: a.due,
            shown: a.shown,
            late: a.late,
            not_shown: a.not_shown,
            done: a.done,
            skipped: a.skipped,
            missed: a.missed,
        }
    }
}

/// Adherence per rule and per category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdherenceReport {
    /// Per rule.
    pub rules: Vec<Adherence>,
    /// Per category.
    pub categories: Vec<Adherence>,
    /// Damaged records skipped (ids only): log them.
    pub corrupted: Vec<RecordRef>,
}

/// Every rule, and the damaged ones that were skipped.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderList {
    /// The rules that opened, in the order they were added.
    pub reminders: Vec<Reminder>,
    /// Damaged records skipped (ids only): log them; the rest works.
    pub corrupted: Vec<RecordRef>,
}

/// The notifications the OS should hold, and the damaged records skipped
/// while planning them. Schedule every notification; log `corrupted`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReminderPlan {
    /// In time order, fair across rules, within the limits.
    pub notifications: Vec<PlannedNotification>,
    /// Damaged rules, events, reports or settings (ids only): every good
    /// rule is still planned.
    pub corrupted: Vec<RecordRef>,
}

/// Quiet hours in the device's zone (`22:00`-`07:00` wraps midnight).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuietHours {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`.
    pub end: String,
}

/// A recorded event (a treatment session).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderEvent {
    /// Random id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// When, ms.
    pub at_ms: i64,
    /// IANA zone.
    pub zone: String,
}

impl From<rem::ReminderEvent> for ReminderEvent {
    fn from(e: rem::ReminderEvent) -> Self {
        ReminderEvent {
            id: e.id,
            kind: e.kind,
            at_ms: e.at_ms,
            zone: e.zone,
        }
    }
}

/// One computed occurrence.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Occurrence {
    /// Key.
    pub key: String,
    /// Rule.
    pub reminder_id: String,
    /// When it fires, ms.
    pub fire_ms: i64,
    /// UTC offset then, seconds.
    pub utc_offset_seconds: i32,
}

/// The patient's reminders: rules, the plan for the OS, reports and
/// adherence. Shares its journal's store (closing the journal closes it).
#[derive(uniffi::Object)]
pub struct Reminders {
    journal: Arc<Journal>,
}

#[uniffi::export]
impl Journal {
    /// The reminders kept in this journal's store.
    pub fn reminders(self: Arc<Self>) -> Result<Arc<Reminders>> {
        self.store()?;
        Ok(Arc::new(Reminders { journal: self }))
    }
}

#[uniffi::export]
impl Reminders {
    /// Adds a rule.
    pub fn add(&self, reminder: NewReminder) -> Result<Reminder> {
        Ok(self
            .journal
            .store()?
            .add_reminder(reminder.into_core()?)?
            .into())
    }

    /// Replaces a rule's content.
    pub fn update(&self, id: String, reminder: NewReminder) -> Result<Reminder> {
        Ok(self
            .journal
            .store()?
            .update_reminder(&id, reminder.into_core()?)?
            .into())
    }

    /// One rule.
    pub fn get(&self, id: String) -> Result<Reminder> {
        Ok(self.journal.store()?.reminder(&id)?.into())
    }

    /// Every rule; damaged ones are skipped and listed in `corrupted`.
    pub fn list(&self) -> Result<ReminderList> {
        let list = self.journal.store()?.reminders()?;
        Ok(ReminderList {
            reminders: list.reminders.into_iter().map(Into::into).collect(),
            corrupted: list.corrupted.into_iter().map(Into::into).collect(),
        })
    }

    /// Deletes a rule.
    pub fn delete(&self, id: String) -> Result<()> {
        Ok(self.journal.store()?.delete_reminder(&id)?)
    }

    /// Records an event (a treatment session) that post-session rules follow.
    pub fn record_event(&self, kind: String, at_ms: i64, zone: String) -> Result<ReminderEvent> {
        Ok(self
            .journal
            .store()?
            .record_event(&kind, ms_in("at_ms", at_ms)?, &zone)?
            .into())
    }

    /// Every recorded event.
    pub fn events(&self) -> Result<Vec<ReminderEvent>> {
        Ok(self
            .journal
            .store()?
            .events()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sets, or clears with none, the quiet hours.
    pub fn set_quiet_hours(&self, quiet: Option<QuietHours>) -> Result<()> {
        let q = match quiet {
            Some(q) => Some(rem::QuietHours {
                start: time_in(&q.start)?,
                end: time_in(&q.end)?,
            }),
            None => None,
        };
        Ok(self.journal.store()?.set_quiet_hours(q)?)
    }

    /// The quiet hours, if set.
    pub fn quiet_hours(&self) -> Result<Option<QuietHours>> {
        Ok(self.journal.store()?.quiet_hours()?.map(|q| QuietHours {
            start: time_out(q.start),
            end: time_out(q.end),
        }))
    }

    /// Reports what happened to a planned occurrence (`occurrence` and
    /// `due_ms` as in the plan).
    pub fn report(&self, occurrence: String, due_ms: i64, report: ReminderReport) -> Result<()> {
        let r = match report {
            ReminderReport::Shown { at_ms } => rem::ReminderReport::Shown { at_ms },
            ReminderReport::Done { at_ms } => rem::ReminderReport::Done { at_ms },
            ReminderReport::Skipped { at_ms } => rem::ReminderReport::Skipped { at_ms },
            ReminderReport::Snoozed { until_ms } => rem::ReminderReport::Snoozed { until_ms },
        };
        Ok(self
            .journal
            .store()?
            .report_reminder(&occurrence, due_ms, r)?)
    }

    /// The notifications the OS should hold from `now_ms` for `horizon_days`
    /// (1-62), in time order, fair across rules within `limits`. Apply it
    /// with `diff_plan` at app start, after boot, after a zone change and
    /// after each report. A damaged record is skipped and listed in
    /// `corrupted`; every good rule is still planned.
    pub fn plan(
        &self,
        now_ms: i64,
        device_zone: String,
        limits: PlatformLimits,
        horizon_days: u32,
    ) -> Result<ReminderPlan> {
        let plan = self.journal.store()?.plan_reminders(
            ms_in("now_ms", now_ms)?,
            &device_zone,
            &limits.into(),
            horizon_days,
        )?;
        Ok(ReminderPlan {
            notifications: plan.notifications.into_iter().map(Into::into).collect(),
            corrupted: plan.corrupted.into_iter().map(Into::into).collect(),
        })
    }

    /// Every occurrence firing in `[from_ms, to_ms)` (at most 400 days).
    pub fn occurrences(
        &self,
        from_ms: i64,
        to_ms: i64,
        device_zone: String,
    ) -> Result<Vec<Occurrence>> {
        Ok(self
            .journal
            .store()?
            .occurrences(
                ms_in("from_ms", from_ms)?,
                ms_in("to_ms", to_ms)?,
                &device_zone,
            )?
            .into_iter()
            .map(|o| Occurrence {
                key: o.key,
                reminder_id: o.reminder_id,
                fire_ms: o.fire_ms,
                utc_offset_seconds: o.utc_offset_seconds,
            })
            .collect())
    }

    /// Adherence for occurrences due in `[from_ms, min(to_ms, now_ms))`.
    pub fn adherence(
        &self,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
        device_zone: String,
    ) -> Result<AdherenceReport> {
        let report = self.journal.store()?.adherence(
            ms_in("from_ms", from_ms)?,
            ms_in("to_ms", to_ms)?,
            ms_in("now_ms", now_ms)?,
            &device_zone,
        )?;
        Ok(AdherenceReport {
            rules: report.by_rule.into_iter().map(Into::into).collect(),
            categories: report.by_category.into_iter().map(Into::into).collect(),
            corrupted: report.corrupted.into_iter().map(Into::into).collect(),
        })
    }
}
