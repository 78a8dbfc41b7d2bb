mod common;

use common::*;
use schloss_log::{Appended, LogError};

const PID: i64 = 42;

fn send(
    log: &schloss_log::PartitionLog,
    epoch: i16,
    seq: i32,
    records: usize,
) -> Result<Appended, LogError> {
    log.append(batch_with((PID, epoch, seq), records, 1, seq as u64), 1, 0)
}

#[test]
fn a_retried_batch_gets_its_original_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(written(send(&log, 0, 0, 3)), (0, 2));
    assert_eq!(written(send(&log, 0, 3, 2)), (3, 4));
    match send(&log, 0, 0, 3).unwrap() {
        Appended::Duplicate {
            base_offset,
            last_offset,
            ..
        } => assert_eq!((base_offset, last_offset), (0, 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(log.log_end_offset(), 5, "a duplicate writes nothing");
}

#[test]
fn a_sequence_gap_is_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    written(send(&log, 0, 0, 1));
    assert!(matches!(
        send(&log, 0, 2, 1),
        Err(LogError::OutOfOrderSequence {
            expected: 1,
            found: 2,
            ..
        })
    ));
}

#[test]
fn a_stale_epoch_is_fenced_and_a_new_epoch_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    written(send(&log, 1, 0, 1));
    assert!(matches!(
        send(&log, 0, 1, 1),
        Err(LogError::InvalidProducerEpoch {
            current: 1,
            found: 0,
            ..
        })
    ));
    assert!(matches!(
        send(&log, 2, 5, 1),
        Err(LogError::OutOfOrderSequence { expected: 0, .. })
    ));
    assert_eq!(written(send(&log, 2, 0, 1)), (1, 1));
    assert_eq!(log.producer_entry(PID).unwrap().epoch, 2);
}

#[test]
fn an_unknown_producer_may_start_at_any_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    assert_eq!(written(send(&log, 3, 17, 1)), (0, 0));
    assert_eq!(written(send(&log, 3, 18, 1)), (1, 1));
}

#[test]
fn producer_state_is_rebuilt_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), config(400));
        for seq in 0..6 {
            written(send(&log, 0, seq * 2, 2));
        }
        assert!(log.segment_count() > 1);
    }
    let log = open(dir.path(), config(400));
    match send(&log, 0, 8, 2).unwrap() {
        Appended::Duplicate { base_offset, .. } => assert_eq!(base_offset, 8),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        send(&log, 0, 13, 1),
        Err(LogError::OutOfOrderSequence { expected: 12, .. })
    ));
    assert_eq!(written(send(&log, 0, 12, 1)), (12, 12));
}

#[test]
fn producers_below_log_start_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    written(send(&log, 0, 0, 2));
    log.delete_records_before(2).unwrap();
    assert!(log.producer_entry(PID).is_none());
    // Unknown again: any sequence is accepted.
    assert_eq!(written(send(&log, 0, 9, 1)), (2, 2));
}

#[test]
fn a_duplicate_waits_for_the_original_to_be_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1 << 20);
    cfg.durability = schloss_log::Durability::Fsync;
    let log = open(dir.path(), cfg);
    let Appended::Written { durable: first, .. } = send(&log, 0, 0, 1).unwrap() else {
        panic!("expected a write")
    };
    let Appended::Duplicate { durable, .. } = send(&log, 0, 0, 1).unwrap() else {
        panic!("expected a duplicate")
    };
    durable.wait_blocking().unwrap();
    first.wait_blocking().unwrap();
}
