//! CreateTopics, DeleteTopics, CreatePartitions, and topic creation shared with Metadata's
//! auto-create.

use super::{blocking, code, str_bytes, topic_name, topic_refusal};
use crate::access::{Action, TopicRef};
use crate::metadata::{Image, MetadataRecord, TopicMeta};
use crate::storage_limits::PartitionAllowance;
use crate::topic_config::EffectiveConfig;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most partitions one topic may have; Kafka has no hard limit, but one request must not be
/// able to make the broker open millions of files.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;

pub(crate) type Failure = (ResponseError, Option<String>);

fn fail(error: ResponseError, message: impl Into<String>) -> Failure {
    (error, Some(message.into()))
}

/// Partitions of every topic of the broker.
fn partitions_in(image: &Image) -> usize {
    image.partition_total()
}

/// Creates a topic (or with `validate_only`, checks that it could be created). `allowance` is
/// what the request may still add; the partition limits are checked before any file exists.
pub(crate) async fn create_topic(
    broker: &Broker,
    topic: &TopicRef,
    partitions: i32,
    configs: BTreeMap<String, String>,
    validate_only: bool,
    allowance: &mut PartitionAllowance,
) -> Result<Arc<TopicMeta>, Failure> {
    if !(1..=MAX_PARTITIONS_PER_TOPIC).contains(&partitions) {
        return Err(fail(
            ResponseError::InvalidPartitions,
            format!("Number of partitions must be between 1 and {MAX_PARTITIONS_PER_TOPIC}."),
        ));
    }
    for (k, v) in &configs {
        broker
            .settings
            .topic_defaults
            .validate(k, v)
            .map_err(|e| fail(ResponseError::InvalidConfig, e.to_string()))?;
    }
    // INVARIANT: 1 <= partitions <= MAX_PARTITIONS_PER_TOPIC, checked above.
    let count = usize::try_from(partitions).unwrap_or(usize::MAX);
    allowance
        .check_request(count)
        .map_err(|m| fail(ResponseError::PolicyViolation, m))?;
    let meta = TopicMeta::proposed(topic, partitions, configs);
    let record = MetadataRecord::TopicCreated {
        id: meta.id,
        name: meta.name.clone(),
        partitions,
        configs: meta.configs.clone(),
    };
    let limits = &*allowance;
    let outcome = broker
        .metadata
        .commit_with(|image| {
            if image.topic(topic).is_some() {
                return Ok((Vec::new(), Err((ResponseError::TopicAlreadyExists, None))));
            }
            // Checked under the metadata writer lock, so concurrent creations cannot both fit.
            if let Err(m) = limits.check_broker(partitions_in(image), count) {
                return Ok((Vec::new(), Err(fail(ResponseError::PolicyViolation, m))));
            }
            Ok((
                if validate_only {
                    Vec::new()
                } else {
                    vec![record]
                },
                Ok(()),
            ))
        })
        .await;
    if let Ok((_, Ok(()))) = &outcome {
        allowance.take(count);
    }
    match outcome {
        Ok((_, Err(failure))) => Err(failure),
        Ok((image, Ok(()))) if !validate_only => {
            let created = image
                .topic(topic)
                .cloned()
                .ok_or((ResponseError::UnknownServerError, None))?;
            let registry = broker.partitions.clone();
            let defaults = broker.settings.topic_defaults.clone();
            let opened = created.clone();
            blocking(move || registry.open_topic(&opened, &defaults))
                .await
                .map_err(|e| (e, None))?
                .map_err(|e| {
                    tracing::error!(topic = %topic.internal(), error = %e, "opening partition logs failed");
                    (ResponseError::KafkaStorageError, None)
                })?;
            Ok(created)
        }
        Ok(_) => Ok(Arc::new(meta)),
        Err(e) => {
            tracing::error!(error = %e, "metadata commit failed");
            Err((ResponseError::KafkaStorageError, None))
        }
    }
}

pub async fn create(
    broker: &Broker,
    session: &Session,
    version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    let mut allowance = PartitionAllowance::new(&broker.settings.storage);
    for topic in request.topics {
        let local = topic.name.0.to_string();
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        let outcome = async {
            let target = broker
                .access
                .topic(session, Action::Create, &local)
                .map_err(|e| (topic_refusal(e), None))?;
            if topic.replication_factor != -1 && topic.replication_factor != 1 {
                return Err(fail(
                    ResponseError::InvalidReplicationFactor,
                    format!(
                        "Unable to replicate the partition {} time(s): The target replication factor of {} cannot be reached because only 1 broker(s) are registered.",
                        topic.replication_factor, topic.replication_factor
                    ),
                ));
            }
            let mut partitions = topic.num_partitions;
            if !topic.assignments.is_empty() {
                if topic.num_partitions != -1 || topic.replication_factor != -1 {
                    return Err(fail(
                        ResponseError::InvalidRequest,
                        "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                    ));
                }
                let only_us = topic.assignments.iter().all(|a| {
                    a.broker_ids.len() == 1 && a.broker_ids.first().map(|b| b.0) == Some(broker.settings.node_id)
                });
                if !only_us {
                    return Err(fail(ResponseError::InvalidReplicaAssignment, "Replica assignments may only name this broker."));
                }
                partitions = topic.assignments.len() as i32;
            } else if partitions == -1 {
                partitions = broker.settings.num_partitions;
            }
            let mut configs = BTreeMap::new();
            for c in &topic.configs {
                let Some(value) = &c.value else {
                    return Err(fail(ResponseError::InvalidConfig, format!("Null value not supported for topic configs: {}", c.name)));
                };
                configs.insert(c.name.to_string(), value.to_string());
            }
            create_topic(broker, &target, partitions, configs, request.validate_only, &mut allowance).await
        }
        .await;
        match outcome {
            Ok(meta) => {
                result.num_partitions = meta.partitions;
                result.replication_factor = 1;
                if version >= 7 && !request.validate_only {
                    result.topic_id = meta.id;
                }
                let eff = EffectiveConfig {
                    overrides: &meta.configs,
                    defaults: &broker.settings.topic_defaults,
                };
                result.configs = Some(
                    eff.resolve_all()
                        .into_iter()
                        .map(|r| {
                            CreatableTopicConfigs::default()
                                .with_name(str_bytes(r.key.name))
                                .with_value(Some(str_bytes(&r.value)))
                                .with_config_source(r.source as i8)
                        })
                        .collect(),
                );
            }
            Err((error, message)) => {
                if error == ResponseError::TopicAlreadyExists {
                    result.error_message =
                        Some(str_bytes(&format!("Topic '{local}' already exists.")));
                } else {
                    result.error_message = message.map(|m| str_bytes(&m));
                }
                result.error_code = code(error);
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

pub async fn delete(
    broker: &Broker,
    session: &Session,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // v0-5 send names only; v6 sends (name or id) pairs.
    let wanted: Vec<(Option<String>, uuid::Uuid)> = if request.topics.is_empty() {
        request
            .topic_names
            .iter()
            .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id))
            .collect()
    };
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let mut result = DeletableTopicResult::default()
            .with_name(name.as_deref().map(topic_name))
            .with_topic_id(id);
        let image = broker.metadata.image();
        let found = match &name {
            Some(local) => match broker.access.topic(session, Action::Delete, local) {
                Ok(topic) => image
                    .topic(&topic)
                    .cloned()
                    .map(|meta| (topic, meta))
                    .ok_or(ResponseError::UnknownTopicOrPartition),
                Err(e) => Err(topic_refusal(e)),
            },
            None => broker
                .access
                .topic_by_id(session, Action::Delete, &image, &id)
                .map_err(super::topic_id_refusal),
        };
        let outcome = match found {
            Ok((topic, meta)) => {
                if name.is_none() {
                    result.name = Some(topic_name(topic.local()));
                }
                result.topic_id = meta.id;
                delete_topic(broker, &topic, &meta).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            result.error_code = code(e);
        }
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

async fn delete_topic(
    broker: &Broker,
    target: &TopicRef,
    topic: &TopicMeta,
) -> Result<(), ResponseError> {
    let id = topic.id;
    let committed = broker
        .metadata
        .commit_with(|image| {
            if image.topic(target).is_none_or(|t| t.id != id) {
                return Ok((Vec::new(), false));
            }
            Ok((vec![MetadataRecord::TopicDeleted { id }], true))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "metadata commit failed");
            ResponseError::KafkaStorageError
        })?;
    if !committed.1 {
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    let name = topic.name.clone();
    if broker
        .groups
        .run(move |c, now, _| c.delete_topic_offsets(now, &name))
        .await
        .is_none()
    {
        tracing::error!(topic = %topic.name, "committed offsets of the deleted topic could not be removed");
    }
    let registry = broker.partitions.clone();
    blocking(move || registry.remove_topic(&id))
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "deleting partition directories failed");
            ResponseError::KafkaStorageError
        })
}

pub async fn create_partitions(
    broker: &Broker,
    session: &Session,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    let mut allowance = PartitionAllowance::new(&broker.settings.storage);
    for topic in request.topics {
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
        let limits = &allowance;
        let mut added_now = 0;
        let outcome: Result<(), Failure> = async {
            let target = broker
                .access
                .topic(session, Action::Alter, &topic.name.0)
                .map_err(|e| (topic_refusal(e), None))?;
            let count = topic.count;
            let assignments = topic.assignments.as_ref().map(|a| {
                a.iter().map(|p| p.broker_ids.iter().map(|b| b.0).collect::<Vec<_>>()).collect::<Vec<_>>()
            });
            let node = broker.settings.node_id;
            let (image, verdict) = broker
                .metadata
                .commit_with(|image| {
                    let Some(meta) = image.topic(&target) else {
                        return Ok((Vec::new(), Err((ResponseError::UnknownTopicOrPartition, None))));
                    };
                    if count <= meta.partitions || count > MAX_PARTITIONS_PER_TOPIC {
                        let message = format!(
                            "Topic currently has {} partitions, which is higher than the requested {count}.",
                            meta.partitions
                        );
                        return Ok((Vec::new(), Err(fail(ResponseError::InvalidPartitions, message))));
                    }
                    let added = usize::try_from(count - meta.partitions).unwrap_or(0);
                    if let Err(m) = limits
                        .check_request(added)
                        .and_then(|()| limits.check_broker(partitions_in(image), added))
                    {
                        return Ok((Vec::new(), Err(fail(ResponseError::PolicyViolation, m))));
                    }
                    if let Some(assignments) = &assignments {
                        if assignments.len() != added {
                            let message = format!(
                                "Increasing the number of partitions by {added} but {} assignments provided.",
                                assignments.len()
                            );
                            return Ok((Vec::new(), Err(fail(ResponseError::InvalidReplicaAssignment, message))));
                        }
                        // Single node, replication factor 1: every new partition lives here.
                        if let Some(bad) = assignments.iter().find(|a| a.as_slice() != [node]) {
                            let message = format!("Replica assignment {bad:?} must name exactly this broker ({node}).");
                            return Ok((Vec::new(), Err(fail(ResponseError::InvalidReplicaAssignment, message))));
                        }
                    }
                    if request.validate_only {
                        return Ok((Vec::new(), Ok(added)));
                    }
                    Ok((vec![MetadataRecord::PartitionsAdded { id: meta.id, total: count }], Ok(added)))
                })
                .await
                .map_err(|_| (ResponseError::KafkaStorageError, None))?;
            added_now = verdict?;
            if let Some(meta) = image.topic(&target).cloned() {
                let registry = broker.partitions.clone();
                let defaults = broker.settings.topic_defaults.clone();
                blocking(move || registry.open_topic(&meta, &defaults))
                    .await
                    .map_err(|e| (e, None))?
                    .map_err(|_| (ResponseError::KafkaStorageError, None))?;
            }
            Ok(())
        }
        .await;
        allowance.take(added_now);
        if let Err((e, message)) = outcome {
            result.error_code = code(e);
            result.error_message = message.map(|m| str_bytes(&m));
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}
