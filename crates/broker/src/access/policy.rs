//! The access gate's bridge to the policy engine: every question the gate asks becomes a
//! [`schloss_policy::DecisionRequest`] for the current policy generation, answered from the
//! connection's decision cache when that generation already answered it.

use super::{AccessRequest, Authorizer, Decision, InternalName, Resource};
use crate::Session;
use schloss_model::{TenantId, TopicName};
use schloss_policy::{Action, DecisionRequest, PolicyStore, Resource as PolicyResource};
use std::sync::Arc;

/// Decides with the policies of a [`PolicyStore`] (mode `cedar` or `allow-tenant`).
pub struct PolicyAuthorizer {
    store: Arc<PolicyStore>,
}

impl PolicyAuthorizer {
    pub fn new(store: Arc<PolicyStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<PolicyStore> {
        &self.store
    }
}

impl Authorizer for PolicyAuthorizer {
    fn decide(&self, session: &Session, request: &AccessRequest<'_>) -> Decision {
        let snapshot = self.store.snapshot();
        let (action, resource) = policy_resource(request);
        let question = DecisionRequest {
            subject: &session.subject,
            action,
            resource: &resource,
            context: &session.context,
        };
        let decision = session.decisions.lock().decide(&snapshot, &question);
        if !decision.is_allowed() {
            tracing::debug!(
                principal = %session.subject.principal.name,
                tenant = %session.subject.principal.tenant,
                api = session.api,
                %action,
                %resource,
                %decision,
                "denied"
            );
        }
        Decision {
            allowed: decision.is_allowed(),
            policies: decision.policies.iter().map(|p| p.id.clone()).collect(),
        }
    }

    fn generation(&self) -> u64 {
        self.store.snapshot().generation()
    }
}

/// The policy model's resource for a gate resource. Tenant-owned resources are named as their
/// tenant sees them. A name without a tenant part can only come from an operator (tenants'
/// names are always qualified): it belongs to the real cluster, so it is decided as the
/// action on the `Cluster` (or `Alter` on it, for actions a cluster cannot take).
fn policy_resource(request: &AccessRequest<'_>) -> (Action, PolicyResource) {
    let owned = |name: &InternalName| -> Option<(TenantId, String)> {
        let (tenant, local) = name
            .as_str()
            .split_once(schloss_model::INTERNAL_SEPARATOR)?;
        Some((TenantId::new(tenant).ok()?, local.to_owned()))
    };
    let resource = match request.resource {
        Resource::Topic(name) => owned(name).and_then(|(tenant, local)| {
            let name = TopicName::new(&local).ok()?;
            Some(PolicyResource::Topic { tenant, name })
        }),
        Resource::Group(name) => {
            owned(name).map(|(tenant, id)| PolicyResource::Group { tenant, id })
        }
        Resource::TransactionalId(name) => {
            owned(name).map(|(tenant, id)| PolicyResource::TransactionalId { tenant, id })
        }
        Resource::Tenant(tenant) => Some(PolicyResource::Tenant(tenant.clone())),
        Resource::Cluster => Some(PolicyResource::Cluster),
    };
    match resource {
        Some(resource) => (request.action, resource),
        None => {
            let kind = schloss_policy::ResourceKind::Cluster;
            let action = if request.action.applies_to(kind) {
                request.action
            } else {
                Action::Alter
            };
            (action, PolicyResource::Cluster)
        }
    }
}
