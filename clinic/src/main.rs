//! `cairn-clinic`: the reference clinic server and its operator commands.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use cairn_clinic::storage::{RevokeOutcome, Storage, postgres};
use cairn_clinic::{Error, Server, admin, now_ms, records};

mod clinic_records;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "EXIT CODES:
  0  success
  1  error (one line on stderr; never patient content)
  2  bad usage";

/// The reference clinic server for Cairn sync (docs/sync-protocol.md).
///
/// It enrolls patients' devices with one-time codes, takes in their sealed
/// and signed changes exactly once, merges them, and sends each device what
/// the patient's other devices wrote. Its state is one SQLite database in
/// the data directory (--data), or a PostgreSQL database that several
/// `serve` processes share (--database); patient content in it is sealed
/// with AES-256-GCM under the storage key. The clinic (its id, root signing
/// key and first HPKE key) is created the first time a data directory or an
/// empty database is used.
#[derive(Parser)]
#[command(name = "cairn-clinic", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct StoreArgs {
    /// The data directory: the database (clinic.sqlite) and, unless
    /// --key-file is given, the storage key (storage.key, made on first
    /// use, mode 0600). Created if missing.
    #[arg(
        long,
        global = true,
        env = "CAIRN_CLINIC_DATA",
        value_name = "DIR",
        conflicts_with = "database"
    )]
    data: Option<PathBuf>,

    /// A PostgreSQL database instead of --data, e.g.
    /// postgres://cairn@db.internal/clinic (or host=… dbname=… user=…).
    /// Several `serve` processes may share it. Needs --key-file. The schema
    /// and the clinic are created on first use of an empty database.
    #[arg(long, global = true, env = "CAIRN_CLINIC_DATABASE", value_name = "URL")]
    database: Option<String>,

    /// The storage key: a file of 32 raw bytes or 64 hex characters. It
    /// seals patient content and the clinic's private keys at rest; without
    /// it the database cannot be read. Default with --data: DIR/storage.key;
    /// required with --database.
    #[arg(
        long,
        global = true,
        env = "CAIRN_CLINIC_KEY_FILE",
        value_name = "FILE"
    )]
    key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync protocol over HTTP: POST /v1/sync, GET /healthz.
    ///
    /// Prints `cairn-clinic listening on http://ADDR` once it accepts
    /// connections, and records the server's base URL for `enroll`. Stops
    /// on SIGINT or SIGTERM.
    Serve {
        /// The address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a
        /// free port).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// The base URL devices reach this server at (https://…, typically
        /// a TLS proxy in front of it). Default: http://ADDR when ADDR is a
        /// loopback address.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// With --database: the PostgreSQL connections this process keeps
        /// (and so the transactions it runs at once). Default: 4.
        #[arg(long, value_name = "N",
              value_parser = clap::value_parser!(u16).range(1..=64))]
        pool: Option<u16>,
    },
    /// Create an enrollment code for a patient and print it.
    ///
    /// The patient is created if new. The code (CAIRN1…) holds a one-time
    /// secret: hand it over in person. One device may enroll with it.
    Enroll {
        /// The patient's name (as the clinic knows them; sealed at rest).
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// Days until the code expires.
        #[arg(long, value_name = "N", default_value_t = 14,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_days: u32,
        /// The server's base URL for the code. Default: the URL `serve` was
        /// last started with.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// List enrolled devices: id, patient, enrolled, last sync, revoked.
    Devices {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device: its requests are refused from now on.
    Revoke {
        /// The device id, 32 hex characters (see `devices`).
        #[arg(value_name = "DEVICE_ID")]
        device_id: String,
    },
    /// Print a patient's entries as the clinic holds them.
    ///
    /// Each entry once (the winning version of each record), deleted
    /// entries left out, oldest first.
    Entries {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// Print a JSON array of {id, tracker, value, note, tags, at}.
        #[arg(long)]
        json: bool,
    },
    /// Write a patient's data as the clinic holds it to a file, for
    /// another system.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Make a new HPKE key for devices to seal to, certified by the root
    /// key. The previous key keeps opening requests for 30 days.
    RotateKeys,
    /// Define or delete a custom tracker for a patient; it reaches their
    /// devices at their next sync.
    #[command(subcommand)]
    Tracker(TrackerCommand),
    /// Add, change or delete a reminder plan for a patient (check-ins,
    /// medication, post-session routines); it reaches their devices at
    /// their next sync.
    #[command(subcommand)]
    Reminder(ReminderCommand),
    /// Record or delete a treatment session (an infusion, a therapy
    /// session) for a patient; reminders that follow sessions plan from it.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Show or edit a patient's safety plan (Stanley-Brown: six parts, and
    /// reasons for living). Each part merges on its own with the patient's
    /// edits.
    #[command(subcommand)]
    SafetyPlan(SafetyPlanCommand),
    /// Print a patient's trackers, reminder plans, sessions and safety plan
    /// as the clinic holds them (the clinic's and the patient's edits
    /// merged).
    Records {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// Print JSON: {"trackers", "reminders", "sessions", "safety_plan"}.
        #[arg(long)]
        json: bool,
    },
    /// List risk flags raised on patients' devices, open ones first: each
    /// with its reason and review state
    Flags {
        /// Print JSON: an array of {patient, id, kind, title, reason, state,
        /// raised_at, acknowledged_at, acknowledged_by, source}
        #[arg(long)]
        json: bool,
    },
    /// Show or set what the clinic tells a patient's devices: its name,
    /// how soon it reviews flags (shown to the patient in the monitoring
    /// statement), and the days without a check-in before a flag
    Settings {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The clinic's name as the patient knows it
        #[arg(long, value_name = "NAME")]
        clinic_name: Option<String>,
        /// How soon flags are reviewed, as the patient will read it
        /// ("within 2 working days")
        #[arg(long, value_name = "TEXT")]
        review_within: Option<String>,
        /// Days without a check-in before a flag (0: off)
        #[arg(long, value_name = "DAYS")]
        no_checkin_days: Option<u32>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a flag: the patient sees that the clinic reviewed it at
    /// their next sync
    AckFlag {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// Who reviewed it, as the patient will read it (a role, or a name)
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
        /// The flag's id (32 hex characters, from `flags`)
        flag_id: String,
    },
}

#[derive(Subcommand)]
enum TrackerCommand {
    /// Define a custom tracker; prints its id.
    Add {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The name the patient sees.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// scale, yes-no, count, duration or text.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// Scale: lowest value.
        #[arg(long, default_value_t = 0.0)]
        min: f64,
        /// Scale: highest value.
        #[arg(long, default_value_t = 10.0)]
        max: f64,
        /// Scale: step.
        #[arg(long, default_value_t = 1.0)]
        step: f64,
        /// Scale: what the lowest value means.
        #[arg(long, default_value = "")]
        min_label: String,
        /// Scale: what the highest value means.
        #[arg(long, default_value = "")]
        max_label: String,
        /// Duration: the longest, in minutes.
        #[arg(long, default_value_t = 24 * 60)]
        max_minutes: u32,
    },
    /// Delete a custom tracker (entries made on it are kept).
    Delete {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The tracker's id (32 hex characters).
        id: String,
    },
}

#[derive(Subcommand)]
enum ReminderCommand {
    /// Add a reminder plan; prints its id.
    Add {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Change some fields of a reminder plan; the others keep their
    /// values (and the patient's edits of them).
    Set {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The plan's id (32 hex characters).
        id: String,
        /// Pause (false) or resume (true) it.
        #[arg(long, value_name = "BOOL")]
        enabled: Option<bool>,
        /// A new title (empty: none).
        #[arg(long, value_name = "TEXT")]
        title: Option<String>,
        /// New times of day, HH:MM[,HH:MM...] (daily and weekly plans).
        #[arg(long, value_name = "TIMES")]
        times: Option<String>,
    },
    /// Delete a reminder plan.
    Delete {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The plan's id (32 hex characters).
        id: String,
    },
}

#[derive(Args)]
struct PlanArgs {
    /// check-in, medication, journaling, coping-step, post-session or
    /// appointment.
    #[arg(long, value_name = "CATEGORY")]
    category: String,
    /// A title (shown on the lock screen only if the patient allows it).
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// Times of day, HH:MM[,HH:MM...]: every day, or on --days.
    #[arg(long, value_name = "TIMES", conflicts_with = "after_event")]
    times: Option<String>,
    /// Weekdays for --times, e.g. mon,wed,fri.
    #[arg(long, value_name = "DAYS", requires = "times")]
    days: Option<String>,
    /// Follow each session of this kind (e.g. infusion) with --steps.
    #[arg(long, value_name = "KIND", requires = "steps")]
    after_event: Option<String>,
    /// Steps after each session: 30m, 2h, or 1d@09:00 (the day after, at
    /// 09:00), comma-separated.
    #[arg(long, value_name = "STEPS")]
    steps: Option<String>,
    /// First date, YYYY-MM-DD. Default: today (UTC).
    #[arg(long, value_name = "DATE")]
    start: Option<String>,
    /// Last date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    end: Option<String>,
    /// A fixed zone for the times (IANA, e.g. Europe/London). Default: the
    /// phone's zone, wherever the patient is.
    #[arg(long, value_name = "ZONE")]
    zone: Option<String>,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// A FHIR R4 transaction Bundle of the patient's questionnaires and
    /// tracker values (docs/fhir.md): the same Bundle the patient's device
    /// exports for the same entries. Journal text, notes and medication are
    /// left out. Prints the file's name.
    Fhir {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The file to write (created with owner-only permissions).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// From this local day (YYYY-MM-DD), inclusive.
        #[arg(long, value_name = "DAY")]
        from: Option<NaiveDate>,
        /// To this local day (YYYY-MM-DD), inclusive.
        #[arg(long, value_name = "DAY")]
        to: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Record a session; prints its id.
    Add {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The session's kind: infusion, therapy, ... (letters, digits, - and _).
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// When, RFC 3339 (2026-12-01T10:00:00Z).
        #[arg(long, value_name = "TIME")]
        at: String,
        /// The patient's zone at the session (IANA).
        #[arg(long, value_name = "ZONE")]
        zone: String,
    },
    /// Delete a session.
    Delete {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// The session's id (32 hex characters).
        id: String,
    },
}

#[derive(Subcommand)]
enum SafetyPlanCommand {
    /// Print the safety plan as the clinic holds it.
    Show {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace one part of the safety plan with ITEMS (none: clear it).
    Set {
        /// The patient's name.
        #[arg(long, value_name = "NAME")]
        patient: String,
        /// warning-signs, coping, distractions, people, professionals,
        /// environment or reasons.
        #[arg(long, value_name = "PART")]
        part: String,
        /// The part's items, in order.
        items: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_CLINIC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-clinic: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Opens the storage the options name.
fn open(store: StoreArgs, pool: Option<u16>, now: u64) -> Result<Box<dyn Storage>, Error> {
    match (store.data, store.database) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "--data and --database cannot be used together".into(),
        )),
        (None, Some(url)) => {
            let Some(key_file) = store.key_file else {
                return Err(Error::Usage(
                    "--database needs --key-file FILE (or CAIRN_CLINIC_KEY_FILE): the storage key"
                        .into(),
                ));
            };
            let pool = pool.map_or(postgres::DEFAULT_POOL, usize::from);
            Ok(Box::new(cairn_clinic::open_postgres(
                &url, &key_file, pool, now,
            )?))
        }
        (Some(dir), None) => {
            if pool.is_some() {
                return Err(Error::Usage(
                    "--pool is for --database (SQLite has one connection)".into(),
                ));
            }
            Ok(Box::new(cairn_clinic::open_sqlite(
                &dir,
                store.key_file.as_deref(),
                now,
            )?))
        }
        (None, None) => Err(Error::Usage(
            "--data DIR or --database URL is required (or CAIRN_CLINIC_DATA, CAIRN_CLINIC_DATABASE)"
                .into(),
        )),
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let now = now_ms();
    let pool = match &cli.command {
        Command::Serve { pool, .. } => *pool,
        // A command runs one transaction at a time.
        _ if cli.store.database.is_some() => Some(1),
        _ => None,
    };
    let server = Server::new(open(cli.store, pool, now)?);
    match cli.command {
        Command::Serve { listen, url, .. } => serve(server, listen, url),
        Command::Enroll {
            patient,
            expires_days,
            url,
        } => {
            let url = match url {
                Some(u) => u,
                None => server.storage().server_url()?.ok_or_else(|| {
                    Error::Usage(
                        "no server address known: pass --url, or start `serve` once".into(),
                    )
                })?,
            };
            let code = admin::enrollment_code(&server, &patient, expires_days, &url, now)?;
            println!("{code}");
            Ok(())
        }
        Command::Devices { json } => {
            // The clinic's own author of each patient's records is a device
            // to the protocol, not one to list.
            let clinic = server.keys()?.clinic_id;
            let mut devices = server.storage().devices()?;
            devices.retain(|d| {
                cairn_clinic::ingest::clinic_author_id(&clinic, &d.patient_id) != d.device_id
            });
            if json {
                let all: Vec<_> = devices.iter().map(admin::device_json).collect();
                println!("{}", pretty(&all));
            } else {
                print!("{}", admin::devices_table(&devices));
            }
            Ok(())
        }
        Command::Revoke { device_id } => {
            match admin::revoke(server.storage(), &device_id, now)? {
                RevokeOutcome::AlreadyRevoked => {
                    println!("{} was already revoked", device_id.trim())
                }
                _ => println!("revoked {}", device_id.trim()),
            }
            Ok(())
        }
        Command::Entries { patient, json } => {
            let entries = admin::entries(server.storage(), &patient)?;
            if json {
                println!("{}", pretty(&entries));
            } else {
                for e in &entries {
                    println!(
                        "{}  {}  {}{}",
                        e["at"].as_str().unwrap_or(""),
                        e["tracker"].as_str().unwrap_or(""),
                        e["value"],
                        e["note"]
                            .as_str()
                            .map_or(String::new(), |n| format!("  {}", n.replace('\n', " ")))
                    );
                }
            }
            Ok(())
        }
        Command::Export(ExportCommand::Fhir {
            patient,
            out,
            from,
            to,
        }) => {
            let bundle = admin::fhir_bundle(server.storage(), &patient, from, to)?;
            write_private(&out, bundle.json.as_bytes())?;
            eprintln!(
                "{} entries as {} resources; {} left out (journal text, medication)",
                bundle.exported, bundle.resources, bundle.left_out
            );
            println!("{}", out.display());
            Ok(())
        }
        Command::Tracker(c) => clinic_records::tracker(&server, c, now),
        Command::Reminder(c) => clinic_records::reminder(&server, c, now),
        Command::Session(c) => clinic_records::session(&server, c, now),
        Command::SafetyPlan(c) => clinic_records::safety_plan(&server, c, now),
        Command::Records { patient, json } => {
            let all = records::records_json(server.storage(), &patient)?;
            if json {
                println!("{}", pretty(&all));
            } else {
                print!("{}", clinic_records::text(&all));
            }
            Ok(())
        }
        Command::Flags { json } => {
            let all = records::flags_json(server.storage())?;
            if json {
                println!("{}", pretty(&all));
            } else if all.is_empty() {
                println!("no flags");
            } else {
                for f in &all {
                    println!(
                        "{}  {}  {:<12}  {}  {}\n    {}",
                        f["id"].as_str().unwrap_or(""),
                        f["raised_at"].as_str().unwrap_or(""),
                        f["state"].as_str().unwrap_or(""),
                        f["patient"].as_str().unwrap_or(""),
                        f["title"]
                            .as_str()
                            .unwrap_or(f["kind"].as_str().unwrap_or("")),
                        f["reason"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        Command::Settings {
            patient,
            clinic_name,
            review_within,
            no_checkin_days,
            json,
        } => {
            let new = cairn_core::ClinicSettings {
                clinic_name,
                review_within,
                no_checkin_days,
            };
            if new != cairn_core::ClinicSettings::default()
                && !records::set_clinic_settings(&server, &patient, new, now)?
            {
                eprintln!("nothing to change");
            }
            let c = records::clinic_settings(server.storage(), &patient)?;
            if json {
                println!("{}", pretty(&c));
            } else {
                println!(
                    "clinic name      {}\nflags reviewed   {}\nno check-ins     {}",
                    c.clinic_name.as_deref().unwrap_or("(not set)"),
                    c.review_within.as_deref().unwrap_or("(not set)"),
                    c.no_checkin_days
                        .map_or("(not set: 7 days)".into(), |d| format!("{d} days"))
                );
            }
            Ok(())
        }
        Command::AckFlag {
            patient,
            by,
            flag_id,
        } => {
            let id = records::parse_id(&flag_id)?;
            if records::ack_flag(&server, &patient, &id, by.as_deref(), now)? {
                println!("acknowledged");
            } else {
                println!("already acknowledged");
            }
            Ok(())
        }
        Command::RotateKeys => {
            let r = server.storage().rotate_keys(now)?;
            println!(
                "new HPKE key {:08x}; the previous key opens requests for 30 more days",
                r.key_id
            );
            if r.purged > 0 {
                println!(
                    "{} retired key(s) past their grace period deleted",
                    r.purged
                );
            }
            Ok(())
        }
    }
}

/// Writes `bytes` to a new or truncated file only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| Error::Runtime(format!("cannot write {}: {}", path.display(), e.kind())))
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).expect("JSON values serialise")
}

fn serve(server: Server, listen: SocketAddr, url: Option<String>) -> Result<(), Error> {
    if let Some(u) = &url {
        cairn_core::sync::code::check_url(u).map_err(|e| Error::Usage(format!("--url: {e}")))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the runtime: {e}")))?;
    let server = Arc::new(server);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Runtime(format!("cannot listen on {listen}: {}", e.kind())))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Runtime(format!("cannot read the listening address: {e}")))?;
        let url = url.or_else(|| addr.ip().is_loopback().then(|| format!("http://{addr}")));
        match url {
            // Storage is called from the blocking pool, as for requests.
            Some(u) => {
                let s = server.clone();
                tokio::task::spawn_blocking(move || s.storage().set_server_url(Some(&u)))
                    .await
                    .map_err(|_| Error::Runtime("recording the server's URL failed".into()))??
            }
            None => tracing::warn!(
                "not a loopback address and no --url: `enroll` needs --url for its codes"
            ),
        }
        tracing::info!(%addr, "listening");
        println!("cairn-clinic listening on http://{addr}");
        let _ = std::io::stdout().flush();
        cairn_clinic::http::serve(listener, server, shutdown())
            .await
            .map_err(|e| Error::Runtime(format!("the server stopped: {e}")))
    })
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}
