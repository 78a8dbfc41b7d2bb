//! Accept loops: one per configured listener, each connection on its own task, bounded by a
//! semaphore so a flood of connections cannot exhaust the process. TLS listeners complete the
//! handshake (within the authentication timeout) before the connection task starts; on an
//! SSL listener a verified client certificate becomes the principal.

use crate::config::{ListenerConfig, SecurityProtocol};
use crate::conn_state::ConnState;
use crate::connection::{self, ConnectionContext};
use crate::tls::ReloadableTls;
use schloss_auth::{Authenticated, PrincipalMapper};
use schloss_broker::Session;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Connections served at once across a listener (Kafka's `max.connections` is unlimited by
/// default; a bound keeps file descriptors and memory in check).
pub const MAX_CONNECTIONS: usize = 10_000;

pub struct BoundListener {
    pub config: ListenerConfig,
    pub socket: TcpListener,
    pub local: SocketAddr,
}

pub async fn bind(config: ListenerConfig) -> std::io::Result<BoundListener> {
    let socket = TcpListener::bind(config.address).await?;
    let local = socket.local_addr()?;
    Ok(BoundListener {
        config,
        socket,
        local,
    })
}

/// What the accept loop needs besides the socket.
pub struct ListenerRuntime {
    pub ctx: Arc<ConnectionContext>,
    pub tls: Option<Arc<ReloadableTls>>,
    pub mapper: Option<Arc<PrincipalMapper>>,
}

pub async fn run(listener: BoundListener, runtime: ListenerRuntime) {
    let limits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let runtime = Arc::new(runtime);
    loop {
        let permit = match limits.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return,
        };
        let (stream, peer) = match listener.socket.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let runtime = runtime.clone();
        let protocol = listener.config.protocol;
        let tenant = listener.config.tenant.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tracing::debug!(%peer, "connection opened");
            let outcome = serve_one(stream, peer, protocol, tenant, &runtime).await;
            match outcome {
                Ok(()) => tracing::debug!(%peer, "connection closed"),
                Err(reason) => tracing::info!(%peer, %reason, "connection closed by broker"),
            }
        });
    }
}

async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    protocol: SecurityProtocol,
    tenant: schloss_model::TenantId,
    runtime: &ListenerRuntime,
) -> Result<(), connection::CloseReason> {
    let ctx = runtime.ctx.clone();
    // One deadline from accept for the whole of authentication: TLS handshake and SASL.
    let deadline = tokio::time::Instant::now() + ctx.authentication_timeout;
    let anonymous = || {
        ConnState::ready(
            Session::new(
                Authenticated::anonymous(tenant.clone()),
                ctx.listener.clone(),
            )
            .with_peer(peer.ip()),
            None,
        )
    };
    match (&runtime.tls, protocol) {
        (None, SecurityProtocol::Plaintext) => {
            connection::serve(stream, anonymous(), ctx, peer, deadline).await
        }
        (None, _) => connection::serve(stream, ConnState::PreAuth, ctx, peer, deadline).await,
        (Some(tls), _) => {
            let handshake = tokio::time::timeout_at(deadline, tls.acceptor().accept(stream)).await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "tls handshake failed");
                    return Ok(());
                }
                Err(_) => {
                    return Err(connection::CloseReason::AuthenticationTimeout(
                        ctx.authentication_timeout,
                    ))
                }
            };
            let initial = if protocol == SecurityProtocol::SaslSsl {
                ConnState::PreAuth
            } else {
                let leaf = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec());
                match (leaf, &runtime.mapper) {
                    (Some(der), Some(mapper)) => match mapper.map_certificate(&der) {
                        Ok(auth) => {
                            tracing::debug!(%peer, principal = %auth.principal().name, tenant = %auth.tenant(), "client certificate mapped");
                            ConnState::ready(
                                Session::new(auth, ctx.listener.clone()).with_peer(peer.ip()),
                                None,
                            )
                        }
                        Err(e) => {
                            tracing::info!(%peer, reason = %e.reason(), "client certificate refused");
                            return Err(connection::CloseReason::AuthenticationFailed);
                        }
                    },
                    // No certificate: only possible when client auth is not required, which
                    // the config allows only on loopback (or explicitly insecure) listeners.
                    _ => anonymous(),
                }
            };
            connection::serve(stream, initial, ctx, peer, deadline).await
        }
    }
}
