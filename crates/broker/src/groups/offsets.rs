//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and their expiration
//! (`offsets.retention.minutes`), following Kafka's `OffsetMetadataManager`.

use super::classic::{ClassicGroup, ClassicState};
use super::coordinator::{parts, Coordinator, Group};
use super::records::{GroupRecord, OffsetValue};
use super::types::TopicResults;

/// The timestamp an offset's retention counts from.
type RetentionBase = Box<dyn Fn(&OffsetValue) -> u64>;
use kafka_protocol::error::ResponseError;
use std::collections::BTreeMap;

/// Offsets by group, then by (topic, partition). Names are internal.
#[derive(Debug, Default)]
pub struct OffsetStore {
    by_group: BTreeMap<String, BTreeMap<(String, i32), OffsetValue>>,
}

impl OffsetStore {
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&OffsetValue> {
        self.by_group
            .get(group)?
            .get(&(topic.to_owned(), partition))
    }

    pub fn apply(
        &mut self,
        group: &str,
        topic: String,
        partition: i32,
        value: Option<OffsetValue>,
    ) {
        match value {
            Some(v) => {
                self.by_group
                    .entry(group.to_owned())
                    .or_default()
                    .insert((topic, partition), v);
            }
            None => {
                if let Some(g) = self.by_group.get_mut(group) {
                    g.remove(&(topic, partition));
                    if g.is_empty() {
                        self.by_group.remove(group);
                    }
                }
            }
        }
    }

    /// Every committed offset of a group.
    pub fn all(&self, group: &str) -> impl Iterator<Item = (&(String, i32), &OffsetValue)> {
        self.by_group.get(group).into_iter().flatten()
    }

    /// Every (group, partition) holding an offset for `topic`.
    pub fn of_topic(&self, topic: &str) -> Vec<(String, i32)> {
        self.by_group
            .iter()
            .flat_map(|(group, m)| {
                m.keys()
                    .filter(|(t, _)| t == topic)
                    .map(move |(_, p)| (group.clone(), *p))
            })
            .collect()
    }

    /// Drops a group's offsets and says which they were.
    pub fn remove_group(&mut self, group: &str) -> Vec<(String, i32)> {
        self.by_group
            .remove(group)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    }
}

/// One partition of an OffsetCommit.
#[derive(Debug, Clone)]
pub struct CommitPartition {
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub group_id: String,
    pub generation_or_epoch: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    /// v2-4 `retention_time_ms`; -1 for the broker's retention.
    pub retention_time_ms: i64,
    pub version: i16,
    /// (internal topic, partitions); topics must exist (the handler checks).
    pub topics: Vec<(String, Vec<CommitPartition>)>,
}

/// `ClassicGroup.validateOffsetCommit`.
fn validate_classic_commit(g: &ClassicGroup, req: &CommitRequest) -> Result<(), ResponseError> {
    if g.is(ClassicState::Dead) {
        return Err(ResponseError::CoordinatorNotAvailable);
    }
    if req.generation_or_epoch < 0 && g.is(ClassicState::Empty) {
        return Ok(());
    }
    if req.generation_or_epoch >= 0 || !req.member_id.is_empty() || req.instance_id.is_some() {
        g.validate_member(&req.member_id, req.instance_id.as_deref())?;
        if req.generation_or_epoch != g.generation {
            return Err(ResponseError::IllegalGeneration);
        }
    } else if !g.is(ClassicState::Empty) {
        return Err(ResponseError::UnknownMemberId);
    }
    if g.is(ClassicState::CompletingRebalance) {
        return Err(ResponseError::RebalanceInProgress);
    }
    Ok(())
}

impl Coordinator {
    /// OffsetCommit: a group-level error for every partition, or one result per partition.
    pub fn commit_offsets(
        &mut self,
        now: u64,
        req: CommitRequest,
    ) -> Result<TopicResults, ResponseError> {
        let max_metadata = self.config.offset_metadata_max_bytes;
        let (groups, offsets, mut ctx) = parts!(self, now);
        let id = req.group_id.clone();
        match groups.get_mut(&id) {
            None if req.generation_or_epoch < 0 => {
                tracing::info!(group = %id, "creating a simple group via manual offset commit");
                groups.insert(
                    id.clone(),
                    Group::Classic(ClassicGroup::new(id.clone(), now)),
                );
            }
            None if req.version >= 9 => return Err(ResponseError::GroupIdNotFound),
            None => return Err(ResponseError::IllegalGeneration),
            Some(Group::Classic(g)) => {
                validate_classic_commit(&*g, &req)?;
                // Commits keep a classic member's session alive.
                if matches!(
                    g.state,
                    ClassicState::Stable | ClassicState::PreparingRebalance
                ) {
                    g.reschedule_session(&mut ctx, &req.member_id);
                }
            }
            Some(Group::Consumer(g)) => {
                if !(req.generation_or_epoch < 0 && g.members.is_empty()) {
                    let m = g
                        .members
                        .get(&req.member_id)
                        .ok_or(ResponseError::UnknownMemberId)?;
                    if req.version < 9 {
                        return Err(ResponseError::UnsupportedVersion);
                    }
                    if req.generation_or_epoch != m.epoch {
                        return Err(ResponseError::StaleMemberEpoch);
                    }
                }
            }
        }
        let expire = (req.retention_time_ms >= 0)
            .then(|| now.saturating_add(u64::try_from(req.retention_time_ms).unwrap_or(0)));
        let mut results = Vec::with_capacity(req.topics.len());
        for (topic, partitions) in req.topics {
            let mut out = Vec::with_capacity(partitions.len());
            for p in partitions {
                if p.metadata.as_ref().is_some_and(|m| m.len() > max_metadata) {
                    out.push((p.partition, Some(ResponseError::OffsetMetadataTooLarge)));
                    continue;
                }
                let value = OffsetValue {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata.unwrap_or_default(),
                    commit_timestamp_ms: now,
                    expire_timestamp_ms: expire,
                };
                ctx.out.records.push(GroupRecord::Offset {
                    group: id.clone(),
                    topic: topic.clone(),
                    partition: p.partition,
                    value: Some(value.clone()),
                });
                offsets.apply(&id, topic.clone(), p.partition, Some(value));
                out.push((p.partition, None));
            }
            results.push((topic, out));
        }
        Ok(results)
    }

    /// OffsetFetch for one group. `topics: None` asks for every committed offset. Partitions
    /// without a commit answer offset -1. An unknown group has no offsets (not an error).
    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets(
        &self,
        group: &str,
        member_id: Option<&str>,
        member_epoch: i32,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, Vec<(i32, Option<OffsetValue>)>)>, ResponseError> {
        let known = match self.groups.get(group) {
            Some(Group::Classic(g)) => !g.is(ClassicState::Dead),
            Some(Group::Consumer(g)) => {
                if member_id.is_some() || member_epoch >= 0 {
                    let m = member_id
                        .and_then(|id| g.members.get(id))
                        .ok_or(ResponseError::UnknownMemberId)?;
                    if member_epoch != m.epoch {
                        return Err(ResponseError::StaleMemberEpoch);
                    }
                }
                true
            }
            None => false,
        };
        match topics {
            Some(topics) => Ok(topics
                .into_iter()
                .map(|(topic, parts)| {
                    let values = parts
                        .into_iter()
                        .map(|p| {
                            let v = if known {
                                self.offsets.get(group, &topic, p).cloned()
                            } else {
                                None
                            };
                            (p, v)
                        })
                        .collect();
                    (topic, values)
                })
                .collect()),
            None => {
                let mut by_topic: BTreeMap<String, Vec<(i32, Option<OffsetValue>)>> =
                    BTreeMap::new();
                if known {
                    for ((topic, p), v) in self.offsets.all(group) {
                        by_topic
                            .entry(topic.clone())
                            .or_default()
                            .push((*p, Some(v.clone())));
                    }
                }
                Ok(by_topic.into_iter().collect())
            }
        }
    }

    /// OffsetDelete: a group-level error, or one result per partition.
    pub fn delete_offsets(
        &mut self,
        now: u64,
        group: &str,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Result<TopicResults, ResponseError> {
        let (groups, offsets, ctx) = parts!(self, now);
        let g = groups.get(group).ok_or(ResponseError::GroupIdNotFound)?;
        if let Group::Classic(c) = g {
            match c.state {
                ClassicState::Dead => return Err(ResponseError::GroupIdNotFound),
                ClassicState::Empty => {}
                _ if !c.uses_consumer_protocol() => return Err(ResponseError::NonEmptyGroup),
                _ => {}
            }
        }
        let mut results = Vec::with_capacity(topics.len());
        for (topic, partitions) in topics {
            let subscribed = g.is_subscribed_to(&topic);
            let mut out = Vec::with_capacity(partitions.len());
            for p in partitions {
                if subscribed {
                    out.push((p, Some(ResponseError::GroupSubscribedToTopic)));
                    continue;
                }
                if offsets.get(group, &topic, p).is_some() {
                    offsets.apply(group, topic.clone(), p, None);
                    ctx.out.records.push(GroupRecord::Offset {
                        group: group.to_owned(),
                        topic: topic.clone(),
                        partition: p,
                        value: None,
                    });
                }
                out.push((p, None));
            }
            results.push((topic, out));
        }
        Ok(results)
    }

    /// A topic was deleted: its committed offsets go too (Kafka's `onPartitionsDeleted`), so a
    /// topic re-created under the same name does not resume at stale positions.
    pub fn delete_topic_offsets(&mut self, now: u64, topic: &str) {
        let (_, offsets, ctx) = parts!(self, now);
        for (group, partition) in offsets.of_topic(topic) {
            offsets.apply(&group, topic.to_owned(), partition, None);
            ctx.out.records.push(GroupRecord::Offset {
                group,
                topic: topic.to_owned(),
                partition,
                value: None,
            });
        }
    }

    /// Kafka's `cleanupGroupMetadata`: drops expired offsets, then empty groups that have none.
    pub(super) fn expire_offsets(&mut self, now: u64) {
        let retention = self.config.offsets_retention_ms;
        let (groups, offsets, ctx) = parts!(self, now);
        let mut dead = Vec::new();
        for (id, g) in groups.iter() {
            // The timestamp an offset's retention counts from, if offsets of this group expire.
            let base: Option<RetentionBase> = match g {
                Group::Classic(c) => match (&c.protocol_type, c.state) {
                    (None, _) => Some(Box::new(|v: &OffsetValue| v.commit_timestamp_ms)),
                    (Some(_), ClassicState::Empty) => {
                        let since = c.state_timestamp;
                        Some(Box::new(move |v: &OffsetValue| {
                            since.unwrap_or(v.commit_timestamp_ms)
                        }))
                    }
                    (Some(_), ClassicState::Stable)
                        if c.uses_consumer_protocol() && c.subscribed_topics.is_some() =>
                    {
                        Some(Box::new(|v: &OffsetValue| v.commit_timestamp_ms))
                    }
                    _ => None,
                },
                Group::Consumer(_) => Some(Box::new(|v: &OffsetValue| v.commit_timestamp_ms)),
            };
            let Some(base) = base else { continue };
            let mut all_expired = true;
            let mut expired = Vec::new();
            for ((topic, p), v) in offsets.all(id) {
                if g.is_subscribed_to(topic) {
                    all_expired = false;
                    continue;
                }
                let gone = match v.expire_timestamp_ms {
                    Some(at) => now >= at,
                    None => now.saturating_sub(base(v)) >= retention,
                };
                if gone {
                    expired.push((topic.clone(), *p));
                } else {
                    all_expired = false;
                }
            }
            for (topic, p) in expired {
                offsets.apply(id, topic.clone(), p, None);
                ctx.out.records.push(GroupRecord::Offset {
                    group: id.clone(),
                    topic,
                    partition: p,
                    value: None,
                });
            }
            if all_expired && g.is_empty() {
                dead.push(id.clone());
            }
        }
        for id in dead {
            if let Some(g) = groups.remove(&id) {
                tracing::info!(group = %id, "removing empty group without offsets");
                ctx.out.records.push(match g {
                    Group::Classic(_) => GroupRecord::Classic {
                        group: id.clone(),
                        value: None,
                    },
                    Group::Consumer(_) => GroupRecord::Consumer {
                        group: id.clone(),
                        value: None,
                    },
                });
                ctx.timers.cancel_group(&id);
            }
        }
    }
}
