//! OffsetCommit, OffsetFetch and OffsetDelete. Topic names are checked against the tenant's
//! namespace here (an unknown topic is UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers); the
//! coordinator stores internal names.

use super::{code, group_ref, str_bytes, topic_name, Reply};
use crate::access::{Action, Refusal};
use crate::groups::{CommitPartition, CommitRequest, OffsetValue};
use crate::metadata::Image;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

/// The internal name and partition count of a topic the client names. As in Kafka, a topic the
/// gate denies is TOPIC_AUTHORIZATION_FAILED whether or not it exists (authorization comes
/// first, so nothing leaks), and an allowed one that does not exist is
/// UNKNOWN_TOPIC_OR_PARTITION.
fn known_topic(
    broker: &Broker,
    image: &Image,
    session: &Session,
    action: Action,
    local: &str,
) -> Result<(String, i32), ResponseError> {
    let topic = broker
        .access
        .topic(session, action, local)
        .map_err(|refusal| match refusal {
            Refusal::Denied => ResponseError::TopicAuthorizationFailed,
            Refusal::Invalid | Refusal::Unknown => ResponseError::UnknownTopicOrPartition,
        })?;
    image
        .topic(&topic)
        .map(|t| (topic.internal().as_str().to_owned(), t.partitions))
        .ok_or(ResponseError::UnknownTopicOrPartition)
}

type PartitionCodes = Vec<(i32, i16)>;
/// A requested topic: the client's name, the internal one if it exists and is allowed,
/// partitions with the error each answers before deletion (0: none).
type DeletePlan = Vec<(TopicName, Option<String>, Vec<(i32, i16)>)>;

pub fn commit(broker: &Broker, session: &Session, version: i16, r: OffsetCommitRequest) -> Reply {
    let image = broker.metadata.image();
    // Per request topic: the client's name and, per partition, an early error or a commit.
    let mut answers: Vec<(TopicName, BTreeMap<i32, i16>, Vec<i32>)> = Vec::new();
    let mut valid: Vec<(String, Vec<CommitPartition>)> = Vec::new();
    let mut internal_of: Vec<Option<String>> = Vec::new();
    for t in &r.topics {
        let known = known_topic(broker, &image, session, Action::Read, &t.name.0);
        let mut early = BTreeMap::new();
        let mut parts = Vec::new();
        for p in &t.partitions {
            match &known {
                Ok((_, count)) if (0..*count).contains(&p.partition_index) => {
                    parts.push(CommitPartition {
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                    })
                }
                Ok(_) => {
                    early.insert(
                        p.partition_index,
                        code(ResponseError::UnknownTopicOrPartition),
                    );
                }
                Err(e) => {
                    early.insert(p.partition_index, code(*e));
                }
            }
        }
        let order = t.partitions.iter().map(|p| p.partition_index).collect();
        answers.push((t.name.clone(), early, order));
        internal_of.push(known.as_ref().ok().map(|(n, _)| n.clone()));
        if let (Ok((internal, _)), false) = (known, parts.is_empty()) {
            valid.push((internal, parts));
        }
    }
    let (group_id, denied) = match group_ref(broker, session, Action::Read, &r.group_id.0) {
        Ok(g) => (g.internal().as_str().to_owned(), None),
        Err(e) => (String::new(), Some(code(e))),
    };
    if denied.is_some() {
        valid.clear();
    }
    let req = CommitRequest {
        group_id,
        generation_or_epoch: r.generation_id_or_member_epoch,
        member_id: r.member_id.to_string(),
        instance_id: if version >= 7 {
            r.group_instance_id.as_ref().map(|s| s.to_string())
        } else {
            None
        },
        retention_time_ms: if version <= 4 {
            r.retention_time_ms
        } else {
            -1
        },
        version,
        topics: valid,
    };
    let groups = broker.groups.clone();
    Reply::Later(Box::pin(async move {
        let mut results: BTreeMap<String, PartitionCodes> = BTreeMap::new();
        let mut group_error = denied;
        if !req.topics.is_empty() {
            match groups
                .run(move |c, now, _| c.commit_offsets(now, req))
                .await
            {
                Some(Ok(topics)) => {
                    for (t, ps) in topics {
                        results.insert(
                            t,
                            ps.into_iter()
                                .map(|(p, e)| (p, e.map_or(0, code)))
                                .collect(),
                        );
                    }
                }
                Some(Err(e)) => group_error = Some(code(e)),
                None => group_error = Some(code(ResponseError::CoordinatorNotAvailable)),
            }
        }
        let topics = answers
            .into_iter()
            .zip(internal_of)
            .map(|((name, early, order), internal)| {
                let done = internal.and_then(|i| results.get(&i));
                let partitions = order
                    .into_iter()
                    .map(|p| {
                        let e = early
                            .get(&p)
                            .copied()
                            .or(group_error)
                            .or_else(|| {
                                done.and_then(|d| d.iter().find(|(q, _)| *q == p).map(|(_, e)| *e))
                            })
                            .unwrap_or(0);
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p)
                            .with_error_code(e)
                    })
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(name)
                    .with_partitions(partitions)
            })
            .collect();
        ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(topics))
    }))
}

/// A requested topic: the client's name, the internal one (`None` where the gate refused the
/// topic), the partitions.
type RequestedTopic = (TopicName, Option<String>, Vec<i32>);

/// One group's fetch: the client's topic names, the internal ones, partitions.
struct GroupFetch {
    group: GroupId,
    member_id: Option<String>,
    member_epoch: i32,
    topics: Option<Vec<RequestedTopic>>,
}

/// Per topic: the client's name, the error of every partition (a denied topic's), offsets.
type FetchedTopics = Vec<(TopicName, i16, Vec<(i32, Option<OffsetValue>)>)>;

async fn fetch_group(
    broker: &Broker,
    session: &Session,
    f: GroupFetch,
) -> Result<FetchedTopics, ResponseError> {
    let internal = group_ref(broker, session, Action::Describe, &f.group.0)?
        .internal()
        .as_str()
        .to_owned();
    let requested: Option<Vec<(String, Vec<i32>)>> = f.topics.as_ref().map(|ts| {
        ts.iter()
            .filter_map(|(_, i, ps)| i.as_ref().map(|i| (i.clone(), ps.clone())))
            .collect()
    });
    let member = f.member_id.clone();
    let fetched = broker
        .groups
        .run(move |c, _, _| {
            c.fetch_offsets(&internal, member.as_deref(), f.member_epoch, requested)
        })
        .await
        .ok_or(ResponseError::CoordinatorNotAvailable)??;
    Ok(match f.topics {
        Some(ts) => {
            // The coordinator answered the allowed topics in order; a refused topic shows no
            // committed offsets and TOPIC_AUTHORIZATION_FAILED, as Kafka's
            // UNAUTHORIZED_PARTITION.
            let mut answered = fetched.into_iter();
            let denied = code(ResponseError::TopicAuthorizationFailed);
            ts.into_iter()
                .map(|(local, internal, ps)| match internal {
                    Some(_) => (
                        local,
                        0,
                        answered.next().map(|(_, ps)| ps).unwrap_or_default(),
                    ),
                    None => (local, denied, ps.into_iter().map(|p| (p, None)).collect()),
                })
                .collect()
        }
        None => fetched
            .into_iter()
            .filter_map(|(t, ps)| {
                broker
                    .access
                    .stored_topic_name(session, Action::Describe, &t)
                    .map(|topic| (topic_name(topic.local()), 0, ps))
            })
            .collect(),
    })
}

fn requested_topics<'a>(
    broker: &Broker,
    session: &Session,
    ts: impl Iterator<Item = (&'a TopicName, &'a Vec<i32>)>,
) -> Vec<RequestedTopic> {
    ts.map(|(n, ps)| {
        // Kafka does not validate names here: a name no topic has simply has no offsets.
        let internal = broker
            .access
            .topic_unchecked_name(session, Action::Describe, &n.0)
            .ok()
            .map(|t| t.internal().as_str().to_owned());
        (n.clone(), internal, ps.clone())
    })
    .collect()
}

fn metadata_of(v: &Option<OffsetValue>) -> (i64, i32, StrBytes) {
    match v {
        Some(v) => (
            v.offset,
            v.leader_epoch,
            StrBytes::from_string(v.metadata.clone()),
        ),
        None => (-1, -1, str_bytes("")),
    }
}

pub async fn fetch(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if version < 8 {
        let f = GroupFetch {
            group: r.group_id.clone(),
            member_id: None,
            member_epoch: -1,
            topics: r.topics.as_ref().map(|ts| {
                requested_topics(
                    broker,
                    session,
                    ts.iter().map(|t| (&t.name, &t.partition_indexes)),
                )
            }),
        };
        let mut resp = OffsetFetchResponse::default();
        match fetch_group(broker, session, f).await {
            Ok(topics) => {
                resp.topics = topics
                    .into_iter()
                    .map(|(name, error, ps)| {
                        let partitions = ps
                            .iter()
                            .map(|(p, v)| {
                                let (offset, epoch, meta) = metadata_of(v);
                                OffsetFetchResponsePartition::default()
                                    .with_error_code(error)
                                    .with_partition_index(*p)
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(if version >= 5 {
                                        epoch
                                    } else {
                                        -1
                                    })
                                    .with_metadata(Some(meta))
                            })
                            .collect();
                        OffsetFetchResponseTopic::default()
                            .with_name(name)
                            .with_partitions(partitions)
                    })
                    .collect();
            }
            Err(e) if version >= 2 => resp.error_code = code(e),
            Err(e) => {
                // v1 has no top-level error: every requested partition carries it.
                resp.topics = r
                    .topics
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| {
                        let partitions = t
                            .partition_indexes
                            .iter()
                            .map(|p| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(*p)
                                    .with_committed_offset(-1)
                                    .with_metadata(Some(str_bytes("")))
                                    .with_error_code(code(e))
                            })
                            .collect();
                        OffsetFetchResponseTopic::default()
                            .with_name(t.name)
                            .with_partitions(partitions)
                    })
                    .collect();
            }
        }
        return resp;
    }
    let mut groups = Vec::with_capacity(r.groups.len());
    for g in &r.groups {
        let f = GroupFetch {
            group: g.group_id.clone(),
            member_id: if version >= 9 {
                g.member_id.as_ref().map(|s| s.to_string())
            } else {
                None
            },
            member_epoch: if version >= 9 { g.member_epoch } else { -1 },
            topics: g.topics.as_ref().map(|ts| {
                requested_topics(
                    broker,
                    session,
                    ts.iter().map(|t| (&t.name, &t.partition_indexes)),
                )
            }),
        };
        let mut out = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
        match fetch_group(broker, session, f).await {
            Ok(topics) => {
                out.topics = topics
                    .into_iter()
                    .map(|(name, error, ps)| {
                        let partitions = ps
                            .iter()
                            .map(|(p, v)| {
                                let (offset, epoch, meta) = metadata_of(v);
                                OffsetFetchResponsePartitions::default()
                                    .with_error_code(error)
                                    .with_partition_index(*p)
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(epoch)
                                    .with_metadata(Some(meta))
                            })
                            .collect();
                        OffsetFetchResponseTopics::default()
                            .with_name(name)
                            .with_partitions(partitions)
                    })
                    .collect();
            }
            Err(e) => out.error_code = code(e),
        }
        groups.push(out);
    }
    OffsetFetchResponse::default().with_groups(groups)
}

pub async fn delete(
    broker: &Broker,
    session: &Session,
    r: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    if r.group_id.0.is_empty() {
        return OffsetDeleteResponse::default()
            .with_error_code(code(ResponseError::InvalidGroupId));
    }
    let image = broker.metadata.image();
    let mut valid: Vec<(String, Vec<i32>)> = Vec::new();
    let mut plan: DeletePlan = Vec::new();
    for t in &r.topics {
        let known = known_topic(broker, &image, session, Action::Read, &t.name.0);
        // Per partition: 0 to delete, or the error it answers.
        let parts: Vec<(i32, i16)> = t
            .partitions
            .iter()
            .map(|p| {
                let error = match &known {
                    Ok((_, n)) if (0..*n).contains(&p.partition_index) => 0,
                    Ok(_) => code(ResponseError::UnknownTopicOrPartition),
                    Err(e) => code(*e),
                };
                (p.partition_index, error)
            })
            .collect();
        if let Ok((internal, _)) = &known {
            let ok: Vec<i32> = parts
                .iter()
                .filter(|(_, error)| *error == 0)
                .map(|(p, _)| *p)
                .collect();
            if !ok.is_empty() {
                valid.push((internal.clone(), ok));
            }
        }
        plan.push((t.name.clone(), known.ok().map(|(i, _)| i), parts));
    }
    let group = match group_ref(broker, session, Action::Delete, &r.group_id.0) {
        Ok(g) => g.internal().as_str().to_owned(),
        Err(e) => return OffsetDeleteResponse::default().with_error_code(code(e)),
    };
    let result = broker
        .groups
        .run(move |c, now, _| c.delete_offsets(now, &group, valid))
        .await
        .unwrap_or(Err(ResponseError::CoordinatorNotAvailable));
    let done = match result {
        Ok(d) => d,
        Err(e) => return OffsetDeleteResponse::default().with_error_code(code(e)),
    };
    let topics = plan
        .into_iter()
        .map(|(name, internal, parts)| {
            let results = internal.and_then(|i| done.iter().find(|(t, _)| *t == i));
            let partitions = parts
                .into_iter()
                .map(|(p, early)| {
                    let e = if early == 0 {
                        results
                            .and_then(|(_, rs)| rs.iter().find(|(q, _)| *q == p))
                            .and_then(|(_, e)| *e)
                            .map_or(0, code)
                    } else {
                        early
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p)
                        .with_error_code(e)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
