//! Authentication failures: a generic message for the client, the precise reason for the audit
//! log.

use schloss_model::Mechanism;
use std::fmt;

/// Longest attempted login kept in an error (client input, bounded before it reaches a log).
const MAX_LOGIN_IN_ERROR: usize = 256;

/// Why an authentication failed. For the audit log and operators only: clients get
/// [`AuthError::client_message`], which is the same for every reason of a mechanism.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FailureReason {
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLong { len: usize, max: usize },
    #[error("message is not valid UTF-8")]
    NotUtf8,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("client requested channel binding, which is not offered")]
    ChannelBindingNotSupported,
    #[error("channel binding in the final message does not match the GS2 header")]
    ChannelBindingMismatch,
    #[error("client sent the reserved `m=` extension")]
    ReservedExtension,
    #[error("delegation token authentication (`tokenauth`) is not supported")]
    DelegationTokenNotSupported,
    #[error("authorization id differs from the user name")]
    AuthzidMismatch,
    #[error("nonce in the final message does not match the one sent")]
    NonceMismatch,
    #[error("login is not of the form `tenant/user`")]
    InvalidLogin,
    #[error("unknown user")]
    UnknownUser,
    #[error("user has no credential for this mechanism")]
    NoCredentialForMechanism,
    #[error("invalid password or proof")]
    BadCredentials,
    #[error("client certificate could not be parsed")]
    CertificateUnparsable,
    #[error("no certificate mapping rule matched `{0}`")]
    NoMatchingRule(String),
    #[error("mapping rule produced an empty principal name")]
    MappedPrincipalEmpty,
    #[error("mapping rule produced the invalid tenant `{0}`")]
    MappedTenantInvalid(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// A failed authentication. `Display` is the generic message a client may see; the reason,
/// the mechanism and the attempted login (if one was parsed) are for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    mechanism: Mechanism,
    reason: FailureReason,
    attempted_login: Option<String>,
}

impl AuthError {
    pub(crate) fn new(mechanism: Mechanism, reason: FailureReason) -> Self {
        Self {
            mechanism,
            reason,
            attempted_login: None,
        }
    }

    pub(crate) fn with_login(mut self, login: &str) -> Self {
        let mut end = login.len().min(MAX_LOGIN_IN_ERROR);
        while !login.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        self.attempted_login = login.get(..end).map(str::to_owned);
        self
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The precise reason, for the audit log. Never send it to the client.
    pub fn reason(&self) -> &FailureReason {
        &self.reason
    }

    /// The login the client claimed, if the message got that far (at most 256 bytes).
    pub fn attempted_login(&self) -> Option<&str> {
        self.attempted_login.as_deref()
    }

    /// What the client is told: the same text for every reason, as Kafka does.
    pub fn client_message(&self) -> &'static str {
        match self.mechanism {
            Mechanism::ScramSha256 => {
                "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
            }
            Mechanism::ScramSha512 => {
                "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
            }
            Mechanism::SaslPlain => "Authentication failed: Invalid username or password",
            Mechanism::MutualTls | Mechanism::Anonymous => "Authentication failed",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.client_message())
    }
}

impl std::error::Error for AuthError {}
