//! The group coordinator: classic groups (JoinGroup/SyncGroup), KIP-848 consumer groups with
//! server-side assignors, and committed offsets.
//!
//! The core ([`Coordinator`]) is a synchronous state machine in the style of raft-rs: the
//! caller feeds it inputs with the current time and drains the answers and records it produced.
//! [`GroupService`] wraps it for the broker: it parks JoinGroup/SyncGroup requests, ticks the
//! timers, and makes records durable in `__consumer_offsets-0` before any answer that depends on
//! them goes out.

mod assignor;
mod classic;
mod classic_ops;
mod classic_sync;
pub mod clock;
mod consumer;
mod consumer_state;
mod coordinator;
mod offsets;
mod records;
mod service;
mod timers;
mod types;

#[cfg(test)]
mod tests;

pub use assignor::Assignment;
pub use consumer_state::ConsumerDescription;
pub use coordinator::Coordinator;
pub use offsets::{CommitPartition, CommitRequest};
pub use records::{GroupRecord, OffsetValue};
pub use service::{GroupService, OFFSETS_DIR};
pub use types::*;
