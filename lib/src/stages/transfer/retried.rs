//! Which documents this process left in `received` when it naked their upload event, and
//! which message that was. On that message's redelivery the stage skips recording the
//! document and goes straight to the (idempotent) submission. A hint, never the truth:
//! the guarded `received -> submitted` write decides (see `design.md`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::ids::DocumentId;

/// Documents remembered at most; the oldest is forgotten first. A forgotten document
/// costs its redelivery the recording read, as on a process that never saw it.
pub const CAPACITY: usize = 4096;

/// A bounded map from document to the stream sequence of the message naked for it,
/// forgetting in insertion order (FIFO).
pub struct Retried {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Document -> (stream sequence, stamp of the insertion, submission round).
    entries: HashMap<DocumentId, (u64, u64, u32)>,
    /// Insertion order. A pair whose stamp no longer matches `entries` (forgotten or
    /// remembered again since) is stale and skipped; kept under twice the capacity.
    order: VecDeque<(DocumentId, u64)>,
    next_stamp: u64,
}

impl Retried {
    pub fn new(capacity: usize) -> Retried {
        Retried { capacity: capacity.max(1), inner: Mutex::new(Inner::default()) }
    }

    /// Remembers that the message at `sequence` was naked with `id` still `received` in
    /// submission round `round`.
    pub fn remember(&self, id: DocumentId, sequence: u64, round: u32) {
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        inner.entries.insert(id, (sequence, stamp, round));
        inner.order.push_back((id, stamp));
        while inner.entries.len() > self.capacity {
            let Some((oldest, stamp)) = inner.order.pop_front() else { break };
            if inner.entries.get(&oldest).is_some_and(|&(_, s, _)| s == stamp) {
                inner.entries.remove(&oldest);
            }
        }
        if inner.order.len() > 2 * self.capacity {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(id, stamp)| entries.get(id).is_some_and(|&(_, s, _)| s == *stamp));
        }
    }

    /// The submission round, when this is a redelivery of the message naked for `id`.
    pub fn recalls(&self, id: DocumentId, sequence: u64) -> Option<u32> {
        self.lock().entries.get(&id).filter(|&&(s, _, _)| s == sequence).map(|&(_, _, round)| round)
    }

    /// Forgets `id`: its document has left `received` (or may have).
    pub fn forget(&self, id: DocumentId) {
        self.lock().entries.remove(&id);
    }

    #[cfg(test)]
    fn recalls_some(&self, id: DocumentId, sequence: u64) -> bool {
        self.recalls(id, sequence).is_some()
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.order.len())
    }

    /// Never held across an await; a panic while held leaves consistent maps.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn doc(n: u128) -> DocumentId {
        DocumentId(Uuid::from_u128(n))
    }

    #[test]
    fn a_remembered_document_is_recalled_only_for_the_message_that_was_naked() {
        let retried = Retried::new(4);
        retried.remember(doc(1), 10, 0);
        assert!(retried.recalls_some(doc(1), 10));
        assert!(!retried.recalls_some(doc(1), 11), "a duplicate event is another message");
        assert!(!retried.recalls_some(doc(2), 10));
    }

    #[test]
    fn a_redelivery_is_resubmitted_in_the_round_it_was_naked_in() {
        let retried = Retried::new(4);
        retried.remember(doc(1), 10, 2);
        assert_eq!(retried.recalls(doc(1), 10), Some(2));
        assert_eq!(retried.recalls(doc(1), 11), None);
    }

    #[test]
    fn a_forgotten_document_is_not_recalled() {
        let retried = Retried::new(4);
        retried.remember(doc(1), 10, 0);
        retried.forget(doc(1));
        assert!(!retried.recalls_some(doc(1), 10));
        retried.forget(doc(1));
        assert_eq!(retried.len().0, 0);
    }

    #[test]
    fn past_the_capacity_the_oldest_is_forgotten_first() {
        let retried = Retried::new(3);
        for n in 1..=4 {
            retried.remember(doc(n), n as u64, 0);
        }
        assert!(!retried.recalls_some(doc(1), 1));
        assert!((2..=4).all(|n| retried.recalls_some(doc(n), n as u64)));
        assert_eq!(retried.len().0, 3);
    }

    #[test]
    fn remembering_again_moves_a_document_to_the_back() {
        let retried = Retried::new(2);
        retried.remember(doc(1), 1, 0);
        retried.remember(doc(2), 2, 0);
        retried.remember(doc(1), 3, 0);
        retried.remember(doc(3), 4, 0);
        assert!(retried.recalls_some(doc(1), 3), "its first insertion is stale, not the oldest");
        assert!(!retried.recalls_some(doc(1), 1));
        assert!(!retried.recalls_some(doc(2), 2));
        assert!(retried.recalls_some(doc(3), 4));
    }

    #[test]
    fn forgetting_and_remembering_stays_bounded() {
        let retried = Retried::new(8);
        for n in 0..10_000u128 {
            retried.remember(doc(n % 5), n as u64, 0);
            retried.forget(doc((n + 2) % 5));
        }
        let (entries, order) = retried.len();
        assert!(entries <= 8 && order <= 2 * 8 + 1, "{entries} entries, {order} in order");
    }
}
