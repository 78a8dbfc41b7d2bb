//! Produce: validate each partition's batch (magic 2, CRC32C, size, timestamps), recompress if
//! the topic's `compression.type` names a codec other than the producer's, append with offsets
//! assigned in place, and acknowledge once the append is durable (acks 1 and -1) or not at all
//! (acks 0).

use super::{code, Reply};
use crate::metadata::{now_ms, Image};
use crate::partitions::Partition;
use crate::topic_config::{EffectiveConfig, StoredCompression};
use crate::{Broker, Session};
use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use schloss_log::{Appended, Durable, LogError};
use schloss_model::batch::{self, BatchError, Compression, TimestampType};
use std::sync::Arc;

/// Decompression output cap relative to `max.message.bytes`: a legitimate batch compresses
/// well, but never by more than this factor of the largest batch a topic accepts.
pub const DECOMPRESSION_RATIO_LIMIT: usize = 16;

/// What one partition of a produce request asks for, after name resolution.
struct Job {
    topic: usize,
    partition: Arc<Partition>,
    records: Bytes,
    max_message_bytes: usize,
    target: StoredCompression,
    timestamp_type: TimestampType,
    timestamp_bounds: (i64, i64),
}

/// Outcome of one partition before durability.
enum Staged {
    Failed(ResponseError, Option<String>),
    Appended(Appended),
}

pub async fn handle(
    broker: &Broker,
    session: &Session,
    version: i16,
    request: ProduceRequest,
) -> Reply {
    let acks = request.acks;
    let image = broker.metadata.image();
    let mut topics: Vec<TopicProduceResponse> = Vec::with_capacity(request.topic_data.len());
    let mut jobs = Vec::new();
    // (topic index, partition index in response) for each job, to place results.
    let mut slots = Vec::new();
    for topic in request.topic_data {
        let mut response = TopicProduceResponse::default()
            .with_name(topic.name.clone())
            .with_topic_id(topic.topic_id);
        let meta = resolve(&image, session, version, &topic.name.0, &topic.topic_id);
        let topic_index = topics.len();
        for p in topic.partition_data {
            let mut result = PartitionProduceResponse::default()
                .with_index(p.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            let rejected = if !(-1..=1).contains(&acks) {
                Some(ResponseError::InvalidRequiredAcks)
            } else if request.transactional_id.is_some() {
                // Transactions arrive with their own issue; until then they are refused.
                Some(ResponseError::TransactionalIdAuthorizationFailed)
            } else {
                None
            };
            let target = meta.as_ref().map_err(|e| *e).and_then(|m| {
                broker
                    .partitions
                    .get(&m.id, p.index)
                    .map(|part| (m, part))
                    .ok_or(ResponseError::UnknownTopicOrPartition)
            });
            match (rejected, target) {
                (Some(e), _) | (None, Err(e)) => result.error_code = code(e),
                (None, Ok((meta, partition))) => {
                    let eff = EffectiveConfig {
                        overrides: &meta.configs,
                        defaults: &broker.settings.topic_defaults,
                    };
                    slots.push((topic_index, response.partition_responses.len()));
                    jobs.push(Job {
                        topic: topic_index,
                        partition,
                        records: p.records.unwrap_or_default(),
                        max_message_bytes: eff.max_message_bytes(),
                        target: eff.stored_compression(),
                        timestamp_type: eff.timestamp_type(),
                        timestamp_bounds: eff.timestamp_bounds(),
                    });
                }
            }
            response.partition_responses.push(result);
        }
        topics.push(response);
    }

    let staged = if jobs.is_empty() {
        Vec::new()
    } else {
        match super::blocking(move || {
            jobs.into_iter()
                .map(|j| (j.topic, stage(j)))
                .collect::<Vec<_>>()
        })
        .await
        {
            Ok(s) => s,
            Err(e) => slots
                .iter()
                .map(|(t, _)| (*t, Staged::Failed(e, None)))
                .collect(),
        }
    };

    let mut waits: Vec<(usize, usize, Durable)> = Vec::new();
    for ((topic_index, slot), (_, outcome)) in slots.into_iter().zip(staged) {
        let Some(result) = topics
            .get_mut(topic_index)
            .and_then(|t| t.partition_responses.get_mut(slot))
        else {
            continue;
        };
        match outcome {
            Staged::Failed(e, message) => {
                result.error_code = code(e);
                result.error_message = message.map(StrBytes::from_string);
            }
            Staged::Appended(Appended::Duplicate {
                base_offset,
                log_start_offset,
                durable,
                ..
            }) => {
                // A retry of a batch already in the log: answer with the original offsets
                // once the original append is durable.
                result.base_offset = base_offset;
                result.log_start_offset = log_start_offset;
                waits.push((topic_index, slot, durable));
            }
            Staged::Appended(Appended::Written {
                base_offset,
                log_append_time,
                log_start_offset,
                durable,
                ..
            }) => {
                result.base_offset = base_offset;
                result.log_append_time_ms = log_append_time;
                result.log_start_offset = log_start_offset;
                waits.push((topic_index, slot, durable));
            }
        }
    }

    if acks == 0 {
        // Kafka sends no response at all for acks=0; the data is written regardless.
        return Reply::Nothing;
    }
    if waits.is_empty() {
        return Reply::Now(Box::new(ResponseKind::Produce(
            ProduceResponse::default().with_responses(topics),
        )));
    }
    Reply::Later(Box::pin(async move {
        for (topic_index, slot, durable) in waits {
            if let Err(e) = durable.wait().await {
                tracing::error!(error = %e, "append did not become durable");
                if let Some(result) = topics
                    .get_mut(topic_index)
                    .and_then(|t| t.partition_responses.get_mut(slot))
                {
                    result.error_code = code(ResponseError::KafkaStorageError);
                    result.base_offset = -1;
                }
            }
        }
        ResponseKind::Produce(ProduceResponse::default().with_responses(topics))
    }))
}

fn resolve(
    image: &Image,
    session: &Session,
    version: i16,
    name: &str,
    id: &uuid::Uuid,
) -> Result<Arc<crate::metadata::TopicMeta>, ResponseError> {
    if version >= 13 {
        return image
            .topic_by_id(id)
            .filter(|t| session.namespace.to_local(&t.name).is_some())
            .cloned()
            .ok_or(ResponseError::UnknownTopicId);
    }
    let internal = super::internal_topic(session, name)?;
    image
        .topic(&internal)
        .cloned()
        .ok_or(ResponseError::UnknownTopicOrPartition)
}

/// Blocking: validate, maybe recompress, append.
fn stage(job: Job) -> Staged {
    match validate_and_prepare(&job) {
        Err((e, m)) => Staged::Failed(e, m),
        Ok(batch) => match job.partition.log.append(batch, now_ms(), 0) {
            Ok(appended) => {
                job.partition.appended.notify_waiters();
                Staged::Appended(appended)
            }
            Err(e) => Staged::Failed(log_error(&e), None),
        },
    }
}

pub(crate) fn log_error(e: &LogError) -> ResponseError {
    match e {
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::Deleted => ResponseError::UnknownTopicOrPartition,
        LogError::RecordTooLarge { .. } => ResponseError::RecordListTooLarge,
        // Out of descriptors: nothing was written and the partition is fine; clients retry
        // KAFKA_STORAGE_ERROR after a metadata refresh.
        LogError::OutOfFiles { .. } => {
            tracing::warn!(error = %e, "no file descriptor for this request; it may be retried");
            ResponseError::KafkaStorageError
        }
        other => {
            tracing::error!(error = %other, "log failure");
            ResponseError::KafkaStorageError
        }
    }
}

fn validate_and_prepare(job: &Job) -> Result<BytesMut, (ResponseError, Option<String>)> {
    let records = &job.records;
    if records.len() > job.max_message_bytes {
        return Err((
            ResponseError::MessageTooLarge,
            Some(format!(
                "batch of {} bytes exceeds max.message.bytes {}",
                records.len(),
                job.max_message_bytes
            )),
        ));
    }
    let mut batches = batch::Batches::new(records);
    let first = match batches.next() {
        Some(Ok((_, b))) => b,
        Some(Err(e)) => return Err(batch_error(e)),
        None => {
            return Err((
                ResponseError::InvalidRecord,
                Some("produce request without a record batch".into()),
            ))
        }
    };
    if batches.next().is_some() {
        return Err((
            ResponseError::InvalidRecord,
            Some("only one record batch per partition is allowed".into()),
        ));
    }
    let header = batch::validate(first).map_err(batch_error)?;
    if header.is_transactional() || header.is_control() {
        return Err((ResponseError::TransactionalIdAuthorizationFailed, None));
    }
    if job.timestamp_type == TimestampType::CreateTime {
        let now = now_ms();
        let (before, after) = job.timestamp_bounds;
        for ts in [header.base_timestamp, header.max_timestamp] {
            if ts < now.saturating_sub(before) || ts > now.saturating_add(after) {
                return Err((
                    ResponseError::InvalidTimestamp,
                    Some(format!("timestamp {ts} is out of range (message.timestamp.before.max.ms / after.max.ms)")),
                ));
            }
        }
    }
    let codec = header.compression().map_err(batch_error)?;
    let cap = job
        .max_message_bytes
        .saturating_mul(DECOMPRESSION_RATIO_LIMIT);
    match job.target {
        StoredCompression::Codec(target) if target != codec => {
            let recompressed = schloss_protocol::records::recompress_batch(first, target, cap)
                .map_err(|e| (ResponseError::CorruptMessage, Some(e.to_string())))?;
            if recompressed.len() > job.max_message_bytes {
                return Err((ResponseError::MessageTooLarge, None));
            }
            Ok(BytesMut::from(&recompressed[..]))
        }
        _ if codec != Compression::None => {
            // Stored as sent, but first proven to decompress (within the cap) into exactly the
            // records it declares, as Kafka's log validator does: a compression bomb or a
            // corrupt payload never reaches the log or a consumer.
            schloss_protocol::records::check_records(first, cap)
                .map_err(|e| (ResponseError::CorruptMessage, Some(e.to_string())))?;
            Ok(BytesMut::from(first))
        }
        _ => Ok(BytesMut::from(first)),
    }
}

fn batch_error(e: BatchError) -> (ResponseError, Option<String>) {
    let error = match e {
        BatchError::Magic(_) => ResponseError::UnsupportedForMessageFormat,
        BatchError::RecordCount { .. } => ResponseError::InvalidRecord,
        _ => ResponseError::CorruptMessage,
    };
    (error, Some(e.to_string()))
}
