use crate::namespace::Namespace;
use schloss_model::Principal;

/// The listener a connection came in on: Metadata advertises exactly this endpoint.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub name: String,
    pub advertised_host: String,
    pub advertised_port: i32,
}

/// What a handler knows about the connection it serves: who is asking, in which namespace,
/// and through which listener.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub namespace: Namespace,
    pub listener: ListenerInfo,
}
