//! Pull requests sized to the free run slots: the server delivers a message only when a
//! slot is waiting for it, so no delivered message waits (and no progress is spent on
//! waiting). One inbox for the worker's whole life; `design.md` says why.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::jetstream::{self, AckKind};
use async_nats::{Client, StatusCode, Subject, Subscriber};
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;

/// How often an outstanding request's liveness is checked: a reconnect (the server
/// forgot every request) is noticed within this.
const CHECK: Duration = Duration::from_secs(1);
/// A request whose end (its last message, or the server's 408) has not come this long
/// after its expiry was lost.
const GRACE: Duration = Duration::from_secs(5);

/// A pull request the server still owes messages on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Request {
    left: usize,
    expires_at: Instant,
}

/// What came in on the inbox.
#[derive(Debug)]
pub(crate) enum Pulled {
    Message(Box<jetstream::Message>),
    /// Nothing to run (a heartbeat, a request ended or was found lost): the caller tops up.
    Nothing,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PullError {
    #[error("the consumer was deleted")]
    ConsumerDeleted,
    /// The server refuses requests of this shape (batch or expiry over the consumer's
    /// limits): asking again would be refused again.
    #[error("the server refuses the pull request: {0}")]
    Refused(String),
    /// JetStream cannot be reached or answered unexpectedly; asking again later may work.
    #[error("cannot pull: {0}")]
    Transient(String),
}

/// The bookkeeping of outstanding requests, apart from the connection so that it is tested
/// without a server. The server serves a consumer's waiting requests first come, first
/// served, and all of one worker's requests share an expiry, so deliveries and ends
/// apply to the oldest request.
#[derive(Debug, Default)]
struct Ledger {
    requests: VecDeque<Request>,
    /// The last request to finish was filled to the end: the stream has a backlog.
    backlog: bool,
}

impl Ledger {
    fn outstanding(&self) -> usize {
        self.requests.iter().map(|r| r.left).sum()
    }

    fn asked(&mut self, count: usize, expires_at: Instant) {
        self.requests.push_back(Request { left: count, expires_at });
    }

    fn delivered(&mut self) {
        if let Some(front) = self.requests.front_mut() {
            front.left = front.left.saturating_sub(1);
            if front.left == 0 {
                self.requests.pop_front();
                self.backlog = true;
            }
        }
    }

    /// The server ended the oldest request (its expiry, a leadership change...).
    fn ended(&mut self) {
        self.requests.pop_front();
        self.backlog = false;
    }

    /// The server refused the newest request (`Exceeded MaxWaiting`): it never existed.
    fn refused(&mut self) {
        self.requests.pop_back();
    }

    /// Drops requests whose end is overdue; true if any was.
    fn expire(&mut self, now: Instant) -> bool {
        let before = self.requests.len();
        self.requests.retain(|r| r.expires_at + GRACE > now);
        self.requests.len() != before
    }

    fn forget(&mut self) {
        self.requests.clear();
        self.backlog = false;
    }
}

/// What a status message on the inbox means for the requests.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Heartbeat,
    Ended,
    Refused,
    ConsumerDeleted,
    Unserviceable(String),
    NoResponders,
}

fn classify(status: StatusCode, description: Option<&str>) -> Status {
    let description = description.unwrap_or_default();
    match status {
        StatusCode::IDLE_HEARTBEAT => Status::Heartbeat,
        StatusCode::NO_RESPONDERS => Status::NoResponders,
        _ if description == "Consumer Deleted" => Status::ConsumerDeleted,
        _ if description.starts_with("Exceeded MaxWaiting") => Status::Refused,
        _ if description.starts_with("Exceeded MaxRequest") || description == "Consumer is push based" => {
            Status::Unserviceable(format!("{status} {description}"))
        }
        // 408 Request Timeout, 409 Leadership Change / Server Shutdown / Batch Completed...
        _ => Status::Ended,
    }
}

/// One worker's pulls on its durable consumer.
pub(crate) struct Puller {
    consumer: PullConsumer,
    context: jetstream::Context,
    client: Client,
    inbox: Subject,
    messages: Subscriber,
    ledger: Ledger,
    expires: Duration,
    heartbeat: Duration,
    /// Last time the server said anything on the inbox.
    heard: Instant,
    /// The client's connection count when the requests were made: a reconnect loses them.
    connects: u64,
}

impl Puller {
    pub(crate) async fn open(
        consumer: PullConsumer,
        context: jetstream::Context,
        client: Client,
        expires: Duration,
        heartbeat: Duration,
    ) -> Result<Puller, PullError> {
        let inbox = Subject::from(client.new_inbox());
        let messages = client.subscribe(inbox.clone()).await.map_err(|e| PullError::Transient(e.to_string()))?;
        let connects = client.statistics().connects.load(Ordering::Relaxed);
        Ok(Puller {
            consumer,
            context,
            client,
            inbox,
            messages,
            ledger: Ledger::default(),
            expires,
            heartbeat,
            heard: Instant::now(),
            connects,
        })
    }

    /// How many messages to ask for now, given the free run slots (see [`to_request`]).
    pub(crate) fn wanted(&self, free: usize, concurrency: usize) -> usize {
        to_request(free, self.ledger.outstanding(), concurrency, self.ledger.backlog)
    }

    /// Asks the server for `count` more messages.
    pub(crate) async fn request(&mut self, stage: &'static str, count: usize) -> Result<(), PullError> {
        if count == 0 {
            return Ok(());
        }
        let config = BatchConfig {
            batch: count,
            expires: Some(self.expires),
            idle_heartbeat: self.heartbeat,
            ..BatchConfig::default()
        };
        if self.ledger.requests.is_empty() {
            self.heard = Instant::now();
            self.connects = self.client.statistics().connects.load(Ordering::Relaxed);
        }
        self.consumer
            .request_batch(config, self.inbox.clone())
            .await
            .map_err(|e| PullError::Transient(e.to_string()))?;
        self.ledger.asked(count, Instant::now() + self.expires);
        crate::metrics::stage_pull_request(stage);
        Ok(())
    }

    /// The next message, or `Nothing` when the requests changed without one.
    pub(crate) async fn next(&mut self) -> Result<Pulled, PullError> {
        loop {
            let message = tokio::select! {
                biased;
                message = self.messages.next() => message,
                _ = tokio::time::sleep(CHECK), if !self.ledger.requests.is_empty() => {
                    if self.lost() {
                        self.ledger.forget();
                        return Ok(Pulled::Nothing);
                    }
                    if self.ledger.expire(Instant::now()) {
                        return Ok(Pulled::Nothing);
                    }
                    continue;
                }
            };
            let Some(message) = message else {
                return Err(PullError::Transient("the inbox subscription ended".into()));
            };
            self.heard = Instant::now();
            match message.status {
                None | Some(StatusCode::OK) => {
                    self.ledger.delivered();
                    return Ok(Pulled::Message(Box::new(jetstream::Message {
                        message,
                        context: self.context.clone(),
                    })));
                }
                Some(status) => match classify(status, message.description.as_deref()) {
                    Status::Heartbeat => continue,
                    Status::Ended => self.ledger.ended(),
                    Status::Refused => self.ledger.refused(),
                    Status::NoResponders => {
                        self.ledger.forget();
                        return Err(PullError::Transient("JetStream did not answer the pull request".into()));
                    }
                    Status::ConsumerDeleted => return Err(PullError::ConsumerDeleted),
                    Status::Unserviceable(what) => return Err(PullError::Refused(what)),
                },
            }
            return Ok(Pulled::Nothing);
        }
    }

    /// The server no longer holds the requests: the client reconnected since they were
    /// made, or three heartbeats in a row did not come.
    fn lost(&self) -> bool {
        let connects = self.client.statistics().connects.load(Ordering::Relaxed);
        connects != self.connects || self.heard.elapsed() > self.heartbeat * 3
    }

    /// Stops pulling: unsubscribes, then naks at once what had arrived and was not taken,
    /// so it is delivered again now (here or elsewhere) rather than after its ack deadline.
    pub(crate) async fn close(mut self) {
        let mut arrived = Vec::new();
        while let Some(Some(message)) = self.messages.next().now_or_never() {
            if message.status.is_none_or(|s| s == StatusCode::OK) {
                arrived.push(message);
            }
        }
        let _ = self.messages.unsubscribe().await;
        for message in arrived {
            let message = jetstream::Message { message, context: self.context.clone() };
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }
}

/// How many messages to ask for, given the free run slots and what is already asked for
/// and not delivered. While the stream has a backlog (the last request was filled), asking
/// per freed slot would cost a request per message, so the worker waits until an eighth of
/// its slots (at least one) are free; otherwise any free slot is worth asking for.
fn to_request(free: usize, outstanding: usize, concurrency: usize, backlog: bool) -> usize {
    let want = free.saturating_sub(outstanding);
    let step = if backlog { (concurrency / 8).max(1) } else { 1 };
    if want < step { 0 } else { want }
}

/// Signalled when a step ends and its slot is free again, so the pull loop tops up.
pub(crate) type Freed = Arc<tokio::sync::Notify>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_fill_the_oldest_request_first_and_an_end_drops_it() {
        let now = Instant::now();
        let mut ledger = Ledger::default();
        ledger.asked(2, now + Duration::from_secs(60));
        ledger.asked(3, now + Duration::from_secs(61));
        assert_eq!(ledger.outstanding(), 5);
        ledger.delivered();
        ledger.delivered();
        assert_eq!(ledger.requests.len(), 1, "the first request is complete");
        ledger.delivered();
        assert_eq!(ledger.outstanding(), 2);
        ledger.ended();
        assert_eq!(ledger.outstanding(), 0, "the server's 408 ends the request with what it still owed");
        ledger.delivered();
        assert_eq!(ledger.outstanding(), 0, "a stray delivery never underflows");
    }

    #[test]
    fn a_refusal_drops_the_newest_request_and_overdue_ones_expire() {
        let now = Instant::now();
        let mut ledger = Ledger::default();
        ledger.asked(1, now + Duration::from_secs(1));
        ledger.asked(4, now + Duration::from_secs(60));
        ledger.refused();
        assert_eq!(ledger.outstanding(), 1);
        assert!(!ledger.expire(now + Duration::from_secs(2)), "within the grace after its expiry");
        assert!(ledger.expire(now + Duration::from_secs(1) + GRACE));
        assert_eq!(ledger.outstanding(), 0);
    }

    #[test]
    fn statuses_are_told_apart_by_what_the_worker_does_next() {
        assert_eq!(classify(StatusCode::IDLE_HEARTBEAT, Some("Idle Heartbeat")), Status::Heartbeat);
        assert_eq!(classify(StatusCode::TIMEOUT, Some("Request Timeout")), Status::Ended);
        assert_eq!(classify(StatusCode::REQUEST_TERMINATED, Some("Leadership Change")), Status::Ended);
        assert_eq!(classify(StatusCode::REQUEST_TERMINATED, Some("Consumer Deleted")), Status::ConsumerDeleted);
        assert_eq!(classify(StatusCode::REQUEST_TERMINATED, Some("Exceeded MaxWaiting")), Status::Refused);
        assert!(matches!(
            classify(StatusCode::REQUEST_TERMINATED, Some("Exceeded MaxRequestBatch of 8")),
            Status::Unserviceable(_)
        ));
        assert_eq!(classify(StatusCode::NO_RESPONDERS, None), Status::NoResponders);
    }

    #[test]
    fn requests_are_made_for_free_slots_only_and_batched_under_a_backlog() {
        assert_eq!(to_request(16, 0, 16, false), 16, "an idle worker asks for every slot");
        assert_eq!(to_request(1, 0, 16, false), 1, "no backlog: one free slot is worth a request");
        assert_eq!(to_request(1, 0, 16, true), 0, "a backlog: wait for an eighth of the slots");
        assert_eq!(to_request(3, 0, 16, true), 3);
        assert_eq!(to_request(4, 4, 16, false), 0, "every free slot is asked for already");
        assert_eq!(to_request(6, 1, 16, false), 5, "never more than the free slots");
        assert_eq!(to_request(1, 0, 1, true), 1);
        assert_eq!(to_request(1, 1, 1, false), 0);
    }

    #[test]
    fn a_filled_request_means_a_backlog_and_a_timed_out_one_means_none() {
        let now = Instant::now();
        let mut ledger = Ledger::default();
        ledger.asked(1, now + Duration::from_secs(60));
        ledger.delivered();
        assert!(ledger.backlog);
        ledger.asked(2, now + Duration::from_secs(60));
        ledger.delivered();
        ledger.ended();
        assert!(!ledger.backlog);
    }
}
