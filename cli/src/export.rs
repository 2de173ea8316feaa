//! `cairn export json|csv|fhir`: everything on the device, for the patient;
//! or, as FHIR, the questionnaires and tracker values for a clinic system.

use cairn_core::{EntryQuery, Error, Store, fhir};
use serde_json::json;
use std::io::Write;
use std::path::Path;

use crate::Failure;
use crate::output::{entry_value, value_text};

/// Every entry, oldest first, in pages.
fn all_entries(store: &Store) -> Result<(Vec<cairn_core::Entry>, usize), Failure> {
    entries_where(store, &EntryQuery::default())
}

/// Every entry `query` selects, oldest first, in pages.
fn entries_where(
    store: &Store,
    query: &EntryQuery,
) -> Result<(Vec<cairn_core::Entry>, usize), Failure> {
    let mut out = Vec::new();
    let mut corrupted = 0;
    let mut cursor = None;
    loop {
        let page = store.entries(&EntryQuery {
            after: cursor.clone(),
            limit: Some(1000),
            newest_first: false,
            ..query.clone()
        })?;
        corrupted += page.corrupted.len();
        out.extend(page.entries);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok((out, corrupted)),
        }
    }
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Failure::other(format!("cannot write the file: {}", e.kind())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::other(format!("cannot write the file: {}", e.kind())))
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

/// FHIR R4: a transaction Bundle of the questionnaires and tracker values
/// `query` selects (docs/fhir.md). The subject is `patient` if given, else
/// `Patient/<id>` with the id the clinic gave when enrolled, else none.
/// Returns the Bundle's counts and the records that could not be opened.
pub fn fhir(
    store: &Store,
    query: &EntryQuery,
    patient: Option<&str>,
    out: &Path,
) -> Result<(fhir::Bundle, usize), Failure> {
    let subject = match patient.map(str::trim) {
        Some(p) if is_reference(p) => Some(p.to_owned()),
        Some(_) => {
            return Err(Failure::usage(
                "--patient takes a FHIR reference such as Patient/123",
            ));
        }
        None => match store.sync_status() {
            Ok(st) if !st.patient_id.is_empty() => Some(format!("Patient/{}", st.patient_id)),
            Ok(_) | Err(Error::NotEnrolled) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let (entries, corrupted) = entries_where(store, query)?;
    let records: Vec<fhir::Record<'_>> = entries.iter().map(fhir::Record::from).collect();
    let bundle = fhir::bundle(
        &records,
        &fhir::Options {
            subject,
            ..Default::default()
        },
    );
    write_private(out, bundle.json.as_bytes())?;
    Ok((bundle, corrupted))
}

/// `Type/id`, as FHIR ids go (1-64 of letters, digits, `-` and `.`).
fn is_reference(s: &str) -> bool {
    s.split_once('/').is_some_and(|(kind, id)| {
        kind.starts_with(|c: char| c.is_ascii_uppercase())
            && kind.chars().all(|c| c.is_ascii_alphabetic())
            && (1..=64).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    })
}
