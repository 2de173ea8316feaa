//! `cairn export json|csv`: everything on the device, for the patient.

use cairn_core::{EntryQuery, Error, Store};
use serde_json::json;
use std::io::Write;
use std::path::Path;

use crate::Failure;
use crate::output::{entry_value, value_text};

/// Every entry, oldest first, in pages.
fn all_entries(store: &Store) -> Result<(Vec<cairn_core::Entry>, usize), Failure> {
    let mut out = Vec::new();
    let mut corrupted = 0;
    let mut cursor = None;
    loop {
        let page = store.entries(&EntryQuery {
            after: cursor.clone(),
            limit: Some(1000),
            ..Default::default()
        })?;
        corrupted += page.corrupted.len();
        out.extend(page.entries);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok((out, corrupted)),
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Failure::other(format!("cannot write the export file: {}", e.kind())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::other(format!("cannot write the export file: {}", e.kind())))
}

/// JSON: entries, trackers, reminders, treatment sessions, quiet hours and,
/// when enrolled, what is shared and the sync log.
pub fn json(store: &Store, out: &Path) -> Result<usize, Failure> {
    let (entries, corrupted) = all_entries(store)?;
    let trackers = store.trackers()?;
    let reminders = store.reminders()?;
    let events = store.events()?;
    let sync = match store.sync_status() {
        Ok(st) => json!({
            "server_url": st.server_url,
            "device_id": st.device_id,
            "patient_id": st.patient_id,
            "sharing": st.sharing.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "log": store.sync_log(usize::MAX)?,
        }),
        Err(Error::NotEnrolled) => serde_json::Value::Null,
        Err(e) => return Err(e.into()),
    };
    let doc = json!({
        "format": "cairn-export-1",
        "exported_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "entries": entries.iter().map(|e| entry_value(e, &trackers)).collect::<Vec<_>>(),
        "trackers": trackers,
        "reminders": reminders.reminders,
        "treatment_sessions": events,
        "quiet_hours": store.quiet_hours()?,
        "safety_plan": store.safety_plan()?,
        "coping_plan": store.coping_plan()?,
        "flags": store.flags()?.iter().map(crate::outcomes::flag_json).collect::<Vec<_>>(),
        "sync": sync,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("JSON values serialise");
    bytes.push(b'\n');
    write_private(out, &bytes)?;
    Ok(corrupted + reminders.corrupted.len())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV: one row per entry, for spreadsheets.
pub fn csv(store: &Store, out: &Path) -> Result<usize, Failure> {
    let (entries, corrupted) = all_entries(store)?;
    let trackers = store.trackers()?;
    let mut s = String::from(
        "id,at,local_time,zone,tracker,tracker_name,value,note,tags,created,updated\n",
    );
    for e in &entries {
        let name = trackers
            .iter()
            .find(|t| *t.id == *e.tracker)
            .map_or("", |t| t.name.as_str());
        let tags: Vec<String> = e.tags.iter().map(|t| t.to_string()).collect();
        let row = [
            e.id.clone(),
            e.at().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.local_time().format("%Y-%m-%d %H:%M").to_string(),
            e.zone.to_string(),
            e.tracker.to_string(),
            name.to_owned(),
            value_text(&e.value),
            e.note.clone().unwrap_or_default(),
            tags.join(" "),
            e.created_at()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.updated_at()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ];
        let line: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    write_private(out, s.as_bytes())?;
    Ok(corrupted)
}
