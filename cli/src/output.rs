//! What the CLI prints: entries as text or JSON, trackers, usage errors.

use cairn_core::{Entry, Tracker, TrackerKind, Value};
use chrono::SecondsFormat;
use serde_json::{Value as Json, json};
use std::process::ExitCode;

fn tracker_name<'a>(trackers: &'a [Tracker], id: &'a str) -> &'a str {
    trackers
        .iter()
        .find(|t| t.id == id)
        .map_or("(deleted tracker)", |t| t.name.as_str())
}

/// The value as JSON: a number for scales and counts, a boolean for yes/no,
/// minutes for durations, a string for text, objects for sleep and medication.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Scale(x) => json!(x),
        Value::YesNo(b) => json!(b),
        Value::Duration { minutes } => json!(minutes),
        Value::Count(n) => json!(n),
        Value::Text(t) => json!(t),
        Value::Sleep { minutes, quality } => json!({ "minutes": minutes, "quality": quality }),
        Value::Medication { name, taken } => json!({ "name": name, "taken": taken }),
        Value::Answers { version, answers } => json!({ "version": version, "answers": answers }),
    }
}

pub fn minutes_text(m: u32) -> String {
    format!("{}h{:02}m", m / 60, m % 60)
}

pub fn value_text(v: &Value) -> String {
    match v {
        Value::Scale(x) => format!("{x}"),
        Value::YesNo(b) => (if *b { "yes" } else { "no" }).into(),
        Value::Duration { minutes } => minutes_text(*minutes),
        Value::Count(n) => n.to_string(),
        Value::Text(t) => t.replace('\n', " "),
        Value::Sleep {
            minutes,
            quality: Some(q),
        } => format!("{} (quality {q})", minutes_text(*minutes)),
        Value::Sleep {
            minutes,
            quality: None,
        } => minutes_text(*minutes),
        Value::Medication { name, taken: true } => format!("{name} (taken)"),
        Value::Medication { name, taken: false } => format!("{name} (skipped)"),
        Value::Answers { .. } => crate::outcomes::answers_text(v).unwrap_or_default(),
    }
}

/// One entry as JSON (as `cairn entries --json` prints it).
pub fn entry_value(e: &Entry, trackers: &[Tracker]) -> Json {
    entry_json(e, trackers)
}

fn entry_json(e: &Entry, trackers: &[Tracker]) -> Json {
    json!({
        "id": e.id,
        "tracker": e.tracker,
        "tracker_name": tracker_name(trackers, &e.tracker),
        "value": value_json(&e.value),
        "note": e.note,
        "tags": e.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "at": e.at().to_rfc3339_opts(SecondsFormat::Millis, true),
        "local_time": e.local_time().to_rfc3339_opts(SecondsFormat::Secs, false),
        "local_date": e.local_date().to_string(),
        "zone": e.zone,
        "revision": e.revision,
    })
}

pub fn entries_json(entries: &[Entry], trackers: &[Tracker]) {
    let all: Vec<Json> = entries.iter().map(|e| entry_json(e, trackers)).collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&all).expect("JSON values serialise")
    );
}

pub fn entry_json_line(e: &Entry, trackers: &[Tracker]) {
    println!("{}", entry_json(e, trackers));
}

pub fn entries_text(entries: &[Entry], trackers: &[Tracker]) {
    for e in entries {
        let mut line = format!(
            "{}  {}  {:<12}  {}",
            e.id,
            e.local_time().format("%Y-%m-%d %H:%M %:z"),
            tracker_name(trackers, &e.tracker),
            value_text(&e.value)
        );
        if !e.tags.is_empty() {
            line.push_str(&format!(
                "  [{}]",
                e.tags
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(n) = &e.note {
            line.push_str("  ");
            line.push_str(&n.replace('\n', " "));
        }
        println!("{line}");
    }
}

pub fn kind_text(k: &TrackerKind) -> String {
    match k {
        TrackerKind::Scale { min, max, step, .. } if *step == 1.0 => format!("scale {min}..{max}"),
        TrackerKind::Scale { min, max, step, .. } => format!("scale {min}..{max} step {step}"),
        TrackerKind::YesNo => "yes/no".into(),
        TrackerKind::Duration { max_minutes } => {
            format!("duration up to {}", minutes_text(*max_minutes))
        }
        TrackerKind::Count => "count".into(),
        TrackerKind::Text => "text".into(),
        TrackerKind::Sleep => "sleep (duration, quality 0-10)".into(),
        TrackerKind::Medication => "medication (taken/skipped)".into(),
        TrackerKind::Questionnaire { .. } => "questionnaire (cairn checkin)".into(),
    }
}

pub fn trackers(ts: &[Tracker], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(ts).expect("trackers serialise")
        );
        return;
    }
    for t in ts {
        let origin = if t.builtin { "built-in" } else { "custom" };
        println!(
            "{:<32}  {:<16}  {:<8}  {}",
            t.id,
            t.name,
            origin,
            kind_text(&t.kind)
        );
    }
}

/// Prints a command-line usage error as one line, without echoing the
/// values typed (an unquoted note would otherwise be repeated back).
pub fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
        _ => {}
    }
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => format!(" {s}"),
        Some(ContextValue::Strings(v)) => format!(" {}", v.join(", ")),
        _ => String::new(),
    };
    let what = match e.kind() {
        ErrorKind::UnknownArgument => "unexpected argument (quote text that has spaces)".to_owned(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => format!("invalid value for{arg}"),
        ErrorKind::MissingRequiredArgument => format!("missing{arg}"),
        ErrorKind::InvalidSubcommand => "unknown command".to_owned(),
        ErrorKind::ArgumentConflict => format!("conflicting options{arg}"),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("wrong number of values for{arg}")
        }
        ErrorKind::NoEquals => format!("{arg} needs a value"),
        ErrorKind::MissingSubcommand => "missing command".to_owned(),
        _ => "bad usage".to_owned(),
    };
    eprintln!("cairn: {what} (see cairn --help)");
    ExitCode::from(2)
}
