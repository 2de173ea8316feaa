//! The journal's threads and futures, driven from Rust the way uniffi
//! drives them for Kotlin and Swift: polled by a foreign executor, dropped
//! when the caller is cancelled. Needs the `testing` feature (an endless
//! read to cancel, a panicking job): scripts/test.sh runs
//! `cargo test -p cairn-ffi --features testing`.
#![cfg(feature = "testing")]

use cairn_ffi::*;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Unpark(Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls on this thread, parks between wakes.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// `f` polled once, as uniffi polls a call when Kotlin or Swift makes it:
/// its job is submitted, whatever happens to the future next.
fn submitted<F: Future>(f: F) -> std::pin::Pin<Box<F>> {
    let mut f = Box::pin(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let _ = f.as_mut().poll(&mut Context::from_waker(&waker));
    f
}

/// How many entries the journal lists.
fn listed(j: &Journal) -> usize {
    block_on(j.entries(EntryQuery::default()))
        .unwrap()
        .entries
        .len()
}

/// Fails the test instead of hanging it (a deadline for hangs, not a timing).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

fn now_minus(secs: u64) -> Timestamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(secs);
    Timestamp(since.as_micros() as i64)
}

fn key() -> Vec<u8> {
    vec![7u8; 32]
}

fn open(dir: &tempfile::TempDir) -> Arc<Journal> {
    let path = dir.path().join("j.cairn").to_string_lossy().into_owned();
    block_on(Journal::open_or_create(path, key(), None)).unwrap()
}

fn entry(n: i32) -> NewEntry {
    NewEntry {
        tracker: "mood".into(),
        value: Value::Scale {
            value: f64::from(n % 11),
        },
        at: now_minus(60),
        zone: ZoneName("UTC".into()),
        note: None,
        tags: vec![],
    }
}

#[test]
fn writes_from_many_threads_all_land_and_reads_see_them() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let ids = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (j, ids) = (j.clone(), ids.clone());
            std::thread::spawn(move || {
                for i in 0..25 {
                    let e = block_on(j.log(entry(t * 100 + i))).unwrap();
                    ids.lock().unwrap().push(e.id);
                    // Reads interleave with the writes on the reader threads.
                    block_on(j.entry(ids.lock().unwrap().last().unwrap().clone())).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let page = block_on(j.entries(EntryQuery::default())).unwrap();
    let mut listed: Vec<_> = page.entries.into_iter().map(|e| e.id).collect();
    let mut written = ids.lock().unwrap().clone();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    written.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(listed.len(), 200);
    assert_eq!(listed, written);
}

#[test]
fn a_dropped_read_is_interrupted_and_frees_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    block_on(j.log(entry(1))).unwrap();
    // Occupy both readers with reads that never end, then drop them as a
    // cancelled coroutine or Task drops its future.
    let j2 = j.clone();
    within("the cancelled reads", move || {
        for _ in 0..2 {
            let f = submitted(j2.testing_endless_read());
            // Let it start on its reader before cancelling it.
            std::thread::sleep(Duration::from_millis(100));
            drop(f);
        }
    });
    // Were the readers still spinning, this read would never run.
    let j3 = j.clone();
    let page = within("a read after the cancelled ones", move || {
        block_on(j3.entries(EntryQuery::default()))
    })
    .unwrap();
    assert_eq!(page.entries.len(), 1);
}

#[test]
fn a_dropped_write_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    for n in 0..20 {
        drop(submitted(j.log(entry(n))));
    }
    // Reads run on other threads than the writer: wait (up to a deadline
    // for a hang) until the writer has worked through its queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut count = 0;
    while Instant::now() < deadline {
        count = listed(&j);
        if count == 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pending = block_on(j.pending_changes()).unwrap();
    assert_eq!(
        count, 20,
        "a submitted write was lost (outbox said {pending})"
    );
}

struct Collect(Arc<Mutex<Vec<JournalChange>>>, Arc<AtomicUsize>);
impl JournalListener for Collect {
    fn on_change(&self, change: JournalChange) {
        self.0.lock().unwrap().push(change);
        self.1.fetch_add(1, Ordering::SeqCst);
    }
    fn on_closed(&self) {}
}

/// Counts changes and closes; when released, cancels its own subscription
/// (as a Swift stream's listener does when its stream ends).
struct SelfCancelling {
    changes: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    subscription: Arc<Mutex<Option<Arc<Subscription>>>>,
}
impl JournalListener for SelfCancelling {
    fn on_change(&self, _: JournalChange) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }
    fn on_closed(&self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}
impl Drop for SelfCancelling {
    fn drop(&mut self) {
        if let Some(s) = self.subscription.lock().unwrap().take() {
            s.cancel();
        }
    }
}

#[test]
fn closing_delivers_every_committed_change_then_tells_listeners_once() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let changes = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new(None));
    let sub = j
        .observe(Box::new(SelfCancelling {
            changes: changes.clone(),
            closed: closed.clone(),
            subscription: slot.clone(),
        }))
        .unwrap();
    *slot.lock().unwrap() = Some(sub);
    let queued: Vec<_> = (0..10).map(|n| submitted(j.log(entry(n)))).collect();
    // Would hang if the listener were released under the listeners' lock.
    let j2 = j.clone();
    within("close", move || block_on(j2.close())).unwrap();
    for f in queued {
        block_on(f).unwrap();
    }
    assert_eq!(
        changes.load(Ordering::SeqCst),
        10,
        "a committed change was not delivered"
    );
    assert_eq!(closed.load(Ordering::SeqCst), 1);
    assert!(
        slot.lock().unwrap().is_none(),
        "the listener was not released"
    );
    // Observing a closed journal is refused.
    let late = j.observe(Box::new(Collect(Default::default(), Default::default())));
    assert!(matches!(late, Err(CairnError::Closed)));
}

#[test]
fn listeners_hear_each_commit_in_order_until_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let sub = j
        .observe(Box::new(Collect(seen.clone(), count.clone())))
        .unwrap();
    let a = block_on(j.log(entry(1))).unwrap();
    let b = block_on(j.log(entry(2))).unwrap();
    block_on(j.delete_entry(a.id.clone())).unwrap();
    // A failed write is not a change.
    assert!(block_on(j.delete_entry(EntryId("0".repeat(32)))).is_err());
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    {
        let seen = seen.lock().unwrap();
        let got: Vec<_> = seen
            .iter()
            .map(|c| (c.table, c.ids.clone(), c.deleted))
            .collect();
        assert_eq!(
            got,
            vec![
                (ChangeTable::Entries, vec![a.id.0.clone()], false),
                (ChangeTable::Entries, vec![b.id.0.clone()], false),
                (ChangeTable::Entries, vec![a.id.0.clone()], true),
            ]
        );
    }
    sub.cancel();
    block_on(j.log(entry(3))).unwrap();
    // Reads go through other threads; a write after it is ordered after
    // any notification of the one before.
    block_on(j.log(entry(4))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "a cancelled listener was called"
    );
}

#[test]
fn a_panic_in_a_job_is_internal_and_the_journal_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = block_on(j.testing_panic());
    std::panic::set_hook(prev);
    assert_eq!(r, Err(CairnError::Internal));
    block_on(j.log(entry(1))).unwrap();
    assert_eq!(listed(&j), 1);
}

#[test]
fn close_finishes_queued_writes_then_refuses_calls_and_reminders_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let reminders = j.reminders().unwrap();
    let queued: Vec<_> = (0..10).map(|n| submitted(j.log(entry(n)))).collect();
    block_on(j.close()).unwrap();
    for f in queued {
        assert!(
            block_on(f).is_ok(),
            "a write queued before close was dropped"
        );
    }
    assert_eq!(
        block_on(j.entries(EntryQuery::default())).err(),
        Some(CairnError::Closed)
    );
    assert_eq!(block_on(reminders.list()).err(), Some(CairnError::Closed));
    assert!(matches!(j.reminders(), Err(CairnError::Closed)));
    block_on(j.close()).unwrap();
    // Every connection is closed: the file opens again with all ten.
    let again = open(&dir);
    assert_eq!(listed(&again), 10);
}

#[test]
fn a_rekey_reopens_the_readers_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    block_on(j.log(entry(1))).unwrap();
    // Warm both readers with the old key.
    for _ in 0..4 {
        block_on(j.entries(EntryQuery::default())).unwrap();
    }
    let report = block_on(j.rekey(vec![9u8; 32])).unwrap();
    assert!(report.corrupted.is_empty());
    for _ in 0..4 {
        let page = block_on(j.entries(EntryQuery::default())).unwrap();
        assert_eq!(page.entries.len(), 1);
        assert!(page.corrupted.is_empty());
    }
    block_on(j.close()).unwrap();
    let path = dir.path().join("j.cairn").to_string_lossy().into_owned();
    assert_eq!(
        block_on(Journal::open(path.clone(), key(), None)).err(),
        Some(CairnError::WrongKey)
    );
    assert!(block_on(Journal::open(path, vec![9u8; 32], None)).is_ok());
}

#[test]
fn typed_values_are_checked_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let mut e = entry(1);
    e.zone = ZoneName("Mars/Olympus_Mons".into());
    assert_eq!(
        block_on(j.log(e)).err(),
        Some(CairnError::UnknownZone {
            field: "zone".into()
        })
    );
    let mut e = entry(1);
    e.at = Timestamp(-1_000);
    assert!(matches!(
        block_on(j.log(e)),
        Err(CairnError::InvalidInput { field, .. }) if field == "at"
    ));
    let r = j.reminders().unwrap();
    let plan = block_on(r.plan(now_minus(0), ZoneName("UTC".into()), ios_limits(), -1));
    assert!(matches!(plan, Err(CairnError::InvalidInput { field, .. }) if field == "horizonDays"));
    assert_eq!(
        block_on(Journal::open("x".into(), vec![0; 31], None)).err(),
        Some(CairnError::KeyLength { got: 31 })
    );
    // The plain sentence, as Kotlin's message and Swift's description.
    assert_eq!(
        CairnError::UnknownZone {
            field: "deviceZone".into()
        }
        .to_string(),
        "unknown time zone in deviceZone"
    );
}
