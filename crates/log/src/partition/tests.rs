use std::sync::atomic::Ordering;

use bytes::BytesMut;
use schloss_model::batch::build_uncompressed;

use super::*;

fn batch() -> BytesMut {
    BytesMut::from(&build_uncompressed(0, 1, (-1, -1, -1), &[(None, Some(b"v"))])[..])
}

fn fail_next_fsync(log: &PartitionLog) {
    let state = log.state.read();
    log.file_of(state.active().unwrap())
        .unwrap()
        .fail_next_sync
        .store(true, Ordering::Release);
}

fn files() -> FileCache {
    FileCache::new(64)
}

#[test]
fn a_failed_fsync_poisons_the_log_and_is_never_reported_as_success() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let log = PartitionLog::open(dir.path(), LogConfig::default(), flusher, files()).unwrap();
    let Appended::Written { durable, .. } = log.append(batch(), 1, 0).unwrap() else {
        panic!("expected a write")
    };
    durable.wait_blocking().unwrap();

    fail_next_fsync(&log);
    let Appended::Written { durable, .. } = log.append(batch(), 1, 0).unwrap() else {
        panic!("expected a write")
    };
    assert!(matches!(durable.wait_blocking(), Err(LogError::Poisoned)));
    assert!(log.is_poisoned());
    assert!(matches!(log.append(batch(), 1, 0), Err(LogError::Poisoned)));
    assert!(matches!(log.read(0, 100, true), Err(LogError::Poisoned)));
    assert!(matches!(log.flush(), Err(LogError::Poisoned)));
    drop(log);

    // Reopening recovers: the page cache still holds both batches here, so both come back.
    let log =
        PartitionLog::open(dir.path(), LogConfig::default(), Flusher::start(), files()).unwrap();
    assert!(!log.is_poisoned());
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn a_failed_fsync_on_roll_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: batch().len() as u64,
        durability: Durability::OsCache,
        ..LogConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config, Flusher::start(), files()).unwrap();
    assert!(log.append(batch(), 1, 0).is_ok());
    fail_next_fsync(&log);
    assert!(log.append(batch(), 1, 0).is_err());
    assert!(matches!(log.append(batch(), 1, 0), Err(LogError::Poisoned)));
}

#[test]
fn partition_log_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PartitionLog>();
    assert_send_sync::<Flusher>();
    fn assert_send<T: Send>() {}
    assert_send::<Durable>();
}
