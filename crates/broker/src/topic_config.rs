//! Topic configuration with Kafka's names, defaults, validation and broker-level synonyms.
//!
//! A topic stores only its overrides; the effective value of a key is the override, else the
//! broker's static default (from the config file), else Kafka's default.
//!
//! A client may set topic configs (CreateTopics, AlterConfigs, IncrementalAlterConfigs), so
//! none of them may size a broker allocation unchecked: [`TopicCeilings`] are the broker's
//! bounds on them. Validation refuses values past a ceiling, and the effective getters clamp
//! to it as well, so a value stored before a ceiling was lowered is bounded too.

use schloss_log::{Durability, LogConfig};
use schloss_model::batch::{Compression, TimestampType};
use std::collections::BTreeMap;

/// Kafka's `ConfigType` numbering in DescribeConfigs v3+.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// One topic-level key: its default, the broker setting it falls back to, and how to validate.
#[derive(Debug)]
pub struct ConfigKey {
    pub name: &'static str,
    pub broker_synonym: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    /// Keys we accept and report but whose behaviour we do not act on (replication and
    /// compaction settings on a single node); listed so Kafka tools do not trip over them.
    pub inert: bool,
    pub documentation: &'static str,
}

const LONG_MAX: &str = "9223372036854775807";

macro_rules! keys {
    ($( $name:literal, $syn:literal, $default:expr, $kind:ident, $inert:literal, $doc:literal; )*) => {
        /// Every topic config key we know, in Kafka's alphabetical order.
        pub const TOPIC_CONFIG_KEYS: &[ConfigKey] = &[
            $( ConfigKey { name: $name, broker_synonym: $syn, default: $default, kind: ConfigType::$kind, inert: $inert, documentation: $doc }, )*
        ];
    };
}

keys! {
    "cleanup.policy", "log.cleanup.policy", "delete", List, false, "Retention policy: `delete` (compaction is not supported yet).";
    "compression.gzip.level", "compression.gzip.level", "-1", Int, false, "Gzip level when compression.type=gzip.";
    "compression.lz4.level", "compression.lz4.level", "9", Int, false, "Lz4 level when compression.type=lz4.";
    "compression.type", "compression.type", "producer", String, false, "Codec stored on disk: `producer` keeps batches as sent.";
    "compression.zstd.level", "compression.zstd.level", "3", Int, false, "Zstd level when compression.type=zstd.";
    "delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", Long, true, "Tombstone retention for compacted topics.";
    "file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", Long, true, "Delay before a deleted segment leaves the file system.";
    "flush.messages", "log.flush.interval.messages", "1", Long, false, "1: fsync before acknowledging (group commit). Any other value: acknowledge after the write reaches the OS.";
    "flush.ms", "log.flush.interval.ms", LONG_MAX, Long, true, "Time-based flush (the OS flushes when flush.messages is not 1).";
    "index.interval.bytes", "log.index.interval.bytes", "4096", Int, false, "Bytes between offset index entries.";
    "local.retention.bytes", "log.local.retention.bytes", "-2", Long, true, "Tiered storage: not supported.";
    "local.retention.ms", "log.local.retention.ms", "-2", Long, true, "Tiered storage: not supported.";
    "max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", LONG_MAX, Long, true, "Compaction: not supported yet.";
    "max.message.bytes", "message.max.bytes", "1048588", Int, false, "Largest record batch accepted, after compression.";
    "message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", "3600000", Long, false, "How far in the future a CreateTime timestamp may be.";
    "message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", LONG_MAX, Long, false, "How far in the past a CreateTime timestamp may be.";
    "message.timestamp.type", "log.message.timestamp.type", "CreateTime", String, false, "CreateTime or LogAppendTime.";
    "min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5", Double, true, "Compaction: not supported yet.";
    "min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", Long, true, "Compaction: not supported yet.";
    "min.insync.replicas", "min.insync.replicas", "1", Int, true, "Single node: always 1 in sync.";
    "preallocate", "log.preallocate", "false", Boolean, true, "Segment preallocation: not used.";
    "remote.storage.enable", "remote.log.storage.system.enable", "false", Boolean, true, "Tiered storage: not supported.";
    "retention.bytes", "log.retention.bytes", "-1", Long, false, "Largest partition size before old segments are deleted; -1 unlimited.";
    "retention.ms", "log.retention.ms", "604800000", Long, false, "Age after which whole segments are deleted; -1 unlimited.";
    "segment.bytes", "log.segment.bytes", "1073741824", Int, false, "Segment size before a new segment is rolled.";
    "segment.index.bytes", "log.index.size.max.bytes", "10485760", Int, true, "Index file size bound.";
    "segment.jitter.ms", "log.roll.jitter.ms", "0", Long, true, "Jitter for segment.ms.";
    "segment.ms", "log.roll.ms", "604800000", Long, false, "Age after which a new segment is rolled.";
    "unclean.leader.election.enable", "unclean.leader.election.enable", "false", Boolean, true, "Single node: no effect.";
}

pub fn lookup(name: &str) -> Option<&'static ConfigKey> {
    TOPIC_CONFIG_KEYS.iter().find(|k| k.name == name)
}

/// Decompression output allowed per batch relative to `max.message.bytes`: Kafka bounds the
/// compressed batch, and producers fill batches by estimated compressed size, so a legitimate
/// batch may expand to several times `max.message.bytes`; never by more than this factor.
pub const DECOMPRESSION_RATIO_LIMIT: usize = 16;

/// The broker's bounds on values a client may set in a topic config (`[broker]` keys of the
/// same names; docs/security.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicCeilings {
    /// The largest `max.message.bytes` (`max_message_bytes_ceiling`).
    pub max_message_bytes: usize,
    /// The most one batch may decompress to while it is checked on produce
    /// (`max_uncompressed_batch_bytes`), whatever its topic's `max.message.bytes`.
    pub max_uncompressed_batch_bytes: usize,
    /// The smallest `segment.bytes` (`min_segment_bytes`).
    pub min_segment_bytes: i64,
    /// The smallest `segment.ms` (`min_segment_ms`).
    pub min_segment_ms: i64,
}

impl Default for TopicCeilings {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 << 20,
            max_uncompressed_batch_bytes: 64 << 20,
            // Kafka 4.0's minimum (KIP-1030).
            min_segment_bytes: 1 << 20,
            // The minimum KIP-1030 sets for Kafka 5.0: a segment per minute at most.
            min_segment_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown topic config `{0}`")]
    Unknown(String),
    #[error("invalid value `{value}` for `{name}`: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

fn invalid(name: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Checks one key/value pair as Kafka's LogConfig would, and against the broker's ceilings.
pub fn validate(name: &str, value: &str, ceilings: &TopicCeilings) -> Result<(), ConfigError> {
    let key = lookup(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
    let long = || {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid(name, value, "not a number"))
    };
    match key.kind {
        ConfigType::Boolean => {
            if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(invalid(name, value, "must be true or false"));
            }
        }
        ConfigType::Int => {
            let v = long()?;
            if i32::try_from(v).is_err() {
                return Err(invalid(name, value, "out of range for an int"));
            }
        }
        ConfigType::Long => {
            long()?;
        }
        ConfigType::Double => {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid(name, value, "not a number"))?;
        }
        ConfigType::String | ConfigType::List => {}
    }
    match name {
        "cleanup.policy" if value != "delete" => {
            Err(invalid(name, value, "only `delete` is supported"))
        }
        "compression.type" if parse_compression_type(value).is_none() => Err(invalid(
            name,
            value,
            "must be one of producer, uncompressed, gzip, snappy, lz4, zstd",
        )),
        "message.timestamp.type" if !matches!(value, "CreateTime" | "LogAppendTime") => {
            Err(invalid(name, value, "must be CreateTime or LogAppendTime"))
        }
        "retention.ms" | "retention.bytes" if long()? < -1 => {
            Err(invalid(name, value, "must be -1 or more"))
        }
        "segment.bytes" if long()? < ceilings.min_segment_bytes => Err(invalid(
            name,
            value,
            format!(
                "must be at least {} (the broker's min_segment_bytes)",
                ceilings.min_segment_bytes
            ),
        )),
        "segment.ms" if long()? < ceilings.min_segment_ms => Err(invalid(
            name,
            value,
            format!(
                "must be at least {} (the broker's min_segment_ms)",
                ceilings.min_segment_ms
            ),
        )),
        "flush.messages" | "index.interval.bytes" if long()? < 1 => {
            Err(invalid(name, value, "must be at least 1"))
        }
        "max.message.bytes"
            if !usize::try_from(long()?).is_ok_and(|v| v <= ceilings.max_message_bytes) =>
        {
            Err(invalid(
                name,
                value,
                format!(
                    "must be between 0 and {} (the broker's max_message_bytes_ceiling)",
                    ceilings.max_message_bytes
                ),
            ))
        }
        "message.timestamp.after.max.ms" | "message.timestamp.before.max.ms" if long()? < 0 => {
            Err(invalid(name, value, "must be 0 or more"))
        }
        _ => Ok(()),
    }
}

/// What `compression.type` asks the broker to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredCompression {
    /// Keep the producer's bytes as sent.
    Producer,
    Codec(Compression),
}

pub fn parse_compression_type(value: &str) -> Option<StoredCompression> {
    Some(match value {
        "producer" => StoredCompression::Producer,
        "uncompressed" | "none" => StoredCompression::Codec(Compression::None),
        "gzip" => StoredCompression::Codec(Compression::Gzip),
        "snappy" => StoredCompression::Codec(Compression::Snappy),
        "lz4" => StoredCompression::Codec(Compression::Lz4),
        "zstd" => StoredCompression::Codec(Compression::Zstd),
        _ => return None,
    })
}

/// Where an effective value came from, numbered as DescribeConfigs v1+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Topic = 1,
    StaticBroker = 4,
    Default = 5,
}

/// Broker-wide topic defaults (the `[topic_defaults]` table of the config file), keyed by
/// topic config name, and the ceilings every topic's values are held to.
#[derive(Debug, Clone, Default)]
pub struct BrokerDefaults {
    values: BTreeMap<String, String>,
    ceilings: TopicCeilings,
}

impl BrokerDefaults {
    pub fn new(
        values: BTreeMap<String, String>,
        ceilings: TopicCeilings,
    ) -> Result<Self, ConfigError> {
        for (k, v) in &values {
            validate(k, v, &ceilings)?;
        }
        Ok(Self { values, ceilings })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn ceilings(&self) -> &TopicCeilings {
        &self.ceilings
    }

    /// Checks a value a client wants to set, against these ceilings.
    pub fn validate(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        validate(name, value, &self.ceilings)
    }
}

/// One resolved entry.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub key: &'static ConfigKey,
    pub value: String,
    pub source: ConfigSource,
    /// The values this one overrides, strongest first (for `include_synonyms`).
    pub synonyms: Vec<(String, String, ConfigSource)>,
}

/// The effective configuration of one topic.
#[derive(Debug, Clone)]
pub struct EffectiveConfig<'a> {
    pub overrides: &'a BTreeMap<String, String>,
    pub defaults: &'a BrokerDefaults,
}

impl EffectiveConfig<'_> {
    pub fn get(&self, name: &str) -> String {
        if let Some(v) = self.overrides.get(name) {
            return v.clone();
        }
        if let Some(v) = self.defaults.get(name) {
            return v.to_owned();
        }
        lookup(name)
            .map(|k| k.default.to_owned())
            .unwrap_or_default()
    }

    fn long(&self, name: &str) -> i64 {
        let fallback = lookup(name)
            .and_then(|k| k.default.parse().ok())
            .unwrap_or(0);
        self.get(name).trim().parse().unwrap_or(fallback)
    }

    pub fn resolve_all(&self) -> Vec<Resolved> {
        TOPIC_CONFIG_KEYS.iter().map(|k| self.resolve(k)).collect()
    }

    pub fn resolve(&self, key: &'static ConfigKey) -> Resolved {
        let mut synonyms = Vec::new();
        if let Some(v) = self.overrides.get(key.name) {
            synonyms.push((key.name.to_owned(), v.clone(), ConfigSource::Topic));
        }
        if let Some(v) = self.defaults.get(key.name) {
            synonyms.push((
                key.broker_synonym.to_owned(),
                v.to_owned(),
                ConfigSource::StaticBroker,
            ));
        }
        synonyms.push((
            key.broker_synonym.to_owned(),
            key.default.to_owned(),
            ConfigSource::Default,
        ));
        let (value, source) = synonyms
            .first()
            .map(|(_, v, s)| (v.clone(), *s))
            .unwrap_or((key.default.to_owned(), ConfigSource::Default));
        Resolved {
            key,
            value,
            source,
            synonyms,
        }
    }

    /// `max.message.bytes`, never above the broker's ceiling.
    pub fn max_message_bytes(&self) -> usize {
        usize::try_from(self.long("max.message.bytes"))
            .unwrap_or(0)
            .min(self.defaults.ceilings.max_message_bytes)
    }

    /// The most one produced batch may decompress to while it is checked:
    /// [`DECOMPRESSION_RATIO_LIMIT`] x `max.message.bytes`, never above the broker's
    /// `max_uncompressed_batch_bytes`.
    pub fn decompression_cap(&self) -> usize {
        self.max_message_bytes()
            .saturating_mul(DECOMPRESSION_RATIO_LIMIT)
            .min(self.defaults.ceilings.max_uncompressed_batch_bytes)
    }

    pub fn stored_compression(&self) -> StoredCompression {
        parse_compression_type(&self.get("compression.type")).unwrap_or(StoredCompression::Producer)
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.get("message.timestamp.type") == "LogAppendTime" {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn timestamp_bounds(&self) -> (i64, i64) {
        (
            self.long("message.timestamp.before.max.ms"),
            self.long("message.timestamp.after.max.ms"),
        )
    }

    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            segment_bytes: u64::try_from(
                self.long("segment.bytes")
                    .max(self.defaults.ceilings.min_segment_bytes),
            )
            .unwrap_or(1 << 30),
            segment_ms: self
                .long("segment.ms")
                .max(self.defaults.ceilings.min_segment_ms),
            retention_ms: self.long("retention.ms"),
            retention_bytes: self.long("retention.bytes"),
            index_interval_bytes: u32::try_from(self.long("index.interval.bytes")).unwrap_or(4096),
            durability: if self.long("flush.messages") == 1 {
                Durability::Fsync
            } else {
                Durability::OsCache
            },
            timestamp_type: self.timestamp_type(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_beat_broker_defaults_beat_kafka_defaults() {
        let mut broker = BTreeMap::new();
        broker.insert("retention.ms".to_owned(), "1000".to_owned());
        let defaults = BrokerDefaults::new(broker, TopicCeilings::default()).unwrap();
        let mut overrides = BTreeMap::new();
        let eff = EffectiveConfig {
            overrides: &overrides,
            defaults: &defaults,
        };
        assert_eq!(eff.get("retention.ms"), "1000");
        assert_eq!(eff.get("segment.ms"), "604800000");
        let r = eff.resolve(lookup("retention.ms").unwrap());
        assert_eq!(r.source, ConfigSource::StaticBroker);
        assert_eq!(r.synonyms.len(), 2);
        overrides.insert("retention.ms".to_owned(), "5".to_owned());
        let eff = EffectiveConfig {
            overrides: &overrides,
            defaults: &defaults,
        };
        let r = eff.resolve(lookup("retention.ms").unwrap());
        assert_eq!((r.value.as_str(), r.source), ("5", ConfigSource::Topic));
        assert_eq!(r.synonyms[1].0, "log.retention.ms");
    }

    #[test]
    fn validation_follows_kafka_rules() {
        let c = TopicCeilings::default();
        assert!(validate("retention.ms", "-1", &c).is_ok());
        assert!(validate("retention.ms", "-2", &c).is_err());
        assert!(validate("retention.ms", "abc", &c).is_err());
        assert!(validate("compression.type", "zstd", &c).is_ok());
        assert!(validate("compression.type", "brotli", &c).is_err());
        assert!(validate("segment.bytes", "100", &c).is_err());
        assert!(validate("no.such.key", "1", &c).is_err());
        assert!(validate("cleanup.policy", "compact", &c).is_err());
    }

    #[test]
    fn values_past_a_ceiling_are_refused_and_clamped_where_stored() {
        let c = TopicCeilings::default();
        // The attack of issue 9: max.message.bytes raised to i32::MAX.
        let refused = validate("max.message.bytes", "2147483647", &c).unwrap_err();
        assert!(refused.to_string().contains("max_message_bytes_ceiling"));
        assert!(validate("max.message.bytes", &c.max_message_bytes.to_string(), &c).is_ok());
        assert!(validate("segment.ms", "1000", &c).is_err());
        assert!(validate("segment.ms", "60000", &c).is_ok());
        // A value stored before the ceiling existed is bounded where it is used.
        let defaults = BrokerDefaults::default();
        let overrides = BTreeMap::from([
            ("max.message.bytes".to_owned(), "2147483647".to_owned()),
            ("segment.ms".to_owned(), "1".to_owned()),
            ("segment.bytes".to_owned(), "14".to_owned()),
        ]);
        let eff = EffectiveConfig {
            overrides: &overrides,
            defaults: &defaults,
        };
        assert_eq!(eff.max_message_bytes(), c.max_message_bytes);
        assert_eq!(eff.decompression_cap(), c.max_uncompressed_batch_bytes);
        assert_eq!(eff.log_config().segment_ms, c.min_segment_ms);
        assert_eq!(eff.log_config().segment_bytes, 1 << 20);
    }
}
