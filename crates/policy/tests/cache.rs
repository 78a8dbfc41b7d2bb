//! The per-connection decision cache: one evaluation per (action, resource) and generation.
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
    Action, CacheStats, DecisionCache, DecisionRequest, Effect, PolicySnapshot, RequestContext,
    Resource, Subject,
};

const WRITERS: &str = "@id(\"w\")\npermit (principal in Kafka::Tenant::\"acme\", action == Kafka::Action::\"Write\", resource is Kafka::Topic in Kafka::Tenant::\"acme\");\n";

#[test]
fn a_produce_loop_costs_one_evaluation_per_generation() {
    let dir = policy_dir(&[("base.cedar", &base_policy()), ("w.cedar", WRITERS)]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    let alice = user("acme/alice", &[]);
    let orders = topic("acme", "orders");
    let ctx = context();
    let request = DecisionRequest {
        subject: &alice,
        action: Action::Write,
        resource: &orders,
        context: &ctx,
    };
    let mut cache = DecisionCache::default();
    for _ in 0..100 {
        let decision = cache.decide(&store.snapshot(), &request);
        assert!(decision.is_allowed());
        assert_eq!(decision.generation, 1);
    }
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 99,
            evaluations: 1
        }
    );

    // A new generation that forbids the writes: the cache must not answer from generation 1.
    std::fs::write(
        dir.path().join("f.cedar"),
        "forbid (principal, action == Kafka::Action::\"Write\", resource);\n",
    )
    .unwrap();
    store.reload().unwrap();
    for _ in 0..10 {
        let decision = cache.decide(&store.snapshot(), &request);
        assert_eq!(decision.effect, Effect::Deny);
        assert_eq!(decision.generation, 2);
    }
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 108,
            evaluations: 2
        }
    );
    assert_eq!(cache.len(), 1);
}

fn ask(
    cache: &mut DecisionCache,
    snapshot: &PolicySnapshot,
    subject: &Subject,
    action: Action,
    resource: &Resource,
    context: &RequestContext,
) -> bool {
    let request = DecisionRequest {
        subject,
        action,
        resource,
        context,
    };
    cache.decide(snapshot, &request).is_allowed()
}

#[test]
fn actions_resources_api_names_and_principals_are_told_apart() {
    let dir = policy_dir(&[("base.cedar", &base_policy()), ("w.cedar", WRITERS)]);
    let snapshot = cedar_store(dir.path(), &[]).unwrap().snapshot();
    let alice = user("acme/alice", &[]);
    let bob = user("globex/bob", &[]);
    let orders = topic("acme", "orders");
    let payments = topic("acme", "payments");
    let mut ctx = context();
    let mut cache = DecisionCache::default();
    assert!(ask(
        &mut cache,
        &snapshot,
        &alice,
        Action::Write,
        &orders,
        &ctx
    ));
    assert!(!ask(
        &mut cache,
        &snapshot,
        &alice,
        Action::Read,
        &orders,
        &ctx
    ));
    assert!(ask(
        &mut cache,
        &snapshot,
        &alice,
        Action::Write,
        &payments,
        &ctx
    ));
    ctx.api_name = "InitProducerId".into();
    assert!(ask(
        &mut cache,
        &snapshot,
        &alice,
        Action::Write,
        &orders,
        &ctx
    ));
    assert_eq!(cache.stats().evaluations, 4);
    // Another principal on the connection (re-authentication) empties the cache.
    assert!(!ask(
        &mut cache,
        &snapshot,
        &bob,
        Action::Write,
        &orders,
        &ctx
    ));
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_full_cache_stays_bounded() {
    let dir = policy_dir(&[("w.cedar", WRITERS)]);
    let snapshot = cedar_store(dir.path(), &[]).unwrap().snapshot();
    let alice = user("acme/alice", &[]);
    let ctx = context();
    let mut cache = DecisionCache::new(8);
    for i in 0..20 {
        let resource = topic("acme", &format!("t{i}"));
        cache.decide(
            &snapshot,
            &DecisionRequest {
                subject: &alice,
                action: Action::Write,
                resource: &resource,
                context: &ctx,
            },
        );
        assert!(cache.len() <= 8);
    }
}

#[test]
fn a_set_that_reads_the_time_is_not_cached() {
    let timed = "permit (principal, action == Kafka::Action::\"Write\", resource)\nwhen { context.time < datetime(\"2100-01-01\") };\n";
    let dir = policy_dir(&[("t.cedar", timed)]);
    let snapshot = cedar_store(dir.path(), &[]).unwrap().snapshot();
    assert!(!snapshot.cacheable());
    let alice = user("acme/alice", &[]);
    let orders = topic("acme", "orders");
    let ctx = context();
    let request = DecisionRequest {
        subject: &alice,
        action: Action::Write,
        resource: &orders,
        context: &ctx,
    };
    let mut cache = DecisionCache::default();
    assert!(cache.decide(&snapshot, &request).is_allowed());
    assert!(cache.decide(&snapshot, &request).is_allowed());
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 0,
            evaluations: 2
        }
    );

    let untimed = "permit (principal, action, resource) when { context.apiName == \"Produce\" && context has spiffeId };\n";
    let dir = policy_dir(&[("u.cedar", untimed)]);
    assert!(cedar_store(dir.path(), &[]).unwrap().snapshot().cacheable());
}
