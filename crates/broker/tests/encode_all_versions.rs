//! Every advertised api answers at every advertised version with a response that kafka-protocol
//! can encode at that version (it refuses to encode a field the version lacks, which would
//! otherwise close the client's connection).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use schloss_broker::topic_config::BrokerDefaults;
use schloss_broker::{
    Broker, BrokerSettings, ListenerInfo, Namespace, Reply, Session, SUPPORTED_APIS,
};
use schloss_model::{Principal, TenantId};
use schloss_protocol::request::Request;

fn name(s: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(s))
}

fn sample(api: ApiKey, version: i16, topic_id: uuid::Uuid) -> Option<Request> {
    let batch = schloss_model::batch::build_uncompressed(
        0,
        1_700_000_000_000,
        (-1, -1, -1),
        &[(None, Some(b"v"))],
    );
    Some(match api {
        ApiKey::ApiVersions => Request::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::Metadata => Request::Metadata(MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name("t"))),
            metadata_request::MetadataRequestTopic::default().with_name(Some(name("missing"))),
        ]))),
        ApiKey::Produce => Request::Produce(
            ProduceRequest::default().with_acks(1).with_topic_data(vec![
                produce_request::TopicProduceData::default()
                    .with_name(if version < 13 {
                        name("t")
                    } else {
                        TopicName::default()
                    })
                    .with_topic_id(if version >= 13 {
                        topic_id
                    } else {
                        uuid::Uuid::nil()
                    })
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(batch.into())),
                        produce_request::PartitionProduceData::default().with_index(7),
                    ]),
            ]),
        ),
        ApiKey::Fetch => Request::Fetch(
            FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(if version < 13 {
                        name("t")
                    } else {
                        TopicName::default()
                    })
                    .with_topic_id(if version >= 13 {
                        topic_id
                    } else {
                        uuid::Uuid::nil()
                    })
                    .with_partitions(vec![
                        fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20),
                        fetch_request::FetchPartition::default()
                            .with_partition(9)
                            .with_partition_max_bytes(1 << 20),
                        fetch_request::FetchPartition::default()
                            .with_fetch_offset(99)
                            .with_partition_max_bytes(1 << 20),
                    ])]),
        ),
        ApiKey::ListOffsets => Request::ListOffsets(
            ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(name("t"))
                    .with_partitions(
                        [-1i64, -2, -3, 0]
                            .iter()
                            .map(|ts| {
                                list_offsets_request::ListOffsetsPartition::default()
                                    .with_timestamp(*ts)
                            })
                            .collect(),
                    ),
            ]),
        ),
        ApiKey::OffsetForLeaderEpoch => Request::OffsetForLeaderEpoch(
            OffsetForLeaderEpochRequest::default().with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(name("t"))
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default(),
                    ]),
            ]),
        ),
        ApiKey::CreateTopics => Request::CreateTopics(
            CreateTopicsRequest::default().with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name("new"))
                    .with_num_partitions(2)
                    .with_replication_factor(1),
                create_topics_request::CreatableTopic::default()
                    .with_name(name("t"))
                    .with_num_partitions(1)
                    .with_replication_factor(1),
            ]),
        ),
        ApiKey::DeleteTopics if version < 6 => Request::DeleteTopics(
            DeleteTopicsRequest::default().with_topic_names(vec![name("new"), name("missing")]),
        ),
        ApiKey::DeleteTopics => {
            Request::DeleteTopics(DeleteTopicsRequest::default().with_topics(vec![
            delete_topics_request::DeleteTopicState::default().with_name(Some(name("new"))),
            delete_topics_request::DeleteTopicState::default().with_topic_id(uuid::Uuid::new_v4()),
        ]))
        }
        ApiKey::CreatePartitions => Request::CreatePartitions(
            CreatePartitionsRequest::default().with_topics(vec![
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(name("t"))
                    .with_count(1),
            ]),
        ),
        ApiKey::DeleteRecords => Request::DeleteRecords(
            DeleteRecordsRequest::default().with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(name("t"))
                    .with_partitions(vec![
                        delete_records_request::DeleteRecordsPartition::default().with_offset(0),
                    ]),
            ]),
        ),
        ApiKey::DescribeConfigs => Request::DescribeConfigs(
            DescribeConfigsRequest::default()
                .with_include_synonyms(true)
                .with_include_documentation(version >= 3)
                .with_resources(vec![
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_static_str("t")),
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(4)
                        .with_resource_name(StrBytes::from_static_str("1")),
                ]),
        ),
        ApiKey::AlterConfigs => {
            Request::AlterConfigs(AlterConfigsRequest::default().with_resources(vec![
            alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("t"))
                .with_configs(vec![alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("1000")))]),
        ]))
        }
        ApiKey::IncrementalAlterConfigs => Request::IncrementalAlterConfigs(
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("t"))
                    .with_configs(vec![
                        incremental_alter_configs_request::AlterableConfig::default()
                            .with_name(StrBytes::from_static_str("retention.ms"))
                            .with_value(Some(StrBytes::from_static_str("2000"))),
                    ]),
            ]),
        ),
        ApiKey::DescribeCluster => Request::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::DescribeTopicPartitions => Request::DescribeTopicPartitions(
            DescribeTopicPartitionsRequest::default().with_response_partition_limit(10),
        ),
        ApiKey::InitProducerId => Request::InitProducerId(
            InitProducerIdRequest::default()
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ),
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answers_every_version_with_an_encodable_response() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(BrokerSettings {
        node_id: 1,
        data_dir: dir.path().to_owned(),
        num_partitions: 1,
        auto_create_topics: false,
        socket_request_max_bytes: 1 << 20,
        topic_defaults: BrokerDefaults::default(),
    })
    .await
    .unwrap();
    let tenant = TenantId::new("acme").unwrap();
    let session = Session {
        principal: Principal::anonymous(tenant.clone()),
        namespace: Namespace::Tenant(tenant),
        listener: ListenerInfo {
            name: "PLAINTEXT".into(),
            advertised_host: "localhost".into(),
            advertised_port: 9092,
        },
    };
    let create = CreateTopicsRequest::default().with_topics(vec![
        create_topics_request::CreatableTopic::default()
            .with_name(name("t"))
            .with_num_partitions(1)
            .with_replication_factor(-1),
    ]);
    assert!(matches!(
        broker
            .handle(&session, 7, Request::CreateTopics(create))
            .await,
        Reply::Now(_)
    ));
    let topic_id = broker.metadata.image().topic("acme.t").unwrap().id;

    let mut checked = 0;
    for (api, min, max) in SUPPORTED_APIS {
        for version in *min..=*max {
            let Some(request) = sample(*api, version, topic_id) else {
                continue;
            };
            let response = match broker.handle(&session, version, request).await {
                Reply::Now(r) => *r,
                Reply::Later(f) => f.await,
                Reply::Nothing => panic!("{api:?} v{version} sent no response"),
            };
            schloss_protocol::response::encode_response(*api, version, 1, &response)
                .unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"));
            checked += 1;
        }
    }
    assert!(checked >= 96, "checked {checked} api versions");
}
