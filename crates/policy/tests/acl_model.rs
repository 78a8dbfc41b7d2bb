//! Kafka's ACLs rendered as Cedar decide as Kafka would: a property test against a reference
//! model of Kafka's `StandardAuthorizer` written here, and the rendering of hostile names.
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{base_policy, cedar_store, group, policy_dir, tenant, topic, user};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use schloss_model::TenantId;
use schloss_policy::{
    render_set, AclBinding, AclHost, AclOperation, AclPermission, AclPrincipal, AclResourceType,
    Action, DecisionRequest, Effect, PatternType, PolicySnapshot, PolicyStore, RequestContext,
    Resource,
};
use std::net::IpAddr;

const TENANTS: [&str; 2] = ["acme", "globex"];
const USERS: [&str; 3] = ["alice", "bob", "carol"];
const TOPICS: [&str; 4] = ["orders", "orders-eu", "ord", "payments"];
/// Group ids may hold anything: quotes, backslashes and stars.
const GROUPS: [&str; 5] = ["g", "g*1", "g\"q", "g\\b", "gx"];
const TXNS: [&str; 2] = ["tx", "tx-2"];
/// ACL names per resource type: resource names, prefixes of them, `*`, and names with `*`,
/// `"`, `\`. (Drawn per type, so that random ACLs often meet on one resource.)
const TOPIC_ACL_NAMES: [&str; 6] = ["*", "orders", "ord", "orders-", "pay", "o*"];
const GROUP_ACL_NAMES: [&str; 7] = ["*", "g", "g*", "g\"", "g\\", "gx", "g*1"];
const TXN_ACL_NAMES: [&str; 3] = ["*", "tx", "t"];
const HOSTS: [&str; 3] = ["*", "10.0.0.1", "10.0.0.2"];
const CLIENT_IPS: [&str; 3] = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];

/// One tenant's ACL, as stored.
type TenantAcl = (TenantId, AclBinding);

fn binding_strategy() -> impl Strategy<Value = Option<TenantAcl>> {
    (
        0..TENANTS.len(),
        prop::sample::select(AclResourceType::ALL.to_vec()),
        prop::bool::ANY,
        0..7usize,
        0..=USERS.len(),
        0..HOSTS.len(),
        prop::sample::select(AclOperation::ALL.to_vec()),
        prop::bool::ANY,
    )
        .prop_map(|(t, kind, prefixed, name, who, host, op, allow)| {
            let principal = USERS.get(who).map_or(AclPrincipal::Wildcard, |u| {
                AclPrincipal::User((*u).to_owned())
            });
            let names: &[&str] = match kind {
                AclResourceType::Topic => &TOPIC_ACL_NAMES,
                AclResourceType::Group => &GROUP_ACL_NAMES,
                AclResourceType::TransactionalId => &TXN_ACL_NAMES,
                // Kafka's only name for it.
                AclResourceType::Cluster => &["kafka-cluster"],
            };
            let name = names[name % names.len()];
            let binding = AclBinding::new(
                kind,
                if prefixed {
                    PatternType::Prefixed
                } else {
                    PatternType::Literal
                },
                name.to_owned(),
                principal,
                HOSTS[host].parse().unwrap(),
                op,
                if allow {
                    AclPermission::Allow
                } else {
                    AclPermission::Deny
                },
            )
            // Operations the resource type does not support are refused; skip them.
            .ok()?;
            Some((tenant(TENANTS[t]), binding))
        })
}

/// Every resource of the universe, in both tenants.
fn resources() -> Vec<Resource> {
    let mut all = Vec::new();
    for t in TENANTS {
        all.extend(TOPICS.iter().map(|n| topic(t, n)));
        all.extend(GROUPS.iter().map(|g| group(t, g)));
        all.extend(TXNS.iter().map(|x| Resource::TransactionalId {
            tenant: tenant(t),
            id: (*x).to_owned(),
        }));
        all.push(Resource::Tenant(tenant(t)));
    }
    all
}

/// Kafka's decision (`StandardAuthorizerData`), with schloss's tenants around it: only the
/// ACLs of the resource's tenant apply, and only to that tenant's users.
fn kafka_allows(
    acls: &[TenantAcl],
    who: (&str, &str),
    action: Action,
    resource: &Resource,
    ip: IpAddr,
) -> bool {
    let (user_tenant, user_name) = who;
    let Some(owner) = resource.tenant() else {
        return false;
    };
    if owner.as_str() != user_tenant {
        return false;
    }
    let (kind, name) = match resource {
        Resource::Topic { name, .. } => (AclResourceType::Topic, name.as_str()),
        Resource::Group { id, .. } => (AclResourceType::Group, id.as_str()),
        Resource::TransactionalId { id, .. } => (AclResourceType::TransactionalId, id.as_str()),
        Resource::Tenant(_) => (AclResourceType::Cluster, "kafka-cluster"),
        Resource::Cluster => return false,
    };
    let applicable = acls.iter().filter(|(t, b)| {
        t == owner
            && b.resource_type() == kind
            && match b.pattern_type() {
                PatternType::Literal => b.name() == name || b.name() == "*",
                PatternType::Prefixed => name.starts_with(b.name()),
            }
            && match b.principal() {
                AclPrincipal::User(u) => u == user_name,
                AclPrincipal::Wildcard => true,
            }
            && match b.host() {
                AclHost::Any => true,
                AclHost::Ip(h) => *h == ip,
            }
    });
    let op_is = |op: AclOperation, wanted: &str| op.to_string() == wanted;
    let wanted = kafka_name(action);
    let denied = applicable.clone().any(|(_, b)| {
        b.permission() == AclPermission::Deny
            && (b.operation() == AclOperation::All || op_is(b.operation(), wanted))
    });
    if denied {
        return false;
    }
    applicable.into_iter().any(|(_, b)| {
        let op = b.operation();
        b.permission() == AclPermission::Allow
            && (op == AclOperation::All
                || op_is(op, wanted)
                || (wanted == "DESCRIBE"
                    && ["READ", "WRITE", "DELETE", "ALTER"].contains(&op.to_string().as_str()))
                || (wanted == "DESCRIBE_CONFIGS" && op == AclOperation::AlterConfigs))
    })
}

fn kafka_name(action: Action) -> &'static str {
    match action {
        Action::Read => "READ",
        Action::Write => "WRITE",
        Action::Create => "CREATE",
        Action::Delete => "DELETE",
        Action::Alter => "ALTER",
        Action::Describe => "DESCRIBE",
        Action::DescribeConfigs => "DESCRIBE_CONFIGS",
        Action::AlterConfigs => "ALTER_CONFIGS",
        Action::IdempotentWrite => "IDEMPOTENT_WRITE",
        Action::ClusterAction => "CLUSTER_ACTION",
    }
}

/// Installs `acls` as the managed set: one source per tenant.
fn install(store: &PolicyStore, acls: &[TenantAcl]) {
    let sources = TENANTS
        .iter()
        .map(|t| {
            let t = tenant(t);
            let mine: Vec<AclBinding> = acls
                .iter()
                .filter(|(owner, _)| *owner == t)
                .map(|(_, b)| b.clone())
                .collect();
            (format!("acl:{t}"), render_set(&t, &mine))
        })
        .collect();
    store.set_managed(sources).unwrap();
}

fn context_from(ip: IpAddr) -> RequestContext {
    RequestContext {
        client_ip: ip,
        ..common::context()
    }
}

/// Compares every (user, action, resource, client address) of the universe.
fn check_all(snapshot: &PolicySnapshot, acls: &[TenantAcl]) -> Result<(), TestCaseError> {
    let resources = resources();
    for t in TENANTS {
        for u in USERS {
            let subject = user(&format!("{t}/{u}"), &[]);
            for ip in CLIENT_IPS {
                let ip: IpAddr = ip.parse().unwrap();
                let context = context_from(ip);
                for resource in &resources {
                    for action in Action::ALL
                        .into_iter()
                        .filter(|a| a.applies_to(resource.kind()))
                    {
                        let decision = snapshot.decide(&DecisionRequest {
                            subject: &subject,
                            action,
                            resource,
                            context: &context,
                        });
                        let expected = kafka_allows(acls, (t, u), action, resource, ip);
                        prop_assert_eq!(
                            decision.effect == Effect::Allow,
                            expected,
                            "{}/{} {} {} from {}: {:?}\nACLs: {:#?}",
                            t,
                            u,
                            action,
                            resource,
                            ip,
                            decision,
                            acls
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn rendered_acls_decide_as_kafka_does() {
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let acls = prop::collection::vec(binding_strategy(), 0..20)
        .prop_map(|acls| acls.into_iter().flatten().collect::<Vec<_>>());
    runner
        .run(&acls, |acls| {
            install(&store, &acls);
            check_all(&store.snapshot(), &acls)
        })
        .unwrap();
}

/// Kafka: a DENY on READ does not deny the DESCRIBE that an ALLOW on READ gives; a DENY on
/// DESCRIBE wins over it.
#[test]
fn deny_read_keeps_implied_describe_and_deny_describe_wins() {
    let acme = tenant("acme");
    let acl = |op, permission| {
        AclBinding::new(
            AclResourceType::Topic,
            PatternType::Literal,
            "orders".to_owned(),
            AclPrincipal::User("alice".to_owned()),
            AclHost::Any,
            op,
            permission,
        )
        .unwrap()
    };
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    let alice = user("acme/alice", &[]);
    let orders = topic("acme", "orders");
    let decide = |action| common::decide(&store.snapshot(), &alice, action, &orders).effect;

    let allow_read = acl(AclOperation::Read, AclPermission::Allow);
    let deny_read = acl(AclOperation::Read, AclPermission::Deny);
    let deny_describe = acl(AclOperation::Describe, AclPermission::Deny);
    let set = |bindings: &[AclBinding]| {
        store
            .set_managed(vec![("acl:acme".to_owned(), render_set(&acme, bindings))])
            .unwrap()
    };
    set(&[allow_read.clone(), deny_read]);
    assert_eq!(decide(Action::Read), Effect::Deny);
    assert_eq!(decide(Action::Describe), Effect::Allow);
    set(&[allow_read, deny_describe]);
    assert_eq!(decide(Action::Read), Effect::Allow);
    assert_eq!(decide(Action::Describe), Effect::Deny);
}

/// Names that try to break out of the Cedar string render to valid Cedar that matches exactly
/// the one group of that name (or, PREFIXED, the groups starting with it).
#[test]
fn hostile_names_render_to_policies_matching_only_that_name() {
    let acme = tenant("acme");
    let hostile = [
        "x\" || true || \"",
        "x\"); permit(principal, action, resource); //",
        "a\\",
        "a\\\"",
        "line\nbreak",
        "nul\0byte",
        "tab\tcr\r",
        "esc\u{1b}[0m",
        "star*",
        "*x",
        "\\*",
        "unicode-ü-\u{2028}",
    ];
    for name in hostile {
        for pattern in [PatternType::Literal, PatternType::Prefixed] {
            let binding = AclBinding::new(
                AclResourceType::Group,
                pattern,
                name.to_owned(),
                AclPrincipal::Wildcard,
                AclHost::Any,
                AclOperation::Read,
                AclPermission::Allow,
            )
            .unwrap();
            let dir = policy_dir(&[("base.cedar", &base_policy())]);
            let store = cedar_store(dir.path(), &[]).unwrap();
            let text = render_set(&acme, &[binding]);
            store
                .set_managed(vec![("acl:acme".to_owned(), text.clone())])
                .unwrap_or_else(|e| panic!("{name:?} {pattern}: {e}\n{text}"));
            let snapshot = store.snapshot();
            assert_eq!(snapshot.policies().len(), 3, "{text}");
            let bob = user("acme/bob", &[]);
            let read =
                |id: &str| common::decide(&snapshot, &bob, Action::Read, &group("acme", id)).effect;
            assert_eq!(read(name), Effect::Allow, "{name:?} {pattern}\n{text}");
            let longer = format!("{name}-more");
            let expected_longer = if pattern == PatternType::Prefixed {
                Effect::Allow
            } else {
                Effect::Deny
            };
            assert_eq!(read(&longer), expected_longer, "{name:?} {pattern}\n{text}");
            for other in ["x", "", "a", "star", "starx", "\\", "*", "other"] {
                if other != name && !(pattern == PatternType::Prefixed && other.starts_with(name)) {
                    assert_eq!(read(other), Effect::Deny, "{name:?} {pattern} vs {other:?}");
                }
            }
        }
    }
}
