//! Crash safety: SIGKILL while an acks=all idempotent librdkafka producer writes; every
//! acknowledged record is read back at its acknowledged offset, offsets are contiguous and no
//! record appears twice. And a segment with garbage on its tail recovers to the last valid batch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rdkafka::config::ClientConfig;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use schloss_e2e::*;
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (offset, value) of each acknowledged record, in acknowledgement order.
type Acked = Arc<Mutex<Vec<(i64, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Acks {
    acked: Acked,
    failed: Arc<AtomicUsize>,
}

impl ClientContext for Acks {}
impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => self
                .acked
                .lock()
                .unwrap()
                .push((m.offset(), m.payload().unwrap_or_default().to_vec())),
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[test]
fn acknowledged_records_survive_sigkill_and_restart() {
    let mut broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "crash", 1, &[]);
    let acks = Acks::default();
    let producer: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "120000")
        .set("reconnect.backoff.max.ms", "200")
        .create_with_context(acks.clone())
        .unwrap();
    let producer = Arc::new(producer);
    let total = 60_000usize;
    let writer = {
        let producer = producer.clone();
        std::thread::spawn(move || {
            for i in 0..total {
                let value = format!("record-{i:08}");
                let mut record = BaseRecord::<(), _>::to("crash")
                    .partition(0)
                    .payload(&value);
                loop {
                    match producer.send(record) {
                        Ok(()) => break,
                        Err((_, back)) => {
                            record = back;
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                if i % 200 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            producer
                .flush(Duration::from_secs(180))
                .expect("flush after restart");
        })
    };
    // Kill the broker while writes are in flight, once a good number are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks.acked.lock().unwrap().len() < 10_000 {
        assert!(Instant::now() < deadline, "producer made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    broker.kill();
    let acked_before_crash = acks.acked.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(500));
    broker.restart();
    writer.join().unwrap();
    assert_eq!(
        acks.failed.load(Ordering::Relaxed),
        0,
        "no record failed for good"
    );
    let acked = acks.acked.lock().unwrap().clone();
    assert!(
        acked.len() > acked_before_crash,
        "producing continued after the restart"
    );
    assert_eq!(
        acked.len(),
        total,
        "every record was eventually acknowledged"
    );

    let (low, high) = watermarks(&bootstrap, "crash", 0);
    assert_eq!(low, 0);
    let got = consume(&bootstrap, "crash", 0, high as usize);
    let mut seen = HashSet::new();
    for (i, (offset, rec)) in got.iter().enumerate() {
        assert_eq!(*offset, i as i64, "offsets are contiguous");
        assert!(
            seen.insert(rec.value.clone()),
            "record {:?} appears twice",
            String::from_utf8_lossy(&rec.value)
        );
    }
    for (offset, value) in &acked {
        let (_, rec) = &got[*offset as usize];
        assert_eq!(
            &rec.value, value,
            "acknowledged record is at its acknowledged offset {offset}"
        );
    }
    assert_eq!(
        high as usize, total,
        "no duplicates: exactly one copy of each record"
    );
}

#[test]
fn garbage_on_the_segment_tail_recovers_to_the_last_valid_batch() {
    let mut broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "torn", 1, &[]);
    let records = sample_records(1_000, now_ms() - 1_000);
    produce_all(
        &producer(&bootstrap, &[("acks", "all")]),
        "torn",
        0,
        &records,
    );
    broker.kill();

    let segment = broker
        .data_dir()
        .join("default.torn-0")
        .join("00000000000000000000.log");
    let valid_len = std::fs::metadata(&segment).unwrap().len();
    let first_batch = std::fs::read(&segment).unwrap()[..200].to_vec();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    // Half of a real batch header, then random-looking garbage: a torn write.
    file.write_all(&first_batch[..40]).unwrap();
    file.write_all(
        &(0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    drop(file);

    broker.restart();
    let got = consume(&bootstrap, "torn", 0, records.len());
    for (i, ((offset, rec), want)) in got.iter().zip(&records).enumerate() {
        assert_eq!(*offset, i as i64);
        assert_eq!(rec, want);
    }
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        valid_len,
        "tail truncated to the last valid batch"
    );
    let more = sample_records(10, now_ms());
    produce_all(&producer(&bootstrap, &[("acks", "all")]), "torn", 0, &more);
    assert_eq!(
        watermarks(&bootstrap, "torn", 0),
        (0, 1_010),
        "appends continue after the recovered tail"
    );
}
