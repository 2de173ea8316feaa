//! The report for the appointment (docs/report.md): a period's
//! patient-reported outcomes as structured data ([`Report`]) and as one
//! self-contained HTML page with SVG charts ([`report_html`]): no scripts,
//! no external files, readable on a phone, printable, accessible.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::journal::{EntryQuery, epoch_day};
use crate::reminders::Adherence;
use crate::store::Store;
use crate::trackers::{TrackerKind, Value};

const DAY_MS: i64 = 86_400_000;

/// A period's outcomes, as [`Store::report`] reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First local day.
    pub from: NaiveDate,
    /// Last local day (inclusive).
    pub to: NaiveDate,
    /// The zone of the latest entry in the period (else of the latest
    /// session, else UTC): it places the period's edges for sessions and
    /// reminders, and flags' local dates.
    pub zone: String,
    /// When the report was made (the store's clock).
    pub generated_at: DateTime<Utc>,
    /// Days of the period up to the day it was made.
    pub days: u32,
    /// Of those, days with any entry.
    pub check_in_days: u32,
    /// `check_in_days / days`; `None` when no day of the period has passed.
    pub check_in_adherence: Option<f64>,
    /// Scale trackers with a value in the period: mood first, then by name.
    pub trackers: Vec<TrackerSeries>,
    /// Questionnaires answered in the period, oldest first.
    pub questionnaires: Vec<QuestionnaireScore>,
    /// Treatment sessions on the period's days, oldest first.
    pub sessions: Vec<Session>,
    /// Reminder adherence per category (categories with something due).
    pub reminders: Vec<Adherence>,
    /// Flags raised in the period, and older ones still open, oldest first.
    pub flags: Vec<ReportFlag>,
    /// Records that could not be opened (damaged) and are left out.
    pub skipped_records: u32,
}

/// A scale tracker's daily means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackerSeries {
    /// Tracker id.
    pub tracker: String,
    /// Its name.
    pub name: String,
    /// Lowest value of its scale.
    pub min: f64,
    /// Highest value of its scale.
    pub max: f64,
    /// What the lowest value means ("very low").
    pub min_label: String,
    /// What the highest value means ("very good").
    pub max_label: String,
    /// Local days with a rating, oldest first.
    pub days: Vec<DayMean>,
}

/// One local day of a tracker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayMean {
    /// The local day.
    pub date: NaiveDate,
    /// Mean of the day's ratings.
    pub mean: f64,
    /// Ratings that day.
    pub ratings: u32,
}

/// A scored questionnaire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionnaireScore {
    /// Local day it was answered.
    pub date: NaiveDate,
    /// When.
    pub at: DateTime<Utc>,
    /// Questionnaire id (`phq9`).
    pub questionnaire: &'static str,
    /// Its name (`PHQ-9`).
    pub name: &'static str,
    /// Total; `None` when incomplete.
    pub total: Option<u8>,
    /// Highest possible total.
    pub max_total: u8,
    /// Band of the total.
    pub band: Option<&'static str>,
    /// Whether the total was prorated.
    pub prorated: bool,
    /// PHQ-9: item 9 answered above 0 (`None`: unanswered, or not PHQ-9).
    /// A `false` is never shown as reassurance.
    pub item9_positive: Option<bool>,
    /// PHQ-9: item 9's answer (0-3).
    pub item9_answer: Option<u8>,
}

/// A treatment session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Local day, in the zone it was recorded in.
    pub date: NaiveDate,
    /// When.
    pub at: DateTime<Utc>,
    /// Kind (`infusion`).
    pub kind: String,
}

/// A flag with its review state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportFlag {
    /// Local day it was raised, in the report's zone.
    pub date: NaiveDate,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// When it was raised, on the clock of the report's zone.
    pub raised_local: NaiveDateTime,
    /// Kind ([`crate::flags::kind`]).
    pub kind: String,
    /// The rule's title, or the kind when this build does not know it.
    pub title: String,
    /// Why it was raised, as raised.
    pub reason: String,
    /// `open` or `acknowledged`.
    pub state: &'static str,
    /// When the clinic acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The same on the clock of the report's zone.
    pub acknowledged_local: Option<NaiveDateTime>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
}

impl Report {
    /// Nothing to show: no entry, session or flag.
    pub fn is_empty(&self) -> bool {
        self.check_in_days == 0
            && self.trackers.is_empty()
            && self.questionnaires.is_empty()
            && self.sessions.is_empty()
            && self.flags.is_empty()
            && self.reminders.is_empty()
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn local_date(ms: i64, offset_s: i32) -> NaiveDate {
    epoch_day((ms + i64::from(offset_s) * 1000).div_euclid(DAY_MS))
}

/// The wall-clock time in `zone` at `ms`.
fn wall_clock(zone: &crate::zones::Zone, ms: i64) -> NaiveDateTime {
    utc(ms + i64::from(zone.offset_at(ms)) * 1000).naive_utc()
}

impl Store {
    /// The report for the local days `from ..= to` (at most
    /// [`crate::bounds::MAX_RANGE_DAYS`] days): entries in one pass,
    /// sessions, flags and reminder adherence. `to` before `from` is
    /// `InvalidInput`.
    pub fn report(&self, from: NaiveDate, to: NaiveDate) -> Result<Report> {
        if to < from {
            return Err(Error::invalid("to", "must not be before from"));
        }
        let span = (to - from).num_days() + 1;
        if span > crate::bounds::MAX_RANGE_DAYS {
            return Err(Error::invalid(
                "range",
                format!("at most {} days", crate::bounds::MAX_RANGE_DAYS),
            ));
        }
        let (zones, now_ms) = self.read(|i| Ok((i.zones.clone(), i.clock.now_ms())))?;
        let page = self.entries(&EntryQuery {
            from_day: Some(from),
            to_day: Some(to),
            ..Default::default()
        })?;
        let trackers = self.trackers()?;
        let events = self.events()?;
        let zone_name = match page.entries.iter().max_by_key(|e| e.at_ms) {
            Some(e) => e.zone.to_string(),
            None => events.last().map_or("UTC".into(), |e| e.zone.clone()),
        };
        let zone = zones.zone(&zone_name).or_else(|_| zones.zone("UTC"))?;
        let today = local_date(now_ms, zone.offset_at(now_ms));
        let days = if today < from {
            0
        } else {
            (today.min(to) - from).num_days() as u32 + 1
        };

        // One pass over the entries.
        let mut any = vec![false; days as usize];
        let mut scales: BTreeMap<&str, BTreeMap<NaiveDate, (f64, u32)>> = BTreeMap::new();
        let mut questionnaires = Vec::new();
        for e in &page.entries {
            let d = e.local_date();
            if let Some(a) = any.get_mut((d - from).num_days().max(0) as usize) {
                *a = true;
            }
            match &e.value {
                Value::Scale(x) => {
                    let s = scales.entry(&e.tracker).or_default().entry(d).or_default();
                    s.0 += x;
                    s.1 += 1;
                }
                Value::Answers { answers, .. } => {
                    let Ok(q) = crate::questionnaires::questionnaire(&e.tracker) else {
                        continue;
                    };
                    let Ok(s) = q.score(answers) else { continue };
                    questionnaires.push(QuestionnaireScore {
                        date: d,
                        at: e.at(),
                        questionnaire: q.id,
                        name: q.name,
                        total: s.total,
                        max_total: q.max_total(),
                        band: s.band,
                        prorated: s.prorated,
                        item9_positive: s.item9_positive,
                        item9_answer: s.risk_answer,
                    });
                }
                _ => {}
            }
        }
        questionnaires.sort_by_key(|q| q.at);
        let mut series: Vec<TrackerSeries> = scales
            .into_iter()
            .map(|(id, ds)| {
                let t = trackers.iter().find(|t| t.id == id);
                let (lo, hi) = ds.values().fold((f64::MAX, f64::MIN), |(l, h), (s, n)| {
                    (l.min(s / f64::from(*n)), h.max(s / f64::from(*n)))
                });
                let (min, max, min_label, max_label) = match t.map(|t| &t.kind) {
                    Some(TrackerKind::Scale {
                        min,
                        max,
                        min_label,
                        max_label,
                        ..
                    }) => (*min, *max, min_label.clone(), max_label.clone()),
                    _ => (
                        lo.floor(),
                        hi.ceil().max(lo.floor() + 1.0),
                        "".into(),
                        "".into(),
                    ),
                };
                TrackerSeries {
                    tracker: id.to_owned(),
                    name: t.map_or("(deleted tracker)".into(), |t| t.name.clone()),
                    min,
                    max,
                    min_label,
                    max_label,
                    days: ds
                        .into_iter()
                        .map(|(date, (s, n))| DayMean {
                            date,
                            mean: s / f64::from(n),
                            ratings: n,
                        })
                        .collect(),
                }
            })
            .collect();
        series.sort_by(|a, b| {
            (a.tracker != "mood", a.name.to_lowercase())
                .cmp(&(b.tracker != "mood", b.name.to_lowercase()))
        });

        let sessions = events
            .into_iter()
            .filter_map(|e| {
                let off = zones
                    .zone(&e.zone)
                    .map_or(zone.offset_at(e.at_ms), |z| z.offset_at(e.at_ms));
                let date = local_date(e.at_ms, off);
                (from <= date && date <= to).then(|| Session {
                    date,
                    at: utc(e.at_ms),
                    kind: e.kind,
                })
            })
            .collect();

        let midnight = |d: NaiveDate| {
            let (s, _) = crate::reminders::local_to_utc(&zone, d, NaiveTime::MIN);
            utc(s * 1000)
        };
        let start = midnight(from);
        let end = midnight(to + Days::new(1));
        let adherence = self.adherence(start, end, utc(now_ms), zone.name())?;
        let reminders = adherence
            .by_category
            .into_iter()
            .filter(|a| a.due > 0)
            .collect();

        let end_ms = end.timestamp_millis();
        let mut flags: Vec<ReportFlag> = self
            .flags()?
            .into_iter()
            .filter(|f| {
                f.raised_at_ms < end_ms
                    && (f.raised_at_ms >= start.timestamp_millis()
                        || f.acknowledged_at_ms.is_none())
            })
            .map(|f| ReportFlag {
                date: local_date(f.raised_at_ms, zone.offset_at(f.raised_at_ms)),
                raised_at: f.raised_at(),
                raised_local: wall_clock(&zone, f.raised_at_ms),
                title: crate::flags::rule(&f.kind).map_or(f.kind.clone(), |r| r.title.into()),
                state: f.state(),
                kind: f.kind,
                reason: f.reason,
                acknowledged_at: f.acknowledged_at_ms.map(utc),
                acknowledged_local: f.acknowledged_at_ms.map(|ms| wall_clock(&zone, ms)),
                acknowledged_by: f.acknowledged_by,
            })
            .collect();
        flags.reverse();

        let check_in_days = any.iter().filter(|a| **a).count() as u32;
        Ok(Report {
            from,
            to,
            zone: zone.name().to_owned(),
            generated_at: utc(now_ms),
            days,
            check_in_days,
            check_in_adherence: (days > 0).then(|| f64::from(check_in_days) / f64::from(days)),
            trackers: series,
            questionnaires,
            sessions,
            reminders,
            flags,
            skipped_records: (page.corrupted.len() + adherence.corrupted.len()) as u32,
        })
    }
}

// --- HTML --------------------------------------------------------------------

/// Text made safe for HTML content and attribute values (`& < > " '`).
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `s` escaped for HTML text and attribute values (`& < > " '`).
pub fn escape_html(s: &str) -> String {
    Esc(s).to_string()
}

// Text #1b1b1b; each colour below at least 4.5:1 on white (WCAG AA).
const GREY: &str = "#4b5563";
const MOOD: &str = "#1d4ed8";
const SCORE: &str = "#0f766e";
const SESSION: &str = "#b45309";
const ITEM9: &str = "#b91c1c";
const BAR: &str = "#4338ca";

const CSS: &str = "\
:root{color:#1b1b1b;background:#fff;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
body{margin:0 auto;max-width:44rem;padding:.75rem 1rem 2rem}\
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .25rem}\
h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-bottom:.2rem;border-bottom:2px solid #d1d5db}\
h3{font-size:1.05rem;margin:1.5rem 0 .25rem}\
p{margin:.4rem 0}.note{color:#4b5563;font-size:.9rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{font-weight:600}dd{margin:0}\
figure{margin:.5rem 0 0;break-inside:avoid}svg{display:block;width:100%;height:auto}\
svg text{font-family:inherit}svg.bar{height:.9rem;margin:.1rem 0 .8rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.3rem 0}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d1d5db;vertical-align:top}\
th{background:#f3f4f6}td.n,th.n{text-align:right}\
details{margin:.25rem 0 1rem}summary{cursor:pointer;color:#1d4ed8;padding:.2rem 0}\
.key{font-size:.9rem;color:#374151;margin:.2rem 0}.sw{display:inline-block;width:1.4em;height:0;vertical-align:middle;margin:0 .3em 0 .6em;border-top:3px solid}\
.sw.d{border-top-style:dashed}.open{font-weight:700}\
footer{margin-top:2.5rem;font-size:.85rem;color:#4b5563}\
@media (max-width:32rem){body{padding:.5rem .75rem 2rem}svg text{font-size:15px}svg .odd{display:none}dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:.4rem}}\
@media print{:root{font-size:11pt}body{max-width:none;padding:0}summary{display:none}\
details::details-content{content-visibility:visible;display:contents}details.long{display:none}\
h2,h3{break-after:avoid}tr,figure,.keep{break-inside:avoid}}\
@page{margin:14mm}";

fn day_short(d: NaiveDate) -> String {
    d.format("%-d %b").to_string()
}

fn day_long(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// A wall-clock time ("27 Nov 2026 14:05").
fn local_time(t: NaiveDateTime) -> String {
    t.format("%-d %b %Y %H:%M").to_string()
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn percent(n: u32, of: u32) -> String {
    format!("{:.0}%", f64::from(n) * 100.0 / f64::from(of.max(1)))
}

// Chart geometry, in viewBox units.
const W: f64 = 520.0;
const H: f64 = 250.0;
const LEFT: f64 = 32.0;
const RIGHT: f64 = 92.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 30.0;

/// One time chart: a value per local day on a fixed range, with the
/// period's sessions marked.
struct Chart<'a> {
    id: String,
    title: String,
    desc: String,
    range: (f64, f64),
    /// Labelled horizontal lines (band starts), or scale labels at the
    /// ends when `ends` is set.
    lines: Vec<(f64, &'a str)>,
    ends: (&'a str, &'a str),
    /// (local day, value, item 9 positive)
    points: Vec<(NaiveDate, f64, bool)>,
    /// Points further apart than this many days are not joined.
    join_days: i64,
    colour: &'static str,
}

fn split_label(s: &str) -> (String, String) {
    let s: String = s.chars().take(24).collect();
    if s.chars().count() <= 12 {
        return (s, String::new());
    }
    let mid = s.len() / 2;
    match s
        .char_indices()
        .filter(|(_, c)| *c == ' ')
        .min_by_key(|(i, _)| i.abs_diff(mid))
    {
        Some((i, _)) => (s[..i].to_owned(), s[i + 1..].to_owned()),
        None => (s, String::new()),
    }
}

fn label(o: &mut String, x: f64, y: f64, anchor: &str, text: &str) {
    let (a, b) = split_label(text);
    let y = if b.is_empty() { y + 4.0 } else { y - 3.0 };
    let _ = write!(
        o,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" font-size=\"12\" fill=\"{GREY}\">{}",
        Esc(&a)
    );
    if !b.is_empty() {
        let _ = write!(o, "<tspan x=\"{x:.1}\" dy=\"14\">{}</tspan>", Esc(&b));
    }
    o.push_str("</text>");
}

fn chart(o: &mut String, r: &Report, c: &Chart<'_>) {
    let n = (r.to - r.from).num_days() as f64;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |d: NaiveDate| {
        if n == 0.0 {
            LEFT + pw / 2.0
        } else {
            LEFT + (d - r.from).num_days() as f64 / n * pw
        }
    };
    let (lo, hi) = c.range;
    let y = |v: f64| TOP + (1.0 - (v.clamp(lo, hi) - lo) / (hi - lo)) * ph;
    let _ = write!(
        o,
        "<figure><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        Esc(&c.title),
        Esc(&c.desc),
        id = c.id
    );
    // Frame and value ticks.
    let _ = write!(
        o,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"{GREY}\"/>"
    );
    let span = hi - lo;
    let step = [
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0, 10_000.0, 100_000.0,
    ]
    .into_iter()
    .find(|s| span / s <= 6.0)
    .unwrap_or(span);
    let mut v = (lo / step).ceil() * step;
    while v <= hi + 1e-9 {
        let yv = y(v);
        let _ = write!(
            o,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yv:.1}\" y2=\"{yv:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"13\" fill=\"{GREY}\">{}</text>",
            LEFT + pw,
            LEFT - 5.0,
            yv + 4.0,
            num(v)
        );
        v += step;
    }
    for (v, name) in &c.lines {
        let yv = y(*v);
        let _ = write!(
            o,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yv:.1}\" y2=\"{yv:.1}\" stroke=\"{GREY}\" stroke-dasharray=\"2 3\"/>",
            LEFT + pw
        );
        // The band's name, in the band (between this line and the next).
        let next = c
            .lines
            .iter()
            .map(|l| l.0)
            .find(|w| w > v)
            .map_or(hi + 1.0, |w| w);
        label(
            o,
            LEFT + pw + 6.0,
            (yv + y(next.min(hi))) / 2.0,
            "start",
            name,
        );
    }
    if !c.ends.0.is_empty() || !c.ends.1.is_empty() {
        label(o, LEFT + pw + 6.0, y(hi) + 8.0, "start", c.ends.1);
        label(o, LEFT + pw + 6.0, y(lo) - 8.0, "start", c.ends.0);
    }
    // Day ticks: about eight, on whole weeks when the period is long.
    let mut every = ((n + 1.0) / 8.0).ceil().max(1.0) as i64;
    if every > 1 {
        every = (every + 6) / 7 * 7;
    }
    let mut d = r.from;
    let mut odd = false;
    while d <= r.to {
        let xd = x(d);
        // Every other date is hidden on a phone (larger text, see CSS).
        let class = if odd { " class=\"odd\"" } else { "" };
        let _ = write!(
            o,
            "<line x1=\"{xd:.1}\" x2=\"{xd:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{GREY}\"/>\
             <text x=\"{xd:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\" fill=\"{GREY}\"{class}>{}</text>",
            TOP + ph,
            TOP + ph + 4.0,
            TOP + ph + 17.0,
            day_short(d)
        );
        d = d + Days::new(every as u64);
        odd = !odd;
    }
    // Sessions: a dashed line and a numbered badge.
    for (i, s) in r.sessions.iter().enumerate() {
        let xs = x(s.date);
        let _ = write!(
            o,
            "<line x1=\"{xs:.1}\" x2=\"{xs:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{SESSION}\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\
             <rect x=\"{:.1}\" y=\"4\" width=\"18\" height=\"18\" rx=\"3\" fill=\"{SESSION}\"/>\
             <text x=\"{xs:.1}\" y=\"17.5\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"700\" fill=\"#fff\">{}</text>",
            TOP - 6.0,
            TOP + ph,
            xs - 9.0,
            i + 1
        );
    }
    // The values: a line through consecutive days (broken across gaps of
    // more than a week), a dot on each.
    let mut path = String::new();
    let mut last: Option<NaiveDate> = None;
    for (d, v, _) in &c.points {
        let cmd = match last {
            Some(l) if (*d - l).num_days() <= c.join_days => 'L',
            _ => 'M',
        };
        let _ = write!(path, "{cmd}{:.1} {:.1}", x(*d), y(*v));
        last = Some(*d);
    }
    let _ = write!(
        o,
        "<path d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/>",
        c.colour
    );
    let dot = if c.points.len() > 40 { 3.0 } else { 4.5 };
    for (d, v, item9) in &c.points {
        let _ = write!(
            o,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{dot}\" fill=\"{}\"/>",
            x(*d),
            y(*v),
            c.colour
        );
        if *item9 {
            // The label beside the square, towards the middle of the chart.
            let (dx, anchor) = if x(*d) > LEFT + pw * 0.75 {
                (-10.0, "end")
            } else {
                (10.0, "start")
            };
            let _ = write!(
                o,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"11\" height=\"11\" fill=\"{ITEM9}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-size=\"13\" font-weight=\"700\" fill=\"{ITEM9}\" stroke=\"#fff\" stroke-width=\"4\" paint-order=\"stroke\">item 9</text>",
                x(*d) - 5.5,
                y(*v) - 5.5,
                x(*d) + dx,
                y(*v) + 4.5
            );
        }
    }
    o.push_str("</svg></figure>");
}

/// The key under a time chart: what each mark is, in words.
fn key(o: &mut String, r: &Report, what: &str, colour: &str, item9: bool) {
    let _ = write!(
        o,
        "<p class=\"key\"><span class=\"sw\" style=\"border-color:{colour}\"></span>{what}"
    );
    if !r.sessions.is_empty() {
        let _ = write!(
            o,
            "<span class=\"sw d\" style=\"border-color:{SESSION}\"></span>numbered dashed lines: treatment sessions (see Sessions)"
        );
    }
    if item9 {
        o.push_str(
            "<span class=\"sw\" style=\"border-color:#b91c1c\"></span>square labelled \u{201c}item 9\u{201d}: item 9 answered above 0",
        );
    }
    o.push_str("</p>");
}

/// Opens a chart's table of numbers. Tables of more than 16 rows stay out
/// of print (the chart and the text above it carry them on paper).
fn table_head(o: &mut String, summary: &str, heads: &[&str], rows: usize) {
    let long = if rows > 16 { " class=\"long\"" } else { "" };
    let _ = write!(
        o,
        "<details{long}><summary>{summary}</summary><table><thead><tr>"
    );
    for h in heads {
        let class = if h.starts_with('#') {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(
            o,
            "<th scope=\"col\"{class}>{}</th>",
            h.trim_start_matches('#')
        );
    }
    o.push_str("</tr></thead><tbody>");
}

fn sessions_note(r: &Report) -> String {
    match r.sessions.len() {
        0 => String::new(),
        1 => " 1 treatment session is marked.".into(),
        n => format!(" {n} treatment sessions are marked, numbered in time order."),
    }
}

fn tracker_section(o: &mut String, r: &Report, t: &TrackerSeries, i: usize) {
    let (first, last) = (&t.days[0], &t.days[t.days.len() - 1]);
    let (lo, hi) = t.days.iter().fold((f64::MAX, f64::MIN), |(l, h), d| {
        (l.min(d.mean), h.max(d.mean))
    });
    let mean = t.days.iter().map(|d| d.mean).sum::<f64>() / t.days.len() as f64;
    let title = format!("{}: daily mean, {} to {}", t.name, num(t.min), num(t.max));
    let text = format!(
        "{} rated on {} of {} days from {} to {}, on a scale of {} to {}. First rated day {} ({}), \
         last {} ({}); lowest daily mean {}, highest {}, mean of daily means {}.",
        t.name,
        t.days.len(),
        r.days.max(1),
        day_long(r.from),
        day_long(r.to),
        num(t.min),
        num(t.max),
        num(first.mean),
        day_short(first.date),
        num(last.mean),
        day_short(last.date),
        num(lo),
        num(hi),
        num(mean),
    );
    let _ = write!(
        o,
        "<section class=\"keep\"><h3>{}</h3><p>{}</p>",
        Esc(&t.name),
        Esc(&text)
    );
    let desc = text + &sessions_note(r);
    chart(
        o,
        r,
        &Chart {
            id: format!("t{i}"),
            title,
            desc,
            range: (t.min, t.max),
            lines: Vec::new(),
            ends: (&t.min_label, &t.max_label),
            points: t.days.iter().map(|d| (d.date, d.mean, false)).collect(),
            join_days: 7,
            colour: MOOD,
        },
    );
    key(o, r, "daily mean", MOOD, false);
    table_head(
        o,
        &format!("{} by day (table)", Esc(&t.name)),
        &["Date", "#Daily mean", "#Ratings"],
        t.days.len(),
    );
    for d in &t.days {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            day_long(d.date),
            num((d.mean * 10.0).round() / 10.0),
            d.ratings
        );
    }
    o.push_str("</tbody></table></details></section>");
}

fn item9_text(q: &QuestionnaireScore) -> String {
    // A negative answer gets no text at all (docs/outcomes.md, "Item 9").
    match (q.item9_positive, q.item9_answer) {
        (Some(true), Some(a)) => format!("positive ({a} of 3), flagged for review"),
        (None, _) if q.questionnaire == "phq9" => "not answered".into(),
        _ => String::new(),
    }
}

fn questionnaire_section(o: &mut String, r: &Report, q: &crate::questionnaires::Questionnaire) {
    let rows: Vec<&QuestionnaireScore> = r
        .questionnaires
        .iter()
        .filter(|s| s.questionnaire == q.id)
        .collect();
    if rows.is_empty() {
        return;
    }
    let scored: Vec<&&QuestionnaireScore> = rows.iter().filter(|s| s.total.is_some()).collect();
    let max = q.max_total();
    let mut desc = format!(
        "{} total (0 to {max}) on {} occasion{} from {} to {}.",
        q.name,
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        day_long(r.from),
        day_long(r.to)
    );
    if let (Some(f), Some(l)) = (scored.first(), scored.last()) {
        let (ft, lt) = (f.total.unwrap_or(0), l.total.unwrap_or(0));
        let _ = write!(
            desc,
            " First {ft} ({}) on {}, last {lt} ({}) on {}: a change of {:+}.",
            f.band.unwrap_or(""),
            day_short(f.date),
            l.band.unwrap_or(""),
            day_short(l.date),
            i32::from(lt) - i32::from(ft)
        );
    }
    let positives: Vec<String> = rows
        .iter()
        .filter(|s| s.item9_positive == Some(true))
        .map(|s| day_short(s.date))
        .collect();
    if !positives.is_empty() {
        let _ = write!(
            desc,
            " Item 9 answered above 0 on {}, each flagged for review.",
            positives.join(", ")
        );
    }
    let _ = write!(
        o,
        "<section class=\"keep\"><h3>{}</h3><p>{}</p>",
        q.name,
        Esc(&desc)
    );
    if q.bands.len() > 1 {
        let _ = write!(
            desc,
            " Bands: {}.",
            q.bands
                .iter()
                .map(|b| format!("{} {}-{}", b.name, b.min, b.max))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    desc.push_str(&sessions_note(r));
    chart(
        o,
        r,
        &Chart {
            id: format!("q-{}", q.id),
            title: format!("{} total score, 0 to {max}, with its bands", q.name),
            desc,
            range: (0.0, f64::from(max)),
            lines: q.bands.iter().map(|b| (f64::from(b.min), b.name)).collect(),
            ends: ("", ""),
            points: scored
                .iter()
                .map(|s| {
                    (
                        s.date,
                        f64::from(s.total.unwrap_or(0)),
                        s.item9_positive == Some(true),
                    )
                })
                .collect(),
            join_days: i64::MAX,
            colour: SCORE,
        },
    );
    key(
        o,
        r,
        &format!("{} total; dotted lines: band edges", q.name),
        SCORE,
        !positives.is_empty(),
    );
    let mut heads = vec!["Date", "#Total", "Band"];
    if q.risk_item.is_some() {
        heads.push("Item 9");
    }
    table_head(o, &format!("{} scores (table)", q.name), &heads, rows.len());
    for s in rows {
        let total = match s.total {
            Some(t) if s.prorated => format!("{t} (prorated)"),
            Some(t) => t.to_string(),
            None => "incomplete".into(),
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"n\">{total}</td><td>{}</td>",
            day_long(s.date),
            s.band.unwrap_or("")
        );
        if q.risk_item.is_some() {
            let _ = write!(o, "<td>{}</td>", item9_text(s));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table></details></section>");
}

fn adherence_section(o: &mut String, r: &Report) {
    // (label, done, of, details)
    let mut bars: Vec<(String, u32, u32, String)> = Vec::new();
    if r.days > 0 {
        bars.push((
            "Days with any check-in".into(),
            r.check_in_days,
            r.days,
            format!("{} of {} days", r.check_in_days, r.days),
        ));
    }
    for a in &r.reminders {
        bars.push((
            format!("Reminders done: {}", a.key.replace('_', " ")),
            a.done,
            a.due,
            format!(
                "{} done of {} due; {} skipped, {} missed; {} not reported shown by the phone",
                a.done, a.due, a.skipped, a.missed, a.not_shown
            ),
        ));
    }
    if bars.is_empty() {
        o.push_str("<p>Nothing was due in this period.</p>");
        return;
    }
    // The numbers are the text; the bars only draw them (hidden from
    // screen readers, which read the text).
    for (l, d, of, t) in &bars {
        let share = f64::from(*d) * 100.0 / f64::from((*of).max(1));
        let _ = write!(
            o,
            "<p><strong>{}</strong>: {} ({})</p><svg class=\"bar\" viewBox=\"0 0 100 10\" \
             preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect width=\"100\" height=\"10\" \
             fill=\"#fff\" stroke=\"{GREY}\" vector-effect=\"non-scaling-stroke\"/>\
             <rect width=\"{share:.1}\" height=\"10\" fill=\"{BAR}\"/></svg>",
            Esc(l),
            percent(*d, *of),
            Esc(t)
        );
    }
}

/// The report as one self-contained HTML page: inline CSS and SVG, no
/// scripts, no external resources. Every piece of patient text is escaped.
pub fn report_html(r: &Report) -> String {
    let mut o = String::with_capacity(32 * 1024);
    let period = format!("{} to {}", day_long(r.from), day_long(r.to));
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>Patient-reported outcomes, {period}</title><style>{CSS}</style></head><body>\
         <header><h1>Patient-reported outcomes</h1><p>{period} ({} days), times in {}</p>\
         <p class=\"note\">Entered by the patient in the Cairn app, for discussion with the care team. \
         Flags are rule-based prompts for review, not diagnoses.</p></header><main>",
        (r.to - r.from).num_days() + 1,
        Esc(&r.zone)
    );
    if r.is_empty() {
        let _ = write!(
            o,
            "<h2>No data for this period</h2><p>Nothing was recorded from {period}: no ratings, \
             questionnaires, treatment sessions, reminders or flags.</p>"
        );
    } else {
        summary(&mut o, r);
        o.push_str("<h2>Mood and other ratings</h2>");
        if r.trackers.is_empty() {
            o.push_str("<p>No ratings in this period.</p>");
        }
        for (i, t) in r.trackers.iter().enumerate() {
            tracker_section(&mut o, r, t, i);
        }
        o.push_str("<h2>Questionnaires</h2>");
        if r.questionnaires.is_empty() {
            o.push_str("<p>No questionnaires answered in this period.</p>");
        }
        for q in crate::questionnaires::QUESTIONNAIRES {
            questionnaire_section(&mut o, r, q);
        }
        o.push_str("<section class=\"keep\"><h2>Treatment sessions</h2>");
        if r.sessions.is_empty() {
            o.push_str("<p>No treatment sessions in this period.</p>");
        } else {
            o.push_str(
                "<table><thead><tr><th scope=\"col\" class=\"n\">No.</th><th scope=\"col\">Date</th>\
                 <th scope=\"col\">Kind</th></tr></thead><tbody>",
            );
            for (i, s) in r.sessions.iter().enumerate() {
                let _ = write!(
                    o,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                    i + 1,
                    day_long(s.date),
                    Esc(&s.kind)
                );
            }
            o.push_str("</tbody></table>");
        }
        o.push_str("</section><section class=\"keep\"><h2>Adherence</h2>");
        adherence_section(&mut o, r);
        o.push_str("</section>");
        flags_section(&mut o, r);
    }
    if r.skipped_records > 0 {
        let _ = write!(
            o,
            "<p><strong>{} record(s) could not be read (damaged) and are left out.</strong></p>",
            r.skipped_records
        );
    }
    let _ = writeln!(
        o,
        "</main><footer><p>Made {} UTC by Cairn {}. Local days are the patient's own, in the zone \
         each entry was made in.</p></footer></body></html>",
        r.generated_at.format("%-d %b %Y %H:%M"),
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn summary(o: &mut String, r: &Report) {
    o.push_str("<h2>Summary</h2><dl>");
    if let Some(a) = r.check_in_adherence {
        let _ = write!(
            o,
            "<dt>Check-ins</dt><dd>{} of {} days ({:.0}%)</dd>",
            r.check_in_days,
            r.days,
            a * 100.0
        );
    }
    for t in r.trackers.iter().take(1) {
        let mean = t.days.iter().map(|d| d.mean).sum::<f64>() / t.days.len() as f64;
        let (f, l) = (&t.days[0], &t.days[t.days.len() - 1]);
        let _ = write!(
            o,
            "<dt>{}</dt><dd>{} on {}, {} on {}; mean {} over {} rated days (scale {} to {})</dd>",
            Esc(&t.name),
            num(f.mean),
            day_short(f.date),
            num(l.mean),
            day_short(l.date),
            num(mean),
            t.days.len(),
            num(t.min),
            num(t.max)
        );
    }
    for q in crate::questionnaires::QUESTIONNAIRES {
        let s: Vec<&QuestionnaireScore> = r
            .questionnaires
            .iter()
            .filter(|s| s.questionnaire == q.id && s.total.is_some())
            .collect();
        let score = |s: &QuestionnaireScore| {
            format!(
                "{} ({}) on {}",
                s.total.unwrap_or(0),
                s.band.unwrap_or(""),
                day_short(s.date)
            )
        };
        match (s.first(), s.last()) {
            (Some(f), Some(l)) if s.len() > 1 => {
                let _ = write!(
                    o,
                    "<dt>{}</dt><dd>{} to {} ({} scores)</dd>",
                    q.name,
                    score(f),
                    score(l),
                    s.len()
                );
            }
            (Some(f), _) => {
                let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", q.name, score(f));
            }
            _ => {}
        }
    }
    let item9: Vec<String> = r
        .questionnaires
        .iter()
        .filter(|q| q.item9_positive == Some(true))
        .map(|q| day_short(q.date))
        .collect();
    if !item9.is_empty() {
        let _ = write!(
            o,
            "<dt>PHQ-9 item 9</dt><dd class=\"open\">answered above 0 on {}; flagged for review</dd>",
            item9.join(", ")
        );
    }
    if let (Some(f), Some(l)) = (r.sessions.first(), r.sessions.last()) {
        let mut kinds: Vec<&str> = r.sessions.iter().map(|s| s.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let _ = write!(
            o,
            "<dt>Treatment sessions</dt><dd>{} ({}), {} to {}</dd>",
            r.sessions.len(),
            Esc(&kinds.join(", ")),
            day_short(f.date),
            day_short(l.date)
        );
    }
    let open = r.flags.iter().filter(|f| f.state == "open").count();
    if !r.flags.is_empty() {
        let _ = write!(
            o,
            "<dt>Flags</dt><dd>{}, {open} of them open</dd>",
            r.flags.len()
        );
    }
    o.push_str("</dl>");
}

fn flags_section(o: &mut String, r: &Report) {
    o.push_str("<section class=\"keep\"><h2>Flags for review</h2>");
    if r.flags.is_empty() {
        o.push_str("<p>No flags were raised in this period, and none are open.</p></section>");
        return;
    }
    o.push_str(
        "<p class=\"note\">Raised in the period, and any raised earlier that are still open.</p>\
         <table><thead><tr><th scope=\"col\">Raised</th><th scope=\"col\">Flag and reason</th>\
         <th scope=\"col\">Review</th></tr></thead><tbody>",
    );
    for f in &r.flags {
        let review = match (&f.acknowledged_local, &f.acknowledged_by) {
            (Some(at), by) => format!(
                "Acknowledged {}{}",
                local_time(*at),
                by.as_ref()
                    .map_or(String::new(), |b| format!(" by {}", Esc(b)))
            ),
            _ => "<span class=\"open\">Open</span>: not yet acknowledged".into(),
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td><strong>{}</strong><br>{}</td><td>{review}</td></tr>",
            local_time(f.raised_local),
            Esc(&f.title),
            Esc(&f.reason)
        );
    }
    o.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;";

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape_html(EVIL),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img src=x \
             onerror=alert(1)&gt;&amp;amp;"
        );
        assert_eq!(escape_html("Mood · très bien"), "Mood · très bien");
        assert_eq!(escape_html(""), "");
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn empty() -> Report {
        Report {
            from: day("2026-11-01"),
            to: day("2026-11-28"),
            zone: "Europe/London".into(),
            generated_at: utc(1_795_780_800_000),
            days: 27,
            check_in_days: 0,
            check_in_adherence: Some(0.0),
            trackers: vec![],
            questionnaires: vec![],
            sessions: vec![],
            reminders: vec![],
            flags: vec![],
            skipped_records: 0,
        }
    }

    #[test]
    fn patient_text_is_escaped_everywhere_on_the_page() {
        let mut r = empty();
        r.zone = EVIL.into();
        r.check_in_days = 2;
        r.trackers.push(TrackerSeries {
            tracker: "0123456789abcdef0123456789abcdef".into(),
            name: EVIL.into(),
            min: 0.0,
            max: 4.0,
            min_label: EVIL.into(),
            max_label: EVIL.into(),
            days: vec![DayMean {
                date: day("2026-11-02"),
                mean: 2.5,
                ratings: 2,
            }],
        });
        r.sessions.push(Session {
            date: day("2026-11-03"),
            at: utc(1_794_000_000_000),
            kind: EVIL.into(),
        });
        let raised = utc(1_795_000_000_000);
        r.flags.push(ReportFlag {
            date: day("2026-11-18"),
            raised_at: raised,
            raised_local: raised.naive_utc(),
            kind: "new_kind".into(),
            title: EVIL.into(),
            reason: EVIL.into(),
            state: "acknowledged",
            acknowledged_at: Some(raised),
            acknowledged_local: Some(raised.naive_utc()),
            acknowledged_by: Some(EVIL.into()),
        });
        let html = report_html(&r);
        for raw in ["<script", "<img", "'x'", "onerror=alert(1)>"] {
            assert!(!html.contains(raw), "{raw} is on the page");
        }
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)"));
        assert!(html.contains("Acknowledged"));
        // Nothing runs and nothing is fetched.
        assert!(html.contains("default-src 'none'"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn an_empty_period_says_so_instead_of_drawing_charts() {
        let r = empty();
        assert!(r.is_empty());
        let html = report_html(&r);
        assert!(html.contains("No data for this period"), "{html}");
        assert!(!html.contains("<svg"));
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert_eq!(html.matches("<h1>").count(), 1);
    }

    #[test]
    fn a_negative_item_9_gets_no_text() {
        let q = |positive, answer| QuestionnaireScore {
            date: day("2026-11-02"),
            at: utc(1_794_000_000_000),
            questionnaire: "phq9",
            name: "PHQ-9",
            total: Some(5),
            max_total: 27,
            band: Some("mild"),
            prorated: false,
            item9_positive: positive,
            item9_answer: answer,
        };
        assert_eq!(item9_text(&q(Some(false), Some(0))), "");
        assert_eq!(item9_text(&q(None, None)), "not answered");
        assert_eq!(
            item9_text(&q(Some(true), Some(2))),
            "positive (2 of 3), flagged for review"
        );
        let mut r = empty();
        r.questionnaires.push(q(Some(false), Some(0)));
        let html = report_html(&r);
        assert!(!html.contains("item 9 answered above 0"));
        assert!(!html.to_lowercase().contains("no risk"));
    }
}
