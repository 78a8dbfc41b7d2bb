//! Retention by time and by bytes deletes whole segments and moves ListOffsets earliest;
//! `compression.type` on a topic decides what is stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use schloss_e2e::*;
use schloss_model::batch::{self, Batches, Compression};
use std::path::Path;
use std::time::{Duration, Instant};

fn fast_retention() -> BrokerOptions {
    BrokerOptions {
        retention_check_interval_ms: 200,
        ..BrokerOptions::default()
    }
}

fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count()
}

fn wait_for_low_watermark(
    bootstrap: &str,
    topic: &str,
    predicate: impl Fn(i64, i64) -> bool,
) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (low, high) = watermarks(bootstrap, topic, 0);
        if predicate(low, high) {
            return (low, high);
        }
        assert!(
            Instant::now() < deadline,
            "retention did not run: low {low}, high {high}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kib_records(n: usize, ts: i64) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            key: format!("{i}").into_bytes(),
            value: vec![(i % 251) as u8; 1024],
            headers: vec![],
            timestamp: ts,
        })
        .collect()
}

#[test]
fn retention_bytes_deletes_whole_segments_and_moves_the_log_start() {
    let broker = BrokerProcess::start_with(fast_retention());
    let bootstrap = broker.bootstrap();
    create_topic(
        &bootstrap,
        "by-bytes",
        1,
        &[("segment.bytes", "1048576"), ("retention.bytes", "1048576")],
    );
    let records = kib_records(5_000, now_ms());
    produce_all(
        &producer(
            &bootstrap,
            &[("batch.size", "65536"), ("compression.type", "none")],
        ),
        "by-bytes",
        0,
        &records,
    );
    let (low, high) = wait_for_low_watermark(&bootstrap, "by-bytes", |low, _| low > 0);
    assert_eq!(high, 5_000);
    let dir = broker.data_dir().join("default.by-bytes-0");
    assert!(segment_files(&dir) <= 3, "old segments are gone from disk");
    // What remains starts exactly at the new log start, on a segment boundary.
    let first = consume(&bootstrap, "by-bytes", 0, 1);
    assert_eq!(
        first[0].0, low,
        "ListOffsets earliest and the first readable record agree"
    );
    assert_eq!(first[0].1, records[low as usize]);
}

#[test]
fn retention_ms_deletes_expired_segments_including_the_active_one() {
    let broker = BrokerProcess::start_with(fast_retention());
    let bootstrap = broker.bootstrap();
    create_topic(
        &bootstrap,
        "by-time",
        1,
        &[("segment.bytes", "1048576"), ("retention.ms", "60000")],
    );
    // Records stamped an hour ago are already past a one-minute retention.
    let records = kib_records(3_000, now_ms() - 3_600_000);
    produce_all(
        &producer(&bootstrap, &[("batch.size", "65536")]),
        "by-time",
        0,
        &records,
    );
    let (low, high) = wait_for_low_watermark(&bootstrap, "by-time", |low, high| low == high);
    assert_eq!(
        (low, high),
        (3_000, 3_000),
        "every segment expired; the log start moved to the end"
    );
    // New, fresh records are kept.
    produce_all(
        &producer(&bootstrap, &[]),
        "by-time",
        0,
        &kib_records(5, now_ms()),
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(watermarks(&bootstrap, "by-time", 0), (3_000, 3_005));
}

fn stored_batches(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        for b in Batches::new(&bytes) {
            out.push(b.unwrap().1.to_vec());
        }
    }
    out
}

#[test]
fn topic_compression_zstd_stores_zstd_when_the_producer_sends_lz4() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "to-zstd", 1, &[("compression.type", "zstd")]);
    let records = sample_records(2_000, now_ms());
    produce_all(
        &producer(&bootstrap, &[("compression.type", "lz4")]),
        "to-zstd",
        0,
        &records,
    );
    let stored = stored_batches(&broker.data_dir().join("default.to-zstd-0"));
    assert!(!stored.is_empty());
    for b in &stored {
        let header = batch::validate(b).unwrap();
        assert_eq!(
            header.compression().unwrap(),
            Compression::Zstd,
            "stored with the topic's codec"
        );
    }
    let got = consume(&bootstrap, "to-zstd", 0, records.len());
    assert!(
        got.iter().map(|(_, r)| r).eq(records.iter()),
        "records read back identical"
    );
}

#[test]
fn compression_type_producer_stores_the_batch_byte_for_byte() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "as-sent", 1, &[]);
    // An lz4 batch built outside the broker, sent in a Produce request.
    let plain = batch::build_uncompressed(
        0,
        now_ms(),
        (-1, -1, -1),
        &[(Some(b"k1"), Some(b"hello")), (None, Some(b"world"))],
    );
    let template = batch::BatchHeader::parse(&plain).unwrap();
    let records = schloss_protocol::records::decode_records(&plain, 1 << 20).unwrap();
    let sent =
        schloss_protocol::records::encode_batch(&template, &records, Compression::Lz4).unwrap();
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("as-sent")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(sent.clone().into()))])]);
    let mut conn = raw::connect(&bootstrap);
    let mut body = raw::call(&mut conn, ApiKey::Produce, 9, &request);
    let response =
        <kafka_protocol::messages::ProduceResponse as kafka_protocol::protocol::Decodable>::decode(
            &mut body, 9,
        )
        .unwrap();
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.base_offset, 0);

    let stored = stored_batches(&broker.data_dir().join("default.as-sent-0"));
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0], sent,
        "stored exactly as sent (base offset 0 and leader epoch 0 match too)"
    );
    let got = consume(&bootstrap, "as-sent", 0, 2);
    assert_eq!(got[0].1.value, b"hello");
    assert_eq!(got[1].1.value, b"world");
}
