use std::path::Path;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use schloss_model::batch::{build_uncompressed, BatchHeader};

use super::*;
use crate::{Appended, Durability, Flusher, LogConfig, PartitionLog};

fn batch(value: &str) -> BytesMut {
    BytesMut::from(&build_uncompressed(0, 1, (-1, -1, -1), &[(None, Some(value.as_bytes()))])[..])
}

/// One batch per segment, so a few appends make many segments.
fn tiny_segments(durability: Durability) -> LogConfig {
    LogConfig {
        segment_bytes: batch("value-00").len() as u64,
        durability,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, config: LogConfig, files: &FileCache) -> PartitionLog {
    PartitionLog::open(dir, config, Flusher::start(), files.clone()).unwrap()
}

fn append(log: &PartitionLog, value: &str) -> i64 {
    match log.append(batch(value), 1, 0).unwrap() {
        Appended::Written {
            base_offset,
            durable,
            ..
        } => {
            durable.wait_blocking().unwrap();
            base_offset
        }
        other => panic!("expected a write, got {other:?}"),
    }
}

/// The base offset of the one-record batch read at `offset`.
fn read_one(log: &PartitionLog, offset: i64) -> i64 {
    let slice = log.read(offset, 1, true).unwrap();
    BatchHeader::parse(&slice.data).unwrap().base_offset
}

#[test]
fn a_log_with_more_segments_than_the_budget_reads_every_offset_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = FileCache::new(MIN_OPEN_FILES);
    let log = open(dir.path(), tiny_segments(Durability::Fsync), &files);
    for i in 0..40 {
        assert_eq!(append(&log, &format!("value-{i:02}")), i);
        assert!(files.open_files() <= files.capacity());
    }
    assert!(log.segment_count() > 4 * files.capacity());
    for offset in 0..40 {
        assert_eq!(read_one(&log, offset), offset);
        assert!(files.open_files() <= files.capacity());
        assert!(files.idle_files() <= files.capacity());
    }
    // And once more after a reopen, with nothing open in between.
    drop(log);
    assert_eq!(files.open_files(), 0, "a closed log leaves nothing open");
    let log = open(dir.path(), tiny_segments(Durability::Fsync), &files);
    assert_eq!(files.open_files(), 0, "recovery closes what it scanned");
    for offset in (0..40).rev() {
        assert_eq!(read_one(&log, offset), offset);
    }
}

#[test]
fn a_partition_whose_file_was_evicted_reads_and_appends() {
    let root = tempfile::tempdir().unwrap();
    let files = FileCache::new(MIN_OPEN_FILES);
    let config = LogConfig {
        durability: Durability::Fsync,
        ..LogConfig::default()
    };
    let first = open(&root.path().join("first"), config.clone(), &files);
    append(&first, "a");
    let others: Vec<PartitionLog> = (0..3 * MIN_OPEN_FILES)
        .map(|i| {
            let log = open(&root.path().join(format!("p-{i}")), config.clone(), &files);
            append(&log, "b");
            log
        })
        .collect();
    assert!(
        files.cached(first.key(0)).is_none(),
        "the first log's segment was evicted"
    );
    assert_eq!(files.idle_files(), files.capacity());
    assert_eq!(append(&first, "c"), 1);
    assert_eq!(read_one(&first, 0), 0);
    assert_eq!(read_one(&first, 1), 1);
    for log in &others {
        assert_eq!(read_one(log, 0), 0);
    }
    drop(first);
    let first = open(&root.path().join("first"), config, &files);
    assert_eq!(first.log_end_offset(), 2);
}

#[test]
fn a_full_budget_fails_one_append_cleanly_without_poisoning() {
    let root = tempfile::tempdir().unwrap();
    let files = FileCache::new(MIN_OPEN_FILES);
    let config = LogConfig::default();
    let logs: Vec<PartitionLog> = (0..=MIN_OPEN_FILES)
        .map(|i| open(&root.path().join(format!("p-{i}")), config.clone(), &files))
        .collect();
    let (last, busy) = logs.split_last().unwrap();
    // Readers mid-read hold every descriptor of the budget.
    let held: Vec<_> = busy
        .iter()
        .map(|log| log.view(0, 0).unwrap().unwrap())
        .collect();
    assert_eq!(files.open_files(), files.capacity());
    let err = last.append(batch("x"), 1, 0).unwrap_err();
    assert!(matches!(err, LogError::OutOfFiles { .. }), "{err}");
    assert!(!last.is_poisoned());
    assert!(last.read(0, 100, true).is_ok());
    drop(held);
    assert_eq!(append(last, "y"), 0);
    assert_eq!(read_one(last, 0), 0);
}

#[test]
fn an_unsynced_file_is_fsynced_before_it_is_evicted() {
    let root = tempfile::tempdir().unwrap();
    let files = FileCache::new(MIN_OPEN_FILES);
    let lazy = LogConfig {
        durability: Durability::OsCache,
        ..LogConfig::default()
    };
    let log = open(&root.path().join("lazy"), lazy.clone(), &files);
    append(&log, "unsynced");
    let file = files.cached(log.key(0)).unwrap();
    assert!(file.is_dirty());
    // The fsync at eviction fails: that must poison the log, never pass silently.
    file.fail_next_sync.store(true, Ordering::Release);
    drop(file);
    // Other unsynced logs: no clean file to prefer, so the least recently used one goes.
    let _others: Vec<PartitionLog> = (0..2 * MIN_OPEN_FILES)
        .map(|i| {
            let log = open(&root.path().join(format!("p-{i}")), lazy.clone(), &files);
            append(&log, "b");
            log
        })
        .collect();
    assert!(files.cached(log.key(0)).is_none());
    assert!(log.is_poisoned());
}

#[test]
fn recovery_truncates_a_torn_tail_through_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let files = FileCache::new(MIN_OPEN_FILES);
    let log = open(dir.path(), tiny_segments(Durability::Fsync), &files);
    for i in 0..12 {
        append(&log, &format!("value-{i:02}"));
    }
    drop(log);
    let active = dir.path().join(format!("{:020}.log", 11));
    let mut raw = std::fs::read(&active).unwrap();
    raw.truncate(raw.len() - 3);
    std::fs::write(&active, raw).unwrap();
    let log = open(dir.path(), tiny_segments(Durability::Fsync), &files);
    assert_eq!(files.open_files(), 0);
    assert_eq!(log.log_end_offset(), 11, "the torn batch is cut away");
    assert_eq!(append(&log, "again"), 11);
    assert_eq!(read_one(&log, 11), 11);
}
