//! The server's side of authorization: the policy store from `[authorization]`, its reload
//! outcomes in the broker log, and the watcher that picks up edited policy files.

use anyhow::Context;
use schloss_policy::{
    Mode, PolicyStore, ReloadEvent, ReloadHook, StoreConfig, Watcher, POLL_INTERVAL,
};
use std::sync::Arc;

/// Loads the policies; a set that fails to load is an error naming file, line and Cedar's
/// message, and the broker does not start.
pub fn open_store(config: StoreConfig) -> anyhow::Result<Arc<PolicyStore>> {
    let described = match &config.mode {
        Mode::Cedar { dir } => format!("loading the policies in {}", dir.display()),
        Mode::AllowTenant => "authorization mode allow-tenant".to_owned(),
    };
    let hook: ReloadHook = Arc::new(log_event);
    let store = PolicyStore::open(config, Some(hook)).context(described)?;
    Ok(Arc::new(store))
}

/// Polls the policy directory for changes (mode `cedar` only) until the watcher is dropped.
pub fn watch(store: &Arc<PolicyStore>) -> anyhow::Result<Option<Watcher>> {
    match store.mode() {
        Mode::Cedar { .. } => Ok(Some(
            store
                .watch(POLL_INTERVAL)
                .context("starting the policy watcher")?,
        )),
        Mode::AllowTenant => Ok(None),
    }
}

fn log_event(event: &ReloadEvent) {
    match event {
        ReloadEvent::Accepted {
            generation,
            sha256,
            policies,
            warnings,
        } => {
            tracing::info!(generation, %sha256, policies, "policy set loaded");
            for warning in warnings {
                tracing::warn!(generation, %warning, "policy set warning");
            }
        }
        ReloadEvent::Unchanged { .. } => {}
        ReloadEvent::Refused {
            kept_generation,
            error,
        } => match kept_generation {
            Some(kept) => tracing::error!(
                kept_generation = kept,
                %error,
                "policy set refused; the previous set stays in force"
            ),
            None => tracing::error!(%error, "policy set refused"),
        },
    }
}
