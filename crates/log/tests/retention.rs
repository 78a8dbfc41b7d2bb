mod common;

use common::*;
use schloss_log::LogError;

/// Ten segments of four one-record batches each, timestamps 1000 + offset.
fn filled(dir: &std::path::Path) -> (schloss_log::PartitionLog, u64) {
    let one = batch(1, 0).len() as u64;
    let log = open(dir, config(one * 4));
    for i in 0..40 {
        append(&log, batch(1, 1000 + i), 1000 + i);
    }
    assert_eq!(log.segment_count(), 10);
    (log, one)
}

#[test]
fn retention_by_time_deletes_whole_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = filled(dir.path());
    let mut cfg = log.config();
    cfg.retention_ms = 100;
    log.update_config(cfg);
    // Newest timestamps per segment: 1003, 1007, ... ; cutoff 1110 - 100 = 1010.
    let outcome = log.enforce_retention(1110).unwrap();
    assert_eq!(outcome.deleted_segments, 2);
    assert_eq!(outcome.log_start_offset, 8);
    assert_eq!(log.log_start_offset(), 8);
    assert!(matches!(
        log.read(7, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        headers(&log.read(8, 100, true).unwrap().data)[0].base_offset,
        8
    );
    assert!(!dir.path().join(format!("{:020}.log", 0)).exists());
}

#[test]
fn retention_by_time_can_take_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = filled(dir.path());
    let mut cfg = log.config();
    cfg.retention_ms = 10;
    log.update_config(cfg);
    let outcome = log.enforce_retention(1_000_000).unwrap();
    assert_eq!(outcome.deleted_segments, 10);
    assert_eq!(log.log_start_offset(), 40);
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(log.size_bytes(), 0);
    assert_eq!(append(&log, batch(1, 5), 5), (40, 40));
    drop(log);
    let log = open(dir.path(), config(1 << 20));
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (40, 41));
}

#[test]
fn retention_by_bytes_follows_kafkas_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (log, one) = filled(dir.path());
    let mut cfg = log.config();
    // 40 batches stored; keep at most 13 batches' worth: deleting whole 4-batch segments
    // while size - limit >= segment size leaves 16 batches (four segments).
    cfg.retention_bytes = (13 * one) as i64;
    log.update_config(cfg);
    let outcome = log.enforce_retention(0).unwrap();
    assert_eq!(outcome.deleted_segments, 6);
    assert_eq!(outcome.deleted_bytes, 24 * one);
    assert_eq!(log.size_bytes(), 16 * one);
    assert_eq!(log.log_start_offset(), 24);
    assert_eq!(log.enforce_retention(0).unwrap().deleted_segments, 0);
}

#[test]
fn delete_records_moves_log_start_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = filled(dir.path());
    assert_eq!(log.delete_records_before(10).unwrap(), 10);
    assert_eq!(log.segment_count(), 8, "segments wholly below 10 are gone");
    assert!(matches!(
        log.read(9, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // The batch containing offset 10 starts at 10.
    assert_eq!(
        headers(&log.read(10, 100, true).unwrap().data)[0].base_offset,
        10
    );
    assert_eq!(
        log.delete_records_before(5).unwrap(),
        10,
        "never moves back"
    );
    assert!(matches!(
        log.delete_records_before(41),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(log.log_start_offset(), 10);
    assert_eq!(log.delete_records_before(40).unwrap(), 40);
    assert!(log.read(40, 100, true).unwrap().data.is_empty());
}

#[test]
fn delete_dir_removes_everything() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("topic-0");
    let log = open(&dir, config(1 << 20));
    append(&log, batch(1, 1), 1);
    log.delete_dir().unwrap();
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}
