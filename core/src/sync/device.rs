//! The device's side of sync (docs/sync-protocol.md §9): enrollment, the
//! outgoing queue, and applying the clinic's replies, each in one store
//! transaction.
//!
//! An enrolled store keeps, for every local write, the change as it will be
//! sent (`sync_outbox`, sealed, keyed by change id), stamped with the hybrid
//! logical clock at the time of the write, and each synced record's tips
//! (`sync_meta`). Conflict versions live in `conflicts`. Nothing here ever
//! deletes a record because of a reply: a reply can only add versions, trim
//! what the clinic has signed for, or make the device send again.

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use super::body::{self, FieldWriter, Fields};
use super::code::EnrollmentCode;
use super::hlc::Hlc;
use super::lww::{self, Cells, LwwBody};
use super::merge::{self, Applied, Version, Vv, vv_join, vv_normalize};
use super::messages::*;
use super::wire::{self, ReplyKind, RequestHeader, RequestKind};
use crate::crypto::{Sealer, from_hex, to_hex};
use crate::error::{Error, Result};
use crate::journal::{Entry, put_synced_entry, read_entry, tombstone_synced_entry};
use crate::store::{Store, load_row, load_rows, upsert_sealed};
use crate::trackers::Value;

/// The HTTP content type of requests and replies.
pub const CONTENT_TYPE: &str = "application/cairn-sync";
const STATE_ID: &str = "clinic";
const SCHEMA: u8 = 1;
/// The most encoded change bytes in one request.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// The most changes in one request.
pub const MAX_BATCH_CHANGES: usize = 2000;
const MAX_PENDING: usize = 4;
const PENDING_TTL_MS: i64 = 15 * 60 * 1000;

/// What a patient shares with the clinic, by kind of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Ratings and measurements: mood, anxiety, sleep, custom trackers.
    Ratings = 1,
    /// The notes written on entries.
    Notes = 2,
    /// Journal text.
    Journal = 3,
    /// Medication taken or skipped.
    Medication = 4,
    /// Questionnaire answers.
    Questionnaires = 5,
    /// Risk flags for review.
    Flags = 6,
    /// Reminders and what happened to them.
    Reminders = 7,
    /// Treatment sessions (infusions, therapy sessions).
    Treatment = 8,
    /// The safety plan.
    SafetyPlan = 9,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 9] = [
        Category::Ratings,
        Category::Notes,
        Category::Journal,
        Category::Medication,
        Category::Questionnaires,
        Category::Flags,
        Category::Reminders,
        Category::Treatment,
        Category::SafetyPlan,
    ];

    /// The category of a wire code.
    pub fn from_code(n: u64) -> Option<Category> {
        Category::ALL.into_iter().find(|c| *c as u64 == n)
    }

    /// The category's word (`ratings`, `notes`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Category::Ratings => "ratings",
            Category::Notes => "notes",
            Category::Journal => "journal",
            Category::Medication => "medication",
            Category::Questionnaires => "questionnaires",
            Category::Flags => "flags",
            Category::Reminders => "reminders",
            Category::Treatment => "treatment",
            Category::SafetyPlan => "safety_plan",
        }
    }

    /// The category named `word`.
    pub fn parse(word: &str) -> Result<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.name() == word.trim().to_ascii_lowercase().replace('-', "_"))
            .ok_or_else(|| {
                Error::invalid(
                    "category",
                    "expected ratings, notes, journal, medication, questionnaires, flags, reminders, treatment or safety_plan",
                )
            })
    }

    /// What the category covers, for the sharing manifest.
    pub fn describe(self) -> &'static str {
        match self {
            Category::Ratings => {
                "your ratings and measurements (mood, anxiety, sleep, energy, your own trackers)"
            }
            Category::Notes => "the notes you write on entries",
            Category::Journal => "your journal text",
            Category::Medication => "the medication you log as taken or skipped",
            Category::Questionnaires => "your questionnaire answers and scores",
            Category::Flags => "risk flags raised for the care team's review",
            Category::Reminders => "your reminders and whether you did them",
            Category::Treatment => "your treatment sessions",
            Category::SafetyPlan => "your safety plan",
        }
    }
}

/// What turning sharing on and off does, in words for the patient (the
/// CLI's `cairn sharing` and the apps' sharing screens show them as they are).
pub const SHARING_NOTES: &[&str] = &[
    "Turning a category on sends what you logged in it before, too.",
    "Turning it off stops sending it; what the clinic already received stays in your clinic record.",
    "Deletions are always sent, so that something you delete is deleted at the clinic.",
    "Your other devices receive only what you share with the clinic.",
];

/// Where a journal stands with its clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrollment {
    /// The code was read; the clinic has not confirmed yet.
    Pending = 1,
    /// Enrolled: syncing.
    Active = 2,
    /// The clinic revoked this device.
    Revoked = 3,
    /// The patient withdrew.
    Withdrawn = 4,
}

/// The sealed enrollment state (one row, `sync_state.clinic`).
struct State {
    clinic_id: Id16,
    url: String,
    root_key: [u8; 32],
    hpke_key_id: u32,
    hpke_key: [u8; 32],
    device_pkcs8: Zeroizing<Vec<u8>>,
    device_id: Id16,
    incarnation: u32,
    status: Enrollment,
    patient_id: Id16,
    epoch: Id16,
    last_applied: u64,
    cursor: Vec<u8>,
    hlc: u64,
    clock_offset_ms: i64,
    categories: Vec<u64>,
    enrollment_id: Id16,
    secret: Zeroizing<[u8; 16]>,
    enrolled_at_ms: i64,
    last_sync_ms: i64,
    last_error: String,
}

impl State {
    fn encode(&self) -> Vec<u8> {
        let mut w = FieldWriter::with_capacity(512);
        w.bytes(1, &self.clinic_id);
        w.str(2, &self.url);
        w.bytes(3, &self.root_key);
        w.uint(4, u64::from(self.hpke_key_id));
        w.bytes(5, &self.hpke_key);
        w.bytes(6, &self.device_pkcs8);
        w.bytes(7, &self.device_id);
        w.uint(8, u64::from(self.incarnation));
        w.uint(9, self.status as u64);
        w.bytes(10, &self.patient_id);
        w.bytes(11, &self.epoch);
        w.uint(12, self.last_applied);
        w.bytes(13, &self.cursor);
        w.uint(14, self.hlc);
        w.sint(15, self.clock_offset_ms);
        for c in &self.categories {
            w.uint_always(16, *c);
        }
        w.bytes(17, &self.enrollment_id);
        w.bytes(18, &*self.secret);
        w.sint(19, self.enrolled_at_ms);
        w.sint(20, self.last_sync_ms);
        w.str(21, &self.last_error);
        w.finish()
    }

    fn decode(buf: &[u8]) -> Option<State> {
        let mut s = State {
            clinic_id: [0; 16],
            url: String::new(),
            root_key: [0; 32],
            hpke_key_id: 0,
            hpke_key: [0; 32],
            device_pkcs8: Zeroizing::new(Vec::new()),
            device_id: [0; 16],
            incarnation: 0,
            status: Enrollment::Pending,
            patient_id: [0; 16],
            epoch: [0; 16],
            last_applied: 0,
            cursor: Vec::new(),
            hlc: 0,
            clock_offset_ms: 0,
            categories: Vec::new(),
            enrollment_id: [0; 16],
            secret: Zeroizing::new([0; 16]),
            enrolled_at_ms: 0,
            last_sync_ms: 0,
            last_error: String::new(),
        };
        for f in Fields::new(buf) {
            let (k, v) = f.ok()?;
            match k {
                1 => s.clinic_id = v.try_into().ok()?,
                2 => s.url = body::string(v).ok()?,
                3 => s.root_key = v.try_into().ok()?,
                4 => s.hpke_key_id = u32::try_from(body::uint(v).ok()?).ok()?,
                5 => s.hpke_key = v.try_into().ok()?,
                6 => s.device_pkcs8 = Zeroizing::new(v.to_vec()),
                7 => s.device_id = v.try_into().ok()?,
                8 => s.incarnation = u32::try_from(body::uint(v).ok()?).ok()?,
                9 => {
                    s.status = match body::uint(v).ok()? {
                        1 => Enrollment::Pending,
                        2 => Enrollment::Active,
                        3 => Enrollment::Revoked,
                        4 => Enrollment::Withdrawn,
                        _ => return None,
                    }
                }
                10 => s.patient_id = v.try_into().ok()?,
                11 => s.epoch = v.try_into().ok()?,
                12 => s.last_applied = body::uint(v).ok()?,
                13 => s.cursor = v.to_vec(),
                14 => s.hlc = body::uint(v).ok()?,
                15 => s.clock_offset_ms = body::sint(v).ok()?,
                16 => s.categories.push(body::uint(v).ok()?),
                17 => s.enrollment_id = v.try_into().ok()?,
                18 => s.secret = Zeroizing::new(v.try_into().ok()?),
                19 => s.enrolled_at_ms = body::sint(v).ok()?,
                20 => s.last_sync_ms = body::sint(v).ok()?,
                21 => s.last_error = body::string(v).ok()?,
                _ => {}
            }
        }
        Some(s)
    }

    fn key_pair(&self) -> Result<Ed25519KeyPair> {
        Ed25519KeyPair::from_pkcs8(&self.device_pkcs8)
            .map_err(|_| Error::corrupted("sync_state", STATE_ID))
    }

    /// The author id of this device's versions: the device id, or after a
    /// restore from an older copy, a replica id derived from it.
    fn author(&self) -> Id16 {
        replica_id(&self.device_id, self.incarnation)
    }

    /// The incarnation whose author id `author` is, if it is this device's.
    fn own_incarnation(&self, author: &Id16) -> Option<u32> {
        (0..=self.incarnation).find(|i| replica_id(&self.device_id, *i) == *author)
    }

    fn shares(&self, c: Category) -> bool {
        self.categories.contains(&(c as u64))
    }

    fn now(&self, local_ms: i64) -> u64 {
        local_ms.saturating_add(self.clock_offset_ms).max(0) as u64
    }
}

/// The author id of a device's versions after `incarnation` restores
/// (docs/sync-protocol.md §8, field 12): the device id itself at 0.
pub fn replica_id(device_id: &Id16, incarnation: u32) -> Id16 {
    if incarnation == 0 {
        return *device_id;
    }
    let msg = [
        &b"cairn replica v1"[..],
        device_id,
        &incarnation.to_be_bytes(),
    ]
    .concat();
    wire::sha256(&msg)[..16].try_into().expect("16 bytes")
}

fn load_state(conn: &rusqlite::Connection, sealer: &Sealer) -> Result<Option<State>> {
    match load_row(conn, sealer, "sync_state", STATE_ID) {
        Ok(row) => State::decode(&row.plain)
            .map(Some)
            .ok_or_else(|| Error::corrupted("sync_state", STATE_ID)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Upserts a sealed row of one of sync's own tables (no outbox row).
fn put_row(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &'static str,
    id: &str,
    day: Option<i64>,
    plain: &[u8],
) -> Result<()> {
    upsert_sealed(tx, sealer, table, id, day, SCHEMA, plain).map(drop)
}

fn save_state(tx: &Transaction<'_>, sealer: &Sealer, st: &State) -> Result<()> {
    put_row(tx, sealer, "sync_state", STATE_ID, None, &st.encode())
}

// --- record tips -------------------------------------------------------------

/// What a device keeps of one tip of a record.
#[derive(Debug, Clone, PartialEq)]
struct TipData {
    change_id: Id16,
    op: Op,
    /// The `conflicts` row holding this version, or `None`: the live row.
    conflict: Option<String>,
}

type Tips = Vec<Version<TipData>>;

fn meta_id(table: &str, id: &str) -> String {
    format!("{table}/{id}")
}

fn encode_tips(tips: &Tips) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(64 * tips.len());
    for t in tips {
        w.message(1, |m| {
            m.uint(1, t.hlc);
            m.bytes_always(2, &t.author);
            for (d, n) in &t.vv {
                m.message(3, |e| {
                    e.bytes_always(1, d);
                    e.uint(2, *n);
                });
            }
            m.bytes_always(4, &t.data.change_id);
            m.uint(5, t.data.op as u64);
            if let Some(c) = &t.data.conflict {
                m.str(6, c);
            }
        });
    }
    w.finish()
}

fn decode_tips(buf: &[u8]) -> Option<Tips> {
    let mut tips = Vec::new();
    for f in Fields::new(buf) {
        let (_, v) = f.ok()?;
        let mut t = Version {
            hlc: 0,
            author: [0; 16],
            vv: Vec::new(),
            data: TipData {
                change_id: [0; 16],
                op: Op::Put,
                conflict: None,
            },
        };
        for f in Fields::new(v) {
            let (k, v) = f.ok()?;
            match k {
                1 => t.hlc = body::uint(v).ok()?,
                2 => t.author = v.try_into().ok()?,
                3 => {
                    let (mut d, mut n) = ([0u8; 16], 0);
                    for f in Fields::new(v) {
                        let (k, v) = f.ok()?;
                        match k {
                            1 => d = v.try_into().ok()?,
                            2 => n = body::uint(v).ok()?,
                            _ => {}
                        }
                    }
                    t.vv.push((d, n));
                }
                4 => t.data.change_id = v.try_into().ok()?,
                5 => {
                    t.data.op = if body::uint(v).ok()? == 2 {
                        Op::Delete
                    } else {
                        Op::Put
                    }
                }
                6 => t.data.conflict = Some(body::string(v).ok()?),
                _ => {}
            }
        }
        tips.push(t);
    }
    Some(tips)
}

/// A record's sync metadata (`sync_meta`, sealed): its tips (entries) or
/// its cells (records merged by field), decoded; `T::default()` if none.
fn load_meta<T: Default>(
    conn: &rusqlite::Connection,
    sealer: &Sealer,
    table: &str,
    id: &str,
    decode: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<T> {
    let mid = meta_id(table, id);
    match load_row(conn, sealer, "sync_meta", &mid) {
        Ok(row) => decode(&row.plain).ok_or_else(|| Error::corrupted("sync_meta", &mid)),
        Err(Error::NotFound { .. }) => Ok(T::default()),
        Err(e) => Err(e),
    }
}

fn save_meta(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &str,
    id: &str,
    plain: &[u8],
) -> Result<()> {
    put_row(tx, sealer, "sync_meta", &meta_id(table, id), None, plain)
}

fn load_tips(conn: &rusqlite::Connection, sealer: &Sealer, table: &str, id: &str) -> Result<Tips> {
    load_meta(conn, sealer, table, id, decode_tips)
}

fn save_tips(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &str,
    id: &str,
    tips: &Tips,
) -> Result<()> {
    save_meta(tx, sealer, table, id, &encode_tips(tips))
}

// --- entries as changes --------------------------------------------------------

fn category_of(e: &Entry) -> Category {
    match (&*e.tracker, &e.value) {
        ("journal", _) | (_, Value::Text(_)) => Category::Journal,
        (_, Value::Medication { .. }) => Category::Medication,
        (_, Value::Answers { .. }) => Category::Questionnaires,
        _ => Category::Ratings,
    }
}

fn entry_body(e: &Entry) -> EntryBody {
    EntryBody {
        tracker: e.tracker.to_string(),
        value: e.value.clone(),
        note: e.note.clone(),
        tags: e.tags.clone(),
        at_ms: e.at_ms,
        zone: e.zone.to_string(),
        utc_offset_seconds: e.utc_offset_seconds,
        created_ms: e.created_at_ms,
        updated_ms: e.updated_at_ms,
        withheld: Vec::new(),
    }
}

fn entry_from_body(id: &str, b: &EntryBody) -> Entry {
    Entry {
        id: id.to_owned(),
        tracker: b.tracker.as_str().into(),
        value: b.value.clone(),
        note: b.note.clone(),
        tags: b.tags.clone(),
        at_ms: b.at_ms,
        zone: b.zone.as_str().into(),
        utc_offset_seconds: b.utc_offset_seconds,
        created_at_ms: b.created_ms,
        updated_at_ms: b.updated_ms,
        revision: 0,
    }
}

/// Keeps a change as it will be sent (`sync_outbox`, sealed, by change id).
fn queue_change(tx: &Transaction<'_>, sealer: &Sealer, c: &Change) -> Result<()> {
    put_row(
        tx,
        sealer,
        "sync_outbox",
        &to_hex(&c.change_id),
        None,
        &encode_change(c),
    )
}

/// Queues again a version this device wrote, under its change id, with a
/// new outbox row: `make` builds the change for the row's new sequence
/// number.
fn requeue(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &str,
    id: &str,
    op: Op,
    change_id: &Id16,
    make: impl FnOnce(u64) -> Change,
) -> Result<()> {
    tx.execute(
        "INSERT INTO outbox(record_table, record_id, revision, op, change_id)
         VALUES (?1, ?2, 0, ?3, ?4)",
        params![
            table,
            id,
            if op == Op::Delete { "delete" } else { "put" },
            to_hex(change_id)
        ],
    )?;
    queue_change(tx, sealer, &make(tx.last_insert_rowid() as u64))
}

fn encode_change(c: &Change) -> Vec<u8> {
    let mut w = FieldWriter::with_capacity(160);
    c.encode(&mut w);
    w.finish()
}

fn hex16(s: &str) -> Result<Id16> {
    from_hex(s)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::invalid("id", "expected 32 hex characters"))
}

/// Called by every local write, in its transaction, after its outbox row:
/// an enrolled store keeps the change as it will be sent, and the record's
/// new tip. Only entries sync in this version; other tables keep their
/// outbox rows, as before.
#[allow(clippy::too_many_arguments)]
pub(crate) fn local_write(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    now_ms: i64,
    seq: i64,
    change_id: &str,
    table: &str,
    id: &str,
    deleted: bool,
) -> Result<()> {
    let lww_kind = lww::kind_of(table, id);
    if table != "entries" && lww_kind.is_none() {
        return Ok(());
    }
    let Some(mut st) = load_state(tx, sealer)? else {
        return Ok(());
    };
    if !matches!(st.status, Enrollment::Pending | Enrollment::Active) {
        return Ok(());
    }
    if let Some(k) = lww_kind {
        return local_write_lww(tx, sealer, &mut st, now_ms, seq, change_id, table, id, k);
    }
    let author = st.author();
    let mut tips = load_tips(tx, sealer, table, id)?;
    // The edit includes every tip the patient could see: editing a record
    // with conflict versions resolves them.
    let mut vv: Vv = Vec::new();
    for t in &tips {
        vv = vv_join(&vv, &t.vv);
    }
    vv = vv_join(&vv, &[(author, seq as u64)]);
    st.hlc = Hlc(st.hlc).tick(st.now(now_ms)).0;
    let (op, body, category) = if deleted {
        // Deletes carry no content and always go, so that what was shared
        // once is deleted at the clinic too.
        (Op::Delete, None, 0)
    } else {
        let e = read_entry(tx, sealer, id)?;
        (
            Op::Put,
            Some(entry_body(&e).encode()),
            category_of(&e) as u64,
        )
    };
    let change = Change {
        change_id: hex16(change_id)?,
        seq: seq as u64,
        hlc: st.hlc,
        kind: kind::ENTRY,
        record_id: RecordId::from_store(id),
        op,
        vv: vv.clone(),
        body,
        category,
        author,
        incarnation: st.incarnation,
    };
    queue_change(tx, sealer, &change)?;
    for t in &tips {
        if let Some(c) = &t.data.conflict {
            tx.execute("DELETE FROM conflicts WHERE id = ?1", [c])?;
        }
    }
    tips.clear();
    tips.push(Version {
        hlc: st.hlc,
        author,
        vv,
        data: TipData {
            change_id: change.change_id,
            op,
            conflict: None,
        },
    });
    save_tips(tx, sealer, table, id, &tips)?;
    save_state(tx, sealer, &st)
}

/// Queues every entry again (live and deleted) as new local versions: at
/// enrollment, so that the clinic receives what was logged before.
fn queue_all_entries(tx: &Transaction<'_>, sealer: &Sealer, now_ms: i64) -> Result<()> {
    let rows: Vec<(String, i64, bool)> = tx
        .prepare("SELECT id, revision, deleted FROM entries ORDER BY rowid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, rev, deleted) in rows {
        crate::store::outbox(tx, sealer, now_ms, "entries", &id, rev, deleted)?;
    }
    Ok(())
}

// --- records merged field by field ------------------------------------------

/// The record body of a live row of a last-writer-wins table (`None`:
/// deleted or never written).
fn live_body(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &str,
    id: &str,
) -> Result<Option<Vec<u8>>> {
    let table = match table {
        "trackers" => "trackers",
        "reminders" => "reminders",
        "reminder_events" => "reminder_events",
        "flags" => "flags",
        _ => "settings",
    };
    let row = match load_row(tx, sealer, table, id) {
        Ok(r) => r,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = || Error::corrupted(table, id);
    Ok(Some(match table {
        "trackers" => {
            lww::tracker_body(&crate::trackers::decode_tracker(id, &row.plain).map_err(|_| bad())?)
        }
        "reminders" => lww::reminder_body(
            &crate::reminders::decode_reminder(id, row.revision, &row.plain).map_err(|_| bad())?,
        ),
        "reminder_events" => lww::session_body(
            &crate::reminders::store::decode_event(id, &row.plain).ok_or_else(bad)?,
        ),
        _ => row.plain,
    }))
}

/// The device tables whose records merge field by field.
const LWW_TABLES: [&str; 5] = [
    "trackers",
    "reminders",
    "reminder_events",
    "settings",
    "flags",
];

/// A record's cells, and the record as this device last showed it
/// (canonical body; `None` before it was ever shown here): the patient's
/// edit changes what they saw, not what the cells hold.
#[derive(Default)]
struct LwwMeta {
    cells: Cells,
    shown: Option<Vec<u8>>,
}

/// Field 3 of the metadata: the record as shown (the cells are field 1).
const SHOWN: u32 = 3;

fn load_cells(
    conn: &rusqlite::Connection,
    sealer: &Sealer,
    table: &str,
    id: &str,
) -> Result<LwwMeta> {
    load_meta(conn, sealer, table, id, |b| {
        let cells = Cells::decode(b).ok()?;
        let mut shown = None;
        for f in Fields::new(b) {
            let (k, v) = f.ok()?;
            if k == SHOWN {
                shown = Some(v.to_vec());
            }
        }
        Some(LwwMeta { cells, shown })
    })
}

fn save_cells(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &str,
    id: &str,
    meta: &LwwMeta,
) -> Result<()> {
    let mut bytes = meta.cells.encode();
    if let Some(s) = &meta.shown {
        let mut w = FieldWriter::with_capacity(s.len() + 4);
        w.bytes_always(SHOWN, s);
        bytes.extend_from_slice(&w.finish());
    }
    save_meta(tx, sealer, table, id, &bytes)
}

/// A local write of a last-writer-wins record on an enrolled store: the
/// fields it changed become cells stamped by this change, which is queued
/// with the record as it now is. Nothing is queued when nothing changed.
#[allow(clippy::too_many_arguments)]
fn local_write_lww(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    st: &mut State,
    now_ms: i64,
    seq: i64,
    change_id: &str,
    table: &str,
    id: &str,
    record_kind: u64,
) -> Result<()> {
    let mut meta = load_cells(tx, sealer, table, id)?;
    let record = live_body(tx, sealer, table, id)?;
    let rid = RecordId::from_store(id);
    let Some((op, body)) = meta
        .cells
        .diff(record_kind, &rid, meta.shown.as_deref(), record.as_deref())
        .map_err(|_| Error::corrupted(table, id))?
    else {
        return Ok(());
    };
    let author = st.author();
    // Ahead of every stamp the record holds, so that this edit wins.
    st.hlc = Hlc(st.hlc)
        .tick(st.now(now_ms))
        .0
        .max(meta.cells.hlc().saturating_add(1));
    let change = Change {
        change_id: hex16(change_id)?,
        seq: seq as u64,
        hlc: st.hlc,
        kind: record_kind,
        record_id: RecordId::from_store(id),
        op,
        vv: vec![(author, seq as u64)],
        body: (op == Op::Put).then(|| body.encode()),
        category: lww::category(record_kind) as u64,
        author,
        incarnation: st.incarnation,
    };
    meta.cells
        .merge(&Cells::of_change(&change).map_err(|_| Error::corrupted(table, id))?);
    meta.shown = record;
    save_cells(tx, sealer, table, id, &meta)?;
    queue_change(tx, sealer, &change)?;
    save_state(tx, sealer, st)
}

/// Queues every last-writer-wins record (live ones) at enrollment, so that
/// the clinic receives the trackers, reminders, sessions and safety plan
/// made before. Enrolling again with the same clinic keeps the field stamps
/// (what the clinic changed meanwhile wins, and what the patient deleted
/// stays deleted) and sends only what changed since it was shown; another
/// clinic gets every record, as new.
fn queue_all_lww(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    now_ms: i64,
    same_clinic: bool,
) -> Result<()> {
    if !same_clinic {
        tx.execute("DELETE FROM sync_meta WHERE id NOT LIKE 'entries/%'", [])?;
    }
    for table in LWW_TABLES {
        let rows: Vec<(String, i64)> = tx
            .prepare(&format!(
                "SELECT id, revision FROM {table} WHERE deleted = 0 ORDER BY rowid"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, rev) in rows {
            if lww::kind_of(table, &id).is_some() {
                crate::store::outbox(tx, sealer, now_ms, table, &id, rev, false)?;
            }
        }
    }
    Ok(())
}

/// Merges a pulled change of a last-writer-wins kind into the record's
/// cells and writes the live row the cells now hold. A record this version
/// cannot use (an unknown zone, a value out of its range) keeps its cells,
/// so later changes still merge, and its live row as it was.
fn apply_remote_lww(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    zones: &crate::zones::ZoneDb,
    c: &Change,
    table: &'static str,
) -> Result<Remote> {
    let id = c.record_id.to_store();
    let incoming = match Cells::of_change(c) {
        Ok(cells) if lww::id_fits(c.kind, &c.record_id) => cells,
        _ => {
            put_row(
                tx,
                sealer,
                "sync_pending",
                &to_hex(&c.change_id),
                None,
                &encode_change(c),
            )?;
            return Ok(Remote::Applied);
        }
    };
    let mut meta = load_cells(tx, sealer, table, &id)?;
    if !meta.cells.merge(&incoming) {
        return Ok(Remote::Seen);
    }
    let Some(body) = meta.cells.effective_body(c.kind, &c.record_id) else {
        crate::store::tombstone_synced(tx, sealer, table, &id)?;
        meta.shown = None;
        save_cells(tx, sealer, table, &id, &meta)?;
        return Ok(Remote::Applied);
    };
    let zone_ok = |z: &str| zones.zone(z).is_ok();
    let written = match c.kind {
        kind::TRACKER => lww::tracker_from(&id, &body).and_then(|t| {
            upsert_sealed(
                tx,
                sealer,
                "trackers",
                &id,
                None,
                crate::trackers::TRACKER_SCHEMA,
                &crate::trackers::encode_tracker(&t),
            )
        }),
        kind::REMINDER => lww::reminder_from(&id, 1, &body).and_then(|r| {
            if let crate::reminders::ZonePolicy::Pinned(z) = &r.zone
                && !zone_ok(z)
            {
                return Err(Error::invalid("zone", "unknown"));
            }
            crate::reminders::store::put_synced_reminder(tx, sealer, &r)
        }),
        kind::TREATMENT_SESSION => lww::session_from(&id, &body).and_then(|e| {
            if !zone_ok(&e.zone) {
                return Err(Error::invalid("zone", "unknown"));
            }
            crate::reminders::store::put_synced_event(tx, sealer, &e)
        }),
        kind::FLAG => {
            lww::flag_from(&id, &body).and_then(|f| crate::flags::put_synced(tx, sealer, &f))
        }
        kind::CLINIC_SETTINGS => lww::clinic_settings_from(&body)
            .and_then(|c| crate::flags::put_clinic_settings(tx, sealer, &c)),
        _ => lww::safety_plan_from(&body).and_then(|p| crate::safety::put_synced(tx, sealer, &p)),
    };
    match written {
        // What the patient sees now.
        Ok(_) => meta.shown = live_body(tx, sealer, table, &id)?,
        // Shown as it was.
        Err(Error::InvalidInput { .. }) => {}
        Err(e) => return Err(e),
    }
    save_cells(tx, sealer, table, &id, &meta)?;
    Ok(Remote::Applied)
}

/// The server's copy of change `change_id` of record `id` has another
/// stamp (re-stamped: `hlc`) or author (relabelled after a restore:
/// `author`): the cells it set take them, as every other replica has them.
fn relabel_lww(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    change_id: &Id16,
    id: &str,
    hlc: Option<u64>,
    author: Option<Id16>,
) -> Result<()> {
    for table in LWW_TABLES {
        if lww::kind_of(table, id).is_none() {
            continue;
        }
        let mut meta = load_cells(tx, sealer, table, id)?;
        if meta.cells.relabel(change_id, hlc, author) {
            save_cells(tx, sealer, table, id, &meta)?;
        }
    }
    Ok(())
}

/// Sends again this device's own field versions (the clinic lost them, or
/// their category was turned on; `only`: of that category): every change
/// whose cells this device still holds as their latest is queued again,
/// under its id and stamp, with the record as it is now.
fn requeue_own_lww(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    st: &State,
    only: Option<Category>,
) -> Result<u32> {
    let (rows, _) = load_rows(tx, sealer, "sync_meta", "deleted = 0", [])?;
    let mut n = 0;
    for row in rows {
        let Some((table, id)) = row.id.split_once('/') else {
            continue;
        };
        let Some(record_kind) = lww::kind_of(table, id) else {
            continue;
        };
        if only.is_some_and(|c| c != lww::category(record_kind)) {
            continue;
        }
        let cells =
            Cells::decode(&row.plain).map_err(|_| Error::corrupted("sync_meta", &row.id))?;
        // The values the cells hold (the re-sent change must carry the same
        // values under the same stamps), or, when they do not make a valid
        // record together, the record every replica shows.
        let rid = RecordId::from_store(id);
        let mut record = cells.record_body();
        if !lww::valid(record_kind, &rid, &record) {
            record = cells.effective_body(record_kind, &rid).unwrap_or(record);
        }
        let mut groups: Vec<(Id16, u64, Id16, Vec<u32>)> = Vec::new();
        for c in &cells.0 {
            if st.own_incarnation(&c.author).is_none() {
                continue;
            }
            match groups.iter_mut().find(|g| g.0 == c.change_id) {
                Some(g) => g.3.push(c.key),
                None => groups.push((c.change_id, c.hlc, c.author, vec![c.key])),
            }
        }
        for (change_id, hlc, author, keys) in groups {
            let cid = to_hex(&change_id);
            let queued: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE change_id = ?1)",
                [&cid],
                |r| r.get(0),
            )?;
            if queued {
                continue;
            }
            // A delete sets only cell 0; anything else was a put.
            let removed_only = keys == [lww::REMOVED];
            let op = if removed_only && cells.removed() {
                Op::Delete
            } else {
                Op::Put
            };
            let body = LwwBody {
                record: (op == Op::Put).then(|| record.clone()),
                changed: keys
                    .into_iter()
                    .filter(|k| *k != lww::REMOVED && *k < lww::LATEST)
                    .collect(),
            };
            requeue(tx, sealer, table, id, op, &change_id, |seq| Change {
                change_id,
                seq,
                hlc,
                kind: record_kind,
                record_id: RecordId::from_store(id),
                op,
                vv: vec![(author, seq)],
                body: (op == Op::Put).then(|| body.encode()),
                category: lww::category(record_kind) as u64,
                author,
                incarnation: st.own_incarnation(&author).unwrap_or(0),
            })?;
            n += 1;
        }
    }
    Ok(n)
}

// --- the public API ------------------------------------------------------------

/// A request for the shell to send: `POST url` with `body`, then hand the
/// reply's bytes to [`Store::sync_receive`] with `request_id`.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// 32 hex characters.
    pub request_id: String,
    /// Where to send it.
    pub url: String,
    /// The bytes to send.
    pub body: Vec<u8>,
    /// The HTTP content type.
    pub content_type: &'static str,
}

/// What a sync exchange did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Changes sent in the request.
    pub sent: u32,
    /// The last sequence number the clinic has applied from this device.
    pub acknowledged: u64,
    /// Changes received and applied (or kept as conflicts).
    pub pulled: u32,
    /// Changes the clinic refused (listed in the sync log).
    pub rejected: u32,
    /// Conflict versions created by this exchange.
    pub conflicts: u32,
    /// Sync again at once: more is waiting on either side.
    pub more: bool,
}

/// Where sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Enrollment state.
    pub enrollment: Enrollment,
    /// The clinic's server.
    pub server_url: String,
    /// The clinic's id (hex).
    pub clinic_id: String,
    /// This device's id (hex).
    pub device_id: String,
    /// The patient's id at the clinic (hex; empty until confirmed).
    pub patient_id: String,
    /// Local changes not yet acknowledged.
    pub pending: u64,
    /// Conflict versions waiting for the patient.
    pub conflicts: u64,
    /// When the last exchange completed, ms (0: never).
    pub last_sync_ms: i64,
    /// The last exchange's error, if it failed (no content).
    pub last_error: String,
    /// Categories shared.
    pub sharing: Vec<Category>,
    /// When the journal was enrolled, ms.
    pub enrolled_at_ms: i64,
}

/// One line of the sync audit log. Holds counts, codes and ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncLogEntry {
    /// When, ms.
    pub at_ms: i64,
    /// `enroll`, `push`, `error`, `restore`, `sharing`, `withdraw`.
    pub event: String,
    /// Changes sent.
    pub sent: u32,
    /// The last sequence number acknowledged.
    pub acknowledged: u64,
    /// Changes received.
    pub pulled: u32,
    /// Changes refused, as `seq:reason code`.
    pub rejected: Vec<String>,
    /// An error code or detail, without content.
    pub detail: String,
    /// The clinic's signed receipt (hex), when there is one.
    pub receipt: String,
}

/// A version of an entry kept because it conflicts with the one shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictVersion {
    /// The entry's id.
    pub entry_id: String,
    /// The version's content; `None` when the version is a delete.
    pub entry: Option<Entry>,
    /// Who wrote it (device id, hex).
    pub author: String,
}

/// A request waiting for its reply (in memory only: a reply after a restart
/// is stale, and the next sync sends again).
pub(crate) struct Pending {
    request_id: Id16,
    key: wire::ReplyKey,
    kind: RequestKind,
    /// The last sequence number the request covered.
    last: u64,
    sent: Vec<(Id16, String)>,
    made_ms: i64,
}

fn random16() -> Result<Id16> {
    let mut b = [0u8; 16];
    crate::crypto::fill_random(&mut b)?;
    Ok(b)
}

fn log(tx: &Transaction<'_>, sealer: &Sealer, e: &SyncLogEntry) -> Result<()> {
    let mut w = FieldWriter::with_capacity(128);
    w.sint(1, e.at_ms);
    w.str(2, &e.event);
    w.uint(3, u64::from(e.sent));
    w.uint(4, e.acknowledged);
    w.uint(5, u64::from(e.pulled));
    for r in &e.rejected {
        w.bytes_always(6, r.as_bytes());
    }
    w.str(7, &e.detail);
    w.str(8, &e.receipt);
    let id = crate::crypto::random_id()?;
    put_row(
        tx,
        sealer,
        "sync_log",
        &id,
        Some(e.at_ms.div_euclid(86_400_000)),
        &w.finish(),
    )
}

fn decode_log(buf: &[u8]) -> Option<SyncLogEntry> {
    let mut e = SyncLogEntry::default();
    for f in Fields::new(buf) {
        let (k, v) = f.ok()?;
        match k {
            1 => e.at_ms = body::sint(v).ok()?,
            2 => e.event = body::string(v).ok()?,
            3 => e.sent = u32::try_from(body::uint(v).ok()?).ok()?,
            4 => e.acknowledged = body::uint(v).ok()?,
            5 => e.pulled = u32::try_from(body::uint(v).ok()?).ok()?,
            6 => e.rejected.push(body::string(v).ok()?),
            7 => e.detail = body::string(v).ok()?,
            8 => e.receipt = body::string(v).ok()?,
            _ => {}
        }
    }
    Some(e)
}

impl Store {
    /// Reads an enrollment code, creates this device's signing key, queues
    /// everything already logged, and returns the first request. Sharing
    /// starts with `categories` on and everything else off.
    pub fn sync_enroll(&self, code: &str, categories: &[Category]) -> Result<SyncRequest> {
        let code = EnrollmentCode::parse(code)?;
        let pkcs8 = Zeroizing::new(
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| Error::Random)?
                .as_ref()
                .to_vec(),
        );
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| Error::Random)?;
        let device_id = wire::device_id(pair.public_key().as_ref());
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            let before = load_state(tx, sealer)?;
            if before
                .as_ref()
                .is_some_and(|st| st.status == Enrollment::Active)
            {
                return Err(Error::AlreadyEnrolled);
            }
            let same_clinic = before.is_some_and(|st| st.clinic_id == code.clinic_id);
            let mut cats: Vec<u64> = categories.iter().map(|c| *c as u64).collect();
            cats.sort_unstable();
            cats.dedup();
            let st = State {
                clinic_id: code.clinic_id,
                url: code.url.clone(),
                root_key: code.root_key,
                hpke_key_id: code.hpke_key_id,
                hpke_key: code.hpke_key,
                device_pkcs8: pkcs8.clone(),
                device_id,
                incarnation: 0,
                status: Enrollment::Pending,
                patient_id: [0; 16],
                epoch: [0; 16],
                last_applied: 0,
                cursor: Vec::new(),
                hlc: 0,
                clock_offset_ms: 0,
                categories: cats,
                enrollment_id: code.enrollment_id,
                secret: Zeroizing::new(code.secret),
                enrolled_at_ms: now,
                last_sync_ms: 0,
                last_error: String::new(),
            };
            // A fresh start: what an earlier enrollment queued is replaced
            // by the current version of every record, numbered from 1.
            tx.execute_batch(
                "DELETE FROM sync_outbox; DELETE FROM outbox;
                 DELETE FROM sqlite_sequence WHERE name = 'outbox';",
            )?;
            save_state(tx, sealer, &st)?;
            queue_all_entries(tx, sealer, now)?;
            queue_all_lww(tx, sealer, now, same_clinic)?;
            log(
                tx,
                sealer,
                &SyncLogEntry {
                    at_ms: now,
                    event: "enroll".into(),
                    detail: "code read; waiting for the clinic".into(),
                    ..SyncLogEntry::default()
                },
            )
        })?;
        self.sync_prepare()?.ok_or(Error::NotEnrolled)
    }

    /// The next request to send, or `None` when this journal is not syncing
    /// (revoked or withdrawn). While enrollment is pending it is the enroll
    /// request again (a lost reply never wedges enrollment); afterwards a
    /// push of the next batch, which also pulls.
    pub fn sync_prepare(&self) -> Result<Option<SyncRequest>> {
        let (st, now) = self.read(|inner| {
            let st = load_state(&inner.conn, &inner.sealer)?.ok_or(Error::NotEnrolled)?;
            Ok((st, inner.clock.now_ms()))
        })?;
        match st.status {
            Enrollment::Revoked => return Err(Error::DeviceRevoked),
            Enrollment::Withdrawn => return Err(Error::NotEnrolled),
            Enrollment::Pending | Enrollment::Active => {}
        }
        let pair = st.key_pair()?;
        if st.status == Enrollment::Pending {
            let device_key: [u8; 32] = pair.public_key().as_ref().try_into().expect("32 bytes");
            let body = EnrollBody {
                device_key,
                enrollment_id: st.enrollment_id,
                proof: EnrollBody::proof_for(&st.secret, &st.enrollment_id, &device_key),
                categories: st.categories.clone(),
            };
            return self
                .send(
                    &st,
                    &pair,
                    now,
                    RequestKind::Enroll,
                    (1, 0),
                    &body.encode(),
                    Vec::new(),
                )
                .map(Some);
        }
        let (changes, last) = self.batch(&st)?;
        let sent = changes
            .iter()
            .map(|c| (c.change_id, c.record_id.to_store()))
            .collect();
        let body = PushBody {
            changes,
            cursor: st.cursor.clone(),
        };
        let range = (st.last_applied + 1, last);
        self.send(
            &st,
            &pair,
            now,
            RequestKind::Push,
            range,
            &body.encode(),
            sent,
        )
        .map(Some)
    }

    /// Seals, signs and remembers a request of `kind` covering the sequence
    /// numbers `first..=last` (none when `last < first`).
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        st: &State,
        pair: &Ed25519KeyPair,
        now: i64,
        kind: RequestKind,
        (first, last): (u64, u64),
        body: &[u8],
        sent: Vec<(Id16, String)>,
    ) -> Result<SyncRequest> {
        let request_id = random16()?;
        let header = RequestHeader {
            kind,
            minor: wire::MINOR,
            clinic_id: st.clinic_id,
            device_id: st.device_id,
            key_id: st.hpke_key_id,
            request_id,
            epoch: st.epoch,
            first,
            last,
            clock_ms: st.now(now),
            extensions: Vec::new(),
        };
        let (bytes, key) = wire::seal_request(&header, body, &st.hpke_key, pair, false)?;
        self.remember(Pending {
            request_id,
            key,
            kind,
            last,
            sent,
            made_ms: now,
        });
        Ok(SyncRequest {
            request_id: to_hex(&request_id),
            url: format!("{}/v1/sync", st.url.trim_end_matches('/')),
            body: bytes,
            content_type: CONTENT_TYPE,
        })
    }

    /// The changes of the next batch (categories not shared left out, the
    /// note withheld when notes are not shared), and the last sequence
    /// number the batch covers. Every queued change is sent, even one a
    /// later edit of the same record supersedes: the clinic then sees each
    /// sequence number with its change id, which is how a store restored
    /// from an older copy is caught reusing numbers before any of its new
    /// versions could pass for newer than the lost ones (the versions are
    /// small; edits of one record between two syncs are rare).
    fn batch(&self, st: &State) -> Result<(Vec<Change>, u64)> {
        self.read(|inner| {
            let rows: Vec<(i64, Option<String>)> = inner
                .conn
                .prepare_cached(
                    "SELECT seq, change_id FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?
                .query_map(
                    params![st.last_applied as i64, MAX_BATCH_CHANGES as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut last = st.last_applied;
            let mut out: Vec<Change> = Vec::new();
            let mut bytes = 0;
            for (seq, change_id) in rows {
                let change = match &change_id {
                    Some(cid) => match load_row(&inner.conn, &inner.sealer, "sync_outbox", cid) {
                        Ok(row) => Some(
                            Change::decode(&row.plain)
                                .map_err(|_| Error::corrupted("sync_outbox", cid))?,
                        ),
                        // A row written before enrollment, or of a table
                        // that does not sync: nothing to send.
                        Err(Error::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    },
                    None => None,
                };
                if let Some(mut c) = change
                    && !out.iter().any(|o| o.change_id == c.change_id)
                {
                    c.seq = seq as u64;
                    let category = Category::from_code(c.category);
                    if category.is_some_and(|cat| !st.shares(cat)) {
                        last = seq as u64;
                        continue;
                    }
                    if !st.shares(Category::Notes)
                        && c.kind == kind::ENTRY
                        && let Some(b) = &c.body
                        && let Ok(mut e) = EntryBody::decode(b)
                        && e.note.is_some()
                    {
                        e.note = None;
                        e.withheld.push(ENTRY_NOTE);
                        c.body = Some(e.encode());
                    }
                    let size = encode_change(&c).len();
                    if !out.is_empty() && bytes + size > MAX_BATCH_BYTES {
                        break;
                    }
                    bytes += size;
                    out.push(c);
                }
                last = seq as u64;
            }
            Ok((out, last))
        })
    }

    /// Applies the reply to the request `request_id`, in one transaction:
    /// verified, acknowledged changes trimmed, pulled changes merged, cursor
    /// advanced. A reply that fails a check changes nothing.
    pub fn sync_receive(&self, request_id: &str, reply: &[u8]) -> Result<SyncOutcome> {
        let rid = hex16(request_id).map_err(|_| Error::StaleReply)?;
        let pending = {
            let mut p = self.sync_pending.lock().unwrap_or_else(|e| e.into_inner());
            let i = p
                .iter()
                .position(|x| x.request_id == rid)
                .ok_or(Error::StaleReply)?;
            p.remove(i)
        };
        let (root, clinic, device) = self.read(|inner| {
            let st = load_state(&inner.conn, &inner.sealer)?.ok_or(Error::NotEnrolled)?;
            Ok((st.root_key, st.clinic_id, st.device_id))
        })?;
        let parsed = wire::Reply::parse(reply)?;
        let body = parsed.open(&root, &clinic, &device, &pending.key)?;
        let header = parsed.header;
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            let mut st = load_state(tx, sealer)?.ok_or(Error::NotEnrolled)?;
            let outcome = match header.kind {
                ReplyKind::Ok => {
                    let ok = OkBody::decode(&body)?;
                    let zones = ctx.zones;
                    let outcome =
                        apply_ok(tx, sealer, zones, &mut st, &pending, &header, &ok, now)?;
                    // Pulled trackers may have changed the definitions.
                    *ctx.trackers = None;
                    outcome
                }
                ReplyKind::Error | ReplyKind::UnsealedError => {
                    let err = ErrorBody::decode(&body)?;
                    let e = apply_error(tx, sealer, &mut st, &pending, &header, &err, now)?;
                    st.last_error = e.to_string();
                    save_state(tx, sealer, &st)?;
                    return Ok(Err(e));
                }
            };
            st.last_sync_ms = now;
            st.last_error.clear();
            save_state(tx, sealer, &st)?;
            Ok(Ok(outcome))
        })?
    }

    /// The request that tells the clinic this patient withdraws: the clinic
    /// revokes this device and stops receiving. When its reply is applied
    /// the journal stops syncing and forgets its device key; everything
    /// logged stays on the device.
    pub fn sync_withdraw(&self) -> Result<SyncRequest> {
        let (st, now) = self.read(|inner| {
            let st = load_state(&inner.conn, &inner.sealer)?.ok_or(Error::NotEnrolled)?;
            Ok((st, inner.clock.now_ms()))
        })?;
        if st.status != Enrollment::Active {
            return Err(Error::NotEnrolled);
        }
        let range = (st.last_applied + 1, st.last_applied);
        self.send(
            &st,
            &st.key_pair()?,
            now,
            RequestKind::Withdraw,
            range,
            &[],
            Vec::new(),
        )
    }

    /// Stops syncing without telling the clinic (when it cannot be reached):
    /// the device key is forgotten and nothing more is sent. The clinic
    /// should also revoke the device.
    pub fn sync_forget(&self) -> Result<()> {
        self.write(|tx, sealer, ctx| {
            let mut st = load_state(tx, sealer)?.ok_or(Error::NotEnrolled)?;
            withdrawn(&mut st);
            save_state(tx, sealer, &st)?;
            log(
                tx,
                sealer,
                &SyncLogEntry {
                    at_ms: ctx.clock.now_ms(),
                    event: "withdraw".into(),
                    acknowledged: st.last_applied,
                    detail: "stopped on this device only".into(),
                    ..SyncLogEntry::default()
                },
            )
        })
    }

    fn remember(&self, p: Pending) {
        let mut pending = self.sync_pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|x| p.made_ms - x.made_ms < PENDING_TTL_MS);
        if pending.len() >= MAX_PENDING {
            pending.remove(0);
        }
        pending.push(p);
    }

    /// Where sync stands; `NotEnrolled` if it never started.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        self.read(|inner| {
            let st = load_state(&inner.conn, &inner.sealer)?.ok_or(Error::NotEnrolled)?;
            let pending: i64 = inner.conn.query_row(
                "SELECT count(*) FROM outbox WHERE seq > ?1 AND change_id IN (SELECT id FROM sync_outbox)",
                [st.last_applied as i64],
                |r| r.get(0),
            )?;
            let conflicts: i64 =
                inner
                    .conn
                    .query_row("SELECT count(*) FROM conflicts", [], |r| r.get(0))?;
            Ok(SyncStatus {
                enrollment: st.status,
                server_url: st.url.clone(),
                clinic_id: to_hex(&st.clinic_id),
                device_id: to_hex(&st.device_id),
                patient_id: if st.patient_id == [0; 16] {
                    String::new()
                } else {
                    to_hex(&st.patient_id)
                },
                pending: pending as u64,
                conflicts: conflicts as u64,
                last_sync_ms: st.last_sync_ms,
                last_error: st.last_error.clone(),
                sharing: st
                    .categories
                    .iter()
                    .filter_map(|c| Category::from_code(*c))
                    .collect(),
                enrolled_at_ms: st.enrolled_at_ms,
            })
        })
    }

    /// Turns sharing of a category on or off. Turning it on queues what was
    /// logged in it before (the clinic receives the backlog); turning it off
    /// stops sending it (what the clinic already holds stays there).
    pub fn sync_set_sharing(&self, category: Category, on: bool) -> Result<()> {
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            let mut st = load_state(tx, sealer)?.ok_or(Error::NotEnrolled)?;
            let was = st.shares(category);
            st.categories.retain(|c| *c != category as u64);
            if on {
                st.categories.push(category as u64);
                st.categories.sort_unstable();
            }
            save_state(tx, sealer, &st)?;
            if on && !was {
                // Everything of the category (and, for notes, every entry)
                // is sent again as it is now.
                let (rows, _) = load_rows(tx, sealer, "entries", "deleted = 0", [])?;
                for row in rows {
                    let e = read_entry(tx, sealer, &row.id)?;
                    if category == Category::Notes && e.note.is_some()
                        || category_of(&e) == category
                    {
                        crate::store::outbox(tx, sealer, now, "entries", &e.id, e.revision, false)?;
                    }
                }
                requeue_own_lww(tx, sealer, &st, Some(category))?;
            }
            log(
                tx,
                sealer,
                &SyncLogEntry {
                    at_ms: now,
                    event: "sharing".into(),
                    acknowledged: st.last_applied,
                    detail: format!("{} {}", category.name(), if on { "on" } else { "off" }),
                    ..SyncLogEntry::default()
                },
            )
        })
    }

    /// The sync audit log, newest first, at most `limit` lines.
    pub fn sync_log(&self, limit: usize) -> Result<Vec<SyncLogEntry>> {
        self.read(|inner| {
            let (rows, _) = load_rows(&inner.conn, &inner.sealer, "sync_log", "deleted = 0", [])?;
            let mut out: Vec<SyncLogEntry> =
                rows.iter().filter_map(|r| decode_log(&r.plain)).collect();
            out.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
            out.truncate(limit);
            Ok(out)
        })
    }

    /// Conflict versions waiting for the patient: each is a version of an
    /// entry written elsewhere at the same time as the one shown. Editing or
    /// deleting the entry resolves them.
    pub fn sync_conflicts(&self) -> Result<Vec<ConflictVersion>> {
        self.read(|inner| {
            let (rows, _) = load_rows(&inner.conn, &inner.sealer, "conflicts", "deleted = 0", [])?;
            let mut out = Vec::new();
            for row in rows {
                let c = Change::decode(&row.plain)
                    .map_err(|_| Error::corrupted("conflicts", &row.id))?;
                let entry_id = c.record_id.to_store();
                let entry = match &c.body {
                    Some(b) => Some(entry_from_body(
                        &entry_id,
                        &EntryBody::decode(b)
                            .map_err(|_| Error::corrupted("conflicts", &row.id))?,
                    )),
                    None => None,
                };
                out.push(ConflictVersion {
                    entry_id,
                    entry,
                    author: to_hex(&c.author),
                });
            }
            Ok(out)
        })
    }
}

impl Store {
    /// Resolves an entry's conflict versions: the version written by
    /// `keep_author` (a device id from [`ConflictVersion::author`]) becomes
    /// the entry, or with `None` the version shown now stays. The choice is
    /// a new local version that includes every version the patient saw, so
    /// the conflict versions go on every device at the next sync. An entry
    /// deleted on one device and edited on another comes back this way
    /// (keep the edit), or stays deleted (keep the delete). Returns the
    /// entry kept, `None` when the kept version is a delete. `NotFound` when
    /// the entry has no conflict version by that author (or none at all).
    pub fn sync_resolve_conflict(
        &self,
        entry_id: &str,
        keep_author: Option<&str>,
    ) -> Result<Option<Entry>> {
        crate::crypto::check_id(entry_id)?;
        let not_found = || Error::NotFound {
            table: "conflicts",
            id: entry_id.to_owned(),
        };
        self.write(|tx, sealer, ctx| {
            let now = ctx.clock.now_ms();
            let tips = load_tips(tx, sealer, "entries", entry_id)?;
            if !tips.iter().any(|t| t.data.conflict.is_some()) {
                return Err(not_found());
            }
            // The version kept: its content, or `None` for a delete.
            let kept: Option<Entry> = match keep_author {
                None => match read_entry(tx, sealer, entry_id) {
                    Ok(e) => Some(e),
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                },
                Some(a) => {
                    let tip = tips
                        .iter()
                        .find(|t| t.data.conflict.is_some() && to_hex(&t.author) == a.trim())
                        .ok_or_else(not_found)?;
                    let cid = tip.data.conflict.as_deref().expect("a conflict tip");
                    let row = load_row(tx, sealer, "conflicts", cid)?;
                    let c = Change::decode(&row.plain)
                        .map_err(|_| Error::corrupted("conflicts", cid))?;
                    match &c.body {
                        Some(b) => Some(entry_from_body(
                            entry_id,
                            &EntryBody::decode(b)
                                .map_err(|_| Error::corrupted("conflicts", cid))?,
                        )),
                        None => None,
                    }
                }
            };
            // Written as a local change: the outbox row's version includes
            // every tip and clears their conflict rows (`local_write`).
            match &kept {
                Some(e) => {
                    let e = Entry {
                        updated_at_ms: now,
                        ..e.clone()
                    };
                    let rev = put_synced_entry(tx, sealer, &e)?;
                    crate::store::outbox(tx, sealer, now, "entries", entry_id, rev, false)?;
                }
                None => {
                    let rev: i64 = tx.query_row(
                        "SELECT revision FROM entries WHERE id = ?1",
                        [entry_id],
                        |r| r.get(0),
                    )?;
                    if read_entry(tx, sealer, entry_id).is_ok() {
                        crate::store::tombstone(tx, sealer, now, "entries", entry_id)?;
                    } else {
                        crate::store::outbox(tx, sealer, now, "entries", entry_id, rev, true)?;
                    }
                }
            }
            Ok(match kept {
                Some(_) => Some(read_entry(tx, sealer, entry_id)?),
                None => None,
            })
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_ok(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    zones: &crate::zones::ZoneDb,
    st: &mut State,
    pending: &Pending,
    header: &wire::ReplyHeader,
    ok: &OkBody,
    now: i64,
) -> Result<SyncOutcome> {
    let bad = |reason: &str| Error::BadReply {
        reason: reason.to_owned(),
    };
    let receipt = ok.receipt.ok_or_else(|| bad("no receipt"))?;
    wire::verify_receipt(&st.root_key, header, ok.last_applied, &receipt)
        .map_err(|_| bad("the receipt's signature does not verify"))?;
    if pending.kind == RequestKind::Withdraw {
        withdrawn(st);
        log(
            tx,
            sealer,
            &SyncLogEntry {
                at_ms: now,
                event: "withdraw".into(),
                acknowledged: ok.last_applied,
                detail: "the clinic confirmed".into(),
                receipt: to_hex(&receipt),
                ..SyncLogEntry::default()
            },
        )?;
        return Ok(SyncOutcome {
            acknowledged: ok.last_applied,
            ..SyncOutcome::default()
        });
    }
    if pending.kind == RequestKind::Enroll {
        st.status = Enrollment::Active;
        st.patient_id = ok.patient_id.ok_or_else(|| bad("no patient id"))?;
        *st.secret = [0; 16];
    }
    take_certificates(st, &ok.certificates, header.server_clock_ms);
    let mut detail = String::new();
    // The clinic went back in time: a new epoch, or fewer changes applied
    // than it acknowledged before. Send again what it lacks.
    let new_epoch = st.epoch != [0; 16] && st.epoch != header.epoch;
    if new_epoch || ok.last_applied < st.last_applied {
        let requeued = requeue_own(tx, sealer, st, if new_epoch { 0 } else { ok.last_applied })?
            + requeue_own_lww(tx, sealer, st, None)?;
        st.cursor.clear();
        detail = format!("the clinic went back in time; {requeued} versions queued again");
        log(
            tx,
            sealer,
            &SyncLogEntry {
                at_ms: now,
                event: "restore".into(),
                acknowledged: ok.last_applied,
                detail: detail.clone(),
                ..SyncLogEntry::default()
            },
        )?;
    }
    st.epoch = header.epoch;
    // The clinic has applied sequence numbers this store never issued: it is
    // an older copy of itself. New versions go under a new incarnation (they
    // must not claim the lost future's), numbering continues above the
    // clinic's, and the feed is read again from the start so that the lost
    // future comes back.
    let mut restart_feed = false;
    if pending.kind == RequestKind::Push && ok.last_applied > issued_seq(tx)? {
        st.incarnation += 1;
        raise_seq(tx, ok.last_applied)?;
        restart_feed = true;
        detail = "this store is an older copy of itself; reading the clinic's feed again".into();
        log(
            tx,
            sealer,
            &SyncLogEntry {
                at_ms: now,
                event: "restore".into(),
                acknowledged: ok.last_applied,
                detail: detail.clone(),
                ..SyncLogEntry::default()
            },
        )?;
    }
    // Only what this request covered is known to be the clinic's copy of
    // this store's changes: a higher `last_applied` comes from an earlier
    // request whose reply was lost (the same changes) or from the lost
    // future of a restored copy (other changes under the same numbers).
    // The next batch sends the rest again, and the clinic tells the two
    // apart by change id (duplicates, or `sequence_reused`).
    let acknowledged = ok.last_applied.min(pending.last.max(st.last_applied));
    trim(tx, acknowledged)?;
    st.last_applied = acknowledged;

    // Restamped changes: the clinic replaced a stamp too far ahead.
    for (cid, hlc) in &ok.restamped {
        if let Some((_, rid)) = pending.sent.iter().find(|(c, _)| c == cid) {
            relabel_lww(tx, sealer, cid, rid, Some(*hlc), None)?;
            let mut tips = load_tips(tx, sealer, "entries", rid)?;
            for t in tips.iter_mut().filter(|t| t.data.change_id == *cid) {
                t.hlc = *hlc;
            }
            tips.sort_by_key(|t| std::cmp::Reverse((t.hlc, t.author)));
            save_tips(tx, sealer, "entries", rid, &tips)?;
        }
    }

    let mut outcome = SyncOutcome {
        sent: pending.sent.len() as u32,
        acknowledged: ok.last_applied,
        rejected: ok.rejected.len() as u32,
        more: ok.more,
        ..SyncOutcome::default()
    };
    let mut clock = Hlc(st.hlc);
    for c in &ok.changes {
        clock = clock.receive(Hlc(c.hlc), st.now(now));
        match apply_remote(tx, sealer, zones, c)? {
            Remote::Seen => {}
            Remote::Applied => outcome.pulled += 1,
            Remote::Conflict => {
                outcome.pulled += 1;
                outcome.conflicts += 1;
            }
        }
    }
    st.hlc = clock.0;
    st.cursor = if restart_feed {
        Vec::new()
    } else {
        ok.cursor.clone()
    };
    st.clock_offset_ms = header.server_clock_ms as i64 - now;
    // More to send: the batch stopped short of the queue's end.
    let queued_after: i64 = tx.query_row(
        "SELECT count(*) FROM outbox WHERE seq > ?1",
        [st.last_applied as i64],
        |r| r.get(0),
    )?;
    outcome.more |= queued_after > 0;
    log(
        tx,
        sealer,
        &SyncLogEntry {
            at_ms: now,
            event: if pending.kind == RequestKind::Enroll {
                "enroll".into()
            } else {
                "push".into()
            },
            sent: outcome.sent,
            acknowledged: ok.last_applied,
            pulled: outcome.pulled,
            rejected: ok
                .rejected
                .iter()
                .map(|r| format!("{}:{}", r.seq, r.code))
                .collect(),
            detail,
            receipt: to_hex(&receipt),
        },
    )?;
    Ok(outcome)
}

/// Stops syncing: no key, nothing shared, nothing queued.
fn withdrawn(st: &mut State) {
    st.status = Enrollment::Withdrawn;
    st.device_pkcs8 = Zeroizing::new(Vec::new());
    *st.secret = [0; 16];
    st.categories.clear();
}

/// The highest sequence number this store has issued.
fn issued_seq(tx: &Transaction<'_>) -> Result<u64> {
    let n: Option<i64> = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// Makes the next sequence number larger than `at_least`.
fn raise_seq(tx: &Transaction<'_>, at_least: u64) -> Result<()> {
    if issued_seq(tx)? >= at_least {
        return Ok(());
    }
    let n = tx.execute(
        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'outbox'",
        [at_least as i64],
    )?;
    if n == 0 {
        tx.execute(
            "INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox', ?1)",
            [at_least as i64],
        )?;
    }
    Ok(())
}

/// Deletes the queued changes the clinic has signed for.
fn trim(tx: &Transaction<'_>, through: u64) -> Result<()> {
    tx.execute(
        "DELETE FROM sync_outbox WHERE id IN (SELECT change_id FROM outbox WHERE seq <= ?1)",
        [through as i64],
    )?;
    tx.execute("DELETE FROM outbox WHERE seq <= ?1", [through as i64])?;
    Ok(())
}

/// Takes the newest HPKE key certificate that the root key signed and that
/// is valid by the clinic's clock.
fn take_certificates(st: &mut State, certs: &[Certificate], server_ms: u64) {
    let best = certs
        .iter()
        .filter(|c| c.not_before_ms <= server_ms && server_ms <= c.not_after_ms)
        .filter(|c| {
            wire::verify_certificate(&st.root_key, &c.signed_bytes(&st.clinic_id), &c.signature)
                .is_ok()
        })
        .max_by_key(|c| c.not_before_ms);
    if let Some(c) = best {
        st.hpke_key_id = c.key_id;
        st.hpke_key = c.public;
    }
}

/// Queues again this device's own versions above `above` (the clinic lost
/// them): the same versions (change id, stamp, vector), under new sequence
/// numbers. Returns how many.
fn requeue_own(tx: &Transaction<'_>, sealer: &Sealer, st: &State, above: u64) -> Result<u32> {
    let (rows, _) = load_rows(tx, sealer, "sync_meta", "deleted = 0", [])?;
    let mut n = 0;
    for row in rows {
        let Some((table, id)) = row.id.split_once('/') else {
            continue;
        };
        if table != "entries" {
            continue;
        }
        let tips = decode_tips(&row.plain).ok_or_else(|| Error::corrupted("sync_meta", &row.id))?;
        for t in tips {
            let own =
                t.vv.iter()
                    .find(|(d, _)| *d == t.author)
                    .map_or(0, |(_, s)| *s);
            let mine = st.own_incarnation(&t.author).is_some();
            if !mine || own <= above {
                continue;
            }
            // Still queued: it goes with the next batch as it is.
            let queued: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE change_id = ?1)",
                [to_hex(&t.data.change_id)],
                |r| r.get(0),
            )?;
            if queued {
                continue;
            }
            let (body, category) = match (&t.data.conflict, t.data.op) {
                (_, Op::Delete) => (None, 0),
                (None, Op::Put) => {
                    let e = read_entry(tx, sealer, id)?;
                    (Some(entry_body(&e).encode()), category_of(&e) as u64)
                }
                (Some(cid), Op::Put) => {
                    let row = load_row(tx, sealer, "conflicts", cid)?;
                    let c = Change::decode(&row.plain)
                        .map_err(|_| Error::corrupted("conflicts", cid))?;
                    (c.body, c.category)
                }
            };
            requeue(
                tx,
                sealer,
                "entries",
                id,
                t.data.op,
                &t.data.change_id,
                |seq| Change {
                    change_id: t.data.change_id,
                    seq,
                    hlc: t.hlc,
                    kind: kind::ENTRY,
                    record_id: RecordId::from_store(id),
                    op: t.data.op,
                    vv: t.vv.clone(),
                    body,
                    category,
                    author: t.author,
                    incarnation: st.own_incarnation(&t.author).unwrap_or(0),
                },
            )?;
            n += 1;
        }
    }
    Ok(n)
}

enum Remote {
    Seen,
    Applied,
    Conflict,
}

/// Merges one pulled change into the record's tips and the live row.
fn apply_remote(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    zones: &crate::zones::ZoneDb,
    c: &Change,
) -> Result<Remote> {
    if let Some(table) = lww::table_of(c.kind) {
        return apply_remote_lww(tx, sealer, zones, c, table);
    }
    let kept_for_later = || -> Result<Remote> {
        put_row(
            tx,
            sealer,
            "sync_pending",
            &to_hex(&c.change_id),
            None,
            &encode_change(c),
        )?;
        Ok(Remote::Applied)
    };
    if c.kind != kind::ENTRY {
        return kept_for_later();
    }
    let RecordId::Bytes(rid) = &c.record_id else {
        return kept_for_later();
    };
    let id = to_hex(rid);
    let Some(vv) = vv_normalize(c.vv.clone()) else {
        return kept_for_later();
    };
    let incoming_body = match (&c.body, c.op) {
        (Some(b), Op::Put) => match EntryBody::decode(b) {
            Ok(e) => Some(e),
            Err(_) => return kept_for_later(),
        },
        _ => None,
    };
    let mut tips = load_tips(tx, sealer, "entries", &id)?;
    // The same change, whatever vector it came back with, is one version.
    if tips.iter().any(|t| t.data.change_id == c.change_id) {
        return Ok(Remote::Seen);
    }
    let before: Vec<TipData> = tips.iter().map(|t| t.data.clone()).collect();
    let incoming = Version {
        hlc: c.hlc,
        author: c.author,
        vv,
        data: TipData {
            change_id: c.change_id,
            op: c.op,
            conflict: None,
        },
    };
    let applied = merge::apply(&mut tips, incoming, false);
    if applied == Applied::Seen {
        return Ok(Remote::Seen);
    }
    // Conflict rows of tips the new version replaced are gone for good.
    for old in &before {
        if !tips.iter().any(|t| t.data.change_id == old.change_id)
            && let Some(cid) = &old.conflict
        {
            tx.execute("DELETE FROM conflicts WHERE id = ?1", [cid])?;
        }
    }
    let winner_is_incoming = tips[0].data.change_id == c.change_id;
    let mut created_conflict = false;
    if winner_is_incoming {
        // The version shown until now, if still a tip, becomes a conflict
        // version before the live row is replaced.
        if let Some(t) = tips
            .iter_mut()
            .find(|t| t.data.conflict.is_none() && t.data.change_id != c.change_id)
        {
            let body = match t.data.op {
                Op::Put => match read_entry(tx, sealer, &id) {
                    Ok(e) => Some(entry_body(&e).encode()),
                    Err(Error::Corrupted { .. }) => None,
                    Err(e) => return Err(e),
                },
                Op::Delete => None,
            };
            let kept = Change {
                change_id: t.data.change_id,
                seq: t
                    .vv
                    .iter()
                    .find(|(d, _)| *d == t.author)
                    .map_or(1, |(_, s)| (*s).max(1)),
                hlc: t.hlc,
                kind: kind::ENTRY,
                record_id: c.record_id.clone(),
                op: if body.is_some() { Op::Put } else { Op::Delete },
                vv: t.vv.clone(),
                body,
                category: c.category,
                author: t.author,
                incarnation: 0,
            };
            let cid = crate::crypto::random_id()?;
            put_row(tx, sealer, "conflicts", &cid, None, &encode_change(&kept))?;
            t.data.conflict = Some(cid);
            created_conflict = true;
        }
        match incoming_body {
            Some(mut b) => {
                if b.withheld.contains(&ENTRY_NOTE)
                    && let Ok(local) = read_entry(tx, sealer, &id)
                {
                    // The copy that came back lacks the note the patient
                    // did not share: keep the note here.
                    b.note = local.note;
                }
                put_synced_entry(tx, sealer, &entry_from_body(&id, &b))?;
            }
            None => tombstone_synced_entry(tx, sealer, &id)?,
        }
    } else {
        let cid = crate::crypto::random_id()?;
        put_row(tx, sealer, "conflicts", &cid, None, &encode_change(c))?;
        if let Some(t) = tips.iter_mut().find(|t| t.data.change_id == c.change_id) {
            t.data.conflict = Some(cid);
        }
        created_conflict = true;
    }
    save_tips(tx, sealer, "entries", &id, &tips)?;
    Ok(if created_conflict {
        Remote::Conflict
    } else {
        Remote::Applied
    })
}

/// What an error reply means for this device, applied in the same
/// transaction (nothing local is ever deleted); returns the typed error.
fn apply_error(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    st: &mut State,
    pending: &Pending,
    _header: &wire::ReplyHeader,
    err: &ErrorBody,
    now: i64,
) -> Result<Error> {
    let code = ErrorCode::from_u64(err.code);
    let e = match code {
        Some(ErrorCode::EnrollmentUsed) => Error::EnrollmentUsed,
        Some(ErrorCode::EnrollmentExpired) => Error::EnrollmentExpired,
        Some(ErrorCode::EnrollmentRevoked) | Some(ErrorCode::BadProof) => Error::EnrollmentRevoked,
        Some(ErrorCode::DeviceRevoked) => {
            st.status = Enrollment::Revoked;
            Error::DeviceRevoked
        }
        Some(ErrorCode::Busy) => Error::ServerBusy {
            retry_after_seconds: err.retry_after,
        },
        Some(ErrorCode::Incompatible) => Error::IncompatibleProtocol {
            found: 0,
            supported: wire::MAJOR,
        },
        Some(ErrorCode::UnknownKey) => {
            take_certificates(st, &err.certificates, u64::MAX / 2);
            Error::SyncRefused {
                reason: "unknown_key",
            }
        }
        Some(ErrorCode::Gap) => {
            if err.last_applied < st.last_applied {
                requeue_own(tx, sealer, st, err.last_applied)?;
                requeue_own_lww(tx, sealer, st, None)?;
            }
            st.last_applied = err.last_applied;
            Error::SyncRefused { reason: "gap" }
        }
        Some(ErrorCode::SequenceReused) => {
            renumber(tx, sealer, st, err.last_applied, &err.held)?;
            Error::SyncRefused {
                reason: "sequence_reused",
            }
        }
        Some(c) => Error::SyncRefused { reason: c.name() },
        None => Error::SyncRefused { reason: "unknown" },
    };
    log(
        tx,
        sealer,
        &SyncLogEntry {
            at_ms: now,
            event: "error".into(),
            sent: pending.sent.len() as u32,
            acknowledged: st.last_applied,
            detail: code.map_or("unknown", |c| c.name()).into(),
            ..SyncLogEntry::default()
        },
    )?;
    Ok(e)
}

/// This store was restored from an older copy: the clinic has applied
/// sequence numbers it is about to reuse. Queued changes the clinic already
/// holds (`held`) are acknowledged; the others were made on this copy and
/// move to a new incarnation, so that they never claim to include versions
/// this copy never saw, and are numbered above what the clinic applied.
fn renumber(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    st: &mut State,
    server_last: u64,
    held: &[Held],
) -> Result<()> {
    let old_author = st.author();
    let rows: Vec<(i64, Option<String>)> = tx
        .prepare("SELECT seq, change_id FROM outbox WHERE seq > ?1 ORDER BY seq")?
        .query_map([st.last_applied as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let is_held = |cid: &Option<String>| {
        cid.as_deref()
            .and_then(|c| hex16(c).ok())
            .is_some_and(|c| held.iter().any(|h| h.change_id == c))
    };
    // The clinic's copy of a held change is the one every replica has: a
    // copy of this store older than a relabelling takes it over, so that
    // its tips compare as everyone else's do.
    for h in held {
        let (Some(author), Some(vv)) = (h.author, vv_normalize(h.vv.clone())) else {
            continue;
        };
        let row: Option<String> = tx
            .query_row(
                "SELECT record_id FROM outbox WHERE change_id = ?1",
                [to_hex(&h.change_id)],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = row {
            relabel_lww(tx, sealer, &h.change_id, &id, None, Some(author))?;
            let mut tips = load_tips(tx, sealer, "entries", &id)?;
            let mut changed = false;
            for t in tips.iter_mut().filter(|t| t.data.change_id == h.change_id) {
                changed |= t.author != author || t.vv != vv;
                t.author = author;
                t.vv = vv.clone();
            }
            if changed {
                save_tips(tx, sealer, "entries", &id, &tips)?;
            }
        }
    }
    st.incarnation += 1;
    let new_author = st.author();
    let max_seq: i64 =
        tx.query_row("SELECT coalesce(max(seq), 0) FROM outbox", [], |r| r.get(0))?;
    let mut next = (max_seq as u64).max(server_last);
    for (seq, cid) in rows {
        if is_held(&cid) {
            if let Some(c) = &cid {
                tx.execute("DELETE FROM sync_outbox WHERE id = ?1", [c])?;
            }
            tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
            continue;
        }
        next += 1;
        tx.execute(
            "UPDATE outbox SET seq = ?2 WHERE seq = ?1",
            params![seq, next as i64],
        )?;
        let Some(cid) = cid else { continue };
        let row = match load_row(tx, sealer, "sync_outbox", &cid) {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut c =
            Change::decode(&row.plain).map_err(|_| Error::corrupted("sync_outbox", &cid))?;
        c.seq = next;
        if c.author == old_author {
            // The version moves to the new author with the same counter,
            // and no longer claims any of the old author's versions: it
            // may have been made without some of them (the copy's lost
            // future), so it is kept beside them, never over them. The
            // same change relabelled twice (a copy of a copy) comes out
            // the same.
            let own =
                c.vv.iter()
                    .find(|(d, _)| *d == old_author)
                    .map_or(1, |(_, n)| *n);
            c.vv.retain(|(d, _)| *d != old_author);
            c.vv = vv_join(&c.vv, &[(new_author, own)]);
            c.author = new_author;
            c.incarnation = st.incarnation;
        }
        queue_change(tx, sealer, &c)?;
        let id = c.record_id.to_store();
        if lww::table_of(c.kind).is_some() {
            relabel_lww(tx, sealer, &c.change_id, &id, None, Some(c.author))?;
            continue;
        }
        let mut tips = load_tips(tx, sealer, "entries", &id)?;
        for t in tips.iter_mut().filter(|t| t.data.change_id == c.change_id) {
            t.author = c.author;
            t.vv = c.vv.clone();
        }
        save_tips(tx, sealer, "entries", &id, &tips)?;
    }
    raise_seq(tx, next)?;
    st.last_applied = server_last;
    st.cursor.clear();
    Ok(())
}
