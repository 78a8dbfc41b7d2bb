//! The coordinator inside the broker: a mutex around the core, parked JoinGroup/SyncGroup
//! requests as oneshot channels, a writer task that makes the core's records durable in
//! `__consumer_offsets-0` before answers go out, and a ticker that fires the core's timers.
//!
//! The log engine has no compaction yet: the offsets log keeps every record and replay reads
//! all of it, keeping the latest value per key.

use super::clock::Clock;
use super::coordinator::Coordinator;
use super::records::GroupRecord;
use super::types::{Effects, GroupConfig, Reply, Token, TopicView};
use crate::error::BrokerError;
use crate::metadata::{Image, MetadataStore};
use parking_lot::Mutex;
use schloss_log::{Appended, Durability, FileCache, Flusher, LogConfig, PartitionLog};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Directory of the offsets log inside the data directory.
pub const OFFSETS_DIR: &str = "__consumer_offsets-0";
/// Largest record we read back (a group snapshot with big member metadata stays far below).
const MAX_REPLAY_BATCH: usize = 256 * 1024 * 1024;
/// How often the core's timers are checked.
const TICK: Duration = Duration::from_millis(100);

// The coordinator works on internal names the access gate already produced (subscriptions,
// assignments); it serves no client directly, so it may look topics up raw.
impl TopicView for Image {
    fn topic(&self, name: &str) -> Option<(uuid::Uuid, i32)> {
        self.topic_named(name, crate::access::internal_key())
            .map(|t| (t.id, t.partitions))
    }

    fn topic_name(&self, id: &uuid::Uuid) -> Option<String> {
        self.topic_by_id(id, crate::access::internal_key())
            .map(|t| t.name.clone())
    }
}

struct Inner {
    core: Coordinator,
    waiters: HashMap<Token, oneshot::Sender<Reply>>,
    next_token: u64,
}

struct WriteJob {
    records: Vec<GroupRecord>,
    done: oneshot::Sender<bool>,
}

pub struct GroupService {
    inner: Mutex<Inner>,
    writer: mpsc::UnboundedSender<WriteJob>,
    clock: Arc<dyn Clock>,
    metadata: Arc<MetadataStore>,
    config: GroupConfig,
    /// Set after a failed write: the in-memory state may be ahead of the log, so the
    /// coordinator stops answering (COORDINATOR_NOT_AVAILABLE) until a restart reloads it.
    poisoned: Arc<AtomicBool>,
}

fn offsets_log_config() -> LogConfig {
    LogConfig {
        retention_ms: -1,
        retention_bytes: -1,
        durability: Durability::Fsync,
        ..LogConfig::default()
    }
}

impl GroupService {
    /// Opens (and replays) the offsets log and starts the writer and ticker tasks.
    pub async fn open(
        data_dir: &Path,
        flusher: Flusher,
        files: FileCache,
        config: GroupConfig,
        clock: Arc<dyn Clock>,
        metadata: Arc<MetadataStore>,
    ) -> Result<Arc<Self>, BrokerError> {
        let dir = data_dir.join(OFFSETS_DIR);
        let now = clock.now_ms();
        let settings = config.clone();
        let (log, core) = tokio::task::spawn_blocking(move || -> Result<_, BrokerError> {
            let log = PartitionLog::open(&dir, offsets_log_config(), flusher, files)?;
            let mut core = Coordinator::new(config, now);
            replay(&log, &mut core)?;
            core.on_loaded(now);
            Ok((log, core))
        })
        .await
        .map_err(|e| BrokerError::Internal(format!("offsets replay: {e}")))??;
        let poisoned = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(Arc::new(log), rx, poisoned.clone()));
        let service = Arc::new(Self {
            inner: Mutex::new(Inner {
                core,
                waiters: HashMap::new(),
                next_token: 0,
            }),
            writer: tx,
            clock,
            metadata,
            config: settings,
            poisoned,
        });
        tokio::spawn(tick_loop(Arc::downgrade(&service)));
        Ok(service)
    }

    pub fn is_available(&self) -> bool {
        !self.poisoned.load(Ordering::SeqCst)
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Runs `f` on the core and returns its result once the records it produced are durable
    /// (`None` if they could not be written). Answers for parked requests go out after the
    /// same point.
    pub async fn run<T>(&self, f: impl FnOnce(&mut Coordinator, u64, &Image) -> T) -> Option<T> {
        if !self.is_available() {
            return None;
        }
        let image = self.metadata.image();
        let (value, durable) = {
            let mut inner = self.inner.lock();
            let now = self.clock.now_ms();
            let value = f(&mut inner.core, now, &image);
            (value, self.dispatch(&mut inner))
        };
        match durable {
            Some(rx) => rx.await.ok().filter(|ok| *ok).map(|_| value),
            None => Some(value),
        }
    }

    /// Like [`run`](Self::run) for an input whose answer comes as a [`Reply`] for a token.
    pub async fn park(&self, f: impl FnOnce(&mut Coordinator, u64, Token)) -> Option<Reply> {
        if !self.is_available() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock();
            inner.next_token += 1;
            let token = Token(inner.next_token);
            inner.waiters.insert(token, tx);
            let now = self.clock.now_ms();
            f(&mut inner.core, now, token);
            // Our own answer waits for durability inside dispatch.
            let _ = self.dispatch(&mut inner);
        }
        rx.await.ok()
    }

    /// Sends the core's records to the writer and routes its answers, after the records are
    /// durable if there are any. Returns the receiver that says when they are.
    fn dispatch(&self, inner: &mut Inner) -> Option<oneshot::Receiver<bool>> {
        let Effects { replies, records } = inner.core.take_effects();
        let routed: Vec<(oneshot::Sender<Reply>, Reply)> = replies
            .into_iter()
            .filter_map(|(token, reply)| inner.waiters.remove(&token).map(|tx| (tx, reply)))
            .collect();
        if records.is_empty() {
            for (tx, reply) in routed {
                let _ = tx.send(reply);
            }
            return None;
        }
        let (done_tx, done_rx) = oneshot::channel();
        let (caller_tx, caller_rx) = oneshot::channel();
        if self
            .writer
            .send(WriteJob {
                records,
                done: done_tx,
            })
            .is_err()
        {
            self.poisoned.store(true, Ordering::SeqCst);
        }
        tokio::spawn(async move {
            let ok = done_rx.await.unwrap_or(false);
            if ok {
                for (tx, reply) in routed {
                    let _ = tx.send(reply);
                }
            }
            // On failure the parked requests' senders drop: their callers answer
            // COORDINATOR_NOT_AVAILABLE.
            let _ = caller_tx.send(ok);
        });
        Some(caller_rx)
    }

    fn tick(&self) {
        if !self.is_available() {
            return;
        }
        let image = self.metadata.image();
        let mut inner = self.inner.lock();
        let now = self.clock.now_ms();
        inner.core.tick(now, &*image);
        inner.waiters.retain(|_, tx| !tx.is_closed());
        let _ = self.dispatch(&mut inner);
    }
}

async fn tick_loop(service: Weak<GroupService>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(s) = service.upgrade() else { return };
        s.tick();
    }
}

/// Appends queued records, one batch per wake-up, and reports each job once it is durable.
async fn write_loop(
    log: Arc<PartitionLog>,
    mut rx: mpsc::UnboundedReceiver<WriteJob>,
    poisoned: Arc<AtomicBool>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while let Ok(more) = rx.try_recv() {
            jobs.push(more);
        }
        let ok = !poisoned.load(Ordering::SeqCst) && write(&log, &jobs).await;
        if !ok {
            poisoned.store(true, Ordering::SeqCst);
            tracing::error!(
                "writing group records failed; the group coordinator is unavailable until restart"
            );
        }
        for job in jobs {
            let _ = job.done.send(ok);
        }
    }
}

async fn write(log: &Arc<PartitionLog>, jobs: &[WriteJob]) -> bool {
    let mut encoded = Vec::new();
    for job in jobs {
        for r in &job.records {
            match r.encode() {
                Ok(kv) => encoded.push(kv),
                Err(e) => {
                    tracing::error!(error = %e, "encoding group record");
                    return false;
                }
            }
        }
    }
    let log = log.clone();
    let now = crate::metadata::now_ms();
    let appended = tokio::task::spawn_blocking(move || {
        let kvs: Vec<schloss_model::batch::KeyValue<'_>> = encoded
            .iter()
            .map(|(k, v)| (Some(k.as_slice()), v.as_deref()))
            .collect();
        let batch = schloss_model::batch::build_uncompressed(0, now, (-1, -1, -1), &kvs);
        log.append(bytes::BytesMut::from(&batch[..]), now, 0)
    })
    .await;
    match appended {
        Ok(Ok(Appended::Written { durable, .. })) => match durable.wait().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "offsets log fsync failed");
                false
            }
        },
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "offsets log append failed");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "offsets log append task failed");
            false
        }
    }
}

fn replay(log: &PartitionLog, core: &mut Coordinator) -> Result<(), BrokerError> {
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 4 * 1024 * 1024, true)?;
        if slice.data.is_empty() {
            break;
        }
        for batch in schloss_model::batch::Batches::new(&slice.data) {
            let (header, bytes) = batch
                .map_err(|e| BrokerError::Internal(format!("offsets replay at {offset}: {e}")))?;
            let records = schloss_protocol::records::decode_records(bytes, MAX_REPLAY_BATCH)
                .map_err(|e| BrokerError::Internal(format!("offsets replay at {offset}: {e}")))?;
            for record in records {
                match GroupRecord::decode(record.key.as_deref(), record.value.as_deref()) {
                    Ok(r) => core.replay(r),
                    Err(e) => {
                        tracing::warn!(offset, error = %e, "skipping unreadable group record")
                    }
                }
            }
            offset = header.last_offset().saturating_add(1);
        }
    }
    Ok(())
}
