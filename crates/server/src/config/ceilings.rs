//! Broker ceilings on what a client may set in a topic config (`[broker]` keys):
//! `max_message_bytes_ceiling`, `max_uncompressed_batch_bytes`, `min_segment_bytes`,
//! `min_segment_ms`. docs/security.md lists which client-settable values each one bounds.

use super::{invalid, ConfigError, RawBroker};
use schloss_broker::topic_config::TopicCeilings;

pub(super) fn ceilings(b: &RawBroker) -> Result<TopicCeilings, ConfigError> {
    let defaults = TopicCeilings::default();
    let at_least = |key: &str, v: Option<i64>, min: i64, max: i64, default: i64| match v {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(invalid(
            format!("broker.{key}"),
            format!("must be between {min} and {max}"),
        )),
    };
    let int_max = i64::from(i32::MAX);
    let as_usize = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
    let max_message_bytes = at_least(
        "max_message_bytes_ceiling",
        b.max_message_bytes_ceiling,
        1,
        int_max,
        i64::try_from(defaults.max_message_bytes).unwrap_or(int_max),
    )?;
    let max_uncompressed_batch_bytes = at_least(
        "max_uncompressed_batch_bytes",
        b.max_uncompressed_batch_bytes,
        // A batch must at least be able to decompress to its own size.
        max_message_bytes,
        1 << 40,
        i64::try_from(defaults.max_uncompressed_batch_bytes)
            .unwrap_or(int_max)
            .max(max_message_bytes),
    )?;
    Ok(TopicCeilings {
        max_message_bytes: as_usize(max_message_bytes),
        max_uncompressed_batch_bytes: as_usize(max_uncompressed_batch_bytes),
        min_segment_bytes: at_least(
            "min_segment_bytes",
            b.min_segment_bytes,
            1024,
            int_max,
            defaults.min_segment_bytes,
        )?,
        min_segment_ms: at_least(
            "min_segment_ms",
            b.min_segment_ms,
            1,
            i64::MAX,
            defaults.min_segment_ms,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, EMBEDDED_DEFAULT};

    fn with(extra: &str) -> Result<Config, String> {
        let text = EMBEDDED_DEFAULT.replace("node_id = 1", &format!("node_id = 1\n{extra}"));
        Config::parse(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn ceilings_default_and_bound_topic_defaults() {
        let c = with("").unwrap();
        let ceilings = c.broker.topic_defaults.ceilings();
        assert_eq!(ceilings.max_message_bytes, 16 << 20);
        assert_eq!(ceilings.min_segment_ms, 60_000);
        let err = with("max_message_bytes_ceiling = 0").unwrap_err();
        assert!(err.contains("broker.max_message_bytes_ceiling"), "{err}");
        let err =
            with("max_message_bytes_ceiling = 2000000\nmax_uncompressed_batch_bytes = 1000000")
                .unwrap_err();
        assert!(err.contains("broker.max_uncompressed_batch_bytes"), "{err}");
        // A static topic default past a ceiling refuses to start, naming the key.
        let text = EMBEDDED_DEFAULT.replace(
            "# \"retention.ms\" = \"604800000\"",
            "\"max.message.bytes\" = \"2147483647\"",
        );
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("max.message.bytes"), "{err}");
    }
}
