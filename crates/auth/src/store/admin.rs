//! File-level administration (`schloss users ...`) and the cheap reload check.
//!
//! Writers are expected one at a time (the admin CLI); each change is a load, a change in
//! memory and an atomic replace of the file.

use super::{CredentialStore, LoginName, StoreError, UserInfo, UserRecord};
use crate::credential::{PlainHash, SaslMechanism, ScramCredential};
use schloss_model::TenantId;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Loads the store at `path` (an empty one if the file does not exist), applies `change`
/// and writes the result back atomically. Nothing is written if `change` fails.
pub fn update_file<T>(
    path: &Path,
    change: impl FnOnce(&mut CredentialStore) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut store = match CredentialStore::load(path) {
        Ok(store) => store,
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            CredentialStore::new()?
        }
        Err(e) => return Err(e),
    };
    let out = change(&mut store)?;
    store.save(path)?;
    Ok(out)
}

/// Adds user `tenant/name` with credentials for `mechanisms` derived from `password`
/// (argon2id for PLAIN, fresh salt and the store's iteration count for SCRAM), or replaces an
/// existing user's credentials and roles (as Kafka's `kafka-configs --alter` upserts SCRAM
/// credentials). Creates the file if needed.
pub fn add_user(
    path: &Path,
    name: &str,
    tenant: &TenantId,
    password: &str,
    mechanisms: &[SaslMechanism],
    roles: &[&str],
) -> Result<UserInfo, StoreError> {
    let login = LoginName::new(tenant.clone(), name)?;
    if mechanisms.is_empty() {
        return Err(StoreError::NoMechanisms(login.to_string()));
    }
    update_file(path, |store| {
        let login_text = login.to_string();
        let credential_error = |source| StoreError::Credential {
            login: login_text.clone(),
            source,
        };
        let mut user = UserRecord::new(login.clone(), roles)?;
        for mechanism in mechanisms {
            match mechanism.scram() {
                None => {
                    user.set_plain(Some(
                        PlainHash::from_password(password).map_err(credential_error)?,
                    ));
                }
                Some(scram) => user.set_scram(
                    ScramCredential::new(scram, password, store.scram_iterations())
                        .map_err(credential_error)?,
                ),
            }
        }
        let info = user.info();
        if store.user_mut(&login).is_some() {
            store.remove_user(&login)?;
        }
        store.insert_user(user)?;
        Ok(info)
    })
}

/// Removes user `login` (`tenant/user`).
pub fn remove_user(path: &Path, login: &str) -> Result<(), StoreError> {
    let login = LoginName::parse(login).ok_or_else(|| StoreError::UserNotFound(login.into()))?;
    update_file(path, |store| store.remove_user(&login).map(drop))
}

/// The users of the file, without secrets.
pub fn list_users(path: &Path) -> Result<Vec<UserInfo>, StoreError> {
    Ok(CredentialStore::load(path)?
        .users()
        .map(UserRecord::info)
        .collect())
}

/// Sets (adds or replaces) one SCRAM credential of `login`, creating the user without roles
/// if it does not exist, as Kafka's AlterUserScramCredentials does.
pub fn set_scram_credential(
    path: &Path,
    login: &LoginName,
    credential: ScramCredential,
) -> Result<(), StoreError> {
    update_file(path, |store| {
        if let Some(user) = store.user_mut(login) {
            user.set_scram(credential);
            return Ok(());
        }
        let mut user = UserRecord::new(login.clone(), &[])?;
        user.set_scram(credential);
        store.insert_user(user)
    })
}

/// What identifies a version of the file cheaply: length, modification time and inode
/// (an atomic replace always changes the inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

/// The outcome of [`StoreWatch::reload_if_changed`].
#[derive(Debug)]
pub enum Reload {
    /// The file looks the same as at the last check.
    Unchanged,
    /// The file changed and the new store is now current.
    Reloaded,
    /// The file changed but could not be loaded; the previous store stays current. Reported
    /// once per change of the file.
    Rejected(StoreError),
}

/// The current store plus what is needed to notice that its file changed. Never fails open:
/// a file that does not load leaves the previous store in place.
#[derive(Debug)]
pub struct StoreWatch {
    path: PathBuf,
    /// The file version last looked at (loaded or rejected); `None` if it was missing.
    seen: Option<FileStamp>,
    current: Arc<CredentialStore>,
}

impl StoreWatch {
    /// Loads the file; fails if it cannot be loaded (there is no previous store to keep).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let seen = FileStamp::of(path).ok();
        let current = Arc::new(CredentialStore::load(path)?);
        Ok(Self {
            path: path.to_owned(),
            seen,
            current,
        })
    }

    pub fn current(&self) -> Arc<CredentialStore> {
        Arc::clone(&self.current)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One `stat`; a load only if the file changed since the last check.
    pub fn reload_if_changed(&mut self) -> Reload {
        let stamp = FileStamp::of(&self.path).ok();
        if stamp == self.seen {
            return Reload::Unchanged;
        }
        self.seen = stamp;
        if stamp.is_none() {
            return Reload::Rejected(StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        match CredentialStore::load(&self.path) {
            Ok(store) => {
                self.current = Arc::new(store);
                Reload::Reloaded
            }
            Err(e) => Reload::Rejected(e),
        }
    }
}
