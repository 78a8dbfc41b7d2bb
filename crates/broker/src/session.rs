use crate::namespace::Namespace;
use schloss_auth::Authenticated;
use schloss_model::Principal;

/// The listener a connection came in on: Metadata advertises exactly this endpoint.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub name: String,
    pub advertised_host: String,
    pub advertised_port: i32,
}

/// What a handler knows about the connection it serves: who is asking, in which namespace,
/// and through which listener. Built only from an `Authenticated`, which only the auth crate
/// can make: there is no way to a session that skips authentication.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) principal: Principal,
    pub(crate) namespace: Namespace,
    pub(crate) listener: ListenerInfo,
}

impl Session {
    pub fn new(authenticated: Authenticated, listener: ListenerInfo) -> Self {
        let operator = authenticated.is_operator();
        let (principal, _roles) = authenticated.into_parts();
        let namespace = if operator {
            Namespace::Operator
        } else {
            Namespace::Tenant(principal.tenant.clone())
        };
        Self {
            principal,
            namespace,
            listener,
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub fn listener(&self) -> &ListenerInfo {
        &self.listener
    }
}
