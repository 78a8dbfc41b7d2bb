//! One segment: a `.log` file of whole batches starting at `base_offset`, and its sparse
//! indexes held in memory. The file itself is opened on demand through the
//! [`crate::FileCache`]. Reading is positional (`read_at`), so readers never contend with the
//! appender for a file cursor.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use schloss_model::batch::{BatchHeader, HEADER_LEN};

use crate::error::{Corruption, IoResultExt, LogError};
use crate::flusher::SyncFile;
use crate::index::{self, OffsetEntry, TimeEntry};

pub(crate) const LOG_SUFFIX: &str = "log";
pub(crate) const INDEX_SUFFIX: &str = "index";
pub(crate) const TIME_INDEX_SUFFIX: &str = "timeindex";

/// The most a sequential scan reads at once.
const SCAN_CHUNK: usize = 1 << 20;
/// The first read of a scan: enough for a few batch headers. Lookups (an index entry, then a
/// short walk to the wanted offset) mostly stop here; long scans double it up to SCAN_CHUNK.
const FIRST_CHUNK: usize = 4 << 10;

#[derive(Debug, Clone)]
pub(crate) struct SegmentPaths {
    pub(crate) log: PathBuf,
    pub(crate) index: PathBuf,
    pub(crate) time_index: PathBuf,
}

impl SegmentPaths {
    pub(crate) fn new(dir: &Path, base_offset: i64) -> Self {
        let stem = format!("{base_offset:020}");
        Self {
            log: dir.join(format!("{stem}.{LOG_SUFFIX}")),
            index: dir.join(format!("{stem}.{INDEX_SUFFIX}")),
            time_index: dir.join(format!("{stem}.{TIME_INDEX_SUFFIX}")),
        }
    }

    /// Removes the files, log first: a leftover index without its log is swept on open.
    pub(crate) fn remove(&self) -> Result<(), LogError> {
        for path in [&self.log, &self.index, &self.time_index] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err).ctx("delete segment file", path),
            }
        }
        Ok(())
    }
}

/// The batch holding a segment's largest timestamp (the earliest one, on ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxTimestamp {
    pub(crate) timestamp: i64,
    pub(crate) position: u64,
    pub(crate) last_offset: i64,
}

/// What readers may see of a segment. Only the appender (under the append lock) changes it.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    pub(crate) paths: SegmentPaths,
    /// Bytes of whole, written batches.
    pub(crate) size: u64,
    /// Last offset + 1 of the last batch, or `base_offset` when empty.
    pub(crate) next_offset: i64,
    pub(crate) offset_index: Vec<OffsetEntry>,
    pub(crate) time_index: Vec<TimeEntry>,
    pub(crate) max_timestamp: Option<MaxTimestamp>,
    /// Max timestamp of the first batch: what `segment.ms` is measured from, as in Kafka.
    pub(crate) first_batch_timestamp: Option<i64>,
    /// Wall-clock time this process created or opened the segment: the `segment.ms` basis
    /// when the first batch carries no timestamp.
    pub(crate) created_ms: i64,
}

impl Segment {
    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Position from which a forward scan finds the batch containing `offset`.
    pub(crate) fn scan_start(&self, offset: i64) -> u64 {
        let relative = offset
            .saturating_sub(self.base_offset)
            .clamp(0, i64::from(u32::MAX));
        let relative = u32::try_from(relative).unwrap_or(u32::MAX);
        u64::from(index::position_at_or_before(&self.offset_index, relative))
    }

    /// Position from which a forward scan finds the first batch reaching `timestamp`.
    pub(crate) fn scan_start_for_timestamp(&self, timestamp: i64) -> u64 {
        let relative = index::offset_before_timestamp(&self.time_index, timestamp);
        u64::from(index::position_at_or_before(&self.offset_index, relative))
    }
}

/// A snapshot of a segment's file and its committed length.
#[derive(Debug, Clone)]
pub(crate) struct SegmentView {
    pub(crate) file: Arc<SyncFile>,
    pub(crate) size: u64,
}

impl SegmentView {
    fn corrupt(&self, position: u64, reason: impl Into<String>) -> LogError {
        LogError::Corrupt(Corruption::Segment {
            path: self.file.path.clone(),
            position,
            reason: reason.into(),
        })
    }

    /// Walks batch headers from `from` to the committed end, calling `visit(position, header)`
    /// until it returns `Some`. Committed bytes were validated when written, so a header that
    /// does not parse here means the file changed under us: reported as corruption.
    pub(crate) fn find<T>(
        &self,
        from: u64,
        mut visit: impl FnMut(u64, &BatchHeader) -> Option<T>,
    ) -> Result<Option<T>, LogError> {
        let mut window = Window::new(&self.file.file, &self.file.path, self.size);
        let mut position = from;
        while position < self.size {
            let Some(raw) = window.get(position, HEADER_LEN)? else {
                return Err(self.corrupt(position, "header past the committed end"));
            };
            let header =
                BatchHeader::parse(raw).map_err(|e| self.corrupt(position, e.to_string()))?;
            if let Some(found) = visit(position, &header) {
                return Ok(Some(found));
            }
            position += header.total_len() as u64;
        }
        Ok(None)
    }

    /// Reads `len` bytes at `position` (which must lie within the committed size).
    pub(crate) fn read(&self, position: u64, len: usize) -> Result<Bytes, LogError> {
        let mut buf = BytesMut::zeroed(len);
        self.file
            .file
            .read_exact_at(&mut buf, position)
            .ctx("read segment", &self.file.path)?;
        Ok(buf.freeze())
    }

    /// Reads the whole batch starting at `position`.
    pub(crate) fn read_batch(&self, position: u64) -> Result<Bytes, LogError> {
        let header = self.read(position, HEADER_LEN)?;
        let header =
            BatchHeader::parse(&header).map_err(|e| self.corrupt(position, e.to_string()))?;
        let len = header.total_len();
        if position + len as u64 > self.size {
            return Err(self.corrupt(position, "batch past the committed end"));
        }
        self.read(position, len)
    }
}

/// A read-ahead buffer over a file for sequential scans.
pub(crate) struct Window<'a> {
    file: &'a File,
    path: &'a Path,
    end: u64,
    start: u64,
    buf: Vec<u8>,
    /// Size of the next read: grows while the scan keeps going.
    chunk: usize,
}

impl<'a> Window<'a> {
    pub(crate) fn new(file: &'a File, path: &'a Path, end: u64) -> Self {
        Self {
            file,
            path,
            end,
            start: 0,
            buf: Vec::new(),
            chunk: FIRST_CHUNK,
        }
    }

    /// `len` bytes at `position`, or `None` if they run past `end`.
    pub(crate) fn get(&mut self, position: u64, len: usize) -> Result<Option<&[u8]>, LogError> {
        let Some(stop) = position.checked_add(len as u64).filter(|&s| s <= self.end) else {
            return Ok(None);
        };
        let covered = position >= self.start && stop <= self.start + self.buf.len() as u64;
        if !covered {
            let want = (len.max(self.chunk) as u64).min(self.end - position);
            self.chunk = (self.chunk * 2).min(SCAN_CHUNK);
            self.buf.resize(want as usize, 0);
            self.file
                .read_exact_at(&mut self.buf, position)
                .ctx("read segment", self.path)?;
            self.start = position;
        }
        let from = (position - self.start) as usize;
        Ok(self.buf.get(from..from + len))
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub(crate) fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
