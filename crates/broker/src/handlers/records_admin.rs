//! DeleteRecords and InitProducerId.

use super::code;
use crate::access::Action;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, InitProducerIdRequest, InitProducerIdResponse,
    ProducerId,
};

pub async fn delete_records(
    broker: &Broker,
    session: &Session,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let image = broker.metadata.image();
        // Kafka answers an invalid or unknown name alike here.
        let meta = broker
            .access
            .topic(session, Action::Delete, &topic.name.0)
            .ok()
            .and_then(|t| image.topic(&t).cloned());
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            let found = meta
                .as_ref()
                .and_then(|m| broker.partitions.get(m, p.partition_index))
                .ok_or(ResponseError::UnknownTopicOrPartition);
            let outcome = match found {
                Err(e) => Err(e),
                Ok(part) => {
                    let offset = p.offset;
                    super::blocking(move || {
                        // -1 means "up to the high watermark".
                        let target = if offset == -1 {
                            part.log.log_end_offset()
                        } else {
                            offset
                        };
                        if target < 0 {
                            return Err(ResponseError::OffsetOutOfRange);
                        }
                        part.log
                            .delete_records_before(target)
                            .map_err(|e| super::produce::log_error(&e))
                    })
                    .await
                    .and_then(|r| r)
                }
            };
            match outcome {
                Ok(low) => result.low_watermark = low,
                Err(e) => result.error_code = code(e),
            }
            partitions.push(result);
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

pub async fn init_producer_id(
    broker: &Broker,
    session: &Session,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if request.transactional_id.is_some() {
        // Transactions arrive with their own issue; refused until then.
        return response.with_error_code(code(ResponseError::TransactionalIdAuthorizationFailed));
    }
    // KIP-679: IdempotentWrite on the (tenant's) cluster, or Write on any topic, as Kafka 3+.
    let idempotent_write = broker
        .access
        .tenant(session, Action::IdempotentWrite)
        .is_ok()
        || broker
            .access
            .any_topic(session, Action::Write, &broker.metadata.image());
    if !idempotent_write {
        return response.with_error_code(code(ResponseError::ClusterAuthorizationFailed));
    }
    // Without a transactional id Kafka always hands out a fresh id with epoch 0, even when
    // the client names its current id (KIP-360 bump): ids are never re-issued to whoever asks,
    // so one tenant cannot fence another's producer.
    match broker.producer_ids.next().await {
        Ok(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "producer id allocation failed");
            response.with_error_code(code(ResponseError::KafkaStorageError))
        }
    }
}
