//! Accept loops: one per configured listener, each connection on its own task, bounded by a
//! semaphore so a flood of connections cannot exhaust the process.

use crate::config::{ListenerConfig, SecurityProtocol};
use crate::conn_state::ConnState;
use crate::connection::{self, ConnectionConfig};
use schloss_broker::{Broker, ListenerInfo, Namespace, Session};
use schloss_model::Principal;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
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

pub async fn run(listener: BoundListener, broker: Broker, max_request_bytes: usize) {
    let info = ListenerInfo {
        name: listener.config.name.clone(),
        advertised_host: listener.config.advertised_host.clone(),
        advertised_port: i32::from(
            listener
                .config
                .advertised_port
                .unwrap_or(listener.local.port()),
        ),
    };
    let limits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let conn_config = Arc::new(ConnectionConfig { max_request_bytes });
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
        let initial = match listener.config.protocol {
            SecurityProtocol::Plaintext => ConnState::Ready(Session {
                principal: Principal::anonymous(listener.config.tenant.clone()),
                namespace: Namespace::Tenant(listener.config.tenant.clone()),
                listener: info.clone(),
            }),
        };
        let broker = broker.clone();
        let conn_config = conn_config.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tracing::debug!(%peer, "connection opened");
            match connection::serve(stream, initial, broker, &conn_config).await {
                Ok(()) => tracing::debug!(%peer, "connection closed"),
                Err(reason) => tracing::info!(%peer, %reason, "connection closed by broker"),
            }
        });
    }
}
