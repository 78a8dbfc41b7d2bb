//! Deadlines of the coordinator: one timer per key, rescheduling replaces it. The caller's
//! `tick(now)` fires every timer whose deadline has passed, in deadline order.

use std::collections::{BTreeSet, HashMap};

/// What a timer is about. Scheduling a key that is already scheduled replaces it, as Kafka's
/// coordinator timer does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// A classic member's session (or a pending member's, or a new member's join timeout).
    ClassicHeartbeat { group: String, member: String },
    /// The classic group's join phase: initial delay or rebalance timeout.
    ClassicJoin { group: String },
    /// The classic group's wait for SyncGroup from every member.
    ClassicSync { group: String },
    /// A consumer (KIP-848) member's session.
    ConsumerSession { group: String, member: String },
    /// A consumer member's deadline to revoke partitions.
    ConsumerRebalance { group: String, member: String },
    /// The periodic offsets and empty-group expiration.
    Expiration,
}

/// Data a timer carries to its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerTask {
    ExpireHeartbeat,
    InitialRebalance { delay_ms: u64, remaining_ms: u64 },
    CompleteJoin,
    ExpirePendingSync { generation: i32 },
    FenceSession,
    FenceRevocation { epoch: i32 },
    Expire,
}

#[derive(Debug, Default)]
pub struct Timers {
    by_key: HashMap<TimerKey, (u64, u64, TimerTask)>,
    by_deadline: BTreeSet<(u64, u64, TimerKey)>,
    seq: u64,
}

impl Timers {
    pub fn schedule(&mut self, key: TimerKey, deadline_ms: u64, task: TimerTask) {
        self.cancel(&key);
        self.seq += 1;
        self.by_deadline
            .insert((deadline_ms, self.seq, key.clone()));
        self.by_key.insert(key, (deadline_ms, self.seq, task));
    }

    /// Schedules only if no timer with this key exists.
    pub fn schedule_if_absent(&mut self, key: TimerKey, deadline_ms: u64, task: TimerTask) {
        if !self.by_key.contains_key(&key) {
            self.schedule(key, deadline_ms, task);
        }
    }

    pub fn cancel(&mut self, key: &TimerKey) {
        if let Some((deadline, seq, _)) = self.by_key.remove(key) {
            self.by_deadline.remove(&(deadline, seq, key.clone()));
        }
    }

    pub fn deadline(&self, key: &TimerKey) -> Option<u64> {
        self.by_key.get(key).map(|(d, _, _)| *d)
    }

    /// Removes and returns the earliest timer due at `now_ms`, if any.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<(TimerKey, TimerTask)> {
        let first = self.by_deadline.first()?.clone();
        if first.0 > now_ms {
            return None;
        }
        self.by_deadline.remove(&first);
        let (_, _, task) = self.by_key.remove(&first.2)?;
        Some((first.2, task))
    }

    /// Removes every timer of a group (the group was deleted).
    pub fn cancel_group(&mut self, group: &str) {
        let keys: Vec<TimerKey> = self
            .by_key
            .keys()
            .filter(|k| match k {
                TimerKey::ClassicHeartbeat { group: g, .. }
                | TimerKey::ClassicJoin { group: g }
                | TimerKey::ClassicSync { group: g }
                | TimerKey::ConsumerSession { group: g, .. }
                | TimerKey::ConsumerRebalance { group: g, .. } => g == group,
                TimerKey::Expiration => false,
            })
            .cloned()
            .collect();
        for k in keys {
            self.cancel(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescheduling_replaces_and_due_timers_fire_in_deadline_order() {
        let mut t = Timers::default();
        let a = TimerKey::ClassicJoin { group: "a".into() };
        let b = TimerKey::ClassicJoin { group: "b".into() };
        t.schedule(a.clone(), 100, TimerTask::CompleteJoin);
        t.schedule(b.clone(), 50, TimerTask::CompleteJoin);
        t.schedule(a.clone(), 30, TimerTask::CompleteJoin);
        assert_eq!(t.pop_due(10), None);
        assert_eq!(t.pop_due(200).map(|x| x.0), Some(a));
        assert_eq!(t.pop_due(200).map(|x| x.0), Some(b));
        assert_eq!(t.pop_due(200), None);
    }
}
