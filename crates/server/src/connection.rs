//! One task per connection: read frames (length-checked, buffered only as bytes arrive),
//! dispatch each request in order, and write responses in request order. A request whose
//! response comes later (produce awaiting fsync, long-polling fetch) does not stop the
//! connection from reading and dispatching the next one; a bounded queue limits how many
//! responses may be outstanding. Authentication (SASL) happens here, in request order.

use crate::conn_state::ConnState;
use crate::sasl::FailureBrake;
use crate::{auth_exchange, credentials::CredentialSource};
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use schloss_auth::SaslMechanism;
use schloss_broker::{Broker, ListenerInfo, Reply};
use schloss_protocol::frame::{check_frame_len, FrameError};
use schloss_protocol::header::parse_request_header;
use schloss_protocol::request::{decode_request, Request};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

/// Responses that may be outstanding on one connection before we stop reading requests.
pub const MAX_IN_FLIGHT: usize = 128;
/// Read granularity: the buffer grows by at most this much before bytes arrive to fill it,
/// so a client's claimed frame size never sizes an allocation by itself.
const READ_CHUNK: usize = 64 * 1024;

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
    #[error("{0}")]
    SaslProtocol(&'static str),
    #[error("encoding a response failed: {0}")]
    Encode(String),
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
    /// Bounds concurrent PLAIN (argon2id) verifications.
    pub verifiers: Arc<Semaphore>,
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
}

pub async fn serve<S>(
    stream: S,
    initial: ConnState,
    ctx: Arc<ConnectionContext>,
    peer: SocketAddr,
    auth_deadline: tokio::time::Instant,
) -> Result<(), CloseReason>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT);
    let writer_task = tokio::spawn(write_responses(writer, rx));
    let mut state = initial;
    let mut buf = BytesMut::new();
    let result = loop {
        let limit = state.max_frame_bytes(ctx.max_request_bytes);
        let next = if state.is_authenticated() {
            next_frame(&mut reader, &mut buf, limit).await
        } else {
            match tokio::time::timeout_at(auth_deadline, next_frame(&mut reader, &mut buf, limit))
                .await
            {
                Ok(frame) => frame,
                Err(_) => Err(CloseReason::AuthenticationTimeout(
                    ctx.authentication_timeout,
                )),
            }
        };
        let frame = match next {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let step = if state.expects_raw_token() {
            auth_exchange::raw_token(frame, &mut state, &ctx, peer).await
        } else {
            process(frame, &mut state, &ctx, peer).await
        };
        match step {
            Ok(Step { out, close }) => {
                if let Some(out) = out {
                    if tx.send(out).await.is_err() {
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
    result.and(written)
}

/// Reads the next whole frame. `Ok(None)` is a clean end of stream between frames.
async fn next_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Option<Bytes>, CloseReason> {
    loop {
        if let Some(prefix) = buf.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok()) {
            let size = check_frame_len(i32::from_be_bytes(prefix), limit)?;
            if buf.len() >= 4 + size {
                buf.advance(4);
                return Ok(Some(buf.split_to(size).freeze()));
            }
            let missing = 4 + size - buf.len();
            buf.reserve(missing.min(READ_CHUNK));
        } else {
            buf.reserve(READ_CHUNK);
        }
        if reader.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(CloseReason::Truncated)
            };
        }
    }
}

async fn process(
    mut frame: Bytes,
    state: &mut ConnState,
    ctx: &ConnectionContext,
    peer: SocketAddr,
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
            return auth_exchange::authenticate(r, version, correlation_id, state, ctx, peer).await
        }
        _ => {}
    }
    let ConnState::Ready(ready) = state else {
        return Err(CloseReason::NotAuthenticated(api));
    };
    ready
        .session
        .set_client_id(header.client_id.as_deref().unwrap_or_default());
    if ready
        .expires_at
        .is_some_and(|at| tokio::time::Instant::now() >= at)
    {
        return Err(CloseReason::SessionExpired);
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
    mut rx: mpsc::Receiver<Outgoing>,
) -> Result<(), CloseReason> {
    while let Some(out) = rx.recv().await {
        let bytes = match out {
            Outgoing::Now(b) => b,
            Outgoing::Later(f) => f.await?,
        };
        writer.write_all(&bytes).await?;
    }
    writer.shutdown().await.ok();
    Ok(())
}
