//! The background task that enforces `retention.ms` and `retention.bytes` on every partition,
//! as Kafka's log cleaner thread does every `log.retention.check.interval.ms`.

use crate::metadata::now_ms;
use crate::Broker;
use std::time::Duration;

/// Runs forever; spawn it once per broker.
pub async fn run(broker: Broker, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let partitions = broker.partitions.all(crate::access::internal_key());
        let result = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            for p in partitions {
                if let Err(e) = p.log.enforce_retention(now) {
                    tracing::warn!(error = %e, partition = p.index, "retention failed");
                }
            }
        })
        .await;
        if result.is_err() {
            tracing::error!("retention task panicked");
        }
    }
}
