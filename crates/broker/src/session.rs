use crate::access::Namespace;
use parking_lot::Mutex;
use schloss_auth::Authenticated;
use schloss_model::Principal;
use schloss_policy::{DecisionCache, RequestContext, SecurityProtocol, Subject};
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::SystemTime;

/// The listener a connection came in on: Metadata advertises exactly this endpoint.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub name: String,
    pub advertised_host: String,
    pub advertised_port: i32,
}

/// How the connection reached the broker, for policies that look at it (`context` in Cedar).
#[derive(Debug, Clone, Default)]
pub struct Transport {
    pub protocol: Option<SecurityProtocol>,
    /// `TLSv1.3`, `TLSv1.2`.
    pub tls_version: Option<String>,
    /// The client certificate's SPIFFE id (a `spiffe://` URI SAN), if it has one.
    pub spiffe_id: Option<String>,
    /// The client certificate's other subject alternative names (DNS names, URIs).
    pub san: Vec<String>,
}

/// What a handler knows about the connection it serves: who is asking, in which namespace,
/// through which listener and transport. Built only from an `Authenticated`, which only the
/// auth crate can make: there is no way to a session that skips authentication.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) subject: Subject,
    pub(crate) namespace: Namespace,
    pub(crate) listener: ListenerInfo,
    /// The connection's part of every decision's context; `api_name` and `time` are filled
    /// in per decision.
    pub(crate) context: RequestContext,
    /// Kafka's name of the API being served (`Produce`), for policies and the audit log.
    pub(crate) api: &'static str,
    /// The client id of the latest request (Kafka reports it for group members).
    pub(crate) client_id: String,
    /// The peer address as Kafka prints it (`/127.0.0.1`), for group member descriptions.
    pub(crate) client_host: String,
    /// This connection's decisions, per policy generation (shared by clones of the session,
    /// which all serve the same connection).
    pub(crate) decisions: Arc<Mutex<DecisionCache>>,
}

impl Session {
    pub fn new(authenticated: Authenticated, listener: ListenerInfo) -> Self {
        let namespace = namespace_of(&authenticated);
        let (principal, roles) = authenticated.into_parts();
        let context = RequestContext {
            listener: listener.name.clone(),
            security_protocol: SecurityProtocol::Plaintext,
            client_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tls_version: None,
            spiffe_id: None,
            san: Vec::new(),
            api_name: Cow::Borrowed(""),
            time: SystemTime::UNIX_EPOCH,
        };
        Self {
            subject: Subject { principal, roles },
            namespace,
            listener,
            context,
            api: "",
            client_id: String::new(),
            client_host: String::new(),
            decisions: Arc::new(Mutex::new(DecisionCache::default())),
        }
    }

    /// The peer's address, for policies (`context.clientIp`) and group member descriptions.
    pub fn with_peer(mut self, ip: IpAddr) -> Self {
        self.client_host = format!("/{ip}");
        self.context.client_ip = ip;
        self
    }

    /// How the connection reached the broker.
    pub fn with_transport(mut self, transport: Transport) -> Self {
        if let Some(protocol) = transport.protocol {
            self.context.security_protocol = protocol;
        }
        self.context.tls_version = transport.tls_version;
        self.context.spiffe_id = transport.spiffe_id;
        self.context.san = transport.san;
        self
    }

    /// A re-authentication proved the same principal again: its roles are taken afresh from
    /// the credentials it proved, so a role removed since the first login no longer counts.
    /// The caller has checked that the principal is the same.
    pub fn reauthenticated(&mut self, authenticated: Authenticated) {
        self.namespace = namespace_of(&authenticated);
        let (principal, roles) = authenticated.into_parts();
        self.subject = Subject { principal, roles };
        self.decisions.lock().clear();
    }

    /// The roles of the principal changed in the credential store (or it lost them all):
    /// later requests are decided with the new ones.
    pub fn set_roles(&mut self, roles: std::collections::BTreeSet<String>) {
        if self.subject.roles != roles {
            let operator = roles.contains(schloss_auth::OPERATOR_ROLE);
            self.subject.roles = roles;
            self.namespace = if operator {
                Namespace::Operator
            } else {
                Namespace::Tenant(self.subject.principal.tenant.clone())
            };
            self.decisions.lock().clear();
        }
    }

    /// Records the client id and the API of the request being handled.
    pub fn set_request(&mut self, client_id: &str, api: &'static str) {
        if self.client_id != client_id {
            self.client_id = client_id.to_owned();
        }
        self.api = api;
        self.context.api_name = Cow::Borrowed(api);
        self.context.time = SystemTime::now();
    }

    pub fn principal(&self) -> &Principal {
        &self.subject.principal
    }

    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub fn listener(&self) -> &ListenerInfo {
        &self.listener
    }

    /// Kafka's name of the API being served.
    pub fn api(&self) -> &'static str {
        self.api
    }
}

fn namespace_of(authenticated: &Authenticated) -> Namespace {
    if authenticated.is_operator() {
        Namespace::Operator
    } else {
        Namespace::Tenant(authenticated.tenant().clone())
    }
}
