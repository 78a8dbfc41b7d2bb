//! The configuration file: TOML parsed into a raw form (unknown keys rejected), then validated
//! into typed values. Every error names the key it is about.

mod authorization;
mod ceilings;
mod connections;
mod groups;
mod listener;
mod storage;

pub use connections::ConnectionConfig;
pub use listener::{AuthConfig, ClientAuth, ListenerConfig, SecurityProtocol, TlsSettings};

use schloss_broker::topic_config::BrokerDefaults;
use schloss_broker::BrokerSettings;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration compiled into the binary (`config/schloss.toml`).
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../../config/schloss.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    broker: RawBroker,
    #[serde(default)]
    topic_defaults: BTreeMap<String, toml::Value>,
    #[serde(default)]
    listeners: Vec<listener::RawListener>,
    auth: Option<listener::RawAuth>,
    groups: Option<groups::RawGroups>,
    authorization: Option<authorization::RawAuthorization>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBroker {
    node_id: i32,
    data_dir: PathBuf,
    #[serde(default = "default_partitions")]
    num_partitions: i32,
    #[serde(default = "default_true")]
    auto_create_topics: bool,
    #[serde(default = "default_request_max")]
    socket_request_max_bytes: i64,
    #[serde(default = "default_retention_check")]
    retention_check_interval_ms: i64,
    max_connections: Option<i64>,
    max_connections_per_ip: Option<i64>,
    #[serde(default)]
    max_connections_per_ip_overrides: BTreeMap<String, i64>,
    connection_creation_rate: Option<i64>,
    #[serde(default)]
    connection_creation_rate_overrides: BTreeMap<String, i64>,
    max_connections_per_tenant: Option<i64>,
    #[serde(default)]
    max_connections_per_tenant_overrides: BTreeMap<String, i64>,
    connections_max_idle_ms: Option<i64>,
    queued_max_request_bytes: Option<i64>,
    max_in_flight_requests_per_connection: Option<i64>,
    frame_timeout_ms: Option<i64>,
    max_message_bytes_ceiling: Option<i64>,
    max_uncompressed_batch_bytes: Option<i64>,
    min_segment_bytes: Option<i64>,
    min_segment_ms: Option<i64>,
    // File budget and partition limits (storage.rs).
    log_max_open_files: Option<i64>,
    max_partitions: Option<i64>,
    max_partitions_per_request: Option<i64>,
}

fn default_partitions() -> i32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_request_max() -> i64 {
    104_857_600
}
fn default_retention_check() -> i64 {
    300_000
}

#[derive(Debug, Clone)]
pub struct Config {
    pub broker: BrokerSettings,
    pub retention_check_interval: Duration,
    pub listeners: Vec<ListenerConfig>,
    pub auth: AuthConfig,
    pub connections: ConnectionConfig,
    /// `broker.log_max_open_files` as configured; `None`: derived from the descriptor limit.
    pub log_max_open_files: Option<usize>,
    /// `[authorization]`: mode, policy directory, super users.
    pub authorization: schloss_policy::StoreConfig,
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                Self::parse(&text)
            }
            None => Self::parse(EMBEDDED_DEFAULT),
        }
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let b = raw.broker;
        if b.node_id < 0 {
            return Err(invalid("broker.node_id", "must be 0 or more"));
        }
        if b.num_partitions < 1 {
            return Err(invalid("broker.num_partitions", "must be at least 1"));
        }
        let socket_request_max_bytes = usize::try_from(b.socket_request_max_bytes)
            .ok()
            .filter(|v| *v >= 1024 && *v <= i32::MAX as usize)
            .ok_or_else(|| {
                invalid(
                    "broker.socket_request_max_bytes",
                    "must be between 1024 and 2147483647",
                )
            })?;
        let connections = connections::connections(&b, socket_request_max_bytes)?;
        let (storage, log_max_open_files) = storage::storage(&b)?;
        let retention_check = u64::try_from(b.retention_check_interval_ms)
            .ok()
            .filter(|v| *v >= 10)
            .ok_or_else(|| invalid("broker.retention_check_interval_ms", "must be at least 10"))?;
        let mut defaults = BTreeMap::new();
        for (k, v) in raw.topic_defaults {
            let value = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => {
                    return Err(invalid(
                        format!("topic_defaults.\"{k}\""),
                        "must be a string, number or boolean",
                    ))
                }
            };
            defaults.insert(k, value);
        }
        let topic_defaults = BrokerDefaults::new(defaults, ceilings::ceilings(&b)?)
            .map_err(|e| invalid("topic_defaults", e.to_string()))?;
        if raw.listeners.is_empty() {
            return Err(invalid("listeners", "at least one listener is required"));
        }
        let auth = listener::auth(raw.auth)?;
        let mut listeners = Vec::new();
        for (i, l) in raw.listeners.into_iter().enumerate() {
            listeners.push(listener::listener(i, l, &auth)?);
        }
        Ok(Self {
            broker: BrokerSettings {
                node_id: b.node_id,
                data_dir: b.data_dir,
                num_partitions: b.num_partitions,
                auto_create_topics: b.auto_create_topics,
                socket_request_max_bytes,
                connections_max_reauth_ms: auth.connections_max_reauth_ms,
                topic_defaults,
                groups: groups::groups(raw.groups)?,
                storage,
            },
            retention_check_interval: Duration::from_millis(retention_check),
            listeners,
            auth,
            connections,
            log_max_open_files,
            authorization: authorization::authorization(raw.authorization)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_valid() {
        let c = Config::parse(EMBEDDED_DEFAULT).unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].address.port(), 9092);
        assert_eq!(c.broker.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn an_unauthenticated_listener_refuses_a_public_address() {
        let text = EMBEDDED_DEFAULT.replace("127.0.0.1:9092", "0.0.0.0:9092");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("listeners[0].address"), "{err}");
        let text = text.replace(
            "tenant = \"default\"",
            "tenant = \"default\"\nallow_insecure = true",
        );
        assert!(Config::parse(&text).is_ok());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = EMBEDDED_DEFAULT.replace("node_id = 1", "node_id = 1\nnode_idd = 2");
        assert!(Config::parse(&text).is_err());
    }

    #[test]
    fn partition_limits_and_the_file_budget_are_read_and_checked() {
        let c = Config::parse(EMBEDDED_DEFAULT).unwrap();
        assert_eq!(c.broker.storage, Default::default());
        assert_eq!(c.log_max_open_files, None);
        let text = EMBEDDED_DEFAULT.replace(
            "node_id = 1",
            "node_id = 1\nmax_partitions = 200\nmax_partitions_per_request = 50\nlog_max_open_files = 300",
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.broker.storage.max_partitions, 200);
        assert_eq!(c.broker.storage.max_partitions_per_request, 50);
        assert_eq!(c.log_max_open_files, Some(300));
        let text = EMBEDDED_DEFAULT.replace("node_id = 1", "node_id = 1\nlog_max_open_files = 2");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("broker.log_max_open_files"), "{err}");
        let text = EMBEDDED_DEFAULT.replace("node_id = 1", "node_id = 1\nmax_partitions = 0");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("broker.max_partitions"), "{err}");
    }

    #[test]
    fn bad_topic_defaults_name_the_key() {
        let text = EMBEDDED_DEFAULT.replace(
            "# \"retention.ms\" = \"604800000\"",
            "\"retention.ms\" = \"soon\"",
        );
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("retention.ms"), "{err}");
    }
}
