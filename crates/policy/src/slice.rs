//! Which policies can apply to a request. Cedar evaluates every policy of a set for every
//! request; at a thousand policies (a hundred tenants with ten each) that is a thousand scope
//! checks where a dozen could apply. A policy whose scope pins the principal or the resource to
//! one tenant (`principal in Kafka::Tenant::"acme"`, `principal == Kafka::User::"acme/bob"`,
//! `resource in Kafka::Tenant::"acme"`, `resource == Kafka::Topic::"acme/orders"`) cannot apply
//! to a request whose principal, or resource, belongs to another tenant: its scope is false. So
//! a request is evaluated against the policies whose pins match its tenants, and every policy
//! that pins nothing (roles, types, conditions only). The answer is the same as the full set's;
//! a test compares the two over random requests.

use cedar_policy::{EntityUid, Policy, PolicySet, PrincipalConstraint, ResourceConstraint};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The tenant an entity belongs to, for the entity types that belong to one.
fn tenant_of(uid: &EntityUid) -> Option<String> {
    let type_name = uid.type_name();
    if type_name.namespace() != "Kafka" {
        return None;
    }
    let id = uid.id().unescaped();
    match type_name.basename() {
        "Tenant" => Some(id.to_owned()),
        // `tenant/name`: a tenant name never contains `/`.
        "User" | "Topic" | "Group" | "TransactionalId" => {
            id.split_once('/').map(|(tenant, _)| tenant.to_owned())
        }
        _ => None,
    }
}

fn principal_tenant(policy: &Policy) -> Option<String> {
    match policy.principal_constraint() {
        PrincipalConstraint::In(uid)
        | PrincipalConstraint::Eq(uid)
        | PrincipalConstraint::IsIn(_, uid) => tenant_of(&uid),
        PrincipalConstraint::Any | PrincipalConstraint::Is(_) => None,
    }
}

fn resource_tenant(policy: &Policy) -> Option<String> {
    match policy.resource_constraint() {
        ResourceConstraint::In(uid)
        | ResourceConstraint::Eq(uid)
        | ResourceConstraint::IsIn(_, uid) => tenant_of(&uid),
        ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
    }
}

type Key = (String, Option<String>);

/// The policies of a set by the tenants their scopes pin, and the sets built from them so far.
pub(crate) struct Slices {
    pinned: Vec<(Policy, Option<String>, Option<String>)>,
    built: Mutex<HashMap<Key, Arc<PolicySet>>>,
}

/// Most (principal tenant, resource tenant) pairs whose sets are kept; past it the cache starts
/// over (a connection cannot grow it without bound by naming tenants).
const MAX_SLICES: usize = 4096;

impl Slices {
    pub(crate) fn new(set: &PolicySet) -> Self {
        let pinned = set
            .policies()
            .map(|p| (p.clone(), principal_tenant(p), resource_tenant(p)))
            .collect();
        Self {
            pinned,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The policies that can apply to a request of a principal of `principal` on a resource of
    /// `resource` (`None`: the real cluster, which belongs to no tenant).
    pub(crate) fn for_request(&self, principal: &str, resource: Option<&str>) -> Arc<PolicySet> {
        let key = (principal.to_owned(), resource.map(str::to_owned));
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = built.get(&key) {
            return Arc::clone(set);
        }
        let applicable = self.pinned.iter().filter(|(_, p, r)| {
            p.as_deref().is_none_or(|t| t == principal)
                && r.as_deref().is_none_or(|t| Some(t) == resource)
        });
        // The policies come from one valid set, so their ids are unique: this cannot fail, and
        // if it did, an empty set denies.
        let set = Arc::new(
            PolicySet::from_policies(applicable.map(|(p, _, _)| p.clone())).unwrap_or_default(),
        );
        if built.len() >= MAX_SLICES {
            built.clear();
        }
        built.insert(key, Arc::clone(&set));
        set
    }
}
