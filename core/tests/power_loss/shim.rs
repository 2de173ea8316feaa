//! A fault-injecting SQLite VFS that wraps the default "unix" VFS.
//!
//! SIGKILL keeps the operating system's page cache, so a kill test cannot
//! show a missing or misplaced fsync. This shim models a disk whose cache is
//! lost with the power: every `xWrite` and `xTruncate` since a file's last
//! `xSync` is volatile. SQLite calls the shim for every file it opens by
//! name, so the real `Store` runs on it unchanged once it is the default VFS.
//!
//! Modes (one process-wide state, the tests serialise themselves):
//! * pass-through: calls go to the unix VFS, nothing is recorded;
//! * tracking: an undo log per path records what each unsynced write or
//!   truncate replaced; at the chosen call the power is lost: every unsynced
//!   change of every file is undone, every file opened before the loss fails
//!   all later I/O (SQLite cannot write after the loss), and the test then
//!   drops its handles and calls [`reset`];
//! * injection: the n-th `xWrite` (or `xSync`) returns `SQLITE_IOERR_WRITE`
//!   (or `SQLITE_IOERR_FSYNC`) once, without doing it.
//!
//! What is modelled and what is not:
//! * Durability is the shim's: `xSync` makes a file's writes durable in the
//!   model and does not call the real fsync (the real disk's durability does
//!   not matter to a test, and fsync on a shared build machine is slow).
//! * The power goes out just before the chosen call takes effect, and then
//!   every unsynced write is lost together. Not modelled: torn sectors (a
//!   write half kept) and reordering (a later unsynced write surviving an
//!   earlier lost one); SQLite's WAL checksums are meant to cope with both,
//!   but this shim does not show it.
//! * Directory entries: a file deleted through `xDelete` without its
//!   directory being synced comes back at a power loss with its durable
//!   content. A directory counts as synced by `xDelete(.., syncDir=1)` and by
//!   the first `xSync` of a WAL or journal opened with `SQLITE_OPEN_CREATE`
//!   (the unix VFS syncs the directory there, `UNIXFILE_DIRSYNC`). Creating
//!   a file is treated as durable at once; an unsynced new file loses its
//!   content (it is truncated to zero), which SQLite treats like a missing
//!   one. Renames, links and directory syncs done outside SQLite (the hard
//!   link and directory fsync in `Store::create`) are not seen, so the tests
//!   only cut the power after a store exists.
//! * The `-shm` file is memory-mapped and never reaches `xWrite`; SQLite
//!   rebuilds it when the first connection opens after a crash.

use rusqlite::ffi;
use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

/// Which call an injected I/O error replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The n-th `xWrite` returns `SQLITE_IOERR_WRITE`.
    Write,
    /// The n-th `xSync` returns `SQLITE_IOERR_FSYNC`.
    Sync,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    PassThrough,
    /// Record unsynced changes; lose the power at the n-th counted call.
    Track {
        lose_power_at: Option<u64>,
    },
    /// Fail the n-th call of that kind once.
    Inject {
        fault: Fault,
        at: u64,
    },
}

/// What a file's content was at its last sync: the undo log of the changes
/// since then, newest last.
#[derive(Default)]
struct Volatile {
    synced_len: u64,
    undo: Vec<Undo>,
    /// Writes and truncates since the last sync.
    changes: u64,
}

enum Undo {
    /// `bytes` were at `offset` before a write or truncate replaced them.
    Restore { offset: u64, bytes: Vec<u8> },
}

struct State {
    mode: Mode,
    /// Counted calls since the mode was set (writes, truncates, syncs and
    /// deletes in tracking mode; the faulted kind in injection mode).
    calls: u64,
    /// Files opened in an earlier epoch are dead: the power went out.
    epoch: u64,
    /// Between a power loss and [`reset`]: nothing may be opened.
    dead: bool,
    injected: bool,
    volatile: BTreeMap<String, Volatile>,
    /// Files deleted while their directory was not synced since: path and
    /// the content the disk would still hold.
    unsynced_deletes: Vec<(String, Vec<u8>)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    mode: Mode::PassThrough,
    calls: 0,
    epoch: 0,
    dead: false,
    injected: false,
    volatile: BTreeMap::new(),
    unsynced_deletes: Vec::new(),
});

fn state() -> MutexGuard<'static, State> {
    // A panic never happens while the lock is held (the callbacks do not
    // panic), but a test failing elsewhere must not poison the next test.
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The unix VFS the shim forwards to (set once by `install`).
static REAL: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(std::ptr::null_mut());

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    REAL.load(Ordering::Acquire)
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

/// SQLite allocates `szOsFile` bytes for each open file; the shim's fields
/// come first and the unix VFS's own file follows at `REAL_OFFSET`.
#[repr(C)]
struct ShimFile {
    base: ffi::sqlite3_file,
    /// Full path (freed in `x_close`), or none for a nameless temporary
    /// file.
    path: Option<Box<str>>,
    epoch: u64,
    /// Syncing this file also syncs its directory (see module doc).
    dirsync: bool,
}

const REAL_OFFSET: usize = std::mem::size_of::<ShimFile>().next_multiple_of(16);

unsafe fn real(f: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: every file SQLite hands the shim was sized by `install`.
    unsafe { (f as *mut u8).add(REAL_OFFSET) as *mut ffi::sqlite3_file }
}

unsafe fn shim(f: *mut ffi::sqlite3_file) -> &'static mut ShimFile {
    // SAFETY: `base` is the first field of a `#[repr(C)]` ShimFile.
    unsafe { &mut *(f as *mut ShimFile) }
}

unsafe fn real_methods(f: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    // SAFETY: the unix file is open while the shim file is.
    unsafe { &*(*real(f)).pMethods }
}

unsafe fn path_of(f: *mut ffi::sqlite3_file) -> Option<&'static str> {
    unsafe { shim(f) }.path.as_deref()
}

/// Registers the shim as SQLite's default VFS (once per process).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        let unix = ffi::sqlite3_vfs_find(c"unix".as_ptr());
        assert!(!unix.is_null(), "no unix VFS");
        REAL.store(unix, Ordering::Release);
        // Same functions and app data as unix (its helpers read
        // `pAppData`), with the shim's open, delete and file size.
        let mut vfs = *unix;
        vfs.zName = c"cairn-power-loss".as_ptr();
        vfs.pNext = std::ptr::null_mut();
        vfs.szOsFile = (REAL_OFFSET + (*unix).szOsFile as usize) as c_int;
        vfs.xOpen = Some(x_open);
        vfs.xDelete = Some(x_delete);
        let vfs = Box::leak(Box::new(vfs));
        let rc = ffi::sqlite3_vfs_register(vfs, 1);
        assert_eq!(rc, ffi::SQLITE_OK, "sqlite3_vfs_register");
    });
}

/// Back to pass-through with a clean slate. Call after a power loss once
/// every handle opened before it is dropped.
pub fn reset() {
    let mut s = state();
    s.mode = Mode::PassThrough;
    s.calls = 0;
    s.dead = false;
    s.injected = false;
    s.volatile.clear();
    s.unsynced_deletes.clear();
}

/// Starts recording unsynced changes from now on (what is on disk now is
/// taken as durable) and, with `Some(n)`, loses the power at the n-th
/// write, truncate, sync or delete.
pub fn track(lose_power_at: Option<u64>) {
    reset();
    state().mode = Mode::Track { lose_power_at };
}

/// Fails the n-th call of that kind once, from now on.
pub fn inject(fault: Fault, at: u64) {
    reset();
    state().mode = Mode::Inject { fault, at };
}

/// Calls counted since `track` or `inject`.
pub fn calls() -> u64 {
    state().calls
}

/// Whether the power went out since `track`.
pub fn lost_power() -> bool {
    state().dead
}

/// Whether the injected fault fired since `inject`.
pub fn injected() -> bool {
    state().injected
}

/// Over the whole process: unsynced writes and truncates dropped, and
/// deleted files brought back, by power losses.
pub fn undone() -> (u64, u64) {
    (
        UNDONE_WRITES.load(Ordering::Relaxed),
        RESTORED_FILES.load(Ordering::Relaxed),
    )
}

static UNDONE_WRITES: AtomicU64 = AtomicU64::new(0);
static RESTORED_FILES: AtomicU64 = AtomicU64::new(0);

/// Cuts the power now (at the end of a round that never reached its
/// chosen call).
pub fn lose_power_now() {
    let mut s = state();
    lose_power(&mut s);
}

fn lose_power(s: &mut State) {
    for (path, v) in std::mem::take(&mut s.volatile) {
        let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        for Undo::Restore { offset, bytes } in v.undo.iter().rev() {
            let _ = f.write_all_at(bytes, *offset);
        }
        UNDONE_WRITES.fetch_add(v.changes, Ordering::Relaxed);
        let _ = f.set_len(v.synced_len);
    }
    for (path, bytes) in s.unsynced_deletes.drain(..) {
        let _ = std::fs::write(&path, bytes);
        RESTORED_FILES.fetch_add(1, Ordering::Relaxed);
    }
    s.dead = true;
    s.epoch += 1;
    s.mode = Mode::PassThrough;
}

/// What the disk would hold for `path` if the power went out now.
fn durable_content(path: &str, v: Option<&Volatile>) -> Option<Vec<u8>> {
    let mut bytes = std::fs::read(path).ok()?;
    if let Some(v) = v {
        for Undo::Restore { offset, bytes: old } in v.undo.iter().rev() {
            let end = *offset as usize + old.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[*offset as usize..end].copy_from_slice(old);
        }
        bytes.truncate(v.synced_len as usize);
    }
    Some(bytes)
}

/// What a counted call may do.
enum Gate {
    /// Go ahead (and record it if tracking).
    Go { track: bool },
    /// Fail with this code without doing anything.
    Fail(c_int),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Write,
    Truncate,
    Sync,
    Delete,
}

fn gate(s: &mut State, call: Call, epoch: Option<u64>) -> Gate {
    if s.dead || epoch.is_some_and(|e| e != s.epoch) {
        return Gate::Fail(ffi::SQLITE_IOERR);
    }
    match s.mode {
        Mode::PassThrough => Gate::Go { track: false },
        Mode::Track { lose_power_at } => {
            s.calls += 1;
            if lose_power_at == Some(s.calls) {
                lose_power(s);
                return Gate::Fail(ffi::SQLITE_IOERR);
            }
            Gate::Go { track: true }
        }
        Mode::Inject { fault, at } => {
            let code = match (fault, call) {
                (Fault::Write, Call::Write) => ffi::SQLITE_IOERR_WRITE,
                (Fault::Sync, Call::Sync) => ffi::SQLITE_IOERR_FSYNC,
                _ => return Gate::Go { track: false },
            };
            s.calls += 1;
            if s.calls == at {
                s.injected = true;
                return Gate::Fail(code);
            }
            Gate::Go { track: false }
        }
    }
}

/// Whether a file opened before a power loss (or during one) is still
/// allowed to do I/O.
unsafe fn alive(f: *mut ffi::sqlite3_file) -> bool {
    let s = state();
    !s.dead && unsafe { shim(f) }.epoch == s.epoch
}

// --- the VFS ---------------------------------------------------------------

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        (*file).pMethods = std::ptr::null();
        let epoch = {
            let s = state();
            if s.dead {
                return ffi::SQLITE_IOERR;
            }
            s.epoch
        };
        let real_vfs = real_vfs();
        let rc = ((*real_vfs).xOpen.unwrap())(real_vfs, name, real(file), flags, out_flags);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let path = (!name.is_null()).then(|| {
            CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
                .into_boxed_str()
        });
        let journal =
            ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_SUPER_JOURNAL;
        std::ptr::write(
            file as *mut ShimFile,
            ShimFile {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                path,
                epoch,
                dirsync: flags & ffi::SQLITE_OPEN_CREATE != 0 && flags & journal != 0,
            },
        );
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn x_delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    unsafe {
        let path = CStr::from_ptr(name).to_string_lossy().into_owned();
        let mut s = state();
        match gate(&mut s, Call::Delete, None) {
            Gate::Fail(_) => return ffi::SQLITE_IOERR_DELETE,
            Gate::Go { track: false } => {}
            Gate::Go { track: true } => {
                let v = s.volatile.remove(&path);
                if sync_dir != 0 {
                    synced_dir(&mut s, &path);
                } else if let Some(bytes) = durable_content(&path, v.as_ref()) {
                    s.unsynced_deletes.push((path.clone(), bytes));
                }
            }
        }
        drop(s);
        let real_vfs = real_vfs();
        ((*real_vfs).xDelete.unwrap())(real_vfs, name, sync_dir)
    }
}

/// The directory holding `path` was synced: its deletions are durable.
fn synced_dir(s: &mut State, path: &str) {
    let dir = Path::new(path).parent().map(Path::to_owned);
    s.unsynced_deletes
        .retain(|(p, _)| Path::new(p).parent().map(Path::to_owned) != dir);
}

// --- the files -------------------------------------------------------------

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        // Always closed for real, dead or not: it releases the descriptor
        // and the locks, and a close writes nothing.
        let rc = (real_methods(f).xClose.unwrap())(real(f));
        shim(f).path = None;
        rc
    }
}

unsafe extern "C" fn x_read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        if !alive(f) {
            return ffi::SQLITE_IOERR_READ;
        }
        (real_methods(f).xRead.unwrap())(real(f), buf, amt, off)
    }
}

/// Records, before a change at `offset..offset+len` (or a truncate to
/// `offset`, with `len` None), the bytes it will replace.
unsafe fn record_undo(s: &mut State, f: *mut ffi::sqlite3_file, offset: u64, len: Option<u64>) {
    unsafe {
        let Some(path) = path_of(f) else { return };
        let mut size: ffi::sqlite3_int64 = 0;
        if (real_methods(f).xFileSize.unwrap())(real(f), &mut size) != ffi::SQLITE_OK {
            return;
        }
        let size = size as u64;
        let v = s
            .volatile
            .entry(path.to_owned())
            .or_insert_with(|| Volatile {
                synced_len: size,
                undo: Vec::new(),
                changes: 0,
            });
        v.changes += 1;
        let end = len.map_or(size, |l| (offset + l).min(size));
        if offset < end {
            let mut bytes = vec![0u8; (end - offset) as usize];
            let rc = (real_methods(f).xRead.unwrap())(
                real(f),
                bytes.as_mut_ptr().cast(),
                bytes.len() as c_int,
                offset as i64,
            );
            if rc == ffi::SQLITE_OK {
                v.undo.push(Undo::Restore { offset, bytes });
            }
        }
    }
}

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        let mut s = state();
        match gate(&mut s, Call::Write, Some(shim(f).epoch)) {
            Gate::Fail(code) => return code,
            Gate::Go { track } => {
                if track {
                    record_undo(&mut s, f, off as u64, Some(amt as u64));
                }
            }
        }
        drop(s);
        (real_methods(f).xWrite.unwrap())(real(f), buf, amt, off)
    }
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    unsafe {
        let mut s = state();
        match gate(&mut s, Call::Truncate, Some(shim(f).epoch)) {
            Gate::Fail(code) if code == ffi::SQLITE_IOERR => return ffi::SQLITE_IOERR_TRUNCATE,
            Gate::Fail(code) => return code,
            Gate::Go { track } => {
                if track {
                    record_undo(&mut s, f, size as u64, None);
                }
            }
        }
        drop(s);
        (real_methods(f).xTruncate.unwrap())(real(f), size)
    }
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, _flags: c_int) -> c_int {
    unsafe {
        let mut s = state();
        match gate(&mut s, Call::Sync, Some(shim(f).epoch)) {
            Gate::Fail(code) if code == ffi::SQLITE_IOERR => ffi::SQLITE_IOERR_FSYNC,
            Gate::Fail(code) => code,
            Gate::Go { .. } => {
                // Durable in the model; the real fsync is skipped (see the
                // module doc).
                if let Some(path) = path_of(f) {
                    s.volatile.remove(path);
                    if shim(f).dirsync {
                        shim(f).dirsync = false;
                        synced_dir(&mut s, path);
                    }
                }
                ffi::SQLITE_OK
            }
        }
    }
}

unsafe extern "C" fn x_file_size(
    f: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        if !alive(f) {
            return ffi::SQLITE_IOERR_FSTAT;
        }
        (real_methods(f).xFileSize.unwrap())(real(f), size)
    }
}

unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        if !alive(f) {
            return ffi::SQLITE_IOERR_LOCK;
        }
        (real_methods(f).xLock.unwrap())(real(f), level)
    }
}

unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // Unlocking writes nothing and lets the next connection in.
    unsafe { (real_methods(f).xUnlock.unwrap())(real(f), level) }
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    unsafe { (real_methods(f).xCheckReservedLock.unwrap())(real(f), out) }
}

unsafe extern "C" fn x_file_control(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    unsafe { (real_methods(f).xFileControl.unwrap())(real(f), op, arg) }
}

unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe { (real_methods(f).xSectorSize.unwrap())(real(f)) }
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe { (real_methods(f).xDeviceCharacteristics.unwrap())(real(f)) }
}

unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    unsafe {
        if !alive(f) {
            return ffi::SQLITE_IOERR_SHMMAP;
        }
        (real_methods(f).xShmMap.unwrap())(real(f), page, size, extend, out)
    }
}

unsafe extern "C" fn x_shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe { (real_methods(f).xShmLock.unwrap())(real(f), offset, n, flags) }
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    unsafe { (real_methods(f).xShmBarrier.unwrap())(real(f)) }
}

unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    unsafe { (real_methods(f).xShmUnmap.unwrap())(real(f), delete) }
}

unsafe extern "C" fn x_fetch(
    _f: *mut ffi::sqlite3_file,
    _off: ffi::sqlite3_int64,
    _amt: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // No memory-mapped reads: every read goes through `x_read`, so a dead
    // file cannot be read and the model sees every access.
    unsafe { *out = std::ptr::null_mut() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_unfetch(
    _f: *mut ffi::sqlite3_file,
    _off: ffi::sqlite3_int64,
    _p: *mut c_void,
) -> c_int {
    ffi::SQLITE_OK
}
