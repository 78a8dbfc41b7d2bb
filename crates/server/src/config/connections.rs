//! Connection limits in the `[broker]` table, named after Kafka's broker configs where Kafka
//! has one: `max_connections`, `max_connections_per_ip` (+ `_overrides`),
//! `connection_creation_rate` (+ `_overrides`; Kafka's per-IP quota),
//! `connections_max_idle_ms`, `queued_max_request_bytes`; and schloss's own
//! `max_connections_per_tenant` (+ `_overrides`), `max_in_flight_requests_per_connection` and
//! `frame_timeout_ms`.

use super::{invalid, ConfigError, RawBroker};
use crate::conn_rate::CreationRate;
use crate::connection::DEFAULT_MAX_IN_FLIGHT;
use crate::limits::{
    ConnectionLimits, DEFAULT_CONNECTION_CREATION_RATE, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_IP,
};
use schloss_model::TenantId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Kafka's `connections.max.idle.ms` default (10 minutes).
const DEFAULT_IDLE_MS: u64 = 600_000;
/// A request frame must arrive whole within this long once it has started. Clients give up on
/// a request after `request.timeout.ms` (30 s) anyway.
const DEFAULT_FRAME_TIMEOUT_MS: u64 = 60_000;
/// `queued.max.request.bytes` unless configured (Kafka: unlimited). Raised to
/// `socket_request_max_bytes` if that is larger, so the largest request always fits.
const DEFAULT_QUEUED_MAX_REQUEST_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub limits: ConnectionLimits,
    pub idle_timeout: Duration,
    pub frame_timeout: Duration,
    pub max_in_flight: usize,
    /// `None`: unlimited (`queued_max_request_bytes = -1`).
    pub queued_max_request_bytes: Option<usize>,
}

pub(super) fn connections(
    b: &RawBroker,
    socket_request_max_bytes: usize,
) -> Result<ConnectionConfig, ConfigError> {
    let positive = |key: &str, v: Option<i64>, default: usize| -> Result<usize, ConfigError> {
        match v {
            None => Ok(default),
            Some(v) => usize::try_from(v)
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| invalid(format!("broker.{key}"), "must be at least 1")),
        }
    };
    let max_connections = positive(
        "max_connections",
        b.max_connections,
        DEFAULT_MAX_CONNECTIONS,
    )?;
    // -1 turns a per-address bound off (Kafka's default for both).
    let unlimited_or = |key: &str, v: Option<i64>, default: usize| match v {
        None => Ok(Some(default)),
        Some(-1) => Ok(None),
        Some(v) => usize::try_from(v)
            .ok()
            .filter(|v| *v >= 1)
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    format!("broker.{key}"),
                    "must be -1 (unlimited) or at least 1",
                )
            }),
    };
    let max_per_ip = unlimited_or(
        "max_connections_per_ip",
        b.max_connections_per_ip,
        DEFAULT_MAX_CONNECTIONS_PER_IP,
    )?;
    let rate_per_ip = unlimited_or(
        "connection_creation_rate",
        b.connection_creation_rate,
        usize::try_from(DEFAULT_CONNECTION_CREATION_RATE).unwrap_or(usize::MAX),
    )?
    .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let mut rate_overrides = HashMap::new();
    for (addr, v) in &b.connection_creation_rate_overrides {
        let key = format!("broker.connection_creation_rate_overrides.\"{addr}\"");
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| invalid(&key, "must be an IP address"))?;
        let n = u32::try_from(*v).map_err(|_| invalid(&key, "must be 0 or more"))?;
        rate_overrides.insert(ip, n);
    }
    let max_per_tenant = b
        .max_connections_per_tenant
        .map(|v| positive("max_connections_per_tenant", Some(v), 0))
        .transpose()?;
    let mut per_ip_overrides = HashMap::new();
    for (addr, v) in &b.max_connections_per_ip_overrides {
        let key = format!("broker.max_connections_per_ip_overrides.\"{addr}\"");
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| invalid(&key, "must be an IP address"))?;
        let n = usize::try_from(*v).map_err(|_| invalid(&key, "must be 0 or more"))?;
        per_ip_overrides.insert(ip, n);
    }
    let mut per_tenant_overrides = HashMap::new();
    for (name, v) in &b.max_connections_per_tenant_overrides {
        let key = format!("broker.max_connections_per_tenant_overrides.\"{name}\"");
        let tenant = TenantId::new(name).map_err(|e| invalid(&key, e.to_string()))?;
        let n = usize::try_from(*v).map_err(|_| invalid(&key, "must be 0 or more"))?;
        per_tenant_overrides.insert(tenant, n);
    }
    let millis = |key: &str, v: Option<i64>, default: u64| -> Result<Duration, ConfigError> {
        let ms = match v {
            None => default,
            Some(v) => u64::try_from(v)
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| invalid(format!("broker.{key}"), "must be at least 1"))?,
        };
        Ok(Duration::from_millis(ms))
    };
    let queued_max_request_bytes = match b.queued_max_request_bytes {
        None => Some(DEFAULT_QUEUED_MAX_REQUEST_BYTES.max(socket_request_max_bytes)),
        Some(-1) => None,
        Some(v) => Some(
            usize::try_from(v)
                .ok()
                .filter(|v| *v >= socket_request_max_bytes)
                .ok_or_else(|| {
                    invalid(
                        "broker.queued_max_request_bytes",
                        "must be -1 (unlimited) or at least socket_request_max_bytes",
                    )
                })?,
        ),
    };
    Ok(ConnectionConfig {
        limits: ConnectionLimits {
            max_connections,
            max_per_ip,
            per_ip_overrides,
            creation_rate: CreationRate {
                per_ip: rate_per_ip,
                per_ip_overrides: rate_overrides,
            },
            max_per_tenant,
            per_tenant_overrides,
        },
        idle_timeout: millis(
            "connections_max_idle_ms",
            b.connections_max_idle_ms,
            DEFAULT_IDLE_MS,
        )?,
        frame_timeout: millis(
            "frame_timeout_ms",
            b.frame_timeout_ms,
            DEFAULT_FRAME_TIMEOUT_MS,
        )?,
        max_in_flight: positive(
            "max_in_flight_requests_per_connection",
            b.max_in_flight_requests_per_connection,
            DEFAULT_MAX_IN_FLIGHT,
        )?,
        queued_max_request_bytes,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    fn with(keys: &str) -> Result<Config, String> {
        let text = EMBEDDED_DEFAULT.replace("node_id = 1", &format!("node_id = 1\n{keys}"));
        Config::parse(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_bound_everything() {
        let c = with("").unwrap().connections;
        assert_eq!(c.limits.max_connections, 10_000);
        assert_eq!(c.limits.max_per_ip, Some(1_000));
        assert_eq!(c.limits.creation_rate.per_ip, Some(100));
        assert_eq!(c.idle_timeout.as_millis(), 600_000);
        assert_eq!(c.max_in_flight, 128);
        assert_eq!(c.queued_max_request_bytes, Some(512 << 20));
    }

    #[test]
    fn limits_and_overrides_parse() {
        let c = with(
            "max_connections = 5\nmax_connections_per_ip = 2\n\
             max_connections_per_ip_overrides = { \"127.0.0.2\" = 1 }\n\
             max_connections_per_tenant = 3\n\
             max_connections_per_tenant_overrides = { acme = 0 }\n\
             connections_max_idle_ms = 2000\nframe_timeout_ms = 1500\n\
             max_in_flight_requests_per_connection = 4\nqueued_max_request_bytes = -1\n\
             connection_creation_rate = 7\n\
             connection_creation_rate_overrides = { \"127.0.0.1\" = 0, \"::1\" = 500 }",
        )
        .unwrap()
        .connections;
        assert_eq!(c.limits.max_connections, 5);
        assert_eq!(c.limits.max_per_ip, Some(2));
        assert_eq!(c.limits.per_ip_overrides.len(), 1);
        assert_eq!(c.limits.max_per_tenant, Some(3));
        assert_eq!(c.limits.per_tenant_overrides.values().next(), Some(&0));
        assert_eq!(c.frame_timeout.as_millis(), 1500);
        assert_eq!(c.max_in_flight, 4);
        assert_eq!(c.queued_max_request_bytes, None);
        assert_eq!(c.limits.creation_rate.per_ip, Some(7));
        assert_eq!(c.limits.creation_rate.per_ip_overrides.len(), 2);
    }

    #[test]
    fn minus_one_turns_per_address_bounds_off() {
        let c = with("max_connections_per_ip = -1\nconnection_creation_rate = -1")
            .unwrap()
            .connections;
        assert_eq!(c.limits.max_per_ip, None);
        assert_eq!(c.limits.creation_rate.per_ip, None);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (keys, key) in [
            ("max_connections = 0", "broker.max_connections"),
            (
                "max_connections_per_ip_overrides = { \"nope\" = 1 }",
                "max_connections_per_ip_overrides",
            ),
            (
                "queued_max_request_bytes = 1024",
                "broker.queued_max_request_bytes",
            ),
            ("frame_timeout_ms = 0", "broker.frame_timeout_ms"),
            (
                "connection_creation_rate = 0",
                "broker.connection_creation_rate",
            ),
            (
                "connection_creation_rate_overrides = { \"10.0.0.1\" = -1 }",
                "connection_creation_rate_overrides",
            ),
        ] {
            let err = with(keys).unwrap_err();
            assert!(err.contains(key), "{keys}: {err}");
        }
    }
}
