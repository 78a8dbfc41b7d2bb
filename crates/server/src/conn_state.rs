//! The connection state machine, without I/O: what a connection may send in each state and
//! how large its frames may be.
//!
//! `PreAuth -> Ready(Session)`. Plaintext listeners start in `Ready` as `ANONYMOUS` of the
//! listener's tenant; SASL listeners (with the authentication work) start in `PreAuth`, where
//! only ApiVersions, SaslHandshake and SaslAuthenticate are accepted and frames are capped at
//! 512 KiB.

use kafka_protocol::messages::ApiKey;
use schloss_broker::Session;
use schloss_protocol::frame::PRE_AUTH_MAX_BYTES;

pub enum ConnState {
    /// Not authenticated yet.
    #[allow(dead_code)] // entered by SASL listeners, which arrive with authentication
    PreAuth,
    /// Authenticated (or on an unauthenticated listener): every supported api is allowed.
    Ready(Session),
}

impl ConnState {
    /// Whether a request of `api` may be processed in this state. Anything else closes the
    /// connection.
    pub fn admits(&self, api: ApiKey) -> bool {
        match self {
            Self::PreAuth => matches!(
                api,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            ),
            Self::Ready(_) => true,
        }
    }

    /// The largest frame accepted in this state.
    pub fn max_frame_bytes(&self, authenticated_max: usize) -> usize {
        match self {
            Self::PreAuth => PRE_AUTH_MAX_BYTES,
            Self::Ready(_) => authenticated_max,
        }
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
    }
}
