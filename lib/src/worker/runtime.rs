//! Runs one stage on its durable pull consumer: at most `concurrency` steps at once,
//! progress while a step runs, outcomes turned into ack / nak with delay / dead letter.
//! `design.md` explains the delivery semantics.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::{ConsumerInfoErrorKind, GetStreamErrorKind};
use async_nats::jetstream::{self, Message};
use async_nats::{Client, Subject};
use bytes::Bytes;
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::dead_letter::{self, publish_dead_letter};
use super::hold::{self, FirstHeld};
use super::inflight::{InFlight, Latest, Running};
use super::pull::{Freed, PullError, Pulled, Puller};
use super::{Delivery, Outcome, Stage, WorkerError};
use crate::db::statements;
use crate::lifecycle::FailureCause;
use crate::nats::Names;
use crate::settings::{Settings, StageSettings};

/// How long the pull loop pauses after JetStream refused or did not answer a request.
const PULL_PAUSE: Duration = Duration::from_secs(1);
/// The server's heartbeat on an idle pull, and so how soon a pull the server forgot is
/// noticed (three missed heartbeats): across a reconnect, or when the consumer's leader in
/// a cluster dies with the requests it held (the new leader knows none of them, and says
/// nothing). A few wakeups a minute per stage: an idle process stays near zero CPU.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the server may take to confirm an ack.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `stage` until `shutdown` is cancelled, then finishes or naks what is in flight.
pub async fn run<S: Stage>(
    stage: Arc<S>,
    js: jetstream::Context,
    client: Client,
    settings: &Settings,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    Worker::bind(stage, js, client, settings).await?.run(shutdown).await
}

/// A stage bound to its durable consumer.
pub struct Worker<S: Stage> {
    bound: Arc<Bound<S>>,
    consumer: PullConsumer,
}

/// What every message task shares.
pub(crate) struct Bound<S: Stage> {
    pub stage: Arc<S>,
    pub js: jetstream::Context,
    pub client: Client,
    pub names: Names,
    pub stream_name: String,
    pub consumer_name: String,
    pub settings: StageSettings,
    pub grace: Duration,
    /// The consumer's `max_deliver` and `backoff` as the server has them: they decide
    /// the last attempt and how a nak delay is stretched (see `nak_delay`).
    pub max_deliver: i64,
    pub server_backoff: Vec<Duration>,
    pub ack_wait: Duration,
    /// `+TERM reason` needs nats-server 2.10.4; older servers ignore it entirely.
    pub term_with_reason: bool,
    /// Copies whose first delivery this process held (`hold.rs`).
    pub first_held: FirstHeld,
    /// Messages whose step runs now; a second delivery joins it (`inflight.rs`).
    pub in_flight: InFlight,
}

impl<S: Stage> Worker<S> {
    /// Binds to the stage's durable consumer, which `docflow setup` (`topology::apply`) created.
    pub async fn bind(
        stage: Arc<S>,
        js: jetstream::Context,
        client: Client,
        settings: &Settings,
    ) -> Result<Worker<S>, WorkerError> {
        let id = stage.id();
        let name = id.as_str();
        let consumer_name = id.consumer();
        let stage_settings = id.settings(&settings.stages).clone();
        let names = Names::new(&settings.nats.prefix);
        let stream_name = names.stream(id.stream());
        let missing =
            || WorkerError::MissingConsumer { stream: stream_name.clone(), consumer: consumer_name.to_owned() };
        let bind_err = |detail: String| WorkerError::Bind {
            stream: stream_name.clone(),
            consumer: consumer_name.to_owned(),
            detail,
        };
        let stream = match js.get_stream_no_info(&stream_name).await {
            Ok(stream) => stream,
            Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.code() == 404) => {
                return Err(missing());
            }
            Err(e) => return Err(bind_err(e.to_string())),
        };
        let info = match stream.consumer_info(consumer_name).await {
            Ok(info) => info,
            Err(e)
                if matches!(e.kind(), ConsumerInfoErrorKind::NotFound | ConsumerInfoErrorKind::StreamNotFound)
                    || matches!(e.kind(), ConsumerInfoErrorKind::JetStream(ref j) if j.code() == 404) =>
            {
                return Err(missing());
            }
            Err(e) => return Err(bind_err(e.to_string())),
        };
        let consumer: PullConsumer = stream.get_consumer(consumer_name).await.map_err(|e| bind_err(e.to_string()))?;
        let config = &info.config;
        if config.max_deliver != stage_settings.max_deliver || config.backoff != stage_settings.backoff {
            tracing::warn!(
                stage = name,
                consumer.max_deliver = config.max_deliver,
                settings.max_deliver = stage_settings.max_deliver,
                "consumer differs from the settings; run `docflow setup` to update it"
            );
        }
        let term_with_reason = version_at_least(&client.server_info().version, (2, 10, 4));
        let bound = Bound {
            stage,
            js,
            client,
            names,
            stream_name: stream_name.clone(),
            consumer_name: consumer_name.to_owned(),
            settings: stage_settings,
            grace: settings.shutdown.grace,
            max_deliver: config.max_deliver,
            server_backoff: config.backoff.clone(),
            ack_wait: config.ack_wait,
            term_with_reason,
            first_held: FirstHeld::default(),
            in_flight: InFlight::default(),
        };
        Ok(Worker { bound: Arc::new(bound), consumer })
    }

    /// Runs only the max-deliveries advisory listener (tests; `run` starts it itself).
    #[cfg(test)]
    pub(crate) fn spawn_advisories(&self, stop: CancellationToken) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
        tokio::spawn(dead_letter::listen_advisories(self.bound.clone(), stop))
    }

    /// Handles one delivery fetched by the caller, as a pulled one is (tests).
    #[cfg(test)]
    pub(crate) async fn handle_one(&self, message: Message) {
        handle_in_slot(self.bound.clone(), message, &CancellationToken::new()).await
    }

    /// Pulls and handles messages until `shutdown` is cancelled or the consumer is deleted.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let bound = self.bound;
        let stage = bound.stage.id().as_str();
        let concurrency = bound.settings.concurrency.max(1);
        let expires = bound.settings.pull_expires;
        let pull_err = |detail: String| WorkerError::Pull {
            stream: bound.stream_name.clone(),
            consumer: bound.consumer_name.clone(),
            detail,
        };
        let heartbeat = heartbeat_for(expires);
        let mut puller = Puller::open(self.consumer, bound.js.clone(), bound.client.clone(), expires, heartbeat)
            .await
            .map_err(|e| pull_err(e.to_string()))?;

        let stop_advisories = shutdown.child_token();
        let advisories = tokio::spawn(dead_letter::listen_advisories(bound.clone(), stop_advisories.clone()));
        let slots = Arc::new(Semaphore::new(concurrency));
        let freed: Freed = Arc::default();
        let tracker = TaskTracker::new();
        let hard_stop = CancellationToken::new();
        tracing::info!(stage, stream = %bound.stream_name, consumer = %bound.consumer_name, concurrency, "worker started");

        let result = loop {
            let wanted = puller.wanted(slots.available_permits(), concurrency);
            if wanted > 0
                && let Err(e) = puller.request(stage, wanted).await
            {
                tracing::warn!(stage, error = %e, "cannot ask for messages; asking again shortly");
                tokio::select! {
                    _ = shutdown.cancelled() => break Ok(()),
                    _ = tokio::time::sleep(PULL_PAUSE) => continue,
                }
            }
            let pulled = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ok(()),
                _ = freed.notified() => continue,
                pulled = puller.next() => pulled,
            };
            match pulled {
                Ok(Pulled::Message(message)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let turn = Turn { slot, freed: freed.clone(), hard_stop: hard_stop.clone() };
                        tracker.spawn(handle(bound.clone(), *message, turn));
                    }
                    // Asked for before a reconnect and delivered after all: no slot is
                    // waiting for it, so it goes back at once rather than wait here.
                    Err(_) => {
                        let _ = message.ack_with(jetstream::AckKind::Nak(None)).await;
                    }
                },
                Ok(Pulled::Nothing) => {}
                Err(PullError::ConsumerDeleted) => {
                    break Err(WorkerError::ConsumerDeleted {
                        stream: bound.stream_name.clone(),
                        consumer: bound.consumer_name.clone(),
                    });
                }
                Err(e @ PullError::Refused(_)) => break Err(pull_err(e.to_string())),
                Err(e @ PullError::Transient(_)) => {
                    tracing::warn!(stage, error = %e, "pull interrupted; asking again shortly");
                    tokio::select! {
                        _ = shutdown.cancelled() => break Ok(()),
                        _ = tokio::time::sleep(PULL_PAUSE) => {}
                    }
                }
            }
        };

        // Stop pulling; what arrived and was not started goes back at once.
        puller.close().await;
        tracker.close();
        if tokio::time::timeout(bound.grace, tracker.wait()).await.is_err() {
            tracing::warn!(stage, grace = ?bound.grace, in_flight = tracker.len(), "shutdown grace over; naking what is still running");
            hard_stop.cancel();
            tracker.wait().await;
        }
        stop_advisories.cancel();
        match advisories.await {
            Ok(Err(e)) if result.is_ok() => return Err(e),
            _ => {}
        }
        if let Err(e) = bound.client.flush().await {
            tracing::warn!(stage, error = %e, "cannot flush the nats connection");
        }
        tracing::info!(stage, "worker stopped");
        result
    }
}

/// What a message task holds while it runs: its run slot (given back, with a signal to
/// the pull loop, when it ends) and the signal that aborts the step at the end of the
/// shutdown grace.
struct Turn {
    slot: OwnedSemaphorePermit,
    freed: Freed,
    hard_stop: CancellationToken,
}

/// Handles one delivery from delivery to settlement: runs the step (sending progress),
/// settles. Its run slot was taken before the message was asked for.
async fn handle<S: Stage>(bound: Arc<Bound<S>>, message: Message, turn: Turn) {
    let Turn { slot, freed, hard_stop } = turn;
    handle_in_slot(bound, message, &hard_stop).await;
    drop(slot);
    freed.notify_one();
}

async fn handle_in_slot<S: Stage>(bound: Arc<Bound<S>>, message: Message, hard_stop: &CancellationToken) {
    let (delivered, stream_sequence) = match message.info() {
        Ok(info) => (info.delivered.max(1) as u64, info.stream_sequence),
        Err(e) => {
            tracing::error!(error = %e, subject = %message.subject, "not a JetStream delivery; ignored");
            return;
        }
    };
    let message = message.message;
    let Some(reply) = message.reply.clone() else {
        return;
    };
    let headers = message.headers.unwrap_or_default();
    let spent = hold::spent(&headers);
    // Unknown here (another process held it, or this one restarted): a copy born of a
    // hold most likely held its first delivery too; an original most likely did not.
    let first_held = bound.first_held.recalls(stream_sequence).unwrap_or(spent.is_some());
    // The attempt a delivery counts as (also for a later one that joins the step).
    let attempt_of = |delivered| hold::attempt(spent.unwrap_or(0), delivered, first_held);
    let attempt = attempt_of(delivered);
    let delivery = Delivery {
        subject: message.subject.to_string(),
        headers,
        payload: message.payload,
        attempt,
        delivered,
        max_deliver: bound.max_deliver,
        stream_sequence,
    };
    let span = tracing::info_span!(
        "message",
        stage = bound.stage.id().as_str(),
        attempt,
        stream_seq = stream_sequence,
        document_id = delivery.header(dead_letter::DOCUMENT_ID).unwrap_or_default(),
        outcome = tracing::field::Empty,
    );
    // One trace per document: the message's trace, else the document's.
    let named = delivery.header(dead_letter::DOCUMENT_ID).and_then(|id| id.parse().ok());
    let document = named.or_else(|| bound.stage.document_of(&delivery));
    let carried = delivery.header(dead_letter::TRACEPARENT).map(str::to_owned);
    crate::telemetry::link(&span, carried.or_else(|| document.map(crate::messages::traceparent_for)).as_deref());
    if delivery.header(dead_letter::DOCUMENT_ID).is_none()
        && let Some(id) = document
    {
        span.record("document_id", id.to_string());
    }
    let handled = async {
        let Some(running) = bound.in_flight.claim(stream_sequence, Latest { reply, delivered }) else {
            tracing::debug!(delivered, "the message's step already runs here; this delivery joins it");
            crate::metrics::stage_delivery_joined(bound.stage.id().as_str());
            return;
        };
        let step = tokio::spawn({
            let (stage, delivery) = (bound.stage.clone(), delivery.clone());
            statements::in_stage(stage.id().as_str(), async move { stage.step(&delivery).await }).in_current_span()
        });
        let started = std::time::Instant::now();
        let outcome = run_with_progress(&bound, &running, delivered, step, hard_stop).await;
        // Settled on the delivery the server counts now (a later one may have joined).
        let Latest { reply, delivered } = running.finish();
        let delivery = if delivered == delivery.delivered {
            delivery
        } else {
            Delivery { delivered, attempt: attempt_of(delivered), ..delivery }
        };
        match outcome {
            Some(outcome) => {
                let label = match &outcome {
                    Outcome::Done => "done",
                    Outcome::Retry { .. } if !delivery.is_last_attempt() => "retry",
                    Outcome::Later { .. } if !delivery.is_last_attempt() => "later",
                    Outcome::Hold { .. } => "held",
                    _ => "dead_letter",
                };
                crate::metrics::stage_step(bound.stage.id().as_str(), label, started.elapsed());
                tracing::Span::current().record("outcome", label);
                settle(&bound, &reply, &delivery, outcome).await
            }
            None => {
                // Shut down mid-step: hand the message back soon, to this or another worker.
                let delay = nak_delay(bound.settings.backoff[0], delivered, &bound.server_backoff);
                tracing::warn!(?delay, "step interrupted by shutdown; naked");
                send(&bound.client, &reply, nak_payload(delay)).await;
            }
        }
    };
    handled.instrument(span).await;
}

/// Awaits the step, sending progress so the ack deadline does not pass; `None` when the
/// shutdown grace ran out first (the step is aborted).
async fn run_with_progress<S: Stage>(
    bound: &Bound<S>,
    running: &Running<'_>,
    attempt: u64,
    mut step: tokio::task::JoinHandle<Outcome>,
    hard_stop: &CancellationToken,
) -> Option<Outcome> {
    tokio::select! {
        biased;
        joined = with_progress(bound, running, attempt, "running", &mut step) => Some(match joined {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => Outcome::retry("the step panicked"),
            Err(e) => Outcome::retry(format!("the step did not finish: {e}")),
        }),
        _ = hard_stop.cancelled() => {
            step.abort();
            None
        }
    }
}

/// Awaits `work`, sending `+WPI` every `progress_period` on the latest delivery so its ack
/// deadline does not pass meanwhile; `phase` labels the progress metric.
async fn with_progress<S: Stage, F: Future>(
    bound: &Bound<S>,
    running: &Running<'_>,
    attempt: u64,
    phase: &'static str,
    work: F,
) -> F::Output {
    let period = progress_period(attempt, &bound.server_backoff, bound.ack_wait);
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            done = &mut work => return done,
            _ = progress.tick() => {
                crate::metrics::stage_progress(bound.stage.id().as_str(), phase);
                if let Err(e) = bound.client.publish(running.latest().reply, Bytes::from_static(b"+WPI")).await {
                    tracing::warn!(error = %e, "cannot send progress");
                }
            }
        }
    }
}

async fn settle<S: Stage>(bound: &Bound<S>, reply: &Subject, delivery: &Delivery, outcome: Outcome) {
    // What a copy's first delivery was decides its later attempt numbers; once the copy
    // is finished (or replaced, below) it is forgotten.
    match &outcome {
        Outcome::Retry { .. } if !delivery.is_last_attempt() => {
            if delivery.delivered == 1 {
                bound.first_held.remember(delivery.stream_sequence, false);
            }
        }
        Outcome::Hold { .. } if delivery.delivered == 1 => {}
        // Timers (the watchdog) never hold: unknown means "not held", which is right.
        Outcome::Later { .. } if !delivery.is_last_attempt() => {}
        _ => bound.first_held.forget(delivery.stream_sequence),
    }
    match outcome {
        Outcome::Done => {
            if confirm(&bound.client, reply, Bytes::from_static(b"+ACK")).await {
                tracing::debug!("step done");
            }
        }
        Outcome::Hold { after, reason } => hold_message(bound, reply, delivery, after, &reason).await,
        // The server would not deliver this copy again, yet attempts are left (earlier
        // deliveries were holds): a fresh copy carries on, redelivered at once.
        Outcome::Retry { reason, .. }
            if !delivery.is_last_attempt()
                && bound.max_deliver > 0
                && delivery.delivered as i64 >= bound.max_deliver =>
        {
            tracing::info!(%reason, "step will retry on a fresh copy (this one's deliveries are used up)");
            match hold::republish(&bound.js, &bound.stream_name, delivery, delivery.attempt).await {
                Ok(()) => {
                    bound.first_held.forget(delivery.stream_sequence);
                    confirm(&bound.client, reply, Bytes::from_static(b"+ACK")).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot republish; the message will be dead-lettered by the advisory")
                }
            }
        }
        Outcome::Retry { after, reason } if !delivery.is_last_attempt() => {
            let wanted = after.unwrap_or_else(|| with_jitter(backoff_for(&bound.settings.backoff, delivery.attempt)));
            let delay = nak_delay(wanted, delivery.delivered, &bound.server_backoff);
            tracing::info!(%reason, ?wanted, "step will retry");
            confirm(&bound.client, reply, nak_payload(delay)).await;
        }
        Outcome::Later { after, reason } if !delivery.is_last_attempt() => {
            let delay = nak_delay(after, delivery.delivered, &bound.server_backoff);
            tracing::debug!(%reason, ?after, "message held");
            confirm(&bound.client, reply, nak_payload(delay)).await;
        }
        Outcome::Retry { reason, .. } | Outcome::Later { reason, .. } => {
            let reason = format!("last attempt ({} of {}): {reason}", delivery.attempt, delivery.max_deliver);
            dead_letter_and_term(bound, reply, delivery, &reason, None).await;
        }
        Outcome::Fail { reason, cause } => dead_letter_and_term(bound, reply, delivery, &reason, cause).await,
    }
}

/// A hold: a nak with `after` on the copy's first delivery, a fresh copy on any later one
/// (`hold.rs`). Never a dead letter.
async fn hold_message<S: Stage>(bound: &Bound<S>, reply: &Subject, delivery: &Delivery, after: Duration, reason: &str) {
    let room = bound.max_deliver <= 0 || (delivery.delivered as i64) < bound.max_deliver;
    if delivery.delivered == 1 && room {
        bound.first_held.remember(delivery.stream_sequence, true);
        tracing::debug!(%reason, ?after, "message held");
        confirm(&bound.client, reply, nak_payload(nak_delay(after, delivery.delivered, &bound.server_backoff))).await;
        return;
    }
    // This delivery was not an attempt: the copy records the ones before it.
    let spent = delivery.attempt.saturating_sub(1);
    match hold::republish(&bound.js, &bound.stream_name, delivery, spent).await {
        Ok(()) => {
            tracing::debug!(%reason, spent, "message held on a fresh copy");
            confirm(&bound.client, reply, Bytes::from_static(b"+ACK")).await;
        }
        Err(e) => {
            // Held anyway; the next hold tries again. A copy never reaches its last
            // delivery by holds alone while republishing works.
            tracing::warn!(error = %e, %reason, "cannot republish a held message; naked");
            confirm(&bound.client, reply, nak_payload(nak_delay(after, delivery.delivered, &bound.server_backoff)))
                .await;
        }
    }
}

async fn dead_letter_and_term<S: Stage>(
    bound: &Bound<S>,
    reply: &Subject,
    delivery: &Delivery,
    reason: &str,
    cause: Option<FailureCause>,
) {
    let stage = bound.stage.id();
    let delivery = &*dead_letter::named(bound.stage.as_ref(), delivery);
    if let Err(e) = publish_dead_letter(&bound.js, &bound.names, stage, &bound.stream_name, delivery, reason).await {
        // Not terminated: redelivered later, or caught by the max-deliveries advisory.
        tracing::error!(error = %e, %reason, "cannot dead-letter; the message will be redelivered");
        let delay = nak_delay(
            backoff_for(&bound.settings.backoff, delivery.attempt),
            delivery.delivered,
            &bound.server_backoff,
        );
        send(&bound.client, reply, nak_payload(delay)).await;
        return;
    }
    tracing::warn!(%reason, "message dead-lettered");
    statements::in_stage(stage.as_str(), bound.stage.on_dead_letter(delivery, reason, cause)).await;
    let term = if bound.term_with_reason {
        Bytes::from(format!("+TERM {}", reason.replace(['\r', '\n'], " ")))
    } else {
        Bytes::from_static(b"+TERM")
    };
    confirm(&bound.client, reply, term).await;
}

/// Sends an ack-kind and waits for the server to confirm it (like `double_ack`), so an
/// ack is on the server before anything that follows it. False (logged) on failure: the
/// message is then redelivered after its ack deadline.
async fn confirm(client: &Client, reply: &Subject, payload: Bytes) -> bool {
    let kind = String::from_utf8_lossy(&payload[..payload.len().min(5)]).into_owned();
    match tokio::time::timeout(ACK_TIMEOUT, client.request(reply.clone(), payload)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, %kind, "ack not confirmed");
            false
        }
        Err(_) => {
            tracing::warn!(%kind, "ack not confirmed in time");
            false
        }
    }
}

async fn send(client: &Client, reply: &Subject, payload: Bytes) {
    if let Err(e) = client.publish(reply.clone(), payload).await {
        tracing::warn!(error = %e, "cannot send ack");
    }
}

fn nak_payload(delay: Duration) -> Bytes {
    jetstream::AckKind::Nak(Some(delay)).into()
}

/// The stage's delay before retry number `attempt`; the last entry repeats.
/// The idle heartbeat asked for with each pull request: at most [`IDLE_HEARTBEAT`], and
/// under half the request's expiry (the server refuses a heartbeat that is not).
pub(crate) fn heartbeat_for(expires: Duration) -> Duration {
    (expires / 2).min(IDLE_HEARTBEAT)
}

pub(crate) fn backoff_for(backoff: &[Duration], attempt: u64) -> Duration {
    let index = (attempt.saturating_sub(1) as usize).min(backoff.len().saturating_sub(1));
    backoff.get(index).copied().unwrap_or(Duration::from_secs(1))
}

/// Adds 0 to 10 %, never less than asked: workers failing together do not retry together.
pub(crate) fn with_jitter(delay: Duration) -> Duration {
    delay.mul_f64(1.0 + rand::rng().random_range(0.0..0.1))
}

/// The delay to send with a nak so the message comes back after `wanted`.
///
/// A consumer with BackOff redelivers a message naked with delay `d` on delivery `k`
/// after `d + (BackOff[k-1] - BackOff[0])` (the server sets the ack clock to
/// `now - AckWait + d` with `AckWait = BackOff[0]`, then waits BackOff[k-1]); subtract
/// that stretch. Never zero: `-NAK` without delay means "redeliver now".
pub(crate) fn nak_delay(wanted: Duration, attempt: u64, server_backoff: &[Duration]) -> Duration {
    let stretch = match server_backoff.first() {
        Some(first) => backoff_for(server_backoff, attempt).saturating_sub(*first),
        None => Duration::ZERO,
    };
    wanted.saturating_sub(stretch).max(Duration::from_millis(1))
}

/// A third of the current delivery's ack deadline, so two progress messages may be lost.
fn progress_period(attempt: u64, server_backoff: &[Duration], ack_wait: Duration) -> Duration {
    let deadline = if server_backoff.is_empty() { ack_wait } else { backoff_for(server_backoff, attempt) };
    let deadline = if deadline.is_zero() { Duration::from_secs(30) } else { deadline };
    (deadline / 3).max(Duration::from_millis(10))
}

/// Compares `2.10.4`-style versions; pre-release suffixes are ignored.
pub(crate) fn version_at_least(version: &str, wanted: (u64, u64, u64)) -> bool {
    let mut parts =
        version.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse::<u64>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= wanted
}
