use crate::names::NameError;
use std::fmt;

/// A tenant: the owner of a namespace of topics, groups and transactional ids.
///
/// INVARIANT: matches `[a-z0-9][a-z0-9-]{0,62}`; in particular it never contains a dot, so
/// the first dot of an internal name (`acme.orders`) always splits tenant from local name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn new(name: &str) -> Result<Self, NameError> {
        let mut chars = name.chars();
        let valid_first = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_first || !valid_rest || name.len() > 63 {
            return Err(NameError::InvalidTenant(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The tenant of plaintext listeners and of the embedded default configuration.
    pub fn default_tenant() -> Self {
        Self("default".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

/// How a principal proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mechanism {
    /// No authentication: a plaintext listener (loopback or explicitly insecure).
    Anonymous,
    /// A client certificate verified by mutual TLS.
    MutualTls,
    SaslPlain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    /// Whether the principal logged in with SASL (and so has an entry in the credential store).
    pub fn is_sasl(self) -> bool {
        matches!(
            self,
            Self::SaslPlain | Self::ScramSha256 | Self::ScramSha512
        )
    }
}

/// Who is making a request. Built only by authentication (or by a plaintext listener, which
/// yields `ANONYMOUS` of the listener's tenant).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    pub name: String,
    pub tenant: TenantId,
    pub mechanism: Mechanism,
}

impl Principal {
    /// The principal of an unauthenticated plaintext connection, as Kafka names it.
    pub fn anonymous(tenant: TenantId) -> Self {
        Self {
            name: "ANONYMOUS".to_owned(),
            tenant,
            mechanism: Mechanism::Anonymous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_follow_the_namespace_rule() {
        assert!(TenantId::new("acme").is_ok());
        assert!(TenantId::new("a-1").is_ok());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("-a").is_err());
        assert!(TenantId::new("Acme").is_err());
        assert!(TenantId::new("a.b").is_err());
        assert!(TenantId::new(&"a".repeat(64)).is_err());
        assert!(TenantId::new(&"a".repeat(63)).is_ok());
    }
}
