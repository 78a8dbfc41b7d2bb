//! Accept loops: one per configured listener, each connection on its own task. Every accepted
//! connection must first take a slot from the shared [`ConnectionRegistry`]
//! (`max.connections`, `max.connections.per.ip`); a refused one is closed at once, before a
//! byte is read. TLS listeners complete the handshake (within the authentication timeout)
//! before the connection task starts; on an SSL listener a verified client certificate
//! becomes the principal.

use crate::config::{ListenerConfig, SecurityProtocol};
use crate::conn_state::ConnState;
use crate::connection::{self, ConnectionContext, Peer};
use crate::limits::{ConnectionRegistry, ConnectionSlot, Refused};
use crate::tls::ReloadableTls;
use schloss_auth::{Authenticated, PrincipalMapper};
use schloss_broker::{Session, Transport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

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
    /// Shared by every listener of the broker.
    pub connections: Arc<ConnectionRegistry>,
    pub tls: Option<Arc<ReloadableTls>>,
    pub mapper: Option<Arc<PrincipalMapper>>,
}

pub async fn run(listener: BoundListener, runtime: ListenerRuntime) {
    let runtime = Arc::new(runtime);
    let mut refusals = RefusalLog::default();
    let mut failures = AcceptFailures::default();
    // Never returns: a failed accept is waited out, never a reason to stop listening.
    loop {
        let (stream, peer) = match listener.socket.accept().await {
            Ok(s) => s,
            Err(e) => {
                tokio::time::sleep(failures.note(&e)).await;
                continue;
            }
        };
        let slot = match runtime.connections.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                refusals.note(peer, refused);
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let runtime = runtime.clone();
        let protocol = listener.config.protocol;
        let tenant = listener.config.tenant.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, "connection opened");
            let outcome = serve_one(stream, peer, protocol, tenant, &runtime, slot).await;
            match outcome {
                Ok(()) => tracing::debug!(%peer, "connection closed"),
                // A failed login was logged with its reason already; one more line per
                // connection would let a login flood flood the log.
                Err(reason @ connection::CloseReason::AuthenticationFailed) => {
                    tracing::debug!(%peer, %reason, "connection closed by broker")
                }
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
    slot: ConnectionSlot,
) -> Result<(), connection::CloseReason> {
    let ctx = runtime.ctx.clone();
    // One deadline from accept for the whole of authentication: TLS handshake and SASL.
    let deadline = tokio::time::Instant::now() + ctx.authentication_timeout;
    let mut peer = Peer {
        addr: peer,
        transport: Transport {
            protocol: Some(protocol.for_policy()),
            ..Transport::default()
        },
    };
    let anonymous = |peer: &Peer| {
        ConnState::ready(
            Session::new(
                Authenticated::anonymous(tenant.clone()),
                ctx.listener.clone(),
            )
            .with_peer(peer.ip())
            .with_transport(peer.transport.clone()),
            None,
        )
    };
    match (&runtime.tls, protocol) {
        (None, SecurityProtocol::Plaintext) => {
            let initial = anonymous(&peer);
            connection::serve(stream, initial, ctx, peer, deadline, slot).await
        }
        (None, _) => connection::serve(stream, ConnState::PreAuth, ctx, peer, deadline, slot).await,
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
            let tls_session = stream.get_ref().1;
            peer.transport.tls_version = tls_session.protocol_version().map(tls_version_name);
            let leaf = tls_session
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            if let Some(der) = &leaf {
                add_certificate_names(&mut peer.transport, der);
            }
            let initial = if protocol == SecurityProtocol::SaslSsl {
                ConnState::PreAuth
            } else {
                match (leaf, &runtime.mapper) {
                    (Some(der), Some(mapper)) => match mapper.map_certificate(&der) {
                        Ok(auth) => {
                            tracing::debug!(%peer, principal = %auth.principal().name, tenant = %auth.tenant(), "client certificate mapped");
                            ConnState::ready(
                                Session::new(auth, ctx.listener.clone())
                                    .with_peer(peer.ip())
                                    .with_transport(peer.transport.clone()),
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
                    _ => anonymous(&peer),
                }
            };
            connection::serve(stream, initial, ctx, peer, deadline, slot).await
        }
    }
}

/// Java's names of TLS versions (`TLSv1.3`), as Kafka reports them.
fn tls_version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The SPIFFE id (the first `spiffe://` URI SAN) and the other SANs of the client's
/// certificate, for policies. A certificate that does not parse adds nothing (the principal
/// mapper refuses it separately).
fn add_certificate_names(transport: &mut Transport, der: &[u8]) {
    let Ok(identity) = schloss_auth::CertIdentity::from_der(der) else {
        return;
    };
    for san in identity.sans {
        let name = match san {
            schloss_auth::San::Uri(uri) => {
                if transport.spiffe_id.is_none() && uri.starts_with("spiffe://") {
                    transport.spiffe_id = Some(uri.clone());
                }
                uri
            }
            schloss_auth::San::Dns(name) | schloss_auth::San::Email(name) => name,
        };
        transport.san.push(name);
    }
}

/// Failed accepts: out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM) is
/// waited out for 100 ms, as Go's net/http and tokio's examples do, so the loop does not spin
/// while the pending connection stays queued; a connection that died in the backlog
/// (ECONNABORTED and the like) is skipped at once. Logged at most once per interval.
#[derive(Default)]
struct AcceptFailures {
    since_last: u64,
    last: Option<Instant>,
}

impl AcceptFailures {
    const INTERVAL: Duration = Duration::from_secs(10);
    const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);
    const OTHER_BACKOFF: Duration = Duration::from_millis(1);

    /// How long to wait before the next accept.
    fn note(&mut self, error: &std::io::Error) -> Duration {
        const ENFILE: i32 = 23;
        const EMFILE: i32 = 24;
        const ENOMEM: i32 = 12;
        const ENOBUFS: i32 = 105;
        let exhausted = matches!(
            error.raw_os_error(),
            Some(EMFILE | ENFILE | ENOMEM | ENOBUFS)
        );
        self.since_last += 1;
        if self.last.is_none_or(|at| at.elapsed() >= Self::INTERVAL) {
            tracing::warn!(%error, exhausted, failed_since_last_report = self.since_last, "accept failed; still listening");
            self.since_last = 0;
            self.last = Some(Instant::now());
        }
        if exhausted {
            Self::RESOURCE_BACKOFF
        } else {
            Self::OTHER_BACKOFF
        }
    }
}

/// Refused connections are logged at most once per interval with a count, so a flood of
/// connection attempts cannot flood the log as well.
#[derive(Default)]
struct RefusalLog {
    since_last: u64,
    last: Option<Instant>,
}

impl RefusalLog {
    const INTERVAL: Duration = Duration::from_secs(10);

    fn note(&mut self, peer: SocketAddr, refused: Refused) {
        self.since_last += 1;
        tracing::debug!(%peer, %refused, "connection refused");
        if self.last.is_none_or(|at| at.elapsed() >= Self::INTERVAL) {
            tracing::warn!(%peer, %refused, refused_since_last_report = self.since_last, "refusing connections");
            self.since_last = 0;
            self.last = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_descriptors_backs_off_and_other_accept_errors_retry_at_once() {
        let mut failures = AcceptFailures::default();
        for errno in [24, 23] {
            let emfile = std::io::Error::from_raw_os_error(errno);
            assert_eq!(failures.note(&emfile), AcceptFailures::RESOURCE_BACKOFF);
        }
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(failures.note(&aborted), AcceptFailures::OTHER_BACKOFF);
        assert_eq!(
            failures.since_last, 2,
            "only the first failure is logged in an interval"
        );
    }
}
