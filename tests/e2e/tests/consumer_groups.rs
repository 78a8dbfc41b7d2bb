//! Consumer groups end to end with librdkafka: partitions split across members with no overlap
//! under eager (`range`, `roundrobin`) and cooperative (`cooperative-sticky`) assignors, the
//! group rebalancing on join and leave, a silent member expelled after its session timeout,
//! and committed offsets surviving a broker restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use schloss_e2e::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 12;

fn group_consumer(
    bootstrap: &str,
    group: &str,
    strategy: &str,
    extra: &[(&str, &str)],
) -> BaseConsumer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("partition.assignment.strategy", strategy)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "500")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().expect("consumer")
}

fn assigned(c: &BaseConsumer, topic: &str) -> BTreeSet<i32> {
    c.assignment()
        .map(|tpl| {
            tpl.elements()
                .iter()
                .filter(|e| e.topic() == topic)
                .map(|e| e.partition())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls every consumer until their assignments are disjoint, cover all partitions and each
/// member has at least `min_each`.
fn wait_for_split(consumers: &[&BaseConsumer], topic: &str, min_each: usize) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for c in consumers {
            let _ = c.poll(Duration::from_millis(50));
        }
        let sets: Vec<BTreeSet<i32>> = consumers.iter().map(|c| assigned(c, topic)).collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        if total == PARTITIONS as usize
            && union.len() == PARTITIONS as usize
            && sets.iter().all(|s| s.len() >= min_each)
        {
            return sets;
        }
        assert!(
            Instant::now() < deadline,
            "no complete split; last assignments {sets:?}"
        );
    }
}

fn rebalance_scenario(strategy: &str) {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = format!("groups-{strategy}");
    let group = format!("g-{strategy}");
    create_topic(&bootstrap, &topic, PARTITIONS, &[]);

    let members: Vec<BaseConsumer> = (0..3)
        .map(|_| group_consumer(&bootstrap, &group, strategy, &[]))
        .collect();
    for c in &members {
        c.subscribe(&[&topic]).unwrap();
    }
    let refs: Vec<&BaseConsumer> = members.iter().collect();
    let sets = wait_for_split(&refs, &topic, 1);
    assert!(
        sets.iter().all(|s| s.len() == 4),
        "three members get 4 each: {sets:?}"
    );

    // A fourth member joins: everyone ends with 3.
    let fourth = group_consumer(&bootstrap, &group, strategy, &[]);
    fourth.subscribe(&[&topic]).unwrap();
    let mut refs: Vec<&BaseConsumer> = members.iter().collect();
    refs.push(&fourth);
    let sets = wait_for_split(&refs, &topic, 3);
    assert!(sets.iter().all(|s| s.len() == 3), "{sets:?}");

    // One member leaves: the other three share its partitions.
    let mut members = members;
    let leaving = members.remove(0);
    drop(leaving);
    let mut refs: Vec<&BaseConsumer> = members.iter().collect();
    refs.push(&fourth);
    let sets = wait_for_split(&refs, &topic, 4);
    assert!(sets.iter().all(|s| s.len() == 4), "{sets:?}");
}

#[test]
fn eager_range_group_splits_and_rebalances() {
    rebalance_scenario("range");
}

#[test]
fn eager_roundrobin_group_splits_and_rebalances() {
    rebalance_scenario("roundrobin");
}

#[test]
fn cooperative_sticky_group_splits_and_rebalances() {
    rebalance_scenario("cooperative-sticky");
}

/// A consumer protocol subscription (v0) to one topic.
fn subscription(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(topic.len() as i16);
    b.put_slice(topic.as_bytes());
    b.put_i32(-1); // no user data
    b.freeze()
}

/// Partitions in a consumer protocol assignment (v0+ prefix).
fn assignment_partitions(mut b: Bytes) -> usize {
    if b.remaining() < 6 {
        return 0;
    }
    b.get_i16();
    let topics = b.get_i32();
    let mut n = 0;
    for _ in 0..topics {
        let len = b.get_i16() as usize;
        b.advance(len);
        n += b.get_i32() as usize;
        b.advance(4 * n);
    }
    n
}

fn raw_call<R: kafka_protocol::protocol::Encodable, T: Decodable>(
    s: &mut std::net::TcpStream,
    api: ApiKey,
    version: i16,
    body: &R,
) -> T {
    let mut resp = raw::call(s, api, version, body);
    T::decode(&mut resp, version).unwrap()
}

#[test]
fn silent_member_is_expelled_after_its_session_timeout() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = "expel";
    let group = "g-expel";
    create_topic(&bootstrap, topic, PARTITIONS, &[]);

    // A librdkafka member, polled on its own thread.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
    let poller = {
        let (stop, seen, bootstrap) = (stop.clone(), seen.clone(), bootstrap.clone());
        std::thread::spawn(move || {
            let c = group_consumer(&bootstrap, group, "range", &[]);
            c.subscribe(&[topic]).unwrap();
            while !stop.load(Ordering::SeqCst) {
                let _ = c.poll(Duration::from_millis(50));
                let n = assigned(&c, topic).len();
                let mut s = seen.lock().unwrap();
                if s.last() != Some(&n) {
                    s.push(n);
                }
            }
        })
    };
    let wait_for = |want: usize, after: usize| {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            {
                let s = seen.lock().unwrap();
                if s.iter().skip(after).any(|n| *n == want) {
                    return s.len();
                }
            }
            assert!(
                Instant::now() < deadline,
                "never saw {want} partitions: {:?}",
                seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mark = wait_for(PARTITIONS as usize, 0);

    // A raw member joins with a 6 s session and never heartbeats.
    let mut s = raw::connect(&bootstrap);
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut join = JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str(group)))
        .with_session_timeout_ms(6000)
        .with_rebalance_timeout_ms(20000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(subscription(topic))]);
    let first: JoinGroupResponse = raw_call(&mut s, ApiKey::JoinGroup, 5, &join);
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    join.member_id = first.member_id.clone();
    let joined: JoinGroupResponse = raw_call(&mut s, ApiKey::JoinGroup, 5, &join);
    assert_eq!(joined.error_code, 0);
    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str(group)))
        .with_generation_id(joined.generation_id)
        .with_member_id(joined.member_id.clone());
    let synced: SyncGroupResponse = raw_call(&mut s, ApiKey::SyncGroup, 3, &sync);
    assert_eq!(synced.error_code, 0);
    assert_eq!(
        assignment_partitions(synced.assignment),
        6,
        "the raw member got half"
    );
    let mark = wait_for(6, mark);

    // Silence: after the session timeout the raw member is gone and librdkafka has all again.
    wait_for(PARTITIONS as usize, mark);
    let hb = HeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str(group)))
        .with_generation_id(joined.generation_id)
        .with_member_id(joined.member_id.clone());
    let late: HeartbeatResponse = raw_call(&mut s, ApiKey::Heartbeat, 3, &hb);
    assert_eq!(
        late.error_code, 25,
        "UNKNOWN_MEMBER_ID for the expelled member"
    );
    stop.store(true, Ordering::SeqCst);
    poller.join().unwrap();
}

#[test]
fn committed_offsets_survive_a_restart_and_consumers_resume_after_them() {
    let mut broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = "resume";
    let group = "g-resume";
    create_topic(&bootstrap, topic, 3, &[]);
    let p = producer(&bootstrap, &[]);
    for partition in 0..3 {
        produce_all(&p, topic, partition, &sample_records(100, now_ms()));
    }
    drop(p);

    let c = group_consumer(&bootstrap, group, "range", &[]);
    c.subscribe(&[topic]).unwrap();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while next.len() < 3 || next.values().any(|o| *o < 40) {
        assert!(Instant::now() < deadline, "consumed only {next:?}");
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            next.insert(m.partition(), m.offset() + 1);
        }
    }
    // Commit a position inside each partition (what was consumed may run to its end).
    let next: BTreeMap<i32, i64> = (0..3).map(|p| (p, 40 + i64::from(p))).collect();
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in &next {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .unwrap();
        tpl.find_partition(topic, *partition)
            .unwrap()
            .set_metadata(format!("meta-{partition}"));
    }
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);

    broker.restart();

    let c = group_consumer(&bootstrap, group, "range", &[]);
    let mut ask = TopicPartitionList::new();
    for partition in 0..3 {
        ask.add_partition(topic, partition);
    }
    let committed = c.committed_offsets(ask, Duration::from_secs(30)).unwrap();
    for e in committed.elements() {
        assert_eq!(
            e.offset(),
            Offset::Offset(next[&e.partition()]),
            "partition {}",
            e.partition()
        );
        assert_eq!(
            e.metadata(),
            format!("meta-{}", e.partition()),
            "metadata round-trips"
        );
    }
    c.subscribe(&[topic]).unwrap();
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while first.len() < 3 {
        assert!(Instant::now() < deadline, "resumed only {first:?}");
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            first.entry(m.partition()).or_insert(m.offset());
        }
    }
    assert_eq!(
        first, next,
        "each partition resumes exactly after its last commit"
    );
}

#[test]
fn kip848_consumer_protocol_members_split_and_rebalance() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = "kip848";
    create_topic(&bootstrap, topic, PARTITIONS, &[]);
    let consumer = |_: usize| {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &bootstrap)
            .set("group.id", "g-kip848")
            .set("group.protocol", "consumer")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        let c: BaseConsumer = cfg.create().expect("consumer");
        c.subscribe(&[topic]).unwrap();
        c
    };
    let members: Vec<BaseConsumer> = (0..3).map(consumer).collect();
    let refs: Vec<&BaseConsumer> = members.iter().collect();
    let split = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for_split(&refs, topic, 4)
    }));
    let sets = split.unwrap_or_else(|_| panic!("broker log:\n{}", broker.log()));
    assert!(sets.iter().all(|s| s.len() == 4), "{sets:?}");
    let mut members = members;
    drop(members.remove(0));
    let refs: Vec<&BaseConsumer> = members.iter().collect();
    let sets = wait_for_split(&refs, topic, 6);
    assert!(sets.iter().all(|s| s.len() == 6), "{sets:?}");
}
