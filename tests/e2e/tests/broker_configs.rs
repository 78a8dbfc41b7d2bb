//! DescribeConfigs on the broker resource reports the broker's own settings, including
//! `connections.max.reauth.ms` (KIP-368), as librdkafka's admin client sees them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use schloss_e2e::*;

#[test]
fn describe_configs_shows_broker_settings_including_reauth() {
    let broker = BrokerProcess::start_with(BrokerOptions {
        extra_config: "[auth]\nconnections_max_reauth_ms = 60000\n".into(),
        ..BrokerOptions::default()
    });
    let admin = admin(&broker.bootstrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = rt
        .block_on(admin.describe_configs([&ResourceSpecifier::Broker(1)], &AdminOptions::new()))
        .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    let get = |name: &str| resource.get(name).and_then(|e| e.value.clone());
    assert_eq!(get("connections.max.reauth.ms").as_deref(), Some("60000"));
    assert_eq!(get("num.partitions").as_deref(), Some("1"));
    assert_eq!(get("log.retention.ms").as_deref(), Some("604800000"));
    assert_eq!(get("message.max.bytes").as_deref(), Some("1048588"));
}
