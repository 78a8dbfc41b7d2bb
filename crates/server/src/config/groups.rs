//! The `[groups]` table: group coordinator settings, named after Kafka's broker configs.

use super::{invalid, ConfigError};
use schloss_broker::groups::GroupConfig;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroups {
    /// `group.initial.rebalance.delay.ms`
    initial_rebalance_delay_ms: Option<u64>,
    /// `group.min.session.timeout.ms`
    min_session_timeout_ms: Option<i32>,
    /// `group.max.session.timeout.ms`
    max_session_timeout_ms: Option<i32>,
    /// `group.max.size`
    max_size: Option<usize>,
    /// `offsets.retention.minutes`
    offsets_retention_minutes: Option<u64>,
    /// `offsets.retention.check.interval.ms`
    offsets_retention_check_interval_ms: Option<u64>,
    /// `offset.metadata.max.bytes`
    offset_metadata_max_bytes: Option<usize>,
    /// `group.consumer.session.timeout.ms`
    consumer_session_timeout_ms: Option<u64>,
    /// `group.consumer.heartbeat.interval.ms`
    consumer_heartbeat_interval_ms: Option<i32>,
    /// `group.consumer.max.size`
    consumer_max_size: Option<usize>,
}

pub(super) fn groups(raw: Option<RawGroups>) -> Result<GroupConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let d = GroupConfig::default();
    let config = GroupConfig {
        initial_rebalance_delay_ms: raw
            .initial_rebalance_delay_ms
            .unwrap_or(d.initial_rebalance_delay_ms),
        min_session_timeout_ms: raw
            .min_session_timeout_ms
            .unwrap_or(d.min_session_timeout_ms),
        max_session_timeout_ms: raw
            .max_session_timeout_ms
            .unwrap_or(d.max_session_timeout_ms),
        new_member_join_timeout_ms: d.new_member_join_timeout_ms,
        max_group_size: raw.max_size.unwrap_or(d.max_group_size),
        offsets_retention_ms: raw
            .offsets_retention_minutes
            .map_or(d.offsets_retention_ms, |m| m.saturating_mul(60_000)),
        offsets_retention_check_interval_ms: raw
            .offsets_retention_check_interval_ms
            .unwrap_or(d.offsets_retention_check_interval_ms),
        offset_metadata_max_bytes: raw
            .offset_metadata_max_bytes
            .unwrap_or(d.offset_metadata_max_bytes),
        consumer_session_timeout_ms: raw
            .consumer_session_timeout_ms
            .unwrap_or(d.consumer_session_timeout_ms),
        consumer_heartbeat_interval_ms: raw
            .consumer_heartbeat_interval_ms
            .unwrap_or(d.consumer_heartbeat_interval_ms),
        consumer_max_size: raw.consumer_max_size.unwrap_or(d.consumer_max_size),
    };
    if config.min_session_timeout_ms < 1
        || config.min_session_timeout_ms > config.max_session_timeout_ms
    {
        return Err(invalid(
            "groups.min_session_timeout_ms",
            "must be at least 1 and at most groups.max_session_timeout_ms",
        ));
    }
    if config.offsets_retention_check_interval_ms < 1 {
        return Err(invalid(
            "groups.offsets_retention_check_interval_ms",
            "must be at least 1",
        ));
    }
    if config.consumer_heartbeat_interval_ms < 1 {
        return Err(invalid(
            "groups.consumer_heartbeat_interval_ms",
            "must be at least 1",
        ));
    }
    Ok(config)
}
