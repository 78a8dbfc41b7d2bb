//! A map with a fixed capacity that forgets its least recently used entry to make room, with
//! O(1) amortised work per operation. Used for state kept per client address (the failed-login
//! brake, connection-creation token buckets): a client chooses how many keys there are, so the
//! table must be bounded, and a flood must not make each update scan the table under a lock.
//!
//! Written here rather than taken from `lru`/`hashlink`: neither is in the dependency tree,
//! the structure is small, and it keeps `Cargo.lock` out of three concurrent branches.
//!
//! How: every touch appends `(key, stamp)` to a queue and records the stamp in the map. The
//! queue front is the least recently used entry once stale pairs (whose stamp the map no
//! longer holds) are skipped. The queue is compacted when it grows past twice the capacity,
//! which happens at most once per `capacity` touches.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

pub struct BoundedLru<K, V> {
    /// Each value with the stamp of its latest touch.
    map: HashMap<K, (V, u64)>,
    /// Touches, oldest first; a pair is live while the map holds its stamp for its key.
    order: VecDeque<(K, u64)>,
    /// The stamp of the latest touch.
    clock: u64,
    /// INVARIANT: at least 1, so the entry just touched is never the one evicted.
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedLru<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            clock: 0,
            capacity: capacity.max(1),
        }
    }

    /// The value for `key`, created by `make` if absent, marked most recently used. Makes room
    /// by forgetting the least recently used entry when the map is full.
    pub fn touch(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.clock = self.clock.wrapping_add(1);
        let stamp = self.clock;
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.capacity && self.evict_oldest() {}
        }
        if self.order.len() >= 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(_, live)| live == s));
        }
        self.order.push_back((key.clone(), stamp));
        let slot = self.map.entry(key).or_insert_with(|| (make(), stamp));
        slot.1 = stamp;
        &mut slot.0
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        // Its queue entries turn stale and are skipped or compacted away later.
        self.map.remove(key).map(|(v, _)| v)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forgets the least recently used entry; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, stamp)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|(_, live)| *live == stamp) {
                self.map.remove(&key);
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_is_evicted_at_capacity() {
        let mut lru = BoundedLru::new(3);
        for k in 0..3 {
            *lru.touch(k, || 0) += 1;
        }
        // Touch 0 again: 1 is now the least recently used.
        *lru.touch(0, || 0) += 1;
        lru.touch(3, || 0);
        assert_eq!(lru.len(), 3);
        assert_eq!(lru.get(&1), None);
        assert_eq!(lru.get(&0), Some(&2));
        assert_eq!(lru.get(&2), Some(&1));
        assert_eq!(lru.get(&3), Some(&0));
    }

    #[test]
    fn removal_frees_room_without_evicting_others() {
        let mut lru = BoundedLru::new(2);
        lru.touch("a", || 1);
        lru.touch("b", || 2);
        assert_eq!(lru.remove(&"a"), Some(1));
        lru.touch("c", || 3);
        assert_eq!(lru.get(&"b"), Some(&2));
        assert_eq!(lru.get(&"c"), Some(&3));
    }

    #[test]
    fn a_flood_of_keys_stays_bounded_and_the_queue_is_compacted() {
        let mut lru = BoundedLru::new(100);
        // The same hot key touched between floods of new keys survives them.
        for i in 0..100_000u32 {
            lru.touch(i, || ());
            lru.touch(u32::MAX, || ());
            assert!(lru.len() <= 100);
            assert!(lru.order.len() <= 2 * 100 + 1);
        }
        assert!(lru.get(&u32::MAX).is_some());
        assert!(lru.get(&0).is_none());
        assert!(lru.get(&99_999).is_some());
    }
}
