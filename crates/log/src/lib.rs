//! The storage engine: one append-only log per partition, stored as Kafka lays it out
//! (segments of v2 record batches, byte for byte, with sparse offset and time indexes), with
//! group-commit fsync, crash recovery to a prefix of what was acknowledged, retention, and
//! idempotent-producer deduplication. It knows nothing of requests, tenants or principals.

mod checkpoint;
mod config;
mod error;
mod file_cache;
mod flusher;
mod index;
mod partition;
mod producer_state;
mod recovery;
mod segment;

pub use config::{Durability, LogConfig, DEFAULT_SEGMENT_BYTES, SEVEN_DAYS_MS};
pub use error::{Corruption, FileShortage, IoContext, LogError};
pub use file_cache::{FileCache, MIN_OPEN_FILES};
pub use flusher::{Durable, Flusher};
pub use partition::{Appended, PartitionLog, ReadSlice, RetentionOutcome};
pub use producer_state::{BatchMetadata, ProducerEntry, ProducerState, RETAINED_BATCHES};
pub use schloss_model::batch::TimestampType;
