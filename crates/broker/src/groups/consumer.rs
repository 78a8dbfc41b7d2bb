//! KIP-848 consumer groups: the broker computes the assignment and each member reconciles to
//! it through ConsumerGroupHeartbeat, revoking partitions before anyone else gets them. Follows
//! Kafka's `GroupMetadataManager.consumerGroupHeartbeat`, `ConsumerGroup` and
//! `CurrentAssignmentBuilder`.

use super::assignor::{self, Assignment, MemberSpec};
use super::classic::Ctx;
use super::records::GroupRecord;
use super::timers::{TimerKey, TimerTask};
use super::types::{fail, ConsumerHeartbeat, ConsumerHeartbeatResponse, Failure, TopicView};
use kafka_protocol::error::ResponseError;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

pub const LEAVE_EPOCH: i32 = -1;
pub const STATIC_LEAVE_EPOCH: i32 = -2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    /// Waiting for the member to give up partitions.
    UnrevokedPartitions,
    /// Waiting for other members to give up partitions this one is to get.
    UnreleasedPartitions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub subscribed: BTreeSet<String>,
    pub server_assignor: Option<String>,
    pub epoch: i32,
    pub previous_epoch: i32,
    pub state: MemberState,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

impl ConsumerMember {
    fn new(id: String) -> Self {
        Self {
            id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            subscribed: BTreeSet::new(),
            server_assignor: None,
            epoch: 0,
            previous_epoch: -1,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
        }
    }

    pub fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.state == MemberState::Stable && self.epoch == epoch
    }

    fn set_epoch(&mut self, epoch: i32) {
        self.previous_epoch = self.epoch;
        self.epoch = epoch;
    }
}

#[derive(Debug, Default)]
pub struct ConsumerGroup {
    pub id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// instance id -> member id.
    pub static_members: BTreeMap<String, String>,
    pub target: BTreeMap<String, Assignment>,
    /// Subscribed topic -> (id, partitions) as of the last target assignment.
    pub subscription_metadata: BTreeMap<String, (Uuid, i32)>,
}

fn is_subset(owned: Option<&[(Uuid, Vec<i32>)]>, target: &Assignment) -> bool {
    let Some(owned) = owned else { return false };
    owned.iter().all(|(t, ps)| {
        target
            .get(t)
            .is_some_and(|set| ps.iter().all(|p| set.contains(p)))
    })
}

fn owns_any(owned: Option<&[(Uuid, Vec<i32>)]>, of: &Assignment) -> bool {
    let Some(owned) = owned else { return true };
    owned.iter().any(|(t, ps)| {
        of.get(t)
            .is_some_and(|set| ps.iter().any(|p| set.contains(p)))
    })
}

impl ConsumerGroup {
    pub fn new(id: String) -> Self {
        Self {
            id,
            ..Self::default()
        }
    }

    /// Kafka's `ConsumerGroupState` of this group.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        self.members.values().any(|m| m.subscribed.contains(topic))
    }

    /// The assignor most members asked for, else the default.
    pub fn preferred_assignor(&self) -> &str {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, n) in votes {
            if best.is_none_or(|(_, c)| n > c) {
                best = Some((name, n));
            }
        }
        best.map_or(assignor::UNIFORM, |(n, _)| n)
    }

    /// The epoch of the member holding (or still revoking) a partition.
    fn partition_owner_epoch(&self, topic: &Uuid, partition: i32) -> Option<i32> {
        self.members.values().find_map(|m| {
            let holds = |a: &Assignment| a.get(topic).is_some_and(|s| s.contains(&partition));
            (holds(&m.assigned) || holds(&m.pending_revocation)).then_some(m.epoch)
        })
    }

    fn session_key(&self, member: &str) -> TimerKey {
        TimerKey::ConsumerSession {
            group: self.id.clone(),
            member: member.to_owned(),
        }
    }

    fn rebalance_key(&self, member: &str) -> TimerKey {
        TimerKey::ConsumerRebalance {
            group: self.id.clone(),
            member: member.to_owned(),
        }
    }

    pub fn record(&self, ctx: &mut Ctx) {
        ctx.out.records.push(GroupRecord::Consumer {
            group: self.id.clone(),
            value: Some(self.snapshot()),
        });
    }

    /// Handles a heartbeat with epoch >= 0 (`consumerGroupHeartbeat`).
    pub fn heartbeat(
        &mut self,
        ctx: &mut Ctx,
        topics: &dyn TopicView,
        req: &ConsumerHeartbeat,
    ) -> Result<ConsumerHeartbeatResponse, Failure> {
        let joining = req.member_epoch == 0;
        let owned = req.owned.as_deref();
        if self.members.len() >= ctx.config.consumer_max_size
            && !self.members.contains_key(&req.member_id)
        {
            return Err(fail(
                ResponseError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    ctx.config.consumer_max_size
                ),
            ));
        }
        let member_id = if req.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            req.member_id.clone()
        };
        let before = self.snapshot();
        let member = match &req.instance_id {
            None => {
                let m = match self.members.get(&member_id) {
                    Some(m) => m.clone(),
                    None if joining => ConsumerMember::new(member_id.clone()),
                    None => {
                        return Err(fail(
                            ResponseError::UnknownMemberId,
                            format!("Member {member_id} is not a member of the group."),
                        ))
                    }
                };
                check_epoch(&m, req.member_epoch, owned)?;
                m
            }
            Some(instance) => {
                self.static_member(ctx, &member_id, instance, req.member_epoch, owned)?
            }
        };

        let mut updated = member.clone();
        if let Some(i) = &req.instance_id {
            updated.instance_id = Some(i.clone());
        }
        if let Some(r) = &req.rack_id {
            updated.rack_id = Some(r.clone());
        }
        if req.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(a) = &req.server_assignor {
            updated.server_assignor = Some(a.clone());
        }
        if let Some(names) = &req.subscribed_topic_names {
            updated.subscribed = names.iter().cloned().collect();
        }
        updated.client_id = req.client_id.clone();
        updated.client_host = req.client_host.clone();
        let mut bump = updated.subscribed != member.subscribed;

        if let Some(instance) = &updated.instance_id {
            self.static_members
                .insert(instance.clone(), member_id.clone());
        }
        self.members.insert(member_id.clone(), updated.clone());

        let metadata = self.compute_subscription_metadata(topics);
        if metadata != self.subscription_metadata {
            self.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            self.group_epoch = self.group_epoch.wrapping_add(1);
            tracing::info!(group = %self.id, epoch = self.group_epoch, "bumped group epoch");
        }
        if self.group_epoch > self.assignment_epoch {
            self.update_target();
        }
        let target = self.target.get(&member_id).cloned().unwrap_or_default();
        let reconciled = if updated.is_reconciled_to(self.assignment_epoch) {
            updated.clone()
        } else {
            self.reconcile(&updated, &target, owned)
        };
        if reconciled != updated {
            if reconciled.state == MemberState::UnrevokedPartitions {
                let deadline = ctx
                    .now
                    .saturating_add(u64::try_from(reconciled.rebalance_timeout_ms).unwrap_or(0));
                let task = TimerTask::FenceRevocation {
                    epoch: reconciled.epoch,
                };
                ctx.timers
                    .schedule(self.rebalance_key(&member_id), deadline, task);
            } else {
                ctx.timers.cancel(&self.rebalance_key(&member_id));
            }
        }
        let assignment_changed = reconciled.assigned != member.assigned;
        self.members.insert(member_id.clone(), reconciled.clone());
        let deadline = ctx
            .now
            .saturating_add(ctx.config.consumer_session_timeout_ms);
        ctx.timers.schedule(
            self.session_key(&member_id),
            deadline,
            TimerTask::FenceSession,
        );
        if self.snapshot() != before {
            self.record(ctx);
        }
        let full = joining
            || (req.rebalance_timeout_ms != -1
                && req.subscribed_topic_names.is_some()
                && req.owned.is_some());
        Ok(ConsumerHeartbeatResponse {
            member_id,
            member_epoch: reconciled.epoch,
            heartbeat_interval_ms: ctx.config.consumer_heartbeat_interval_ms,
            assignment: (full || assignment_changed).then(|| reconciled.assigned.clone()),
        })
    }

    /// `getOrMaybeSubscribeStaticConsumerGroupMember`.
    fn static_member(
        &mut self,
        ctx: &mut Ctx,
        member_id: &str,
        instance: &str,
        epoch: i32,
        owned: Option<&[(Uuid, Vec<i32>)]>,
    ) -> Result<ConsumerMember, Failure> {
        let existing = self
            .static_members
            .get(instance)
            .and_then(|id| self.members.get(id))
            .cloned();
        if epoch == 0 {
            let Some(old) = existing else {
                return Ok(self
                    .members
                    .get(member_id)
                    .cloned()
                    .unwrap_or_else(|| ConsumerMember::new(member_id.to_owned())));
            };
            if old.epoch != STATIC_LEAVE_EPOCH {
                return Err(fail(
                    ResponseError::UnreleasedInstanceId,
                    format!("Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {} member.", old.id),
                ));
            }
            // The new member takes over the old one's assignment and target.
            let mut m = old.clone();
            m.id = member_id.to_owned();
            m.epoch = 0;
            m.previous_epoch = 0;
            self.members.remove(&old.id);
            ctx.timers.cancel(&self.session_key(&old.id));
            ctx.timers.cancel(&self.rebalance_key(&old.id));
            if let Some(t) = self.target.remove(&old.id) {
                self.target.insert(member_id.to_owned(), t);
            }
            return Ok(m);
        }
        let Some(m) = existing else {
            return Err(fail(
                ResponseError::UnknownMemberId,
                format!("Instance id {instance} is unknown."),
            ));
        };
        if m.id != member_id {
            return Err(fail(
                ResponseError::FencedInstanceId,
                format!("Static member {member_id} with instance id {instance} was fenced by member {}.", m.id),
            ));
        }
        check_epoch(&m, epoch, owned)?;
        Ok(m)
    }

    fn compute_subscription_metadata(
        &self,
        topics: &dyn TopicView,
    ) -> BTreeMap<String, (Uuid, i32)> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter())
            .filter_map(|name| topics.topic(name).map(|t| (name.clone(), t)))
            .collect()
    }

    fn update_target(&mut self) {
        let by_name = &self.subscription_metadata;
        let specs: Vec<MemberSpec> = self
            .members
            .values()
            .map(|m| MemberSpec {
                id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                topics: m
                    .subscribed
                    .iter()
                    .filter_map(|t| by_name.get(t).map(|(id, _)| *id))
                    .collect(),
            })
            .collect();
        let partitions: BTreeMap<Uuid, i32> = by_name.values().copied().collect();
        let name = self.preferred_assignor().to_owned();
        self.target = assignor::assign(&name, &specs, &partitions, &self.target);
        self.assignment_epoch = self.group_epoch;
        tracing::info!(group = %self.id, epoch = self.group_epoch, assignor = %name, "computed target assignment");
    }

    /// `CurrentAssignmentBuilder.build`.
    fn reconcile(
        &self,
        member: &ConsumerMember,
        target: &Assignment,
        owned: Option<&[(Uuid, Vec<i32>)]>,
    ) -> ConsumerMember {
        match member.state {
            MemberState::Stable if member.epoch == self.assignment_epoch => member.clone(),
            MemberState::Stable | MemberState::UnreleasedPartitions => {
                self.next_assignment(member, member.epoch, target, owned)
            }
            MemberState::UnrevokedPartitions => {
                if owns_any(owned, &member.pending_revocation) {
                    member.clone()
                } else {
                    self.next_assignment(member, member.epoch.wrapping_add(1), target, owned)
                }
            }
        }
    }

    fn next_assignment(
        &self,
        member: &ConsumerMember,
        epoch: i32,
        target: &Assignment,
        owned: Option<&[(Uuid, Vec<i32>)]>,
    ) -> ConsumerMember {
        let mut assigned = Assignment::new();
        let mut revoking = Assignment::new();
        let mut adding = Assignment::new();
        let mut unreleased = false;
        let topics: BTreeSet<Uuid> = target
            .keys()
            .chain(member.assigned.keys())
            .copied()
            .collect();
        let empty = BTreeSet::new();
        for topic in topics {
            let want = target.get(&topic).unwrap_or(&empty);
            let have = member.assigned.get(&topic).unwrap_or(&empty);
            let keep: BTreeSet<i32> = have.intersection(want).copied().collect();
            let revoke: BTreeSet<i32> = have.difference(&keep).copied().collect();
            let mut add: BTreeSet<i32> = want.difference(&keep).copied().collect();
            let before = add.len();
            add.retain(|p| self.partition_owner_epoch(&topic, *p).is_none());
            unreleased |= add.len() != before;
            if !keep.is_empty() {
                assigned.insert(topic, keep);
            }
            if !revoke.is_empty() {
                revoking.insert(topic, revoke);
            }
            if !add.is_empty() {
                adding.insert(topic, add);
            }
        }
        let mut next = member.clone();
        if !revoking.is_empty() && owns_any(owned, &revoking) {
            next.state = MemberState::UnrevokedPartitions;
            next.set_epoch(epoch);
            next.assigned = assigned;
            next.pending_revocation = revoking;
            return next;
        }
        for (t, ps) in adding {
            assigned.entry(t).or_default().extend(ps);
        }
        next.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
        next.set_epoch(self.assignment_epoch);
        next.assigned = assigned;
        next.pending_revocation = Assignment::new();
        next
    }

    /// Leave with epoch -1 (or -2 for a static member): `consumerGroupLeave`.
    pub fn leave(
        &mut self,
        ctx: &mut Ctx,
        topics: &dyn TopicView,
        req: &ConsumerHeartbeat,
    ) -> Result<ConsumerHeartbeatResponse, Failure> {
        let member_id = match &req.instance_id {
            None => {
                if !self.members.contains_key(&req.member_id) {
                    return Err(fail(
                        ResponseError::UnknownMemberId,
                        format!("Member {} is not a member of the group.", req.member_id),
                    ));
                }
                req.member_id.clone()
            }
            Some(instance) => {
                let Some(id) = self.static_members.get(instance).cloned() else {
                    return Err(fail(
                        ResponseError::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    ));
                };
                if id != req.member_id {
                    return Err(fail(ResponseError::FencedInstanceId, format!("Static member {} with instance id {instance} was fenced by member {id}.", req.member_id)));
                }
                if req.member_epoch == STATIC_LEAVE_EPOCH {
                    if let Some(m) = self.members.get_mut(&id) {
                        m.epoch = STATIC_LEAVE_EPOCH;
                        m.pending_revocation = Assignment::new();
                    }
                    self.record(ctx);
                    return Ok(ConsumerHeartbeatResponse {
                        member_id: id,
                        member_epoch: STATIC_LEAVE_EPOCH,
                        heartbeat_interval_ms: 0,
                        assignment: None,
                    });
                }
                id
            }
        };
        self.fence(ctx, topics, &member_id);
        Ok(ConsumerHeartbeatResponse {
            member_id: req.member_id.clone(),
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    /// Removes a member and bumps the group epoch (`consumerGroupFenceMember`).
    pub fn fence(&mut self, ctx: &mut Ctx, topics: &dyn TopicView, member_id: &str) {
        let Some(m) = self.members.remove(member_id) else {
            return;
        };
        if let Some(i) = &m.instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(member_id) {
                self.static_members.remove(i);
            }
        }
        self.target.remove(member_id);
        self.subscription_metadata = self.compute_subscription_metadata(topics);
        self.group_epoch = self.group_epoch.wrapping_add(1);
        ctx.timers.cancel(&self.session_key(member_id));
        ctx.timers.cancel(&self.rebalance_key(member_id));
        tracing::info!(group = %self.id, member = %member_id, "member fenced");
        self.record(ctx);
    }

    pub fn on_timer(
        &mut self,
        ctx: &mut Ctx,
        topics: &dyn TopicView,
        key: &TimerKey,
        task: TimerTask,
    ) {
        match (key, task) {
            (TimerKey::ConsumerSession { member, .. }, _) => self.fence(ctx, topics, member),
            (TimerKey::ConsumerRebalance { member, .. }, TimerTask::FenceRevocation { epoch })
                if self.members.get(member).is_some_and(|m| m.epoch == epoch) =>
            {
                self.fence(ctx, topics, member)
            }
            _ => {}
        }
    }

    /// Restarts sessions (and revocation deadlines) after a restore.
    pub fn restart_timers(&self, ctx: &mut Ctx) {
        for m in self.members.values() {
            let deadline = ctx
                .now
                .saturating_add(ctx.config.consumer_session_timeout_ms);
            ctx.timers
                .schedule(self.session_key(&m.id), deadline, TimerTask::FenceSession);
            if m.state == MemberState::UnrevokedPartitions {
                let deadline = ctx
                    .now
                    .saturating_add(u64::try_from(m.rebalance_timeout_ms).unwrap_or(0));
                ctx.timers.schedule(
                    self.rebalance_key(&m.id),
                    deadline,
                    TimerTask::FenceRevocation { epoch: m.epoch },
                );
            }
        }
    }
}

/// `throwIfConsumerGroupMemberEpochIsInvalid`.
fn check_epoch(
    m: &ConsumerMember,
    received: i32,
    owned: Option<&[(Uuid, Vec<i32>)]>,
) -> Result<(), Failure> {
    if received > m.epoch {
        return Err(fail(ResponseError::FencedMemberEpoch, format!("The consumer group member has a greater member epoch ({received}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.", m.epoch)));
    }
    if received < m.epoch && (received != m.previous_epoch || !is_subset(owned, &m.assigned)) {
        return Err(fail(ResponseError::FencedMemberEpoch, format!("The consumer group member has a smaller member epoch ({received}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.", m.epoch)));
    }
    Ok(())
}
