//! Kafka's ACLs inside one tenant: the bindings of CreateAcls, the filters of DescribeAcls and
//! DeleteAcls, parsed from the wire's raw values, and their rendering as Cedar policies (a
//! broker-managed, tenant-scoped policy set: see [`crate::PolicyStore::set_managed`] and
//! docs/authorization.md, "Kafka ACLs on Cedar").
//!
//! The stored form of an ACL is the [`AclBinding`] itself (serde); the Cedar text is derived
//! from it with [`render_set`] and never parsed back.
//!
//! What Kafka accepts, and how it matches, follows Apache Kafka (trunk, 2024-10):
//! * creation: `AclControlManager.validateNewAcl` (metadata/.../controller/AclControlManager.java:
//!   no ANY/UNKNOWN resource type or operation, LITERAL or PREFIXED only, ALLOW or DENY only, a
//!   non-empty name) and `AclApis.handleCreateAcls` (core/.../server/AclApis.scala: a CLUSTER
//!   resource must be named `kafka-cluster`, `AuthorizerUtils.isClusterResource`);
//! * filters: `AclControlManager.validateFilter` (no UNKNOWN element), and the matching rules of
//!   `ResourcePatternFilter.matches` and `AccessControlEntryFilter.matches` (clients/...), see
//!   [`AclBindingFilter::matches`];
//! * the operations each resource type supports: `AclEntry.supportedOperations`
//!   (server/.../security/authorizer/AclEntry.java), which `kafka-acls.sh` enforces
//!   (`AclCommand.validateOperation`).

mod filter;
mod render;
mod types;

pub use filter::{AclBindingFilter, PatternTypeFilter};
pub use render::{render_policy, render_set, ACL_POLICY_ID_PREFIX};
pub use types::{
    AclHost, AclOperation, AclPermission, AclPrincipal, AclResourceType, PatternType,
    CLUSTER_RESOURCE_NAME, INVALID_REQUEST,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an ACL binding or filter from the wire is refused. Every refusal is Kafka's
/// `INVALID_REQUEST` ([`AclError::error_code`]), as Kafka answers malformed bindings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// A code Kafka does not define (Kafka's `fromCode` makes it UNKNOWN), or UNKNOWN itself.
    #[error("unknown {field} code {code}")]
    UnknownCode { field: &'static str, code: i8 },
    /// ANY or MATCH in a binding: only filters may hold them.
    #[error("{field} `{value}` is only valid in a filter")]
    FilterOnly {
        field: &'static str,
        value: &'static str,
    },
    /// A Kafka resource type or operation schloss has no use for inside a tenant
    /// (DELEGATION_TOKEN, USER, CREATE_TOKENS, DESCRIBE_TOKENS).
    #[error("{field} `{value}` is not supported")]
    Unsupported {
        field: &'static str,
        value: &'static str,
    },
    #[error("principal `{0}` is not `User:<name>` or `User:*`")]
    Principal(String),
    #[error("host `{0}` is not `*` or an IP address")]
    Host(String),
    #[error("invalid empty resource name")]
    EmptyName,
    #[error("the only valid name for the CLUSTER resource is `kafka-cluster`, not `{0}`")]
    ClusterName(String),
    #[error("resource type {resource_type} does not support operation {operation}")]
    OperationNotSupported {
        resource_type: AclResourceType,
        operation: AclOperation,
    },
}

impl AclError {
    /// The Kafka error code to answer with.
    pub fn error_code(&self) -> i16 {
        INVALID_REQUEST
    }
}

/// One Kafka ACL of one tenant (the tenant is where it is stored, not part of the binding):
/// `permission` `principal` from `host` to `operation` on resources of `resource_type` that
/// `pattern_type` and `name` select.
///
/// INVARIANT: valid as Kafka's controller would accept it, with the tenant's rules on top (see
/// [`AclBinding::new`]); fields are private so that every value went through `new`, including
/// deserialized ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawBinding", into = "RawBinding")]
pub struct AclBinding {
    resource_type: AclResourceType,
    pattern_type: PatternType,
    name: String,
    principal: AclPrincipal,
    host: AclHost,
    operation: AclOperation,
    permission: AclPermission,
}

impl AclBinding {
    /// A binding, checked as Kafka checks CreateAcls: a non-empty name, and a CLUSTER resource
    /// named `kafka-cluster`. On top of Kafka, the operation must be one the resource type
    /// supports (`AclEntry.supportedOperations`; Kafka's broker stores such ACLs and they never
    /// match, `kafka-acls.sh` refuses them) and ClusterAction is refused: it is the brokers'
    /// own operation, which no tenant can be granted (a tenant's CLUSTER is its `Kafka::Tenant`,
    /// to which `ClusterAction` does not apply).
    pub fn new(
        resource_type: AclResourceType,
        pattern_type: PatternType,
        name: String,
        principal: AclPrincipal,
        host: AclHost,
        operation: AclOperation,
        permission: AclPermission,
    ) -> Result<Self, AclError> {
        if name.is_empty() {
            return Err(AclError::EmptyName);
        }
        if resource_type == AclResourceType::Cluster && name != CLUSTER_RESOURCE_NAME {
            return Err(AclError::ClusterName(name));
        }
        if !resource_type.supports(operation) {
            return Err(AclError::OperationNotSupported {
                resource_type,
                operation,
            });
        }
        Ok(Self {
            resource_type,
            pattern_type,
            name,
            principal,
            host,
            operation,
            permission,
        })
    }

    /// A binding from the raw fields of a CreateAcls creation (`AclCreation`).
    pub fn from_wire(
        resource_type: i8,
        name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<Self, AclError> {
        Self::new(
            AclResourceType::from_code(resource_type)?,
            PatternType::from_code(pattern_type)?,
            name.to_owned(),
            principal.parse()?,
            host.parse()?,
            AclOperation::from_code(operation)?,
            AclPermission::from_code(permission)?,
        )
    }

    pub fn resource_type(&self) -> AclResourceType {
        self.resource_type
    }
    pub fn pattern_type(&self) -> PatternType {
        self.pattern_type
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn principal(&self) -> &AclPrincipal {
        &self.principal
    }
    pub fn host(&self) -> &AclHost {
        &self.host
    }
    pub fn operation(&self) -> AclOperation {
        self.operation
    }
    pub fn permission(&self) -> AclPermission {
        self.permission
    }
}

/// `(pattern=ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL),
/// entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))`, as Kafka prints
/// an `AclBinding`.
impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(pattern=ResourcePattern(resourceType={}, name={}, patternType={}), entry=(principal={}, host={}, operation={}, permissionType={}))",
            self.resource_type,
            self.name,
            self.pattern_type,
            self.principal,
            self.host,
            self.operation,
            self.permission
        )
    }
}

/// The stored form: Kafka's names for every field (`"TOPIC"`, `"User:alice"`, `"*"`), checked
/// again by [`AclBinding::new`] when read back.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    resource_type: AclResourceType,
    pattern_type: PatternType,
    name: String,
    principal: AclPrincipal,
    host: AclHost,
    operation: AclOperation,
    permission: AclPermission,
}

impl TryFrom<RawBinding> for AclBinding {
    type Error = AclError;
    fn try_from(raw: RawBinding) -> Result<Self, Self::Error> {
        Self::new(
            raw.resource_type,
            raw.pattern_type,
            raw.name,
            raw.principal,
            raw.host,
            raw.operation,
            raw.permission,
        )
    }
}

impl From<AclBinding> for RawBinding {
    fn from(b: AclBinding) -> Self {
        Self {
            resource_type: b.resource_type,
            pattern_type: b.pattern_type,
            name: b.name,
            principal: b.principal,
            host: b.host,
            operation: b.operation,
            permission: b.permission,
        }
    }
}
