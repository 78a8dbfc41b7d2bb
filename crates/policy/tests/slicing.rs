//! A request is evaluated against the policies whose scope can apply to its tenants (the
//! snapshot's slices). This checks, over a grid of principals, actions, resources and contexts,
//! that the slice decides exactly as the whole set: same effect, same basis, same policies.
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use schloss_policy::{
    render_set, AclBinding, AclHost, AclOperation, AclPermission, AclPrincipal, AclResourceType,
    Action, DecisionRequest, PatternType, Resource, ResourceKind, SecurityProtocol,
};

/// Every shape of scope the slicing tells apart, across three tenants.
const SCOPES: &str = r#"
@id("user-eq")
permit (principal == Kafka::User::"acme/bob", action, resource);
@id("user-in-tenant-resource-other")
permit (principal in Kafka::Tenant::"acme", action == Kafka::Action::"Read", resource in Kafka::Tenant::"globex");
@id("role-any")
permit (principal in Kafka::Role::"auditor", action == Kafka::Action::"Describe", resource);
@id("is-in")
permit (principal is Kafka::User in Kafka::Tenant::"globex", action, resource is Kafka::Topic in Kafka::Tenant::"globex");
@id("topic-eq")
permit (principal, action == Kafka::Action::"Write", resource == Kafka::Topic::"globex/orders");
@id("tenant-eq")
permit (principal, action == Kafka::Action::"Create", resource == Kafka::Tenant::"acme");
@id("cluster-eq")
permit (principal in Kafka::Role::"auditor", action == Kafka::Action::"Describe", resource == Kafka::Cluster::"kafka-cluster");
@id("condition-names-a-tenant")
forbid (principal, action == Kafka::Action::"Write", resource)
when { resource has tenant && resource.tenant == Kafka::Tenant::"globex" && principal.name == "mallory" };
@id("forbid-pinned")
forbid (principal in Kafka::Tenant::"acme", action == Kafka::Action::"Delete", resource is Kafka::Topic in Kafka::Tenant::"acme")
unless { principal in Kafka::Role::"admin" };
@id("group-pinned")
permit (principal, action == Kafka::Action::"Read", resource == Kafka::Group::"ops/audit");
"#;

#[test]
fn every_slice_decides_as_the_whole_set() {
    let examples = policies_dir().join("examples");
    let mut files: Vec<(String, String)> = vec![
        ("base.cedar".into(), base_policy()),
        ("scopes.cedar".into(), SCOPES.into()),
    ];
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.push((name, std::fs::read_to_string(&path).unwrap()));
    }
    let acls = [
        AclBinding::new(
            AclResourceType::Topic,
            PatternType::Prefixed,
            "sales-".into(),
            AclPrincipal::User("alice".into()),
            AclHost::Any,
            AclOperation::Write,
            AclPermission::Allow,
        )
        .unwrap(),
        AclBinding::new(
            AclResourceType::Topic,
            PatternType::Literal,
            "*".into(),
            AclPrincipal::Wildcard,
            AclHost::Any,
            AclOperation::Write,
            AclPermission::Deny,
        )
        .unwrap(),
    ];
    files.push(("acl.cedar".into(), render_set(&tenant("globex"), &acls)));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let dir = policy_dir(&borrowed);
    let snapshot = cedar_store(dir.path(), &["ops/root"]).unwrap().snapshot();

    let mut subjects = Vec::new();
    for t in ["acme", "globex", "ops"] {
        for name in ["bob", "alice", "mallory", "billing", "root"] {
            for roles in [
                &[][..],
                &["admin"][..],
                &["analytics", "auditor"][..],
                &["operator"][..],
                &["pii-reader"][..],
            ] {
                subjects.push(user(&format!("{t}/{name}"), roles));
            }
        }
    }
    let mut resources = vec![Resource::Cluster];
    for t in ["acme", "globex", "ops"] {
        resources.push(Resource::Tenant(tenant(t)));
        for name in ["orders", "billing-x", "pii-1", "sales-eu"] {
            resources.push(topic(t, name));
        }
        for id in ["analytics-1", "billing-g", "audit"] {
            resources.push(group(t, id));
        }
        resources.push(Resource::TransactionalId {
            tenant: tenant(t),
            id: "tx".into(),
        });
    }
    let mut contexts = vec![context()];
    let mut ops_network = context();
    ops_network.client_ip = "10.20.1.2".parse().unwrap();
    contexts.push(ops_network);
    let mut spiffe = context();
    spiffe.security_protocol = SecurityProtocol::Ssl;
    spiffe.spiffe_id = Some("spiffe://acme.example/ns/prod/sa/orders-writer".into());
    contexts.push(spiffe);

    let mut compared = 0;
    let mut allowed = 0;
    for subject in &subjects {
        for resource in &resources {
            for action in Action::ALL {
                if !action.applies_to(resource.kind()) && resource.kind() != ResourceKind::Topic {
                    continue;
                }
                for context in &contexts {
                    let req = DecisionRequest {
                        subject,
                        action,
                        resource,
                        context,
                    };
                    let sliced = snapshot.decide(&req);
                    let whole = snapshot.decide_with_every_policy(&req);
                    assert_eq!(
                        (sliced.effect, &sliced.basis, &sliced.policies),
                        (whole.effect, &whole.basis, &whole.policies),
                        "{} {action} {resource}",
                        subject.principal.name
                    );
                    compared += 1;
                    allowed += usize::from(sliced.is_allowed());
                }
            }
        }
    }
    // The grid reaches both answers often enough to mean something.
    assert!(compared > 10_000, "{compared}");
    assert!(
        allowed > 1_000 && allowed < compared - 1_000,
        "{allowed} of {compared}"
    );
}
