mod common;

use common::*;
use schloss_log::{LogError, ReadSlice};
use schloss_model::batch::validate;

#[test]
fn round_trip_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1000));
    let mut expected = Vec::new();
    for i in 0..40u64 {
        let (base, last) = append(
            &log,
            batch_with(NO_PRODUCER, 1 + (i % 3) as usize, 1000 + i as i64, i),
            5,
        );
        expected.push((base, last));
    }
    assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
    assert_eq!(expected[0], (0, 0));
    assert_eq!(log.log_end_offset(), expected.last().unwrap().1 + 1);
    let read: Vec<_> = read_all(&log)
        .iter()
        .map(|h| (h.base_offset, h.last_offset()))
        .collect();
    assert_eq!(read, expected);
    // Every stored batch is byte-valid (CRC intact after offset rewrite).
    let slice = log.read(0, 1 << 20, true).unwrap();
    for (_, raw) in schloss_model::batch::Batches::new(&slice.data).map(Result::unwrap) {
        validate(raw).unwrap();
    }
}

#[test]
fn reading_inside_a_batch_returns_the_containing_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    append(&log, batch(5, 1), 1);
    append(&log, batch(5, 2), 1);
    for offset in 5..10 {
        let hs = headers(&log.read(offset, 1 << 20, true).unwrap().data);
        assert_eq!(hs[0].base_offset, 5, "offset {offset}");
    }
    let hs = headers(&log.read(3, 1 << 20, true).unwrap().data);
    assert_eq!(
        hs.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        vec![0, 5]
    );
}

#[test]
fn reads_use_the_sparse_index_deep_in_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    for i in 0..200 {
        append(&log, batch_with(NO_PRODUCER, 2, i, i as u64), 1);
    }
    for offset in [0, 1, 77, 150, 233, 399] {
        let hs = headers(&log.read(offset, 100, true).unwrap().data);
        assert_eq!(hs[0].base_offset, offset - offset % 2, "offset {offset}");
    }
}

#[test]
fn max_bytes_cuts_at_whole_batches_and_min_one_batch_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    append(&log, batch(3, 1), 1);
    append(&log, batch(3, 1), 1);
    let one = log.read(0, 1 << 20, true).unwrap().data.len() / 2;
    assert_eq!(
        headers(&log.read(0, one + one / 2, false).unwrap().data).len(),
        1
    );
    assert_eq!(log.read(0, one * 2, false).unwrap().data.len(), one * 2);
    assert!(log.read(0, 10, false).unwrap().data.is_empty());
    let forced = log.read(0, 10, true).unwrap();
    assert_eq!(forced.data.len(), one);
    assert_eq!(headers(&forced.data)[0].base_offset, 0);
}

#[test]
fn offsets_out_of_range_and_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(1 << 20));
    append(&log, batch(2, 1), 1);
    let ReadSlice {
        data,
        log_start_offset,
        log_end_offset,
    } = log.read(2, 100, true).unwrap();
    assert!(data.is_empty());
    assert_eq!((log_start_offset, log_end_offset), (0, 2));
    assert!(matches!(
        log.read(3, 100, true),
        Err(LogError::OffsetOutOfRange {
            log_start: 0,
            log_end: 2,
            ..
        })
    ));
    assert!(matches!(
        log.read(-1, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn leader_epoch_and_log_append_time_are_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1 << 20);
    cfg.timestamp_type = schloss_log::TimestampType::LogAppendTime;
    let log = open(dir.path(), cfg);
    match log.append(batch(1, 5), 777, 9).unwrap() {
        schloss_log::Appended::Written {
            log_append_time, ..
        } => assert_eq!(log_append_time, 777),
        other => panic!("{other:?}"),
    }
    let data = log.read(0, 1000, true).unwrap().data;
    let h = validate(&data).unwrap();
    assert_eq!(h.partition_leader_epoch, 9);
    assert_eq!(h.max_timestamp, 777);
}

#[test]
fn timestamp_lookups_find_the_right_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(600));
    let stamps = [10, 30, 20, 50, 40, 50, 60, 55];
    for (i, ts) in stamps.iter().enumerate() {
        append(&log, batch_with(NO_PRODUCER, 1, *ts, i as u64), *ts);
    }
    assert!(log.segment_count() > 1);
    let at = |ts| {
        log.first_batch_at_or_after_timestamp(ts)
            .unwrap()
            .map(|b| validate(&b).unwrap().base_offset)
    };
    assert_eq!(at(0), Some(0));
    assert_eq!(at(15), Some(1));
    assert_eq!(at(30), Some(1));
    assert_eq!(at(31), Some(3));
    assert_eq!(at(56), Some(6));
    assert_eq!(at(61), None);
    let max = log.batch_with_max_timestamp().unwrap().unwrap();
    assert_eq!(validate(&max).unwrap().base_offset, 6);
    log.delete_records_before(7).unwrap();
    let max = log.batch_with_max_timestamp().unwrap().unwrap();
    assert_eq!(validate(&max).unwrap().base_offset, 7);
    assert_eq!(at(0), Some(7));
}

#[test]
fn oversized_batches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config(100));
    assert!(matches!(
        log.append(batch(10, 1), 1, 0),
        Err(LogError::RecordTooLarge { .. })
    ));
    assert!(matches!(
        log.append(bytes::BytesMut::from(&b"short"[..]), 1, 0),
        Err(LogError::InvalidBatch(_))
    ));
}

#[test]
fn segment_ms_rolls_an_old_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1 << 20);
    cfg.segment_ms = 100;
    let log = open(dir.path(), cfg);
    append(&log, batch(1, 1000), 1000);
    append(&log, batch(1, 1050), 1050);
    assert_eq!(log.segment_count(), 1);
    append(&log, batch(1, 1200), 1200);
    assert_eq!(log.segment_count(), 2);
}
