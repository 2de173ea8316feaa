//! Between-visit support (docs/outcomes.md, "Support"): the journaling
//! prompts and the skills (breathing, grounding) as reviewed data, the
//! patient's coping plan with its if-then plans (sealed, kept on the
//! device), and logs of skills practice (entries of the skill's tracker).

use crate::error::{CairnError, Result};
use crate::guard;
use crate::journal::{ChangeTable, Entry, Journal, JournalChange};
use crate::values::{Timestamp, ZoneName, count_in, instant_in};
use cairn_core::support as sup;

/// A journaling prompt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct JournalingPrompt {
    /// Stable id.
    pub id: String,
    /// When it fits: `any`, `after_session`, `hard_day`, `evening`.
    pub when: String,
    /// The prompt.
    pub text: String,
}

/// A self-help skill, with its steps.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct Skill {
    /// Stable id (`breathing`, `grounding`); also its tracker's id (the
    /// minutes practised, see `logPractice`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<String>,
    /// Where it comes from.
    pub source: String,
}

/// "If this happens, then I will do that".
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct IfThen {
    /// The situation ("I wake at 3 am and can't sleep").
    pub situation: String,
    /// What the patient will do ("I get up and read for 20 minutes").
    pub action: String,
}

/// The patient's coping plan: steps to try when things get hard, and
/// if-then plans. At most 20 of each, every text 1-500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, uniffi::Record)]
pub struct CopingPlan {
    /// Steps, in the patient's order.
    #[uniffi(default = [])]
    pub steps: Vec<String>,
    /// If-then plans.
    #[uniffi(default = [])]
    pub if_then: Vec<IfThen>,
}

impl From<sup::CopingPlan> for CopingPlan {
    fn from(p: sup::CopingPlan) -> Self {
        CopingPlan {
            steps: p.steps,
            if_then: p
                .if_then
                .into_iter()
                .map(|x| IfThen {
                    situation: x.situation,
                    action: x.action,
                })
                .collect(),
        }
    }
}

impl From<CopingPlan> for sup::CopingPlan {
    fn from(p: CopingPlan) -> Self {
        sup::CopingPlan {
            steps: p.steps,
            if_then: p
                .if_then
                .into_iter()
                .map(|x| sup::IfThen {
                    situation: x.situation,
                    action: x.action,
                })
                .collect(),
        }
    }
}

/// The journaling prompts that fit `when` (`after_session`, `hard_day`,
/// `evening`; the `any` ones included), or every prompt for null/nil, in
/// the table's order. `InvalidInput` (field `when`) for another moment.
/// Works offline; needs no journal.
#[uniffi::export(default(when = None))]
pub fn journaling_prompts(when: Option<String>) -> Result<Vec<JournalingPrompt>> {
    guard(|| {
        Ok(sup::prompts(when.as_deref())?
            .into_iter()
            .map(|p| JournalingPrompt {
                id: p.id.to_owned(),
                when: p.when.to_owned(),
                text: p.text.to_owned(),
            })
            .collect())
    })
}

/// The skills (slow breathing, 5-4-3-2-1 grounding), with their steps and
/// sources. Works offline; needs no journal.
#[uniffi::export]
pub fn skills() -> Vec<Skill> {
    sup::SKILLS
        .iter()
        .map(|s| Skill {
            id: s.id.to_owned(),
            name: s.name.to_owned(),
            steps: s.steps.iter().map(|x| (*x).to_owned()).collect(),
            source: s.source.to_owned(),
        })
        .collect()
}

/// The core's field names for the plan, as the record names them.
fn plan_field(e: cairn_core::Error) -> CairnError {
    match e {
        cairn_core::Error::InvalidInput { field, reason } => CairnError::InvalidInput {
            field: match field {
                "step" => "steps",
                "if" => "situation",
                "then" => "action",
                "coping plan" => "plan",
                other => other,
            }
            .to_owned(),
            reason,
        },
        e => e.into(),
    }
}

#[uniffi::export]
impl Journal {
    /// The coping plan (empty if none was written). Runs on a reader.
    pub async fn coping_plan(&self) -> Result<CopingPlan> {
        self.pool.read(|s| Ok(s.coping_plan()?.into())).await
    }

    /// Replaces the coping plan and returns it as saved (texts trimmed).
    /// `InvalidInput` for an empty text, one over 500 characters or holding
    /// a control character (field `steps`, `situation` or `action`), or
    /// over 20 steps or if-then plans (field `plan`); nothing is saved
    /// then. Listeners hear `SETTINGS` (`coping_plan`).
    pub async fn set_coping_plan(&self, plan: CopingPlan) -> Result<CopingPlan> {
        let plan: sup::CopingPlan = plan.into();
        self.pool
            .write(
                move |s| Ok(s.set_coping_plan(plan).map_err(plan_field)?.into()),
                |_: &CopingPlan| JournalChange::put(ChangeTable::Settings, "coping_plan"),
            )
            .await
    }

    /// Logs practice of a skill (`breathing`, `grounding`): an entry of the
    /// skill's tracker with the minutes practised (a `Value.Duration`).
    /// `InvalidInput` for an unknown skill (field `skill`) or minutes below
    /// 1 (field `minutes`). Listeners hear `ENTRIES`.
    pub async fn log_practice(
        &self,
        skill: String,
        minutes: i32,
        at: Timestamp,
        zone: ZoneName,
    ) -> Result<Entry> {
        let minutes: u32 = count_in("minutes", minutes.into())?;
        let at = instant_in("at", at)?;
        self.pool
            .write(
                move |s| {
                    Ok(s.log_practice(&skill, minutes, at, &zone.0)
                        .map_err(CairnError::zone("zone"))?
                        .into())
                },
                |e: &Entry| JournalChange::put(ChangeTable::Entries, e.id.0.clone()),
            )
            .await
    }
}
