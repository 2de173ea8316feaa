//! Between-visit support (docs/outcomes.md, "Support"): the journaling-
//! prompt library and the skills (breathing, grounding) as reviewed data,
//! the patient's coping plan and if-then plans (sealed), and logs of
//! skills practice (entries of the skill's built-in tracker, sealed like
//! every entry).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::journal::{Entry, NewEntry};
use crate::store::{Store, load_row, upsert_sealed};
use crate::trackers::Value;

/// A journaling prompt.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prompt {
    /// Stable id.
    pub id: &'static str,
    /// When it fits: `any`, `after_session`, `hard_day`, `evening`.
    pub when: &'static str,
    /// The prompt.
    pub text: &'static str,
}

/// The journaling-prompt library. Source: prompts written for the project
/// in the style of expressive-writing and behavioural-activation
/// exercises (Pennebaker & Beall 1986; Martell, Dimidjian & Herman-Dunn
/// 2010), reviewed for plain, non-judging words; none asks about risk
/// (that is the questionnaires' and the clinic's job).
pub const PROMPTS: &[Prompt] = &[
    Prompt {
        id: "today-one-thing",
        when: "any",
        text: "What is one thing that went a little better today than you expected?",
    },
    Prompt {
        id: "energy-map",
        when: "any",
        text: "Which part of today gave you energy, and which part drained it?",
    },
    Prompt {
        id: "body-check",
        when: "any",
        text: "Where in your body do you notice today's mood? Describe it without judging it.",
    },
    Prompt {
        id: "small-step",
        when: "any",
        text: "What is one small thing you could do tomorrow that matters to you?",
    },
    Prompt {
        id: "after-session-day",
        when: "after_session",
        text: "How has the day after your session felt? What, if anything, is different?",
    },
    Prompt {
        id: "after-session-notice",
        when: "after_session",
        text: "Since your session, have you noticed any change in your thoughts, sleep or energy?",
    },
    Prompt {
        id: "after-session-carry",
        when: "after_session",
        text: "Is there anything from the session you want to remember or bring to your next appointment?",
    },
    Prompt {
        id: "hard-day-name",
        when: "hard_day",
        text: "Name what made today hard, in a sentence or two. Naming it is enough.",
    },
    Prompt {
        id: "hard-day-helped",
        when: "hard_day",
        text: "On a hard day before, what helped even a little? Could any of it help now?",
    },
    Prompt {
        id: "hard-day-kind",
        when: "hard_day",
        text: "What would you say to a friend who had the day you had?",
    },
    Prompt {
        id: "evening-three",
        when: "evening",
        text: "Write down three things you noticed today, however small.",
    },
    Prompt {
        id: "evening-let-go",
        when: "evening",
        text: "Is there something from today you can set down before you sleep?",
    },
];

/// Prompts for a moment (`any` ones included), in table order.
pub fn prompts(when: Option<&str>) -> Result<Vec<&'static Prompt>> {
    if let Some(w) = when
        && !PROMPTS.iter().any(|p| p.when == w)
    {
        return Err(Error::invalid(
            "when",
            "expected any, after_session, hard_day or evening",
        ));
    }
    Ok(PROMPTS
        .iter()
        .filter(|p| when.is_none_or(|w| p.when == w || p.when == "any"))
        .collect())
}

/// A self-help skill, with its steps (reviewed as data).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Skill {
    /// Stable id; also the id of its built-in tracker (minutes practised).
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// The steps, in order.
    pub steps: &'static [&'static str],
    /// Where it comes from.
    pub source: &'static str,
}

/// The skills.
pub const SKILLS: &[Skill] = &[
    Skill {
        id: "breathing",
        name: "Slow breathing",
        steps: &[
            "Sit or lie comfortably and let your shoulders drop.",
            "Breathe in gently through your nose for a count of 4.",
            "Hold for a count of 4.",
            "Breathe out slowly through your mouth for a count of 6.",
            "Repeat for 3 to 5 minutes; stop if you feel light-headed.",
        ],
        source: "paced breathing with a longer out-breath, as taught in CBT and DBT \
                 distress-tolerance skills (Linehan 2015, DBT Skills Training Manual)",
    },
    Skill {
        id: "grounding",
        name: "5-4-3-2-1 grounding",
        steps: &[
            "Name 5 things you can see.",
            "Name 4 things you can touch, and touch them.",
            "Name 3 things you can hear.",
            "Name 2 things you can smell.",
            "Name 1 thing you can taste, or one kind thing about yourself.",
        ],
        source: "the 5-4-3-2-1 sensory grounding exercise used in anxiety and trauma care \
                 (e.g. NHS and university counselling-service self-help material)",
    },
];

/// A skill by id.
pub fn skill(id: &str) -> Result<&'static Skill> {
    SKILLS
        .iter()
        .find(|s| s.id == id.trim().to_ascii_lowercase())
        .ok_or_else(|| Error::invalid("skill", "expected breathing or grounding"))
}

/// "If this happens, then I will do that": an implementation intention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfThen {
    /// The situation ("I wake at 3 am and can't sleep").
    pub situation: String,
    /// What the patient will do ("I get up and read for 20 minutes").
    pub action: String,
}

/// The patient's coping plan: steps to try when things get hard, and
/// if-then plans. Sealed (one `settings` row), kept on the device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CopingPlan {
    /// Steps, in the patient's order.
    pub steps: Vec<String>,
    /// If-then plans.
    pub if_then: Vec<IfThen>,
}

const COPING_ID: &str = "coping_plan";
const SCHEMA: u8 = 1;
/// Most steps or if-then plans.
pub const MAX_PLAN_ITEMS: usize = 20;

fn item(field: &'static str, s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > crate::safety::MAX_ITEM_CHARS {
        return Err(Error::invalid(field, "must be 1 to 500 characters"));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(t.to_owned())
}

impl CopingPlan {
    fn checked(self) -> Result<CopingPlan> {
        if self.steps.len() > MAX_PLAN_ITEMS || self.if_then.len() > MAX_PLAN_ITEMS {
            return Err(Error::invalid(
                "coping plan",
                format!("at most {MAX_PLAN_ITEMS} steps and {MAX_PLAN_ITEMS} if-then plans"),
            ));
        }
        Ok(CopingPlan {
            steps: self
                .steps
                .iter()
                .map(|s| item("step", s))
                .collect::<Result<_>>()?,
            if_then: self
                .if_then
                .iter()
                .map(|p| {
                    Ok(IfThen {
                        situation: item("if", &p.situation)?,
                        action: item("then", &p.action)?,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = crate::codec::Writer::with_capacity(128);
        w.uvar(self.steps.len() as u64);
        for s in &self.steps {
            w.str(s);
        }
        w.uvar(self.if_then.len() as u64);
        for p in &self.if_then {
            w.str(&p.situation);
            w.str(&p.action);
        }
        w.finish()
    }

    fn decode(b: &[u8]) -> std::result::Result<CopingPlan, crate::codec::DecodeError> {
        let mut r = crate::codec::Reader::new(b);
        let n = r.uvar()?.min(MAX_PLAN_ITEMS as u64);
        let steps = (0..n)
            .map(|_| r.str())
            .collect::<std::result::Result<_, _>>()?;
        let n = r.uvar()?.min(MAX_PLAN_ITEMS as u64);
        let if_then = (0..n)
            .map(|_| {
                Ok(IfThen {
                    situation: r.str()?,
                    action: r.str()?,
                })
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(CopingPlan { steps, if_then })
    }
}

impl Store {
    /// The coping plan (empty if none was written).
    pub fn coping_plan(&self) -> Result<CopingPlan> {
        self.read(
            |inner| match load_row(&inner.conn, &inner.sealer, "settings", COPING_ID) {
                Ok(row) => CopingPlan::decode(&row.plain)
                    .map_err(|_| Error::corrupted("settings", COPING_ID)),
                Err(Error::NotFound { .. }) => Ok(CopingPlan::default()),
                Err(e) => Err(e),
            },
        )
    }

    /// Replaces the coping plan (items trimmed; 1-500 characters each, at
    /// most 20 steps and 20 if-then plans).
    pub fn set_coping_plan(&self, plan: CopingPlan) -> Result<CopingPlan> {
        let plan = plan.checked()?;
        self.write(|tx, sealer, _| {
            upsert_sealed(
                tx,
                sealer,
                "settings",
                COPING_ID,
                None,
                SCHEMA,
                &plan.encode(),
            )
        })?;
        Ok(plan)
    }

    /// Logs practice of a skill: an entry of the skill's tracker with the
    /// minutes practised.
    pub fn log_practice(
        &self,
        skill_id: &str,
        minutes: u32,
        at: DateTime<Utc>,
        zone: &str,
    ) -> Result<Entry> {
        let s = skill(skill_id)?;
        if minutes == 0 {
            return Err(Error::invalid("minutes", "must be at least 1"));
        }
        self.log(NewEntry {
            tracker: s.id.into(),
            value: Value::Duration { minutes },
            note: None,
            tags: Vec::new(),
            at,
            zone: zone.into(),
        })
    }
}
