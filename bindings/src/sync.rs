//! Sync with the clinic: [`ClinicSync`], taken from a journal with
//! `journal.sync()`. The core builds every byte; the app does the HTTP with
//! the platform's client: `prepare()` gives a [`SyncRequest`] to POST,
//! `receive()` applies the reply's bytes, and `more` says whether to go on.
//! See docs/sync-protocol.md and docs/native-api.md.

use crate::error::{CairnError, Result};
use crate::journal::{ChangeTable, Entry, Journal, JournalChange};
use crate::pool::Pool;
use crate::values::{EntryId, Timestamp, instant_out};
use cairn_core::sync::device as dev;
use std::sync::Arc;

/// What a patient shares with the clinic, by kind of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SharingCategory {
    /// Ratings and measurements: mood, anxiety, sleep, custom trackers.
    Ratings,
    /// The notes written on entries.
    Notes,
    /// Journal text.
    Journal,
    /// Medication taken or skipped.
    Medication,
    /// Questionnaire answers.
    Questionnaires,
    /// Risk flags for review.
    Flags,
    /// Reminders and what happened to them.
    Reminders,
    /// Treatment sessions (infusions, therapy sessions).
    Treatment,
    /// The safety plan.
    SafetyPlan,
}

impl From<SharingCategory> for dev::Category {
    fn from(c: SharingCategory) -> Self {
        match c {
            SharingCategory::Ratings => Self::Ratings,
            SharingCategory::Notes => Self::Notes,
            SharingCategory::Journal => Self::Journal,
            SharingCategory::Medication => Self::Medication,
            SharingCategory::Questionnaires => Self::Questionnaires,
            SharingCategory::Flags => Self::Flags,
            SharingCategory::Reminders => Self::Reminders,
            SharingCategory::Treatment => Self::Treatment,
            SharingCategory::SafetyPlan => Self::SafetyPlan,
        }
    }
}

impl From<dev::Category> for SharingCategory {
    fn from(c: dev::Category) -> Self {
        match c {
            dev::Category::Ratings => Self::Ratings,
            dev::Category::Notes => Self::Notes,
            dev::Category::Journal => Self::Journal,
            dev::Category::Medication => Self::Medication,
            dev::Category::Questionnaires => Self::Questionnaires,
            dev::Category::Flags => Self::Flags,
            dev::Category::Reminders => Self::Reminders,
            dev::Category::Treatment => Self::Treatment,
            dev::Category::SafetyPlan => Self::SafetyPlan,
        }
    }
}

/// Where a journal stands with its clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EnrollmentState {
    /// The code was read; the clinic has not confirmed yet.
    Pending,
    /// Enrolled: syncing.
    Active,
    /// The clinic revoked this device.
    Revoked,
    /// The patient withdrew.
    Withdrawn,
}

impl From<dev::Enrollment> for EnrollmentState {
    fn from(e: dev::Enrollment) -> Self {
        match e {
            dev::Enrollment::Pending => Self::Pending,
            dev::Enrollment::Active => Self::Active,
            dev::Enrollment::Revoked => Self::Revoked,
            dev::Enrollment::Withdrawn => Self::Withdrawn,
        }
    }
}

/// A request to POST: `body` to `url` with `contentType`; hand the reply's
/// bytes (HTTP 200) to `receive(requestId, ...)`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncRequest {
    /// 32 hex characters; pass it back to `receive`.
    pub request_id: String,
    /// Where to send it.
    pub url: String,
    /// The bytes to send.
    pub body: Vec<u8>,
    /// The HTTP `Content-Type`.
    pub content_type: String,
}

impl From<dev::SyncRequest> for SyncRequest {
    fn from(r: dev::SyncRequest) -> Self {
        SyncRequest {
            request_id: r.request_id,
            url: r.url,
            body: r.body,
            content_type: r.content_type.to_owned(),
        }
    }
}

/// What one exchange did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncOutcome {
    /// Changes sent.
    pub sent: i32,
    /// The last sequence number the clinic has applied from this device.
    pub acknowledged: i64,
    /// Changes received and applied (or kept as conflict versions).
    pub pulled: i32,
    /// Changes the clinic refused (see `log`).
    pub rejected: i32,
    /// Conflict versions created (see `conflicts`).
    pub conflicts: i32,
    /// Call `prepare()` again at once: more waits on either side.
    pub more: bool,
}

fn small(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<dev::SyncOutcome> for SyncOutcome {
    fn from(o: dev::SyncOutcome) -> Self {
        SyncOutcome {
            sent: small(o.sent),
            acknowledged: big(o.acknowledged),
            pulled: small(o.pulled),
            rejected: small(o.rejected),
            conflicts: small(o.conflicts),
            more: o.more,
        }
    }
}

/// Where sync stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// Enrollment state.
    pub enrollment: EnrollmentState,
    /// The clinic's server.
    pub server_url: String,
    /// The clinic's id.
    pub clinic_id: String,
    /// This device's id.
    pub device_id: String,
    /// The patient's id at the clinic (empty until the clinic confirms).
    pub patient_id: String,
    /// Local changes not yet acknowledged.
    pub pending: i64,
    /// Conflict versions waiting for the patient.
    pub conflicts: i64,
    /// When the last exchange completed.
    pub last_sync: Option<Timestamp>,
    /// The last exchange's error (no content), if it failed.
    pub last_error: Option<String>,
    /// Categories shared.
    pub sharing: Vec<SharingCategory>,
    /// When the journal was enrolled.
    pub enrolled_at: Timestamp,
}

impl From<dev::SyncStatus> for SyncStatus {
    fn from(s: dev::SyncStatus) -> Self {
        SyncStatus {
            enrollment: s.enrollment.into(),
            server_url: s.server_url,
            clinic_id: s.clinic_id,
            device_id: s.device_id,
            patient_id: s.patient_id,
            pending: big(s.pending),
            conflicts: big(s.conflicts),
            last_sync: (s.last_sync_ms != 0).then(|| instant_out(s.last_sync_ms)),
            last_error: (!s.last_error.is_empty()).then_some(s.last_error),
            sharing: s.sharing.into_iter().map(Into::into).collect(),
            enrolled_at: instant_out(s.enrolled_at_ms),
        }
    }
}

/// One category in the sharing manifest.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SharingItem {
    /// The category.
    pub category: SharingCategory,
    /// Whether it is shared.
    pub shared: bool,
    /// What it covers, in words for the patient.
    pub description: String,
}

/// What is shared with whom, in words the app can show as they are.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SharingManifest {
    /// Where sync stands.
    pub status: SyncStatus,
    /// Every category, shared or not.
    pub items: Vec<SharingItem>,
    /// What turning a category on or off does, and what reaches the
    /// patient's other devices.
    pub notes: Vec<String>,
}

/// One line of the audit log: counts, codes and the clinic's receipt.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncLogEntry {
    /// When.
    pub at: Timestamp,
    /// `enroll`, `push`, `error`, `restore`, `sharing` or `withdraw`.
    pub event: String,
    /// Changes sent.
    pub sent: i32,
    /// The last sequence number acknowledged.
    pub acknowledged: i64,
    /// Changes received.
    pub pulled: i32,
    /// Changes refused, as `seq:reason code`.
    pub rejected: Vec<String>,
    /// An error code or detail, without content.
    pub detail: String,
    /// The clinic's signed receipt (hex), when there is one.
    pub receipt: String,
}

/// A version of an entry written elsewhere at the same time as the one
/// shown. Editing or deleting the entry resolves it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConflictVersion {
    /// The entry.
    pub entry_id: EntryId,
    /// That version's content; `null`/`nil` when it deleted the entry.
    pub entry: Option<Entry>,
    /// The device that wrote it.
    pub author: String,
}

/// Sync with the clinic for one journal; stops with it (`Closed`).
#[derive(uniffi::Object)]
pub struct ClinicSync {
    pool: Arc<Pool>,
}

#[uniffi::export]
impl Journal {
    /// Sync with the clinic for this journal.
    pub fn sync(&self) -> Result<Arc<ClinicSync>> {
        if self.pool.is_closed() {
            return Err(CairnError::Closed);
        }
        Ok(Arc::new(ClinicSync {
            pool: self.pool.clone(),
        }))
    }
}

/// Pulled changes may touch entries, trackers, reminder plans, sessions and
/// the safety plan: listeners hear `All` (ids unknown here), so that an app
/// reloads what it shows and plans its reminders again.
fn pulled(o: &SyncOutcome) -> Option<JournalChange> {
    (o.pulled > 0).then(|| JournalChange {
        table: ChangeTable::All,
        ids: Vec::new(),
        deleted: false,
    })
}

#[uniffi::export]
impl ClinicSync {
    /// Reads an enrollment code (`CAIRN1…`), creates this device's signing
    /// key, queues what was logged before, and returns the first request.
    /// `sharing` is what the patient chose to share.
    pub async fn enroll(&self, code: String, sharing: Vec<SharingCategory>) -> Result<SyncRequest> {
        let cats: Vec<dev::Category> = sharing.into_iter().map(Into::into).collect();
        self.pool
            .write(move |s| Ok(s.sync_enroll(&code, &cats)?.into()), |_| None)
            .await
    }

    /// The next request to send, or `null`/`nil` when this journal no
    /// longer syncs. Raises `NotEnrolled` before enrollment.
    pub async fn prepare(&self) -> Result<Option<SyncRequest>> {
        self.pool
            .write(move |s| Ok(s.sync_prepare()?.map(Into::into)), |_| None)
            .await
    }

    /// Applies the reply to `requestId` in one transaction. A reply that
    /// fails a check (signature, seal, format) is `BadReply` and changes
    /// nothing; the next `prepare()` sends again what was not acknowledged.
    pub async fn receive(&self, request_id: String, reply: Vec<u8>) -> Result<SyncOutcome> {
        self.pool
            .write(
                move |s| Ok(s.sync_receive(&request_id, &reply)?.into()),
                pulled,
            )
            .await
    }

    /// [`ClinicSync::prepare`] for a background task's handler that must
    /// finish synchronously (iOS `BGTask`): blocks the calling thread.
    pub fn prepare_blocking(&self) -> Result<Option<SyncRequest>> {
        crate::guard(|| {
            self.pool
                .write(move |s| Ok(s.sync_prepare()?.map(Into::into)), |_| None)
                .wait()
        })
    }

    /// [`ClinicSync::receive`], blocking the calling thread.
    pub fn receive_blocking(&self, request_id: String, reply: Vec<u8>) -> Result<SyncOutcome> {
        crate::guard(|| {
            self.pool
                .write(
                    move |s| Ok(s.sync_receive(&request_id, &reply)?.into()),
                    pulled,
                )
                .wait()
        })
    }

    /// Where sync stands. `NotEnrolled` before enrollment.
    pub async fn status(&self) -> Result<SyncStatus> {
        self.pool.read(move |s| Ok(s.sync_status()?.into())).await
    }

    /// What is shared with the clinic, as the patient should see it.
    pub async fn manifest(&self) -> Result<SharingManifest> {
        self.pool
            .read(move |s| {
                let status: SyncStatus = s.sync_status()?.into();
                let items = dev::Category::ALL
                    .into_iter()
                    .map(|c| SharingItem {
                        category: c.into(),
                        shared: status.sharing.contains(&c.into()),
                        description: c.describe().to_owned(),
                    })
                    .collect();
                Ok(SharingManifest {
                    status,
                    items,
                    notes: dev::SHARING_NOTES.iter().map(|n| (*n).to_owned()).collect(),
                })
            })
            .await
    }

    /// Turns sharing of a category on (its backlog is sent too) or off
    /// (nothing more is sent; what the clinic has stays there).
    pub async fn set_sharing(&self, category: SharingCategory, on: bool) -> Result<()> {
        self.pool
            .write(
                move |s| Ok(s.sync_set_sharing(category.into(), on)?),
                |_| None,
            )
            .await
    }

    /// The audit log, newest first, at most `limit` lines.
    pub async fn log(&self, limit: i32) -> Result<Vec<SyncLogEntry>> {
        let limit = usize::try_from(limit)
            .map_err(|_| CairnError::invalid("limit", "must not be negative"))?;
        self.pool
            .read(move |s| {
                Ok(s.sync_log(limit)?
                    .into_iter()
                    .map(|e| SyncLogEntry {
                        at: instant_out(e.at_ms),
                        event: e.event,
                        sent: small(e.sent),
                        acknowledged: big(e.acknowledged),
                        pulled: small(e.pulled),
                        rejected: e.rejected,
                        detail: e.detail,
                        receipt: e.receipt,
                    })
                    .collect())
            })
            .await
    }

    /// Conflict versions waiting for the patient.
    pub async fn conflicts(&self) -> Result<Vec<ConflictVersion>> {
        self.pool
            .read(move |s| {
                Ok(s.sync_conflicts()?
                    .into_iter()
                    .map(|c| ConflictVersion {
                        entry_id: EntryId(c.entry_id),
                        entry: c.entry.map(Into::into),
                        author: c.author,
                    })
                    .collect())
            })
            .await
    }

    /// Resolves an entry's conflict versions: the version from the device
    /// `keepAuthor` (a `ConflictVersion.author`) becomes the entry (it comes
    /// back if the entry was deleted), or with `null`/`nil` the version
    /// shown now stays (a deleted entry stays deleted). The others go on
    /// every device at the next sync. Returns the entry kept, or
    /// `null`/`nil` when the kept version is a delete. `NotFound` when the
    /// entry has no conflict version (from that device).
    pub async fn resolve_conflict(
        &self,
        entry_id: EntryId,
        keep_author: Option<String>,
    ) -> Result<Option<Entry>> {
        let id = entry_id.0.clone();
        self.pool
            .write(
                move |s| {
                    Ok(
                        s.sync_resolve_conflict(&entry_id.0, keep_author.as_deref())?
                            .map(Into::into),
                    )
                },
                move |kept: &Option<Entry>| {
                    Some(JournalChange {
                        table: ChangeTable::Entries,
                        ids: vec![id.clone()],
                        deleted: kept.is_none(),
                    })
                },
            )
            .await
    }

    /// The request that tells the clinic the patient withdraws. Once its
    /// reply is applied, this journal stops syncing; entries stay.
    pub async fn withdraw(&self) -> Result<SyncRequest> {
        self.pool
            .write(move |s| Ok(s.sync_withdraw()?.into()), |_| None)
            .await
    }

    /// Stops syncing on this device only, when the clinic cannot be
    /// reached (the clinic should revoke the device too).
    pub async fn forget(&self) -> Result<()> {
        self.pool
            .write(move |s| Ok(s.sync_forget()?), |_| None)
            .await
    }
}

/// A code's checks without enrolling: `InvalidInput(field = "code")` for a
/// typo (checksum), a wrong prefix or an address without TLS.
#[uniffi::export]
pub fn check_enrollment_code(code: String) -> Result<String> {
    crate::guard(|| {
        let c = cairn_core::sync::code::EnrollmentCode::parse(&code)
            .map_err(cairn_core::Error::from)?;
        Ok(c.url)
    })
}
