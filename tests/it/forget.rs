//! `docflow forget`: a normalized document erased everywhere (rows, results objects, the
//! upload, the provider's copy) with its audit kept; an erasure the provider interrupts
//! finishes on redelivery; a late callback does not bring the document back; an unknown
//! document is a clear message.

use std::time::Duration;

use docflow::db::State;
use docflow::forget::records::{self, Outcome};
use docflow::ids::{DocumentId, UploaderId};
use docflow::testkit::Process;
use minio::s3::types::S3Api;

use crate::support::{Sandbox, docflow_binary, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

fn sandbox() -> crate::support::SandboxBuilder {
    Sandbox::builder()
        .env("DOCFLOW__STAGES__FORGET__BACKOFF", "300ms,600ms,1s")
        .env("DOCFLOW__STAGES__FORGET__MAX_DELIVER", "8")
}

/// Runs `docflow ARGS...` with the sandbox's settings; its exit code and output.
async fn docflow(sandbox: &Sandbox, args: &[&str]) -> (i32, String) {
    let env: Vec<(String, String)> = sandbox.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut process = Process::spawn(&format!("docflow {}", args.join(" ")), docflow_binary(), args, &env);
    let status = process.wait(DEADLINE).await;
    (status.code().unwrap_or(-1), process.output())
}

async fn results_of(sandbox: &Sandbox, id: DocumentId) -> Vec<String> {
    use futures_util::StreamExt;
    use minio::s3::types::ToStream;
    let listing = sandbox
        .s3
        .list_objects("results")
        .unwrap()
        .prefix(Some(format!("{id}/")))
        .recursive(true)
        .disable_url_encoding(true)
        .build();
    let mut pages = listing.to_stream().await;
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        keys.extend(page.unwrap().contents.into_iter().map(|entry| entry.name));
    }
    keys
}

async fn job_status(sandbox: &Sandbox, job_id: &str) -> u16 {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/jobs/{job_id}", sandbox.sim_url))
        .bearer_auth("sim-api-key")
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// A lesson plan taken all the way to `normalized`: its id and its provider job.
async fn normalized_plan(sandbox: &Sandbox, key: &str) -> (DocumentId, String) {
    let id = sandbox.upload(key, crate::support::lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    (id, document.provider_job_id.expect("a normalized document has a job").into())
}

#[tokio::test]
async fn a_forgotten_document_is_gone_everywhere_its_audit_stays_and_a_late_callback_does_not_bring_it_back() {
    let mut sandbox = sandbox().start().await;
    sandbox.start_all().await;
    let (id, job_id) = normalized_plan(&sandbox, "teacher-5/week1/plan.txt").await;
    assert!(!results_of(&sandbox, id).await.is_empty(), "validate stored the results");
    assert_eq!(job_status(&sandbox, &job_id).await, 200);

    let (code, output) =
        docflow(&sandbox, &["forget", "--document", &id.to_string(), "--with-upload", "--yes", "--by", "dpo"]).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains(&format!("{id} erased")), "{output}");

    assert_eq!(sandbox.db.get(id).await.unwrap(), None);
    assert!(sandbox.db.timeline(id).await.unwrap().is_empty());
    assert!(sandbox.db.artifacts(id).await.unwrap().is_empty());
    let left = results_of(&sandbox, id).await;
    assert!(left.is_empty(), "results objects remain: {left:?}");
    let upload = sandbox.s3.stat_object("uploads", "teacher-5/week1/plan.txt").unwrap().build().send().await;
    assert!(upload.is_err(), "the upload remains");
    assert_eq!(job_status(&sandbox, &job_id).await, 404, "the provider still holds the job");
    assert!(records::is_forgotten(&sandbox.db, id).await.unwrap());

    // The audit: who, what, when, outcome; no key, file name or content.
    let sql = "SELECT request_id FROM erasures WHERE document_id = $1";
    let backend = sea_orm::ConnectionTrait::get_database_backend(sandbox.db.connection());
    let row = sea_orm::ConnectionTrait::query_one_raw(
        sandbox.db.connection(),
        sea_orm::Statement::from_sql_and_values(backend, sql, [id.to_string().into()]),
    )
    .await
    .unwrap()
    .expect("an audit row");
    let request_id: String = row.try_get("", "request_id").unwrap();
    let erasure = records::erasure(&sandbox.db, &request_id, id).await.unwrap().unwrap();
    assert_eq!(erasure.outcome, Outcome::Erased, "{erasure:?}");
    assert_eq!((erasure.requested_by.as_str(), erasure.uploader_id.as_str()), ("dpo", "teacher-5"));
    assert!(erasure.with_upload && erasure.finished_at.is_some());
    assert_eq!(erasure.job_ids.as_slice(), [job_id.as_str()]);
    assert!(!erasure.detail.contains("plan.txt"), "{}", erasure.detail);

    // The provider's callback, late: accepted at the gateway, then ignored for good.
    let late = serde_json::to_vec(&serde_json::json!({
        "event_id": "evt_late", "job_id": job_id, "reference": id.to_string(),
        "status": "failed", "completed_at": "2026-12-07T10:00:00Z", "error": {"code": "late", "message": "late"},
    }))
    .unwrap();
    let (status, body) = sandbox.post_callback("sim", &late, chrono::Utc::now().timestamp(), "application/json").await;
    assert_eq!(status, 202, "{body}");
    wait_for("the late callback to be handled", DEADLINE, || async {
        let mut stream = sandbox.js.get_stream(sandbox.stream("CALLBACKS")).await.ok()?;
        (stream.info().await.ok()?.state.messages == 0).then_some(())
    })
    .await;
    assert_eq!(sandbox.db.get(id).await.unwrap(), None, "the late callback brought the document back");
    let dead = sandbox.stream_messages("DEAD").await;
    assert!(
        dead.is_empty(),
        "the late callback was dead-lettered: {:?}",
        dead.iter().map(|m| &m.headers).collect::<Vec<_>>()
    );

    let (code, output) = docflow(&sandbox, &["forget", "--document", &id.to_string(), "--yes"]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains(&format!("document {id} was already forgotten")), "{output}");
}

#[tokio::test]
async fn an_erasure_the_provider_interrupts_finishes_on_redelivery() {
    let mut sandbox = sandbox().sim(&["--fail-deletes", "2"]).start().await;
    sandbox.start_all().await;
    let (id, job_id) = normalized_plan(&sandbox, "teacher-6/plan.txt").await;
    let contacts = docflow::mail::store::MailStore::new(sandbox.db.clone());
    let contact = docflow::mail::store::Contact { email: "six@school.example".into(), opt_in: true };
    contacts.record_contact(&UploaderId::from("teacher-6"), &contact).await.unwrap();

    let (code, output) = docflow(&sandbox, &["forget", "--uploader", "teacher-6", "--yes"]).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        contacts.contact(&UploaderId::from("teacher-6")).await.unwrap(),
        None,
        "the uploader's e-mail address stayed"
    );
    assert!(output.contains("[1/1]") && output.contains(&format!("{id} erased")), "{output}");
    assert_eq!(job_status(&sandbox, &job_id).await, 404);
    assert_eq!(sandbox.db.get(id).await.unwrap(), None);
    let stats: serde_json::Value =
        reqwest::get(format!("{}/v1/_sim/stats", sandbox.sim_url)).await.unwrap().json().await.unwrap();
    assert_eq!(stats["jobs_deleted"], 1, "{stats}");
    // The upload was not asked for.
    let upload = sandbox.s3.stat_object("uploads", "teacher-6/plan.txt").unwrap().build().send().await;
    assert!(upload.is_ok(), "the upload went without --with-upload");

    // The store notifies the same upload again, late: the event is taken and ignored.
    let etag =
        sandbox.put_object("uploads", "teacher-6/plan.txt", crate::support::lesson_plan(), "text/plain", &[]).await;
    assert_eq!(crate::support::document_id("uploads", "teacher-6/plan.txt", &etag), id);
    let size = crate::support::lesson_plan().len() as u64;
    sandbox.notify_created("uploads", "teacher-6/plan.txt", size, &etag, "text/plain", &[]).await;
    wait_for("the late event to be handled", DEADLINE, || async {
        let mut stream = sandbox.js.get_stream(sandbox.stream("UPLOADS")).await.ok()?;
        (stream.info().await.ok()?.state.messages == 0).then_some(())
    })
    .await;
    assert_eq!(sandbox.db.get(id).await.unwrap(), None, "the late event brought the document back");
    assert!(sandbox.stream_messages("DEAD").await.is_empty(), "the late event was dead-lettered");
}

#[tokio::test]
async fn forgetting_an_unknown_document_names_it_and_fails() {
    let sandbox = sandbox().start().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (code, output) = docflow(&sandbox, &["forget", "--document", &unknown, "--yes"]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains(&format!("unknown document {unknown}")), "{output}");
    let (code, output) = docflow(&sandbox, &["forget", "--uploader", "nobody-here", "--yes"]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("uploader \"nobody-here\" has no documents"), "{output}");
    let (code, output) = docflow(&sandbox, &["forget", "--document", "plan.txt", "--yes"]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("\"plan.txt\" is not a document id"), "{output}");
}

/// The messages of `stream` (short name) that carry document `id`.
async fn messages_of(sandbox: &Sandbox, stream: &str, id: DocumentId) -> usize {
    let id = id.to_string();
    let messages = sandbox.stream_messages(stream).await;
    messages.iter().filter(|m| m.headers.get(docflow::messages::DOCUMENT_ID).map(|v| v.as_str()) == Some(&id)).count()
}

async fn erasure_of(sandbox: &Sandbox, id: DocumentId) -> records::Erasure {
    let sql = "SELECT request_id FROM erasures WHERE document_id = $1";
    let backend = sea_orm::ConnectionTrait::get_database_backend(sandbox.db.connection());
    let row = sea_orm::ConnectionTrait::query_one_raw(
        sandbox.db.connection(),
        sea_orm::Statement::from_sql_and_values(backend, sql, [id.to_string().into()]),
    )
    .await
    .unwrap()
    .expect("an audit row");
    let request_id: String = row.try_get("", "request_id").unwrap();
    records::erasure(&sandbox.db, &request_id, id).await.unwrap().expect("the erasure of the document")
}

fn results_delete(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::DELETE && path.starts_with("/results/")
}

fn job_delete(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::DELETE && path.starts_with("/v1/jobs/")
}

/// Two crashes of the `forget` component, each between two steps of the same erasure:
/// first while it deletes the results objects (the tombstone and the job ids are written,
/// every row is still there), then while it asks the provider to delete its copy (every
/// copy docflow holds is gone). Each time a proxy holds the call without answering and the
/// process is killed there. A third process, on redelivery, finishes the erasure.
#[tokio::test]
async fn an_erasure_killed_between_two_steps_finishes_after_a_restart() {
    let mut sandbox = sandbox()
        .env("DOCFLOW__MAIL__ENABLED", "true")
        .env("DOCFLOW__MAIL__HOST", "127.0.0.1")
        .env("DOCFLOW__MAIL__PORT", &crate::support::free_port().to_string())
        .env("DOCFLOW__MAIL__FROM", "docflow <docflow@school.example>")
        .start()
        .await;
    // No watchdog and no mail component: the document's watch timer and its "ready" notice
    // (the mail outbox) stay on their streams for the erasure to find.
    let pipeline = sandbox.start_worker(&["gateway", "transfer", "validate", "normalize"]);
    sandbox.wait_ready(pipeline).await;
    let contacts = docflow::mail::store::MailStore::new(sandbox.db.clone());
    let contact = docflow::mail::store::Contact { email: "eight@school.example".into(), opt_in: true };
    contacts.record_contact(&UploaderId::from("teacher-8"), &contact).await.unwrap();
    let (id, job_id) = normalized_plan(&sandbox, "teacher-8/plan.txt").await;
    wait_for("the ready notice in the outbox", DEADLINE, || async {
        (messages_of(&sandbox, "NOTIFY", id).await == 1).then_some(())
    })
    .await;
    assert_eq!(messages_of(&sandbox, "WATCH", id).await, 1, "the document's watch timer");
    // A dead letter of the document, shaped as the worker runtime writes one (the
    // erasure finds dead letters by their document header).
    let names = docflow::nats::Names::new(&sandbox.prefix);
    docflow::messages::publish(&sandbox.js, names.dead_subject("mail"), "dead-1", Some(id), None, b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(messages_of(&sandbox, "DEAD", id).await, 1);

    // Crash 1: in the middle of the results objects.
    let s3 = crate::support::hold::HoldingProxy::start(&sandbox.env["DOCFLOW__S3__ENDPOINT"], results_delete).await;
    let first = sandbox.start_worker_with(&["forget"], &[("DOCFLOW__S3__ENDPOINT", &s3.url)]);
    let env: Vec<(String, String)> = sandbox.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let args = ["forget", "--document", &id.to_string(), "--with-upload", "--yes", "--by", "dpo", "--wait", "2m"];
    let mut command = Process::spawn("docflow forget", docflow_binary(), &args, &env);
    let held = s3.next_held(DEADLINE).await;
    assert!(held.starts_with(&format!("DELETE /results/{id}/")), "{held}");
    sandbox.workers[first].kill().await;
    assert!(records::is_forgotten(&sandbox.db, id).await.unwrap(), "the tombstone comes first");
    assert!(sandbox.db.get(id).await.unwrap().is_some(), "the rows go after the objects");
    assert!(!results_of(&sandbox, id).await.is_empty(), "the held deletion reached the store");
    let erasure = erasure_of(&sandbox, id).await;
    assert_eq!(erasure.outcome, Outcome::Pending);
    assert_eq!(erasure.job_ids.as_slice(), [job_id.as_str()], "the job ids are noted before the rows go");

    // Crash 2: asking the provider to delete its copy, after every copy docflow holds.
    let sim = crate::support::hold::HoldingProxy::start(&sandbox.sim_url, job_delete).await;
    let second = sandbox.start_worker_with(&["forget"], &[("DOCFLOW__PROVIDERS__SIM__BASE_URL", &sim.url)]);
    assert_eq!(sim.next_held(DEADLINE).await, format!("DELETE /v1/jobs/{job_id}"));
    sandbox.workers[second].kill().await;
    assert_eq!(sandbox.db.get(id).await.unwrap(), None);
    assert!(sandbox.db.timeline(id).await.unwrap().is_empty());
    assert!(results_of(&sandbox, id).await.is_empty());
    let upload = sandbox.s3.stat_object("uploads", "teacher-8/plan.txt").unwrap().build().send().await;
    assert!(upload.is_err(), "the upload remains");
    for stream in ["DEAD", "WATCH", "NOTIFY"] {
        assert_eq!(messages_of(&sandbox, stream, id).await, 0, "a message of the document remains on {stream}");
    }
    assert_eq!(job_status(&sandbox, &job_id).await, 200, "the held deletion reached the provider");
    assert_eq!(erasure_of(&sandbox, id).await.outcome, Outcome::Pending);

    // The restart: the redelivered request finds the rows gone and erases the provider's
    // copy from the job ids in the audit.
    sandbox.start_worker(&["forget"]);
    let status = command.wait(DEADLINE).await;
    let output = command.output();
    assert!(status.success(), "{output}");
    assert!(output.contains(&format!("{id} erased")), "{output}");
    assert_eq!(job_status(&sandbox, &job_id).await, 404, "the provider still holds the job");
    let erasure = erasure_of(&sandbox, id).await;
    assert_eq!(erasure.outcome, Outcome::Erased, "{erasure:?}");
    assert!(erasure.with_upload && erasure.finished_at.is_some());
    // The counts of the attempt that deleted the rows, kept through the last one.
    assert!(
        erasure.detail.contains("upload erased") && erasure.detail.contains("mail notices 1"),
        "{}",
        erasure.detail
    );
    assert!(erasure.detail.contains(&format!("jobs {job_id} erased")), "{}", erasure.detail);
    assert_eq!(
        contacts.contact(&UploaderId::from("teacher-8")).await.unwrap().map(|c| c.opt_in),
        Some(true),
        "only --uploader erases the address"
    );
}
