//! The fields of a Kafka ACL, with Kafka's wire codes (`ResourceType`, `PatternType`,
//! `AclOperation`, `AclPermissionType` in clients/.../common/{resource,acl}) and text forms
//! (`User:alice`, `*`).

use super::AclError;
use crate::request::{Action, ResourceKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Kafka's error code INVALID_REQUEST.
pub const INVALID_REQUEST: i16 = 42;

/// The only name of Kafka's CLUSTER resource (`Resource.CLUSTER_NAME`).
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";

/// Kafka's codes that only filters may carry, or nobody: UNKNOWN, ANY, MATCH.
const UNKNOWN: i8 = 0;
const ANY: i8 = 1;

/// What an ACL applies to, inside the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclResourceType {
    Topic,
    Group,
    /// The tenant's virtual cluster (`Kafka::Tenant`), named `kafka-cluster` as in Kafka.
    Cluster,
    TransactionalId,
}

impl AclResourceType {
    pub const ALL: [AclResourceType; 4] = [
        AclResourceType::Topic,
        AclResourceType::Group,
        AclResourceType::Cluster,
        AclResourceType::TransactionalId,
    ];

    pub fn code(self) -> i8 {
        match self {
            AclResourceType::Topic => 2,
            AclResourceType::Group => 3,
            AclResourceType::Cluster => 4,
            AclResourceType::TransactionalId => 5,
        }
    }

    /// A binding's resource type: a concrete one.
    pub fn from_code(code: i8) -> Result<Self, AclError> {
        const FIELD: &str = "resource type";
        match code {
            ANY => Err(AclError::FilterOnly {
                field: FIELD,
                value: "ANY",
            }),
            6 => Err(AclError::Unsupported {
                field: FIELD,
                value: "DELEGATION_TOKEN",
            }),
            7 => Err(AclError::Unsupported {
                field: FIELD,
                value: "USER",
            }),
            _ => Self::ALL
                .into_iter()
                .find(|t| t.code() == code)
                .ok_or(AclError::UnknownCode { field: FIELD, code }),
        }
    }

    /// Kafka's name (`TRANSACTIONAL_ID`).
    pub fn name(self) -> &'static str {
        match self {
            AclResourceType::Topic => "TOPIC",
            AclResourceType::Group => "GROUP",
            AclResourceType::Cluster => "CLUSTER",
            AclResourceType::TransactionalId => "TRANSACTIONAL_ID",
        }
    }

    /// The Cedar entity type its resources have: a tenant's CLUSTER is its `Tenant`.
    pub fn kind(self) -> ResourceKind {
        match self {
            AclResourceType::Topic => ResourceKind::Topic,
            AclResourceType::Group => ResourceKind::Group,
            AclResourceType::Cluster => ResourceKind::Tenant,
            AclResourceType::TransactionalId => ResourceKind::TransactionalId,
        }
    }

    /// Whether an ACL for `operation` on this type can ever apply. For every type this is
    /// Kafka's `AclEntry.supportedOperations` plus ALL, except ClusterAction on CLUSTER (the
    /// brokers' own operation, which the tenant's cluster does not have): it is the schema's
    /// `appliesTo` for the type's entity.
    pub fn supports(self, operation: AclOperation) -> bool {
        operation
            .action()
            .is_none_or(|action| action.applies_to(self.kind()))
    }
}

impl fmt::Display for AclResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an ACL's name selects resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatternType {
    /// The resource named exactly so; the name `*` is every resource of the type.
    Literal,
    /// Every resource whose name starts with the name (`*` included, as a plain character).
    Prefixed,
}

impl PatternType {
    pub fn code(self) -> i8 {
        match self {
            PatternType::Literal => 3,
            PatternType::Prefixed => 4,
        }
    }

    pub fn from_code(code: i8) -> Result<Self, AclError> {
        const FIELD: &str = "pattern type";
        match code {
            3 => Ok(PatternType::Literal),
            4 => Ok(PatternType::Prefixed),
            ANY => Err(AclError::FilterOnly {
                field: FIELD,
                value: "ANY",
            }),
            2 => Err(AclError::FilterOnly {
                field: FIELD,
                value: "MATCH",
            }),
            _ => Err(AclError::UnknownCode { field: FIELD, code }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PatternType::Literal => "LITERAL",
            PatternType::Prefixed => "PREFIXED",
        }
    }
}

impl fmt::Display for PatternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kafka's ACL operations; `All` is every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

impl AclOperation {
    pub const ALL: [AclOperation; 11] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
    ];

    pub fn code(self) -> i8 {
        match self {
            AclOperation::All => 2,
            AclOperation::Read => 3,
            AclOperation::Write => 4,
            AclOperation::Create => 5,
            AclOperation::Delete => 6,
            AclOperation::Alter => 7,
            AclOperation::Describe => 8,
            AclOperation::ClusterAction => 9,
            AclOperation::DescribeConfigs => 10,
            AclOperation::AlterConfigs => 11,
            AclOperation::IdempotentWrite => 12,
        }
    }

    pub fn from_code(code: i8) -> Result<Self, AclError> {
        const FIELD: &str = "operation";
        match code {
            ANY => Err(AclError::FilterOnly {
                field: FIELD,
                value: "ANY",
            }),
            13 => Err(AclError::Unsupported {
                field: FIELD,
                value: "CREATE_TOKENS",
            }),
            14 => Err(AclError::Unsupported {
                field: FIELD,
                value: "DESCRIBE_TOKENS",
            }),
            _ => Self::ALL
                .into_iter()
                .find(|o| o.code() == code)
                .ok_or(AclError::UnknownCode { field: FIELD, code }),
        }
    }

    /// The Cedar action; `None` for `All`.
    pub fn action(self) -> Option<Action> {
        match self {
            AclOperation::All => None,
            AclOperation::Read => Some(Action::Read),
            AclOperation::Write => Some(Action::Write),
            AclOperation::Create => Some(Action::Create),
            AclOperation::Delete => Some(Action::Delete),
            AclOperation::Alter => Some(Action::Alter),
            AclOperation::Describe => Some(Action::Describe),
            AclOperation::ClusterAction => Some(Action::ClusterAction),
            AclOperation::DescribeConfigs => Some(Action::DescribeConfigs),
            AclOperation::AlterConfigs => Some(Action::AlterConfigs),
            AclOperation::IdempotentWrite => Some(Action::IdempotentWrite),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AclOperation::All => "ALL",
            AclOperation::Read => "READ",
            AclOperation::Write => "WRITE",
            AclOperation::Create => "CREATE",
            AclOperation::Delete => "DELETE",
            AclOperation::Alter => "ALTER",
            AclOperation::Describe => "DESCRIBE",
            AclOperation::ClusterAction => "CLUSTER_ACTION",
            AclOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
            AclOperation::AlterConfigs => "ALTER_CONFIGS",
            AclOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
        }
    }
}

impl fmt::Display for AclOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclPermission {
    Deny,
    Allow,
}

impl AclPermission {
    pub fn code(self) -> i8 {
        match self {
            AclPermission::Deny => 2,
            AclPermission::Allow => 3,
        }
    }

    pub fn from_code(code: i8) -> Result<Self, AclError> {
        const FIELD: &str = "permission type";
        match code {
            2 => Ok(AclPermission::Deny),
            3 => Ok(AclPermission::Allow),
            ANY => Err(AclError::FilterOnly {
                field: FIELD,
                value: "ANY",
            }),
            _ => Err(AclError::UnknownCode { field: FIELD, code }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AclPermission::Deny => "DENY",
            AclPermission::Allow => "ALLOW",
        }
    }
}

impl fmt::Display for AclPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a filter field's code: `None` for ANY, the value otherwise; UNKNOWN is refused.
pub(super) fn filter_code<T>(
    code: i8,
    field: &'static str,
    parse: impl FnOnce(i8) -> Result<T, AclError>,
) -> Result<Option<T>, AclError> {
    match code {
        ANY => Ok(None),
        UNKNOWN => Err(AclError::UnknownCode { field, code }),
        _ => parse(code).map(Some),
    }
}

/// Who an ACL is for. Kafka's principals are `Type:name`; schloss's principals are the users of
/// the tenant the ACL belongs to, so the only type is `User`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AclPrincipal {
    /// `User:alice`: the tenant's user `alice` (`Kafka::User::"<tenant>/alice"`).
    User(String),
    /// `User:*`: every user of the tenant.
    Wildcard,
}

impl FromStr for AclPrincipal {
    type Err = AclError;

    /// Kafka splits at the first colon (`SecurityUtils.parseKafkaPrincipal`); the type must be
    /// `User` and the name non-empty.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("User", "*")) => Ok(AclPrincipal::Wildcard),
            Some(("User", name)) if !name.is_empty() => Ok(AclPrincipal::User(name.to_owned())),
            _ => Err(AclError::Principal(s.to_owned())),
        }
    }
}

impl TryFrom<String> for AclPrincipal {
    type Error = AclError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AclPrincipal> for String {
    fn from(p: AclPrincipal) -> Self {
        p.to_string()
    }
}

impl fmt::Display for AclPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclPrincipal::User(name) => write!(f, "User:{name}"),
            AclPrincipal::Wildcard => f.write_str("User:*"),
        }
    }
}

/// Where the client connects from. Kafka compares the ACL's host with the client address's text
/// (`InetAddress.getHostAddress`); schloss compares addresses, so `::1` and `0:0:0:0:0:0:0:1`
/// are one host, and an IPv4-mapped IPv6 address is its IPv4 address (as the request context
/// presents an IPv4 client on a dual-stack socket). A host name, which Kafka accepts and never
/// matches, is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AclHost {
    /// `*`: any address.
    Any,
    Ip(IpAddr),
}

impl FromStr for AclHost {
    type Err = AclError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "*" {
            return Ok(AclHost::Any);
        }
        s.parse::<IpAddr>()
            .map(|ip| AclHost::Ip(ip.to_canonical()))
            .map_err(|_| AclError::Host(s.to_owned()))
    }
}

impl TryFrom<String> for AclHost {
    type Error = AclError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AclHost> for String {
    fn from(h: AclHost) -> Self {
        h.to_string()
    }
}

impl fmt::Display for AclHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclHost::Any => f.write_str("*"),
            AclHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}
