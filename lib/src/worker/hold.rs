//! `Outcome::Hold`: a message that must wait for something outside it (its provider's
//! breaker is open, or all of the provider's slots are busy) goes back to its stream
//! without spending an attempt, however long the wait.
//!
//! JetStream counts every delivery, a nak included, and stops at `max_deliver`. So:
//! - the attempt a step sees is `Docflow-Attempts-Spent` (attempts spent by earlier copies
//!   of the message, 0 on the original) plus this copy's deliveries, minus the first one
//!   when it was a hold;
//! - a hold on a copy's first delivery is a nak with the delay asked; a hold on any later
//!   delivery republishes a fresh copy (same subject, body and headers, the attempts
//!   really spent in `Docflow-Attempts-Spent`, `Nats-Msg-Id: hold:{stream}:{seq}`) and
//!   acks the old one once the stream has the new one. The fresh copy's first delivery
//!   holds again with a nak, and so on: a copy never has more than one hold, so its
//!   attempts are known exactly;
//! - a retry on a copy's last server delivery that is not the last attempt republishes
//!   the same way (the spent attempts counting this one), since the server would not
//!   deliver that copy again.
//!
//! Whether a copy's first delivery was a hold is remembered by the process that settled it
//! ([`FirstHeld`]); a process that does not know (restarted, another process) assumes a
//! hold for a copy born of a hold, and no hold for an original. `provider/design.md`
//! explains why this is enough for the transfer stage.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};

use super::Delivery;
use super::fifo::Fifo;

/// Attempts spent by earlier copies of a message (a hold republished it).
pub const ATTEMPTS_SPENT: &str = "Docflow-Attempts-Spent";

/// Stream sequences remembered at most; the oldest is forgotten first.
const CAPACITY: usize = 4096;

/// The attempt number of delivery `delivered` of a copy that carries `spent` attempts
/// of earlier copies; `first_held`: whether the copy's first delivery was a hold.
pub fn attempt(spent: u64, delivered: u64, first_held: bool) -> u64 {
    let delivered = delivered.max(1);
    let held = u64::from(first_held && delivered > 1);
    spent + delivered - held
}

/// The attempts spent by earlier copies, from the header.
pub fn spent(headers: &HeaderMap) -> Option<u64> {
    headers.get(ATTEMPTS_SPENT).and_then(|v| v.as_str().trim().parse().ok())
}

/// Whether the first delivery of a copy (by stream sequence) was a hold, for the copies
/// whose first delivery this process settled and that are not finished yet.
pub struct FirstHeld(Fifo<u64, bool>);

impl Default for FirstHeld {
    fn default() -> FirstHeld {
        FirstHeld(Fifo::new(CAPACITY))
    }
}

impl FirstHeld {
    pub fn remember(&self, sequence: u64, held: bool) {
        self.0.insert(sequence, held);
    }

    /// Whether this process held the copy's first delivery; `None` when it does not know.
    pub fn recalls(&self, sequence: u64) -> Option<bool> {
        self.0.get(&sequence)
    }

    pub fn forget(&self, sequence: u64) {
        self.0.remove(&sequence);
    }
}

/// Publishes a fresh copy of `delivery` on its subject with `spent` attempts recorded,
/// and waits for the stream's ack. Deduplicated on `hold:{stream}:{seq}`: a copy
/// republished twice (the old one's ack was lost) is stored once.
pub async fn republish(js: &jetstream::Context, stream: &str, delivery: &Delivery, spent: u64) -> Result<(), String> {
    let mut headers = HeaderMap::new();
    for (name, values) in delivery.headers.iter() {
        let name: &str = name.as_ref();
        if name.eq_ignore_ascii_case("Nats-Msg-Id") || name.eq_ignore_ascii_case(ATTEMPTS_SPENT) {
            continue;
        }
        for value in values {
            headers.append(name, value.as_str());
        }
    }
    headers.insert(ATTEMPTS_SPENT, spent.to_string().as_str());
    headers.insert("Nats-Msg-Id", format!("hold:{stream}:{}", delivery.stream_sequence).as_str());
    let message = PublishMessage::build().headers(headers).payload(delivery.payload.clone());
    let ack = js.send_publish(delivery.subject.clone(), message).await.map_err(|e| e.to_string())?;
    ack.await.map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_first_delivery_is_not_an_attempt() {
        assert_eq!(attempt(0, 1, false), 1);
        assert_eq!(attempt(0, 1, true), 1, "the hold itself is numbered like the next attempt");
        assert_eq!(attempt(0, 2, true), 1);
        assert_eq!(attempt(0, 5, false), 5);
        assert_eq!(attempt(3, 2, true), 4);
        assert_eq!(attempt(3, 0, false), 4, "never below the first delivery");
    }

    /// A provider down for as long as you like: every cycle is a hold on a copy's first
    /// delivery (nak) then on its second (republish with the attempts really spent).
    #[test]
    fn any_number_of_hold_cycles_spends_no_attempt() {
        let mut spent = 2; // two real failures before the breaker opened
        for _ in 0..10_000 {
            let first = attempt(spent, 1, false);
            assert_eq!(first, spent + 1);
            let second = attempt(spent, 2, true);
            // The republished copy records the attempts spent: this delivery was a hold.
            spent = second - 1;
        }
        assert_eq!(spent, 2);
    }

    #[test]
    fn the_spent_header_is_read_and_a_bad_one_ignored() {
        let mut headers = HeaderMap::new();
        assert_eq!(spent(&headers), None);
        headers.insert(ATTEMPTS_SPENT, "3");
        assert_eq!(spent(&headers), Some(3));
        headers.insert(ATTEMPTS_SPENT, "x");
        assert_eq!(spent(&headers), None);
    }

    #[test]
    fn first_held_is_bounded_and_forgets() {
        let held = FirstHeld::default();
        held.remember(1, true);
        held.remember(2, false);
        assert_eq!(held.recalls(1), Some(true));
        assert_eq!(held.recalls(2), Some(false));
        held.forget(1);
        assert_eq!(held.recalls(1), None);
        for s in 0..(CAPACITY as u64 + 10) {
            held.remember(s, true);
        }
        assert_eq!(held.recalls(0), None);
        assert_eq!(held.recalls(CAPACITY as u64 + 9), Some(true));
    }
}
