//! Risk flags for human review (docs/outcomes.md, "Flags"). A flag is a
//! rule's finding with its reason stated, never a diagnosis: the rules are
//! data ([`FLAG_RULES`]), each with its source. Flags are sealed, sync to
//! the clinic (record kind 8, merged field by field) and carry a review
//! state the clinic sets: open, or acknowledged (when, and by whom).
//!
//! Questionnaire check-ins ([`Store::checkin`]) are here too: the answers
//! are a journal entry, and a positive PHQ-9 item 9 raises a flag in the
//! same transaction, every time, whatever the total.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction};
use serde::Serialize;

use crate::crypto::Sealer;
use crate::error::{Error, Result};
use crate::journal::{Entry, NewEntry};
use crate::questionnaires::{Questionnaire, Score};
use crate::store::{Store, load_row, load_rows, outbox, upsert_sealed};
use crate::trackers::Value;

/// Flag kinds ([`FLAG_RULES`] says when each is raised).
pub mod kind {
    /// PHQ-9 item 9 answered above "not at all".
    pub const ITEM9: &str = "item9_positive";
    /// The patient asked for help now.
    pub const HELP_NOW: &str = "help_now";
    /// Mood fell sharply against the patient's own baseline.
    pub const SHARP_FALL: &str = "sharp_fall";
    /// No check-in for the set number of days.
    pub const NO_CHECKINS: &str = "no_checkins";
}

/// A flag rule, reviewed as data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FlagRule {
    /// The flag kind it raises.
    pub kind: &'static str,
    /// What it is called in a review queue.
    pub title: &'static str,
    /// When it is raised, in words.
    pub rule: &'static str,
    /// Why.
    pub source: &'static str,
}

/// The rules. Thresholds are in [`SHARP_FALL`] and [`FlagSettings`].
pub const FLAG_RULES: &[FlagRule] = &[
    FlagRule {
        kind: kind::ITEM9,
        title: "PHQ-9 item 9 positive",
        rule: "every PHQ-9 whose item 9 is answered above \"not at all\", whatever the total",
        source: "Simon GE et al. 2013, Psychiatr Serv 64:1195 (risk rises with each answer \
                 level); never conditional on a two-item screen",
    },
    FlagRule {
        kind: kind::HELP_NOW,
        title: "Patient asked for help now",
        rule: "every time the patient presses \"I need help now\"",
        source: "clinic safety practice: the request itself is the signal",
    },
    FlagRule {
        kind: kind::SHARP_FALL,
        title: "Sharp fall in mood",
        rule: "mood over the last 3 days averages at least 3 points (of 10) below the \
               28 days before, with at least 7 days rated in those 28; not again while one \
               is open",
        source: "rule of the project, against the patient's own baseline (a 3-point change \
                 on a 0-10 rating is about twice the minimal important change reported for \
                 numeric rating scales)",
    },
    FlagRule {
        kind: kind::NO_CHECKINS,
        title: "No check-ins",
        rule: "no entry of any kind for the set number of days (7 unless set); not again \
               until the patient checks in",
        source: "rule of the project: silence can be a signal; the number of days is the \
                 clinic's to set",
    },
];

/// The sharp-fall rule's numbers: recent days, baseline days, the fall in
/// points, and the least number of baseline days rated.
pub const SHARP_FALL: (i64, i64, f64, usize) = (3, 28, 3.0, 7);

/// The rule for a kind.
pub fn rule(kind: &str) -> Option<&'static FlagRule> {
    FLAG_RULES.iter().find(|r| r.kind == kind)
}

/// A flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    /// Its id (32 hex characters).
    pub id: String,
    /// Its kind ([`kind`]); kinds from newer versions are kept as they are.
    pub kind: String,
    /// Why it was raised, in words, with the numbers (sealed).
    pub reason: String,
    /// When it was raised, ms since the epoch.
    pub raised_at_ms: i64,
    /// The record it was raised from (an entry's id), if any.
    pub source: Option<String>,
    /// When the clinic acknowledged it; `None` while open.
    pub acknowledged_at_ms: Option<i64>,
    /// Who acknowledged it, as the clinic wrote it.
    pub acknowledged_by: Option<String>,
}

impl Flag {
    /// `open` or `acknowledged`.
    pub fn state(&self) -> &'static str {
        if self.acknowledged_at_ms.is_some() {
            "acknowledged"
        } else {
            "open"
        }
    }

    /// When it was raised.
    pub fn raised_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.raised_at_ms).unwrap_or_default()
    }

    /// Checks a flag as every replica does before keeping it.
    pub fn checked(self) -> Result<Flag> {
        let bad = |what| Error::invalid("flag", what);
        if self.kind.is_empty()
            || self.kind.len() > 32
            || !self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(bad("its kind is not a lower-case word"));
        }
        if self.reason.len() > 1000 || self.reason.chars().any(char::is_control) {
            return Err(bad("its reason is too long or holds control characters"));
        }
        crate::bounds::ms("raised at", self.raised_at_ms)?;
        if let Some(a) = self.acknowledged_at_ms {
            crate::bounds::ms("acknowledged at", a)?;
        }
        if let Some(s) = &self.source {
            crate::crypto::check_id(s)?;
        }
        if let Some(b) = &self.acknowledged_by {
            crate::trackers::check_label("acknowledged by", b)?;
        }
        Ok(self)
    }
}

const SCHEMA: u8 = 1;

/// Writes a flag that arrived through sync (no outbox row).
pub(crate) fn put_synced(tx: &Transaction<'_>, sealer: &Sealer, f: &Flag) -> Result<i64> {
    let body = crate::sync::lww::flag_body(f);
    upsert_sealed(tx, sealer, "flags", &f.id, None, SCHEMA, &body)
}

/// Raises a flag in the caller's transaction.
pub(crate) fn raise(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    now_ms: i64,
    kind: &str,
    reason: String,
    source: Option<&str>,
) -> Result<Flag> {
    let f = Flag {
        id: crate::crypto::random_id()?,
        kind: kind.into(),
        reason,
        raised_at_ms: now_ms,
        source: source.map(str::to_owned),
        acknowledged_at_ms: None,
        acknowledged_by: None,
    }
    .checked()?;
    let body = crate::sync::lww::flag_body(&f);
    let rev = upsert_sealed(tx, sealer, "flags", &f.id, None, SCHEMA, &body)?;
    outbox(tx, sealer, now_ms, "flags", &f.id, rev, false)?;
    Ok(f)
}

/// Every flag, newest first (damaged rows are skipped).
fn read_all(conn: &Connection, sealer: &Sealer) -> Result<Vec<Flag>> {
    let (rows, _) = load_rows(conn, sealer, "flags", "deleted = 0", [])?;
    let mut v: Vec<Flag> = rows
        .into_iter()
        .filter_map(|r| crate::sync::lww::flag_from(&r.id, &r.plain).ok())
        .collect();
    v.sort_by(|a, b| b.raised_at_ms.cmp(&a.raised_at_ms).then(a.id.cmp(&b.id)));
    Ok(v)
}

/// Settings for the rules the clinic tunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlagSettings {
    /// Days without any entry before a `no_checkins` flag; 0 turns the
    /// rule off. Default 7.
    pub no_checkin_days: u32,
}

impl Default for FlagSettings {
    fn default() -> Self {
        FlagSettings { no_checkin_days: 7 }
    }
}

const SETTINGS_ID: &str = "flag_settings";

/// The clinic settings' record id (in `settings`, and on the wire).
pub const CLINIC_SETTINGS_ID: &str = "clinic_settings";

/// What the clinic tells the patient's devices through sync (record kind
/// 9): set with `cairn-clinic settings`, read-only on the device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ClinicSettings {
    /// The clinic's name, as the patient knows it.
    pub clinic_name: Option<String>,
    /// How soon the clinic reviews flags, as the patient reads it ("within
    /// 2 working days").
    pub review_within: Option<String>,
    /// Days without a check-in before a `no_checkins` flag (0: off); when
    /// set, it takes the place of the device's own setting.
    pub no_checkin_days: Option<u32>,
}

impl ClinicSettings {
    /// Checks the settings as every replica does.
    pub fn checked(self) -> Result<ClinicSettings> {
        let text = |field: &'static str, s: Option<String>| -> Result<Option<String>> {
            s.map(|s| {
                let t = s.trim();
                if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
                    return Err(Error::invalid(field, "must be 1 to 100 characters"));
                }
                Ok(t.to_owned())
            })
            .transpose()
        };
        if self.no_checkin_days.is_some_and(|d| d > 365) {
            return Err(Error::invalid("no check-in days", "at most 365"));
        }
        Ok(ClinicSettings {
            clinic_name: text("clinic name", self.clinic_name)?,
            review_within: text("review within", self.review_within)?,
            no_checkin_days: self.no_checkin_days,
        })
    }
}

/// Writes the clinic settings as they arrived through sync.
pub(crate) fn put_clinic_settings(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    c: &ClinicSettings,
) -> Result<i64> {
    let body = crate::sync::lww::clinic_settings_body(c);
    upsert_sealed(
        tx,
        sealer,
        "settings",
        CLINIC_SETTINGS_ID,
        None,
        SCHEMA,
        &body,
    )
}

fn read_clinic_settings(conn: &Connection, sealer: &Sealer) -> Result<ClinicSettings> {
    match load_row(conn, sealer, "settings", CLINIC_SETTINGS_ID) {
        Ok(row) => crate::sync::lww::clinic_settings_from(&row.plain)
            .map_err(|_| Error::corrupted("settings", CLINIC_SETTINGS_ID)),
        Err(Error::NotFound { .. }) => Ok(ClinicSettings::default()),
        Err(e) => Err(e),
    }
}

/// A questionnaire check-in as saved.
#[derive(Debug, Clone)]
pub struct CheckIn {
    /// The entry holding the answers.
    pub entry: Entry,
    /// The score.
    pub score: Score,
    /// Flags raised by this check-in.
    pub flags: Vec<Flag>,
}

fn item9_reason(q: &Questionnaire, answer: u8, total: Option<u8>) -> String {
    let text = q
        .risk_item
        .and_then(|i| q.items.get(usize::from(i).checked_sub(1)?))
        .and_then(|i| i.options.iter().find(|o| o.value == answer))
        .map_or("", |o| o.text);
    format!(
        "PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered \"{text}\" \
         ({answer} of 3){}.",
        total.map_or(String::new(), |t| format!("; total {t}"))
    )
}

impl Store {
    /// Saves a questionnaire's answers (one per item, `None` where
    /// unanswered; PHQ-9's difficulty item may be left off) as an entry of
    /// its tracker, scores them, and raises a flag for a positive PHQ-9
    /// item 9, all in one transaction.
    pub fn checkin(
        &self,
        questionnaire: &str,
        answers: Vec<Option<u8>>,
        at: DateTime<Utc>,
        zone: &str,
    ) -> Result<CheckIn> {
        let q = crate::questionnaires::questionnaire(questionnaire)?;
        let score = q.score(&answers)?;
        let new = NewEntry {
            tracker: q.id.into(),
            value: Value::Answers {
                version: q.version,
                answers,
            },
            note: None,
            tags: Vec::new(),
            at,
            zone: zone.into(),
        };
        let id = crate::crypto::random_id()?;
        self.write(|tx, sealer, ctx| {
            let entry = crate::journal::insert_entry(tx, sealer, ctx, &id, new)?;
            let mut flags = Vec::new();
            if let (Some(true), Some(a)) = (score.item9_positive, score.risk_answer) {
                flags.push(raise(
                    tx,
                    sealer,
                    ctx.clock.now_ms(),
                    kind::ITEM9,
                    item9_reason(q, a, score.total),
                    Some(&entry.id),
                )?);
            }
            Ok(CheckIn {
                entry,
                score: score.clone(),
                flags,
            })
        })
    }

    /// The patient pressed "I need help now": raises a flag for the
    /// clinic's review (every time) and returns it. The app shows the
    /// crisis resources at once; the flag is no substitute for them.
    pub fn help_now(&self) -> Result<Flag> {
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            raise(
                tx,
                sealer,
                now,
                kind::HELP_NOW,
                "The patient pressed \"I need help now\".".into(),
                None,
            )
        })
    }

    /// Every flag, newest first, with its review state.
    pub fn flags(&self) -> Result<Vec<Flag>> {
        self.read(|inner| read_all(&inner.conn, &inner.sealer))
    }

    /// What the clinic told this device (its name, how soon it reviews
    /// flags, the no-check-in days); empty before it said anything.
    pub fn clinic_settings(&self) -> Result<ClinicSettings> {
        self.read(|inner| read_clinic_settings(&inner.conn, &inner.sealer))
    }

    /// The flag rules' settings (the clinic's number of days when it set
    /// one, else this device's).
    pub fn flag_settings(&self) -> Result<FlagSettings> {
        self.read(|inner| read_settings(&inner.conn, &inner.sealer))
    }

    /// Sets the flag rules' settings (kept on this device).
    pub fn set_flag_settings(&self, s: FlagSettings) -> Result<()> {
        if s.no_checkin_days > 365 {
            return Err(Error::invalid("no check-in days", "at most 365"));
        }
        self.write(|tx, sealer, _| {
            let mut w = crate::codec::Writer::with_capacity(4);
            w.uvar(u64::from(s.no_checkin_days));
            upsert_sealed(
                tx,
                sealer,
                "settings",
                SETTINGS_ID,
                None,
                SCHEMA,
                &w.finish(),
            )?;
            Ok(())
        })
    }

    /// Evaluates the rules that depend on time passing (no check-ins, a
    /// sharp fall in mood) and raises what they find; returns the new
    /// flags. Call it when the app starts and from the background sync.
    pub fn check_flags(&self) -> Result<Vec<Flag>> {
        // Only what the rules read: the newest entry, and the mood ratings
        // of the sharp-fall window (a day more each side for zones ahead of
        // or behind UTC), not the whole journal at every sync.
        use crate::journal::EntryQuery;
        let newest = self.entries(&EntryQuery {
            newest_first: true,
            limit: Some(1),
            ..Default::default()
        })?;
        let today = self.read(|inner| Ok(inner.clock.now_ms()))? / 86_400_000;
        let (recent, base, _, _) = SHARP_FALL;
        let moods = self
            .entries(&EntryQuery {
                tracker: Some("mood".into()),
                from_day: Some(crate::journal::epoch_day(today - recent - base - 1)),
                to_day: Some(crate::journal::epoch_day(today + 1)),
                ..Default::default()
            })?
            .entries;
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            let settings = read_settings(tx, sealer)?;
            let flags = read_all(tx, sealer)?;
            let mut out = Vec::new();
            let last = newest.entries.first().map(|e| e.at_ms);
            let day_ms = 86_400_000i64;
            if let Some(last) = last
                && settings.no_checkin_days > 0
            {
                let days = (now - last) / day_ms;
                let raised_since = flags
                    .iter()
                    .any(|f| f.kind == kind::NO_CHECKINS && f.raised_at_ms > last);
                if days >= i64::from(settings.no_checkin_days) && !raised_since {
                    out.push(raise(
                        tx,
                        sealer,
                        now,
                        kind::NO_CHECKINS,
                        format!(
                            "No check-in for {days} days (the rule's limit is {}).",
                            settings.no_checkin_days
                        ),
                        None,
                    )?);
                }
            }
            let open_fall = flags
                .iter()
                .any(|f| f.kind == kind::SHARP_FALL && f.acknowledged_at_ms.is_none());
            if !open_fall && let Some(reason) = sharp_fall(&moods, now) {
                out.push(raise(tx, sealer, now, kind::SHARP_FALL, reason, None)?);
            }
            Ok(out)
        })
    }
}

/// The sharp-fall rule over mood ratings: the reason, with its numbers,
/// when it holds at `now_ms`.
pub fn sharp_fall(entries: &[Entry], now_ms: i64) -> Option<String> {
    let (recent, base, fall, least) = SHARP_FALL;
    let today = DateTime::from_timestamp_millis(now_ms)?.date_naive();
    let mut days: std::collections::BTreeMap<chrono::NaiveDate, (f64, u32)> = Default::default();
    for e in entries.iter().filter(|e| &*e.tracker == "mood") {
        if let Value::Scale(x) = e.value {
            let d = days.entry(e.local_date()).or_default();
            d.0 += x;
            d.1 += 1;
        }
    }
    let mean = |from: i64, to: i64| -> (f64, usize) {
        let (mut s, mut n) = (0.0, 0);
        for (d, (sum, c)) in &days {
            let ago = (today - *d).num_days();
            if ago >= from && ago < to {
                s += sum / f64::from(*c);
                n += 1;
            }
        }
        (if n > 0 { s / n as f64 } else { f64::NAN }, n)
    };
    let (now_mean, n_recent) = mean(0, recent);
    let (base_mean, n_base) = mean(recent, recent + base);
    (n_recent > 0 && n_base >= least && base_mean - now_mean >= fall).then(|| {
        format!(
            "Mood averaged {now_mean:.1} over the last {n_recent} rated days, against \
             {base_mean:.1} over {n_base} days in the {base} before (a fall of {:.1} points).",
            base_mean - now_mean
        )
    })
}

fn read_settings(conn: &Connection, sealer: &Sealer) -> Result<FlagSettings> {
    if let Some(days) = read_clinic_settings(conn, sealer)?.no_checkin_days {
        return Ok(FlagSettings {
            no_checkin_days: days,
        });
    }
    match load_row(conn, sealer, "settings", SETTINGS_ID) {
        Ok(row) => {
            let mut r = crate::codec::Reader::new(&row.plain);
            let days = r
                .u32var()
                .map_err(|_| Error::corrupted("settings", SETTINGS_ID))?;
            Ok(FlagSettings {
                no_checkin_days: days,
            })
        }
        Err(Error::NotFound { .. }) => Ok(FlagSettings::default()),
        Err(e) => Err(e),
    }
}
