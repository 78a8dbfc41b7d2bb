//! The server's side of authorization: the policy store from `[authorization]` and the
//! watcher that picks up edited policy files.

use anyhow::Context;
use schloss_policy::{Mode, PolicyStore, StoreConfig, Watcher, POLL_INTERVAL};
use std::sync::Arc;

/// Loads the policies; a set that fails to load is an error naming file, line and Cedar's
/// message, and the broker does not start.
pub fn open_store(config: StoreConfig) -> anyhow::Result<Arc<PolicyStore>> {
    let described = match &config.mode {
        Mode::Cedar { dir } => format!("loading the policies in {}", dir.display()),
        Mode::AllowTenant => "authorization mode allow-tenant".to_owned(),
    };
    // The store logs every outcome itself; the audit log will hook in here.
    let store = PolicyStore::open(config, None).context(described)?;
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
