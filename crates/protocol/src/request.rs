//! Bounded request decoding into kafka-protocol's request types.
//!
//! Untrusted bodies never reach kafka-protocol's `Decodable::decode` (its array decoders size an
//! allocation from the wire before checking it). Instead each request struct implements
//! [`FromReader`] over our [`Reader`], field by field in the order and under the version
//! conditions of kafka-protocol 0.18's generated decoders, so valid input decodes to exactly
//! the value kafka-protocol would produce; the differential tests in `tests/` pin that.
//! Trailing bytes after a request body are ignored, as Kafka does.

use bytes::Bytes;
use kafka_protocol::messages::*;

use crate::reader::{DecodeError, Reader};
use crate::versions::decodable_range;

mod acls;
mod configs;
mod consumer_groups;
mod fetch;
mod group_offsets;
mod groups;
mod handshake;
mod metadata;
mod offsets;
mod produce;
mod scram;
mod topics;

/// A message that can be read from untrusted bytes at a given version.
///
/// Implementations assume the version was checked against [`decodable_range`] by
/// [`decode_request`]; nested structs get the request's version.
pub(crate) trait FromReader: Sized {
    fn from_reader(r: &mut Reader, version: i16) -> Result<Self, DecodeError>;
}

macro_rules! requests {
    ($($variant:ident($ty:ident),)*) => {
        /// A decoded request body: one variant per API we decode (see [`crate::versions::DECODABLE`]).
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $($variant($ty),)*
        }

        impl Request {
            /// The API this request belongs to.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Request::$variant(_) => ApiKey::$variant,)*
                }
            }
        }

        fn decode_checked(api_key: ApiKey, version: i16, r: &mut Reader) -> Result<Request, DecodeError> {
            match api_key {
                $(ApiKey::$variant => $ty::from_reader(r, version).map(Request::$variant),)*
                other => Err(DecodeError::UnknownApiKey(other as i16)),
            }
        }
    };
}

requests! {
    ApiVersions(ApiVersionsRequest),
    SaslHandshake(SaslHandshakeRequest),
    SaslAuthenticate(SaslAuthenticateRequest),
    Metadata(MetadataRequest),
    DescribeCluster(DescribeClusterRequest),
    DescribeTopicPartitions(DescribeTopicPartitionsRequest),
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    CreatePartitions(CreatePartitionsRequest),
    Produce(ProduceRequest),
    InitProducerId(InitProducerIdRequest),
    Fetch(FetchRequest),
    ListOffsets(ListOffsetsRequest),
    OffsetForLeaderEpoch(OffsetForLeaderEpochRequest),
    DeleteRecords(DeleteRecordsRequest),
    DescribeConfigs(DescribeConfigsRequest),
    AlterConfigs(AlterConfigsRequest),
    IncrementalAlterConfigs(IncrementalAlterConfigsRequest),
    FindCoordinator(FindCoordinatorRequest),
    JoinGroup(JoinGroupRequest),
    SyncGroup(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    LeaveGroup(LeaveGroupRequest),
    ListGroups(ListGroupsRequest),
    DescribeGroups(DescribeGroupsRequest),
    DeleteGroups(DeleteGroupsRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    OffsetDelete(OffsetDeleteRequest),
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest),
    ConsumerGroupDescribe(ConsumerGroupDescribeRequest),
    DescribeUserScramCredentials(DescribeUserScramCredentialsRequest),
    AlterUserScramCredentials(AlterUserScramCredentialsRequest),
    CreateAcls(CreateAclsRequest),
    DescribeAcls(DescribeAclsRequest),
    DeleteAcls(DeleteAclsRequest),
}

/// Decodes a request body (the bytes after the request header) of `api_key` at `version`.
///
/// Errors with [`DecodeError::UnknownApiKey`] for an API we do not decode and
/// [`DecodeError::UnsupportedVersion`] for a version outside [`decodable_range`].
pub fn decode_request(api_key: ApiKey, version: i16, body: Bytes) -> Result<Request, DecodeError> {
    let (min, max) = decodable_range(api_key).ok_or(DecodeError::UnknownApiKey(api_key as i16))?;
    if version < min || version > max {
        return Err(DecodeError::UnsupportedVersion {
            api_key: api_key as i16,
            version,
        });
    }
    decode_checked(api_key, version, &mut Reader::new(body))
}
