//! Treatment courses (for example IV ketamine infusions) and change
//! against baseline (docs/outcomes.md, "Treatment courses"). Sessions are
//! the reminder engine's events (`Store::record_event`, or set by the
//! clinic through sync); scores come from questionnaire entries, daily
//! ratings from the journal. Everything here is computed when asked, from
//! what is stored, on local days in each record's own zone.

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

use crate::error::Result;
use crate::journal::{Entry, EntryQuery};
use crate::questionnaires::{QUESTIONNAIRES, Questionnaire};
use crate::reminders::{Category, NewReminder, ReminderEvent, Schedule, Step};
use crate::store::Store;
use crate::trackers::Value;

/// How change against baseline is judged, per questionnaire (reviewed as
/// data).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChangeRule {
    /// The questionnaire.
    pub questionnaire: &'static str,
    /// Response: the total dropped by at least this share of the baseline.
    pub response_drop: f64,
    /// Remission: the total is below this.
    pub remission_below: Option<u8>,
    /// Minimal important change, in points.
    pub minimal_important_change: Option<u8>,
    /// Where the definitions come from.
    pub source: &'static str,
}

/// The change rules.
pub const CHANGE_RULES: &[ChangeRule] = &[
    ChangeRule {
        questionnaire: "phq9",
        response_drop: 0.5,
        remission_below: Some(5),
        minimal_important_change: Some(5),
        source: "response: a drop of at least 50% from baseline; remission: PHQ-9 below 5 \
                 (US quality-measure definitions); minimal important change about 5 points \
                 (Loewe et al. 2004, Med Care 42:1194)",
    },
    ChangeRule {
        questionnaire: "gad7",
        response_drop: 0.5,
        remission_below: None,
        minimal_important_change: None,
        source: "response: a drop of at least 50% from baseline, as for PHQ-9; no remission \
                 threshold or minimal important change is given in domain.md, so none is claimed",
    },
];

/// One scored questionnaire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorePoint {
    /// The entry holding the answers.
    pub entry_id: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The local day.
    pub day: NaiveDate,
    /// The total.
    pub total: u8,
    /// Its band.
    pub band: &'static str,
}

/// Change against baseline for one questionnaire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The questionnaire's id.
    pub questionnaire: &'static str,
    /// Its name.
    pub name: &'static str,
    /// The baseline: the last complete score before the first treatment
    /// session, or the first complete score when there is no session.
    pub baseline: ScorePoint,
    /// The latest complete score after the baseline (`None`: none yet).
    pub latest: Option<ScorePoint>,
    /// Latest minus baseline, in points (negative is better).
    pub change: Option<i32>,
    /// Whether the latest is a response (a drop of at least 50%); `None`
    /// without a latest score or when the baseline is 0.
    pub response: Option<bool>,
    /// Whether the latest is a remission (PHQ-9 below 5); `None` where the
    /// rules define none.
    pub remission: Option<bool>,
    /// The minimal important change in points, where defined.
    pub minimal_important_change: Option<u8>,
    /// Whether the change reaches it (either way): "improved",
    /// "worsened", or "less than the minimal important change".
    pub change_text: Option<String>,
}

/// A treatment session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Its id.
    pub id: String,
    /// Its kind (`infusion`).
    pub kind: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The local day in its zone.
    pub day: NaiveDate,
    /// 1 for the first session of the course, and so on.
    pub number: u32,
}

/// Where a day falls in a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Before the first session.
    Before,
    /// From the first session to the last.
    During,
    /// After the last session.
    After,
}

/// A score aligned to the sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlignedScore {
    /// The questionnaire.
    pub questionnaire: &'static str,
    /// The score.
    pub score: ScorePoint,
    /// Its phase.
    pub phase: Phase,
    /// Days since the latest session on or before its day (`None` before
    /// the first).
    pub days_since_session: Option<i64>,
}

/// Daily ratings around one session: the mean of each day's mean over
/// the 7 local days before the session's day and the 7 after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AroundSession {
    /// The session's number.
    pub session: u32,
    /// The tracker.
    pub tracker: String,
    /// Mean over the days before (days rated).
    pub before: Option<(f64, u32)>,
    /// Mean over the days after (days rated).
    pub after: Option<(f64, u32)>,
}

/// How long a PHQ-9 response has held since the last session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseHeld {
    /// Days from the last session to the latest score of the unbroken run
    /// of responses after it (0 when the first score after it is not a
    /// response).
    pub days: i64,
    /// Whether the latest score is still a response.
    pub holding: bool,
    /// Scores after the last session.
    pub scores_after: u32,
}

/// A treatment course: its sessions, scores and ratings aligned to them,
/// and change against the baseline before the first session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Course {
    /// The session kind (`infusion`), or `None` for every kind.
    pub kind: Option<String>,
    /// The sessions, in time order.
    pub sessions: Vec<Session>,
    /// Change against baseline per questionnaire that has a score.
    pub changes: Vec<Change>,
    /// Every complete score, aligned.
    pub scores: Vec<AlignedScore>,
    /// Mood, anxiety and the other scale trackers around each session.
    pub around_sessions: Vec<AroundSession>,
    /// How long a PHQ-9 response has held since the last session, when
    /// there are a baseline and a score after the last session.
    pub response_held: Option<ResponseHeld>,
}

fn day_of_ms(at_ms: i64, zone_offset_s: i32) -> NaiveDate {
    crate::journal::epoch_day((at_ms + i64::from(zone_offset_s) * 1000).div_euclid(86_400_000))
}

/// Complete scores per questionnaire, in time order.
fn scores(entries: &[Entry]) -> Vec<(&'static Questionnaire, ScorePoint)> {
    let mut out = Vec::new();
    for e in entries {
        let Value::Answers { version, answers } = &e.value else {
            continue;
        };
        let Some(q) = QUESTIONNAIRES
            .iter()
            .find(|q| q.id == &*e.tracker && q.version == *version)
        else {
            continue;
        };
        let Ok(s) = q.score(answers) else { continue };
        if let (Some(total), Some(band)) = (s.total, s.band) {
            out.push((
                q,
                ScorePoint {
                    entry_id: e.id.clone(),
                    at_ms: e.at_ms,
                    day: e.local_date(),
                    total,
                    band,
                },
            ));
        }
    }
    out.sort_by_key(|(_, p)| p.at_ms);
    out
}

fn is_response(rule: &ChangeRule, baseline: u8, latest: u8) -> Option<bool> {
    (baseline > 0).then(|| {
        f64::from(baseline) - f64::from(latest) >= rule.response_drop * f64::from(baseline)
    })
}

/// Change against baseline for each questionnaire with a complete score
/// (in [`QUESTIONNAIRES`] order). `first_session_ms`: the baseline is the
/// last score before it.
pub fn changes(entries: &[Entry], first_session_ms: Option<i64>) -> Vec<Change> {
    let all = scores(entries);
    let mut out = Vec::new();
    for q in QUESTIONNAIRES {
        let mine: Vec<&ScorePoint> = all
            .iter()
            .filter(|(x, _)| x.id == q.id)
            .map(|(_, p)| p)
            .collect();
        let baseline = match first_session_ms {
            Some(t) => mine
                .iter()
                .rev()
                .find(|p| p.at_ms < t)
                .or_else(|| mine.first()),
            None => mine.first(),
        };
        let Some(baseline) = baseline.copied() else {
            continue;
        };
        let latest = mine
            .iter()
            .rev()
            .find(|p| p.at_ms > baseline.at_ms)
            .map(|p| (*p).clone());
        let rule = CHANGE_RULES.iter().find(|r| r.questionnaire == q.id);
        let change = latest
            .as_ref()
            .map(|l| i32::from(l.total) - i32::from(baseline.total));
        let mic = rule.and_then(|r| r.minimal_important_change);
        out.push(Change {
            questionnaire: q.id,
            name: q.name,
            response: rule
                .zip(latest.as_ref())
                .and_then(|(r, l)| is_response(r, baseline.total, l.total)),
            remission: rule
                .and_then(|r| r.remission_below)
                .zip(latest.as_ref())
                .map(|(below, l)| l.total < below),
            minimal_important_change: mic,
            change_text: change.zip(mic).map(|(c, m)| {
                let m = i32::from(m);
                if c <= -m {
                    format!("improved by {} points (at least {m})", -c)
                } else if c >= m {
                    format!("worsened by {c} points (at least {m})")
                } else {
                    format!("changed by {c} points, less than the minimal important change ({m})")
                }
            }),
            change,
            baseline: baseline.clone(),
            latest,
        });
    }
    out
}

/// Builds a course from entries and sessions (pure; [`Store::course`]
/// reads them).
pub fn course(
    entries: &[Entry],
    events: &[ReminderEvent],
    kind: Option<&str>,
    zones: &crate::zones::ZoneDb,
) -> Course {
    let zone_offset = |e: &ReminderEvent| zones.zone(&e.zone).map_or(0, |z| z.offset_at(e.at_ms));
    let mut sessions: Vec<Session> = events
        .iter()
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .map(|e| Session {
            id: e.id.clone(),
            kind: e.kind.clone(),
            at_ms: e.at_ms,
            day: day_of_ms(e.at_ms, zone_offset(e)),
            number: 0,
        })
        .collect();
    sessions.sort_by_key(|s| s.at_ms);
    for (i, s) in sessions.iter_mut().enumerate() {
        s.number = i as u32 + 1;
    }
    let first = sessions.first().map(|s| s.at_ms);
    let last = sessions.last().map(|s| (s.at_ms, s.day));
    let changes = changes(entries, first);
    let phase = |at: i64| match (first, last) {
        (Some(f), _) if at < f => Phase::Before,
        (Some(_), Some((l, _))) if at <= l => Phase::During,
        (Some(_), _) => Phase::After,
        (None, _) => Phase::Before,
    };
    let since = |day: NaiveDate, at: i64| {
        sessions
            .iter()
            .rev()
            .find(|s| s.at_ms <= at)
            .map(|s| (day - s.day).num_days())
    };
    let scores: Vec<AlignedScore> = scores(entries)
        .into_iter()
        .map(|(q, p)| AlignedScore {
            questionnaire: q.id,
            phase: phase(p.at_ms),
            days_since_session: since(p.day, p.at_ms),
            score: p,
        })
        .collect();
    // Daily means of scale trackers, by tracker and day.
    let mut daily: std::collections::BTreeMap<(&str, NaiveDate), (f64, u32)> = Default::default();
    for e in entries {
        if let Value::Scale(x) = e.value {
            let d = daily.entry((&*e.tracker, e.local_date())).or_default();
            d.0 += x;
            d.1 += 1;
        }
    }
    let mut trackers: Vec<&str> = daily.keys().map(|(t, _)| *t).collect();
    trackers.dedup();
    let mut around_sessions = Vec::new();
    for s in &sessions {
        for t in &trackers {
            let window = |from: i64, to: i64| {
                let (mut sum, mut n) = (0.0, 0u32);
                for off in from..=to {
                    if let Some((total, c)) = daily.get(&(*t, s.day + chrono::Duration::days(off)))
                    {
                        sum += total / f64::from(*c);
                        n += 1;
                    }
                }
                (n > 0).then(|| (sum / f64::from(n), n))
            };
            let (before, after) = (window(-7, -1), window(1, 7));
            if before.is_some() || after.is_some() {
                around_sessions.push(AroundSession {
                    session: s.number,
                    tracker: (*t).to_owned(),
                    before,
                    after,
                });
            }
        }
    }
    let response_held = (|| {
        let (last_ms, last_day) = last?;
        let phq9 = changes.iter().find(|c| c.questionnaire == "phq9")?;
        let rule = CHANGE_RULES.iter().find(|r| r.questionnaire == "phq9")?;
        let after: Vec<&AlignedScore> = scores
            .iter()
            .filter(|s| s.questionnaire == "phq9" && s.score.at_ms > last_ms)
            .collect();
        if after.is_empty() {
            return None;
        }
        let mut days = 0;
        for s in &after {
            if is_response(rule, phq9.baseline.total, s.score.total) != Some(true) {
                break;
            }
            days = (s.score.day - last_day).num_days();
        }
        let latest = after.last()?;
        Some(ResponseHeld {
            days,
            holding: is_response(rule, phq9.baseline.total, latest.score.total) == Some(true),
            scores_after: after.len() as u32,
        })
    })();
    Course {
        kind: kind.map(str::to_owned),
        sessions,
        changes,
        scores,
        around_sessions,
        response_held,
    }
}

/// One step of the post-session routine (reviewed as data).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RoutineStep {
    /// The reminder's category.
    #[serde(skip)]
    pub category: Category,
    /// Its title (sealed; the lock screen shows the category's generic
    /// text).
    pub title: &'static str,
    /// Minutes after the session, or (day after the session's day, time).
    pub after_minutes: Option<u32>,
    /// Day after the session's local day and the time, when not minutes.
    pub day_at: Option<(u16, &'static str)>,
}

/// The routine after each session: it starts after the session and ends
/// on its own (each step fires once per session). Source: the routines
/// clinics ask of patients after infusions (sleep, hydration, journaling;
/// ../shared/guides/domain.md); times are defaults the patient or the
/// clinic can change like any reminder.
pub const POST_SESSION_ROUTINE: &[RoutineStep] = &[
    RoutineStep {
        category: Category::PostSession,
        title: "Drink a glass of water",
        after_minutes: Some(120),
        day_at: None,
    },
    RoutineStep {
        category: Category::PostSession,
        title: "Wind down for an early night",
        after_minutes: None,
        day_at: Some((0, "21:00")),
    },
    RoutineStep {
        category: Category::Journaling,
        title: "Journal: how has the day after the session felt?",
        after_minutes: None,
        day_at: Some((1, "19:00")),
    },
    RoutineStep {
        category: Category::CheckIn,
        title: "Check in: mood and sleep",
        after_minutes: None,
        day_at: Some((1, "10:00")),
    },
    RoutineStep {
        category: Category::CheckIn,
        title: "Check in: mood and sleep",
        after_minutes: None,
        day_at: Some((3, "10:00")),
    },
];

impl Store {
    /// The treatment course of sessions of `kind` (every kind when `None`).
    pub fn course(&self, kind: Option<&str>) -> Result<Course> {
        let entries = self.entries(&EntryQuery::default())?.entries;
        let events = self.events()?;
        self.read(|inner| Ok(course(&entries, &events, kind, &inner.zones)))
    }

    /// Change against baseline for each questionnaire (the baseline is the
    /// last score before the first treatment session, if any).
    pub fn questionnaire_changes(&self) -> Result<Vec<Change>> {
        let entries = self.entries(&EntryQuery::default())?.entries;
        let first = self.events()?.iter().map(|e| e.at_ms).min();
        Ok(changes(&entries, first))
    }

    /// Adds the post-session routine ([`POST_SESSION_ROUTINE`]) as
    /// reminders after each session of `kind`, starting `start`; steps
    /// already planned (same category, title and event kind) are not added
    /// again. Returns the number added.
    pub fn add_post_session_routine(&self, kind: &str, start: NaiveDate) -> Result<u32> {
        let kind = crate::reminders::check_event_kind(kind)?;
        let existing = self.reminders()?.reminders;
        let mut added = 0;
        for s in POST_SESSION_ROUTINE {
            let step = match (s.after_minutes, s.day_at) {
                (Some(m), _) => Step::After { minutes: m },
                (None, Some((day, t))) => Step::DayAt {
                    day,
                    time: NaiveTime::parse_from_str(t, "%H:%M").expect("reviewed table"),
                },
                (None, None) => continue,
            };
            let schedule = Schedule::AfterEvent {
                event: kind.clone(),
                steps: vec![step],
            };
            if existing.iter().any(|r| {
                r.category == s.category
                    && r.title.as_deref() == Some(s.title)
                    && r.schedule == schedule
            }) {
                continue;
            }
            let mut new = NewReminder::new(s.category, schedule, start);
            new.title = Some(s.title.into());
            self.add_reminder(new)?;
            added += 1;
        }
        Ok(added)
    }
}
