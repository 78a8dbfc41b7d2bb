//! Which request versions we can decode. The broker advertises a subset of this in ApiVersions.

use kafka_protocol::messages::ApiKey;

/// `(api, min, max)` for every request we decode; these are kafka-protocol 0.18's ranges,
/// which match Kafka 4.x.
pub const DECODABLE: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DescribeTopicPartitions, 0, 0),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::Produce, 3, 13),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    // v0 is gone from Kafka 4 (KIP-896) and from kafka-protocol 0.18.
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
];

/// The `(min, max)` versions we decode for `api_key`, or `None` if we do not decode it.
pub fn decodable_range(api_key: ApiKey) -> Option<(i16, i16)> {
    DECODABLE
        .iter()
        .find(|(key, _, _)| *key == api_key)
        .map(|&(_, min, max)| (min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodable_ranges_lie_within_kafka_protocol_ranges() {
        for &(key, min, max) in DECODABLE {
            let valid = key.valid_versions();
            assert!(min <= max, "{key:?}");
            assert!(
                valid.min <= min && max <= valid.max,
                "{key:?} {min}-{max} vs {valid:?}"
            );
        }
    }

    #[test]
    fn decodable_range_finds_listed_apis_only() {
        assert_eq!(decodable_range(ApiKey::Fetch), Some((4, 18)));
        assert_eq!(decodable_range(ApiKey::AddPartitionsToTxn), None);
    }
}
