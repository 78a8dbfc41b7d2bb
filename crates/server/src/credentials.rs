//! The credential file, re-read when it changes (checked every second), so `schloss users add`
//! takes effect without a restart. A file that fails to load keeps the previous store: a
//! broken edit never opens the door, and never locks everyone out either.

use parking_lot::{Mutex, RwLock};
use schloss_auth::store::{Reload, StoreWatch};
use schloss_auth::CredentialStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub struct CredentialSource {
    watch: Mutex<StoreWatch>,
    current: RwLock<Arc<CredentialStore>>,
}

impl CredentialSource {
    pub fn open(path: &Path) -> Result<Arc<Self>, schloss_auth::StoreError> {
        let watch = StoreWatch::open(path)?;
        let current = watch.current();
        Ok(Arc::new(Self {
            watch: Mutex::new(watch),
            current: RwLock::new(current),
        }))
    }

    pub fn current(&self) -> Arc<CredentialStore> {
        self.current.read().clone()
    }

    /// Polls the file for changes forever.
    pub async fn watch(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticker.tick().await;
            let this = self.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let mut watch = this.watch.lock();
                let reload = watch.reload_if_changed();
                if matches!(reload, Reload::Reloaded) {
                    *this.current.write() = watch.current();
                }
                reload
            })
            .await;
            match outcome {
                Ok(Reload::Reloaded) => tracing::info!("credential file reloaded"),
                Ok(Reload::Rejected(e)) => {
                    tracing::error!(error = %e, "credential file rejected; the previous credentials stay in force")
                }
                _ => {}
            }
        }
    }
}
