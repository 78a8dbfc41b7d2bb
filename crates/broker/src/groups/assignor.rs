//! Server-side assignors for KIP-848 consumer groups: `uniform` (balanced and sticky) and
//! `range` (contiguous ranges per topic, co-partitioned when subscriptions match).

use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

pub const UNIFORM: &str = "uniform";
pub const RANGE: &str = "range";
/// Assignors by name; the first is the default (`group.consumer.assignors`).
pub const ASSIGNORS: &[&str] = &[UNIFORM, RANGE];

/// A member as an assignor sees it.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub id: String,
    pub instance_id: Option<String>,
    /// Subscribed topics that exist, by id.
    pub topics: BTreeSet<Uuid>,
}

/// Computes the target assignment. `partitions` gives each subscribed topic's partition count;
/// `previous` is the current target, which `uniform` keeps where it can.
pub fn assign(
    name: &str,
    members: &[MemberSpec],
    partitions: &BTreeMap<Uuid, i32>,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    if name == RANGE {
        range(members, partitions)
    } else {
        uniform(members, partitions, previous)
    }
}

fn range(members: &[MemberSpec], partitions: &BTreeMap<Uuid, i32>) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.clone(), Assignment::new()))
        .collect();
    for (topic, count) in partitions {
        let mut subscribed: Vec<&MemberSpec> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        subscribed.sort_by(|a, b| {
            let ka = a.instance_id.as_deref().unwrap_or(&a.id);
            let kb = b.instance_id.as_deref().unwrap_or(&b.id);
            ka.cmp(kb).then_with(|| a.id.cmp(&b.id))
        });
        let n = subscribed.len();
        if n == 0 {
            continue;
        }
        let total = usize::try_from(*count).unwrap_or(0);
        let (min, extra) = (total / n, total % n);
        let mut next = 0usize;
        for (i, m) in subscribed.iter().enumerate() {
            let len = min + usize::from(i < extra);
            let range: BTreeSet<i32> = (next..next + len)
                .filter_map(|p| i32::try_from(p).ok())
                .collect();
            next += len;
            if !range.is_empty() {
                if let Some(a) = out.get_mut(&m.id) {
                    a.insert(*topic, range);
                }
            }
        }
    }
    out
}

fn uniform(
    members: &[MemberSpec],
    partitions: &BTreeMap<Uuid, i32>,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    // Keep what each member had, where it is still valid and not claimed twice.
    let mut owner: BTreeMap<(Uuid, i32), usize> = BTreeMap::new();
    let mut owned: Vec<BTreeSet<(Uuid, i32)>> = vec![BTreeSet::new(); members.len()];
    for (i, m) in members.iter().enumerate() {
        let Some(prev) = previous.get(&m.id) else {
            continue;
        };
        for (topic, parts) in prev {
            let count = partitions.get(topic).copied().unwrap_or(0);
            if !m.topics.contains(topic) {
                continue;
            }
            for p in parts {
                if *p < count && !owner.contains_key(&(*topic, *p)) {
                    owner.insert((*topic, *p), i);
                    if let Some(set) = owned.get_mut(i) {
                        set.insert((*topic, *p));
                    }
                }
            }
        }
    }
    let mut unassigned: Vec<(Uuid, i32)> = Vec::new();
    for (topic, count) in partitions {
        if !members.iter().any(|m| m.topics.contains(topic)) {
            continue;
        }
        for p in 0..*count {
            if !owner.contains_key(&(*topic, p)) {
                unassigned.push((*topic, p));
            }
        }
    }
    let homogeneous = members.windows(2).all(|w| match w {
        [a, b] => a.topics == b.topics,
        _ => true,
    });
    if homogeneous && !members.is_empty() {
        // Quotas: floor(P/M), the members holding most get the +1s (fewest moves).
        let total: usize = owned.iter().map(BTreeSet::len).sum::<usize>() + unassigned.len();
        let (min, extra) = (total / members.len(), total % members.len());
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|a, b| {
            let la = owned.get(*a).map_or(0, BTreeSet::len);
            let lb = owned.get(*b).map_or(0, BTreeSet::len);
            lb.cmp(&la).then(a.cmp(b))
        });
        let mut quota = vec![min; members.len()];
        for i in order.iter().take(extra) {
            if let Some(q) = quota.get_mut(*i) {
                *q += 1;
            }
        }
        for (i, set) in owned.iter_mut().enumerate() {
            let q = quota.get(i).copied().unwrap_or(0);
            while set.len() > q {
                if let Some(last) = set.iter().next_back().copied() {
                    set.remove(&last);
                    unassigned.push(last);
                }
            }
        }
        unassigned.sort();
        for tp in unassigned {
            let target = (0..members.len())
                .filter(|i| {
                    owned.get(*i).map_or(0, BTreeSet::len) < quota.get(*i).copied().unwrap_or(0)
                })
                .min_by_key(|i| (owned.get(*i).map_or(0, BTreeSet::len), *i));
            if let Some(set) = target.and_then(|i| owned.get_mut(i)) {
                set.insert(tp);
            }
        }
    } else {
        unassigned.sort();
        for tp in unassigned {
            give_to_least_loaded(members, &mut owned, tp);
        }
        balance(members, &mut owned);
    }
    members
        .iter()
        .zip(owned)
        .map(|(m, set)| {
            let mut a = Assignment::new();
            for (t, p) in set {
                a.entry(t).or_default().insert(p);
            }
            (m.id.clone(), a)
        })
        .collect()
}

fn give_to_least_loaded(
    members: &[MemberSpec],
    owned: &mut [BTreeSet<(Uuid, i32)>],
    tp: (Uuid, i32),
) {
    let target = members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.topics.contains(&tp.0))
        .map(|(i, _)| i)
        .min_by_key(|i| (owned.get(*i).map_or(0, BTreeSet::len), *i));
    if let Some(set) = target.and_then(|i| owned.get_mut(i)) {
        set.insert(tp);
    }
}

/// Moves partitions from the most to the least loaded eligible members until no move narrows
/// a gap of two or more.
fn balance(members: &[MemberSpec], owned: &mut [BTreeSet<(Uuid, i32)>]) {
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    for _ in 0..=total {
        let mut moved = false;
        for from in 0..owned.len() {
            let from_len = owned.get(from).map_or(0, BTreeSet::len);
            let candidates: Vec<(Uuid, i32)> = owned
                .get(from)
                .map(|s| s.iter().rev().copied().collect())
                .unwrap_or_default();
            for tp in candidates {
                let to = members
                    .iter()
                    .enumerate()
                    .filter(|(i, m)| *i != from && m.topics.contains(&tp.0))
                    .map(|(i, _)| i)
                    .min_by_key(|i| (owned.get(*i).map_or(0, BTreeSet::len), *i));
                let Some(to) = to else { continue };
                if owned.get(to).map_or(0, BTreeSet::len) + 1 < from_len {
                    if let Some(s) = owned.get_mut(from) {
                        s.remove(&tp);
                    }
                    if let Some(s) = owned.get_mut(to) {
                        s.insert(tp);
                    }
                    moved = true;
                    break;
                }
            }
        }
        if !moved {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[Uuid]) -> MemberSpec {
        MemberSpec {
            id: id.into(),
            instance_id: None,
            topics: topics.iter().copied().collect(),
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn uniform_balances_and_keeps_previous_owners() {
        let t = Uuid::new_v4();
        let parts = BTreeMap::from([(t, 12)]);
        let two = [member("a", &[t]), member("b", &[t])];
        let first = assign(UNIFORM, &two, &parts, &BTreeMap::new());
        assert_eq!(count(&first["a"]), 6);
        assert_eq!(count(&first["b"]), 6);
        let three = [member("a", &[t]), member("b", &[t]), member("c", &[t])];
        let second = assign(UNIFORM, &three, &parts, &first);
        for m in ["a", "b", "c"] {
            assert_eq!(count(&second[m]), 4, "{m}");
        }
        // Sticky: a and b keep 4 of their previous 6 each.
        assert!(second["a"][&t].is_subset(&first["a"][&t]));
        assert!(second["b"][&t].is_subset(&first["b"][&t]));
        let all: BTreeSet<i32> = second
            .values()
            .flat_map(|a| a[&t].iter().copied())
            .collect();
        assert_eq!(all.len(), 12);
    }

    #[test]
    fn uniform_respects_heterogeneous_subscriptions() {
        let (t1, t2) = (Uuid::new_v4(), Uuid::new_v4());
        let parts = BTreeMap::from([(t1, 4), (t2, 4)]);
        let ms = [
            member("a", &[t1]),
            member("b", &[t1, t2]),
            member("c", &[t2]),
        ];
        let out = assign(UNIFORM, &ms, &parts, &BTreeMap::new());
        assert!(!out["a"].contains_key(&t2));
        assert!(!out["c"].contains_key(&t1));
        let total: usize = out.values().map(count).sum();
        assert_eq!(total, 8);
        let max = out.values().map(count).max().unwrap();
        let min = out.values().map(count).min().unwrap();
        assert!(max - min <= 1, "{out:?}");
    }

    #[test]
    fn range_gives_contiguous_ranges() {
        let t = Uuid::new_v4();
        let parts = BTreeMap::from([(t, 5)]);
        let ms = [member("a", &[t]), member("b", &[t])];
        let out = assign(RANGE, &ms, &parts, &BTreeMap::new());
        assert_eq!(out["a"][&t], BTreeSet::from([0, 1, 2]));
        assert_eq!(out["b"][&t], BTreeSet::from([3, 4]));
    }
}
