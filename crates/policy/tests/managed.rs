//! The broker-managed policy set (Kafka's ACLs) next to the policy files: new generations,
//! refusals that keep the old one, file reloads that keep it, and mode allow-tenant.
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{base_policy, cedar_store, decide, policy_dir, tenant, topic, user};
use schloss_policy::{
    render_set, AclBinding, Action, Effect, Mode, PolicyStore, ReloadOutcome, StoreConfig,
};

fn acme_read_orders() -> (String, String) {
    let binding = AclBinding::from_wire(2, "orders", 3, "User:alice", "*", 3, 3).unwrap();
    (
        "acl:acme".to_owned(),
        render_set(&tenant("acme"), &[binding]),
    )
}

#[test]
fn managed_sources_make_a_new_generation_named_by_source() {
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    let alice = user("acme/alice", &[]);
    let orders = topic("acme", "orders");
    assert_eq!(
        decide(&store.snapshot(), &alice, Action::Read, &orders).effect,
        Effect::Deny
    );

    let outcome = store.set_managed(vec![acme_read_orders()]).unwrap();
    assert_eq!(outcome, ReloadOutcome::Accepted { generation: 2 });
    let snapshot = store.snapshot();
    let decision = decide(&snapshot, &alice, Action::Read, &orders);
    assert_eq!(decision.effect, Effect::Allow);
    let acl = &decision.policies[0];
    assert!(acl.id.starts_with("acl:acme:"), "{}", acl.id);
    assert_eq!(acl.location.file, "acl:acme");
    let listed = snapshot.policies().iter().find(|p| p.id == acl.id).unwrap();
    assert_eq!(listed.location.file, "acl:acme");
    assert_eq!(listed.location.line, Some(1));

    // The same sources again: nothing changes.
    assert_eq!(
        store.set_managed(vec![acme_read_orders()]).unwrap(),
        ReloadOutcome::Unchanged { generation: 2 }
    );
    // No sources: back to the files alone.
    assert_eq!(
        store.set_managed(Vec::new()).unwrap(),
        ReloadOutcome::Accepted { generation: 3 }
    );
    assert_eq!(
        decide(&store.snapshot(), &alice, Action::Read, &orders).effect,
        Effect::Deny
    );
}

#[test]
fn a_refused_managed_set_keeps_the_current_generation() {
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    store.set_managed(vec![acme_read_orders()]).unwrap();
    let broken = (
        "acl:globex".to_owned(),
        "permit (principal, action == Kafka::Action::\"Fly\", resource);".to_owned(),
    );
    let error = store
        .set_managed(vec![acme_read_orders(), broken])
        .unwrap_err();
    assert_eq!(error.problems()[0].location.file, "acl:globex");
    let duplicate = store
        .set_managed(vec![acme_read_orders(), acme_read_orders()])
        .unwrap_err();
    assert!(
        duplicate.to_string().contains("already used"),
        "{duplicate}"
    );

    let snapshot = store.snapshot();
    assert_eq!(snapshot.generation(), 2);
    let alice = user("acme/alice", &[]);
    assert_eq!(
        decide(&snapshot, &alice, Action::Read, &topic("acme", "orders")).effect,
        Effect::Allow
    );
}

#[test]
fn file_reloads_keep_the_managed_sources() {
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    store.set_managed(vec![acme_read_orders()]).unwrap();
    std::fs::write(
        dir.path().join("acme.cedar"),
        "@id(\"acme-write\")\npermit (principal in Kafka::Tenant::\"acme\", action == Kafka::Action::\"Write\", resource in Kafka::Tenant::\"acme\");\n",
    )
    .unwrap();
    assert_eq!(
        store.reload().unwrap(),
        ReloadOutcome::Accepted { generation: 3 }
    );
    let snapshot = store.snapshot();
    let alice = user("acme/alice", &[]);
    let orders = topic("acme", "orders");
    assert_eq!(
        decide(&snapshot, &alice, Action::Read, &orders).effect,
        Effect::Allow
    );
    assert_eq!(
        decide(&snapshot, &alice, Action::Write, &orders).effect,
        Effect::Allow
    );

    // A broken file is refused; the ACLs and the last good files stay, and a managed change
    // builds on the last good files, not on the broken one.
    std::fs::write(dir.path().join("broken.cedar"), "permit (").unwrap();
    assert!(store.reload().is_err());
    assert_eq!(store.snapshot().generation(), 3);
    assert_eq!(
        store.set_managed(Vec::new()).unwrap(),
        ReloadOutcome::Accepted { generation: 4 }
    );
    let snapshot = store.snapshot();
    assert_eq!(
        decide(&snapshot, &alice, Action::Read, &orders).effect,
        Effect::Deny
    );
    assert_eq!(
        decide(&snapshot, &alice, Action::Write, &orders).effect,
        Effect::Allow
    );
}

#[test]
fn allow_tenant_validates_and_keeps_managed_sources_without_consulting_them() {
    let store = PolicyStore::open(
        StoreConfig {
            mode: Mode::AllowTenant,
            super_users: Vec::new(),
        },
        None,
    )
    .unwrap();
    let deny_all = AclBinding::from_wire(2, "*", 3, "User:*", "*", 2, 2).unwrap();
    let sources = vec![(
        "acl:acme".to_owned(),
        render_set(&tenant("acme"), &[deny_all]),
    )];
    assert_eq!(
        store.set_managed(sources).unwrap(),
        ReloadOutcome::Unchanged { generation: 1 }
    );
    let alice = user("acme/alice", &[]);
    assert_eq!(
        decide(
            &store.snapshot(),
            &alice,
            Action::Read,
            &topic("acme", "orders")
        )
        .effect,
        Effect::Allow
    );
    assert!(store
        .set_managed(vec![("acl:acme".to_owned(), "permit (".to_owned())])
        .is_err());
}
