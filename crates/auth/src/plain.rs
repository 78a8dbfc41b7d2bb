//! SASL PLAIN (RFC 4616), server side: `[authzid] NUL authcid NUL passwd`.
//!
//! Parsing is cheap and happens in [`PlainServer::step`]; the argon2id check is CPU- and
//! memory-heavy (about 19 MiB and tens of milliseconds with default parameters), so it lives
//! in [`PlainVerify::verify`] for the caller to run on a blocking thread, with a bound on
//! how many run at once. An unknown user is checked against a fixed dummy hash of the same
//! parameters, so it costs the same as a wrong password.

use crate::authenticated::Authenticated;
use crate::credential::PlainHash;
use crate::error::{AuthError, FailureReason};
use crate::secret::Secret;
use crate::store::CredentialStore;
use schloss_model::{Mechanism, Principal};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Longest PLAIN message accepted: three fields of at most 255 bytes and two separators.
pub const MAX_MESSAGE_LEN: usize = 3 * MAX_FIELD_LEN + 2;
/// RFC 4616: each field is at most 255 octets.
const MAX_FIELD_LEN: usize = 255;

/// argon2id of a random password nobody knows, with the argon2 crate's default parameters
/// (the ones [`PlainHash::from_password`] uses). Verified instead when the user is unknown.
pub(crate) const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2NobG9zcy1kdW1teS1zYWx0$pPVhAEKyb8dVnt8GdXhFYBKpEsT7O3C1TBBQ1dnhHxo";

/// The server before the client's message.
pub struct PlainServer {
    store: Arc<CredentialStore>,
}

impl PlainServer {
    pub fn new(store: Arc<CredentialStore>) -> Self {
        Self { store }
    }

    /// Parses the client's message and looks the user up. Fails only on malformed input;
    /// whether the password is right is decided by [`PlainVerify::verify`].
    pub fn step(self, msg: &[u8]) -> Result<PlainVerify, AuthError> {
        let fail = |reason| AuthError::new(Mechanism::SaslPlain, reason);
        if msg.len() > MAX_MESSAGE_LEN {
            return Err(fail(FailureReason::MessageTooLong {
                len: msg.len(),
                max: MAX_MESSAGE_LEN,
            }));
        }
        let text = std::str::from_utf8(msg).map_err(|_| fail(FailureReason::NotUtf8))?;
        let mut fields = text.split('\0');
        let (Some(authzid), Some(login), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(fail(FailureReason::Malformed(
                "expected three NUL-separated fields",
            )));
        };
        if login.is_empty() || password.is_empty() {
            return Err(fail(FailureReason::Malformed(
                "empty user name or password",
            )));
        }
        if [authzid, login, password]
            .iter()
            .any(|f| f.len() > MAX_FIELD_LEN)
        {
            return Err(fail(FailureReason::Malformed(
                "field longer than 255 bytes",
            )));
        }
        if !authzid.is_empty() && authzid != login {
            return Err(fail(FailureReason::AuthzidMismatch).with_login(login));
        }

        let (target, hash) = match self.store.user(login) {
            Some(user) => match user.plain() {
                Some(hash) => (
                    Target::Known {
                        principal: user.principal(Mechanism::SaslPlain),
                        roles: user.roles().clone(),
                    },
                    hash.clone(),
                ),
                None => (
                    Target::Unknown(FailureReason::NoCredentialForMechanism),
                    dummy_hash(),
                ),
            },
            None => {
                let reason = if self.store.resolve_login(login).is_some() {
                    FailureReason::UnknownUser
                } else {
                    FailureReason::InvalidLogin
                };
                (Target::Unknown(reason), dummy_hash())
            }
        };
        Ok(PlainVerify {
            login: login.to_owned(),
            target,
            hash,
            password: Secret::new(password.to_owned()),
        })
    }
}

enum Target {
    Known {
        principal: Principal,
        roles: BTreeSet<String>,
    },
    Unknown(FailureReason),
}

/// A parsed PLAIN message waiting for its password check.
pub struct PlainVerify {
    login: String,
    target: Target,
    hash: PlainHash,
    password: Secret<String>,
}

impl PlainVerify {
    /// The user name the client sent (`tenant/user`), for the audit log.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// Checks the password. Blocking and expensive: run it on a blocking thread.
    pub fn verify(self) -> Result<Authenticated, AuthError> {
        let ok = self.hash.verify(self.password.expose().as_bytes());
        let fail = |reason| AuthError::new(Mechanism::SaslPlain, reason).with_login(&self.login);
        match self.target {
            Target::Unknown(reason) => Err(fail(reason)),
            Target::Known { .. } if !ok => Err(fail(FailureReason::BadCredentials)),
            Target::Known { principal, roles } => Ok(Authenticated::new(principal, roles)),
        }
    }
}

impl std::fmt::Debug for PlainVerify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainVerify")
            .field("login", &self.login)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PlainServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainServer").finish_non_exhaustive()
    }
}

fn dummy_hash() -> PlainHash {
    // INVARIANT: DUMMY_PHC parses (pinned by a test); if it ever did not, verifying against
    // an unparsable hash fails without running argon2, which is still a failure.
    PlainHash::parse(DUMMY_PHC).unwrap_or_else(|_| PlainHash::unchecked(DUMMY_PHC))
}

#[cfg(test)]
mod tests;
