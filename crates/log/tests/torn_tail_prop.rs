mod common;

use std::fs::OpenOptions;
use std::io::Write;

use common::*;
use proptest::prelude::*;

/// (records, timestamp) per batch.
fn batches() -> impl Strategy<Value = Vec<(usize, i64)>> {
    prop::collection::vec((1usize..6, 0i64..1_000), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reopen_after_a_torn_tail_yields_exactly_a_prefix(
        specs in batches(),
        segment_bytes in 300u64..2_000,
        cut_fraction in 0.0f64..1.0,
        garbage in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let appended;
        {
            let log = open(dir.path(), config(segment_bytes));
            for (i, (records, ts)) in specs.iter().enumerate() {
                append(&log, batch_with(NO_PRODUCER, *records, *ts, i as u64), 0);
            }
            appended = read_all(&log);
            log.close().unwrap();
        }
        prop_assert_eq!(appended.len(), specs.len());
        let last_base = std::fs::read_dir(dir.path()).unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".log").and_then(|s| s.parse::<i64>().ok()))
            .max()
            .unwrap();
        let path = dir.path().join(format!("{last_base:020}.log"));
        let len = std::fs::metadata(&path).unwrap().len();
        let cut = ((len as f64) * cut_fraction) as u64;
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(cut).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&garbage).unwrap();
        drop(file);

        // Batches that lie wholly before the cut survive; nothing after.
        let mut position = 0u64;
        let expected: Vec<_> = appended.iter().filter(|h| {
            if h.base_offset < last_base {
                return true;
            }
            position += h.total_len() as u64;
            position <= cut
        }).cloned().collect();

        let log = open(dir.path(), config(segment_bytes));
        let recovered = read_all(&log);
        prop_assert_eq!(&recovered[..], &appended[..recovered.len()]);
        prop_assert_eq!(recovered.len(), expected.len());
        let next = expected.last().map_or(0, |h| h.last_offset() + 1);
        prop_assert_eq!(log.log_end_offset(), next);
        let (base, _) = append(&log, batch(1, 1), 1);
        prop_assert_eq!(base, next);
    }
}
