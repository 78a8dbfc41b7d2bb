//! The classic group state machine, second half: SyncGroup, Heartbeat, LeaveGroup and the
//! timers that expel silent members (Kafka's `GroupMetadataManager`, classic part).

use super::classic::{ClassicGroup, ClassicState, Ctx};
use super::timers::{TimerKey, TimerTask};
use super::types::{Code, JoinResponse, LeavingMember, Reply, SyncRequest, SyncResponse, Token};
use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use std::collections::BTreeMap;

fn reply_sync(ctx: &mut Ctx, token: Token, response: SyncResponse) {
    ctx.out.replies.push((token, Reply::Sync(response)));
}

impl ClassicGroup {
    /// `classicGroupSyncToClassicGroup`.
    pub fn sync(&mut self, ctx: &mut Ctx, token: Token, req: SyncRequest) {
        if self.is(ClassicState::Empty) {
            return reply_sync(
                ctx,
                token,
                SyncResponse::error(ResponseError::UnknownMemberId),
            );
        }
        if let Err(e) = self.validate_sync(&req) {
            return reply_sync(ctx, token, SyncResponse::error(e));
        }
        match self.state {
            ClassicState::PreparingRebalance => reply_sync(
                ctx,
                token,
                SyncResponse::error(ResponseError::RebalanceInProgress),
            ),
            ClassicState::CompletingRebalance => {
                if let Some(m) = self.members.get_mut(&req.member_id) {
                    m.awaiting_sync = Some(token);
                }
                self.remove_pending_sync_member(ctx, &req.member_id);
                if self.is_leader(&req.member_id) {
                    let mut assignment: BTreeMap<String, Bytes> = BTreeMap::new();
                    for (member, bytes) in req.assignments {
                        assignment.insert(member, bytes);
                    }
                    for m in self.members.values_mut() {
                        m.assignment = assignment.remove(&m.id).unwrap_or_default();
                    }
                    self.transition(ClassicState::Stable, ctx.now);
                    // The record goes first; the answers wait until it is durable.
                    self.record(ctx);
                    self.propagate_assignment(ctx, None);
                }
            }
            ClassicState::Stable => {
                self.remove_pending_sync_member(ctx, &req.member_id);
                let assignment = self
                    .members
                    .get(&req.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                let response = SyncResponse {
                    error: None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment,
                };
                reply_sync(ctx, token, response);
            }
            ClassicState::Empty | ClassicState::Dead => reply_sync(
                ctx,
                token,
                SyncResponse::error(ResponseError::UnknownMemberId),
            ),
        }
    }

    pub(super) fn validate_sync(&self, req: &SyncRequest) -> Result<(), ResponseError> {
        if self.is(ClassicState::Dead) {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        self.validate_member(&req.member_id, req.instance_id.as_deref())?;
        if req.generation_id != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        let inconsistent = |asked: &Option<String>, ours: &Option<String>| matches!((asked, ours), (Some(a), Some(o)) if a != o);
        if inconsistent(&req.protocol_type, &self.protocol_type)
            || inconsistent(&req.protocol_name, &self.protocol_name)
        {
            return Err(ResponseError::InconsistentGroupProtocol);
        }
        Ok(())
    }

    pub(super) fn remove_pending_sync_member(&mut self, ctx: &mut Ctx, member_id: &str) {
        self.pending_sync.remove(member_id);
        let done = match self.state {
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                self.pending_sync.is_empty()
            }
            _ => true,
        };
        if done {
            ctx.timers.cancel(&self.sync_key());
        }
    }

    /// `classicGroupHeartbeatToClassicGroup`.
    pub fn heartbeat(
        &mut self,
        ctx: &mut Ctx,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Code {
        if self.is(ClassicState::Dead) {
            return Some(ResponseError::CoordinatorNotAvailable);
        }
        if let Err(e) = self.validate_member(member_id, instance_id) {
            return Some(e);
        }
        if generation != self.generation {
            return Some(ResponseError::IllegalGeneration);
        }
        match self.state {
            ClassicState::Empty | ClassicState::Dead => Some(ResponseError::UnknownMemberId),
            ClassicState::PreparingRebalance => {
                self.reschedule_session(ctx, member_id);
                Some(ResponseError::RebalanceInProgress)
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                self.reschedule_session(ctx, member_id);
                None
            }
        }
    }

    /// `classicGroupLeaveToClassicGroup`: one result per leaving member.
    pub fn leave(&mut self, ctx: &mut Ctx, leaving: &[LeavingMember]) -> Vec<Code> {
        let mut results = Vec::with_capacity(leaving.len());
        for m in leaving {
            let result = if m.member_id.is_empty() {
                // Administrative removal by instance id.
                match m
                    .instance_id
                    .as_deref()
                    .and_then(|i| self.static_member_id(i))
                    .cloned()
                {
                    Some(id) => {
                        self.remove_current_member(ctx, &id);
                        None
                    }
                    None => Some(ResponseError::UnknownMemberId),
                }
            } else if self.pending_join.contains(&m.member_id) {
                self.remove(ctx, &m.member_id);
                None
            } else {
                match self.validate_member(&m.member_id, m.instance_id.as_deref()) {
                    Ok(()) => {
                        self.remove_current_member(ctx, &m.member_id);
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            results.push(result);
        }
        if results.iter().any(Option::is_none) {
            match self.state {
                ClassicState::Stable | ClassicState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(ctx)
                }
                ClassicState::PreparingRebalance => self.maybe_complete_join_phase(ctx),
                _ => {}
            }
        }
        results
    }

    pub(super) fn remove_current_member(&mut self, ctx: &mut Ctx, member_id: &str) {
        let r = JoinResponse::error("", ResponseError::UnknownMemberId);
        self.complete_join(ctx, member_id, r);
        self.remove(ctx, member_id);
    }

    /// A timer of this group fired.
    pub fn on_timer(&mut self, ctx: &mut Ctx, key: &TimerKey, task: TimerTask) {
        let preparing = self.is(ClassicState::PreparingRebalance);
        match (key, task) {
            (TimerKey::ClassicHeartbeat { member, .. }, _) => self.expire_heartbeat(ctx, member),
            (
                TimerKey::ClassicJoin { .. },
                TimerTask::InitialRebalance {
                    delay_ms,
                    remaining_ms,
                },
            ) if preparing => self.try_complete_initial_rebalance(ctx, delay_ms, remaining_ms),
            (TimerKey::ClassicJoin { .. }, TimerTask::CompleteJoin) if preparing => {
                self.complete_join_phase(ctx)
            }
            (TimerKey::ClassicSync { .. }, TimerTask::ExpirePendingSync { generation }) => {
                self.expire_pending_sync(ctx, generation)
            }
            _ => {}
        }
    }

    pub(super) fn expire_heartbeat(&mut self, ctx: &mut Ctx, member_id: &str) {
        if self.is(ClassicState::Dead) {
            return;
        }
        if self.pending_join.contains(member_id) {
            self.remove(ctx, member_id);
            if self.is(ClassicState::PreparingRebalance) && self.has_all_members_joined() {
                self.complete_join_phase(ctx);
            }
            return;
        }
        let Some(member) = self.members.get(member_id) else {
            return;
        };
        if member.has_satisfied_heartbeat() {
            return;
        }
        tracing::info!(group = %self.id, member = %member_id, "member failed to heartbeat, removing it");
        self.remove_current_member(ctx, member_id);
        match self.state {
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(ctx)
            }
            ClassicState::PreparingRebalance if self.has_all_members_joined() => {
                self.complete_join_phase(ctx)
            }
            _ => {}
        }
    }

    pub(super) fn expire_pending_sync(&mut self, ctx: &mut Ctx, generation: i32) {
        if generation != self.generation
            || !matches!(
                self.state,
                ClassicState::CompletingRebalance | ClassicState::Stable
            )
            || self.pending_sync.is_empty()
        {
            return;
        }
        let silent: Vec<String> = self.pending_sync.iter().cloned().collect();
        for id in &silent {
            self.remove(ctx, id);
        }
        self.prepare_rebalance(ctx);
    }
}
