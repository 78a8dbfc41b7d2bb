//! Which policies can apply to a request. Cedar evaluates every policy of a set for every
//! request; at a thousand policies (a hundred tenants with ten each) that is a thousand scope
//! checks where a dozen could apply. A policy whose scope pins the principal or the resource to
//! one tenant (`principal in Kafka::Tenant::"acme"`, `principal == Kafka::User::"acme/bob"`,
//! `resource in Kafka::Tenant::"acme"`, `resource == Kafka::Topic::"acme/orders"`) cannot apply
//! to a request whose principal, or resource, belongs to another tenant: its scope is false. So
//! a request is evaluated against the policies whose pins match its tenants, and every policy
//! that pins nothing (roles, types, conditions only). Likewise a policy for `action == Write`
//! is left out of a Read's set. The answer is the same as the full set's;
//! a test compares the two over random requests.

use cedar_policy::{
    ActionConstraint, EntityUid, Policy, PolicySet, PrincipalConstraint, ResourceConstraint,
};
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

/// The actions an action scope names (`action == A`, `action in [A, B]`); `None`: any action.
/// The schema has no action groups, so `in` an action is that action.
fn actions(policy: &Policy) -> Option<Vec<String>> {
    match policy.action_constraint() {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(uid) => Some(vec![uid.id().unescaped().to_owned()]),
        ActionConstraint::In(uids) => Some(
            uids.iter()
                .map(|uid| uid.id().unescaped().to_owned())
                .collect(),
        ),
    }
}

type Key = (String, Option<String>, &'static str);

/// A policy with what its scope pins: the principal's tenant, the resource's tenant, the
/// actions.
struct Pinned {
    policy: Policy,
    principal: Option<String>,
    resource: Option<String>,
    actions: Option<Vec<String>>,
}

/// The policies of a set by what their scopes pin, and the sets built from them so far.
pub(crate) struct Slices {
    pinned: Vec<Pinned>,
    built: Mutex<HashMap<Key, Arc<PolicySet>>>,
}

/// Most (principal tenant, resource tenant) pairs whose sets are kept; past it the cache starts
/// over (a connection cannot grow it without bound by naming tenants).
const MAX_SLICES: usize = 4096;

impl Slices {
    pub(crate) fn new(set: &PolicySet) -> Self {
        let pinned = set
            .policies()
            .map(|p| Pinned {
                policy: p.clone(),
                principal: principal_tenant(p),
                resource: resource_tenant(p),
                actions: actions(p),
            })
            .collect();
        Self {
            pinned,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The policies that can apply to `action` by a principal of `principal` on a resource of
    /// `resource` (`None`: the real cluster, which belongs to no tenant).
    pub(crate) fn for_request(
        &self,
        principal: &str,
        resource: Option<&str>,
        action: &'static str,
    ) -> Arc<PolicySet> {
        let key = (principal.to_owned(), resource.map(str::to_owned), action);
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = built.get(&key) {
            return Arc::clone(set);
        }
        let applicable = self.pinned.iter().filter(|p| {
            p.principal.as_deref().is_none_or(|t| t == principal)
                && p.resource.as_deref().is_none_or(|t| Some(t) == resource)
                && p.actions
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == action))
        });
        // The policies come from one valid set, so their ids are unique: this cannot fail, and
        // if it did, an empty set denies.
        let set = Arc::new(
            PolicySet::from_policies(applicable.map(|p| p.policy.clone())).unwrap_or_default(),
        );
        if built.len() >= MAX_SLICES {
            built.clear();
        }
        built.insert(key, Arc::clone(&set));
        set
    }
}
