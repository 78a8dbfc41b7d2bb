//! The coordinator core: every group of this broker and their committed offsets, driven by the
//! caller. Each input takes `now_ms`; answers to parked requests and records to persist
//! collect in an outbox the caller drains with [`Coordinator::take_effects`].

use super::assignor::ASSIGNORS;
use super::classic::{ClassicGroup, ClassicState};
use super::consumer::{ConsumerGroup, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};
use super::consumer_state::ConsumerDescription;
use super::offsets::OffsetStore;
use super::records::GroupRecord;
use super::timers::{TimerKey, TimerTask, Timers};
use super::types::*;
use kafka_protocol::error::ResponseError;
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum Group {
    Classic(ClassicGroup),
    Consumer(ConsumerGroup),
}

impl Group {
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Classic(g) => g.is(ClassicState::Empty),
            Self::Consumer(g) => g.members.is_empty(),
        }
    }

    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        match self {
            Self::Classic(g) => g.is_subscribed_to(topic),
            Self::Consumer(g) => g.is_subscribed_to(topic),
        }
    }

    fn tombstone(&self, id: &str) -> GroupRecord {
        match self {
            Self::Classic(_) => GroupRecord::Classic {
                group: id.to_owned(),
                value: None,
            },
            Self::Consumer(_) => GroupRecord::Consumer {
                group: id.to_owned(),
                value: None,
            },
        }
    }
}

pub struct Coordinator {
    pub(super) config: GroupConfig,
    pub(super) groups: BTreeMap<String, Group>,
    pub(super) offsets: OffsetStore,
    pub(super) timers: Timers,
    pub(super) out: Effects,
}

/// Splits the coordinator into its groups, offsets and a side-effect context.
macro_rules! parts {
    ($self:ident, $now:expr) => {
        (
            &mut $self.groups,
            &mut $self.offsets,
            $crate::groups::classic::Ctx {
                now: $now,
                config: &$self.config,
                timers: &mut $self.timers,
                out: &mut $self.out,
            },
        )
    };
}
pub(super) use parts;

impl Coordinator {
    pub fn new(config: GroupConfig, now: u64) -> Self {
        let mut timers = Timers::default();
        let next = now.saturating_add(config.offsets_retention_check_interval_ms);
        timers.schedule(TimerKey::Expiration, next, TimerTask::Expire);
        Self {
            config,
            groups: BTreeMap::new(),
            offsets: OffsetStore::default(),
            timers,
            out: Effects::default(),
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Answers and records produced since the last call.
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.out)
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    /// JoinGroup. The answer comes as a [`Reply::Join`] for `token`, now or later.
    pub fn join(&mut self, now: u64, token: Token, req: JoinRequest) {
        let (groups, _, mut ctx) = parts!(self, now);
        let id = req.group_id.clone();
        match groups.get(&id) {
            Some(Group::Consumer(g)) if !g.members.is_empty() => {
                // Classic members in consumer groups (online migration) are not supported.
                let r =
                    JoinResponse::error(&req.member_id, ResponseError::InconsistentGroupProtocol);
                ctx.out.replies.push((token, Reply::Join(r)));
                return;
            }
            Some(Group::Consumer(g)) => {
                ctx.out
                    .records
                    .push(Group::Consumer(ConsumerGroup::new(String::new())).tombstone(&g.id));
                ctx.timers.cancel_group(&id);
                groups.remove(&id);
            }
            _ => {}
        }
        let mut created = false;
        if !groups.contains_key(&id) {
            if !req.member_id.is_empty() {
                let r = JoinResponse::error(&req.member_id, ResponseError::UnknownMemberId);
                ctx.out.replies.push((token, Reply::Join(r)));
                return;
            }
            groups.insert(
                id.clone(),
                Group::Classic(ClassicGroup::new(id.clone(), now)),
            );
            created = true;
        }
        if let Some(Group::Classic(g)) = groups.get_mut(&id) {
            let records = ctx.out.records.len();
            g.join(&mut ctx, token, req);
            if created && ctx.out.records.len() == records {
                g.record(&mut ctx);
            }
        }
    }

    /// SyncGroup. The answer comes as a [`Reply::Sync`] for `token`, now or later.
    pub fn sync(&mut self, now: u64, token: Token, req: SyncRequest) {
        let (groups, _, mut ctx) = parts!(self, now);
        match groups.get_mut(&req.group_id) {
            Some(Group::Classic(g)) => g.sync(&mut ctx, token, req),
            _ => {
                let r = SyncResponse::error(ResponseError::UnknownMemberId);
                ctx.out.replies.push((token, Reply::Sync(r)));
            }
        }
    }

    pub fn heartbeat(
        &mut self,
        now: u64,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Code {
        let (groups, _, mut ctx) = parts!(self, now);
        match groups.get_mut(group) {
            Some(Group::Classic(g)) => g.heartbeat(&mut ctx, member_id, instance_id, generation),
            _ => Some(ResponseError::UnknownMemberId),
        }
    }

    /// LeaveGroup: a group-level error, or one result per member.
    pub fn leave(
        &mut self,
        now: u64,
        group: &str,
        members: &[LeavingMember],
    ) -> Result<Vec<Code>, ResponseError> {
        let (groups, _, mut ctx) = parts!(self, now);
        match groups.get_mut(group) {
            Some(Group::Classic(g)) if g.is(ClassicState::Dead) => {
                Err(ResponseError::CoordinatorNotAvailable)
            }
            Some(Group::Classic(g)) => Ok(g.leave(&mut ctx, members)),
            _ => Ok(members
                .iter()
                .map(|_| Some(ResponseError::UnknownMemberId))
                .collect()),
        }
    }

    /// ConsumerGroupHeartbeat (KIP-848).
    pub fn consumer_heartbeat(
        &mut self,
        now: u64,
        topics: &dyn TopicView,
        req: ConsumerHeartbeat,
    ) -> Result<ConsumerHeartbeatResponse, Failure> {
        validate_consumer_heartbeat(&req)?;
        let (groups, _, mut ctx) = parts!(self, now);
        let id = req.group_id.clone();
        if req.member_epoch == LEAVE_EPOCH || req.member_epoch == STATIC_LEAVE_EPOCH {
            return match groups.get_mut(&id) {
                Some(Group::Consumer(g)) => g.leave(&mut ctx, topics, &req),
                _ => Err(fail(
                    ResponseError::GroupIdNotFound,
                    "Consumer group not found.",
                )),
            };
        }
        match groups.get(&id) {
            Some(Group::Consumer(_)) => {}
            None if req.member_epoch == 0 => {}
            Some(Group::Classic(g)) if req.member_epoch == 0 && g.is(ClassicState::Empty) => {}
            None => {
                return Err(fail(
                    ResponseError::GroupIdNotFound,
                    "Consumer group not found.",
                ))
            }
            Some(Group::Classic(_)) => {
                return Err(fail(
                    ResponseError::GroupIdNotFound,
                    "Group is not a consumer group.",
                ))
            }
        }
        let existed = matches!(groups.get(&id), Some(Group::Consumer(_)));
        // An empty classic group (e.g. one holding only offsets) becomes a consumer group.
        let (mut group, replaced) = match groups.remove(&id) {
            Some(Group::Consumer(g)) => (g, None),
            other => (ConsumerGroup::new(id.clone()), other),
        };
        let first = ctx.out.records.len();
        let result = group.heartbeat(&mut ctx, topics, &req);
        match (&result, replaced) {
            (Ok(_), Some(classic)) => {
                ctx.out.records.insert(first, classic.tombstone(&id));
                groups.insert(id, Group::Consumer(group));
            }
            (Err(_), Some(classic)) => {
                groups.insert(id, classic);
            }
            (Ok(_), None) => {
                groups.insert(id, Group::Consumer(group));
            }
            (Err(_), None) if existed => {
                groups.insert(id, Group::Consumer(group));
            }
            (Err(_), None) => {}
        }
        result
    }

    /// ListGroups with Kafka's case-insensitive state and type filters.
    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<ListedGroup> {
        let states: Vec<String> = states.iter().map(|s| s.trim().to_lowercase()).collect();
        let types: Vec<String> = types.iter().map(|s| s.trim().to_lowercase()).collect();
        self.groups
            .iter()
            .map(|(id, g)| match g {
                Group::Classic(c) => ListedGroup {
                    group_id: id.clone(),
                    protocol_type: c.protocol_type.clone().unwrap_or_default(),
                    state: c.state.name(),
                    group_type: "classic",
                },
                Group::Consumer(c) => ListedGroup {
                    group_id: id.clone(),
                    protocol_type: "consumer".into(),
                    state: c.state(),
                    group_type: "consumer",
                },
            })
            .filter(|l| states.is_empty() || states.contains(&l.state.to_lowercase()))
            .filter(|l| types.is_empty() || types.iter().any(|t| t == l.group_type))
            .collect()
    }

    /// DescribeGroups for one classic group; `None` if there is no such classic group.
    pub fn describe_group(&self, id: &str) -> Option<DescribedGroup> {
        let Some(Group::Classic(g)) = self.groups.get(id) else {
            return None;
        };
        let stable = g.is(ClassicState::Stable);
        let protocol = g.protocol_name.clone().unwrap_or_default();
        Some(DescribedGroup {
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol_data: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members
                .values()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Default::default()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Default::default()
                    },
                })
                .collect(),
        })
    }

    pub fn describe_consumer_group(&self, id: &str) -> Option<ConsumerDescription> {
        match self.groups.get(id) {
            Some(Group::Consumer(g)) => Some(g.describe()),
            _ => None,
        }
    }

    /// DeleteGroups for one group: only empty groups go, with their offsets.
    pub fn delete_group(&mut self, now: u64, id: &str) -> Code {
        let (groups, offsets, ctx) = parts!(self, now);
        let Some(group) = groups.get(id) else {
            return Some(ResponseError::GroupIdNotFound);
        };
        match group {
            Group::Classic(g) if g.is(ClassicState::Dead) => {
                return Some(ResponseError::GroupIdNotFound)
            }
            g if !g.is_empty() => return Some(ResponseError::NonEmptyGroup),
            _ => {}
        }
        for (topic, partition) in offsets.remove_group(id) {
            ctx.out.records.push(GroupRecord::Offset {
                group: id.to_owned(),
                topic,
                partition,
                value: None,
            });
        }
        ctx.out.records.push(group.tombstone(id));
        ctx.timers.cancel_group(id);
        groups.remove(id);
        None
    }

    /// Fires every timer due at `now`.
    pub fn tick(&mut self, now: u64, topics: &dyn TopicView) {
        while let Some((key, task)) = self.timers.pop_due(now) {
            let (groups, _, mut ctx) = parts!(self, now);
            match &key {
                TimerKey::ClassicHeartbeat { group, .. }
                | TimerKey::ClassicJoin { group }
                | TimerKey::ClassicSync { group } => {
                    if let Some(Group::Classic(g)) = groups.get_mut(group) {
                        g.on_timer(&mut ctx, &key, task);
                    }
                }
                TimerKey::ConsumerSession { group, .. }
                | TimerKey::ConsumerRebalance { group, .. } => {
                    if let Some(Group::Consumer(g)) = groups.get_mut(group) {
                        g.on_timer(&mut ctx, topics, &key, task);
                    }
                }
                TimerKey::Expiration => {
                    self.expire_offsets(now);
                    let next = now.saturating_add(self.config.offsets_retention_check_interval_ms);
                    self.timers
                        .schedule(TimerKey::Expiration, next, TimerTask::Expire);
                }
            }
        }
    }

    /// Applies one record read back from the log.
    pub fn replay(&mut self, record: GroupRecord) {
        match record {
            GroupRecord::Offset {
                group,
                topic,
                partition,
                value,
            } => {
                if !self.groups.contains_key(&group) {
                    self.groups.insert(
                        group.clone(),
                        Group::Classic(ClassicGroup::new(group.clone(), 0)),
                    );
                }
                self.offsets.apply(&group, topic, partition, value);
            }
            GroupRecord::Classic {
                group,
                value: Some(s),
            } => {
                self.groups.insert(
                    group.clone(),
                    Group::Classic(ClassicGroup::restore(group, s)),
                );
            }
            GroupRecord::Consumer {
                group,
                value: Some(s),
            } => {
                self.groups.insert(
                    group.clone(),
                    Group::Consumer(ConsumerGroup::restore(group, s)),
                );
            }
            GroupRecord::Classic { group, value: None }
            | GroupRecord::Consumer { group, value: None } => {
                self.groups.remove(&group);
            }
        }
    }

    /// After replay: members get a full session to come back, as after a coordinator failover.
    pub fn on_loaded(&mut self, now: u64) {
        let (groups, _, mut ctx) = parts!(self, now);
        for g in groups.values() {
            match g {
                Group::Classic(c) => {
                    for id in c.members.keys() {
                        c.reschedule_session(&mut ctx, id);
                    }
                }
                Group::Consumer(c) => c.restart_timers(&mut ctx),
            }
        }
        self.out = Effects::default();
    }
}

/// `throwIfConsumerGroupHeartbeatRequestIsInvalid`.
fn validate_consumer_heartbeat(req: &ConsumerHeartbeat) -> Result<(), Failure> {
    let blank = |s: &Option<String>| s.as_deref().is_some_and(|v| v.trim().is_empty());
    let invalid = |m: &str| Err(fail(ResponseError::InvalidRequest, m));
    if req.group_id.trim().is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if blank(&req.instance_id) {
        return invalid("InstanceId can't be empty.");
    }
    if blank(&req.rack_id) {
        return invalid("RackId can't be empty.");
    }
    if req.version >= 1 && req.member_id.trim().is_empty() {
        return invalid("MemberId can't be empty.");
    }
    if req
        .subscribed_topic_regex
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        return invalid("SubscribedTopicRegex is not supported yet.");
    }
    match req.member_epoch {
        e if e > 0 || e == LEAVE_EPOCH => {
            if req.member_id.trim().is_empty() {
                return invalid("MemberId can't be empty.");
            }
        }
        0 => {
            if req.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if req.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            // As Kafka 4.0: an empty subscription joins the group without topics.
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                );
            }
        }
        STATIC_LEAVE_EPOCH => {
            if req.member_id.trim().is_empty() {
                return invalid("MemberId can't be empty.");
            }
            if req.instance_id.is_none() {
                return invalid("InstanceId can't be null.");
            }
        }
        _ => return invalid("MemberEpoch is invalid."),
    }
    if let Some(a) = &req.server_assignor {
        if !ASSIGNORS.contains(&a.as_str()) {
            return Err(fail(
                ResponseError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {a} is not supported. Supported assignors: {}.",
                    ASSIGNORS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}
