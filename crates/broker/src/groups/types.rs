//! Inputs and outputs of the coordinator core, in plain Rust: handlers translate the Kafka
//! request structs into these and the results back, per API version.

use super::records::GroupRecord;
use bytes::Bytes;
use kafka_protocol::error::ResponseError;

/// A Kafka error code as the core decides it; `None` is success.
pub type Code = Option<ResponseError>;

/// Per topic, per partition results.
pub type TopicResults = Vec<(String, Vec<(i32, Code)>)>;

/// Identifies a JoinGroup or SyncGroup request whose answer may come later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

/// Coordinator settings, named after Kafka's broker configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// How long a new classic member may wait in JoinGroup (Kafka: 5 minutes).
    pub new_member_join_timeout_ms: u64,
    /// `group.max.size`.
    pub max_group_size: usize,
    /// `offsets.retention.minutes`, in milliseconds.
    pub offsets_retention_ms: u64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: usize,
    /// `group.consumer.session.timeout.ms`.
    pub consumer_session_timeout_ms: u64,
    /// `group.consumer.heartbeat.interval.ms`.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`.
    pub consumer_max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay_ms: 3_000,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            new_member_join_timeout_ms: 300_000,
            max_group_size: usize::MAX,
            offsets_retention_ms: 10_080 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_max_size: usize::MAX,
        }
    }
}

/// One protocol a classic member supports, with its opaque metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub client_id: String,
    pub client_host: String,
    /// JoinGroup v4+: a new member must rejoin with the id we give it.
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a rejoining static leader may skip the assignment.
    pub supports_skip_assignment: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    pub error: Code,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    pub fn error(member_id: &str, error: ResponseError) -> Self {
        Self {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    pub error: Code,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResponse {
    pub fn error(error: ResponseError) -> Self {
        Self {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A late answer for a parked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Join(JoinResponse),
    Sync(SyncResponse),
}

/// What one input to the core produced: answers for parked requests and records that must be
/// durable before any answer (or the caller's own result) goes out.
#[derive(Debug, Default)]
pub struct Effects {
    pub replies: Vec<(Token, Reply)>,
    pub records: Vec<GroupRecord>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty() && self.records.is_empty()
    }
}

/// A member named in LeaveGroup.
#[derive(Debug, Clone)]
pub struct LeavingMember {
    pub member_id: String,
    pub instance_id: Option<String>,
}

/// The group's view in ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: &'static str,
    pub group_type: &'static str,
}

/// A classic group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol_data: String,
    pub members: Vec<DescribedMember>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// What the core needs to know about topics (from the metadata image).
pub trait TopicView {
    /// Id and partition count of a topic by internal name.
    fn topic(&self, name: &str) -> Option<(uuid::Uuid, i32)>;
    /// Internal name of a topic by id.
    fn topic_name(&self, id: &uuid::Uuid) -> Option<String>;
}

/// A ConsumerGroupHeartbeat (KIP-848), topic names already internal.
#[derive(Debug, Clone, Default)]
pub struct ConsumerHeartbeat {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub owned: Option<Vec<(uuid::Uuid, Vec<i32>)>>,
    pub client_id: String,
    pub client_host: String,
    /// v1+: the client generates its member id.
    pub version: i16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeatResponse {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent on a full request or when the member's assignment changed.
    pub assignment: Option<super::assignor::Assignment>,
}

/// An error with the message Kafka sends along.
pub type Failure = (ResponseError, Option<String>);

pub fn fail(error: ResponseError, message: impl Into<String>) -> Failure {
    (error, Some(message.into()))
}
