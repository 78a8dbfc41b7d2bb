//! Names on both sides of the tenant boundary. A tenant's client sees `orders`; the broker
//! stores `acme.orders`. The two kinds never mix: an [`InternalName`] can only be made here,
//! so a handler cannot pass a client's string where the broker expects a qualified one, and
//! the mapping between the two is written once, in [`Namespace`].

use schloss_model::{TenantId, INTERNAL_SEPARATOR};
use std::fmt;

/// A tenant-qualified name as the broker stores it (`acme.orders`), or an operator's name
/// taken as is. Built only by the access gate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InternalName(String);

/// The broker's own logs (partition 0 of each lives in `<name>-0` in the data directory).
/// No topic may have one of these names, whoever asks: a topic's partition directory would be
/// the internal log's.
pub const INTERNAL_LOGS: &[&str] = &["__cluster_metadata", "__consumer_offsets"];

impl InternalName {
    /// Whether this is the name of one of the broker's internal logs.
    pub fn is_internal_log(&self) -> bool {
        INTERNAL_LOGS.contains(&self.0.as_str())
    }

    // INVARIANT: only the gate (this module's parent) turns strings into internal names;
    // every name it turns was either mapped by `Namespace::to_internal` or read back from
    // the metadata image, which only stores internal names.
    pub(super) fn trusted(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant part (before the first dot), if the name has one. Tenant names cannot
    /// contain a dot, so the first dot always splits.
    pub fn tenant(&self) -> Option<&str> {
        self.0.split_once(INTERNAL_SEPARATOR).map(|(t, _)| t)
    }
}

impl fmt::Display for InternalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name in the client's view, as it goes back into responses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalName(String);

impl LocalName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
    pub(super) fn to_internal(&self, local: &str) -> (InternalName, LocalName) {
        let internal = match self {
            Self::Tenant(t) => format!("{}{}{}", t.as_str(), INTERNAL_SEPARATOR, local),
            Self::Operator => local.to_owned(),
        };
        (InternalName(internal), LocalName(local.to_owned()))
    }

    /// The client's view of an internal name, or `None` if the name belongs to another
    /// tenant (the caller must then behave as if it did not exist).
    pub(super) fn to_local(&self, internal: &str) -> Option<LocalName> {
        match self {
            Self::Tenant(t) => internal
                .strip_prefix(t.as_str())
                .and_then(|rest| rest.strip_prefix(INTERNAL_SEPARATOR))
                .map(|l| LocalName(l.to_owned())),
            Self::Operator => Some(LocalName(internal.to_owned())),
        }
    }

    /// Longest local topic name this namespace allows, so that the internal name stays
    /// within Kafka's 249 characters.
    pub(super) fn max_local_len(&self) -> usize {
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

    fn local(ns: &Namespace, internal: &str) -> Option<String> {
        ns.to_local(internal).map(|l| l.as_str().to_owned())
    }

    #[test]
    fn tenants_see_only_their_own_names() {
        let acme = Namespace::Tenant(TenantId::new("acme").unwrap());
        assert_eq!(acme.to_internal("orders").0.as_str(), "acme.orders");
        assert_eq!(local(&acme, "acme.orders").as_deref(), Some("orders"));
        assert_eq!(local(&acme, "acme.a.b").as_deref(), Some("a.b"));
        assert_eq!(local(&acme, "acmex.orders"), None);
        assert_eq!(local(&acme, "other.orders"), None);
        assert_eq!(
            local(&Namespace::Operator, "acme.orders").as_deref(),
            Some("acme.orders")
        );
    }

    #[test]
    fn internal_logs_are_the_directories_the_broker_keeps() {
        for dir in [crate::metadata::METADATA_DIR, crate::groups::OFFSETS_DIR] {
            let name = dir.strip_suffix("-0").unwrap();
            assert!(
                InternalName::trusted(name.to_owned()).is_internal_log(),
                "{dir}"
            );
        }
        // A tenant's name never is one: it is always qualified.
        let (name, _) =
            Namespace::Tenant(TenantId::new("acme").unwrap()).to_internal("__consumer_offsets");
        assert!(!name.is_internal_log());
    }

    #[test]
    fn internal_names_split_at_the_first_dot() {
        let (name, _) = Namespace::Tenant(TenantId::new("acme").unwrap()).to_internal("a.b");
        assert_eq!(name.tenant(), Some("acme"));
        assert_eq!(InternalName::trusted("plain".into()).tenant(), None);
    }
}
