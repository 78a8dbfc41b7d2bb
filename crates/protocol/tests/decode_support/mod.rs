//! Test support for the request decoders: a deterministic value source, sample requests for
//! every API we decode (one module per family, mirroring `src/request/`), and kafka-protocol's
//! own encoder and decoder for the differential tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

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

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use schloss_model::TopicId;
use schloss_protocol::request::Request;

/// Whether optional values come out present, absent, or at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    AllSet,
    AllNull,
    Random,
}

/// A seeded source of field values (splitmix64), so a sample is reproducible from its seed.
pub struct Filler {
    state: u64,
    nulls: Nulls,
}

impl Filler {
    pub fn new(seed: u64, nulls: Nulls) -> Self {
        Self { state: seed, nulls }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn i8(&mut self) -> i8 {
        self.next() as i8
    }
    pub fn i16(&mut self) -> i16 {
        self.next() as i16
    }
    pub fn i32(&mut self) -> i32 {
        self.next() as i32
    }
    pub fn i64(&mut self) -> i64 {
        self.next() as i64
    }
    pub fn u16(&mut self) -> u16 {
        self.next() as u16
    }
    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }
    pub fn f64(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 8.0
    }
    pub fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    pub fn uuid(&mut self) -> TopicId {
        TopicId::from_u128((u128::from(self.next()) << 64) | u128::from(self.next()))
    }

    /// A short string, sometimes empty, sometimes with multi-byte UTF-8.
    pub fn str(&mut self) -> StrBytes {
        const WORDS: &[&str] = &["", "orders", "t-1", "grüße", "日本", "a.b_c", "x"];
        let n = self.below(3) + 1;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(WORDS[self.below(WORDS.len() as u64) as usize]);
        }
        StrBytes::from_string(s)
    }

    pub fn bytes(&mut self) -> Bytes {
        let n = self.below(24);
        (0..n)
            .map(|_| self.next() as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    pub fn maybe<T>(&mut self, value: impl FnOnce(&mut Self) -> T) -> Option<T> {
        let present = match self.nulls {
            Nulls::AllSet => true,
            Nulls::AllNull => false,
            Nulls::Random => self.bool(),
        };
        present.then(|| value(self))
    }

    /// One to three elements: every array in a sample is non-empty.
    pub fn vec<T>(&mut self, mut element: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.below(3) + 1;
        (0..n).map(|_| element(self)).collect()
    }

    /// Zero to two tagged fields with numbers no message knows.
    pub fn unknown_tags(&mut self) -> BTreeMap<i32, Bytes> {
        let n = self.below(3);
        (0..n)
            .map(|_| (1000 + self.below(100_000) as i32, self.bytes()))
            .collect()
    }
}

macro_rules! apis {
    ($($variant:ident => $family:ident::$sample:ident,)*) => {
        /// A sample request of `api` at `version` with values drawn from `f`.
        pub fn sample_request(api: ApiKey, version: i16, f: &mut Filler) -> Request {
            match api {
                $(ApiKey::$variant => Request::$variant($family::$sample(f, version)),)*
                other => panic!("no sample for {other:?}"),
            }
        }

        /// The request encoded by kafka-protocol.
        pub fn kp_encode(request: &Request, version: i16) -> Bytes {
            let mut buf = BytesMut::new();
            match request {
                $(Request::$variant(m) => m.encode(&mut buf, version),)*
            }
            .unwrap_or_else(|e| panic!("kafka-protocol cannot encode {:?} v{version}: {e}", request.api_key()));
            buf.freeze()
        }

        /// The body decoded by kafka-protocol (trusted input only: it may abort on hostile bytes).
        pub fn kp_decode(api: ApiKey, version: i16, mut body: Bytes) -> Request {
            match api {
                $(ApiKey::$variant => Request::$variant(Decodable::decode(&mut body, version).unwrap()),)*
                other => panic!("no decoder for {other:?}"),
            }
        }
    };
}

apis! {
    ApiVersions => handshake::sample_api_versions_request,
    SaslHandshake => handshake::sample_sasl_handshake_request,
    SaslAuthenticate => handshake::sample_sasl_authenticate_request,
    Metadata => metadata::sample_metadata_request,
    DescribeCluster => metadata::sample_describe_cluster_request,
    DescribeTopicPartitions => metadata::sample_describe_topic_partitions_request,
    CreateTopics => topics::sample_create_topics_request,
    DeleteTopics => topics::sample_delete_topics_request,
    CreatePartitions => topics::sample_create_partitions_request,
    Produce => produce::sample_produce_request,
    InitProducerId => produce::sample_init_producer_id_request,
    Fetch => fetch::sample_fetch_request,
    ListOffsets => offsets::sample_list_offsets_request,
    OffsetForLeaderEpoch => offsets::sample_offset_for_leader_epoch_request,
    DeleteRecords => offsets::sample_delete_records_request,
    DescribeConfigs => configs::sample_describe_configs_request,
    AlterConfigs => configs::sample_alter_configs_request,
    IncrementalAlterConfigs => configs::sample_incremental_alter_configs_request,
    FindCoordinator => groups::sample_find_coordinator_request,
    JoinGroup => groups::sample_join_group_request,
    SyncGroup => groups::sample_sync_group_request,
    Heartbeat => groups::sample_heartbeat_request,
    LeaveGroup => groups::sample_leave_group_request,
    ListGroups => groups::sample_list_groups_request,
    DescribeGroups => groups::sample_describe_groups_request,
    DeleteGroups => groups::sample_delete_groups_request,
    OffsetCommit => group_offsets::sample_offset_commit_request,
    OffsetFetch => group_offsets::sample_offset_fetch_request,
    OffsetDelete => group_offsets::sample_offset_delete_request,
    ConsumerGroupHeartbeat => consumer_groups::sample_consumer_group_heartbeat_request,
    ConsumerGroupDescribe => consumer_groups::sample_consumer_group_describe_request,
    DescribeUserScramCredentials => scram::sample_describe_user_scram_credentials_request,
    AlterUserScramCredentials => scram::sample_alter_user_scram_credentials_request,
    CreateAcls => acls::sample_create_acls_request,
    DescribeAcls => acls::sample_describe_acls_request,
    DeleteAcls => acls::sample_delete_acls_request,
}
