//! The runtime against a real nats-server: each test has its own prefix (own streams).
//! `DOCFLOW_TEST_NATS_URL` points them at another server than 127.0.0.1:4222.

use std::future::Future;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::PullConsumer;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::dead_letter::{self, EXHAUSTED};
use super::*;
use crate::nats::Names;
use crate::settings::Settings;
use crate::testkit::{self, OwnServer};

type Script = Box<dyn Fn(&Delivery, usize) -> Option<Outcome> + Send + Sync>;

/// A stage that follows a script (`None` means "never return"), in place of the transfer
/// stage: it runs on transfer's consumer, settings and dead-letter subject.
struct Scripted {
    script: Script,
    /// How long each step works before its outcome (a slow step, simulated).
    work: Duration,
    seen: Mutex<Vec<(u64, Instant)>>,
    dead: Mutex<Vec<(u64, String)>>,
}

impl Scripted {
    fn new(script: impl Fn(&Delivery, usize) -> Option<Outcome> + Send + Sync + 'static) -> Arc<Scripted> {
        Scripted::working(Duration::ZERO, script)
    }
    fn working(
        work: Duration,
        script: impl Fn(&Delivery, usize) -> Option<Outcome> + Send + Sync + 'static,
    ) -> Arc<Scripted> {
        Arc::new(Scripted { script: Box::new(script), work, seen: Mutex::default(), dead: Mutex::default() })
    }
    fn attempts(&self) -> Vec<u64> {
        self.seen.lock().unwrap().iter().map(|(a, _)| *a).collect()
    }
    fn gaps(&self) -> Vec<Duration> {
        self.seen.lock().unwrap().windows(2).map(|w| w[1].1 - w[0].1).collect()
    }
}

impl Stage for Scripted {
    fn id(&self) -> crate::ids::StageId {
        crate::ids::StageId::Transfer
    }
    async fn step(&self, delivery: &Delivery) -> Outcome {
        let call = {
            let mut seen = self.seen.lock().unwrap();
            seen.push((delivery.attempt, Instant::now()));
            seen.len() - 1
        };
        if !self.work.is_zero() {
            // The step's own work, simulated; not a wait for anything.
            tokio::time::sleep(self.work).await;
        }
        match (self.script)(delivery, call) {
            Some(outcome) => outcome,
            None => std::future::pending().await,
        }
    }
    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str, _cause: Option<crate::lifecycle::FailureCause>) {
        self.dead.lock().unwrap().push((delivery.stream_sequence, reason.to_owned()));
    }
}

use testkit::nats_url;

struct Harness {
    url: String,
    prefix: String,
    names: Names,
    settings: Settings,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
}

impl Harness {
    async fn new(url: &str, extra: &[(&str, &str)]) -> Harness {
        let prefix = testkit::random_prefix();
        let mut env = vec![
            ("DOCFLOW__STAGES__TRANSFER__BACKOFF", "200ms,400ms"),
            ("DOCFLOW__STAGES__TRANSFER__MAX_DELIVER", "3"),
            ("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4"),
            ("DOCFLOW__STAGES__TRANSFER__PULL_EXPIRES", "2s"),
            ("DOCFLOW__SHUTDOWN__GRACE", "2s"),
        ];
        env.extend_from_slice(extra);
        let settings = testkit::settings(url, &prefix, &env);
        let (client, js) = testkit::connect(url).await;
        crate::topology::apply(&js, &settings).await.expect("topology");
        Harness { url: url.to_owned(), names: Names::new(&prefix), prefix, settings, client, js }
    }

    /// Runs `body` (which may panic) and deletes the streams either way.
    async fn check<F: Future<Output = ()> + Send + 'static>(self, body: impl FnOnce(Arc<Harness>) -> F) {
        let this = Arc::new(self);
        let outcome = tokio::spawn(body(this.clone())).await;
        testkit::delete_streams(&this.js, &this.prefix).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    fn start(&self, stage: Arc<Scripted>) -> (CancellationToken, tokio::task::JoinHandle<Result<(), WorkerError>>) {
        let shutdown = CancellationToken::new();
        let (js, client, settings, token) =
            (self.js.clone(), self.client.clone(), self.settings.clone(), shutdown.clone());
        let handle = tokio::spawn(async move { run(stage, js, client, &settings, token).await });
        (shutdown, handle)
    }

    async fn publish(&self, body: &str) -> u64 {
        let mut headers = HeaderMap::new();
        headers.insert(dead_letter::DOCUMENT_ID, "doc-1");
        headers.insert(dead_letter::TRACEPARENT, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        let ack = self
            .js
            .publish_with_headers(self.names.subject("uploads.test"), headers, body.to_owned().into())
            .await
            .unwrap()
            .await
            .unwrap();
        ack.sequence
    }

    async fn uploads(&self) -> async_nats::jetstream::stream::Stream {
        self.js.get_stream(self.names.stream("uploads")).await.unwrap()
    }

    /// Waits until the work queue is empty and nothing is awaiting an ack.
    async fn wait_settled(&self) {
        testkit::wait_for("the work queue to be empty and nothing pending", Duration::from_secs(10), || async {
            let mut stream = self.uploads().await;
            let messages = stream.info().await.ok()?.state.messages;
            let pending = stream.consumer_info("transfer").await.ok()?.num_ack_pending;
            (messages == 0 && pending == 0).then_some(())
        })
        .await
    }

    /// Runs `stage` on one message until it is dead-lettered and nothing is pending; the
    /// message's stream sequence and the dead letters.
    async fn until_dead_lettered(&self, stage: Arc<Scripted>, body: &str) -> (u64, Vec<dlq::DeadLetter>) {
        let (shutdown, handle) = self.start(stage);
        let seq = self.publish(body).await;
        let letters = self.dead_letters(1).await;
        self.wait_settled().await;
        stop(shutdown, handle).await;
        (seq, letters)
    }

    async fn dead_letters(&self, count: usize) -> Vec<dlq::DeadLetter> {
        testkit::wait_for("dead letters", Duration::from_secs(15), || async {
            let letters = dlq::list(&self.js, &self.names, Some("transfer")).await.ok()?;
            (letters.len() >= count).then_some(letters)
        })
        .await
    }
}

async fn stop(shutdown: CancellationToken, handle: tokio::task::JoinHandle<Result<(), WorkerError>>) {
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle).await.expect("the worker stops").unwrap().unwrap();
}

#[tokio::test]
async fn two_retries_then_done_take_three_deliveries_spaced_by_the_backoff() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|d, _| Some(if d.attempt < 3 { Outcome::retry("busy") } else { Outcome::Done }));
        let (shutdown, handle) = h.start(stage.clone());
        h.publish("hello").await;
        testkit::wait_for("three deliveries", Duration::from_secs(10), || async {
            (stage.attempts().len() >= 3).then_some(())
        })
        .await;
        h.wait_settled().await;
        stop(shutdown, handle).await;
        assert_eq!(stage.attempts(), [1, 2, 3]);
        let gaps = stage.gaps();
        println!("gaps with backoff [200ms, 400ms]: {gaps:?}");
        assert!(gaps[0] >= Duration::from_millis(200), "{gaps:?}");
        assert!(gaps[1] >= Duration::from_millis(400), "{gaps:?}");
        assert!(gaps[1] < Duration::from_millis(1000), "stretched by the server's backoff: {gaps:?}");
        assert!(stage.dead.lock().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_message_waiting_for_a_free_slot_is_not_redelivered() {
    // Steps of 600 ms against an ack deadline of 200 ms (the first backoff): a message
    // delivered before a slot is free would be redelivered while it waits.
    let h = Harness::new(&nats_url(), &[("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "2")]).await;
    h.check(|h| async move {
        let stage = Scripted::working(Duration::from_millis(600), |_, _| Some(Outcome::Done));
        for i in 0..6 {
            h.publish(&format!("slow-{i}")).await;
        }
        let (shutdown, handle) = h.start(stage.clone());
        testkit::wait_for("six steps", Duration::from_secs(15), || async {
            (stage.attempts().len() >= 6).then_some(())
        })
        .await;
        h.wait_settled().await;
        stop(shutdown, handle).await;
        assert_eq!(stage.attempts(), [1; 6], "each message stepped once, on its first delivery");
    })
    .await;
}

#[tokio::test]
async fn a_retry_after_waits_at_least_that_long() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|d, _| {
            Some(if d.attempt == 1 {
                Outcome::retry_after(Duration::from_millis(700), "rate limited")
            } else {
                Outcome::Done
            })
        });
        let (shutdown, handle) = h.start(stage.clone());
        h.publish("hello").await;
        h.wait_settled().await;
        stop(shutdown, handle).await;
        let gaps = stage.gaps();
        println!("gap for retry_after 700ms: {gaps:?}");
        assert_eq!(stage.attempts(), [1, 2]);
        assert!(gaps[0] >= Duration::from_millis(700), "{gaps:?}");
    })
    .await;
}

/// A message not due yet (a timer) is held like a retry: redelivered no sooner than asked,
/// and dead-lettered if it is still not due on the last delivery.
#[tokio::test]
async fn a_message_held_for_later_comes_back_no_sooner_and_not_forever() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, _| Some(Outcome::later(Duration::from_millis(400), "not due")));
        let (_, letters) = h.until_dead_lettered(stage.clone(), "timer").await;
        assert_eq!(stage.attempts(), [1, 2, 3]);
        assert!(stage.gaps().iter().all(|gap| *gap >= Duration::from_millis(400)), "{:?}", stage.gaps());
        assert!(
            letters[0].error.contains("last attempt") && letters[0].error.contains("not due"),
            "{}",
            letters[0].error
        );
    })
    .await;
}

/// With BackOff [200ms, 1s] the server stretches a nak on delivery 2 by 800ms: a wanted
/// 1.2s is sent as 400ms; a wanted 300ms cannot be had (sent as 1ms, it comes at ~801ms).
#[tokio::test]
async fn a_retry_after_on_a_later_attempt_is_not_stretched_by_the_server_backoff() {
    let h = Harness::new(&nats_url(), &[("DOCFLOW__STAGES__TRANSFER__BACKOFF", "200ms,1s")]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|d, _| {
            Some(match d.attempt {
                1 => Outcome::retry_after(Duration::from_millis(100), "first"),
                2 => Outcome::retry_after(Duration::from_millis(1200), "second"),
                _ => Outcome::Done,
            })
        });
        let (shutdown, handle) = h.start(stage.clone());
        h.publish("hello").await;
        h.wait_settled().await;
        stop(shutdown, handle).await;
        let gaps = stage.gaps();
        println!("gaps for retry_after 100ms then 1.2s, backoff [200ms, 1s]: {gaps:?}");
        assert_eq!(stage.attempts(), [1, 2, 3]);
        assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
        assert!(gaps[1] >= Duration::from_millis(1200) && gaps[1] < Duration::from_millis(1800), "{gaps:?}");
    })
    .await;
}

#[tokio::test]
async fn a_failure_is_dead_lettered_with_its_headers_and_leaves_nothing_pending() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, _| Some(Outcome::fail("unsupported format")));
        let (seq, letters) = h.until_dead_lettered(stage.clone(), "the body").await;

        let letter = &letters[0];
        assert_eq!(letter.stage, "transfer");
        assert_eq!(letter.error, "unsupported format");
        assert_eq!(letter.attempts, 1);
        assert_eq!(letter.original_subject, h.names.subject("uploads.test"));
        assert!(chrono::DateTime::parse_from_rfc3339(&letter.failed_at).is_ok(), "{}", letter.failed_at);
        assert_eq!(letter.document_id.as_deref(), Some("doc-1"));
        assert!(letter.headers.get(dead_letter::TRACEPARENT).is_some());
        let msg_id = letter.headers.get("Nats-Msg-Id").unwrap().as_str().to_owned();
        assert_eq!(msg_id, format!("{}:{seq}", h.names.stream("uploads")));
        assert_eq!(&letter.payload[..], b"the body");
        assert_eq!(stage.attempts(), [1]);
        assert_eq!(*stage.dead.lock().unwrap(), [(seq, "unsupported format".to_owned())]);
    })
    .await;
}

#[tokio::test]
async fn a_retry_on_the_last_attempt_is_dead_lettered() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, _| Some(Outcome::retry("provider down")));
        let (_, letters) = h.until_dead_lettered(stage.clone(), "x").await;
        assert_eq!(stage.attempts(), [1, 2, 3]);
        assert_eq!(letters[0].attempts, 3);
        assert!(
            letters[0].error.contains("last attempt") && letters[0].error.contains("provider down"),
            "{}",
            letters[0].error
        );
        assert_eq!(stage.dead.lock().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_replayed_dead_letter_goes_through_the_stage_again() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, call| Some(if call == 0 { Outcome::fail("bad") } else { Outcome::Done }));
        let (shutdown, handle) = h.start(stage.clone());
        h.publish("again").await;
        let letters = h.dead_letters(1).await;
        dlq::replay(&h.js, &h.names, &crate::stages::transfer::restart::ReplayRestarts, letters[0].sequence)
            .await
            .unwrap();
        testkit::wait_for("the replay to be handled", Duration::from_secs(10), || async {
            (stage.attempts().len() == 2).then_some(())
        })
        .await;
        h.wait_settled().await;
        stop(shutdown, handle).await;
        assert!(dlq::list(&h.js, &h.names, None).await.unwrap().is_empty());
        assert_eq!(dlq::purge(&h.js, &h.names, None).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn shutdown_naks_a_step_that_outlives_the_grace_and_progress_keeps_it_until_then() {
    let h = Harness::new(&nats_url(), &[("DOCFLOW__SHUTDOWN__GRACE", "300ms")]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, _| None);
        let (shutdown, handle) = h.start(stage.clone());
        h.publish("slow").await;
        testkit::wait_for("the step to start", Duration::from_secs(5), || async {
            (!stage.attempts().is_empty()).then_some(())
        })
        .await;
        // Several ack deadlines (200ms) pass: progress must keep the message.
        let started = Instant::now();
        testkit::wait_for("a second", Duration::from_secs(5), || async {
            (started.elapsed() > Duration::from_secs(1)).then_some(())
        })
        .await;
        assert_eq!(stage.attempts(), [1], "redelivered while in progress");
        let stopping = Instant::now();
        stop(shutdown, handle).await;
        assert!(stopping.elapsed() < Duration::from_secs(2), "{:?}", stopping.elapsed());

        // Naked, not lost: the next delivery is the second.
        let consumer: PullConsumer = h.uploads().await.get_consumer("transfer").await.unwrap();
        let mut batch = consumer.fetch().max_messages(1).expires(Duration::from_secs(5)).messages().await.unwrap();
        let mut redelivered = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while redelivered.is_none() && Instant::now() < deadline {
            match batch.next().await {
                Some(Ok(m)) => redelivered = Some(m),
                Some(Err(e)) => panic!("{e}"),
                None => {
                    batch = consumer.fetch().max_messages(1).expires(Duration::from_secs(2)).messages().await.unwrap()
                }
            }
        }
        let message = redelivered.expect("the naked message comes back");
        assert_eq!(message.info().unwrap().delivered, 2);
        message.double_ack().await.unwrap();
    })
    .await;
}

/// A worker asks the server only for messages it has a free run slot for: with one slot
/// and one step running, the other messages stay on the server (pending, not delivered),
/// and stopping the worker leaves them there for the next one.
#[tokio::test]
async fn a_worker_takes_only_what_it_can_run_and_leaves_the_rest_on_the_server() {
    let h = Harness::new(
        &nats_url(),
        &[("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "1"), ("DOCFLOW__SHUTDOWN__GRACE", "300ms")],
    )
    .await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, _| None);
        let (shutdown, handle) = h.start(stage.clone());
        for i in 0..3 {
            h.publish(&format!("held-{i}")).await;
        }
        testkit::wait_for("one delivered and running, two left on the server", Duration::from_secs(5), || async {
            let info = h.uploads().await.consumer_info("transfer").await.ok()?;
            (info.num_ack_pending == 1 && info.num_pending == 2 && stage.attempts().len() == 1).then_some(())
        })
        .await;
        stop(shutdown, handle).await;
        assert_eq!(stage.attempts(), [1], "only the message with the slot was delivered and started");

        let consumer: PullConsumer = h.uploads().await.get_consumer("transfer").await.unwrap();
        // All three are there for the next worker (held-0 after its nak delay).
        let (consumer, bodies) = (&consumer, &Mutex::new(std::collections::BTreeSet::new()));
        let bodies = testkit::wait_for("the three messages", Duration::from_secs(10), || async move {
            let mut batch = consumer.fetch().max_messages(3).expires(Duration::from_secs(1)).messages().await.ok()?;
            while let Some(Ok(message)) = batch.next().await {
                bodies.lock().unwrap().insert(String::from_utf8_lossy(&message.payload).into_owned());
                message.double_ack().await.unwrap();
            }
            let bodies = bodies.lock().unwrap();
            (bodies.len() >= 3).then(|| bodies.iter().cloned().collect::<Vec<_>>())
        })
        .await;
        assert_eq!(bodies, ["held-0", "held-1", "held-2"]);
    })
    .await;
}

#[tokio::test]
async fn a_missing_consumer_says_to_run_setup() {
    let url = nats_url();
    let settings = testkit::settings(&url, &testkit::random_prefix(), &[]);
    let (client, js) = testkit::connect(&url).await;
    let stage = Scripted::new(|_, _| Some(Outcome::Done));
    let err = run(stage, js, client, &settings, CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("docflow setup"), "{err}");
}

/// Deliveries run out while nothing handles the last attempt: a raw consumer takes the
/// message twice without acking; the advisory listener dead-letters and deletes it.
async fn crash_loop_is_dead_lettered_by_the_advisory(url: &str) {
    let h = Harness::new(
        url,
        &[("DOCFLOW__STAGES__TRANSFER__BACKOFF", "200ms"), ("DOCFLOW__STAGES__TRANSFER__MAX_DELIVER", "2")],
    )
    .await;
    h.check(|h| async move {
        let stage = Scripted::new(|_, _| Some(Outcome::Done));
        let worker = Worker::bind(stage.clone(), h.js.clone(), h.client.clone(), &h.settings).await.unwrap();
        let stop_listening = CancellationToken::new();
        let listener = worker.spawn_advisories(stop_listening.clone());
        let seq = h.publish("crash").await;

        let consumer: PullConsumer = h.uploads().await.get_consumer("transfer").await.unwrap();
        let mut deliveries = 0;
        let deadline = Instant::now() + Duration::from_secs(15);
        // Keep a pull request waiting: on nats-server < 2.11 the advisory needs one.
        while stage.dead.lock().unwrap().is_empty() && Instant::now() < deadline {
            let mut batch =
                consumer.fetch().max_messages(1).expires(Duration::from_millis(500)).messages().await.unwrap();
            while let Some(Ok(message)) = batch.next().await {
                deliveries += 1;
                drop(message); // crashed: never acked
            }
        }
        let letters = h.dead_letters(1).await;
        stop_listening.cancel();
        listener.await.unwrap().unwrap();
        println!("server {}: {deliveries} deliveries before the advisory", h.client.server_info().version);
        assert_eq!(deliveries, 2);
        assert_eq!(letters[0].error, EXHAUSTED);
        assert_eq!(letters[0].attempts, 2);
        assert_eq!(*stage.dead.lock().unwrap(), [(seq, EXHAUSTED.to_owned())]);
        testkit::wait_for("the exhausted message to be deleted", Duration::from_secs(5), || async {
            let mut stream = h.uploads().await;
            (stream.info().await.ok()?.state.messages == 0).then_some(())
        })
        .await;
        let _ = &h.url;
    })
    .await;
}

#[tokio::test]
async fn a_crash_loop_is_dead_lettered_by_the_advisory_on_the_shared_server() {
    crash_loop_is_dead_lettered_by_the_advisory(&nats_url()).await;
}

#[tokio::test]
async fn a_crash_loop_is_dead_lettered_by_the_advisory_on_an_own_server() {
    let server = OwnServer::start().await;
    println!("own nats-server {}", server.version);
    crash_loop_is_dead_lettered_by_the_advisory(&server.url).await;
}

#[test]
fn nak_delays_compensate_the_server_backoff() {
    use super::runtime::{backoff_for, nak_delay, version_at_least, with_jitter};
    let ms = Duration::from_millis;
    let b = [ms(1000), ms(5000), ms(30000)];
    assert_eq!(nak_delay(ms(1000), 1, &b), ms(1000));
    assert_eq!(nak_delay(ms(5000), 2, &b), ms(1000));
    assert_eq!(nak_delay(ms(30000), 3, &b), ms(1000));
    assert_eq!(nak_delay(ms(30000), 7, &b), ms(1000));
    assert_eq!(nak_delay(ms(100), 3, &b), ms(1), "never a plain nak");
    assert_eq!(nak_delay(ms(700), 4, &[]), ms(700));
    assert_eq!(backoff_for(&b, 1), ms(1000));
    assert_eq!(backoff_for(&b, 9), ms(30000));
    for _ in 0..100 {
        let d = with_jitter(ms(1000));
        assert!(d >= ms(1000) && d <= ms(1100), "{d:?}");
    }
    assert!(version_at_least("2.10.4", (2, 10, 4)));
    assert!(version_at_least("2.15.1", (2, 10, 4)));
    assert!(!version_at_least("2.9.10", (2, 10, 4)));
    assert!(!version_at_least("2.10.3-beta", (2, 10, 4)));
}

#[test]
fn a_pull_the_server_forgot_is_noticed_within_fifteen_seconds_whatever_its_expiry() {
    use super::runtime::heartbeat_for;
    let s = Duration::from_secs;
    // Three missed heartbeats declare the requests lost (a consumer leader killed in a
    // cluster forgets them silently): the default 5-minute expiry must not stretch that.
    assert_eq!(heartbeat_for(s(300)) * 3, s(15));
    assert_eq!(heartbeat_for(s(4)), s(2), "under half the expiry, as the server requires");
    assert_eq!(heartbeat_for(s(1)), Duration::from_millis(500));
}

#[tokio::test]
async fn the_worker_carries_on_after_nats_restarts() {
    let mut server = OwnServer::start().await;
    let h = Harness::new(&server.url, &[]).await;
    let stage = Scripted::new(|_, _| Some(Outcome::Done));
    let (shutdown, handle) = h.start(stage.clone());
    h.publish("before").await;
    testkit::wait_for("the first message", Duration::from_secs(10), || async {
        (stage.attempts().len() == 1).then_some(())
    })
    .await;

    server.restart().await;
    testkit::wait_for("a publish after the restart", Duration::from_secs(20), || async {
        let ack = h.js.publish(h.names.subject("uploads.test"), "after".into()).await.ok()?;
        ack.await.ok()
    })
    .await;
    // At least once: the first message's ack may have been lost with the server, so it
    // can come again. The work queue empties only when the worker acked both.
    testkit::wait_for("the message published after the restart", Duration::from_secs(30), || async {
        assert!(!handle.is_finished(), "the worker stopped");
        (stage.attempts().len() >= 2).then_some(())
    })
    .await;
    h.wait_settled().await;
    assert!(!handle.is_finished(), "the worker stopped: {:?}", handle.await);
    stop(shutdown, handle).await;
}

/// `Outcome::Hold` spends no attempt however many times it happens (max_deliver 3 here):
/// naks on a copy's first delivery, fresh copies with the same body and headers after,
/// then real retries are counted from 1 and the message completes on its third attempt
/// (the second retry on a copy whose server deliveries ran out goes to a fresh copy).
#[tokio::test]
async fn holds_spend_no_attempt_and_keep_the_body_and_headers() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Scripted::new(|d, call| {
            if &d.payload[..] != b"held" || d.header(dead_letter::DOCUMENT_ID) != Some("doc-1") {
                return Some(Outcome::fail("the copy lost its body or headers"));
            }
            Some(match call {
                0..10 => Outcome::hold(Duration::from_millis(20), "provider down"),
                10 | 11 => Outcome::retry("provider failed"),
                _ => Outcome::Done,
            })
        });
        let (shutdown, handle) = h.start(stage.clone());
        h.publish("held").await;
        testkit::wait_for("thirteen steps", Duration::from_secs(15), || async {
            (stage.attempts().len() >= 13).then_some(())
        })
        .await;
        h.wait_settled().await;
        stop(shutdown, handle).await;
        let mut expected = vec![1; 11];
        expected.extend([2, 3]);
        assert_eq!(stage.attempts(), expected, "holds are not attempts");
        assert!(stage.dead.lock().unwrap().is_empty());
        assert!(dlq::list(&h.js, &h.names, Some("transfer")).await.unwrap().is_empty());
    })
    .await;
}

/// A stage whose step counts its runs and finishes only when the test says so.
struct Gated {
    runs: Mutex<Vec<u64>>,
    release: tokio::sync::Notify,
}

impl Stage for Gated {
    fn id(&self) -> crate::ids::StageId {
        crate::ids::StageId::Transfer
    }
    async fn step(&self, delivery: &Delivery) -> Outcome {
        self.runs.lock().unwrap().push(delivery.delivered);
        self.release.notified().await;
        Outcome::Done
    }
}

/// The server may deliver a message again while its step still runs in the same process
/// (seen on nats-server 2.9 right after the worker that had it was killed: two deliveries
/// of one sequence, 1 ms apart). The second joins the running step instead of starting
/// another, and the step settles on the newest delivery's reply subject.
#[tokio::test]
async fn a_second_delivery_of_a_running_message_joins_its_step_which_settles_on_the_newest() {
    let h = Harness::new(&nats_url(), &[]).await;
    h.check(|h| async move {
        let stage = Arc::new(Gated { runs: Mutex::default(), release: tokio::sync::Notify::new() });
        let worker = Worker::bind(stage.clone(), h.js.clone(), h.client.clone(), &h.settings).await.unwrap();
        let worker = Arc::new(worker);
        let sequence = h.publish("once").await;
        let consumer: PullConsumer = h.uploads().await.get_consumer("transfer").await.unwrap();
        let mut batch = consumer.fetch().max_messages(1).expires(Duration::from_secs(5)).messages().await.unwrap();
        let first = batch.next().await.expect("the message").unwrap();
        // What the runtime answers, on any delivery of this stream's messages.
        let stream = h.names.stream("uploads");
        let mut answers = h.client.subscribe(format!("$JS.ACK.{stream}.>")).await.unwrap();
        // The same message as the server sends it again: its third delivery, another
        // reply subject (the test answers the runtime's ack request on it).
        let newest = format!("$JS.ACK.{stream}.transfer.3.{sequence}.9.0.0");
        let mut again = first.message.clone();
        again.reply = Some(newest.clone().into());
        let again = async_nats::jetstream::Message { message: again, context: h.js.clone() };

        let running = tokio::spawn({
            let worker = worker.clone();
            async move { worker.handle_one(first).await }
        });
        testkit::wait_for("the step to start", Duration::from_secs(5), || async {
            (!stage.runs.lock().unwrap().is_empty()).then_some(())
        })
        .await;
        tokio::time::timeout(Duration::from_secs(5), worker.handle_one(again))
            .await
            .expect("the second delivery returns at once, joined to the running step");
        assert_eq!(*stage.runs.lock().unwrap(), [1], "a second step of the same message started");

        stage.release.notify_one();
        let ack = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let answer = answers.next().await.expect("the subscription");
                if answer.payload.as_ref() == b"+ACK" {
                    if let Some(inbox) = answer.reply.clone() {
                        h.client.publish(inbox, "".into()).await.unwrap();
                    }
                    return answer.subject.to_string();
                }
            }
        })
        .await
        .expect("the step's ack");
        assert_eq!(ack, newest, "settled on an older delivery");
        tokio::time::timeout(Duration::from_secs(5), running).await.expect("the first delivery settles").unwrap();
        assert_eq!(*stage.runs.lock().unwrap(), [1]);
    })
    .await;
}
