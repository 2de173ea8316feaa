//! Trackers: what a patient rates or records. Built-in ones come from a
//! reviewed table ([`BUILTIN_TRACKERS`]); custom ones are defined by the
//! patient or the clinic and sealed like entries (their names can be
//! personal: "Urges", "Voices", a medication's name).

use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto::{Binding, Sealer};
use crate::error::{Error, Result};
use crate::store::{Inner, OpenedRow, Store, load_row, load_rows, outbox, tombstone};
use rusqlite::{Connection, params};
use serde::Serialize;

/// Largest text (notes, journal text), in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Longest tracker name, tag or label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// Longest duration for sleep, in minutes (a day).
pub const MAX_SLEEP_MINUTES: u32 = 24 * 60;
/// Longest duration for a custom duration tracker, in minutes (a week).
pub const MAX_DURATION_MINUTES: u32 = 7 * 24 * 60;
/// Largest count.
pub const MAX_COUNT: u32 = 100_000;
/// Largest absolute bound of a custom scale.
pub const MAX_SCALE_BOUND: f64 = 1_000_000.0;

/// What kind of value a tracker takes.
#[derive(Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrackerKind {
    /// A number from `min` to `max` in steps of `step`.
    Scale {
        /// Lowest value.
        min: f64,
        /// Highest value.
        max: f64,
        /// Granularity (values are `min + k * step`).
        step: f64,
        /// What `min` means ("very low").
        min_label: String,
        /// What `max` means ("very good").
        max_label: String,
    },
    /// Yes or no.
    YesNo,
    /// A duration in minutes, up to `max_minutes`.
    Duration {
        /// Longest accepted duration.
        max_minutes: u32,
    },
    /// A whole number from 0 to [`MAX_COUNT`].
    Count,
    /// Free text up to [`MAX_TEXT_BYTES`].
    Text,
    /// Sleep: duration and an optional 0-10 quality rating.
    Sleep,
    /// A medication taken (or skipped), by name.
    Medication,
    /// A standard questionnaire ([`crate::questionnaires::QUESTIONNAIRES`]),
    /// answered item by item.
    Questionnaire {
        /// The questionnaire's id (`phq9`).
        questionnaire: String,
    },
}

/// A tracker, built-in or custom.
#[derive(Clone, PartialEq, Serialize)]
pub struct Tracker {
    /// Stable id: a word for built-ins (`mood`), 32 hex characters for custom ones.
    pub id: String,
    /// Name shown to the patient.
    pub name: String,
    /// Kind of value.
    pub kind: TrackerKind,
    /// Whether it is one of [`BUILTIN_TRACKERS`].
    pub builtin: bool,
}

/// A built-in tracker's definition, with why it looks the way it does.
#[derive(Debug)]
pub struct BuiltinTracker {
    /// Stable id.
    pub id: &'static str,
    /// Name shown to the patient.
    pub name: &'static str,
    /// Scale bounds and labels, or `None` for non-scale kinds.
    pub scale: Option<(f64, f64, &'static str, &'static str)>,
    /// Kind when not a scale.
    pub other: Option<fn() -> TrackerKind>,
    /// Where the definition comes from, for reviewers.
    pub source: &'static str,
}

/// The built-in trackers, reviewed as data (see docs/design.md, "Trackers").
pub const BUILTIN_TRACKERS: &[BuiltinTracker] = &[
    BuiltinTracker {
        id: "mood",
        name: "Mood",
        scale: Some((0.0, 10.0, "very low", "very good")),
        other: None,
        source: "0-10 numeric rating scale; no standard code exists for a daily mood rating, \
                 so FHIR export uses Cairn's own code system",
    },
    BuiltinTracker {
        id: "anxiety",
        name: "Anxiety",
        scale: Some((0.0, 10.0, "none", "extreme")),
        other: None,
        source: "0-10 numeric rating scale (as used for subjective units of distress)",
    },
    BuiltinTracker {
        id: "sleep",
        name: "Sleep",
        scale: None,
        other: Some(|| TrackerKind::Sleep),
        source: "hours slept (LOINC 93832-4, sleep duration) with a 0-10 quality rating",
    },
    BuiltinTracker {
        id: "energy",
        name: "Energy",
        scale: Some((0.0, 10.0, "exhausted", "full of energy")),
        other: None,
        source: "0-10 numeric rating scale",
    },
    BuiltinTracker {
        id: "appetite",
        name: "Appetite",
        scale: Some((-2.0, 2.0, "much less than usual", "much more than usual")),
        other: None,
        source: "change against usual, both directions: PHQ-9 item 5 asks about \
                 poor appetite or overeating",
    },
    BuiltinTracker {
        id: "irritability",
        name: "Irritability",
        scale: Some((0.0, 10.0, "none", "extreme")),
        other: None,
        source: "0-10 numeric rating scale",
    },
    BuiltinTracker {
        id: "medication",
        name: "Medication",
        scale: None,
        other: Some(|| TrackerKind::Medication),
        source: "dose taken or skipped, by medication name (sealed)",
    },
    BuiltinTracker {
        id: "journal",
        name: "Journal",
        scale: None,
        other: Some(|| TrackerKind::Text),
        source: "free-text journal entry (sealed)",
    },
    BuiltinTracker {
        id: "breathing",
        name: "Breathing practice",
        scale: None,
        other: Some(|| TrackerKind::Duration { max_minutes: 120 }),
        source: "minutes of a skill practised (crate::support::SKILLS: steps and source)",
    },
    BuiltinTracker {
        id: "grounding",
        name: "Grounding practice",
        scale: None,
        other: Some(|| TrackerKind::Duration { max_minutes: 120 }),
        source: "minutes of a skill practised (crate::support::SKILLS: steps and source)",
    },
    BuiltinTracker {
        id: "phq9",
        name: "PHQ-9",
        scale: None,
        other: Some(|| questionnaire("phq9")),
        source: "questionnaire: items, scoring and codes in crate::questionnaires",
    },
    BuiltinTracker {
        id: "phq2",
        name: "PHQ-2",
        scale: None,
        other: Some(|| questionnaire("phq2")),
        source: "questionnaire: items, scoring and codes in crate::questionnaires",
    },
    BuiltinTracker {
        id: "gad7",
        name: "GAD-7",
        scale: None,
        other: Some(|| questionnaire("gad7")),
        source: "questionnaire: items, scoring and codes in crate::questionnaires",
    },
    BuiltinTracker {
        id: "gad2",
        name: "GAD-2",
        scale: None,
        other: Some(|| questionnaire("gad2")),
        source: "questionnaire: items, scoring and codes in crate::questionnaires",
    },
];

fn questionnaire(id: &str) -> TrackerKind {
    TrackerKind::Questionnaire {
        questionnaire: id.into(),
    }
}

impl BuiltinTracker {
    /// The tracker this definition describes.
    pub fn tracker(&self) -> Tracker {
        let kind = match (self.scale, self.other) {
            (Some((min, max, lo, hi)), _) => TrackerKind::Scale {
                min,
                max,
                step: 1.0,
                min_label: lo.into(),
                max_label: hi.into(),
            },
            (None, Some(f)) => f(),
            (None, None) => TrackerKind::Text,
        };
        Tracker {
            id: self.id.into(),
            name: self.name.into(),
            kind,
            builtin: true,
        }
    }
}

/// A value for one entry; which variant fits depends on the tracker's kind.
#[derive(Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// For scales.
    Scale(f64),
    /// For yes/no trackers.
    YesNo(bool),
    /// For duration trackers.
    Duration {
        /// Minutes.
        minutes: u32,
    },
    /// For counts.
    Count(u32),
    /// For text trackers (the journal).
    Text(String),
    /// For sleep.
    Sleep {
        /// Minutes slept.
        minutes: u32,
        /// Quality 0-10, if rated.
        quality: Option<u8>,
    },
    /// For medication.
    Medication {
        /// Medication name (and dose, as the patient writes it).
        name: String,
        /// Taken (true) or skipped (false).
        taken: bool,
    },
    /// For questionnaires: one answer per item, `None` where unanswered.
    Answers {
        /// The questionnaire table's version the answers were given to.
        version: u32,
        /// Answers in item order.
        answers: Vec<Option<u8>>,
    },
}

/// Checks a label-like string (tracker name, tag, scale label).
pub(crate) fn check_label(field: &'static str, s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if t.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_LABEL_CHARS} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(t.to_owned())
}

/// Checks free text (notes, journal). `None` for empty or blank text.
pub(crate) fn check_text(field: &'static str, s: &str) -> Result<Option<String>> {
    if s.len() > MAX_TEXT_BYTES {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    if s.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(if s.trim().is_empty() {
        None
    } else {
        Some(s.to_owned())
    })
}

impl TrackerKind {
    /// Checks that `value` fits this kind; returns it normalised.
    pub fn check(&self, value: Value) -> Result<Value> {
        match (self, value) {
            (TrackerKind::Scale { min, max, step, .. }, Value::Scale(v)) => {
                if !v.is_finite() {
                    return Err(Error::invalid("value", "must be a finite number"));
                }
                if v < *min || v > *max {
                    return Err(Error::invalid(
                        "value",
                        format!("must be between {min} and {max}"),
                    ));
                }
                let k = (v - min) / step;
                if (k - k.round()).abs() > 1e-9 {
                    return Err(Error::invalid(
                        "value",
                        format!("must be in steps of {step}"),
                    ));
                }
                Ok(Value::Scale(min + k.round() * step))
            }
            (TrackerKind::YesNo, v @ Value::YesNo(_)) => Ok(v),
            (TrackerKind::Duration { max_minutes }, Value::Duration { minutes }) => {
                if minutes > *max_minutes {
                    return Err(Error::invalid(
                        "value",
                        format!("at most {max_minutes} minutes"),
                    ));
                }
                Ok(Value::Duration { minutes })
            }
            (TrackerKind::Count, Value::Count(n)) => {
                if n > MAX_COUNT {
                    return Err(Error::invalid("value", format!("at most {MAX_COUNT}")));
                }
                Ok(Value::Count(n))
            }
            (TrackerKind::Text, Value::Text(t)) => match check_text("value", &t)? {
                Some(t) => Ok(Value::Text(t)),
                None => Err(Error::invalid("value", "text must not be empty")),
            },
            (TrackerKind::Sleep, Value::Sleep { minutes, quality }) => {
                if minutes > MAX_SLEEP_MINUTES {
                    return Err(Error::invalid("value", "sleep is at most 24 hours"));
                }
                if quality.is_some_and(|q| q > 10) {
                    return Err(Error::invalid("quality", "must be between 0 and 10"));
                }
                Ok(Value::Sleep { minutes, quality })
            }
            (TrackerKind::Medication, Value::Medication { name, taken }) => Ok(Value::Medication {
                name: check_label("medication name", &name)?,
                taken,
            }),
            (TrackerKind::Questionnaire { questionnaire }, Value::Answers { version, answers }) => {
                let q = crate::questionnaires::questionnaire(questionnaire)?;
                if version != q.version {
                    return Err(Error::invalid(
                        "version",
                        format!("{} is at version {}", q.name, q.version),
                    ));
                }
                Ok(Value::Answers {
                    version,
                    answers: q.check(&answers)?,
                })
            }
            _ => Err(Error::invalid("value", "does not fit the tracker's kind")),
        }
    }

    /// Parses a value typed by a person: `7` for scales and counts,
    /// `yes`/`no` for yes/no, `7h30m`, `90m` or `1.5h` for durations and
    /// sleep, any text for text and medication (taken).
    pub fn parse(&self, s: &str) -> Result<Value> {
        let s = s.trim();
        let number = || -> Result<f64> {
            s.parse::<f64>()
                .map_err(|_| Error::invalid("value", "expected a number"))
        };
        let v = match self {
            TrackerKind::Scale { .. } => Value::Scale(number()?),
            TrackerKind::YesNo => Value::YesNo(match s.to_ascii_lowercase().as_str() {
                "yes" | "y" | "true" | "1" => true,
                "no" | "n" | "false" | "0" => false,
                _ => return Err(Error::invalid("value", "expected yes or no")),
            }),
            TrackerKind::Duration { .. } => Value::Duration {
                minutes: parse_minutes(s)?,
            },
            TrackerKind::Count => Value::Count(
                s.parse::<u32>()
                    .map_err(|_| Error::invalid("value", "expected a whole number"))?,
            ),
            TrackerKind::Text => Value::Text(s.to_owned()),
            TrackerKind::Sleep => Value::Sleep {
                minutes: parse_minutes(s)?,
                quality: None,
            },
            TrackerKind::Medication => Value::Medication {
                name: s.to_owned(),
                taken: true,
            },
            TrackerKind::Questionnaire { questionnaire } => Value::Answers {
                version: crate::questionnaires::questionnaire(questionnaire)?.version,
                answers: crate::questionnaires::parse_answers(s)?,
            },
        };
        self.check(v)
    }

    pub(crate) fn check_definition(self) -> Result<Self> {
        match self {
            TrackerKind::Scale {
                min,
                max,
                step,
                min_label,
                max_label,
            } => {
                let finite = min.is_finite() && max.is_finite() && step.is_finite();
                if !finite || min.abs() > MAX_SCALE_BOUND || max.abs() > MAX_SCALE_BOUND {
                    return Err(Error::invalid(
                        "scale",
                        "bounds must be finite and at most 1e6",
                    ));
                }
                if min >= max {
                    return Err(Error::invalid("scale", "min must be below max"));
                }
                if step <= 0.0 || step > max - min || (max - min) / step > 10_000.0 {
                    return Err(Error::invalid(
                        "scale",
                        "step must fit the range (at most 10,000 steps)",
                    ));
                }
                let label = |l: String| -> Result<String> {
                    if l.trim().is_empty() {
                        Ok(String::new())
                    } else {
                        check_label("scale label", &l)
                    }
                };
                Ok(TrackerKind::Scale {
                    min,
                    max,
                    step,
                    min_label: label(min_label)?,
                    max_label: label(max_label)?,
                })
            }
            TrackerKind::Duration { max_minutes } => {
                if max_minutes == 0 || max_minutes > MAX_DURATION_MINUTES {
                    return Err(Error::invalid("duration", "max must be 1 minute to 7 days"));
                }
                Ok(self)
            }
            TrackerKind::YesNo | TrackerKind::Count | TrackerKind::Text => Ok(self),
            TrackerKind::Sleep | TrackerKind::Medication | TrackerKind::Questionnaire { .. } => {
                Err(Error::invalid(
                    "kind",
                    "sleep, medication and questionnaires are built-in kinds only",
                ))
            }
        }
    }
}

/// Parses `7h30m`, `7h`, `45m`, `1.5h`, `450` (minutes) or `7:30`.
pub fn parse_minutes(s: &str) -> Result<u32> {
    let bad = || Error::invalid("value", "expected a duration such as 7h30m, 45m or 1.5h");
    let s = s.trim().to_ascii_lowercase();
    let minutes: f64 = if let Some((h, m)) = s.split_once(':') {
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        if m >= 60 {
            return Err(bad());
        }
        h as f64 * 60.0 + m as f64
    } else if let Some((h, rest)) = s.split_once('h') {
        let h: f64 = h.parse().map_err(|_| bad())?;
        let m: f64 = match rest.strip_suffix('m').unwrap_or(rest) {
            "" => 0.0,
            m => m.parse().map_err(|_| bad())?,
        };
        h * 60.0 + m
    } else {
        s.strip_suffix('m')
            .unwrap_or(&s)
            .parse()
            .map_err(|_| bad())?
    };
    if !minutes.is_finite() || !(0.0..=(u32::MAX / 2) as f64).contains(&minutes) {
        return Err(bad());
    }
    Ok(minutes.round() as u32)
}

// --- encoding --------------------------------------------------------------

pub(crate) const TRACKER_SCHEMA: u8 = 1;

fn encode_kind(w: &mut Writer, k: &TrackerKind) {
    match k {
        TrackerKind::Scale {
            min,
            max,
            step,
            min_label,
            max_label,
        } => {
            w.u8(1);
            w.f64(*min);
            w.f64(*max);
            w.f64(*step);
            w.str(min_label);
            w.str(max_label);
        }
        TrackerKind::YesNo => w.u8(2),
        TrackerKind::Duration { max_minutes } => {
            w.u8(3);
            w.uvar(*max_minutes as u64);
        }
        TrackerKind::Count => w.u8(4),
        TrackerKind::Text => w.u8(5),
        TrackerKind::Sleep => w.u8(6),
        TrackerKind::Medication => w.u8(7),
        TrackerKind::Questionnaire { questionnaire } => {
            w.u8(8);
            w.str(questionnaire);
        }
    }
}

fn decode_kind(r: &mut Reader<'_>) -> Result<TrackerKind, DecodeError> {
    Ok(match r.u8()? {
        1 => TrackerKind::Scale {
            min: r.f64()?,
            max: r.f64()?,
            step: r.f64()?,
            min_label: r.str()?,
            max_label: r.str()?,
        },
        2 => TrackerKind::YesNo,
        3 => TrackerKind::Duration {
            max_minutes: r.u32var()?,
        },
        4 => TrackerKind::Count,
        5 => TrackerKind::Text,
        6 => TrackerKind::Sleep,
        7 => TrackerKind::Medication,
        8 => TrackerKind::Questionnaire {
            questionnaire: r.str()?,
        },
        _ => return Err(DecodeError),
    })
}

pub(crate) fn encode_tracker(t: &Tracker) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    w.str(&t.name);
    encode_kind(&mut w, &t.kind);
    w.finish()
}

pub(crate) fn decode_tracker(id: &str, body: &[u8]) -> Result<Tracker, DecodeError> {
    let mut r = Reader::new(body);
    let name = r.str()?;
    let kind = decode_kind(&mut r)?;
    r.end()?;
    Ok(Tracker {
        id: id.to_owned(),
        name,
        kind,
        builtin: false,
    })
}

/// A custom tracker to define.
#[derive(Clone)]
pub struct NewTracker {
    /// Name shown to the patient (sealed).
    pub name: String,
    /// Kind of value (not sleep or medication, which are built-in only).
    pub kind: TrackerKind,
}

pub(crate) fn load_custom(conn: &Connection, sealer: &Sealer) -> Result<Vec<Tracker>> {
    // A damaged tracker definition is skipped here (its entries still list
    // with their tracker id) and reported by `Store::tracker`.
    let (rows, _damaged) = load_rows(conn, sealer, "trackers", "1", [])?;
    Ok(rows.into_iter().filter_map(decode_row).collect())
}

fn decode_row(row: OpenedRow) -> Option<Tracker> {
    if row.schema != TRACKER_SCHEMA {
        return None;
    }
    decode_tracker(&row.id, &row.plain).ok()
}

pub(crate) fn find<'a>(custom: &'a [Tracker], key: &str) -> Option<Tracker> {
    let key = key.trim();
    BUILTIN_TRACKERS
        .iter()
        .find(|b| b.id.eq_ignore_ascii_case(key) || b.name.eq_ignore_ascii_case(key))
        .map(BuiltinTracker::tracker)
        .or_else(|| {
            let lower = key.to_lowercase();
            custom
                .iter()
                .find(|t: &&'a Tracker| t.id == key || t.name.to_lowercase() == lower)
                .cloned()
        })
}

impl Store {
    /// All trackers: the built-in ones first, then custom ones in the order
    /// they were defined.
    pub fn trackers(&self) -> Result<Vec<Tracker>> {
        self.read(|inner| {
            let custom = cached(inner)?;
            Ok(BUILTIN_TRACKERS
                .iter()
                .map(BuiltinTracker::tracker)
                .chain(custom.iter().cloned())
                .collect())
        })
    }

    /// Finds a tracker by id or by name (case-insensitive).
    pub fn tracker(&self, id_or_name: &str) -> Result<Tracker> {
        self.read(|inner| {
            if let Some(t) = find(cached(inner)?, id_or_name) {
                return Ok(t);
            }
            // Tell a damaged definition (or a tombstone flag set without
            // the key) apart from an unknown name.
            match load_row(&inner.conn, &inner.sealer, "trackers", id_or_name) {
                Err(Error::NotFound { .. }) => Err(Error::UnknownTracker),
                Err(e) => Err(e),
                Ok(_) => Err(Error::corrupted("trackers", id_or_name)),
            }
        })
    }

    /// Defines a custom tracker. Names are unique (case-insensitive) across
    /// built-in and custom trackers.
    pub fn add_tracker(&self, new: NewTracker) -> Result<Tracker> {
        let name = check_label("tracker name", &new.name)?;
        let kind = new.kind.check_definition()?;
        let id = crate::crypto::random_id()?;
        let tracker = Tracker {
            id: id.clone(),
            name,
            kind,
            builtin: false,
        };
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            let custom = ctx.custom_trackers(tx, sealer)?;
            if find(custom, &tracker.name).is_some() {
                return Err(Error::DuplicateTracker);
            }
            let at = Binding::live("trackers", &id, 1);
            let body = sealer.seal(at, TRACKER_SCHEMA, &encode_tracker(&tracker))?;
            tx.prepare_cached(
                "INSERT INTO trackers(id, revision, deleted, body) VALUES (?1, 1, 0, ?2)",
            )?
            .execute(params![id, body])?;
            outbox(tx, sealer, now, "trackers", &id, 1, false)?;
            custom.push(tracker.clone());
            Ok(())
        })?;
        Ok(tracker)
    }

    /// Deletes a custom tracker (a tombstone stays for sync). Entries made
    /// on it are kept.
    pub fn delete_tracker(&self, id: &str) -> Result<()> {
        if BUILTIN_TRACKERS.iter().any(|b| b.id == id) {
            return Err(Error::invalid(
                "tracker",
                "built-in trackers cannot be deleted",
            ));
        }
        crate::crypto::check_id(id)?;
        self.write(|tx, sealer, ctx| {
            tombstone(tx, sealer, ctx.clock.now_ms(), "trackers", id)?;
            *ctx.trackers = None;
            Ok(())
        })
    }
}

fn cached(inner: &mut Inner) -> Result<&[Tracker]> {
    if inner.trackers.is_none() {
        inner.trackers = Some(load_custom(&inner.conn, &inner.sealer)?);
    }
    Ok(inner.trackers.as_deref().expect("just loaded"))
}
