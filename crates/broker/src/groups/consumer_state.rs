//! Consumer groups at rest and on display: the snapshot written to the offsets log, its
//! restore, and the ConsumerGroupDescribe view.

use super::assignor::Assignment;
use super::consumer::{ConsumerGroup, ConsumerMember, MemberState};
use super::records::{ConsumerMemberSnapshot, ConsumerSnapshot};
use uuid::Uuid;

fn owned_set(owned: &[(Uuid, Vec<i32>)]) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in owned {
        a.entry(*t).or_default().extend(ps.iter().copied());
    }
    a
}

/// Persisted form (see `records.rs`).
impl ConsumerGroup {
    pub fn snapshot(&self) -> ConsumerSnapshot {
        let list = |a: &Assignment| {
            a.iter()
                .map(|(t, ps)| (*t, ps.iter().copied().collect()))
                .collect()
        };
        ConsumerSnapshot {
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            subscription_metadata: self
                .subscription_metadata
                .iter()
                .map(|(n, (id, p))| (n.clone(), *id, *p))
                .collect(),
            members: self
                .members
                .values()
                .map(|m| ConsumerMemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    subscribed_topics: m.subscribed.iter().cloned().collect(),
                    server_assignor: m.server_assignor.clone(),
                    epoch: m.epoch,
                    previous_epoch: m.previous_epoch,
                    state: match m.state {
                        MemberState::Stable => 0,
                        MemberState::UnrevokedPartitions => 1,
                        MemberState::UnreleasedPartitions => 2,
                    },
                    assigned: list(&m.assigned),
                    pending_revocation: list(&m.pending_revocation),
                })
                .collect(),
            target: self
                .target
                .iter()
                .map(|(id, a)| (id.clone(), list(a)))
                .collect(),
        }
    }

    pub fn restore(id: String, s: ConsumerSnapshot) -> Self {
        let set = |l: Vec<(Uuid, Vec<i32>)>| owned_set(&l);
        let mut g = Self::new(id);
        g.group_epoch = s.group_epoch;
        g.assignment_epoch = s.assignment_epoch;
        g.subscription_metadata = s
            .subscription_metadata
            .into_iter()
            .map(|(n, id, p)| (n, (id, p)))
            .collect();
        g.target = s.target.into_iter().map(|(id, a)| (id, set(a))).collect();
        for m in s.members {
            if let Some(i) = &m.instance_id {
                g.static_members.insert(i.clone(), m.member_id.clone());
            }
            g.members.insert(
                m.member_id.clone(),
                ConsumerMember {
                    id: m.member_id,
                    instance_id: m.instance_id,
                    rack_id: m.rack_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    subscribed: m.subscribed_topics.into_iter().collect(),
                    server_assignor: m.server_assignor,
                    epoch: m.epoch,
                    previous_epoch: m.previous_epoch,
                    state: match m.state {
                        1 => MemberState::UnrevokedPartitions,
                        2 => MemberState::UnreleasedPartitions,
                        _ => MemberState::Stable,
                    },
                    assigned: set(m.assigned),
                    pending_revocation: set(m.pending_revocation),
                },
            );
        }
        g
    }
}

/// A consumer group as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone)]
pub struct ConsumerDescription {
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    /// Each member with its target assignment.
    pub members: Vec<(ConsumerMember, Assignment)>,
}

impl ConsumerGroup {
    pub fn describe(&self) -> ConsumerDescription {
        ConsumerDescription {
            state: self.state(),
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            assignor: self.preferred_assignor().to_owned(),
            members: self
                .members
                .values()
                .map(|m| {
                    (
                        m.clone(),
                        self.target.get(&m.id).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}
