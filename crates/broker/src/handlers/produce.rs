//! Produce: validate each partition's batch (magic 2, CRC32C, size, timestamps, and every
//! record, compressed or not, as Kafka's log validator does), recompress if the topic's
//! `compression.type` names a codec other than the producer's, append with offsets assigned in
//! place, and acknowledge once the append is durable (acks 1 and -1) or not at all (acks 0).
//!
//! Records are checked as they stream out of the decompressor, up to the topic's
//! decompression cap (itself under the broker's `max_uncompressed_batch_bytes`); the memory
//! that takes besides the frame (decoder window or block, encoder and recompressed output) is
//! charged to the request memory pool before the first byte is decompressed.

use super::{code, Reply};
use crate::access::Action;
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
use schloss_model::batch::{self, BatchError, TimestampType};
use schloss_protocol::codec::CodecError;
use schloss_protocol::records::RecordError;
use std::sync::Arc;
use std::time::Duration;

/// The longest a produce request waits for request memory to check its batches; then its
/// partitions fail with REQUEST_TIMED_OUT (retriable) and its frame's share is returned.
const MAX_MEMORY_WAIT: Duration = Duration::from_secs(30);
/// ... but at least this long, whatever `timeout_ms` says (acks=0 producers may send 0).
const MIN_MEMORY_WAIT: Duration = Duration::from_secs(1);

/// What one partition of a produce request asks for, after name resolution.
struct Job {
    topic: usize,
    partition: Arc<Partition>,
    records: Bytes,
    max_message_bytes: usize,
    /// How much one batch may decompress to while it is checked.
    decompression_cap: usize,
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
        let meta = resolve(
            broker,
            &image,
            session,
            version,
            &topic.name.0,
            &topic.topic_id,
        );
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
                    .get(m, p.index)
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
                        decompression_cap: eff.decompression_cap(),
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

    // Partitions are staged one after another, so the request holds at most its largest
    // partition's working memory at a time.
    let memory = jobs.iter().map(Job::working_memory).max().unwrap_or(0);
    let wait = Duration::from_millis(u64::try_from(request.timeout_ms).unwrap_or(0))
        .clamp(MIN_MEMORY_WAIT, MAX_MEMORY_WAIT);
    let charge = match broker.request_memory() {
        Some(pool) if !jobs.is_empty() => pool.charge(memory, wait).await,
        _ => None,
    };
    let short_of_memory = broker.request_memory().is_some() && !jobs.is_empty() && charge.is_none();
    let staged = if jobs.is_empty() {
        Vec::new()
    } else if short_of_memory {
        slots
            .iter()
            .map(|(t, _)| {
                let note = "the broker's request memory stayed exhausted; retry".to_owned();
                (
                    *t,
                    Staged::Failed(ResponseError::RequestTimedOut, Some(note)),
                )
            })
            .collect()
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
    drop(charge);

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
    broker: &Broker,
    image: &Image,
    session: &Session,
    version: i16,
    name: &str,
    id: &uuid::Uuid,
) -> Result<Arc<crate::metadata::TopicMeta>, ResponseError> {
    if version >= 13 {
        return broker
            .access
            .topic_by_id(session, Action::Write, image, id)
            .map(|(_, meta)| meta)
            .map_err(super::topic_id_refusal);
    }
    let topic = broker
        .access
        .topic(session, Action::Write, name)
        .map_err(super::topic_refusal)?;
    image
        .topic(&topic)
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
    let cap = job.decompression_cap;
    // Stored as sent or recompressed, but first proven to decompress (within the cap) into
    // exactly the records it declares, each well formed, as Kafka's log validator does: a
    // compression bomb or a corrupt record never reaches the log or a consumer.
    match job.target {
        StoredCompression::Codec(target) if target != codec => {
            let recompressed = schloss_protocol::records::recompress_batch(
                first,
                target,
                cap,
                job.max_message_bytes,
            )
            .map_err(record_error)?;
            Ok(BytesMut::from(&recompressed[..]))
        }
        _ => {
            schloss_protocol::records::check_records(first, cap).map_err(record_error)?;
            Ok(BytesMut::from(first))
        }
    }
}

impl Job {
    /// What checking (and maybe recompressing) this partition's batch holds besides the frame.
    fn working_memory(&self) -> usize {
        let sent = batch::BatchHeader::parse(&self.records)
            .ok()
            .and_then(|h| h.compression().ok());
        let recompress = match self.target {
            StoredCompression::Codec(target) if Some(target) != sent => {
                Some((target, self.max_message_bytes))
            }
            _ => None,
        };
        // A batch whose header does not parse, or that declares more than the cap, is refused
        // before anything is decompressed: it needs no more than the read buffer.
        schloss_protocol::records::batch_memory(&self.records, self.decompression_cap, recompress)
            .unwrap_or(0)
    }
}

fn record_error(e: RecordError) -> (ResponseError, Option<String>) {
    let error = match e {
        RecordError::Codec(CodecError::CompressedTooLarge { .. }) => ResponseError::MessageTooLarge,
        _ => ResponseError::CorruptMessage,
    };
    (error, Some(e.to_string()))
}

fn batch_error(e: BatchError) -> (ResponseError, Option<String>) {
    let error = match e {
        BatchError::Magic(_) => ResponseError::UnsupportedForMessageFormat,
        BatchError::RecordCount { .. } => ResponseError::InvalidRecord,
        _ => ResponseError::CorruptMessage,
    };
    (error, Some(e.to_string()))
}
