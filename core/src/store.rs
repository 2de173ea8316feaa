//! The store: one SQLite file per patient, opened with the platform's key.
//!
//! One place opens transactions ([`Store::write`]), one place seals records
//! ([`crate::crypto::Sealer`]), and every change writes its outbox row in the
//! same transaction as the change itself.

use crate::clock::{Clock, SystemClock};
use crate::crypto::{Binding, DataKey, KdfParams, Sealer};
use crate::error::{Error, RecordRef, Result};
use crate::schema::{self, SEALED_TABLES, sealed_table};
use crate::zones::ZoneDb;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

const KEY_CHECK_PLAINTEXT: &[u8] = b"cairn key check v1";
const KEY_CHECK: Binding<'static> = Binding {
    table: "meta",
    id: "key_check",
    revision: 0,
    deleted: false,
    column: 0,
};
/// The write-ahead log is truncated back to this size after a checkpoint.
const JOURNAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// How a store is opened: its zone database and clock.
#[derive(Clone)]
pub struct StoreOptions {
    /// Where IANA zones come from.
    pub zones: Arc<ZoneDb>,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            zones: Arc::new(ZoneDb::system()),
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreOptions")
    }
}

/// The key to open or create a store with.
#[derive(Clone, Copy)]
pub enum Key<'a> {
    /// 32 bytes from the platform keystore.
    Raw(&'a [u8]),
    /// A passphrase (desktop use); stretched with PBKDF2 and the store's salt.
    Passphrase(&'a str),
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Key::Raw(_) => "Key::Raw(..)",
            Key::Passphrase(_) => "Key::Passphrase(..)",
        })
    }
}

/// Which of the two keys given to [`Store::open_with_pending`] opened the
/// store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySlot {
    /// The current key: a pending key, if any, never took effect; delete it.
    Current,
    /// The pending key: the re-key committed but the key was not promoted;
    /// promote it now.
    Pending,
}

/// What a re-key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyReport {
    /// Records re-sealed under the new key.
    pub resealed: u64,
    /// Records that were already unreadable under the old key; kept as they
    /// were (they stay reported as corrupted).
    pub corrupted: Vec<RecordRef>,
}

pub(crate) struct Inner {
    pub conn: Connection,
    pub sealer: Sealer,
    pub zones: Arc<ZoneDb>,
    pub clock: Arc<dyn Clock>,
    /// Decrypted custom trackers, loaded on first use; dropped when another
    /// connection commits (see `data_version`).
    pub trackers: Option<Vec<crate::trackers::Tracker>>,
    /// `PRAGMA data_version` when the caches were last known good.
    pub data_version: i64,
}

/// An open store. `Send + Sync`: calls from several threads are serialised.
/// Every call blocks on disk I/O; call from a background thread.
pub struct Store {
    inner: Mutex<Inner>,
    path: PathBuf,
    /// Sync requests waiting for their replies (in memory only).
    pub(crate) sync_pending: Mutex<Vec<crate::sync::device::Pending>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Stops the statement running on one store's connection; see
/// [`Store::interrupt_handle`].
pub struct InterruptHandle(rusqlite::InterruptHandle);

impl InterruptHandle {
    /// Interrupts the running statement, if any (a no-op between
    /// statements).
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
}

impl std::fmt::Debug for InterruptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InterruptHandle")
    }
}

/// Connection settings; none of them writes to the file. `apple` adds
/// `fullfsync`: on Darwin `fsync` does not flush the drive's cache, and the
/// bundled SQLite does not turn it on by itself.
pub fn pragmas(apple: bool) -> String {
    let mut p = format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT};"
    );
    if apple {
        p.push_str(
            "
         PRAGMA fullfsync = ON;
         PRAGMA checkpoint_fullfsync = ON;",
        );
    }
    p
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(&pragmas(cfg!(target_vendor = "apple")))?;
    Ok(())
}

fn meta(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

fn put_meta(tx: &Transaction<'_>, name: &str, value: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

fn derive_key(key: &Key<'_>, kdf: Option<&KdfParams>) -> Result<DataKey> {
    match (key, kdf) {
        (Key::Raw(bytes), _) => DataKey::from_bytes(bytes),
        (Key::Passphrase(p), Some(params)) => DataKey::from_passphrase(p, params),
        (Key::Passphrase(_), None) => Err(Error::NotPassphraseProtected),
    }
}

/// A key for a new store or a re-key: passphrases must meet the minimum
/// length; the KDF parameters are fresh.
fn new_key_for(key: &Key<'_>) -> Result<(DataKey, Option<KdfParams>)> {
    match key {
        Key::Raw(bytes) => Ok((DataKey::from_bytes(bytes)?, None)),
        Key::Passphrase(p) => {
            let params = KdfParams::generate()?;
            Ok((DataKey::from_new_passphrase(p, &params)?, Some(params)))
        }
    }
}

fn write_key_meta(tx: &Transaction<'_>, sealer: &Sealer, kdf: Option<&KdfParams>) -> Result<()> {
    put_meta(tx, "key_id", &sealer.key_id().to_be_bytes())?;
    put_meta(
        tx,
        "key_check",
        &sealer.seal(KEY_CHECK, 1, KEY_CHECK_PLAINTEXT)?,
    )?;
    match kdf {
        Some(p) => put_meta(tx, "kdf", &p.encode())?,
        None => {
            tx.execute("DELETE FROM meta WHERE name = 'kdf'", [])?;
        }
    }
    Ok(())
}

/// Writes a complete, empty store at `tmp`, closed and checkpointed.
fn build_new_store(
    tmp: &Path,
    store_id: &str,
    sealer: &Sealer,
    kdf: Option<&KdfParams>,
) -> Result<()> {
    let mut conn = Connection::open_with_flags(
        tmp,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(Error::Storage(
            "the file system does not support WAL".into(),
        ));
    }
    migrate(&mut conn, sealer)?;
    let tx = conn.transaction()?;
    put_meta(&tx, "store_id", store_id.as_bytes())?;
    write_key_meta(&tx, sealer, kdf)?;
    tx.commit()?;
    conn.close().map_err(|(_, e)| Error::from(e))
}

/// Brings the store to [`schema::LATEST`] in one IMMEDIATE transaction. The
/// version is read inside it, so of two processes opening an old store at
/// once, the second finds the work done.
fn migrate(conn: &mut Connection, sealer: &Sealer) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= schema::LATEST {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if from >= schema::LATEST {
        return Ok(());
    }
    if from > 0 {
        // Another process may have re-keyed the store since the key check.
        verify_key(&tx, sealer, from < schema::ENVELOPE_V2_SINCE)?;
    }
    for m in schema::MIGRATIONS.iter().skip(from as usize) {
        tx.execute_batch(m)?;
    }
    if from < schema::ENVELOPE_V2_SINCE {
        reseal_as_envelope_v2(&tx, sealer, from > 0)?;
    }
    tx.pragma_update(None, "user_version", schema::LATEST)?;
    tx.commit()?;
    Ok(())
}

/// The migration to schema 3: rebuilds every sealed table in its version-3
/// shape and re-seals every body as envelope 2, tombstones included. A body
/// that does not open under envelope 1 is kept byte for byte (it reads as
/// `Corrupted` afterwards, as it did before). `key_meta` says whether the
/// key check must be re-sealed too (not for a store being built).
fn reseal_as_envelope_v2(tx: &Transaction<'_>, sealer: &Sealer, key_meta: bool) -> Result<()> {
    for t in SEALED_TABLES {
        let old = format!("{}_v2", t.table);
        tx.execute_batch(&format!("ALTER TABLE {} RENAME TO {old}", t.table))?;
        // The old table's index keeps its name until dropped: free it.
        if let Some((name, _)) = t.index {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        tx.execute_batch(t.create)?;
        let day = t.bound_column.map_or(String::new(), |c| format!(", {c}"));
        let deleted = if t.had_deleted { "deleted" } else { "0" };
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {}(rowid, id{day}, revision, deleted, body) VALUES (?1, ?2{}, ?3, ?4, ?5)",
            t.table,
            if t.bound_column.is_some() { ", ?6" } else { "" }
        ))?;
        let mut stmt = tx.prepare(&format!(
            "SELECT rowid, id, {}, revision, {deleted}, body FROM {old} ORDER BY rowid",
            t.bound_column.unwrap_or("NULL")
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            let day: Option<i64> = r.get(2)?;
            let revision: i64 = r.get(3)?;
            let deleted: bool = r.get(4)?;
            let body: Option<Vec<u8>> = r.get(5)?;
            let sealed = match body {
                None => sealer.seal_tombstone(t.table, &id, revision)?,
                Some(old_body) => {
                    match sealer.open_v1(t.table, &id, day.unwrap_or(0), old_body.clone()) {
                        Ok((schema, plain)) => sealer.seal(
                            Binding {
                                column: day.unwrap_or(0),
                                ..Binding::live(t.table, &id, revision)
                            },
                            schema,
                            &plain,
                        )?,
                        Err(_) => old_body,
                    }
                }
            };
            if t.bound_column.is_some() {
                insert.execute(params![rowid, id, revision, deleted, sealed, day])?;
            } else {
                insert.execute(params![rowid, id, revision, deleted, sealed])?;
            }
        }
        drop(rows);
        drop(stmt);
        drop(insert);
        tx.execute_batch(&format!("DROP TABLE {old}"))?;
        if let Some((_, create_index)) = t.index {
            tx.execute_batch(create_index)?;
        }
    }
    if key_meta {
        put_meta(
            tx,
            "key_check",
            &sealer.seal(KEY_CHECK, 1, KEY_CHECK_PLAINTEXT)?,
        )?;
    }
    Ok(())
}

impl Store {
    /// Creates a new store at `path` (a file that must not exist yet).
    ///
    /// The store is built under a temporary name and linked into place, so
    /// a crash leaves either no store or a complete one.
    pub fn create(path: impl AsRef<Path>, key: Key<'_>, opts: StoreOptions) -> Result<Store> {
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::StoreExists);
        }
        let (data_key, kdf) = new_key_for(&key)?;
        let store_id = crate::crypto::random_id()?;
        let sealer = Sealer::new(&data_key, &store_id);
        let tmp = path.with_file_name(format!(
            ".{}.creating-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("store"),
            &crate::crypto::random_id()?[..8]
        ));
        let built = build_new_store(&tmp, &store_id, &sealer, kdf.as_ref()).and_then(|()| {
            // A hard link never replaces an existing file: two creators
            // racing cannot overwrite each other's store.
            std::fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::StoreExists,
                _ => Error::from(e),
            })
        });
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = tmp.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        built?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        let conn = Self::connect(path)?;
        Self::finish_open(conn, path, sealer, opts)
    }

    /// Opens an existing store. `WrongKey` if the key does not open it; in
    /// that case nothing is written to the file (the key is checked while
    /// the connection is query-only).
    pub fn open(path: impl AsRef<Path>, key: Key<'_>, opts: StoreOptions) -> Result<Store> {
        let path = path.as_ref();
        let conn = Self::connect(path)?;
        let sealer = Self::checked_sealer(&conn, &key)?;
        Self::finish_open(conn, path, sealer, opts)
    }

    /// Opens a store with the current key, or else with a pending one (the
    /// key-handover protocol in docs/design.md, "Keys"): says which opened,
    /// so that the caller promotes the pending key or deletes it. `WrongKey`
    /// only if neither opens.
    pub fn open_with_pending(
        path: impl AsRef<Path>,
        current: Key<'_>,
        pending: Option<Key<'_>>,
        opts: StoreOptions,
    ) -> Result<(Store, KeySlot)> {
        let path = path.as_ref();
        let conn = Self::connect(path)?;
        let (sealer, slot) = match (Self::checked_sealer(&conn, &current), pending) {
            (Err(Error::WrongKey), Some(p)) => (Self::checked_sealer(&conn, &p)?, KeySlot::Pending),
            (r, _) => (r?, KeySlot::Current),
        };
        Ok((Self::finish_open(conn, path, sealer, opts)?, slot))
    }

    /// Whether the store at `path` is protected by a passphrase (reads the
    /// plaintext KDF parameters only).
    pub fn is_passphrase_protected(path: impl AsRef<Path>) -> Result<bool> {
        let conn = Self::connect(path.as_ref())?;
        Ok(Self::kdf_params(&conn)?.is_some())
    }

    /// Checks `key` against the store on the still query-only connection:
    /// a wrong key can write nothing.
    fn checked_sealer(conn: &Connection, key: &Key<'_>) -> Result<Sealer> {
        let kdf = match key {
            Key::Passphrase(_) => Self::kdf_params(conn)?,
            Key::Raw(_) => None,
        };
        let data_key = derive_key(key, kdf.as_ref())?;
        let store_id = meta(conn, "store_id")?
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|id| crate::crypto::check_id(id).is_ok())
            .ok_or_else(|| Error::corrupted("meta", "store_id"))?;
        let sealer = Sealer::new(&data_key, &store_id);
        drop(data_key);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        verify_key(conn, &sealer, version < schema::ENVELOPE_V2_SINCE)?;
        Ok(sealer)
    }

    /// Opens the file with writes refused (`query_only`) until
    /// [`Store::finish_open`] has a checked key. (A read-only open would
    /// leave an empty `-wal` file behind.)
    fn connect(path: &Path) -> Result<Connection> {
        if !path.is_file() {
            return Err(Error::StoreNotFound);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA query_only = ON")?;
        configure(&conn)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            return Err(Error::NotAStore);
        }
        if version > schema::LATEST {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: schema::LATEST,
            });
        }
        Ok(conn)
    }

    fn kdf_params(conn: &Connection) -> Result<Option<KdfParams>> {
        match meta(conn, "kdf")? {
            None => Ok(None),
            Some(b) => KdfParams::decode(&b)
                .map(Some)
                .ok_or_else(|| Error::corrupted("meta", "kdf")),
        }
    }

    /// Lets `conn` write, now that its key is checked (or the store just
    /// created), and migrates the store (the migration checks the key again
    /// inside its transaction).
    fn finish_open(
        mut conn: Connection,
        path: &Path,
        sealer: Sealer,
        opts: StoreOptions,
    ) -> Result<Store> {
        conn.execute_batch("PRAGMA query_only = OFF")?;
        migrate(&mut conn, &sealer)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode != "wal" {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
        }
        let data_version = data_version(&conn)?;
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                sealer,
                zones: opts.zones,
                clock: opts.clock,
                trackers: None,
                data_version,
            }),
            path: path.to_owned(),
            sync_pending: Mutex::new(Vec::new()),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle that stops the statement running on this store's connection
    /// (`sqlite3_interrupt`): the call fails with [`Error::Interrupted`] and
    /// its transaction rolls back. Safe to use from any thread, even after
    /// the store is closed.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.lock().conn.get_interrupt_handle())
    }

    /// Runs a read that never ends until it is interrupted through
    /// [`Store::interrupt_handle`], inside a read transaction as every read
    /// is. For the bindings' cancellation tests only.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn testing_endless_read(&self) -> Result<()> {
        let mut inner = self.lock();
        let tx = inner.conn.transaction()?;
        tx.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
             SELECT count(*) FROM n",
            [],
            |_| Ok(()),
        )?;
        Ok(())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic inside a call rolled its transaction back when the
        // transaction dropped; the connection itself is still sound.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one IMMEDIATE transaction and commits (with
    /// `synchronous=FULL`, durable when this returns).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Sealer, &mut WriteCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let tx = inner
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another handle or process may have re-keyed the store since this
        // one opened: writing under the old key would seal unreadable rows.
        check_key_current(&tx, &inner.sealer)?;
        // The caches are worked on outside `inner` and put back only after
        // the commit succeeds, so a failed write leaves nothing behind.
        drop_stale_caches(&tx, &mut inner.data_version, &mut inner.trackers)?;
        let mut trackers = inner.trackers.take();
        let mut ctx = WriteCtx {
            zones: &inner.zones,
            clock: inner.clock.as_ref(),
            trackers: &mut trackers,
        };
        let v = f(&tx, &inner.sealer, &mut ctx)?;
        tx.commit()?;
        inner.trackers = trackers;
        Ok(v)
    }

    /// Replaces the key: every sealed record is re-sealed under `new_key` in
    /// one transaction. A crash at any point leaves the store opening with
    /// exactly one of the two keys, nothing lost.
    ///
    /// The write-ahead log is then checkpointed into the main file, so that
    /// the shell can promote the new key (see [`Store::open_with_pending`]).
    pub fn rekey(&self, new_key: Key<'_>) -> Result<RekeyReport> {
        let (data_key, kdf) = new_key_for(&new_key)?;
        let mut guard = self.lock();
        let inner = &mut *guard;
        let tx = inner
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        check_key_current(&tx, &inner.sealer)?;
        let new_sealer = Sealer::new(&data_key, inner.sealer.store_id());
        drop(data_key);
        let mut report = RekeyReport {
            resealed: 0,
            corrupted: Vec::new(),
        };
        for t in SEALED_TABLES {
            let sql = format!(
                "SELECT rowid, id, coalesce({}, 0), revision, deleted, body FROM {}",
                t.bound_column.unwrap_or("0"),
                t.table
            );
            let mut update = tx.prepare(&format!(
                "UPDATE {} SET body = ?1 WHERE rowid = ?2",
                t.table
            ))?;
            let mut stmt = tx.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let rowid: i64 = r.get(0)?;
                let id: String = r.get(1)?;
                let at = Binding {
                    table: t.table,
                    id: &id,
                    column: r.get(2)?,
                    revision: r.get(3)?,
                    deleted: r.get(4)?,
                };
                let body: Vec<u8> = r.get(5)?;
                match inner.sealer.open_vec(at, body) {
                    Ok((schema, plain)) => {
                        update.execute(params![new_sealer.seal(at, schema, &plain)?, rowid])?;
                        report.resealed += 1;
                    }
                    Err(_) => report.corrupted.push(RecordRef::new(t.table, &id)),
                }
            }
        }
        write_key_meta(&tx, &new_sealer, kdf.as_ref())?;
        tx.commit()?;
        inner.sealer = new_sealer;
        // Into the main file before the shell promotes the key. Committed
        // already: a failure here (a reader holding the log) is not an error.
        let _ = inner
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(report)
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `true` when it answers "ok".
    pub fn integrity_check(&self) -> Result<bool> {
        let inner = self.lock();
        let r: String = inner
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(r == "ok")
    }

    /// Copies the write-ahead log into the main file (for tests and backups).
    pub fn checkpoint(&self) -> Result<()> {
        let inner = self.lock();
        inner
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Closes the store, letting SQLite tidy its statistics.
    pub fn close(self) -> Result<()> {
        let inner = self.inner.into_inner().unwrap_or_else(|p| p.into_inner());
        let _ = inner.conn.execute_batch("PRAGMA optimize");
        inner.conn.close().map_err(|(_, e)| Error::from(e))
    }

    /// Number of changes waiting in the outbox for sync.
    pub fn pending_changes(&self) -> Result<u64> {
        let inner = self.lock();
        let n: i64 = inner
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Runs `f` in one deferred (read) transaction: the key check and every
    /// query in `f` see one snapshot of the file.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.conn.execute_batch("BEGIN DEFERRED")?;
        let out = (|| {
            check_key_current(&inner.conn, &inner.sealer)?;
            drop_stale_caches(&inner.conn, &mut inner.data_version, &mut inner.trackers)?;
            f(inner)
        })();
        // A read transaction has nothing to keep; ending it cannot lose data.
        let _ = inner.conn.execute_batch("COMMIT");
        out
    }
}

/// `PRAGMA data_version`: changes when another connection commits.
fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// Drops the caches if another connection committed since they were
/// loaded (`PRAGMA data_version` moved).
fn drop_stale_caches(
    conn: &Connection,
    seen: &mut i64,
    cache: &mut Option<Vec<crate::trackers::Tracker>>,
) -> Result<()> {
    let version = data_version(conn)?;
    if version != *seen {
        *seen = version;
        *cache = None;
    }
    Ok(())
}

/// Tells a wrong key apart from a damaged file. The key id is stored in the
/// clear and inside the canary's authenticated header:
/// - same id, canary opens: the right key;
/// - other id, canary does not open: `WrongKey`;
/// - other id, canary opens: `Corrupted { meta/key_id }` (a flipped bit in
///   the plaintext id must not look like a wrong key);
/// - same id, canary does not open (or is missing): `Corrupted { meta/key_check }`.
///
/// `envelope_v1`: the canary of a store not yet migrated to schema 3.
fn verify_key(conn: &Connection, sealer: &Sealer, envelope_v1: bool) -> Result<()> {
    let stored_id = meta(conn, "key_id")?.ok_or_else(|| Error::corrupted("meta", "key_id"))?;
    let check = meta(conn, "key_check")?.ok_or_else(|| Error::corrupted("meta", "key_check"))?;
    let opened = if envelope_v1 {
        sealer.open_v1(KEY_CHECK.table, KEY_CHECK.id, 0, check)
    } else {
        sealer.open_vec(KEY_CHECK, check)
    };
    let canary_opens = matches!(opened, Ok((_, p)) if p == KEY_CHECK_PLAINTEXT);
    let id_matches = stored_id.as_slice() == sealer.key_id().to_be_bytes();
    match (id_matches, canary_opens) {
        (true, true) => Ok(()),
        (false, false) => Err(Error::WrongKey),
        (false, true) => Err(Error::corrupted("meta", "key_id")),
        (true, false) => Err(Error::corrupted("meta", "key_check")),
    }
}

/// `WrongKey` if the store's key was changed (by another handle or process)
/// after this handle opened it.
pub(crate) fn check_key_current(conn: &Connection, sealer: &Sealer) -> Result<()> {
    let id: Vec<u8> = conn
        .prepare_cached("SELECT value FROM meta WHERE name = 'key_id'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::corrupted("meta", "key_id"))?;
    if id.as_slice() == sealer.key_id().to_be_bytes() {
        Ok(())
    } else {
        // Rare: tell a re-key by another handle from a damaged id.
        verify_key(conn, sealer, false)
    }
}

/// What a write may consult besides the transaction.
pub(crate) struct WriteCtx<'a> {
    pub zones: &'a ZoneDb,
    pub clock: &'a dyn Clock,
    pub trackers: &'a mut Option<Vec<crate::trackers::Tracker>>,
}

impl WriteCtx<'_> {
    /// The custom trackers, loaded into the cache on first use.
    pub fn custom_trackers(
        &mut self,
        conn: &Connection,
        sealer: &Sealer,
    ) -> Result<&mut Vec<crate::trackers::Tracker>> {
        if self.trackers.is_none() {
            *self.trackers = Some(crate::trackers::load_custom(conn, sealer)?);
        }
        Ok(self.trackers.as_mut().expect("just loaded"))
    }
}

/// Deletes a record in the caller's transaction: erases its sealed body (and
/// its bound plaintext column, if nullable), seals a tombstone under the next
/// revision and queues the delete for sync. `NotFound` if there is no record
/// or it is already a (genuine) tombstone; a damaged record can be deleted.
pub(crate) fn tombstone(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    now_ms: i64,
    table: &'static str,
    id: &str,
) -> Result<()> {
    let not_found = || Error::NotFound {
        table,
        id: id.to_owned(),
    };
    let (rev, deleted, body): (i64, bool, Vec<u8>) = tx
        .query_row(
            &format!("SELECT revision, deleted, body FROM {table} WHERE id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(not_found)?;
    // A genuine tombstone is gone already. A damaged record, a tombstone
    // flag set without the key included, may be deleted: that is how an app
    // clears a record it can no longer read.
    if deleted && sealer.open_tombstone(table, id, rev, &body).is_ok() {
        return Err(not_found());
    }
    let clear_bound = sealed_table(table)
        .bound_column
        .map_or(String::new(), |c| format!(", {c} = NULL"));
    let body = sealer.seal_tombstone(table, id, rev + 1)?;
    tx.execute(
        &format!(
            "UPDATE {table} SET deleted = 1, body = ?3{clear_bound}, revision = ?2 WHERE id = ?1"
        ),
        params![id, rev + 1, body],
    )?;
    outbox(tx, sealer, now_ms, table, id, rev + 1, true)
}

/// Deletes a record of a table without a bound column because a delete
/// arrived through sync (no outbox row: it is not a local change). A
/// record never seen is stored as a tombstone; a tombstone stays one.
pub(crate) fn tombstone_synced(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &'static str,
    id: &str,
) -> Result<()> {
    let row: Option<(i64, bool)> = tx
        .query_row(
            &format!("SELECT revision, deleted FROM {table} WHERE id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((_, true)) = row {
        return Ok(());
    }
    let rev = row.map_or(1, |(r, _)| r + 1);
    let body = sealer.seal_tombstone(table, id, rev)?;
    tx.execute(
        &format!(
            "INSERT INTO {table}(id, revision, deleted, body) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, deleted = 1,
                                           body = excluded.body"
        ),
        params![id, rev, body],
    )?;
    Ok(())
}

/// Writes a live row of a sealed table in the caller's transaction: its next
/// revision (1 for a new row), sealed with `schema` (and `day` as the bound
/// column where the table has one). A row flagged deleted, even by a flag
/// forged without the key, is live again. No outbox row: callers that record
/// a local change add one. Returns the revision.
pub(crate) fn upsert_sealed(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    table: &'static str,
    id: &str,
    day: Option<i64>,
    schema: u8,
    body: &[u8],
) -> Result<i64> {
    let rev: Option<i64> = tx
        .query_row(
            &format!("SELECT revision FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let rev = rev.map_or(1, |r| r + 1);
    let at = Binding {
        column: day.unwrap_or(0),
        ..Binding::live(table, id, rev)
    };
    let sealed = sealer.seal(at, schema, body)?;
    match day {
        Some(day) => tx.execute(
            &format!(
                "INSERT INTO {table}(id, day, revision, deleted, body) VALUES (?1, ?2, ?3, 0, ?4)
                 ON CONFLICT(id) DO UPDATE SET day = excluded.day, revision = excluded.revision,
                                               deleted = 0, body = excluded.body"
            ),
            params![id, day, rev, sealed],
        )?,
        None => tx.execute(
            &format!(
                "INSERT INTO {table}(id, revision, deleted, body) VALUES (?1, ?2, 0, ?3)
                 ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, deleted = 0,
                                               body = excluded.body"
            ),
            params![id, rev, sealed],
        )?,
    };
    Ok(rev)
}

/// Records one change in the outbox, in the caller's transaction, under a
/// fresh change id; an enrolled store also keeps the change as it will be
/// sent (`sync::device::local_write`), stamped at `now_ms`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn outbox(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    now_ms: i64,
    table: &str,
    id: &str,
    revision: i64,
    deleted: bool,
) -> Result<()> {
    let change_id = crate::crypto::random_id()?;
    tx.prepare_cached(
        "INSERT INTO outbox(record_table, record_id, revision, op, change_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        table,
        id,
        revision,
        if deleted { "delete" } else { "put" },
        change_id
    ])?;
    let seq = tx.last_insert_rowid();
    crate::sync::device::local_write(tx, sealer, now_ms, seq, &change_id, table, id, deleted)
}

/// A sealed row whose body opened: what the loaders decode.
pub(crate) struct OpenedRow {
    pub id: String,
    pub revision: i64,
    /// The bound column (0 where there is none).
    pub column: i64,
    /// The body's record schema.
    pub schema: u8,
    pub plain: Vec<u8>,
}

/// The rows of a sealed table matching `filter` (SQL after `WHERE`, with
/// `args`), in rowid order: live rows opened, tombstones verified and
/// skipped, and every row that fails either reported in the second list
/// rather than failing the whole read. The one place that opens rows in
/// bulk, so every table confines damage the same way.
pub(crate) fn load_rows(
    conn: &Connection,
    sealer: &Sealer,
    table: &'static str,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<(Vec<OpenedRow>, Vec<RecordRef>)> {
    let column = sealed_table(table).bound_column.unwrap_or("0");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, coalesce({column}, 0), revision, deleted, body FROM {table}
         WHERE {filter} ORDER BY rowid"
    ))?;
    let mut rows = stmt.query(args)?;
    let mut opened = Vec::new();
    let mut corrupted = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let at = Binding {
            table,
            id: &id,
            column: r.get(1)?,
            revision: r.get(2)?,
            deleted: r.get(3)?,
        };
        let body: Vec<u8> = r.get(4)?;
        if at.deleted {
            if sealer
                .open_tombstone(table, &id, at.revision, &body)
                .is_err()
            {
                corrupted.push(RecordRef::new(table, &id));
            }
            continue;
        }
        match sealer.open_vec(at, body) {
            Ok((schema, plain)) => opened.push(OpenedRow {
                revision: at.revision,
                column: at.column,
                id,
                schema,
                plain,
            }),
            Err(_) => corrupted.push(RecordRef::new(table, &id)),
        }
    }
    Ok((opened, corrupted))
}

/// One record by id: `NotFound` if there is none or it is a verified
/// tombstone, `Corrupted` if it does not open (a tombstone flag set without
/// the key included).
pub(crate) fn load_row(
    conn: &Connection,
    sealer: &Sealer,
    table: &'static str,
    id: &str,
) -> Result<OpenedRow> {
    let (mut rows, corrupted) = load_rows(conn, sealer, table, "id = ?1", [id])?;
    if !corrupted.is_empty() {
        return Err(Error::corrupted(table, id));
    }
    rows.pop().ok_or_else(|| Error::NotFound {
        table,
        id: id.to_owned(),
    })
}
