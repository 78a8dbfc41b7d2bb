use crate::access::Namespace;
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
    /// The client id of the latest request (Kafka reports it for group members).
    pub(crate) client_id: String,
    /// The peer address as Kafka prints it (`/127.0.0.1`), for group member descriptions.
    pub(crate) client_host: String,
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
            client_id: String::new(),
            client_host: String::new(),
        }
    }

    /// The peer's address, recorded for group member descriptions.
    pub fn with_peer(mut self, ip: std::net::IpAddr) -> Self {
        self.client_host = format!("/{ip}");
        self
    }

    /// Records the client id of the request being handled.
    pub fn set_client_id(&mut self, client_id: &str) {
        if self.client_id != client_id {
            self.client_id = client_id.to_owned();
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
