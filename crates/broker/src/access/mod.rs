//! The access gate: the only road from a request to a topic, group, tenant or the cluster.
//! It maps the client's local name (or a topic id) to the internal name, asks the
//! [`Authorizer`], hands the decision to the [`AuditHook`], and returns a capability
//! ([`TopicRef`], [`GroupRef`], [`TenantRef`], [`ClusterRef`]) that only it can make.
//!
//! Refusals say why ([`Refusal`]); each handler turns them into the error code its clients
//! expect, answering `Unknown` and `Denied` alike where existence must not leak.

mod names;
pub mod operations;
mod policy;
mod refs;

pub use names::{InternalName, LocalName, Namespace, INTERNAL_LOGS};
pub use operations::{api_name, Action, ResourceKind};
pub use policy::PolicyAuthorizer;
pub use refs::{ClusterRef, GateKey, GroupRef, TenantRef, TopicRef};

use crate::metadata::{Image, TopicMeta};
use crate::Session;
use schloss_model::{TenantId, TopicId};
use std::sync::Arc;

/// The resource an authorization question is about.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Topic(&'a InternalName),
    Group(&'a InternalName),
    TransactionalId(&'a InternalName),
    /// A tenant's virtual cluster.
    Tenant(&'a TenantId),
    Cluster,
}

/// One question to the authorizer. A struct rather than arguments, so that context (API
/// name, client address, ...) can be added without touching any implementation's callers.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub action: Action,
    pub resource: Resource<'a>,
}

/// An authorizer's answer, with the policies that decided it (for the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub policies: Vec<String>,
}

/// Decides whether a session may take an action on a resource. The Cedar engine will
/// implement this; a per-connection cache keyed by [`Authorizer::generation`] can sit behind
/// `decide` without any caller changing.
pub trait Authorizer: Send + Sync {
    fn decide(&self, session: &Session, request: &AccessRequest<'_>) -> Decision;

    /// Changes whenever the policies behind the decisions change, so cached decisions from
    /// an older generation are not reused.
    fn generation(&self) -> u64 {
        0
    }
}

/// Receives every decision the gate makes (the audit log, once it lands).
pub trait AuditHook: Send + Sync {
    fn decided(&self, session: &Session, request: &AccessRequest<'_>, decision: &Decision);
}

/// Records nothing: the audit log is a later issue.
#[derive(Debug, Default)]
pub struct NoAudit;

impl AuditHook for NoAudit {
    fn decided(&self, _: &Session, _: &AccessRequest<'_>, _: &Decision) {}
}

/// The zero-config mode `allow-tenant`: a tenant's principal may do anything inside its own
/// tenant and nothing outside it; operators may do everything.
#[derive(Debug, Default)]
pub struct AllowTenant;

/// The policy id `AllowTenant` reports for its decisions.
pub const ALLOW_TENANT_POLICY: &str = "allow-tenant";

impl Authorizer for AllowTenant {
    fn decide(&self, session: &Session, request: &AccessRequest<'_>) -> Decision {
        let allowed = match session.namespace() {
            Namespace::Operator => true,
            Namespace::Tenant(own) => match request.resource {
                Resource::Topic(name) | Resource::Group(name) | Resource::TransactionalId(name) => {
                    name.tenant() == Some(own.as_str())
                }
                Resource::Tenant(tenant) => tenant == own,
                Resource::Cluster => false,
            },
        };
        let policies = if allowed {
            vec![ALLOW_TENANT_POLICY.to_owned()]
        } else {
            Vec::new()
        };
        Decision { allowed, policies }
    }
}

/// Why the gate gave no capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The name is not a valid name for this session.
    #[error("invalid name")]
    Invalid,
    /// The resource does not exist for this session (or belongs to another tenant).
    #[error("unknown resource")]
    Unknown,
    /// The authorizer said no.
    #[error("not authorized")]
    Denied,
}

/// The gate itself: an authorizer and an audit hook.
#[derive(Clone)]
pub struct Gate {
    authorizer: Arc<dyn Authorizer>,
    audit: Arc<dyn AuditHook>,
}

impl Default for Gate {
    /// Today's behaviour: `allow-tenant`, nothing audited.
    fn default() -> Self {
        Self::new(Arc::new(AllowTenant), Arc::new(NoAudit))
    }
}

impl Gate {
    pub fn new(authorizer: Arc<dyn Authorizer>, audit: Arc<dyn AuditHook>) -> Self {
        Self { authorizer, audit }
    }

    fn check(&self, session: &Session, action: Action, resource: Resource<'_>) -> bool {
        let request = AccessRequest { action, resource };
        let decision = self.authorizer.decide(session, &request);
        self.audit.decided(session, &request, &decision);
        decision.allowed
    }

    /// A topic the client names, checked as a topic name (Kafka's legal characters, and
    /// short enough once qualified). Existence is the caller's question, asked of the image
    /// with the capability, so a denial looks the same whether or not the topic exists.
    pub fn topic(
        &self,
        session: &Session,
        action: Action,
        local: &str,
    ) -> Result<TopicRef, Refusal> {
        let valid = schloss_model::TopicName::new(local).is_ok()
            && local.len() <= session.namespace().max_local_len();
        if !valid {
            return Err(Refusal::Invalid);
        }
        self.topic_unchecked_name(session, action, local)
    }

    /// A topic the client names, where Kafka does not validate the name (group offsets):
    /// a name no topic can have simply refers to nothing.
    pub fn topic_unchecked_name(
        &self,
        session: &Session,
        action: Action,
        local: &str,
    ) -> Result<TopicRef, Refusal> {
        let (internal, local) = session.namespace().to_internal(local);
        // The broker's internal logs are not topics, for operators neither: refused before
        // any policy is asked, so no policy can open them.
        if internal.is_internal_log() || !self.check(session, action, Resource::Topic(&internal)) {
            return Err(Refusal::Denied);
        }
        Ok(TopicRef::new(internal, local))
    }

    /// A topic by id. Ids are global, so the answer must not tell whether an id exists to
    /// whoever may not know: another tenant's topic, and one the session may not even
    /// describe, answer `Unknown`. A topic the session may describe (it sees it in Metadata)
    /// but not use for `action` is `Denied`, as Kafka answers it (TOPIC_AUTHORIZATION_FAILED).
    pub fn topic_by_id(
        &self,
        session: &Session,
        action: Action,
        image: &Image,
        id: &TopicId,
    ) -> Result<(TopicRef, Arc<TopicMeta>), Refusal> {
        let meta = image
            .topic_by_id(id, GateKey::new())
            .ok_or(Refusal::Unknown)?;
        if let Some(topic) = self.stored_topic(session, action, meta) {
            return Ok((topic, meta.clone()));
        }
        let known = action != Action::Describe
            && self.stored_topic(session, Action::Describe, meta).is_some();
        Err(if known {
            Refusal::Denied
        } else {
            Refusal::Unknown
        })
    }

    /// A topic the broker itself named (from the image or a group's offsets), seen from this
    /// session: `None` if it belongs to another tenant or the action is denied, so listings
    /// simply omit it.
    pub fn stored_topic_name(
        &self,
        session: &Session,
        action: Action,
        internal: &str,
    ) -> Option<TopicRef> {
        let local = session.namespace().to_local(internal)?;
        let internal = InternalName::trusted(internal.to_owned());
        self.check(session, action, Resource::Topic(&internal))
            .then(|| TopicRef::new(internal, local))
    }

    fn stored_topic(
        &self,
        session: &Session,
        action: Action,
        meta: &TopicMeta,
    ) -> Option<TopicRef> {
        self.stored_topic_name(session, action, &meta.name)
    }

    /// Every topic of the image this session may take `action` on, in name order.
    pub fn topics(
        &self,
        session: &Session,
        action: Action,
        image: &Image,
    ) -> Vec<(TopicRef, Arc<TopicMeta>)> {
        image
            .all_topics(GateKey::new())
            .filter_map(|meta| {
                self.stored_topic(session, action, meta)
                    .map(|topic| (topic, meta.clone()))
            })
            .collect()
    }

    /// Whether the session may take `action` on at least one existing topic (Kafka's
    /// `authorizeByResourceType`, used by KIP-679: an idempotent producer needs IdempotentWrite
    /// on the cluster or Write on some topic). Asks per topic of the session's own namespace
    /// until one is allowed; these questions are not audited.
    pub fn any_topic(&self, session: &Session, action: Action, image: &Image) -> bool {
        image.all_topics(GateKey::new()).any(|meta| {
            session.namespace().to_local(&meta.name).is_some() && {
                let internal = InternalName::trusted(meta.name.clone());
                let request = AccessRequest {
                    action,
                    resource: Resource::Topic(&internal),
                };
                self.authorizer.decide(session, &request).allowed
            }
        })
    }

    /// A group the client names. Kafka does not validate group ids beyond what each API
    /// checks itself.
    pub fn group(
        &self,
        session: &Session,
        action: Action,
        local: &str,
    ) -> Result<GroupRef, Refusal> {
        let (internal, local) = session.namespace().to_internal(local);
        if !self.check(session, action, Resource::Group(&internal)) {
            return Err(Refusal::Denied);
        }
        Ok(GroupRef::new(internal, local))
    }

    /// A group the broker named (a listing), seen from this session; `None` to omit it.
    pub fn stored_group(
        &self,
        session: &Session,
        action: Action,
        internal: &str,
    ) -> Option<GroupRef> {
        let local = session.namespace().to_local(internal)?;
        let internal = InternalName::trusted(internal.to_owned());
        self.check(session, action, Resource::Group(&internal))
            .then(|| GroupRef::new(internal, local))
    }

    /// The session's virtual cluster: its tenant, or the whole cluster for an operator.
    pub fn tenant(&self, session: &Session, action: Action) -> Result<TenantRef, Refusal> {
        let allowed = match session.namespace() {
            Namespace::Tenant(tenant) => self.check(session, action, Resource::Tenant(tenant)),
            Namespace::Operator => self.check(session, action, Resource::Cluster),
        };
        if allowed {
            Ok(TenantRef::new())
        } else {
            Err(Refusal::Denied)
        }
    }

    /// The real cluster (managing credentials, for example).
    pub fn cluster(&self, session: &Session, action: Action) -> Result<ClusterRef, Refusal> {
        if self.check(session, action, Resource::Cluster) {
            Ok(ClusterRef::new())
        } else {
            Err(Refusal::Denied)
        }
    }
}

/// KIP-430's authorized operations: which of the operations Kafka lists for a resource type the
/// session may perform, as Kafka's bit field (bit n set for the operation with code n). The
/// questions are not audited: they describe permissions, they do not use them.
impl Gate {
    /// For topics and clusters, Kafka's `AclEntry.supportedOperations` are exactly the actions
    /// the schema applies to the resource type (`Action::applies_to`), so those ask every
    /// action; a tenant's virtual cluster has all of the cluster's but ClusterAction. Groups
    /// have Kafka's operations as far as groups have them here (group configs are not served:
    /// no DescribeConfigs or AlterConfigs).
    const GROUP_OPERATIONS: [Action; 3] = [Action::Read, Action::Describe, Action::Delete];

    fn allowed_bits(
        &self,
        session: &Session,
        resource: Resource<'_>,
        kind: ResourceKind,
        actions: &[Action],
    ) -> i32 {
        actions
            .iter()
            .filter(|action| action.applies_to(kind))
            .filter(|action| {
                let request = AccessRequest {
                    action: **action,
                    resource,
                };
                self.authorizer.decide(session, &request).allowed
            })
            .fold(0, |bits, action| {
                bits | (1 << kafka_operation_code(*action))
            })
    }

    /// The operations the session may perform on a topic it already reached.
    pub fn topic_operations(&self, session: &Session, topic: &TopicRef) -> i32 {
        let resource = Resource::Topic(topic.internal());
        self.allowed_bits(session, resource, ResourceKind::Topic, &Action::ALL)
    }

    /// The operations the session may perform on the group it names `local`.
    pub fn group_operations(&self, session: &Session, local: &str) -> i32 {
        let (internal, _) = session.namespace().to_internal(local);
        let resource = Resource::Group(&internal);
        self.allowed_bits(
            session,
            resource,
            ResourceKind::Group,
            &Self::GROUP_OPERATIONS,
        )
    }

    /// The operations the session may perform on its cluster: its tenant, or the real cluster
    /// for an operator.
    pub fn cluster_operations(&self, session: &Session) -> i32 {
        match session.namespace() {
            Namespace::Tenant(tenant) => self.allowed_bits(
                session,
                Resource::Tenant(tenant),
                ResourceKind::Tenant,
                &Action::ALL,
            ),
            Namespace::Operator => self.allowed_bits(
                session,
                Resource::Cluster,
                ResourceKind::Cluster,
                &Action::ALL,
            ),
        }
    }
}

/// Kafka's code of an ACL operation (`AclOperation`): the bit it has in authorized operations.
pub fn kafka_operation_code(action: Action) -> u8 {
    match action {
        Action::Read => 3,
        Action::Write => 4,
        Action::Create => 5,
        Action::Delete => 6,
        Action::Alter => 7,
        Action::Describe => 8,
        Action::ClusterAction => 9,
        Action::DescribeConfigs => 10,
        Action::AlterConfigs => 11,
        Action::IdempotentWrite => 12,
    }
}

/// For broker internals that serve no client directly (recovery opening every partition at
/// start, the group coordinator resolving names the gate already mapped): the raw lookups the
/// gate otherwise keeps to itself. Handlers never call this.
pub(crate) fn internal_key() -> GateKey {
    GateKey::new()
}

#[cfg(test)]
mod tests;
