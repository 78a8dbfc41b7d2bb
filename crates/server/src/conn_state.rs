//! The connection state machine, without I/O: what a connection may send in each state and
//! how large its frames may be.
//!
//! ```text
//! PreAuth --SaslHandshake--> Sasl --SaslAuthenticate*--> Ready(Session)
//! ```
//! Plaintext and SSL listeners start in `Ready` (as the listener's anonymous principal, or
//! the principal mapped from a verified client certificate). SASL listeners start in
//! `PreAuth`, where only ApiVersions, SaslHandshake and SaslAuthenticate are accepted and
//! frames are capped at 512 KiB. Only an `Authenticated` (built by `schloss_auth`) opens a
//! `Session`, so no path reaches `Ready` without authentication.

use crate::sasl::SaslStep;
use kafka_protocol::messages::ApiKey;
use schloss_auth::SaslMechanism;
use schloss_broker::Session;
use schloss_protocol::frame::PRE_AUTH_MAX_BYTES;
use tokio::time::Instant;

pub enum ConnState {
    /// Waiting for SaslHandshake.
    PreAuth,
    /// Handshake done; `step` is the mechanism waiting for its next token. `legacy` means the
    /// client used SaslHandshake v0: tokens arrive as bare size-prefixed frames, without
    /// Kafka request headers.
    Sasl {
        step: SaslStep,
        mechanism: SaslMechanism,
        legacy: bool,
    },
    /// Authenticated (or on a listener that does not authenticate).
    Ready(Box<Ready>),
}

pub struct Ready {
    pub session: Session,
    /// KIP-368: when the session ends unless the client re-authenticates.
    pub expires_at: Option<Instant>,
    /// A re-authentication in progress on this live connection.
    pub reauth: Option<(SaslStep, SaslMechanism)>,
    /// The credential store the session's roles were last checked against.
    pub credentials: Option<std::sync::Arc<schloss_auth::CredentialStore>>,
}

impl ConnState {
    pub fn ready(session: Session, expires_at: Option<Instant>) -> Self {
        Self::Ready(Box::new(Ready {
            session,
            expires_at,
            reauth: None,
            credentials: None,
        }))
    }

    /// Whether a request of `api` may be processed in this state. Anything else closes the
    /// connection.
    pub fn admits(&self, api: ApiKey) -> bool {
        match self {
            Self::PreAuth | Self::Sasl { .. } => {
                matches!(
                    api,
                    ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
                )
            }
            Self::Ready(_) => true,
        }
    }

    pub fn is_authenticated(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    /// The largest frame accepted in this state.
    pub fn max_frame_bytes(&self, authenticated_max: usize) -> usize {
        match self {
            Self::PreAuth | Self::Sasl { .. } => PRE_AUTH_MAX_BYTES,
            Self::Ready(_) => authenticated_max,
        }
    }

    /// Whether the next frame is a bare SASL token (after SaslHandshake v0).
    pub fn expects_raw_token(&self) -> bool {
        matches!(self, Self::Sasl { legacy: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_auth_admits_only_the_handshake_apis() {
        let s = ConnState::PreAuth;
        assert!(s.admits(ApiKey::ApiVersions));
        assert!(s.admits(ApiKey::SaslHandshake));
        assert!(s.admits(ApiKey::SaslAuthenticate));
        assert!(!s.admits(ApiKey::Metadata));
        assert!(!s.admits(ApiKey::Produce));
        assert_eq!(s.max_frame_bytes(100 << 20), 512 * 1024);
        assert!(!s.is_authenticated());
    }
}
