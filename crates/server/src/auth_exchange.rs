//! SaslHandshake and SaslAuthenticate on a connection: moving `ConnState` from `PreAuth` to
//! `Ready`, re-authentication on a live connection (KIP-368), and the legacy flow where
//! SaslHandshake v0 is followed by bare tokens.

use crate::conn_state::{ConnState, Ready};
use crate::connection::{encode, CloseReason, ConnectionContext, Peer, SaslContext, Step};
use crate::limits::ConnectionSlot;
use crate::sasl::{Round, SaslStep, StepError};
use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use schloss_auth::{Authenticated, SaslMechanism};
use schloss_broker::Session;
use std::net::SocketAddr;

pub fn handshake(
    request: SaslHandshakeRequest,
    version: i16,
    correlation_id: i32,
    state: &mut ConnState,
    ctx: &ConnectionContext,
) -> Result<Step, CloseReason> {
    let respond = |error: Option<ResponseError>, mechanisms: Vec<StrBytes>| {
        let response = SaslHandshakeResponse::default()
            .with_error_code(error.map_or(0, |e| e.code()))
            .with_mechanisms(mechanisms);
        encode(
            ApiKey::SaslHandshake,
            version,
            correlation_id,
            &ResponseKind::SaslHandshake(response),
        )
    };
    let Some(sasl) = &ctx.sasl else {
        // This listener does not authenticate with SASL.
        return Ok(Step::send_and_close(respond(
            Some(ResponseError::IllegalSaslState),
            Vec::new(),
        )?));
    };
    let offered: Vec<StrBytes> = sasl
        .mechanisms
        .iter()
        .map(|m| StrBytes::from_static_str(m.name()))
        .collect();
    let chosen =
        SaslMechanism::from_name(&request.mechanism).filter(|m| sasl.mechanisms.contains(m));
    let Some(mechanism) = chosen else {
        return Ok(Step::send_and_close(respond(
            Some(ResponseError::UnsupportedSaslMechanism),
            offered,
        )?));
    };
    let step = SaslStep::start(mechanism, sasl.credentials.current());
    match state {
        ConnState::PreAuth => {
            *state = ConnState::Sasl {
                step,
                mechanism,
                legacy: version == 0,
            };
        }
        // KIP-368: a live, authenticated connection starts over (v1 handshakes only).
        ConnState::Ready(ready) if version >= 1 && ready.reauth.is_none() => {
            ready.reauth = Some((step, mechanism));
        }
        _ => {
            return Ok(Step::send_and_close(respond(
                Some(ResponseError::IllegalSaslState),
                offered,
            )?))
        }
    }
    Ok(Step::send(respond(None, offered)?))
}

pub async fn authenticate(
    request: SaslAuthenticateRequest,
    version: i16,
    correlation_id: i32,
    state: &mut ConnState,
    ctx: &ConnectionContext,
    peer: &Peer,
    slot: &ConnectionSlot,
) -> Result<Step, CloseReason> {
    let respond = |error: Option<(ResponseError, &str)>, bytes: Vec<u8>, lifetime: i64| {
        let mut response = SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(bytes));
        if let Some((e, message)) = error {
            response.error_code = e.code();
            response.error_message = Some(StrBytes::from_string(message.to_owned()));
        }
        if version >= 1 {
            response.session_lifetime_ms = lifetime;
        }
        encode(
            ApiKey::SaslAuthenticate,
            version,
            correlation_id,
            &ResponseKind::SaslAuthenticate(response),
        )
    };
    let (step, mechanism, reauth) = match std::mem::replace(state, ConnState::PreAuth) {
        ConnState::Sasl {
            step,
            mechanism,
            legacy: false,
        } => (step, mechanism, None),
        ConnState::Ready(mut ready) => match ready.reauth.take() {
            Some((step, mechanism)) => (step, mechanism, Some(ready)),
            None => {
                *state = ConnState::Ready(ready);
                return Ok(Step::send_and_close(respond(
                    Some((
                        ResponseError::IllegalSaslState,
                        "SaslAuthenticate without SaslHandshake",
                    )),
                    Vec::new(),
                    0,
                )?));
            }
        },
        other => {
            *state = other;
            return Ok(Step::send_and_close(respond(
                Some((
                    ResponseError::IllegalSaslState,
                    "SaslAuthenticate without SaslHandshake",
                )),
                Vec::new(),
                0,
            )?));
        }
    };
    let Some(sasl) = &ctx.sasl else {
        return Err(CloseReason::SaslProtocol("SASL on a listener without SASL"));
    };
    match step
        .step(&request.auth_bytes, &sasl.verifiers, peer.ip())
        .await
    {
        Ok(Round::Continue(challenge, next)) => {
            *state = match reauth {
                Some(mut ready) => {
                    ready.reauth = Some((next, mechanism));
                    ConnState::Ready(ready)
                }
                None => ConnState::Sasl {
                    step: next,
                    mechanism,
                    legacy: false,
                },
            };
            Ok(Step::send(respond(None, challenge, 0)?))
        }
        Ok(Round::Done(final_bytes, authenticated)) => {
            let lifetime = i64::try_from(ctx.max_reauth_ms).unwrap_or(i64::MAX);
            match admit(authenticated, reauth, ctx, peer, slot) {
                Ok(next) => {
                    sasl.brake.succeeded(peer.ip(), &login_of(&next));
                    *state = next;
                    Ok(Step::send(respond(None, final_bytes, lifetime)?))
                }
                Err(message) => {
                    tracing::info!(%peer, mechanism = mechanism.name(), reason = message, "verified login refused");
                    Ok(Step::send_and_close(respond(
                        Some((ResponseError::SaslAuthenticationFailed, message)),
                        Vec::new(),
                        0,
                    )?))
                }
            }
        }
        Err(e) => {
            let message = failure_message(&e, mechanism, peer.addr);
            brake(&e, sasl, peer.addr).await;
            Ok(Step::send_and_close(respond(
                Some((ResponseError::SaslAuthenticationFailed, message)),
                Vec::new(),
                0,
            )?))
        }
    }
}

/// A bare token after SaslHandshake v0: answered with a bare token; failure closes the
/// connection without a response, as Kafka does.
pub async fn raw_token(
    token: Bytes,
    state: &mut ConnState,
    ctx: &ConnectionContext,
    peer: &Peer,
    slot: &ConnectionSlot,
) -> Result<Step, CloseReason> {
    let ConnState::Sasl {
        step,
        mechanism,
        legacy: true,
    } = std::mem::replace(state, ConnState::PreAuth)
    else {
        return Err(CloseReason::SaslProtocol(
            "bare token outside the legacy SASL flow",
        ));
    };
    let Some(sasl) = &ctx.sasl else {
        return Err(CloseReason::SaslProtocol("SASL on a listener without SASL"));
    };
    let bare = |bytes: &[u8]| {
        let mut out = BytesMut::with_capacity(4 + bytes.len());
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
        out
    };
    match step.step(&token, &sasl.verifiers, peer.ip()).await {
        Ok(Round::Continue(challenge, next)) => {
            *state = ConnState::Sasl {
                step: next,
                mechanism,
                legacy: true,
            };
            Ok(Step::send(bare(&challenge)))
        }
        Ok(Round::Done(final_bytes, authenticated)) => {
            match admit(authenticated, None, ctx, peer, slot) {
                Ok(next) => {
                    sasl.brake.succeeded(peer.ip(), &login_of(&next));
                    *state = next;
                    Ok(Step::send(bare(&final_bytes)))
                }
                Err(_) => Err(CloseReason::AuthenticationFailed),
            }
        }
        Err(e) => {
            failure_message(&e, mechanism, peer.addr);
            brake(&e, sasl, peer.addr).await;
            Err(CloseReason::AuthenticationFailed)
        }
    }
}

/// Logs the precise reason (never a secret: reasons carry no credential material) and returns
/// the generic text the client gets.
fn failure_message(e: &StepError, mechanism: SaslMechanism, peer: SocketAddr) -> &'static str {
    match e {
        StepError::Rejected(auth) => {
            tracing::info!(%peer, mechanism = mechanism.name(), login = auth.attempted_login().unwrap_or("-"), reason = %auth.reason(), "authentication failed");
            auth.client_message()
        }
        StepError::Internal(what) => {
            tracing::error!(%peer, mechanism = mechanism.name(), what, "authentication could not be checked");
            "Authentication failed"
        }
        StepError::Busy { busy, login } => {
            BUSY_LOG.note(peer, login, busy);
            // The same text as a wrong password: a busy answer must not reveal anything.
            "Authentication failed: Invalid username or password"
        }
    }
}

/// Delays the answer to a failed login (see [`crate::sasl::FailureBrake`]). A busy verifier
/// checked no password, so it neither counts as a guess nor is slowed: the client is told
/// at once and the attempt holds nothing while it waits.
async fn brake(e: &StepError, sasl: &SaslContext, peer: SocketAddr) {
    if !matches!(e, StepError::Busy { .. }) {
        tokio::time::sleep(sasl.brake.failed(peer.ip(), attempted(e))).await;
    }
}

/// "verifier busy" failures come in floods: each is logged at debug, and a warning with the
/// count at most every 10 seconds, like refused connections.
static BUSY_LOG: BusyLog = BusyLog {
    state: parking_lot::Mutex::new((0, None)),
};

struct BusyLog {
    /// Failures since the last warning, and when that was.
    state: parking_lot::Mutex<(u64, Option<std::time::Instant>)>,
}

impl BusyLog {
    const INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

    fn note(&self, peer: SocketAddr, login: &str, busy: &crate::verifier::Busy) {
        tracing::debug!(%peer, mechanism = "PLAIN", login, reason = %busy, "authentication failed");
        let mut state = self.state.lock();
        state.0 += 1;
        if state.1.is_none_or(|at| at.elapsed() >= Self::INTERVAL) {
            tracing::warn!(%peer, mechanism = "PLAIN", login, reason = %busy, failed_since_last_report = state.0, "authentication failed: verifier busy");
            *state = (0, Some(std::time::Instant::now()));
        }
    }
}

/// Turns a successful authentication into the next state. A re-authentication must prove the
/// same principal the connection already has; a first login charges the tenant's connection
/// limit.
fn admit(
    authenticated: Authenticated,
    reauth: Option<Box<Ready>>,
    ctx: &ConnectionContext,
    peer: &Peer,
    slot: &ConnectionSlot,
) -> Result<ConnState, &'static str> {
    if reauth.is_none() && slot.bind_tenant(authenticated.tenant()).is_err() {
        return Err("Connection limit of the tenant reached");
    }
    let expires_at = (ctx.max_reauth_ms > 0)
        .then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(ctx.max_reauth_ms));
    match reauth {
        None => Ok(ConnState::ready(
            Session::new(authenticated, ctx.listener.clone())
                .with_peer(peer.ip())
                .with_transport(peer.transport.clone()),
            expires_at,
        )),
        Some(mut ready) => {
            if ready.session.principal() != authenticated.principal() {
                return Err("Cannot change principals during re-authentication");
            }
            // The session is rebuilt from what this login proved: roles removed from the
            // credential store since the first login no longer count.
            ready.session.reauthenticated(authenticated);
            ready.expires_at = expires_at;
            Ok(ConnState::Ready(ready))
        }
    }
}

/// `tenant/user` of the session a successful login opened.
fn login_of(state: &ConnState) -> String {
    match state {
        ConnState::Ready(ready) => {
            let p = ready.session.principal();
            format!("{}/{}", p.tenant, p.name)
        }
        _ => String::new(),
    }
}

/// The login a failed attempt claimed, for the failure brake.
fn attempted(e: &StepError) -> &str {
    match e {
        StepError::Rejected(auth) => auth.attempted_login().unwrap_or_default(),
        StepError::Internal(_) | StepError::Busy { .. } => "",
    }
}
