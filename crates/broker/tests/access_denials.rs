//! Handlers answer the gate's denials with the error code Kafka clients expect, per resource,
//! and a denial by name looks the same whether or not the resource exists.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use schloss_broker::access::{AccessRequest, Authorizer, Decision, Gate, NoAudit, Resource};
use schloss_broker::topic_config::BrokerDefaults;
use schloss_broker::{Broker, BrokerSettings, ListenerInfo, Reply, Session};
use schloss_model::TenantId;
use schloss_protocol::request::Request;
use std::sync::Arc;

/// Allows everything except anything named `acme.secret` and acme's own virtual cluster.
struct DenySecret;

impl Authorizer for DenySecret {
    fn decide(&self, _: &Session, request: &AccessRequest<'_>) -> Decision {
        let allowed = match request.resource {
            Resource::Topic(n) | Resource::Group(n) | Resource::TransactionalId(n) => {
                n.as_str() != "acme.secret"
            }
            Resource::Tenant(_) | Resource::Cluster => false,
        };
        Decision {
            allowed,
            policies: Vec::new(),
        }
    }
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

async fn respond(broker: &Broker, session: &Session, version: i16, r: Request) -> ResponseKind {
    match broker.handle(session, version, r).await {
        Reply::Now(r) => *r,
        Reply::Later(f) => f.await,
        Reply::Nothing => panic!("no response"),
    }
}

async fn setup(dir: &std::path::Path) -> (Broker, Session) {
    let broker = Broker::open(BrokerSettings {
        node_id: 1,
        data_dir: dir.to_owned(),
        num_partitions: 1,
        auto_create_topics: false,
        socket_request_max_bytes: 1 << 20,
        connections_max_reauth_ms: 0,
        topic_defaults: BrokerDefaults::default(),
        groups: Default::default(),
        storage: Default::default(),
    })
    .await
    .unwrap()
    .with_access(Gate::new(Arc::new(DenySecret), Arc::new(NoAudit)));
    let session = Session::new(
        schloss_auth::Authenticated::anonymous(TenantId::new("acme").unwrap()),
        ListenerInfo {
            name: "PLAINTEXT".into(),
            advertised_host: "localhost".into(),
            advertised_port: 9092,
        },
    );
    (broker, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_resources_get_their_authorization_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, session) = setup(dir.path()).await;
    let create = CreateTopicsRequest::default().with_topics(vec![
        create_topics_request::CreatableTopic::default()
            .with_name(name("open"))
            .with_num_partitions(1)
            .with_replication_factor(-1),
        create_topics_request::CreatableTopic::default()
            .with_name(name("secret"))
            .with_num_partitions(1)
            .with_replication_factor(-1),
    ]);
    let ResponseKind::CreateTopics(created) =
        respond(&broker, &session, 7, Request::CreateTopics(create)).await
    else {
        panic!("CreateTopics answers a CreateTopicsResponse");
    };
    assert_eq!(created.topics[0].error_code, 0);
    assert_eq!(
        created.topics[1].error_code, 29,
        "TOPIC_AUTHORIZATION_FAILED"
    );

    // By name: 29 for the denied name; an unknown allowed name stays unknown.
    let metadata = MetadataRequest::default().with_topics(Some(
        ["open", "secret", "missing"]
            .iter()
            .map(|n| metadata_request::MetadataRequestTopic::default().with_name(Some(name(n))))
            .collect(),
    ));
    let ResponseKind::Metadata(m) =
        respond(&broker, &session, 12, Request::Metadata(metadata)).await
    else {
        panic!("Metadata answers a MetadataResponse");
    };
    let codes: Vec<i16> = m.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, [0, 29, 3]);

    // All topics: the denied one is omitted, not reported.
    let ResponseKind::Metadata(all) = respond(
        &broker,
        &session,
        12,
        Request::Metadata(MetadataRequest::default().with_topics(None)),
    )
    .await
    else {
        panic!("Metadata answers a MetadataResponse");
    };
    let names: Vec<String> = all
        .topics
        .iter()
        .map(|t| t.name.as_ref().unwrap().0.to_string())
        .collect();
    assert_eq!(names, ["open"]);

    // Groups: 30 for the denied group.
    let describe = DescribeGroupsRequest::default().with_groups(vec![
        GroupId(StrBytes::from_static_str("secret")),
        GroupId(StrBytes::from_static_str("g")),
    ]);
    let ResponseKind::DescribeGroups(d) =
        respond(&broker, &session, 5, Request::DescribeGroups(describe)).await
    else {
        panic!("DescribeGroups answers a DescribeGroupsResponse");
    };
    assert_eq!(d.groups[0].error_code, 30, "GROUP_AUTHORIZATION_FAILED");
    assert_eq!(d.groups[1].error_code, 0);

    // An idempotent producer needs IdempotentWrite on the tenant's virtual cluster (denied
    // here) or, as in Kafka since KIP-679, Write on some topic: `open` is writable.
    assert_eq!(init_producer_id(&broker, &session).await, 0);
    // A broker where the principal may write to no topic: 31.
    let empty = tempfile::tempdir().unwrap();
    let (broker, session) = setup(empty.path()).await;
    assert_eq!(
        init_producer_id(&broker, &session).await,
        31,
        "CLUSTER_AUTHORIZATION_FAILED"
    );
}

async fn init_producer_id(broker: &Broker, session: &Session) -> i16 {
    let ResponseKind::InitProducerId(init) = respond(
        broker,
        session,
        4,
        Request::InitProducerId(InitProducerIdRequest::default().with_transactional_id(None)),
    )
    .await
    else {
        panic!("InitProducerId answers an InitProducerIdResponse");
    };
    init.error_code
}
