//! [`PartitionLog`]: one partition's segments, appended to by one writer at a time and read
//! by any number of readers at once.
//!
//! Locking: `writer` (the append lock) serialises everything that changes the log; `state`
//! holds what readers see. A writer takes `writer`, then `state` briefly to publish; a reader
//! takes `state` for reading just long enough to clone a segment's file handle and committed
//! length, and reads file data with no lock held. Offsets become visible only once their bytes
//! are written.
//!
//! Files: no file of the log stays open by itself. Segment files come from the broker-wide
//! [`FileCache`], looked up under the `state` read lock (so retention, which drops segments
//! under the write lock, cannot delete a file between lookup and open); index files are
//! opened only to persist new entries on roll, flush and close.
//!
//! Poison: a failed write or fsync poisons the log (nothing half-written can be trusted). A
//! failed *open* ([`LogError::OutOfFiles`]) does not: it happens before anything is written,
//! and the operation can simply be retried.

mod files;
mod read;
mod retention;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use schloss_model::batch::{self, BatchError, BatchHeader, TimestampType};

use crate::config::{Durability, LogConfig};
use crate::error::{IoResultExt, LogError};
use crate::file_cache::FileCache;
use crate::flusher::{Durable, Flusher, SyncFile};
use crate::index::{IndexBuilder, IndexFiles};
use crate::producer_state::{Check, ProducerEntry, ProducerState};
use crate::recovery::{self, note_max_timestamp};
use crate::segment::Segment;

pub use retention::RetentionOutcome;

/// The outcome of [`PartitionLog::append`].
#[derive(Debug)]
pub enum Appended {
    /// The batch was written at these offsets. Acknowledge only after `durable` resolves.
    Written {
        base_offset: i64,
        last_offset: i64,
        /// The broker time stamped into the batch, or -1 unless `LogAppendTime`.
        log_append_time: i64,
        log_start_offset: i64,
        durable: Durable,
    },
    /// An idempotent retry of a batch already in the log: acknowledge with the original
    /// offsets; nothing was written. `durable` resolves once the original is on stable storage
    /// (the retry may arrive while the original's fsync is still pending).
    Duplicate {
        base_offset: i64,
        last_offset: i64,
        log_start_offset: i64,
        durable: Durable,
    },
}

/// Whole batches read from the log, never decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSlice {
    pub data: Bytes,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// What only the appender touches.
struct Writer {
    config: LogConfig,
    producers: ProducerState,
    /// Index state of the active segment.
    builder: IndexBuilder,
    /// The active segment's index files.
    indexes: IndexFiles,
}

/// What readers see.
struct LogState {
    /// Ascending by base offset. INVARIANT: never empty; the last one is the active segment.
    segments: Vec<Segment>,
    log_start: i64,
}

impl LogState {
    fn active(&self) -> Option<&Segment> {
        self.segments.last()
    }

    fn active_mut(&mut self) -> Option<&mut Segment> {
        self.segments.last_mut()
    }

    fn log_end(&self) -> i64 {
        self.active().map_or(self.log_start, |s| s.next_offset)
    }

    /// Index of the segment whose range starts at or before `offset`.
    fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }

    fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    fn segment_at(&self, base_offset: i64) -> Option<&Segment> {
        let i = self
            .segments
            .binary_search_by_key(&base_offset, |s| s.base_offset)
            .ok()?;
        self.segments.get(i)
    }
}

/// One partition's log. `Send + Sync`; every method takes `&self` and does blocking file I/O
/// (call it from `spawn_blocking`), except that waiting for durability is async.
pub struct PartitionLog {
    dir: PathBuf,
    flusher: Flusher,
    files: FileCache,
    /// This log's id in `files`: cache keys are (owner, segment base offset).
    owner: u64,
    /// Set by the first failed write or fsync; never cleared while the log is open.
    poisoned: Arc<AtomicBool>,
    writer: Mutex<Writer>,
    state: RwLock<LogState>,
    /// Set by `close` and `delete_dir`, so drop does not flush again.
    closed: AtomicBool,
    /// Set by `delete_dir`: the files are gone, every later call fails with `Deleted`.
    deleted: AtomicBool,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionLog")
            .field("dir", &self.dir)
            .field("log_start", &self.log_start_offset())
            .field("log_end", &self.log_end_offset())
            .finish()
    }
}

impl PartitionLog {
    /// Opens (creating if missing) and recovers the partition directory `dir`. Its files are
    /// opened through `files` when needed; none stays open after this returns.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        flusher: Flusher,
        files: FileCache,
    ) -> Result<Self, LogError> {
        let poisoned = Arc::new(AtomicBool::new(false));
        let recovered = recovery::recover(dir, &config, &files)?;
        let active = recovered.segments.last().ok_or(LogError::Poisoned)?;
        // Recovery left the active segment's index files equal to these entries.
        let indexes = IndexFiles::new(
            &active.paths.index,
            &active.paths.time_index,
            active.offset_index.len(),
            active.time_index.len(),
        );
        let owner = files.new_owner();
        Ok(Self {
            dir: dir.to_path_buf(),
            flusher,
            files,
            owner,
            poisoned,
            writer: Mutex::new(Writer {
                config,
                producers: recovered.producers,
                builder: recovered.active_builder,
                indexes,
            }),
            state: RwLock::new(LogState {
                segments: recovered.segments,
                log_start: recovered.log_start,
            }),
            closed: AtomicBool::new(false),
            deleted: AtomicBool::new(false),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_start_offset(&self) -> i64 {
        self.state.read().log_start
    }

    /// The next offset to be assigned; the high watermark on a single node.
    pub fn log_end_offset(&self) -> i64 {
        self.state.read().log_end()
    }

    /// Bytes of all segment files.
    pub fn size_bytes(&self) -> u64 {
        self.state.read().size_bytes()
    }

    pub fn segment_count(&self) -> usize {
        self.state.read().segments.len()
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub fn config(&self) -> LogConfig {
        self.writer.lock().config.clone()
    }

    /// Takes effect from the next append or retention pass.
    pub fn update_config(&self, config: LogConfig) {
        self.writer.lock().config = config;
    }

    /// A copy of the idempotent-producer state.
    pub fn producer_state(&self) -> ProducerState {
        self.writer.lock().producers.clone()
    }

    pub fn producer_entry(&self, producer_id: i64) -> Option<ProducerEntry> {
        self.writer.lock().producers.get(producer_id).cloned()
    }

    fn check_poison(&self) -> Result<(), LogError> {
        if self.is_poisoned() {
            return Err(LogError::Poisoned);
        }
        if self.deleted.load(Ordering::Acquire) {
            return Err(LogError::Deleted);
        }
        Ok(())
    }

    /// Marks the log poisoned if `result` failed: whatever was half-done cannot be trusted.
    /// Running out of file descriptors is the exception: it fails an open, before any write.
    fn poison_on_err<T>(&self, result: Result<T, LogError>) -> Result<T, LogError> {
        if let Err(err) = &result {
            if matches!(err, LogError::OutOfFiles { .. }) {
                tracing::warn!(dir = %self.dir.display(), error = %err, "out of file descriptors; the operation can be retried");
                return result;
            }
            tracing::error!(dir = %self.dir.display(), error = %err, "write path failed; partition poisoned");
            self.poisoned.store(true, Ordering::Release);
        }
        result
    }

    /// Appends exactly one record batch (already validated by the caller), assigning its
    /// offsets from the log end. See [`Appended`].
    pub fn append(
        &self,
        mut batch: BytesMut,
        now_ms: i64,
        leader_epoch: i32,
    ) -> Result<Appended, LogError> {
        let mut writer = self.writer.lock();
        self.check_poison()?;
        let header = BatchHeader::parse(&batch).map_err(LogError::InvalidBatch)?;
        if header.total_len() != batch.len() {
            return Err(LogError::InvalidBatch(BatchError::Length(
                header.batch_length,
            )));
        }
        let max = writer.config.effective_segment_bytes();
        if batch.len() as u64 > max {
            return Err(LogError::RecordTooLarge {
                size: batch.len(),
                max,
            });
        }
        if let Check::Duplicate(original) = writer.producers.check(&header)? {
            return Ok(Appended::Duplicate {
                base_offset: original.first_offset,
                last_offset: original.last_offset,
                log_start_offset: self.log_start_offset(),
                durable: self.durable_through(&writer.config, original.last_offset),
            });
        }
        let log_append_time = match writer.config.timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => -1,
        };
        let batch_time = match writer.config.timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => header.max_timestamp,
        };
        let log_end = self.log_end_offset();
        let last_offset = log_end
            .checked_add(i64::from(header.last_offset_delta))
            .filter(|last| *last < i64::MAX)
            .ok_or(LogError::OffsetOverflow { log_end })?;
        if self.should_roll(
            &writer.config,
            batch.len() as u64,
            batch_time,
            last_offset,
            now_ms,
        ) {
            let rolled = self.roll(&mut writer, log_end);
            self.poison_on_err(rolled)?;
        }

        batch::set_base_offset(&mut batch, log_end);
        batch::set_partition_leader_epoch(&mut batch, leader_epoch);
        if writer.config.timestamp_type == TimestampType::LogAppendTime {
            batch::set_log_append_time(&mut batch, now_ms);
        }
        let header = BatchHeader::parse(&batch).map_err(LogError::InvalidBatch)?;
        // Opened before the write: running out of descriptors here fails only this append.
        let file = {
            let state = self.state.read();
            let active = state.active().ok_or(LogError::Poisoned)?;
            self.file_of(active)?
        };
        let written = self.write_batch(&mut writer, file, &batch, &header);
        let (file, end) = self.poison_on_err(written)?;
        writer.producers.update(&header);
        let durable = match writer.config.durability {
            Durability::Fsync => self.flusher.register(file, end),
            Durability::OsCache => Durable::ready(),
        };
        Ok(Appended::Written {
            base_offset: log_end,
            last_offset,
            log_append_time,
            log_start_offset: self.log_start_offset(),
            durable,
        })
    }

    /// A `Durable` covering everything written up to `offset`. Only the active segment can
    /// hold unsynced bytes: every roll fsyncs the segment it seals.
    fn durable_through(&self, config: &LogConfig, offset: i64) -> Durable {
        if config.durability == Durability::OsCache {
            return Durable::ready();
        }
        let active = {
            let state = self.state.read();
            state
                .active()
                .filter(|a| offset >= a.base_offset)
                .and_then(|a| Some((self.files.cached(self.key(a.base_offset))?, a.size)))
        };
        // A segment file that is not open has nothing left to fsync (the cache closes only
        // synced files).
        match active {
            Some((file, size)) => self.flusher.register(file, size),
            None => Durable::ready(),
        }
    }

    /// Kafka's `shouldRoll`: the batch would overflow `segment.bytes`, the segment is older than
    /// `segment.ms`, or the batch's offsets would not fit the index's relative offsets.
    fn should_roll(
        &self,
        config: &LogConfig,
        len: u64,
        batch_time: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> bool {
        let state = self.state.read();
        let Some(active) = state.active() else {
            return false;
        };
        if active.is_empty() {
            return false;
        }
        let waited = match active.first_batch_timestamp {
            Some(first) if first >= 0 => batch_time.saturating_sub(first),
            _ => now_ms.saturating_sub(active.created_ms),
        };
        active.size + len > config.effective_segment_bytes()
            || waited > config.segment_ms
            || last_offset - active.base_offset > i64::from(i32::MAX)
    }

    /// Writes `batch` at the end of the active segment and publishes it to readers. Returns the
    /// segment's file and end position for the flusher.
    fn write_batch(
        &self,
        writer: &mut Writer,
        file: Arc<SyncFile>,
        batch: &[u8],
        header: &BatchHeader,
    ) -> Result<(Arc<SyncFile>, u64), LogError> {
        let (position, base) = {
            let state = self.state.read();
            let active = state.active().ok_or(LogError::Poisoned)?;
            (active.size, active.base_offset)
        };
        file.file
            .write_all_at(batch, position)
            .ctx("append to segment", &file.path)?;
        let end = position + batch.len() as u64;
        file.set_written(end);
        // INVARIANT: should_roll keeps relative offsets and positions below 2^31.
        let relative = u32::try_from(header.base_offset - base).unwrap_or(u32::MAX);
        let pos32 = u32::try_from(position).unwrap_or(u32::MAX);
        let entries = writer.builder.on_batch(
            writer.config.index_interval_bytes,
            relative,
            pos32,
            batch.len() as u64,
            header.max_timestamp,
        );
        let mut state = self.state.write();
        let active = state.active_mut().ok_or(LogError::Poisoned)?;
        active.offset_index.extend(entries.offset);
        active.time_index.extend(entries.time);
        note_max_timestamp(&mut active.max_timestamp, position, header);
        active
            .first_batch_timestamp
            .get_or_insert(header.max_timestamp);
        active.next_offset = header.last_offset() + 1;
        active.size = end;
        Ok((file, end))
    }

    /// Seals the active segment (final time index entry, fsync of it and its indexes) and
    /// starts a new empty one at `new_base`.
    /// A failure before the new segment is published leaves the log as it was (with the final
    /// time entry recorded), so a retried roll picks up where this one stopped.
    fn roll(&self, writer: &mut Writer, new_base: i64) -> Result<(), LogError> {
        if let Some(entry) = writer.builder.on_roll() {
            if let Some(active) = self.state.write().active_mut() {
                active.time_index.push(entry);
            }
        }
        self.sync_active(writer)?;
        let segment = recovery::create_segment(&self.dir, new_base, &self.files)?;
        writer.indexes = IndexFiles::new(&segment.paths.index, &segment.paths.time_index, 0, 0);
        writer.builder = IndexBuilder::default();
        self.state.write().segments.push(segment);
        tracing::debug!(dir = %self.dir.display(), new_base, "rolled segment");
        Ok(())
    }

    /// Fsyncs the active segment and its indexes now.
    pub fn flush(&self) -> Result<(), LogError> {
        let mut writer = self.writer.lock();
        self.check_poison()?;
        let synced = self.sync_active(&mut writer);
        self.poison_on_err(synced)
    }

    /// Flushes and closes the log.
    pub fn close(self) -> Result<(), LogError> {
        self.closed.store(true, Ordering::Release);
        self.flush()
    }
}

impl Drop for PartitionLog {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) && !self.is_poisoned() {
            if let Err(err) = self.flush() {
                tracing::error!(dir = %self.dir.display(), error = %err, "flush on drop failed");
            }
        }
        // Holders (the flusher with a pending fsync) keep theirs until they are done.
        self.files.forget_owner(self.owner);
    }
}

#[cfg(test)]
mod tests;
