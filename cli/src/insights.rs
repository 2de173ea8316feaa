//! `cairn summary` and `cairn patterns`: the core's insights over local
//! days (docs/insights.md).

use crate::{Failure, output, skipped_records};
use cairn_core::insights::{ALPHA, Aggregate, Direction, Summary, summary};
use cairn_core::patterns::{MIN_DIFFERENCE, MIN_GROUP_DAYS, patterns};
use cairn_core::{Entry, EntryQuery, RecordRef, Store, Tracker, TrackerKind, ZoneDb};
use chrono::{Datelike, Days, NaiveDate, Utc};
use clap::Args;
use serde_json::Value as Json;

#[derive(Args)]
pub struct PeriodArgs {
    /// From this local day (YYYY-MM-DD) [default: the first entry's day]
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// To this local day, inclusive [default: today]
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// A local day given on the command line (`--from`, `--to`).
pub(crate) fn day(s: Option<&str>, flag: &str) -> Result<Option<NaiveDate>, Failure> {
    s.map(|s| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| Failure::usage(format!("{flag} takes a day such as 2026-11-27")))
    })
    .transpose()
}

/// Today in the zone `log` would use (TZ, the system's zone, else UTC).
fn today() -> NaiveDate {
    let now = Utc::now();
    let offset = ZoneDb::system()
        .zone(&crate::default_zone())
        .map_or(0, |z| z.offset_at(now.timestamp_millis()));
    (now + chrono::Duration::seconds(i64::from(offset))).date_naive()
}

/// The period asked for and its entries (from the day before, for the
/// patterns' lag of one day).
fn load(
    store: &Store,
    a: &PeriodArgs,
) -> Result<(NaiveDate, NaiveDate, Vec<Entry>, Vec<RecordRef>), Failure> {
    let from = day(a.from.as_deref(), "--from")?;
    let to = day(a.to.as_deref(), "--to")?.unwrap_or_else(today);
    if from.is_some_and(|f| f > to) {
        return Err(Failure::usage("--from is after --to"));
    }
    let page = store.entries(&EntryQuery {
        from_day: from.and_then(|f| f.checked_sub_days(Days::new(1))),
        to_day: Some(to),
        ..Default::default()
    })?;
    let first = page.entries.iter().map(Entry::local_date).min();
    let from = from.or(first).unwrap_or(to).min(to);
    Ok((from, to, page.entries, page.corrupted))
}

fn name<'a>(trackers: &'a [Tracker], id: &'a str) -> &'a str {
    trackers
        .iter()
        .find(|t| t.id == id)
        .map_or("(deleted tracker)", |t| t.name.as_str())
}

/// A mean in the tracker's unit: hours and minutes, a share, or points.
fn amount(kind: Option<&TrackerKind>, x: f64) -> String {
    match kind {
        Some(TrackerKind::Sleep | TrackerKind::Duration { .. }) => {
            output::minutes_text(x.abs().round() as u32)
        }
        Some(TrackerKind::Medication | TrackerKind::YesNo) => format!("{:.0}%", x * 100.0),
        _ => format!("{x:.1}"),
    }
}

pub fn run_summary(store: &Store, a: &PeriodArgs) -> Result<(), Failure> {
    let (from, to, entries, corrupted) = load(store, a)?;
    let trackers = store.trackers()?;
    let s = summary(&entries, from, to);
    if a.json {
        let mut v = serde_json::to_value(&s).expect("the summary serialises");
        for t in v["trackers"].as_array_mut().into_iter().flatten() {
            let id = t["tracker"].as_str().unwrap_or_default().to_owned();
            t["tracker_name"] = Json::from(name(&trackers, &id));
        }
        // Change against baseline, per questionnaire (over every score, not
        // only the period: the baseline may be older).
        v["questionnaires"] =
            serde_json::to_value(store.questionnaire_changes()?).expect("JSON values serialise");
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("JSON values serialise")
        );
    } else {
        print!("{}", summary_text(&s, &trackers));
        for c in store.questionnaire_changes()? {
            print!("{}", crate::outcomes::change_text(&c));
        }
    }
    skipped_records(&corrupted)
}

fn summary_text(s: &Summary, trackers: &[Tracker]) -> String {
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let mut out = format!(
        "{} to {} ({} days, each entry on its local day)\n",
        s.from, s.to, s.days
    );
    if s.trackers.is_empty() {
        out.push_str("no entries in this period\n");
        return out;
    }
    out.push_str(&format!(
        "check-ins on {} of {} days ({}); streak {} days, longest {}\n\n",
        s.check_in_days,
        s.days,
        pct(s.adherence),
        s.streak_days,
        s.longest_streak_days
    ));
    out.push_str(&format!(
        "{:<16} {:>10} {:>6} {:>7} {:>9} {:>10}  trend (a week)\n",
        "tracker", "days", "streak", "mean", "this week", "this month"
    ));
    let week = s.to - Days::new(u64::from(s.to.weekday().num_days_from_monday()));
    let month = s.to.with_day(1).unwrap_or(s.to);
    for t in &s.trackers {
        let kind = trackers.iter().find(|x| x.id == t.tracker).map(|x| &x.kind);
        let show = |x: Option<f64>| x.map_or("-".into(), |x| amount(kind, x));
        let last = |v: &[Aggregate], start: NaiveDate| {
            show(v.last().filter(|a| a.start == start).map(|a| a.mean))
        };
        let trend = match &t.trend {
            None if t.mean.is_none() => "-".to_owned(),
            None => "too few days".to_owned(),
            Some(tr) => {
                let word = match tr.direction {
                    Direction::Rising => "rising",
                    Direction::Falling => "falling",
                    Direction::NoClearTrend => "no clear trend",
                };
                let sign = if tr.per_week < 0.0 { "-" } else { "+" };
                format!(
                    "{word} ({sign}{} over {} days)",
                    amount(kind, tr.per_week.abs()),
                    tr.days
                )
            }
        };
        out.push_str(&format!(
            "{:<16} {:>5} {:>4} {:>6} {:>7} {:>9} {:>10}  {trend}\n",
            name(trackers, &t.tracker),
            t.check_in_days,
            pct(t.adherence),
            t.streak_days,
            show(t.mean),
            last(&t.weekly, week),
            last(&t.monthly, month),
        ));
    }
    out
}

/// Findings printed as text, strongest evidence first.
const SHOWN: usize = 10;

pub fn run_patterns(store: &Store, a: &PeriodArgs) -> Result<(), Failure> {
    let (from, to, entries, corrupted) = load(store, a)?;
    let trackers = store.trackers()?;
    let p = patterns(&entries, &trackers, from, to);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&p.findings).expect("findings serialise")
        );
    } else {
        println!("{from} to {to} ({} days)", p.days);
        for f in p.findings.iter().take(SHOWN) {
            println!("- {}", f.sentence);
        }
        if p.findings.len() > SHOWN {
            println!(
                "- and {} more (cairn patterns --json lists them all)",
                p.findings.len() - SHOWN
            );
        }
        if p.findings.is_empty() {
            println!(
                "Nothing stands out: {} pairs of a tracker and a factor had at least {MIN_GROUP_DAYS} \
                 days on each side, and none differed clearly enough to say so.",
                p.pairs_tested
            );
        } else {
            println!(
                "{} pairs tested; each line holds after correcting for testing them all (Holm, \
                 p < {ALPHA}) and differs by at least \
                 {MIN_DIFFERENCE} points. These go together in your entries; they do not say \
                 what causes what.",
                p.pairs_tested
            );
        }
    }
    skipped_records(&corrupted)
}
