//! What the operator's commands do (`enroll`, `devices`, `revoke`,
//! `entries`, `export fhir`, `rotate-keys`), apart from parsing and printing.

use cairn_core::sync::code::{self, EnrollmentCode};
use cairn_core::sync::messages::{EntryBody, RecordId, kind};
use cairn_core::{Value, fhir};
use chrono::{DateTime, NaiveDate, SecondsFormat};
use serde_json::{Value as Json, json};

use crate::storage::{DeviceInfo, RevokeOutcome, Storage};
use crate::{Error, Server, ingest};

const MINUTE_MS: u64 = 60_000;

/// An instant as RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || "(out of range)".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// Creates an enrollment for the patient `name` (created if new) and
/// returns its code's text. The code expires `expires_days` from `now_ms`
/// (to the minute); `url` is the server's base address devices reach.
pub fn enrollment_code(
    server: &Server,
    name: &str,
    expires_days: u32,
    url: &str,
    now_ms: u64,
) -> Result<String, Error> {
    if name.trim().is_empty() {
        return Err(Error::Usage("the patient's name must not be empty".into()));
    }
    code::check_url(url).map_err(|e| Error::Usage(format!("--url: {e}")))?;
    let keys = server.keys()?;
    let expires_minutes = u32::try_from(now_ms / MINUTE_MS + u64::from(expires_days) * 24 * 60)
        .map_err(|_| Error::Usage("--expires-days is too far in the future".into()))?;
    let enrollment =
        server
            .storage()
            .create_enrollment(name, u64::from(expires_minutes) * MINUTE_MS, now_ms)?;
    let current = keys.current();
    EnrollmentCode {
        clinic_id: keys.clinic_id,
        enrollment_id: enrollment.enrollment_id,
        secret: *enrollment.secret,
        expires_minutes,
        root_key: keys.root_public(),
        hpke_key_id: current.key_id,
        hpke_key: current.public,
        url: url.to_owned(),
    }
    .to_text()
    .map_err(|e| Error::Runtime(e.to_string()))
}

/// A value as JSON, as `cairn entries --json` writes it: a number for
/// scales, counts and durations (minutes), a boolean for yes/no, a string
/// for text, objects for sleep and medication.
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

/// The patient's entries as the clinic holds them: each record's winning
/// version once, tombstones and entries from withdrawn devices left out,
/// in time order. Each is `{id, tracker, value, note, tags, at}`.
pub fn entries(storage: &dyn Storage, name: &str) -> Result<Vec<Json>, Error> {
    Ok(winning_entries(storage, name)?
        .into_iter()
        .map(|(id, e)| {
            json!({
                "id": id,
                "tracker": e.tracker,
                "value": value_json(&e.value),
                "note": e.note,
                "tags": e.tags.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "at": rfc3339(e.at_ms),
            })
        })
        .collect())
}

/// The patient's FHIR R4 transaction Bundle (docs/fhir.md), from the
/// entries the clinic holds as [`entries`] lists them, with the subject
/// `Patient/<patient id>` and only the local days from `from` to `to`.
pub fn fhir_bundle(
    storage: &dyn Storage,
    name: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<fhir::Bundle, Error> {
    let entries = winning_entries(storage, name)?;
    let patient = storage
        .devices()?
        .into_iter()
        .find(|d| d.patient == name)
        .map(|d| ingest::hex(&d.patient_id))
        .ok_or_else(|| Error::Runtime("no device of that patient has enrolled".into()))?;
    let records: Vec<fhir::Record<'_>> = entries
        .iter()
        .map(|(id, e)| fhir::Record {
            id,
            tracker: &e.tracker,
            value: &e.value,
            at_ms: e.at_ms,
            utc_offset_seconds: e.utc_offset_seconds,
        })
        .collect();
    Ok(fhir::bundle(
        &records,
        &fhir::Options {
            subject: Some(format!("Patient/{patient}")),
            from,
            to,
        },
    ))
}

/// Each entry record's winning version once, tombstones and entries from
/// withdrawn devices left out, in time order, with its id.
fn winning_entries(storage: &dyn Storage, name: &str) -> Result<Vec<(String, EntryBody)>, Error> {
    let Some(records) = storage.records(name, kind::ENTRY)? else {
        return Err(Error::Runtime("no patient by that name".into()));
    };
    let mut out = Vec::new();
    for r in &records.records {
        let Some(winner) = r.tips.first() else {
            continue;
        };
        if ingest::is_tombstone(winner) || records.withdrawn.contains(&winner.author) {
            continue;
        }
        let Some(Ok(e)) = winner.body.as_deref().map(EntryBody::decode) else {
            tracing::warn!(
                record = %ingest::record_key(&r.record_id),
                "a stored entry does not decode; left out"
            );
            continue;
        };
        let id = match &r.record_id {
            RecordId::Bytes(b) => ingest::hex(b),
            RecordId::Text(t) => t.clone(),
        };
        out.push((id, e));
    }
    out.sort_by(|a, b| (a.1.at_ms, &a.0).cmp(&(b.1.at_ms, &b.0)));
    Ok(out)
}

/// A device as JSON.
pub fn device_json(d: &DeviceInfo) -> Json {
    json!({
        "device_id": ingest::hex(&d.device_id),
        "patient": d.patient,
        "patient_id": ingest::hex(&d.patient_id),
        "enrolled_at": rfc3339(d.enrolled_at_ms as i64),
        "last_sync_at": d.last_seen_ms.map(|t| rfc3339(t as i64)),
        "last_applied": d.last_applied,
        "revoked_at": d.revoked_at_ms.map(|t| rfc3339(t as i64)),
        "withdrawn": d.withdrawn,
    })
}

/// The devices as a text table.
pub fn devices_table(devices: &[DeviceInfo]) -> String {
    let mut out = format!(
        "{:<32}  {:<20}  {:<24}  {:<24}  {}\n",
        "DEVICE", "PATIENT", "ENROLLED", "LAST SYNC", "REVOKED"
    );
    for d in devices {
        let revoked = match (d.revoked_at_ms, d.withdrawn) {
            (Some(t), true) => format!("{} (withdrawn)", rfc3339(t as i64)),
            (Some(t), false) => rfc3339(t as i64),
            (None, _) => "-".into(),
        };
        out.push_str(&format!(
            "{:<32}  {:<20}  {:<24}  {:<24}  {}\n",
            ingest::hex(&d.device_id),
            d.patient,
            rfc3339(d.enrolled_at_ms as i64),
            d.last_seen_ms.map_or("-".into(), |t| rfc3339(t as i64)),
            revoked
        ));
    }
    out
}

/// Revokes a device given as 32 hex characters.
pub fn revoke(storage: &dyn Storage, device: &str, now_ms: u64) -> Result<RevokeOutcome, Error> {
    let id: [u8; 16] = cairn_core::crypto::from_hex(device.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Usage("DEVICE_ID must be 32 hex characters".into()))?;
    match storage.revoke(&id, now_ms)? {
        RevokeOutcome::Unknown => Err(Error::Runtime("no such device".into())),
        other => Ok(other),
    }
}
