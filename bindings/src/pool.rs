//! The threads every journal owns, and the futures its calls return.
//!
//! Each journal has **one writer** thread and **two readers**, each with its
//! own SQLite connection (WAL lets the readers read while the writer
//! commits), plus a notifier thread that calls the change listeners. A call
//! is a boxed job sent to a thread over a channel; its result comes back
//! through a one-shot slot whose [`Job`] future is what uniffi polls. No
//! async runtime is involved: Kotlin and Swift poll, the pool threads work.
//!
//! **Cancellation.** A read whose future is dropped (the coroutine or task
//! was cancelled) is skipped if it has not started, and interrupted with
//! `sqlite3_interrupt` if it runs: its statement stops, its transaction
//! rolls back. A write, once submitted, always runs to its end: a patient
//! who taps "save" and leaves the screen keeps the entry.
//!
//! **Closing** stops new calls (they fail with `Closed`); calls already
//! queued or running finish; then every connection is closed.

use crate::error::{CairnError, Result};
use cairn_core as core;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use zeroize::Zeroizing;

/// Readers per journal. Two lets a long listing and a short lookup overlap
/// without holding a third connection's page cache on a phone.
pub(crate) const READERS: usize = 2;

/// How a store is opened, kept to open the readers (lazily, on their first
/// job) and to re-open them after a re-key.
pub(crate) struct OpenSpec {
    pub path: String,
    pub opts: core::StoreOptions,
}

/// The key the readers open with, and a generation bumped by each re-key.
struct KeyState {
    key: Zeroizing<Vec<u8>>,
    generation: u64,
}

/// A job as a thread sees it: given its thread's worker, or the error that
/// kept the thread from opening its connection.
type Work = Box<dyn FnOnce(std::result::Result<&Worker, CairnError>) + Send>;

/// What a job runs with: its thread's store.
pub(crate) struct Worker {
    store: core::Store,
    interrupt: Arc<core::InterruptHandle>,
}

/// A change listener, as registered.
pub(crate) type Listener = Arc<dyn crate::JournalListener>;

/// The registered listeners, shared by the pool and its notifier thread
/// (which outlives the pool's last call, to tell them the journal closed).
/// `closed` is set under the same lock, so no listener registers after the
/// notifier has said its last word.
#[derive(Default)]
struct Listeners {
    list: Vec<(u64, Listener)>,
    closed: bool,
}

pub(crate) struct Pool {
    spec: OpenSpec,
    key: RwLock<KeyState>,
    writer: Mutex<Option<Sender<Work>>>,
    readers: Mutex<Option<Sender<Work>>>,
    reader_rx: Arc<Mutex<Receiver<Work>>>,
    notifier: Mutex<Option<Sender<crate::JournalChange>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    closed: AtomicBool,
    listeners: Arc<Mutex<Listeners>>,
    next_listener: AtomicU64,
}

impl Pool {
    /// Starts the writer thread and runs `open` on it (create or open the
    /// store); resolves once the store is open. Readers start now and open
    /// their connections on their first job.
    pub(crate) fn start(
        spec: OpenSpec,
        key: Zeroizing<Vec<u8>>,
        open: impl FnOnce(&OpenSpec, &[u8]) -> core::Result<core::Store> + Send + 'static,
    ) -> Job<Arc<Pool>> {
        let (job, state) = Job::new();
        let (wtx, wrx) = channel::<Work>();
        let (rtx, rrx) = channel::<Work>();
        let (ntx, nrx) = channel::<crate::JournalChange>();
        let pool = Arc::new(Pool {
            spec,
            key: RwLock::new(KeyState { key, generation: 0 }),
            writer: Mutex::new(Some(wtx)),
            readers: Mutex::new(Some(rtx)),
            reader_rx: Arc::new(Mutex::new(rrx)),
            notifier: Mutex::new(Some(ntx)),
            threads: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            listeners: Arc::new(Mutex::new(Listeners::default())),
            next_listener: AtomicU64::new(1),
        });
        let writer_pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-writer".into())
            .spawn(move || {
                let opened = {
                    let k = writer_pool.key.read().unwrap_or_else(|p| p.into_inner());
                    catch_unwind(AssertUnwindSafe(|| open(&writer_pool.spec, &k.key)))
                };
                let store = match opened {
                    Ok(Ok(store)) => store,
                    Ok(Err(e)) => {
                        writer_pool.shut();
                        drop(writer_pool);
                        state.complete(Err(e.into()));
                        return;
                    }
                    Err(_) => {
                        writer_pool.shut();
                        drop(writer_pool);
                        state.complete(Err(CairnError::Internal));
                        return;
                    }
                };
                let worker = Worker {
                    interrupt: Arc::new(store.interrupt_handle()),
                    store,
                };
                // The caller's future now holds the pool; the writer must
                // not keep it alive (dropping the journal ends the loop).
                state.complete(Ok(writer_pool));
                // If the open was cancelled, nobody takes the pool from the
                // slot: dropping it here drops the pool, which ends the loop.
                drop(state);
                while let Ok(work) = wrx.recv() {
                    work(Ok(&worker));
                }
                let _ = worker.store.close();
            });
        match spawned {
            Ok(h) => pool.threads().push(h),
            Err(_) => {
                let (failed, s) = Job::new();
                s.complete(Err(CairnError::Io {
                    message: "could not start a thread".into(),
                }));
                return failed;
            }
        }
        for i in 0..READERS {
            let rx = pool.reader_rx.clone();
            let weak = Arc::downgrade(&pool);
            if let Ok(h) = std::thread::Builder::new()
                .name(format!("cairn-reader-{i}"))
                .spawn(move || reader_loop(weak, rx))
            {
                pool.threads().push(h);
            }
        }
        let listeners = pool.listeners.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("cairn-notifier".into())
            .spawn(move || {
                let current = || -> Vec<Listener> {
                    let l = listeners.lock().unwrap_or_else(|p| p.into_inner());
                    l.list.iter().map(|(_, l)| l.clone()).collect()
                };
                // Ends once every sender is gone: the pool's (closing) and
                // the clones held by writes still queued, so every change
                // committed before the close is delivered first.
                while let Ok(change) = nrx.recv() {
                    for l in current() {
                        // A listener that throws must not stop the others.
                        let _ = catch_unwind(AssertUnwindSafe(|| l.on_change(change.clone())));
                    }
                }
                let last: Vec<(u64, Listener)> = {
                    let mut l = listeners.lock().unwrap_or_else(|p| p.into_inner());
                    l.closed = true;
                    std::mem::take(&mut l.list)
                };
                // Outside the lock: a listener released here may cancel its
                // own subscription.
                for (_, l) in &last {
                    let _ = catch_unwind(AssertUnwindSafe(|| l.on_closed()));
                }
                drop(last);
            })
        {
            pool.threads().push(h);
        }
        drop(pool);
        job
    }

    fn threads(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn listeners(&self) -> std::sync::MutexGuard<'_, Listeners> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the writer. It runs to its end even if the returned
    /// future is dropped. On success, `change` says what to tell listeners.
    pub(crate) fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&core::Store) -> Result<T> + Send + 'static,
        change: impl FnOnce(&T) -> Option<crate::JournalChange> + Send + 'static,
    ) -> Job<T> {
        self.write_many(f, move |v| change(v).into_iter().collect())
    }

    /// [`Pool::write`] for a commit that touches several tables: listeners
    /// hear each change, in order.
    pub(crate) fn write_many<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&core::Store) -> Result<T> + Send + 'static,
        changes: impl FnOnce(&T) -> Vec<crate::JournalChange> + Send + 'static,
    ) -> Job<T> {
        let (job, state) = Job::new();
        let notifier = self
            .notifier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let work: Work = Box::new(move |w| {
            let out = w.and_then(|w| run(|| f(&w.store)));
            if let (Ok(v), Some(n)) = (&out, &notifier) {
                for c in changes(v) {
                    let _ = n.send(c);
                }
            }
            state.complete(out);
        });
        self.send(&self.writer, work, job)
    }

    /// Runs `f` on the writer with exclusive use of the key: the readers
    /// wait, and re-open with `new_key` after `f` succeeds (a re-key).
    pub(crate) fn write_rekey<T: Send + 'static>(
        self: &Arc<Self>,
        new_key: Zeroizing<Vec<u8>>,
        f: impl FnOnce(&core::Store, &[u8]) -> Result<T> + Send + 'static,
        change: impl FnOnce(&T) -> Option<crate::JournalChange> + Send + 'static,
    ) -> Job<T> {
        let pool = Arc::downgrade(self);
        self.write(
            move |store| {
                let pool = pool.upgrade().ok_or(CairnError::Closed)?;
                let mut k = pool.key.write().unwrap_or_else(|p| p.into_inner());
                let out = f(store, &new_key)?;
                k.key = new_key;
                k.generation += 1;
                Ok(out)
            },
            change,
        )
    }

    /// Runs `f` on a reader. Dropping the future before it starts skips it;
    /// dropping it while it runs interrupts its statement.
    pub(crate) fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&core::Store) -> Result<T> + Send + 'static,
    ) -> Job<T> {
        let (mut job, state) = Job::new();
        job.cancellable = true;
        let work: Work = Box::new(move |w| {
            if state.cancelled.load(Ordering::Acquire) {
                return;
            }
            let w = match w {
                Ok(w) => w,
                Err(e) => return state.complete(Err(e)),
            };
            *state.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(w.interrupt.clone());
            // A cancel that came between the check above and now.
            if state.cancelled.load(Ordering::Acquire) {
                state.clear_running();
                return;
            }
            let out = run(|| f(&w.store));
            state.clear_running();
            state.complete(out);
        });
        self.send(&self.readers, work, job)
    }

    fn send<T>(&self, lane: &Mutex<Option<Sender<Work>>>, work: Work, job: Job<T>) -> Job<T> {
        let sent = match &*lane.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(tx) if !self.closed.load(Ordering::Acquire) => tx.send(work).is_ok(),
            _ => false,
        };
        if !sent {
            job.state.complete(Err(CairnError::Closed));
        }
        job
    }

    /// Registers a listener; returns its id for [`Pool::unlisten`], or
    /// `Closed` once the journal is closing.
    pub(crate) fn listen(&self, l: Listener) -> Result<u64> {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        let mut listeners = self.listeners();
        if listeners.closed || self.is_closed() {
            return Err(CairnError::Closed);
        }
        listeners.list.push((id, l));
        Ok(id)
    }

    pub(crate) fn unlisten(&self, id: u64) {
        let removed: Vec<(u64, Listener)> = {
            let mut l = self.listeners();
            let (gone, kept) = std::mem::take(&mut l.list)
                .into_iter()
                .partition(|(i, _)| *i == id);
            l.list = kept;
            gone
        };
        // Released outside the lock: a listener's release may call back.
        drop(removed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops new calls; threads finish what is queued, close their
    /// connections and exit; the notifier delivers the changes of the
    /// writes still queued, then tells each listener the journal closed and
    /// lets it go. Does not wait.
    pub(crate) fn shut(&self) {
        {
            let _listeners = self.listeners();
            self.closed.store(true, Ordering::Release);
        }
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.notifier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    /// [`Pool::shut`], then resolves once every thread has exited and every
    /// connection is closed.
    pub(crate) fn close(&self) -> Job<()> {
        self.shut();
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads());
        let (job, state) = Job::new();
        let joiner = std::thread::Builder::new()
            .name("cairn-close".into())
            .spawn(move || {
                let me = std::thread::current().id();
                for h in handles {
                    if h.thread().id() != me {
                        let _ = h.join();
                    }
                }
                state.complete(Ok(()));
            });
        if joiner.is_err() {
            // Without a thread to wait on, the threads still close their
            // connections once their queues are empty.
            let (done, s) = Job::new();
            s.complete(Ok(()));
            return done;
        }
        job
    }
}

fn reader_loop(pool: std::sync::Weak<Pool>, rx: Arc<Mutex<Receiver<Work>>>) {
    let mut worker: Option<(Worker, u64)> = None;
    loop {
        let work = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            match rx.recv() {
                Ok(w) => w,
                Err(_) => break,
            }
        };
        let Some(p) = pool.upgrade() else {
            break;
        };
        // Held while the job runs: a re-key waits for running reads, and
        // reads wait for a re-key.
        let key = p.key.read().unwrap_or_else(|e| e.into_inner());
        if worker.as_ref().map(|(_, g)| *g) != Some(key.generation) {
            if let Some((old, _)) = worker.take() {
                let _ = old.store.close();
            }
            match core::Store::open(&p.spec.path, core::Key::Raw(&key.key), p.spec.opts.clone()) {
                Ok(store) => {
                    worker = Some((
                        Worker {
                            interrupt: Arc::new(store.interrupt_handle()),
                            store,
                        },
                        key.generation,
                    ))
                }
                Err(e) => {
                    // The job reports the failure through its own slot.
                    work(Err(e.into()));
                    continue;
                }
            }
        }
        if let Some((w, _)) = &worker {
            work(Ok(w));
        }
        drop(key);
        drop(p);
    }
    if let Some((w, _)) = worker {
        let _ = w.store.close();
    }
}

/// Runs a job body; a panic becomes `Internal`.
fn run<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(CairnError::Internal),
    }
}

// --- one-shot futures ------------------------------------------------------

pub(crate) struct Slot<T> {
    inner: Mutex<(Option<Result<T>>, Option<Waker>)>,
    ready: Condvar,
    cancelled: AtomicBool,
    running: Mutex<Option<Arc<core::InterruptHandle>>>,
}

impl<T> Slot<T> {
    pub(crate) fn complete(&self, r: Result<T>) {
        let waker = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            g.0 = Some(r);
            g.1.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn clear_running(&self) {
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The future a call returns. Resolves with the job's result; see the
/// module's notes on cancellation.
pub(crate) struct Job<T> {
    state: Arc<Slot<T>>,
    cancellable: bool,
    done: bool,
}

impl<T> Job<T> {
    pub(crate) fn new() -> (Job<T>, Arc<Slot<T>>) {
        let state = Arc::new(Slot {
            inner: Mutex::new((None, None)),
            ready: Condvar::new(),
            cancelled: AtomicBool::new(false),
            running: Mutex::new(None),
        });
        (
            Job {
                state: state.clone(),
                cancellable: false,
                done: false,
            },
            state,
        )
    }

    /// Blocks the calling thread until the job is done: for the few calls
    /// a platform callback must finish synchronously.
    pub(crate) fn wait(mut self) -> Result<T> {
        let mut g = self.state.inner.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(r) = g.0.take() {
                self.done = true;
                return r;
            }
            g = self.state.ready.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<T> Future for Job<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let mut g = self.state.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = g.0.take() {
            drop(g);
            self.done = true;
            return Poll::Ready(r);
        }
        g.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        if self.done || !self.cancellable {
            return;
        }
        self.state.cancelled.store(true, Ordering::Release);
        if let Some(h) = &*self.state.running.lock().unwrap_or_else(|p| p.into_inner()) {
            h.interrupt();
        }
    }
}
