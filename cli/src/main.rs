//! `cairn`: the desktop shell over Cairn's core.
//!
//! Contract for scripts: ids and JSON go to stdout; errors are one line on
//! stderr with a non-zero exit code (see `EXIT CODES` in `--help`), never a
//! panic or backtrace, never the patient's text.

mod crisis;
mod demo;
mod demo_clinic;
mod export;
mod insights;
mod keys;
mod outcomes;
mod output;
mod reminders;
mod report;
mod sync;

use cairn_core::{
    EntryQuery, Error, NewEntry, NewTracker, Store, StoreOptions, Tag, TrackerKind, Value,
};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
KEYS:
  A store is sealed with a 32-byte key. Give it as --key-file FILE (32 raw
  bytes or 64 hex characters), as CAIRN_KEY (64 hex characters), or use
  --passphrase to type a passphrase (read from standard input when it is not
  a terminal). On a phone the key comes from the Keystore or Keychain.

TIME ZONES:
  Zones are IANA names (Europe/Paris), read from the system's tz database
  (TZDIR, else /usr/share/zoneinfo). Without --tz, log uses TZ, then the
  system's zone, then UTC.

EXIT CODES:
  0 ok; 1 error; 2 bad usage or input; 3 wrong key; 4 corrupted data;
  5 not found; 70 internal error; 141 the output's reader went away (| head).";

const COUNTRY_HELP: &str = "\
COUNTRY:
  --country, else CAIRN_COUNTRY, else the region of the locale (LC_ALL, then
  LANG: en_GB.UTF-8 gives GB), else none: then you are told to call the local
  emergency number. Codes are ISO 3166-1 alpha-2 in any case (UK is read as
  GB); a code that is not one is refused with exit code 2. The table works
  offline; each entry names its source and the day it was reviewed.";

/// Cairn: an encrypted, offline-first journal for mental-health care.
#[derive(Parser)]
#[command(name = "cairn", version, after_help = AFTER_HELP, disable_help_subcommand = true)]
struct Cli {
    /// Folder holding the store [env: CAIRN_DATA] [default: $XDG_DATA_HOME/cairn]
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// File holding the key: 32 raw bytes or 64 hex characters
    #[arg(long, global = true, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Prompt for a passphrase instead of a key
    #[arg(long, global = true)]
    passphrase: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new, empty store
    Init,
    /// Log an entry; prints its id once it is saved
    #[command(
        after_help = "VALUES:\n  scales and counts: a number (mood 0-10, appetite -2..2)\n  yes/no: yes or no\n  sleep and durations: 7h30m, 7.5h, 6:45 or 90m (sleep takes --quality 0-10)\n  medication: its name and dose (taken; --skipped for a missed dose)\n  journal and text: the text\n\nTRACKERS: mood anxiety sleep energy appetite irritability medication journal,\n  and custom ones by name (cairn trackers)"
    )]
    Log(LogArgs),
    /// List entries
    Entries(EntriesArgs),
    /// Show one entry
    Show {
        /// The entry's id
        id: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change an entry; only the options given change
    Edit(EditArgs),
    /// Delete an entry (a tombstone stays for sync)
    Delete {
        /// The entry's id
        id: String,
    },
    /// List or define trackers
    Trackers {
        #[command(subcommand)]
        command: Option<TrackersCommand>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Re-seal the store under a new key (crash-safe: one transaction)
    Rekey {
        /// File with the new key: 32 raw bytes or 64 hex characters
        #[arg(long, value_name = "FILE", required_unless_present = "new_passphrase")]
        new_key_file: Option<PathBuf>,
        /// Prompt for a new passphrase instead
        #[arg(long, conflicts_with = "new_key_file")]
        new_passphrase: bool,
    },
    /// Reminder rules and the plan of notifications for the OS
    Reminders {
        #[command(subcommand)]
        command: reminders::RemindersCommand,
    },
    /// Enroll with a clinic: read the code the clinic gave you, then sync
    #[command(
        after_help = "SHARING:\n  --share takes categories, comma-separated or repeated: ratings, notes,\n  journal, medication, questionnaires, flags, reminders. Without it: ratings,\n  medication, questionnaires, flags and reminders; notes and journal text stay\n  on this device until you turn them on (cairn sharing set notes on)."
    )]
    Enroll {
        /// The enrollment code (CAIRN1...)
        code: String,
        /// Categories to share (see SHARING)
        #[arg(long = "share", value_name = "CATEGORIES")]
        share: Vec<String>,
        /// Send to this server instead of the code's address
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// Send what is new to the clinic and receive what it has for you
    Sync {
        /// Send to this server instead of the enrolled address
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// Show what is shared with the clinic, or change it
    Sharing {
        #[command(subcommand)]
        command: Option<sync::SharingCommand>,
    },
    /// The log of syncs with the clinic (counts and receipts, no content)
    SyncLog {
        /// At most this many lines, newest first
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Versions of entries written elsewhere at the same time as yours
    Conflicts {
        #[command(subcommand)]
        command: Option<ConflictsCommand>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Leave the clinic: it revokes this device and receives nothing more
    Withdraw {
        /// The clinic cannot be reached: stop syncing on this device only
        #[arg(long)]
        offline: bool,
        /// Send to this server instead of the enrolled address
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// Answer a questionnaire (PHQ-9, PHQ-2, GAD-7, GAD-2); prints its id
    /// and score
    Checkin(outcomes::CheckinArgs),
    /// Treatment sessions (infusions) and the course: scores against the
    /// baseline, ratings around sessions, how long a response has held
    Treatment {
        #[command(subcommand)]
        command: outcomes::TreatmentCommand,
    },
    /// Your coping plan: steps to try when things get hard, and if-then
    /// plans (sealed, on this device)
    Coping {
        #[command(subcommand)]
        command: Option<outcomes::CopingCommand>,
        /// Print JSON: {steps, if_then: [{situation, action}]}
        #[arg(long, global = true)]
        json: bool,
    },
    /// Journaling prompts (offline library)
    Prompts {
        /// Only those for a moment: after_session, hard_day or evening
        /// (general ones included)
        #[arg(long, value_name = "WHEN")]
        when: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// A skill's steps (breathing, grounding), or log practice of it with
    /// --minutes (prints the entry's id)
    Practice {
        /// breathing or grounding
        skill: String,
        /// Minutes practised
        #[arg(long, value_name = "N")]
        minutes: Option<u32>,
        /// When (RFC 3339) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// IANA time zone [default: TZ, then the system's zone]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
    },
    /// Risk flags raised for your care team's review, and whether they
    /// have reviewed them
    Flags {
        /// Print JSON: an array of {id, kind, title, reason, state, raised_at,
        /// acknowledged_at, acknowledged_by, source}
        #[arg(long)]
        json: bool,
    },
    /// Ask your care team for help: raises a flag for their review (this
    /// app is not monitored around the clock: in danger, call emergency
    /// services)
    #[command(after_help = COUNTRY_HELP)]
    HelpNow {
        /// Two-letter ISO 3166-1 country code, for the crisis lines shown
        #[arg(long, value_name = "CC", env = "CAIRN_COUNTRY", hide_env_values = true)]
        country: Option<String>,
    },
    /// Your safety plan: show it, or replace one part (shared with the
    /// clinic when you share safety_plan; the clinic can edit it too)
    SafetyPlan {
        #[command(subcommand)]
        command: Option<SafetyPlanCommand>,
        /// Print JSON
        #[arg(long, global = true)]
        json: bool,
    },
    /// Crisis lines and the emergency number for your country (offline)
    #[command(after_help = COUNTRY_HELP)]
    Crisis {
        /// Two-letter ISO 3166-1 country code (US, GB, ...; see COUNTRY)
        #[arg(long, value_name = "CC", env = "CAIRN_COUNTRY", hide_env_values = true)]
        country: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Who sees what you share, how soon your clinic reviews flags, and
    /// what to do in a crisis (this app is not monitored around the clock)
    #[command(after_help = COUNTRY_HELP)]
    Monitoring {
        /// Two-letter ISO 3166-1 country code, for the crisis part (see COUNTRY)
        #[arg(long, value_name = "CC", env = "CAIRN_COUNTRY", hide_env_values = true)]
        country: Option<String>,
        /// The clinic's name [default: the server of the clinic you enrolled with]
        #[arg(long, value_name = "NAME")]
        clinic: Option<String>,
        /// How soon the clinic reviews flags, as it told you ("2 working days");
        /// without it the statement says the clinic has not said
        #[arg(long, value_name = "TIME")]
        review_within: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Write everything on this device to a file (JSON: everything; CSV: entries;
    /// FHIR: questionnaires and tracker values as an R4 transaction Bundle, without
    /// journal text, notes or medication; see docs/fhir.md)
    Export {
        /// json, csv or fhir
        #[arg(value_parser = ["json", "csv", "fhir"])]
        format: String,
        /// The file to write (created with owner-only permissions)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// fhir: from this local day (YYYY-MM-DD) or instant (RFC 3339), inclusive
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// fhir: to this local day (inclusive) or instant (exclusive)
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// fhir: the subject, a FHIR reference such as Patient/123 [default:
        /// Patient/ID with the ID your clinic gave, when enrolled, else none]
        #[arg(long, value_name = "REF")]
        patient: Option<String>,
    },
    /// Delete everything on this device: withdraws from the clinic first
    Wipe {
        /// Do it (there is no undo)
        #[arg(long)]
        yes: bool,
        /// Do not try to tell the clinic (it cannot be reached)
        #[arg(long)]
        offline: bool,
    },
    /// Per tracker over local days: days, weeks, months, trend, streaks and
    /// check-in adherence
    Summary(insights::PeriodArgs),
    /// What goes with what in your entries (sleep, tags, other trackers
    /// against mood, anxiety...), claimed only when the data support it
    Patterns(insights::PeriodArgs),
    /// The period's outcomes for an appointment: one HTML page with charts
    /// (mood, questionnaires, treatment sessions, adherence, flags) and
    /// the same as JSON
    Report(report::ReportArgs),
    /// Simulate a patient's days in a fresh store and summarise them
    Demo {
        /// Days to simulate
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Seed for the simulation (same seed, same patient)
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum ConflictsCommand {
    /// Keep one version of an entry: the one shown now, or with --keep the
    /// version from that device (it comes back if the entry was deleted);
    /// the others are dropped on every device at the next sync
    Resolve {
        /// The entry's id
        entry_id: String,
        /// The device id of the version to keep (see `cairn conflicts`)
        #[arg(long, value_name = "DEVICE")]
        keep: Option<String>,
    },
}

#[derive(Subcommand)]
enum SafetyPlanCommand {
    /// Show the plan (the default)
    Show,
    /// Replace one part with ITEMS (none: clear it)
    Set {
        /// warning-signs, coping, distractions, people, professionals,
        /// environment or reasons
        part: String,
        /// The part's items, in order (after `--`, items may start with -)
        items: Vec<String>,
    },
}

#[derive(Args)]
struct LogArgs {
    /// Tracker id or name
    tracker: String,
    /// The value (see VALUES)
    value: String,
    /// A note
    #[arg(long)]
    note: Option<String>,
    /// A tag: trigger:LABEL, activity:LABEL or LABEL (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// When it happened (RFC 3339) [default: now]
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// IANA zone the patient was in [default: TZ, the system zone, UTC]
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Sleep quality, 0-10
    #[arg(long)]
    quality: Option<u8>,
    /// Medication: the dose was skipped
    #[arg(long)]
    skipped: bool,
}

#[derive(Args)]
struct EditArgs {
    /// The entry's id
    id: String,
    /// New value
    #[arg(long)]
    value: Option<String>,
    /// New note ("" removes it)
    #[arg(long)]
    note: Option<String>,
    /// Replace the tags (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// New time (RFC 3339)
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// New zone
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
}

#[derive(Args)]
struct EntriesArgs {
    /// From this local day (YYYY-MM-DD) or instant (RFC 3339), inclusive
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// To this local day (inclusive) or instant (exclusive)
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Only this tracker
    #[arg(long)]
    tracker: Option<String>,
    /// At most this many
    #[arg(long)]
    limit: Option<u32>,
    /// Newest first
    #[arg(long)]
    newest_first: bool,
    /// Print JSON (an array of entries)
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum TrackersCommand {
    /// Define a custom tracker
    Add {
        /// Its name (sealed)
        name: String,
        /// Kind of value
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Scale: lowest value
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        min: f64,
        /// Scale: highest value
        #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
        max: f64,
        /// Scale: step
        #[arg(long, default_value_t = 1.0)]
        step: f64,
        /// Scale: what the lowest value means
        #[arg(long, default_value = "")]
        min_label: String,
        /// Scale: what the highest value means
        #[arg(long, default_value = "")]
        max_label: String,
        /// Duration: longest accepted, in minutes
        #[arg(long, default_value_t = 24 * 60)]
        max_minutes: u32,
    },
    /// Delete a custom tracker (its entries are kept)
    Delete {
        /// Its id or name
        tracker: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Scale,
    Yesno,
    Duration,
    Count,
    Text,
}

/// An error for the user: one line, an exit code.
pub struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::InvalidKeyLength { .. }
            | Error::InvalidInput { .. }
            | Error::UnknownTracker
            | Error::DuplicateTracker
            | Error::UnknownZone
            | Error::NotPassphraseProtected => 2,
            Error::WrongKey => 3,
            Error::Corrupted { .. } | Error::NotAStore => 4,
            Error::NotFound { .. } | Error::StoreNotFound => 5,
            Error::NotEnrolled | Error::AlreadyEnrolled => 2,
            _ => 1,
        };
        let hint = match &e {
            Error::StoreNotFound => " (run `cairn init` first, or check --data)",
            Error::WrongKey => " (check --key-file, CAIRN_KEY or the passphrase)",
            Error::NotPassphraseProtected => " (open it with --key-file or CAIRN_KEY)",
            Error::UnknownTracker => " (see `cairn trackers`)",
            Error::NotEnrolled => " (run `cairn enroll CODE` with the code from your clinic)",
            Error::AlreadyEnrolled => " (see `cairn sharing`)",
            Error::EnrollmentUsed | Error::EnrollmentExpired | Error::EnrollmentRevoked => {
                " (ask your clinic for a new code)"
            }
            _ => "",
        };
        Failure {
            message: format!("{e}{hint}"),
            code,
        }
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // The reader of our output went away (`cairn entries --json | head`):
        // what was asked is done (writes commit before their ids are
        // printed); end quietly, as a program killed by SIGPIPE would.
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        // No payload, no location, no backtrace: they could hold patient text.
        eprintln!("cairn: internal error (a bug in cairn; your saved entries are safe)");
        std::process::exit(70);
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return output::clap_error(e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("cairn: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn data_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    if let Some(d) = &cli.data {
        return Ok(d.clone());
    }
    if let Some(d) = std::env::var_os("CAIRN_DATA").filter(|d| !d.is_empty()) {
        return Ok(d.into());
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("cairn"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/cairn")),
        None => Err(Failure::usage(
            "no data folder: give --data or set CAIRN_DATA",
        )),
    }
}

/// The store's file inside the data folder.
pub const STORE_FILE: &str = "journal.cairn";

fn open(cli: &Cli) -> Result<Store, Failure> {
    let path = data_dir(cli)?.join(STORE_FILE);
    if !path.exists() {
        return Err(Error::StoreNotFound.into());
    }
    let secret = keys::from_cli(cli.key_file.as_deref(), cli.passphrase, false)?;
    match Store::open(&path, secret.as_key(), StoreOptions::default()) {
        Err(Error::WrongKey)
            if !cli.passphrase && Store::is_passphrase_protected(&path).unwrap_or(false) =>
        {
            Err(Failure {
                message: "the key does not open this store (it takes --passphrase)".into(),
                code: 3,
            })
        }
        other => Ok(other?),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Enroll {
            code,
            share,
            server,
        } => {
            let store = open(&cli)?;
            let cats = if share.is_empty() {
                sync::DEFAULT_SHARING.to_vec()
            } else {
                sync::parse_categories(share)?
            };
            let req = store.sync_enroll(code, &cats)?;
            let outcome = sync::run_sync(&store, Some(req), server.as_deref())?;
            let st = store.sync_status()?;
            println!("enrolled with {} as device {}", st.server_url, st.device_id);
            println!("{}", sync::summary(&outcome));
            print!("\n{}", sync::manifest(&st));
            Ok(())
        }
        Command::Checkin(a) => outcomes::checkin(&open(&cli)?, a),
        Command::Flags { json } => outcomes::flags(&open(&cli)?, *json),
        Command::Treatment { command } => outcomes::treatment(&open(&cli)?, command),
        Command::Coping { command, json } => outcomes::coping(&open(&cli)?, command, *json),
        Command::Prompts { when, json } => outcomes::prompts(when.as_deref(), *json),
        Command::Practice {
            skill,
            minutes,
            at,
            tz,
        } => match minutes {
            // Showing the steps needs no store.
            Some(m) => outcomes::practice(&open(&cli)?, skill, *m, at.as_deref(), tz.as_deref()),
            None => outcomes::show_skill(skill),
        },
        Command::HelpNow { country } => outcomes::help_now(&open(&cli)?, country.as_deref()),
        Command::Sync { server } => {
            let store = open(&cli)?;
            // Rules that depend on time passing are evaluated before each
            // sync, so that what they find goes with it.
            store.check_flags()?;
            let outcome = sync::run_sync(&store, None, server.as_deref())?;
            println!("{}", sync::summary(&outcome));
            Ok(())
        }
        Command::Sharing { command } => {
            let store = open(&cli)?;
            if let Some(sync::SharingCommand::Set { category, state }) = command {
                let c = cairn_core::sync::device::Category::parse(category)?;
                store.sync_set_sharing(c, state == "on")?;
            }
            print!("{}", sync::manifest(&store.sync_status()?));
            Ok(())
        }
        Command::SyncLog { limit, json } => {
            let store = open(&cli)?;
            if *json {
                println!("{}", sync::log_json(&store, *limit)?);
            } else {
                print!("{}", sync::log_text(&store, *limit)?);
                println!("{}", sync::status_line(&store.sync_status()?));
            }
            Ok(())
        }
        Command::Conflicts {
            command: Some(ConflictsCommand::Resolve { entry_id, keep }),
            ..
        } => {
            let store = open(&cli)?;
            match store.sync_resolve_conflict(entry_id, keep.as_deref()) {
                Ok(Some(_)) => println!("kept; the other versions go at the next sync"),
                Ok(None) => println!("kept deleted; the other versions go at the next sync"),
                Err(Error::NotFound { .. }) => {
                    return Err(Failure {
                        message: "no conflicting version of that entry (from that device)".into(),
                        code: 5,
                    });
                }
                Err(e) => return Err(e.into()),
            }
            Ok(())
        }
        Command::Conflicts { json, .. } => {
            let store = open(&cli)?;
            let trackers = store.trackers()?;
            let conflicts = store.sync_conflicts()?;
            if *json {
                let arr: Vec<_> = conflicts
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "entry_id": c.entry_id,
                            "author": c.author,
                            "deleted": c.entry.is_none(),
                            "version": c.entry.as_ref().map(|e| output::entry_value(e, &trackers)),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&arr).expect("json"));
            } else if conflicts.is_empty() {
                println!("no conflicting versions");
            } else {
                for c in &conflicts {
                    match &c.entry {
                        Some(e) => {
                            print!("{} (from device {}): ", c.entry_id, c.author);
                            output::entries_text(std::slice::from_ref(e), &trackers);
                        }
                        None => {
                            println!("{} (from device {}): deleted there", c.entry_id, c.author)
                        }
                    }
                }
                println!(
                    "editing or deleting an entry resolves its conflicts, as does `cairn conflicts resolve ID [--keep DEVICE]`"
                );
            }
            Ok(())
        }
        Command::Withdraw { offline, server } => {
            let store = open(&cli)?;
            withdraw(&store, *offline, server.as_deref())?;
            println!(
                "withdrawn: this device sends nothing more to the clinic; your entries stay here"
            );
            Ok(())
        }
        Command::Export {
            format,
            out,
            from,
            to,
            patient,
        } => {
            if format != "fhir" && (from.is_some() || to.is_some() || patient.is_some()) {
                return Err(Failure::usage(
                    "--from, --to and --patient are for `export fhir`",
                ));
            }
            let store = open(&cli)?;
            let skipped = match format.as_str() {
                "json" => export::json(&store, out)?,
                "csv" => export::csv(&store, out)?,
                _ => {
                    let mut q = EntryQuery::default();
                    match parse_date(from.as_deref(), "--from")? {
                        Some(DateArg::Day(d)) => q.from_day = Some(d),
                        Some(DateArg::Instant(t)) => q.from = Some(t),
                        None => {}
                    }
                    match parse_date(to.as_deref(), "--to")? {
                        Some(DateArg::Day(d)) => q.to_day = Some(d),
                        Some(DateArg::Instant(t)) => q.to = Some(t),
                        None => {}
                    }
                    let (bundle, skipped) = export::fhir(&store, &q, patient.as_deref(), out)?;
                    eprintln!(
                        "{} entries as {} resources; {} left out (journal text, medication)",
                        bundle.exported, bundle.resources, bundle.left_out
                    );
                    skipped
                }
            };
            println!("{}", out.display());
            if skipped > 0 {
                return Err(Failure {
                    message: format!(
                        "{skipped} record(s) could not be opened and are not in the export"
                    ),
                    code: 4,
                });
            }
            Ok(())
        }
        Command::SafetyPlan { command, json } => {
            let store = open(&cli)?;
            let show = |plan: &cairn_core::SafetyPlan, json: bool| {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(plan).expect("JSON values serialise")
                    );
                } else {
                    print!("{}", plan.to_text(true));
                }
            };
            match command {
                None | Some(SafetyPlanCommand::Show) => show(&store.safety_plan()?, *json),
                Some(SafetyPlanCommand::Set { part, items }) => {
                    let i = cairn_core::PART_NAMES
                        .iter()
                        .position(|p| *p == part.trim().to_ascii_lowercase())
                        .ok_or_else(|| {
                            Failure::usage(format!(
                                "unknown part {part:?}: expected one of {}",
                                cairn_core::PART_NAMES.join(", ")
                            ))
                        })?;
                    let mut plan = store.safety_plan()?;
                    *plan.part_mut(i).expect("0-6") = items.clone();
                    let plan = store.set_safety_plan(plan)?;
                    show(&plan, *json);
                }
            }
            Ok(())
        }
        Command::Crisis { country, json } => crisis::crisis(country.as_deref(), *json),
        Command::Monitoring {
            country,
            clinic,
            review_within,
            json,
        } => {
            let exists = data_dir(&cli).is_ok_and(|d| d.join(STORE_FILE).exists());
            let store = if exists { Some(open(&cli)?) } else { None };
            crisis::monitoring(
                store.as_ref(),
                country.as_deref(),
                clinic.as_deref(),
                review_within.as_deref(),
                *json,
            )
        }
        Command::Wipe { yes, offline } => {
            if !yes {
                return Err(Failure::usage(
                    "wipe deletes every entry on this device and cannot be undone; run it again with --yes",
                ));
            }
            let dir = data_dir(&cli)?;
            let path = dir.join(STORE_FILE);
            if !path.exists() {
                return Err(Error::StoreNotFound.into());
            }
            {
                let store = open(&cli)?;
                match store.sync_status() {
                    Ok(st) if st.enrollment == cairn_core::sync::device::Enrollment::Active => {
                        withdraw(&store, *offline, None).map_err(|f| Failure {
                            message: format!(
                                "{} (nothing was deleted; use --offline to wipe without telling the clinic)",
                                f.message
                            ),
                            code: f.code,
                        })?;
                    }
                    Ok(_) | Err(Error::NotEnrolled) => {}
                    Err(e) => return Err(e.into()),
                }
                store.close()?;
            }
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Failure::other(format!(
                            "cannot delete the store: {}",
                            e.kind()
                        )));
                    }
                }
            }
            println!("deleted {}", path.display());
            if let Some(k) = &cli.key_file {
                println!(
                    "the key file {} is no longer needed; delete it too",
                    k.display()
                );
            }
            Ok(())
        }
        Command::Init => {
            let dir = data_dir(&cli)?;
            let path = dir.join(STORE_FILE);
            if path.exists() {
                return Err(Error::StoreExists.into());
            }
            let secret = keys::from_cli(cli.key_file.as_deref(), cli.passphrase, true)?;
            create_dir_private(&dir)?;
            let store = Store::create(&path, secret.as_key(), StoreOptions::default())?;
            store.close()?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Log(a) => {
            let store = open(&cli)?;
            let tracker = store.tracker(&a.tracker)?;
            let mut value = tracker.kind.parse(&a.value)?;
            match (&mut value, a.quality, a.skipped) {
                (Value::Sleep { quality, .. }, q, false) => *quality = q,
                (Value::Medication { taken, .. }, None, s) => *taken = !s,
                (_, None, false) => {}
                _ => {
                    return Err(Failure::usage(
                        "--quality is for sleep, --skipped for medication",
                    ));
                }
            }
            let new = NewEntry {
                tracker: tracker.id,
                value,
                note: a.note.clone(),
                tags: parse_tags(&a.tags)?,
                at: parse_instant(a.at.as_deref(), "--at")?.unwrap_or_else(Utc::now),
                zone: a.tz.clone().unwrap_or_else(default_zone),
            };
            let entry = store.log(new)?;
            // Printed only now: the transaction has committed.
            println!("{}", entry.id);
            Ok(())
        }
        Command::Entries(a) => {
            let store = open(&cli)?;
            let mut q = EntryQuery {
                tracker: a.tracker.clone(),
                limit: a.limit,
                newest_first: a.newest_first,
                ..Default::default()
            };
            match parse_date(a.from.as_deref(), "--from")? {
                Some(DateArg::Day(d)) => q.from_day = Some(d),
                Some(DateArg::Instant(t)) => q.from = Some(t),
                None => {}
            }
            match parse_date(a.to.as_deref(), "--to")? {
                Some(DateArg::Day(d)) => q.to_day = Some(d),
                Some(DateArg::Instant(t)) => q.to = Some(t),
                None => {}
            }
            let page = store.entries(&q)?;
            let trackers = store.trackers()?;
            if a.json {
                output::entries_json(&page.entries, &trackers);
            } else {
                output::entries_text(&page.entries, &trackers);
            }
            skipped_records(&page.corrupted)
        }
        Command::Show { id, json } => {
            let store = open(&cli)?;
            let e = store.entry(id)?;
            let trackers = store.trackers()?;
            if *json {
                output::entry_json_line(&e, &trackers);
            } else {
                output::entries_text(std::slice::from_ref(&e), &trackers);
            }
            Ok(())
        }
        Command::Edit(a) => {
            let store = open(&cli)?;
            let mut new: NewEntry = store.entry(&a.id)?.into();
            if let Some(v) = &a.value {
                new.value = store.tracker(&new.tracker)?.kind.parse(v)?;
            }
            if let Some(n) = &a.note {
                new.note = Some(n.clone());
            }
            if !a.tags.is_empty() {
                new.tags = parse_tags(&a.tags)?;
            }
            if let Some(at) = parse_instant(a.at.as_deref(), "--at")? {
                new.at = at;
            }
            if let Some(tz) = &a.tz {
                new.zone = tz.clone();
            }
            let e = store.update_entry(&a.id, new)?;
            println!("{}", e.id);
            Ok(())
        }
        Command::Delete { id } => {
            open(&cli)?.delete_entry(id)?;
            Ok(())
        }
        Command::Trackers { command, json } => {
            let store = open(&cli)?;
            match command {
                None => {
                    output::trackers(&store.trackers()?, *json);
                    Ok(())
                }
                Some(TrackersCommand::Add {
                    name,
                    kind,
                    min,
                    max,
                    step,
                    min_label,
                    max_label,
                    max_minutes,
                }) => {
                    let kind = match kind {
                        KindArg::Scale => TrackerKind::Scale {
                            min: *min,
                            max: *max,
                            step: *step,
                            min_label: min_label.clone(),
                            max_label: max_label.clone(),
                        },
                        KindArg::Yesno => TrackerKind::YesNo,
                        KindArg::Duration => TrackerKind::Duration {
                            max_minutes: *max_minutes,
                        },
                        KindArg::Count => TrackerKind::Count,
                        KindArg::Text => TrackerKind::Text,
                    };
                    let t = store.add_tracker(NewTracker {
                        name: name.clone(),
                        kind,
                    })?;
                    println!("{}", t.id);
                    Ok(())
                }
                Some(TrackersCommand::Delete { tracker }) => {
                    let t = store.tracker(tracker)?;
                    store.delete_tracker(&t.id)?;
                    Ok(())
                }
            }
        }
        Command::Rekey {
            new_key_file,
            new_passphrase,
        } => {
            let store = open(&cli)?;
            let new = match (new_key_file, new_passphrase) {
                (Some(f), false) => keys::Secret::Raw(keys::read_key_file(f)?),
                _ => keys::Secret::Passphrase(keys::prompt_passphrase("New passphrase", true)?),
            };
            let report = store.rekey(new.as_key())?;
            eprintln!("re-sealed {} records under the new key", report.resealed);
            if !report.corrupted.is_empty() {
                eprintln!(
                    "{} record(s) were already unreadable and were kept as they were",
                    report.corrupted.len()
                );
            }
            Ok(())
        }
        Command::Reminders { command } => reminders::run(&open(&cli)?, command),
        Command::Summary(a) => insights::run_summary(&open(&cli)?, a),
        Command::Patterns(a) => insights::run_patterns(&open(&cli)?, a),
        Command::Report(a) => report::run(&open(&cli)?, a),
        Command::Demo { days, seed } => {
            demo::run(cli.data.as_deref(), cli.key_file.as_deref(), *days, *seed)
        }
    }
}

fn create_dir_private(dir: &std::path::Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::other(format!("cannot create the data folder: {}", e.kind())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

fn parse_tags(tags: &[String]) -> Result<Vec<Tag>, Failure> {
    tags.iter()
        .map(|t| Tag::parse(t).map_err(Failure::from))
        .collect()
}

fn parse_instant(s: Option<&str>, flag: &str) -> Result<Option<DateTime<Utc>>, Failure> {
    s.map(|s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                Failure::usage(format!(
                    "{flag} takes an RFC 3339 time such as 2026-11-27T08:30:00+01:00"
                ))
            })
    })
    .transpose()
}

enum DateArg {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
}

fn parse_date(s: Option<&str>, flag: &str) -> Result<Option<DateArg>, Failure> {
    let Some(s) = s.map(str::trim) else {
        return Ok(None);
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Some(DateArg::Day(d)));
    }
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Ok(Some(DateArg::Instant(t.with_timezone(&Utc)))),
        Err(_) => Err(Failure::usage(format!(
            "{flag} takes a day (2026-11-27) or an RFC 3339 time"
        ))),
    }
}

/// Tells the clinic this patient withdraws (or, offline, stops locally).
fn withdraw(store: &Store, offline: bool, server: Option<&str>) -> Result<(), Failure> {
    if offline {
        return Ok(store.sync_forget()?);
    }
    let req = store.sync_withdraw()?;
    sync::send_once(store, req, server)
}

/// TZ if it names a zone, else the system's zone, else UTC.
pub fn default_zone() -> String {
    if let Ok(tz) = std::env::var("TZ") {
        let tz = tz.trim_start_matches(':');
        if !tz.is_empty() && !tz.starts_with('/') && tz.contains('/') || tz == "UTC" {
            return tz.to_owned();
        }
    }
    if let Ok(s) = std::fs::read_to_string("/etc/timezone") {
        let s = s.trim();
        if !s.is_empty() {
            return s.to_owned();
        }
    }
    if let Ok(p) = std::fs::read_link("/etc/localtime") {
        let p = p.to_string_lossy();
        if let Some((_, zone)) = p.split_once("zoneinfo/") {
            return zone.to_owned();
        }
    }
    "UTC".into()
}

/// After printing what could be read: names the records that could not be
/// opened on stderr (ids only) and fails with exit code 4, so that a script
/// notices damage without losing the good records.
fn skipped_records(corrupted: &[cairn_core::RecordRef]) -> Result<(), Failure> {
    if corrupted.is_empty() {
        return Ok(());
    }
    eprintln!(
        "cairn: {} record(s) could not be opened (altered or damaged): {}",
        corrupted.len(),
        corrupted
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Err(Failure {
        message: "some records are corrupted".into(),
        code: 4,
    })
}
