//! The descriptor budget, decided once at start. Sockets and log files share the process's
//! descriptor limit (RLIMIT_NOFILE); if either could take them all, a flood of connections
//! would make appends fail and a flood of partitions would refuse connections (and, before the
//! log's file cache, bricked restarts). So:
//!
//! 1. The soft limit is raised to the hard limit, as most servers do (the default soft limit
//!    of 1024 is a relic of `select(2)`).
//! 2. A reserve is set aside for everything that is neither a connection nor a log file:
//!    listeners, the runtime's epoll and event descriptors, stdio, the credential, TLS and
//!    policy files, checkpoint and directory fsyncs: [`RESERVE`] (a quarter of a tiny limit).
//! 3. The log's file cache gets `broker.log_max_open_files`, or by default half of the rest,
//!    at most [`DEFAULT_LOG_FILES_CAP`].
//! 4. Connections get what is left: a `max_connections` above it is clamped, with a warning.
//!    A configured `log_max_open_files` that leaves fewer than [`MIN_CONNECTIONS`] is clamped
//!    too.

use schloss_log::MIN_OPEN_FILES;

/// Descriptors kept for everything but connections and log files.
pub const RESERVE: u64 = 256;
/// Connections the split always leaves room for.
pub const MIN_CONNECTIONS: u64 = 16;
/// The default log file budget never exceeds this: enough for the active segment of every
/// partition up to the default `max_partitions` (50,000) to stay open.
pub const DEFAULT_LOG_FILES_CAP: u64 = 65_536;
/// What "unlimited" descriptors is taken to mean (Linux's default `fs.nr_open`).
const UNLIMITED: u64 = 1 << 20;

/// How the descriptor limit is split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdBudget {
    /// The process's (soft) descriptor limit.
    pub limit: u64,
    pub reserve: u64,
    pub log_files: usize,
    pub max_connections: usize,
    /// What had to be lowered to fit, for the operator.
    pub clamped: Vec<String>,
}

/// Splits `limit` descriptors between the reserve, the log's files and connections.
pub fn split(limit: u64, log_files: Option<usize>, max_connections: usize) -> FdBudget {
    let reserve = RESERVE.min(limit / 4);
    let available = limit.saturating_sub(reserve);
    let min_log = MIN_OPEN_FILES as u64;
    let mut clamped = Vec::new();
    let most_for_log = available.saturating_sub(MIN_CONNECTIONS).max(min_log);
    let log = match log_files {
        Some(n) if n as u64 > most_for_log => {
            clamped.push(format!(
                "broker.log_max_open_files {n} lowered to {most_for_log} (descriptor limit {limit})"
            ));
            most_for_log
        }
        Some(n) => n as u64,
        None => (available / 2).clamp(min_log, DEFAULT_LOG_FILES_CAP),
    };
    let room = available.saturating_sub(log).max(1);
    let connections = if max_connections as u64 > room {
        clamped.push(format!(
            "broker.max_connections {max_connections} lowered to {room} (descriptor limit {limit}, {log} for log files, {reserve} reserved)"
        ));
        room
    } else {
        max_connections as u64
    };
    FdBudget {
        limit,
        reserve,
        log_files: usize::try_from(log).unwrap_or(usize::MAX),
        max_connections: usize::try_from(connections).unwrap_or(usize::MAX),
        clamped,
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let before = getrlimit(Resource::Nofile);
    let target = before.maximum.unwrap_or(UNLIMITED);
    if before.current.is_some_and(|soft| soft < target) {
        let raised = Rlimit {
            current: Some(target),
            maximum: before.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %err, target, "cannot raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(UNLIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_4096_limit_is_split_between_log_files_and_connections() {
        let b = split(4096, None, 10_000);
        assert_eq!(b.reserve, 256);
        assert_eq!(b.log_files, 1920);
        assert_eq!(b.max_connections, 1920);
        assert_eq!(b.clamped.len(), 1, "{:?}", b.clamped);
        assert!(b.clamped[0].contains("max_connections"));
        assert!(b.reserve + b.log_files as u64 + b.max_connections as u64 <= 4096);
    }

    #[test]
    fn a_large_limit_caps_the_default_log_budget_and_keeps_connections() {
        let b = split(1 << 20, None, 10_000);
        assert_eq!(b.log_files as u64, DEFAULT_LOG_FILES_CAP);
        assert_eq!(b.max_connections, 10_000);
        assert!(b.clamped.is_empty());
    }

    #[test]
    fn a_configured_log_budget_too_large_for_the_limit_is_clamped() {
        let b = split(1024, Some(5000), 100);
        assert_eq!(b.log_files as u64, 1024 - 256 - MIN_CONNECTIONS);
        assert_eq!(b.max_connections, MIN_CONNECTIONS as usize);
        assert!(b.clamped.iter().any(|c| c.contains("log_max_open_files")));
        assert!(b.reserve + b.log_files as u64 + b.max_connections as u64 <= 1024);
    }

    #[test]
    fn the_split_never_exceeds_the_limit() {
        for limit in [32, 64, 100, 256, 1000, 4096, 65_536] {
            for log in [None, Some(8), Some(500), Some(100_000)] {
                let b = split(limit, log, 10_000);
                let total = b.reserve + b.log_files as u64 + b.max_connections as u64;
                assert!(total <= limit, "{limit} {log:?} {b:?}");
            }
        }
    }
}
