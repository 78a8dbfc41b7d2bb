mod common;

use std::fs::OpenOptions;

use common::*;
use schloss_log::{LogError, PartitionLog};

#[test]
fn garbage_after_the_last_batch_is_truncated_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), config(1 << 20));
        append(&log, batch(3, 1), 1);
        append(&log, batch(2, 1), 1);
    }
    let path = segment_file(dir.path(), 0, "log");
    let good_len = std::fs::metadata(&path).unwrap().len();
    append_garbage(&path, &[0xAB; 300]);
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(append(&log, batch(1, 1), 1), (5, 5));
    let offsets: Vec<_> = read_all(&log).iter().map(|h| h.base_offset).collect();
    assert_eq!(offsets, vec![0, 3, 5]);
}

#[test]
fn a_torn_half_batch_is_cut_away() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), config(1 << 20));
        append(&log, batch(3, 1), 1);
    }
    let path = segment_file(dir.path(), 0, "log");
    let mut torn = batch(4, 1).to_vec();
    schloss_model::batch::set_base_offset(&mut torn, 3);
    torn.truncate(torn.len() / 2);
    append_garbage(&path, &torn);
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(append(&log, batch(1, 1), 1), (3, 3));
}

#[test]
fn a_batch_with_a_bad_crc_at_the_tail_is_cut_away() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), config(1 << 20));
        append(&log, batch(1, 1), 1);
        append(&log, batch(1, 1), 1);
    }
    let path = segment_file(dir.path(), 0, "log");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn missing_and_corrupt_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let log = open(dir.path(), config(2000));
        for i in 0..60 {
            append(&log, batch_with(NO_PRODUCER, 2, 100 + i, i as u64), 1);
        }
        assert!(log.segment_count() > 2);
        read_all(&log)
    };
    let index0 = segment_file(dir.path(), 0, "index");
    let good_index = std::fs::read(&index0).unwrap();
    assert!(!good_index.is_empty());
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "timeindex") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    std::fs::write(&index0, [0xFFu8; 13]).unwrap();
    let log = open(dir.path(), config(2000));
    assert_eq!(std::fs::read(&index0).unwrap(), good_index);
    assert!(segment_file(dir.path(), 0, "timeindex").exists());
    assert_eq!(read_all(&log), expected);
    let found = log.first_batch_at_or_after_timestamp(130).unwrap().unwrap();
    assert_eq!(
        schloss_model::batch::validate(&found)
            .unwrap()
            .max_timestamp,
        130
    );
}

#[test]
fn damage_in_an_older_segment_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), config(500));
        for _ in 0..20 {
            append(&log, batch(2, 1), 1);
        }
        assert!(log.segment_count() > 2);
    }
    let path = segment_file(dir.path(), 0, "log");
    let len = std::fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let err = PartitionLog::open(
        dir.path(),
        config(500),
        schloss_log::Flusher::start(),
        files(),
    )
    .unwrap_err();
    assert!(matches!(err, LogError::Corrupt(_)), "{err}");
}

#[test]
fn arbitrary_junk_files_do_not_panic_recovery() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment_file(dir.path(), 0, "log"), [0u8; 100]).unwrap();
    std::fs::write(segment_file(dir.path(), 0, "index"), [1u8; 5]).unwrap();
    std::fs::write(segment_file(dir.path(), 77, "timeindex"), [1u8; 12]).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(log.log_end_offset(), 0);
    assert!(
        !segment_file(dir.path(), 77, "timeindex").exists(),
        "orphan index swept"
    );
    assert_eq!(append(&log, batch(1, 1), 1), (0, 0));
}

#[test]
fn a_malformed_checkpoint_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), config(1 << 20)));
    std::fs::write(dir.path().join("log-start-offset.checkpoint"), b"garbage").unwrap();
    let err = PartitionLog::open(
        dir.path(),
        config(1 << 20),
        schloss_log::Flusher::start(),
        files(),
    )
    .unwrap_err();
    assert!(matches!(err, LogError::Corrupt(_)));
}

/// Found by the log_recovery fuzz target: a log start checkpoint above the recovered log end
/// (DeleteRecords up to appends that were never fsynced, then a crash) must not let new
/// appends take offsets below it, or the next recovery would hide them.
#[test]
fn a_checkpoint_beyond_the_recovered_end_starts_the_log_at_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), config(1 << 20));
        append(&log, batch(2, 1), 1);
        log.delete_records_before(2).unwrap();
    }
    // The crash lost the records the checkpoint had moved past.
    std::fs::write(segment_file(dir.path(), 0, "log"), b"").unwrap();
    {
        let log = open(dir.path(), config(1 << 20));
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(append(&log, batch(2, 1), 1), (2, 3));
    }
    let log = open(dir.path(), config(1 << 20));
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 4));
    let offsets: Vec<_> = read_all(&log).iter().map(|h| h.base_offset).collect();
    assert_eq!(offsets, vec![2]);
}

/// Found by the log_recovery fuzz target: offsets near `i64::MAX` (a damaged or hand-made
/// segment name) are refused, not overflowed.
#[test]
fn a_segment_at_the_end_of_the_offset_space_refuses_appends_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment_file(dir.path(), i64::MAX, "log"), b"").unwrap();
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(log.log_end_offset(), i64::MAX);
    let result = log.append(batch(1, 1), 1, 0);
    assert!(
        matches!(result, Err(LogError::OffsetOverflow { .. })),
        "{result:?}"
    );
}
