//! Treatment courses (for example IV ketamine infusions) and change against
//! baseline (docs/outcomes.md, "Treatment courses"): sessions are the
//! recorded events (`Reminders.recordEvent`, or set by the clinic through
//! sync), scores come from questionnaire check-ins, daily ratings from the
//! journal. Computed when asked, on a reader. The change rules and the
//! post-session routine are reviewed data.

use crate::error::{CairnError, Result};
use crate::journal::{ChangeTable, Journal, JournalChange};
use crate::reminders::ReminderCategory;
use crate::values::{
    EntryId, EventId, LocalDay, Timestamp, WallTime, day_in, day_out, instant_out, time_out,
};
use cairn_core::treatment as t;

/// One scored questionnaire.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScorePoint {
    /// The check-in entry holding the answers.
    pub entry: EntryId,
    /// When it was answered.
    pub at: Timestamp,
    /// Its local day.
    pub day: LocalDay,
    /// The total.
    pub total: i32,
    /// Its band ("moderate").
    pub band: String,
}

impl From<t::ScorePoint> for ScorePoint {
    fn from(p: t::ScorePoint) -> Self {
        ScorePoint {
            entry: EntryId(p.entry_id),
            at: instant_out(p.at_ms),
            day: day_out(p.day),
            total: i32::from(p.total),
            band: p.band.to_owned(),
        }
    }
}

/// Change against baseline for one questionnaire.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QuestionnaireChange {
    /// The questionnaire's id (`phq9`).
    pub questionnaire: String,
    /// Its name (`PHQ-9`).
    pub name: String,
    /// The baseline: the last complete score before the first treatment
    /// session, or the first complete score when there is no session.
    pub baseline: ScorePoint,
    /// The latest complete score after the baseline; none yet: null/nil.
    pub latest: Option<ScorePoint>,
    /// Latest minus baseline, in points (negative is better).
    pub change: Option<i32>,
    /// Whether the latest is a response (a drop of at least 50%); none
    /// without a latest score or when the baseline is 0.
    pub response: Option<bool>,
    /// Whether the latest is a remission (PHQ-9 below 5); none where the
    /// rules define none.
    pub remission: Option<bool>,
    /// The minimal important change in points, where defined.
    pub minimal_important_change: Option<i32>,
    /// "improved", "worsened", or "less than the minimal important
    /// change", where a minimal important change is defined.
    pub change_text: Option<String>,
}

impl From<t::Change> for QuestionnaireChange {
    fn from(c: t::Change) -> Self {
        QuestionnaireChange {
            questionnaire: c.questionnaire.to_owned(),
            name: c.name.to_owned(),
            baseline: c.baseline.into(),
            latest: c.latest.map(Into::into),
            change: c.change,
            response: c.response,
            remission: c.remission,
            minimal_important_change: c.minimal_important_change.map(i32::from),
            change_text: c.change_text,
        }
    }
}

/// A treatment session of a course.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TreatmentSession {
    /// The recorded event.
    pub id: EventId,
    /// Its kind (`infusion`).
    pub kind: String,
    /// When.
    pub at: Timestamp,
    /// Its local day, in the zone it was recorded in.
    pub day: LocalDay,
    /// 1 for the first session of the course, and so on.
    pub number: i32,
}

/// Where a score falls in a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum CoursePhase {
    /// Before the first session.
    Before,
    /// From the first session to the last.
    During,
    /// After the last session.
    After,
}

/// A score aligned to the sessions.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AlignedScore {
    /// The questionnaire's id.
    pub questionnaire: String,
    /// The score.
    pub score: ScorePoint,
    /// Before, during or after the course.
    pub phase: CoursePhase,
    /// Days since the latest session on or before its day (none before
    /// the first).
    pub days_since_session: Option<i64>,
}

/// A scale tracker's ratings around one session: the mean of the daily
/// means over the 7 local days before the session's day and the 7 after.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AroundSession {
    /// The session's number.
    pub session: i32,
    /// The tracker's id.
    pub tracker: String,
    /// Mean over the days before; none when none was rated.
    pub before_mean: Option<f64>,
    /// Days rated before.
    pub before_days: i32,
    /// Mean over the days after; none when none was rated.
    pub after_mean: Option<f64>,
    /// Days rated after.
    pub after_days: i32,
}

/// How long a PHQ-9 response has held since the last session.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResponseHeld {
    /// Days from the last session to the latest score of the unbroken run
    /// of responses after it (0 when the first score after it is not a
    /// response).
    pub days: i64,
    /// Whether the latest score is still a response.
    pub holding: bool,
    /// Scores after the last session.
    pub scores_after: i32,
}

/// A treatment course: its sessions, the scores and ratings aligned to
/// them, and change against the baseline before the first session.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Course {
    /// The session kind asked for; none: every kind.
    pub kind: Option<String>,
    /// The sessions, in time order.
    pub sessions: Vec<TreatmentSession>,
    /// Change against baseline per questionnaire with a score.
    pub changes: Vec<QuestionnaireChange>,
    /// Every complete score, aligned.
    pub scores: Vec<AlignedScore>,
    /// Mood, anxiety and the other scale trackers around each session.
    pub around_sessions: Vec<AroundSession>,
    /// How long a PHQ-9 response has held since the last session, when
    /// there are a baseline and a score after the last session.
    pub response_held: Option<ResponseHeld>,
}

fn small(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<t::Course> for Course {
    fn from(c: t::Course) -> Self {
        let split = |x: Option<(f64, u32)>| (x.map(|x| x.0), x.map_or(0, |x| small(x.1)));
        Course {
            kind: c.kind,
            sessions: c
                .sessions
                .into_iter()
                .map(|s| TreatmentSession {
                    id: EventId(s.id),
                    kind: s.kind,
                    at: instant_out(s.at_ms),
                    day: day_out(s.day),
                    number: small(s.number),
                })
                .collect(),
            changes: c.changes.into_iter().map(Into::into).collect(),
            scores: c
                .scores
                .into_iter()
                .map(|a| AlignedScore {
                    questionnaire: a.questionnaire.to_owned(),
                    score: a.score.into(),
                    phase: match a.phase {
                        t::Phase::Before => CoursePhase::Before,
                        t::Phase::During => CoursePhase::During,
                        t::Phase::After => CoursePhase::After,
                    },
                    days_since_session: a.days_since_session,
                })
                .collect(),
            around_sessions: c
                .around_sessions
                .into_iter()
                .map(|a| {
                    let (before_mean, before_days) = split(a.before);
                    let (after_mean, after_days) = split(a.after);
                    AroundSession {
                        session: small(a.session),
                        tracker: a.tracker,
                        before_mean,
                        before_days,
                        after_mean,
                        after_days,
                    }
                })
                .collect(),
            response_held: c.response_held.map(|r| ResponseHeld {
                days: r.days,
                holding: r.holding,
                scores_after: small(r.scores_after),
            }),
        }
    }
}

/// How change against baseline is judged for one questionnaire.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChangeRule {
    /// The questionnaire's id.
    pub questionnaire: String,
    /// Response: the total dropped by at least this share of the baseline.
    pub response_drop: f64,
    /// Remission: the total is below this; none where not defined.
    pub remission_below: Option<i32>,
    /// Minimal important change, in points; none where not defined.
    pub minimal_important_change: Option<i32>,
    /// Where the definitions come from.
    pub source: String,
}

/// One step of the post-session routine.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RoutineStep {
    /// The reminder's category.
    pub category: ReminderCategory,
    /// Its title (sealed; the lock screen shows the category's text).
    pub title: String,
    /// Minutes after the session; or none, and `day` and `time` say when.
    pub after_minutes: Option<i32>,
    /// Days after the session's local day (0: that day).
    pub day: Option<i32>,
    /// The time on that day.
    pub time: Option<WallTime>,
}

/// The change rules (response, remission, minimal important change) per
/// questionnaire, with their sources.
#[uniffi::export]
pub fn change_rules() -> Vec<ChangeRule> {
    t::CHANGE_RULES
        .iter()
        .map(|r| ChangeRule {
            questionnaire: r.questionnaire.to_owned(),
            response_drop: r.response_drop,
            remission_below: r.remission_below.map(i32::from),
            minimal_important_change: r.minimal_important_change.map(i32::from),
            source: r.source.to_owned(),
        })
        .collect()
}

/// The routine `addPostSessionRoutine` adds after each session.
#[uniffi::export]
pub fn post_session_routine() -> Vec<RoutineStep> {
    t::POST_SESSION_ROUTINE
        .iter()
        .map(|s| RoutineStep {
            category: s.category.into(),
            title: s.title.to_owned(),
            after_minutes: s.after_minutes.map(small),
            day: s.day_at.map(|(d, _)| i32::from(d)),
            time: s
                .day_at
                .and_then(|(_, t)| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok())
                .map(time_out),
        })
        .collect()
}

#[uniffi::export]
impl Journal {
    /// The treatment course of sessions of `kind` (`infusion`; null/nil:
    /// every kind): sessions numbered, scores aligned to them, ratings
    /// around each session, change against the baseline before the first
    /// session, and how long a PHQ-9 response has held. Runs on a reader.
    #[uniffi::method(default(kind = None))]
    pub async fn course(&self, kind: Option<String>) -> Result<Course> {
        self.pool
            .read(move |s| Ok(s.course(kind.as_deref())?.into()))
            .await
    }

    /// Change against baseline for each questionnaire with a complete score
    /// (the baseline is the last score before the first treatment session,
    /// if any). Runs on a reader.
    pub async fn questionnaire_changes(&self) -> Result<Vec<QuestionnaireChange>> {
        self.pool
            .read(|s| {
                Ok(s.questionnaire_changes()?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            })
            .await
    }

    /// Adds the post-session routine (`postSessionRoutine()`) as reminders
    /// after each session of `kind`, from the local day `start`; steps
    /// already planned are not added again. Returns how many were added.
    /// `InvalidInput` for a bad kind (field `kind`). Listeners hear
    /// `REMINDERS` (no ids) when any was added: plan the reminders again.
    pub async fn add_post_session_routine(&self, kind: String, start: LocalDay) -> Result<i32> {
        let start = day_in("start", start)?;
        self.pool
            .write(
                move |s| {
                    let added = s
                        .add_post_session_routine(&kind, start)
                        .map_err(|e| match e {
                            cairn_core::Error::InvalidInput {
                                field: "event kind",
                                reason,
                            } => CairnError::invalid("kind", reason),
                            e => e.into(),
                        })?;
                    Ok(small(added))
                },
                |added: &i32| {
                    (*added > 0).then(|| JournalChange {
                        table: ChangeTable::Reminders,
                        ids: Vec::new(),
                        deleted: false,
                    })
                },
            )
            .await
    }
}
