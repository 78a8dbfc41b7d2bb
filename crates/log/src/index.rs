//! Sparse indexes of a segment, laid out as Kafka's: `.index` maps a relative offset to a file
//! position (u32 BE, u32 BE), `.timeindex` maps a timestamp to a relative offset (i64 BE,
//! u32 BE) with timestamps that never decrease. Entries point at batch starts. Both are held in
//! memory; the active segment's new entries reach its files when the log is flushed, rolled or
//! closed (so no index file stays open between appends). The files are a cache that recovery
//! checks against a scan of the segment and rewrites when they disagree.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoResultExt, LogError};
use crate::file_cache::FileCache;

pub(crate) const OFFSET_ENTRY_LEN: usize = 8;
pub(crate) const TIME_ENTRY_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    /// Batch base offset minus the segment base offset.
    pub(crate) relative_offset: u32,
    pub(crate) position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    /// Largest timestamp seen in the segment up to and including the batch below.
    pub(crate) timestamp: i64,
    /// Relative base offset of the first batch that reached `timestamp`.
    pub(crate) relative_offset: u32,
}

impl OffsetEntry {
    fn encode(self) -> [u8; OFFSET_ENTRY_LEN] {
        let mut out = [0u8; OFFSET_ENTRY_LEN];
        let (rel, pos) = out.split_at_mut(4);
        rel.copy_from_slice(&self.relative_offset.to_be_bytes());
        pos.copy_from_slice(&self.position.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        Some(Self {
            relative_offset: u32::from_be_bytes(raw.get(0..4)?.try_into().ok()?),
            position: u32::from_be_bytes(raw.get(4..8)?.try_into().ok()?),
        })
    }
}

impl TimeEntry {
    fn encode(self) -> [u8; TIME_ENTRY_LEN] {
        let mut out = [0u8; TIME_ENTRY_LEN];
        let (ts, rel) = out.split_at_mut(8);
        ts.copy_from_slice(&self.timestamp.to_be_bytes());
        rel.copy_from_slice(&self.relative_offset.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        Some(Self {
            timestamp: i64::from_be_bytes(raw.get(0..8)?.try_into().ok()?),
            relative_offset: u32::from_be_bytes(raw.get(8..12)?.try_into().ok()?),
        })
    }
}

/// Position of the last indexed batch whose base offset is at most `relative_offset`, or 0.
pub(crate) fn position_at_or_before(entries: &[OffsetEntry], relative_offset: u32) -> u32 {
    let after = entries.partition_point(|e| e.relative_offset <= relative_offset);
    after
        .checked_sub(1)
        .and_then(|i| entries.get(i))
        .map_or(0, |e| e.position)
}

/// Relative offset of the last time entry strictly older than `timestamp`, or 0. Every batch
/// before it has a max timestamp below `timestamp`, so a scan for the first batch reaching
/// `timestamp` may start there.
pub(crate) fn offset_before_timestamp(entries: &[TimeEntry], timestamp: i64) -> u32 {
    let after = entries.partition_point(|e| e.timestamp < timestamp);
    after
        .checked_sub(1)
        .and_then(|i| entries.get(i))
        .map_or(0, |e| e.relative_offset)
}

/// Decides where index entries go while batches are appended (or rescanned) in order, so that
/// appending and rebuilding produce the same entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexBuilder {
    bytes_since_entry: u64,
    max_timestamp: Option<(i64, u32)>,
    last_time_entry: Option<i64>,
}

/// Entries produced by one batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NewEntries {
    pub(crate) offset: Option<OffsetEntry>,
    pub(crate) time: Option<TimeEntry>,
}

impl IndexBuilder {
    /// Kafka's rule: a batch gets an entry when more than `interval` bytes were written since
    /// the previous entry (so the first batch of a segment never does; position 0 is implied).
    pub(crate) fn on_batch(
        &mut self,
        interval: u32,
        relative_offset: u32,
        position: u32,
        len: u64,
        max_timestamp: i64,
    ) -> NewEntries {
        if self.max_timestamp.is_none_or(|(ts, _)| max_timestamp > ts) {
            self.max_timestamp = Some((max_timestamp, relative_offset));
        }
        let mut out = NewEntries::default();
        if self.bytes_since_entry > u64::from(interval) {
            out.offset = Some(OffsetEntry {
                relative_offset,
                position,
            });
            out.time = self.time_entry();
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += len;
        out
    }

    /// The final time entry written when a segment stops being active, so its largest
    /// timestamp is on record.
    pub(crate) fn on_roll(&mut self) -> Option<TimeEntry> {
        self.time_entry()
    }

    fn time_entry(&mut self) -> Option<TimeEntry> {
        let (timestamp, relative_offset) = self.max_timestamp?;
        if self.last_time_entry.is_some_and(|last| last >= timestamp) {
            return None;
        }
        self.last_time_entry = Some(timestamp);
        Some(TimeEntry {
            timestamp,
            relative_offset,
        })
    }
}

/// Reads a whole index file; `None` if it is missing or its length is not whole entries.
fn read_raw(files: &FileCache, path: &Path, entry_len: usize) -> Result<Option<Vec<u8>>, LogError> {
    let mut options = OpenOptions::new();
    options.read(true);
    let mut opened = match files.open(path, &options, "open index") {
        Ok(opened) => opened,
        Err(LogError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(err) => return Err(err),
    };
    let mut raw = Vec::new();
    opened.file.read_to_end(&mut raw).ctx("read index", path)?;
    Ok((raw.len() % entry_len == 0).then_some(raw))
}

pub(crate) fn load_offset_index(
    files: &FileCache,
    path: &Path,
) -> Result<Option<Vec<OffsetEntry>>, LogError> {
    Ok(read_raw(files, path, OFFSET_ENTRY_LEN)?.and_then(|raw| {
        raw.chunks_exact(OFFSET_ENTRY_LEN)
            .map(OffsetEntry::decode)
            .collect()
    }))
}

pub(crate) fn load_time_index(
    files: &FileCache,
    path: &Path,
) -> Result<Option<Vec<TimeEntry>>, LogError> {
    Ok(read_raw(files, path, TIME_ENTRY_LEN)?.and_then(|raw| {
        raw.chunks_exact(TIME_ENTRY_LEN)
            .map(TimeEntry::decode)
            .collect()
    }))
}

/// Replaces an index file with exactly `entries` (through a temporary file and a rename).
fn rewrite(files: &FileCache, path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let tmp = path.with_extension("tmp-index");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut opened = files.open(&tmp, &options, "create index")?;
    opened.file.write_all(bytes).ctx("write index", &tmp)?;
    opened.file.sync_data().ctx("fsync index", &tmp)?;
    drop(opened);
    std::fs::rename(&tmp, path).ctx("rename index", path)
}

pub(crate) fn write_offset_index(
    files: &FileCache,
    path: &Path,
    entries: &[OffsetEntry],
) -> Result<(), LogError> {
    let bytes: Vec<u8> = entries.iter().flat_map(|e| e.encode()).collect();
    rewrite(files, path, &bytes)
}

pub(crate) fn write_time_index(
    files: &FileCache,
    path: &Path,
    entries: &[TimeEntry],
) -> Result<(), LogError> {
    let bytes: Vec<u8> = entries.iter().flat_map(|e| e.encode()).collect();
    rewrite(files, path, &bytes)
}

/// The active segment's index files and how many of the in-memory entries they hold. New
/// entries are appended (and fsynced) by [`IndexFiles::persist`], which opens each file only
/// for that moment, inside the file budget.
#[derive(Debug)]
pub(crate) struct IndexFiles {
    offset_path: PathBuf,
    time_path: PathBuf,
    offset_persisted: usize,
    time_persisted: usize,
}

impl IndexFiles {
    /// Index files that already hold the first `offset_persisted` / `time_persisted` entries.
    pub(crate) fn new(
        offset_path: &Path,
        time_path: &Path,
        offset_persisted: usize,
        time_persisted: usize,
    ) -> Self {
        Self {
            offset_path: offset_path.to_path_buf(),
            time_path: time_path.to_path_buf(),
            offset_persisted,
            time_persisted,
        }
    }

    /// Appends the entries not yet in the files and fsyncs them. A failed open
    /// ([`LogError::OutOfFiles`]) leaves the counts as they were, so a retry writes them then.
    pub(crate) fn persist(
        &mut self,
        files: &FileCache,
        offset: &[OffsetEntry],
        time: &[TimeEntry],
    ) -> Result<(), LogError> {
        if let Some(new) = offset
            .get(self.offset_persisted..)
            .filter(|n| !n.is_empty())
        {
            let bytes: Vec<u8> = new.iter().flat_map(|e| e.encode()).collect();
            append_synced(files, &self.offset_path, &bytes)?;
            self.offset_persisted = offset.len();
        }
        if let Some(new) = time.get(self.time_persisted..).filter(|n| !n.is_empty()) {
            let bytes: Vec<u8> = new.iter().flat_map(|e| e.encode()).collect();
            append_synced(files, &self.time_path, &bytes)?;
            self.time_persisted = time.len();
        }
        Ok(())
    }
}

fn append_synced(files: &FileCache, path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    let mut opened = files.open(path, &options, "open index")?;
    opened.file.write_all(bytes).ctx("append index", path)?;
    opened.file.sync_data().ctx("fsync index", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_last_entry_at_or_before() {
        let entries = [
            OffsetEntry {
                relative_offset: 10,
                position: 100,
            },
            OffsetEntry {
                relative_offset: 20,
                position: 200,
            },
        ];
        assert_eq!(position_at_or_before(&entries, 5), 0);
        assert_eq!(position_at_or_before(&entries, 10), 100);
        assert_eq!(position_at_or_before(&entries, 19), 100);
        assert_eq!(position_at_or_before(&entries, 25), 200);
    }

    #[test]
    fn builder_indexes_after_interval_and_keeps_timestamps_monotonic() {
        let mut b = IndexBuilder::default();
        assert_eq!(b.on_batch(10, 0, 0, 20, 5), NewEntries::default());
        let second = b.on_batch(10, 1, 20, 20, 3);
        assert_eq!(
            second.offset,
            Some(OffsetEntry {
                relative_offset: 1,
                position: 20
            })
        );
        assert_eq!(
            second.time,
            Some(TimeEntry {
                timestamp: 5,
                relative_offset: 0
            })
        );
        let third = b.on_batch(10, 2, 40, 20, 4);
        assert!(third.offset.is_some());
        assert_eq!(third.time, None, "max timestamp did not grow");
        let fourth = b.on_batch(10, 3, 60, 20, 9);
        assert_eq!(
            fourth.time,
            Some(TimeEntry {
                timestamp: 9,
                relative_offset: 3
            })
        );
        assert_eq!(b.on_roll(), None, "nothing newer than the last entry");
        b.on_batch(1000, 4, 80, 20, 11);
        assert_eq!(
            b.on_roll(),
            Some(TimeEntry {
                timestamp: 11,
                relative_offset: 4
            })
        );
    }
}
