//! Crisis resources by country and the monitoring statement: reviewed data
//! in the library, so both work offline, with no journal open (a patient in
//! crisis must never wait on a key, a file or the network).

use crate::error::Result;
use crate::guard;
use crate::values::{LocalDay, day_out};
use cairn_core as core;

/// A crisis line: who answers, how to reach them, when.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct CrisisLine {
    /// The service's name ("Samaritans").
    pub name: String,
    /// How to reach it, in words for the patient ("call 116 123 (free)").
    pub how: String,
    /// The main number to dial or text, digits only (for `tel:` and `sms:`
    /// links).
    pub number: String,
    /// When it answers ("24/7").
    pub hours: String,
    /// The official page this line was checked against.
    pub source: String,
}

/// What to do in a crisis in one country, or the international fallback.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct CrisisResources {
    /// ISO 3166-1 alpha-2 code, upper case; none for the fallback.
    pub country: Option<String>,
    /// The country's name in English ("International" for the fallback).
    pub name: String,
    /// The emergency number, digits only; none for the fallback (no one
    /// number is right everywhere: show `emergencyAdvice`).
    pub emergency: Option<String>,
    /// The official page for the emergency number.
    pub emergency_source: String,
    /// What to do in an emergency, in one or two sentences.
    pub emergency_advice: String,
    /// National crisis lines, the main one first; may be empty (the table
    /// leaves out what could not be confirmed).
    pub lines: Vec<CrisisLine>,
    /// The day the table was last reviewed against its sources.
    pub reviewed: LocalDay,
}

fn reviewed() -> LocalDay {
    let d =
        chrono::NaiveDate::parse_from_str(core::CRISIS_REVIEWED, "%Y-%m-%d").unwrap_or_default();
    day_out(d)
}

impl From<&core::CrisisResources> for CrisisResources {
    fn from(r: &core::CrisisResources) -> Self {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        CrisisResources {
            country: some(r.country),
            name: r.name.to_owned(),
            emergency: some(r.emergency),
            emergency_source: r.emergency_source.to_owned(),
            emergency_advice: r.emergency_advice(),
            lines: r
                .lines
                .iter()
                .map(|l| CrisisLine {
                    name: l.name.to_owned(),
                    how: l.how.to_owned(),
                    number: l.number.to_owned(),
                    hours: l.hours.to_owned(),
                    source: l.source.to_owned(),
                })
                .collect(),
            reviewed: reviewed(),
        }
    }
}

/// The crisis resources for a country (ISO 3166-1 alpha-2, any case; `UK`
/// reads as `GB`), or the international fallback for `null`/`nil` and for
/// a country not in the table: never an empty answer. `InvalidInput`
/// (field `country`) for a code that is not an assigned one. Works offline.
#[uniffi::export]
pub fn crisis_resources(country: Option<String>) -> Result<CrisisResources> {
    guard(|| Ok(core::crisis_resources(country.as_deref())?.into()))
}

/// Every country in the crisis table, by code (for a country picker).
#[uniffi::export]
pub fn crisis_table() -> Vec<CrisisResources> {
    core::CRISIS_TABLE.iter().map(Into::into).collect()
}

/// What the monitoring statement is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct MonitoringFacts {
    /// Whether the journal is enrolled with a clinic (enrolling, or
    /// syncing). If not, the statement says nothing is sent, and the other
    /// clinic facts are not used.
    pub enrolled: bool,
    /// Whether the patient shares flags with the clinic.
    pub flags_shared: bool,
    /// The clinic's name; none: "your clinic".
    #[uniffi(default = None)]
    pub clinic: Option<String>,
    /// How soon the clinic reviews flags, as the clinic worded it ("2
    /// working days"); none: the statement says the clinic has not said.
    #[uniffi(default = None)]
    pub review_within: Option<String>,
    /// The patient's country (ISO 3166-1 alpha-2), for the crisis part;
    /// none: the international fallback.
    #[uniffi(default = None)]
    pub country: Option<String>,
}

/// The monitoring statement shown to the patient, in four parts (lay them
/// out apart, or show `text`). None of it reassures: the app is not
/// monitored around the clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct MonitoringStatement {
    /// Who sees what the patient shares.
    pub who_sees: String,
    /// How soon the clinic reviews flags, or that it has not said.
    pub review: String,
    /// That the app is not monitored around the clock.
    pub not_monitored: String,
    /// What to do in a crisis: the emergency number and the main crisis
    /// line for the patient's country.
    pub in_crisis: String,
    /// The four parts as paragraphs, separated by blank lines.
    pub text: String,
}

/// The monitoring statement for a patient, from reviewed sentences.
/// `InvalidInput` for a bad country code (field `country`), or a clinic
/// name or review time over 100 characters or holding a control character
/// (fields `clinic`, `reviewWithin`). Works offline.
#[uniffi::export]
pub fn monitoring_statement(facts: MonitoringFacts) -> Result<MonitoringStatement> {
    guard(|| {
        let s = core::monitoring_statement(&core::MonitoringFacts {
            enrolled: facts.enrolled,
            flags_shared: facts.flags_shared,
            clinic: facts.clinic,
            review_within: facts.review_within,
            country: facts.country,
        })?;
        Ok(MonitoringStatement {
            text: s.to_text(),
            who_sees: s.who_sees,
            review: s.review,
            not_monitored: s.not_monitored,
            in_crisis: s.in_crisis,
        })
    })
}
