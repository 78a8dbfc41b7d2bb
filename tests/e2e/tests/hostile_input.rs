//! Hostile input over real sockets: each bad frame or request gets an error or a closed
//! connection, and afterwards the broker still serves a well-behaved librdkafka client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::Buf;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::{Decodable, StrBytes};
use schloss_e2e::*;
use std::io::Write;

/// A well-behaved client still gets full service.
fn assert_serves_normally(broker: &mut BrokerProcess, topic: &str) {
    assert!(broker.is_running(), "the broker process is still alive");
    let bootstrap = broker.bootstrap();
    let records = sample_records(50, now_ms());
    produce_all(&producer(&bootstrap, &[]), topic, 0, &records);
    let (_, high) = watermarks(&bootstrap, topic, 0);
    let got = consume(&bootstrap, topic, 0, high as usize);
    assert!(got[got.len() - 50..]
        .iter()
        .map(|(_, r)| r)
        .eq(records.iter()));
}

fn setup() -> BrokerProcess {
    let broker = BrokerProcess::start();
    create_topic(&broker.bootstrap(), "calm", 1, &[]);
    broker
}

#[test]
fn a_negative_frame_length_closes_only_that_connection() {
    let mut broker = setup();
    let mut s = raw::connect(&broker.bootstrap());
    s.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert!(raw::closed_by_peer(&mut s));
    assert_serves_normally(&mut broker, "calm");
}

#[test]
fn a_two_gib_frame_length_closes_the_connection_without_allocating() {
    let mut broker = setup();
    let mut s = raw::connect(&broker.bootstrap());
    s.write_all(&i32::MAX.to_be_bytes()).unwrap();
    s.write_all(&[0u8; 1024]).unwrap();
    assert!(raw::closed_by_peer(&mut s));
    assert_serves_normally(&mut broker, "calm");
}

#[test]
fn a_frame_truncated_mid_way_is_dropped_when_the_client_leaves() {
    let mut broker = setup();
    {
        let mut s = raw::connect(&broker.bootstrap());
        s.write_all(&1000i32.to_be_bytes()).unwrap();
        s.write_all(&[0u8; 10]).unwrap();
    } // the client goes away mid-frame
    assert_serves_normally(&mut broker, "calm");
}

#[test]
fn an_array_count_of_two_to_the_31_in_metadata_is_rejected() {
    let mut broker = setup();
    let mut s = raw::connect(&broker.bootstrap());
    // Metadata v1 body: topics array with count 0x7fffffff and nothing behind it.
    s.write_all(&raw::frame_raw(
        ApiKey::Metadata as i16,
        1,
        1,
        &[0x7f, 0xff, 0xff, 0xff],
    ))
    .unwrap();
    assert!(raw::closed_by_peer(&mut s));
    // The CreateTopics v5 body that aborts kafka-protocol's own decoder.
    let mut s = raw::connect(&broker.bootstrap());
    s.write_all(&raw::frame_raw(
        ApiKey::CreateTopics as i16,
        5,
        2,
        &[0x00, 0xff, 0xff, 0xff, 0xff, 0x0f],
    ))
    .unwrap();
    assert!(raw::closed_by_peer(&mut s));
    assert_serves_normally(&mut broker, "calm");
}

#[test]
fn an_unknown_api_key_closes_the_connection() {
    let mut broker = setup();
    let mut s = raw::connect(&broker.bootstrap());
    s.write_all(&raw::frame_raw(9999, 0, 1, &[])).unwrap();
    assert!(raw::closed_by_peer(&mut s));
    let mut s = raw::connect(&broker.bootstrap());
    s.write_all(&raw::frame_raw(ApiKey::Metadata as i16, 99, 1, &[]))
        .unwrap();
    assert!(
        raw::closed_by_peer(&mut s),
        "an unsupported version closes too, as Kafka does"
    );
    assert_serves_normally(&mut broker, "calm");
}

#[test]
fn a_corrupt_batch_crc_is_answered_with_corrupt_message() {
    let mut broker = setup();
    let mut batch = schloss_model::batch::build_uncompressed(
        0,
        now_ms(),
        (-1, -1, -1),
        &[(None, Some(b"payload"))],
    );
    let last = batch.len() - 1;
    batch[last] ^= 0xff;
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("calm")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.into()))])]);
    let mut s = raw::connect(&broker.bootstrap());
    let mut body = raw::call(&mut s, ApiKey::Produce, 8, &request);
    let response = ProduceResponse::decode(&mut body, 8).unwrap();
    assert_eq!(
        response.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    // The connection stays usable: a second request on it is answered.
    let mut body = raw::call(&mut s, ApiKey::Produce, 8, &request);
    assert!(body.remaining() > 0);
    let again = ProduceResponse::decode(&mut body, 8).unwrap();
    assert_eq!(again.responses[0].partition_responses[0].error_code, 2);
    assert_eq!(
        watermarks(&broker.bootstrap(), "calm", 0),
        (0, 0),
        "nothing was appended"
    );
    assert_serves_normally(&mut broker, "calm");
}

#[test]
fn an_api_versions_request_newer_than_ours_gets_the_v0_fallback() {
    let broker = setup();
    let mut s = raw::connect(&broker.bootstrap());
    // A flexible header (as a newer client sends it): client id, then empty tagged fields.
    s.write_all(&raw::frame_raw(ApiKey::ApiVersions as i16, 99, 42, &[0]))
        .unwrap();
    let mut resp = raw::read_response(&mut s).expect("a response");
    assert_eq!(resp.get_i32(), 42);
    assert_eq!(resp.get_i16(), 35, "UNSUPPORTED_VERSION");
    let count = resp.get_i32();
    let ranges: Vec<(i16, i16, i16)> = (0..count)
        .map(|_| (resp.get_i16(), resp.get_i16(), resp.get_i16()))
        .collect();
    assert!(ranges.contains(&(ApiKey::ApiVersions as i16, 0, 4)));
}
