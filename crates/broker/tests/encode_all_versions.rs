//! Every advertised api answers at every advertised version with a response that kafka-protocol
//! can encode at that version (it refuses to encode a field the version lacks, which would
//! otherwise close the client's connection). And no api, at any version, answers a principal
//! without permissions, or another tenant's principal, differently for an existing topic than
//! for a missing one, by name or by id: the same samples, byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use schloss_broker::topic_config::BrokerDefaults;
use schloss_broker::{Broker, BrokerSettings, ListenerInfo, Reply, Session, SUPPORTED_APIS};
use schloss_model::TenantId;
use schloss_protocol::request::Request;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

/// What the samples name: the topic `topic` (by name), `id` (by id, from v13 of Produce and
/// Fetch), and `other_id` where a request names a second topic id.
struct Target<'a> {
    topic: &'a str,
    id: uuid::Uuid,
    other_id: uuid::Uuid,
}

fn sample(api: ApiKey, version: i16, target: &Target) -> Option<Request> {
    let topic_id = target.id;
    let batch = schloss_model::batch::build_uncompressed(
        0,
        1_700_000_000_000,
        (-1, -1, -1),
        &[(None, Some(b"v"))],
    );
    Some(match api {
        ApiKey::ApiVersions => Request::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::Metadata => Request::Metadata(MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name(target.topic))),
            metadata_request::MetadataRequestTopic::default().with_name(Some(name("missing"))),
        ]))),
        ApiKey::Produce => {
            Request::Produce(ProduceRequest::default().with_acks(1).with_topic_data(vec![
                produce_request::TopicProduceData::default()
                    .with_name(if version < 13 {
                        name(target.topic)
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
            ]))
        }
        ApiKey::Fetch => Request::Fetch(
            FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(if version < 13 {
                        name(target.topic)
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
        ApiKey::ListOffsets => {
            Request::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(name(target.topic))
                    .with_partitions(
                        [-1i64, -2, -3, 0]
                            .iter()
                            .map(|ts| {
                                list_offsets_request::ListOffsetsPartition::default()
                                    .with_timestamp(*ts)
                            })
                            .collect(),
                    ),
            ]))
        }
        ApiKey::OffsetForLeaderEpoch => {
            Request::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default().with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(name(target.topic))
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default(),
                    ]),
            ]))
        }
        ApiKey::CreateTopics => {
            Request::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name("new"))
                    .with_num_partitions(2)
                    .with_replication_factor(1),
                create_topics_request::CreatableTopic::default()
                    .with_name(name(target.topic))
                    .with_num_partitions(1)
                    .with_replication_factor(1),
            ]))
        }
        ApiKey::DeleteTopics if version < 6 => Request::DeleteTopics(
            DeleteTopicsRequest::default().with_topic_names(vec![name("new"), name("missing")]),
        ),
        ApiKey::DeleteTopics => {
            Request::DeleteTopics(DeleteTopicsRequest::default().with_topics(vec![
                delete_topics_request::DeleteTopicState::default().with_name(Some(name("new"))),
                delete_topics_request::DeleteTopicState::default().with_topic_id(target.other_id),
            ]))
        }
        ApiKey::CreatePartitions => {
            Request::CreatePartitions(CreatePartitionsRequest::default().with_topics(vec![
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(name(target.topic))
                    .with_count(1),
            ]))
        }
        ApiKey::DeleteRecords => {
            Request::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(name(target.topic))
                    .with_partitions(vec![
                        delete_records_request::DeleteRecordsPartition::default().with_offset(0),
                    ]),
            ]))
        }
        ApiKey::DescribeConfigs => Request::DescribeConfigs(
            DescribeConfigsRequest::default()
                .with_include_synonyms(true)
                .with_include_documentation(version >= 3)
                .with_resources(vec![
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_string(target.topic.to_owned())),
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(4)
                        .with_resource_name(StrBytes::from_static_str("1")),
                ]),
        ),
        ApiKey::AlterConfigs => {
            Request::AlterConfigs(AlterConfigsRequest::default().with_resources(vec![
            alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_string(target.topic.to_owned()))
                .with_configs(vec![alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("1000")))]),
        ]))
        }
        ApiKey::IncrementalAlterConfigs => Request::IncrementalAlterConfigs(
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_string(target.topic.to_owned()))
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
        ApiKey::FindCoordinator => Request::FindCoordinator(
            FindCoordinatorRequest::default()
                .with_key(if version < 4 {
                    StrBytes::from_static_str("g")
                } else {
                    StrBytes::default()
                })
                .with_coordinator_keys(if version >= 4 {
                    vec![StrBytes::from_static_str("g")]
                } else {
                    Vec::new()
                }),
        ),
        ApiKey::JoinGroup => Request::JoinGroup(
            JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_session_timeout_ms(6_000)
                .with_rebalance_timeout_ms(100)
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
                )
                .with_name(StrBytes::from_static_str("range"))
                .with_metadata(bytes::Bytes::from_static(b"\0\0\0\0\0\0"))]),
        ),
        ApiKey::SyncGroup => Request::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_member_id(StrBytes::from_static_str("nobody")),
        ),
        ApiKey::Heartbeat => Request::Heartbeat(
            HeartbeatRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_member_id(StrBytes::from_static_str("nobody")),
        ),
        ApiKey::LeaveGroup if version < 3 => Request::LeaveGroup(
            LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_member_id(StrBytes::from_static_str("nobody")),
        ),
        ApiKey::LeaveGroup => Request::LeaveGroup(
            LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_members(vec![leave_group_request::MemberIdentity::default()
                    .with_member_id(StrBytes::from_static_str("nobody"))]),
        ),
        ApiKey::OffsetCommit => Request::OffsetCommit(
            OffsetCommitRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("simple")))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(if version < 10 {
                            name(target.topic)
                        } else {
                            TopicName::default()
                        })
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_committed_offset(0)
                                .with_committed_metadata(Some(StrBytes::from_static_str("meta"))),
                        ]),
                ]),
        ),
        ApiKey::OffsetFetch if version < 8 => Request::OffsetFetch(
            OffsetFetchRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("simple")))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(name(target.topic))
                        .with_partition_indexes(vec![0, 1]),
                ])),
        ),
        ApiKey::OffsetFetch => {
            Request::OffsetFetch(OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("simple")))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name(name(target.topic))
                            .with_partition_indexes(vec![0, 1]),
                    ])),
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("none"))),
            ]))
        }
        ApiKey::ListGroups => Request::ListGroups(ListGroupsRequest::default()),
        ApiKey::DescribeGroups => {
            Request::DescribeGroups(DescribeGroupsRequest::default().with_groups(vec![
                GroupId(StrBytes::from_static_str("g")),
                GroupId(StrBytes::from_static_str("none")),
            ]))
        }
        ApiKey::DeleteGroups => Request::DeleteGroups(
            DeleteGroupsRequest::default()
                .with_groups_names(vec![GroupId(StrBytes::from_static_str("none"))]),
        ),
        ApiKey::OffsetDelete => Request::OffsetDelete(
            OffsetDeleteRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("simple")))
                .with_topics(vec![
                    offset_delete_request::OffsetDeleteRequestTopic::default()
                        .with_name(name(target.topic))
                        .with_partitions(vec![
                            offset_delete_request::OffsetDeleteRequestPartition::default(),
                        ]),
                ]),
        ),
        ApiKey::ConsumerGroupHeartbeat => Request::ConsumerGroupHeartbeat(
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("kip848")))
                .with_member_id(StrBytes::from_string(uuid::Uuid::new_v4().to_string()))
                .with_member_epoch(0)
                .with_rebalance_timeout_ms(10_000)
                .with_subscribed_topic_names(Some(vec![name(target.topic)]))
                .with_topic_partitions(Some(Vec::new())),
        ),
        ApiKey::ConsumerGroupDescribe => Request::ConsumerGroupDescribe(
            ConsumerGroupDescribeRequest::default().with_group_ids(vec![
                GroupId(StrBytes::from_static_str("kip848")),
                GroupId(StrBytes::from_static_str("none")),
            ]),
        ),
        ApiKey::DescribeUserScramCredentials => {
            Request::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default())
        }
        ApiKey::AlterUserScramCredentials => Request::AlterUserScramCredentials(
            AlterUserScramCredentialsRequest::default().with_deletions(vec![
                alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                    .with_name(StrBytes::from_static_str("acme/bob"))
                    .with_mechanism(1),
            ]),
        ),
        ApiKey::DescribeAcls => Request::DescribeAcls(
            DescribeAclsRequest::default()
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
        ),
        ApiKey::CreateAcls => {
            Request::CreateAcls(CreateAclsRequest::default().with_creations(vec![
            create_acls_request::AclCreation::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_string(target.topic.to_owned()))
                .with_resource_pattern_type(3)
                .with_principal(StrBytes::from_static_str("User:alice"))
                .with_host(StrBytes::from_static_str("*"))
                .with_operation(3)
                .with_permission_type(3),
            // Refused (ANY in a binding): answered with its own error.
            create_acls_request::AclCreation::default().with_resource_type(1),
        ]))
        }
        ApiKey::DeleteAcls => Request::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
            delete_acls_request::DeleteAclsFilter::default()
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
        ])),
        // Served by the connection state machine, not the broker.
        ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => return None,
        // Not served: `every_supported_api_has_a_sample` keeps this arm for those only.
        _ => return None,
    })
}

fn settings(data_dir: std::path::PathBuf, auto_create_topics: bool) -> BrokerSettings {
    BrokerSettings {
        node_id: 1,
        data_dir,
        num_partitions: 1,
        auto_create_topics,
        socket_request_max_bytes: 1 << 20,
        connections_max_reauth_ms: 0,
        topic_defaults: BrokerDefaults::default(),
        groups: schloss_broker::groups::GroupConfig {
            initial_rebalance_delay_ms: 0,
            ..Default::default()
        },
        storage: Default::default(),
    }
}

/// Creates `topic` as `session` and returns its id. The image answers only capabilities from
/// the access gate, so the id comes from the CreateTopics response, as a client would learn it.
async fn create_topic(
    broker: &Broker,
    session: &Session,
    topic: &str,
    partitions: i32,
) -> uuid::Uuid {
    let create = CreateTopicsRequest::default().with_topics(vec![
        create_topics_request::CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(-1),
    ]);
    let Reply::Now(created) = broker
        .handle(session, 7, Request::CreateTopics(create))
        .await
    else {
        panic!("CreateTopics answers at once");
    };
    let ResponseKind::CreateTopics(created) = *created else {
        panic!("CreateTopics answers a CreateTopicsResponse");
    };
    assert_eq!(created.topics[0].error_code, 0);
    let id = created.topics[0].topic_id;
    assert!(!id.is_nil());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answers_every_version_with_an_encodable_response() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(settings(dir.path().to_owned(), false))
        .await
        .unwrap();
    let session = session("acme", "PLAINTEXT");
    let topic_id = create_topic(&broker, &session, "t", 1).await;

    let mut checked = 0;
    for (api, min, max) in SUPPORTED_APIS {
        for version in *min..=*max {
            let target = Target {
                topic: "t",
                id: topic_id,
                other_id: uuid::Uuid::new_v4(),
            };
            let Some(request) = sample(*api, version, &target) else {
                continue;
            };
            answer(&broker, &session, *api, version, request).await;
            checked += 1;
        }
    }
    assert!(checked >= 150, "checked {checked} api versions");
}

#[test]
fn every_supported_api_has_a_sample() {
    for (api, min, _) in SUPPORTED_APIS {
        let served_by_the_connection =
            matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate);
        assert!(
            served_by_the_connection
                || sample(
                    *api,
                    *min,
                    &Target {
                        topic: "t",
                        id: uuid::Uuid::nil(),
                        other_id: uuid::Uuid::nil(),
                    }
                )
                .is_some(),
            "{api:?} is advertised but has no sample here"
        );
    }
}

/// Runs `request` and encodes the answer, which must exist and encode at `version`.
async fn answer(
    broker: &Broker,
    session: &Session,
    api: ApiKey,
    version: i16,
    request: Request,
) -> Vec<u8> {
    let response = match broker.handle(session, version, request).await {
        Reply::Now(r) => *r,
        Reply::Later(f) => f.await,
        Reply::Nothing => panic!("{api:?} v{version} sent no response"),
    };
    schloss_protocol::response::encode_response(api, version, 1, &response)
        .unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"))
        .to_vec()
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

fn session(tenant: &str, listener: &str) -> Session {
    Session::new(
        schloss_auth::Authenticated::anonymous(TenantId::new(tenant).unwrap()),
        ListenerInfo {
            name: listener.into(),
            advertised_host: "localhost".into(),
            advertised_port: 9092,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_api_tells_whether_a_topic_it_may_not_see_exists() {
    use schloss_broker::access::{Gate, NoAudit, PolicyAuthorizer};
    use schloss_policy::{Mode, PolicyStore, StoreConfig};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(
        repo.join("policies/base.cedar"),
        policies.join("base.cedar"),
    )
    .unwrap();
    // acme's principal may do everything, but only through the listener ADMIN; globex's may
    // only describe (so nothing it sends changes state or draws random ids).
    std::fs::write(
        policies.join("leak.cedar"),
        r#"@id("acme-admin-listener")
permit (principal == Kafka::User::"acme/ANONYMOUS", action, resource in Kafka::Tenant::"acme")
when { context.listener == "ADMIN" };

@id("globex-describes")
permit (
  principal == Kafka::User::"globex/ANONYMOUS",
  action in [Kafka::Action::"Describe", Kafka::Action::"DescribeConfigs"],
  resource in Kafka::Tenant::"globex"
);
"#,
    )
    .unwrap();
    let store = Arc::new(
        PolicyStore::open(
            StoreConfig {
                mode: Mode::Cedar { dir: policies },
                super_users: Vec::new(),
            },
            None,
        )
        .unwrap(),
    );
    let broker = Broker::open(settings(dir.path().join("data"), true))
        .await
        .unwrap()
        .with_access(Gate::new(
            Arc::new(PolicyAuthorizer::new(store.clone())),
            Arc::new(NoAudit),
        ))
        .with_policies(store)
        .unwrap();

    let target_id = create_topic(&broker, &session("acme", "ADMIN"), "leak-target", 3).await;
    let absent_id = uuid::Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0001);
    let other_id = uuid::Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0002);
    let existing = Target {
        topic: "leak-target",
        id: target_id,
        other_id,
    };
    let absent = Target {
        topic: "leak-absent",
        id: absent_id,
        other_id,
    };

    let mut compared = 0;
    for who in [session("acme", "PLAIN"), session("globex", "ADMIN")] {
        for (api, min, max) in SUPPORTED_APIS {
            for version in *min..=*max {
                let (Some(there), Some(missing)) = (
                    sample(*api, version, &existing),
                    sample(*api, version, &absent),
                ) else {
                    continue;
                };
                let there = answer(&broker, &who, *api, version, there).await;
                let missing = answer(&broker, &who, *api, version, missing).await;
                let missing = replace(&missing, b"leak-absent", b"leak-target");
                let missing = replace(&missing, absent_id.as_bytes(), target_id.as_bytes());
                assert!(
                    there == missing,
                    "{api:?} v{version} tells {}/{} that leak-target exists",
                    who.principal().tenant,
                    who.listener().name
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 300, "compared {compared} api versions");
}
