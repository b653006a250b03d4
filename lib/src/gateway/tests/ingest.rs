//! `POST /v1/ingest/s3` with MinIO's own payloads (tests/fixtures/minio).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::support::*;

const FIXTURES: [&str; 6] = [
    "put-document.json",
    "multipart-video-versioned.json",
    "put-unicode-plus-percent.json",
    "copy-video-no-kind-metadata.json",
    "delete-ignored.json",
    "put-tagging-ignored.json",
];

fn ingest(body: &[u8], token: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/v1/ingest/s3").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_vec())).unwrap()
}

#[tokio::test]
async fn every_minio_notification_is_published_raw_to_uploads_webhook() {
    let sandbox = Sandbox::new().await;
    let name = crate::nats::Names::new(sandbox.prefix()).stream("uploads");
    let stream = sandbox.js.get_stream(&name).await.unwrap();
    for (i, fixture_name) in FIXTURES.iter().enumerate() {
        let body = fixture(fixture_name);
        let response = sandbox.send(ingest(&body, Some(INGEST_TOKEN))).await;
        assert_eq!(response.status(), StatusCode::OK, "{fixture_name}");
        assert_eq!(json_of(response).await, json!({"accepted": true, "duplicate": false}), "{fixture_name}");
        let message = stream.get_raw_message(i as u64 + 1).await.unwrap();
        assert_eq!(message.subject.as_str(), format!("{}.uploads.webhook", sandbox.prefix()));
        assert_eq!(message.payload.as_ref(), body.as_slice(), "{fixture_name}");
        assert!(message.headers.get("Nats-Msg-Id").unwrap().as_str().starts_with("s3-"));
    }
    assert_eq!(sandbox.count("uploads").await, FIXTURES.len() as u64);
    // The document id header matches what the transfer stage derives.
    let body = fixture("put-document.json");
    let upload = crate::events::minio::parse(&body).unwrap().remove(0);
    let message = stream.get_raw_message(1).await.unwrap();
    assert_eq!(message.headers.get("Docflow-Document-Id").unwrap().as_str(), upload.document_id().to_string());
}

#[tokio::test]
async fn a_notification_retried_by_the_store_is_stored_once() {
    let sandbox = Sandbox::new().await;
    let body = fixture("multipart-video-versioned.json");
    assert_eq!(sandbox.send(ingest(&body, Some(INGEST_TOKEN))).await.status(), StatusCode::OK);
    let response = sandbox.send(ingest(&body, Some(INGEST_TOKEN))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["duplicate"], true);
    assert_eq!(sandbox.count("uploads").await, 1);
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401() {
    let sandbox = Sandbox::new().await;
    let body = fixture("put-document.json");
    for token in [None, Some("wrong"), Some("")] {
        let response = sandbox.send(ingest(&body, token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
    assert_eq!(sandbox.count("uploads").await, 0);
}

#[tokio::test]
async fn without_a_configured_token_the_route_is_off_and_says_how_to_turn_it_on() {
    let sandbox = Sandbox::with(&nats_url(), &[("DOCFLOW__INGEST__TOKEN", "")], true).await;
    let response = sandbox.send(ingest(&fixture("put-document.json"), Some(""))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let answer = json_of(response).await;
    assert!(answer["detail"].as_str().unwrap().contains("ingest.token"), "{answer}");
    assert_eq!(sandbox.count("uploads").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_a_minio_event_is_400() {
    let sandbox = Sandbox::new().await;
    for body in [&b"{}"[..], b"not json", br#"{"EventName":"s3:ObjectCreated:Put","Key":"a/b","Records":[]}"#] {
        let response = sandbox.send(ingest(body, Some(INGEST_TOKEN))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(json_of(response).await["error"].is_string());
    }
    assert_eq!(sandbox.count("uploads").await, 0);
}

#[test]
fn message_ids_tell_uploads_apart_and_repeat_for_the_same_event() {
    use crate::events::minio::{EventLog, record_message_id};
    let parse = |name: &str| serde_json::from_slice::<EventLog>(&fixture(name)).unwrap();
    let put = parse("put-document.json");
    assert_eq!(record_message_id(&put.records[0]), record_message_id(&put.clone().records[0]));
    let mut again = put.clone();
    again.records[0].s3.object.sequencer = "17F00000000000FF".into();
    assert_ne!(record_message_id(&put.records[0]), record_message_id(&again.records[0]));
    let ids: std::collections::BTreeSet<String> =
        FIXTURES.iter().map(|name| record_message_id(&parse(name).records[0])).collect();
    assert_eq!(ids.len(), FIXTURES.len());
}

/// A notification of `records` creating records in `bucket`, as another store's webhook
/// may send it.
fn several(bucket: &str, keys: &[&str]) -> Vec<u8> {
    let mut log: Option<crate::events::minio::EventLog> = None;
    for (i, key) in keys.iter().enumerate() {
        let event = crate::events::minio::created_event(&crate::events::minio::CreatedObject {
            event_name: "s3:ObjectCreated:Put",
            bucket,
            key,
            size: 10,
            etag: &format!("etag{i}"),
            content_type: "text/plain",
            user_metadata: Default::default(),
            version_id: None,
            principal_id: "p",
            source_ip: "127.0.0.1",
            user_agent: "x",
            request_id: "1",
            event_time: chrono::Utc::now(),
        });
        match &mut log {
            None => log = Some(event),
            Some(log) => log.records.extend(event.records),
        }
    }
    serde_json::to_vec(&log.unwrap()).unwrap()
}

#[tokio::test]
async fn a_notification_of_several_records_is_stored_as_one_message_per_record() {
    let sandbox = Sandbox::new().await;
    let body = several("uploads", &["t/a.txt", "t/b.txt", "t/../c.txt"]);
    let response = sandbox.send(ingest(&body, Some(INGEST_TOKEN))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sandbox.count("uploads").await, 3);
    let name = crate::nats::Names::new(sandbox.prefix()).stream("uploads");
    let stream = sandbox.js.get_stream(&name).await.unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for seq in 1..=3 {
        let message = stream.get_raw_message(seq).await.unwrap();
        let log: crate::events::minio::EventLog = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(log.records.len(), 1);
        ids.insert(message.headers.get("Nats-Msg-Id").unwrap().as_str().to_owned());
        let document = message.headers.get("Docflow-Document-Id").map(|v| v.as_str().to_owned());
        assert_eq!(document.is_some(), seq < 3, "the `..` record names no document");
        assert!(message.headers.get("traceparent").is_some());
    }
    assert_eq!(ids.len(), 3);
    // The store's retry of the whole notification stores nothing new.
    let response = sandbox.send(ingest(&body, Some(INGEST_TOKEN))).await;
    assert_eq!(json_of(response).await["duplicate"], true);
    assert_eq!(sandbox.count("uploads").await, 3);
}

#[tokio::test]
async fn a_record_for_another_bucket_names_no_document() {
    let sandbox = Sandbox::new().await;
    let body = several("secret-bucket", &["teacher-9/payroll.txt"]);
    assert_eq!(sandbox.send(ingest(&body, Some(INGEST_TOKEN))).await.status(), StatusCode::OK);
    let name = crate::nats::Names::new(sandbox.prefix()).stream("uploads");
    let message = sandbox.js.get_stream(&name).await.unwrap().get_raw_message(1).await.unwrap();
    assert!(message.headers.get("Docflow-Document-Id").is_none());
}
