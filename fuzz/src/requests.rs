//! Request inputs are `api_key u8 | version i8 | body`: the first byte is the raw api key (every
//! key we advertise is below 256) and the second the version, so a seed keeps its meaning when
//! the advertised table changes. Keys and versions we do not advertise are kept: they must be
//! refused cleanly.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use schloss_protocol::request::Request;

/// A request input split into its parts. `api` is `None` for a key kafka-protocol does not know.
pub struct RequestInput {
    pub api: Option<ApiKey>,
    pub raw_key: i16,
    pub version: i16,
    pub body: Bytes,
}

impl RequestInput {
    pub fn split(data: &[u8]) -> Option<Self> {
        let (&key, rest) = data.split_first()?;
        let (&version, body) = rest.split_first()?;
        let raw_key = i16::from(key);
        Some(Self {
            api: ApiKey::try_from(raw_key).ok(),
            raw_key,
            version: i16::from(version as i8),
            body: Bytes::copy_from_slice(body),
        })
    }

    /// The input bytes for `api` at `version` with `body` (for building seeds).
    pub fn join(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 2);
        out.push(api as i16 as u8);
        out.push(version as i8 as u8);
        out.extend_from_slice(body);
        out
    }
}

/// Whether the broker advertises `version` of `api` (what the connection checks before it
/// decodes).
pub fn advertised(api: ApiKey, version: i16) -> bool {
    schloss_broker::handlers::supported_range(api)
        .is_some_and(|(min, max)| (min..=max).contains(&version))
}

macro_rules! all_requests {
    ($($variant:ident,)*) => {
        /// The request encoded by kafka-protocol at `version`.
        pub fn kp_encode(request: &Request, version: i16) -> Result<Bytes, String> {
            let mut buf = BytesMut::new();
            match request {
                $(Request::$variant(m) => m.encode(&mut buf, version),)*
            }
            .map_err(|e| e.to_string())?;
            Ok(buf.freeze())
        }

        /// kafka-protocol's computed size of the request at `version`.
        pub fn kp_size(request: &Request, version: i16) -> Result<usize, String> {
            match request {
                $(Request::$variant(m) => m.compute_size(version),)*
            }
            .map_err(|e| e.to_string())
        }

        /// `body` decoded by kafka-protocol as `api` at `version`, and the bytes it left.
        ///
        /// Trusted input only: kafka-protocol sizes allocations from wire counts. Call it only
        /// on a body our bounded decoder has accepted (every count it read was checked against
        /// the bytes present).
        pub fn kp_decode(api: ApiKey, version: i16, mut body: Bytes) -> Option<(Result<Request, String>, usize)> {
            let decoded = match api {
                $(ApiKey::$variant => Decodable::decode(&mut body, version).map(Request::$variant),)*
                _ => return None,
            };
            Some((decoded.map_err(|e| e.to_string()), body.len()))
        }
    };
}

all_requests! {
    ApiVersions,
    SaslHandshake,
    SaslAuthenticate,
    Metadata,
    DescribeCluster,
    DescribeTopicPartitions,
    CreateTopics,
    DeleteTopics,
    CreatePartitions,
    Produce,
    InitProducerId,
    Fetch,
    ListOffsets,
    OffsetForLeaderEpoch,
    DeleteRecords,
    DescribeConfigs,
    AlterConfigs,
    IncrementalAlterConfigs,
    FindCoordinator,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    LeaveGroup,
    ListGroups,
    DescribeGroups,
    DeleteGroups,
    OffsetCommit,
    OffsetFetch,
    OffsetDelete,
    ConsumerGroupHeartbeat,
    ConsumerGroupDescribe,
    DescribeUserScramCredentials,
    AlterUserScramCredentials,
    CreateAcls,
    DescribeAcls,
    DeleteAcls,
}
