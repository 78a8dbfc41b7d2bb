//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), server side, without channel
//! binding, as an I/O-free state machine:
//!
//! ```text
//! ScramServer --step(client-first)--> ServerFirstSent --step(client-final)--> (server-final, Authenticated)
//! ```
//!
//! Unknown users (and users without a credential for the mechanism) get a stable fake salt
//! and the store's iteration count and fail at the proof, exactly like a wrong password.
//! User names are compared as sent (no SASLprep, as Kafka does).

mod messages;
#[cfg(test)]
mod tests;

use crate::authenticated::Authenticated;
use crate::credential::{ScramCredential, ScramMechanism};
use crate::crypto;
use crate::error::{AuthError, FailureReason};
use crate::secret::Secret;
use crate::store::CredentialStore;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use messages::{parse_client_final, parse_client_first};
use schloss_model::Principal;
use std::collections::BTreeSet;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Longest SCRAM client message accepted. Real ones are a few hundred bytes.
pub const MAX_MESSAGE_LEN: usize = 8 * 1024;
/// Random bytes in the server nonce (base64-encoded on the wire).
const SERVER_NONCE_LEN: usize = 24;

/// The server before the client-first-message.
pub struct ScramServer {
    mechanism: ScramMechanism,
    store: Arc<CredentialStore>,
    /// Tests pin the server nonce to replay RFC test vectors.
    #[cfg(test)]
    fixed_server_nonce: Option<String>,
}

/// Who the client claims to be, once looked up.
enum Claimed {
    Known {
        principal: Principal,
        roles: BTreeSet<String>,
    },
    /// Carries on with a fake credential; fails at the proof with this reason.
    Unknown(FailureReason),
}

/// The server after sending server-first-message, waiting for client-final-message.
pub struct ServerFirstSent {
    mechanism: ScramMechanism,
    login: String,
    claimed: Claimed,
    credential: ScramCredential,
    gs2_header: String,
    /// Client nonce followed by server nonce.
    nonce: String,
    /// Length of the client's part of `nonce`.
    client_nonce_len: usize,
    client_first_bare: String,
    server_first: String,
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism, store: Arc<CredentialStore>) -> Self {
        Self {
            mechanism,
            store,
            #[cfg(test)]
            fixed_server_nonce: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_server_nonce(mut self, nonce: &str) -> Self {
        self.fixed_server_nonce = Some(nonce.to_owned());
        self
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Consumes client-first-message; the next state holds server-first-message.
    pub fn step(self, client_first: &[u8]) -> Result<ServerFirstSent, AuthError> {
        let fail = |reason| AuthError::new(self.mechanism.mechanism(), reason);
        let msg = checked_str(client_first).map_err(fail)?;
        let first = parse_client_first(msg).map_err(fail)?;
        let login = first.username.clone();
        let fail = |reason| fail(reason).with_login(&login);

        let (claimed, credential) = match self.store.user(&login) {
            Some(user) => match user.scram(self.mechanism) {
                Some(credential) => (
                    Claimed::Known {
                        principal: user.principal(self.mechanism.mechanism()),
                        roles: user.roles().clone(),
                    },
                    credential.clone(),
                ),
                None => (
                    Claimed::Unknown(FailureReason::NoCredentialForMechanism),
                    self.fake(&login).map_err(fail)?,
                ),
            },
            None => {
                let reason = if self.store.resolve_login(&login).is_some() {
                    FailureReason::UnknownUser
                } else {
                    FailureReason::InvalidLogin
                };
                (Claimed::Unknown(reason), self.fake(&login).map_err(fail)?)
            }
        };

        let server_nonce = self.server_nonce().map_err(fail)?;
        let nonce = format!("{}{server_nonce}", first.client_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            STANDARD.encode(credential.salt()),
            credential.iterations()
        );
        Ok(ServerFirstSent {
            mechanism: self.mechanism,
            claimed,
            credential,
            gs2_header: first.gs2_header.to_owned(),
            client_nonce_len: first.client_nonce.len(),
            nonce,
            client_first_bare: first.bare.to_owned(),
            server_first,
            login,
        })
    }

    fn fake(&self, login: &str) -> Result<ScramCredential, FailureReason> {
        self.store
            .fake_scram(self.mechanism, login)
            .map_err(|e| FailureReason::Internal(e.0))
    }

    fn server_nonce(&self) -> Result<String, FailureReason> {
        #[cfg(test)]
        if let Some(nonce) = &self.fixed_server_nonce {
            return Ok(nonce.clone());
        }
        let bytes =
            crypto::random_bytes::<SERVER_NONCE_LEN>().map_err(|e| FailureReason::Internal(e.0))?;
        Ok(STANDARD.encode(bytes))
    }
}

impl ServerFirstSent {
    /// The server-first-message to send: `r=<nonce>,s=<salt>,i=<iterations>`.
    pub fn server_first_message(&self) -> &[u8] {
        self.server_first.as_bytes()
    }

    /// The user name the client sent (`tenant/user`), for the audit log.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// Consumes client-final-message. On success returns server-final-message
    /// (`v=<ServerSignature>`) and the proof of authentication.
    pub fn step(self, client_final: &[u8]) -> Result<(Vec<u8>, Authenticated), AuthError> {
        let mechanism = self.mechanism;
        let fail = |reason| AuthError::new(mechanism.mechanism(), reason).with_login(&self.login);
        let msg = checked_str(client_final).map_err(fail)?;
        let final_msg = parse_client_final(msg).map_err(fail)?;
        if final_msg.channel_binding != self.gs2_header.as_bytes() {
            return Err(fail(FailureReason::ChannelBindingMismatch));
        }
        if !nonce_echoed(final_msg.nonce, &self.nonce, self.client_nonce_len) {
            return Err(fail(FailureReason::NonceMismatch));
        }
        if final_msg.proof.len() != mechanism.key_len() {
            return Err(fail(FailureReason::Malformed("proof has the wrong length")));
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, final_msg.without_proof
        );
        let stored_key = self.credential.stored_key().expose();
        let client_signature = Secret::new(
            crypto::hmac(mechanism, stored_key, &[auth_message.as_bytes()])
                .map_err(|e| fail(FailureReason::Internal(e.0)))?,
        );
        let client_key = Secret::new(
            final_msg
                .proof
                .iter()
                .zip(client_signature.expose())
                .map(|(p, s)| p ^ s)
                .collect::<Vec<u8>>(),
        );
        let computed = crypto::hash(mechanism, client_key.expose());
        let proof_ok: bool = computed.ct_eq(stored_key).into();

        match self.claimed {
            Claimed::Unknown(reason) => Err(fail(reason)),
            Claimed::Known { .. } if !proof_ok => Err(fail(FailureReason::BadCredentials)),
            Claimed::Known { principal, roles } => {
                let server_signature = crypto::hmac(
                    mechanism,
                    self.credential.server_key().expose(),
                    &[auth_message.as_bytes()],
                )
                .map_err(|e| fail(FailureReason::Internal(e.0)))?;
                let server_final = format!("v={}", STANDARD.encode(server_signature));
                Ok((
                    server_final.into_bytes(),
                    Authenticated::new(principal, roles),
                ))
            }
        }
    }
}

/// Bounds and decodes a client message.
fn checked_str(msg: &[u8]) -> Result<&str, FailureReason> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(FailureReason::MessageTooLong {
            len: msg.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    std::str::from_utf8(msg).map_err(|_| FailureReason::NotUtf8)
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServerFirstSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerFirstSent")
            .field("mechanism", &self.mechanism)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Whether the client-final nonce echoes ours. RFC 5802 wants it equal; librdkafka before
/// 2.6.1 (e.g. Debian's kcat) sends the client nonce once more in front of it, which Apache
/// Kafka accepts since 3.8.1. We accept exactly those two forms. The proof covers the message
/// as sent, so the repeated prefix gives an attacker nothing.
fn nonce_echoed(echoed: &str, nonce: &str, client_nonce_len: usize) -> bool {
    if echoed == nonce {
        return true;
    }
    let client_nonce = nonce.get(..client_nonce_len).unwrap_or_default();
    echoed.len() == client_nonce.len() + nonce.len()
        && echoed.starts_with(client_nonce)
        && echoed.ends_with(nonce)
}
