//! One task per connection: read frames (length-checked, buffered only as bytes arrive),
//! dispatch each request in order, and write responses in request order. A request whose
//! response comes later (produce awaiting fsync, long-polling fetch) does not stop the
//! connection from reading and dispatching the next one; a bounded queue limits how many
//! responses may be outstanding. Authentication (SASL) happens here, in request order.

use crate::conn_state::{ConnState, Ready};
use crate::frames::{FrameReader, FrameRules, Meter, RequestMemory};
use crate::limits::{ConnectionSlot, Refused};
use crate::sasl::FailureBrake;
use crate::verifier::PlainVerifiers;
use crate::{auth_exchange, credentials::CredentialSource};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use schloss_auth::SaslMechanism;
use schloss_broker::{Broker, ListenerInfo, Reply, Transport};
use schloss_protocol::frame::FrameError;
use schloss_protocol::header::parse_request_header;
use schloss_protocol::request::{decode_request, Request};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Default of `max_in_flight_requests_per_connection`: responses that may be owed on one
/// connection before we stop reading its requests.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 128;
/// Encoded responses a connection may hold unsent (a client that pipelines without reading);
/// one larger response is still admitted alone.
const MAX_UNSENT_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Why a connection was closed by us.
#[derive(Debug, thiserror::Error)]
pub enum CloseReason {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    #[error("connection closed mid-frame")]
    Truncated,
    #[error("malformed request: {0}")]
    Decode(#[from] schloss_protocol::reader::DecodeError),
    #[error("unknown api key {0}")]
    UnknownApi(i16),
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("{0:?} is not allowed before authentication")]
    NotAuthenticated(ApiKey),
    #[error("authentication did not finish within {0:?}")]
    AuthenticationTimeout(Duration),
    #[error("authentication failed")]
    AuthenticationFailed,
    #[error("session expired without re-authentication")]
    SessionExpired,
    #[error("the principal was removed from the credential store")]
    CredentialsRevoked,
    #[error("{0}")]
    SaslProtocol(&'static str),
    #[error("encoding a response failed: {0}")]
    Encode(String),
    #[error("idle for connections.max.idle.ms ({0:?})")]
    Idle(Duration),
    #[error("a request frame did not arrive within the frame timeout ({0:?})")]
    FrameTimeout(Duration),
    #[error("request memory for a frame was not free within the frame timeout ({0:?})")]
    MemoryTimeout(Duration),
    #[error("connection refused: {0}")]
    Refused(#[from] Refused),
}

pub type Later = Pin<Box<dyn Future<Output = Result<BytesMut, CloseReason>> + Send>>;

pub enum Outgoing {
    Now(BytesMut),
    Later(Later),
}

/// What processing one frame asks of the connection.
pub struct Step {
    pub out: Option<Outgoing>,
    /// Close once `out` is written (failed authentication, illegal SASL state).
    pub close: bool,
}

impl Step {
    pub fn send(out: BytesMut) -> Self {
        Self {
            out: Some(Outgoing::Now(out)),
            close: false,
        }
    }
    pub fn send_and_close(out: BytesMut) -> Self {
        Self {
            out: Some(Outgoing::Now(out)),
            close: true,
        }
    }
}

/// SASL settings of a listener that authenticates with SASL.
pub struct SaslContext {
    pub mechanisms: Vec<SaslMechanism>,
    pub credentials: Arc<CredentialSource>,
    /// Bounds PLAIN (argon2id) verifications: at once, per address, and how long they wait.
    pub verifiers: Arc<PlainVerifiers>,
    pub brake: Arc<FailureBrake>,
}

/// Everything a connection task needs from its listener.
pub struct ConnectionContext {
    pub broker: Broker,
    pub listener: ListenerInfo,
    pub max_request_bytes: usize,
    pub sasl: Option<SaslContext>,
    pub authentication_timeout: Duration,
    /// `connections.max.reauth.ms`; 0 = sessions do not expire.
    pub max_reauth_ms: u64,
    /// `connections.max.idle.ms`.
    pub idle_timeout: Duration,
    /// How long one request frame may take to arrive once its first byte is here.
    pub frame_timeout: Duration,
    /// `max_in_flight_requests_per_connection`.
    pub max_in_flight: usize,
    /// `queued.max.request.bytes`, shared by every connection.
    pub request_memory: Arc<RequestMemory>,
}

/// The other end of a connection: its address, and how it reached us (for policies).
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Peer {
    pub fn ip(&self) -> std::net::IpAddr {
        self.addr.ip()
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.addr.fmt(f)
    }
}

pub async fn serve<S>(
    stream: S,
    initial: ConnState,
    ctx: Arc<ConnectionContext>,
    peer: Peer,
    auth_deadline: tokio::time::Instant,
    slot: ConnectionSlot,
) -> Result<(), CloseReason>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    if let ConnState::Ready(ready) = &initial {
        slot.bind_tenant(&ready.session.principal().tenant)?;
    }
    let (reader, writer) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel::<Queued>(ctx.max_in_flight.max(1));
    let meter = Arc::new(Meter::new());
    let writer_task = tokio::spawn(write_responses(writer, rx, meter.clone()));
    let unsent = Arc::new(Semaphore::new(MAX_UNSENT_RESPONSE_BYTES));
    let mut frames = FrameReader::new(reader);
    // One permit per response owed, taken before the request is read: at most
    // `max_in_flight` requests are read and unanswered at any time.
    let in_flight = Arc::new(Semaphore::new(ctx.max_in_flight.max(1)));
    let mut state = initial;
    let result = loop {
        let Ok(owed) = in_flight.clone().acquire_owned().await else {
            break Ok(());
        };
        let rules = FrameRules {
            limit: state.max_frame_bytes(ctx.max_request_bytes),
            authenticated: state.is_authenticated(),
            frame_timeout: ctx.frame_timeout,
            idle_timeout: ctx.idle_timeout,
            memory: &ctx.request_memory,
        };
        let next = if rules.authenticated {
            frames.next_frame(&rules, &meter).await
        } else {
            // Reading (and waiting for request memory) before authentication also ends at the
            // authentication deadline.
            match tokio::time::timeout_at(auth_deadline, frames.next_frame(&rules, &meter)).await {
                Ok(frame) => frame,
                Err(_) => Err(CloseReason::AuthenticationTimeout(
                    ctx.authentication_timeout,
                )),
            }
        };
        let (frame, memory) = match next {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let step = if state.expects_raw_token() {
            auth_exchange::raw_token(frame, &mut state, &ctx, &peer, &slot).await
        } else {
            process(frame, &mut state, &ctx, &peer, &slot).await
        };
        // The request has been handled (a produce is appended, a fetch holds only its decoded
        // request): its bytes leave the pool, so one connection holds at most one frame's worth,
        // however many responses it is owed.
        drop(memory);
        match step {
            Ok(Step { out, close }) => {
                if let Some(out) = out {
                    let queued = match out {
                        Outgoing::Now(bytes) => {
                            // Bound what a client that does not read can make us hold.
                            let want = bytes.len().clamp(1, MAX_UNSENT_RESPONSE_BYTES);
                            let Ok(permit) = unsent
                                .clone()
                                .acquire_many_owned(u32::try_from(want).unwrap_or(u32::MAX))
                                .await
                            else {
                                break Ok(());
                            };
                            Queued {
                                out: Outgoing::Now(bytes),
                                _unsent: Some(permit),
                                _owed: owed,
                            }
                        }
                        Outgoing::Later(future) => Queued {
                            out: Outgoing::Later(future),
                            _unsent: None,
                            _owed: owed,
                        },
                    };
                    meter.queued();
                    if tx.send(queued).await.is_err() {
                        break Ok(()); // the writer failed: the peer is gone
                    }
                }
                if close {
                    break Err(CloseReason::AuthenticationFailed);
                }
            }
            Err(e) => break Err(e),
        }
    };
    // Let the writer finish the responses already owed, then close.
    drop(tx);
    let written = writer_task.await.unwrap_or(Ok(()));
    drop(slot);
    result.and(written)
}

/// A response on its way to the writer, holding its share of the unsent-bytes budget.
struct Queued {
    out: Outgoing,
    _unsent: Option<OwnedSemaphorePermit>,
    /// This response's place among the in-flight ones; freed once written.
    _owed: OwnedSemaphorePermit,
}

async fn process(
    mut frame: Bytes,
    state: &mut ConnState,
    ctx: &ConnectionContext,
    peer: &Peer,
    slot: &ConnectionSlot,
) -> Result<Step, CloseReason> {
    let header = parse_request_header(&mut frame)?;
    let api =
        ApiKey::try_from(header.api_key).map_err(|()| CloseReason::UnknownApi(header.api_key))?;
    let version = header.api_version;
    let correlation_id = header.correlation_id;
    if !state.admits(api) {
        return Err(CloseReason::NotAuthenticated(api));
    }
    let Some((min, max)) = schloss_broker::handlers::supported_range(api) else {
        return Err(CloseReason::UnknownApi(header.api_key));
    };
    if version < min || version > max {
        if api == ApiKey::ApiVersions {
            // A client newer than us: answer in v0 format with our ranges so it can retry.
            let bytes = schloss_protocol::response::encode_api_versions_fallback(
                correlation_id,
                schloss_broker::SUPPORTED_APIS,
            );
            return Ok(Step::send(bytes));
        }
        return Err(CloseReason::UnsupportedVersion { api, version });
    }
    let request = decode_request(api, version, frame)?;
    match request {
        Request::ApiVersions(_) => {
            let response =
                ResponseKind::ApiVersions(schloss_broker::handlers::api_versions_response());
            return Ok(Step::send(encode(api, version, correlation_id, &response)?));
        }
        Request::SaslHandshake(r) => {
            return auth_exchange::handshake(r, version, correlation_id, state, ctx)
        }
        Request::SaslAuthenticate(r) => {
            return auth_exchange::authenticate(r, version, correlation_id, state, ctx, peer, slot)
                .await
        }
        _ => {}
    }
    let ConnState::Ready(ready) = state else {
        return Err(CloseReason::NotAuthenticated(api));
    };
    ready.session.set_request(
        header.client_id.as_deref().unwrap_or_default(),
        schloss_broker::access::api_name(api),
    );
    if ready
        .expires_at
        .is_some_and(|at| tokio::time::Instant::now() >= at)
    {
        return Err(CloseReason::SessionExpired);
    }
    if let Some(sasl) = &ctx.sasl {
        follow_credentials(ready, &sasl.credentials)?;
    }
    let reply = ctx.broker.handle(&ready.session, version, request).await;
    Ok(match reply {
        Reply::Now(response) => Step::send(encode(api, version, correlation_id, &response)?),
        Reply::Later(future) => Step {
            out: Some(Outgoing::Later(Box::pin(async move {
                let response = future.await;
                encode(api, version, correlation_id, &response)
            }))),
            close: false,
        },
        Reply::Nothing => Step {
            out: None,
            close: false,
        },
    })
}

/// Applies changes of the credential store to a live SASL session before its next request:
/// a removed user's connection closes, changed roles decide from now on. (Certificate and
/// anonymous sessions have no entry in the store: their identity lasts as long as the
/// connection; see docs/authorization.md.)
fn follow_credentials(
    ready: &mut Ready,
    credentials: &CredentialSource,
) -> Result<(), CloseReason> {
    if !ready.session.principal().mechanism.is_sasl() {
        return Ok(());
    }
    let store = credentials.current();
    if ready
        .credentials
        .as_ref()
        .is_some_and(|seen| Arc::ptr_eq(seen, &store))
    {
        return Ok(());
    }
    let principal = ready.session.principal();
    let login = format!("{}/{}", principal.tenant, principal.name);
    let Some(user) = store.user(&login) else {
        return Err(CloseReason::CredentialsRevoked);
    };
    ready.session.set_roles(user.roles().clone());
    ready.credentials = Some(store);
    Ok(())
}

pub fn encode(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &ResponseKind,
) -> Result<BytesMut, CloseReason> {
    schloss_protocol::response::encode_response(api, version, correlation_id, response)
        .map_err(|e| CloseReason::Encode(e.to_string()))
}

async fn write_responses<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<Queued>,
    meter: Arc<Meter>,
) -> Result<(), CloseReason> {
    while let Some(queued) = rx.recv().await {
        let bytes = match queued.out {
            Outgoing::Now(b) => b,
            Outgoing::Later(f) => f.await?,
        };
        writer.write_all(&bytes).await?;
        meter.written();
    }
    writer.shutdown().await.ok();
    Ok(())
}
