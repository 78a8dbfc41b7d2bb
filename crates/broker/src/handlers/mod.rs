//! Request handlers, one file per API family. Each handler answers per resource with the
//! Kafka error code the client expects; only failures of the broker itself escape as errors.

mod acls;
mod api_versions;
mod cluster;
mod configs;
mod consumer_groups;
mod fetch;
mod groups;
mod list_offsets;
mod metadata;
mod offsets;
mod produce;
mod records_admin;
mod scram;
mod topics;

use crate::access::{Action, GroupRef, Refusal};
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use schloss_protocol::request::Request;
use std::future::Future;
use std::pin::Pin;

pub use api_versions::{api_versions_response, supported_range, SUPPORTED_APIS};

/// What the connection should send back for one request.
pub enum Reply {
    /// Send this response now.
    Now(Box<ResponseKind>),
    /// The response is ready later (a produce waiting for fsync, a long-polling fetch). The
    /// connection keeps reading and dispatching meanwhile, and sends responses in order.
    Later(Pin<Box<dyn Future<Output = ResponseKind> + Send>>),
    /// Send nothing: Produce with acks=0.
    Nothing,
}

impl Broker {
    /// Handles one decoded request of an authenticated session. The request must be of an
    /// api and version listed in [`SUPPORTED_APIS`]; the connection checks that.
    pub async fn handle(&self, session: &Session, version: i16, request: Request) -> Reply {
        let response = match request {
            Request::ApiVersions(_) => ResponseKind::ApiVersions(api_versions_response()),
            Request::Metadata(r) => {
                ResponseKind::Metadata(metadata::handle(self, session, version, r).await)
            }
            Request::Produce(r) => return produce::handle(self, session, version, r).await,
            Request::Fetch(r) => return fetch::handle(self, session, version, r),
            Request::ListOffsets(r) => {
                ResponseKind::ListOffsets(list_offsets::handle(self, session, version, r).await)
            }
            Request::OffsetForLeaderEpoch(r) => {
                ResponseKind::OffsetForLeaderEpoch(list_offsets::leader_epoch(self, session, r))
            }
            Request::CreateTopics(r) => {
                ResponseKind::CreateTopics(topics::create(self, session, version, r).await)
            }
            Request::DeleteTopics(r) => {
                ResponseKind::DeleteTopics(topics::delete(self, session, r).await)
            }
            Request::CreatePartitions(r) => {
                ResponseKind::CreatePartitions(topics::create_partitions(self, session, r).await)
            }
            Request::DeleteRecords(r) => {
                ResponseKind::DeleteRecords(records_admin::delete_records(self, session, r).await)
            }
            Request::DescribeConfigs(r) => {
                ResponseKind::DescribeConfigs(configs::describe(self, session, version, r))
            }
            Request::AlterConfigs(r) => {
                ResponseKind::AlterConfigs(configs::alter(self, session, r).await)
            }
            Request::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
                configs::incremental_alter(self, session, r).await,
            ),
            Request::DescribeCluster(r) => {
                ResponseKind::DescribeCluster(cluster::describe_cluster(self, session, r))
            }
            Request::DescribeTopicPartitions(r) => ResponseKind::DescribeTopicPartitions(
                cluster::describe_topic_partitions(self, session, r),
            ),
            Request::DescribeUserScramCredentials(r) => {
                ResponseKind::DescribeUserScramCredentials(scram::describe(self, session, r))
            }
            Request::AlterUserScramCredentials(r) => {
                ResponseKind::AlterUserScramCredentials(scram::alter(self, session, r).await)
            }
            Request::InitProducerId(r) => ResponseKind::InitProducerId(
                records_admin::init_producer_id(self, session, r).await,
            ),
            Request::FindCoordinator(r) => {
                ResponseKind::FindCoordinator(groups::find_coordinator(self, session, version, r))
            }
            Request::JoinGroup(r) => return groups::join(self, session, version, r),
            Request::SyncGroup(r) => return groups::sync(self, session, version, r),
            Request::Heartbeat(r) => {
                ResponseKind::Heartbeat(groups::heartbeat(self, session, r).await)
            }
            Request::LeaveGroup(r) => {
                ResponseKind::LeaveGroup(groups::leave(self, session, version, r).await)
            }
            Request::ListGroups(r) => {
                ResponseKind::ListGroups(groups::list(self, session, version, r).await)
            }
            Request::DescribeGroups(r) => {
                ResponseKind::DescribeGroups(groups::describe(self, session, version, r).await)
            }
            Request::DeleteGroups(r) => {
                ResponseKind::DeleteGroups(groups::delete(self, session, r).await)
            }
            Request::OffsetCommit(r) => return offsets::commit(self, session, version, r),
            Request::OffsetFetch(r) => {
                ResponseKind::OffsetFetch(offsets::fetch(self, session, version, r).await)
            }
            Request::OffsetDelete(r) => {
                ResponseKind::OffsetDelete(offsets::delete(self, session, r).await)
            }
            Request::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
                consumer_groups::heartbeat(self, session, version, r).await,
            ),
            Request::ConsumerGroupDescribe(r) => ResponseKind::ConsumerGroupDescribe(
                consumer_groups::describe(self, session, version, r).await,
            ),
            Request::CreateAcls(r) => {
                ResponseKind::CreateAcls(acls::create(self, session, r).await)
            }
            Request::DescribeAcls(r) => {
                ResponseKind::DescribeAcls(acls::describe(self, session, r))
            }
            Request::DeleteAcls(r) => {
                ResponseKind::DeleteAcls(acls::delete(self, session, r).await)
            }
            Request::SaslHandshake(_) | Request::SaslAuthenticate(_) => {
                // The connection answers authentication (and re-authentication) itself and
                // never passes these on, so reaching here is a bug of ours.
                tracing::error!("authentication request passed to the broker");
                return Reply::Nothing;
            }
        };
        Reply::Now(Box::new(response))
    }
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

pub(crate) fn code(error: ResponseError) -> i16 {
    error.code()
}

/// The error a topic-level refusal of the gate answers with, where Kafka reports an invalid
/// name as such. Unknown and denied look alike: existence must not leak.
pub(crate) fn topic_refusal(refusal: Refusal) -> ResponseError {
    match refusal {
        Refusal::Invalid => ResponseError::InvalidTopicException,
        Refusal::Unknown => ResponseError::UnknownTopicOrPartition,
        Refusal::Denied => ResponseError::TopicAuthorizationFailed,
    }
}

/// Like [`topic_refusal`], for APIs where Kafka answers an invalid name as unknown.
/// A topic named by id: one the session may describe but not use is
/// TOPIC_AUTHORIZATION_FAILED, as in Kafka; anything else does not exist for it.
pub(crate) fn topic_id_refusal(refusal: Refusal) -> ResponseError {
    match refusal {
        Refusal::Denied => ResponseError::TopicAuthorizationFailed,
        Refusal::Invalid | Refusal::Unknown => ResponseError::UnknownTopicId,
    }
}

pub(crate) fn topic_refusal_as_unknown(refusal: Refusal) -> ResponseError {
    match refusal {
        Refusal::Invalid | Refusal::Unknown => ResponseError::UnknownTopicOrPartition,
        Refusal::Denied => ResponseError::TopicAuthorizationFailed,
    }
}

/// A group the client names, if the gate lets this session take `action` on it.
pub(crate) fn group_ref(
    broker: &Broker,
    session: &Session,
    action: Action,
    local: &str,
) -> Result<GroupRef, ResponseError> {
    broker
        .access
        .group(session, action, local)
        .map_err(|_| ResponseError::GroupAuthorizationFailed)
}

/// Runs blocking log work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ResponseError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ResponseError::UnknownServerError)
}
