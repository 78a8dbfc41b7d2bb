//! SCRAM credentials as the broker sees them: the credential file (loaded by the server and
//! handed over on every reload) overlaid with the credentials set through
//! AlterUserScramCredentials, which live in the metadata log.

use crate::metadata::Image;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use parking_lot::RwLock;
use schloss_auth::store::LoginName;
use schloss_auth::{CredentialStore, ScramCredential, ScramMechanism};
use std::sync::Arc;

/// The file-based store, as last loaded by the server.
#[derive(Default)]
pub struct FileCredentials {
    current: RwLock<Option<Arc<CredentialStore>>>,
}

impl FileCredentials {
    pub fn set(&self, store: Arc<CredentialStore>) {
        *self.current.write() = Some(store);
    }

    pub fn get(&self) -> Option<Arc<CredentialStore>> {
        self.current.read().clone()
    }
}

pub fn mechanism_by_name(name: &str) -> Option<ScramMechanism> {
    [ScramMechanism::Sha256, ScramMechanism::Sha512]
        .into_iter()
        .find(|m| m.name() == name)
}

/// The SCRAM credentials of the metadata image, decoded. Entries that do not decode are
/// skipped (they were validated before they were written).
pub fn image_credentials(image: &Image) -> Vec<(LoginName, ScramCredential)> {
    image
        .scram
        .iter()
        .filter_map(|((login, mechanism), r)| {
            let login = LoginName::parse(login)?;
            let mechanism = mechanism_by_name(mechanism)?;
            let decode = |s: &str| STANDARD.decode(s).ok();
            let credential = ScramCredential::from_keys(
                mechanism,
                decode(&r.salt)?,
                r.iterations,
                decode(&r.stored_key)?,
                decode(&r.server_key)?,
            )
            .ok()?;
            Some((login, credential))
        })
        .collect()
}

/// The store SASL logins check: the file's users with the metadata credentials laid over.
pub fn merged(
    file: &CredentialStore,
    image: &Image,
) -> Result<CredentialStore, schloss_auth::StoreError> {
    file.with_scram_overlay(image_credentials(image))
}
