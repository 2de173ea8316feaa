//! Insights over a period of local days (docs/insights.md): the summary
//! (per-tracker daily, weekly and monthly aggregates, adherence, streaks,
//! trends) and patterns (associations between trackers and tags, claimed
//! only when the data support them). Computed on a reader from the stored
//! entries; nothing is stored, nothing leaves the device.

use crate::CairnError;
use crate::error::Result;
use crate::journal::{Journal, Tag, TagGroup};
use crate::values::{LocalDay, TrackerId, count_out, day_in, day_out};
use cairn_core as core;
use cairn_core::insights as ins;
use cairn_core::patterns as pat;

/// A tracker's values over one local day, ISO week or calendar month.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Aggregate {
    /// The first local day: the day itself, the week's Monday or the
    /// month's 1st.
    pub start: LocalDay,
    /// Days with a value in it.
    pub days: i32,
    /// Entries with a value in it.
    pub entries: i32,
    /// The mean of the daily means (each day counts once).
    pub mean: f64,
    /// Lowest single value.
    pub min: f64,
    /// Highest single value.
    pub max: f64,
}

/// Which way a tracker went over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Direction {
    /// The slope is positive and significant.
    Rising,
    /// The slope is negative and significant.
    Falling,
    /// The data do not support either (the slope is still given).
    NoClearTrend,
}

/// A least-squares line through a tracker's daily means.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Trend {
    /// Slope in the tracker's unit per week (points, minutes, share of yes).
    pub per_week: f64,
    /// Days with a value the line was fitted to.
    pub days: i32,
    /// Two-sided p-value of the slope, corrected for day-to-day persistence
    /// and, by Holm's method, for the trackers tested.
    pub p_adjusted: f64,
    /// Rising or falling only when `pAdjusted` is below 0.05.
    pub direction: Direction,
}

/// One tracker over the period.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TrackerInsight {
    /// The tracker.
    pub tracker: TrackerId,
    /// Entries in the period.
    pub entries: i64,
    /// Local days with at least one entry.
    pub check_in_days: i32,
    /// `checkInDays` / days in the period (0-1).
    pub adherence: f64,
    /// Consecutive days with an entry up to the period's last day (or the
    /// day before, when the last day has none yet).
    pub streak_days: i32,
    /// Longest run of consecutive days with an entry in the period.
    pub longest_streak_days: i32,
    /// Mean of the daily means; none for text.
    pub mean: Option<f64>,
    /// Lowest value.
    pub min: Option<f64>,
    /// Highest value.
    pub max: Option<f64>,
    /// Days with a value, oldest first.
    pub daily: Vec<Aggregate>,
    /// ISO weeks (Monday to Sunday) with a value.
    pub weekly: Vec<Aggregate>,
    /// Calendar months with a value.
    pub monthly: Vec<Aggregate>,
    /// None for text and with fewer than 14 days with a value.
    pub trend: Option<Trend>,
}

/// Everything the patient logged over a period of local days.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Summary {
    /// First local day.
    pub from: LocalDay,
    /// Last local day (inclusive).
    pub to: LocalDay,
    /// Days in the period.
    pub days: i32,
    /// Days with at least one entry on any tracker.
    pub check_in_days: i32,
    /// `checkInDays` / `days` (0-1).
    pub adherence: f64,
    /// Consecutive days with an entry up to `to` (or the day before).
    pub streak_days: i32,
    /// Longest run of days with an entry in the period.
    pub longest_streak_days: i32,
    /// One per tracker with entries in the period, by tracker id.
    pub trackers: Vec<TrackerInsight>,
}

/// What splits an outcome's days into two groups.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Factor {
    /// An entry on the factor's day carries this tag.
    Tag {
        /// The tag's group.
        group: TagGroup,
        /// The tag's text.
        label: String,
    },
    /// The tracker's daily mean on the factor's day is below `threshold`
    /// (360 minutes for sleep, 1 for yes/no and medication, the patient's
    /// median over the period for other trackers).
    Below {
        /// The tracker.
        tracker: TrackerId,
        /// The split.
        threshold: f64,
    },
}

/// An association the data support (never a cause).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Finding {
    /// The outcome: a scale tracker.
    pub tracker: TrackerId,
    /// What splits the days.
    pub factor: Factor,
    /// Local days from the factor's day to the outcome's day (0: the same
    /// day; sleep is dated by the morning it ends).
    pub lag_days: i32,
    /// Days with an outcome value and the factor.
    pub n_with: i32,
    /// Days with an outcome value and without it.
    pub n_without: i32,
    /// Mean of the outcome's daily means with the factor.
    pub mean_with: f64,
    /// The same without.
    pub mean_without: f64,
    /// Welch's p-value, corrected for persistence and (Holm) for every
    /// pair tested.
    pub p_adjusted: f64,
    /// The finding in words, with its numbers: show this.
    pub sentence: String,
}

/// What `patterns` found, and how much it looked at.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Patterns {
    /// Pairs (outcome, factor, lag) with enough days on each side to be
    /// tested.
    pub pairs_tested: i32,
    /// Days in the period.
    pub days: i32,
    /// Supported associations, strongest evidence first; empty when
    /// nothing stands out.
    pub findings: Vec<Finding>,
}

fn n(x: u32) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

fn aggregate(a: ins::Aggregate) -> Aggregate {
    Aggregate {
        start: day_out(a.start),
        days: n(a.days),
        entries: n(a.entries),
        mean: a.mean,
        min: a.min,
        max: a.max,
    }
}

fn aggregates(v: Vec<ins::Aggregate>) -> Vec<Aggregate> {
    v.into_iter().map(aggregate).collect()
}

impl From<ins::Summary> for Summary {
    fn from(s: ins::Summary) -> Self {
        Summary {
            from: day_out(s.from),
            to: day_out(s.to),
            days: n(s.days),
            check_in_days: n(s.check_in_days),
            adherence: s.adherence,
            streak_days: n(s.streak_days),
            longest_streak_days: n(s.longest_streak_days),
            trackers: s
                .trackers
                .into_iter()
                .map(|t| TrackerInsight {
                    tracker: TrackerId(t.tracker),
                    entries: count_out(t.entries),
                    check_in_days: n(t.check_in_days),
                    adherence: t.adherence,
                    streak_days: n(t.streak_days),
                    longest_streak_days: n(t.longest_streak_days),
                    mean: t.mean,
                    min: t.min,
                    max: t.max,
                    daily: aggregates(t.daily),
                    weekly: aggregates(t.weekly),
                    monthly: aggregates(t.monthly),
                    trend: t.trend.map(|t| Trend {
                        per_week: t.per_week,
                        days: n(t.days),
                        p_adjusted: t.p_adjusted,
                        direction: match t.direction {
                            ins::Direction::Rising => Direction::Rising,
                            ins::Direction::Falling => Direction::Falling,
                            ins::Direction::NoClearTrend => Direction::NoClearTrend,
                        },
                    }),
                })
                .collect(),
        }
    }
}

impl From<pat::Patterns> for Patterns {
    fn from(p: pat::Patterns) -> Self {
        Patterns {
            pairs_tested: n(p.pairs_tested),
            days: n(p.days),
            findings: p
                .findings
                .into_iter()
                .map(|f| Finding {
                    tracker: TrackerId(f.tracker),
                    factor: match f.factor {
                        pat::Factor::Tag { group, label } => {
                            let t = Tag::from(core::Tag { group, label });
                            Factor::Tag {
                                group: t.group,
                                label: t.label,
                            }
                        }
                        pat::Factor::Below { tracker, threshold } => Factor::Below {
                            tracker: TrackerId(tracker),
                            threshold,
                        },
                    },
                    lag_days: n(f.lag_days),
                    n_with: n(f.n_with),
                    n_without: n(f.n_without),
                    mean_with: f.mean_with,
                    mean_without: f.mean_without,
                    p_adjusted: f.p_adjusted,
                    sentence: f.sentence,
                })
                .collect(),
        }
    }
}

/// 2199-12-31, in days since 1970: the last day an entry can be on.
const LAST_DAY: i64 = core::bounds::LATEST_MS / 86_400_000;

/// The period's days, checked: `to` before `from` is `InvalidInput`.
pub(crate) fn period(
    from: LocalDay,
    to: LocalDay,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate)> {
    // Entries are 1970-2199: a period outside would only allocate days.
    let inside = |field: &str, d: LocalDay| {
        if (0..=LAST_DAY).contains(&d.0) {
            day_in(field, d)
        } else {
            Err(CairnError::invalid(field, "must be from 1970 to 2199"))
        }
    };
    let (from, to) = (inside("from", from)?, inside("to", to)?);
    if to < from {
        return Err(CairnError::invalid("to", "must not be before from"));
    }
    Ok((from, to))
}

/// The entries of the local days `from - 1 ..= to` (the day before for the
/// patterns' lag of one day; the summary skips it).
fn entries(
    s: &core::Store,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> core::Result<Vec<core::Entry>> {
    Ok(s.entries(&core::EntryQuery {
        from_day: from.pred_opt(),
        to_day: Some(to),
        ..Default::default()
    })?
    .entries)
}

#[uniffi::export]
impl Journal {
    /// The summary of the local days `from ..= to` (docs/insights.md):
    /// per tracker with entries, daily, weekly and monthly means, adherence,
    /// streaks and the trend; the same adherence and streaks for all
    /// trackers together. `InvalidInput` (field `to`) when `to` is before
    /// `from`. Runs on a reader (cancellable).
    pub async fn insights(&self, from: LocalDay, to: LocalDay) -> Result<Summary> {
        let (from, to) = period(from, to)?;
        self.pool
            .read(move |s| Ok(ins::summary(&entries(s, from, to)?, from, to).into()))
            .await
    }

    /// Associations between the scale trackers (mood, anxiety...) and
    /// factors (short sleep, a skipped dose, a low value, a tag) over the
    /// local days `from ..= to` (and the day before, for a lag of one day),
    /// claimed only when the data support them: show each finding's
    /// `sentence`; an empty list means nothing stands out. Associations,
    /// never causes. `InvalidInput` (field `to`) when `to` is before
    /// `from`. Runs on a reader (cancellable).
    pub async fn patterns(&self, from: LocalDay, to: LocalDay) -> Result<Patterns> {
        let (from, to) = period(from, to)?;
        self.pool
            .read(move |s| {
                let trackers = s.trackers()?;
                Ok(pat::patterns(&entries(s, from, to)?, &trackers, from, to).into())
            })
            .await
    }
}
