//! Group commit: one background thread for the whole broker fsyncs segment files on behalf of
//! every partition. An append registers "make file F durable up to position P, then tell W";
//! the thread takes every pending request at once, fsyncs each distinct file once and completes
//! all their waiters, so N concurrent acks=all appends cost about one fsync, not N.
//!
//! A failed fsync poisons the partition that owns the file: its waiters, and every later append
//! or wait, get [`LogError::Poisoned`]. The fsync is never retried, because after a failed fsync
//! Linux may drop the dirty pages and report success the next time.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::error::{IoResultExt, LogError};
use crate::file_cache::Permit;

/// A segment's log file together with what the flusher needs to know about it. Handed out by
/// the [`crate::FileCache`]; the descriptor closes when the last holder drops it.
#[derive(Debug)]
pub(crate) struct SyncFile {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    /// End of the bytes written through this descriptor so far. Stored (Release) by the
    /// appender after each write returns; an fsync that starts after loading it covers at least
    /// that much. Starts at 0 for a freshly opened descriptor: what earlier descriptors wrote
    /// was synced before they were closed.
    written: AtomicU64,
    /// Bytes known to be on stable storage through this descriptor.
    synced: AtomicU64,
    /// The owning partition's poison flag.
    poisoned: Arc<AtomicBool>,
    /// This descriptor's share of the file budget.
    _permit: Permit,
    #[cfg(test)]
    pub(crate) fail_next_sync: AtomicBool,
}

impl SyncFile {
    pub(crate) fn new(
        file: File,
        path: PathBuf,
        poisoned: Arc<AtomicBool>,
        permit: Permit,
    ) -> Self {
        Self {
            file,
            path,
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            poisoned,
            _permit: permit,
            #[cfg(test)]
            fail_next_sync: AtomicBool::new(false),
        }
    }

    /// Written through this descriptor but not yet fsynced: it must not be closed yet.
    pub(crate) fn is_dirty(&self) -> bool {
        self.written.load(Ordering::Acquire) > self.synced.load(Ordering::Acquire)
    }

    pub(crate) fn set_written(&self, len: u64) {
        self.written.store(len, Ordering::Release);
    }

    /// Fsyncs the file now (used on roll and close). A failure poisons the partition.
    pub(crate) fn sync_now(&self) -> Result<(), LogError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LogError::Poisoned);
        }
        let upto = self.written.load(Ordering::Acquire);
        if self.synced.load(Ordering::Acquire) >= upto {
            return Ok(());
        }
        match self.sync_data() {
            Ok(()) => {
                self.synced.fetch_max(upto, Ordering::AcqRel);
                Ok(())
            }
            Err(err) => {
                self.poisoned.store(true, Ordering::Release);
                tracing::error!(path = %self.path.display(), error = %err, "fsync failed; partition poisoned");
                Err(err)
            }
        }
    }

    fn sync_data(&self) -> Result<(), LogError> {
        #[cfg(test)]
        if self.fail_next_sync.swap(false, Ordering::AcqRel) {
            return Err(std::io::Error::other("injected fsync failure")).ctx("fsync", &self.path);
        }
        self.file.sync_data().ctx("fsync", &self.path)
    }
}

/// Resolves once an append is on stable storage (or at once, for [`crate::Durability::OsCache`]).
#[must_use = "an append is not durable until `Durable::wait` returns Ok"]
pub struct Durable(DurableState);

enum DurableState {
    Ready,
    Pending(oneshot::Receiver<Result<(), LogError>>),
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            DurableState::Ready => f.write_str("Durable(ready)"),
            DurableState::Pending(_) => f.write_str("Durable(pending)"),
        }
    }
}

impl Durable {
    pub(crate) fn ready() -> Self {
        Self(DurableState::Ready)
    }

    /// Waits for the fsync that covers this append.
    pub async fn wait(self) -> Result<(), LogError> {
        match self.0 {
            DurableState::Ready => Ok(()),
            DurableState::Pending(rx) => rx.await.unwrap_or(Err(LogError::Poisoned)),
        }
    }

    /// Blocking form of [`Durable::wait`] for synchronous callers. Must not be called from
    /// inside an async context (tokio forbids blocking there).
    pub fn wait_blocking(self) -> Result<(), LogError> {
        match self.0 {
            DurableState::Ready => Ok(()),
            DurableState::Pending(rx) => rx.blocking_recv().unwrap_or(Err(LogError::Poisoned)),
        }
    }
}

struct Request {
    file: Arc<SyncFile>,
    upto: u64,
    waiter: oneshot::Sender<Result<(), LogError>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    shutdown: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    fsyncs: AtomicU64,
}

/// Tells the thread to drain and stop when the last `Flusher` handle goes away.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.queue.lock().shutdown = true;
        self.0.wake.notify_one();
    }
}

/// Handle to the broker-wide group-commit thread. Cheap to clone.
#[derive(Clone)]
pub struct Flusher {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher")
            .field("fsyncs", &self.fsyncs_performed())
            .finish()
    }
}

impl Flusher {
    /// Starts the flusher thread. It runs until every handle (including those held by open
    /// partition logs) is dropped, then completes what is still queued and exits.
    pub fn start() -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            fsyncs: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("schloss-flusher".into())
            .spawn(move || run(&thread_shared));
        if let Err(err) = spawned {
            // Without the thread every Durable would wait forever; mark the queue shut so
            // registrations fail fast instead.
            tracing::error!(error = %err, "cannot start the flusher thread");
            shared.queue.lock().shutdown = true;
        }
        Self {
            _stop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        }
    }

    /// How many fsyncs the thread has issued (for metrics and tests).
    pub fn fsyncs_performed(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// Asks for `file` to be durable up to `upto` bytes.
    pub(crate) fn register(&self, file: Arc<SyncFile>, upto: u64) -> Durable {
        let (waiter, rx) = oneshot::channel();
        let mut queue = self.shared.queue.lock();
        if queue.shutdown {
            drop(queue);
            let _ = waiter.send(Err(LogError::Poisoned));
            return Durable(DurableState::Pending(rx));
        }
        queue.pending.push(Request { file, upto, waiter });
        drop(queue);
        self.shared.wake.notify_one();
        Durable(DurableState::Pending(rx))
    }
}

fn run(shared: &Shared) {
    loop {
        let (batch, stopping) = {
            let mut queue = shared.queue.lock();
            while queue.pending.is_empty() && !queue.shutdown {
                shared.wake.wait(&mut queue);
            }
            (std::mem::take(&mut queue.pending), queue.shutdown)
        };
        sync_group(shared, batch);
        if stopping && shared.queue.lock().pending.is_empty() {
            return;
        }
    }
}

/// Fsyncs each distinct file of `batch` once and completes every waiter.
fn sync_group(shared: &Shared, batch: Vec<Request>) {
    let mut by_file: HashMap<*const SyncFile, Vec<Request>> = HashMap::new();
    for request in batch {
        by_file
            .entry(Arc::as_ptr(&request.file))
            .or_default()
            .push(request);
    }
    let groups: Vec<Vec<Request>> = by_file.into_values().collect();
    if groups.len() <= 1 {
        for requests in groups {
            complete(shared, requests);
        }
        return;
    }
    // Different files are fsynced concurrently: with many partitions written at once, the
    // last acknowledgement waits for one fsync, not for one after another.
    let mut groups = groups.into_iter();
    loop {
        let wave: Vec<Vec<Request>> = groups.by_ref().take(MAX_PARALLEL_FSYNCS).collect();
        if wave.is_empty() {
            break;
        }
        std::thread::scope(|scope| {
            for requests in wave {
                scope.spawn(move || complete(shared, requests));
            }
        });
    }
}

/// Fsyncs at most this many files at the same time.
const MAX_PARALLEL_FSYNCS: usize = 16;

/// Fsyncs the file of `requests` (all for one file) and completes their waiters.
fn complete(shared: &Shared, requests: Vec<Request>) {
    let Some(first) = requests.first() else {
        return;
    };
    let file = Arc::clone(&first.file);
    let needed = requests.iter().map(|r| r.upto).max().unwrap_or(0);
    let outcome = sync_file(shared, &file, needed);
    // Let go of the file before anyone hears back: once an append is acknowledged the flusher
    // holds nothing, so the file cache may close the file straight away.
    drop(file);
    let waiters: Vec<_> = requests.into_iter().map(|r| r.waiter).collect();
    for waiter in waiters {
        let result = match outcome {
            true => Ok(()),
            false => Err(LogError::Poisoned),
        };
        // The receiver may have been dropped (the broker gave up waiting); that is fine.
        let _ = waiter.send(result);
    }
}

/// Makes `file` durable up to `needed`; false if the partition is (or just became) poisoned.
fn sync_file(shared: &Shared, file: &SyncFile, needed: u64) -> bool {
    if file.poisoned.load(Ordering::Acquire) {
        return false;
    }
    if file.synced.load(Ordering::Acquire) >= needed {
        return true;
    }
    // Everything written before this load is covered by the fsync below, including appends
    // that registered after this group was taken: they complete without another fsync.
    let upto = file.written.load(Ordering::Acquire).max(needed);
    shared.fsyncs.fetch_add(1, Ordering::Relaxed);
    match file.sync_data() {
        Ok(()) => {
            file.synced.fetch_max(upto, Ordering::AcqRel);
            true
        }
        Err(err) => {
            file.poisoned.store(true, Ordering::Release);
            tracing::error!(path = %file.path.display(), error = %err, "fsync failed; partition poisoned");
            false
        }
    }
}
