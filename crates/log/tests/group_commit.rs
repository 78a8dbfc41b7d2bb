mod common;

use std::sync::Arc;

use common::*;
use schloss_log::{Appended, Durability, Flusher, PartitionLog};

#[test]
fn concurrent_fsync_appends_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut cfg = config(1 << 20);
    cfg.durability = Durability::Fsync;
    let log = Arc::new(PartitionLog::open(dir.path(), cfg, flusher.clone()).unwrap());
    const THREADS: usize = 8;
    const PER_THREAD: usize = 40;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    match log.append(batch(1, 1), 1, 0).unwrap() {
                        Appended::Written { durable, .. } => durable.wait_blocking().unwrap(),
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let appends = (THREADS * PER_THREAD) as u64;
    assert_eq!(log.log_end_offset(), appends as i64);
    let fsyncs = flusher.fsyncs_performed();
    assert!(
        fsyncs > 0 && fsyncs < appends,
        "{fsyncs} fsyncs for {appends} appends"
    );
}

#[test]
fn durable_resolves_in_async_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1 << 20);
    cfg.durability = Durability::Fsync;
    let log = PartitionLog::open(dir.path(), cfg, Flusher::start()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let Appended::Written { durable, .. } = log.append(batch(1, 1), 1, 0).unwrap() else {
        panic!("expected a write")
    };
    rt.block_on(durable.wait()).unwrap();
}

#[test]
fn many_partitions_share_one_flusher() {
    let root = tempfile::tempdir().unwrap();
    let flusher = Flusher::start();
    let mut cfg = config(1 << 20);
    cfg.durability = Durability::Fsync;
    let logs: Vec<_> = (0..4)
        .map(|p| {
            PartitionLog::open(
                &root.path().join(format!("t-{p}")),
                cfg.clone(),
                flusher.clone(),
            )
            .unwrap()
        })
        .collect();
    let pending: Vec<_> = logs
        .iter()
        .flat_map(|log| (0..5).map(move |_| log.append(batch(1, 1), 1, 0).unwrap()))
        .collect();
    for appended in pending {
        let Appended::Written { durable, .. } = appended else {
            panic!()
        };
        durable.wait_blocking().unwrap();
    }
    assert!(flusher.fsyncs_performed() <= 20);
}
