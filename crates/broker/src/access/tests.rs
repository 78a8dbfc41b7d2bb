use super::*;
use crate::metadata::MetadataRecord;
use crate::session::ListenerInfo;
use parking_lot::Mutex;
use schloss_model::Principal;
use std::collections::BTreeMap;

fn listener() -> ListenerInfo {
    ListenerInfo {
        name: "PLAINTEXT".into(),
        advertised_host: "localhost".into(),
        advertised_port: 9092,
    }
}

fn tenant(name: &str) -> Session {
    let tenant = TenantId::new(name).unwrap();
    Session::new(schloss_auth::Authenticated::anonymous(tenant), listener())
}

fn operator() -> Session {
    let mut session = tenant("ops");
    session.namespace = Namespace::Operator;
    session.subject.principal = Principal::anonymous(TenantId::new("ops").unwrap());
    session
}

/// An image holding `acme.orders` and `globex.orders`; returns it with their ids.
fn image() -> (Image, TopicId, TopicId) {
    let mut image = Image::default();
    let acme = uuid::Uuid::new_v4();
    let globex = uuid::Uuid::new_v4();
    for (id, name) in [(acme, "acme.orders"), (globex, "globex.orders")] {
        image.apply(&MetadataRecord::TopicCreated {
            id,
            name: name.into(),
            partitions: 1,
            configs: BTreeMap::new(),
        });
    }
    (image, acme, globex)
}

#[test]
fn a_tenant_reaches_its_own_topic_by_local_name() {
    let (image, acme, _) = image();
    let gate = Gate::default();
    let topic = gate.topic(&tenant("acme"), Action::Read, "orders").unwrap();
    assert_eq!(topic.internal().as_str(), "acme.orders");
    assert_eq!(topic.local(), "orders");
    assert_eq!(image.topic(&topic).unwrap().id, acme);
}

#[test]
fn a_tenant_cannot_name_another_tenants_topic() {
    let (image, _, _) = image();
    let gate = Gate::default();
    // The name is taken inside the tenant's own namespace, where no such topic exists.
    let topic = gate
        .topic(&tenant("acme"), Action::Read, "globex.orders")
        .unwrap();
    assert_eq!(topic.internal().as_str(), "acme.globex.orders");
    assert!(image.topic(&topic).is_none());
}

#[test]
fn another_tenants_topic_id_answers_like_a_missing_one() {
    let (image, _, globex) = image();
    let gate = Gate::default();
    let acme = tenant("acme");
    let foreign = gate.topic_by_id(&acme, Action::Describe, &image, &globex);
    let missing = gate.topic_by_id(&acme, Action::Describe, &image, &uuid::Uuid::new_v4());
    assert_eq!(foreign.unwrap_err(), Refusal::Unknown);
    assert_eq!(missing.unwrap_err(), Refusal::Unknown);
}

#[test]
fn listings_show_a_tenant_only_its_own_topics() {
    let (image, _, _) = image();
    let listed: Vec<String> = Gate::default()
        .topics(&tenant("acme"), Action::Describe, &image)
        .into_iter()
        .map(|(t, _)| t.local().to_owned())
        .collect();
    assert_eq!(listed, ["orders"]);
}

#[test]
fn operators_see_every_topic_by_internal_name_and_id() {
    let (image, _, globex) = image();
    let gate = Gate::default();
    let ops = operator();
    let listed: Vec<String> = gate
        .topics(&ops, Action::Describe, &image)
        .into_iter()
        .map(|(t, _)| t.local().to_owned())
        .collect();
    assert_eq!(listed, ["acme.orders", "globex.orders"]);
    let (topic, _) = gate
        .topic_by_id(&ops, Action::Delete, &image, &globex)
        .unwrap();
    assert_eq!(topic.local(), "globex.orders");
    assert!(gate.cluster(&ops, Action::Alter).is_ok());
}

#[test]
fn invalid_topic_names_are_refused_before_any_lookup() {
    let gate = Gate::default();
    let acme = tenant("acme");
    assert_eq!(
        gate.topic(&acme, Action::Create, "a b").unwrap_err(),
        Refusal::Invalid
    );
    // Qualified, this name would pass Kafka's 249 characters.
    let long = "x".repeat(249 - "acme.".len() + 1);
    assert_eq!(
        gate.topic(&acme, Action::Create, &long).unwrap_err(),
        Refusal::Invalid
    );
    // Group offsets take any name.
    assert!(gate
        .topic_unchecked_name(&acme, Action::Describe, "a b")
        .is_ok());
}

#[test]
fn allow_tenant_allows_inside_the_tenant_and_nothing_outside() {
    let acme = tenant("acme");
    let own = InternalName::trusted("acme.orders".into());
    let other = InternalName::trusted("globex.orders".into());
    let acme_id = TenantId::new("acme").unwrap();
    let globex_id = TenantId::new("globex").unwrap();
    let decide = |session: &Session, resource| {
        AllowTenant.decide(
            session,
            &AccessRequest {
                action: Action::Write,
                resource,
            },
        )
    };
    let allowed = decide(&acme, Resource::Topic(&own));
    assert!(allowed.allowed);
    assert_eq!(allowed.policies, [ALLOW_TENANT_POLICY]);
    assert!(decide(&acme, Resource::Group(&own)).allowed);
    assert!(decide(&acme, Resource::TransactionalId(&own)).allowed);
    assert!(decide(&acme, Resource::Tenant(&acme_id)).allowed);
    for resource in [
        Resource::Topic(&other),
        Resource::Group(&other),
        Resource::TransactionalId(&other),
        Resource::Tenant(&globex_id),
        Resource::Cluster,
    ] {
        let denied = decide(&acme, resource);
        assert!(!denied.allowed, "{resource:?}");
        assert!(denied.policies.is_empty());
    }
    for resource in [
        Resource::Topic(&other),
        Resource::Tenant(&globex_id),
        Resource::Cluster,
    ] {
        assert!(decide(&operator(), resource).allowed, "{resource:?}");
    }
}

#[test]
fn tenants_get_their_virtual_cluster_but_not_the_real_one() {
    let gate = Gate::default();
    let acme = tenant("acme");
    assert!(gate.tenant(&acme, Action::Describe).is_ok());
    assert_eq!(
        gate.cluster(&acme, Action::Describe).unwrap_err(),
        Refusal::Denied
    );
}

#[test]
fn groups_map_into_the_tenant_and_listings_hide_other_tenants() {
    let gate = Gate::default();
    let acme = tenant("acme");
    let group = gate.group(&acme, Action::Read, "g").unwrap();
    assert_eq!(group.internal().as_str(), "acme.g");
    assert_eq!(group.local(), "g");
    let listed = gate
        .stored_group(&acme, Action::Describe, "acme.g")
        .unwrap();
    assert_eq!(listed.local(), "g");
    assert!(gate
        .stored_group(&acme, Action::Describe, "globex.g")
        .is_none());
}

/// Denies everything and remembers what it was asked.
#[derive(Default)]
struct DenyAll {
    asked: Mutex<Vec<Action>>,
}

impl Authorizer for DenyAll {
    fn decide(&self, _: &Session, request: &AccessRequest<'_>) -> Decision {
        self.asked.lock().push(request.action);
        Decision {
            allowed: false,
            policies: vec!["forbid-all".into()],
        }
    }
}

/// Records every decision handed to the audit hook.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(Action, bool, Vec<String>)>>,
}

impl AuditHook for Recorder {
    fn decided(&self, _: &Session, request: &AccessRequest<'_>, decision: &Decision) {
        self.seen
            .lock()
            .push((request.action, decision.allowed, decision.policies.clone()));
    }
}

#[test]
fn a_denial_by_name_does_not_depend_on_existence() {
    let gate = Gate::new(Arc::new(DenyAll::default()), Arc::new(NoAudit));
    let acme = tenant("acme");
    assert_eq!(
        gate.topic(&acme, Action::Describe, "orders").unwrap_err(),
        Refusal::Denied
    );
    assert_eq!(
        gate.topic(&acme, Action::Describe, "missing").unwrap_err(),
        Refusal::Denied
    );
}

#[test]
fn a_denial_by_id_answers_like_a_missing_id() {
    let (image, acme_id, _) = image();
    let gate = Gate::new(Arc::new(DenyAll::default()), Arc::new(NoAudit));
    let acme = tenant("acme");
    assert_eq!(
        gate.topic_by_id(&acme, Action::Read, &image, &acme_id)
            .unwrap_err(),
        Refusal::Unknown
    );
    assert!(gate.topics(&acme, Action::Describe, &image).is_empty());
}

#[test]
fn every_decision_reaches_the_audit_hook() {
    let recorder = Arc::new(Recorder::default());
    let gate = Gate::new(Arc::new(AllowTenant), recorder.clone());
    let acme = tenant("acme");
    gate.topic(&acme, Action::Write, "orders").unwrap();
    gate.cluster(&acme, Action::Alter).unwrap_err();
    let seen = recorder.seen.lock().clone();
    assert_eq!(
        seen,
        [
            (Action::Write, true, vec![ALLOW_TENANT_POLICY.to_owned()]),
            (Action::Alter, false, Vec::new()),
        ]
    );
}
