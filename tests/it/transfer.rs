//! The pipeline core: from a MinIO notification to a job submitted at the provider.

use std::time::Duration;

use docflow::db::State;
use docflow::ids::JobId;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::{Sandbox, wait_for};

const DEADLINE: Duration = Duration::from_secs(30);

fn lesson_plan() -> Vec<u8> {
    crate::support::lesson_plan()
}

fn video() -> Vec<u8> {
    crate::support::video(256 * 1024)
}

/// The attempts the simulator saw for the job of `reference`, as unix milliseconds.
async fn attempt_times(sandbox: &Sandbox, reference: &str) -> Vec<i64> {
    let jobs = sandbox.sim_jobs().await;
    let job = jobs.iter().find(|j| j["reference"] == reference).expect("the simulator has the job");
    job["attempt_times_ms"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect()
}

async fn dead_letters(sandbox: &Sandbox) -> Vec<async_nats::jetstream::message::StreamMessage> {
    sandbox.stream_messages("DEAD").await
}

async fn uploads_pending(sandbox: &Sandbox) -> (u64, usize) {
    let mut stream = sandbox.js.get_stream(sandbox.stream("UPLOADS")).await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer("transfer").await.unwrap();
    let pending = consumer.info().await.unwrap().num_ack_pending;
    (messages, pending)
}

/// Logs every write statement on `documents` in the sandbox's database, one that changes
/// no row included (an `INSERT ... ON CONFLICT DO NOTHING` finding the row, an `UPDATE`
/// whose guard does not match): PostgreSQL's statement-level triggers fire once per
/// statement. SQLite's fire per changed row only: the tests that use this are PostgreSQL's.
async fn log_document_writes(sandbox: &Sandbox) {
    for sql in [
        "CREATE TABLE test_document_writes (id bigserial PRIMARY KEY, op text NOT NULL)",
        "CREATE FUNCTION test_log_document_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN INSERT INTO test_document_writes (op) VALUES (TG_OP); RETURN NULL; END $$",
        "CREATE TRIGGER test_document_writes AFTER INSERT OR UPDATE OR DELETE ON documents \
         FOR EACH STATEMENT EXECUTE FUNCTION test_log_document_write()",
    ] {
        sandbox.db.connection().execute_unprepared(sql).await.unwrap();
    }
}

/// The SQL statements worker `index`'s transfer stage has sent (its pool's count, on
/// either database), once the transfer consumer has nothing pending or in flight.
async fn transfer_statements(sandbox: &Sandbox, index: usize) -> u64 {
    wait_for("the upload to leave the work queue", DEADLINE, || async {
        (uploads_pending(sandbox).await == (0, 0)).then_some(())
    })
    .await;
    let metrics = sandbox.metrics(index).await;
    let line =
        metrics.lines().find(|l| l.starts_with("docflow_db_statements_total{") && l.contains("stage=\"transfer\""));
    line.and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no transfer statements in:\n{metrics}"))
}

/// The write statements on `documents` so far, oldest first: `INSERT`, `UPDATE`, `DELETE`.
async fn document_writes(sandbox: &Sandbox) -> Vec<String> {
    let sql = Statement::from_string(DbBackend::Postgres, "SELECT op FROM test_document_writes ORDER BY id");
    let rows = sandbox.db.connection().query_all_raw(sql).await.unwrap();
    rows.iter().map(|row| row.try_get::<String>("", "op").unwrap()).collect()
}

#[tokio::test]
async fn a_lesson_plan_and_a_video_put_into_the_bucket_become_submitted_documents() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["transfer"]);
    let plan = sandbox
        .upload(
            // Text, so named as text: a `.docx` that is not a Word file is refused (pre-flight).
            "teacher-42/week3/lesson plan.txt",
            lesson_plan(),
            "text/plain",
            &[("kind", "document")],
        )
        .await;
    let clip = sandbox.upload("trainee-7/observations/clip 01.mp4", video(), "video/mp4", &[]).await;

    let plan = sandbox.wait_for_state(plan, State::Submitted, DEADLINE).await;
    let clip = sandbox.wait_for_state(clip, State::Submitted, DEADLINE).await;
    assert_eq!(plan.kind.as_str(), "document");
    assert_eq!(plan.uploader_id, "teacher-42");
    assert_eq!(clip.kind.as_str(), "video");
    assert!(plan.provider_job_id.is_some() && clip.provider_job_id.is_some());

    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs.len(), 2);
    let plan_job = jobs.iter().find(|j| j["reference"] == plan.id.to_string()).unwrap();
    assert_eq!(plan_job["size"], lesson_plan().len());
    assert_eq!(plan_job["job_id"].as_str(), plan.provider_job_id.as_ref().map(JobId::as_str));
    let timeline = sandbox.db.timeline(plan.id).await.unwrap();
    let states: Vec<&str> = timeline.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(states, ["received", "submitted"]);

    // An operator finds it by bucket/key with `docflow status`.
    let mut status = crate::support::Process::spawn(
        "docflow status",
        crate::support::docflow_binary(),
        &["status", "uploads/teacher-42/week3/lesson plan.txt", "--json"],
        &sandbox.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>(),
    );
    assert!(status.wait(Duration::from_secs(30)).await.success());
    let output = status.output();
    let json_start = output.find('{').expect("JSON on stdout");
    let shown: serde_json::Value =
        serde_json::from_str(output[json_start..].trim()).unwrap_or_else(|e| panic!("{e}: {output}"));
    assert_eq!(shown["id"], plan.id.to_string());
    assert_eq!(shown["state"], "submitted");
    assert_eq!(shown["timeline"].as_array().unwrap().len(), 2);

    // Each submitted document has its watch timer, with its job id.
    let watch = wait_for("two watch timers", DEADLINE, || async {
        let messages = sandbox.stream_messages("WATCH").await;
        (messages.len() == 2).then_some(messages)
    })
    .await;
    let timer: docflow::messages::WatchTimer = serde_json::from_slice(&watch[0].payload).unwrap();
    assert!([plan.id, clip.id].contains(&timer.document_id));
    assert!(watch[0].headers.get("Nats-Msg-Id").is_some());
}

#[tokio::test]
async fn a_provider_failing_twice_with_503_is_retried_by_redelivery_into_one_job() {
    let mut sandbox = Sandbox::builder().sim(&["--fail-first", "2"]).start().await;
    let worker = sandbox.start_worker(&["transfer"]);
    let id = sandbox.upload("teacher-1/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;

    let times = attempt_times(&sandbox, &document.id.to_string()).await;
    assert_eq!(times.len(), 3, "three deliveries reached the provider");
    // The transfer backoff in the sandbox is 300ms, 600ms, 1s.
    assert!(times[1] - times[0] >= 300, "first retry after {} ms", times[1] - times[0]);
    assert!(times[2] - times[1] >= 600, "second retry after {} ms", times[2] - times[1]);
    assert_eq!(sandbox.sim_jobs().await.len(), 1, "one job at the provider");
    let timeline = sandbox.db.timeline(id).await.unwrap();
    assert_eq!(timeline.last().unwrap().attempt, 3);
    let states: Vec<&str> = timeline.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(states, ["received", "submitted"]);
    assert_eq!(timeline[0].attempt, 1);
    // A retry is a nak, not a write: the redeliveries did not record the document again.
    // Three deliveries cost one recording and one job recorded (`db/repository.rs`'s
    // budget): one statement each on PostgreSQL; on SQLite, a transaction each (its
    // `BEGIN` and `COMMIT`, the row, the timeline entry, and the submission's row).
    let expected = if crate::support::database_kind() == "sqlite" { 4 + 5 } else { 1 + 1 };
    assert_eq!(transfer_statements(&sandbox, worker).await, expected, "one recording, one job recorded");
}

#[tokio::test]
#[cfg_attr(docflow_test_sqlite, ignore = "counts write statements with PostgreSQL's statement-level triggers")]
async fn a_redelivery_after_the_callback_recorded_the_job_records_nothing_and_makes_no_second_job() {
    // The provider creates the job and calls back at once, but answers the submission only
    // after 4 s, past transfer's 2 s idle timeout: transfer naks with the document
    // `received`, and by the redelivery validate has recorded the job from the callback.
    let mut sandbox = Sandbox::builder()
        .sim(&["--response-delay", "4s"])
        .env("DOCFLOW__PROVIDERS__SIM__IDLE_TIMEOUT", "2s")
        .start()
        .await;
    log_document_writes(&sandbox).await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-1/early.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    wait_for("the upload to leave the work queue", DEADLINE, || async {
        (uploads_pending(&sandbox).await == (0, 0)).then_some(())
    })
    .await;

    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs.len(), 1, "one job at the provider");
    assert!(jobs[0]["attempts"].as_u64().unwrap() >= 2, "the redelivery submitted again, with the same key");
    let timeline = sandbox.db.timeline(id).await.unwrap();
    let entries: Vec<(&str, &str)> = timeline.iter().map(|t| (t.state.as_str(), t.stage.as_str())).collect();
    assert_eq!(entries[..2], [("received", "transfer"), ("submitted", "validate")], "{entries:?}");
    assert_eq!(entries.iter().filter(|(_, stage)| *stage == "transfer").count(), 1, "{entries:?}");
    let inserts = document_writes(&sandbox).await.into_iter().filter(|op| op == "INSERT").count();
    assert_eq!(inserts, 1, "the redelivery did not record the document again");
}

#[tokio::test]
async fn a_throttled_submission_waits_at_least_retry_after() {
    let mut sandbox = Sandbox::builder().sim(&["--throttle-first", "1", "--retry-after", "2"]).start().await;
    sandbox.start_worker(&["transfer"]);
    let id = sandbox.upload("teacher-1/plan.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;
    let times = attempt_times(&sandbox, &id.to_string()).await;
    assert_eq!(times.len(), 2);
    assert!(times[1] - times[0] >= 2000, "retried after {} ms, Retry-After said 2 s", times[1] - times[0]);
}

#[tokio::test]
async fn a_422_from_the_provider_is_dead_lettered_with_its_error_and_the_document_fails() {
    let mut sandbox = Sandbox::builder().sim(&["--reject-status", "422"]).start().await;
    sandbox.start_worker(&["transfer"]);
    let id = sandbox.upload("teacher-1/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    assert_eq!(document.error_stage.as_deref(), Some("transfer"));
    assert!(document.error_reason.as_deref().unwrap().contains("422"), "{:?}", document.error_reason);

    let dead = wait_for("a dead letter", DEADLINE, || async {
        let d = dead_letters(&sandbox).await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter.subject.as_str(), sandbox.subject("dead.transfer"));
    assert_eq!(letter.headers.get("Docflow-Stage").unwrap().as_str(), "transfer");
    assert!(letter.headers.get("Docflow-Error").unwrap().as_str().contains("422"));
    assert_eq!(letter.headers.get("Docflow-Attempts").unwrap().as_str(), "1");
    assert_eq!(letter.headers.get("Docflow-Original-Subject").unwrap().as_str(), sandbox.subject("uploads.minio"));
    assert!(letter.headers.get("Docflow-Failed-At").is_some());
    assert!(docflow::events::minio::parse(&letter.payload).is_ok(), "the original body is kept");
    wait_for("the upload to leave the work queue", DEADLINE, || async {
        (uploads_pending(&sandbox).await == (0, 0)).then_some(())
    })
    .await;
    assert!(sandbox.sim_jobs().await.is_empty());
}

#[tokio::test]
async fn the_same_event_published_twice_is_one_document_and_one_job() {
    let mut sandbox = Sandbox::builder().start().await;
    let bytes = lesson_plan();
    let etag = sandbox.put_object("uploads", "teacher-5/twice.txt", bytes.clone(), "text/plain", &[]).await;
    let body =
        sandbox.notify_created("uploads", "teacher-5/twice.txt", bytes.len() as u64, &etag, "text/plain", &[]).await;
    sandbox.publish_raw(&sandbox.subject("uploads.minio"), body).await;
    sandbox.start_worker(&["transfer"]);
    let id = crate::support::document_id("uploads", "teacher-5/twice.txt", &etag);
    sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;
    wait_for("both events to be handled", DEADLINE, || async {
        (uploads_pending(&sandbox).await == (0, 0)).then_some(())
    })
    .await;
    assert_eq!(sandbox.db.count_documents().await.unwrap(), 1);
    assert_eq!(sandbox.sim_jobs().await.len(), 1);
}

#[tokio::test]
async fn a_worker_killed_after_submitting_but_before_acking_makes_no_second_job() {
    // The provider creates the job at once but answers only after 3 s: the worker is
    // killed in between, so the job exists and the message is neither recorded nor acked.
    let mut sandbox = Sandbox::builder().sim(&["--response-delay", "3s"]).start().await;
    let first = sandbox.start_worker(&["transfer"]);
    let id = sandbox.upload("teacher-1/crash.txt", lesson_plan(), "text/plain", &[]).await;
    wait_for("the provider to create the job", DEADLINE, || async {
        (!sandbox.sim_jobs().await.is_empty()).then_some(())
    })
    .await;
    sandbox.workers[first].kill().await;
    assert_eq!(sandbox.db.get(id).await.unwrap().unwrap().state, State::Received);

    sandbox.start_worker(&["transfer"]);
    let document = sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;
    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs.len(), 1, "one job at the provider");
    assert_eq!(jobs[0]["job_id"].as_str(), document.provider_job_id.as_ref().map(JobId::as_str));
    assert!(
        jobs[0]["attempts"].as_u64().unwrap() >= 2,
        "the redelivery submitted again, with the same Idempotency-Key"
    );
}

#[tokio::test]
async fn an_event_whose_object_no_longer_exists_is_dead_lettered_with_a_clear_reason() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["transfer"]);
    sandbox
        .notify_created("uploads", "teacher-1/gone.txt", 10, "0cc175b9c0f1b6a831c399e269772661", "text/plain", &[])
        .await;
    let id = crate::support::document_id("uploads", "teacher-1/gone.txt", "0cc175b9c0f1b6a831c399e269772661");
    let document = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    let reason = document.error_reason.unwrap();
    assert!(reason.contains("uploads/teacher-1/gone.txt") && reason.contains("does not exist"), "{reason}");
    let dead = wait_for("a dead letter", DEADLINE, || async {
        let d = dead_letters(&sandbox).await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert!(dead[0].headers.get("Docflow-Error").unwrap().as_str().contains("does not exist"));
    wait_for("nothing stuck", DEADLINE, || async { (uploads_pending(&sandbox).await == (0, 0)).then_some(()) }).await;
    assert!(sandbox.sim_jobs().await.is_empty());
}

#[tokio::test]
async fn events_that_create_no_content_are_acknowledged_and_ignored() {
    let mut sandbox = Sandbox::builder().start().await;
    for fixture in ["delete-ignored.json", "put-tagging-ignored.json"] {
        let body = std::fs::read(format!("{}/../tests/fixtures/minio/{fixture}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        sandbox.publish_raw(&sandbox.subject("uploads.minio"), body).await;
    }
    sandbox.start_worker(&["transfer"]);
    wait_for("both events to be acked", DEADLINE, || async {
        (uploads_pending(&sandbox).await == (0, 0)).then_some(())
    })
    .await;
    assert_eq!(sandbox.db.count_documents().await.unwrap(), 0);
    assert!(dead_letters(&sandbox).await.is_empty());
}

#[tokio::test]
async fn a_malformed_event_is_dead_lettered_not_retried() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["transfer"]);
    sandbox.publish_raw(&sandbox.subject("uploads.minio"), b"{\"not\": \"minio\"}".to_vec()).await;
    let dead = wait_for("a dead letter", DEADLINE, || async {
        let d = dead_letters(&sandbox).await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert!(dead[0].headers.get("Docflow-Error").unwrap().as_str().contains("not a MinIO event"));
    assert_eq!(dead[0].headers.get("Docflow-Attempts").unwrap().as_str(), "1");
}

#[tokio::test]
async fn url_delivery_hands_the_provider_a_presigned_url_it_can_fetch() {
    let mut sandbox = Sandbox::builder().env("DOCFLOW__PROVIDERS__SIM__DELIVERY", "url").start().await;
    sandbox.start_worker(&["transfer"]);
    let bytes = video();
    let id = sandbox.upload("trainee-2/lesson.mp4", bytes.clone(), "video/mp4", &[]).await;
    sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;
    let job = wait_for("the provider to fetch the object", DEADLINE, || async {
        sandbox.sim_jobs().await.into_iter().find(|j| j["sha256"].is_string())
    })
    .await;
    let expected = sha256_hex(&bytes);
    assert_eq!(job["sha256"].as_str().unwrap(), expected);
}

#[tokio::test]
async fn a_large_object_is_streamed_to_the_provider_intact() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["transfer"]);
    let bytes: Vec<u8> = (0..48u32 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let expected = sha256_hex(&bytes);
    let id = sandbox.upload("trainee-3/long lesson.mp4", bytes, "video/mp4", &[]).await;
    sandbox.wait_for_state(id, State::Submitted, Duration::from_secs(120)).await;
    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs[0]["sha256"].as_str().unwrap(), expected);
    assert_eq!(jobs[0]["size"], 48 * 1024 * 1024);
}

#[tokio::test]
async fn sigterm_stops_a_worker_cleanly() {
    let mut sandbox = Sandbox::builder().start().await;
    let index = sandbox.start_worker(&["transfer"]);
    let id = sandbox.upload("teacher-1/plan.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;
    sandbox.workers[index].terminate();
    let status = sandbox.workers[index].wait(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}");
    // What the worker took before stopping was acked: nothing is left pending.
    let mut messages = sandbox.js.get_stream(sandbox.stream("UPLOADS")).await.unwrap();
    assert_eq!(messages.info().await.unwrap().state.messages, 0);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn an_empty_upload_is_refused_before_the_provider_with_a_reason_in_plain_words() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["transfer"]);
    let empty = sandbox.upload("teacher-42/week3/plan.docx", Vec::new(), "application/octet-stream", &[]).await;
    let plan = sandbox.upload("teacher-42/week3/plan.md", lesson_plan(), "text/markdown", &[]).await;

    let document = sandbox.wait_for_state(empty, State::Failed, DEADLINE).await;
    let reason = document.error_reason.clone().unwrap_or_default();
    assert!(reason.contains("the file is empty (0 bytes)"), "{reason}");
    assert_eq!(document.error_stage.as_deref(), Some("transfer"));
    // The refused upload has its dead letter, with the same reason.
    let dead = wait_for("the dead letter", DEADLINE, || async {
        let letters = dead_letters(&sandbox).await;
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(dead.len(), 1);
    let error = dead[0].headers.get("Docflow-Error").map(|v| v.to_string()).unwrap_or_default();
    assert!(error.contains("empty (0 bytes)"), "{error}");
    // A good upload after it still goes through; the provider never saw the empty one.
    sandbox.wait_for_state(plan, State::Submitted, DEADLINE).await;
    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["reference"], plan.to_string());
}
