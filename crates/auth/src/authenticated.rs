//! The proof that a connection authenticated.

use schloss_model::{Mechanism, Principal, TenantId};
use std::collections::BTreeSet;

/// The role that lets a principal see and manage every tenant.
pub const OPERATOR_ROLE: &str = "operator";

/// Proof that a client authenticated, carrying who it is.
///
/// INVARIANT: only this crate constructs it with a mechanism other than `Anonymous`, and only
/// after a mechanism verified the client's credentials (a SASL exchange or a mapped client
/// certificate). The server requires it to move a connection to `Ready`, so a path that
/// forgets to authenticate does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    principal: Principal,
    roles: BTreeSet<String>,
}

impl Authenticated {
    pub(crate) fn new(principal: Principal, roles: BTreeSet<String>) -> Self {
        Self { principal, roles }
    }

    /// The identity of a connection on a listener configured without authentication: Kafka's
    /// `ANONYMOUS` principal of the listener's tenant, with no roles. Granting it anything is
    /// up to the policies.
    pub fn anonymous(tenant: TenantId) -> Self {
        Self {
            principal: Principal::anonymous(tenant),
            roles: BTreeSet::new(),
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn tenant(&self) -> &TenantId {
        &self.principal.tenant
    }

    pub fn mechanism(&self) -> Mechanism {
        self.principal.mechanism
    }

    /// Roles from the credential store (`operator`, ...). Empty for certificates and
    /// anonymous connections.
    pub fn roles(&self) -> &BTreeSet<String> {
        &self.roles
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    pub fn is_operator(&self) -> bool {
        self.has_role(OPERATOR_ROLE)
    }

    pub fn into_parts(self) -> (Principal, BTreeSet<String>) {
        (self.principal, self.roles)
    }
}
