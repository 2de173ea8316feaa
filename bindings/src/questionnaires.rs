//! Standard questionnaires (PHQ-9, PHQ-2, GAD-7, GAD-2) as reviewed data,
//! so the app renders each form from the table (items, options, LOINC
//! codes) and never hard-codes a text; check-ins save the answers as an
//! entry of the questionnaire's tracker, score them, and raise a flag for a
//! positive PHQ-9 item 9, in one transaction.

use crate::error::Result;
use crate::flags::Flag;
use crate::journal::{ChangeTable, Entry, Journal, JournalChange, answers_in};
use crate::values::{Timestamp, ZoneName, instant_in};
use crate::{CairnError, guard};
use cairn_core::questionnaires as q;

/// One answer option of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct AnswerOption {
    /// The value scored (0-3); pass it in `checkin`'s answers.
    pub value: i32,
    /// The text the patient reads ("Several days").
    pub text: String,
    /// LOINC answer code.
    pub loinc: String,
}

/// One item of a questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct QuestionnaireItem {
    /// The text the patient reads.
    pub text: String,
    /// LOINC question code, where one exists.
    pub loinc: Option<String>,
    /// Whether the item counts towards the total (PHQ-9's difficulty item
    /// does not).
    pub scored: bool,
    /// Its answer options, lowest value first.
    pub options: Vec<AnswerOption>,
}

/// A score band: totals from `min` to `max`, both included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct ScoreBand {
    /// Lowest total in the band.
    pub min: i32,
    /// Highest total in the band.
    pub max: i32,
    /// Its name as published ("moderately severe").
    pub name: String,
}

/// A questionnaire, as published: everything needed to show the form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct Questionnaire {
    /// Stable id, also its tracker's id (`phq9`).
    pub id: String,
    /// Version of this table; stored with every answer set.
    pub version: i32,
    /// Name ("PHQ-9").
    pub name: String,
    /// The question asked before the items.
    pub prompt: String,
    /// Items in order.
    pub items: Vec<QuestionnaireItem>,
    /// Most scored items that may be left unanswered for a total (prorated);
    /// more, and the answer set has no total and no band.
    pub max_missing: i32,
    /// Score bands, lowest first, covering every total.
    pub bands: Vec<ScoreBand>,
    /// For two-item screens: positive at this total or above.
    pub positive_at: Option<i32>,
    /// The item (1-based) that raises a flag for review whenever it is
    /// answered above 0 (PHQ-9 item 9).
    pub risk_item: Option<i32>,
    /// LOINC code of the panel.
    pub panel_loinc: Option<String>,
    /// LOINC code of the total.
    pub total_loinc: Option<String>,
    /// Where the texts, scoring and codes come from.
    pub source: String,
}

fn option_out(o: &q::AnswerOption) -> AnswerOption {
    AnswerOption {
        value: i32::from(o.value),
        text: o.text.to_owned(),
        loinc: o.loinc.to_owned(),
    }
}

impl From<&q::Questionnaire> for Questionnaire {
    fn from(t: &q::Questionnaire) -> Self {
        Questionnaire {
            id: t.id.to_owned(),
            version: i32::try_from(t.version).unwrap_or(i32::MAX),
            name: t.name.to_owned(),
            prompt: t.prompt.to_owned(),
            items: t
                .items
                .iter()
                .map(|i| QuestionnaireItem {
                    text: i.text.to_owned(),
                    loinc: i.loinc.map(str::to_owned),
                    scored: i.scored,
                    options: i.options.iter().map(option_out).collect(),
                })
                .collect(),
            max_missing: i32::from(t.max_missing),
            bands: t
                .bands
                .iter()
                .map(|b| ScoreBand {
                    min: i32::from(b.min),
                    max: i32::from(b.max),
                    name: b.name.to_owned(),
                })
                .collect(),
            positive_at: t.positive_at.map(i32::from),
            risk_item: t.risk_item.map(i32::from),
            panel_loinc: t.panel_loinc.map(str::to_owned),
            total_loinc: t.total_loinc.map(str::to_owned),
            source: t.source.to_owned(),
        }
    }
}

/// A scored answer set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct QuestionnaireScore {
    /// The questionnaire's id.
    pub questionnaire: String,
    /// The table version it was scored with.
    pub version: i32,
    /// Total, as published (prorated when some items are unanswered, up to
    /// `Questionnaire.maxMissing`); none when too many are.
    pub total: Option<i32>,
    /// Whether the total was prorated.
    pub prorated: bool,
    /// Scored items answered.
    pub answered: i32,
    /// Scored items not answered.
    pub missing: i32,
    /// The band of the total; none without a total.
    pub band: Option<String>,
    /// For two-item screens: positive at the published cut-off.
    pub positive_screen: Option<bool>,
    /// For PHQ-9: whether item 9 was answered above "not at all" (none when
    /// it was not answered). False is never reassurance.
    pub item9_positive: Option<bool>,
    /// The risk item's answer, if the questionnaire has one and it was
    /// answered.
    pub risk_answer: Option<i32>,
}

impl From<q::Score> for QuestionnaireScore {
    fn from(s: q::Score) -> Self {
        QuestionnaireScore {
            questionnaire: s.questionnaire.to_owned(),
            version: i32::try_from(s.version).unwrap_or(i32::MAX),
            total: s.total.map(i32::from),
            prorated: s.prorated,
            answered: i32::from(s.answered),
            missing: i32::from(s.missing),
            band: s.band.map(str::to_owned),
            positive_screen: s.positive_screen,
            item9_positive: s.item9_positive,
            risk_answer: s.risk_answer.map(i32::from),
        }
    }
}

/// A questionnaire check-in as saved.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CheckIn {
    /// The entry holding the answers (`Value.Answers`, on the
    /// questionnaire's tracker).
    pub entry: Entry,
    /// The score.
    pub score: QuestionnaireScore,
    /// Flags this check-in raised (a positive PHQ-9 item 9 raises one
    /// every time, whatever the total).
    pub flags: Vec<Flag>,
}

/// The questionnaires (PHQ-9, PHQ-2, GAD-7, GAD-2), each with its items,
/// answer options, bands, LOINC codes and source: render the form from
/// these. Works offline; needs no journal.
#[uniffi::export]
pub fn questionnaires() -> Vec<Questionnaire> {
    q::QUESTIONNAIRES.iter().map(Into::into).collect()
}

/// Scores an answer set as `checkin` does, without saving it (for answers
/// read back from an entry's `Value.Answers`, or a preview). One answer per
/// item, `null`/`nil` where unanswered; PHQ-9's difficulty item may be left
/// off. `InvalidInput` for an unknown questionnaire (field
/// `questionnaire`), a wrong number of answers or an answer out of range
/// (field `answers`).
#[uniffi::export]
pub fn score_answers(
    questionnaire: String,
    answers: Vec<Option<i32>>,
) -> Result<QuestionnaireScore> {
    guard(|| {
        let answers = answers_in(answers)?;
        Ok(q::questionnaire(&questionnaire)?.score(&answers)?.into())
    })
}

#[uniffi::export]
impl Journal {
    /// Saves a questionnaire's answers as an entry of its tracker, scores
    /// them, and raises a flag for a positive PHQ-9 item 9, all in one
    /// transaction. `questionnaire` is an id from `questionnaires()`
    /// (`phq9`; `PHQ-9` works too); `answers` one per item in order
    /// (`null`/`nil` where unanswered; PHQ-9's difficulty item may be left
    /// off). `InvalidInput` for an unknown questionnaire, a wrong number of
    /// answers or an answer out of range (field `answers`), or a bad `at`.
    /// Listeners hear the entry (`ENTRIES`) and any flag (`FLAGS`).
    pub async fn checkin(
        &self,
        questionnaire: String,
        answers: Vec<Option<i32>>,
        at: Timestamp,
        zone: ZoneName,
    ) -> Result<CheckIn> {
        let answers = answers_in(answers)?;
        let at = instant_in("at", at)?;
        self.pool
            .write_many(
                move |s| {
                    let c = s
                        .checkin(&questionnaire, answers, at, &zone.0)
                        .map_err(CairnError::zone("zone"))?;
                    Ok(CheckIn {
                        entry: c.entry.into(),
                        score: c.score.into(),
                        flags: c.flags.into_iter().map(Into::into).collect(),
                    })
                },
                |c: &CheckIn| {
                    let mut changes: Vec<JournalChange> =
                        JournalChange::put(ChangeTable::Entries, c.entry.id.0.clone())
                            .into_iter()
                            .collect();
                    if !c.flags.is_empty() {
                        changes.push(JournalChange {
                            table: ChangeTable::Flags,
                            ids: c.flags.iter().map(|f| f.id.0.clone()).collect(),
                            deleted: false,
                        });
                    }
                    changes
                },
            )
            .await
    }
}
