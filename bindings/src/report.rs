//! The report for the appointment (docs/report.md) and the FHIR R4 export
//! (docs/fhir.md): a period's patient-reported outcomes as structured data
//! and as one self-contained HTML page (inline CSS and SVG charts, no
//! scripts, nothing loaded) to show in a WebView or share; and a
//! transaction Bundle for a clinic system. Both are read on a reader.

use crate::error::{CairnError, Result};
use crate::flags::FlagState;
use crate::insights::period;
use crate::journal::Journal;
use crate::reminders::Adherence;
use crate::values::{LocalDay, Timestamp, TrackerId, ZoneName, day_in, day_out, instant_out};
use cairn_core as core;
use cairn_core::fhir;
use cairn_core::report as rep;

/// One local day of a tracker.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DayMean {
    /// The local day.
    pub date: LocalDay,
    /// Mean of the day's ratings.
    pub mean: f64,
    /// Ratings that day.
    pub ratings: i32,
}

/// A scale tracker's daily means over the period.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TrackerSeries {
    /// The tracker.
    pub tracker: TrackerId,
    /// Its name.
    pub name: String,
    /// Lowest value of its scale.
    pub min: f64,
    /// Highest value of its scale.
    pub max: f64,
    /// What the lowest value means.
    pub min_label: String,
    /// What the highest value means.
    pub max_label: String,
    /// Local days with a rating, oldest first.
    pub days: Vec<DayMean>,
}

/// A questionnaire answered in the period, scored.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReportScore {
    /// Local day it was answered.
    pub date: LocalDay,
    /// When.
    pub at: Timestamp,
    /// Questionnaire id (`phq9`).
    pub questionnaire: String,
    /// Its name (`PHQ-9`).
    pub name: String,
    /// Total; none when incomplete.
    pub total: Option<i32>,
    /// Highest possible total.
    pub max_total: i32,
    /// Band of the total.
    pub band: Option<String>,
    /// Whether the total was prorated.
    pub prorated: bool,
    /// PHQ-9: item 9 answered above 0 (none: unanswered, or not PHQ-9).
    /// A false is never reassurance.
    pub item9_positive: Option<bool>,
    /// PHQ-9: item 9's answer (0-3).
    pub item9_answer: Option<i32>,
}

/// A treatment session in the period.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReportSession {
    /// Local day, in the zone it was recorded in.
    pub date: LocalDay,
    /// When.
    pub at: Timestamp,
    /// Kind (`infusion`).
    pub kind: String,
}

/// A flag in the report, with its review state.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReportFlag {
    /// Local day it was raised, in the report's zone.
    pub date: LocalDay,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// Kind (`item9_positive`...).
    pub kind: String,
    /// The rule's title, or the kind when this version does not know it.
    pub title: String,
    /// Why it was raised.
    pub reason: String,
    /// Open or acknowledged.
    pub state: FlagState,
    /// When the clinic acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
}

/// A period's outcomes, for the appointment.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Report {
    /// First local day.
    pub from: LocalDay,
    /// Last local day (inclusive).
    pub to: LocalDay,
    /// The zone of the latest entry in the period (else of the latest
    /// session, else UTC): it places sessions, reminders and flags on days.
    pub zone: ZoneName,
    /// When the report was made.
    pub generated_at: Timestamp,
    /// Days of the period up to the day it was made.
    pub days: i32,
    /// Of those, days with any entry.
    pub check_in_days: i32,
    /// `checkInDays / days`; none when no day of the period has passed.
    pub check_in_adherence: Option<f64>,
    /// Scale trackers with a value in the period: mood first, then by name.
    pub trackers: Vec<TrackerSeries>,
    /// Questionnaires answered in the period, oldest first.
    pub questionnaires: Vec<ReportScore>,
    /// Treatment sessions on the period's days, oldest first.
    pub sessions: Vec<ReportSession>,
    /// Reminder adherence per category (categories with something due).
    pub reminders: Vec<Adherence>,
    /// Flags raised in the period, and older ones still open, oldest first.
    pub flags: Vec<ReportFlag>,
    /// Records that could not be opened (damaged) and are left out.
    pub skipped_records: i32,
}

fn small(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn at(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
    instant_out(t.timestamp_millis())
}

impl From<rep::Report> for Report {
    fn from(r: rep::Report) -> Self {
        Report {
            from: day_out(r.from),
            to: day_out(r.to),
            zone: ZoneName(r.zone),
            generated_at: at(r.generated_at),
            days: small(r.days),
            check_in_days: small(r.check_in_days),
            check_in_adherence: r.check_in_adherence,
            trackers: r
                .trackers
                .into_iter()
                .map(|t| TrackerSeries {
                    tracker: TrackerId(t.tracker),
                    name: t.name,
                    min: t.min,
                    max: t.max,
                    min_label: t.min_label,
                    max_label: t.max_label,
                    days: t
                        .days
                        .into_iter()
                        .map(|d| DayMean {
                            date: day_out(d.date),
                            mean: d.mean,
                            ratings: small(d.ratings),
                        })
                        .collect(),
                })
                .collect(),
            questionnaires: r
                .questionnaires
                .into_iter()
                .map(|q| ReportScore {
                    date: day_out(q.date),
                    at: at(q.at),
                    questionnaire: q.questionnaire.to_owned(),
                    name: q.name.to_owned(),
                    total: q.total.map(i32::from),
                    max_total: i32::from(q.max_total),
                    band: q.band.map(str::to_owned),
                    prorated: q.prorated,
                    item9_positive: q.item9_positive,
                    item9_answer: q.item9_answer.map(i32::from),
                })
                .collect(),
            sessions: r
                .sessions
                .into_iter()
                .map(|s| ReportSession {
                    date: day_out(s.date),
                    at: at(s.at),
                    kind: s.kind,
                })
                .collect(),
            reminders: r.reminders.into_iter().map(Into::into).collect(),
            flags: r
                .flags
                .into_iter()
                .map(|f| ReportFlag {
                    date: day_out(f.date),
                    raised_at: at(f.raised_at),
                    kind: f.kind,
                    title: f.title,
                    reason: f.reason,
                    state: if f.acknowledged_at.is_some() {
                        FlagState::Acknowledged
                    } else {
                        FlagState::Open
                    },
                    acknowledged_at: f.acknowledged_at.map(at),
                    acknowledged_by: f.acknowledged_by,
                })
                .collect(),
            skipped_records: small(r.skipped_records),
        }
    }
}

/// A FHIR R4 transaction Bundle, and what went into it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FhirBundle {
    /// The Bundle as JSON text (pretty-printed, ending in a newline): save
    /// or share it as `application/fhir+json`.
    pub json: String,
    /// Entries exported (each as one or more resources).
    pub exported: i32,
    /// Entries in the range left out: journal text, medication, answer
    /// sets that do not fit their questionnaire.
    pub left_out: i32,
    /// Resources in the Bundle.
    pub resources: i32,
    /// Records that could not be opened (damaged) and are left out.
    pub skipped_records: i32,
}

/// `Type/id`, as FHIR references go (id: 1-64 letters, digits, `-`, `.`).
fn is_reference(s: &str) -> bool {
    s.split_once('/').is_some_and(|(kind, id)| {
        kind.starts_with(|c: char| c.is_ascii_uppercase())
            && kind.chars().all(|c| c.is_ascii_alphabetic())
            && (1..=64).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[uniffi::export]
impl Journal {
    /// The report for the local days `from ..= to` (at most 400 days):
    /// scale trackers' daily means (mood first), questionnaires scored with
    /// band and item 9, treatment sessions, check-in and reminder
    /// adherence, flags with their review state. `InvalidInput` when `to`
    /// is before `from` (field `to`) or the period is too long (field
    /// `range`). Runs on a reader. For the page, `reportHtml`.
    pub async fn report(&self, from: LocalDay, to: LocalDay) -> Result<Report> {
        let (from, to) = (day_in("from", from)?, day_in("to", to)?);
        self.pool
            .read(move |s| Ok(s.report(from, to)?.into()))
            .await
    }

    /// The same report as one self-contained HTML page: inline CSS and SVG
    /// charts (each with a title, a description and a table of its
    /// numbers), no scripts, a Content-Security-Policy forbidding any load;
    /// readable on a phone, printable. Show it in a WebView / WKWebView
    /// (JavaScript off) or share it as a `.html` file: it holds the
    /// patient's data, so keep it out of shared storage. Errors as
    /// `report`.
    pub async fn report_html(&self, from: LocalDay, to: LocalDay) -> Result<String> {
        let (from, to) = (day_in("from", from)?, day_in("to", to)?);
        self.pool
            .read(move |s| Ok(rep::report_html(&s.report(from, to)?)))
            .await
    }

    /// The entries of the local days `from ..= to` (either may be
    /// null/nil: no bound) as a FHIR R4 transaction Bundle
    /// (docs/fhir.md): per questionnaire check-in a QuestionnaireResponse
    /// and its Observations (LOINC), daily trackers as Observations; journal
    /// text, notes, tags and medication left out. `subject` is a reference
    /// such as `Patient/123`; null/nil: the clinic's patient id when the
    /// journal is enrolled, else no subject. The same entries give the same
    /// bytes. `InvalidInput` for a `subject` that is not a `Type/id`
    /// reference, or `to` before `from`. Runs on a reader.
    #[uniffi::method(default(from = None, to = None, subject = None))]
    pub async fn fhir_bundle(
        &self,
        from: Option<LocalDay>,
        to: Option<LocalDay>,
        subject: Option<String>,
    ) -> Result<FhirBundle> {
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => {
                let (f, t) = period(f, t)?;
                (Some(f), Some(t))
            }
            (f, t) => (
                f.map(|f| day_in("from", f)).transpose()?,
                t.map(|t| day_in("to", t)).transpose()?,
            ),
        };
        let subject = match subject.as_deref().map(str::trim) {
            Some(p) if is_reference(p) => Some(p.to_owned()),
            Some(_) => {
                return Err(CairnError::invalid(
                    "subject",
                    "expected a FHIR reference such as Patient/123",
                ));
            }
            None => None,
        };
        self.pool
            .read(move |s| {
                let subject = match subject {
                    Some(p) => Some(p),
                    None => match s.sync_status() {
                        Ok(st) if !st.patient_id.is_empty() => {
                            Some(format!("Patient/{}", st.patient_id))
                        }
                        Ok(_) | Err(core::Error::NotEnrolled) => None,
                        Err(e) => return Err(e.into()),
                    },
                };
                let page = s.entries(&core::EntryQuery {
                    from_day: from,
                    to_day: to,
                    ..Default::default()
                })?;
                let records: Vec<fhir::Record<'_>> =
                    page.entries.iter().map(fhir::Record::from).collect();
                let b = fhir::bundle(&records, &fhir::Options { subject, from, to });
                Ok(FhirBundle {
                    json: b.json,
                    exported: count(b.exported),
                    left_out: count(b.left_out),
                    resources: count(b.resources),
                    skipped_records: count(page.corrupted.len()),
                })
            })
            .await
    }
}
