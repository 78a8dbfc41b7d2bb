//! DescribeUserScramCredentials and AlterUserScramCredentials. Credentials set here live in the
//! metadata log (salt, iterations, stored and server keys; never a password) and are laid over
//! the credential file for SASL logins. Until Cedar policies arrive only operators may call
//! either API; everyone else gets CLUSTER_AUTHORIZATION_FAILED.

use super::code;
use crate::access::Action;
use crate::credentials::image_credentials;
use crate::metadata::MetadataRecord;
use crate::{Broker, Session};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use schloss_auth::store::LoginName;
use schloss_auth::{ScramCredential, ScramMechanism};
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's ScramMechanism numbering on the wire.
fn wire_mechanism(code: i8) -> Option<ScramMechanism> {
    match code {
        1 => Some(ScramMechanism::Sha256),
        2 => Some(ScramMechanism::Sha512),
        _ => None,
    }
}

fn wire_code(m: ScramMechanism) -> i8 {
    match m {
        ScramMechanism::Sha256 => 1,
        ScramMechanism::Sha512 => 2,
    }
}

/// Credentials belong to the real cluster: only who may act on it (operators under
/// `allow-tenant`) may see or change them.
fn may(broker: &Broker, session: &Session, action: Action) -> bool {
    broker.access.cluster(session, action).is_ok()
}

pub fn describe(
    broker: &Broker,
    session: &Session,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let response = DescribeUserScramCredentialsResponse::default();
    if !may(broker, session, Action::Describe) {
        return response.with_error_code(code(ResponseError::ClusterAuthorizationFailed));
    }
    // login -> mechanism -> iterations, file first, metadata over it.
    let mut known: BTreeMap<String, BTreeMap<i8, i32>> = BTreeMap::new();
    if let Some(file) = broker.file_credentials.get() {
        for user in file.users() {
            for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
                if let Some(c) = user.scram(m) {
                    known
                        .entry(user.login().to_string())
                        .or_default()
                        .insert(wire_code(m), c.iterations() as i32);
                }
            }
        }
    }
    for (login, credential) in image_credentials(&broker.metadata.image()) {
        known.entry(login.to_string()).or_default().insert(
            wire_code(credential.mechanism()),
            credential.iterations() as i32,
        );
    }
    let infos = |mechs: &BTreeMap<i8, i32>| {
        mechs
            .iter()
            .map(|(m, i)| {
                CredentialInfo::default()
                    .with_mechanism(*m)
                    .with_iterations(*i)
            })
            .collect::<Vec<_>>()
    };
    let results = match request.users {
        None => known
            .iter()
            .map(|(login, mechs)| {
                DescribeUserScramCredentialsResult::default()
                    .with_user(StrBytes::from_string(login.clone()))
                    .with_credential_infos(infos(mechs))
            })
            .collect(),
        Some(users) => {
            let mut seen = BTreeSet::new();
            let duplicates: BTreeSet<String> = users
                .iter()
                .filter(|u| !seen.insert(u.name.to_string()))
                .map(|u| u.name.to_string())
                .collect();
            let mut emitted = BTreeSet::new();
            users
                .into_iter()
                .filter(|u| emitted.insert(u.name.to_string()))
                .map(|u| {
                    let mut r = DescribeUserScramCredentialsResult::default().with_user(u.name.clone());
                    if duplicates.contains(u.name.as_str()) {
                        r.error_code = code(ResponseError::DuplicateResource);
                        r.error_message = Some(StrBytes::from_string(format!("Cannot describe SCRAM credentials for the same user twice in a single request: {}", u.name.as_str())));
                    } else if let Some(mechs) = known.get(u.name.as_str()) {
                        r.credential_infos = infos(mechs);
                    } else {
                        r.error_code = code(ResponseError::ResourceNotFound);
                        r.error_message = Some(StrBytes::from_string(format!("Attempt to describe a user credential that does not exist: {}", u.name.as_str())));
                    }
                    r
                })
                .collect()
        }
    };
    response.with_results(results)
}

/// Kafka's bounds for SCRAM iterations.
const MIN_ITERATIONS: i32 = 4096;
const MAX_ITERATIONS: i32 = 16384;

pub async fn alter(
    broker: &Broker,
    session: &Session,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let users: BTreeSet<String> = request
        .deletions
        .iter()
        .map(|d| d.name.to_string())
        .chain(request.upsertions.iter().map(|u| u.name.to_string()))
        .collect();
    let mut failures: BTreeMap<String, (ResponseError, String)> = BTreeMap::new();
    if !may(broker, session, Action::Alter) {
        for u in &users {
            failures.insert(
                u.clone(),
                (
                    ResponseError::ClusterAuthorizationFailed,
                    "Cluster authorization failed.".into(),
                ),
            );
        }
    }
    // One change per user and mechanism in a request, as Kafka requires.
    let mut seen = BTreeSet::new();
    let ops = request
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism))
        .chain(
            request
                .upsertions
                .iter()
                .map(|u| (u.name.to_string(), u.mechanism)),
        );
    for (user, mechanism) in ops {
        if !seen.insert((user.clone(), mechanism)) {
            failures.entry(user.clone()).or_insert((
                ResponseError::DuplicateResource,
                format!("A user credential cannot be altered twice in the same request: {user}"),
            ));
        }
    }
    let mut records = Vec::new();
    let image = broker.metadata.image();
    for d in &request.deletions {
        let user = d.name.to_string();
        if failures.contains_key(&user) {
            continue;
        }
        let Some(m) = wire_mechanism(d.mechanism) else {
            failures.insert(
                user,
                (
                    ResponseError::UnsupportedSaslMechanism,
                    "Unknown SCRAM mechanism".into(),
                ),
            );
            continue;
        };
        if !image
            .scram
            .contains_key(&(user.clone(), m.name().to_owned()))
        {
            failures.insert(
                user.clone(),
                (
                    ResponseError::ResourceNotFound,
                    format!("Attempt to delete a user credential that does not exist: {user}"),
                ),
            );
            continue;
        }
        records.push(MetadataRecord::ScramCredentialDeleted {
            login: user,
            mechanism: m.name().to_owned(),
        });
    }
    for u in &request.upsertions {
        let user = u.name.to_string();
        if failures.contains_key(&user) {
            continue;
        }
        let outcome = (|| {
            let m = wire_mechanism(u.mechanism).ok_or((
                ResponseError::UnsupportedSaslMechanism,
                "Unknown SCRAM mechanism".to_owned(),
            ))?;
            LoginName::parse(&user).ok_or((
                ResponseError::UnacceptableCredential,
                "The user name must be `tenant/user`".to_owned(),
            ))?;
            if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&u.iterations) {
                return Err((
                    ResponseError::UnacceptableCredential,
                    format!("Iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}"),
                ));
            }
            let credential = ScramCredential::from_salted_password(
                m,
                &u.salt,
                u.iterations as u32,
                &u.salted_password,
            )
            .map_err(|e| (ResponseError::UnacceptableCredential, e.to_string()))?;
            Ok(MetadataRecord::ScramCredentialSet {
                login: user.clone(),
                mechanism: m.name().to_owned(),
                salt: STANDARD.encode(credential.salt()),
                iterations: credential.iterations(),
                stored_key: STANDARD.encode(credential.stored_key().expose()),
                server_key: STANDARD.encode(credential.server_key().expose()),
            })
        })();
        match outcome {
            Ok(record) => records.push(record),
            Err(f) => {
                failures.insert(user, f);
            }
        }
    }
    // A user's changes apply together or not at all.
    records.retain(|r| match r {
        MetadataRecord::ScramCredentialSet { login, .. }
        | MetadataRecord::ScramCredentialDeleted { login, .. } => !failures.contains_key(login),
        _ => true,
    });
    if !records.is_empty() {
        if let Err(e) = broker.metadata.commit(records).await {
            tracing::error!(error = %e, "metadata commit failed");
            for u in &users {
                failures.entry(u.clone()).or_insert((
                    ResponseError::KafkaStorageError,
                    "metadata log write failed".into(),
                ));
            }
        }
    }
    let results = users
        .into_iter()
        .map(|u| {
            let mut r = AlterUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(u.clone()));
            if let Some((e, m)) = failures.get(&u) {
                r.error_code = code(*e);
                r.error_message = Some(StrBytes::from_string(m.clone()));
            }
            r
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}
