use schloss_log::LogError;

/// Errors of the broker layer. Per-resource problems are answered with Kafka error codes
/// inside the response and never become a `BrokerError`; this enum is for failures of the
/// broker itself (disk, metadata log).
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("metadata log: {0}")]
    Metadata(String),
    #[error("internal: {0}")]
    Internal(String),
}
