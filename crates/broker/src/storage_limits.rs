//! Broker-wide limits on what the log may hold: the open-file budget of the log, and how many
//! partitions there may be. Every partition is a directory and files the broker must recover on
//! each start and open on demand, so a tenant creating partitions without bound could exhaust
//! the disk's inodes, the memory for indexes, and the start-up time of the whole broker. The
//! partition limits are checked before any file is created, and answered as Kafka answers a
//! create-topic policy: POLICY_VIOLATION with a message naming the limit.

/// Partitions all topics together may have, unless configured (`broker.max_partitions`).
/// Each partition costs a directory, its in-memory indexes and producer state, and a recovery
/// scan plus an fsync at start; 50,000 keeps a restart within minutes and stays below the
/// default log file budget's 65,536, so every partition's active segment can stay open on a
/// machine with a usual hard descriptor limit (1,048,576).
pub const DEFAULT_MAX_PARTITIONS: usize = 50_000;
/// Partitions one request may add (`broker.max_partitions_per_request`): the largest single
/// topic (10,000, `MAX_PARTITIONS_PER_TOPIC`) still fits, a flood of topics in one request
/// does not.
pub const DEFAULT_MAX_PARTITIONS_PER_REQUEST: usize = 10_000;
/// The log's open-file budget when nobody computed one from the process's descriptor limit
/// (the server does, at start).
pub const DEFAULT_LOG_MAX_OPEN_FILES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLimits {
    /// Descriptors the log may hold open at once (segment files, and index and recovery files
    /// while they are written or scanned).
    pub log_max_open_files: usize,
    /// Partitions of all topics together; internal logs (metadata, group offsets) are not
    /// counted and always open.
    pub max_partitions: usize,
    /// Partitions one CreateTopics, CreatePartitions or Metadata (auto-create) request may add.
    pub max_partitions_per_request: usize,
}

impl Default for StorageLimits {
    fn default() -> Self {
        Self {
            log_max_open_files: DEFAULT_LOG_MAX_OPEN_FILES,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            max_partitions_per_request: DEFAULT_MAX_PARTITIONS_PER_REQUEST,
        }
    }
}

/// What one request may still add. Topics are checked in request order; a topic that does
/// not fit is refused, later smaller ones may still fit.
#[derive(Debug)]
pub(crate) struct PartitionAllowance {
    max_partitions: usize,
    per_request: usize,
    added: usize,
}

impl PartitionAllowance {
    pub(crate) fn new(limits: &StorageLimits) -> Self {
        Self {
            max_partitions: limits.max_partitions,
            per_request: limits.max_partitions_per_request,
            added: 0,
        }
    }

    /// Whether this request may add `more` partitions; the error is the client's message.
    pub(crate) fn check_request(&self, more: usize) -> Result<(), String> {
        if self.added.saturating_add(more) > self.per_request {
            return Err(format!(
                "This request would add more than {} partitions, the broker's limit per request (max_partitions_per_request).",
                self.per_request
            ));
        }
        Ok(())
    }

    /// Whether `more` partitions fit beside the `existing` ones of the whole broker. The
    /// message does not say how many exist: that would tell a tenant about the others.
    pub(crate) fn check_broker(&self, existing: usize, more: usize) -> Result<(), String> {
        if existing.saturating_add(more) > self.max_partitions {
            return Err(format!(
                "The broker's partition limit (max_partitions = {}) leaves no room for {more} more partitions.",
                self.max_partitions
            ));
        }
        Ok(())
    }

    /// Records `more` partitions as added (or, for validate-only requests, as if added).
    pub(crate) fn take(&mut self, more: usize) {
        self.added = self.added.saturating_add(more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_request: usize) -> StorageLimits {
        StorageLimits {
            log_max_open_files: 64,
            max_partitions: max,
            max_partitions_per_request: per_request,
        }
    }

    #[test]
    fn a_request_is_refused_once_its_partitions_pass_the_per_request_limit() {
        let mut allowance = PartitionAllowance::new(&limits(1000, 10));
        assert!(allowance.check_request(6).is_ok());
        allowance.take(6);
        let message = allowance.check_request(5).unwrap_err();
        assert!(message.contains("max_partitions_per_request"), "{message}");
        assert!(
            allowance.check_request(4).is_ok(),
            "a smaller topic still fits"
        );
    }

    #[test]
    fn the_broker_limit_counts_existing_partitions_without_revealing_them() {
        let allowance = PartitionAllowance::new(&limits(100, 1000));
        assert!(allowance.check_broker(90, 10).is_ok());
        let message = allowance.check_broker(91, 10).unwrap_err();
        assert!(message.contains("max_partitions = 100"), "{message}");
        assert!(!message.contains("91"), "{message}");
    }
}
