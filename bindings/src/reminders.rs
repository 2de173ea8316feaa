//! Reminders: [`Reminders`], its rules, schedules, platform limits, plans
//! and their diff, reports, adherence and events.

use crate::error::{CairnError, Result};
use crate::journal::{ChangeTable, Journal, JournalChange};
use crate::pool::Pool;
use crate::values::{
    EventId, LocalDay, RecordRef, ReminderId, Timestamp, WallTime, Weekday, ZoneName, count_in,
    day_in, day_out, instant_in, instant_out, ms_in, time_in, time_out, times_in, times_out,
    weekday_in, weekday_out,
};
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

/// One step after an event.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderStep {
    /// Minutes after the event.
    After {
        /// Minutes (at most 30 days).
        minutes: i32,
    },
    /// On the `day`-th local day after the event's (0 = that day) at `time`.
    DayAt {
        /// Days after (at most 365).
        day: i32,
        /// Wall-clock time.
        time: WallTime,
    },
}

/// When a reminder fires. Times are wall-clock times in the rule's zone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderSchedule {
    /// Every day at each time.
    Daily {
        /// Times.
        times: Vec<WallTime>,
    },
    /// On the chosen weekdays at each time.
    Weekly {
        /// Weekdays.
        days: Vec<Weekday>,
        /// Times.
        times: Vec<WallTime>,
    },
    /// Every `n` days from the start date.
    EveryNDays {
        /// Interval (1-365).
        n: i32,
        /// Times.
        times: Vec<WallTime>,
    },
    /// On a day of each month (a month without it uses its last day).
    MonthDay {
        /// Day 1-31.
        day: i32,
        /// Times.
        times: Vec<WallTime>,
    },
    /// Once.
    Once {
        /// Date.
        date: LocalDay,
        /// Time.
        time: WallTime,
    },
    /// Once a day at a reproducible random minute in `[from, to)`.
    Window {
        /// Start.
        from: WallTime,
        /// End (exclusive).
        to: WallTime,
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

fn weekdays_in(days: Vec<Weekday>) -> Result<Vec<chrono::Weekday>> {
    days.into_iter().map(|d| weekday_in("days", d)).collect()
}

impl ReminderSchedule {
    fn into_core(self) -> Result<rem::Schedule> {
        Ok(match self {
            Self::Daily { times } => rem::Schedule::Daily {
                times: times_in("times", &times)?,
            },
            Self::Weekly { days, times } => rem::Schedule::Weekly {
                days: weekdays_in(days)?,
                times: times_in("times", &times)?,
            },
            Self::EveryNDays { n, times } => rem::Schedule::EveryNDays {
                n: count_in("n", n.into())?,
                times: times_in("times", &times)?,
            },
            Self::MonthDay { day, times } => rem::Schedule::MonthDay {
                day: count_in("day", day.into())?,
                times: times_in("times", &times)?,
            },
            Self::Once { date, time } => rem::Schedule::Once {
                date: day_in("date", date)?,
                time: time_in("time", time)?,
            },
            Self::Window { from, to, days } => rem::Schedule::Window {
                from: time_in("from", from)?,
                to: time_in("to", to)?,
                days: weekdays_in(days)?,
            },
            Self::AfterEvent { event, steps } => rem::Schedule::AfterEvent {
                event,
                steps: steps
                    .into_iter()
                    .map(|s| {
                        Ok(match s {
                            ReminderStep::After { minutes } => rem::Step::After {
                                minutes: count_in("minutes", minutes.into())?,
                            },
                            ReminderStep::DayAt { day, time } => rem::Step::DayAt {
                                day: count_in("day", day.into())?,
                                time: time_in("time", time)?,
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
                n: n.into(),
                times: times_out(&times),
            },
            rem::Schedule::MonthDay { day, times } => Self::MonthDay {
                day: day.into(),
                times: times_out(&times),
            },
            rem::Schedule::Once { date, time } => Self::Once {
                date: day_out(date),
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
                        rem::Step::After { minutes } => ReminderStep::After {
                            minutes: i32::try_from(minutes).unwrap_or(i32::MAX),
                        },
                        rem::Step::DayAt { day, time } => ReminderStep::DayAt {
                            day: day.into(),
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
    /// First local date.
    pub start: LocalDay,
    /// A zone to pin the times to; none follows the device's zone.
    #[uniffi(default = None)]
    pub zone: Option<ZoneName>,
    /// Last local date.
    #[uniffi(default = None)]
    pub end: Option<LocalDay>,
    /// At most this many occurrences.
    #[uniffi(default = None)]
    pub count: Option<i32>,
    /// A title (sealed; on the lock screen only with `showTitle`).
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
    pub grace_minutes: i32,
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
                Some(z) => rem::ZonePolicy::Pinned(z.0),
                None => rem::ZonePolicy::FollowDevice,
            },
            start: day_in("start", self.start)?,
            end: self.end.map(|e| day_in("end", e)).transpose()?,
            count: self
                .count
                .map(|c| count_in("count", c.into()))
                .transpose()?,
            quiet: match self.quiet.unwrap_or(QuietPolicy::Defer) {
                QuietPolicy::Defer => rem::QuietPolicy::Defer,
                QuietPolicy::Skip => rem::QuietPolicy::Skip,
                QuietPolicy::Ignore => rem::QuietPolicy::Ignore,
            },
            grace_minutes: count_in("graceMinutes", self.grace_minutes.into())?,
            show_title: self.show_title,
            enabled: self.enabled,
        })
    }
}

/// A stored reminder rule.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Reminder {
    /// Random id.
    pub id: ReminderId,
    /// 1, plus one per change.
    pub revision: i64,
    /// What it is for.
    pub category: ReminderCategory,
    /// When it fires.
    pub schedule: ReminderSchedule,
    /// First local date.
    pub start: LocalDay,
    /// Pinned zone, or none for the device's.
    pub zone: Option<ZoneName>,
    /// Last local date.
    pub end: Option<LocalDay>,
    /// Occurrence limit.
    pub count: Option<i32>,
    /// Title.
    pub title: Option<String>,
    /// Title on the lock screen.
    pub show_title: bool,
    /// Inside quiet hours.
    pub quiet: QuietPolicy,
    /// Grace minutes.
    pub grace_minutes: i32,
    /// Enabled.
    pub enabled: bool,
}

impl From<rem::Reminder> for Reminder {
    fn from(r: rem::Reminder) -> Self {
        Reminder {
            id: ReminderId(r.id),
            revision: r.revision,
            category: r.category.into(),
            schedule: ReminderSchedule::from_core(r.schedule),
            start: day_out(r.start),
            zone: match r.zone {
                rem::ZonePolicy::Pinned(z) => Some(ZoneName(z)),
                rem::ZonePolicy::FollowDevice => None,
            },
            end: r.end.map(day_out),
            count: r.count.map(small),
            title: r.title,
            show_title: r.show_title,
            quiet: match r.quiet {
                rem::QuietPolicy::Defer => QuietPolicy::Defer,
                rem::QuietPolicy::Skip => QuietPolicy::Skip,
                rem::QuietPolicy::Ignore => QuietPolicy::Ignore,
            },
            grace_minutes: small(r.grace_minutes),
            enabled: r.enabled,
        }
    }
}

fn small(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What the platform allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PlatformLimits {
    /// Most notifications the OS may hold (iOS: 64).
    pub max_pending: i32,
    /// Exact alarms allowed (Android: `SCHEDULE_EXACT_ALARM` granted).
    pub exact_alarms: bool,
    /// Width of inexact delivery windows (at least 10 minutes).
    pub inexact_window_minutes: i32,
}

impl PlatformLimits {
    fn into_core(self) -> Result<rem::Limits> {
        Ok(rem::Limits {
            max_pending: count_in("maxPending", self.max_pending.into())?,
            exact_alarms: self.exact_alarms,
            inexact_window_minutes: count_in(
                "inexactWindowMinutes",
                self.inexact_window_minutes.into(),
            )?,
        })
    }

    fn from_core(l: rem::Limits) -> Self {
        PlatformLimits {
            max_pending: small(l.max_pending),
            exact_alarms: l.exact_alarms,
            inexact_window_minutes: small(l.inexact_window_minutes),
        }
    }
}

/// iOS: at most 64 pending notifications, delivered on time.
#[uniffi::export]
pub fn ios_limits() -> PlatformLimits {
    let mut l = PlatformLimits::from_core(rem::Limits::IOS);
    l.exact_alarms = true;
    l
}

/// Android: exact alarms if the app may schedule them, else inexact windows.
#[uniffi::export]
pub fn android_limits(exact_alarms_allowed: bool) -> PlatformLimits {
    PlatformLimits::from_core(if exact_alarms_allowed {
        rem::Limits::ANDROID_EXACT
    } else {
        rem::Limits::ANDROID_INEXACT
    })
}

/// One notification for the OS. Its text is generic unless the patient
/// chose to show a title; never patient content.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedNotification {
    /// Stable id (use it as the OS notification id).
    pub id: String,
    /// The rule.
    pub reminder_id: ReminderId,
    /// The occurrence key, for `report`.
    pub occurrence: String,
    /// When it was due (pass to `report`).
    pub due: Timestamp,
    /// When to show it.
    pub fire_at: Timestamp,
    /// UTC offset in force then, seconds.
    pub utc_offset_seconds: i32,
    /// Category.
    pub category: ReminderCategory,
    /// Lock-screen title.
    pub title: String,
    /// Lock-screen body.
    pub body: String,
    /// Exact, or within `windowMinutes` after `fireAt`.
    pub exact: bool,
    /// Delivery window when not exact.
    pub window_minutes: i32,
}

impl From<rem::PlannedNotification> for PlannedNotification {
    fn from(n: rem::PlannedNotification) -> Self {
        PlannedNotification {
            id: n.id,
            reminder_id: ReminderId(n.reminder_id),
            occurrence: n.occurrence,
            due: instant_out(n.due_ms),
            fire_at: instant_out(n.fire_at_ms),
            utc_offset_seconds: n.utc_offset_seconds,
            category: n.category.into(),
            title: n.title,
            body: n.body,
            exact: n.exact,
            window_minutes: small(n.window_minutes),
        }
    }
}

impl PlannedNotification {
    fn into_core(self) -> Result<rem::PlannedNotification> {
        Ok(rem::PlannedNotification {
            id: self.id,
            reminder_id: self.reminder_id.0,
            occurrence: self.occurrence,
            due_ms: ms_in(self.due),
            fire_at_ms: ms_in(self.fire_at),
            utc_offset_seconds: self.utc_offset_seconds,
            category: self.category.into(),
            title: self.title,
            body: self.body,
            exact: self.exact,
            window_minutes: count_in("windowMinutes", self.window_minutes.into())?,
        })
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
pub fn notification_id_prefix() -> String {
    rem::NOTIFICATION_ID_PREFIX.to_owned()
}

/// Compares a plan with the notification ids the OS holds now.
#[uniffi::export]
pub fn diff_plan(plan: Vec<PlannedNotification>, held_ids: Vec<String>) -> Result<PlanDiff> {
    crate::guard(|| {
        let plan: Vec<rem::PlannedNotification> = plan
            .into_iter()
            .map(PlannedNotification::into_core)
            .collect::<Result<_>>()?;
        let d = rem::diff_plan(&plan, &held_ids);
        Ok(PlanDiff {
            add: d.add.into_iter().map(Into::into).collect(),
            remove: d.remove,
        })
    })
}

/// What happened to an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReminderReport {
    /// The OS showed it.
    Shown {
        /// When.
        at: Timestamp,
    },
    /// Done.
    Done {
        /// When.
        at: Timestamp,
    },
    /// Skipped on purpose.
    Skipped {
        /// When.
        at: Timestamp,
    },
    /// Snoozed.
    Snoozed {
        /// Show again at.
        until: Timestamp,
    },
}

impl ReminderReport {
    fn into_core(self) -> Result<rem::ReminderReport> {
        Ok(match self {
            ReminderReport::Shown { at } => rem::ReminderReport::Shown { at_ms: ms_in(at) },
            ReminderReport::Done { at } => rem::ReminderReport::Done { at_ms: ms_in(at) },
            ReminderReport::Skipped { at } => rem::ReminderReport::Skipped { at_ms: ms_in(at) },
            ReminderReport::Snoozed { until } => rem::ReminderReport::Snoozed {
                until_ms: ms_in(until),
            },
        })
    }
}

/// Adherence for one rule or category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Adherence {
    /// Rule id or category name.
    pub key: String,
    /// Occurrences due.
    pub due: i32,
    /// Shown by the OS.
    pub shown: i32,
    /// Shown more than 5 minutes late.
    pub late: i32,
    /// Never reported shown.
    pub not_shown: i32,
    /// Done.
    pub done: i32,
    /// Skipped.
    pub skipped: i32,
    /// Missed (grace period passed).
    pub missed: i32,
}

impl From<rem::Adherence> for Adherence {
    fn from(a: rem::Adherence) -> Self {
        Adherence {
            key: a.key,
            due: small(a.due),
            shown: small(a.shown),
            late: small(a.late),
            not_shown: small(a.not_shown),
            done: small(a.done),
            skipped: small(a.skipped),
            missed: small(a.missed),
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderPlan {
    /// In time order, fair across rules, within the limits.
    pub notifications: Vec<PlannedNotification>,
    /// Damaged rules, events, reports or settings (ids only): every good
    /// rule is still planned.
    pub corrupted: Vec<RecordRef>,
}

/// Quiet hours in the device's zone (22:00-07:00 wraps midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct QuietHours {
    /// Start.
    pub start: WallTime,
    /// End.
    pub end: WallTime,
}

/// A recorded event (a treatment session).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderEvent {
    /// Random id.
    pub id: EventId,
    /// Kind.
    pub kind: String,
    /// When.
    pub at: Timestamp,
    /// The zone it happened in.
    pub zone: ZoneName,
}

impl From<rem::ReminderEvent> for ReminderEvent {
    fn from(e: rem::ReminderEvent) -> Self {
        ReminderEvent {
            id: EventId(e.id),
            kind: e.kind,
            at: instant_out(e.at_ms),
            zone: ZoneName(e.zone),
        }
    }
}

/// One computed occurrence.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Occurrence {
    /// Key.
    pub key: String,
    /// Rule.
    pub reminder_id: ReminderId,
    /// When it fires.
    pub fire_at: Timestamp,
    /// UTC offset then, seconds.
    pub utc_offset_seconds: i32,
}

/// The patient's reminders: rules, the plan for the OS, reports and
/// adherence. Lives in its journal's store and closes with it: after the
/// journal's `close()`, every call raises `Closed`.
#[derive(uniffi::Object)]
pub struct Reminders {
    pool: Arc<Pool>,
}

#[uniffi::export]
impl Journal {
    /// The reminders kept in this journal's store.
    pub fn reminders(&self) -> Result<Arc<Reminders>> {
        if self.pool.is_closed() {
            return Err(CairnError::Closed);
        }
        Ok(Arc::new(Reminders {
            pool: self.pool.clone(),
        }))
    }
}

fn put(r: &Reminder) -> Option<JournalChange> {
    JournalChange::put(ChangeTable::Reminders, r.id.0.clone())
}

#[uniffi::export]
impl Reminders {
    /// Adds a rule.
    pub async fn add(&self, reminder: NewReminder) -> Result<Reminder> {
        let r = reminder.into_core()?;
        self.pool
            .write(
                move |s| Ok(s.add_reminder(r).map_err(CairnError::zone("zone"))?.into()),
                put,
            )
            .await
    }

    /// Replaces a rule's content.
    pub async fn update(&self, id: ReminderId, reminder: NewReminder) -> Result<Reminder> {
        let r = reminder.into_core()?;
        self.pool
            .write(
                move |s| {
                    Ok(s.update_reminder(&id.0, r)
                        .map_err(CairnError::zone("zone"))?
                        .into())
                },
                put,
            )
            .await
    }

    /// One rule.
    pub async fn get(&self, id: ReminderId) -> Result<Reminder> {
        self.pool.read(move |s| Ok(s.reminder(&id.0)?.into())).await
    }

    /// Every rule; damaged ones are skipped and listed in `corrupted`.
    pub async fn list(&self) -> Result<ReminderList> {
        self.pool
            .read(|s| {
                let list = s.reminders()?;
                Ok(ReminderList {
                    reminders: list.reminders.into_iter().map(Into::into).collect(),
                    corrupted: list.corrupted.into_iter().map(Into::into).collect(),
                })
            })
            .await
    }

    /// Deletes a rule.
    pub async fn delete(&self, id: ReminderId) -> Result<()> {
        let changed = id.0.clone();
        self.pool
            .write(
                move |s| Ok(s.delete_reminder(&id.0)?),
                move |_| JournalChange::deleted(ChangeTable::Reminders, changed),
            )
            .await
    }

    /// Records an event (a treatment session) that post-session rules follow.
    pub async fn record_event(
        &self,
        kind: String,
        at: Timestamp,
        zone: ZoneName,
    ) -> Result<ReminderEvent> {
        let at = instant_in("at", at)?;
        self.pool
            .write(
                move |s| {
                    Ok(s.record_event(&kind, at, &zone.0)
                        .map_err(CairnError::zone("zone"))?
                        .into())
                },
                |e: &ReminderEvent| JournalChange::put(ChangeTable::Events, e.id.0.clone()),
            )
            .await
    }

    /// Every recorded event.
    pub async fn events(&self) -> Result<Vec<ReminderEvent>> {
        self.pool
            .read(|s| Ok(s.events()?.into_iter().map(Into::into).collect()))
            .await
    }

    /// Sets, or clears with none, the quiet hours.
    pub async fn set_quiet_hours(&self, quiet: Option<QuietHours>) -> Result<()> {
        let q = match quiet {
            Some(q) => Some(rem::QuietHours {
                start: time_in("start", q.start)?,
                end: time_in("end", q.end)?,
            }),
            None => None,
        };
        self.pool
            .write(
                move |s| Ok(s.set_quiet_hours(q)?),
                |_| JournalChange::put(ChangeTable::Settings, "quiet_hours"),
            )
            .await
    }

    /// The quiet hours, if set.
    pub async fn quiet_hours(&self) -> Result<Option<QuietHours>> {
        self.pool
            .read(|s| {
                Ok(s.quiet_hours()?.map(|q| QuietHours {
                    start: time_out(q.start),
                    end: time_out(q.end),
                }))
            })
            .await
    }

    /// Reports what happened to a planned occurrence (`occurrence` and
    /// `due` as in the plan).
    pub async fn report(
        &self,
        occurrence: String,
        due: Timestamp,
        report: ReminderReport,
    ) -> Result<()> {
        self.report_job(occurrence, due, report)?.await
    }

    /// `report` for a platform callback that must finish before it returns
    /// (an Android `BroadcastReceiver` for a notification action). Blocks
    /// the calling thread: never call it from the main thread.
    pub fn report_blocking(
        &self,
        occurrence: String,
        due: Timestamp,
        report: ReminderReport,
    ) -> Result<()> {
        self.report_job(occurrence, due, report)?.wait()
    }

    /// The notifications the OS should hold from `now` for `horizonDays`
    /// (1-62), in time order, fair across rules within `limits`. Apply it
    /// with `diffPlan` at app start, after boot, after a zone change and
    /// after each report. A damaged record is skipped and listed in
    /// `corrupted`; every good rule is still planned.
    pub async fn plan(
        &self,
        now: Timestamp,
        device_zone: ZoneName,
        limits: PlatformLimits,
        horizon_days: i32,
    ) -> Result<ReminderPlan> {
        self.plan_job(now, device_zone, limits, horizon_days)?.await
    }

    /// `plan` for a platform callback that must finish before it returns
    /// (Android's `BOOT_COMPLETED` receiver, an iOS `BGTask` handler).
    /// Blocks the calling thread: never call it from the main thread.
    pub fn plan_blocking(
        &self,
        now: Timestamp,
        device_zone: ZoneName,
        limits: PlatformLimits,
        horizon_days: i32,
    ) -> Result<ReminderPlan> {
        self.plan_job(now, device_zone, limits, horizon_days)?
            .wait()
    }

    /// Every occurrence firing in `[from, to)` (at most 400 days).
    pub async fn occurrences(
        &self,
        from: Timestamp,
        to: Timestamp,
        device_zone: ZoneName,
    ) -> Result<Vec<Occurrence>> {
        let (from, to) = (instant_in("from", from)?, instant_in("to", to)?);
        self.pool
            .read(move |s| {
                Ok(s.occurrences(from, to, &device_zone.0)
                    .map_err(CairnError::zone("deviceZone"))?
                    .into_iter()
                    .map(|o| Occurrence {
                        key: o.key,
                        reminder_id: ReminderId(o.reminder_id),
                        fire_at: instant_out(o.fire_ms),
                        utc_offset_seconds: o.utc_offset_seconds,
                    })
                    .collect())
            })
            .await
    }

    /// Adherence for occurrences due in `[from, min(to, now))`.
    pub async fn adherence(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        device_zone: ZoneName,
    ) -> Result<AdherenceReport> {
        let (from, to, now) = (
            instant_in("from", from)?,
            instant_in("to", to)?,
            instant_in("now", now)?,
        );
        self.pool
            .read(move |s| {
                let report = s
                    .adherence(from, to, now, &device_zone.0)
                    .map_err(CairnError::zone("deviceZone"))?;
                Ok(AdherenceReport {
                    rules: report.by_rule.into_iter().map(Into::into).collect(),
                    categories: report.by_category.into_iter().map(Into::into).collect(),
                    corrupted: report.corrupted.into_iter().map(Into::into).collect(),
                })
            })
            .await
    }
}

impl Reminders {
    fn report_job(
        &self,
        occurrence: String,
        due: Timestamp,
        report: ReminderReport,
    ) -> Result<crate::pool::Job<()>> {
        let due = ms_in(due);
        let r = report.into_core()?;
        let changed = occurrence.clone();
        Ok(self.pool.write(
            move |s| Ok(s.report_reminder(&occurrence, due, r)?),
            move |_| JournalChange::put(ChangeTable::ReminderReports, changed),
        ))
    }

    fn plan_job(
        &self,
        now: Timestamp,
        device_zone: ZoneName,
        limits: PlatformLimits,
        horizon_days: i32,
    ) -> Result<crate::pool::Job<ReminderPlan>> {
        let now = instant_in("now", now)?;
        let limits = limits.into_core()?;
        let horizon: u32 = count_in("horizonDays", horizon_days.into())?;
        Ok(self.pool.read(move |s| {
            let plan = s
                .plan_reminders(now, &device_zone.0, &limits, horizon)
                .map_err(CairnError::zone("deviceZone"))?;
            Ok(ReminderPlan {
                notifications: plan.notifications.into_iter().map(Into::into).collect(),
                corrupted: plan.corrupted.into_iter().map(Into::into).collect(),
            })
        }))
    }
}
