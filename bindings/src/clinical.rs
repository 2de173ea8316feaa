//! The patient's safety plan (Stanley & Brown): six parts written with the
//! clinician, and reasons for living. Sealed like every record; the clinic
//! can edit it too, and the two sides merge part by part through sync.

use crate::error::Result;
use crate::journal::{ChangeTable, Journal, JournalChange};
use cairn_core as core;

/// A safety plan. Each part is a list of short items in the patient's
/// order (at most 20 items of 500 characters a part); an empty plan has
/// nothing in any part.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SafetyPlan {
    /// 1. Warning signs that a crisis may be developing.
    pub warning_signs: Vec<String>,
    /// 2. Internal coping strategies: things to do alone.
    pub coping_strategies: Vec<String>,
    /// 3. People and social settings that provide distraction.
    pub distractions: Vec<String>,
    /// 4. People to ask for help.
    pub people_to_ask: Vec<String>,
    /// 5. Professionals and agencies to contact in a crisis.
    pub professionals: Vec<String>,
    /// 6. Making the environment safe.
    pub safe_environment: Vec<String>,
    /// Reasons for living.
    pub reasons_for_living: Vec<String>,
}

impl From<core::SafetyPlan> for SafetyPlan {
    fn from(p: core::SafetyPlan) -> Self {
        SafetyPlan {
            warning_signs: p.warning_signs,
            coping_strategies: p.coping_strategies,
            distractions: p.distractions,
            people_to_ask: p.people_to_ask,
            professionals: p.professionals,
            safe_environment: p.safe_environment,
            reasons_for_living: p.reasons_for_living,
        }
    }
}

impl From<SafetyPlan> for core::SafetyPlan {
    fn from(p: SafetyPlan) -> Self {
        core::SafetyPlan {
            warning_signs: p.warning_signs,
            coping_strategies: p.coping_strategies,
            distractions: p.distractions,
            people_to_ask: p.people_to_ask,
            professionals: p.professionals,
            safe_environment: p.safe_environment,
            reasons_for_living: p.reasons_for_living,
        }
    }
}

#[uniffi::export]
impl Journal {
    /// The safety plan (empty if none was written here or received from
    /// the clinic).
    pub async fn safety_plan(&self) -> Result<SafetyPlan> {
        self.pool.read(|s| Ok(s.safety_plan()?.into())).await
    }

    /// Replaces the safety plan: items are trimmed and empty ones dropped.
    /// Raises `InvalidInput` for an item over 500 characters (or holding a
    /// control character) or a part over 20 items. Through sync, a part the
    /// clinic changed meanwhile keeps the clinic's version unless this call
    /// changed that part too.
    pub async fn set_safety_plan(&self, plan: SafetyPlan) -> Result<SafetyPlan> {
        let plan: core::SafetyPlan = plan.into();
        self.pool
            .write(
                move |s| Ok(s.set_safety_plan(plan)?.into()),
                |_: &SafetyPlan| JournalChange::put(ChangeTable::Settings, core::SAFETY_PLAN_ID),
            )
            .await
    }
}
