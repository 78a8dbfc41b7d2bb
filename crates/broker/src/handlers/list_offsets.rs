//! ListOffsets (earliest, latest, max timestamp, by timestamp) and OffsetForLeaderEpoch.
//! This single node keeps leader epoch 0 for every partition.

use super::{code, topic_refusal_as_unknown};
use crate::access::Action;
use crate::partitions::Partition;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};
use std::sync::Arc;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// KIP-405 specs. Without tiered storage the local log is the whole log, and the tiered
/// specs have no offset to give (Kafka answers -1 for them too).
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;
/// Cap on decompression when looking for a timestamp inside one stored batch.
const TIMESTAMP_SCAN_CAP: usize = 64 * 1024 * 1024;

fn partition(
    broker: &Broker,
    session: &Session,
    topic: &str,
    index: i32,
) -> Result<Arc<Partition>, ResponseError> {
    let topic = broker
        .access
        .topic(session, Action::Describe, topic)
        .map_err(topic_refusal_as_unknown)?;
    let image = broker.metadata.image();
    let meta = image
        .topic(&topic)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    broker
        .partitions
        .get(meta, index)
        .ok_or(ResponseError::UnknownTopicOrPartition)
}

pub async fn handle(
    broker: &Broker,
    session: &Session,
    version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut result = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            let found = partition(broker, session, &topic.name.0, p.partition_index);
            let outcome = match found {
                Err(e) => Err(e),
                Ok(_) if p.current_leader_epoch > 0 => Err(ResponseError::UnknownLeaderEpoch),
                Ok(part) => {
                    let ts = p.timestamp;
                    super::blocking(move || lookup(&part, ts))
                        .await
                        .and_then(|r| r)
                }
            };
            match outcome {
                Ok(Some((offset, timestamp))) => {
                    result.offset = offset;
                    result.timestamp = timestamp;
                    if version >= 4 {
                        result.leader_epoch = 0;
                    }
                }
                Ok(None) => {}
                Err(e) => result.error_code = code(e),
            }
            partitions.push(result);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// Blocking. `None` means "no such offset" (answered as offset -1, timestamp -1).
fn lookup(partition: &Partition, timestamp: i64) -> Result<Option<(i64, i64)>, ResponseError> {
    let log = &partition.log;
    let map = |e: schloss_log::LogError| super::produce::log_error(&e);
    match timestamp {
        LATEST => Ok(Some((log.log_end_offset(), -1))),
        EARLIEST | EARLIEST_LOCAL => Ok(Some((log.log_start_offset(), -1))),
        LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok(None),
        MAX_TIMESTAMP => {
            let Some(batch) = log.batch_with_max_timestamp().map_err(map)? else {
                return Ok(None);
            };
            let records = schloss_protocol::records::record_timestamps(&batch, TIMESTAMP_SCAN_CAP)
                .map_err(|_| ResponseError::CorruptMessage)?;
            // The first record carrying the largest timestamp, as Kafka answers.
            let mut best: Option<(i64, i64)> = None;
            for (offset, ts) in records {
                if best.is_none_or(|(_, b)| ts > b) {
                    best = Some((offset, ts));
                }
            }
            Ok(best)
        }
        ts if ts >= 0 => {
            let Some(batch) = log.first_batch_at_or_after_timestamp(ts).map_err(map)? else {
                return Ok(None);
            };
            let records = schloss_protocol::records::record_timestamps(&batch, TIMESTAMP_SCAN_CAP)
                .map_err(|_| ResponseError::CorruptMessage)?;
            let start = log.log_start_offset();
            Ok(records
                .into_iter()
                .find(|(offset, t)| *t >= ts && *offset >= start))
        }
        _ => Err(ResponseError::InvalidRequest),
    }
}

pub fn leader_epoch(
    broker: &Broker,
    session: &Session,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let mut r = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    match partition(broker, session, &topic.topic.0, p.partition) {
                        Err(e) => r.error_code = code(e),
                        Ok(_) if p.current_leader_epoch > 0 => {
                            r.error_code = code(ResponseError::UnknownLeaderEpoch)
                        }
                        // Every batch was written in epoch 0: epoch 0 ends at the log end; a
                        // later epoch is unknown (-1, -1) as Kafka answers.
                        Ok(part) if p.leader_epoch == 0 => {
                            r.leader_epoch = 0;
                            r.end_offset = part.log.log_end_offset();
                        }
                        Ok(_) => {}
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
