//! Restartable documents (a dead letter's replay, `docflow retry`, a new notification) and
//! the watchdog's early job-status checks.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use docflow::db::{State, StatusChange};
use docflow::ids::{DocumentId, JobId};
use docflow::nats::Names;
use docflow::settings::Settings;
use docflow::stages::transfer::restart::ReplayRestarts;
use docflow::worker::dlq_batch::DeadLetters;
use futures_util::StreamExt;

use crate::support::{Process, Sandbox, docflow_binary, lesson_plan, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

/// Runs a one-shot `docflow` command with the sandbox's settings: exit code and output.
async fn docflow(sandbox: &Sandbox, args: &[&str]) -> (i32, String) {
    let env: Vec<(String, String)> = sandbox.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut process = Process::spawn(&format!("docflow {}", args.join(" ")), docflow_binary(), args, &env);
    let status = process.wait(Duration::from_secs(60)).await;
    (status.code().unwrap_or(-1), process.output())
}

/// The simulator's jobs for one document, in creation order of their keys.
async fn jobs_of(sandbox: &Sandbox, id: DocumentId) -> Vec<serde_json::Value> {
    let reference = id.to_string();
    sandbox.sim_jobs().await.into_iter().filter(|job| job["reference"] == reference.as_str()).collect()
}

fn key_of(job: &serde_json::Value) -> String {
    job["idempotency_key"].as_str().unwrap_or_default().to_owned()
}

async fn reasons(sandbox: &Sandbox, id: DocumentId) -> Vec<String> {
    sandbox.db.timeline(id).await.unwrap().into_iter().filter_map(|entry| entry.reason).collect()
}

/// A core NATS subscription to every status change of the sandbox (`{prefix}.status.>`),
/// what the web interface's open pages are fed from.
async fn status_changes(settings: &Settings) -> async_nats::Subscriber {
    let client = docflow::nats::connect(&settings.nats, "restart test").await.unwrap();
    let subject = docflow::web::live::wildcard(&Names::new(&settings.nats.prefix));
    let subscriber = client.subscribe(subject).await.unwrap();
    // Subscribed on the server before anything the test does next is published.
    client.flush().await.unwrap();
    subscriber
}

/// Waits until `changes` has carried `state` for each of `ids`, taken after `since`.
async fn wait_for_published(
    changes: &mut async_nats::Subscriber,
    ids: &[DocumentId],
    state: State,
    since: DateTime<Utc>,
) {
    let deadline = Instant::now() + DEADLINE;
    let mut missing: Vec<DocumentId> = ids.to_vec();
    while !missing.is_empty() {
        let message = tokio::time::timeout_at(deadline.into(), changes.next())
            .await
            .unwrap_or_else(|_| panic!("no {state} published within {DEADLINE:?} for {missing:?}"))
            .expect("the status subscription is open");
        let change: StatusChange = serde_json::from_slice(&message.payload).expect("a status change");
        assert!(message.subject.ends_with(&format!(".status.{}", change.id)), "{}", message.subject);
        if change.state == state && change.at >= since {
            missing.retain(|id| *id != change.id);
        }
    }
}

/// Waits until the transfer consumer has nothing pending or in flight.
async fn transfer_idle(sandbox: &Sandbox) {
    let stream = sandbox.js.get_stream(sandbox.stream("UPLOADS")).await.unwrap();
    wait_for("the transfer consumer to be idle", DEADLINE, || {
        let stream = stream.clone();
        async move {
            let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer("transfer").await.ok()?;
            let info = consumer.info().await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_document_refused_by_the_provider_restarts_when_its_dead_letter_is_replayed() {
    let mut sandbox = Sandbox::builder().sim(&["--reject-first", "1"]).start().await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-r1/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let failed = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    assert_eq!(failed.error_stage.as_deref(), Some("transfer"));
    assert!(jobs_of(&sandbox, id).await.is_empty(), "the provider refused round 0");

    let settings = Settings::load(None, Some(sandbox.env.clone())).unwrap();
    let letters = DeadLetters::connect(&settings, &ReplayRestarts).await.unwrap();
    let letter = wait_for("the transfer dead letter", DEADLINE, || async {
        letters.list(Some("transfer")).await.ok()?.into_iter().next()
    })
    .await;
    let mut changes = status_changes(&settings).await;
    let before = Utc::now();
    let (code, output) = docflow(&sandbox, &["dlq", "replay", &letter.sequence.to_string()]).await;
    assert_eq!(code, 0, "{output}");
    // The restart the replay causes reaches open pages, then the rest of the round.
    wait_for_published(&mut changes, &[id], State::Received, before).await;
    wait_for_published(&mut changes, &[id], State::Normalized, before).await;

    let document = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    assert_eq!(document.submission_round, 1);
    let jobs = jobs_of(&sandbox, id).await;
    assert_eq!(jobs.len(), 1, "one job for round 1: {jobs:?}");
    let round0 = id.submission_id_for_round("sim", 0).to_string();
    let round1 = id.submission_id_for_round("sim", 1).to_string();
    assert_eq!(key_of(&jobs[0]), round1, "round 1 went under a new Idempotency-Key");
    assert_ne!(round0, round1);
    assert_eq!(document.submission_id.as_deref(), Some(round1.as_str()));
    assert!(reasons(&sandbox, id).await.contains(&"replayed".to_owned()));
    assert!(letters.list(Some("transfer")).await.unwrap().is_empty());
    letters.close().await;
}

#[tokio::test]
async fn docflow_retry_restarts_documents_the_provider_failed_and_open_pages_hear_of_it() {
    let mut sandbox = Sandbox::builder().sim(&["--fail-first-jobs", "1"]).start().await;
    sandbox.start_all().await;
    let a = sandbox.upload("teacher-r2/a.txt", lesson_plan(), "text/plain", &[]).await;
    let b = sandbox.upload("teacher-r2/b.txt", b"Another plan wiht typos.\n".repeat(20), "text/plain", &[]).await;
    for id in [a, b] {
        let failed = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
        assert_eq!(failed.error_stage.as_deref(), Some("validate"));
    }

    let settings = Settings::load(None, Some(sandbox.env.clone())).unwrap();
    let mut changes = status_changes(&settings).await;
    let before = Utc::now();
    let (code, output) = docflow(&sandbox, &["retry", "--state", "failed", "--since", "1h"]).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains(&a.to_string()) && output.contains(&b.to_string()), "{output}");
    assert!(output.contains("2 document(s) restarted"), "{output}");
    // `docflow retry` only asks; the transfer stage's restart is the state change, and it
    // is published on `{prefix}.status.>` like every other.
    wait_for_published(&mut changes, &[a, b], State::Received, before).await;
    wait_for_published(&mut changes, &[a, b], State::Normalized, before).await;

    for id in [a, b] {
        let document = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
        assert_eq!(document.submission_round, 1);
        let jobs = jobs_of(&sandbox, id).await;
        assert_eq!(jobs.len(), 2, "one job per round: {jobs:?}");
        assert_ne!(key_of(&jobs[0]), key_of(&jobs[1]), "each round has its own Idempotency-Key");
        assert!(reasons(&sandbox, id).await.contains(&"retried".to_owned()));
        assert_eq!(
            document.provider_job_id.as_ref().map(JobId::as_str),
            jobs.iter().find(|j| j["status"] == "completed").unwrap()["job_id"].as_str()
        );
    }

    // A normalized document is not restarted: the error names what can be.
    let (code, output) = docflow(&sandbox, &["retry", &a.to_string()]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("only failed or rejected documents restart"), "{output}");
    let (code, output) = docflow(&sandbox, &["retry", "no-such-thing"]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("neither a document id"), "{output}");
    let (code, output) = docflow(&sandbox, &["retry"]).await;
    assert_eq!(code, 2, "{output}");
    assert_eq!(sandbox.db.get(a).await.unwrap().unwrap().submission_round, 1);
}

#[tokio::test]
async fn a_new_notification_restarts_a_failed_document_and_changes_nothing_for_a_normalized_one() {
    let mut sandbox = Sandbox::builder().sim(&["--fail-first-jobs", "1"]).start().await;
    sandbox.start_all().await;
    let bytes = lesson_plan();
    let size = bytes.len() as u64;
    let key = "teacher-r3/plan.txt";
    let etag = sandbox.put_object("uploads", key, bytes, "text/plain", &[]).await;
    sandbox.notify_created("uploads", key, size, &etag, "text/plain", &[]).await;
    let id = crate::support::document_id("uploads", key, &etag);
    sandbox.wait_for_state(id, State::Failed, DEADLINE).await;

    // The teacher uploads the same file again: the same document, restarted.
    sandbox.notify_created("uploads", key, size, &etag, "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    assert_eq!(document.submission_round, 1);
    assert!(reasons(&sandbox, id).await.contains(&"notified again".to_owned()));
    let jobs = jobs_of(&sandbox, id).await;
    assert_eq!(jobs.len(), 2);
    assert_ne!(key_of(&jobs[0]), key_of(&jobs[1]));

    // Notified once more while normalized: nothing changes.
    let timeline = sandbox.db.timeline(id).await.unwrap();
    sandbox.notify_created("uploads", key, size, &etag, "text/plain", &[]).await;
    transfer_idle(&sandbox).await;
    let after = sandbox.db.get(id).await.unwrap().unwrap();
    assert_eq!((after.state, after.submission_round), (State::Normalized, 1));
    assert_eq!(sandbox.db.timeline(id).await.unwrap(), timeline);
    assert_eq!(jobs_of(&sandbox, id).await.len(), 2, "no new submission");
}

#[tokio::test]
async fn a_lost_callback_is_recovered_by_an_early_status_check_long_before_the_deadline() {
    let mut sandbox = Sandbox::builder()
        .sim(&["--drop-callbacks", "1", "--processing-delay", "1s"])
        .env("DOCFLOW__PROVIDERS__SIM__FIRST_STATUS_CHECK", "1s")
        .start()
        .await;
    sandbox.start_all().await;
    let started = std::time::Instant::now();
    let id = sandbox.upload("teacher-r4/plan.txt", lesson_plan(), "text/plain", &[]).await;
    // callback_timeout stays 6 h: only the early checks (1 s, 3 s, 7 s, ...) can find it.
    let document = sandbox.wait_for_state(id, State::Normalized, Duration::from_secs(45)).await;
    let jobs = jobs_of(&sandbox, id).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["callbacks_sent"], 0, "no callback was ever sent");
    assert_eq!(jobs[0]["callback_dropped"], true);
    assert_eq!(jobs[0]["job_id"].as_str(), document.provider_job_id.as_ref().map(JobId::as_str));
    eprintln!("lost callback recovered in {:?}", started.elapsed());
}

/// A `.docx` name: pre-flight holds the content to a Word file.
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The simulator's counters (`GET /v1/_sim/stats`): `submissions_received` counts every
/// submission that reached it, answered or not.
async fn sim_stats(sandbox: &Sandbox) -> serde_json::Value {
    reqwest::get(format!("{}/v1/_sim/stats", sandbox.sim_url)).await.unwrap().json().await.unwrap()
}

/// Waits until `id` is failed in submission round `round`.
async fn failed_in_round(sandbox: &Sandbox, id: DocumentId, round: u32) -> docflow::db::Document {
    wait_for(&format!("document {id} failed in round {round}"), DEADLINE, || async {
        sandbox.db.get(id).await.ok().flatten().filter(|d| d.state == State::Failed && d.submission_round == round)
    })
    .await
}

fn error_of(document: &docflow::db::Document) -> &str {
    document.error_reason.as_deref().unwrap_or_default()
}

#[tokio::test]
async fn a_file_pre_flight_refused_is_refused_again_when_notified_again_replayed_or_retried() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    // Text under a name that promises a Word file.
    let (key, bytes) = ("teacher-r5/plan.docx", lesson_plan());
    let size = bytes.len() as u64;
    let etag = sandbox.put_object("uploads", key, bytes, DOCX, &[]).await;
    sandbox.notify_created("uploads", key, size, &etag, DOCX, &[]).await;
    let id = crate::support::document_id("uploads", key, &etag);
    let refused = failed_in_round(&sandbox, id, 0).await;
    assert!(error_of(&refused).contains("named .docx but is not a Word file"), "{refused:?}");

    // The teacher uploads the same bytes again: the same document, restarted and refused.
    sandbox.notify_created("uploads", key, size, &etag, DOCX, &[]).await;
    failed_in_round(&sandbox, id, 1).await;

    // The replay of one of its dead letters.
    let settings = Settings::load(None, Some(sandbox.env.clone())).unwrap();
    let letters = DeadLetters::connect(&settings, &ReplayRestarts).await.unwrap();
    let letter = wait_for("both transfer dead letters", DEADLINE, || async {
        let listed = letters.list(Some("transfer")).await.ok()?;
        (listed.len() == 2).then(|| listed[0].sequence)
    })
    .await;
    let (code, output) = docflow(&sandbox, &["dlq", "replay", &letter.to_string()]).await;
    assert_eq!(code, 0, "{output}");
    failed_in_round(&sandbox, id, 2).await;

    // `docflow retry`.
    let (code, output) = docflow(&sandbox, &["retry", &id.to_string()]).await;
    assert_eq!(code, 0, "{output}");
    let document = failed_in_round(&sandbox, id, 3).await;
    assert!(error_of(&document).contains("named .docx"), "{document:?}");
    let reasons = reasons(&sandbox, id).await;
    for cause in ["notified again", "replayed", "retried"] {
        assert!(reasons.contains(&cause.to_owned()), "{cause}: {reasons:?}");
    }
    assert!(jobs_of(&sandbox, id).await.is_empty());
    assert_eq!(sim_stats(&sandbox).await["submissions_received"], 0, "the provider never heard of it");
    letters.close().await;
}

#[tokio::test]
async fn a_retry_reads_the_object_again_and_refuses_new_bytes_pre_flight_refuses() {
    let mut sandbox = Sandbox::builder().sim(&["--fail-first-jobs", "1"]).start().await;
    sandbox.start_all().await;
    let key = "teacher-r6/plan.txt";
    let id = sandbox.upload(key, lesson_plan(), "text/plain", &[]).await;
    let failed = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    assert_eq!(failed.error_stage.as_deref(), Some("validate"), "the provider failed its job");
    assert_eq!(jobs_of(&sandbox, id).await.len(), 1);

    // The key now holds a picture (not yet announced); the failed document is retried.
    let mut picture = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01];
    picture.resize(4096, 0);
    let size = picture.len() as u64;
    let etag = sandbox.put_object("uploads", key, picture, "image/jpeg", &[]).await;
    let (code, output) = docflow(&sandbox, &["retry", &id.to_string()]).await;
    assert_eq!(code, 0, "{output}");
    let refused = failed_in_round(&sandbox, id, 1).await;
    assert!(error_of(&refused).contains("this file is a picture"), "{refused:?}");
    assert_eq!(refused.error_stage.as_deref(), Some("transfer"));

    // Its own notification makes a new document: refused too.
    sandbox.notify_created("uploads", key, size, &etag, "image/jpeg", &[]).await;
    let other = crate::support::document_id("uploads", key, &etag);
    let refused = sandbox.wait_for_state(other, State::Failed, DEADLINE).await;
    assert!(error_of(&refused).contains("this file is a picture"), "{refused:?}");
    assert_eq!(jobs_of(&sandbox, id).await.len(), 1, "round 0's job only");
    assert!(jobs_of(&sandbox, other).await.is_empty());
    assert_eq!(sim_stats(&sandbox).await["submissions_received"], 1);
}
