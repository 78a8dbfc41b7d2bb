//! A classic group (JoinGroup/SyncGroup protocol): its state, members and the bookkeeping the
//! state machine in `classic_ops.rs` relies on. Follows Kafka's `ClassicGroup`.

use super::records::{from_hex, to_hex, ClassicMemberSnapshot, ClassicSnapshot, GroupRecord};
use super::timers::{TimerKey, TimerTask, Timers};
use super::types::{
    Effects, GroupConfig, JoinMember, JoinResponse, Protocol, Reply, SyncResponse, Token,
};
use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use std::collections::{BTreeMap, BTreeSet};

/// The consumer protocol type: groups of this type have subscriptions we can read.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Group states, named as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl ClassicState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }
}

/// Side effects a group operation may cause: timers, parked replies, records.
pub struct Ctx<'a> {
    pub now: u64,
    pub config: &'a GroupConfig,
    pub timers: &'a mut Timers,
    pub out: &'a mut Effects,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    /// The parked JoinGroup of this member, if any.
    pub awaiting_join: Option<Token>,
    /// The parked SyncGroup of this member, if any.
    pub awaiting_sync: Option<Token>,
    /// Joined but not yet through a completed join phase.
    pub is_new: bool,
}

impl Member {
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    fn vote(&self, candidates: &BTreeSet<&str>) -> Option<&str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|n| candidates.contains(n))
    }

    /// Kafka's `hasSatisfiedHeartbeat`: members parked in a rebalance need no heartbeat, new
    /// members always do.
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }
}

#[derive(Debug)]
pub struct ClassicGroup {
    pub id: String,
    pub state: ClassicState,
    pub previous_state: ClassicState,
    /// When the group entered its current state; offsets of an empty group expire from here.
    pub state_timestamp: Option<u64>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// instance id -> member id.
    pub static_members: BTreeMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pub pending_join: BTreeSet<String>,
    /// Members that have not sent SyncGroup for this generation.
    pub pending_sync: BTreeSet<String>,
    /// A member joined during the initial (delayed) rebalance.
    pub new_member_added: bool,
    /// Topics the members subscribe to, when the group uses the consumer protocol and the
    /// subscriptions could be read.
    pub subscribed_topics: Option<BTreeSet<String>>,
}

impl ClassicGroup {
    pub fn new(id: String, now: u64) -> Self {
        Self {
            id,
            state: ClassicState::Empty,
            previous_state: ClassicState::Empty,
            state_timestamp: Some(now),
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_join: BTreeSet::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            subscribed_topics: None,
        }
    }

    pub fn is(&self, state: ClassicState) -> bool {
        self.state == state
    }

    pub fn transition(&mut self, to: ClassicState, now: u64) {
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp = Some(now);
    }

    /// Created by a manual offset commit and never joined.
    pub fn is_simple(&self) -> bool {
        self.protocol_type.is_none() && self.is(ClassicState::Empty) && self.pending_join.is_empty()
    }

    pub fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
    }

    pub fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            ClassicState::Stable | ClassicState::CompletingRebalance | ClassicState::Empty
        )
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    pub fn static_member_id(&self, instance_id: &str) -> Option<&String> {
        self.static_members.get(instance_id)
    }

    pub fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    pub fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_join.is_empty()
    }

    /// The longest rebalance timeout of any member.
    pub fn rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| u64::try_from(m.rebalance_timeout_ms).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    fn candidate_protocols(&self) -> BTreeSet<&str> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return BTreeSet::new();
        };
        let mut candidates: BTreeSet<&str> =
            first.protocols.iter().map(|p| p.name.as_str()).collect();
        for m in members {
            candidates.retain(|c| m.protocols.iter().any(|p| p.name == *c));
        }
        candidates
    }

    /// Kafka's `supportsProtocols`.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.is(ClassicState::Empty) {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols
            .iter()
            .any(|p| candidates.contains(p.name.as_str()))
    }

    /// The protocol most members prefer among those all of them support (ties: smallest name).
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(v) = m.vote(&candidates) {
                *votes.entry(v).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in votes {
            if best.is_none_or(|(_, c)| count > c) {
                best = Some((name, count));
            }
        }
        best.map(|(n, _)| n.to_owned())
    }

    /// Kafka's `validateMember`.
    pub fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(instance) = instance_id {
            match self.static_member_id(instance) {
                None => return Err(ResponseError::UnknownMemberId),
                Some(existing) if existing != member_id => {
                    return Err(ResponseError::FencedInstanceId)
                }
                Some(_) => {}
            }
        }
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        Ok(())
    }

    pub fn add(&mut self, member: Member) {
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending_join.remove(&member.id);
        self.members.insert(member.id.clone(), member);
    }

    /// Removes a member (or a pending member). Any request it still has parked is answered
    /// with UNKNOWN_MEMBER_ID, so no connection waits for an answer that cannot come.
    pub fn remove(&mut self, ctx: &mut Ctx, member_id: &str) {
        if let Some(mut m) = self.members.remove(member_id) {
            if let Some(token) = m.awaiting_join.take() {
                let r = JoinResponse::error("", ResponseError::UnknownMemberId);
                ctx.out.replies.push((token, Reply::Join(r)));
            }
            if let Some(token) = m.awaiting_sync.take() {
                let r = SyncResponse::error(ResponseError::UnknownMemberId);
                ctx.out.replies.push((token, Reply::Sync(r)));
            }
            if let Some(instance) = &m.instance_id {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader = self.members.keys().next().cloned();
        }
        self.pending_join.remove(member_id);
        self.pending_sync.remove(member_id);
        ctx.timers.cancel(&self.heartbeat_key(member_id));
    }

    pub fn heartbeat_key(&self, member_id: &str) -> TimerKey {
        TimerKey::ClassicHeartbeat {
            group: self.id.clone(),
            member: member_id.to_owned(),
        }
    }

    pub fn reschedule_heartbeat(&self, ctx: &mut Ctx, member_id: &str, timeout_ms: u64) {
        ctx.timers.schedule(
            self.heartbeat_key(member_id),
            ctx.now.saturating_add(timeout_ms),
            TimerTask::ExpireHeartbeat,
        );
    }

    pub fn reschedule_session(&self, ctx: &mut Ctx, member_id: &str) {
        if let Some(m) = self.members.get(member_id) {
            let timeout = u64::try_from(m.session_timeout_ms).unwrap_or(0);
            self.reschedule_heartbeat(ctx, member_id, timeout);
        }
    }

    /// Answers the member's parked JoinGroup, if it has one.
    pub fn complete_join(
        &mut self,
        ctx: &mut Ctx,
        member_id: &str,
        response: JoinResponse,
    ) -> bool {
        match self
            .members
            .get_mut(member_id)
            .and_then(|m| m.awaiting_join.take())
        {
            Some(token) => {
                ctx.out.replies.push((token, Reply::Join(response)));
                true
            }
            None => false,
        }
    }

    /// Answers the member's parked SyncGroup, if it has one.
    pub fn complete_sync(
        &mut self,
        ctx: &mut Ctx,
        member_id: &str,
        response: SyncResponse,
    ) -> bool {
        match self
            .members
            .get_mut(member_id)
            .and_then(|m| m.awaiting_sync.take())
        {
            Some(token) => {
                ctx.out.replies.push((token, Reply::Sync(response)));
                true
            }
            None => false,
        }
    }

    /// Every member with its metadata for the selected protocol, as the leader receives them.
    pub fn join_members(&self) -> Vec<JoinMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// Kafka's `computeSubscribedTopics`: the union of the members' subscriptions, read from
    /// the consumer protocol's embedded subscription (its v0 prefix).
    pub fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if !self.uses_consumer_protocol() {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut all = BTreeSet::new();
        for m in self.members.values() {
            let topics = parse_subscription_topics(&m.metadata(protocol))?;
            all.extend(topics.iter().map(|t| qualify_topic(&self.id, t)));
        }
        Some(all)
    }

    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => self.uses_consumer_protocol(),
        }
    }

    pub fn snapshot(&self) -> ClassicSnapshot {
        ClassicSnapshot {
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            generation: self.generation,
            leader: self.leader.clone(),
            state_timestamp_ms: self.state_timestamp,
            members: self
                .members
                .values()
                .map(|m| ClassicMemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    protocol_type: m.protocol_type.clone(),
                    protocols: m
                        .protocols
                        .iter()
                        .map(|p| (p.name.clone(), to_hex(&p.metadata)))
                        .collect(),
                    assignment: to_hex(&m.assignment),
                })
                .collect(),
        }
    }

    pub fn record(&self, ctx: &mut Ctx) {
        ctx.out.records.push(GroupRecord::Classic {
            group: self.id.clone(),
            value: Some(self.snapshot()),
        });
    }

    /// Rebuilds a group from its last record: Stable with its members if it had any, else
    /// Empty. Sessions are restarted by the caller.
    pub fn restore(id: String, s: ClassicSnapshot) -> Self {
        let mut g = Self::new(id, s.state_timestamp_ms.unwrap_or(0));
        g.state_timestamp = s.state_timestamp_ms;
        g.protocol_type = s.protocol_type;
        g.protocol_name = s.protocol_name;
        g.generation = s.generation;
        for m in s.members {
            if let Some(instance) = &m.instance_id {
                g.static_members
                    .insert(instance.clone(), m.member_id.clone());
            }
            g.members.insert(
                m.member_id.clone(),
                Member {
                    id: m.member_id,
                    instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    protocol_type: m.protocol_type,
                    protocols: m
                        .protocols
                        .into_iter()
                        .map(|(name, meta)| Protocol {
                            name,
                            metadata: from_hex(&meta),
                        })
                        .collect(),
                    assignment: from_hex(&m.assignment),
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                },
            );
        }
        g.leader = s.leader.filter(|l| g.members.contains_key(l));
        if !g.members.is_empty() {
            g.state = ClassicState::Stable;
            g.previous_state = ClassicState::Stable;
            if g.leader.is_none() {
                g.leader = g.members.keys().next().cloned();
            }
        }
        g.subscribed_topics = g.compute_subscribed_topics();
        g
    }
}

/// The internal name of a topic a member of `group` names in its subscription. Clients name
/// topics in their tenant's namespace and the group id carries the tenant as its prefix
/// (`tenant.group`), so the topic gets the same prefix. A group id without a dot (an operator's
/// group) uses names as they are.
pub fn qualify_topic(group: &str, topic: &str) -> String {
    match group.split_once(schloss_model::INTERNAL_SEPARATOR) {
        Some((tenant, _)) => format!("{tenant}{}{topic}", schloss_model::INTERNAL_SEPARATOR),
        None => topic.to_owned(),
    }
}

/// Reads the topic list of a consumer protocol subscription: `version i16`, then (v0 prefix of
/// every version) `topics: [string]`. Bounded by the bytes present; `None` if malformed.
pub fn parse_subscription_topics(data: &[u8]) -> Option<Vec<String>> {
    fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if data.len() < n {
            return None;
        }
        let (head, tail) = data.split_at(n);
        *data = tail;
        Some(head)
    }
    let mut rest = data;
    let _version = take(&mut rest, 2)?;
    let count = i32::from_be_bytes(take(&mut rest, 4)?.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    // Each topic takes at least its 2-byte length.
    if count > rest.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i16::from_be_bytes(take(&mut rest, 2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        let name = std::str::from_utf8(take(&mut rest, len)?).ok()?;
        topics.push(name.to_owned());
    }
    Some(topics)
}
