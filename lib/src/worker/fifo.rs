//! A bounded map that forgets in insertion order: what a process remembers about messages
//! it settled (a hint, never the truth), so that the memory it takes stays bounded however
//! long it runs. Used by the runtime's holds (`hold.rs`) and the transfer stage's retries.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most `capacity` entries; past it, the one inserted longest ago is forgotten first.
/// Inserting a key again replaces its value and moves it to the back.
pub struct Fifo<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    /// Key -> (value, stamp of its insertion).
    entries: HashMap<K, (V, u64)>,
    /// Insertion order. A pair whose stamp no longer matches `entries` (removed or
    /// inserted again since) is stale and skipped; kept under twice the capacity.
    order: VecDeque<(K, u64)>,
    next_stamp: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Fifo<K, V> {
    pub fn new(capacity: usize) -> Fifo<K, V> {
        let inner = Inner { entries: HashMap::new(), order: VecDeque::new(), next_stamp: 0 };
        Fifo { capacity: capacity.max(1), inner: Mutex::new(inner) }
    }

    pub fn insert(&self, key: K, value: V) {
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        inner.entries.insert(key.clone(), (value, stamp));
        inner.order.push_back((key, stamp));
        while inner.entries.len() > self.capacity {
            let Some((oldest, stamp)) = inner.order.pop_front() else { break };
            if inner.entries.get(&oldest).is_some_and(|(_, s)| *s == stamp) {
                inner.entries.remove(&oldest);
            }
        }
        self.compact(&mut inner);
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.lock().entries.get(key).map(|(value, _)| value.clone())
    }

    /// Cheap: the order keeps a stale pair, skipped on eviction and compacted when it
    /// grows past twice the capacity.
    pub fn remove(&self, key: &K) {
        let mut inner = self.lock();
        if inner.entries.remove(key).is_some() {
            self.compact(&mut inner);
        }
    }

    fn compact(&self, inner: &mut Inner<K, V>) {
        if inner.order.len() > 2 * self.capacity {
            let Inner { entries, order, .. } = inner;
            order.retain(|(key, stamp)| entries.get(key).is_some_and(|(_, s)| s == stamp));
        }
    }

    /// (entries, pairs in the order): both stay bounded.
    #[cfg(test)]
    pub fn sizes(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.order.len())
    }

    /// Never held across an await; a panic while held leaves consistent maps.
    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_capacity_the_oldest_is_forgotten_first() {
        let fifo = Fifo::new(3);
        for n in 1..=4 {
            fifo.insert(n, n * 10);
        }
        assert_eq!(fifo.get(&1), None);
        assert_eq!((2..=4).map(|n| fifo.get(&n)).collect::<Vec<_>>(), [Some(20), Some(30), Some(40)]);
        assert_eq!(fifo.sizes().0, 3);
    }

    #[test]
    fn inserting_again_replaces_the_value_and_moves_the_key_to_the_back() {
        let fifo = Fifo::new(2);
        fifo.insert(1, "a");
        fifo.insert(2, "b");
        fifo.insert(1, "c");
        fifo.insert(3, "d");
        assert_eq!(fifo.get(&1), Some("c"), "its first insertion is stale, not the oldest");
        assert_eq!(fifo.get(&2), None);
        assert_eq!(fifo.get(&3), Some("d"));
    }

    #[test]
    fn a_removed_key_is_gone_and_removing_twice_is_harmless() {
        let fifo = Fifo::new(4);
        fifo.insert(1, ());
        fifo.remove(&1);
        fifo.remove(&1);
        assert_eq!(fifo.get(&1), None);
        assert_eq!(fifo.sizes().0, 0);
    }

    #[test]
    fn inserting_and_removing_forever_stays_bounded() {
        let fifo = Fifo::new(8);
        for n in 0..10_000u64 {
            fifo.insert(n % 5, n);
            fifo.remove(&((n + 2) % 5));
            fifo.insert(n + 100, n);
        }
        let (entries, order) = fifo.sizes();
        assert!(entries <= 8 && order <= 2 * 8 + 1, "{entries} entries, {order} in order");
    }
}
