//! Classic group scenarios.

use super::*;
use kafka_protocol::error::ResponseError as E;

const G: &str = "acme.g";
const RANGE: &[(&str, &[u8])] = &[("range", b"sub-a")];

/// Gets a member id with the v4+ handshake and parks its real join.
fn handshake(h: &mut Harness, req: JoinRequest) -> (String, Token) {
    let t = h.join(req.clone());
    let first = h.joined(t).expect("answered at once");
    assert_eq!(first.error, Some(E::MemberIdRequired));
    assert!(!first.member_id.is_empty());
    let t = h.join(JoinRequest {
        member_id: first.member_id.clone(),
        ..req
    });
    (first.member_id, t)
}

/// Two members through join and sync: returns (leader, follower, generation).
fn stable_pair(h: &mut Harness) -> (String, String, i32) {
    let (a, ta) = handshake(h, join_req(G, "", RANGE));
    let (b, tb) = handshake(h, join_req(G, "", RANGE));
    assert!(h.joined(ta).is_none(), "parked during the initial delay");
    h.advance(100);
    assert!(
        h.joined(ta).is_none(),
        "a second member extends the initial delay"
    );
    h.advance(100);
    let ja = h.joined(ta).unwrap();
    let jb = h.joined(tb).unwrap();
    assert_eq!(ja.generation_id, 1);
    assert_eq!(jb.generation_id, 1);
    let (leader, follower) = if ja.leader == a { (a, b) } else { (b, a) };
    let sf = h.sync(sync_req(G, &follower, 1, &[]));
    assert!(h.synced(sf).is_none(), "follower waits for the leader");
    let sl = h.sync(sync_req(
        G,
        &leader,
        1,
        &[(&leader, b"L"), (&follower, b"F")],
    ));
    assert_eq!(&h.synced(sl).unwrap().assignment[..], b"L");
    assert_eq!(&h.synced(sf).unwrap().assignment[..], b"F");
    (leader, follower, 1)
}

#[test]
fn v4_join_requires_a_member_id_then_completes_after_the_initial_delay() {
    let mut h = Harness::new();
    let (a, t) = handshake(&mut h, join_req(G, "", RANGE));
    h.advance(99);
    assert!(h.joined(t).is_none());
    h.advance(1);
    let j = h.joined(t).unwrap();
    assert_eq!(
        (j.error, j.generation_id, j.leader.as_str()),
        (None, 1, a.as_str())
    );
    assert_eq!(j.protocol_name.as_deref(), Some("range"));
    assert_eq!(j.members.len(), 1, "the leader gets the member list");
    assert_eq!(&j.members[0].metadata[..], b"sub-a");
}

#[test]
fn join_during_rebalance_waits_for_every_member_and_bumps_the_generation() {
    let mut h = Harness::new();
    let (leader, follower, generation) = stable_pair(&mut h);
    let (c, tc) = handshake(&mut h, join_req(G, "", RANGE));
    assert!(h.joined(tc).is_none());
    assert_eq!(
        h.heartbeat(G, &follower, generation),
        Some(E::RebalanceInProgress)
    );
    let tl = h.join(join_req(G, &leader, RANGE));
    assert!(h.joined(tl).is_none(), "still waiting for the follower");
    let tf = h.join(join_req(G, &follower, RANGE));
    for t in [tl, tf, tc] {
        let j = h.joined(t).unwrap();
        assert_eq!((j.error, j.generation_id), (None, 2));
    }
    assert_eq!(h.heartbeat(G, &c, 2), None);
}

#[test]
fn sync_before_the_join_phase_completes_is_told_to_rejoin() {
    let mut h = Harness::new();
    let (leader, follower, generation) = stable_pair(&mut h);
    let _ = h.join(join_req(G, &leader, RANGE));
    let s = h.sync(sync_req(G, &follower, generation, &[]));
    assert_eq!(h.synced(s).unwrap().error, Some(E::RebalanceInProgress));
    let s = h.sync(sync_req(G, &follower, generation + 1, &[]));
    assert_eq!(h.synced(s).unwrap().error, Some(E::IllegalGeneration));
}

#[test]
fn heartbeat_with_an_old_generation_is_an_illegal_generation() {
    let mut h = Harness::new();
    let (_, follower, generation) = stable_pair(&mut h);
    assert_eq!(h.heartbeat(G, &follower, generation), None);
    assert_eq!(
        h.heartbeat(G, &follower, generation - 1),
        Some(E::IllegalGeneration)
    );
    assert_eq!(
        h.heartbeat(G, "nobody", generation),
        Some(E::UnknownMemberId)
    );
    assert_eq!(
        h.heartbeat("acme.other", &follower, generation),
        Some(E::UnknownMemberId)
    );
}

#[test]
fn a_member_that_stops_heartbeating_is_expelled_after_its_session_timeout() {
    let mut h = Harness::new();
    let (leader, follower, generation) = stable_pair(&mut h);
    for _ in 0..3 {
        h.advance(3_000);
        assert_eq!(h.heartbeat(G, &leader, generation), None);
    }
    h.advance(3_000);
    // 12 s without a heartbeat from the follower (session 10 s): it is gone.
    assert_eq!(
        h.heartbeat(G, &follower, generation),
        Some(E::UnknownMemberId)
    );
    assert_eq!(
        h.heartbeat(G, &leader, generation),
        Some(E::RebalanceInProgress)
    );
    let t = h.join(join_req(G, &leader, RANGE));
    let j = h.joined(t).unwrap();
    assert_eq!((j.generation_id, j.members.len()), (2, 1));
}

#[test]
fn a_static_member_restart_takes_over_without_a_rebalance() {
    let mut h = Harness::new();
    let static_req = |instance: &str| JoinRequest {
        instance_id: Some(instance.into()),
        ..join_req(G, "", RANGE)
    };
    let ta = h.join(static_req("i-a"));
    let tb = h.join(static_req("i-b"));
    h.advance(100);
    h.advance(100);
    let (ja, jb) = (h.joined(ta).unwrap(), h.joined(tb).unwrap());
    let (leader, follower) = if ja.leader == ja.member_id {
        (ja, jb)
    } else {
        (jb, ja)
    };
    let s = h.sync(sync_req(
        G,
        &leader.member_id,
        1,
        &[(&follower.member_id, b"F")],
    ));
    assert!(h.synced(s).is_some());
    let instance = if follower.member_id.starts_with("i-a") {
        "i-a"
    } else {
        "i-b"
    };

    // The follower restarts: same instance id, no member id.
    let t = h.join(static_req(instance));
    let j = h.joined(t).expect("answered without a rebalance");
    assert_eq!((j.error, j.generation_id), (None, 1));
    assert_ne!(j.member_id, follower.member_id);
    assert_eq!(h.heartbeat(G, &leader.member_id, 1), None, "no rebalance");
    let s = h.sync(sync_req(G, &j.member_id, 1, &[]));
    assert_eq!(
        &h.synced(s).unwrap().assignment[..],
        b"F",
        "keeps its assignment"
    );
    let old =
        h.c.heartbeat(h.now, G, &follower.member_id, Some(instance), 1);
    assert_eq!(old, Some(E::FencedInstanceId));
}

#[test]
fn cooperative_rebalances_relay_metadata_and_assignments_untouched() {
    let mut h = Harness::new();
    let coop: &[(&str, &[u8])] = &[("cooperative-sticky", b"owned:0,1"), ("range", b"r")];
    let (a, ta) = handshake(&mut h, join_req(G, "", coop));
    h.advance(100);
    let j = h.joined(ta).unwrap();
    assert_eq!(j.protocol_name.as_deref(), Some("cooperative-sticky"));
    assert_eq!(&j.members[0].metadata[..], b"owned:0,1");
    let s = h.sync(sync_req(G, &a, 1, &[(&a, b"0,1,2,3")]));
    assert_eq!(&h.synced(s).unwrap().assignment[..], b"0,1,2,3");

    // Phase 1: b joins, a rejoins reporting what it owns; the leader revokes 2,3 from a.
    let (b, tb) = handshake(&mut h, join_req(G, "", coop));
    let ta = h.join(join_req(
        G,
        &a,
        &[("cooperative-sticky", b"owned:0,1,2,3"), ("range", b"r")],
    ));
    let (ja, jb) = (h.joined(ta).unwrap(), h.joined(tb).unwrap());
    assert_eq!((ja.generation_id, jb.generation_id), (2, 2));
    let leader_view = if ja.leader == a { &ja } else { &jb };
    let a_meta = leader_view
        .members
        .iter()
        .find(|m| m.member_id == a)
        .unwrap();
    assert_eq!(&a_meta.metadata[..], b"owned:0,1,2,3");
    let (leader, follower) = if ja.leader == a {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    };
    let sf = h.sync(sync_req(G, &follower, 2, &[]));
    let sl = h.sync(sync_req(G, &leader, 2, &[(&a, b"0,1"), (&b, b"")]));
    assert!(h.synced(sl).is_some() && h.synced(sf).is_some());

    // Phase 2: a rejoins after revoking, the leader hands 2,3 to b.
    let ta = h.join(join_req(G, &a, coop));
    let tb = h.join(join_req(G, &b, coop));
    let (ja, jb) = (h.joined(ta).unwrap(), h.joined(tb).unwrap());
    assert_eq!((ja.generation_id, jb.generation_id), (3, 3));
    let sf = h.sync(sync_req(G, &follower, 3, &[]));
    let sl = h.sync(sync_req(G, &leader, 3, &[(&a, b"0,1"), (&b, b"2,3")]));
    let (rl, rf) = (h.synced(sl).unwrap(), h.synced(sf).unwrap());
    let (ra, rb) = if leader == a { (rl, rf) } else { (rf, rl) };
    assert_eq!(
        (&ra.assignment[..], &rb.assignment[..]),
        (&b"0,1"[..], &b"2,3"[..])
    );
}

#[test]
fn leave_group_rebalances_the_rest_and_empties_the_group() {
    let mut h = Harness::new();
    let (leader, follower, _) = stable_pair(&mut h);
    let leaving = [
        LeavingMember {
            member_id: follower.clone(),
            instance_id: None,
        },
        LeavingMember {
            member_id: "ghost".into(),
            instance_id: None,
        },
    ];
    let r = h.call(|c, now, _| c.leave(now, G, &leaving)).unwrap();
    assert_eq!(r, vec![None, Some(E::UnknownMemberId)]);
    let t = h.join(join_req(G, &leader, RANGE));
    assert_eq!(h.joined(t).unwrap().generation_id, 2);
    let only = [LeavingMember {
        member_id: leader.clone(),
        instance_id: None,
    }];
    h.call(|c, now, _| c.leave(now, G, &only)).unwrap();
    let listed = h.c.list_groups(&[], &[]);
    assert_eq!(listed[0].state, "Empty");
    assert_eq!(h.c.delete_group(h.now, G), None);
    assert!(h.c.list_groups(&[], &[]).is_empty());
}

#[test]
fn inconsistent_protocols_are_rejected() {
    let mut h = Harness::new();
    let (a, _) = handshake(&mut h, join_req(G, "", RANGE));
    h.advance(100);
    let _ = a;
    let t = h.join(JoinRequest {
        require_known_member_id: false,
        ..join_req(G, "", &[("roundrobin", b"x")])
    });
    assert_eq!(
        h.joined(t).unwrap().error,
        Some(E::InconsistentGroupProtocol)
    );
    let t = h.join(join_req(G, "someone", RANGE));
    assert_eq!(h.joined(t).unwrap().error, Some(E::UnknownMemberId));
    let t = h.join(join_req("acme.new", "someone", RANGE));
    assert_eq!(h.joined(t).unwrap().error, Some(E::UnknownMemberId));
}
