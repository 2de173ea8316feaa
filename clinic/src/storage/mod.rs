//! The server's storage: one method per transaction the handler and the
//! commands need, not a generic query layer, so that each backend writes
//! its SQL for its engine (docs/sync-design.md §9).
//!
//! The schema is the same on every backend: `clinic_id` first in every
//! primary and unique key; idempotency carried by unique constraints and
//! `INSERT … ON CONFLICT DO NOTHING`, never by searching before inserting.
//! Patient content (change bodies, record states, patient names, enrollment
//! secrets) and private keys are sealed with the storage key ([`crate::seal`]);
//! ids, sequence numbers, feed positions, HLCs, times, kinds, ops and revoked
//! flags are plaintext.
//!
//! Two backends: SQLite (`--data DIR`, [`sqlite::Sqlite`]) for one machine,
//! PostgreSQL (`--database URL`, [`postgres::Postgres`]) for several
//! stateless `serve` processes on one database. They share the tables, the
//! rules ([`crate::ingest`]) and the sealing; each writes its SQL for its
//! engine.
//!
//! The methods are synchronous: the HTTP layer calls the handler on tokio's
//! blocking pool. A backend serializes a device's batches and a patient's
//! ingest itself (SQLite: one writer; PostgreSQL: the device's row locked
//! `FOR UPDATE`, then the patient's feed row, updated in the transaction).

pub mod postgres;
pub mod sqlite;

use cairn_core::sync::messages::{Change, EnrollBody, Id16, RecordId, Rejected};

use crate::Error;
use crate::ingest::Candidate;
use crate::keys::KeySet;

/// A device as the handler sees it before opening a request.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its patient.
    pub patient_id: Id16,
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// Whether the clinic revoked it (or it withdrew).
    pub revoked: bool,
}

/// The request a transaction applies, for the replay table.
#[derive(Debug, Clone, Copy)]
pub struct RequestRef {
    /// The sending device (for enroll, the id derived from its key).
    pub device_id: Id16,
    /// The request id.
    pub request_id: Id16,
    /// SHA-256 of the whole request.
    pub request_hash: [u8; 32],
    /// Server time, ms.
    pub now_ms: u64,
}

/// An enroll request, opened and its signature checked.
pub struct EnrollTx<'a> {
    /// The request.
    pub request: RequestRef,
    /// The body (device key, enrollment id, proof, categories).
    pub body: &'a EnrollBody,
}

/// What an enroll transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollOutcome {
    /// Enrolled (or enrolled again by the same key after a lost reply).
    Enrolled {
        /// The patient's id.
        patient_id: Id16,
        /// What was already applied from this device (0 for a new one).
        last_applied: u64,
    },
    /// The request id was seen before.
    Replayed,
    /// No such enrollment, or the proof is wrong.
    BadProof,
    /// Used by another device key.
    Used,
    /// Past its expiry.
    Expired,
    /// Cancelled by the clinic.
    Revoked,
    /// This device key was enrolled and then revoked.
    DeviceRevoked,
    /// This device key is already enrolled for another patient.
    OtherPatient,
}

/// A push request, opened and checked as far as that needs no database.
pub struct PushTx {
    /// The request.
    pub request: RequestRef,
    /// The header's batch range.
    pub first: u64,
    /// The header's batch range.
    pub last: u64,
    /// The batch, after [`crate::ingest::check_batch`].
    pub changes: Vec<Candidate>,
    /// Where the pull starts: `None` from the beginning (the device's own
    /// changes included), else after a feed position, if the change there
    /// is still the one the device saw.
    pub pull_after: Option<crate::ingest::PullFrom>,
}

/// What a push transaction did.
#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    /// Applied; the reply's fields.
    Applied {
        /// Field 1.
        last_applied: u64,
        /// Field 3.
        rejected: Vec<Rejected>,
        /// Field 4.
        restamped: Vec<(Id16, u64)>,
        /// Field 5.
        pulled: Vec<Change>,
        /// Field 6.
        cursor: Vec<u8>,
        /// Field 7.
        more: bool,
        /// How many changes were stored (not duplicates).
        stored: usize,
    },
    /// The request id was seen before.
    Replayed,
    /// The batch starts after `last_applied + 1`; nothing applied.
    Gap {
        /// The device's last applied sequence number.
        last_applied: u64,
    },
    /// A sequence number was reused; nothing applied.
    SequenceReused {
        /// The device's last applied sequence number.
        last_applied: u64,
        /// The `(seq, change id)` held from this device for seqs from the
        /// batch's first to `last_applied` (at most [`crate::ingest::MAX_HELD`]).
        held: Vec<cairn_core::sync::messages::Held>,
    },
    /// The device was revoked meanwhile.
    DeviceRevoked,
}

/// What a withdraw transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawOutcome {
    /// The device is revoked and its data no longer shown.
    Withdrawn {
        /// The device's last applied sequence number.
        last_applied: u64,
    },
    /// The request id was seen before.
    Replayed,
    /// The device was revoked meanwhile.
    DeviceRevoked,
}

/// A new enrollment, for its code.
pub struct NewEnrollment {
    /// The patient (created if new).
    pub patient_id: Id16,
    /// The enrollment's id.
    pub enrollment_id: Id16,
    /// The one-time secret (only ever printed in the code).
    pub secret: zeroize::Zeroizing<[u8; 16]>,
}

/// A device, for the `devices` command.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Its id.
    pub device_id: Id16,
    /// Its patient's id.
    pub patient_id: Id16,
    /// Its patient's name.
    pub patient: String,
    /// When it enrolled, ms.
    pub enrolled_at_ms: u64,
    /// Its last request, ms.
    pub last_seen_ms: Option<u64>,
    /// Its last applied sequence number.
    pub last_applied: u64,
    /// When it was revoked, ms.
    pub revoked_at_ms: Option<u64>,
    /// Whether the patient withdrew it (rather than the clinic revoking it).
    pub withdrawn: bool,
}

/// A record's current state: its tips, winner first.
#[derive(Debug, Clone)]
pub struct RecordState {
    /// The record.
    pub record_id: RecordId,
    /// The tips, winner first.
    pub tips: Vec<Change>,
}

/// A patient's records of one kind, and the devices whose data is no
/// longer shown (withdrawn).
pub struct PatientRecords {
    /// The records.
    pub records: Vec<RecordState>,
    /// Devices the patient withdrew.
    pub withdrawn: Vec<Id16>,
}

/// What `revoke` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now.
    Revoked,
    /// It was revoked before.
    AlreadyRevoked,
    /// No such device.
    Unknown,
}

/// The clinic's author of a patient's records.
#[derive(Debug, Clone, Copy)]
pub struct ClinicAuthor {
    /// The patient.
    pub patient_id: Id16,
    /// The author (device) id.
    pub author: Id16,
    /// Its last applied sequence number.
    pub last_applied: u64,
}

/// The current HPKE key after a rotation.
#[derive(Debug, Clone, Copy)]
pub struct Rotated {
    /// The new key's id.
    pub key_id: u32,
    /// How many retired keys past their grace period were deleted.
    pub purged: usize,
}

/// A storage backend.
pub trait Storage: Send + Sync {
    /// The `keys_version` (changes whenever the keys or the epoch change).
    fn keys_version(&self) -> Result<i64, Error>;
    /// The clinic's keys and epoch, opened.
    fn load_keys(&self) -> Result<KeySet, Error>;
    /// A device of this clinic.
    fn device(&self, device_id: &Id16) -> Result<Option<Device>, Error>;
    /// §9 "Server, enroll", in one transaction with the replay record.
    fn enroll(&self, tx: &EnrollTx<'_>) -> Result<EnrollOutcome, Error>;
    /// §9 "Server, push" and the pull, in one transaction with the replay
    /// record.
    fn ingest_batch(&self, tx: PushTx) -> Result<PushOutcome, Error>;
    /// A withdraw request, in one transaction with the replay record.
    fn withdraw(&self, request: &RequestRef) -> Result<WithdrawOutcome, Error>;

    /// A new enrollment for the patient named `name` (created if new).
    fn create_enrollment(
        &self,
        name: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<NewEnrollment, Error>;
    /// Every device of the clinic.
    fn devices(&self) -> Result<Vec<DeviceInfo>, Error>;
    /// Revokes a device.
    fn revoke(&self, device_id: &Id16, now_ms: u64) -> Result<RevokeOutcome, Error>;
    /// The records of `record_kind` of the patient named `name`, or `None`
    /// when there is no such patient.
    fn records(&self, name: &str, record_kind: u64) -> Result<Option<PatientRecords>, Error>;
    /// A new current HPKE key, certified by the root; the old one retires
    /// now and opens requests for 30 more days.
    fn rotate_keys(&self, now_ms: u64) -> Result<Rotated, Error>;
    /// The base URL devices reach this server at, as `serve` last recorded.
    fn server_url(&self) -> Result<Option<String>, Error>;
    /// Records the base URL.
    fn set_server_url(&self, url: Option<&str>) -> Result<(), Error>;
    /// Forgets request ids older than `before_ms` (replays that old are
    /// refused as stale anyway).
    fn prune_requests(&self, before_ms: u64) -> Result<usize, Error>;
    /// The clinic's author for the patient named `name` (`None`: no such
    /// patient): made on first use, a device row of the patient whose id is
    /// [`crate::ingest::clinic_author_id`] and whose key is the clinic's
    /// root `root_public`, so that clinic-written changes go through the
    /// same push transaction as a device's.
    fn clinic_author(
        &self,
        name: &str,
        root_public: &[u8; 32],
        now_ms: u64,
    ) -> Result<Option<ClinicAuthor>, Error>;
}

// --- shared by the backends ----------------------------------------------------

/// u64 values (sequence numbers, HLCs, times) are stored as signed 64-bit
/// integers (SQLite's INTEGER, PostgreSQL's BIGINT), bit for bit.
pub(crate) fn i(v: u64) -> i64 {
    v as i64
}
pub(crate) fn u(v: i64) -> u64 {
    v as u64
}

pub(crate) fn id16(v: Vec<u8>) -> Result<Id16, Error> {
    v.try_into()
        .map_err(|_| Error::Runtime("the database holds an id that is not 16 bytes".into()))
}

pub(crate) fn arr32(v: &[u8]) -> Result<[u8; 32], Error> {
    v.try_into()
        .map_err(|_| Error::Runtime("the database holds a key that is not 32 bytes".into()))
}

/// Where a clinic key's private half is sealed.
pub(crate) fn key_place<'a>(clinic: &'a Id16, key_id: &'a [u8; 4]) -> crate::seal::Place<'a> {
    crate::seal::Place {
        clinic,
        patient: &[],
        table: "keys",
        record: key_id,
        change: &[],
    }
}

/// A random key id, never 0.
pub(crate) fn random_key_id(sealer: &crate::seal::Sealer) -> Result<u32, Error> {
    loop {
        let id = u32::from_be_bytes(sealer.random::<4>()?);
        if id != 0 {
            return Ok(id);
        }
    }
}

/// A device's sharing categories as stored (sealed): field 1, repeated.
pub(crate) fn encode_categories(categories: &[u64]) -> Vec<u8> {
    let mut w = cairn_core::sync::body::FieldWriter::with_capacity(16);
    for c in categories {
        w.uint_always(1, *c);
    }
    w.finish()
}

/// A stored change's body, sealed (its AAD names the patient, the record
/// and the change), with the next of `nonces` (drawn for the batch). The
/// change is encoded straight into the buffer it is sealed in.
pub(crate) fn seal_change(
    sealer: &crate::seal::Sealer,
    nonces: &mut crate::seal::Nonces,
    clinic: &Id16,
    patient: &[u8],
    rkey: &str,
    change: &Change,
) -> Result<Vec<u8>, Error> {
    use crate::seal::PREFIX_LEN;
    let mut w = cairn_core::sync::body::FieldWriter::with_capacity(PREFIX_LEN + 256 + 16);
    w.raw(&[0; PREFIX_LEN]);
    change.encode(&mut w);
    // The plaintext is wiped if sealing fails; once sealed it is gone.
    let mut buf = zeroize::Zeroizing::new(w.finish());
    sealer.seal_prefixed(
        nonces,
        change_place(clinic, patient, rkey, &change.change_id),
        &mut buf,
    )?;
    Ok(std::mem::take(&mut *buf))
}

/// Opens [`seal_change`]'s bytes.
pub(crate) fn open_change(
    sealer: &crate::seal::Sealer,
    clinic: &Id16,
    patient: &[u8],
    rkey: &str,
    change_id: &[u8],
    sealed: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    sealer.open(change_place(clinic, patient, rkey, change_id), sealed)
}

fn change_place<'a>(
    clinic: &'a Id16,
    patient: &'a [u8],
    rkey: &'a str,
    change_id: &'a [u8],
) -> crate::seal::Place<'a> {
    crate::seal::Place {
        clinic,
        patient,
        table: "changes",
        record: rkey.as_bytes(),
        change: change_id,
    }
}

/// A record's tips as stored (sealed; the AAD names the patient, the kind
/// and the record).
pub(crate) fn seal_tips(
    sealer: &crate::seal::Sealer,
    clinic: &Id16,
    patient: &[u8],
    kind: u64,
    rkey: &str,
    tips: &[Change],
) -> Result<Vec<u8>, Error> {
    let record = format!("{kind}/{rkey}");
    let plain = zeroize::Zeroizing::new(crate::ingest::encode_tips(tips));
    sealer.seal(record_place(clinic, patient, &record), &plain)
}

/// Opens [`seal_tips`]'s bytes.
pub(crate) fn open_tips(
    sealer: &crate::seal::Sealer,
    clinic: &Id16,
    patient: &[u8],
    kind: u64,
    rkey: &str,
    sealed: &[u8],
) -> Result<Vec<Change>, Error> {
    let record = format!("{kind}/{rkey}");
    let plain = sealer.open(record_place(clinic, patient, &record), sealed)?;
    crate::ingest::decode_tips(&plain)
        .ok_or_else(|| Error::Runtime("a record's state does not decode".into()))
}

fn record_place<'a>(
    clinic: &'a Id16,
    patient: &'a [u8],
    record: &'a str,
) -> crate::seal::Place<'a> {
    crate::seal::Place {
        clinic,
        patient,
        table: "records",
        record: record.as_bytes(),
        change: &[],
    }
}

/// A patient's feed: the last position given, the running hash there, and
/// the patient's server clock.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    pub position: u64,
    pub hash: Vec<u8>,
    pub clock: cairn_core::sync::hlc::Hlc,
}

/// What the database said about a batch before its changes are placed.
/// Each backend fills it with its own SQL; [`plan_batch`] reads it.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// The owner of each random record id of the batch (record key ->
    /// patient id): the first patient to use it.
    pub owners: std::collections::HashMap<String, Vec<u8>>,
    /// Of the changes at or below `last_applied`: those this device stored
    /// (change id -> HLC stored).
    pub held: std::collections::HashMap<Id16, u64>,
    /// Of the changes at or below `last_applied`: those rejected before
    /// (change id -> reason code).
    pub rejected_before: std::collections::HashMap<Id16, u64>,
    /// Change ids an insert of this batch found taken: by which device,
    /// with which HLC; `None` when no stored change holds the id (the
    /// insert met the device's seq or the feed position instead).
    pub taken: std::collections::HashMap<Id16, Option<(Vec<u8>, u64)>>,
}

/// A change to store: stamped, with its record key, feed position and the
/// feed's hash there.
#[derive(Debug, Clone)]
pub(crate) struct NewChange {
    pub change: Change,
    pub rkey: String,
    pub position: u64,
    pub hash: [u8; 16],
}

/// What a batch does, computed from the batch and [`Known`] before any
/// change is written.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Rejections to record: (seq, change id, reason code).
    pub rejections: Vec<(u64, Id16, u64)>,
    /// The reply's field 3.
    pub rejected: Vec<Rejected>,
    /// The reply's field 4.
    pub restamped: Vec<(Id16, u64)>,
    /// The changes to store, in feed order.
    pub store: Vec<NewChange>,
    /// The feed after them.
    pub feed: Feed,
    /// Record keys whose owner row this batch inserted: new records, whose
    /// tips need no reading (filled by the backend).
    pub new_records: std::collections::HashSet<String>,
}

impl Plan {
    fn reject(
        &mut self,
        here: &mut std::collections::HashMap<Id16, u64>,
        seq: u64,
        change_id: Id16,
        code: u64,
        reason: &str,
    ) {
        self.rejections.push((seq, change_id, code));
        here.entry(change_id).or_insert(code);
        self.rejected.push(Rejected {
            seq,
            change_id,
            code,
            reason: reason.to_owned(),
        });
    }
}

/// The valid changes of a batch.
pub(crate) fn valid(changes: &[Candidate]) -> impl Iterator<Item = &Change> {
    changes.iter().filter_map(|c| match c {
        Candidate::Valid(ch) => Some(ch),
        Candidate::Rejected { .. } => None,
    })
}

/// The random record ids a batch's valid changes use, as record keys,
/// each once, sorted (rows are locked in one order).
pub(crate) fn owned_keys(changes: &[Candidate]) -> Vec<String> {
    let mut keys: Vec<String> = valid(changes)
        .filter(|c| matches!(c.record_id, RecordId::Bytes(_)))
        .map(|c| crate::ingest::record_key(&c.record_id))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The ids of a batch's valid changes at or below `last_applied` (sent
/// again, or a reused sequence number).
pub(crate) fn sent_again(changes: &[Candidate], last_applied: u64) -> Vec<Id16> {
    valid(changes)
        .filter(|c| c.seq <= last_applied)
        .map(|c| c.change_id)
        .collect()
}

/// §9 "Server, push", steps 2-5, in memory: walks the batch in order and
/// says what to record, reply and store, given what the database holds
/// (`known`). `None`: a sequence number was reused (nothing is applied).
///
/// The backends insert [`Plan::store`] with `ON CONFLICT DO NOTHING`; a
/// change id found taken goes into [`Known::taken`] and the batch is
/// planned again (after the inserts are undone), so that feed positions
/// stay gapless and the clock is advanced exactly as one change at a time
/// would.
pub(crate) fn plan_batch(
    changes: &[Candidate],
    patient: &[u8],
    device: &[u8],
    last_applied: u64,
    feed: &Feed,
    known: &Known,
    now_ms: u64,
) -> Option<Plan> {
    use crate::ingest::{self, REASON_FOREIGN, REASON_MALFORMED, reason_text};
    let mut p = Plan {
        rejections: Vec::new(),
        rejected: Vec::new(),
        restamped: Vec::new(),
        store: Vec::new(),
        feed: feed.clone(),
        new_records: std::collections::HashSet::new(),
    };
    // Rejections recorded and changes stored by this batch, by change id.
    let mut rejected_here = std::collections::HashMap::new();
    let mut stored_here: std::collections::HashMap<Id16, u64> = std::collections::HashMap::new();
    for cand in changes {
        let ch = match cand {
            Candidate::Rejected {
                seq,
                change_id,
                code,
                reason,
            } => {
                p.reject(&mut rejected_here, *seq, *change_id, *code, reason);
                continue;
            }
            Candidate::Valid(ch) => ch,
        };
        let rkey = ingest::record_key(&ch.record_id);
        if let RecordId::Bytes(_) = ch.record_id
            && known.owners.get(&rkey).map(Vec::as_slice) != Some(patient)
        {
            let code = REASON_FOREIGN;
            p.reject(
                &mut rejected_here,
                ch.seq,
                ch.change_id,
                code,
                reason_text(code),
            );
            continue;
        }
        if ch.seq <= last_applied {
            // At or below last applied only a duplicate may come (or a
            // change rejected before, which is said again).
            if let Some(&hlc) = known.held.get(&ch.change_id) {
                // Its re-stamp, if it had one, is said again (the first
                // reply may have been lost).
                if hlc != ch.hlc {
                    p.restamped.push((ch.change_id, hlc));
                }
                continue;
            }
            let was = known
                .rejected_before
                .get(&ch.change_id)
                .or_else(|| rejected_here.get(&ch.change_id))
                .copied();
            if let Some(code) = was {
                p.reject(
                    &mut rejected_here,
                    ch.seq,
                    ch.change_id,
                    code,
                    reason_text(code),
                );
                continue;
            }
            return None;
        }
        let mut ch = ch.clone();
        let sent_hlc = ch.hlc;
        let restamp = ingest::stamp(&mut p.feed.clock, &mut ch, now_ms);
        // The change id is stored already: from this device, a duplicate
        // whatever its seq.
        let holder = match stored_here.get(&ch.change_id) {
            Some(&hlc) => Some(Some((device, hlc))),
            None => known
                .taken
                .get(&ch.change_id)
                .map(|h| h.as_ref().map(|(d, hlc)| (d.as_slice(), *hlc))),
        };
        match holder {
            None => {}
            Some(Some((d, hlc))) if d == device => {
                if hlc != sent_hlc {
                    p.restamped.push((ch.change_id, hlc));
                }
                continue;
            }
            Some(Some(_)) => {
                p.reject(
                    &mut rejected_here,
                    ch.seq,
                    ch.change_id,
                    REASON_MALFORMED,
                    "the change id belongs to another device",
                );
                continue;
            }
            // (device, seq) above last applied is never stored while the
            // device is locked, and the feed position is the locked
            // counter's: this cannot happen.
            Some(None) => return None,
        }
        let hash = ingest::feed_hash(&p.feed.hash, &ch.change_id);
        p.feed.position += 1;
        p.feed.hash = hash.to_vec();
        stored_here.insert(ch.change_id, ch.hlc);
        if let Some(h) = restamp {
            p.restamped.push((ch.change_id, h));
        }
        p.store.push(NewChange {
            change: ch,
            rkey,
            position: p.feed.position,
            hash,
        });
    }
    Some(p)
}

/// The records a plan's changes touch, (kind, record key), each once, in
/// the order first touched.
pub(crate) fn touched(store: &[NewChange]) -> Vec<(u64, &str)> {
    let mut seen = std::collections::HashSet::new();
    store
        .iter()
        .map(|n| (n.change.kind, n.rkey.as_str()))
        .filter(|k| seen.insert(*k))
        .collect()
}

/// A record's tips as its row holds them: sealed (`sealed_state`), or,
/// when the tips are exactly one stored change, that change's feed
/// position (`tip_position`), so that a new record's change is not stored
/// twice.
#[derive(Debug)]
pub(crate) enum TipsRow {
    Sealed(Vec<u8>),
    Change(u64),
}

impl TipsRow {
    /// The row's `sealed_state` and `tip_position`.
    pub(crate) fn columns(&self) -> (Option<&[u8]>, Option<i64>) {
        match self {
            TipsRow::Sealed(s) => (Some(s), None),
            TipsRow::Change(p) => (None, Some(i(*p))),
        }
    }
}

/// Step 5's merge: the stored changes merged, in feed order, into their
/// records' tips (`tips`: each touched record's tips before the batch,
/// absent for a new record). Returns the records whose tips changed,
/// each once: (kind, record key, tips, and the feed position of the
/// stored change they are, when they are exactly one).
pub(crate) fn merge_batch(
    store: Vec<NewChange>,
    mut tips: std::collections::HashMap<(u64, String), Vec<Change>>,
) -> Vec<(u64, String, Vec<Change>, Option<u64>)> {
    // Each touched record's slot, in the order first touched (most records
    // are touched once a batch: no key is copied or looked up again).
    let mut count = 0;
    let slots: Vec<usize> = {
        let mut index = std::collections::HashMap::with_capacity(store.len());
        store
            .iter()
            .map(|n| {
                *index
                    .entry((n.change.kind, n.rkey.as_str()))
                    .or_insert_with(|| {
                        count += 1;
                        count - 1
                    })
            })
            .collect()
    };
    // Per slot: kind, key, tips, whether they changed, and the feed
    // position of the stored change they are, when they are exactly one.
    type Slot = (u64, String, Vec<Change>, bool, Option<u64>);
    let mut records: Vec<Option<Slot>> = std::iter::repeat_with(|| None).take(count).collect();
    for (n, slot) in store.into_iter().zip(slots) {
        let record = records[slot].get_or_insert_with(|| {
            let before = if tips.is_empty() {
                Vec::new()
            } else {
                tips.remove(&(n.change.kind, n.rkey.clone()))
                    .unwrap_or_default()
            };
            (n.change.kind, n.rkey, before, false, None)
        });
        let before = std::mem::take(&mut record.2);
        let stored = n.change.clone();
        let (after, applied) = crate::ingest::merge_into(before, n.change);
        if applied != cairn_core::sync::merge::Applied::Seen {
            record.3 = true;
            record.4 = (after.len() == 1 && after[0] == stored).then_some(n.position);
        }
        record.2 = after;
    }
    records
        .into_iter()
        .flatten()
        .filter(|r| r.3)
        .map(|(kind, rkey, tips, _, is)| (kind, rkey, tips, is))
        .collect()
}

/// A record's row for its tips: the stored change's position when the
/// tips are exactly it, else the tips sealed.
pub(crate) fn tips_row(
    sealer: &crate::seal::Sealer,
    clinic: &Id16,
    patient: &[u8],
    (kind, rkey): (u64, &str),
    tips: &[Change],
    is_change: Option<u64>,
) -> Result<TipsRow, Error> {
    Ok(match is_change {
        Some(position) => TipsRow::Change(position),
        None => TipsRow::Sealed(seal_tips(sealer, clinic, patient, kind, rkey, tips)?),
    })
}

/// A record's tips from its row: `sealed_state`, or the stored change its
/// `tip_position` names (`change`: that change's id and sealed body, read
/// with the row). A change that is not this record's does not open (its
/// seal names its record) or is refused.
pub(crate) fn read_tips(
    sealer: &crate::seal::Sealer,
    clinic: &Id16,
    patient: &[u8],
    (kind, rkey): (u64, &str),
    sealed_state: Option<&[u8]>,
    change: Option<(&[u8], &[u8])>,
) -> Result<Vec<Change>, Error> {
    let bad = || Error::Runtime("a record's state in table records does not open".into());
    match (sealed_state, change) {
        (Some(sealed), _) => open_tips(sealer, clinic, patient, kind, rkey, sealed),
        (None, Some((id, body))) => {
            let plain = open_change(sealer, clinic, patient, rkey, id, body).map_err(|_| bad())?;
            let c = Change::decode(&plain).map_err(|_| bad())?;
            if c.kind != kind || crate::ingest::record_key(&c.record_id) != rkey {
                return Err(bad());
            }
            Ok(vec![c])
        }
        (None, None) => Err(bad()),
    }
}
