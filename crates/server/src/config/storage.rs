//! The log's open-file budget and the partition limits in the `[broker]` table:
//! `log_max_open_files`, `max_partitions`, `max_partitions_per_request`. How the file budget is
//! split between log files and connections at start is `crate::fd_budget`'s rule.

use super::{invalid, ConfigError, RawBroker};
use schloss_broker::storage_limits::StorageLimits;
use schloss_log::MIN_OPEN_FILES;

/// The storage limits, and the log's file budget if the operator set one (otherwise it is
/// derived from the process's descriptor limit at start).
pub(super) fn storage(b: &RawBroker) -> Result<(StorageLimits, Option<usize>), ConfigError> {
    let at_least = |key: &str, v: i64, min: usize| -> Result<usize, ConfigError> {
        usize::try_from(v)
            .ok()
            .filter(|v| *v >= min)
            .ok_or_else(|| invalid(format!("broker.{key}"), format!("must be at least {min}")))
    };
    let mut limits = StorageLimits::default();
    if let Some(v) = b.max_partitions {
        limits.max_partitions = at_least("max_partitions", v, 1)?;
    }
    if let Some(v) = b.max_partitions_per_request {
        limits.max_partitions_per_request = at_least("max_partitions_per_request", v, 1)?;
    }
    let log_files = b
        .log_max_open_files
        .map(|v| at_least("log_max_open_files", v, MIN_OPEN_FILES))
        .transpose()?;
    if let Some(n) = log_files {
        limits.log_max_open_files = n;
    }
    Ok((limits, log_files))
}
