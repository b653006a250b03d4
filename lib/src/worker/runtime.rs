//! Runs one stage on its durable pull consumer: at most `concurrency` steps at once,
//! progress while a step runs, outcomes turned into ack / nak with delay / dead letter.
//! `design.md` explains the delivery semantics.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::context::{ConsumerInfoErrorKind, GetStreamErrorKind};
use async_nats::jetstream::{self, Message};
use async_nats::{Client, Subject};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::dead_letter::{self, publish_dead_letter};
use super::{Delivery, Outcome, Stage, WorkerError};
use crate::nats::Names;
use crate::settings::{Settings, StageSettings};

/// Messages requested per pull: few, since a delivered message's ack clock runs even
/// while it waits in the client's buffer (see `design.md`: a prefetched message waiting
/// longer than the ack deadline is redelivered).
const MAX_BATCH: usize = 8;
/// The server's heartbeat on an idle pull: what wakes an idle worker, and how soon a pull
/// lost across a reconnect is noticed (three missed heartbeats). Rare, so an idle process
/// stays near zero CPU.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(30);
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
}

impl<S: Stage> Worker<S> {
    /// Binds to the stage's durable consumer, which `docflow setup` (`topology::apply`) created.
    pub async fn bind(
        stage: Arc<S>,
        js: jetstream::Context,
        client: Client,
        settings: &Settings,
    ) -> Result<Worker<S>, WorkerError> {
        let name = stage.name();
        let (short, consumer_name) =
            crate::topology::stage_consumer(name).ok_or(WorkerError::UnknownStage { stage: name.to_owned() })?;
        let stage_settings =
            settings.stages.get(name).ok_or(WorkerError::UnknownStage { stage: name.to_owned() })?.clone();
        let names = Names::new(&settings.nats.prefix);
        let stream_name = names.stream(short);
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
        };
        Ok(Worker { bound: Arc::new(bound), consumer })
    }

    /// Runs only the max-deliveries advisory listener (tests; `run` starts it itself).
    #[cfg(test)]
    pub(crate) fn spawn_advisories(&self, stop: CancellationToken) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
        tokio::spawn(dead_letter::listen_advisories(self.bound.clone(), stop))
    }

    /// Pulls and handles messages until `shutdown` is cancelled or the consumer is deleted.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let bound = self.bound;
        let stage = bound.stage.name();
        let concurrency = bound.settings.concurrency.max(1);
        let expires = bound.settings.pull_expires;
        let pull_err = |detail: String| WorkerError::Pull {
            stream: bound.stream_name.clone(),
            consumer: bound.consumer_name.clone(),
            detail,
        };
        let open = || async {
            self.consumer
                .stream()
                .max_messages_per_batch(concurrency.min(MAX_BATCH))
                .expires(expires)
                .heartbeat((expires / 2).min(IDLE_HEARTBEAT))
                .messages()
                .await
        };
        let mut messages = open().await.map_err(|e| pull_err(e.to_string()))?;
        let mut missed_heartbeats = 0;

        let stop_advisories = shutdown.child_token();
        let advisories = tokio::spawn(dead_letter::listen_advisories(bound.clone(), stop_advisories.clone()));
        let permits = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        let hard_stop = CancellationToken::new();
        tracing::info!(stage, stream = %bound.stream_name, consumer = %bound.consumer_name, concurrency, "worker started");

        let result = loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ok(()),
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let item = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ok(()),
                item = messages.next() => item,
            };
            match item {
                Some(Ok(message)) => {
                    missed_heartbeats = 0;
                    tracker.spawn(handle(bound.clone(), message, permit, hard_stop.clone()));
                }
                Some(Err(e)) => match e.kind() {
                    MessagesErrorKind::ConsumerDeleted => {
                        break Err(WorkerError::ConsumerDeleted {
                            stream: bound.stream_name.clone(),
                            consumer: bound.consumer_name.clone(),
                        });
                    }
                    MessagesErrorKind::RequestLimitExceeded => break Err(pull_err(e.to_string())),
                    // After a reconnect async-nats may wait long before pulling again (its
                    // consumer-info retries); a fresh pull stream does not.
                    MessagesErrorKind::MissingHeartbeat => {
                        missed_heartbeats += 1;
                        if missed_heartbeats >= 3 {
                            tracing::warn!(stage, "no heartbeat from the server; pulling anew");
                            match open().await {
                                Ok(fresh) => {
                                    messages = fresh;
                                    missed_heartbeats = 0;
                                }
                                Err(e) => {
                                    tracing::warn!(stage, error = %e, "cannot pull anew; retrying later")
                                }
                            }
                        }
                    }
                    // Missing heartbeats, reconnects, no responders: the stream re-pulls.
                    _ => tracing::warn!(stage, error = %e, "pull interrupted; continuing"),
                },
                None => break Err(pull_err("the message stream ended".into())),
            }
        };

        // Stop pulling. Messages already buffered were never started: give them back now
        // rather than after their ack deadline.
        while let Some(Some(Ok(message))) = messages.next().now_or_never() {
            let _ = message.ack_with(jetstream::AckKind::Nak(None)).await;
        }
        drop(messages);
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

/// Handles one delivery from start to settlement; holds its permit throughout.
async fn handle<S: Stage>(
    bound: Arc<Bound<S>>,
    message: Message,
    permit: OwnedSemaphorePermit,
    hard_stop: CancellationToken,
) {
    let (attempt, stream_sequence) = match message.info() {
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
    let delivery = Delivery {
        subject: message.subject.to_string(),
        headers: message.headers.unwrap_or_default(),
        payload: message.payload,
        attempt,
        max_deliver: bound.max_deliver,
        stream_sequence,
    };
    let span = tracing::info_span!(
        "message",
        stage = bound.stage.name(),
        attempt,
        stream_seq = stream_sequence,
        document_id = delivery.header(dead_letter::DOCUMENT_ID).unwrap_or_default(),
    );
    let settle = async {
        let step = tokio::spawn({
            let (stage, delivery) = (bound.stage.clone(), delivery.clone());
            async move { stage.step(&delivery).await }.in_current_span()
        });
        let started = std::time::Instant::now();
        let outcome = run_with_progress(&bound, &reply, attempt, step, &hard_stop).await;
        match outcome {
            Some(outcome) => {
                let label = match &outcome {
                    Outcome::Done => "done",
                    Outcome::Retry { .. } if !delivery.is_last_attempt() => "retry",
                    Outcome::Later { .. } if !delivery.is_last_attempt() => "later",
                    _ => "dead_letter",
                };
                crate::metrics::stage_step(bound.stage.name(), label, started.elapsed());
                settle(&bound, &reply, &delivery, outcome).await
            }
            None => {
                // Shut down mid-step: hand the message back soon, to this or another worker.
                let delay = nak_delay(bound.settings.backoff[0], attempt, &bound.server_backoff);
                tracing::warn!(?delay, "step interrupted by shutdown; naked");
                send(&bound.client, &reply, nak_payload(delay)).await;
            }
        }
    };
    settle.instrument(span).await;
    drop(permit);
}

/// Awaits the step, sending progress so the ack deadline does not pass; `None` when the
/// shutdown grace ran out first (the step is aborted).
async fn run_with_progress<S: Stage>(
    bound: &Bound<S>,
    reply: &Subject,
    attempt: u64,
    mut step: tokio::task::JoinHandle<Outcome>,
    hard_stop: &CancellationToken,
) -> Option<Outcome> {
    let period = progress_period(attempt, &bound.server_backoff, bound.ack_wait);
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            joined = &mut step => {
                return Some(match joined {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_panic() => Outcome::retry("the step panicked"),
                    Err(e) => Outcome::retry(format!("the step did not finish: {e}")),
                });
            }
            _ = hard_stop.cancelled() => {
                step.abort();
                return None;
            }
            _ = progress.tick() => {
                if let Err(e) = bound.client.publish(reply.clone(), Bytes::from_static(b"+WPI")).await {
                    tracing::warn!(error = %e, "cannot send progress");
                }
            }
        }
    }
}

async fn settle<S: Stage>(bound: &Bound<S>, reply: &Subject, delivery: &Delivery, outcome: Outcome) {
    match outcome {
        Outcome::Done => {
            if confirm(&bound.client, reply, Bytes::from_static(b"+ACK")).await {
                tracing::debug!("step done");
            }
        }
        Outcome::Retry { after, reason } if !delivery.is_last_attempt() => {
            let wanted = after.unwrap_or_else(|| with_jitter(backoff_for(&bound.settings.backoff, delivery.attempt)));
            let delay = nak_delay(wanted, delivery.attempt, &bound.server_backoff);
            tracing::info!(%reason, ?wanted, "step will retry");
            confirm(&bound.client, reply, nak_payload(delay)).await;
        }
        Outcome::Later { after, reason } if !delivery.is_last_attempt() => {
            let delay = nak_delay(after, delivery.attempt, &bound.server_backoff);
            tracing::debug!(%reason, ?after, "message held");
            confirm(&bound.client, reply, nak_payload(delay)).await;
        }
        Outcome::Retry { reason, .. } | Outcome::Later { reason, .. } => {
            let reason = format!("last attempt ({} of {}): {reason}", delivery.attempt, delivery.max_deliver);
            dead_letter_and_term(bound, reply, delivery, &reason).await;
        }
        Outcome::Fail { reason } => dead_letter_and_term(bound, reply, delivery, &reason).await,
    }
}

async fn dead_letter_and_term<S: Stage>(bound: &Bound<S>, reply: &Subject, delivery: &Delivery, reason: &str) {
    let stage = bound.stage.name();
    if let Err(e) = publish_dead_letter(&bound.js, &bound.names, stage, &bound.stream_name, delivery, reason).await {
        // Not terminated: redelivered later, or caught by the max-deliveries advisory.
        tracing::error!(error = %e, %reason, "cannot dead-letter; the message will be redelivered");
        let delay =
            nak_delay(backoff_for(&bound.settings.backoff, delivery.attempt), delivery.attempt, &bound.server_backoff);
        send(&bound.client, reply, nak_payload(delay)).await;
        return;
    }
    tracing::warn!(%reason, "message dead-lettered");
    bound.stage.on_dead_letter(delivery, reason).await;
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
