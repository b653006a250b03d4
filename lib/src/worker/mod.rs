//! The worker runtime: each stage is an actor that owns its durable pull consumer and runs
//! its step function on each message. The runtime alone turns a step's [`Outcome`] into an
//! ack, a nak with delay or a dead letter. It runs no stage's logic: a stage's
//! [`StageId`](crate::ids::StageId) gives it the stage's `[stages.NAME]` settings, its
//! durable consumer and its dead-letter subject, and labels its logs and metrics.
//! See `design.md` beside this file for the delivery semantics.

pub mod dead_letter;
pub mod dlq;
pub mod dlq_batch;
pub mod fifo;
pub mod hold;
mod inflight;
mod pull;
mod runtime;
#[cfg(test)]
mod tests;

pub use dead_letter::{DeadLetterError, publish_dead_letter};
pub use runtime::{Worker, run};

use std::future::Future;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;

use crate::lifecycle::FailureCause;

/// What a step decided about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled (or nothing to do): ack.
    Done,
    /// A transient failure: nak with `after`, or with the stage's backoff when `None`.
    /// On the last allowed delivery the message is dead-lettered instead.
    Retry { after: Option<Duration>, reason: String },
    /// Not a failure: the message is not due yet (a timer). A nak with `after` like a
    /// retry, on the last allowed delivery a dead letter too, but logged at debug and
    /// counted as `later`: a held timer is not something operators need to read about.
    Later { after: Duration, reason: String },
    /// A permanent failure: dead letter on `{prefix}.dead.{stage}`, then term. `cause`,
    /// when the step knows it, is handed to [`Stage::on_dead_letter`] to store.
    Fail { reason: String, cause: Option<FailureCause> },
    /// Not an attempt: the message waits for something outside it (its provider is down
    /// or busy). Back to the stream for about `after` without spending an attempt and
    /// never dead-lettered for it, however long it lasts (`hold.rs`). Counted as `held`.
    Hold { after: Duration, reason: String },
}

impl Outcome {
    pub fn retry(reason: impl Into<String>) -> Outcome {
        Outcome::Retry { after: None, reason: reason.into() }
    }
    pub fn retry_after(after: Duration, reason: impl Into<String>) -> Outcome {
        Outcome::Retry { after: Some(after), reason: reason.into() }
    }
    pub fn later(after: Duration, reason: impl Into<String>) -> Outcome {
        Outcome::Later { after, reason: reason.into() }
    }
    pub fn hold(after: Duration, reason: impl Into<String>) -> Outcome {
        Outcome::Hold { after, reason: reason.into() }
    }
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome::Fail { reason: reason.into(), cause: None }
    }
}

/// An error that knows whether trying again may help: the steps' errors are classified by
/// what the caller does next, not by where they came from.
pub trait Transience: std::fmt::Display {
    fn is_transient(&self) -> bool;
}

/// Why a step stopped short, in terms of what the runtime does next: steps return
/// `Result<Outcome, StepError>` and use `?` on their clients' errors. Every error that
/// knows its [`Transience`] converts: a transient one retries with the stage's backoff,
/// any other fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// [`Outcome::Retry`]: nak with `after`, or with the stage's backoff when `None`.
    Retry { after: Option<Duration>, reason: String },
    /// [`Outcome::Hold`]: back to the stream without spending an attempt.
    Hold { after: Duration, reason: String },
    /// [`Outcome::Fail`]: dead letter.
    Fail { reason: String, cause: Option<FailureCause> },
}

impl StepError {
    pub fn retry(reason: impl Into<String>) -> StepError {
        StepError::Retry { after: None, reason: reason.into() }
    }
    pub fn retry_after(after: Duration, reason: impl Into<String>) -> StepError {
        StepError::Retry { after: Some(after), reason: reason.into() }
    }
    pub fn hold(after: Duration, reason: impl Into<String>) -> StepError {
        StepError::Hold { after, reason: reason.into() }
    }
    pub fn fail(reason: impl Into<String>) -> StepError {
        StepError::Fail { reason: reason.into(), cause: None }
    }
    /// A permanent failure whose cause the step knows.
    pub fn refuse(cause: FailureCause, reason: impl Into<String>) -> StepError {
        StepError::Fail { reason: reason.into(), cause: Some(cause) }
    }
    /// A permanent failure gets `cause` (unless it has one); a retry or hold is unchanged.
    pub fn caused_by(self, cause: FailureCause) -> StepError {
        match self {
            StepError::Fail { reason, cause: None } => StepError::Fail { reason, cause: Some(cause) },
            other => other,
        }
    }
    /// True for a retry (with or without its own delay).
    pub fn is_retry(&self) -> bool {
        matches!(self, StepError::Retry { .. })
    }
}

impl<E: Transience> From<E> for StepError {
    fn from(error: E) -> StepError {
        if error.is_transient() { StepError::retry(error.to_string()) } else { StepError::fail(error.to_string()) }
    }
}

impl From<StepError> for Outcome {
    fn from(error: StepError) -> Outcome {
        match error {
            StepError::Retry { after, reason } => Outcome::Retry { after, reason },
            StepError::Hold { after, reason } => Outcome::Hold { after, reason },
            StepError::Fail { reason, cause } => Outcome::Fail { reason, cause },
        }
    }
}

/// What a step function returns: its outcome, or the error that decides it.
pub type Step = Result<Outcome, StepError>;

/// The outcome of a step, whichever way it ended.
pub fn settled(step: Step) -> Outcome {
    step.unwrap_or_else(Outcome::from)
}

/// One delivery of a message, as a step sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
    /// 1 on the first delivery: the attempts spent on the message, this one included.
    /// Deliveries that were holds (`Outcome::Hold`) are not attempts (`hold.rs`).
    pub attempt: u64,
    /// The server's delivery count of this copy of the message (1 on its first delivery).
    pub delivered: u64,
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
    /// Which stage it is: its consumer, settings and dead-letter subject.
    fn id(&self) -> crate::ids::StageId;

    /// Handles one delivery. Never sleeps or loops to retry: it returns `Retry`.
    fn step(&self, delivery: &Delivery) -> impl Future<Output = Outcome> + Send;

    /// The document a delivery concerns when its headers do not name it (an upload event
    /// from the store carries no header): its dead letter then carries that
    /// `Docflow-Document-Id`, and a `traceparent` derived from it when it had none.
    fn document_of(&self, delivery: &Delivery) -> Option<crate::ids::DocumentId> {
        let _ = delivery;
        None
    }

    /// Called once a message is dead-lettered (permanent failure, last attempt, or the
    /// max-deliveries advisory after a crash loop) so the stage can record the failure.
    /// `cause` is the one a `Fail` named; `None` when the attempts ran out (or the step
    /// named none): the stage then knows which cause giving up is.
    fn on_dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        cause: Option<FailureCause>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (delivery, reason, cause);
        async {}
    }
}

/// Why a worker stopped; each names the consumer and the fix.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "consumer {consumer} on stream {stream} does not exist; run `docflow setup` to create the streams and consumers"
    )]
    MissingConsumer { stream: String, consumer: String },
    #[error(
        "cannot bind consumer {consumer} on stream {stream}: {detail}; is nats-server running with JetStream (-js) at nats.url?"
    )]
    Bind { stream: String, consumer: String, detail: String },
    #[error(
        "cannot pull from consumer {consumer} on stream {stream}: {detail}; check the consumer with `nats consumer info {stream} {consumer}` and run `docflow setup`"
    )]
    Pull { stream: String, consumer: String, detail: String },
    #[error(
        "consumer {consumer} on stream {stream} was deleted while the worker ran; run `docflow setup` and restart the worker"
    )]
    ConsumerDeleted { stream: String, consumer: String },
    #[error("cannot subscribe to {subject}: {detail}; the max-deliveries safety net needs it")]
    Advisories { subject: String, detail: String },
}
