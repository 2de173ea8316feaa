//! Records the clinic sets for a patient (custom trackers, reminder plans,
//! treatment sessions, the safety plan), and the clinic's view of them.
//!
//! A clinic edit is a change like a device's, authored by the clinic's
//! author for the patient ([`crate::ingest::clinic_author_id`]) and taken in
//! by the same push transaction ([`Storage::ingest_batch`]): numbered,
//! idempotent, fed to every device of the patient, merged field by field
//! (docs/sync-protocol.md §8). Only the fields the edit changes are stamped,
//! so a field the patient changed meanwhile keeps the patient's version.

use cairn_core::sync::hlc::Hlc;
use cairn_core::sync::lww::{self, Cells};
use cairn_core::sync::messages::{Change, Id16, Op, RecordId, kind};
use serde_json::{Value as Json, json};

use crate::storage::{PushOutcome, PushTx, RequestRef, Storage};
use crate::{Error, Server, ingest};

/// The record kinds the clinic sets, with their names in the commands.
pub const KINDS: [(u64, &str); 4] = [
    (kind::TRACKER, "trackers"),
    (kind::REMINDER, "reminders"),
    (kind::TREATMENT_SESSION, "sessions"),
    (kind::SAFETY_PLAN, "safety_plan"),
];

/// A record as the clinic holds it: its merged cells.
pub struct Held {
    /// Its kind.
    pub kind: u64,
    /// The record.
    pub id: RecordId,
    /// Its cells, merged from every change.
    pub cells: Cells,
}

impl Held {
    /// The record's body as every replica shows it (the merged fields, or
    /// the latest put's record when they are not valid together), or
    /// `None` when it is removed.
    pub fn body(&self) -> Option<Vec<u8>> {
        self.cells.effective_body(self.kind, &self.id)
    }
}

/// Every record of `record_kind` of the patient named `name`.
pub fn held(storage: &dyn Storage, name: &str, record_kind: u64) -> Result<Vec<Held>, Error> {
    let Some(records) = storage.records(name, record_kind)? else {
        return Err(Error::Runtime("no patient by that name".into()));
    };
    Ok(records
        .records
        .into_iter()
        .filter_map(|r| {
            let cells = r.tips.first()?.body.as_deref().map(Cells::decode)?.ok()?;
            Some(Held {
                kind: record_kind,
                id: r.record_id,
                cells,
            })
        })
        .collect())
}

/// One record of the patient, if the clinic holds it.
pub fn find(
    storage: &dyn Storage,
    name: &str,
    record_kind: u64,
    id: &RecordId,
) -> Result<Option<Held>, Error> {
    Ok(held(storage, name, record_kind)?
        .into_iter()
        .find(|h| h.id == *id))
}

/// Writes a record for the patient named `name`: `record` is its whole body
/// after the edit (`None`: delete). Fields equal to what the clinic holds
/// are not stamped. Returns false when nothing changed.
pub fn write(
    server: &Server,
    name: &str,
    record_kind: u64,
    id: &RecordId,
    record: Option<Vec<u8>>,
    now_ms: u64,
) -> Result<bool, Error> {
    let storage = server.storage();
    let root = server.keys()?.root_public();
    // A concurrent edit may take the author's next number first: read again.
    for _ in 0..8 {
        let Some(author) = storage.clinic_author(name, &root, now_ms)? else {
            return Err(Error::Runtime("no patient by that name".into()));
        };
        let held = find(storage, name, record_kind, id)?;
        let shown = held.as_ref().and_then(Held::body);
        let cells = held.map_or_else(Cells::default, |h| h.cells);
        let Some((op, body)) = cells
            .diff(record_kind, id, shown.as_deref(), record.as_deref())
            .map_err(|_| Error::Usage("the record does not encode".into()))?
        else {
            return Ok(false);
        };
        let seq = author.last_applied + 1;
        let change = Change {
            change_id: random16()?,
            seq,
            // Ahead of every stamp the record holds: the clinic's edit is
            // the latest of the fields it changes.
            hlc: Hlc(cells.hlc()).tick(now_ms).0,
            kind: record_kind,
            record_id: id.clone(),
            op,
            vv: vec![(author.author, seq)],
            body: (op == Op::Put).then(|| body.encode()),
            category: lww::category(record_kind) as u64,
            author: author.author,
            incarnation: 0,
        };
        let changes = ingest::check_batch(seq, seq, &author.author, vec![change.clone()]);
        if let Some(ingest::Candidate::Rejected { reason, .. }) = changes.first() {
            return Err(Error::Usage(format!("the record is not valid: {reason}")));
        }
        let encoded = ingest::encode_change(&change);
        let outcome = storage.ingest_batch(PushTx {
            request: RequestRef {
                device_id: author.author,
                request_id: random16()?,
                request_hash: cairn_core::sync::wire::sha256(&encoded),
                now_ms,
            },
            first: seq,
            last: seq,
            changes,
            // Nothing to pull.
            pull_after: Some(ingest::PullFrom {
                after: i64::MAX as u64,
                check: None,
            }),
        })?;
        match outcome {
            PushOutcome::Applied { rejected, .. } => {
                if let Some(r) = rejected.first() {
                    return Err(Error::Usage(format!(
                        "the record is not valid: {}",
                        r.reason
                    )));
                }
                return Ok(true);
            }
            PushOutcome::Gap { .. }
            | PushOutcome::SequenceReused { .. }
            | PushOutcome::Replayed => {
                continue;
            }
            PushOutcome::DeviceRevoked => {
                return Err(Error::Runtime(
                    "the clinic's author for this patient is revoked".into(),
                ));
            }
        }
    }
    Err(Error::Busy)
}

/// A new random record id.
pub fn new_id() -> Result<RecordId, Error> {
    Ok(RecordId::Bytes(random16()?))
}

fn random16() -> Result<Id16, Error> {
    let mut b = [0u8; 16];
    cairn_core::crypto::fill_random(&mut b)
        .map_err(|_| Error::Runtime("the system random source failed".into()))?;
    Ok(b)
}

/// A record id given on the command line (32 hex characters).
pub fn parse_id(s: &str) -> Result<RecordId, Error> {
    cairn_core::crypto::from_hex(s.trim())
        .and_then(|b| b.try_into().ok())
        .map(RecordId::Bytes)
        .ok_or_else(|| Error::Usage("ID must be 32 hex characters".into()))
}

/// The patient's trackers, reminder plans, sessions and safety plan as the
/// clinic holds them (removed records left out), as JSON: `{"trackers":
/// [...], "reminders": [...], "sessions": [...], "safety_plan": {...}}`,
/// each record with its `id`.
pub fn records_json(storage: &dyn Storage, name: &str) -> Result<Json, Error> {
    let mut out = serde_json::Map::new();
    for (k, label) in KINDS {
        let mut list = Vec::new();
        for h in held(storage, name, k)? {
            let Some(body) = h.body() else { continue };
            let rid = h.id.to_store();
            let value = match k {
                kind::TRACKER => lww::tracker_from(&rid, &body).map(|t| json!(t)),
                kind::REMINDER => lww::reminder_from(&rid, 1, &body).map(|r| {
                    let mut v = json!(r);
                    if let Some(o) = v.as_object_mut() {
                        o.remove("revision");
                        o.remove("seed");
                    }
                    v
                }),
                kind::TREATMENT_SESSION => lww::session_from(&rid, &body).map(|e| {
                    json!({"id": e.id, "kind": e.kind, "at": crate::admin::rfc3339(e.at_ms), "zone": e.zone})
                }),
                _ => lww::safety_plan_from(&body).map(|p| json!(p)),
            };
            let Ok(mut v) = value else {
                tracing::warn!(record = %rid, "a held record does not decode; left out");
                continue;
            };
            if let Some(o) = v.as_object_mut() {
                o.insert("id".into(), json!(rid));
            }
            list.push(v);
        }
        if k == kind::SAFETY_PLAN {
            out.insert(label.into(), list.pop().unwrap_or(Json::Null));
        } else {
            out.insert(label.into(), Json::Array(list));
        }
    }
    Ok(Json::Object(out))
}

/// Every patient's flags as the clinic holds them, open ones first, then
/// newest first, as JSON: each `{patient, id, kind, title, reason, state,
/// raised_at, acknowledged_at, acknowledged_by, source}`.
pub fn flags_json(storage: &dyn Storage) -> Result<Vec<Json>, Error> {
    let mut patients: Vec<String> = storage.devices()?.into_iter().map(|d| d.patient).collect();
    patients.sort();
    patients.dedup();
    let mut all = Vec::new();
    for name in patients {
        for h in held(storage, &name, kind::FLAG)? {
            let Some(body) = h.body() else { continue };
            let Ok(f) = lww::flag_from(&h.id.to_store(), &body) else {
                tracing::warn!(record = %h.id.to_store(), "a held flag does not decode; left out");
                continue;
            };
            all.push((name.clone(), f));
        }
    }
    all.sort_by(|(_, a), (_, b)| {
        (
            a.acknowledged_at_ms.is_some(),
            std::cmp::Reverse(a.raised_at_ms),
        )
            .cmp(&(
                b.acknowledged_at_ms.is_some(),
                std::cmp::Reverse(b.raised_at_ms),
            ))
    });
    Ok(all
        .into_iter()
        .map(|(patient, f)| {
            json!({
                "patient": patient,
                "id": f.id,
                "kind": f.kind,
                "title": cairn_core::flags::rule(&f.kind).map(|r| r.title),
                "reason": f.reason,
                "state": f.state(),
                "raised_at": crate::admin::rfc3339(f.raised_at_ms),
                "acknowledged_at": f.acknowledged_at_ms.map(crate::admin::rfc3339),
                "acknowledged_by": f.acknowledged_by,
                "source": f.source,
            })
        })
        .collect())
}

/// Acknowledges a patient's flag: sets when (now) and by whom; the patient
/// sees it at their next sync. Returns false when it was acknowledged
/// already (the first acknowledgement stands).
pub fn ack_flag(
    server: &Server,
    name: &str,
    id: &RecordId,
    by: Option<&str>,
    now_ms: u64,
) -> Result<bool, Error> {
    let Some(body) = find(server.storage(), name, kind::FLAG, id)?.and_then(|h| h.body()) else {
        return Err(Error::Runtime("no such flag for this patient".into()));
    };
    let mut f = lww::flag_from(&id.to_store(), &body).map_err(|e| Error::Runtime(e.to_string()))?;
    if f.acknowledged_at_ms.is_some() {
        return Ok(false);
    }
    f.acknowledged_at_ms = Some(now_ms as i64);
    f.acknowledged_by = by.map(str::to_owned);
    let f = f.checked().map_err(|e| Error::Usage(e.to_string()))?;
    write(
        server,
        name,
        kind::FLAG,
        id,
        Some(lww::flag_body(&f)),
        now_ms,
    )
}

/// What the clinic has told the patient's devices (record kind 9).
pub fn clinic_settings(
    storage: &dyn Storage,
    name: &str,
) -> Result<cairn_core::ClinicSettings, Error> {
    let id = RecordId::Text(cairn_core::flags::CLINIC_SETTINGS_ID.into());
    match find(storage, name, kind::CLINIC_SETTINGS, &id)?.and_then(|h| h.body()) {
        Some(b) => lww::clinic_settings_from(&b).map_err(|e| Error::Runtime(e.to_string())),
        None => Ok(cairn_core::ClinicSettings::default()),
    }
}

/// Sets what the clinic tells the patient's devices; fields left `None`
/// keep their value. Returns false when nothing changed.
pub fn set_clinic_settings(
    server: &Server,
    name: &str,
    new: cairn_core::ClinicSettings,
    now_ms: u64,
) -> Result<bool, Error> {
    let mut c = clinic_settings(server.storage(), name)?;
    if new.clinic_name.is_some() {
        c.clinic_name = new.clinic_name;
    }
    if new.review_within.is_some() {
        c.review_within = new.review_within;
    }
    if new.no_checkin_days.is_some() {
        c.no_checkin_days = new.no_checkin_days;
    }
    let c = c.checked().map_err(|e| Error::Usage(e.to_string()))?;
    let id = RecordId::Text(cairn_core::flags::CLINIC_SETTINGS_ID.into());
    write(
        server,
        name,
        kind::CLINIC_SETTINGS,
        &id,
        Some(lww::clinic_settings_body(&c)),
        now_ms,
    )
}
