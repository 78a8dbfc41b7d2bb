//! The credential store: users, their tenant and roles, and their PLAIN and SCRAM credentials.
//!
//! Username model: a user belongs to exactly one tenant and clients log in with the
//! qualified login `tenant/user` (`acme/alice`) as their SASL username, so two tenants may
//! both have an `alice`. The resulting principal is `{ name: "alice", tenant: "acme" }`.
//! If the file sets `default_tenant`, a login without `/` (`alice`) means
//! `<default_tenant>/alice`, for single-tenant setups and clients that cannot be changed.
//! User names are 1 to 128 characters of `A-Z a-z 0-9 . _ @ + -`.

mod admin;
mod file;

pub use admin::{
    add_user, list_users, remove_user, set_scram_credential, update_file, Reload, StoreWatch,
};

use crate::credential::{
    CredentialError, PlainHash, SaslMechanism, ScramCredential, ScramMechanism,
};
use crate::crypto::{self, CryptoError};
use crate::secret::Secret;
use schloss_model::{Mechanism, Principal, TenantId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Longest user name (the part after `tenant/`).
pub const MAX_USER_NAME_LEN: usize = 128;
/// Iteration count for new SCRAM credentials and for unknown users, unless the file says
/// otherwise.
pub const DEFAULT_SCRAM_ITERATIONS: u32 = 4096;

/// Why the store could not be loaded, saved or changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot access `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse `{}`: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("unsupported credential file version {0} (expected 1)")]
    UnsupportedVersion(u32),
    #[error("invalid user name `{0}`: 1 to 128 characters of A-Z a-z 0-9 . _ @ + -")]
    InvalidUserName(String),
    #[error("invalid tenant `{0}`")]
    InvalidTenant(String),
    #[error("invalid role `{0}`: 1 to 64 characters of a-z 0-9 _ -")]
    InvalidRole(String),
    #[error("user `{0}` appears more than once")]
    DuplicateUser(String),
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error("user `{0}` does not exist")]
    UserNotFound(String),
    #[error("user `{0}` has no credential for any mechanism")]
    NoMechanisms(String),
    #[error("invalid base64 in `{field}` of user `{login}`")]
    InvalidBase64 { login: String, field: &'static str },
    #[error("invalid `unknown_user_secret`: must be base64 of at least 16 bytes")]
    InvalidSecret,
    #[error("credential of user `{login}`: {source}")]
    Credential {
        login: String,
        source: CredentialError,
    },
}

impl From<CryptoError> for StoreError {
    fn from(e: CryptoError) -> Self {
        Self::Credential {
            login: String::new(),
            source: e.into(),
        }
    }
}

/// What a client logs in as: `tenant/user`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoginName {
    tenant: TenantId,
    name: String,
}

impl LoginName {
    pub fn new(tenant: TenantId, name: &str) -> Result<Self, StoreError> {
        if !valid_user_name(name) {
            return Err(StoreError::InvalidUserName(name.to_owned()));
        }
        Ok(Self {
            tenant,
            name: name.to_owned(),
        })
    }

    /// Parses `tenant/user`; `None` if it is not exactly that shape with valid parts.
    pub fn parse(login: &str) -> Option<Self> {
        let (tenant, name) = login.split_once('/')?;
        let tenant = TenantId::new(tenant).ok()?;
        Self::new(tenant, name).ok()
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.name)
    }
}

impl fmt::Debug for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoginName({self})")
    }
}

fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USER_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-'))
}

fn valid_role(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= 64
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// One user: identity, roles and credentials.
#[derive(Clone, Debug)]
pub struct UserRecord {
    login: LoginName,
    roles: BTreeSet<String>,
    plain: Option<PlainHash>,
    scram_sha_256: Option<ScramCredential>,
    scram_sha_512: Option<ScramCredential>,
}

impl UserRecord {
    /// A user without credentials; add them with the `set_*` methods.
    pub fn new(login: LoginName, roles: &[&str]) -> Result<Self, StoreError> {
        let mut set = BTreeSet::new();
        for role in roles {
            if !valid_role(role) {
                return Err(StoreError::InvalidRole((*role).to_owned()));
            }
            set.insert((*role).to_owned());
        }
        Ok(Self {
            login,
            roles: set,
            plain: None,
            scram_sha_256: None,
            scram_sha_512: None,
        })
    }

    pub fn login(&self) -> &LoginName {
        &self.login
    }

    pub fn roles(&self) -> &BTreeSet<String> {
        &self.roles
    }

    pub fn plain(&self) -> Option<&PlainHash> {
        self.plain.as_ref()
    }

    pub fn scram(&self, mechanism: ScramMechanism) -> Option<&ScramCredential> {
        match mechanism {
            ScramMechanism::Sha256 => self.scram_sha_256.as_ref(),
            ScramMechanism::Sha512 => self.scram_sha_512.as_ref(),
        }
    }

    pub fn set_plain(&mut self, hash: Option<PlainHash>) {
        self.plain = hash;
    }

    /// Sets the credential of the credential's own mechanism.
    pub fn set_scram(&mut self, credential: ScramCredential) {
        match credential.mechanism() {
            ScramMechanism::Sha256 => self.scram_sha_256 = Some(credential),
            ScramMechanism::Sha512 => self.scram_sha_512 = Some(credential),
        }
    }

    pub fn remove_scram(&mut self, mechanism: ScramMechanism) -> Option<ScramCredential> {
        match mechanism {
            ScramMechanism::Sha256 => self.scram_sha_256.take(),
            ScramMechanism::Sha512 => self.scram_sha_512.take(),
        }
    }

    pub fn mechanisms(&self) -> Vec<SaslMechanism> {
        let mut out = Vec::new();
        if self.plain.is_some() {
            out.push(SaslMechanism::Plain);
        }
        if self.scram_sha_256.is_some() {
            out.push(SaslMechanism::ScramSha256);
        }
        if self.scram_sha_512.is_some() {
            out.push(SaslMechanism::ScramSha512);
        }
        out
    }

    /// The description of this user without any secret.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            login: self.login.to_string(),
            tenant: self.login.tenant.clone(),
            name: self.login.name.clone(),
            roles: self.roles.iter().cloned().collect(),
            mechanisms: self.mechanisms(),
        }
    }

    pub(crate) fn principal(&self, mechanism: Mechanism) -> Principal {
        Principal {
            name: self.login.name.clone(),
            tenant: self.login.tenant.clone(),
            mechanism,
        }
    }
}

/// A user as `list_users` shows it: no secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// `tenant/user`, what the client sends as its SASL username.
    pub login: String,
    pub tenant: TenantId,
    pub name: String,
    pub roles: Vec<String>,
    pub mechanisms: Vec<SaslMechanism>,
}

/// The users known to the broker. Immutable once shared: reload builds a new one.
pub struct CredentialStore {
    users: BTreeMap<LoginName, UserRecord>,
    /// Keys the fake salts of unknown SCRAM users, so that the same unknown name always gets
    /// the same salt (a changing salt would tell an attacker the user does not exist).
    unknown_user_secret: Secret<Vec<u8>>,
    /// For new SCRAM credentials and for unknown users.
    scram_iterations: u32,
    /// The tenant of logins without `tenant/`; `None`: such logins are unknown.
    default_tenant: Option<TenantId>,
}

impl CredentialStore {
    /// An empty store with a fresh unknown-user secret.
    pub fn new() -> Result<Self, StoreError> {
        Ok(Self {
            users: BTreeMap::new(),
            unknown_user_secret: Secret::new(crypto::random_bytes::<32>()?.to_vec()),
            scram_iterations: DEFAULT_SCRAM_ITERATIONS,
            default_tenant: None,
        })
    }

    /// Loads a credential file (TOML, see the crate docs). Any invalid entry fails the whole
    /// load: a store is never half loaded.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            StoreError::Parse { message, .. } => StoreError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// A copy of this store with SCRAM credentials laid over it (creating users that do not
    /// exist, without roles): how credentials set through AlterUserScramCredentials join the
    /// ones from the file.
    pub fn with_scram_overlay(
        &self,
        overlay: impl IntoIterator<Item = (LoginName, ScramCredential)>,
    ) -> Result<Self, StoreError> {
        let mut users = self.users.clone();
        for (login, credential) in overlay {
            match users.get_mut(&login) {
                Some(user) => user.set_scram(credential),
                None => {
                    let mut user = UserRecord::new(login.clone(), &[])?;
                    user.set_scram(credential);
                    users.insert(login, user);
                }
            }
        }
        Ok(Self {
            users,
            unknown_user_secret: Secret::new(self.unknown_user_secret.expose().clone()),
            scram_iterations: self.scram_iterations,
            default_tenant: self.default_tenant.clone(),
        })
    }

    /// Parses the file format from a string.
    pub fn from_toml(text: &str) -> Result<Self, StoreError> {
        file::parse(text)
    }

    /// Renders the file format.
    pub fn to_toml(&self) -> Result<String, StoreError> {
        file::render(self)
    }

    /// Writes the store atomically (temporary file, fsync, rename, fsync of the directory)
    /// with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let text = self.to_toml()?;
        file::write_atomically(path, text.as_bytes()).map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Looks up a user by what the client sent as its SASL username (`tenant/user`, or
    /// `user` when the store has a default tenant).
    pub fn user(&self, login: &str) -> Option<&UserRecord> {
        self.users.get(&self.resolve_login(login)?)
    }

    /// The login a client's SASL username stands for, if it is well-formed.
    pub fn resolve_login(&self, login: &str) -> Option<LoginName> {
        match (login.contains('/'), &self.default_tenant) {
            (true, _) => LoginName::parse(login),
            (false, Some(tenant)) => LoginName::new(tenant.clone(), login).ok(),
            (false, None) => None,
        }
    }

    pub fn default_tenant(&self) -> Option<&TenantId> {
        self.default_tenant.as_ref()
    }

    /// Lets clients log in as `user` for `<tenant>/user`.
    pub fn set_default_tenant(&mut self, tenant: Option<TenantId>) {
        self.default_tenant = tenant;
    }

    pub fn users(&self) -> impl Iterator<Item = &UserRecord> {
        self.users.values()
    }

    pub fn user_mut(&mut self, login: &LoginName) -> Option<&mut UserRecord> {
        self.users.get_mut(login)
    }

    /// Adds a user; fails if one with the same login exists.
    pub fn insert_user(&mut self, user: UserRecord) -> Result<(), StoreError> {
        if self.users.contains_key(&user.login) {
            return Err(StoreError::UserExists(user.login.to_string()));
        }
        self.users.insert(user.login.clone(), user);
        Ok(())
    }

    pub fn remove_user(&mut self, login: &LoginName) -> Result<UserRecord, StoreError> {
        self.users
            .remove(login)
            .ok_or_else(|| StoreError::UserNotFound(login.to_string()))
    }

    pub fn scram_iterations(&self) -> u32 {
        self.scram_iterations
    }

    /// Sets the iteration count for new credentials and unknown users.
    pub fn set_scram_iterations(&mut self, iterations: u32) -> Result<(), StoreError> {
        if !(ScramMechanism::MIN_ITERATIONS..=ScramMechanism::MAX_ITERATIONS).contains(&iterations)
        {
            return Err(StoreError::Credential {
                login: String::new(),
                source: CredentialError::InvalidIterations(iterations),
            });
        }
        self.scram_iterations = iterations;
        Ok(())
    }

    /// The stand-in credential of a user that does not exist (or has no credential for the
    /// mechanism): stable salt, the store's iteration count, a key no proof matches.
    pub(crate) fn fake_scram(
        &self,
        mechanism: ScramMechanism,
        login: &str,
    ) -> Result<ScramCredential, CryptoError> {
        ScramCredential::fake(
            mechanism,
            self.unknown_user_secret.expose(),
            login,
            self.scram_iterations,
        )
    }
}

#[cfg(test)]
mod tests;

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("users", &self.users.len())
            .field("scram_iterations", &self.scram_iterations)
            .finish_non_exhaustive()
    }
}
