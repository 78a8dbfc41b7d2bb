//! What each Kafka API asks of the gate, as data. Follows Kafka's table "Operations and
//! Resources on Protocols", with one change of resource: where Kafka checks the `Cluster`, a
//! tenant's principal is checked against its own `Tenant` (its virtual cluster), and only the
//! APIs that manage the real cluster (SCRAM credentials) need `Cluster` itself.
//! `docs/authorization.md` ("Kafka API → operation") prints this table; keep them in step.

use kafka_protocol::messages::ApiKey;

/// Kafka's ACL operations and the kinds of resource the gate hands out capabilities for are the
/// policy engine's own: one definition, so what the gate asks is what a policy can name.
pub use schloss_policy::{Action, ResourceKind};

/// One check an API makes: `action` on a resource of `kind`, under `when`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub action: Action,
    pub kind: ResourceKind,
    /// When the check applies ("always", or the case Kafka names).
    pub when: &'static str,
}

const fn need(action: Action, kind: ResourceKind, when: &'static str) -> Need {
    Need { action, kind, when }
}

use Action::*;
use ResourceKind::{Cluster, Group, Tenant, Topic, TransactionalId};

/// Every API the broker can be asked, with the checks it makes. APIs served before
/// authentication (ApiVersions, SASL) need nothing: there is no principal yet.
pub const OPERATIONS: &[(ApiKey, &[Need])] = &[
    (ApiKey::ApiVersions, &[]),
    (ApiKey::SaslHandshake, &[]),
    (ApiKey::SaslAuthenticate, &[]),
    (
        ApiKey::Produce,
        &[
            need(Write, Topic, "always"),
            need(
                IdempotentWrite,
                Tenant,
                "idempotent producer, at InitProducerId; or Write on any topic (KIP-679)",
            ),
            need(Write, TransactionalId, "transactional producer"),
        ],
    ),
    (ApiKey::Fetch, &[need(Read, Topic, "always")]),
    (ApiKey::ListOffsets, &[need(Describe, Topic, "always")]),
    (
        ApiKey::Metadata,
        &[
            need(
                Describe,
                Topic,
                "always; all-topics requests omit what is not allowed",
            ),
            need(Create, Topic, "auto-creation"),
        ],
    ),
    (ApiKey::CreateTopics, &[need(Create, Topic, "always")]),
    (ApiKey::DeleteTopics, &[need(Delete, Topic, "always")]),
    (ApiKey::DeleteRecords, &[need(Delete, Topic, "always")]),
    (
        ApiKey::InitProducerId,
        &[
            need(
                IdempotentWrite,
                Tenant,
                "no transactional id; or Write on any topic (KIP-679)",
            ),
            need(Write, TransactionalId, "transactional id"),
        ],
    ),
    (
        ApiKey::OffsetForLeaderEpoch,
        &[need(Describe, Topic, "always")],
    ),
    (
        ApiKey::DescribeConfigs,
        &[
            need(DescribeConfigs, Topic, "topic resources"),
            need(DescribeConfigs, Tenant, "broker resources"),
        ],
    ),
    (
        ApiKey::AlterConfigs,
        &[
            need(AlterConfigs, Topic, "topic resources"),
            need(AlterConfigs, Tenant, "broker resources"),
        ],
    ),
    (
        ApiKey::IncrementalAlterConfigs,
        &[
            need(AlterConfigs, Topic, "topic resources"),
            need(AlterConfigs, Tenant, "broker resources"),
        ],
    ),
    (ApiKey::CreatePartitions, &[need(Alter, Topic, "always")]),
    (ApiKey::DescribeCluster, &[need(Describe, Tenant, "always")]),
    (
        ApiKey::DescribeTopicPartitions,
        &[need(Describe, Topic, "always")],
    ),
    (
        ApiKey::DescribeUserScramCredentials,
        &[need(Describe, Cluster, "always")],
    ),
    (
        ApiKey::AlterUserScramCredentials,
        &[need(Alter, Cluster, "always")],
    ),
    (
        ApiKey::FindCoordinator,
        &[
            need(Describe, Group, "group coordinator"),
            need(Describe, TransactionalId, "transaction coordinator"),
        ],
    ),
    (ApiKey::JoinGroup, &[need(Read, Group, "always")]),
    (ApiKey::SyncGroup, &[need(Read, Group, "always")]),
    (ApiKey::Heartbeat, &[need(Read, Group, "always")]),
    (ApiKey::LeaveGroup, &[need(Read, Group, "always")]),
    (
        ApiKey::OffsetCommit,
        &[need(Read, Group, "always"), need(Read, Topic, "always")],
    ),
    (
        ApiKey::OffsetFetch,
        &[
            need(Describe, Group, "always"),
            need(
                Describe,
                Topic,
                "always; all-topics requests omit what is not allowed",
            ),
        ],
    ),
    (
        ApiKey::OffsetDelete,
        &[need(Delete, Group, "always"), need(Read, Topic, "always")],
    ),
    (
        ApiKey::ListGroups,
        &[need(
            Describe,
            Group,
            "each group; the answer omits what is not allowed",
        )],
    ),
    (ApiKey::DescribeGroups, &[need(Describe, Group, "always")]),
    (ApiKey::DeleteGroups, &[need(Delete, Group, "always")]),
    (
        ApiKey::ConsumerGroupHeartbeat,
        &[
            need(Read, Group, "always"),
            need(Describe, Topic, "subscribed topics"),
        ],
    ),
    (
        ApiKey::ConsumerGroupDescribe,
        &[
            need(Describe, Group, "always"),
            need(Describe, Topic, "assigned topics"),
        ],
    ),
    (
        ApiKey::DescribeAcls,
        &[need(
            Describe,
            Tenant,
            "always; the ACLs of one's own tenant",
        )],
    ),
    (
        ApiKey::CreateAcls,
        &[need(Alter, Tenant, "always; ACLs of one's own tenant")],
    ),
    (
        ApiKey::DeleteAcls,
        &[need(Alter, Tenant, "always; ACLs of one's own tenant")],
    ),
];

/// The checks `api` makes, or `None` for an API nobody decided on yet.
pub fn needs(api: ApiKey) -> Option<&'static [Need]> {
    OPERATIONS
        .iter()
        .find(|(key, _)| *key == api)
        .map(|(_, needs)| *needs)
}

/// Kafka's name of an API (`Produce`, `DescribeConfigs`): what policies see as
/// `context.apiName` and the audit log records.
pub fn api_name(api: ApiKey) -> &'static str {
    static NAMES: std::sync::OnceLock<Vec<(ApiKey, &'static str)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        // kafka-protocol's variant names are Kafka's API names; leaked once per API.
        OPERATIONS
            .iter()
            .map(|(key, _)| (*key, &*Box::leak(format!("{key:?}").into_boxed_str())))
            .collect()
    });
    names
        .iter()
        .find(|(key, _)| *key == api)
        .map_or("Unknown", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SUPPORTED_APIS;

    #[test]
    fn every_advertised_api_has_decided_operations() {
        for (api, _, _) in SUPPORTED_APIS {
            assert!(needs(*api).is_some(), "{api:?} has no entry in OPERATIONS");
        }
    }

    #[test]
    fn operations_table_names_each_api_once() {
        for (i, (api, _)) in OPERATIONS.iter().enumerate() {
            let again = OPERATIONS.iter().skip(i + 1).any(|(k, _)| k == api);
            assert!(!again, "{api:?} is listed twice");
        }
    }

    #[test]
    fn authenticated_apis_check_something() {
        let pre_auth = [
            ApiKey::ApiVersions,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate,
        ];
        for (api, needs) in OPERATIONS {
            assert_eq!(needs.is_empty(), pre_auth.contains(api), "{api:?}");
        }
    }

    #[test]
    fn api_names_are_kafkas() {
        assert_eq!(api_name(ApiKey::Produce), "Produce");
        assert_eq!(api_name(ApiKey::DescribeConfigs), "DescribeConfigs");
        assert_eq!(api_name(ApiKey::InitProducerId), "InitProducerId");
    }
}
