//! Shared helpers for the end-to-end suites in `tests/`: librdkafka clients (through the
//! `rdkafka` crate) configured against a broker started by `schloss-testkit`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

pub use schloss_testkit::{BrokerOptions, BrokerProcess};

pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

pub fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin = admin(bootstrap);
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = rt
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .expect("create_topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
}

/// A record as produced and as expected back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp: i64,
}

pub fn sample_records(n: usize, base_ts: i64) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            key: format!("key-{i}").into_bytes(),
            value: format!("value-{i}-{}", "x".repeat(i % 97)).into_bytes(),
            headers: vec![
                ("h".to_owned(), format!("{i}").into_bytes()),
                ("trace".to_owned(), vec![i as u8; 3]),
            ],
            timestamp: base_ts + i as i64,
        })
        .collect()
}

pub fn producer(
    bootstrap: &str,
    extra: &[(&str, &str)],
) -> ThreadedProducer<DefaultProducerContext> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().expect("producer")
}

/// Produces every record to one partition and waits until all are acknowledged.
pub fn produce_all(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    partition: i32,
    records: &[Rec],
) {
    for r in records {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &r.headers {
            headers = headers.insert(rdkafka::message::Header {
                key: k,
                value: Some(v),
            });
        }
        let mut record = BaseRecord::to(topic)
            .partition(partition)
            .key(&r.key)
            .payload(&r.value)
            .headers(headers)
            .timestamp(r.timestamp);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("send: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
}

pub fn consumer(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "schloss-e2e")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer")
}

/// Reads `n` records from one partition starting at the beginning, with their offsets.
pub fn consume(bootstrap: &str, topic: &str, partition: i32, n: usize) -> Vec<(i64, Rec)> {
    let consumer = consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(180);
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "timed out after {} of {n} records",
            out.len()
        );
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.unwrap_or_else(|e| panic!("consume: {e}"));
        let headers = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            msg.offset(),
            Rec {
                key: msg.key().unwrap_or_default().to_vec(),
                value: msg.payload().unwrap_or_default().to_vec(),
                headers,
                timestamp: msg.timestamp().to_millis().unwrap_or(-1),
            },
        ));
    }
    out
}

/// (low, high) watermarks of a partition.
pub fn watermarks(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    consumer(bootstrap)
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .expect("watermarks")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A raw Kafka connection speaking through kafka-protocol's client-side encoders, for tests
/// that must send exact bytes (hostile frames, hand-built batches).
pub mod raw {
    use bytes::{Buf, BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::{ApiKey, RequestHeader};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    pub fn connect(addr: &str) -> TcpStream {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Encodes a request frame with a v1/v2 header as the api and version require.
    pub fn frame<R: Encodable>(
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &R,
    ) -> Vec<u8> {
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("raw-test")));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, api.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let mut out = (buf.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// A frame from a header and a body given as raw bytes.
    pub fn frame_raw(api_key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        buf.put_i16(api_key);
        buf.put_i16(version);
        buf.put_i32(correlation_id);
        buf.put_i16(-1); // null client id
        buf.extend_from_slice(body);
        let mut out = (buf.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// Reads one response frame; `None` when the broker closed the connection.
    pub fn read_response(s: &mut TcpStream) -> Option<Bytes> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let len = i32::from_be_bytes(len) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    /// Sends a request and returns the response body after the correlation id (and, for
    /// flexible responses, the empty tagged-field byte).
    pub fn call<R: Encodable>(s: &mut TcpStream, api: ApiKey, version: i16, body: &R) -> Bytes {
        s.write_all(&frame(api, version, 7, body)).unwrap();
        let mut resp = read_response(s).expect("response");
        assert_eq!(resp.get_i32(), 7, "correlation id");
        if api.response_header_version(version) >= 1 {
            resp.advance(1);
        }
        resp
    }

    /// True when the broker has closed this connection (reads hit end of stream).
    pub fn closed_by_peer(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 1];
        matches!(s.read(&mut buf), Ok(0))
            || matches!(s.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}
