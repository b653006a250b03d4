//! What an event may start: the uploads bucket only, keys that pass the key rules, each
//! record of a notification on its own; and dead letters that name their document.

use std::time::Duration;

use async_nats::jetstream::message::StreamMessage;
use docflow::db::State;
use docflow::events::minio::{CreatedObject, EventLog, created_event};
use minio::s3::types::S3Api;

use crate::support::{Sandbox, wait_for};

const DEADLINE: Duration = Duration::from_secs(30);

fn event(bucket: &str, key: &str, size: u64, etag: &str) -> EventLog {
    created_event(&CreatedObject {
        event_name: "s3:ObjectCreated:Put",
        bucket,
        key,
        size,
        etag,
        content_type: "text/plain",
        user_metadata: Default::default(),
        version_id: None,
        principal_id: "minioadmin",
        source_ip: "127.0.0.1",
        user_agent: "docflow-tests",
        request_id: "0000000000000000",
        event_time: chrono::Utc::now(),
    })
}

async fn dead_letters(sandbox: &Sandbox, count: usize) -> Vec<StreamMessage> {
    wait_for(&format!("{count} dead letters"), DEADLINE, || async {
        let dead = sandbox.stream_messages("DEAD").await;
        (dead.len() >= count).then_some(dead)
    })
    .await
}

fn header<'a>(message: &'a StreamMessage, name: &str) -> Option<&'a str> {
    message.headers.get(name).map(|v| v.as_str())
}

/// Waits until the uploads work queue is empty and nothing is pending.
async fn wait_for_empty_uploads(sandbox: &Sandbox) {
    wait_for("the uploads work queue to empty", DEADLINE, || async {
        let mut stream = sandbox.js.get_stream(sandbox.stream("UPLOADS")).await.unwrap();
        let messages = stream.info().await.unwrap().state.messages;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("transfer").await.unwrap();
        let pending = consumer.info().await.unwrap().num_ack_pending;
        (messages == 0 && pending == 0).then_some(())
    })
    .await;
}

async fn post_ingest(sandbox: &Sandbox, log: &EventLog) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/ingest/s3", sandbox.gateway_url))
        .bearer_auth("ingest-token")
        .json(log)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn records_for_a_foreign_bucket_or_the_results_bucket_are_refused_and_nothing_reaches_the_provider() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.s3.create_bucket("secret-bucket").unwrap().build().send().await.unwrap();
    let salary = b"salary data".to_vec();
    let size = salary.len() as u64;
    let secret = sandbox.put_object("secret-bucket", "teacher-9/payroll.txt", salary, "text/plain", &[]).await;
    let result = sandbox.put_object("results", "teacher-9/result.json", b"{}".to_vec(), "text/plain", &[]).await;
    sandbox.start_all().await;

    // Through MinIO's NATS target, and through the webhook ingest.
    sandbox.notify_created("secret-bucket", "teacher-9/payroll.txt", size, &secret, "text/plain", &[]).await;
    sandbox.notify_created("results", "teacher-9/result.json", 2, &result, "text/plain", &[]).await;
    post_ingest(&sandbox, &event("secret-bucket", "teacher-9/payroll.txt", size, &secret)).await;

    let dead = dead_letters(&sandbox, 3).await;
    wait_for_empty_uploads(&sandbox).await;
    assert_eq!(sandbox.stream_messages("DEAD").await.len(), 3);
    let mut reasons = Vec::new();
    for letter in &dead {
        let error = header(letter, "Docflow-Error").unwrap();
        assert!(error.contains("s3.uploads_bucket") && error.contains("nothing was read"), "{error}");
        assert_eq!(header(letter, "Docflow-Attempts"), Some("1"), "refused at once, never retried");
        assert_eq!(header(letter, "Docflow-Document-Id"), None, "a refused record is no document");
        reasons.push(error.contains("results bucket"));
    }
    reasons.sort();
    assert_eq!(reasons, [false, false, true]);
    assert_eq!(sandbox.db.count_documents().await.unwrap(), 0);
    assert!(sandbox.sim_jobs().await.is_empty(), "nothing was sent to the provider");
    let metrics = sandbox.metrics(0).await;
    assert!(metrics.contains(r#"docflow_events_refused_total{reason="foreign_bucket"} 2"#), "{metrics}");
    assert!(metrics.contains(r#"docflow_events_refused_total{reason="results_bucket"} 1"#), "{metrics}");
}

#[tokio::test]
async fn keys_that_break_the_key_rules_are_dead_lettered_at_the_first_attempt() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_worker(&["transfer"]);
    let keys = ["teacher-1/../results/x.txt", "teacher-1/a\u{0}b.txt", "/teacher-1/a.txt", "teacher-1//a.txt"];
    for key in keys {
        sandbox.notify_created("uploads", key, 10, "0cc175b9c0f1b6a831c399e269772661", "text/plain", &[]).await;
    }
    let dead = dead_letters(&sandbox, keys.len()).await;
    wait_for_empty_uploads(&sandbox).await;
    for letter in &dead {
        assert_eq!(header(letter, "Docflow-Attempts"), Some("1"));
        assert!(header(letter, "Docflow-Error").unwrap().contains("can never start work"));
    }
    let dot_dot = dead.iter().filter(|l| header(l, "Docflow-Error").unwrap().contains("`..` path segment")).count();
    assert_eq!(dot_dot, 1);
    assert_eq!(sandbox.db.count_documents().await.unwrap(), 0);
    assert!(sandbox.sim_jobs().await.is_empty());
}

#[tokio::test]
async fn one_record_for_a_missing_object_fails_alone_and_its_neighbours_are_normalized() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    let bytes = crate::support::lesson_plan();
    let mut notification: Option<EventLog> = None;
    let mut good = Vec::new();
    for n in 0..5 {
        let key = format!("teacher-{n}/plan.txt");
        let etag = sandbox.put_object("uploads", &key, bytes.clone(), "text/plain", &[]).await;
        good.push(crate::support::document_id("uploads", &key, &etag));
        let one = event("uploads", &key, bytes.len() as u64, &etag);
        match &mut notification {
            None => notification = Some(one),
            Some(log) => log.records.extend(one.records),
        }
    }
    let missing_etag = "0cc175b9c0f1b6a831c399e269772661";
    let mut notification = notification.unwrap();
    notification.records.insert(2, event("uploads", "teacher-9/gone.txt", 10, missing_etag).records.remove(0));
    let missing = crate::support::document_id("uploads", "teacher-9/gone.txt", missing_etag);
    sandbox.publish_raw(&sandbox.subject("uploads.minio"), serde_json::to_vec(&notification).unwrap()).await;

    for id in &good {
        sandbox.wait_for_state(*id, State::Normalized, DEADLINE).await;
    }
    let failed = sandbox.wait_for_state(missing, State::Failed, DEADLINE).await;
    assert!(failed.error_reason.unwrap().contains("does not exist"));
    wait_for_empty_uploads(&sandbox).await;
    let dead = sandbox.stream_messages("DEAD").await;
    assert_eq!(dead.len(), 1, "only the missing object is dead-lettered");
    let missing_id = missing.to_string();
    assert_eq!(header(&dead[0], "Docflow-Document-Id"), Some(missing_id.as_str()));
    assert_eq!(header(&dead[0], "Docflow-Attempts"), Some("1"));
    let kept: EventLog = serde_json::from_slice(&dead[0].payload).unwrap();
    assert_eq!(kept.records.len(), 1, "the dead letter holds the missing record only");
    assert_eq!(sandbox.sim_jobs().await.len(), 5, "one job per good record");
    assert_eq!(sandbox.db.count_documents().await.unwrap(), 6);
}

#[tokio::test]
async fn an_unreachable_object_store_is_retried_until_the_last_attempt_not_failed_at_the_first() {
    let mut sandbox = Sandbox::builder().start().await;
    // The worker alone is pointed at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    sandbox.env.insert("DOCFLOW__S3__ENDPOINT".into(), format!("http://127.0.0.1:{closed}"));
    sandbox.start_worker(&["transfer"]);
    let id = sandbox.upload("teacher-1/plan.txt", crate::support::lesson_plan(), "text/plain", &[]).await;
    let dead = dead_letters(&sandbox, 1).await;
    assert_eq!(header(&dead[0], "Docflow-Attempts"), Some("5"), "every allowed delivery was tried");
    let error = header(&dead[0], "Docflow-Error").unwrap();
    assert!(error.contains("last attempt (5 of 5)") && error.contains("cannot connect"), "{error}");
    let document = sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    let attempts: Vec<i32> = sandbox.db.timeline(document.id).await.unwrap().iter().map(|t| t.attempt).collect();
    assert_eq!(attempts.last(), Some(&5), "{attempts:?}");
}

#[tokio::test]
async fn a_transfer_dead_letter_names_its_document_and_trace() {
    let mut sandbox = Sandbox::builder().sim(&["--reject-status", "422"]).start().await;
    sandbox.start_worker(&["transfer"]);
    // MinIO's NATS target publishes without any header.
    let id = sandbox.upload("teacher-1/plan.txt", crate::support::lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(id, State::Failed, DEADLINE).await;
    let dead = dead_letters(&sandbox, 1).await;
    let id = id.to_string();
    assert_eq!(header(&dead[0], "Docflow-Document-Id"), Some(id.as_str()));
    let trace = header(&dead[0], "traceparent").expect("a traceparent");
    assert_eq!(trace.len(), 55, "{trace}");
    assert!(trace.starts_with(&format!("00-{}", id.replace('-', ""))), "the trace is the document's: {trace}");
}
