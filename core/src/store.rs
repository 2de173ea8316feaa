//! The store: one SQLite file per patient, opened with the platform's key.
//!
//! One place opens transactions ([`Store::write`]), one place seals records
//! ([`crate::crypto::Sealer`]), and every change writes its outbox row in the
//! same transaction as the change itself.

use crate::clock::{Clock, SystemClock};
use crate::crypto::{Binding, DataKey, KdfParams, Sealer};
use crate::error::{Error, RecordRef, Result};
use crate::schema::{self, SEALED_TABLES};
use crate::zones::ZoneDb;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

const KEY_CHECK_PLAINTEXT: &[u8] = b"cairn key check v1";
const KEY_CHECK: Binding<'static> = Binding {
    table: "meta",
    id: "key_check",
    column: 0,
};

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
pub enum Key<'a> {
    /// 32 bytes from the platform keystore.
    Raw(&'a [u8]),
    /// A passphrase (desktop use); stretched with PBKDF2 and the store's salt.
    Passphrase(&'a str),
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
    /// Decrypted custom trackers, loaded on first use.
    pub trackers: Option<Vec<crate::trackers::Tracker>>,
}

/// An open store. `Send + Sync`: calls from several threads are serialised.
/// Every call blocks on disk I/O; call from a background thread.
pub struct Store {
    inner: Mutex<Inner>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // None of these writes to the file.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = FULL;",
    )?;
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
fn build_new_store(tmp: &Path, sealer: &Sealer, kdf: Option<&KdfParams>) -> Result<()> {
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
    migrate(&mut conn, 0)?;
    let tx = conn.transaction()?;
    put_meta(&tx, "store_id", crate::crypto::random_id()?.as_bytes())?;
    write_key_meta(&tx, sealer, kdf)?;
    tx.commit()?;
    conn.close().map_err(|(_, e)| Error::from(e))
}

fn migrate(conn: &mut Connection, from: i64) -> Result<()> {
    if from >= schema::LATEST {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for m in &schema::MIGRATIONS[from as usize..] {
        tx.execute_batch(m)?;
    }
    tx.pragma_update(None, "user_version", schema::LATEST)?;
    tx.commit()?;
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
        let kdf = match key {
            Key::Passphrase(_) => Some(KdfParams::generate()?),
            Key::Raw(_) => None,
        };
        let data_key = derive_key(&key, kdf.as_ref())?;
        let sealer = Sealer::new(&data_key);
        let tmp = path.with_file_name(format!(
            ".{}.creating-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("store"),
            &crate::crypto::random_id()?[..8]
        ));
        let built = build_new_store(&tmp, &sealer, kdf.as_ref()).and_then(|()| {
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
        Self::finish_open(conn, path, data_key, opts)
    }

    /// Opens an existing store. `WrongKey` if the key does not open it; in
    /// that case nothing is written to the file.
    pub fn open(path: impl AsRef<Path>, key: Key<'_>, opts: StoreOptions) -> Result<Store> {
        let path = path.as_ref();
        let conn = Self::connect(path)?;
        let kdf = match key {
            Key::Passphrase(_) => Self::kdf_params(&conn)?,
            Key::Raw(_) => None,
        };
        let data_key = derive_key(&key, kdf.as_ref())?;
        Self::finish_open(conn, path, data_key, opts)
    }

    /// Whether the store at `path` is protected by a passphrase (reads the
    /// plaintext KDF parameters only).
    pub fn is_passphrase_protected(path: impl AsRef<Path>) -> Result<bool> {
        let conn = Self::connect(path.as_ref())?;
        Ok(Self::kdf_params(&conn)?.is_some())
    }

    fn connect(path: &Path) -> Result<Connection> {
        if !path.is_file() {
            return Err(Error::StoreNotFound);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
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

    fn finish_open(
        mut conn: Connection,
        path: &Path,
        key: DataKey,
        opts: StoreOptions,
    ) -> Result<Store> {
        let sealer = Sealer::new(&key);
        drop(key);
        Self::check_key(&conn, &sealer)?;
        // Only now, with the key known good, may anything be written.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        migrate(&mut conn, version)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode != "wal" {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
        }
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                sealer,
                zones: opts.zones,
                clock: opts.clock,
                trackers: None,
            }),
            path: path.to_owned(),
        })
    }

    /// Tells a wrong key apart from a damaged file: the key id stored in the
    /// clear must match, and then the sealed canary must open.
    fn check_key(conn: &Connection, sealer: &Sealer) -> Result<()> {
        let stored_id = meta(conn, "key_id")?.ok_or_else(|| Error::corrupted("meta", "key_id"))?;
        if stored_id.as_slice() != sealer.key_id().to_be_bytes() {
            return Err(Error::WrongKey);
        }
        let check =
            meta(conn, "key_check")?.ok_or_else(|| Error::corrupted("meta", "key_check"))?;
        match sealer.open(KEY_CHECK, &check) {
            Ok((_, p)) if p == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(Error::corrupted("meta", "key_check")),
        }
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
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
        let mut ctx = WriteCtx {
            zones: &inner.zones,
            clock: inner.clock.as_ref(),
            trackers: &mut inner.trackers,
        };
        let out = f(&tx, &inner.sealer, &mut ctx);
        match out {
            Ok(v) => {
                tx.commit()?;
                Ok(v)
            }
            Err(e) => {
                // Any cached state touched by `f` may be stale.
                inner.trackers = None;
                drop(tx);
                Err(e)
            }
        }
    }

    /// Replaces the key: every sealed record is re-sealed under `new_key` in
    /// one transaction. A crash at any point leaves the store opening with
    /// exactly one of the two keys, nothing lost.
    pub fn rekey(&self, new_key: Key<'_>) -> Result<RekeyReport> {
        let kdf = match new_key {
            Key::Passphrase(_) => Some(KdfParams::generate()?),
            Key::Raw(_) => None,
        };
        let new_sealer = Sealer::new(&derive_key(&new_key, kdf.as_ref())?);
        let mut guard = self.lock();
        let inner = &mut *guard;
        let tx = inner
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        check_key_current(&tx, &inner.sealer)?;
        let mut report = RekeyReport {
            resealed: 0,
            corrupted: Vec::new(),
        };
        for t in SEALED_TABLES {
            let sql = format!(
                "SELECT rowid, id, {}, body FROM {} WHERE body IS NOT NULL",
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
                let column: i64 = r.get(2)?;
                let body: Vec<u8> = r.get(3)?;
                let at = Binding {
                    table: t.table,
                    id: &id,
                    column,
                };
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

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Inner) -> Result<T>) -> Result<T> {
        let inner = self.lock();
        check_key_current(&inner.conn, &inner.sealer)?;
        f(&inner)
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
        Err(Error::WrongKey)
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

/// Deletes a live record in the caller's transaction: erases its sealed body
/// (and its bound plaintext column, if nullable), bumps its revision and
/// queues the delete for sync. `NotFound` if there is no live record.
pub(crate) fn tombstone(tx: &Transaction<'_>, table: &'static str, id: &str) -> Result<()> {
    let rev: i64 = tx
        .query_row(
            &format!("SELECT revision FROM {table} WHERE id = ?1 AND deleted = 0"),
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound {
            table,
            id: id.to_owned(),
        })?;
    let clear_bound = SEALED_TABLES
        .iter()
        .find(|t| t.table == table)
        .and_then(|t| t.bound_column)
        .map_or(String::new(), |c| format!(", {c} = NULL"));
    tx.execute(
        &format!(
            "UPDATE {table} SET deleted = 1, body = NULL{clear_bound}, revision = ?2 WHERE id = ?1"
        ),
        params![id, rev + 1],
    )?;
    outbox(tx, table, id, rev + 1, true)
}

/// Records one change in the outbox, in the caller's transaction.
pub(crate) fn outbox(
    tx: &Transaction<'_>,
    table: &str,
    id: &str,
    revision: i64,
    deleted: bool,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox(record_table, record_id, revision, op) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        table,
        id,
        revision,
        if deleted { "delete" } else { "put" }
    ])?;
    Ok(())
}
