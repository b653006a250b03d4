//! The worker runtime: each stage is an actor that owns its durable pull consumer and runs
//! its step function on each message. The runtime alone turns a step's [`Outcome`] into an
//! ack, a nak with delay or a dead letter. It knows nothing about any stage.
//! See `design.md` beside this file for the delivery semantics.

use std::future::Future;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;

/// What a step decided about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled (or nothing to do): ack.
    Done,
    /// A transient failure: nak with `after`, or with the stage's backoff when `None`.
    /// On the last allowed delivery the message is dead-lettered instead.
    Retry { after: Option<Duration>, reason: String },
    /// A permanent failure: dead letter on `{prefix}.dead.{stage}`, then term.
    Fail { reason: String },
}

impl Outcome {
    pub fn retry(reason: impl Into<String>) -> Outcome {
        Outcome::Retry { after: None, reason: reason.into() }
    }
    pub fn retry_after(after: Duration, reason: impl Into<String>) -> Outcome {
        Outcome::Retry { after: Some(after), reason: reason.into() }
    }
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome::Fail { reason: reason.into() }
    }
}

/// One delivery of a message, as a step sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
    /// 1 on the first delivery.
    pub attempt: u64,
    /// The consumer's `max_deliver` (-1: unlimited).
    pub max_deliver: i64,
    pub stream_sequence: u64,
}

impl Delivery {
    /// True when a `Retry` now would exceed `max_deliver`.
    pub fn is_last_attempt(&self) -> bool {
        self.max_deliver > 0 && self.attempt as i64 >= self.max_deliver
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.as_str())
    }
}

/// A pipeline stage: a struct that owns its clients plus one step function per message.
pub trait Stage: Send + Sync + 'static {
    /// The stage's name: `transfer`, `validate`, `normalize`, `watchdog`.
    fn name(&self) -> &'static str;

    /// Handles one delivery. Never sleeps or loops to retry: it returns `Retry`.
    fn step(&self, delivery: &Delivery) -> impl Future<Output = Outcome> + Send;

    /// Called once a message is dead-lettered (permanent failure, last attempt, or the
    /// max-deliveries advisory after a crash loop) so the stage can record the failure.
    fn on_dead_letter(&self, delivery: &Delivery, reason: &str) -> impl Future<Output = ()> + Send {
        let _ = (delivery, reason);
        async {}
    }
}
