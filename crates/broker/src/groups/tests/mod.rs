//! Scenario tests: the coordinator core driven with a fake clock, never sleeping.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod classic;
mod consumer;
mod offsets;

use super::records::GroupRecord;
use super::*;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Topics the scenarios use: name -> (id, partitions).
#[derive(Default)]
pub struct FakeTopics(pub BTreeMap<String, (Uuid, i32)>);

impl TopicView for FakeTopics {
    fn topic(&self, name: &str) -> Option<(Uuid, i32)> {
        self.0.get(name).copied()
    }
    fn topic_name(&self, id: &Uuid) -> Option<String> {
        self.0
            .iter()
            .find(|(_, (i, _))| i == id)
            .map(|(n, _)| n.clone())
    }
}

pub struct Harness {
    pub c: Coordinator,
    pub now: u64,
    pub topics: FakeTopics,
    next: u64,
    pub replies: HashMap<Token, Reply>,
    pub records: Vec<GroupRecord>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(GroupConfig {
            initial_rebalance_delay_ms: 100,
            ..GroupConfig::default()
        })
    }

    pub fn with(config: GroupConfig) -> Self {
        Self {
            c: Coordinator::new(config, 1_000),
            now: 1_000,
            topics: FakeTopics::default(),
            next: 0,
            replies: HashMap::new(),
            records: Vec::new(),
        }
    }

    fn drain(&mut self) {
        let e = self.c.take_effects();
        self.replies.extend(e.replies);
        self.records.extend(e.records);
    }

    pub fn token(&mut self) -> Token {
        self.next += 1;
        Token(self.next)
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.c.tick(self.now, &self.topics);
        self.drain();
    }

    pub fn join(&mut self, req: JoinRequest) -> Token {
        let t = self.token();
        self.c.join(self.now, t, req);
        self.drain();
        t
    }

    pub fn sync(&mut self, req: SyncRequest) -> Token {
        let t = self.token();
        self.c.sync(self.now, t, req);
        self.drain();
        t
    }

    pub fn joined(&mut self, t: Token) -> Option<JoinResponse> {
        match self.replies.remove(&t) {
            Some(Reply::Join(j)) => Some(j),
            Some(other) => panic!("not a join reply: {other:?}"),
            None => None,
        }
    }

    pub fn synced(&mut self, t: Token) -> Option<SyncResponse> {
        match self.replies.remove(&t) {
            Some(Reply::Sync(s)) => Some(s),
            Some(other) => panic!("not a sync reply: {other:?}"),
            None => None,
        }
    }

    pub fn heartbeat(&mut self, group: &str, member: &str, generation: i32) -> Code {
        let r = self.c.heartbeat(self.now, group, member, None, generation);
        self.drain();
        r
    }

    pub fn call<T>(&mut self, f: impl FnOnce(&mut Coordinator, u64, &FakeTopics) -> T) -> T {
        let r = f(&mut self.c, self.now, &self.topics);
        self.drain();
        r
    }
}

pub fn join_req(group: &str, member: &str, protocols: &[(&str, &[u8])]) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member.into(),
        instance_id: None,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|(n, m)| Protocol {
                name: (*n).into(),
                metadata: Bytes::copy_from_slice(m),
            })
            .collect(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        require_known_member_id: true,
        supports_skip_assignment: true,
    }
}

pub fn sync_req(
    group: &str,
    member: &str,
    generation: i32,
    assignments: &[(&str, &[u8])],
) -> SyncRequest {
    SyncRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| ((*m).to_owned(), Bytes::copy_from_slice(a)))
            .collect(),
    }
}
