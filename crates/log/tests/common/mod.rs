// Test helpers: failing loudly is their job.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use bytes::BytesMut;
use schloss_log::{Appended, Durability, FileCache, Flusher, LogConfig, PartitionLog};
use schloss_model::batch::{build_uncompressed, BatchHeader, Batches};

pub const NO_PRODUCER: (i64, i16, i32) = (-1, -1, -1);

/// One uncompressed batch of `records` records `value-<tag>-<i>`, all stamped `timestamp`.
pub fn batch_with(producer: (i64, i16, i32), records: usize, timestamp: i64, tag: u64) -> BytesMut {
    let values: Vec<Vec<u8>> = (0..records)
        .map(|i| format!("value-{tag}-{i}").into_bytes())
        .collect();
    let recs: Vec<_> = values
        .iter()
        .map(|v| (None::<&[u8]>, Some(v.as_slice())))
        .collect();
    BytesMut::from(&build_uncompressed(0, timestamp, producer, &recs)[..])
}

pub fn batch(records: usize, timestamp: i64) -> BytesMut {
    batch_with(NO_PRODUCER, records, timestamp, 0)
}

pub fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 100,
        durability: Durability::OsCache,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

/// A file budget roomy enough that tests not about the budget never feel it.
pub fn files() -> FileCache {
    FileCache::new(256)
}

pub fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(dir, config, Flusher::start(), files()).unwrap()
}

/// Appends and returns (base, last), panicking on duplicates.
pub fn append(log: &PartitionLog, batch: BytesMut, now: i64) -> (i64, i64) {
    match log.append(batch, now, 0).unwrap() {
        Appended::Written {
            base_offset,
            last_offset,
            durable,
            ..
        } => {
            durable.wait_blocking().unwrap();
            (base_offset, last_offset)
        }
        other => panic!("expected a write, got {other:?}"),
    }
}

/// Headers of every batch in `data`.
pub fn headers(data: &[u8]) -> Vec<BatchHeader> {
    Batches::new(data).map(|b| b.unwrap().0).collect()
}

/// Reads the whole log from log start, batch by batch.
pub fn read_all(log: &PartitionLog) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 1 << 20, true).unwrap();
        let hs = headers(&slice.data);
        assert!(!hs.is_empty(), "no batch at {offset}");
        offset = hs.last().unwrap().last_offset() + 1;
        out.extend(hs);
    }
    out
}

/// The offsets of a write; panics on an error or a duplicate.
pub fn written(result: Result<Appended, schloss_log::LogError>) -> (i64, i64) {
    match result.unwrap() {
        Appended::Written {
            base_offset,
            last_offset,
            ..
        } => (base_offset, last_offset),
        other => panic!("expected a write, got {other:?}"),
    }
}

pub fn segment_file(dir: &Path, base: i64, suffix: &str) -> std::path::PathBuf {
    dir.join(format!("{base:020}.{suffix}"))
}

pub fn append_garbage(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}
