//! `schloss serve`: load the policies, open the broker, bind every listener, run until
//! SIGTERM / Ctrl-C. SIGHUP reloads TLS certificates and the policy files.

use crate::config::{Config, SecurityProtocol};
use crate::connection::{ConnectionContext, SaslContext};
use crate::credentials::CredentialSource;
use crate::fd_budget;
use crate::frames::RequestMemory;
use crate::limits::ConnectionRegistry;
use crate::listener::{self, ListenerRuntime};
use crate::sasl::FailureBrake;
use crate::tls::ReloadableTls;
use crate::verifier::PlainVerifiers;
use anyhow::Context;
use schloss_auth::PrincipalMapper;
use schloss_broker::ListenerInfo;
use std::sync::Arc;

pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    let data_dir = config.broker.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    apply_fd_budget(&mut config);
    let max_request_bytes = config.broker.socket_request_max_bytes;
    let limits = config.connections.clone();
    let connections = ConnectionRegistry::new(limits.limits.clone());
    let request_memory = Arc::new(RequestMemory::new(limits.queued_max_request_bytes));
    // Policies first: a set that does not load refuses to start before anything is opened.
    let policies = crate::authorization::open_store(config.authorization.clone())?;
    let gate = schloss_broker::access::Gate::new(
        Arc::new(schloss_broker::access::PolicyAuthorizer::new(
            policies.clone(),
        )),
        Arc::new(schloss_broker::access::NoAudit),
    );
    let broker = schloss_broker::Broker::open(config.broker)
        .await
        .with_context(|| format!("opening data dir {}", data_dir.display()))?
        .with_request_memory(request_memory.for_broker())
        .with_access(gate)
        .with_policies(policies.clone())
        .context("loading the ACLs of the metadata log into the policy set")?;
    let _policy_watcher = crate::authorization::watch(&policies)?;
    let credentials = match &config.auth.credentials_file {
        Some(path) => Some(
            CredentialSource::open(path, broker.clone())
                .with_context(|| format!("loading credentials from {}", path.display()))?,
        ),
        None => None,
    };
    let verifiers = Arc::new(PlainVerifiers::new());
    let brake = Arc::new(FailureBrake::new());
    let mut reloadable = Vec::new();
    let mut runtimes = Vec::new();
    for l in config.listeners {
        let name = l.name.clone();
        let addr = l.address;
        let tls = match &l.tls {
            Some(settings) => Some(
                ReloadableTls::new(settings.clone())
                    .with_context(|| format!("listener {name}: tls"))?,
            ),
            None => None,
        };
        if let Some(t) = &tls {
            reloadable.push((name.clone(), t.clone()));
        }
        let mapper = match (&l.tls, l.protocol) {
            (Some(settings), SecurityProtocol::Ssl) => Some(Arc::new(
                PrincipalMapper::parse(&settings.principal_mapping_rules, Some(l.tenant.clone()))
                    .with_context(|| format!("listener {name}: principal_mapping_rules"))?,
            )),
            _ => None,
        };
        let sasl = match (l.protocol.uses_sasl(), &credentials) {
            (true, Some(creds)) => Some(SaslContext {
                mechanisms: l.sasl_mechanisms.clone(),
                credentials: creds.clone(),
                verifiers: verifiers.clone(),
                brake: brake.clone(),
            }),
            _ => None,
        };
        let bound = listener::bind(l)
            .await
            .with_context(|| format!("binding listener {name} to {addr}"))?;
        let info = ListenerInfo {
            name: bound.config.name.clone(),
            advertised_host: bound.config.advertised_host.clone(),
            advertised_port: i32::from(bound.config.advertised_port.unwrap_or(bound.local.port())),
        };
        let ctx = Arc::new(ConnectionContext {
            broker: broker.clone(),
            listener: info,
            max_request_bytes,
            sasl,
            authentication_timeout: config.auth.authentication_timeout,
            max_reauth_ms: config.auth.connections_max_reauth_ms,
            idle_timeout: limits.idle_timeout,
            frame_timeout: limits.frame_timeout,
            max_in_flight: limits.max_in_flight,
            request_memory: request_memory.clone(),
        });
        runtimes.push((
            bound,
            ListenerRuntime {
                ctx,
                connections: connections.clone(),
                tls,
                mapper,
            },
        ));
    }
    tokio::spawn(schloss_broker::retention::run(
        broker.clone(),
        config.retention_check_interval,
    ));
    if let Some(creds) = credentials {
        tokio::spawn(creds.watch());
    }
    for (bound, runtime) in runtimes {
        // Tests and scripts wait for this line on stdout to learn the bound port.
        println!("schloss: listener {} on {}", bound.config.name, bound.local);
        tracing::info!(listener = %bound.config.name, address = %bound.local, cluster_id = %broker.cluster_id(), "listening");
        tokio::spawn(listener::run(bound, runtime));
    }
    wait_for_shutdown(reloadable, &policies).await;
    tracing::info!("shutting down");
    Ok(())
}

/// Raises the descriptor limit and splits it between log files and connections
/// (`fd_budget`'s rule), lowering what does not fit.
fn apply_fd_budget(config: &mut Config) {
    let limit = fd_budget::raise_descriptor_limit();
    let budget = fd_budget::split(
        limit,
        config.log_max_open_files,
        config.connections.limits.max_connections,
    );
    for what in &budget.clamped {
        tracing::warn!(clamped = %what, "lowered to fit the open-file limit; raise `ulimit -n` (hard) to avoid this");
    }
    tracing::info!(
        limit = budget.limit,
        reserve = budget.reserve,
        log_files = budget.log_files,
        max_connections = budget.max_connections,
        "file descriptor budget"
    );
    config.broker.storage.log_max_open_files = budget.log_files;
    config.connections.limits.max_connections = budget.max_connections;
}

/// Runs until SIGTERM or Ctrl-C; reloads TLS material and the policies on each SIGHUP.
async fn wait_for_shutdown(
    tls: Vec<(String, Arc<ReloadableTls>)>,
    policies: &Arc<schloss_policy::PolicyStore>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                for (name, t) in &tls {
                    match t.reload() {
                        Ok(()) => tracing::info!(listener = %name, "tls certificates reloaded"),
                        Err(e) => tracing::error!(listener = %name, error = %e, "tls reload failed; the previous certificates stay in use"),
                    }
                }
                // The outcome reached the log through the store's hook.
                let _ = policies.reload();
            }
        }
    }
}
