//! `cairn checkin`, `cairn flags` and `cairn help-now`: questionnaires and
//! risk flags for the clinic's review.

use cairn_core::flags::{Flag, rule};
use cairn_core::questionnaires::{parse_answers, questionnaire};
use cairn_core::{Store, Value};
use chrono::{SecondsFormat, Utc};
use clap::Args;
use serde_json::{Value as Json, json};

use crate::{Failure, default_zone, parse_instant};

/// Answer a standard questionnaire.
#[derive(Args)]
#[command(
    after_help = "QUESTIONNAIRES:\n  phq9 (9 items, then the difficulty item, optional), phq2, gad7, gad2.\n  Each answer is 0 (not at all), 1 (several days), 2 (more than half the\n  days) or 3 (nearly every day); - leaves an item unanswered. Scoring,\n  bands and the missing-answer rule: docs/outcomes.md.\n\nA PHQ-9 whose item 9 is above 0 is flagged for your care team's review,\nevery time. They do not watch around the clock: in a crisis, see\n`cairn crisis`."
)]
pub struct CheckinArgs {
    /// phq9, phq2, gad7 or gad2
    pub questionnaire: String,
    /// The answers in item order, comma-separated (0,1,2,...)
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub answers: String,
    /// When (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// IANA time zone [default: TZ, then the system's zone]
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Print JSON: {id, questionnaire, version, total, band, prorated,
    /// answered, missing, positive_screen, item9_positive (PHQ-9), flags}
    #[arg(long)]
    pub json: bool,
}

pub fn checkin(store: &Store, a: &CheckinArgs) -> Result<(), Failure> {
    let q = questionnaire(&a.questionnaire)?;
    let answers = parse_answers(&a.answers)?;
    let c = store.checkin(
        q.id,
        answers,
        parse_instant(a.at.as_deref(), "--at")?.unwrap_or_else(Utc::now),
        &a.tz.clone().unwrap_or_else(default_zone),
    )?;
    let s = &c.score;
    if a.json {
        let mut v = json!({
            "id": c.entry.id,
            "questionnaire": s.questionnaire,
            "version": s.version,
            "total": s.total,
            "band": s.band,
            "prorated": s.prorated,
            "answered": s.answered,
            "missing": s.missing,
            "positive_screen": s.positive_screen,
            "flags": c.flags.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(),
            "flag_ids": c.flags.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        });
        if q.risk_item.is_some() {
            v["item9_positive"] = json!(s.item9_positive);
        }
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
        return Ok(());
    }
    println!("{}", c.entry.id);
    match (s.total, s.band) {
        (Some(t), Some(b)) => println!(
            "{}: {t} of {} ({b}){}",
            q.name,
            q.max_total(),
            if s.prorated {
                format!(", prorated from {} answered items", s.answered)
            } else {
                String::new()
            }
        ),
        _ => println!(
            "{}: incomplete ({} items unanswered), not scored",
            q.name, s.missing
        ),
    }
    if !c.flags.is_empty() {
        println!(
            "Your answer to item 9 is flagged for your care team to review. They do not \
             watch around the clock: if you might act on these thoughts, get help now."
        );
        println!("{}", crisis_now(None)?);
    }
    Ok(())
}

fn ms_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn flag_json(f: &Flag) -> Json {
    json!({
        "id": f.id,
        "kind": f.kind,
        "title": rule(&f.kind).map(|r| r.title),
        "reason": f.reason,
        "state": f.state(),
        "raised_at": ms_text(f.raised_at_ms),
        "acknowledged_at": f.acknowledged_at_ms.map(ms_text),
        "acknowledged_by": f.acknowledged_by,
        "source": f.source,
    })
}

pub fn flags(store: &Store, json: bool) -> Result<(), Failure> {
    store.check_flags()?;
    let all = store.flags()?;
    if json {
        let v: Vec<Json> = all.iter().map(flag_json).collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
        return Ok(());
    }
    if all.is_empty() {
        println!("no flags");
    }
    for f in &all {
        let state = match (f.acknowledged_at_ms, &f.acknowledged_by) {
            (Some(at), Some(by)) => format!("acknowledged by {by} on {}", ms_text(at)),
            (Some(at), None) => format!("acknowledged by the clinic on {}", ms_text(at)),
            _ => "open: not yet reviewed by the clinic".into(),
        };
        println!(
            "{}  {}  {}\n    {}\n    {state}",
            f.id,
            ms_text(f.raised_at_ms),
            rule(&f.kind).map_or(f.kind.as_str(), |r| r.title),
            f.reason
        );
    }
    Ok(())
}

/// What to do now, for the patient's country: the emergency number and
/// the crisis lines (offline).
fn crisis_now(country: Option<&str>) -> Result<String, Failure> {
    let r = cairn_core::crisis_resources(crate::crisis::country(country)?.as_deref())?;
    let mut out = r.emergency_advice();
    for l in r.lines {
        out.push_str(&format!("\n  {}: {} ({})", l.name, l.how, l.hours));
    }
    Ok(out)
}

pub fn help_now(store: &Store, country: Option<&str>) -> Result<(), Failure> {
    let f = store.help_now()?;
    println!("{}", f.id);
    println!(
        "Your care team will see this request the next time this device syncs and they \
         review flags. This app is not monitored around the clock: if you are in danger \
         now, do not wait for them."
    );
    println!("{}", crisis_now(country)?);
    Ok(())
}

/// The text shown for answers in listings.
pub fn answers_text(v: &Value) -> Option<String> {
    let Value::Answers { answers, .. } = v else {
        return None;
    };
    Some(
        answers
            .iter()
            .map(|a| a.map_or("-".into(), |a| a.to_string()))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `cairn treatment ...`.
#[derive(clap::Subcommand)]
pub enum TreatmentCommand {
    /// Record a treatment session (an infusion); prints its id. Reminders
    /// that follow sessions plan from it
    Add {
        /// The session's kind: a word such as infusion
        #[arg(default_value = "infusion")]
        kind: String,
        /// When (RFC 3339) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// IANA time zone [default: TZ, then the system's zone]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Also plan the post-session routine (water, an early night,
        /// journaling, check-ins) after every session of this kind
        #[arg(long)]
        routine: bool,
    },
    /// The course: sessions, scores against the baseline before the first,
    /// ratings around each session, and how long a response has held
    List {
        /// Only sessions of this kind
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn treatment(store: &Store, c: &TreatmentCommand) -> Result<(), Failure> {
    match c {
        TreatmentCommand::Add {
            kind,
            at,
            tz,
            routine,
        } => {
            let at = parse_instant(at.as_deref(), "--at")?.unwrap_or_else(Utc::now);
            let e = store.record_event(kind, at, &tz.clone().unwrap_or_else(default_zone))?;
            println!("{}", e.id);
            if *routine {
                let n = store.add_post_session_routine(&e.kind, at.date_naive())?;
                println!("post-session routine: {n} reminder(s) added");
            }
            Ok(())
        }
        TreatmentCommand::List { kind, json } => {
            let c = store.course(kind.as_deref())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&c).expect("JSON"));
                return Ok(());
            }
            print!("{}", course_text(&c));
            Ok(())
        }
    }
}

pub fn course_text(c: &cairn_core::treatment::Course) -> String {
    let mut out = String::new();
    if c.sessions.is_empty() {
        out.push_str("no sessions recorded\n");
    }
    for s in &c.sessions {
        out.push_str(&format!(
            "session {}  {}  {}  {}\n",
            s.number, s.day, s.kind, s.id
        ));
    }
    for ch in &c.changes {
        out.push_str(&change_text(ch));
    }
    for a in c.around_sessions.iter().filter(|a| a.tracker == "mood") {
        let f = |x: Option<(f64, u32)>| {
            x.map_or("not rated".into(), |(m, n)| {
                format!("{m:.1} ({n} day{})", if n == 1 { "" } else { "s" })
            })
        };
        out.push_str(&format!(
            "session {}: mood the week before {}, the week after {}\n",
            a.session,
            f(a.before),
            f(a.after)
        ));
    }
    if let Some(h) = &c.response_held {
        out.push_str(&format!(
            "since the last session: the PHQ-9 response held {} days{}\n",
            h.days,
            if h.holding {
                " and still holds"
            } else {
                "; the latest score is not a response"
            }
        ));
    }
    out
}

/// `cairn coping ...`.
#[derive(clap::Subcommand)]
pub enum CopingCommand {
    /// Show the coping plan
    Show,
    /// Replace the steps to try when things get hard (in order)
    Steps {
        /// The steps
        #[arg(required = true)]
        steps: Vec<String>,
    },
    /// Add an if-then plan: "if SITUATION, then ACTION"
    AddIfThen {
        /// The situation
        #[arg(long = "if", value_name = "SITUATION")]
        situation: String,
        /// What you will do
        #[arg(long = "then", value_name = "ACTION")]
        action: String,
    },
    /// Remove if-then plan number N (as `show` numbers them)
    RemoveIfThen {
        /// Its number
        n: usize,
    },
}

pub fn coping(store: &Store, c: &Option<CopingCommand>, json: bool) -> Result<(), Failure> {
    let mut plan = store.coping_plan()?;
    match c {
        None | Some(CopingCommand::Show) => {}
        Some(CopingCommand::Steps { steps }) => plan.steps = steps.clone(),
        Some(CopingCommand::AddIfThen { situation, action }) => {
            plan.if_then.push(cairn_core::support::IfThen {
                situation: situation.clone(),
                action: action.clone(),
            })
        }
        Some(CopingCommand::RemoveIfThen { n }) => {
            if *n == 0 || *n > plan.if_then.len() {
                return Err(Failure::usage(format!(
                    "no if-then plan number {n} (there are {})",
                    plan.if_then.len()
                )));
            }
            plan.if_then.remove(n - 1);
        }
    }
    if !matches!(c, None | Some(CopingCommand::Show)) {
        plan = store.set_coping_plan(plan)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&plan).expect("JSON"));
        return Ok(());
    }
    println!("Steps to try when things get hard:");
    if plan.steps.is_empty() {
        println!("   (none yet)");
    }
    for (i, s) in plan.steps.iter().enumerate() {
        println!("   {}. {s}", i + 1);
    }
    println!("If-then plans:");
    if plan.if_then.is_empty() {
        println!("   (none yet)");
    }
    for (i, p) in plan.if_then.iter().enumerate() {
        println!("   {}. If {}, then {}", i + 1, p.situation, p.action);
    }
    Ok(())
}

pub fn prompts(when: Option<&str>, json: bool) -> Result<(), Failure> {
    let list = cairn_core::support::prompts(when)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list).expect("JSON"));
    } else {
        for p in list {
            println!("[{}] {}", p.when, p.text);
        }
    }
    Ok(())
}

pub fn show_skill(skill: &str) -> Result<(), Failure> {
    let s = cairn_core::support::skill(skill)?;
    println!("{}", s.name);
    for (i, step) in s.steps.iter().enumerate() {
        println!("   {}. {step}", i + 1);
    }
    println!("(log it with --minutes N; source: {})", s.source);
    Ok(())
}

pub fn practice(
    store: &Store,
    skill: &str,
    minutes: u32,
    at: Option<&str>,
    tz: Option<&str>,
) -> Result<(), Failure> {
    let s = cairn_core::support::skill(skill)?;
    let e = store.log_practice(
        s.id,
        minutes,
        parse_instant(at, "--at")?.unwrap_or_else(Utc::now),
        &tz.map_or_else(default_zone, str::to_owned),
    )?;
    println!("{}", e.id);
    Ok(())
}

/// One line of change against baseline.
pub fn change_text(ch: &cairn_core::treatment::Change) -> String {
    let mut out = format!(
        "{}: baseline {} on {}",
        ch.name, ch.baseline.total, ch.baseline.day
    );
    match &ch.latest {
        Some(l) => {
            out.push_str(&format!(", latest {} on {}", l.total, l.day));
            if let Some(r) = ch.response {
                out.push_str(if r { "; response" } else { "; not a response" });
            }
            if ch.remission == Some(true) {
                out.push_str("; remission");
            }
            if let Some(t) = &ch.change_text {
                out.push_str(&format!("; {t}"));
            }
        }
        None => out.push_str(", no later score yet"),
    }
    out.push('\n');
    out
}
