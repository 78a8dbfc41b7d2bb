//! The credentials SASL logins check: the credential file, re-read when it changes (checked
//! every second, so `schloss users add` takes effect without a restart), with the SCRAM
//! credentials set through AlterUserScramCredentials (metadata log) laid over it. A file that
//! fails to load keeps the previous store: a broken edit never opens the door, and never
//! locks everyone out either.

use parking_lot::{Mutex, RwLock};
use schloss_auth::store::{Reload, StoreWatch};
use schloss_auth::CredentialStore;
use schloss_broker::Broker;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub struct CredentialSource {
    watch: Mutex<StoreWatch>,
    broker: Broker,
    /// The merged store and the metadata SCRAM generation it was built from.
    current: RwLock<(Arc<CredentialStore>, u64)>,
}

impl CredentialSource {
    pub fn open(path: &Path, broker: Broker) -> anyhow::Result<Arc<Self>> {
        let watch = StoreWatch::open(path)?;
        let file = watch.current();
        broker.file_credentials.set(file.clone());
        let image = broker.metadata.image();
        let merged = Arc::new(schloss_broker::credentials::merged(&file, &image)?);
        Ok(Arc::new(Self {
            watch: Mutex::new(watch),
            broker,
            current: RwLock::new((merged, image.scram_generation)),
        }))
    }

    pub fn current(&self) -> Arc<CredentialStore> {
        self.current.read().0.clone()
    }

    /// One check: reload the file if it changed, rebuild the merged store if the file or the
    /// metadata credentials changed. Blocking (file I/O).
    fn refresh(&self) {
        let mut watch = self.watch.lock();
        let reload = watch.reload_if_changed();
        let file = watch.current();
        match &reload {
            Reload::Reloaded => {
                tracing::info!("credential file reloaded");
                self.broker.file_credentials.set(file.clone());
            }
            Reload::Rejected(e) => {
                tracing::error!(error = %e, "credential file rejected; the previous credentials stay in force")
            }
            Reload::Unchanged => {}
        }
        let image = self.broker.metadata.image();
        let stale = self.current.read().1 != image.scram_generation;
        if matches!(reload, Reload::Reloaded) || stale {
            match schloss_broker::credentials::merged(&file, &image) {
                Ok(merged) => *self.current.write() = (Arc::new(merged), image.scram_generation),
                Err(e) => {
                    tracing::error!(error = %e, "merging credentials failed; the previous credentials stay in force")
                }
            }
        }
    }

    /// Polls for changes forever.
    pub async fn watch(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticker.tick().await;
            let this = self.clone();
            if tokio::task::spawn_blocking(move || this.refresh())
                .await
                .is_err()
            {
                tracing::error!("credential refresh task failed");
            }
        }
    }
}
