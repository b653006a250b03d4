//! Which documents this process left in `received` when it naked their upload event, and
//! which message that was. On that message's redelivery the stage skips recording the
//! document and goes straight to the (idempotent) submission. A hint, never the truth:
//! the guarded `received -> submitted` write decides (see `design.md`).

use crate::ids::DocumentId;
use crate::worker::fifo::Fifo;

/// Documents remembered at most; the oldest is forgotten first. A forgotten document
/// costs its redelivery the recording read, as on a process that never saw it.
pub const CAPACITY: usize = 4096;

/// Document -> (stream sequence of the message naked for it, submission round).
pub struct Retried(Fifo<DocumentId, (u64, u32)>);

impl Retried {
    pub fn new(capacity: usize) -> Retried {
        Retried(Fifo::new(capacity))
    }

    /// Remembers that the message at `sequence` was naked with `id` still `received` in
    /// submission round `round`.
    pub fn remember(&self, id: DocumentId, sequence: u64, round: u32) {
        self.0.insert(id, (sequence, round));
    }

    /// The submission round, when this is a redelivery of the message naked for `id`.
    pub fn recalls(&self, id: DocumentId, sequence: u64) -> Option<u32> {
        self.0.get(&id).filter(|&(s, _)| s == sequence).map(|(_, round)| round)
    }

    /// Forgets `id`: its document has left `received` (or may have).
    pub fn forget(&self, id: DocumentId) {
        self.0.remove(&id);
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
        assert_eq!(retried.recalls(doc(1), 10), Some(0));
        assert_eq!(retried.recalls(doc(1), 11), None, "a duplicate event is another message");
        assert_eq!(retried.recalls(doc(2), 10), None);
        retried.forget(doc(1));
        assert_eq!(retried.recalls(doc(1), 10), None);
    }

    #[test]
    fn a_redelivery_is_resubmitted_in_the_round_it_was_naked_in() {
        let retried = Retried::new(4);
        retried.remember(doc(1), 10, 2);
        assert_eq!(retried.recalls(doc(1), 10), Some(2));
        assert_eq!(retried.recalls(doc(1), 11), None);
    }
}
