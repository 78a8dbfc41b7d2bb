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
    let log = Arc::new(PartitionLog::open(dir.path(), cfg, flusher.clone(), files()).unwrap());
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
    eprintln!("{fsyncs} fsyncs for {appends} appends");
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
    let log = PartitionLog::open(dir.path(), cfg, Flusher::start(), files()).unwrap();
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
                files(),
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

#[test]
fn readers_run_alongside_an_appender() {
    let dir = tempfile::tempdir().unwrap();
    let log =
        Arc::new(PartitionLog::open(dir.path(), config(4096), Flusher::start(), files()).unwrap());
    let writer = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for i in 0..300 {
                append(&log, batch_with(NO_PRODUCER, 2, i, i as u64), 1);
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut offset = 0;
                while offset < 600 {
                    let slice = log.read(offset, 700 + r * 100, true).unwrap();
                    for (h, raw) in
                        schloss_model::batch::Batches::new(&slice.data).map(Result::unwrap)
                    {
                        schloss_model::batch::validate(raw).unwrap();
                        assert!(h.last_offset() < slice.log_end_offset);
                        offset = h.last_offset() + 1;
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}
