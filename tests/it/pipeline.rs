//! From the provider's callback to the evaluator: gateway, validation, normalization,
//! watchdog and the evaluator API, with `docflow run` running every component.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use docflow::db::State;
use docflow::ids::{DocumentId, JobId};
use sha2::Digest;

use crate::support::{Sandbox, wait_for};

const DEADLINE: Duration = Duration::from_secs(45);

fn lesson_plan() -> Vec<u8> {
    crate::support::lesson_plan()
}

fn video() -> Vec<u8> {
    crate::support::video(128 * 1024)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn callbacks_stored(sandbox: &Sandbox) -> u64 {
    let mut stream = sandbox.js.get_stream(sandbox.stream("CALLBACKS")).await.unwrap();
    stream.info().await.unwrap().state.messages
}

/// Uploads a plan to a simulator that never calls back, and waits until it is submitted:
/// the test then plays the provider's callback itself.
async fn submitted_plan(sandbox: &Sandbox) -> (DocumentId, String) {
    let id = sandbox.upload("teacher-9/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Submitted, DEADLINE).await;
    (id, document.provider_job_id.unwrap().into())
}

/// A tiny file server for results the test controls; counts the requests it gets.
struct Files {
    url: String,
    hits: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

async fn serve_files(files: Vec<(&'static str, Vec<u8>)>) -> Files {
    let hits = Arc::new(AtomicUsize::new(0));
    let mut router = axum::Router::new();
    for (path, bytes) in files {
        let hits = hits.clone();
        router = router.route(
            path,
            axum::routing::get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                let bytes = bytes.clone();
                async move { bytes }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Files { url, hits, _task: task }
}

fn result(role: &str, name: &str, url: String, bytes: &[u8], content_type: &str) -> serde_json::Value {
    serde_json::json!({
        "role": role, "name": name, "url": url, "size": bytes.len(),
        "sha256": hex::encode(sha2::Sha256::digest(bytes)), "content_type": content_type,
    })
}

fn callback(event_id: &str, job_id: &str, reference: DocumentId, results: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "event_id": event_id, "job_id": job_id, "reference": reference.to_string(),
        "status": "completed", "completed_at": "2026-11-24T10:15:00Z", "results": results,
    }))
    .unwrap()
}

/// A lesson plan's results served by `files`: `corrected.txt` and `findings.json` (whose
/// bytes the callback declares as `findings`).
fn plan_results(files: &Files, findings: &[u8]) -> Vec<serde_json::Value> {
    vec![
        result("corrected", "plan.txt", format!("{}/corrected.txt", files.url), &lesson_plan(), "text/plain"),
        result("findings", "findings.json", format!("{}/findings.json", files.url), findings, "application/json"),
    ]
}

/// Findings with a category the schema does not know.
const BAD_FINDINGS: &[u8] =
    br#"{"findings":[{"category":"typo","severity":"minor","message":"x"}],"word_count":3,"language":"en"}"#;

const FINDINGS: &str = r#"{"findings":[{"category":"spelling","severity":"minor","message":"teh","excerpt":"teh","suggestion":"the"}],"word_count":14,"language":"en"}"#;

#[tokio::test]
async fn a_lesson_plan_and_a_video_reach_normalized_and_the_api_serves_them() {
    let mut sandbox = Sandbox::builder().start().await;
    let all = sandbox.start_all().await;
    let plan =
        sandbox.upload("teacher-42/week3/lesson plan.txt", lesson_plan(), "text/plain", &[("kind", "document")]).await;
    let clip = sandbox.upload("trainee-7/clip 01.mp4", video(), "video/mp4", &[]).await;
    sandbox.wait_for_state(plan, State::Normalized, DEADLINE).await;
    sandbox.wait_for_state(clip, State::Normalized, DEADLINE).await;

    let (status, doc) = sandbox.api(&format!("/v1/documents/{plan}")).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["state"], "normalized");
    assert_eq!(doc["kind"], "document");
    assert_eq!(doc["uploader_id"], "teacher-42");
    assert!(!doc["normalized"]["findings"].as_array().unwrap().is_empty(), "{doc}");
    assert_eq!(doc["normalized"]["schema_version"], 1);
    let states: Vec<&str> = doc["timeline"].as_array().unwrap().iter().map(|t| t["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["received", "submitted", "processed", "validated", "normalized"]);
    let artifacts = doc["artifacts"].as_array().unwrap();
    let roles: Vec<&str> = artifacts.iter().map(|a| a["role"].as_str().unwrap()).collect();
    assert!(roles.contains(&"corrected") && roles.contains(&"findings"), "{roles:?}");
    for artifact in artifacts {
        let bytes = reqwest::get(artifact["url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), artifact["sha256"].as_str().unwrap());
        assert_eq!(bytes.len() as u64, artifact["size"].as_u64().unwrap());
    }

    let (_, video_doc) = sandbox.api(&format!("/v1/documents/{clip}")).await;
    assert_eq!(video_doc["kind"], "video");
    assert!(video_doc["normalized"]["transcript"].as_str().is_some_and(|t| !t.is_empty()), "{video_doc}");
    assert!(video_doc["normalized"]["duration_seconds"].as_f64().is_some());

    // Operators see the stages' work on /metrics, by stage and outcome only.
    let metrics = reqwest::get(format!("{}/metrics", sandbox.admin_url(all))).await.unwrap().text().await.unwrap();
    for stage in ["transfer", "validate", "normalize"] {
        let line = metrics.lines().find(|l| {
            l.starts_with("docflow_stage_messages_total")
                && l.contains(&format!("stage=\"{stage}\""))
                && l.contains("outcome=\"done\"")
        });
        assert!(line.is_some(), "no {stage} counter in:\n{metrics}");
        let value = |series: &str| {
            let line = metrics.lines().find(|l| l.starts_with(series) && l.contains(&format!("stage=\"{stage}\"")));
            line.and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        };
        // Its worker asked the server for messages (as many as it had free run slots).
        let pulls = value("docflow_stage_pull_requests_total");
        assert!(pulls.is_some_and(|c| c >= 1.0), "no {stage} pull request in:\n{metrics}");
        // Every stage writes its transition: the pool counts it under the stage.
        let statements = value("docflow_db_statements_total");
        assert!(statements.is_some_and(|c| c >= 1.0), "no {stage} statements in:\n{metrics}");
    }

    let (status, list) = sandbox.api("/v1/documents?state=normalized&kind=video").await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], clip.to_string());
}

#[tokio::test]
async fn refused_callbacks_get_their_status_and_store_nothing() {
    let mut sandbox = Sandbox::builder().sim(&["--drop-callbacks", "1"]).start().await;
    sandbox.start_all().await;
    let (id, job) = submitted_plan(&sandbox).await;
    let body = callback("evt_refused", &job, id, vec![]);
    let client = reqwest::Client::new();
    let post = |path: String, content_type: &'static str, signature: String, body: Vec<u8>| {
        let client = client.clone();
        async move {
            client
                .post(path)
                .header("Content-Type", content_type)
                .header("Docflow-Signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let url = format!("{}/v1/callbacks/sim", sandbox.gateway_url);
    let good = |t: i64, body: &[u8]| docflow::provider::signature::sign(b"sim-callback-secret", t, body);
    let wrong = docflow::provider::signature::sign(b"not-the-secret", now(), &body);
    assert_eq!(post(url.clone(), "application/json", wrong, body.clone()).await, 401, "bad signature");
    assert_eq!(
        post(url.clone(), "application/json", good(now() - 600, &body), body.clone()).await,
        401,
        "stale timestamp"
    );
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(post(url.clone(), "application/json", good(now(), &big), big).await, 413, "oversized body");
    assert_eq!(post(url.clone(), "text/plain", good(now(), &body), body.clone()).await, 415, "wrong content type");
    let malformed = b"{\"event_id\": ".to_vec();
    assert_eq!(post(url.clone(), "application/json", good(now(), &malformed), malformed).await, 400, "malformed JSON");
    let unknown = format!("{}/v1/callbacks/nobody", sandbox.gateway_url);
    assert_eq!(post(unknown, "application/json", good(now(), &body), body.clone()).await, 404, "unknown provider");
    assert_eq!(callbacks_stored(&sandbox).await, 0, "nothing reached JetStream");
    assert_eq!(sandbox.db.get(id).await.unwrap().unwrap().state, State::Submitted);
}

#[tokio::test]
async fn the_same_callback_delivered_three_times_makes_one_record() {
    let mut sandbox = Sandbox::builder().sim(&["--duplicate-callbacks", "2"]).start().await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-3/plan.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    let jobs = wait_for("the simulator to send all three callbacks", DEADLINE, || async {
        let jobs = sandbox.sim_jobs().await;
        (jobs[0]["callbacks_sent"].as_u64() == Some(3)).then_some(jobs)
    })
    .await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(callbacks_stored(&sandbox).await, 0, "the work queue is drained");
    assert_eq!(sandbox.db.artifacts(id).await.unwrap().len(), 2, "one set of artifacts");
    let timeline = sandbox.db.timeline(id).await.unwrap();
    assert_eq!(timeline.iter().filter(|t| t.state == State::Normalized).count(), 1, "one normalized record");
    assert_eq!(timeline.iter().filter(|t| t.state == State::Validated).count(), 1);
}

#[tokio::test]
async fn results_whose_bytes_do_not_match_their_sha256_are_rejected() {
    let mut sandbox = Sandbox::builder().sim(&["--corrupt-results"]).start().await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-4/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Rejected, DEADLINE).await;
    assert_eq!(document.error_stage.as_deref(), Some("validate"));
    let reason = document.error_reason.unwrap();
    assert!(reason.contains("SHA-256"), "{reason}");
    let timeline = sandbox.db.timeline(id).await.unwrap();
    assert_eq!(timeline.last().unwrap().reason.as_deref(), Some(reason.as_str()));
    assert!(sandbox.db.artifacts(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_findings_file_that_breaks_the_schema_is_rejected() {
    let mut sandbox = Sandbox::builder().sim(&["--drop-callbacks", "1"]).start().await;
    let files = serve_files(vec![("/corrected.txt", lesson_plan()), ("/findings.json", BAD_FINDINGS.to_vec())]).await;
    let host = files.url.trim_start_matches("http://").to_owned();
    sandbox.env.insert("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS".into(), host);
    sandbox.start_all().await;
    let (id, job) = submitted_plan(&sandbox).await;
    let body = callback("evt_schema", &job, id, plan_results(&files, BAD_FINDINGS));
    assert_eq!(sandbox.post_callback("sim", &body, now(), "application/json").await.0, 202);
    let document = sandbox.wait_for_state(id, State::Rejected, DEADLINE).await;
    assert!(document.error_reason.unwrap().contains("findings schema"));
}

/// JSON and WebVTT results are parsed whole, so their size is bounded: one declared larger
/// rejects the document before anything is fetched.
#[tokio::test]
async fn a_findings_file_declared_larger_than_16_mib_is_rejected_unfetched() {
    let mut sandbox = Sandbox::builder().sim(&["--drop-callbacks", "1"]).start().await;
    let files =
        serve_files(vec![("/corrected.txt", lesson_plan()), ("/findings.json", FINDINGS.as_bytes().to_vec())]).await;
    let host = files.url.trim_start_matches("http://").to_owned();
    sandbox.env.insert("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS".into(), host);
    sandbox.start_all().await;
    let (id, job) = submitted_plan(&sandbox).await;
    let mut results = plan_results(&files, FINDINGS.as_bytes());
    results[1]["size"] = serde_json::json!(16 * 1024 * 1024 + 1);
    let body = callback("evt_huge", &job, id, results);
    assert_eq!(sandbox.post_callback("sim", &body, now(), "application/json").await.0, 202);
    let document = sandbox.wait_for_state(id, State::Rejected, DEADLINE).await;
    let reason = document.error_reason.unwrap();
    assert!(reason.contains("findings is 16777217 bytes"), "{reason}");
    assert_eq!(files.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    let states: Vec<State> = sandbox.db.timeline(id).await.unwrap().iter().map(|t| t.state).collect();
    assert_eq!(states, [State::Received, State::Submitted, State::Processed, State::Rejected]);
}

#[tokio::test]
async fn a_result_url_on_a_loopback_address_not_allowed_is_never_fetched() {
    let mut sandbox = Sandbox::builder().sim(&["--drop-callbacks", "1"]).start().await;
    sandbox.start_all().await;
    let files =
        serve_files(vec![("/findings.json", FINDINGS.as_bytes().to_vec()), ("/corrected.txt", lesson_plan())]).await;
    let (id, job) = submitted_plan(&sandbox).await;
    let body = callback("evt_ssrf", &job, id, plan_results(&files, FINDINGS.as_bytes()));
    assert_eq!(sandbox.post_callback("sim", &body, now(), "application/json").await.0, 202);
    let document = sandbox.wait_for_state(id, State::Rejected, DEADLINE).await;
    let reason = document.error_reason.unwrap();
    assert!(reason.contains("internal address") && reason.contains("not fetched"), "{reason}");
    assert_eq!(files.hits.load(Ordering::SeqCst), 0, "the loopback URL was never fetched");
}

#[tokio::test]
async fn a_dropped_callback_is_recovered_by_the_watchdog_from_the_job_status() {
    let mut sandbox = Sandbox::builder()
        .sim(&["--drop-callbacks", "1"])
        .env("DOCFLOW__PROVIDERS__SIM__CALLBACK_TIMEOUT", "2s")
        .start()
        .await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-5/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs[0]["callbacks_sent"], 0, "no callback was ever sent");
    assert_eq!(jobs[0]["job_id"].as_str(), document.provider_job_id.as_ref().map(JobId::as_str));
    let timeline = sandbox.db.timeline(id).await.unwrap();
    assert_eq!(timeline.iter().find(|t| t.state == State::Processed).unwrap().stage, "validate");
}

#[tokio::test]
async fn a_failure_reported_by_the_provider_fails_the_document_with_its_error() {
    let mut sandbox = Sandbox::builder().sim(&["--fail-jobs", "1"]).start().await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-6/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    assert_eq!(document.error_stage.as_deref(), Some("validate"));
    let reason = document.error_reason.unwrap();
    assert!(reason.contains("processing_failed"), "{reason}");
    let (_, resource) = sandbox.api(&format!("/v1/documents/{id}")).await;
    assert_eq!(resource["error"]["stage"], "validate");
    assert_eq!(resource["error"]["reason"], reason.as_str());
}

#[tokio::test]
async fn an_s3_webhook_notification_starts_the_same_pipeline() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    let bytes = lesson_plan();
    let key = "teacher-8/by webhook.txt";
    let etag = sandbox.put_object("uploads", key, bytes.clone(), "text/plain", &[]).await;
    let event = docflow::events::minio::created_event(&docflow::events::minio::CreatedObject {
        event_name: "s3:ObjectCreated:Put",
        bucket: "uploads",
        key,
        size: bytes.len() as u64,
        etag: &etag,
        content_type: "text/plain",
        user_metadata: Default::default(),
        version_id: None,
        principal_id: "minioadmin",
        source_ip: "127.0.0.1",
        user_agent: "MinIO (linux; x86_64)",
        request_id: "185E0F8C2B9A7D41",
        event_time: chrono::Utc::now(),
    });
    let client = reqwest::Client::new();
    let url = format!("{}/v1/ingest/s3", sandbox.gateway_url);
    let body = serde_json::to_vec(&event).unwrap();
    let refused = client.post(&url).bearer_auth("wrong").json(&event).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    for _ in 0..2 {
        // MinIO may deliver an event twice.
        let response = client
            .post(&url)
            .bearer_auth("ingest-token")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let id = crate::support::document_id("uploads", key, &etag);
    sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    assert_eq!(sandbox.db.count_documents().await.unwrap(), 1);
    assert_eq!(sandbox.sim_jobs().await.len(), 1);
}

#[tokio::test]
async fn an_uploading_app_gets_a_presigned_form_that_lands_in_the_uploads_bucket() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    let client = reqwest::Client::new();
    let request = serde_json::json!({"uploader_id": "trainee-1", "file_name": "notes.txt", "content_type": "text/plain", "size": 11});
    let url = format!("{}/v1/uploads", sandbox.gateway_url);
    let refused = client.post(&url).json(&request).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let answer: serde_json::Value = client
        .post(&url)
        .bearer_auth(crate::support::UPLOAD_TOKEN)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["method"], "POST");
    let key = answer["key"].as_str().unwrap();
    assert!(key.starts_with("trainee-1/") && key.ends_with("-notes.txt"), "{key}");
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in answer["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    form = form.part("file", reqwest::multipart::Part::bytes(&b"hello class"[..]).file_name("notes.txt"));
    let post = client.post(answer["url"].as_str().unwrap()).multipart(form).send().await.unwrap();
    assert!(post.status().is_success(), "{}", post.status());
    let stored = sandbox.s3.get_object("uploads", key).unwrap().build();
    use minio::s3::types::S3Api;
    let bytes = stored.send().await.unwrap().into_bytes().await.unwrap();
    assert_eq!(&bytes[..], b"hello class");
}

#[tokio::test]
async fn a_callback_that_beats_the_submission_answer_still_completes_the_document() {
    // The provider calls back at once but answers the submission a second later: the
    // callback arrives while transfer has not yet recorded the job.
    let mut sandbox = Sandbox::builder().sim(&["--response-delay", "1s"]).start().await;
    sandbox.start_all().await;
    let id = sandbox.upload("teacher-2/fast provider.txt", lesson_plan(), "text/plain", &[]).await;
    let document = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await;
    let jobs = sandbox.sim_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["job_id"].as_str(), document.provider_job_id.as_ref().map(JobId::as_str));
    let timeline = sandbox.db.timeline(id).await.unwrap();
    let submitted = timeline.iter().find(|t| t.state == State::Submitted).unwrap();
    assert_eq!(submitted.stage, "validate", "the callback recorded the job: {timeline:?}");
    assert!(sandbox.stream_messages("DEAD").await.is_empty(), "nothing was dead-lettered");
}

/// Validate hands normalize what it checked; a request without it (a result too large to
/// travel, or a request from an older docflow) makes normalize read the database and the
/// results bucket instead, and both make the same record.
#[tokio::test]
async fn normalize_makes_the_same_record_with_or_without_the_checked_inputs_in_its_request() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["gateway", "transfer", "validate"]);
    let carried = sandbox.upload("teacher-5/a/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let read = sandbox.upload("teacher-5/b/plan.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(carried, State::Validated, DEADLINE).await;
    sandbox.wait_for_state(read, State::Validated, DEADLINE).await;

    let requests = sandbox.stream_messages("normalize").await;
    assert_eq!(requests.len(), 2);
    let stream = sandbox.js.get_stream(sandbox.stream("normalize")).await.unwrap();
    for message in &requests {
        let request: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert!(request["inputs"]["contents"]["findings"].is_string(), "{request}");
        assert_eq!(request["inputs"]["artifacts"].as_array().map(Vec::len), Some(2), "{request}");
        if request["document_id"] == read.to_string() {
            stream.delete_message(message.sequence).await.unwrap();
            let bare = serde_json::json!({ "document_id": read.to_string() });
            sandbox.publish_raw(&sandbox.subject("normalize"), serde_json::to_vec(&bare).unwrap()).await;
        }
    }
    sandbox.start_worker(&["normalize"]);
    let mut records = Vec::new();
    for id in [carried, read] {
        let mut record = sandbox.wait_for_state(id, State::Normalized, DEADLINE).await.normalized.unwrap();
        // The keys name the document; everything else must match.
        record["original"]["key"] = serde_json::Value::Null;
        for artifact in record["artifacts"].as_array_mut().unwrap() {
            artifact["key"] = serde_json::Value::Null;
        }
        records.push(record);
    }
    assert!(!records[0]["findings"].as_array().unwrap().is_empty(), "{}", records[0]);
    assert_eq!(records[0], records[1]);
}
