//! Standard questionnaires (PHQ-9, PHQ-2, GAD-7, GAD-2) as reviewed data:
//! item texts, answer options, scoring, bands and LOINC codes, each table
//! with its source (docs/outcomes.md, "Questionnaires"). Answers are kept
//! as journal entries of the questionnaire's tracker (`phq9`, `gad7`,
//! `phq2`, `gad2`), sealed like every entry, and scored from this table
//! whenever they are read, so a corrected table re-scores old answers.

use serde::Serialize;

use crate::error::{Error, Result};

/// One answer option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AnswerOption {
    /// The value scored (0-3).
    pub value: u8,
    /// The text the patient reads.
    pub text: &'static str,
    /// LOINC answer code.
    pub loinc: &'static str,
}

/// One item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The text the patient reads.
    pub text: &'static str,
    /// LOINC question code, where one exists.
    pub loinc: Option<&'static str>,
    /// Whether the item counts towards the total.
    pub scored: bool,
    /// Its answer options.
    pub options: &'static [AnswerOption],
}

/// A score band: totals from `min` to `max`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Band {
    /// Lowest total in the band.
    pub min: u8,
    /// Highest total in the band.
    pub max: u8,
    /// Its name as published ("moderately severe").
    pub name: &'static str,
}

/// A questionnaire, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Questionnaire {
    /// Stable id, also its tracker's id (`phq9`).
    pub id: &'static str,
    /// Version of this table for the questionnaire; stored with every
    /// answer set.
    pub version: u32,
    /// Name ("PHQ-9").
    pub name: &'static str,
    /// The question asked before the items.
    pub prompt: &'static str,
    /// Items in order.
    pub items: &'static [Item],
    /// Most scored items that may be unanswered for the total to be
    /// prorated (docs/outcomes.md, "Missing answers"); more, and the
    /// answer set is incomplete: no total, no band.
    pub max_missing: u8,
    /// Score bands, lowest first, covering every total.
    pub bands: &'static [Band],
    /// A screen is positive at this total or above (two-item screens).
    pub positive_at: Option<u8>,
    /// The item (1-based) that raises a flag for review whenever it is
    /// answered above 0 (PHQ-9 item 9).
    pub risk_item: Option<u8>,
    /// LOINC code of the panel.
    pub panel_loinc: Option<&'static str>,
    /// LOINC code of the total.
    pub total_loinc: Option<&'static str>,
    /// Where the texts, scoring and codes come from.
    pub source: &'static str,
}

/// "Over the last 2 weeks" frequency options (LOINC answer list LL358-3).
pub const FREQUENCY: &[AnswerOption] = &[
    AnswerOption {
        value: 0,
        text: "Not at all",
        loinc: "LA6568-5",
    },
    AnswerOption {
        value: 1,
        text: "Several days",
        loinc: "LA6569-3",
    },
    AnswerOption {
        value: 2,
        text: "More than half the days",
        loinc: "LA6570-1",
    },
    AnswerOption {
        value: 3,
        text: "Nearly every day",
        loinc: "LA6571-9",
    },
];

/// PHQ-9's difficulty item options (LOINC answer list LL359-1).
pub const DIFFICULTY: &[AnswerOption] = &[
    AnswerOption {
        value: 0,
        text: "Not difficult at all",
        loinc: "LA6572-7",
    },
    AnswerOption {
        value: 1,
        text: "Somewhat difficult",
        loinc: "LA6573-5",
    },
    AnswerOption {
        value: 2,
        text: "Very difficult",
        loinc: "LA6574-3",
    },
    AnswerOption {
        value: 3,
        text: "Extremely difficult",
        loinc: "LA6575-0",
    },
];

const fn item(text: &'static str, loinc: &'static str) -> Item {
    Item {
        text,
        loinc: Some(loinc),
        scored: true,
        options: FREQUENCY,
    }
}

const PHQ9_ITEMS: &[Item] = &[
    item("Little interest or pleasure in doing things", "44250-9"),
    item("Feeling down, depressed, or hopeless", "44255-8"),
    item(
        "Trouble falling or staying asleep, or sleeping too much",
        "44259-0",
    ),
    item("Feeling tired or having little energy", "44254-1"),
    item("Poor appetite or overeating", "44251-7"),
    item(
        "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
        "44258-2",
    ),
    item(
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "44252-5",
    ),
    item(
        "Moving or speaking so slowly that other people could have noticed? Or the opposite: being so fidgety or restless that you have been moving around a lot more than usual",
        "44253-3",
    ),
    item(
        "Thoughts that you would be better off dead or of hurting yourself in some way",
        "44260-8",
    ),
    Item {
        text: "If you checked off any problems, how difficult have these problems made it for you to do your work, take care of things at home, or get along with other people?",
        loinc: Some("69722-7"),
        scored: false,
        options: DIFFICULTY,
    },
];

const GAD7_ITEMS: &[Item] = &[
    item("Feeling nervous, anxious, or on edge", "69725-0"),
    item("Not being able to stop or control worrying", "68509-9"),
    item("Worrying too much about different things", "69733-4"),
    item("Trouble relaxing", "69734-2"),
    item("Being so restless that it is hard to sit still", "69735-9"),
    item("Becoming easily annoyed or irritable", "69689-8"),
    item(
        "Feeling afraid, as if something awful might happen",
        "69736-7",
    ),
];

const PHQ_PROMPT: &str =
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?";
const GAD_PROMPT: &str =
    "Over the last 2 weeks, how often have you been bothered by the following problems?";

const SCREEN_BANDS: &[Band] = &[
    Band {
        min: 0,
        max: 2,
        name: "negative screen",
    },
    Band {
        min: 3,
        max: 6,
        name: "positive screen",
    },
];

/// The questionnaires, reviewed as data. Sources: Kroenke, Spitzer &
/// Williams 2001 (PHQ-9) and 2003 (PHQ-2); Spitzer et al. 2006 (GAD-7);
/// Kroenke et al. 2007 (GAD-2); all released without copyright
/// restriction (Pfizer, 2010); LOINC codes from loinc.org as listed in
/// ../shared/guides/domain.md (PHQ-2's panel code 55757-9 from loinc.org).
pub const QUESTIONNAIRES: &[Questionnaire] = &[
    Questionnaire {
        id: "phq9",
        version: 1,
        name: "PHQ-9",
        prompt: PHQ_PROMPT,
        items: PHQ9_ITEMS,
        max_missing: 2,
        bands: &[
            Band {
                min: 0,
                max: 4,
                name: "minimal",
            },
            Band {
                min: 5,
                max: 9,
                name: "mild",
            },
            Band {
                min: 10,
                max: 14,
                name: "moderate",
            },
            Band {
                min: 15,
                max: 19,
                name: "moderately severe",
            },
            Band {
                min: 20,
                max: 27,
                name: "severe",
            },
        ],
        positive_at: None,
        risk_item: Some(9),
        panel_loinc: Some("44249-1"),
        total_loinc: Some("44261-6"),
        source: "Kroenke K, Spitzer RL, Williams JB. The PHQ-9. J Gen Intern Med 2001;16:606-613; \
                 bands 5/10/15/20 as published; item 10 (difficulty) asked, not scored",
    },
    Questionnaire {
        id: "phq2",
        version: 1,
        name: "PHQ-2",
        prompt: PHQ_PROMPT,
        items: PHQ9_ITEMS.split_at(2).0,
        max_missing: 0,
        bands: SCREEN_BANDS,
        positive_at: Some(3),
        risk_item: None,
        panel_loinc: Some("55757-9"),
        total_loinc: Some("55758-7"),
        source: "Kroenke K, Spitzer RL, Williams JB. The PHQ-2. Med Care 2003;41:1284-1292; \
                 items 1-2 of PHQ-9, positive at 3 or more",
    },
    Questionnaire {
        id: "gad7",
        version: 1,
        name: "GAD-7",
        prompt: GAD_PROMPT,
        items: GAD7_ITEMS,
        max_missing: 1,
        bands: &[
            Band {
                min: 0,
                max: 4,
                name: "minimal",
            },
            Band {
                min: 5,
                max: 9,
                name: "mild",
            },
            Band {
                min: 10,
                max: 14,
                name: "moderate",
            },
            Band {
                min: 15,
                max: 21,
                name: "severe",
            },
        ],
        positive_at: None,
        risk_item: None,
        panel_loinc: Some("69737-5"),
        total_loinc: Some("70274-6"),
        source: "Spitzer RL, Kroenke K, Williams JB, Lowe B. A brief measure for assessing \
                 generalized anxiety disorder: the GAD-7. Arch Intern Med 2006;166:1092-1097",
    },
    Questionnaire {
        id: "gad2",
        version: 1,
        name: "GAD-2",
        prompt: GAD_PROMPT,
        items: GAD7_ITEMS.split_at(2).0,
        max_missing: 0,
        bands: SCREEN_BANDS,
        positive_at: Some(3),
        risk_item: None,
        panel_loinc: None,
        total_loinc: None,
        source: "Kroenke K et al. Anxiety disorders in primary care. Ann Intern Med \
                 2007;146:317-325; items 1-2 of GAD-7, positive at 3 or more",
    },
];

/// A questionnaire by id (`phq9`, `PHQ-9` and `phq-9` alike).
pub fn questionnaire(id: &str) -> Result<&'static Questionnaire> {
    let key: String = id
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    QUESTIONNAIRES
        .iter()
        .find(|q| q.id == key)
        .ok_or_else(|| Error::invalid("questionnaire", "expected phq9, phq2, gad7 or gad2"))
}

/// A scored answer set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// The questionnaire's id.
    pub questionnaire: &'static str,
    /// The table version it was scored with.
    pub version: u32,
    /// Total, as published (prorated when some items are unanswered, within
    /// `max_missing`); `None` when incomplete.
    pub total: Option<u8>,
    /// Whether the total was prorated.
    pub prorated: bool,
    /// Scored items answered.
    pub answered: u8,
    /// Scored items not answered.
    pub missing: u8,
    /// The band of the total; `None` when incomplete.
    pub band: Option<&'static str>,
    /// For screens: positive at the published cut-off.
    pub positive_screen: Option<bool>,
    /// For PHQ-9: whether item 9 was answered above "not at all" (`None`
    /// when it was not answered). A `false` here is never reassurance: see
    /// docs/outcomes.md, "Item 9".
    pub item9_positive: Option<bool>,
    /// The risk item's answer, if the questionnaire has one and it was
    /// answered.
    pub risk_answer: Option<u8>,
}

impl Questionnaire {
    /// Number of scored items.
    pub fn scored_items(&self) -> usize {
        self.items.iter().filter(|i| i.scored).count()
    }

    /// Highest possible total.
    pub fn max_total(&self) -> u8 {
        self.items
            .iter()
            .filter(|i| i.scored)
            .map(|i| i.options.iter().map(|o| o.value).max().unwrap_or(0))
            .sum()
    }

    /// The band a total falls in.
    pub fn band(&self, total: u8) -> Option<&'static Band> {
        self.bands.iter().find(|b| b.min <= total && total <= b.max)
    }

    /// Checks an answer set: one answer (or `None`, unanswered) per item;
    /// trailing unscored items may be left off. Out-of-range answers and
    /// wrong counts are `InvalidInput`.
    pub fn check(&self, answers: &[Option<u8>]) -> Result<Vec<Option<u8>>> {
        let scored = self.scored_items();
        if answers.len() < scored || answers.len() > self.items.len() {
            let n = self.items.len();
            return Err(Error::invalid(
                "answers",
                if n == scored {
                    format!("{} takes {n} answers", self.name)
                } else {
                    format!("{} takes {scored} or {n} answers", self.name)
                },
            ));
        }
        for (i, (a, item)) in answers.iter().zip(self.items).enumerate() {
            if let Some(a) = a
                && !item.options.iter().any(|o| o.value == *a)
            {
                let max = item.options.iter().map(|o| o.value).max().unwrap_or(0);
                return Err(Error::invalid(
                    "answers",
                    format!("answer {} must be from 0 to {max}", i + 1),
                ));
            }
        }
        let mut v = answers.to_vec();
        v.resize(self.items.len(), None);
        Ok(v)
    }

    /// Scores an answer set (checked as [`Questionnaire::check`] does).
    /// Missing answers: up to `max_missing` scored items may be unanswered,
    /// and the total is the answered items' sum scaled to every item,
    /// rounded half up; beyond that the set is incomplete (no total, no
    /// band). Every rule is in docs/outcomes.md.
    pub fn score(&self, answers: &[Option<u8>]) -> Result<Score> {
        let answers = self.check(answers)?;
        let (mut sum, mut answered, mut missing) = (0u32, 0u8, 0u8);
        for (a, item) in answers.iter().zip(self.items) {
            if !item.scored {
                continue;
            }
            match a {
                Some(v) => {
                    sum += u32::from(*v);
                    answered += 1;
                }
                None => missing += 1,
            }
        }
        let items = u32::from(answered) + u32::from(missing);
        let total = if missing == 0 {
            Some(sum as u8)
        } else if missing <= self.max_missing && answered > 0 {
            // sum * items / answered, rounded half up, in integers.
            let a = u32::from(answered);
            Some(((2 * sum * items + a) / (2 * a)) as u8)
        } else {
            None
        };
        let risk_answer = self
            .risk_item
            .and_then(|i| answers.get(usize::from(i) - 1).copied().flatten());
        Ok(Score {
            questionnaire: self.id,
            version: self.version,
            total,
            prorated: total.is_some() && missing > 0,
            answered,
            missing,
            band: total.and_then(|t| self.band(t)).map(|b| b.name),
            positive_screen: self.positive_at.zip(total).map(|(at, t)| t >= at),
            item9_positive: risk_answer.map(|v| v > 0),
            risk_answer,
        })
    }
}

/// Parses answers typed by a person: comma-separated numbers, with `-` or
/// nothing for an unanswered item (`0,1,2,-,3`).
pub fn parse_answers(s: &str) -> Result<Vec<Option<u8>>> {
    s.split(',')
        .map(|a| match a.trim() {
            "" | "-" => Ok(None),
            t => t.parse::<u8>().map(Some).map_err(|_| {
                Error::invalid(
                    "answers",
                    "expected numbers separated by commas (- for none)",
                )
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(q: &Questionnaire, v: u8) -> Vec<Option<u8>> {
        vec![Some(v); q.scored_items()]
    }

    #[test]
    fn every_band_edge_scores_as_published() {
        // (questionnaire, total, band) at every edge, both sides.
        let edges: &[(&str, u8, &str)] = &[
            ("phq9", 0, "minimal"),
            ("phq9", 4, "minimal"),
            ("phq9", 5, "mild"),
            ("phq9", 9, "mild"),
            ("phq9", 10, "moderate"),
            ("phq9", 14, "moderate"),
            ("phq9", 15, "moderately severe"),
            ("phq9", 19, "moderately severe"),
            ("phq9", 20, "severe"),
            ("phq9", 27, "severe"),
            ("gad7", 0, "minimal"),
            ("gad7", 4, "minimal"),
            ("gad7", 5, "mild"),
            ("gad7", 9, "mild"),
            ("gad7", 10, "moderate"),
            ("gad7", 14, "moderate"),
            ("gad7", 15, "severe"),
            ("gad7", 21, "severe"),
            ("phq2", 2, "negative screen"),
            ("phq2", 3, "positive screen"),
            ("gad2", 2, "negative screen"),
            ("gad2", 3, "positive screen"),
            ("gad2", 6, "positive screen"),
        ];
        for &(id, total, band) in edges {
            let q = questionnaire(id).unwrap();
            // Spread the total over the items, 3 at most each, item 9 last.
            let mut left = total;
            let answers: Vec<Option<u8>> = (0..q.scored_items())
                .map(|_| {
                    let v = left.min(3);
                    left -= v;
                    Some(v)
                })
                .collect();
            assert_eq!(left, 0);
            let s = q.score(&answers).unwrap();
            assert_eq!((s.total, s.band), (Some(total), Some(band)), "{id} {total}");
            assert!(!s.prorated);
            if let Some(at) = q.positive_at {
                assert_eq!(s.positive_screen, Some(total >= at));
            }
        }
    }

    #[test]
    fn bands_cover_every_total_once() {
        for q in QUESTIONNAIRES {
            for t in 0..=q.max_total() {
                assert_eq!(
                    q.bands.iter().filter(|b| b.min <= t && t <= b.max).count(),
                    1,
                    "{} {t}",
                    q.id
                );
            }
            assert!(q.bands.iter().all(|b| b.max <= q.max_total()));
        }
        assert_eq!(questionnaire("phq9").unwrap().max_total(), 27);
        assert_eq!(questionnaire("GAD-7").unwrap().max_total(), 21);
        assert_eq!(questionnaire("phq_2").unwrap().max_total(), 6);
    }

    #[test]
    fn item_9_is_positive_whatever_the_total() {
        let q = questionnaire("phq9").unwrap();
        for v in 1..=3 {
            let mut a = all(q, 0);
            a[8] = Some(v);
            let s = q.score(&a).unwrap();
            assert_eq!(s.item9_positive, Some(true));
            assert_eq!(s.risk_answer, Some(v));
            assert_eq!(s.band, Some("minimal"));
        }
        let s = q.score(&all(q, 0)).unwrap();
        assert_eq!(s.item9_positive, Some(false));
        let mut a = all(q, 1);
        a[8] = None;
        let s = q.score(&a).unwrap();
        assert_eq!(s.item9_positive, None, "unanswered is not negative");
        assert_eq!(s.total, Some(9), "8 answered ones, prorated");
        // No other questionnaire has a risk item.
        for id in ["phq2", "gad7", "gad2"] {
            let q = questionnaire(id).unwrap();
            assert_eq!(q.score(&all(q, 3)).unwrap().item9_positive, None);
        }
    }

    #[test]
    fn missing_answers_prorate_within_the_rule_only() {
        let q = questionnaire("phq9").unwrap();
        let mut a = all(q, 2);
        a[0] = None;
        // 16 over 8 items, scaled to 9: 18.
        let s = q.score(&a).unwrap();
        assert_eq!((s.total, s.prorated, s.missing), (Some(18), true, 1));
        a[1] = None;
        a[2] = Some(1);
        // 13 over 7, scaled: 16.71 -> 17.
        assert_eq!(q.score(&a).unwrap().total, Some(17));
        a[3] = None;
        let s = q.score(&a).unwrap();
        assert_eq!((s.total, s.band, s.missing), (None, None, 3));
        // Rounding half up: GAD-7 with 6 answered summing 3: 3.5 -> 4.
        let g = questionnaire("gad7").unwrap();
        let s = g
            .score(&[Some(1), Some(1), Some(1), Some(0), Some(0), Some(0), None])
            .unwrap();
        assert_eq!(s.total, Some(4));
        // Two-item screens need both.
        let p = questionnaire("phq2").unwrap();
        let s = p.score(&[Some(3), None]).unwrap();
        assert_eq!((s.total, s.positive_screen), (None, None));
    }

    #[test]
    fn wrong_counts_and_ranges_are_refused() {
        let q = questionnaire("phq9").unwrap();
        assert!(q.score(&all(q, 0)[..8]).is_err());
        assert!(q.score(&[Some(0); 11]).is_err());
        assert!(q.score(&[Some(0); 10]).is_ok(), "with the difficulty item");
        let mut a = all(q, 0);
        a[4] = Some(4);
        let e = q.score(&a).unwrap_err().to_string();
        assert!(e.contains("answer 5"), "{e}");
        assert!(questionnaire("bdi").is_err());
        assert_eq!(
            parse_answers("0, 1,-,,3").unwrap(),
            vec![Some(0), Some(1), None, None, Some(3)]
        );
        assert!(parse_answers("0,x").is_err());
        assert!(parse_answers("0,256").is_err());
    }

    #[test]
    fn tables_are_complete() {
        for q in QUESTIONNAIRES {
            assert!(!q.source.is_empty() && !q.items.is_empty());
            assert_eq!(q.bands.first().map(|b| b.min), Some(0));
            assert_eq!(q.bands.last().map(|b| b.max), Some(q.max_total()));
            for i in q.items {
                assert_eq!(i.options.len(), 4);
            }
        }
        let phq9 = questionnaire("phq9").unwrap();
        assert_eq!(phq9.items.len(), 10);
        assert_eq!(phq9.scored_items(), 9);
        assert_eq!(phq9.items[8].loinc, Some("44260-8"));
    }
}
