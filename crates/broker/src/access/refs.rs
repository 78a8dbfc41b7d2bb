//! Capabilities: values only the access gate can make, each proving that this session was
//! allowed one action on one resource. The metadata image, the partition registry and the
//! group handlers take these instead of names, so a handler that skips the gate does not
//! compile.

use super::names::{InternalName, LocalName};

/// A topic (existing or about to be created) that the session may act on, under both names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRef {
    internal: InternalName,
    local: LocalName,
}

impl TopicRef {
    pub(super) fn new(internal: InternalName, local: LocalName) -> Self {
        Self { internal, local }
    }

    pub fn internal(&self) -> &InternalName {
        &self.internal
    }

    /// The name to show this session.
    pub fn local(&self) -> &str {
        self.local.as_str()
    }
}

/// A consumer group the session may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    internal: InternalName,
    local: LocalName,
}

impl GroupRef {
    pub(super) fn new(internal: InternalName, local: LocalName) -> Self {
        Self { internal, local }
    }

    pub fn internal(&self) -> &InternalName {
        &self.internal
    }

    pub fn local(&self) -> &str {
        self.local.as_str()
    }
}

/// The session's virtual cluster (its tenant; the whole cluster for an operator).
#[derive(Debug)]
pub struct TenantRef(());

impl TenantRef {
    pub(super) fn new() -> Self {
        Self(())
    }
}

/// The real cluster.
#[derive(Debug)]
pub struct ClusterRef(());

impl ClusterRef {
    pub(super) fn new() -> Self {
        Self(())
    }
}

/// Lets code outside the gate make the few raw lookups that serve no client: the gate itself
/// resolving ids and listings, recovery opening every partition at start. Handlers never hold
/// one.
#[derive(Debug, Clone, Copy)]
pub struct GateKey(());

impl GateKey {
    pub(super) fn new() -> Self {
        Self(())
    }
}
