//! Deliveries of a message whose step already runs in this process. The server may hand
//! a worker the same stream sequence again while its step still runs: its ack deadline
//! passed (the process starved of CPU, progress was late), or a redelivery first went to
//! a pull request of a process that had just died (nats-server 2.9 then delivers it
//! twice, the second time at once). Two steps of one message would race each other
//! through the same rows and objects, so the later delivery joins the running step
//! instead: the step sends its progress and its settlement on the reply subject of the
//! most recent delivery, the one the server counts. Another process may still get the
//! message meanwhile; steps are idempotent for that case, and this one is only the
//! common one made cheap and exact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::Subject;

/// What the server last said about a running message: the reply subject to use and how
/// many times it has delivered the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Latest {
    pub reply: Subject,
    pub delivered: u64,
}

type Shared = Arc<Mutex<Latest>>;

/// The stream sequences whose step runs in this process (one map per stage).
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    running: Mutex<HashMap<u64, Shared>>,
}

/// A step this delivery started; dropping it (the step settled, or was aborted) lets the
/// next delivery of the sequence start a step of its own.
#[derive(Debug)]
pub(crate) struct Running<'a> {
    owner: &'a InFlight,
    sequence: u64,
    latest: Shared,
}

impl InFlight {
    /// Starts the step of `sequence`, or, when one runs already, hands it this delivery
    /// (kept when the server has delivered the message more often by now) and returns
    /// `None`: the caller drops the delivery without settling it.
    pub fn claim(&self, sequence: u64, latest: Latest) -> Option<Running<'_>> {
        let mut running = self.running.lock().expect("in-flight map");
        if let Some(shared) = running.get(&sequence) {
            let mut current = shared.lock().expect("in-flight delivery");
            if latest.delivered >= current.delivered {
                *current = latest;
            }
            return None;
        }
        let shared = Arc::new(Mutex::new(latest));
        running.insert(sequence, shared.clone());
        Some(Running { owner: self, sequence, latest: shared })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.running.lock().unwrap().len()
    }
}

impl Running<'_> {
    /// The delivery to answer on now.
    pub fn latest(&self) -> Latest {
        self.latest.lock().expect("in-flight delivery").clone()
    }

    /// Ends the claim and returns the delivery to settle on. A delivery that comes after
    /// this starts a step of its own (it is the server's, no longer this step's).
    pub fn finish(self) -> Latest {
        self.latest()
        // Dropped here: the sequence leaves the map.
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.owner.running.lock() {
            running.remove(&self.sequence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(reply: &str, delivered: u64) -> Latest {
        Latest { reply: Subject::from(reply), delivered }
    }

    #[test]
    fn a_second_delivery_of_a_running_sequence_joins_it_and_the_step_answers_on_the_newest() {
        let in_flight = InFlight::default();
        let running = in_flight.claim(7, delivery("$JS.ACK.S.c.1.7.1.0.0", 1)).expect("the first delivery runs");
        assert!(in_flight.claim(7, delivery("$JS.ACK.S.c.3.7.2.0.0", 3)).is_none(), "a duplicate does not run");
        assert_eq!(running.latest(), delivery("$JS.ACK.S.c.3.7.2.0.0", 3));
        // An older delivery arriving late (nats-server 2.9 can send them out of order)
        // does not replace the newer one.
        assert!(in_flight.claim(7, delivery("$JS.ACK.S.c.2.7.3.0.0", 2)).is_none());
        assert_eq!(running.finish(), delivery("$JS.ACK.S.c.3.7.2.0.0", 3));
        assert_eq!(in_flight.len(), 0);
    }

    #[test]
    fn other_sequences_run_side_by_side_and_a_settled_sequence_runs_again() {
        let in_flight = InFlight::default();
        let seven = in_flight.claim(7, delivery("a", 1)).expect("7 runs");
        let eight = in_flight.claim(8, delivery("b", 1)).expect("8 runs beside it");
        assert_eq!(in_flight.len(), 2);
        drop(seven);
        let again = in_flight.claim(7, delivery("c", 2)).expect("a redelivery after the settlement runs");
        assert_eq!(again.latest().reply.as_str(), "c");
        assert_eq!(eight.latest().reply.as_str(), "b");
    }
}
