//! Tenant namespaces: a tenant's client sees `orders`, the broker stores `acme.orders`.

use schloss_model::{TenantId, INTERNAL_SEPARATOR};

/// How one connection's names map to internal names.
#[derive(Debug, Clone)]
pub enum Namespace {
    /// A tenant's client: every name it sends is prefixed with `tenant.`, and only names
    /// with that prefix are ever shown to it.
    Tenant(TenantId),
    /// An operator sees and names everything by its internal name.
    Operator,
}

impl Namespace {
    /// The internal name for a name the client sent.
    pub fn to_internal(&self, local: &str) -> String {
        match self {
            Self::Tenant(t) => format!("{}{}{}", t.as_str(), INTERNAL_SEPARATOR, local),
            Self::Operator => local.to_owned(),
        }
    }

    /// The client's view of an internal name, or `None` if the name belongs to another
    /// tenant (the caller must then behave as if it did not exist).
    pub fn to_local<'a>(&self, internal: &'a str) -> Option<&'a str> {
        match self {
            Self::Tenant(t) => internal
                .strip_prefix(t.as_str())
                .and_then(|rest| rest.strip_prefix(INTERNAL_SEPARATOR)),
            Self::Operator => Some(internal),
        }
    }

    /// Longest local topic name this namespace allows, so that the internal name stays
    /// within Kafka's 249 characters.
    pub fn max_local_len(&self) -> usize {
        match self {
            Self::Tenant(t) => {
                schloss_model::TopicName::MAX_LEN.saturating_sub(t.as_str().len() + 1)
            }
            Self::Operator => schloss_model::TopicName::MAX_LEN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_see_only_their_own_names() {
        let acme = Namespace::Tenant(TenantId::new("acme").unwrap());
        assert_eq!(acme.to_internal("orders"), "acme.orders");
        assert_eq!(acme.to_local("acme.orders"), Some("orders"));
        assert_eq!(acme.to_local("acme.a.b"), Some("a.b"));
        assert_eq!(acme.to_local("acmex.orders"), None);
        assert_eq!(acme.to_local("other.orders"), None);
        assert_eq!(
            Namespace::Operator.to_local("acme.orders"),
            Some("acme.orders")
        );
    }
}
