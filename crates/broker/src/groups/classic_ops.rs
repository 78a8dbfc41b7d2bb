//! The classic group state machine: JoinGroup, SyncGroup, Heartbeat, LeaveGroup and the timers
//! that drive rebalances and expel dead members. Mirrors Kafka's `GroupMetadataManager`
//! (classic group part) step for step; the comments name the Kafka method each part follows.

use super::classic::{ClassicGroup, ClassicState, Ctx, Member};
use super::timers::{TimerKey, TimerTask};
use super::types::{Code, JoinRequest, JoinResponse, Reply, SyncResponse, Token};
use bytes::Bytes;
use kafka_protocol::error::ResponseError;

fn reply_join(ctx: &mut Ctx, token: Token, response: JoinResponse) {
    ctx.out.replies.push((token, Reply::Join(response)));
}

fn reply_sync(ctx: &mut Ctx, token: Token, response: SyncResponse) {
    ctx.out.replies.push((token, Reply::Sync(response)));
}

impl ClassicGroup {
    pub(super) fn join_key(&self) -> TimerKey {
        TimerKey::ClassicJoin {
            group: self.id.clone(),
        }
    }

    pub(super) fn sync_key(&self) -> TimerKey {
        TimerKey::ClassicSync {
            group: self.id.clone(),
        }
    }

    /// The answer to a member of the current generation (leader gets the member list).
    pub(super) fn generation_response(&self, member_id: &str, with_members: bool) -> JoinResponse {
        JoinResponse {
            error: None,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: if with_members {
                self.join_members()
            } else {
                Vec::new()
            },
        }
    }

    /// `classicGroupJoinToClassicGroup` after the group was found or created.
    pub fn join(&mut self, ctx: &mut Ctx, token: Token, req: JoinRequest) {
        if !self.accept_joining_member(&req.member_id, ctx.config.max_group_size) {
            self.remove(ctx, &req.member_id);
            reply_join(
                ctx,
                token,
                JoinResponse::error("", ResponseError::GroupMaxSizeReached),
            );
        } else if req.member_id.is_empty() {
            self.join_new_member(ctx, token, req);
        } else {
            self.join_existing_member(ctx, token, req);
        }
    }

    pub(super) fn accept_joining_member(&self, member_id: &str, max: usize) -> bool {
        match self.state {
            ClassicState::Empty | ClassicState::Dead => true,
            ClassicState::PreparingRebalance => {
                self.members
                    .get(member_id)
                    .is_some_and(|m| m.awaiting_join.is_some())
                    || self.num_awaiting_join() < max
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                self.members.contains_key(member_id) || self.members.len() < max
            }
        }
    }

    pub(super) fn join_new_member(&mut self, ctx: &mut Ctx, token: Token, req: JoinRequest) {
        if self.is(ClassicState::Dead) {
            return reply_join(
                ctx,
                token,
                JoinResponse::error("", ResponseError::CoordinatorNotAvailable),
            );
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return reply_join(
                ctx,
                token,
                JoinResponse::error("", ResponseError::InconsistentGroupProtocol),
            );
        }
        let prefix = req.instance_id.as_deref().unwrap_or(&req.client_id);
        let new_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
        if let Some(instance) = req.instance_id.clone() {
            match self.static_member_id(&instance).cloned() {
                Some(existing) => {
                    self.update_static_member(ctx, token, req, &instance, existing, new_id)
                }
                None => self.add_member_then_rebalance(ctx, token, req, new_id),
            }
        } else if req.require_known_member_id {
            // KIP-394: hand out an id and ask the member to come back with it.
            self.pending_join.insert(new_id.clone());
            let timeout = u64::try_from(req.session_timeout_ms).unwrap_or(0);
            self.reschedule_heartbeat(ctx, &new_id, timeout);
            reply_join(
                ctx,
                token,
                JoinResponse::error(&new_id, ResponseError::MemberIdRequired),
            );
        } else {
            self.add_member_then_rebalance(ctx, token, req, new_id);
        }
    }

    pub(super) fn join_existing_member(&mut self, ctx: &mut Ctx, token: Token, req: JoinRequest) {
        let member_id = req.member_id.clone();
        if self.is(ClassicState::Dead) {
            return reply_join(
                ctx,
                token,
                JoinResponse::error(&member_id, ResponseError::CoordinatorNotAvailable),
            );
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return reply_join(
                ctx,
                token,
                JoinResponse::error(&member_id, ResponseError::InconsistentGroupProtocol),
            );
        }
        if self.pending_join.contains(&member_id) {
            // A pending member (never static) is accepted now.
            return self.add_member_then_rebalance(ctx, token, req, member_id);
        }
        if let Err(e) = self.validate_member(&member_id, req.instance_id.as_deref()) {
            return reply_join(ctx, token, JoinResponse::error(&member_id, e));
        }
        let (matches, is_leader) = match self.members.get(&member_id) {
            Some(m) => (m.matches(&req.protocols), self.is_leader(&member_id)),
            None => {
                return reply_join(
                    ctx,
                    token,
                    JoinResponse::error(&member_id, ResponseError::UnknownMemberId),
                )
            }
        };
        match self.state {
            ClassicState::PreparingRebalance => self.update_member_then_rebalance(ctx, token, &req),
            ClassicState::CompletingRebalance if matches => {
                // The member lost its JoinGroup response: answer with the current generation.
                let r = self.generation_response(&member_id, is_leader);
                reply_join(ctx, token, r);
            }
            ClassicState::CompletingRebalance => {
                self.update_member_then_rebalance(ctx, token, &req)
            }
            // A leader's rejoin in Stable forces a rebalance (e.g. topic metadata changed).
            ClassicState::Stable if is_leader || !matches => {
                self.update_member_then_rebalance(ctx, token, &req)
            }
            ClassicState::Stable => {
                let r = self.generation_response(&member_id, false);
                reply_join(ctx, token, r);
            }
            ClassicState::Empty | ClassicState::Dead => {
                reply_join(
                    ctx,
                    token,
                    JoinResponse::error(&member_id, ResponseError::UnknownMemberId),
                );
            }
        }
    }

    pub(super) fn update_member(&mut self, token: Token, req: &JoinRequest, member_id: &str) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.protocols = req.protocols.clone();
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.session_timeout_ms = req.session_timeout_ms;
            // A superseded parked JoinGroup is dropped, as Kafka does; its connection
            // gave up on it.
            m.awaiting_join = Some(token);
        }
    }

    pub(super) fn update_member_then_rebalance(
        &mut self,
        ctx: &mut Ctx,
        token: Token,
        req: &JoinRequest,
    ) {
        self.update_member(token, req, &req.member_id);
        self.maybe_prepare_rebalance_or_complete_join(ctx);
    }

    pub(super) fn add_member_then_rebalance(
        &mut self,
        ctx: &mut Ctx,
        token: Token,
        req: JoinRequest,
        member_id: String,
    ) {
        if self.is(ClassicState::PreparingRebalance) && self.previous_state == ClassicState::Empty {
            self.new_member_added = true;
        }
        self.add(Member {
            id: member_id.clone(),
            instance_id: req.instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(token),
            awaiting_sync: None,
            is_new: true,
        });
        // A parked new member cannot heartbeat; it gets the longer join timeout instead.
        let timeout = ctx.config.new_member_join_timeout_ms;
        self.reschedule_heartbeat(ctx, &member_id, timeout);
        self.maybe_prepare_rebalance_or_complete_join(ctx);
    }

    /// `updateStaticMemberThenRebalanceOrCompleteJoin`: a known instance id joins with no
    /// member id; it takes over the member (fencing the old id) without a rebalance when the
    /// group is Stable and the selected protocol would not change.
    pub(super) fn update_static_member(
        &mut self,
        ctx: &mut Ctx,
        token: Token,
        req: JoinRequest,
        instance: &str,
        old_id: String,
        new_id: String,
    ) {
        let current_leader = self.leader.clone().unwrap_or_default();
        let Some(mut member) = self.members.remove(&old_id) else {
            return reply_join(
                ctx,
                token,
                JoinResponse::error("", ResponseError::UnknownMemberId),
            );
        };
        if let Some(t) = member.awaiting_join.take() {
            reply_join(
                ctx,
                t,
                JoinResponse::error(&old_id, ResponseError::FencedInstanceId),
            );
        }
        if let Some(t) = member.awaiting_sync.take() {
            reply_sync(ctx, t, SyncResponse::error(ResponseError::FencedInstanceId));
        }
        ctx.timers.cancel(&self.heartbeat_key(&old_id));
        member.id = new_id.clone();
        self.members.insert(new_id.clone(), member);
        self.static_members
            .insert(instance.to_owned(), new_id.clone());
        if self.is_leader(&old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(&old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        self.reschedule_session(ctx, &new_id);
        self.update_member(token, &req, &new_id);
        match self.state {
            ClassicState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    // Persist the new member id, then answer without a rebalance.
                    self.record(ctx);
                    let response = if req.supports_skip_assignment {
                        let is_leader = self.is_leader(&new_id);
                        JoinResponse {
                            skip_assignment: is_leader,
                            ..self.generation_response(&new_id, is_leader)
                        }
                    } else {
                        JoinResponse {
                            leader: current_leader,
                            ..self.generation_response(&new_id, false)
                        }
                    };
                    self.complete_join(ctx, &new_id, response);
                } else {
                    self.maybe_prepare_rebalance_or_complete_join(ctx);
                }
            }
            // The leader may already have assigned to the old id: rebalance.
            ClassicState::CompletingRebalance => self.prepare_rebalance(ctx),
            _ => self.maybe_complete_join_phase(ctx),
        }
    }

    pub(super) fn maybe_prepare_rebalance_or_complete_join(&mut self, ctx: &mut Ctx) {
        if self.can_rebalance() {
            self.prepare_rebalance(ctx);
        } else {
            self.maybe_complete_join_phase(ctx);
        }
    }

    /// `prepareRebalance`.
    pub fn prepare_rebalance(&mut self, ctx: &mut Ctx) {
        if self.is(ClassicState::CompletingRebalance) {
            self.reset_and_propagate_assignment(ctx, ResponseError::RebalanceInProgress);
        }
        self.pending_sync.clear();
        ctx.timers.cancel(&self.sync_key());
        let initial = self.is(ClassicState::Empty);
        if initial {
            let delay = ctx.config.initial_rebalance_delay_ms;
            let remaining = self.rebalance_timeout_ms().saturating_sub(delay);
            ctx.timers.schedule(
                self.join_key(),
                ctx.now.saturating_add(delay),
                TimerTask::InitialRebalance {
                    delay_ms: delay,
                    remaining_ms: remaining,
                },
            );
        }
        self.transition(ClassicState::PreparingRebalance, ctx.now);
        tracing::debug!(group = %self.id, generation = self.generation, "preparing to rebalance");
        if !initial {
            self.maybe_complete_join_else_schedule(ctx);
        }
    }

    pub(super) fn maybe_complete_join_else_schedule(&mut self, ctx: &mut Ctx) {
        if self.has_all_members_joined() {
            self.complete_join_phase(ctx);
        } else {
            let deadline = ctx.now.saturating_add(self.rebalance_timeout_ms());
            ctx.timers
                .schedule(self.join_key(), deadline, TimerTask::CompleteJoin);
        }
    }

    /// `maybeCompleteJoinPhase`: the initial rebalance waits for its delay instead.
    pub(super) fn maybe_complete_join_phase(&mut self, ctx: &mut Ctx) {
        if self.is(ClassicState::PreparingRebalance)
            && self.previous_state != ClassicState::Empty
            && self.has_all_members_joined()
        {
            self.complete_join_phase(ctx);
        }
    }

    pub(super) fn try_complete_initial_rebalance(
        &mut self,
        ctx: &mut Ctx,
        delay_ms: u64,
        remaining_ms: u64,
    ) {
        if self.new_member_added && remaining_ms != 0 {
            self.new_member_added = false;
            let new_delay = ctx.config.initial_rebalance_delay_ms.min(remaining_ms);
            let new_remaining = remaining_ms.saturating_sub(delay_ms);
            ctx.timers.schedule(
                self.join_key(),
                ctx.now.saturating_add(new_delay),
                TimerTask::InitialRebalance {
                    delay_ms: new_delay,
                    remaining_ms: new_remaining,
                },
            );
        } else {
            self.complete_join_phase(ctx);
        }
    }

    /// `completeClassicGroupJoin`: expel dynamic members that did not rejoin, elect a leader
    /// among those that did, start the next generation and answer every parked JoinGroup.
    pub(super) fn complete_join_phase(&mut self, ctx: &mut Ctx) {
        ctx.timers.cancel(&self.join_key());
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in &gone {
            self.remove(ctx, id);
        }
        if self.is(ClassicState::Dead) {
            return;
        }
        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Nobody rejoined: wait until sessions expel the silent members.
            let deadline = ctx.now.saturating_add(self.rebalance_timeout_ms());
            ctx.timers
                .schedule(self.join_key(), deadline, TimerTask::CompleteJoin);
            return;
        }
        self.init_next_generation(ctx.now);
        if self.is(ClassicState::Empty) {
            self.record(ctx);
            return;
        }
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), "stabilized group");
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let is_leader = self.is_leader(&id);
            let response = self.generation_response(&id, is_leader);
            self.complete_join(ctx, &id, response);
            self.reschedule_session(ctx, &id);
            if let Some(m) = self.members.get_mut(&id) {
                m.is_new = false;
            }
            self.pending_sync.insert(id);
        }
        let deadline = ctx.now.saturating_add(self.rebalance_timeout_ms());
        let task = TimerTask::ExpirePendingSync {
            generation: self.generation,
        };
        ctx.timers.schedule(self.sync_key(), deadline, task);
    }

    pub(super) fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = &self.leader else {
            return false;
        };
        if self
            .members
            .get(leader)
            .is_some_and(|m| m.awaiting_join.is_some())
        {
            return true;
        }
        match self.members.values().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    pub(super) fn init_next_generation(&mut self, now: u64) {
        self.generation = self.generation.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(ClassicState::Empty, now);
        } else {
            self.protocol_name = self.select_protocol();
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(ClassicState::CompletingRebalance, now);
        }
        self.pending_sync.clear();
    }

    pub(super) fn reset_and_propagate_assignment(&mut self, ctx: &mut Ctx, error: ResponseError) {
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
        }
        self.propagate_assignment(ctx, Some(error));
    }

    pub(super) fn propagate_assignment(&mut self, ctx: &mut Ctx, error: Code) {
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let assignment = self
                .members
                .get(&id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default();
            let response = SyncResponse {
                error,
                protocol_type: if error.is_none() {
                    self.protocol_type.clone()
                } else {
                    None
                },
                protocol_name: if error.is_none() {
                    self.protocol_name.clone()
                } else {
                    None
                },
                assignment,
            };
            if self.complete_sync(ctx, &id, response) {
                self.reschedule_session(ctx, &id);
            }
        }
    }
}
