//! What a decision is asked about: who (a [`Subject`]), which Kafka operation ([`Action`]), on
//! what ([`Resource`]), and in which circumstances ([`RequestContext`]).

use schloss_model::{Principal, TenantId, TopicName};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::SystemTime;

/// Kafka's ACL operations, as Cedar actions (`Kafka::Action::"Read"`). Kafka's `All` is a
/// policy without an action constraint; its `Any` is not an operation a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    ClusterAction,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Read,
        Action::Write,
        Action::Create,
        Action::Delete,
        Action::Alter,
        Action::Describe,
        Action::DescribeConfigs,
        Action::AlterConfigs,
        Action::IdempotentWrite,
        Action::ClusterAction,
    ];

    /// The Cedar action id, which is also Kafka's operation name in camel case.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "Read",
            Action::Write => "Write",
            Action::Create => "Create",
            Action::Delete => "Delete",
            Action::Alter => "Alter",
            Action::Describe => "Describe",
            Action::DescribeConfigs => "DescribeConfigs",
            Action::AlterConfigs => "AlterConfigs",
            Action::IdempotentWrite => "IdempotentWrite",
            Action::ClusterAction => "ClusterAction",
        }
    }

    /// Accepts the Cedar name (`IdempotentWrite`) and Kafka's spelling (`IDEMPOTENT_WRITE`).
    pub fn from_name(name: &str) -> Option<Self> {
        let folded: String = name
            .chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(&folded))
    }

    /// The operations whose permission also allows this one, as in Kafka: Read, Write, Delete
    /// or Alter allow Describe; AlterConfigs allows DescribeConfigs.
    pub fn implied_by(self) -> &'static [Action] {
        match self {
            Action::Describe => &[Action::Read, Action::Write, Action::Delete, Action::Alter],
            Action::DescribeConfigs => &[Action::AlterConfigs],
            _ => &[],
        }
    }

    /// Whether the schema lets this action apply to resources of `kind` (its `appliesTo`; a
    /// test holds the two in step).
    pub fn applies_to(self, kind: ResourceKind) -> bool {
        use ResourceKind as K;
        match self {
            Action::Read => matches!(kind, K::Topic | K::Group),
            Action::Write => matches!(kind, K::Topic | K::TransactionalId),
            Action::Create | Action::Alter => matches!(kind, K::Topic | K::Tenant | K::Cluster),
            Action::Delete => matches!(kind, K::Topic | K::Group),
            Action::Describe => true,
            Action::DescribeConfigs | Action::AlterConfigs => {
                matches!(kind, K::Topic | K::Group | K::Tenant | K::Cluster)
            }
            Action::IdempotentWrite => matches!(kind, K::Tenant | K::Cluster),
            Action::ClusterAction => kind == K::Cluster,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The entity type of a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Topic,
    Group,
    TransactionalId,
    Tenant,
    Cluster,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 5] = [
        ResourceKind::Topic,
        ResourceKind::Group,
        ResourceKind::TransactionalId,
        ResourceKind::Tenant,
        ResourceKind::Cluster,
    ];

    /// The entity type's name inside the `Kafka` namespace.
    pub fn type_name(self) -> &'static str {
        match self {
            ResourceKind::Topic => "Topic",
            ResourceKind::Group => "Group",
            ResourceKind::TransactionalId => "TransactionalId",
            ResourceKind::Tenant => "Tenant",
            ResourceKind::Cluster => "Cluster",
        }
    }
}

/// What a request acts on. Tenant-owned resources carry the name as the tenant sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    Topic {
        tenant: TenantId,
        name: TopicName,
    },
    Group {
        tenant: TenantId,
        id: String,
    },
    TransactionalId {
        tenant: TenantId,
        id: String,
    },
    /// The tenant's virtual cluster: tenant-wide operations (creating topics, idempotent
    /// producers, the tenant's view of cluster configs).
    Tenant(TenantId),
    /// The real cluster shared by every tenant.
    Cluster,
}

impl Resource {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Resource::Topic { .. } => ResourceKind::Topic,
            Resource::Group { .. } => ResourceKind::Group,
            Resource::TransactionalId { .. } => ResourceKind::TransactionalId,
            Resource::Tenant(_) => ResourceKind::Tenant,
            Resource::Cluster => ResourceKind::Cluster,
        }
    }

    /// The tenant that owns the resource; none for the real cluster.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Resource::Topic { tenant, .. }
            | Resource::Group { tenant, .. }
            | Resource::TransactionalId { tenant, .. }
            | Resource::Tenant(tenant) => Some(tenant),
            Resource::Cluster => None,
        }
    }

    /// The name as the owning tenant sees it, for tenant-owned resources.
    pub fn local_name(&self) -> Option<&str> {
        match self {
            Resource::Topic { name, .. } => Some(name.as_str()),
            Resource::Group { id, .. } | Resource::TransactionalId { id, .. } => Some(id),
            Resource::Tenant(_) | Resource::Cluster => None,
        }
    }
}

/// `topic:acme/orders`, `group:acme/billing`, `txn:acme/tx-1`, `tenant:acme`, `cluster`: the
/// form used by test tables and `schloss policy explain`.
impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Topic { tenant, name } => write!(f, "topic:{tenant}/{name}"),
            Resource::Group { tenant, id } => write!(f, "group:{tenant}/{id}"),
            Resource::TransactionalId { tenant, id } => write!(f, "txn:{tenant}/{id}"),
            Resource::Tenant(tenant) => write!(f, "tenant:{tenant}"),
            Resource::Cluster => f.write_str("cluster"),
        }
    }
}

impl FromStr for Resource {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec == "cluster" {
            return Ok(Resource::Cluster);
        }
        let (kind, rest) = spec.split_once(':').ok_or_else(|| {
            format!("resource `{spec}` is not `topic:`, `group:`, `txn:` or `tenant:` followed by a name, or `cluster`")
        })?;
        if kind == "tenant" {
            return tenant(rest).map(Resource::Tenant);
        }
        // A tenant name never contains `/`, so the first one splits (group ids may hold more).
        let (owner, name) = rest
            .split_once('/')
            .ok_or_else(|| format!("resource `{spec}` needs `tenant/name` after `{kind}:`"))?;
        let owner = tenant(owner)?;
        match kind {
            "topic" => {
                let name = TopicName::new(name).map_err(|e| e.to_string())?;
                Ok(Resource::Topic {
                    tenant: owner,
                    name,
                })
            }
            "group" => Ok(Resource::Group {
                tenant: owner,
                id: name.to_owned(),
            }),
            "txn" => Ok(Resource::TransactionalId {
                tenant: owner,
                id: name.to_owned(),
            }),
            _ => Err(format!(
                "unknown resource kind `{kind}`: expected `topic`, `group`, `txn`, `tenant` or `cluster`"
            )),
        }
    }
}

fn tenant(name: &str) -> Result<TenantId, String> {
    TenantId::new(name).map_err(|e| e.to_string())
}

/// A principal named as `tenant/name`: the entity id of a `Kafka::User`, and the form of
/// super users in the configuration (Kafka's `super.users`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalName {
    pub tenant: TenantId,
    pub name: String,
}

impl PrincipalName {
    pub fn of(principal: &Principal) -> Self {
        Self {
            tenant: principal.tenant.clone(),
            name: principal.name.clone(),
        }
    }

    pub fn matches(&self, principal: &Principal) -> bool {
        self.tenant == principal.tenant && self.name == principal.name
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.name)
    }
}

impl FromStr for PrincipalName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (owner, name) = s
            .split_once('/')
            .ok_or_else(|| format!("principal `{s}` is not `tenant/name`"))?;
        if name.is_empty() {
            return Err(format!("principal `{s}` has an empty name"));
        }
        Ok(Self {
            tenant: tenant(owner)?,
            name: name.to_owned(),
        })
    }
}

/// Who asks: the authenticated principal and its roles from the credential store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub principal: Principal,
    pub roles: BTreeSet<String>,
}

/// How the client reached the broker, by Kafka's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// The circumstances of a request. Everything but `api_name` and `time` is fixed for a
/// connection (a [`crate::DecisionCache`] relies on that); the SASL mechanism comes from the
/// subject's principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub listener: String,
    pub security_protocol: SecurityProtocol,
    pub client_ip: IpAddr,
    pub tls_version: Option<String>,
    pub spiffe_id: Option<String>,
    pub san: Vec<String>,
    /// Kafka's name of the request's API (`Produce`); static for the broker's own requests.
    pub api_name: Cow<'static, str>,
    pub time: SystemTime,
}

/// One question to the policy engine.
#[derive(Clone, Copy, Debug)]
pub struct DecisionRequest<'a> {
    pub subject: &'a Subject,
    pub action: Action,
    pub resource: &'a Resource,
    pub context: &'a RequestContext,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_in_cedar_and_kafka_spelling() {
        assert_eq!(
            Action::from_name("IdempotentWrite"),
            Some(Action::IdempotentWrite)
        );
        assert_eq!(
            Action::from_name("IDEMPOTENT_WRITE"),
            Some(Action::IdempotentWrite)
        );
        assert_eq!(Action::from_name("read"), Some(Action::Read));
        assert_eq!(Action::from_name("All"), None);
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
    }

    #[test]
    fn resource_specs_round_trip() {
        for spec in [
            "topic:acme/orders",
            "group:acme/a/b",
            "txn:acme/tx-1",
            "tenant:acme",
            "cluster",
        ] {
            let resource: Resource = spec.parse().unwrap();
            assert_eq!(resource.to_string(), spec);
        }
        assert!("topic:orders".parse::<Resource>().is_err());
        assert!("topic:Acme/orders".parse::<Resource>().is_err());
        assert!("queue:acme/x".parse::<Resource>().is_err());
    }

    #[test]
    fn principal_names_split_at_the_first_slash() {
        let name: PrincipalName = "acme/svc/orders".parse().unwrap();
        assert_eq!(name.tenant.as_str(), "acme");
        assert_eq!(name.name, "svc/orders");
        assert!("acme".parse::<PrincipalName>().is_err());
        assert!("acme/".parse::<PrincipalName>().is_err());
    }
}
