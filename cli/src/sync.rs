//! `cairn enroll`, `sync`, `sharing`, `sync-log`, `conflicts`: the CLI as a
//! shell over the core's sync. The core builds and reads every byte; this
//! file only does HTTP.

use cairn_core::Error;
use cairn_core::Store;
use cairn_core::sync::device::{Category, Enrollment, SyncOutcome, SyncRequest, SyncStatus};
use clap::Subcommand;
use std::io::Read;
use std::time::Duration;

use crate::Failure;

/// What `cairn enroll` shares unless told otherwise: no free text.
pub const DEFAULT_SHARING: &[Category] = &[
    Category::Ratings,
    Category::Medication,
    Category::Questionnaires,
    Category::Flags,
    Category::Reminders,
];

/// `cairn sharing` subcommands.
#[derive(Subcommand)]
pub enum SharingCommand {
    /// Turn sharing of a category on or off
    Set {
        /// ratings, notes, journal, medication, questionnaires, flags or reminders
        category: String,
        /// on or off
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

/// Parses `--share` values (comma-separated or repeated).
pub fn parse_categories(words: &[String]) -> Result<Vec<Category>, Failure> {
    let mut out = Vec::new();
    for w in words.iter().flat_map(|w| w.split(',')) {
        if w.trim().is_empty() {
            continue;
        }
        out.push(Category::parse(w)?);
    }
    Ok(out)
}

/// The most round trips one `cairn sync` makes before it stops and says so.
const MAX_ROUNDS: usize = 200;

/// One HTTP agent for the process: its TLS setup is made once, and the
/// connection to the clinic is kept alive between a sync's round trips.
fn agent() -> &'static ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into()
    })
}

fn post(url: &str, req: &SyncRequest) -> Result<Vec<u8>, Failure> {
    let resp = agent()
        .post(url)
        .header("content-type", req.content_type)
        .send(&req.body[..])
        .map_err(|e| Failure::other(format!("could not reach the clinic server at {url}: {e}")))?;
    let status = resp.status().as_u16();
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(8 * 1024 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::other(format!("the clinic server's reply was cut off: {e}")))?;
    if status != 200 {
        return Err(Failure::other(format!(
            "the clinic server answered HTTP {status}"
        )));
    }
    Ok(bytes)
}

fn url_for(req: &SyncRequest, server: Option<&str>) -> String {
    match server {
        Some(s) => format!("{}/v1/sync", s.trim_end_matches('/')),
        None => req.url.clone(),
    }
}

/// Sends requests until neither side has more. Errors the core handles by
/// itself (renumbering, new keys, a replay) are retried a few times.
pub fn run_sync(
    store: &Store,
    first: Option<SyncRequest>,
    server: Option<&str>,
) -> Result<SyncOutcome, Failure> {
    let mut total = SyncOutcome::default();
    let mut next = first;
    let mut retries = 0;
    for _ in 0..MAX_ROUNDS {
        let req = match next.take() {
            Some(r) => r,
            None => store.sync_prepare()?.ok_or(Error::NotEnrolled)?,
        };
        let reply = post(&url_for(&req, server), &req)?;
        match store.sync_receive(&req.request_id, &reply) {
            Ok(o) => {
                total.sent += o.sent;
                total.pulled += o.pulled;
                total.rejected += o.rejected;
                total.conflicts += o.conflicts;
                total.acknowledged = o.acknowledged;
                if !o.more {
                    return Ok(total);
                }
            }
            Err(Error::SyncRefused {
                reason: "gap" | "sequence_reused" | "unknown_key" | "replayed" | "stale",
            }) if retries < 5 => retries += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::other(format!(
        "stopped after {MAX_ROUNDS} exchanges with more still to sync; run `cairn sync` again"
    )))
}

/// Sends one request and applies its reply.
pub fn send_once(store: &Store, req: SyncRequest, server: Option<&str>) -> Result<(), Failure> {
    let reply = post(&url_for(&req, server), &req)?;
    store.sync_receive(&req.request_id, &reply)?;
    Ok(())
}

pub fn summary(o: &SyncOutcome) -> String {
    let mut s = format!(
        "sent {} change(s), received {}; the clinic has everything up to #{}",
        o.sent, o.pulled, o.acknowledged
    );
    if o.rejected > 0 {
        s.push_str(&format!(
            "; {} refused by the clinic (see `cairn sync-log`)",
            o.rejected
        ));
    }
    if o.conflicts > 0 {
        s.push_str(&format!(
            "; {} conflicting version(s) kept (see `cairn conflicts`)",
            o.conflicts
        ));
    }
    s
}

fn when(ms: i64) -> String {
    if ms == 0 {
        return "never".into();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The sharing manifest: who receives what, and what on and off mean.
pub fn manifest(st: &SyncStatus) -> String {
    let mut s = String::new();
    let state = match st.enrollment {
        Enrollment::Pending => "enrollment pending (the clinic has not confirmed yet)",
        Enrollment::Active => "enrolled",
        Enrollment::Revoked => "revoked by the clinic: nothing is sent any more",
        Enrollment::Withdrawn => "withdrawn: nothing is sent any more",
    };
    s.push_str(&format!("Clinic server: {}\n", st.server_url));
    s.push_str(&format!(
        "State: {state}, since {}\n",
        when(st.enrolled_at_ms)
    ));
    if !st.patient_id.is_empty() {
        s.push_str(&format!("Your id at the clinic: {}\n", st.patient_id));
    }
    s.push_str(&format!("This device: {}\n", st.device_id));
    s.push_str(&format!(
        "Last sync: {}; waiting to send: {}\n\nShared with the clinic's care team:\n",
        when(st.last_sync_ms),
        st.pending
    ));
    for c in Category::ALL {
        let on = st.sharing.contains(&c);
        s.push_str(&format!(
            "  [{}] {:<15} {}\n",
            if on { "x" } else { " " },
            c.name(),
            c.describe()
        ));
    }
    s.push('\n');
    for note in cairn_core::sync::device::SHARING_NOTES {
        s.push_str(note);
        s.push('\n');
    }
    s
}

pub fn status_line(st: &SyncStatus) -> String {
    format!(
        "{} pending, {} conflict(s), last sync {}",
        st.pending,
        st.conflicts,
        when(st.last_sync_ms)
    )
}

pub fn log_json(store: &Store, limit: usize) -> Result<String, Failure> {
    let log = store.sync_log(limit)?;
    Ok(serde_json::to_string_pretty(&log).expect("the log serialises"))
}

pub fn log_text(store: &Store, limit: usize) -> Result<String, Failure> {
    let mut s = String::new();
    for e in store.sync_log(limit)? {
        s.push_str(&format!(
            "{}  {:<8} sent {:>4}  received {:>4}  acknowledged #{}",
            when(e.at_ms),
            e.event,
            e.sent,
            e.pulled,
            e.acknowledged
        ));
        if !e.rejected.is_empty() {
            s.push_str(&format!("  refused {}", e.rejected.join(" ")));
        }
        if !e.detail.is_empty() {
            s.push_str(&format!("  ({})", e.detail));
        }
        if !e.receipt.is_empty() {
            s.push_str(&format!("  receipt {}…", &e.receipt[..16]));
        }
        s.push('\n');
    }
    if s.is_empty() {
        s.push_str("no syncs yet\n");
    }
    Ok(s)
}
