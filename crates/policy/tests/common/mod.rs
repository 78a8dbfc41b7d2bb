//! Helpers shared by this crate's integration tests.
#![allow(dead_code)]

use schloss_model::{Mechanism, Principal, TenantId, TopicName};
use schloss_policy::{
    Action, Decision, DecisionRequest, Mode, PolicySnapshot, PolicyStore, RequestContext, Resource,
    SecurityProtocol, StoreConfig, Subject,
};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The repository's `policies/` directory.
pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// `tenant/name` with roles, authenticated with SCRAM-SHA-512.
pub fn user(login: &str, roles: &[&str]) -> Subject {
    let (t, name) = login.split_once('/').unwrap();
    Subject {
        principal: Principal {
            name: name.to_owned(),
            tenant: tenant(t),
            mechanism: Mechanism::ScramSha512,
        },
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

pub fn topic(t: &str, name: &str) -> Resource {
    Resource::Topic {
        tenant: tenant(t),
        name: TopicName::new(name).unwrap(),
    }
}

pub fn group(t: &str, id: &str) -> Resource {
    Resource::Group {
        tenant: tenant(t),
        id: id.to_owned(),
    }
}

pub fn context() -> RequestContext {
    RequestContext {
        listener: "SASL_SSL".to_owned(),
        security_protocol: SecurityProtocol::SaslSsl,
        client_ip: "192.0.2.7".parse().unwrap(),
        tls_version: Some("TLSv1.3".to_owned()),
        spiffe_id: None,
        san: Vec::new(),
        api_name: Cow::Borrowed("Produce"),
        time: SystemTime::now(),
    }
}

pub fn decide(
    snapshot: &PolicySnapshot,
    subject: &Subject,
    action: Action,
    resource: &Resource,
) -> Decision {
    snapshot.decide(&DecisionRequest {
        subject,
        action,
        resource,
        context: &context(),
    })
}

/// A directory holding `files` (name, text).
pub fn policy_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

pub fn cedar_store(
    dir: &Path,
    super_users: &[&str],
) -> Result<PolicyStore, schloss_policy::PolicyError> {
    PolicyStore::open(
        StoreConfig {
            mode: Mode::Cedar {
                dir: dir.to_owned(),
            },
            super_users: super_users.iter().map(|s| s.parse().unwrap()).collect(),
        },
        None,
    )
}

pub fn base_policy() -> String {
    std::fs::read_to_string(policies_dir().join("base.cedar")).unwrap()
}
