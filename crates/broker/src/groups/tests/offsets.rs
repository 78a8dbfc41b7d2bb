//! Offset commit, fetch, delete and expiration scenarios.

use super::*;
use kafka_protocol::error::ResponseError as E;

const G: &str = "acme.simple";
const T: &str = "acme.t";

fn commit(
    h: &mut Harness,
    group: &str,
    generation: i32,
    member: &str,
    partitions: &[(i32, i64, Option<&str>)],
) -> Result<TopicResults, E> {
    let req = CommitRequest {
        group_id: group.into(),
        generation_or_epoch: generation,
        member_id: member.into(),
        instance_id: None,
        retention_time_ms: -1,
        version: 8,
        topics: vec![(
            T.into(),
            partitions
                .iter()
                .map(|(p, o, m)| CommitPartition {
                    partition: *p,
                    offset: *o,
                    leader_epoch: -1,
                    metadata: m.map(str::to_owned),
                })
                .collect(),
        )],
    };
    h.call(|c, now, _| c.commit_offsets(now, req))
}

fn fetched(h: &Harness, group: &str, partition: i32) -> Option<OffsetValue> {
    let r =
        h.c.fetch_offsets(group, None, -1, Some(vec![(T.into(), vec![partition])]))
            .unwrap();
    r[0].1[0].1.clone()
}

#[test]
fn simple_commits_create_a_group_and_round_trip_metadata() {
    let mut h = Harness::new();
    let r = commit(&mut h, G, -1, "", &[(0, 42, Some("hello")), (1, 7, None)]).unwrap();
    assert_eq!(r[0].1, vec![(0, None), (1, None)]);
    let v = fetched(&h, G, 0).unwrap();
    assert_eq!((v.offset, v.metadata.as_str()), (42, "hello"));
    assert_eq!(fetched(&h, G, 1).unwrap().metadata, "");
    assert!(fetched(&h, G, 2).is_none());
    assert!(fetched(&h, "acme.unknown", 0).is_none());
    assert_eq!(h.c.list_groups(&[], &[])[0].protocol_type, "");
    let all = h.c.fetch_offsets(G, None, -1, None).unwrap();
    assert_eq!(all[0].1.len(), 2);
    let too_big = "x".repeat(5000);
    let r = commit(&mut h, G, -1, "", &[(0, 1, Some(&too_big))]).unwrap();
    assert_eq!(r[0].1, vec![(0, Some(E::OffsetMetadataTooLarge))]);
}

#[test]
fn commits_check_generation_and_member() {
    let mut h = Harness::new();
    assert_eq!(
        commit(&mut h, "acme.none", 3, "m", &[(0, 1, None)]).unwrap_err(),
        E::IllegalGeneration
    );
    let t = h.join(JoinRequest {
        require_known_member_id: false,
        ..join_req("acme.g", "", &[("range", b"")])
    });
    h.advance(100);
    let j = h.joined(t).unwrap();
    let req = |generation, member: &str| CommitRequest {
        group_id: "acme.g".into(),
        generation_or_epoch: generation,
        member_id: member.into(),
        instance_id: None,
        retention_time_ms: -1,
        version: 8,
        topics: vec![(
            T.into(),
            vec![CommitPartition {
                partition: 0,
                offset: 5,
                leader_epoch: -1,
                metadata: None,
            }],
        )],
    };
    let r = h.call(|c, now, _| c.commit_offsets(now, req(1, &j.member_id)));
    assert_eq!(
        r.unwrap_err(),
        E::RebalanceInProgress,
        "CompletingRebalance"
    );
    let s = h.sync(sync_req("acme.g", &j.member_id, 1, &[]));
    assert!(h.synced(s).is_some());
    assert!(h
        .call(|c, now, _| c.commit_offsets(now, req(1, &j.member_id)))
        .is_ok());
    assert_eq!(
        h.call(|c, now, _| c.commit_offsets(now, req(0, &j.member_id)))
            .unwrap_err(),
        E::IllegalGeneration
    );
    assert_eq!(
        h.call(|c, now, _| c.commit_offsets(now, req(1, "other")))
            .unwrap_err(),
        E::UnknownMemberId
    );
    assert_eq!(
        h.call(|c, now, _| c.commit_offsets(now, req(-1, "")))
            .unwrap_err(),
        E::UnknownMemberId
    );
    assert_eq!(h.c.delete_group(h.now, "acme.g"), Some(E::NonEmptyGroup));
}

#[test]
fn offset_delete_removes_offsets_of_unsubscribed_topics() {
    let mut h = Harness::new();
    commit(&mut h, G, -1, "", &[(0, 1, None), (1, 2, None)]).unwrap();
    let r = h
        .call(|c, now, _| c.delete_offsets(now, G, vec![(T.into(), vec![0, 9])]))
        .unwrap();
    assert_eq!(r[0].1, vec![(0, None), (9, None)]);
    assert!(fetched(&h, G, 0).is_none());
    assert!(fetched(&h, G, 1).is_some());
    assert_eq!(
        h.call(|c, now, _| c.delete_offsets(now, "acme.nope", vec![]))
            .unwrap_err(),
        E::GroupIdNotFound
    );
}

#[test]
fn offsets_expire_after_the_retention_and_the_empty_group_goes() {
    let mut h = Harness::with(GroupConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 1_000,
        ..GroupConfig::default()
    });
    commit(&mut h, G, -1, "", &[(0, 1, None)]).unwrap();
    h.advance(59_000);
    assert!(fetched(&h, G, 0).is_some());
    h.advance(2_000);
    assert!(fetched(&h, G, 0).is_none());
    assert!(
        h.c.list_groups(&[], &[]).is_empty(),
        "the group went with its last offset"
    );
    assert!(h
        .records
        .iter()
        .any(|r| matches!(r, GroupRecord::Offset { value: None, .. })));
}

#[test]
fn offsets_replay_from_records() {
    let mut h = Harness::new();
    commit(&mut h, G, -1, "", &[(0, 11, Some("m")), (1, 12, None)]).unwrap();
    h.call(|c, now, _| c.delete_offsets(now, G, vec![(T.into(), vec![1])]))
        .unwrap();
    let mut fresh = Coordinator::new(GroupConfig::default(), h.now);
    for r in h.records.clone() {
        let (k, v) = r.encode().unwrap();
        fresh.replay(GroupRecord::decode(Some(&k), v.as_deref()).unwrap());
    }
    let r = fresh
        .fetch_offsets(G, None, -1, Some(vec![(T.into(), vec![0, 1])]))
        .unwrap();
    assert_eq!(
        r[0].1[0].1.as_ref().map(|v| (v.offset, v.metadata.clone())),
        Some((11, "m".into()))
    );
    assert!(r[0].1[1].1.is_none());
}

#[test]
fn list_groups_filters_by_state_and_type() {
    let mut h = Harness::new();
    commit(&mut h, G, -1, "", &[(0, 1, None)]).unwrap();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(h.c.list_groups(&s(&["empty"]), &[]).len(), 1);
    assert_eq!(h.c.list_groups(&s(&["Stable"]), &[]).len(), 0);
    assert_eq!(h.c.list_groups(&[], &s(&["Classic"])).len(), 1);
    assert_eq!(h.c.list_groups(&[], &s(&["consumer"])).len(), 0);
}
