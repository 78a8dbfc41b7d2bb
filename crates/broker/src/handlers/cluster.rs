//! DescribeCluster and DescribeTopicPartitions.

use super::metadata::AUTHORIZED_OPERATIONS_OMITTED;
use super::{code, str_bytes, topic_name};
use crate::access::Action;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse,
};

pub fn describe_cluster(
    broker: &Broker,
    session: &Session,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let node = BrokerId(broker.settings.node_id);
    if broker.access.tenant(session, Action::Describe).is_err() {
        return DescribeClusterResponse::default()
            .with_endpoint_type(request.endpoint_type)
            .with_error_code(code(ResponseError::ClusterAuthorizationFailed));
    }
    DescribeClusterResponse::default()
        .with_endpoint_type(request.endpoint_type)
        .with_cluster_id(str_bytes(&broker.cluster_id()))
        .with_controller_id(node)
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            broker.access.cluster_operations(session)
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(node)
            .with_host(str_bytes(&session.listener.advertised_host))
            .with_port(session.listener.advertised_port)])
}

pub fn describe_topic_partitions(
    broker: &Broker,
    session: &Session,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let image = broker.metadata.image();
    let node = BrokerId(broker.settings.node_id);
    // An empty topic list means every topic the client may see, in name order.
    let mut names: Vec<String> = if request.topics.is_empty() {
        broker
            .access
            .topics(session, Action::Describe, &image)
            .into_iter()
            .map(|(t, _)| t.local().to_owned())
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, cursor_partition) = match &request.cursor {
        Some(c) => (Some(c.topic_name.0.to_string()), c.partition_index.max(0)),
        None => (None, 0),
    };
    let mut budget = request.response_partition_limit.max(1);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if cursor_topic.as_ref().is_some_and(|c| &name < c) {
            continue;
        }
        let start = if cursor_topic.as_deref() == Some(name.as_str()) {
            cursor_partition
        } else {
            0
        };
        // Invalid, unknown and denied names all answer UNKNOWN_TOPIC_OR_PARTITION here.
        let found = broker
            .access
            .topic(session, Action::Describe, &name)
            .ok()
            .and_then(|t| image.topic(&t).cloned().map(|meta| (t, meta)));
        let Some((topic, meta)) = found else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(topic_name(&name)))
                    .with_error_code(code(ResponseError::UnknownTopicOrPartition))
                    .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED),
            );
            continue;
        };
        if budget == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(topic_name(&name))
                    .with_partition_index(start),
            );
            break;
        }
        let mut partitions = Vec::new();
        let mut index = start;
        while index < meta.partitions && budget > 0 {
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(index)
                    .with_leader_id(node)
                    .with_leader_epoch(0)
                    .with_replica_nodes(vec![node])
                    .with_isr_nodes(vec![node])
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new())),
            );
            index += 1;
            budget -= 1;
        }
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(topic_name(&name)))
                .with_topic_id(meta.id)
                .with_partitions(partitions)
                // Kafka always answers these here (KIP-966 has no flag for them).
                .with_topic_authorized_operations(broker.access.topic_operations(session, &topic)),
        );
        if index < meta.partitions {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(topic_name(&name))
                    .with_partition_index(index),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
