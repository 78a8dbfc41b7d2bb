//! What the engine decides: implied operations, forbid precedence, tenant isolation, super
//! users, mode allow-tenant, and the schema agreeing with the engine's action table.
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
    Action, Basis, DecisionRequest, Effect, Mode, PolicySnapshot, PolicyStore, Resource,
    ResourceKind, StoreConfig,
};
use std::path::PathBuf;

fn snapshot_of(files: &[(&str, &str)]) -> (tempfile::TempDir, std::sync::Arc<PolicySnapshot>) {
    let dir = policy_dir(files);
    let snapshot = cedar_store(dir.path(), &["ops/root"]).unwrap().snapshot();
    (dir, snapshot)
}

fn examples(names: &[&str]) -> Vec<PathBuf> {
    let dir = policies_dir();
    let mut files = vec![dir.join("base.cedar")];
    files.extend(names.iter().map(|n| dir.join("examples").join(n)));
    files
}

const ACME_WRITES: &str = "@id(\"acme-write\")\npermit (principal in Kafka::Tenant::\"acme\", action == Kafka::Action::\"Write\", resource is Kafka::Topic in Kafka::Tenant::\"acme\");\n";

#[test]
fn read_write_delete_and_alter_each_imply_describe() {
    for action in [Action::Read, Action::Write, Action::Delete, Action::Alter] {
        let policy = format!(
            "@id(\"grant\")\npermit (principal, action == Kafka::Action::\"{action}\", resource is Kafka::Topic);\n"
        );
        let (_dir, snapshot) = snapshot_of(&[("base.cedar", &base_policy()), ("p.cedar", &policy)]);
        let alice = user("acme/alice", &[]);
        let decision = decide(
            &snapshot,
            &alice,
            Action::Describe,
            &topic("acme", "orders"),
        );
        assert!(decision.is_allowed(), "{action}: {decision:?}");
        assert_eq!(decision.basis, Basis::ImpliedBy(action));
        assert_eq!(decision.policies[0].id, "grant");
        assert_eq!(decision.policies[0].location.line, Some(1));
        // The implication runs one way only.
        let other = Action::ALL
            .into_iter()
            .find(|a| *a != action && *a != Action::Describe && a.applies_to(ResourceKind::Topic))
            .unwrap();
        assert!(!decide(&snapshot, &alice, other, &topic("acme", "orders")).is_allowed());
    }
}

#[test]
fn alter_configs_implies_describe_configs_but_not_the_reverse() {
    let policy = "permit (principal, action == Kafka::Action::\"AlterConfigs\", resource);\n";
    let (_dir, snapshot) = snapshot_of(&[("base.cedar", &base_policy()), ("p.cedar", policy)]);
    let alice = user("acme/alice", &[]);
    let tenant_acme = Resource::Tenant(tenant("acme"));
    let decision = decide(&snapshot, &alice, Action::DescribeConfigs, &tenant_acme);
    assert_eq!(decision.basis, Basis::ImpliedBy(Action::AlterConfigs));
    assert!(!decide(&snapshot, &alice, Action::Describe, &tenant_acme).is_allowed());

    let policy = "permit (principal, action == Kafka::Action::\"DescribeConfigs\", resource);\n";
    let (_dir, snapshot) = snapshot_of(&[("base.cedar", &base_policy()), ("p.cedar", policy)]);
    assert!(!decide(&snapshot, &alice, Action::AlterConfigs, &tenant_acme).is_allowed());
}

#[test]
fn a_forbid_on_describe_wins_over_an_implying_permit() {
    let forbid = "@id(\"hide\")\nforbid (principal, action == Kafka::Action::\"Describe\", resource is Kafka::Topic)\nwhen { resource.name like \"secret-*\" };\n";
    let (_dir, snapshot) = snapshot_of(&[
        ("base.cedar", &base_policy()),
        ("w.cedar", ACME_WRITES),
        ("f.cedar", forbid),
    ]);
    let alice = user("acme/alice", &[]);
    let secret = topic("acme", "secret-plans");
    assert!(decide(&snapshot, &alice, Action::Write, &secret).is_allowed());
    let decision = decide(&snapshot, &alice, Action::Describe, &secret);
    assert_eq!(decision.effect, Effect::Deny);
    assert_eq!(decision.basis, Basis::Policies);
    assert_eq!(decision.policies[0].id, "hide");
    // Elsewhere Write still implies Describe.
    let open = decide(
        &snapshot,
        &alice,
        Action::Describe,
        &topic("acme", "orders"),
    );
    assert_eq!(open.basis, Basis::ImpliedBy(Action::Write));
}

#[test]
fn a_forbidden_operation_implies_nothing() {
    let forbid =
        "@id(\"no-writes\")\nforbid (principal, action == Kafka::Action::\"Write\", resource);\n";
    let (_dir, snapshot) = snapshot_of(&[
        ("base.cedar", &base_policy()),
        ("w.cedar", ACME_WRITES),
        ("f.cedar", forbid),
    ]);
    let alice = user("acme/alice", &[]);
    let decision = decide(
        &snapshot,
        &alice,
        Action::Describe,
        &topic("acme", "orders"),
    );
    assert_eq!(decision.effect, Effect::Deny);
    assert_eq!(decision.basis, Basis::NoPermit);
}

#[test]
fn a_forbid_overrides_a_broad_permit_in_the_example() {
    let snapshot = schloss_policy::load_files(&examples(&["forbid-override.cedar"]), &[]).unwrap();
    let alice = user("acme/alice", &[]);
    let reader = user("acme/rita", &["pii-reader"]);
    let pii = topic("acme", "pii-customers");
    for action in [Action::Read, Action::Write, Action::Describe] {
        let decision = decide(&snapshot, &alice, action, &pii);
        assert!(!decision.is_allowed(), "{action}");
        assert_eq!(decision.policies[0].id, "acme-pii-topics-locked");
        assert!(
            decide(&snapshot, &reader, action, &pii).is_allowed(),
            "{action}"
        );
        assert!(decide(&snapshot, &alice, action, &topic("acme", "orders")).is_allowed());
    }
}

/// Every action on every kind of resource of tenant `globex`, for a user of `acme`, even with
/// a policy that permits everything to everyone next to the examples.
#[test]
fn tenant_isolation_holds_against_every_broad_permit() {
    let mut files = examples(&[
        "analytics-readonly.cedar",
        "forbid-override.cedar",
        "ip-range.cedar",
        "prefixed.cedar",
        "producer-spiffe.cedar",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let everything = dir.path().join("everything.cedar");
    std::fs::write(
        &everything,
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    files.push(everything);
    let snapshot = schloss_policy::load_files(&files, &[]).unwrap();
    let mut context = context();
    context.client_ip = "10.20.1.1".parse().unwrap();
    let alice = user(
        "acme/alice",
        &["analytics", "admin", "pii-reader", "globex-admin"],
    );
    let globex = [
        topic("globex", "orders"),
        group("globex", "analytics-1"),
        Resource::TransactionalId {
            tenant: tenant("globex"),
            id: "tx".to_owned(),
        },
        Resource::Tenant(tenant("globex")),
        Resource::Cluster,
    ];
    for resource in &globex {
        for action in Action::ALL
            .into_iter()
            .filter(|a| a.applies_to(resource.kind()))
        {
            let decision = snapshot.decide(&DecisionRequest {
                subject: &alice,
                action,
                resource,
                context: &context,
            });
            assert_eq!(decision.effect, Effect::Deny, "{action} on {resource}");
            assert_eq!(decision.policies[0].id, "base-tenant-isolation");
        }
    }
    // The same broad permit does work inside the own tenant; operators cross tenants.
    assert!(decide(&snapshot, &alice, Action::Delete, &topic("acme", "orders")).is_allowed());
    let operator = user("ops/olga", &["operator"]);
    assert!(decide(
        &snapshot,
        &operator,
        Action::Delete,
        &topic("globex", "orders")
    )
    .is_allowed());
    assert!(decide(
        &snapshot,
        &operator,
        Action::ClusterAction,
        &Resource::Cluster
    )
    .is_allowed());
}

#[test]
fn super_users_bypass_policy_even_a_forbid() {
    let forbid = "forbid (principal, action, resource);\n";
    let (_dir, snapshot) = snapshot_of(&[("base.cedar", &base_policy()), ("f.cedar", forbid)]);
    let root = user("ops/root", &[]);
    let decision = decide(&snapshot, &root, Action::Delete, &topic("globex", "orders"));
    assert!(decision.is_allowed());
    assert_eq!(decision.basis, Basis::SuperUser);
    // The same name in another tenant is another principal.
    let impostor = user("acme/root", &["operator"]);
    assert!(!decide(&snapshot, &impostor, Action::Describe, &topic("acme", "x")).is_allowed());
}

#[test]
fn an_action_that_does_not_apply_to_the_resource_is_denied_even_to_super_users() {
    let (_dir, snapshot) = snapshot_of(&[("base.cedar", &base_policy())]);
    let root = user("ops/root", &[]);
    let decision = decide(&snapshot, &root, Action::Read, &Resource::Cluster);
    assert!(
        matches!(decision.basis, Basis::InvalidRequest(_)),
        "{decision:?}"
    );
}

#[test]
fn mode_allow_tenant_allows_the_own_tenant_only() {
    let store = PolicyStore::open(
        StoreConfig {
            mode: Mode::AllowTenant,
            super_users: vec!["ops/root".parse().unwrap()],
        },
        None,
    )
    .unwrap();
    let snapshot = store.snapshot();
    let alice = user("acme/alice", &[]);
    assert!(decide(&snapshot, &alice, Action::Write, &topic("acme", "orders")).is_allowed());
    assert!(decide(
        &snapshot,
        &alice,
        Action::Create,
        &Resource::Tenant(tenant("acme"))
    )
    .is_allowed());
    assert!(!decide(&snapshot, &alice, Action::Read, &topic("globex", "orders")).is_allowed());
    assert!(!decide(&snapshot, &alice, Action::Describe, &Resource::Cluster).is_allowed());
    let operator = user("ops/olga", &["operator"]);
    assert!(decide(&snapshot, &operator, Action::Describe, &Resource::Cluster).is_allowed());
}

#[test]
fn context_keys_reach_the_policies() {
    let snapshot =
        schloss_policy::load_files(&examples(&["producer-spiffe.cedar", "ip-range.cedar"]), &[])
            .unwrap();
    let svc = user("acme/orders-writer", &[]);
    let orders = topic("acme", "orders-eu");
    let mut ctx = context();
    let ask = |ctx: &schloss_policy::RequestContext, subject, action, resource| {
        snapshot.decide(&DecisionRequest {
            subject,
            action,
            resource,
            context: ctx,
        })
    };
    assert!(!ask(&ctx, &svc, Action::Write, &orders).is_allowed());
    ctx.security_protocol = schloss_policy::SecurityProtocol::Ssl;
    ctx.spiffe_id = Some("spiffe://acme.example/ns/prod/sa/orders-writer".to_owned());
    assert!(ask(&ctx, &svc, Action::Write, &orders).is_allowed());
    let acme = Resource::Tenant(tenant("acme"));
    assert!(ask(&ctx, &svc, Action::IdempotentWrite, &acme).is_allowed());
    assert!(!ask(&ctx, &svc, Action::Read, &orders).is_allowed());

    let admin = user("acme/ada", &["admin"]);
    assert!(!ask(&ctx, &admin, Action::Delete, &orders).is_allowed());
    ctx.client_ip = "10.20.3.4".parse().unwrap();
    assert!(ask(&ctx, &admin, Action::Delete, &orders).is_allowed());
    // IPv4 clients on a dual-stack socket arrive as mapped IPv6 addresses.
    ctx.client_ip = "::ffff:10.20.3.4".parse().unwrap();
    assert!(ask(&ctx, &admin, Action::Delete, &orders).is_allowed());
    ctx.client_ip = "fd00:20::1".parse().unwrap();
    assert!(ask(&ctx, &admin, Action::Delete, &orders).is_allowed());
}

/// `Action::applies_to` is the engine's copy of the schema's `appliesTo`: the two must agree.
#[test]
fn the_action_table_matches_the_schema() {
    for kind in ResourceKind::ALL {
        for action in Action::ALL {
            let policy = format!(
                "permit (principal, action == Kafka::Action::\"{action}\", resource is Kafka::{});\n",
                kind.type_name()
            );
            let dir = policy_dir(&[("p.cedar", &policy)]);
            let store = cedar_store(dir.path(), &[]).unwrap();
            // Strict validation warns about a policy that can never apply.
            let applies = store.snapshot().warnings().is_empty();
            assert_eq!(applies, action.applies_to(kind), "{action} on {kind:?}");
        }
    }
}

#[test]
fn a_forbid_that_fails_to_evaluate_denies_instead_of_being_skipped() {
    // Valid under the schema, but the addition overflows at run time. Cedar skips a policy
    // whose evaluation errors; had the broker followed it, this forbid would never apply.
    let broken = "@id(\"overflowing-forbid\")\nforbid (principal, action, resource) when { 9223372036854775807 + 1 > 0 };\n";
    let (_dir, snapshot) = snapshot_of(&[
        ("base.cedar", &base_policy()),
        ("w.cedar", ACME_WRITES),
        ("f.cedar", broken),
    ]);
    let alice = user("acme/alice", &[]);
    let decision = decide(&snapshot, &alice, Action::Write, &topic("acme", "orders"));
    assert_eq!(decision.effect, Effect::Deny, "{decision:?}");
    assert_eq!(decision.basis, Basis::EvaluationErrors);
    assert!(!decision.errors.is_empty());
}
