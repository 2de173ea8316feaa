//! The patient's safety plan (Stanley & Brown, 2012): six parts, written
//! with the clinician, plus the patient's reasons for living. Sealed like
//! every record (one `settings` row); edited by the patient or the clinic
//! and merged part by part through sync (docs/sync-protocol.md §8, kind 7).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{Store, load_row, outbox, upsert_sealed};

/// The safety plan's record id (in `settings`, and on the wire).
pub const SAFETY_PLAN_ID: &str = "safety_plan";

/// Most items in one part.
pub const MAX_ITEMS: usize = 20;
/// Longest item, in characters.
pub const MAX_ITEM_CHARS: usize = 500;

const SCHEMA: u8 = 1;

/// A safety plan. Every part is a list of short items, in the patient's
/// order; an empty plan has nothing in any part.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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

/// The parts' names, in order (for the CLI and for errors).
pub const PART_NAMES: [&str; 7] = [
    "warning-signs",
    "coping",
    "distractions",
    "people",
    "professionals",
    "environment",
    "reasons",
];

/// The parts' headings as the patient reads them, in order (Stanley &
/// Brown's six steps in plain words, then reasons for living).
pub const PART_TITLES: [&str; 7] = [
    "1. Warning signs",
    "2. Things I can do on my own",
    "3. People and places that take my mind off things",
    "4. People I can ask for help",
    "5. Professionals and services to contact",
    "6. Making my surroundings safe",
    "Reasons for living",
];

impl SafetyPlan {
    /// The plan as text: a heading per part (with the part's name for
    /// commands when `names`), its items below, `(empty)` for none.
    pub fn to_text(&self, names: bool) -> String {
        let mut out = String::new();
        for ((title, part), name) in PART_TITLES.iter().zip(self.parts()).zip(PART_NAMES) {
            out.push_str(title);
            if names {
                out.push_str(&format!(" ({name})"));
            }
            out.push('\n');
            if part.is_empty() {
                out.push_str("   (empty)\n");
            }
            for item in part {
                out.push_str(&format!("   - {}\n", item.replace('\n', " ")));
            }
        }
        out
    }

    /// The parts in order (1-6, then reasons for living).
    pub fn parts(&self) -> [&Vec<String>; 7] {
        [
            &self.warning_signs,
            &self.coping_strategies,
            &self.distractions,
            &self.people_to_ask,
            &self.professionals,
            &self.safe_environment,
            &self.reasons_for_living,
        ]
    }

    /// A part by its position (0-6), to change it.
    pub fn part_mut(&mut self, i: usize) -> Option<&mut Vec<String>> {
        Some(match i {
            0 => &mut self.warning_signs,
            1 => &mut self.coping_strategies,
            2 => &mut self.distractions,
            3 => &mut self.people_to_ask,
            4 => &mut self.professionals,
            5 => &mut self.safe_environment,
            6 => &mut self.reasons_for_living,
            _ => return None,
        })
    }

    /// A plan from its parts in order.
    pub fn from_parts(parts: [Vec<String>; 7]) -> SafetyPlan {
        let [a, b, c, d, e, f, g] = parts;
        SafetyPlan {
            warning_signs: a,
            coping_strategies: b,
            distractions: c,
            people_to_ask: d,
            professionals: e,
            safe_environment: f,
            reasons_for_living: g,
        }
    }

    /// Whether every part is empty.
    pub fn is_empty(&self) -> bool {
        self.parts().iter().all(|p| p.is_empty())
    }

    /// Trims items, drops empty ones, and checks the limits.
    pub fn checked(mut self) -> Result<SafetyPlan> {
        for (i, name) in PART_NAMES.iter().enumerate() {
            let part = self.part_mut(i).expect("0-6");
            let mut items = Vec::with_capacity(part.len());
            for item in part.drain(..) {
                let t = item.trim();
                if t.is_empty() {
                    continue;
                }
                if t.chars().count() > MAX_ITEM_CHARS || t.chars().any(char::is_control) {
                    return Err(Error::invalid(
                        "safety plan",
                        format!(
                            "an item of {} is longer than {MAX_ITEM_CHARS} characters or holds a control character",
                            name
                        ),
                    ));
                }
                items.push(t.to_owned());
            }
            if items.len() > MAX_ITEMS {
                return Err(Error::invalid(
                    "safety plan",
                    format!("{} has more than {MAX_ITEMS} items", name),
                ));
            }
            *part = items;
        }
        Ok(self)
    }
}

/// Writes the plan's row as it arrived through sync: no outbox row.
pub(crate) fn put_synced(
    tx: &rusqlite::Transaction<'_>,
    sealer: &crate::crypto::Sealer,
    p: &SafetyPlan,
) -> Result<i64> {
    let body = crate::sync::lww::safety_plan_body(p);
    upsert_sealed(tx, sealer, "settings", SAFETY_PLAN_ID, None, SCHEMA, &body)
}

/// The plan's body as stored, if any.
pub(crate) fn read(
    conn: &rusqlite::Connection,
    sealer: &crate::crypto::Sealer,
) -> Result<Option<SafetyPlan>> {
    match load_row(conn, sealer, "settings", SAFETY_PLAN_ID) {
        Ok(row) => {
            if row.schema != SCHEMA {
                return Err(Error::corrupted("settings", SAFETY_PLAN_ID));
            }
            crate::sync::lww::safety_plan_from(&row.plain)
                .map(Some)
                .map_err(|_| Error::corrupted("settings", SAFETY_PLAN_ID))
        }
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Store {
    /// The safety plan (empty if none was written).
    pub fn safety_plan(&self) -> Result<SafetyPlan> {
        self.read(|inner| Ok(read(&inner.conn, &inner.sealer)?.unwrap_or_default()))
    }

    /// Replaces the safety plan. Through sync, each part merges on its
    /// own: a part the clinic edited meanwhile keeps the clinic's version
    /// unless this write changed that part too.
    pub fn set_safety_plan(&self, plan: SafetyPlan) -> Result<SafetyPlan> {
        let plan = plan.checked()?;
        self.write(|tx, sealer, ctx| {
            let body = crate::sync::lww::safety_plan_body(&plan);
            let rev = upsert_sealed(tx, sealer, "settings", SAFETY_PLAN_ID, None, SCHEMA, &body)?;
            outbox(
                tx,
                sealer,
                ctx.clock.now_ms(),
                "settings",
                SAFETY_PLAN_ID,
                rev,
                false,
            )
        })?;
        Ok(plan)
    }
}
