//! Writes the seed corpora of the protocol, record and log targets (and of `connection`)
//! under `corpus/`. Run from `fuzz/`: `cargo run --example gen_corpus`.
//!
//! Requests are built with kafka-protocol's message types, with the values and at the
//! versions real clients send (librdkafka 2.x, the Java client 3.x/4.x, kafka-python), and
//! encoded by kafka-protocol. Record batches are encoded by kafka-protocol's record encoder
//! with its own codecs (flate2, snap, liblz4, libzstd) and by ours (the Java client's framing).
//! Partition directories are written by `PartitionLog` itself. Output is deterministic.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KpTimestampType,
};
use schloss_fuzz::batches::Template;
use schloss_fuzz::requests::RequestInput;
use schloss_log::{Durability, FileCache, Flusher, LogConfig, PartitionLog, TimestampType};
use schloss_model::batch::{BatchHeader, Compression, HEADER_LEN};
use schloss_model::TopicId;
use schloss_protocol::records::{decode_records, encode_batch};
use schloss_protocol::request::Request;

const TS: i64 = 1_732_000_000_000;
const ORDERS_ID: u128 = 0x5a1c_0b3e_9d2f_4c6a_8e71_0f2d_3b4a_5c6d;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

fn group(name: &str) -> GroupId {
    GroupId(s(name))
}

fn orders_id() -> TopicId {
    TopicId::from_u128(ORDERS_ID)
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    assert!(bytes.len() < 64 * 1024, "{target}/{name} is too large");
    let dir = PathBuf::from("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

// ---------------------------------------------------------------- record batches

fn kp_codec(codec: Compression) -> KpCompression {
    match codec {
        Compression::None => KpCompression::None,
        Compression::Gzip => KpCompression::Gzip,
        Compression::Snappy => KpCompression::Snappy,
        Compression::Lz4 => KpCompression::Lz4,
        Compression::Zstd => KpCompression::Zstd,
    }
}

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Records as a producer sends them: keys, a null key, a null value, headers.
fn records(n: i64, producer: (i64, i16, i32), transactional: bool) -> Vec<KpRecord> {
    (0..n)
        .map(|i| {
            let mut headers = IndexMap::new();
            if i % 2 == 0 {
                headers.insert(
                    s("traceparent"),
                    Some(Bytes::from(format!("00-{i:032x}-01"))),
                );
                headers.insert(s("empty"), None);
            }
            KpRecord {
                transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: producer.0,
                producer_epoch: producer.1,
                timestamp_type: KpTimestampType::Creation,
                offset: i,
                // kafka-protocol starts a new batch unless offset - sequence stays the same;
                // without a producer the base sequence is -1, as Kafka writes it.
                sequence: producer.2 + i as i32,
                timestamp: TS + i * 3,
                key: (i % 3 != 1).then(|| Bytes::from(format!("customer-{}", i % 7))),
                value: (i != 2).then(|| {
                    Bytes::from(format!(
                        "{{\"order\":{i},\"sku\":\"A-{:04}\",\"qty\":{}}}",
                        i * 37 % 10_000,
                        i % 5 + 1
                    ))
                }),
                headers,
            }
        })
        .collect()
}

fn kp_batch(records: &[KpRecord], codec: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: kp_codec(codec),
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).unwrap();
    buf.to_vec()
}

/// The same records re-encoded by our encoder (Java framing: xerial snappy, LZ4 frames).
fn our_batch(kp: &[u8], codec: Compression) -> Vec<u8> {
    let header = BatchHeader::parse(kp).unwrap();
    let records = decode_records(kp, 1 << 20).unwrap();
    encode_batch(&header, &records, codec).unwrap()
}

/// A transaction commit marker as the coordinator writes it (control batch, one record).
fn commit_marker(producer_id: i64, epoch: i16) -> Vec<u8> {
    let mut key = Vec::new();
    key.extend_from_slice(&0i16.to_be_bytes()); // version
    key.extend_from_slice(&1i16.to_be_bytes()); // COMMIT
    let mut value = Vec::new();
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&0i32.to_be_bytes()); // coordinator epoch
    let mut record = Vec::new();
    record.push(0u8);
    schloss_model::batch::put_varlong(&mut record, 0);
    schloss_model::batch::put_varlong(&mut record, 0);
    schloss_model::batch::put_varlong(&mut record, key.len() as i64);
    record.extend_from_slice(&key);
    schloss_model::batch::put_varlong(&mut record, value.len() as i64);
    record.extend_from_slice(&value);
    schloss_model::batch::put_varlong(&mut record, 0);
    let mut payload = Vec::new();
    schloss_model::batch::put_varlong(&mut payload, record.len() as i64);
    payload.extend_from_slice(&record);
    let mut template = Template::new(0x30, 1); // transactional | control
    template.producer_id = producer_id;
    template.producer_epoch = epoch;
    template.timestamp = TS + 100;
    template.seal(&payload).unwrap()
}

fn record_batch_corpus() {
    let plain = records(5, (-1, -1, -1), false);
    let idempotent = records(4, (4001, 0, 0), false);
    for codec in CODECS {
        let name = codec.name();
        let kp = kp_batch(&plain, codec);
        let header = BatchHeader::parse(&kp).unwrap();
        let count = u8::try_from(header.records_count).unwrap();
        let payload = &kp[HEADER_LEN..];
        write(
            "record_batch",
            &format!("raw_{name}"),
            &[&[0x00][..], &kp].concat(),
        );
        write(
            "record_batch",
            &format!("sealed_{name}"),
            &[&[0x10 | codec as u8, count][..], payload].concat(),
        );
        write(
            "record_batch",
            &format!("codec_{name}"),
            &[&[0x20 | codec as u8][..], payload].concat(),
        );
        if codec != Compression::None {
            // The Java client's framing of the same records, through our encoder.
            let ours = our_batch(&kp, codec);
            write(
                "record_batch",
                &format!("sealed_{name}_java_framing"),
                &[&[0x10 | codec as u8, count][..], &ours[HEADER_LEN..]].concat(),
            );
        }
    }
    // Several batches in a row, as in a produce request or a segment: idempotent zstd,
    // uncompressed, a transaction commit marker.
    let mut stream = vec![0x01];
    stream.extend(kp_batch(&idempotent, Compression::Zstd));
    stream.extend(kp_batch(&plain, Compression::None));
    stream.extend(commit_marker(4001, 0));
    write("record_batch", "raw_stream_idempotent_and_marker", &stream);
    let transactional = records(3, (4002, 3, 10), true);
    write(
        "record_batch",
        "raw_transactional_lz4",
        &[&[0x03][..], &kp_batch(&transactional, Compression::Lz4)].concat(),
    );
    let mut log_append = kp_batch(&plain, Compression::Gzip);
    schloss_model::batch::set_log_append_time(&mut log_append, TS + 5000);
    write(
        "record_batch",
        "raw_log_append_time_gzip",
        &[&[0x01][..], &log_append].concat(),
    );
}

// ---------------------------------------------------------------- requests

fn produce_request(version: i16, codec: Compression) -> ProduceRequest {
    let batch = kp_batch(&records(3, (4001, 0, 0), false), codec);
    let mut partition = produce_request::PartitionProduceData::default();
    partition.index = 0;
    partition.records = Some(Bytes::from(batch));
    let mut data = produce_request::TopicProduceData::default();
    if version >= 13 {
        data.topic_id = orders_id();
    } else {
        data.name = topic("orders");
    }
    data.partition_data = vec![partition];
    let mut r = ProduceRequest::default();
    r.acks = -1;
    r.timeout_ms = 30_000;
    r.topic_data = vec![data];
    r
}

fn fetch_request(version: i16) -> FetchRequest {
    let mut p = fetch_request::FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = 42;
    p.log_start_offset = -1;
    p.partition_max_bytes = 1_048_576;
    if version >= 9 {
        p.current_leader_epoch = 0;
    }
    let mut t = fetch_request::FetchTopic::default();
    if version >= 13 {
        t.topic_id = orders_id();
    } else {
        t.topic = topic("orders");
    }
    t.partitions = vec![p];
    let mut r = FetchRequest::default();
    if version <= 14 {
        r.replica_id = BrokerId(-1);
    }
    r.max_wait_ms = 500;
    r.min_bytes = 1;
    r.max_bytes = 52_428_800;
    r.isolation_level = 1;
    r.session_id = 0;
    r.session_epoch = -1;
    r.topics = vec![t];
    if version >= 11 {
        r.rack_id = s("");
    }
    r
}

fn metadata_request(version: i16, names: &[&str]) -> MetadataRequest {
    let mut r = MetadataRequest::default();
    r.topics = Some(
        names
            .iter()
            .map(|n| {
                let mut t = metadata_request::MetadataRequestTopic::default();
                t.name = Some(topic(n));
                t
            })
            .collect(),
    );
    // Only v4+ can carry `false`; librdkafka sends false (allow.auto.create.topics=false).
    r.allow_auto_topic_creation = version < 4;
    r
}

fn create_topics_request() -> CreateTopicsRequest {
    let mut config = create_topics_request::CreatableTopicConfig::default();
    config.name = s("cleanup.policy");
    config.value = Some(s("delete"));
    let mut retention = create_topics_request::CreatableTopicConfig::default();
    retention.name = s("retention.ms");
    retention.value = Some(s("86400000"));
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic("orders");
    t.num_partitions = 3;
    t.replication_factor = 1;
    t.configs = vec![config, retention];
    let mut r = CreateTopicsRequest::default();
    r.topics = vec![t];
    r.timeout_ms = 30_000;
    r
}

fn join_group_request(version: i16) -> JoinGroupRequest {
    // ConsumerProtocolSubscription v1: topics ["orders"], no user data, no owned partitions.
    let metadata: &[u8] = &[
        0, 1, 0, 0, 0, 1, 0, 6, b'o', b'r', b'd', b'e', b'r', b's', 0xff, 0xff, 0xff, 0xff, 0, 0,
        0, 0,
    ];
    let mut protocol = join_group_request::JoinGroupRequestProtocol::default();
    protocol.name = s("range");
    protocol.metadata = Bytes::from_static(metadata);
    let mut cooperative = protocol.clone();
    cooperative.name = s("cooperative-sticky");
    let mut r = JoinGroupRequest::default();
    r.group_id = group("billing");
    r.session_timeout_ms = 45_000;
    r.rebalance_timeout_ms = 300_000;
    r.member_id = s("");
    r.protocol_type = s("consumer");
    r.protocols = vec![protocol, cooperative];
    if version >= 8 {
        r.reason = Some(s("need to re-join with the given member-id"));
    }
    r
}

fn offset_commit_request(version: i16) -> OffsetCommitRequest {
    let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = 1234;
    p.committed_leader_epoch = if version >= 6 { 0 } else { -1 };
    p.committed_metadata = Some(s(""));
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = topic("orders");
    t.partitions = vec![p];
    let mut r = OffsetCommitRequest::default();
    r.group_id = group("billing");
    r.generation_id_or_member_epoch = 3;
    r.member_id = s("rdkafka-6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b");
    r.retention_time_ms = -1;
    r.topics = vec![t];
    r
}

fn offset_fetch_request(version: i16) -> OffsetFetchRequest {
    let mut r = OffsetFetchRequest::default();
    if version >= 8 {
        let mut t = offset_fetch_request::OffsetFetchRequestTopics::default();
        t.name = topic("orders");
        t.partition_indexes = vec![0, 1, 2];
        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
        g.group_id = group("billing");
        g.topics = Some(vec![t]);
        r.groups = vec![g];
        r.require_stable = true;
    } else {
        let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
        t.name = topic("orders");
        t.partition_indexes = vec![0, 1, 2];
        r.group_id = group("billing");
        r.topics = Some(vec![t]);
        r.require_stable = version >= 7;
    }
    r
}

fn list_offsets_request(version: i16) -> ListOffsetsRequest {
    let mut p = list_offsets_request::ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = -1; // latest
    if version >= 4 {
        p.current_leader_epoch = 0;
    }
    let mut t = list_offsets_request::ListOffsetsTopic::default();
    t.name = topic("orders");
    t.partitions = vec![p];
    let mut r = ListOffsetsRequest::default();
    r.replica_id = BrokerId(-1);
    r.isolation_level = if version >= 2 { 1 } else { 0 };
    r.topics = vec![t];
    if version >= 10 {
        r.timeout_ms = 30_000;
    }
    r
}

fn api_versions_request(name: &str, version: &str) -> ApiVersionsRequest {
    let mut r = ApiVersionsRequest::default();
    r.client_software_name = s(name);
    r.client_software_version = s(version);
    r
}

fn find_coordinator_request(version: i16) -> FindCoordinatorRequest {
    let mut r = FindCoordinatorRequest::default();
    if version >= 4 {
        r.coordinator_keys = vec![s("billing")];
    } else {
        r.key = s("billing");
    }
    r
}

fn sasl_authenticate(bytes: &'static [u8]) -> SaslAuthenticateRequest {
    let mut r = SaslAuthenticateRequest::default();
    r.auth_bytes = Bytes::from_static(bytes);
    r
}

fn sasl_handshake(mechanism: &str) -> SaslHandshakeRequest {
    let mut r = SaslHandshakeRequest::default();
    r.mechanism = s(mechanism);
    r
}

/// One sample per (api, version): the flexible version every current client uses, and for
/// the busiest APIs an older classic version as well.
fn sample_requests() -> Vec<(Request, i16, &'static str)> {
    let mut out: Vec<(Request, i16, &'static str)> = vec![
        (
            Request::ApiVersions(ApiVersionsRequest::default()),
            0,
            "kafka-python",
        ),
        (
            Request::ApiVersions(api_versions_request("librdkafka", "2.6.1")),
            3,
            "librdkafka",
        ),
        (
            Request::ApiVersions(api_versions_request("apache-kafka-java", "3.9.0")),
            4,
            "java",
        ),
        (Request::SaslHandshake(sasl_handshake("PLAIN")), 1, "plain"),
        (
            Request::SaslHandshake(sasl_handshake("SCRAM-SHA-512")),
            1,
            "scram",
        ),
        (
            Request::SaslAuthenticate(sasl_authenticate(b"\0acme/alice\0alice-secret")),
            1,
            "plain",
        ),
        (
            Request::SaslAuthenticate(sasl_authenticate(
                b"n,,n=acme/alice,r=fyko+d2lbbFgONRv9qkxdawL",
            )),
            2,
            "scram_client_first",
        ),
        (
            Request::Metadata(MetadataRequest::default()),
            1,
            "all_topics",
        ),
        (
            Request::Metadata(metadata_request(4, &["orders"])),
            4,
            "orders",
        ),
        (
            Request::Metadata(metadata_request(12, &["orders", "payments"])),
            12,
            "two_topics",
        ),
        (
            Request::Produce(produce_request(3, Compression::None)),
            3,
            "kafka-python",
        ),
        (
            Request::Produce(produce_request(7, Compression::Snappy)),
            7,
            "librdkafka_snappy",
        ),
        (
            Request::Produce(produce_request(9, Compression::Lz4)),
            9,
            "java_lz4",
        ),
        (
            Request::Produce(produce_request(11, Compression::Zstd)),
            11,
            "java_zstd",
        ),
        (
            Request::Produce(produce_request(13, Compression::Gzip)),
            13,
            "topic_id_gzip",
        ),
        (Request::Fetch(fetch_request(4)), 4, "classic"),
        (Request::Fetch(fetch_request(11)), 11, "librdkafka"),
        (Request::Fetch(fetch_request(12)), 12, "flexible"),
        (Request::Fetch(fetch_request(15)), 15, "no_replica_id"),
        (Request::Fetch(fetch_request(17)), 17, "topic_id"),
        (Request::ListOffsets(list_offsets_request(1)), 1, "classic"),
        (Request::ListOffsets(list_offsets_request(7)), 7, "flexible"),
        (Request::CreateTopics(create_topics_request()), 2, "classic"),
        (
            Request::CreateTopics(create_topics_request()),
            5,
            "flexible",
        ),
        (
            Request::FindCoordinator(find_coordinator_request(1)),
            1,
            "classic",
        ),
        (
            Request::FindCoordinator(find_coordinator_request(4)),
            4,
            "batched",
        ),
        (Request::JoinGroup(join_group_request(5)), 5, "librdkafka"),
        (Request::JoinGroup(join_group_request(9)), 9, "java"),
        (
            Request::OffsetCommit(offset_commit_request(2)),
            2,
            "classic",
        ),
        (
            Request::OffsetCommit(offset_commit_request(8)),
            8,
            "flexible",
        ),
        (Request::OffsetFetch(offset_fetch_request(1)), 1, "classic"),
        (Request::OffsetFetch(offset_fetch_request(8)), 8, "groups"),
    ];
    out.extend(more_requests());
    out
}

/// One flexible sample for each remaining API.
fn more_requests() -> Vec<(Request, i16, &'static str)> {
    let mut cluster = DescribeClusterRequest::default();
    cluster.include_cluster_authorized_operations = true;

    let mut dtp_topic = describe_topic_partitions_request::TopicRequest::default();
    dtp_topic.name = topic("orders");
    let mut cursor = describe_topic_partitions_request::Cursor::default();
    cursor.topic_name = topic("orders");
    cursor.partition_index = 2;
    let mut dtp = DescribeTopicPartitionsRequest::default();
    dtp.topics = vec![dtp_topic];
    dtp.response_partition_limit = 2000;
    dtp.cursor = Some(cursor);

    let mut delete_topic = delete_topics_request::DeleteTopicState::default();
    delete_topic.name = Some(topic("orders"));
    let mut delete_topics = DeleteTopicsRequest::default();
    delete_topics.topics = vec![delete_topic];
    delete_topics.timeout_ms = 30_000;

    let mut cp_topic = create_partitions_request::CreatePartitionsTopic::default();
    cp_topic.name = topic("orders");
    cp_topic.count = 6;
    let mut create_partitions = CreatePartitionsRequest::default();
    create_partitions.topics = vec![cp_topic];
    create_partitions.timeout_ms = 30_000;

    let mut init_pid = InitProducerIdRequest::default();
    init_pid.transactional_id = Some(TransactionalId(s("billing-tx-1")));
    init_pid.transaction_timeout_ms = 60_000;
    init_pid.producer_id = ProducerId(-1);
    init_pid.producer_epoch = -1;

    let mut ofle_p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default();
    ofle_p.partition = 0;
    ofle_p.current_leader_epoch = 0;
    ofle_p.leader_epoch = 0;
    let mut ofle_t = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
    ofle_t.topic = topic("orders");
    ofle_t.partitions = vec![ofle_p];
    let mut ofle = OffsetForLeaderEpochRequest::default();
    ofle.replica_id = BrokerId(-2);
    ofle.topics = vec![ofle_t];

    let mut dr_p = delete_records_request::DeleteRecordsPartition::default();
    dr_p.partition_index = 0;
    dr_p.offset = 100;
    let mut dr_t = delete_records_request::DeleteRecordsTopic::default();
    dr_t.name = topic("orders");
    dr_t.partitions = vec![dr_p];
    let mut delete_records = DeleteRecordsRequest::default();
    delete_records.topics = vec![dr_t];
    delete_records.timeout_ms = 30_000;

    let mut dc_res = describe_configs_request::DescribeConfigsResource::default();
    dc_res.resource_type = 2; // topic
    dc_res.resource_name = s("orders");
    dc_res.configuration_keys = Some(vec![s("retention.ms"), s("cleanup.policy")]);
    let mut describe_configs = DescribeConfigsRequest::default();
    describe_configs.resources = vec![dc_res];
    describe_configs.include_synonyms = true;

    let mut ac_cfg = alter_configs_request::AlterableConfig::default();
    ac_cfg.name = s("retention.ms");
    ac_cfg.value = Some(s("3600000"));
    let mut ac_res = alter_configs_request::AlterConfigsResource::default();
    ac_res.resource_type = 2;
    ac_res.resource_name = s("orders");
    ac_res.configs = vec![ac_cfg];
    let mut alter_configs = AlterConfigsRequest::default();
    alter_configs.resources = vec![ac_res];

    let mut iac_cfg = incremental_alter_configs_request::AlterableConfig::default();
    iac_cfg.name = s("max.message.bytes");
    iac_cfg.config_operation = 0; // SET
    iac_cfg.value = Some(s("2097152"));
    let mut iac_res = incremental_alter_configs_request::AlterConfigsResource::default();
    iac_res.resource_type = 2;
    iac_res.resource_name = s("orders");
    iac_res.configs = vec![iac_cfg];
    let mut incremental = IncrementalAlterConfigsRequest::default();
    incremental.resources = vec![iac_res];

    let member = "consumer-billing-1-5e0b1c3a-7d2f-4a8e-b6c9-0d1e2f3a4b5c";
    let mut assignment = sync_group_request::SyncGroupRequestAssignment::default();
    assignment.member_id = s(member);
    // ConsumerProtocolAssignment v0: orders [0, 1, 2], no user data.
    assignment.assignment = Bytes::from_static(&[
        0, 0, 0, 0, 0, 1, 0, 6, b'o', b'r', b'd', b'e', b'r', b's', 0, 0, 0, 3, 0, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff,
    ]);
    let mut sync = SyncGroupRequest::default();
    sync.group_id = group("billing");
    sync.generation_id = 1;
    sync.member_id = s(member);
    sync.protocol_type = Some(s("consumer"));
    sync.protocol_name = Some(s("range"));
    sync.assignments = vec![assignment];

    let mut heartbeat = HeartbeatRequest::default();
    heartbeat.group_id = group("billing");
    heartbeat.generation_id = 1;
    heartbeat.member_id = s(member);

    let mut identity = leave_group_request::MemberIdentity::default();
    identity.member_id = s(member);
    identity.reason = Some(s("the consumer is being closed"));
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = group("billing");
    leave.members = vec![identity];

    let mut list_groups = ListGroupsRequest::default();
    list_groups.states_filter = vec![s("Stable"), s("Empty")];
    list_groups.types_filter = vec![s("classic")];

    let mut describe_groups = DescribeGroupsRequest::default();
    describe_groups.groups = vec![group("billing")];
    describe_groups.include_authorized_operations = true;

    let mut delete_groups = DeleteGroupsRequest::default();
    delete_groups.groups_names = vec![group("billing")];

    let mut od_p = offset_delete_request::OffsetDeleteRequestPartition::default();
    od_p.partition_index = 0;
    let mut od_t = offset_delete_request::OffsetDeleteRequestTopic::default();
    od_t.name = topic("orders");
    od_t.partitions = vec![od_p];
    let mut offset_delete = OffsetDeleteRequest::default();
    offset_delete.group_id = group("billing");
    offset_delete.topics = vec![od_t];

    let mut cgh = ConsumerGroupHeartbeatRequest::default();
    cgh.group_id = group("billing");
    cgh.member_id = s("");
    cgh.member_epoch = 0;
    cgh.rebalance_timeout_ms = 300_000;
    cgh.subscribed_topic_names = Some(vec![topic("orders")]);
    cgh.server_assignor = Some(s("uniform"));
    cgh.topic_partitions = Some(vec![]);

    let mut cgd = ConsumerGroupDescribeRequest::default();
    cgd.group_ids = vec![group("billing")];

    let mut user = describe_user_scram_credentials_request::UserName::default();
    user.name = s("acme/alice");
    let mut describe_scram = DescribeUserScramCredentialsRequest::default();
    describe_scram.users = Some(vec![user]);

    let mut upsert = alter_user_scram_credentials_request::ScramCredentialUpsertion::default();
    upsert.name = s("acme/bob");
    upsert.mechanism = 2; // SCRAM-SHA-512
    upsert.iterations = 8192;
    upsert.salt = Bytes::from_static(b"0123456789abcdef");
    upsert.salted_password = Bytes::from(vec![0x5a; 64]);
    let mut deletion = alter_user_scram_credentials_request::ScramCredentialDeletion::default();
    deletion.name = s("acme/carol");
    deletion.mechanism = 1;
    let mut alter_scram = AlterUserScramCredentialsRequest::default();
    alter_scram.upsertions = vec![upsert];
    alter_scram.deletions = vec![deletion];

    vec![
        (Request::DescribeCluster(cluster), 1, "flexible"),
        (Request::DescribeTopicPartitions(dtp), 0, "cursor"),
        (Request::DeleteTopics(delete_topics), 6, "flexible"),
        (Request::CreatePartitions(create_partitions), 3, "flexible"),
        (Request::InitProducerId(init_pid), 4, "transactional"),
        (Request::OffsetForLeaderEpoch(ofle), 4, "flexible"),
        (Request::DeleteRecords(delete_records), 2, "flexible"),
        (Request::DescribeConfigs(describe_configs), 4, "flexible"),
        (Request::AlterConfigs(alter_configs), 2, "flexible"),
        (Request::IncrementalAlterConfigs(incremental), 1, "flexible"),
        (Request::SyncGroup(sync), 5, "flexible"),
        (Request::Heartbeat(heartbeat), 4, "flexible"),
        (Request::LeaveGroup(leave), 5, "reason"),
        (Request::ListGroups(list_groups), 5, "filters"),
        (Request::DescribeGroups(describe_groups), 5, "flexible"),
        (Request::DeleteGroups(delete_groups), 2, "flexible"),
        (Request::OffsetDelete(offset_delete), 0, "classic"),
        (Request::ConsumerGroupHeartbeat(cgh), 0, "join"),
        (Request::ConsumerGroupDescribe(cgd), 0, "flexible"),
        (
            Request::DescribeUserScramCredentials(describe_scram),
            0,
            "flexible",
        ),
        (
            Request::AlterUserScramCredentials(alter_scram),
            0,
            "flexible",
        ),
    ]
}

fn encode_body(request: &Request, version: i16) -> Vec<u8> {
    schloss_fuzz::requests::kp_encode(request, version)
        .unwrap_or_else(|e| panic!("{:?} v{version}: {e}", request.api_key()))
        .to_vec()
}

/// A whole request frame: size prefix, header (v1 or v2 as the version requires), body.
fn frame(request: &Request, version: i16, correlation_id: i32, client_id: &str) -> Vec<u8> {
    let api = request.api_key();
    let mut header = RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(s(client_id));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    buf.extend_from_slice(&encode_body(request, version));
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

fn frames(requests: &[(Request, i16)], client_id: &str) -> Vec<u8> {
    requests
        .iter()
        .enumerate()
        .flat_map(|(i, (r, v))| frame(r, *v, i as i32 + 1, client_id))
        .collect()
}

fn request_corpora() {
    for (request, version, label) in sample_requests() {
        let api = request.api_key();
        let body = encode_body(&request, version);
        let input = RequestInput::join(api, version, &body);
        let name = format!("{api:?}_v{version}_{label}");
        write("request_decode", &name, &input);
        write("request_differential", &name, &input);
    }
}

/// A seed name, the client id, and the requests with their versions.
type ClientSession = (&'static str, &'static str, Vec<(Request, i16)>);

/// Request sequences as clients open a connection and use it.
fn sessions() -> Vec<ClientSession> {
    let librdkafka = api_versions_request("librdkafka", "2.6.1");
    let java = api_versions_request("apache-kafka-java", "3.9.0");
    vec![
        (
            "librdkafka_produce",
            "rdkafka",
            vec![
                (Request::ApiVersions(librdkafka.clone()), 3),
                (Request::Metadata(metadata_request(12, &["orders"])), 12),
                (Request::CreateTopics(create_topics_request()), 5),
                (Request::Produce(produce_request(7, Compression::Snappy)), 7),
                (Request::ListOffsets(list_offsets_request(7)), 7),
                (Request::Fetch(fetch_request(11)), 11),
            ],
        ),
        (
            "java_produce_fetch",
            "producer-1",
            vec![
                (Request::ApiVersions(java.clone()), 4),
                (Request::Metadata(metadata_request(12, &["orders"])), 12),
                (Request::InitProducerId(InitProducerIdRequest::default()), 5),
                (Request::Produce(produce_request(11, Compression::Lz4)), 11),
                (Request::Fetch(fetch_request(15)), 15),
            ],
        ),
        (
            "java_consumer_group",
            "consumer-billing-1",
            vec![
                (Request::ApiVersions(java), 4),
                (Request::FindCoordinator(find_coordinator_request(4)), 4),
                (Request::OffsetFetch(offset_fetch_request(8)), 8),
                (Request::OffsetCommit(offset_commit_request(8)), 8),
            ],
        ),
        (
            "kafka_python_classic",
            "kafka-python-2.0.2",
            vec![
                (Request::ApiVersions(ApiVersionsRequest::default()), 0),
                (Request::Metadata(metadata_request(1, &["orders"])), 1),
                (Request::Produce(produce_request(3, Compression::Gzip)), 3),
                (Request::Fetch(fetch_request(4)), 4),
            ],
        ),
        (
            "sasl_plain",
            "rdkafka",
            vec![
                (Request::ApiVersions(librdkafka.clone()), 3),
                (Request::SaslHandshake(sasl_handshake("PLAIN")), 1),
                (
                    Request::SaslAuthenticate(sasl_authenticate(b"\0acme/alice\0alice-secret")),
                    2,
                ),
                (Request::Metadata(metadata_request(12, &["orders"])), 12),
            ],
        ),
        (
            "sasl_scram",
            "rdkafka",
            vec![
                (Request::ApiVersions(librdkafka), 3),
                (Request::SaslHandshake(sasl_handshake("SCRAM-SHA-256")), 1),
                (
                    Request::SaslAuthenticate(sasl_authenticate(
                        b"n,,n=acme/alice,r=fyko+d2lbbFgONRv9qkxdawL",
                    )),
                    2,
                ),
            ],
        ),
    ]
}

fn frame_corpora() {
    for (name, client_id, requests) in sessions() {
        let stream = frames(&requests, client_id);
        write("frame_header", name, &stream);
        // `connection`: the first byte picks the initial state: 0 plaintext, 1 SASL.
        let state = u8::from(name.starts_with("sasl"));
        write("connection", name, &[&[state][..], &stream].concat());
    }
    // The v0 fallback: a client newer than us asks for ApiVersions v9.
    let mut newer = frame(
        &Request::ApiVersions(api_versions_request("future", "9")),
        4,
        1,
        "x",
    );
    newer[7] = 9; // api version, low byte
    write("frame_header", "api_versions_from_the_future", &newer);
    write(
        "connection",
        "api_versions_from_the_future",
        &[&[0u8][..], &newer].concat(),
    );
}

// ---------------------------------------------------------------- partition directories

/// `len u16 | bytes`, or 0xffff for a missing file.
fn part(out: &mut Vec<u8>, file: Option<&[u8]>) {
    match file {
        Some(bytes) => {
            out.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_be_bytes());
            out.extend_from_slice(bytes);
        }
        None => out.extend_from_slice(&u16::MAX.to_be_bytes()),
    }
}

fn read(dir: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(name)).ok()
}

/// Writes batches into a fresh partition directory with `PartitionLog` and returns it.
fn partition_dir(
    segment_bytes: u64,
    batches: &[Vec<u8>],
    delete_before: Option<i64>,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes,
        index_interval_bytes: 64,
        durability: Durability::OsCache,
        retention_ms: -1,
        timestamp_type: TimestampType::CreateTime,
        ..LogConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config, Flusher::start(), FileCache::new(64)).unwrap();
    for batch in batches {
        log.append(BytesMut::from(&batch[..]), TS + 10_000, 0)
            .unwrap();
    }
    if let Some(offset) = delete_before {
        log.delete_records_before(offset).unwrap();
    }
    log.close().unwrap();
    dir
}

fn segment_bases(dir: &Path) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    bases.sort_unstable();
    bases
}

/// Packs the first two segments of `dir` (and its checkpoint, if any) into an input.
fn pack(
    dir: &Path,
    extra_flags: u8,
    edit: impl Fn(u64, &str, Vec<u8>) -> Option<Vec<u8>>,
) -> Vec<u8> {
    let bases = segment_bases(dir);
    let checkpoint = read(dir, "log-start-offset.checkpoint");
    let mut flags = extra_flags;
    if bases.len() > 1 {
        flags |= 1;
    }
    if checkpoint.is_some() {
        flags |= 2;
    }
    let mut out = vec![flags];
    for &base in bases.iter().take(2) {
        out.extend_from_slice(&base.to_be_bytes());
        for suffix in ["log", "index", "timeindex"] {
            let file =
                read(dir, &format!("{base:020}.{suffix}")).and_then(|f| edit(base, suffix, f));
            part(&mut out, file.as_deref());
        }
    }
    if let Some(checkpoint) = checkpoint {
        part(&mut out, Some(&checkpoint));
    }
    out
}

fn log_recovery_corpus() {
    let plain = |n| kp_batch(&records(n, (-1, -1, -1), false), Compression::None);
    let keep = |_: u64, _: &str, f: Vec<u8>| Some(f);

    let one = partition_dir(1 << 20, &[plain(3), plain(2), plain(4)], None);
    write("log_recovery", "one_segment", &pack(one.path(), 0, keep));
    write(
        "log_recovery",
        "one_segment_no_indexes",
        &pack(one.path(), 0, |_, suffix, f| (suffix == "log").then_some(f)),
    );
    write(
        "log_recovery",
        "one_segment_torn_tail",
        &pack(one.path(), 0, |_, suffix, f| {
            Some(if suffix == "log" {
                f[..f.len() - 17].to_vec()
            } else {
                f
            })
        }),
    );
    write(
        "log_recovery",
        "one_segment_bad_crc_and_garbage_index",
        &pack(one.path(), 0, |_, suffix, mut f| {
            match suffix {
                "log" => {
                    let last = f.len() - 3;
                    f[last] ^= 0x40;
                }
                "index" => f.extend_from_slice(&[0xde, 0xad, 0xbe]),
                _ => {}
            }
            Some(f)
        }),
    );

    let batches: Vec<Vec<u8>> = (0..6).map(|i| plain(2 + i % 3)).collect();
    let two = partition_dir(700, &batches, None);
    write("log_recovery", "two_segments", &pack(two.path(), 0, keep));
    write(
        "log_recovery",
        "two_segments_retention",
        &pack(two.path(), 8, keep),
    );
    write(
        "log_recovery",
        "two_segments_corrupt_first",
        &pack(two.path(), 0, |base, suffix, mut f| {
            if base == 0 && suffix == "log" {
                f[20] ^= 1; // CRC of the first batch: only the header scan sees the old segment
                f.truncate(f.len() - 5);
            }
            Some(f)
        }),
    );

    let trimmed = partition_dir(700, &batches, Some(5));
    write(
        "log_recovery",
        "checkpointed_log_start",
        &pack(trimmed.path(), 16, keep),
    );

    let compressed: Vec<Vec<u8>> = [Compression::Gzip, Compression::Zstd, Compression::Lz4]
        .iter()
        .enumerate()
        .map(|(i, &codec)| kp_batch(&records(3, (4001, 0, 3 * i as i32), false), codec))
        .collect();
    let idempotent = partition_dir(1 << 20, &compressed, None);
    write(
        "log_recovery",
        "idempotent_compressed",
        &pack(idempotent.path(), 4, keep),
    );
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The reproducers of bugs the targets found (fixed; the targets fail on them should they
/// return) and of the kafka-protocol differences they document.
// ---------------------------------------------------------------- ACL requests

/// One creation: (resource type, name, pattern type, principal, host, operation, permission).
type Acl = (i8, &'static str, i8, &'static str, &'static str, i8, i8);

/// ACLs as `kafka-acls.sh` and the Admin client send them, and a few the model refuses or must
/// escape: a CLUSTER ACL, PREFIXED and `*` names, names with `"`, `\\`, `*` and a newline,
/// an IPv6 host, an unknown code, a principal of another type.
const ACLS: [Acl; 8] = [
    (2, "orders", 3, "User:alice", "*", 3, 3),
    (2, "orders-", 4, "User:*", "10.0.0.1", 4, 3),
    (3, "*", 3, "User:bob", "::1", 6, 2),
    (4, "kafka-cluster", 3, "User:ops", "*", 12, 3),
    (5, "tx\"\\*\n", 4, "User:svc", "*", 2, 2),
    (3, "billing*", 4, "User:a\"b", "*", 8, 3),
    (2, "x", 3, "Group:admins", "*", 3, 3),
    (2, "x", 3, "User:alice", "*", 99, 3),
];

fn acl_corpus() {
    let creations: Vec<create_acls_request::AclCreation> = ACLS
        .iter()
        .map(|&(kind, name, pattern, principal, host, op, perm)| {
            create_acls_request::AclCreation::default()
                .with_resource_type(kind)
                .with_resource_name(s(name))
                .with_resource_pattern_type(pattern)
                .with_principal(s(principal))
                .with_host(s(host))
                .with_operation(op)
                .with_permission_type(perm)
        })
        .collect();
    let filters: Vec<delete_acls_request::DeleteAclsFilter> = [
        (1, None, 1, None, None, 1, 1),
        (2, Some("orders-eu"), 2, Some("User:alice"), None, 1, 1),
        (3, Some("*"), 3, Some("User:*"), Some("::1"), 6, 2),
        (0, None, 1, None, None, 1, 1),
    ]
    .into_iter()
    .map(|(kind, name, pattern, principal, host, op, perm)| {
        delete_acls_request::DeleteAclsFilter::default()
            .with_resource_type_filter(kind)
            .with_resource_name_filter(name.map(s))
            .with_pattern_type_filter(pattern)
            .with_principal_filter(principal.map(s))
            .with_host_filter(host.map(s))
            .with_operation(op)
            .with_permission_type(perm)
    })
    .collect();
    for version in [1, 3] {
        let create = CreateAclsRequest::default().with_creations(creations.clone());
        let delete = DeleteAclsRequest::default().with_filters(filters.clone());
        let describe = DescribeAclsRequest::default()
            .with_resource_type_filter(2)
            .with_resource_name_filter(Some(s("orders")))
            .with_pattern_type_filter(2)
            .with_principal_filter(Some(s("User:alice")))
            .with_operation(1)
            .with_permission_type(1);
        for (name, api, body) in [
            ("CreateAcls", ApiKey::CreateAcls, encode(&create, version)),
            ("DeleteAcls", ApiKey::DeleteAcls, encode(&delete, version)),
            (
                "DescribeAcls",
                ApiKey::DescribeAcls,
                encode(&describe, version),
            ),
        ] {
            let seed = RequestInput::join(api, version, &body);
            write("acl_filters", &format!("{name}_v{version}"), &seed);
            // The same bodies seed the generic decoder targets (the ACL APIs are in DECODABLE).
            for target in ["request_decode", "request_differential"] {
                write(target, &format!("{name}_v{version}_acl"), &seed);
            }
        }
    }
}

fn encode(message: &impl Encodable, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

fn known_issue_seeds() {
    let fetch_tag_before_its_version =
        unhex("010e00000000000001f400000001001000000000000000ffffffff01010101010100");
    let fetch_tag_size =
        unhex("010cffffffff000001f400000001001000000000000000ffffffff01010102000201000700");
    // DescribeTopicPartitions v0, cursor marker 0 (Kafka and we: present; kafka-protocol: null).
    let cursor_marker_zero = unhex("4b000206746f70696300000007d000076f7264657273000000020000");
    for target in ["request_decode", "request_differential"] {
        write(
            target,
            "regression_fetch_tag_before_its_version",
            &fetch_tag_before_its_version,
        );
        write(target, "regression_fetch_tag_size", &fetch_tag_size);
        write(target, "difference_cursor_marker_zero", &cursor_marker_zero);
    }
    write(
        "log_recovery",
        "regression_checkpoint_above_log_end",
        &unhex("0200000000000000000000ffffffff0004300a350a"),
    );
    write(
        "log_recovery",
        "regression_segment_at_i64_max",
        &unhex("007fffffffffffffff0000ffffffff"),
    );
    // The uncompressed seed batch at base offset i64::MAX - 1 (its last offset overflows).
    let mut batch = kp_batch(&records(5, (-1, -1, -1), false), Compression::None);
    batch[..8].copy_from_slice(&(i64::MAX - 1).to_be_bytes());
    let mut input = vec![0u8];
    input.extend_from_slice(&0u64.to_be_bytes());
    part(&mut input, Some(&batch));
    part(&mut input, None);
    part(&mut input, None);
    write(
        "log_recovery",
        "regression_batch_last_offset_overflow",
        &input,
    );
}

fn main() {
    assert!(
        Path::new("fuzz_targets").is_dir(),
        "run from the fuzz directory: cargo run --example gen_corpus"
    );
    record_batch_corpus();
    request_corpora();
    frame_corpora();
    log_recovery_corpus();
    known_issue_seeds();
    acl_corpus();
    for target in [
        "frame_header",
        "request_decode",
        "request_differential",
        "record_batch",
        "log_recovery",
        "connection",
        "acl_filters",
    ] {
        let n = std::fs::read_dir(Path::new("corpus").join(target)).map_or(0, |d| d.count());
        println!("corpus/{target}: {n} files");
    }
}
