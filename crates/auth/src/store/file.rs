//! The credential file: TOML, version 1, written atomically with mode 0600.
//!
//! ```toml
//! version = 1
//! # base64 of 32 random bytes; keys the fake salts of unknown SCRAM users
//! unknown_user_secret = "q2V...="
//! # iterations for new SCRAM credentials and unknown users (4096..=16384), default 4096
//! scram_iterations = 4096
//! # optional: clients may log in as `alice` for `default/alice`
//! default_tenant = "default"
//!
//! [[user]]
//! name = "alice"               # clients log in as `acme/alice`
//! tenant = "acme"
//! roles = ["operator"]         # optional
//! plain = "$argon2id$v=19$m=19456,t=2,p=1$...$..."   # optional
//!
//! [user.scram_sha_256]         # optional, likewise scram_sha_512
//! salt = "base64"
//! iterations = 4096
//! stored_key = "base64"
//! server_key = "base64"
//! ```

use super::{CredentialStore, LoginName, StoreError, UserRecord, DEFAULT_SCRAM_ITERATIONS};
use crate::credential::{PlainHash, ScramCredential, ScramMechanism};
use crate::crypto;
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use schloss_model::TenantId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;
const MIN_SECRET_LEN: usize = 16;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unknown_user_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scram_iterations: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_tenant: Option<String>,
    #[serde(default, rename = "user")]
    users: Vec<FileUser>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    name: String,
    tenant: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scram_sha_256: Option<FileScram>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scram_sha_512: Option<FileScram>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScram {
    salt: String,
    iterations: u32,
    stored_key: String,
    server_key: String,
}

pub(super) fn parse(text: &str) -> Result<CredentialStore, StoreError> {
    let raw: FileV1 = toml::from_str(text).map_err(|e| StoreError::Parse {
        path: PathBuf::new(),
        message: e.message().to_owned(),
    })?;
    if raw.version != VERSION {
        return Err(StoreError::UnsupportedVersion(raw.version));
    }
    let secret = match raw.unknown_user_secret {
        Some(b64) => {
            let bytes = STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| StoreError::InvalidSecret)?;
            if bytes.len() < MIN_SECRET_LEN {
                return Err(StoreError::InvalidSecret);
            }
            bytes
        }
        // A hand-written file without a secret: unknown users get salts that are stable only
        // until the next load. `add_user` and `save` always write one.
        None => crypto::random_bytes::<32>()?.to_vec(),
    };
    let mut store = CredentialStore {
        users: BTreeMap::new(),
        unknown_user_secret: Secret::new(secret),
        scram_iterations: DEFAULT_SCRAM_ITERATIONS,
        default_tenant: None,
    };
    if let Some(iterations) = raw.scram_iterations {
        store.set_scram_iterations(iterations)?;
    }
    if let Some(tenant) = raw.default_tenant {
        let tenant = TenantId::new(&tenant).map_err(|_| StoreError::InvalidTenant(tenant))?;
        store.set_default_tenant(Some(tenant));
    }
    for user in raw.users {
        let record = parse_user(user)?;
        let login = record.login.to_string();
        store
            .insert_user(record)
            .map_err(|_| StoreError::DuplicateUser(login))?;
    }
    Ok(store)
}

fn parse_user(user: FileUser) -> Result<UserRecord, StoreError> {
    let tenant = TenantId::new(&user.tenant).map_err(|_| StoreError::InvalidTenant(user.tenant))?;
    let login = LoginName::new(tenant, &user.name)?;
    let login_text = login.to_string();
    let roles: Vec<&str> = user.roles.iter().map(String::as_str).collect();
    let mut record = UserRecord::new(login, &roles)?;
    let credential_error = |source| StoreError::Credential {
        login: login_text.clone(),
        source,
    };
    if let Some(phc) = user.plain {
        record.set_plain(Some(PlainHash::parse(&phc).map_err(credential_error)?));
    }
    for (mechanism, scram) in [
        (ScramMechanism::Sha256, user.scram_sha_256),
        (ScramMechanism::Sha512, user.scram_sha_512),
    ] {
        let Some(scram) = scram else { continue };
        let decode = |field: &'static str, value: &str| {
            STANDARD
                .decode(value.as_bytes())
                .map_err(|_| StoreError::InvalidBase64 {
                    login: login_text.clone(),
                    field,
                })
        };
        let credential = ScramCredential::from_keys(
            mechanism,
            decode("salt", &scram.salt)?,
            scram.iterations,
            decode("stored_key", &scram.stored_key)?,
            decode("server_key", &scram.server_key)?,
        )
        .map_err(credential_error)?;
        record.set_scram(credential);
    }
    if record.mechanisms().is_empty() {
        return Err(StoreError::NoMechanisms(login_text));
    }
    Ok(record)
}

pub(super) fn render(store: &CredentialStore) -> Result<String, StoreError> {
    let scram = |credential: Option<&ScramCredential>| {
        credential.map(|c| FileScram {
            salt: STANDARD.encode(c.salt()),
            iterations: c.iterations(),
            stored_key: STANDARD.encode(c.stored_key().expose()),
            server_key: STANDARD.encode(c.server_key().expose()),
        })
    };
    let raw = FileV1 {
        version: VERSION,
        unknown_user_secret: Some(STANDARD.encode(store.unknown_user_secret.expose())),
        scram_iterations: Some(store.scram_iterations),
        default_tenant: store.default_tenant.as_ref().map(ToString::to_string),
        users: store
            .users
            .values()
            .map(|u| FileUser {
                name: u.login.name().to_owned(),
                tenant: u.login.tenant().to_string(),
                roles: u.roles.iter().cloned().collect(),
                plain: u.plain.as_ref().map(|p| p.as_phc().to_owned()),
                scram_sha_256: scram(u.scram(ScramMechanism::Sha256)),
                scram_sha_512: scram(u.scram(ScramMechanism::Sha512)),
            })
            .collect(),
    };
    let body = toml::to_string(&raw).map_err(|e| StoreError::Parse {
        path: PathBuf::new(),
        message: e.to_string(),
    })?;
    Ok(format!(
        "# schloss credential store (see crates/auth/src/store/file.rs). Contains no passwords,\n\
         # but its keys allow offline guessing: keep it mode 0600.\n{body}"
    ))
}

/// Replaces `path` with `contents` so that a crash leaves either the old or the new file:
/// write a temporary file in the same directory (mode 0600), fsync it, rename it over
/// `path`, fsync the directory.
pub(super) fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let suffix = crypto::random_bytes::<8>()
        .map_err(|e| io::Error::other(e.0))?
        .iter()
        .fold(String::new(), |acc, b| format!("{acc}{b:02x}"));
    let tmp = dir.join(format!(".{}.tmp-{suffix}", file_name.to_string_lossy()));
    let result = write_and_rename(&tmp, path, contents);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(&dir)?.sync_all()
}

fn write_and_rename(tmp: &Path, path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)
}
