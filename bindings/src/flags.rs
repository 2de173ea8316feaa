//! Risk flags for human review: a rule's finding with its reason stated,
//! never a diagnosis. Raised by a check-in (PHQ-9 item 9), by the patient
//! (`helpNow`) and by the rules that depend on time passing
//! (`checkFlags`); they sync to the clinic, which acknowledges them, and
//! come back acknowledged.

use crate::error::Result;
use crate::journal::{ChangeTable, Journal, JournalChange};
use crate::values::{EntryId, FlagId, Timestamp, count_in, instant_out};
use cairn_core as core;
use cairn_core::flags as f;

/// Where a flag stands with the clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum FlagState {
    /// Raised, not yet reviewed.
    Open,
    /// The clinic reviewed it (`acknowledgedAt`, `acknowledgedBy`).
    Acknowledged,
}

/// A risk flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct Flag {
    /// Its id.
    pub id: FlagId,
    /// Its kind: `item9_positive`, `help_now`, `sharp_fall`, `no_checkins`
    /// (see `flagRules()`); kinds from newer versions come as they are.
    pub kind: String,
    /// The rule's title ("PHQ-9 item 9 positive"); none for a kind this
    /// version does not know.
    pub title: Option<String>,
    /// Why it was raised, in words, with the numbers.
    pub reason: String,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// The entry it was raised from (a check-in's), if any.
    pub source: Option<EntryId>,
    /// Open or acknowledged.
    pub state: FlagState,
    /// When the clinic acknowledged it; none while open.
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged it, as the clinic wrote it.
    pub acknowledged_by: Option<String>,
}

impl From<core::Flag> for Flag {
    fn from(x: core::Flag) -> Self {
        Flag {
            title: f::rule(&x.kind).map(|r| r.title.to_owned()),
            id: FlagId(x.id),
            kind: x.kind,
            reason: x.reason,
            raised_at: instant_out(x.raised_at_ms),
            source: x.source.map(EntryId),
            state: if x.acknowledged_at_ms.is_some() {
                FlagState::Acknowledged
            } else {
                FlagState::Open
            },
            acknowledged_at: x.acknowledged_at_ms.map(instant_out),
            acknowledged_by: x.acknowledged_by,
        }
    }
}

/// A flag rule, reviewed as data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct FlagRule {
    /// The flag kind it raises.
    pub kind: String,
    /// What it is called in a review queue.
    pub title: String,
    /// When it is raised, in words.
    pub rule: String,
    /// Why.
    pub source: String,
}

/// Settings of the rules the clinic tunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Record)]
pub struct FlagSettings {
    /// Days without any entry before a `no_checkins` flag (0-365; 0 turns
    /// the rule off). Default 7.
    pub no_checkin_days: i32,
}

/// The flag rules: each kind, its title, when it is raised and why.
#[uniffi::export]
pub fn flag_rules() -> Vec<FlagRule> {
    f::FLAG_RULES
        .iter()
        .map(|r| FlagRule {
            kind: r.kind.to_owned(),
            title: r.title.to_owned(),
            rule: r.rule.to_owned(),
            source: r.source.to_owned(),
        })
        .collect()
}

fn raised(flags: &[Flag]) -> Option<JournalChange> {
    (!flags.is_empty()).then(|| JournalChange {
        table: ChangeTable::Flags,
        ids: flags.iter().map(|f| f.id.0.clone()).collect(),
        deleted: false,
    })
}

#[uniffi::export]
impl Journal {
    /// Every flag, newest first, with its review state.
    pub async fn flags(&self) -> Result<Vec<Flag>> {
        self.pool
            .read(|s| Ok(s.flags()?.into_iter().map(Into::into).collect()))
            .await
    }

    /// The patient pressed "I need help now": raises a flag for the
    /// clinic's review, every time, and returns it. Show the crisis
    /// resources (`crisisResources`) at once: the flag is no substitute for
    /// them, and no one may see it for hours or days.
    pub async fn help_now(&self) -> Result<Flag> {
        self.pool
            .write(
                |s| Ok(s.help_now()?.into()),
                |f: &Flag| JournalChange::put(ChangeTable::Flags, f.id.0.clone()),
            )
            .await
    }

    /// Evaluates the rules that depend on time passing (no check-ins, a
    /// sharp fall in mood) and raises what they find; returns the new flags
    /// (often none). Call it when the app starts and from background sync.
    pub async fn check_flags(&self) -> Result<Vec<Flag>> {
        self.pool
            .write(
                |s| Ok(s.check_flags()?.into_iter().map(Into::into).collect()),
                |v: &Vec<Flag>| raised(v),
            )
            .await
    }

    /// The flag rules' settings (the defaults if never set).
    pub async fn flag_settings(&self) -> Result<FlagSettings> {
        self.pool
            .read(|s| {
                let x = s.flag_settings()?;
                Ok(FlagSettings {
                    no_checkin_days: i32::try_from(x.no_checkin_days).unwrap_or(i32::MAX),
                })
            })
            .await
    }

    /// Sets the flag rules' settings (kept on this device). `InvalidInput`
    /// (field `noCheckinDays`) outside 0-365.
    pub async fn set_flag_settings(&self, settings: FlagSettings) -> Result<()> {
        let days = count_in("noCheckinDays", settings.no_checkin_days.into())?;
        self.pool
            .write(
                move |s| {
                    Ok(s.set_flag_settings(f::FlagSettings {
                        no_checkin_days: days,
                    })?)
                },
                |_| JournalChange::put(ChangeTable::Settings, "flag_settings"),
            )
            .await
    }
}

/// What the clinic set for this patient (`cairn-clinic settings`), received
/// through sync; read-only on the device. Every field is none until the
/// clinic sets it (and when not enrolled).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, uniffi::Record)]
pub struct ClinicSettings {
    /// The clinic's name, as the patient knows it: pass it as
    /// `MonitoringFacts.clinic`.
    pub clinic_name: Option<String>,
    /// How soon the clinic reviews flags, as the patient reads it ("within
    /// 2 working days"): pass it as `MonitoringFacts.reviewWithin`.
    pub review_within: Option<String>,
    /// Days without a check-in before a `no_checkins` flag (0: off); when
    /// set, it takes the place of `FlagSettings.noCheckinDays`.
    pub no_checkin_days: Option<i32>,
}

#[uniffi::export]
impl Journal {
    /// What the clinic set: its name, how soon it reviews flags, the
    /// no-check-in days (all none until set; they arrive through sync, and
    /// listeners hear `ALL` after a `receive` that pulled them). Fill
    /// `MonitoringFacts.clinic` and `reviewWithin` from it. Runs on a
    /// reader.
    pub async fn clinic_settings(&self) -> Result<ClinicSettings> {
        self.pool
            .read(|s| {
                let c = s.clinic_settings()?;
                Ok(ClinicSettings {
                    clinic_name: c.clinic_name,
                    review_within: c.review_within,
                    no_checkin_days: c
                        .no_checkin_days
                        .map(|d| i32::try_from(d).unwrap_or(i32::MAX)),
                })
            })
            .await
    }
}
