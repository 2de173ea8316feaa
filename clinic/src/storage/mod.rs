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
