//! `docflow forget`: a normalized document erased everywhere (rows, results objects, the
//! upload, the provider's copy) with its audit kept; an erasure the provider interrupts
//! finishes on redelivery; a late callback does not bring the document back; an unknown
//! document is a clear message.

use std::time::Duration;

use docflow::db::State;
use docflow::forget::records::{self, Outcome};
use docflow::ids::DocumentId;
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
    (id, document.provider_job_id.expect("a normalized document has a job"))
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
    contacts.record_contact("teacher-6", &contact).await.unwrap();

    let (code, output) = docflow(&sandbox, &["forget", "--uploader", "teacher-6", "--yes"]).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(contacts.contact("teacher-6").await.unwrap(), None, "the uploader's e-mail address stayed");
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
