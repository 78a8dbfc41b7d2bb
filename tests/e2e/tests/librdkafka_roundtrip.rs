//! librdkafka (through the rdkafka crate) against a real broker process: 100k records per
//! codec, with keys, headers and timestamps, produced by the idempotent producer and read back
//! identical and in order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use schloss_e2e::*;

const RECORDS: usize = 100_000;

fn roundtrip(codec: &str) {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = format!("roundtrip-{codec}");
    create_topic(&bootstrap, &topic, 1, &[]);
    let records = sample_records(RECORDS, now_ms() - 60_000);
    let producer = producer(&bootstrap, &[("compression.type", codec), ("acks", "all")]);
    produce_all(&producer, &topic, 0, &records);
    let got = consume(&bootstrap, &topic, 0, RECORDS);
    for (i, ((offset, rec), want)) in got.iter().zip(&records).enumerate() {
        assert_eq!(*offset, i as i64, "offsets are contiguous from 0");
        assert_eq!(rec, want, "record {i} comes back identical");
    }
    assert_eq!(watermarks(&bootstrap, &topic, 0), (0, RECORDS as i64));
}

#[test]
fn none_codec_roundtrip_100k() {
    roundtrip("none");
}

#[test]
fn gzip_codec_roundtrip_100k() {
    roundtrip("gzip");
}

#[test]
fn snappy_codec_roundtrip_100k() {
    roundtrip("snappy");
}

#[test]
fn lz4_codec_roundtrip_100k() {
    roundtrip("lz4");
}

#[test]
fn zstd_codec_roundtrip_100k() {
    roundtrip("zstd");
}
