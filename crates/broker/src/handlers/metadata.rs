//! Metadata: brokers (the listener the client came in on), topics in the client's namespace,
//! auto-creation governed by `auto.create.topics.enable`.

use super::{code, str_bytes, topic_name, topic_refusal, topics};
use crate::access::{Action, TopicRef};
use crate::metadata::TopicMeta;
use crate::storage_limits::PartitionAllowance;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use std::collections::BTreeMap;

/// Kafka's value for "authorized operations not requested".
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

pub async fn handle(
    broker: &Broker,
    session: &Session,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let node = broker.settings.node_id;
    let mut response = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(node))
            .with_host(str_bytes(&session.listener.advertised_host))
            .with_port(session.listener.advertised_port)])
        .with_cluster_id(Some(str_bytes(&broker.cluster_id())))
        .with_controller_id(BrokerId(node))
        .with_cluster_authorized_operations(
            if (8..=10).contains(&version) && request.include_cluster_authorized_operations {
                broker.access.cluster_operations(session)
            } else {
                AUTHORIZED_OPERATIONS_OMITTED
            },
        );
    // KIP-430: what the caller may do with each topic, when asked (v8+).
    let with_ops = version >= 8 && request.include_topic_authorized_operations;
    let ops = |topic: &TopicRef| {
        if with_ops {
            broker.access.topic_operations(session, topic)
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        }
    };

    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let wanted = match request.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(list),
    };
    let Some(wanted) = wanted else {
        let image = broker.metadata.image();
        response.topics = broker
            .access
            .topics(session, Action::Describe, &image)
            .iter()
            .map(|(topic, meta)| describe(broker, meta, topic.local(), ops(topic)))
            .collect();
        return response;
    };
    let auto_create =
        broker.settings.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    // Auto-creation counts against the same partition limits as CreateTopics.
    let mut allowance = PartitionAllowance::new(&broker.settings.storage);
    for topic in wanted {
        // A non-nil id means "look up by id", whatever the name says: Java 4.x sends an
        // empty name with the id.
        let entry = match (&topic.name, topic.topic_id.is_nil()) {
            (Some(name), true) => {
                by_name(broker, session, name, auto_create, &mut allowance, &ops).await
            }
            (_, false) => {
                let image = broker.metadata.image();
                match broker
                    .access
                    .topic_by_id(session, Action::Describe, &image, &topic.topic_id)
                {
                    Ok((t, meta)) => describe(broker, &meta, t.local(), ops(&t)),
                    Err(_) => MetadataResponseTopic::default()
                        .with_topic_id(topic.topic_id)
                        .with_error_code(code(ResponseError::UnknownTopicId)),
                }
            }
            (None, true) => MetadataResponseTopic::default()
                .with_error_code(code(ResponseError::InvalidRequest)),
        };
        response.topics.push(entry);
    }
    response
}

async fn by_name(
    broker: &Broker,
    session: &Session,
    name: &kafka_protocol::messages::TopicName,
    auto_create: bool,
    allowance: &mut PartitionAllowance,
    ops: &impl Fn(&TopicRef) -> i32,
) -> MetadataResponseTopic {
    let failed = |error: ResponseError| {
        MetadataResponseTopic::default()
            .with_name(Some(name.clone()))
            .with_error_code(code(error))
            .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
    };
    let topic: TopicRef = match broker.access.topic(session, Action::Describe, &name.0) {
        Ok(t) => t,
        Err(e) => return failed(topic_refusal(e)),
    };
    if let Some(t) = broker.metadata.image().topic(&topic) {
        return describe(broker, t, &name.0, ops(&topic));
    }
    if !auto_create {
        return failed(ResponseError::UnknownTopicOrPartition);
    }
    let topic = match broker.access.topic(session, Action::Create, &name.0) {
        Ok(t) => t,
        Err(e) => return failed(topic_refusal(e)),
    };
    match topics::create_topic(
        broker,
        &topic,
        broker.settings.num_partitions,
        BTreeMap::new(),
        false,
        allowance,
    )
    .await
    {
        Ok(t) => describe(broker, &t, &name.0, ops(&topic)),
        // Created concurrently by someone else: describe what is there now.
        Err((ResponseError::TopicAlreadyExists, _)) => {
            match broker.metadata.image().topic(&topic) {
                Some(t) => describe(broker, t, &name.0, ops(&topic)),
                None => failed(ResponseError::UnknownTopicOrPartition),
            }
        }
        Err((e, _)) => failed(e),
    }
}

fn describe(broker: &Broker, topic: &TopicMeta, local: &str, ops: i32) -> MetadataResponseTopic {
    let node = BrokerId(broker.settings.node_id);
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(local)))
        .with_topic_id(topic.id)
        .with_topic_authorized_operations(ops)
        .with_partitions(
            (0..topic.partitions)
                .map(|index| {
                    MetadataResponsePartition::default()
                        .with_partition_index(index)
                        .with_leader_id(node)
                        .with_leader_epoch(0)
                        .with_replica_nodes(vec![node])
                        .with_isr_nodes(vec![node])
                })
                .collect(),
        )
}
