//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (and a read-only view
//! of the broker's own settings).

use super::{code, str_bytes};
use crate::access::{Action, Refusal, TopicRef};
use crate::metadata::MetadataRecord;
use crate::topic_config::{self, ConfigSource, ConfigType, EffectiveConfig};
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

pub fn describe(
    broker: &Broker,
    session: &Session,
    version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let wanted = |name: &str| {
                resource
                    .configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| &**k == name))
            };
            let entries: Result<Vec<Entry>, (ResponseError, String)> = match resource.resource_type
            {
                TOPIC => topic_entries(broker, session, &resource.resource_name),
                BROKER => broker
                    .access
                    .tenant(session, Action::DescribeConfigs)
                    .map_err(|_| {
                        (
                            ResponseError::ClusterAuthorizationFailed,
                            "not authorized to describe broker configs".to_owned(),
                        )
                    })
                    .and_then(|_| {
                        let operator =
                            matches!(session.namespace(), crate::access::Namespace::Operator);
                        broker_entries(broker, &resource.resource_name, operator)
                    }),
                other => Err((
                    ResponseError::InvalidRequest,
                    format!("unsupported resource type {other}"),
                )),
            };
            match entries {
                Ok(entries) => {
                    result.configs = entries
                        .into_iter()
                        .filter(|e| wanted(&e.name))
                        .map(|e| {
                            e.into_result(
                                version,
                                request.include_synonyms,
                                request.include_documentation,
                            )
                        })
                        .collect();
                }
                Err((e, message)) => {
                    result.error_code = code(e);
                    result.error_message = Some(StrBytes::from_string(message));
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

struct Entry {
    name: String,
    value: String,
    source: ConfigSource,
    read_only: bool,
    kind: ConfigType,
    documentation: &'static str,
    synonyms: Vec<(String, String, ConfigSource)>,
}

impl Entry {
    fn into_result(
        self,
        version: i16,
        synonyms: bool,
        documentation: bool,
    ) -> DescribeConfigsResourceResult {
        let mut r = DescribeConfigsResourceResult::default()
            .with_name(StrBytes::from_string(self.name))
            .with_value(Some(StrBytes::from_string(self.value)))
            .with_read_only(self.read_only)
            .with_config_source(self.source as i8);
        if synonyms {
            r.synonyms = self
                .synonyms
                .into_iter()
                .map(|(n, v, s)| {
                    DescribeConfigsSynonym::default()
                        .with_name(StrBytes::from_string(n))
                        .with_value(Some(StrBytes::from_string(v)))
                        .with_source(s as i8)
                })
                .collect();
        }
        if version >= 3 {
            r.config_type = self.kind as i8;
            if documentation {
                r.documentation = Some(str_bytes(self.documentation));
            }
        }
        r
    }
}

fn topic_entries(
    broker: &Broker,
    session: &Session,
    name: &str,
) -> Result<Vec<Entry>, (ResponseError, String)> {
    let unknown = || {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("Topic '{name}' does not exist."),
        )
    };
    let topic = refused_as_unknown(
        broker.access.topic(session, Action::DescribeConfigs, name),
        unknown,
    )?;
    let image = broker.metadata.image();
    let topic = image.topic(&topic).ok_or_else(unknown)?;
    let eff = EffectiveConfig {
        overrides: &topic.configs,
        defaults: &broker.settings.topic_defaults,
    };
    Ok(eff
        .resolve_all()
        .into_iter()
        .map(|r| Entry {
            name: r.key.name.to_owned(),
            value: r.value,
            source: r.source,
            read_only: false,
            kind: r.key.kind,
            documentation: r.key.documentation,
            synonyms: r.synonyms,
        })
        .collect())
}

/// The broker resource's configs. Tenants (`operator` false) do not see where the broker keeps
/// its files: a filesystem path tells one tenant nothing it needs and an attacker a lot.
fn broker_entries(
    broker: &Broker,
    name: &str,
    operator: bool,
) -> Result<Vec<Entry>, (ResponseError, String)> {
    let s = &broker.settings;
    if !name.is_empty() && name != s.node_id.to_string() {
        return Err((
            ResponseError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} but received {name}",
                s.node_id
            ),
        ));
    }
    let fixed = |name: &str, value: String, kind: ConfigType, doc: &'static str| Entry {
        name: name.to_owned(),
        synonyms: vec![(name.to_owned(), value.clone(), ConfigSource::StaticBroker)],
        value,
        source: ConfigSource::StaticBroker,
        read_only: true,
        kind,
        documentation: doc,
    };
    let mut entries = vec![
        fixed(
            "node.id",
            s.node_id.to_string(),
            ConfigType::Int,
            "This broker's id.",
        ),
        fixed(
            "broker.id",
            s.node_id.to_string(),
            ConfigType::Int,
            "This broker's id.",
        ),
        fixed(
            "log.dirs",
            s.data_dir.display().to_string(),
            ConfigType::String,
            "The data directory.",
        ),
        fixed(
            "num.partitions",
            s.num_partitions.to_string(),
            ConfigType::Int,
            "Partitions of a topic created without a count.",
        ),
        fixed(
            "auto.create.topics.enable",
            s.auto_create_topics.to_string(),
            ConfigType::Boolean,
            "Whether Metadata for an unknown topic creates it.",
        ),
        fixed(
            "default.replication.factor",
            "1".into(),
            ConfigType::Int,
            "Single node: always 1.",
        ),
        fixed(
            "socket.request.max.bytes",
            s.socket_request_max_bytes.to_string(),
            ConfigType::Int,
            "Largest request frame accepted.",
        ),
        fixed(
            "connections.max.reauth.ms",
            s.connections_max_reauth_ms.to_string(),
            ConfigType::Long,
            "Session lifetime of SASL connections before they must re-authenticate (KIP-368); 0 disables expiry.",
        ),
    ];
    if !operator {
        entries.retain(|e| e.name != "log.dirs");
    }
    // The broker-level names of every topic default, with their effective values.
    let empty = BTreeMap::new();
    let eff = EffectiveConfig {
        overrides: &empty,
        defaults: &s.topic_defaults,
    };
    for r in eff.resolve_all() {
        if r.key.broker_synonym == r.key.name && entries.iter().any(|e| e.name == r.key.name) {
            continue;
        }
        entries.push(Entry {
            name: r.key.broker_synonym.to_owned(),
            value: r.value,
            source: r.source,
            read_only: true,
            kind: r.key.kind,
            documentation: r.key.documentation,
            synonyms: r
                .synonyms
                .into_iter()
                .filter(|(_, _, src)| *src != ConfigSource::Topic)
                .collect(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// One resource's requested change, resolved to a full new override map.
async fn apply_topic_change(
    broker: &Broker,
    session: &Session,
    name: &str,
    validate_only: bool,
    change: impl FnOnce(
        &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, (ResponseError, String)>,
) -> Result<(), (ResponseError, String)> {
    let unknown = || {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("Topic '{name}' does not exist."),
        )
    };
    let target = refused_as_unknown(
        broker.access.topic(session, Action::AlterConfigs, name),
        unknown,
    )?;
    let committed = broker
        .metadata
        .commit_with(|image| {
            let Some(topic) = image.topic(&target) else {
                return Ok((Vec::new(), Err(unknown())));
            };
            let next = match change(&topic.configs) {
                Ok(n) => n,
                Err(e) => return Ok((Vec::new(), Err(e))),
            };
            for (k, v) in &next {
                if let Err(e) = broker.settings.topic_defaults.validate(k, v) {
                    return Ok((
                        Vec::new(),
                        Err((ResponseError::InvalidConfig, e.to_string())),
                    ));
                }
            }
            if validate_only {
                return Ok((Vec::new(), Ok(())));
            }
            Ok((
                vec![MetadataRecord::TopicConfigsSet {
                    id: topic.id,
                    configs: next,
                }],
                Ok(()),
            ))
        })
        .await
        .map_err(|e| (ResponseError::KafkaStorageError, e.to_string()))?;
    committed.1?;
    if let Some(topic) = committed.0.topic(&target) {
        broker
            .partitions
            .reconfigure(topic, &broker.settings.topic_defaults);
    }
    Ok(())
}

/// Configs APIs answer an invalid topic name as an unknown topic, as Kafka does.
fn refused_as_unknown(
    found: Result<TopicRef, Refusal>,
    unknown: impl FnOnce() -> (ResponseError, String),
) -> Result<TopicRef, (ResponseError, String)> {
    found.map_err(|refusal| match refusal {
        Refusal::Invalid | Refusal::Unknown => unknown(),
        Refusal::Denied => (
            ResponseError::TopicAuthorizationFailed,
            "not authorized to access the topic".to_owned(),
        ),
    })
}

fn non_topic(resource_type: i8) -> (ResponseError, String) {
    if resource_type == BROKER {
        (
            ResponseError::InvalidRequest,
            "broker configs are set in the config file, not at run time".into(),
        )
    } else {
        (
            ResponseError::InvalidRequest,
            format!("unsupported resource type {resource_type}"),
        )
    }
}

pub async fn alter(
    broker: &Broker,
    session: &Session,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let outcome = if resource.resource_type != TOPIC {
            Err(non_topic(resource.resource_type))
        } else {
            let configs = resource.configs;
            apply_topic_change(
                broker,
                session,
                &resource.resource_name,
                request.validate_only,
                move |_| {
                    // Legacy AlterConfigs replaces the whole set of overrides.
                    let mut next = BTreeMap::new();
                    for c in configs {
                        if let Some(v) = c.value {
                            next.insert(c.name.to_string(), v.to_string());
                        }
                    }
                    Ok(next)
                },
            )
            .await
        };
        let mut r = alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((e, m)) = outcome {
            r.error_code = code(e);
            r.error_message = Some(StrBytes::from_string(m));
        }
        responses.push(r);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub async fn incremental_alter(
    broker: &Broker,
    session: &Session,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let outcome = if resource.resource_type != TOPIC {
            Err(non_topic(resource.resource_type))
        } else {
            let ops: Vec<(String, i8, Option<String>)> = resource
                .configs
                .iter()
                .map(|c| {
                    (
                        c.name.to_string(),
                        c.config_operation,
                        c.value.as_ref().map(|v| v.to_string()),
                    )
                })
                .collect();
            let defaults = broker.settings.topic_defaults.clone();
            apply_topic_change(broker, session, &resource.resource_name, request.validate_only, move |current| {
                let mut next = current.clone();
                for (name, op, value) in ops {
                    let key = topic_config::lookup(&name)
                        .ok_or_else(|| (ResponseError::InvalidConfig, format!("Unknown topic config name: {name}")))?;
                    let effective = || {
                        EffectiveConfig { overrides: current, defaults: &defaults }.get(&name)
                    };
                    match op {
                        SET => {
                            let v = value.ok_or_else(|| (ResponseError::InvalidRequest, format!("Null value not supported for: {name}")))?;
                            next.insert(name, v);
                        }
                        DELETE => {
                            next.remove(&name);
                        }
                        APPEND | SUBTRACT if key.kind == ConfigType::List => {
                            let mut items: Vec<String> =
                                effective().split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                            for item in value.unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
                                if op == APPEND && !items.iter().any(|i| i == item) {
                                    items.push(item.to_owned());
                                } else if op == SUBTRACT {
                                    items.retain(|i| i != item);
                                }
                            }
                            next.insert(name, items.join(","));
                        }
                        APPEND | SUBTRACT => {
                            return Err((ResponseError::InvalidConfig, format!("Config value append/subtract is not allowed for config key {name}")));
                        }
                        other => return Err((ResponseError::InvalidRequest, format!("unknown config operation {other}"))),
                    }
                }
                Ok(next)
            })
            .await
        };
        let mut r = incremental_alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((e, m)) = outcome {
            r.error_code = code(e);
            r.error_message = Some(StrBytes::from_string(m));
        }
        responses.push(r);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
