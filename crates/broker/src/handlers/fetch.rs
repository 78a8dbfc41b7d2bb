//! Fetch: whole batches from each requested partition, never decompressed, within
//! `partition_max_bytes` and `max_bytes` (the first batch is returned even if larger, KIP-74),
//! long-polling up to `max_wait_ms` until `min_bytes` are available.
//!
//! Fetch sessions (KIP-227) are not kept: a request that asks for a new session gets session
//! id 0 ("no session"), which clients answer with full fetch requests; a request naming a
//! session id gets FETCH_SESSION_ID_NOT_FOUND, after which clients start over.

use super::{code, topic_name, Reply};
use crate::access::{Action, TopicRef};
use crate::metadata::{Image, TopicMeta};
use crate::partitions::Partition;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseKind};
use schloss_log::LogError;
use std::sync::Arc;
use std::time::Duration;

/// Upper bound on `max_wait_ms`, so a client cannot park a request for days.
const MAX_WAIT_CAP_MS: i32 = 30_000;
/// Kafka's broker-side `fetch.max.bytes` default: the most one fetch response carries, whatever
/// the client asks for.
pub const FETCH_MAX_BYTES: usize = 57_671_680;

/// One requested partition, resolved.
struct Want {
    topic: usize,
    slot: usize,
    partition: Arc<Partition>,
    offset: i64,
    max_bytes: usize,
}

pub fn handle(broker: &Broker, session: &Session, version: i16, request: FetchRequest) -> Reply {
    if version >= 7 && request.session_id != 0 {
        return Reply::Now(Box::new(ResponseKind::Fetch(
            FetchResponse::default()
                .with_error_code(code(ResponseError::FetchSessionIdNotFound))
                .with_session_id(0),
        )));
    }
    let image = broker.metadata.image();
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut wants = Vec::new();
    for topic in &request.topics {
        let meta = resolve(
            broker,
            &image,
            session,
            version,
            &topic.topic.0,
            &topic.topic_id,
        );
        let mut response = FetchableTopicResponse::default()
            .with_topic(topic.topic.clone())
            .with_topic_id(topic.topic_id);
        if version >= 13 {
            if let Ok((t, _)) = &meta {
                response.topic = topic_name(t.local());
            }
        }
        for p in &topic.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1);
            let found = meta.as_ref().map_err(|e| *e).and_then(|(_, m)| {
                broker
                    .partitions
                    .get(m, p.partition)
                    .ok_or(ResponseError::UnknownTopicOrPartition)
            });
            match found {
                Err(e) => data.error_code = code(e),
                Ok(_) if p.current_leader_epoch > 0 => {
                    data.error_code = code(ResponseError::UnknownLeaderEpoch)
                }
                Ok(partition) => wants.push(Want {
                    topic: topics.len(),
                    slot: response.partitions.len(),
                    partition,
                    offset: p.fetch_offset,
                    max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                }),
            }
            response.partitions.push(data);
        }
        topics.push(response);
    }
    let max_bytes = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(FETCH_MAX_BYTES);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0).max(1);
    let wait = Duration::from_millis(
        u64::try_from(request.max_wait_ms.clamp(0, MAX_WAIT_CAP_MS)).unwrap_or(0),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let read_committed = request.isolation_level == 1;
    Reply::Later(Box::pin(async move {
        let wants = Arc::new(wants);
        loop {
            // Register for wake-ups before reading, so an append between the read and the
            // wait is not missed.
            let notified: Vec<_> = wants.iter().map(|w| w.partition.clone()).collect();
            let mut waiters: Vec<_> = notified
                .iter()
                .map(|p| Box::pin(p.appended.notified()))
                .collect();
            for w in waiters.iter_mut() {
                w.as_mut().enable();
            }
            let reading = wants.clone();
            let results = super::blocking(move || read_all(&reading, max_bytes)).await;
            let results = match results {
                Ok(r) => r,
                Err(e) => {
                    for w in wants.iter() {
                        if let Some(d) = slot(&mut topics, w) {
                            d.error_code = code(e);
                        }
                    }
                    break;
                }
            };
            let total: usize = results
                .iter()
                .map(|r| {
                    r.as_ref()
                        .map(|d| d.records.as_ref().map_or(0, |b| b.len()))
                        .unwrap_or(0)
                })
                .sum();
            let any_error = results
                .iter()
                .any(|r| r.as_ref().map_or(true, |d| d.error_code != 0));
            let done = total >= min_bytes
                || any_error
                || tokio::time::Instant::now() >= deadline
                || wants.is_empty();
            if done {
                for (w, r) in wants.iter().zip(results) {
                    if let Some(d) = slot(&mut topics, w) {
                        match r {
                            Ok(data) => {
                                let aborted = read_committed.then(Vec::new);
                                *d = data
                                    .with_partition_index(d.partition_index)
                                    .with_aborted_transactions(aborted);
                            }
                            Err(e) => d.error_code = code(e),
                        }
                    }
                }
                break;
            }
            let any = futures_select(waiters);
            if tokio::time::timeout_at(deadline, any).await.is_err() {
                // Deadline passed: one last read answers with whatever is there.
                continue;
            }
        }
        ResponseKind::Fetch(
            FetchResponse::default()
                .with_responses(topics)
                .with_session_id(0),
        )
    }))
}

fn slot<'a>(topics: &'a mut [FetchableTopicResponse], w: &Want) -> Option<&'a mut PartitionData> {
    topics
        .get_mut(w.topic)
        .and_then(|t| t.partitions.get_mut(w.slot))
}

/// Resolves until any of the notifications fires.
async fn futures_select<F: std::future::Future<Output = ()> + Unpin>(mut waiters: Vec<F>) {
    std::future::poll_fn(move |cx| {
        for w in waiters.iter_mut() {
            if std::pin::Pin::new(w).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

fn resolve(
    broker: &Broker,
    image: &Image,
    session: &Session,
    version: i16,
    name: &str,
    id: &uuid::Uuid,
) -> Result<(TopicRef, Arc<TopicMeta>), ResponseError> {
    if version >= 13 {
        return broker
            .access
            .topic_by_id(session, Action::Read, image, id)
            .map_err(super::topic_id_refusal);
    }
    let topic = broker
        .access
        .topic(session, Action::Read, name)
        .map_err(super::topic_refusal_as_unknown)?;
    let meta = image
        .topic(&topic)
        .cloned()
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    Ok((topic, meta))
}

/// Blocking: reads each partition in request order within the byte budgets.
fn read_all(wants: &[Want], max_bytes: usize) -> Vec<Result<PartitionData, ResponseError>> {
    let mut budget = max_bytes;
    let mut first_data_returned = false;
    wants
        .iter()
        .map(|w| {
            let log = &w.partition.log;
            let limit = w.max_bytes.min(budget);
            // KIP-74: the first non-empty partition returns at least one whole batch.
            let min_one = !first_data_returned;
            match log.read(w.offset, limit, min_one) {
                Ok(slice) => {
                    budget = budget.saturating_sub(slice.data.len());
                    if !slice.data.is_empty() {
                        first_data_returned = true;
                    }
                    Ok(PartitionData::default()
                        .with_high_watermark(slice.log_end_offset)
                        .with_last_stable_offset(slice.log_end_offset)
                        .with_log_start_offset(slice.log_start_offset)
                        .with_records(Some(slice.data)))
                }
                Err(LogError::OffsetOutOfRange {
                    log_start, log_end, ..
                }) => Ok(PartitionData::default()
                    .with_error_code(code(ResponseError::OffsetOutOfRange))
                    .with_high_watermark(log_end)
                    .with_last_stable_offset(log_end)
                    .with_log_start_offset(log_start)),
                Err(e) => Err(super::produce::log_error(&e)),
            }
        })
        .collect()
}
