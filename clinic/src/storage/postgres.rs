//! The PostgreSQL backend (`--database URL`): the same tables and keys as
//! SQLite (`schema_postgres.sql`), the same rules, the same sealing; made
//! for several stateless `serve` processes on one database.
//!
//! **Concurrency.** Transactions run at `READ COMMITTED`. Idempotency rests
//! on the primary and unique keys and `INSERT … ON CONFLICT DO NOTHING`,
//! never on a search before an insert. A push locks its device's row
//! (`SELECT … FOR UPDATE`), then its patient's `feeds` row (the feed
//! counter, updated in the same transaction), so a device's batches and a
//! patient's feed positions are serialized across processes; records are
//! read-modify-written under the feed row's lock. A transaction that fails
//! with a serialization failure or a deadlock (SQLSTATE 40001, 40P01), or a
//! unique violation (23505, which with `ON CONFLICT` on every insert that
//! can meet a concurrent one only a concurrent writer can raise), is run
//! again whole, up to 8 times. Conflicts that do not end, a lock waited for
//! more than 10 s (`lock_timeout`), a statement running more than 30 s, or a
//! database that is down answer [`Error::Busy`] (a signed `busy` reply, or
//! HTTP 503 with `Retry-After`).
//!
//! **Connections.** The `postgres` crate is the blocking wrapper of
//! `tokio-postgres`: each client owns a small tokio runtime and blocks on
//! it, which panics when done on a thread that is driving a tokio runtime
//! (and a client dropped there panics too). `serve` calls storage from
//! tokio's blocking pool, where that works, but one call from an async task
//! or one `Server` dropped inside the runtime would bring the process down.
//! So the connections never leave threads of their own: the pool is `N`
//! plain threads (`--pool N`), each owning one connection (made on first
//! use, made again after it broke), taking transactions from one queue.
//! A caller sends its transaction as a closure and waits for the answer;
//! any thread may call, in or out of a runtime. The pool size also bounds
//! how many transactions one process runs at once.
//!
//! **First use.** The schema and the clinic (its id, epoch, root key and
//! first HPKE key) are created under a transaction-scoped advisory lock,
//! so that processes starting at once on an empty database make one clinic;
//! the `server` row (`INSERT … ON CONFLICT DO NOTHING`, then read back)
//! names it.

use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr as _;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use cairn_core::sync::hlc::Hlc;
use cairn_core::sync::messages::{Change, Held, Id16};
use postgres::error::SqlState;
use postgres::{Client, Config, IsolationLevel, NoTls, Transaction};
use zeroize::Zeroizing;

use super::{
    ClinicAuthor, Device, DeviceInfo, EnrollOutcome, EnrollTx, NewEnrollment, PatientRecords,
    PushOutcome, PushTx, RecordState, RequestRef, RevokeOutcome, Rotated, Storage, WithdrawOutcome,
};
use super::{
    Feed, Known, TipsRow, arr32, encode_categories, i, id16, key_place, merge_batch, open_change,
    owned_keys, plan_batch, random_key_id, read_tips, seal_change, sent_again, tips_row, touched,
    u,
};
use crate::Error;
use crate::ingest::{self, Pull};
use crate::keys::{self, GRACE_MS, HPKE_VALIDITY_MS, HpkeKey, KeySet};
use crate::seal::{Place, Sealer, StorageKey};

/// The PostgreSQL schema (`schema_postgres.sql`): the tables, columns and
/// keys the server writes (the ingest benchmark's baseline creates the same).
pub const SCHEMA: &str = include_str!("schema_postgres.sql");
const SCHEMA_VERSION: i64 = 1;
const PULL_PAGE: i64 = 256;
/// The connections a `serve` process keeps by default.
pub const DEFAULT_POOL: usize = 4;
/// The most connections one process may keep.
pub const MAX_POOL: usize = 64;
/// The advisory lock taken while creating the schema and the clinic
/// ("cairn" in ASCII).
const SETUP_LOCK: i64 = 0x63_6169_726e;
/// How often a transaction is tried before the conflict is answered busy.
const ATTEMPTS: u32 = 8;
/// How long a statement waits for a row lock before the request is
/// answered busy.
const LOCK_TIMEOUT: &str = "10s";
/// How long a statement may run (the HTTP layer gives up on a request
/// after 30 s).
const STATEMENT_TIMEOUT: &str = "30s";
/// How long connecting may take, unless the URL says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn key_id(v: i64) -> Result<u32, Error> {
    u32::try_from(v)
        .map_err(|_| Error::Runtime("the database holds a key id that is not 32 bits".into()))
}

/// An error inside a transaction: from the database (perhaps worth another
/// try) or from the server itself.
enum PgError {
    Db(postgres::Error),
    App(Error),
}

impl From<postgres::Error> for PgError {
    fn from(e: postgres::Error) -> PgError {
        PgError::Db(e)
    }
}

impl From<Error> for PgError {
    fn from(e: Error) -> PgError {
        PgError::App(e)
    }
}

type R<T> = Result<T, PgError>;

// The push's statements, prepared once per connection ([`prepared`]).
const REQUEST_INSERT: &str =
    "INSERT INTO requests (clinic_id, device_id, request_id, received_at, request_hash)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (clinic_id, device_id, request_id) DO NOTHING";
const DEVICE_SELECT: &str = "SELECT patient_id, public_key, revoked_at FROM devices
     WHERE clinic_id = $1 AND device_id = $2";
const KEYS_VERSION: &str = "SELECT keys_version FROM clinics WHERE clinic_id = $1";
const DEVICE_LOCK: &str = "SELECT patient_id, last_applied_seq, revoked_at FROM devices
     WHERE clinic_id = $1 AND device_id = $2 FOR UPDATE";
const FEED_LOCK: &str =
    "UPDATE feeds SET position = position WHERE clinic_id = $1 AND patient_id = $2
     RETURNING position, hlc, hash";
const OWNERS_INSERT: &str = "INSERT INTO record_owners (clinic_id, record_id, patient_id)
     SELECT $1, k, $3 FROM unnest($2::text[]) AS k
     ON CONFLICT (clinic_id, record_id) DO NOTHING
     RETURNING record_id";
const OWNERS_SELECT: &str = "SELECT record_id, patient_id FROM record_owners
     WHERE clinic_id = $1 AND record_id = ANY($2::text[])";
const HELD_SELECT: &str = "SELECT change_id, hlc FROM changes
     WHERE clinic_id = $1 AND change_id = ANY($3::bytea[]) AND device_id = $2";
const REJECTED_SELECT: &str = "SELECT DISTINCT ON (change_id) change_id, reason FROM rejections
     WHERE clinic_id = $1 AND device_id = $2 AND change_id = ANY($3::bytea[])
     ORDER BY change_id, seq";
const CHANGES_INSERT: &str = "INSERT INTO changes (clinic_id, patient_id, device_id, received_at,
                                   change_id, seq, server_seq, feed_hash, record_table, record_id,
                                   hlc, op, sealed_body)
     SELECT $1, $2, $3, $4, u.* FROM unnest($5::bytea[], $6::int8[], $7::int8[], $8::bytea[],
                                           $9::int8[], $10::text[], $11::int8[], $12::int8[],
                                           $13::bytea[]) AS u
     ON CONFLICT DO NOTHING
     RETURNING change_id";
const HOLDERS_SELECT: &str = "SELECT change_id, device_id, hlc FROM changes
     WHERE clinic_id = $1 AND change_id = ANY($2::bytea[])";
const REJECTIONS_INSERT: &str =
    "INSERT INTO rejections (clinic_id, device_id, seq, change_id, reason)
     SELECT $1, $2, u.* FROM unnest($3::int8[], $4::bytea[], $5::int8[]) AS u
     ON CONFLICT (clinic_id, device_id, seq) DO NOTHING";
/// Each key looked up by its primary key (`LATERAL … LIMIT 1`, which the
/// planner does not flatten): the plain join, planned on a new table's
/// missing statistics, scanned all of the patient's records once per key.
const RECORDS_SELECT: &str = "SELECT k.record_table, k.record_id, r.sealed_state, c.change_id,
            c.sealed_body
     FROM unnest($3::int8[], $4::text[]) AS k(record_table, record_id)
     CROSS JOIN LATERAL (
         SELECT sealed_state, tip_position FROM records
         WHERE clinic_id = $1 AND patient_id = $2
           AND record_table = k.record_table AND record_id = k.record_id
         LIMIT 1) AS r
     LEFT JOIN LATERAL (
         SELECT change_id, sealed_body FROM changes
         WHERE clinic_id = $1 AND patient_id = $2 AND server_seq = r.tip_position
         LIMIT 1) AS c ON true";
const RECORDS_UPSERT: &str = "INSERT INTO records (clinic_id, patient_id, updated_at, record_table,
                                   record_id, sealed_state, tip_position, stamp)
     SELECT $1, $2, $3, u.* FROM unnest($4::int8[], $5::text[], $6::bytea[], $7::int8[],
                                       $8::int8[]) AS u
     ON CONFLICT (clinic_id, patient_id, record_table, record_id) DO UPDATE
     SET sealed_state = excluded.sealed_state, tip_position = excluded.tip_position,
         stamp = excluded.stamp, updated_at = excluded.updated_at";
const FEED_UPDATE: &str = "UPDATE feeds SET position = $3, hlc = $4, hash = $5
     WHERE clinic_id = $1 AND patient_id = $2";
const DEVICE_UPDATE: &str = "UPDATE devices SET last_applied_seq = $3, last_seen_at = $4
     WHERE clinic_id = $1 AND device_id = $2";
const FEED_HASH_AT: &str = "SELECT feed_hash FROM changes
     WHERE clinic_id = $1 AND patient_id = $2 AND server_seq = $3";
const PULL_PAGE_SELECT: &str = "SELECT server_seq, device_id, change_id, record_id,
            CASE WHEN device_id = $5 THEN NULL ELSE sealed_body END, feed_hash
     FROM changes
     WHERE clinic_id = $1 AND patient_id = $2 AND server_seq > $3
     ORDER BY server_seq LIMIT $4";

thread_local! {
    /// This pool thread's prepared statements, for its one connection:
    /// emptied whenever the thread connects anew.
    static PREPARED: std::cell::RefCell<std::collections::HashMap<&'static str, postgres::Statement>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `sql` prepared on this connection, once (the `postgres` crate's
/// `execute(&str, …)` prepares an unnamed statement every time: two round
/// trips a statement).
fn prepared(
    client: &mut impl postgres::GenericClient,
    sql: &'static str,
) -> Result<postgres::Statement, postgres::Error> {
    if let Some(s) = PREPARED.with(|p| p.borrow().get(sql).cloned()) {
        return Ok(s);
    }
    let s = client.prepare(sql)?;
    PREPARED.with(|p| p.borrow_mut().insert(sql, s.clone()));
    Ok(s)
}

/// A serialization failure or a deadlock: another transaction won.
fn conflict(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// Whether the whole transaction is worth another try: a conflict, or a
/// unique violation (with `ON CONFLICT` on every insert that can meet a
/// concurrent one, only a concurrent writer can cause one).
fn retryable(e: &postgres::Error) -> bool {
    conflict(e) || e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The operator's one line for a database error. The server's own errors
/// carry the SQLSTATE and the primary message only: PostgreSQL's DETAIL
/// lines can quote key values.
fn db_error(e: &postgres::Error) -> Error {
    if e.is_closed() {
        return Error::Busy;
    }
    match e.as_db_error() {
        Some(db) => {
            let code = db.code();
            if *code == SqlState::LOCK_NOT_AVAILABLE
                || *code == SqlState::QUERY_CANCELED
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || conflict(e)
            {
                Error::Busy
            } else {
                Error::Runtime(format!("database error {}: {}", code.code(), db.message()))
            }
        }
        None => Error::Runtime(format!("database error: {e}")),
    }
}

impl From<PgError> for Error {
    fn from(e: PgError) -> Error {
        match e {
            PgError::Db(e) => db_error(&e),
            PgError::App(e) => e,
        }
    }
}

/// Runs `f` in a `READ COMMITTED` transaction; commits when it returns
/// `(value, true)`, rolls back otherwise. Tried again whole on a
/// serialization failure, a deadlock or a unique violation.
fn write<T>(
    client: &mut Client,
    mut f: impl FnMut(&mut Transaction<'_>) -> R<(T, bool)>,
) -> Result<T, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = (|| -> R<T> {
            let mut t = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()?;
            let (value, commit) = f(&mut t)?;
            if commit {
                t.commit()?;
            } else {
                t.rollback()?;
            }
            Ok(value)
        })();
        match result {
            Err(PgError::Db(e)) if retryable(&e) && attempt < ATTEMPTS => {
                tracing::debug!(attempt, code = ?e.code().map(SqlState::code), "transaction tried again");
                // A little longer each time, and not in step with the
                // transaction it met.
                let jitter = u64::from(rand_byte()) % 8;
                thread::sleep(Duration::from_millis((2u64 << attempt.min(6)) + jitter));
            }
            other => return other.map_err(Error::from),
        }
    }
}

/// Runs `f` in a `REPEATABLE READ` read-only transaction: one snapshot.
fn read<T>(client: &mut Client, f: impl FnOnce(&mut Transaction<'_>) -> R<T>) -> Result<T, Error> {
    let mut t = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| db_error(&e))?;
    let value = f(&mut t)?;
    t.commit().map_err(|e| db_error(&e))?;
    Ok(value)
}

fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b[0]
}

/// Reads a connection URL (`postgres://…` or `host=… dbname=…`).
pub fn parse_url(url: &str) -> Result<Config, Error> {
    let mut config = Config::from_str(url)
        .map_err(|e| Error::Usage(format!("--database: not a PostgreSQL connection URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("cairn-clinic");
    }
    Ok(config)
}

/// A new connection with the session's settings.
fn connect(config: &Config) -> Result<Client, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!(
        "SET lock_timeout = '{LOCK_TIMEOUT}'; SET statement_timeout = '{STATEMENT_TIMEOUT}';
         SET TIME ZONE 'UTC'"
    ))?;
    Ok(client)
}

/// What every transaction needs: the sealer and the clinic.
struct Db {
    sealer: Sealer,
    clinic_id: Id16,
}

/// A transaction for a pool thread.
type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// A pool thread's state: its connection, made on first use.
struct Worker {
    db: Arc<Db>,
    config: Arc<Config>,
    client: Option<Client>,
}

impl Worker {
    fn run<T>(&mut self, f: impl FnOnce(&Db, &mut Client) -> Result<T, Error>) -> Result<T, Error> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            // Statements prepared on the old connection are gone with it.
            PREPARED.with(|p| p.borrow_mut().clear());
            match connect(&self.config) {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to the database");
                    return Err(Error::Busy);
                }
            }
        }
        let Some(client) = self.client.as_mut() else {
            return Err(Error::Busy);
        };
        let db = &*self.db;
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(db, client)));
        match result {
            Ok(r) => {
                if self.client.as_ref().is_some_and(Client::is_closed) {
                    self.client = None;
                }
                r
            }
            Err(_) => {
                // Its transaction rolled back as it unwound; the
                // connection's state is not worth trusting.
                self.client = None;
                Err(Error::Runtime(
                    "a database transaction failed unexpectedly".into(),
                ))
            }
        }
    }
}

fn work(mut worker: Worker, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(&mut worker),
            // The storage was dropped: close the connection here.
            Err(_) => return,
        }
    }
}

/// The PostgreSQL backend.
pub struct Postgres {
    db: Arc<Db>,
    jobs: Option<mpsc::Sender<Job>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Closing the queue ends the threads; each closes its connection.
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Postgres {
    /// Connects to the database at `url` with a pool of `pool` connections
    /// (at least 1, at most [`MAX_POOL`]); creates the schema and the clinic
    /// (its id, epoch, root key and first HPKE key) on first use of an empty
    /// database. Fails if `key` does not open the clinic's keys.
    pub fn open(url: &str, key: &StorageKey, pool: usize, now_ms: u64) -> Result<Postgres, Error> {
        let config = Arc::new(parse_url(url)?);
        let sealer = Sealer::new(key);
        // The first connection, on a thread of its own like every other.
        let clinic_id = thread::scope(|s| {
            s.spawn(|| -> Result<Id16, Error> {
                let mut client = connect(&config)
                    .map_err(|e| Error::Runtime(format!("cannot connect to the database: {e}")))?;
                setup(&mut client, &sealer, now_ms).map_err(Error::from)
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::Runtime(
                    "creating the schema failed unexpectedly".into(),
                ))
            })
        })?;
        let db = Arc::new(Db { sealer, clinic_id });
        let (tx, rx) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for n in 0..pool.clamp(1, MAX_POOL) {
            let worker = Worker {
                db: db.clone(),
                config: config.clone(),
                client: None,
            };
            let queue = queue.clone();
            let t = thread::Builder::new()
                .name(format!("cairn-pg-{n}"))
                .spawn(move || work(worker, queue))
                .map_err(|e| Error::Runtime(format!("cannot start a database thread: {e}")))?;
            threads.push(t);
        }
        let storage = Postgres {
            db,
            jobs: Some(tx),
            threads,
        };
        // The storage key must open the clinic's keys.
        storage.load_keys()?;
        Ok(storage)
    }

    /// The clinic this database serves.
    pub fn clinic_id(&self) -> Id16 {
        self.db.clinic_id
    }

    /// Runs `f` with a connection on a pool thread and waits for it.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db, &mut Client) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let stopped = || Error::Runtime("the database threads stopped".into());
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |w: &mut Worker| {
            let _ = tx.send(w.run(f));
        });
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }
}

/// Creates the schema and the clinic on first use, under an advisory lock
/// (processes starting at once on an empty database wait for each other),
/// and returns the clinic's id.
fn setup(client: &mut Client, sealer: &Sealer, now_ms: u64) -> R<Id16> {
    let mut t = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK])?;
    let exists: bool = t
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if exists {
        let version: i64 = t
            .query_one("SELECT version FROM schema_version WHERE id = 1", &[])?
            .get(0);
        if version != SCHEMA_VERSION {
            return Err(Error::Runtime(format!(
                "the database's schema version {version} is not this build's ({SCHEMA_VERSION})"
            ))
            .into());
        }
    } else {
        t.batch_execute(SCHEMA)?;
        t.execute(
            "INSERT INTO schema_version (id, version) VALUES (1, $1)",
            &[&SCHEMA_VERSION],
        )?;
    }
    let clinic_id = ensure_clinic(&mut t, sealer, now_ms)?;
    t.commit()?;
    Ok(clinic_id)
}

/// Creates the database's clinic on first use (the `server` row's primary
/// key makes it once, whoever races).
fn ensure_clinic(t: &mut Transaction<'_>, sealer: &Sealer, now_ms: u64) -> R<Id16> {
    let clinic_id: Id16 = sealer.random()?;
    let n = t.execute(
        "INSERT INTO server (id, clinic_id) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        &[&&clinic_id[..]],
    )?;
    if n == 1 {
        let epoch: Id16 = sealer.random()?;
        let root_pkcs8 = keys::new_root()?;
        let root = keys::root_from_pkcs8(&root_pkcs8)?;
        let root_id = random_key_id(sealer)?;
        let root_id_b = root_id.to_be_bytes();
        let sealed_root = sealer.seal(key_place(&clinic_id, &root_id_b), &root_pkcs8)?;
        t.execute(
            "INSERT INTO clinics (clinic_id, root_key_id, epoch, keys_version, created_at)
             VALUES ($1, $2, $3, 1, $4)",
            &[
                &&clinic_id[..],
                &i64::from(root_id),
                &&epoch[..],
                &i(now_ms),
            ],
        )?;
        t.execute(
            "INSERT INTO keys (clinic_id, key_id, kind, public, sealed_private, not_before, not_after, state)
             VALUES ($1, $2, 'root', $3, $4, $5, $6, 'current')",
            &[
                &&clinic_id[..],
                &i64::from(root_id),
                &&cairn_core::sync::wire::public_key(&root)[..],
                &sealed_root,
                &i(now_ms),
                &i64::MAX,
            ],
        )?;
        let mut hpke_id = random_key_id(sealer)?;
        while hpke_id == root_id {
            hpke_id = random_key_id(sealer)?;
        }
        insert_hpke_key(t, sealer, &clinic_id, &root, hpke_id, now_ms)?;
        return Ok(clinic_id);
    }
    let id: Vec<u8> = t
        .query_one("SELECT clinic_id FROM server WHERE id = 1", &[])?
        .get(0);
    Ok(id16(id)?)
}

/// Inserts a new current HPKE key; false if its id is taken.
fn insert_hpke_key(
    t: &mut Transaction<'_>,
    sealer: &Sealer,
    clinic_id: &Id16,
    root: &ring::signature::Ed25519KeyPair,
    key_id: u32,
    now_ms: u64,
) -> R<bool> {
    let (private, public) = keys::new_hpke(sealer.random()?);
    let not_after = now_ms + HPKE_VALIDITY_MS;
    let sig = keys::certify(root, clinic_id, key_id, &public, now_ms, not_after);
    let kid = key_id.to_be_bytes();
    let sealed = sealer.seal(key_place(clinic_id, &kid), &*private)?;
    let n = t.execute(
        "INSERT INTO keys (clinic_id, key_id, kind, public, sealed_private, not_before, not_after, signature, state)
         VALUES ($1, $2, 'hpke', $3, $4, $5, $6, $7, 'current')
         ON CONFLICT (clinic_id, key_id) DO NOTHING",
        &[
            &&clinic_id[..],
            &i64::from(key_id),
            &&public[..],
            &sealed,
            &i(now_ms),
            &i(not_after),
            &&sig[..],
        ],
    )?;
    Ok(n == 1)
}

/// Opens a stored change's sealed body: (record key, change id, sealed).
type Opener<'a> = dyn Fn(&str, &[u8], &[u8]) -> R<Zeroizing<Vec<u8>>> + 'a;

/// The changes stored from `device` for seqs in `[first, last]` (seq, id,
/// and the author and version vector they were stored with), at most
/// [`ingest::MAX_HELD`], for a `sequence_reused` error.
fn held_changes(
    t: &mut Transaction<'_>,
    opener: &Opener<'_>,
    clinic: &[u8],
    device: &[u8],
    first: u64,
    last: u64,
) -> R<Vec<Held>> {
    let rows = t.query(
        "SELECT seq, change_id, record_id, sealed_body FROM changes
         WHERE clinic_id = $1 AND device_id = $2 AND seq BETWEEN $3 AND $4
         ORDER BY seq LIMIT $5",
        &[
            &clinic,
            &device,
            &i(first),
            &i(last),
            &(ingest::MAX_HELD as i64),
        ],
    )?;
    rows.into_iter()
        .map(|r| {
            let id: Vec<u8> = r.get(1);
            let rkey: String = r.get(2);
            let sealed: Vec<u8> = r.get(3);
            let body = opener(&rkey, &id, &sealed)?;
            let stored = Change::decode(&body).ok();
            Ok(Held {
                seq: u(r.get(0)),
                change_id: id16(id)?,
                author: stored.as_ref().map(|c| c.author),
                vv: stored.map(|c| c.vv).unwrap_or_default(),
            })
        })
        .collect()
}

impl Db {
    fn c(&self) -> &[u8] {
        &self.clinic_id[..]
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

    fn insert_request(&self, t: &mut Transaction<'_>, r: &RequestRef) -> R<bool> {
        let st = prepared(t, REQUEST_INSERT)?;
        let n = t.execute(
            &st,
            &[
                &self.c(),
                &&r.device_id[..],
                &&r.request_id[..],
                &i(r.now_ms),
                &&r.request_hash[..],
            ],
        )?;
        Ok(n == 1)
    }

    fn patient_by_name(&self, t: &mut Transaction<'_>, name: &str) -> R<Option<Id16>> {
        let mac = self.sealer.name_mac(&self.clinic_id, name);
        let row = t.query_opt(
            "SELECT patient_id FROM patients WHERE clinic_id = $1 AND name_mac = $2",
            &[&self.c(), &&mac[..]],
        )?;
        Ok(row.map(|r| id16(r.get(0))).transpose()?)
    }

    fn load_keys(&self, client: &mut Client) -> Result<KeySet, Error> {
        let c = &self.clinic_id;
        read(client, |t| {
            let row = t.query_one(
                "SELECT root_key_id, epoch, keys_version FROM clinics WHERE clinic_id = $1",
                &[&&c[..]],
            )?;
            let (root_id, epoch, version): (i64, Vec<u8>, i64) =
                (row.get(0), row.get(1), row.get(2));
            let root_id = key_id(root_id)?;
            let sealed_root: Vec<u8> = t
                .query_one(
                    "SELECT sealed_private FROM keys WHERE clinic_id = $1 AND key_id = $2 AND kind = 'root'",
                    &[&&c[..], &i64::from(root_id)],
                )?
                .get(0);
            let pkcs8 = self
                .sealer
                .open(key_place(c, &root_id.to_be_bytes()), &sealed_root)?;
            let root = keys::root_from_pkcs8(&pkcs8)?;
            let rows = t.query(
                "SELECT key_id, public, sealed_private, not_before, not_after, signature, state
                 FROM keys WHERE clinic_id = $1 AND kind = 'hpke'
                 ORDER BY state = 'current' DESC, not_before DESC",
                &[&&c[..]],
            )?;
            let mut hpke = Vec::new();
            for row in rows {
                let kid = key_id(row.get(0))?;
                let public: Vec<u8> = row.get(1);
                let sealed: Vec<u8> = row.get(2);
                let sig: Vec<u8> = row.get(5);
                let state: String = row.get(6);
                let private = self
                    .sealer
                    .open(key_place(c, &kid.to_be_bytes()), &sealed)?;
                hpke.push(HpkeKey {
                    key_id: kid,
                    public: arr32(&public)?,
                    private: Zeroizing::new(arr32(&private)?),
                    not_before_ms: u(row.get(3)),
                    not_after_ms: u(row.get(4)),
                    signature: sig.try_into().map_err(|_| {
                        Error::Runtime(
                            "the database holds a certificate signature that is not 64 bytes"
                                .into(),
                        )
                    })?,
                    current: state == "current",
                });
            }
            if hpke.iter().filter(|k| k.current).count() != 1 {
                return Err(Error::Runtime(
                    "the clinic must have exactly one current HPKE key".into(),
                )
                .into());
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

    fn enroll(
        &self,
        client: &mut Client,
        r: &RequestRef,
        body: &cairn_core::sync::messages::EnrollBody,
    ) -> Result<EnrollOutcome, Error> {
        let c = self.c();
        write(client, |t| {
            if !self.insert_request(t, r)? {
                return Ok((EnrollOutcome::Replayed, false));
            }
            let row = t.query_opt(
                "SELECT patient_id, sealed_secret FROM enrollments
                 WHERE clinic_id = $1 AND enrollment_id = $2",
                &[&c, &&body.enrollment_id[..]],
            )?;
            let Some(row) = row else {
                return Ok((EnrollOutcome::BadProof, false));
            };
            let (patient, sealed): (Vec<u8>, Vec<u8>) = (row.get(0), row.get(1));
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
            // One conditional update consumes it; a second enroll with
            // another key waits for this row's lock and then finds it used.
            let consumed = t.query_opt(
                "UPDATE enrollments SET used_by = $3, used_at = COALESCE(used_at, $4)
                 WHERE clinic_id = $1 AND enrollment_id = $2 AND NOT revoked
                   AND ((used_by IS NULL AND expires_at > $4) OR used_by = $3)
                 RETURNING patient_id",
                &[&c, &&body.enrollment_id[..], &key, &i(r.now_ms)],
            )?;
            if consumed.is_none() {
                let row = t.query_one(
                    "SELECT revoked, used_by FROM enrollments
                     WHERE clinic_id = $1 AND enrollment_id = $2",
                    &[&c, &&body.enrollment_id[..]],
                )?;
                let (revoked, used_by): (bool, Option<Vec<u8>>) = (row.get(0), row.get(1));
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
            t.execute(
                "INSERT INTO devices (clinic_id, device_id, patient_id, public_key, enrollment_id,
                                      last_applied_seq, sealed_categories, enrolled_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7)
                 ON CONFLICT (clinic_id, device_id) DO NOTHING",
                &[
                    &c,
                    &&r.device_id[..],
                    &patient,
                    &key,
                    &&body.enrollment_id[..],
                    &cats,
                    &i(r.now_ms),
                ],
            )?;
            // The device's row, locked: a push of the same device waits.
            let row = t.query_one(
                "SELECT patient_id, last_applied_seq, revoked_at FROM devices
                 WHERE clinic_id = $1 AND device_id = $2 FOR UPDATE",
                &[&c, &&r.device_id[..]],
            )?;
            let (dev_patient, last_applied, revoked_at): (Vec<u8>, i64, Option<i64>) =
                (row.get(0), row.get(1), row.get(2));
            if revoked_at.is_some() {
                return Ok((EnrollOutcome::DeviceRevoked, false));
            }
            if dev_patient != patient {
                return Ok((EnrollOutcome::OtherPatient, false));
            }
            t.execute(
                "UPDATE devices SET last_seen_at = $3 WHERE clinic_id = $1 AND device_id = $2",
                &[&c, &&r.device_id[..], &i(r.now_ms)],
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

    fn ingest_batch(&self, client: &mut Client, tx: &PushTx) -> Result<PushOutcome, Error> {
        let c = self.c();
        let r = tx.request;
        let device = &r.device_id[..];
        let now = r.now_ms;
        write(client, |t| {
            if !self.insert_request(t, &r)? {
                return Ok((PushOutcome::Replayed, false));
            }
            // The device's row, locked until commit: its batches apply one
            // at a time, whichever process took them.
            let st = prepared(t, DEVICE_LOCK)?;
            let row = t.query_opt(&st, &[&c, &device])?;
            let Some(row) = row else {
                return Ok((PushOutcome::DeviceRevoked, false));
            };
            let (patient, last_applied, revoked_at): (Vec<u8>, i64, Option<i64>) =
                (row.get(0), row.get(1), row.get(2));
            if revoked_at.is_some() {
                return Ok((PushOutcome::DeviceRevoked, false));
            }
            let last_applied = u(last_applied);
            if tx.first > last_applied.saturating_add(1) {
                return Ok((PushOutcome::Gap { last_applied }, false));
            }
            // The patient's feed row, locked until commit: its counter and
            // clock, and the order of this patient's ingests (and pulls)
            // across processes.
            let st = prepared(t, FEED_LOCK)?;
            let row = t.query_one(&st, &[&c, &patient])?;
            let feed = Feed {
                position: u(row.get(0)),
                clock: Hlc(u(row.get(1))),
                hash: row.get(2),
            };
            let mut known = Known::default();
            let mut new_records = std::collections::HashSet::new();
            // The owners of the batch's random record ids, in one insert
            // (a new owner row is a new record) and one read of the rest.
            let keys = owned_keys(&tx.changes);
            if !keys.is_empty() {
                let st = prepared(t, OWNERS_INSERT)?;
                for row in t.query(&st, &[&c, &keys, &patient])? {
                    let rkey: String = row.get(0);
                    known.owners.insert(rkey.clone(), patient.clone());
                    new_records.insert(rkey);
                }
                let rest: Vec<&String> =
                    keys.iter().filter(|k| !new_records.contains(*k)).collect();
                if !rest.is_empty() {
                    let st = prepared(t, OWNERS_SELECT)?;
                    for row in t.query(&st, &[&c, &rest])? {
                        known.owners.insert(row.get(0), row.get(1));
                    }
                }
            }
            // What became of changes sent again.
            let again = sent_again(&tx.changes, last_applied);
            let again: Vec<&[u8]> = again.iter().map(|id| &id[..]).collect();
            if !again.is_empty() {
                let st = prepared(t, HELD_SELECT)?;
                for row in t.query(&st, &[&c, &device, &again])? {
                    known.held.insert(id16(row.get(0))?, u(row.get(1)));
                }
                let st = prepared(t, REJECTED_SELECT)?;
                for row in t.query(&st, &[&c, &device, &again])? {
                    known
                        .rejected_before
                        .insert(id16(row.get(0))?, u(row.get(1)));
                }
            }
            // Place the batch and insert its changes in one statement; a
            // change id found taken undoes the insert and the batch is
            // placed again knowing it.
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
                    let opener = |rkey: &str, id: &[u8], sealed: &[u8]| -> R<Zeroizing<Vec<u8>>> {
                        Ok(open_change(
                            &self.sealer,
                            &self.clinic_id,
                            &patient,
                            rkey,
                            id,
                            sealed,
                        )?)
                    };
                    let held = held_changes(t, &opener, c, device, tx.first, last_applied)?;
                    return Ok((PushOutcome::SequenceReused { last_applied, held }, false));
                };
                if plan.store.is_empty() {
                    break plan;
                }
                let n = plan.store.len();
                let mut ids = Vec::with_capacity(n);
                let mut seqs = Vec::with_capacity(n);
                let mut positions = Vec::with_capacity(n);
                let mut hashes = Vec::with_capacity(n);
                let mut kinds = Vec::with_capacity(n);
                let mut rkeys = Vec::with_capacity(n);
                let mut hlcs = Vec::with_capacity(n);
                let mut ops = Vec::with_capacity(n);
                let mut bodies = Vec::with_capacity(n);
                let mut nonces = self.sealer.nonces(n)?;
                for s in &plan.store {
                    let ch = &s.change;
                    ids.push(&ch.change_id[..]);
                    seqs.push(i(ch.seq));
                    positions.push(i(s.position));
                    hashes.push(&s.hash[..]);
                    kinds.push(i(ch.kind));
                    rkeys.push(s.rkey.as_str());
                    hlcs.push(i(ch.hlc));
                    ops.push(ch.op as i64);
                    bodies.push(seal_change(
                        &self.sealer,
                        &mut nonces,
                        &self.clinic_id,
                        &patient,
                        &s.rkey,
                        ch,
                    )?);
                }
                t.batch_execute("SAVEPOINT batch")?;
                let st = prepared(t, CHANGES_INSERT)?;
                let added = t.query(
                    &st,
                    &[
                        &c,
                        &patient,
                        &device,
                        &i(now),
                        &ids,
                        &seqs,
                        &positions,
                        &hashes,
                        &kinds,
                        &rkeys,
                        &hlcs,
                        &ops,
                        &bodies,
                    ],
                )?;
                if added.len() == n {
                    break plan;
                }
                let added: std::collections::HashSet<Vec<u8>> =
                    added.iter().map(|r| r.get(0)).collect();
                let refused: Vec<&[u8]> =
                    ids.into_iter().filter(|id| !added.contains(*id)).collect();
                t.batch_execute("ROLLBACK TO SAVEPOINT batch")?;
                for id in &refused {
                    known.taken.insert(id16(id.to_vec())?, None);
                }
                let st = prepared(t, HOLDERS_SELECT)?;
                for row in t.query(&st, &[&c, &refused])? {
                    known
                        .taken
                        .insert(id16(row.get(0))?, Some((row.get(1), u(row.get(2)))));
                }
            };
            plan.new_records = new_records;
            if !plan.rejections.is_empty() {
                let seqs: Vec<i64> = plan.rejections.iter().map(|r| i(r.0)).collect();
                let ids: Vec<&[u8]> = plan.rejections.iter().map(|r| &r.1[..]).collect();
                let codes: Vec<i64> = plan.rejections.iter().map(|r| i(r.2)).collect();
                let st = prepared(t, REJECTIONS_INSERT)?;
                t.execute(&st, &[&c, &device, &seqs, &ids, &codes])?;
            }
            // The touched records' tips in one read (none for a new
            // record), the batch merged in, the changed records written in
            // one statement.
            let mut tips = std::collections::HashMap::new();
            let (kinds, rkeys): (Vec<i64>, Vec<&str>) = touched(&plan.store)
                .into_iter()
                .filter(|(_, rkey)| !plan.new_records.contains(*rkey))
                .map(|(kind, rkey)| (i(kind), rkey))
                .unzip();
            if !kinds.is_empty() {
                let st = prepared(t, RECORDS_SELECT)?;
                for row in t.query(&st, &[&c, &patient, &kinds, &rkeys])? {
                    let kind = u(row.get(0));
                    let rkey: String = row.get(1);
                    let state: Option<&[u8]> = row.get(2);
                    let id: Option<&[u8]> = row.get(3);
                    let body: Option<&[u8]> = row.get(4);
                    let before = read_tips(
                        &self.sealer,
                        &self.clinic_id,
                        &patient,
                        (kind, &rkey),
                        state,
                        id.zip(body),
                    )?;
                    tips.insert((kind, rkey), before);
                }
            }
            let stored = plan.store.len();
            let changed = merge_batch(std::mem::take(&mut plan.store), tips);
            if !changed.is_empty() {
                let mut kinds = Vec::with_capacity(changed.len());
                let mut rkeys = Vec::with_capacity(changed.len());
                let mut rows = Vec::with_capacity(changed.len());
                let mut stamps = Vec::with_capacity(changed.len());
                for (kind, rkey, tips, is) in &changed {
                    kinds.push(i(*kind));
                    rkeys.push(rkey.as_str());
                    rows.push(tips_row(
                        &self.sealer,
                        &self.clinic_id,
                        &patient,
                        (*kind, rkey),
                        tips,
                        *is,
                    )?);
                    stamps.push(i(tips[0].hlc));
                }
                let (states, positions): (Vec<Option<&[u8]>>, Vec<Option<i64>>) =
                    rows.iter().map(TipsRow::columns).unzip();
                let st = prepared(t, RECORDS_UPSERT)?;
                t.execute(
                    &st,
                    &[
                        &c,
                        &patient,
                        &i(now),
                        &kinds,
                        &rkeys,
                        &states,
                        &positions,
                        &stamps,
                    ],
                )?;
            }
            let last_applied = last_applied.max(tx.last);
            let st = prepared(t, FEED_UPDATE)?;
            t.execute(
                &st,
                &[
                    &c,
                    &patient,
                    &i(plan.feed.position),
                    &i(plan.feed.clock.0),
                    &plan.feed.hash,
                ],
            )?;
            let st = prepared(t, DEVICE_UPDATE)?;
            t.execute(&st, &[&c, &device, &i(last_applied), &i(now)])?;

            // The pull, under the feed row's lock: every feed position
            // below the counter is committed, none is in flight.
            // A cursor whose position now holds another change (a server
            // restored from an older backup) reads the feed again.
            let mut from = tx.pull_after;
            if let Some(f) = from
                && let Some(id) = f.check
            {
                let st = prepared(t, FEED_HASH_AT)?;
                let there = t.query_opt(&st, &[&c, &patient, &i(f.after)])?;
                let there: Option<Vec<u8>> = there.map(|r| r.get(0));
                if there.as_deref() != Some(&id[..]) {
                    from = None;
                }
            }
            let mut pull = Pull::new(from);
            // The device's own changes, when left out, are passed over
            // without their bodies.
            let skipped: &[u8] = if pull.skip_own { device } else { &[] };
            let st = prepared(t, PULL_PAGE_SELECT)?;
            'pages: loop {
                let rows = t.query(
                    &st,
                    &[&c, &patient, &i(pull.position), &PULL_PAGE, &skipped],
                )?;
                let n = rows.len();
                for row in rows {
                    let pos = u(row.get(0));
                    let from: Vec<u8> = row.get(1);
                    let own = from == device;
                    let at: Vec<u8> = row.get(5);
                    if own && pull.skip_own {
                        pull.offer(pos, &at, true, &[]);
                        continue;
                    }
                    let change_id: Vec<u8> = row.get(2);
                    let rkey: String = row.get(3);
                    let sealed: Vec<u8> = row.get(4);
                    let body = open_change(
                        &self.sealer,
                        &self.clinic_id,
                        &patient,
                        &rkey,
                        &change_id,
                        &sealed,
                    )?;
                    if !pull.offer(pos, &at, own, &body) {
                        break 'pages;
                    }
                }
                if (n as i64) < PULL_PAGE {
                    break;
                }
            }
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

    fn withdraw(&self, client: &mut Client, r: &RequestRef) -> Result<WithdrawOutcome, Error> {
        let c = self.c();
        write(client, |t| {
            if !self.insert_request(t, r)? {
                return Ok((WithdrawOutcome::Replayed, false));
            }
            let last = t.query_opt(
                "UPDATE devices SET revoked_at = $3, withdrawn = true, last_seen_at = $3
                 WHERE clinic_id = $1 AND device_id = $2 AND revoked_at IS NULL
                 RETURNING last_applied_seq",
                &[&c, &&r.device_id[..], &i(r.now_ms)],
            )?;
            Ok(match last {
                Some(row) => (
                    WithdrawOutcome::Withdrawn {
                        last_applied: u(row.get(0)),
                    },
                    true,
                ),
                None => (WithdrawOutcome::DeviceRevoked, false),
            })
        })
    }

    fn create_enrollment(
        &self,
        client: &mut Client,
        name: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<NewEnrollment, Error> {
        let c = self.c();
        let mac = self.sealer.name_mac(&self.clinic_id, name);
        let new_patient: Id16 = self.sealer.random()?;
        let enrollment_id: Id16 = self.sealer.random()?;
        let secret = Zeroizing::new(self.sealer.random::<16>()?);
        write(client, |t| {
            let sealed_name = self.sealer.seal(
                self.patient_place(&new_patient, "patients", &new_patient),
                name.trim().as_bytes(),
            )?;
            // Two processes enrolling a new patient at once make one: the
            // second insert waits for the first and does nothing.
            t.execute(
                "INSERT INTO patients (clinic_id, patient_id, name_mac, sealed_name, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (clinic_id, name_mac) DO NOTHING",
                &[&c, &&new_patient[..], &&mac[..], &sealed_name, &i(now_ms)],
            )?;
            let patient = self
                .patient_by_name(t, name)?
                .ok_or_else(|| Error::Runtime("the patient was not created".into()))?;
            t.execute(
                "INSERT INTO feeds (clinic_id, patient_id, position, hlc) VALUES ($1, $2, 0, 0)
                 ON CONFLICT (clinic_id, patient_id) DO NOTHING",
                &[&c, &&patient[..]],
            )?;
            let sealed_secret = self.sealer.seal(
                self.patient_place(&patient, "enrollments", &enrollment_id),
                &*secret,
            )?;
            t.execute(
                "INSERT INTO enrollments (clinic_id, enrollment_id, patient_id, sealed_secret,
                                          expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &c,
                    &&enrollment_id[..],
                    &&patient[..],
                    &sealed_secret,
                    &i(expires_at_ms),
                    &i(now_ms),
                ],
            )?;
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

    fn devices(&self, client: &mut Client) -> Result<Vec<DeviceInfo>, Error> {
        let c = self.c();
        read(client, |t| {
            let rows = t.query(
                "SELECT d.device_id, d.patient_id, p.sealed_name, d.enrolled_at, d.last_seen_at,
                        d.last_applied_seq, d.revoked_at, d.withdrawn
                 FROM devices d JOIN patients p
                   ON p.clinic_id = d.clinic_id AND p.patient_id = d.patient_id
                 WHERE d.clinic_id = $1
                 ORDER BY d.enrolled_at, d.device_id",
                &[&c],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let patient: Vec<u8> = row.get(1);
                let sealed_name: Vec<u8> = row.get(2);
                let name = self.sealer.open(
                    self.patient_place(&patient, "patients", &patient),
                    &sealed_name,
                )?;
                out.push(DeviceInfo {
                    device_id: id16(row.get(0))?,
                    patient_id: id16(patient)?,
                    patient: String::from_utf8_lossy(&name).into_owned(),
                    enrolled_at_ms: u(row.get(3)),
                    last_seen_ms: row.get::<_, Option<i64>>(4).map(u),
                    last_applied: u(row.get(5)),
                    revoked_at_ms: row.get::<_, Option<i64>>(6).map(u),
                    withdrawn: row.get(7),
                });
            }
            Ok(out)
        })
    }

    fn revoke(
        &self,
        client: &mut Client,
        device_id: &Id16,
        now_ms: u64,
    ) -> Result<RevokeOutcome, Error> {
        let c = self.c();
        write(client, |t| {
            let n = t.execute(
                "UPDATE devices SET revoked_at = $3
                 WHERE clinic_id = $1 AND device_id = $2 AND revoked_at IS NULL",
                &[&c, &&device_id[..], &i(now_ms)],
            )?;
            if n == 1 {
                return Ok((RevokeOutcome::Revoked, true));
            }
            let known = t
                .query_opt(
                    "SELECT 1 FROM devices WHERE clinic_id = $1 AND device_id = $2",
                    &[&c, &&device_id[..]],
                )?
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

    fn records(
        &self,
        client: &mut Client,
        name: &str,
        record_kind: u64,
    ) -> Result<Option<PatientRecords>, Error> {
        let c = self.c();
        read(client, |t| {
            let Some(patient) = self.patient_by_name(t, name)? else {
                return Ok(None);
            };
            // Byte order, as SQLite sorts text.
            let rows = t.query(
                "SELECT r.record_id, r.sealed_state, c.change_id, c.sealed_body FROM records r
                 LEFT JOIN LATERAL (
                     SELECT change_id, sealed_body FROM changes
                     WHERE clinic_id = r.clinic_id AND patient_id = r.patient_id
                       AND server_seq = r.tip_position
                     LIMIT 1) AS c ON true
                 WHERE r.clinic_id = $1 AND r.patient_id = $2 AND r.record_table = $3
                 ORDER BY r.record_id COLLATE \"C\"",
                &[&c, &&patient[..], &i(record_kind)],
            )?;
            let mut records = Vec::new();
            for row in rows {
                let rkey: String = row.get(0);
                let id: Option<&[u8]> = row.get(2);
                let body: Option<&[u8]> = row.get(3);
                let tips = read_tips(
                    &self.sealer,
                    &self.clinic_id,
                    &patient,
                    (record_kind, &rkey),
                    row.get(1),
                    id.zip(body),
                )?;
                let Some(first) = tips.first() else { continue };
                records.push(RecordState {
                    record_id: first.record_id.clone(),
                    tips,
                });
            }
            let withdrawn = t
                .query(
                    "SELECT device_id FROM devices
                     WHERE clinic_id = $1 AND patient_id = $2 AND withdrawn",
                    &[&c, &&patient[..]],
                )?
                .into_iter()
                .map(|r| id16(r.get(0)))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(Some(PatientRecords { records, withdrawn }))
        })
    }

    fn rotate_keys(&self, client: &mut Client, now_ms: u64) -> Result<Rotated, Error> {
        let keyset = self.load_keys(client)?;
        let c = &self.clinic_id;
        write(client, |t| {
            // The clinic's row, locked: two rotations at once run one after
            // the other.
            let root_id: i64 = t
                .query_one(
                    "SELECT root_key_id FROM clinics WHERE clinic_id = $1 FOR UPDATE",
                    &[&&c[..]],
                )?
                .get(0);
            let root_id = key_id(root_id)?;
            let current = t.query(
                "SELECT key_id, public, not_before, not_after FROM keys
                 WHERE clinic_id = $1 AND kind = 'hpke' AND state = 'current'",
                &[&&c[..]],
            )?;
            for row in current {
                let kid = key_id(row.get(0))?;
                let public: Vec<u8> = row.get(1);
                let (nb, na): (i64, i64) = (row.get(2), row.get(3));
                // Retired now: its certificate ends now, and it opens
                // requests for the grace period after that.
                let na = u(na).min(now_ms);
                let sig = keys::certify(&keyset.root, c, kid, &arr32(&public)?, u(nb), na);
                t.execute(
                    "UPDATE keys SET state = 'retiring', not_after = $3, signature = $4
                     WHERE clinic_id = $1 AND key_id = $2",
                    &[&&c[..], &i64::from(kid), &i(na), &&sig[..]],
                )?;
            }
            let key_id = loop {
                let id = random_key_id(&self.sealer)?;
                if id != root_id && insert_hpke_key(t, &self.sealer, c, &keyset.root, id, now_ms)? {
                    break id;
                }
            };
            let purged = t.execute(
                "DELETE FROM keys WHERE clinic_id = $1 AND kind = 'hpke' AND state = 'retiring'
                   AND not_after < $2",
                &[&&c[..], &i(now_ms.saturating_sub(GRACE_MS))],
            )?;
            t.execute(
                "UPDATE clinics SET keys_version = keys_version + 1 WHERE clinic_id = $1",
                &[&&c[..]],
            )?;
            Ok((
                Rotated {
                    key_id,
                    purged: purged as usize,
                },
                true,
            ))
        })
    }
}

impl Storage for Postgres {
    fn keys_version(&self) -> Result<i64, Error> {
        self.run(|db, client| {
            let st = prepared(client, KEYS_VERSION).map_err(|e| db_error(&e))?;
            let row = client
                .query_one(&st, &[&db.c()])
                .map_err(|e| db_error(&e))?;
            Ok(row.get(0))
        })
    }

    fn load_keys(&self) -> Result<KeySet, Error> {
        self.run(|db, client| db.load_keys(client))
    }

    fn device(&self, device_id: &Id16) -> Result<Option<Device>, Error> {
        let device_id = *device_id;
        self.run(move |db, client| {
            let st = prepared(client, DEVICE_SELECT).map_err(|e| db_error(&e))?;
            let row = client
                .query_opt(&st, &[&db.c(), &&device_id[..]])
                .map_err(|e| db_error(&e))?;
            row.map(|row| {
                Ok(Device {
                    patient_id: id16(row.get(0))?,
                    public_key: arr32(row.get(1))?,
                    revoked: row.get::<_, Option<i64>>(2).is_some(),
                })
            })
            .transpose()
        })
    }

    fn enroll(&self, tx: &EnrollTx<'_>) -> Result<EnrollOutcome, Error> {
        let request = tx.request;
        let body = tx.body.clone();
        self.run(move |db, client| db.enroll(client, &request, &body))
    }

    fn ingest_batch(&self, tx: PushTx) -> Result<PushOutcome, Error> {
        self.run(move |db, client| db.ingest_batch(client, &tx))
    }

    fn withdraw(&self, request: &RequestRef) -> Result<WithdrawOutcome, Error> {
        let request = *request;
        self.run(move |db, client| db.withdraw(client, &request))
    }

    fn create_enrollment(
        &self,
        name: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<NewEnrollment, Error> {
        let name = Zeroizing::new(name.to_owned());
        self.run(move |db, client| db.create_enrollment(client, &name, expires_at_ms, now_ms))
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>, Error> {
        self.run(|db, client| db.devices(client))
    }

    fn revoke(&self, device_id: &Id16, now_ms: u64) -> Result<RevokeOutcome, Error> {
        let device_id = *device_id;
        self.run(move |db, client| db.revoke(client, &device_id, now_ms))
    }

    fn records(&self, name: &str, record_kind: u64) -> Result<Option<PatientRecords>, Error> {
        let name = Zeroizing::new(name.to_owned());
        self.run(move |db, client| db.records(client, &name, record_kind))
    }

    fn rotate_keys(&self, now_ms: u64) -> Result<Rotated, Error> {
        self.run(move |db, client| db.rotate_keys(client, now_ms))
    }

    fn server_url(&self) -> Result<Option<String>, Error> {
        self.run(|_, client| {
            let row = client
                .query_one("SELECT url FROM server WHERE id = 1", &[])
                .map_err(|e| db_error(&e))?;
            Ok(row.get(0))
        })
    }

    fn set_server_url(&self, url: Option<&str>) -> Result<(), Error> {
        let url = url.map(str::to_owned);
        self.run(move |_, client| {
            client
                .execute("UPDATE server SET url = $1 WHERE id = 1", &[&url])
                .map_err(|e| db_error(&e))?;
            Ok(())
        })
    }

    fn prune_requests(&self, before_ms: u64) -> Result<usize, Error> {
        self.run(move |db, client| {
            let n = client
                .execute(
                    "DELETE FROM requests WHERE clinic_id = $1 AND received_at < $2",
                    &[&db.c(), &i(before_ms)],
                )
                .map_err(|e| db_error(&e))?;
            Ok(n as usize)
        })
    }

    fn clinic_author(
        &self,
        name: &str,
        root_public: &[u8; 32],
        now_ms: u64,
    ) -> Result<Option<ClinicAuthor>, Error> {
        let name = Zeroizing::new(name.to_owned());
        let root = *root_public;
        self.run(move |db, client| {
            let c = db.c();
            write(client, |t| {
                let Some(patient) = db.patient_by_name(t, &name)? else {
                    return Ok((None, false));
                };
                let author = ingest::clinic_author_id(&db.clinic_id, &patient);
                let cats = db.sealer.seal(
                    db.patient_place(&patient, "devices", &author),
                    &encode_categories(&[]),
                )?;
                t.execute(
                    "INSERT INTO devices (clinic_id, device_id, patient_id, public_key, enrollment_id,
                                          last_applied_seq, sealed_categories, enrolled_at)
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7)
                     ON CONFLICT (clinic_id, device_id) DO NOTHING",
                    &[&c, &&author[..], &&patient[..], &&root[..], &&[0u8; 16][..], &cats, &i(now_ms)],
                )?;
                let row = t.query_one(
                    "SELECT last_applied_seq FROM devices WHERE clinic_id = $1 AND device_id = $2",
                    &[&c, &&author[..]],
                )?;
                let last: i64 = row.get(0);
                Ok((
                    Some(ClinicAuthor {
                        patient_id: patient,
                        author,
                        last_applied: u(last),
                    }),
                    true,
                ))
            })
        })
    }
}
