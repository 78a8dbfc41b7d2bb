//! Plain types shared by every schloss crate: tenants, principals, topic names, partition ids,
//! offsets, topic ids, and the view of a Kafka v2 record batch header (the one byte layout that
//! is both the wire format and the on-disk format). No I/O, no async.

pub mod batch;
mod identity;
mod names;

pub use identity::{Mechanism, Principal, TenantId};
pub use names::{NameError, TopicName, INTERNAL_SEPARATOR};

/// A partition index inside a topic, as Kafka numbers them (0-based).
pub type PartitionId = i32;

/// A position in a partition log.
pub type Offset = i64;

/// Globally unique topic id (KIP-516). Never reused, even after a topic of the same name is
/// deleted and recreated.
pub type TopicId = uuid::Uuid;
