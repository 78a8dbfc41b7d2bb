//! The broker-wide request memory pool (`queued.max.request.bytes`), as the handlers see it.
//! The server takes a frame's size from it before reading the frame; the produce path also
//! charges what checking a batch holds besides the frame (the decompressor's window or block,
//! a recompression's encoder and output), so concurrent decompressions are bounded by the
//! same pool as the requests that carry them.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A handle on the pool: one permit per byte.
#[derive(Debug, Clone)]
pub struct RequestMemory {
    permits: Arc<Semaphore>,
    /// The pool's size: a charge is clamped to it, so one that could never be granted whole
    /// waits for the whole pool instead of forever.
    total: usize,
}

/// Memory charged to the pool until dropped.
#[derive(Debug)]
pub struct Charge(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl RequestMemory {
    pub fn new(permits: Arc<Semaphore>, total: usize) -> Self {
        Self { permits, total }
    }

    /// Takes `bytes` from the pool, waiting at most `wait`; `None` if the pool stayed short
    /// that long. A request waiting here still holds its frame's share, so the wait must end:
    /// otherwise requests that each hold a frame and wait for more could wedge the pool.
    pub async fn charge(&self, bytes: usize, wait: Duration) -> Option<Charge> {
        let n = u32::try_from(bytes.min(self.total)).unwrap_or(u32::MAX);
        if n == 0 {
            return Some(Charge(None));
        }
        let acquire = self.permits.clone().acquire_many_owned(n);
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Some(Charge(Some(permit))),
            _ => None,
        }
    }
}
