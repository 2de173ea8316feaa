//! The SQLite backend: `DIR/clinic.sqlite`, WAL, `synchronous=FULL`, one
//! connection (SQLite has one writer; write transactions are `BEGIN
//! IMMEDIATE`, which is the device- and patient-row lock).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cairn_core::sync::hlc::Hlc;
use cairn_core::sync::messages::{Change, Held, Id16};
use rusqlite::{Connection, OptionalExtension as _, Transaction, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::{
    ClinicAuthor, Device, DeviceInfo, EnrollOutcome, EnrollTx, NewEnrollment, PatientRecords,
    PushOutcome, PushTx, RecordState, RequestRef, RevokeOutcome, Rotated, Storage, WithdrawOutcome,
};
use super::{
    Feed, Known, arr32, encode_categories, i, id16, key_place, merge_batch, open_change,
    owned_keys, plan_batch, random_key_id, read_tips, seal_change, sent_again, tips_row, touched,
    u,
};
use crate::Error;
use crate::ingest::{self, Pull};
use crate::keys::{self, GRACE_MS, HPKE_VALIDITY_MS, HpkeKey, KeySet};
use crate::seal::{Place, Sealer, StorageKey};

/// The SQLite schema (`schema.sql`): the tables, columns and keys the
/// server writes (the ingest benchmark's baseline creates the same).
pub const SCHEMA: &str = include_str!("schema.sql");
const SCHEMA_VERSION: i64 = 2;
/// Version 1 to 2: `changes` becomes an ordinary (rowid) table, the same
/// columns and keys; its rows are copied as they are.
const MIGRATE_1_TO_2: &str = "
    ALTER TABLE changes RENAME TO changes_v1;
    CREATE TABLE changes (
        clinic_id BLOB NOT NULL,
        patient_id BLOB NOT NULL,
        change_id BLOB NOT NULL,
        device_id BLOB NOT NULL,
        seq INTEGER NOT NULL,
        server_seq INTEGER NOT NULL,
        feed_hash BLOB NOT NULL,
        record_table INTEGER NOT NULL,
        record_id TEXT NOT NULL,
        hlc INTEGER NOT NULL,
        op INTEGER NOT NULL,
        sealed_body BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (clinic_id, patient_id, server_seq),
        UNIQUE (clinic_id, change_id),
        UNIQUE (clinic_id, device_id, seq)
    );
    INSERT INTO changes (clinic_id, patient_id, change_id, device_id, seq, server_seq,
                         feed_hash, record_table, record_id, hlc, op, sealed_body, received_at)
    SELECT clinic_id, patient_id, change_id, device_id, seq, server_seq,
           feed_hash, record_table, record_id, hlc, op, sealed_body, received_at
    FROM changes_v1 ORDER BY clinic_id, patient_id, server_seq;
    DROP TABLE changes_v1;";
/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "clinic.sqlite";
const PULL_PAGE: i64 = 256;

/// A record row's `sealed_state`, and its tip change's id and sealed body.
type TipsColumns = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// The SQLite backend.
pub struct Sqlite {
    conn: Mutex<Connection>,
    sealer: Sealer,
    clinic_id: Id16,
    path: PathBuf,
}

impl Sqlite {
    /// Opens `DIR/clinic.sqlite`, creating the directory, the schema and
    /// the clinic (its id, epoch, root key and first HPKE key) on first use.
    /// Fails if `key` does not open the clinic's keys.
    pub fn open(dir: &Path, key: &StorageKey, now_ms: u64) -> Result<Sqlite, Error> {
        create_dir(dir)?;
        let path = dir.join(FILE_NAME);
        create_private_file(&path)?;
        let conn = Connection::open(&path).map_err(|e| {
            Error::Runtime(format!(
                "cannot open the database: {}",
                e.sqlite_error_code()
                    .map_or_else(|| "not a database".to_owned(), |c| format!("{c:?}"))
            ))
        })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if mode != "wal" {
            return Err(Error::Runtime(
                "the file system does not support WAL".into(),
            ));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")?;
        migrate(&conn)?;
        let sealer = Sealer::new(key);
        let clinic_id = ensure_clinic(&conn, &sealer, now_ms)?;
        let db = Sqlite {
            conn: Mutex::new(conn),
            sealer,
            clinic_id,
            path,
        };
        // The storage key must open the clinic's keys.
        db.load_keys()?;
        Ok(db)
    }

    /// The clinic this database serves.
    pub fn clinic_id(&self) -> Id16 {
        self.clinic_id
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolled it back when the transaction was
        // dropped; the connection is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`); commits when it
    /// returns `(value, true)`, rolls back otherwise.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<(T, bool), Error>,
    ) -> Result<T, Error> {
        let mut conn = self.lock();
        let t = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (value, commit) = f(&t)?;
        if commit {
            t.commit()?;
        } else {
            t.rollback()?;
        }
        Ok(value)
    }

    /// Runs `f` in a read transaction (one snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let mut conn = self.lock();
        let t = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let value = f(&t)?;
        t.commit()?;
        Ok(value)
    }

    fn patient_place<'a>(
        &'a self,
        patient: &'a [u8],
        table: &'a str,
        record: &'a [u8],
    ) -> Place<'a> {
        Place {
            clinic: &self.clinic_id,
            patient,
            table,
            record,
            change: &[],
        }
    }

    fn insert_request(&self, t: &Transaction<'_>, r: &RequestRef) -> Result<bool, Error> {
        let n = t
            .prepare_cached(
                "INSERT INTO requests (clinic_id, device_id, request_id, received_at, request_hash)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (clinic_id, device_id, request_id) DO NOTHING",
            )?
            .execute(params![
                &self.clinic_id[..],
                &r.device_id[..],
                &r.request_id[..],
                i(r.now_ms),
                &r.request_hash[..]
            ])?;
        Ok(n == 1)
    }

    fn patient_by_name(&self, t: &Transaction<'_>, name: &str) -> Result<Option<Id16>, Error> {
        let mac = self.sealer.name_mac(&self.clinic_id, name);
        t.prepare_cached("SELECT patient_id FROM patients WHERE clinic_id = ?1 AND name_mac = ?2")?
            .query_row(params![&self.clinic_id[..], &mac[..]], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()?
            .map(id16)
            .transpose()
    }
}

/// Creates the data directory (mode 0700) if it is missing.
pub(crate) fn create_dir(dir: &Path) -> Result<(), Error> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| Error::Runtime(format!("cannot create the data directory: {}", e.kind())))
}

/// Creates the database file readable by its owner only (SQLite gives its
/// WAL and shared-memory files the same mode), if it is missing.
fn create_private_file(path: &Path) -> Result<(), Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Runtime(format!(
            "cannot create the database file: {}",
            e.kind()
        ))),
    }
}

fn migrate(conn: &Connection) -> Result<(), Error> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 {SCHEMA}
                 PRAGMA user_version = {SCHEMA_VERSION};
                 COMMIT;"
            ))
            .or_else(|e| {
                // Another process created the schema first.
                let _ = conn.execute_batch("ROLLBACK");
                let now: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                if now == SCHEMA_VERSION {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
            Ok(())
        }
        1 => {
            // In one write transaction; another process may have migrated
            // first (then there is nothing left to do).
            let t = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let now: i64 = t.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now == 1 {
                t.execute_batch(&format!(
                    "{MIGRATE_1_TO_2}
                     PRAGMA user_version = {SCHEMA_VERSION};"
                ))?;
            }
            t.commit()?;
            Ok(())
        }
        SCHEMA_VERSION => Ok(()),
        v => Err(Error::Runtime(format!(
            "the database's schema version {v} is newer than this build's ({SCHEMA_VERSION})"
        ))),
    }
}

/// Creates this data directory's clinic on first use (the `server` row's
/// primary key makes it once, whoever races).
fn ensure_clinic(conn: &Connection, sealer: &Sealer, now_ms: u64) -> Result<Id16, Error> {
    let t = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let clinic_id: Id16 = sealer.random()?;
    let n = t
        .prepare_cached(
            "INSERT INTO server (id, clinic_id) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![&clinic_id[..]])?;
    if n == 1 {
        let epoch: Id16 = sealer.random()?;
        let root_pkcs8 = keys::new_root()?;
        let root = keys::root_from_pkcs8(&root_pkcs8)?;
        let root_id = random_key_id(sealer)?;
        let root_id_b = root_id.to_be_bytes();
        let sealed_root = sealer.seal(key_place(&clinic_id, &root_id_b), &root_pkcs8)?;
        t.prepare_cached(
            "INSERT INTO clinics (clinic_id, root_key_id, epoch, keys_version, created_at)
             VALUES (?1, ?2, ?3, 1, ?4)",
        )?
        .execute(params![&clinic_id[..], root_id, &epoch[..], i(now_ms)])?;
        t.prepare_cached("INSERT INTO keys (clinic_id, key_id, kind, public, sealed_private, not_before, not_after, state)
             VALUES (?1, ?2, 'root', ?3, ?4, ?5, ?6, 'current')")?.execute(
            params![
                &clinic_id[..],
                root_id,
                &cairn_core::sync::wire::public_key(&root)[..],
                sealed_root,
                i(now_ms),
                i64::MAX
            ],
        )?;
        let mut hpke_id = random_key_id(sealer)?;
        while hpke_id == root_id {
            hpke_id = random_key_id(sealer)?;
        }
        insert_hpke_key(&t, sealer, &clinic_id, &root, hpke_id, now_ms)?;
        t.commit()?;
        return Ok(clinic_id);
    }
    let id: Vec<u8> = t
        .prepare_cached("SELECT clinic_id FROM server WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    t.commit()?;
    id16(id)
}

/// Inserts a new current HPKE key; false if its id is taken.
fn insert_hpke_key(
    t: &Transaction<'_>,
    sealer: &Sealer,
    clinic_id: &Id16,
    root: &ring::signature::Ed25519KeyPair,
    key_id: u32,
    now_ms: u64,
) -> Result<bool, Error> {
    let (private, public) = keys::new_hpke(sealer.random()?);
    let not_after = now_ms + HPKE_VALIDITY_MS;
    let sig = keys::certify(root, clinic_id, key_id, &public, now_ms, not_after);
    let kid = key_id.to_be_bytes();
    let sealed = sealer.seal(key_place(clinic_id, &kid), &*private)?;
    let n = t.prepare_cached("INSERT INTO keys (clinic_id, key_id, kind, public, sealed_private, not_before, not_after, signature, state)
         VALUES (?1, ?2, 'hpke', ?3, ?4, ?5, ?6, ?7, 'current')
         ON CONFLICT (clinic_id, key_id) DO NOTHING")?.execute(
        params![
            &clinic_id[..],
            key_id,
            &public[..],
            sealed,
            i(now_ms),
            i(not_after),
            &sig[..]
        ],
    )?;
    Ok(n == 1)
}

/// Opens a stored change's sealed body: (record key, change id, sealed).
type Opener<'a> = dyn Fn(&str, &[u8], &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> + 'a;

/// The changes stored from `device` for seqs in `[first, last]` (seq, id,
/// and the author and version vector they were stored with), at most
/// [`ingest::MAX_HELD`], for a `sequence_reused` error.
fn held_changes(
    t: &Transaction<'_>,
    opener: &Opener<'_>,
    clinic: &[u8],
    device: &[u8],
    first: u64,
    last: u64,
) -> Result<Vec<Held>, Error> {
    let mut stmt = t.prepare_cached(
        "SELECT seq, change_id, record_id, sealed_body FROM changes
         WHERE clinic_id = ?1 AND device_id = ?2 AND seq BETWEEN ?3 AND ?4
         ORDER BY seq LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![clinic, device, i(first), i(last), ingest::MAX_HELD as i64],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        },
    )?;
    rows.map(|r| {
        let (seq, id, rkey, sealed) = r?;
        let body = opener(&rkey, &id, &sealed)?;
        let stored = Change::decode(&body).ok();
        Ok(Held {
            seq: u(seq),
            change_id: id16(id)?,
            author: stored.as_ref().map(|c| c.author),
            vv: stored.map(|c| c.vv).unwrap_or_default(),
        })
    })
    .collect()
}

impl Storage for Sqlite {
    fn keys_version(&self) -> Result<i64, Error> {
        Ok(self.lock().query_row(
            "SELECT keys_version FROM clinics WHERE clinic_id = ?1",
            params![&self.clinic_id[..]],
            |r| r.get(0),
        )?)
    }

    fn load_keys(&self) -> Result<KeySet, Error> {
        let c = &self.clinic_id;
        self.read(|t| {
            let (root_id, epoch, version): (u32, Vec<u8>, i64) = t.prepare_cached("SELECT root_key_id, epoch, keys_version FROM clinics WHERE clinic_id = ?1")?.query_row(
                params![&c[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let sealed_root: Vec<u8> = t.prepare_cached("SELECT sealed_private FROM keys WHERE clinic_id = ?1 AND key_id = ?2 AND kind = 'root'")?.query_row(
                params![&c[..], root_id],
                |r| r.get(0),
            )?;
            let pkcs8 = self
                .sealer
                .open(key_place(c, &root_id.to_be_bytes()), &sealed_root)?;
            let root = keys::root_from_pkcs8(&pkcs8)?;
            let mut stmt = t.prepare(
                "SELECT key_id, public, sealed_private, not_before, not_after, signature, state
                 FROM keys WHERE clinic_id = ?1 AND kind = 'hpke'
                 ORDER BY state = 'current' DESC, not_before DESC",
            )?;
            let rows = stmt.query_map(params![&c[..]], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?;
            let mut hpke = Vec::new();
            for row in rows {
                let (key_id, public, sealed, nb, na, sig, state) = row?;
                let private = self
                    .sealer
                    .open(key_place(c, &key_id.to_be_bytes()), &sealed)?;
                hpke.push(HpkeKey {
                    key_id,
                    public: arr32(&public)?,
                    private: Zeroizing::new(arr32(&private)?),
                    not_before_ms: u(nb),
                    not_after_ms: u(na),
                    signature: sig.try_into().map_err(|_| {
                        Error::Runtime("the database holds a certificate signature that is not 64 bytes".into())
                    })?,
                    current: state == "current",
                });
            }
            if hpke.iter().filter(|k| k.current).count() != 1 {
                return Err(Error::Runtime(
                    "the clinic must have exactly one current HPKE key".into(),
                ));
            }
            Ok(KeySet {
                clinic_id: *c,
                epoch: id16(epoch)?,
                version,
                root,
                hpke,
            })
        })
    }

    fn device(&self, device_id: &Id16) -> Result<Option<Device>, Error> {
        let row = self
            .lock()
            .query_row(
                "SELECT patient_id, public_key, revoked_at FROM devices
                 WHERE clinic_id = ?1 AND device_id = ?2",
                params![&self.clinic_id[..], &device_id[..]],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(p, k, revoked)| {
            Ok(Device {
                patient_id: id16(p)?,
                public_key: arr32(&k)?,
                revoked: revoked.is_some(),
            })
        })
        .transpose()
    }

    fn enroll(&self, tx: &EnrollTx<'_>) -> Result<EnrollOutcome, Error> {
        let c = &self.clinic_id[..];
        let r = &tx.request;
        let body = tx.body;
        self.write(|t| {
            if !self.insert_request(t, r)? {
                return Ok((EnrollOutcome::Replayed, false));
            }
            let row: Option<(Vec<u8>, Vec<u8>)> = t.prepare_cached("SELECT patient_id, sealed_secret FROM enrollments
                     WHERE clinic_id = ?1 AND enrollment_id = ?2")?.query_row(
                    params![c, &body.enrollment_id[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((patient, sealed)) = row else {
                return Ok((EnrollOutcome::BadProof, false));
            };
            let secret = self.sealer.open(
                self.patient_place(&patient, "enrollments", &body.enrollment_id),
                &sealed,
            )?;
            let secret: Zeroizing<[u8; 16]> = Zeroizing::new(
                secret[..]
                    .try_into()
                    .map_err(|_| Error::Runtime("an enrollment secret is not 16 bytes".into()))?,
            );
            if !body.proof_ok(&secret) {
                return Ok((EnrollOutcome::BadProof, false));
            }
            let key = &body.device_key[..];
            let consumed: Option<Vec<u8>> = t.prepare_cached("UPDATE enrollments SET used_by = ?3, used_at = COALESCE(used_at, ?4)
                     WHERE clinic_id = ?1 AND enrollment_id = ?2 AND revoked = 0
                       AND ((used_by IS NULL AND expires_at > ?4) OR used_by = ?3)
                     RETURNING patient_id")?.query_row(
                    params![c, &body.enrollment_id[..], key, i(r.now_ms)],
                    |r| r.get(0),
                )
                .optional()?;
            if consumed.is_none() {
                let (revoked, used_by): (bool, Option<Vec<u8>>) = t.prepare_cached("SELECT revoked, used_by FROM enrollments
                     WHERE clinic_id = ?1 AND enrollment_id = ?2")?.query_row(
                    params![c, &body.enrollment_id[..]],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let why = if revoked {
                    EnrollOutcome::Revoked
                } else if used_by.is_some_and(|u| u != key) {
                    EnrollOutcome::Used
                } else {
                    EnrollOutcome::Expired
                };
                return Ok((why, false));
            }
            let cats = self.sealer.seal(
                self.patient_place(&patient, "devices", &r.device_id),
                &encode_categories(&body.categories),
            )?;
            t.prepare_cached("INSERT INTO devices (clinic_id, device_id, patient_id, public_key, enrollment_id,
                                      last_applied_seq, sealed_categories, enrolled_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?7)
                 ON CONFLICT (clinic_id, device_id) DO NOTHING")?.execute(
                params![
                    c,
                    &r.device_id[..],
                    &patient,
                    key,
                    &body.enrollment_id[..],
                    cats,
                    i(r.now_ms)
                ],
            )?;
            let (dev_patient, last_applied, revoked_at): (Vec<u8>, i64, Option<i64>) = t.prepare_cached("SELECT patient_id, last_applied_seq, revoked_at FROM devices
                     WHERE clinic_id = ?1 AND device_id = ?2")?.query_row(
                    params![c, &r.device_id[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
            if revoked_at.is_some() {
                return Ok((EnrollOutcome::DeviceRevoked, false));
            }
            if dev_patient != patient {
                return Ok((EnrollOutcome::OtherPatient, false));
            }
            t.prepare_cached("UPDATE devices SET last_seen_at = ?3 WHERE clinic_id = ?1 AND device_id = ?2")?.execute(
                params![c, &r.device_id[..], i(r.now_ms)],
            )?;
            Ok((
                EnrollOutcome::Enrolled {
                    patient_id: id16(patient)?,
                    last_applied: u(last_applied),
                },
                true,
            ))
        })
    }

    fn ingest_batch(&self, tx: PushTx) -> Result<PushOutcome, Error> {
        let c = &self.clinic_id[..];
        let r = tx.request;
        let device = &r.device_id[..];
        let now = r.now_ms;
        self.write(|t| {
            if !self.insert_request(t, &r)? {
                return Ok((PushOutcome::Replayed, false));
            }
            let row: Option<(Vec<u8>, i64, Option<i64>)> = t
                .prepare_cached(
                    "SELECT patient_id, last_applied_seq, revoked_at FROM devices
                     WHERE clinic_id = ?1 AND device_id = ?2",
                )?
                .query_row(params![c, device], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((patient, last_applied, None)) = row else {
                return Ok((PushOutcome::DeviceRevoked, false));
            };
            let last_applied = u(last_applied);
            if tx.first > last_applied.saturating_add(1) {
                return Ok((PushOutcome::Gap { last_applied }, false));
            }
            // The patient's feed row: its counter and clock.
            let feed: Feed = t
                .prepare_cached(
                    "UPDATE feeds SET position = position WHERE clinic_id = ?1 AND patient_id = ?2
                     RETURNING position, hlc, hash",
                )?
                .query_row(params![c, &patient], |r| {
                    Ok(Feed {
                        position: u(r.get(0)?),
                        clock: Hlc(u(r.get(1)?)),
                        hash: r.get(2)?,
                    })
                })?;
            let mut known = Known::default();
            let mut new_records = std::collections::HashSet::new();
            {
                // The owners of the batch's random record ids: a new owner
                // row is a new record.
                let mut insert = t.prepare_cached(
                    "INSERT INTO record_owners (clinic_id, record_id, patient_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT (clinic_id, record_id) DO NOTHING",
                )?;
                let mut select = t.prepare_cached(
                    "SELECT patient_id FROM record_owners WHERE clinic_id = ?1 AND record_id = ?2",
                )?;
                for rkey in owned_keys(&tx.changes) {
                    let owner = if insert.execute(params![c, &rkey, &patient])? == 1 {
                        new_records.insert(rkey.clone());
                        patient.clone()
                    } else {
                        select.query_row(params![c, &rkey], |r| r.get(0))?
                    };
                    known.owners.insert(rkey, owner);
                }
                // What became of changes sent again.
                let mut held = t.prepare_cached(
                    "SELECT hlc FROM changes WHERE clinic_id = ?1 AND change_id = ?2 AND device_id = ?3",
                )?;
                let mut was = t.prepare_cached(
                    "SELECT reason FROM rejections
                     WHERE clinic_id = ?1 AND device_id = ?2 AND change_id = ?3",
                )?;
                for id in sent_again(&tx.changes, last_applied) {
                    if let Some(hlc) = held
                        .query_row(params![c, &id[..], device], |r| r.get::<_, i64>(0))
                        .optional()?
                    {
                        known.held.insert(id, u(hlc));
                    } else if let Some(code) = was
                        .query_row(params![c, device, &id[..]], |r| r.get::<_, i64>(0))
                        .optional()?
                    {
                        known.rejected_before.insert(id, u(code));
                    }
                }
            }
            // Place the batch, insert its changes; a change id found taken
            // undoes the inserts and the batch is placed again knowing it.
            let mut plan = loop {
                let Some(plan) = plan_batch(
                    &tx.changes,
                    &patient,
                    device,
                    last_applied,
                    &feed,
                    &known,
                    now,
                ) else {
                    let opener = |rkey: &str, id: &[u8], sealed: &[u8]| {
                        open_change(&self.sealer, &self.clinic_id, &patient, rkey, id, sealed)
                    };
                    let held = held_changes(t, &opener, c, device, tx.first, last_applied)?;
                    return Ok((PushOutcome::SequenceReused { last_applied, held }, false));
                };
                if plan.store.is_empty() {
                    break plan;
                }
                t.execute_batch("SAVEPOINT batch")?;
                let mut refused = Vec::new();
                {
                    let mut insert = t.prepare_cached(
                        "INSERT INTO changes (clinic_id, patient_id, server_seq, change_id, device_id,
                                              seq, feed_hash, record_table, record_id, hlc, op,
                                              sealed_body, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                         ON CONFLICT DO NOTHING",
                    )?;
                    let mut nonces = self.sealer.nonces(plan.store.len())?;
                    for n in &plan.store {
                        let ch = &n.change;
                        let sealed = seal_change(
                            &self.sealer,
                            &mut nonces,
                            &self.clinic_id,
                            &patient,
                            &n.rkey,
                            ch,
                        )?;
                        let added = insert.execute(params![
                            c,
                            &patient,
                            i(n.position),
                            &ch.change_id[..],
                            device,
                            i(ch.seq),
                            &n.hash[..],
                            i(ch.kind),
                            &n.rkey,
                            i(ch.hlc),
                            ch.op as i64,
                            sealed,
                            i(now)
                        ])?;
                        if added == 0 {
                            refused.push(ch.change_id);
                        }
                    }
                }
                if refused.is_empty() {
                    t.execute_batch("RELEASE batch")?;
                    break plan;
                }
                t.execute_batch("ROLLBACK TO batch; RELEASE batch")?;
                let mut holder = t.prepare_cached(
                    "SELECT device_id, hlc FROM changes WHERE clinic_id = ?1 AND change_id = ?2",
                )?;
                for id in refused {
                    let h = holder
                        .query_row(params![c, &id[..]], |r| {
                            Ok((r.get::<_, Vec<u8>>(0)?, u(r.get(1)?)))
                        })
                        .optional()?;
                    known.taken.insert(id, h);
                }
            };
            plan.new_records = new_records;
            {
                let mut insert = t.prepare_cached(
                    "INSERT INTO rejections (clinic_id, device_id, seq, change_id, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (clinic_id, device_id, seq) DO NOTHING",
                )?;
                for (seq, id, code) in &plan.rejections {
                    insert.execute(params![c, device, i(*seq), &id[..], i(*code)])?;
                }
            }
            // The touched records' tips (none to read for a new record),
            // the batch merged in, each changed record written once.
            let mut tips = std::collections::HashMap::new();
            {
                let mut select = t.prepare_cached(
                    "SELECT r.sealed_state, c.change_id, c.sealed_body FROM records r
                     LEFT JOIN changes c ON c.clinic_id = r.clinic_id AND c.patient_id = r.patient_id
                                   AND c.server_seq = r.tip_position
                     WHERE r.clinic_id = ?1 AND r.patient_id = ?2 AND r.record_table = ?3
                       AND r.record_id = ?4",
                )?;
                for (kind, rkey) in touched(&plan.store) {
                    if plan.new_records.contains(rkey) {
                        continue;
                    }
                    let row: Option<TipsColumns> = select
                        .query_row(params![c, &patient, i(kind), rkey], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()?;
                    if let Some((state, id, body)) = row {
                        let before = read_tips(
                            &self.sealer,
                            &self.clinic_id,
                            &patient,
                            (kind, rkey),
                            state.as_deref(),
                            id.as_deref().zip(body.as_deref()),
                        )?;
                        tips.insert((kind, rkey.to_owned()), before);
                    }
                }
            }
            let stored = plan.store.len();
            {
                let mut upsert = t.prepare_cached(
                    "INSERT INTO records (clinic_id, patient_id, record_table, record_id, sealed_state,
                                          tip_position, stamp, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (clinic_id, patient_id, record_table, record_id) DO UPDATE
                     SET sealed_state = excluded.sealed_state, tip_position = excluded.tip_position,
                         stamp = excluded.stamp, updated_at = excluded.updated_at",
                )?;
                for (kind, rkey, tips, is) in merge_batch(std::mem::take(&mut plan.store), tips) {
                    let row = tips_row(
                        &self.sealer,
                        &self.clinic_id,
                        &patient,
                        (kind, &rkey),
                        &tips,
                        is,
                    )?;
                    let (state, position) = row.columns();
                    upsert.execute(params![
                        c,
                        &patient,
                        i(kind),
                        &rkey,
                        state,
                        position,
                        i(tips[0].hlc),
                        i(now)
                    ])?;
                }
            }
            let last_applied = last_applied.max(tx.last);
            t.prepare_cached(
                "UPDATE feeds SET position = ?3, hlc = ?4, hash = ?5
                 WHERE clinic_id = ?1 AND patient_id = ?2",
            )?
            .execute(params![
                c,
                &patient,
                i(plan.feed.position),
                i(plan.feed.clock.0),
                &plan.feed.hash
            ])?;
            t.prepare_cached(
                "UPDATE devices SET last_applied_seq = ?3, last_seen_at = ?4
                 WHERE clinic_id = ?1 AND device_id = ?2",
            )?
            .execute(params![c, device, i(last_applied), i(now)])?;

            // The pull, in the same snapshot.
            // A cursor whose position now holds another change (a server
            // restored from an older backup) reads the feed again.
            let mut from = tx.pull_after;
            if let Some(f) = from
                && let Some(id) = f.check
            {
                let there: Option<Vec<u8>> = t
                    .prepare_cached(
                        "SELECT feed_hash FROM changes
                         WHERE clinic_id = ?1 AND patient_id = ?2 AND server_seq = ?3",
                    )?
                    .query_row(params![c, &patient, i(f.after)], |r| r.get(0))
                    .optional()?;
                if there.as_deref() != Some(&id[..]) {
                    from = None;
                }
            }
            let mut pull = Pull::new(from);
            // The device's own changes, when left out, are passed over
            // without their bodies.
            let skipped: &[u8] = if pull.skip_own { device } else { &[] };
            let mut stmt = t.prepare_cached(
                "SELECT server_seq, device_id, change_id, record_id,
                        CASE WHEN device_id = ?5 THEN NULL ELSE sealed_body END, feed_hash
                 FROM changes
                 WHERE clinic_id = ?1 AND patient_id = ?2 AND server_seq > ?3
                 ORDER BY server_seq LIMIT ?4",
            )?;
            'pages: loop {
                let mut rows =
                    stmt.query(params![c, &patient, i(pull.position), PULL_PAGE, skipped])?;
                let mut n = 0;
                while let Some(row) = rows.next()? {
                    n += 1;
                    let pos = u(row.get(0)?);
                    let from: Vec<u8> = row.get(1)?;
                    let own = from == device;
                    let at: Vec<u8> = row.get(5)?;
                    if own && pull.skip_own {
                        pull.offer(pos, &at, true, &[]);
                        continue;
                    }
                    let change_id: Vec<u8> = row.get(2)?;
                    let rkey: String = row.get(3)?;
                    let sealed: Vec<u8> = row.get(4)?;
                    let body =
                        open_change(&self.sealer, &self.clinic_id, &patient, &rkey, &change_id, &sealed)?;
                    if !pull.offer(pos, &at, own, &body) {
                        break 'pages;
                    }
                }
                if n < PULL_PAGE {
                    break;
                }
            }
            drop(stmt);
            Ok((
                PushOutcome::Applied {
                    last_applied,
                    rejected: plan.rejected,
                    restamped: plan.restamped,
                    cursor: pull.cursor(),
                    more: pull.more,
                    pulled: pull.changes,
                    stored,
                },
                true,
            ))
        })
    }

    fn withdraw(&self, r: &RequestRef) -> Result<WithdrawOutcome, Error> {
        let c = &self.clinic_id[..];
        self.write(|t| {
            if !self.insert_request(t, r)? {
                return Ok((WithdrawOutcome::Replayed, false));
            }
            let last: Option<i64> = t
                .prepare_cached(
                    "UPDATE devices SET revoked_at = ?3, withdrawn = 1, last_seen_at = ?3
                     WHERE clinic_id = ?1 AND device_id = ?2 AND revoked_at IS NULL
                     RETURNING last_applied_seq",
                )?
                .query_row(params![c, &r.device_id[..], i(r.now_ms)], |r| r.get(0))
                .optional()?;
            Ok(match last {
                Some(l) => (WithdrawOutcome::Withdrawn { last_applied: u(l) }, true),
                None => (WithdrawOutcome::DeviceRevoked, false),
            })
        })
    }

    fn create_enrollment(
        &self,
        name: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<NewEnrollment, Error> {
        let c = &self.clinic_id[..];
        let mac = self.sealer.name_mac(&self.clinic_id, name);
        let new_patient: Id16 = self.sealer.random()?;
        let enrollment_id: Id16 = self.sealer.random()?;
        let secret = Zeroizing::new(self.sealer.random::<16>()?);
        self.write(|t| {
            let sealed_name = self.sealer.seal(
                self.patient_place(&new_patient, "patients", &new_patient),
                name.trim().as_bytes(),
            )?;
            t.prepare_cached(
                "INSERT INTO patients (clinic_id, patient_id, name_mac, sealed_name, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (clinic_id, name_mac) DO NOTHING",
            )?
            .execute(params![
                c,
                &new_patient[..],
                &mac[..],
                sealed_name,
                i(now_ms)
            ])?;
            let patient = self
                .patient_by_name(t, name)?
                .ok_or_else(|| Error::Runtime("the patient was not created".into()))?;
            t.prepare_cached(
                "INSERT INTO feeds (clinic_id, patient_id, position, hlc) VALUES (?1, ?2, 0, 0)
                 ON CONFLICT (clinic_id, patient_id) DO NOTHING",
            )?
            .execute(params![c, &patient[..]])?;
            let sealed_secret = self.sealer.seal(
                self.patient_place(&patient, "enrollments", &enrollment_id),
                &*secret,
            )?;
            t.prepare_cached(
                "INSERT INTO enrollments (clinic_id, enrollment_id, patient_id, sealed_secret,
                                          expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                c,
                &enrollment_id[..],
                &patient[..],
                sealed_secret,
                i(expires_at_ms),
                i(now_ms)
            ])?;
            Ok((
                NewEnrollment {
                    patient_id: patient,
                    enrollment_id,
                    secret: secret.clone(),
                },
                true,
            ))
        })
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>, Error> {
        let c = &self.clinic_id[..];
        self.read(|t| {
            let mut stmt = t.prepare(
                "SELECT d.device_id, d.patient_id, p.sealed_name, d.enrolled_at, d.last_seen_at,
                        d.last_applied_seq, d.revoked_at, d.withdrawn
                 FROM devices d JOIN patients p
                   ON p.clinic_id = d.clinic_id AND p.patient_id = d.patient_id
                 WHERE d.clinic_id = ?1
                 ORDER BY d.enrolled_at, d.device_id",
            )?;
            let rows = stmt.query_map(params![c], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, bool>(7)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (device, patient, sealed_name, enrolled, seen, last, revoked, withdrawn) = row?;
                let name = self.sealer.open(
                    self.patient_place(&patient, "patients", &patient),
                    &sealed_name,
                )?;
                out.push(DeviceInfo {
                    device_id: id16(device)?,
                    patient_id: id16(patient)?,
                    patient: String::from_utf8_lossy(&name).into_owned(),
                    enrolled_at_ms: u(enrolled),
                    last_seen_ms: seen.map(u),
                    last_applied: u(last),
                    revoked_at_ms: revoked.map(u),
                    withdrawn,
                });
            }
            Ok(out)
        })
    }

    fn revoke(&self, device_id: &Id16, now_ms: u64) -> Result<RevokeOutcome, Error> {
        let c = &self.clinic_id[..];
        self.write(|t| {
            let n = t
                .prepare_cached(
                    "UPDATE devices SET revoked_at = ?3
                 WHERE clinic_id = ?1 AND device_id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![c, &device_id[..], i(now_ms)])?;
            if n == 1 {
                return Ok((RevokeOutcome::Revoked, true));
            }
            let known = t
                .prepare_cached("SELECT 1 FROM devices WHERE clinic_id = ?1 AND device_id = ?2")?
                .query_row(params![c, &device_id[..]], |_| Ok(()))
                .optional()?
                .is_some();
            Ok((
                if known {
                    RevokeOutcome::AlreadyRevoked
                } else {
                    RevokeOutcome::Unknown
                },
                false,
            ))
        })
    }

    fn records(&self, name: &str, record_kind: u64) -> Result<Option<PatientRecords>, Error> {
        let c = &self.clinic_id[..];
        self.read(|t| {
            let Some(patient) = self.patient_by_name(t, name)? else {
                return Ok(None);
            };
            let mut stmt = t.prepare(
                "SELECT r.record_id, r.sealed_state, c.change_id, c.sealed_body FROM records r
                 LEFT JOIN changes c ON c.clinic_id = r.clinic_id AND c.patient_id = r.patient_id
                                   AND c.server_seq = r.tip_position
                 WHERE r.clinic_id = ?1 AND r.patient_id = ?2 AND r.record_table = ?3
                 ORDER BY r.record_id",
            )?;
            let rows = stmt.query_map(params![c, &patient[..], i(record_kind)], |r| {
                Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })?;
            let mut records = Vec::new();
            for row in rows {
                let (rkey, (state, id, body)): (String, TipsColumns) = row?;
                let tips = read_tips(
                    &self.sealer,
                    &self.clinic_id,
                    &patient,
                    (record_kind, &rkey),
                    state.as_deref(),
                    id.as_deref().zip(body.as_deref()),
                )?;
                let Some(first) = tips.first() else { continue };
                records.push(RecordState {
                    record_id: first.record_id.clone(),
                    tips,
                });
            }
            let mut stmt = t.prepare(
                "SELECT device_id FROM devices WHERE clinic_id = ?1 AND patient_id = ?2 AND withdrawn = 1",
            )?;
            let withdrawn = stmt
                .query_map(params![c, &patient[..]], |r| r.get::<_, Vec<u8>>(0))?
                .map(|r| id16(r?))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(Some(PatientRecords { records, withdrawn }))
        })
    }

    fn rotate_keys(&self, now_ms: u64) -> Result<Rotated, Error> {
        let keyset = self.load_keys()?;
        let c = &self.clinic_id;
        self.write(|t| {
            let mut stmt = t.prepare(
                "SELECT key_id, public, not_before, not_after FROM keys
                 WHERE clinic_id = ?1 AND kind = 'hpke' AND state = 'current'",
            )?;
            let current = stmt
                .query_map(params![&c[..]], |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            for (key_id, public, nb, na) in current {
                // Retired now: its certificate ends now, and it opens
                // requests for the grace period after that.
                let na = u(na).min(now_ms);
                let sig = keys::certify(&keyset.root, c, key_id, &arr32(&public)?, u(nb), na);
                t.prepare_cached(
                    "UPDATE keys SET state = 'retiring', not_after = ?3, signature = ?4
                     WHERE clinic_id = ?1 AND key_id = ?2",
                )?
                .execute(params![&c[..], key_id, i(na), &sig[..]])?;
            }
            let root_id: u32 = t
                .prepare_cached("SELECT root_key_id FROM clinics WHERE clinic_id = ?1")?
                .query_row(params![&c[..]], |r| r.get(0))?;
            let key_id = loop {
                let id = random_key_id(&self.sealer)?;
                if id != root_id && insert_hpke_key(t, &self.sealer, c, &keyset.root, id, now_ms)? {
                    break id;
                }
            };
            let purged = t
                .prepare_cached(
                    "DELETE FROM keys WHERE clinic_id = ?1 AND kind = 'hpke' AND state = 'retiring'
                   AND not_after < ?2",
                )?
                .execute(params![&c[..], i(now_ms.saturating_sub(GRACE_MS))])?;
            t.prepare_cached(
                "UPDATE clinics SET keys_version = keys_version + 1 WHERE clinic_id = ?1",
            )?
            .execute(params![&c[..]])?;
            Ok((Rotated { key_id, purged }, true))
        })
    }

    fn server_url(&self) -> Result<Option<String>, Error> {
        Ok(self
            .lock()
            .query_row("SELECT url FROM server WHERE id = 1", [], |r| r.get(0))?)
    }

    fn set_server_url(&self, url: Option<&str>) -> Result<(), Error> {
        self.lock()
            .execute("UPDATE server SET url = ?1 WHERE id = 1", params![url])?;
        Ok(())
    }

    fn prune_requests(&self, before_ms: u64) -> Result<usize, Error> {
        Ok(self.lock().execute(
            "DELETE FROM requests WHERE clinic_id = ?1 AND received_at < ?2",
            params![&self.clinic_id[..], i(before_ms)],
        )?)
    }

    fn clinic_author(
        &self,
        name: &str,
        root_public: &[u8; 32],
        now_ms: u64,
    ) -> Result<Option<ClinicAuthor>, Error> {
        let c = &self.clinic_id[..];
        self.write(|t| {
            let Some(patient) = self.patient_by_name(t, name)? else {
                return Ok((None, false));
            };
            let author = ingest::clinic_author_id(&self.clinic_id, &patient);
            let cats = self.sealer.seal(
                self.patient_place(&patient, "devices", &author),
                &encode_categories(&[]),
            )?;
            t.prepare_cached(
                "INSERT INTO devices (clinic_id, device_id, patient_id, public_key, enrollment_id,
                                      last_applied_seq, sealed_categories, enrolled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)
                 ON CONFLICT (clinic_id, device_id) DO NOTHING",
            )?
            .execute(params![
                c,
                &author[..],
                &patient[..],
                &root_public[..],
                &[0u8; 16][..],
                cats,
                i(now_ms)
            ])?;
            let last: i64 = t
                .prepare_cached(
                    "SELECT last_applied_seq FROM devices WHERE clinic_id = ?1 AND device_id = ?2",
                )?
                .query_row(params![c, &author[..]], |r| r.get(0))?;
            Ok((
                Some(ClinicAuthor {
                    patient_id: patient,
                    author,
                    last_applied: u(last),
                }),
                true,
            ))
        })
    }
}
