//! The broker-wide budget of open files. File descriptors are a finite resource shared with
//! sockets: a broker that kept every segment of every partition open ran out of them, and then
//! could not even restart. So no log file stays open by itself: segment files are opened on
//! demand through one [`FileCache`] (LRU, bounded by its capacity), and every other file the log
//! opens for a moment (recovery scans, index files) takes a [`Permit`] from the same budget.
//!
//! Rules the cache keeps:
//! * It counts every descriptor it handed out, including evicted ones still held by a reader
//!   or the flusher, so the total never exceeds the capacity.
//! * It only evicts an entry nobody else holds (a reader mid-read, an appender, the flusher with
//!   a pending fsync keep theirs alive), and never closes a file with unsynced writes before it
//!   is fsynced: on Linux an fsync error is reported per open file description, so the
//!   descriptor that wrote must be the one that syncs.
//! * When the budget is taken by files in use, or the process is out of descriptors
//!   (EMFILE/ENFILE), the one operation that wanted a file fails with
//!   [`LogError::OutOfFiles`]; nothing was written, so the partition is not poisoned.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{FileShortage, IoContext, IoResultExt, LogError};
use crate::flusher::SyncFile;

/// Smallest useful budget: a partition append may need the segment and two index files at once.
pub const MIN_OPEN_FILES: usize = 8;

/// How often a permit request evicts and retries before it gives up (other threads may take
/// the slot an eviction freed).
const EVICTION_ATTEMPTS: usize = 16;

/// Which cached file: a segment's `.log`, by the owning log's id and the segment's base offset.
/// Keys never repeat across reopenings of a directory, so a stale handle is never found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub(crate) owner: u64,
    pub(crate) base_offset: i64,
}

struct Entry {
    file: Arc<SyncFile>,
    /// Position in `Entries::order`.
    tick: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<FileKey, Entry>,
    /// Least recently used first.
    order: BTreeMap<u64, FileKey>,
    /// Cached base offsets per owner, so closing a log does not scan the whole cache (a
    /// broker shutting down closes tens of thousands of logs).
    by_owner: HashMap<u64, HashSet<i64>>,
    tick: u64,
}

impl Entries {
    fn touch(&mut self, key: FileKey) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(entry) = self.map.get_mut(&key) {
            self.order.remove(&entry.tick);
            entry.tick = tick;
            self.order.insert(tick, key);
        }
    }

    fn insert(&mut self, key: FileKey, file: Arc<SyncFile>) {
        self.tick += 1;
        let tick = self.tick;
        self.map.insert(key, Entry { file, tick });
        self.order.insert(tick, key);
        self.by_owner
            .entry(key.owner)
            .or_default()
            .insert(key.base_offset);
    }

    fn remove(&mut self, key: &FileKey) -> Option<Arc<SyncFile>> {
        let entry = self.map.remove(key)?;
        self.order.remove(&entry.tick);
        if let Some(bases) = self.by_owner.get_mut(&key.owner) {
            bases.remove(&key.base_offset);
            if bases.is_empty() {
                self.by_owner.remove(&key.owner);
            }
        }
        Some(entry.file)
    }

    /// The least recently used entry nobody else holds, preferring one with nothing to fsync.
    fn victim(&self) -> Option<FileKey> {
        let idle = |key: &&FileKey| {
            self.map
                .get(key)
                .is_some_and(|e| Arc::strong_count(&e.file) == 1)
        };
        let clean = |key: &&FileKey| self.map.get(key).is_some_and(|e| !e.file.is_dirty());
        let mut idle_keys = self.order.values().filter(idle);
        let first_idle = idle_keys.clone().next().copied();
        idle_keys.find(clean).copied().or(first_idle)
    }
}

struct Inner {
    capacity: usize,
    /// Descriptors alive that this budget accounts for: cached, evicted but still held, and
    /// transient ones behind a [`Permit`].
    open: AtomicUsize,
    entries: Mutex<Entries>,
    next_owner: AtomicU64,
}

/// Handle to the broker-wide file budget. Cheap to clone.
#[derive(Clone)]
pub struct FileCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCache")
            .field("capacity", &self.inner.capacity)
            .field("open", &self.open_files())
            .finish()
    }
}

/// One descriptor's share of the budget, given back when dropped (with the descriptor).
pub(crate) struct Permit {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Permit")
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A file opened for a moment inside the budget; closed (and its permit returned) on drop.
#[derive(Debug)]
pub(crate) struct BudgetedFile {
    pub(crate) file: File,
    _permit: Permit,
}

impl FileCache {
    /// A budget of `capacity` descriptors (at least [`MIN_OPEN_FILES`]).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity: capacity.max(MIN_OPEN_FILES),
                open: AtomicUsize::new(0),
                entries: Mutex::new(Entries::default()),
                next_owner: AtomicU64::new(1),
            }),
        }
    }

    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Descriptors currently open under this budget (cached, held, or transient).
    pub fn open_files(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Cached descriptors that nobody but the cache holds.
    pub fn idle_files(&self) -> usize {
        let entries = self.inner.entries.lock();
        entries
            .map
            .values()
            .filter(|e| Arc::strong_count(&e.file) == 1)
            .count()
    }

    /// A fresh owner id for a partition log being opened.
    pub(crate) fn new_owner(&self) -> u64 {
        self.inner.next_owner.fetch_add(1, Ordering::Relaxed)
    }

    /// The segment file for `key`, opened (read-write) on a miss. `poisoned` is the owning
    /// log's flag, which a failed fsync of this file sets.
    pub(crate) fn acquire(
        &self,
        key: FileKey,
        path: &Path,
        poisoned: &Arc<AtomicBool>,
    ) -> Result<Arc<SyncFile>, LogError> {
        if let Some(file) = self.cached(key) {
            return Ok(file);
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        let opened = self.open(path, &options, "open segment")?;
        let file = Arc::new(SyncFile::new(
            opened.file,
            path.to_path_buf(),
            Arc::clone(poisoned),
            opened._permit,
        ));
        let mut entries = self.inner.entries.lock();
        if let Some(existing) = entries.map.get(&key).map(|e| Arc::clone(&e.file)) {
            // Opened twice at once: keep the first, ours closes when dropped.
            entries.touch(key);
            return Ok(existing);
        }
        entries.insert(key, Arc::clone(&file));
        Ok(file)
    }

    /// The segment file for `key` if it is open. A segment file that is not open has nothing
    /// left to fsync: the cache closes only synced files.
    pub(crate) fn cached(&self, key: FileKey) -> Option<Arc<SyncFile>> {
        let mut entries = self.inner.entries.lock();
        let file = entries.map.get(&key).map(|e| Arc::clone(&e.file))?;
        entries.touch(key);
        Some(file)
    }

    /// Drops the cache's handle of a segment being deleted (holders keep theirs).
    pub(crate) fn forget(&self, key: FileKey) {
        let removed = self.inner.entries.lock().remove(&key);
        drop(removed);
    }

    /// Drops the cache's handles of a log being closed or deleted.
    pub(crate) fn forget_owner(&self, owner: u64) {
        let removed: Vec<Arc<SyncFile>> = {
            let mut entries = self.inner.entries.lock();
            let bases = entries.by_owner.remove(&owner).unwrap_or_default();
            bases
                .into_iter()
                .filter_map(|base_offset| {
                    let key = FileKey { owner, base_offset };
                    let entry = entries.map.remove(&key)?;
                    entries.order.remove(&entry.tick);
                    Some(entry.file)
                })
                .collect()
        };
        // Closed here, outside the lock.
        drop(removed);
    }

    /// Opens `path` for a moment, inside the budget.
    pub(crate) fn open(
        &self,
        path: &Path,
        options: &OpenOptions,
        op: &'static str,
    ) -> Result<BudgetedFile, LogError> {
        let permit = self.permit(path)?;
        let file = match options.open(path) {
            Ok(file) => file,
            Err(err) if is_fd_exhaustion(&err) => {
                // Something outside the budget (sockets, another process) took the last
                // descriptors: give back a few idle ones and try once more.
                for _ in 0..4 {
                    if !self.evict_one() {
                        break;
                    }
                }
                options.open(path).map_err(|err| out_of_files(path, err))?
            }
            Err(err) => return Err(err).ctx(op, path),
        };
        Ok(BudgetedFile {
            file,
            _permit: permit,
        })
    }

    /// Takes one descriptor's share of the budget, evicting idle entries to make room.
    fn permit(&self, path: &Path) -> Result<Permit, LogError> {
        for _ in 0..EVICTION_ATTEMPTS {
            let taken = self
                .inner
                .open
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                    (open < self.inner.capacity).then_some(open + 1)
                })
                .is_ok();
            if taken {
                return Ok(Permit {
                    inner: Arc::clone(&self.inner),
                });
            }
            if !self.evict_one() {
                break;
            }
        }
        Err(LogError::OutOfFiles {
            path: path.to_path_buf(),
            shortage: FileShortage::Budget {
                capacity: self.inner.capacity,
            },
        })
    }

    /// Closes the least recently used idle entry; false if every entry is in use.
    fn evict_one(&self) -> bool {
        let victim = {
            let mut entries = self.inner.entries.lock();
            let Some(key) = entries.victim() else {
                return false;
            };
            let Some(file) = entries.remove(&key) else {
                return false;
            };
            if file.is_dirty() {
                // Only a log with os-cache durability leaves written bytes unsynced while
                // nobody holds the file. Sync under the lock, so nobody can find the segment
                // missing from the cache and take it for clean before this fsync is done.
                // A failure poisons the owning partition (sync_now does that).
                let _ = file.sync_now();
            }
            file
        };
        // The descriptor closes here, outside the lock.
        drop(victim);
        true
    }
}

/// EMFILE (process table full) or ENFILE (system table full).
fn is_fd_exhaustion(err: &std::io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(err.raw_os_error(), Some(ENFILE | EMFILE))
}

fn out_of_files(path: &Path, err: std::io::Error) -> LogError {
    LogError::OutOfFiles {
        path: path.to_path_buf(),
        shortage: FileShortage::System(err),
    }
}

/// Maps a failed open outside the cache (directory fsyncs, checkpoints): descriptor exhaustion
/// becomes [`LogError::OutOfFiles`], which does not poison a log.
pub(crate) fn open_error(err: std::io::Error, op: &'static str, path: &Path) -> LogError {
    if is_fd_exhaustion(&err) {
        return out_of_files(path, err);
    }
    LogError::Io {
        context: IoContext {
            op,
            path: path.to_path_buf(),
        },
        source: err,
    }
}

#[cfg(test)]
mod tests;
