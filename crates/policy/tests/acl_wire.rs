//! ACL bindings and filters from the wire's raw values: what is refused, and which bindings a
//! filter selects (Kafka's `AclBindingFilter.matches`, MATCH included).
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use schloss_policy::acl::INVALID_REQUEST;
use schloss_policy::{
    AclBinding, AclBindingFilter, AclError, AclHost, AclOperation, AclPermission, AclPrincipal,
    AclResourceType, PatternType, PatternTypeFilter,
};

// Kafka's codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TRANSACTIONAL_ID: i8 = 5;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ANY: i8 = 1;
const MATCH: i8 = 2;
const READ: i8 = 3;
const ALLOW: i8 = 3;
const DENY: i8 = 2;

fn binding(kind: i8, name: &str, pattern: i8) -> AclBinding {
    AclBinding::from_wire(kind, name, pattern, "User:alice", "*", READ, ALLOW).unwrap()
}

fn filter(kind: i8, name: Option<&str>, pattern: i8) -> AclBindingFilter {
    AclBindingFilter::from_wire(kind, name, pattern, None, None, ANY, ANY).unwrap()
}

#[test]
fn bindings_parse_from_kafka_codes_and_strings() {
    let b = AclBinding::from_wire(
        TRANSACTIONAL_ID,
        "tx-1",
        PREFIXED,
        "User:*",
        "::ffff:10.0.0.1",
        4,
        DENY,
    )
    .unwrap();
    assert_eq!(b.resource_type(), AclResourceType::TransactionalId);
    assert_eq!(b.pattern_type(), PatternType::Prefixed);
    assert_eq!(b.principal(), &AclPrincipal::Wildcard);
    // An IPv4-mapped address is its IPv4 address.
    assert_eq!(b.host(), &AclHost::Ip("10.0.0.1".parse().unwrap()));
    assert_eq!(b.operation(), AclOperation::Write);
    assert_eq!(b.permission(), AclPermission::Deny);
    for op in AclOperation::ALL {
        assert_eq!(AclOperation::from_code(op.code()), Ok(op));
    }
    assert_eq!(
        AclBinding::from_wire(CLUSTER, "kafka-cluster", LITERAL, "User:a", "*", 12, ALLOW)
            .unwrap()
            .operation(),
        AclOperation::IdempotentWrite
    );
    // A user name may hold colons and slashes: the first colon splits.
    assert_eq!(
        "User:svc:a/b".parse::<AclPrincipal>().unwrap(),
        AclPrincipal::User("svc:a/b".to_owned())
    );
}

#[test]
fn malformed_bindings_are_invalid_requests() {
    let refused = |kind, name: &str, pattern, principal: &str, host: &str, op, perm| {
        let error = AclBinding::from_wire(kind, name, pattern, principal, host, op, perm)
            .expect_err("must be refused");
        assert_eq!(error.error_code(), INVALID_REQUEST);
        error
    };
    let ok = ("t", "User:alice", "*");
    // Unknown codes, and UNKNOWN itself.
    for code in [0, 8, -1, 99] {
        assert!(matches!(
            refused(code, ok.0, LITERAL, ok.1, ok.2, READ, ALLOW),
            AclError::UnknownCode { .. }
        ));
    }
    assert!(matches!(
        refused(TOPIC, ok.0, 0, ok.1, ok.2, READ, ALLOW),
        AclError::UnknownCode { .. }
    ));
    assert!(matches!(
        refused(TOPIC, ok.0, LITERAL, ok.1, ok.2, 0, ALLOW),
        AclError::UnknownCode { .. }
    ));
    assert!(matches!(
        refused(TOPIC, ok.0, LITERAL, ok.1, ok.2, READ, 0),
        AclError::UnknownCode { .. }
    ));
    // ANY and MATCH belong to filters.
    for (kind, pattern, op, perm) in [
        (ANY, LITERAL, READ, ALLOW),
        (TOPIC, ANY, READ, ALLOW),
        (TOPIC, MATCH, READ, ALLOW),
        (TOPIC, LITERAL, ANY, ALLOW),
        (TOPIC, LITERAL, READ, ANY),
    ] {
        assert!(matches!(
            refused(kind, ok.0, pattern, ok.1, ok.2, op, perm),
            AclError::FilterOnly { .. }
        ));
    }
    // Kafka's types schloss has no use for.
    for kind in [6, 7] {
        assert!(matches!(
            refused(kind, ok.0, LITERAL, ok.1, ok.2, 8, ALLOW),
            AclError::Unsupported { .. }
        ));
    }
    for op in [13, 14] {
        assert!(matches!(
            refused(TOPIC, ok.0, LITERAL, ok.1, ok.2, op, ALLOW),
            AclError::Unsupported { .. }
        ));
    }
    // Principals: only `User`, with a name.
    for principal in ["alice", "Group:x", "User:", "user:alice", ":alice", ""] {
        assert_eq!(
            refused(TOPIC, ok.0, LITERAL, principal, ok.2, READ, ALLOW),
            AclError::Principal(principal.to_owned())
        );
    }
    // Hosts: `*` or an address.
    for host in ["", "localhost", "10.0.0.0/8", "10.0.0.256", " 10.0.0.1"] {
        assert_eq!(
            refused(TOPIC, ok.0, LITERAL, ok.1, host, READ, ALLOW),
            AclError::Host(host.to_owned())
        );
    }
    assert_eq!(
        refused(GROUP, "", PREFIXED, ok.1, ok.2, READ, ALLOW),
        AclError::EmptyName
    );
    // Kafka: "The only valid name for the CLUSTER resource is kafka-cluster".
    for name in ["*", "kafka", "acme"] {
        assert_eq!(
            refused(CLUSTER, name, LITERAL, ok.1, ok.2, 8, ALLOW),
            AclError::ClusterName(name.to_owned())
        );
    }
    // Operations the resource type does not have (AclEntry.supportedOperations), and
    // ClusterAction, which no tenant has.
    for (kind, op) in [
        (CLUSTER, READ),
        (CLUSTER, 9),
        (GROUP, 4),
        (TRANSACTIONAL_ID, READ),
    ] {
        let name = if kind == CLUSTER {
            "kafka-cluster"
        } else {
            "x"
        };
        assert!(matches!(
            refused(kind, name, LITERAL, ok.1, ok.2, op, ALLOW),
            AclError::OperationNotSupported { .. }
        ));
    }
}

/// Kafka's `AclEntry.supportedOperations`, less ClusterAction on CLUSTER.
#[test]
fn supported_operations_are_kafkas() {
    use AclOperation as O;
    let kafka = |kind| -> Vec<AclOperation> {
        match kind {
            AclResourceType::Topic => vec![
                O::Read,
                O::Write,
                O::Create,
                O::Describe,
                O::Delete,
                O::Alter,
                O::DescribeConfigs,
                O::AlterConfigs,
            ],
            AclResourceType::Group => vec![
                O::Read,
                O::Describe,
                O::Delete,
                O::DescribeConfigs,
                O::AlterConfigs,
            ],
            AclResourceType::Cluster => vec![
                O::Create,
                O::DescribeConfigs,
                O::AlterConfigs,
                O::IdempotentWrite,
                O::Alter,
                O::Describe,
            ],
            AclResourceType::TransactionalId => vec![O::Describe, O::Write],
        }
    };
    for kind in AclResourceType::ALL {
        for op in AclOperation::ALL {
            let expected = op == O::All || kafka(kind).contains(&op);
            assert_eq!(kind.supports(op), expected, "{kind} {op}");
        }
    }
}

#[test]
fn filters_parse_any_and_match_and_refuse_unknown() {
    let f = AclBindingFilter::from_wire(ANY, None, ANY, None, None, ANY, ANY).unwrap();
    assert_eq!(f, AclBindingFilter::ANY);
    let f = AclBindingFilter::from_wire(
        TOPIC,
        Some("orders"),
        MATCH,
        Some("User:*"),
        Some("10.0.0.1"),
        READ,
        DENY,
    )
    .unwrap();
    assert_eq!(f.resource_type, Some(AclResourceType::Topic));
    assert_eq!(f.pattern_type, PatternTypeFilter::Match);
    assert_eq!(f.principal, Some(AclPrincipal::Wildcard));
    assert_eq!(f.operation, Some(AclOperation::Read));
    assert_eq!(f.permission, Some(AclPermission::Deny));
    for (kind, pattern, op, perm) in [
        (0, ANY, ANY, ANY),
        (ANY, 0, ANY, ANY),
        (ANY, ANY, 0, ANY),
        (ANY, ANY, ANY, 0),
        (42, ANY, ANY, ANY),
    ] {
        let error = AclBindingFilter::from_wire(kind, None, pattern, None, None, op, perm)
            .expect_err("must be refused");
        assert_eq!(error.error_code(), INVALID_REQUEST);
    }
    assert!(AclBindingFilter::from_wire(ANY, None, ANY, Some("Group:x"), None, ANY, ANY).is_err());
    assert!(AclBindingFilter::from_wire(ANY, None, ANY, None, Some("host"), ANY, ANY).is_err());
}

#[test]
fn match_selects_literal_equal_literal_wildcard_and_prefixes_of_the_name() {
    let f = filter(TOPIC, Some("orders-eu"), MATCH);
    assert!(f.matches(&binding(TOPIC, "orders-eu", LITERAL)));
    assert!(f.matches(&binding(TOPIC, "*", LITERAL)));
    assert!(f.matches(&binding(TOPIC, "orders", PREFIXED)));
    assert!(f.matches(&binding(TOPIC, "orders-eu", PREFIXED)));
    assert!(!f.matches(&binding(TOPIC, "orders", LITERAL)));
    assert!(!f.matches(&binding(TOPIC, "orders-eu-1", PREFIXED)));
    assert!(!f.matches(&binding(TOPIC, "*", PREFIXED)));
    assert!(!f.matches(&binding(GROUP, "orders-eu", LITERAL)));
    // MATCH without a name: every binding of the type.
    assert!(filter(TOPIC, None, MATCH).matches(&binding(TOPIC, "x", PREFIXED)));
}

#[test]
fn any_and_exact_pattern_types_compare_names_exactly() {
    // ANY with a name: only bindings of exactly that name, whatever their pattern type.
    let f = filter(ANY, Some("orders"), ANY);
    assert!(f.matches(&binding(TOPIC, "orders", LITERAL)));
    assert!(f.matches(&binding(GROUP, "orders", PREFIXED)));
    assert!(!f.matches(&binding(TOPIC, "*", LITERAL)));
    assert!(!f.matches(&binding(TOPIC, "ord", PREFIXED)));
    // LITERAL / PREFIXED: that pattern type and that name.
    let f = filter(TOPIC, Some("ord"), PREFIXED);
    assert!(f.matches(&binding(TOPIC, "ord", PREFIXED)));
    assert!(!f.matches(&binding(TOPIC, "ord", LITERAL)));
    assert!(!f.matches(&binding(TOPIC, "or", PREFIXED)));
    let f = filter(TOPIC, Some("*"), LITERAL);
    assert!(f.matches(&binding(TOPIC, "*", LITERAL)));
    assert!(!f.matches(&binding(TOPIC, "orders", LITERAL)));
    // No name: every name.
    assert!(filter(TOPIC, None, LITERAL).matches(&binding(TOPIC, "x", LITERAL)));
    assert!(!filter(TOPIC, None, LITERAL).matches(&binding(TOPIC, "x", PREFIXED)));
}

#[test]
fn entry_fields_compare_exactly() {
    let b =
        AclBinding::from_wire(TOPIC, "t", LITERAL, "User:alice", "10.0.0.1", READ, ALLOW).unwrap();
    let entry = |principal, host, op, perm| {
        AclBindingFilter::from_wire(ANY, None, ANY, principal, host, op, perm)
            .unwrap()
            .matches(&b)
    };
    assert!(entry(Some("User:alice"), Some("10.0.0.1"), READ, ALLOW));
    // `User:*` in a filter is the wildcard binding, not every principal (string equality).
    assert!(!entry(Some("User:*"), None, ANY, ANY));
    assert!(!entry(Some("User:bob"), None, ANY, ANY));
    assert!(!entry(None, Some("*"), ANY, ANY));
    assert!(!entry(None, Some("10.0.0.2"), ANY, ANY));
    // ALL in a filter is the ALL binding, not every operation.
    assert!(!entry(None, None, 2, ANY));
    assert!(!entry(None, None, 4, ANY));
    assert!(!entry(None, None, ANY, DENY));
}

#[test]
fn bindings_store_as_kafka_names_and_are_checked_when_read_back() {
    let b =
        AclBinding::from_wire(GROUP, "g\"*\\", PREFIXED, "User:alice", "::1", 10, DENY).unwrap();
    let json = serde_json::to_string(&b).unwrap();
    assert_eq!(
        json,
        r#"{"resource_type":"GROUP","pattern_type":"PREFIXED","name":"g\"*\\","principal":"User:alice","host":"::1","operation":"DESCRIBE_CONFIGS","permission":"DENY"}"#
    );
    assert_eq!(serde_json::from_str::<AclBinding>(&json).unwrap(), b);
    let cluster_named_x = json.replace("GROUP", "CLUSTER").replace("g\\\"*\\\\", "x");
    assert!(serde_json::from_str::<AclBinding>(&cluster_named_x).is_err());
    let bad_principal = json.replace("User:alice", "Group:x");
    assert!(serde_json::from_str::<AclBinding>(&bad_principal).is_err());
}
