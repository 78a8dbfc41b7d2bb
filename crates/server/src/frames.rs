//! Reading request frames off a connection, and the request memory (`queued.max.request.bytes`)
//! each frame holds while it is read and handled.
//!
//! An authenticated connection reserves a whole frame from the shared pool as soon as its size
//! prefix arrives (as Kafka does: a frame that has its memory can always complete). Before
//! authentication a frame is capped at the pre-auth cap (512 KiB) and refused before anything
//! is reserved if it claims more; what it reserves grows only with the bytes that have arrived,
//! and all unauthenticated connections together hold at most a quarter of the pool. So a
//! connection that sends a size and nothing else holds nothing, and strangers cannot starve
//! authenticated tenants of request memory.
//!
//! Waiting for memory is part of reading the frame: both share one deadline, the frame timeout
//! from the frame's first byte (and before authentication also the authentication deadline
//! the caller applies). A frame that cannot get its memory in time closes the connection.

use crate::connection::CloseReason;
use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use schloss_protocol::frame::{check_frame_len, PRE_AUTH_MAX_BYTES};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Read granularity: the buffer grows by at most this much before bytes arrive to fill it,
/// so a client's claimed frame size never sizes an allocation by itself.
const READ_CHUNK: usize = 64 * 1024;
/// The pre-auth share when the pool itself is unlimited (`queued_max_request_bytes = -1`).
const UNLIMITED_POOL_PRE_AUTH_SHARE: usize = 128 * 1024 * 1024;

/// `queued.max.request.bytes`, shared by every connection of the broker.
pub struct RequestMemory {
    /// `None`: unlimited.
    pool: Option<Arc<Semaphore>>,
    /// What unauthenticated connections may hold together: a quarter of the pool (at least
    /// one pre-auth frame), taken in addition to the pool itself.
    pre_auth: Arc<Semaphore>,
    /// The pool's size, for the broker's share of it (`None`: unlimited).
    total: Option<usize>,
}

impl RequestMemory {
    /// A pool of `bytes` (`None` = unlimited), never below the pre-authentication frame cap so
    /// every admissible frame fits.
    pub fn new(bytes: Option<usize>) -> Self {
        let bytes = bytes.map(|n| n.clamp(PRE_AUTH_MAX_BYTES, Semaphore::MAX_PERMITS));
        let share = bytes.map_or(UNLIMITED_POOL_PRE_AUTH_SHARE, |n| {
            (n / 4).max(PRE_AUTH_MAX_BYTES)
        });
        Self {
            pool: bytes.map(|n| Arc::new(Semaphore::new(n))),
            pre_auth: Arc::new(Semaphore::new(share)),
            total: bytes,
        }
    }

    /// The same pool as the broker's handlers charge it (produce validation's decompression
    /// memory); `None` when unlimited.
    pub fn for_broker(&self) -> Option<schloss_broker::RequestMemory> {
        self.pool
            .clone()
            .zip(self.total)
            .map(|(pool, total)| schloss_broker::RequestMemory::new(pool, total))
    }

    /// Bytes of the pool not reserved (for tests and diagnostics); `None` if unlimited.
    pub fn available(&self) -> Option<usize> {
        self.pool.as_ref().map(|p| p.available_permits())
    }

    /// Grows `r` to `bytes`; before authentication also from the pre-auth share. Waits while
    /// memory is short (the connection stops reading, as Kafka mutes a channel when its pool
    /// is empty, and TCP pushes back on the client); the caller bounds the wait.
    async fn grow(
        &self,
        r: &mut Reservation,
        bytes: usize,
        pre_auth: bool,
    ) -> Result<(), CloseReason> {
        let Some(delta) = bytes.checked_sub(r.bytes).filter(|d| *d > 0) else {
            return Ok(());
        };
        let n = u32::try_from(delta).map_err(|_| closed())?;
        if pre_auth {
            let permit = self
                .pre_auth
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| closed())?;
            merge(&mut r.pre_auth, permit);
        }
        if let Some(pool) = &self.pool {
            let permit = pool
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| closed())?;
            merge(&mut r.pool, permit);
        }
        r.bytes = bytes;
        Ok(())
    }
}

fn closed() -> CloseReason {
    CloseReason::Io(std::io::Error::other("request memory pool closed"))
}

fn merge(held: &mut Option<OwnedSemaphorePermit>, more: OwnedSemaphorePermit) {
    match held {
        Some(h) => h.merge(more),
        None => *held = Some(more),
    }
}

/// The request memory one frame holds; returned to the pool on drop.
#[derive(Default)]
pub struct Reservation {
    pool: Option<OwnedSemaphorePermit>,
    pre_auth: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

/// A request frame and the memory it holds.
pub type Frame = (Bytes, Reservation);

/// What the reader needs to know about the writer: responses still owed (a connection that
/// waits for a response is not idle) and when bytes last went out.
pub struct Meter {
    owed: AtomicUsize,
    last_write: Mutex<Instant>,
}

impl Meter {
    pub fn new() -> Self {
        Self {
            owed: AtomicUsize::new(0),
            last_write: Mutex::new(Instant::now()),
        }
    }
    pub fn queued(&self) {
        self.owed.fetch_add(1, Ordering::AcqRel);
    }
    pub fn written(&self) {
        *self.last_write.lock() = Instant::now();
        self.owed.fetch_sub(1, Ordering::AcqRel);
    }
    /// When the connection counts as idle if nothing happens before: `idle` after the later
    /// of `since` and the last write; `None` while a response is owed.
    fn idle_deadline(&self, since: Instant, idle: Duration) -> Option<Instant> {
        if self.owed.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(since.max(*self.last_write.lock()) + idle)
    }
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

/// How the next frame is to be read.
pub struct FrameRules<'a> {
    /// The largest frame accepted in the connection's state.
    pub limit: usize,
    pub authenticated: bool,
    pub frame_timeout: Duration,
    pub idle_timeout: Duration,
    pub memory: &'a RequestMemory,
}

pub struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: BytesMut::new(),
        }
    }

    /// Reads the next whole frame. `Ok(None)` is a clean end of stream between frames.
    ///
    /// Between frames the connection may be silent for `connections.max.idle.ms` (not counting
    /// time a response is owed); once a frame's first byte is here, all of it, and the memory
    /// it needs, must arrive within the frame timeout, so a client trickling bytes (or waiting
    /// for a pool others hold) cannot hold a connection and its buffer forever.
    pub async fn next_frame(
        &mut self,
        rules: &FrameRules<'_>,
        meter: &Meter,
    ) -> Result<Option<Frame>, CloseReason> {
        let buf = &mut self.buf;
        let mut started = (!buf.is_empty()).then(Instant::now);
        let mut memory = Reservation::default();
        let since = Instant::now();
        loop {
            if let Some(prefix) = buf.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok()) {
                // Checked before anything is reserved: an oversized claim costs nothing.
                let size = check_frame_len(i32::from_be_bytes(prefix), rules.limit)?;
                let want = if rules.authenticated {
                    size
                } else {
                    buf.len().saturating_sub(4).min(size)
                };
                if memory.bytes < want {
                    let deadline = started.unwrap_or_else(Instant::now) + rules.frame_timeout;
                    let grow = rules.memory.grow(&mut memory, want, !rules.authenticated);
                    tokio::time::timeout_at(deadline, grow)
                        .await
                        .map_err(|_| CloseReason::MemoryTimeout(rules.frame_timeout))??;
                }
                if buf.len() >= 4 + size {
                    buf.advance(4);
                    let body = buf.split_to(size).freeze();
                    return Ok(Some((body, memory)));
                }
                let missing = 4 + size - buf.len();
                buf.reserve(missing.min(READ_CHUNK));
            } else {
                buf.reserve(READ_CHUNK);
            }
            let read = match started {
                Some(at) => {
                    let deadline = at + rules.frame_timeout;
                    tokio::time::timeout_at(deadline, self.reader.read_buf(buf))
                        .await
                        .map_err(|_| CloseReason::FrameTimeout(rules.frame_timeout))??
                }
                None => loop {
                    let deadline = meter
                        .idle_deadline(since, rules.idle_timeout)
                        .unwrap_or_else(|| Instant::now() + rules.idle_timeout);
                    match tokio::time::timeout_at(deadline, self.reader.read_buf(buf)).await {
                        Ok(read) => break read?,
                        Err(_) => {
                            if meter
                                .idle_deadline(since, rules.idle_timeout)
                                .is_some_and(|d| d <= Instant::now())
                            {
                                return Err(CloseReason::Idle(rules.idle_timeout));
                            }
                        }
                    }
                },
            };
            if read == 0 {
                return if buf.is_empty() {
                    Ok(None)
                } else {
                    Err(CloseReason::Truncated)
                };
            }
            started.get_or_insert_with(Instant::now);
        }
    }
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
