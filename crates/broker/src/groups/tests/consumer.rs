//! KIP-848 consumer group scenarios.

use super::*;
use kafka_protocol::error::ResponseError as E;
use std::collections::BTreeSet;

const G: &str = "acme.cg";
const T: &str = "acme.orders";

fn setup() -> (Harness, Uuid) {
    let mut h = Harness::new();
    let id = Uuid::new_v4();
    h.topics.0.insert(T.into(), (id, 6));
    (h, id)
}

fn hb(member: &str, epoch: i32, owned: Option<&Assignment>) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: G.into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: if epoch == 0 { 30_000 } else { -1 },
        subscribed_topic_names: (epoch == 0).then(|| vec![T.to_owned()]),
        owned: owned.map(|a| {
            a.iter()
                .map(|(t, ps)| (*t, ps.iter().copied().collect()))
                .collect()
        }),
        version: 1,
        ..Default::default()
    }
}

fn beat(h: &mut Harness, req: ConsumerHeartbeat) -> Result<ConsumerHeartbeatResponse, Failure> {
    h.call(|c, now, topics| c.consumer_heartbeat(now, topics, req))
}

fn parts(a: &Assignment, t: Uuid) -> BTreeSet<i32> {
    a.get(&t).cloned().unwrap_or_default()
}

#[test]
fn members_join_at_epoch_zero_revoke_before_reassignment_and_leave_with_minus_one() {
    let (mut h, t) = setup();
    let a = beat(&mut h, hb("a", 0, Some(&Assignment::new()))).unwrap();
    assert_eq!(a.member_epoch, 1);
    let a_owned = a.assignment.unwrap();
    assert_eq!(parts(&a_owned, t).len(), 6, "a alone gets everything");

    // b joins: the group epoch moves to 2, but b gets nothing a still owns.
    let b = beat(&mut h, hb("b", 0, Some(&Assignment::new()))).unwrap();
    assert_eq!(b.member_epoch, 2);
    assert!(
        parts(b.assignment.as_ref().unwrap(), t).is_empty(),
        "unreleased partitions wait"
    );
    let described = h.c.describe_consumer_group(G).unwrap();
    assert_eq!(described.state, "Reconciling");

    // a must revoke half first: it stays at epoch 1 with the kept half.
    let a2 = beat(&mut h, hb("a", 1, Some(&a_owned))).unwrap();
    assert_eq!(a2.member_epoch, 1);
    let kept = a2.assignment.unwrap();
    assert_eq!(parts(&kept, t).len(), 3);
    // Still reporting the revoked ones: nothing moves.
    let again = beat(&mut h, hb("a", 1, Some(&a_owned))).unwrap();
    assert_eq!(again.member_epoch, 1);
    // Revoked: a reaches epoch 2, and b can now take the released half.
    let a3 = beat(&mut h, hb("a", 1, Some(&kept))).unwrap();
    assert_eq!(a3.member_epoch, 2);
    let b2 = beat(&mut h, hb("b", 2, Some(&Assignment::new()))).unwrap();
    let b_parts = parts(b2.assignment.as_ref().unwrap(), t);
    assert_eq!(b_parts.len(), 3);
    assert!(b_parts.is_disjoint(&parts(&kept, t)));
    assert_eq!(h.c.describe_consumer_group(G).unwrap().state, "Stable");

    // b leaves: a gets everything back at the next epoch.
    let left = beat(&mut h, hb("b", -1, None)).unwrap();
    assert_eq!(left.member_epoch, -1);
    let a4 = beat(&mut h, hb("a", 2, Some(&kept))).unwrap();
    assert_eq!(a4.member_epoch, 3, "the leave bumped the group epoch to 3");
    assert_eq!(parts(a4.assignment.as_ref().unwrap(), t).len(), 6);
}

#[test]
fn stale_and_future_epochs_are_fenced() {
    let (mut h, _) = setup();
    beat(&mut h, hb("a", 0, Some(&Assignment::new()))).unwrap();
    let err = beat(&mut h, hb("a", 7, None)).unwrap_err();
    assert_eq!(err.0, E::FencedMemberEpoch);
    let err = beat(&mut h, hb("zed", 1, None)).unwrap_err();
    assert_eq!(err.0, E::UnknownMemberId);
    let err = beat(
        &mut h,
        ConsumerHeartbeat {
            server_assignor: Some("sticky".into()),
            ..hb("b", 0, Some(&Assignment::new()))
        },
    )
    .unwrap_err();
    assert_eq!(err.0, E::UnsupportedAssignor);
    let err = beat(
        &mut h,
        ConsumerHeartbeat {
            rebalance_timeout_ms: -1,
            ..hb("b", 0, Some(&Assignment::new()))
        },
    )
    .unwrap_err();
    assert_eq!(err.0, E::InvalidRequest);
}

#[test]
fn a_silent_consumer_member_is_fenced_after_the_session_timeout() {
    let (mut h, t) = setup();
    let a = beat(&mut h, hb("a", 0, Some(&Assignment::new()))).unwrap();
    beat(&mut h, hb("b", 0, Some(&Assignment::new()))).unwrap();
    let (mut owned, mut epoch) = (a.assignment.unwrap(), a.member_epoch);
    for _ in 0..10 {
        h.advance(5_000);
        // a does as told: it gives up what it must revoke.
        let r = beat(&mut h, hb("a", epoch, Some(&owned))).unwrap();
        epoch = r.member_epoch;
        if let Some(a) = r.assignment {
            owned = a;
        }
    }
    let d = h.c.describe_consumer_group(G).unwrap();
    assert_eq!(d.members.len(), 1, "b expired");
    let epoch = d.members[0].0.epoch;
    let r = beat(&mut h, hb("a", epoch, Some(&owned))).unwrap();
    let now = h.c.describe_consumer_group(G).unwrap();
    assert_eq!(parts(&now.members[0].0.assigned, t).len(), 6, "{r:?}");
}

#[test]
fn range_assignor_is_chosen_when_members_ask_for_it() {
    let (mut h, t) = setup();
    let req = |m: &str| ConsumerHeartbeat {
        server_assignor: Some("range".into()),
        ..hb(m, 0, Some(&Assignment::new()))
    };
    beat(&mut h, req("a")).unwrap();
    beat(&mut h, req("b")).unwrap();
    let d = h.c.describe_consumer_group(G).unwrap();
    assert_eq!(d.assignor, "range");
    let targets: BTreeMap<String, BTreeSet<i32>> = d
        .members
        .iter()
        .map(|(m, target)| (m.id.clone(), parts(target, t)))
        .collect();
    assert_eq!(targets["a"], BTreeSet::from([0, 1, 2]));
    assert_eq!(targets["b"], BTreeSet::from([3, 4, 5]));
}

#[test]
fn consumer_groups_survive_replay() {
    let (mut h, t) = setup();
    let a = beat(&mut h, hb("a", 0, Some(&Assignment::new()))).unwrap();
    let mut fresh = Coordinator::new(GroupConfig::default(), h.now);
    for r in h.records.clone() {
        fresh.replay(r);
    }
    fresh.on_loaded(h.now);
    let d = fresh.describe_consumer_group(G).unwrap();
    assert_eq!(d.group_epoch, 1);
    assert_eq!(d.members[0].0.assigned, a.assignment.unwrap());
    assert_eq!(parts(&d.members[0].1, t).len(), 6);
}
