//! Per-partition settings, named after the Kafka topic configs they implement.

use schloss_model::batch::TimestampType;

/// When an append counts as done. The broker waits for [`crate::Durable`] before it
/// acknowledges, so this choice alone decides what a crash can lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The group-commit flusher fsyncs the segment before the append's `Durable` resolves.
    /// A crash loses nothing acknowledged.
    #[default]
    Fsync,
    /// `Durable` resolves as soon as the bytes are in the OS page cache. A machine crash (not
    /// a process crash) can lose acknowledged batches; recovery still yields a prefix.
    OsCache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll a non-empty active segment whose first batch is older than this.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose newest timestamp is older than this; -1 keeps all.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger than this; -1 keeps all.
    pub retention_bytes: i64,
    /// `index.interval.bytes`: bytes of batches between two sparse index entries.
    pub index_interval_bytes: u32,
    /// Whether appends are fsynced before they count as durable.
    pub durability: Durability,
    /// `message.timestamp.type`: LogAppendTime overwrites batch timestamps with the broker's.
    pub timestamp_type: TimestampType,
}

pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
pub const SEVEN_DAYS_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Segment positions are stored as u32 in the index, and Kafka's `segment.bytes` is an int.
pub(crate) const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;

impl LogConfig {
    /// `segment.bytes` clamped to what the index format can address.
    pub(crate) fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.clamp(1, MAX_SEGMENT_BYTES)
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: SEVEN_DAYS_MS,
            retention_ms: SEVEN_DAYS_MS,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            durability: Durability::Fsync,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}
