//! Opening a partition directory. Every segment's batch headers are scanned (to rebuild the
//! producer state and check the indexes); the last segment is also validated batch by batch
//! (CRC32C) and truncated at the first torn or corrupt batch. Older segments were fsynced, with
//! the directory, before the next one was created, so damage there is not a torn write: it is
//! reported as [`Corruption`] rather than silently cut away with everything after it.
//!
//! The result is always a prefix of what was written, and so of what was acknowledged.
//!
//! Every file is opened for the moment it is scanned, inside the file budget, and closed again:
//! a data dir with more partitions than descriptors still opens.

use std::fs::OpenOptions;
use std::path::Path;

use schloss_model::batch::{self, BatchHeader, HEADER_LEN};

use crate::checkpoint;
use crate::config::{LogConfig, MAX_SEGMENT_BYTES};
use crate::error::{Corruption, IoResultExt, LogError};
use crate::file_cache::FileCache;
use crate::index::{self, IndexBuilder};
use crate::producer_state::ProducerState;
use crate::segment::{
    wall_clock_ms, MaxTimestamp, Segment, SegmentPaths, Window, INDEX_SUFFIX, LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
};

pub(crate) struct Recovered {
    /// Ascending by base offset; never empty.
    pub(crate) segments: Vec<Segment>,
    /// Index state of the last (active) segment, to continue appending with.
    pub(crate) active_builder: IndexBuilder,
    pub(crate) producers: ProducerState,
    pub(crate) log_start: i64,
}

pub(crate) fn recover(
    dir: &Path,
    config: &LogConfig,
    files: &FileCache,
) -> Result<Recovered, LogError> {
    std::fs::create_dir_all(dir).ctx("create partition directory", dir)?;
    let bases = list_segments(dir)?;
    let checkpointed = checkpoint::read(dir)?;
    let mut segments = Vec::with_capacity(bases.len().max(1));
    let mut producers = ProducerState::default();
    let mut active_builder = IndexBuilder::default();
    let mut previous_end: Option<i64> = None;
    let count = bases.len();
    for (i, base) in bases.into_iter().enumerate() {
        let paths = SegmentPaths::new(dir, base);
        if let Some(end) = previous_end.filter(|&end| base < end) {
            return Err(Corruption::Overlap {
                path: paths.log,
                base,
                previous_end: end,
            }
            .into());
        }
        let is_last = i + 1 == count;
        let (segment, builder) = load_segment(paths, base, is_last, config, files, &mut producers)?;
        previous_end = Some(segment.next_offset);
        active_builder = builder;
        segments.push(segment);
    }
    if segments.is_empty() {
        let base = checkpointed.unwrap_or(0);
        segments.push(create_segment(dir, base, files)?);
    }
    let log_end = segments.last().map_or(0, |s| s.next_offset);
    if let Some(start) = checkpointed.filter(|&start| start > log_end) {
        // The log start checkpoint is durable but records below it were not (a crash after
        // DeleteRecords up to offsets whose appends were not yet fsynced). Everything present
        // is below log start: begin afresh at the checkpoint, as Kafka's log loader does, so
        // new appends get offsets above it and a later recovery cannot hide them.
        for segment in segments.drain(..) {
            segment.paths.remove()?;
        }
        producers = ProducerState::default();
        active_builder = IndexBuilder::default();
        segments.push(create_segment(dir, start, files)?);
    }
    let first_base = segments.first().map_or(0, |s| s.base_offset);
    let log_end = segments.last().map_or(0, |s| s.next_offset);
    let log_start = checkpointed
        .unwrap_or(first_base)
        .max(first_base)
        .min(log_end);
    producers.evict_below(log_start);
    Ok(Recovered {
        segments,
        active_builder,
        producers,
        log_start,
    })
}

/// Creates an empty segment (its three files) and makes the creation durable. The files are
/// closed again; appends open the segment through the cache.
pub(crate) fn create_segment(
    dir: &Path,
    base: i64,
    files: &FileCache,
) -> Result<Segment, LogError> {
    let paths = SegmentPaths::new(dir, base);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(true);
    drop(files.open(&paths.log, &options, "create segment")?);
    index::write_offset_index(files, &paths.index, &[])?;
    index::write_time_index(files, &paths.time_index, &[])?;
    checkpoint::sync_dir(dir)?;
    Ok(Segment {
        base_offset: base,
        paths,
        size: 0,
        next_offset: base,
        offset_index: Vec::new(),
        time_index: Vec::new(),
        max_timestamp: None,
        first_batch_timestamp: None,
        created_ms: wall_clock_ms(),
    })
}

/// Base offsets of the segments in `dir`, ascending. Sweeps leftovers of interrupted work:
/// temporary files and indexes whose log is gone.
fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("list partition directory", dir)? {
        let entry = entry.ctx("list partition directory", dir)?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(checkpoint::TMP_SUFFIX) || name.ends_with(".tmp-index") {
            std::fs::remove_file(&path).ctx("remove temporary file", &path)?;
            continue;
        }
        let Some((stem, suffix)) = name.split_once('.') else {
            continue;
        };
        let Some(base) = parse_stem(stem) else {
            continue;
        };
        match suffix {
            LOG_SUFFIX => logs.push(base),
            INDEX_SUFFIX | TIME_INDEX_SUFFIX => indexes.push((base, path)),
            _ => {}
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            std::fs::remove_file(&path).ctx("remove orphan index", &path)?;
        }
    }
    Ok(logs)
}

fn parse_stem(stem: &str) -> Option<i64> {
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Scans one segment, truncating it if it is the last, and reconciles its index files.
fn load_segment(
    paths: SegmentPaths,
    base: i64,
    is_last: bool,
    config: &LogConfig,
    files: &FileCache,
    producers: &mut ProducerState,
) -> Result<(Segment, IndexBuilder), LogError> {
    let mut options = OpenOptions::new();
    options.read(true).write(is_last);
    let opened = files.open(&paths.log, &options, "open segment")?;
    let file = &opened.file;
    let len = file.metadata().ctx("stat segment", &paths.log)?.len();
    if len > MAX_SEGMENT_BYTES {
        return Err(Corruption::SegmentTooLarge { path: paths.log }.into());
    }
    let mut scan = Scan::new(base);
    let mut window = Window::new(file, &paths.log, len);
    let mut position = 0u64;
    let bad = loop {
        if position >= len {
            break None;
        }
        match next_batch(&mut window, position, base, scan.next_offset, is_last)? {
            Ok(header) => {
                scan.on_batch(config, position, &header);
                producers.update(&header);
                position += header.total_len() as u64;
            }
            Err(reason) => break Some(reason),
        }
    };
    if let Some(reason) = bad {
        if !is_last {
            return Err(Corruption::Segment {
                path: paths.log,
                position,
                reason,
            }
            .into());
        }
        tracing::warn!(path = %paths.log.display(), position, len, %reason,
            "truncating the torn tail of the active segment");
        file.set_len(position).ctx("truncate segment", &paths.log)?;
    }
    if is_last {
        // What survived may sit only in the page cache (a process crash, not a machine
        // crash): make it durable before counting it as synced.
        file.sync_all().ctx("fsync segment", &paths.log)?;
    }
    if !is_last {
        if let Some(entry) = scan.builder.on_roll() {
            scan.time_index.push(entry);
        }
    }
    // Closed before the index files are opened: recovery holds at most two descriptors.
    drop(opened);
    if index::load_offset_index(files, &paths.index)?.as_ref() != Some(&scan.offset_index) {
        index::write_offset_index(files, &paths.index, &scan.offset_index)?;
    }
    if index::load_time_index(files, &paths.time_index)?.as_ref() != Some(&scan.time_index) {
        index::write_time_index(files, &paths.time_index, &scan.time_index)?;
    }
    let segment = Segment {
        base_offset: base,
        paths,
        size: position,
        next_offset: scan.next_offset,
        offset_index: scan.offset_index,
        time_index: scan.time_index,
        max_timestamp: scan.max_timestamp,
        first_batch_timestamp: scan.first_batch_timestamp,
        created_ms: wall_clock_ms(),
    };
    Ok((segment, scan.builder))
}

/// Reads and checks the batch at `position`. The outer error is I/O; the inner one says why
/// the batch is not acceptable (torn, corrupt, or out of place).
fn next_batch(
    window: &mut Window<'_>,
    position: u64,
    base: i64,
    min_offset: i64,
    verify_crc: bool,
) -> Result<Result<BatchHeader, String>, LogError> {
    let Some(raw) = window.get(position, HEADER_LEN)? else {
        return Ok(Err("torn batch header".into()));
    };
    let header = match BatchHeader::parse(raw) {
        Ok(header) => header,
        Err(err) => return Ok(Err(err.to_string())),
    };
    let Some(whole) = window.get(position, header.total_len())? else {
        return Ok(Err("torn batch".into()));
    };
    if verify_crc {
        if let Err(err) = batch::validate(whole) {
            return Ok(Err(err.to_string()));
        }
    }
    if header.next_offset().is_none() {
        return Ok(Err("batch offsets overflow".into()));
    }
    if header.base_offset < min_offset || header.last_offset() < header.base_offset {
        return Ok(Err(format!(
            "batch offset {} below the expected {min_offset}",
            header.base_offset
        )));
    }
    if header.last_offset() - base > i64::from(i32::MAX) {
        return Ok(Err("batch offset too far above the segment base".into()));
    }
    Ok(Ok(header))
}

/// What a scan of one segment learns, built with the same rules the appender uses.
struct Scan {
    base: i64,
    next_offset: i64,
    builder: IndexBuilder,
    offset_index: Vec<index::OffsetEntry>,
    time_index: Vec<index::TimeEntry>,
    max_timestamp: Option<MaxTimestamp>,
    first_batch_timestamp: Option<i64>,
}

impl Scan {
    fn new(base: i64) -> Self {
        Self {
            base,
            next_offset: base,
            builder: IndexBuilder::default(),
            offset_index: Vec::new(),
            time_index: Vec::new(),
            max_timestamp: None,
            first_batch_timestamp: None,
        }
    }

    fn on_batch(&mut self, config: &LogConfig, position: u64, header: &BatchHeader) {
        // INVARIANT: next_batch checked that the relative offset and position fit in u32.
        let relative = u32::try_from(header.base_offset - self.base).unwrap_or(u32::MAX);
        let pos32 = u32::try_from(position).unwrap_or(u32::MAX);
        let entries = self.builder.on_batch(
            config.index_interval_bytes,
            relative,
            pos32,
            header.total_len() as u64,
            header.max_timestamp,
        );
        self.offset_index.extend(entries.offset);
        self.time_index.extend(entries.time);
        note_max_timestamp(&mut self.max_timestamp, position, header);
        self.first_batch_timestamp
            .get_or_insert(header.max_timestamp);
        self.next_offset = header.last_offset() + 1;
    }
}

/// Keeps the earliest batch with the largest timestamp.
pub(crate) fn note_max_timestamp(slot: &mut Option<MaxTimestamp>, position: u64, h: &BatchHeader) {
    if slot.is_none_or(|m| h.max_timestamp > m.timestamp) {
        *slot = Some(MaxTimestamp {
            timestamp: h.max_timestamp,
            position,
            last_offset: h.last_offset(),
        });
    }
}
