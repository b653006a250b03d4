//! Every row of the gateway answer table (docs/provider-protocol.md, section 3), with the stream's
//! message count checked: +1 for an accepted callback, unchanged for anything else.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::support::*;
use crate::provider::signature;

fn event() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

/// Sends `request`, checks the status and that the callbacks stream did not change.
async fn refused(sandbox: &Sandbox, request: Request<Body>, status: StatusCode) -> Value {
    let before = sandbox.count("callbacks").await;
    let response = sandbox.send(request).await;
    assert_eq!(response.status(), status);
    let body = json_of(response).await;
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(sandbox.count("callbacks").await, before, "nothing may be stored on {status}");
    body
}

#[tokio::test]
async fn a_valid_callback_is_stored_and_answered_202() {
    let sandbox = Sandbox::new().await;
    let id = event();
    let body = callback_body(&id);
    let response = sandbox.send(signed_callback(&body)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(json_of(response).await, json!({"accepted": true}));
    assert_eq!(sandbox.count("callbacks").await, 1);

    // Stored as signed, byte for byte, with the headers the validation stage relies on.
    let name = crate::nats::Names::new(sandbox.prefix()).stream("callbacks");
    let stream = sandbox.js.get_stream(&name).await.unwrap();
    let message = stream.get_raw_message(1).await.unwrap();
    assert_eq!(message.subject.as_str(), format!("{}.callbacks.sim", sandbox.prefix()));
    assert_eq!(message.payload.as_ref(), body.as_slice());
    let headers = message.headers;
    assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), id);
    assert_eq!(headers.get("Docflow-Document-Id").unwrap().as_str(), "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b");
    assert!(headers.get("traceparent").is_some());
}

#[tokio::test]
async fn the_same_event_id_again_is_a_duplicate_answered_200_and_stored_once() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    assert_eq!(sandbox.send(signed_callback(&body)).await.status(), StatusCode::ACCEPTED);
    // A provider's retry signs again, with a later timestamp: still the same event.
    let response = sandbox.send(signed_callback(&body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await, json!({"accepted": true, "duplicate": true}));
    assert_eq!(sandbox.count("callbacks").await, 1);
}

#[tokio::test]
async fn a_failed_job_callback_is_accepted() {
    let sandbox = Sandbox::new().await;
    let body = serde_json::to_vec(&json!({
        "event_id": event(), "job_id": "job_1", "reference": "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b",
        "status": "failed", "completed_at": "2026-11-24T10:15:00Z",
        "error": {"code": "unsupported_media", "message": "cannot read this file"}
    }))
    .unwrap();
    assert_eq!(sandbox.send(signed_callback(&body)).await.status(), StatusCode::ACCEPTED);
    assert_eq!(sandbox.count("callbacks").await, 1);
}

#[tokio::test]
async fn an_unknown_provider_is_404() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    refused(&sandbox, callback_request("acme", &body, Some(&sign(SECRET, &body))), StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    for content_type in [Some("text/plain"), Some("application/json; charset=latin1"), None] {
        let mut request = Request::post("/v1/callbacks/sim").header(signature::HEADER, sign(SECRET, &body));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(Body::from(body.clone())).unwrap();
        refused(&sandbox, request, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
}

#[tokio::test]
async fn json_with_a_utf8_charset_is_accepted() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    let request = Request::post("/v1/callbacks/sim")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(signature::HEADER, sign(SECRET, &body))
        .body(Body::from(body))
        .unwrap();
    assert_eq!(sandbox.send(request).await.status(), StatusCode::ACCEPTED);
    assert_eq!(sandbox.count("callbacks").await, 1);
}

#[tokio::test]
async fn a_body_over_max_body_is_413_with_or_without_content_length() {
    let sandbox = Sandbox::with(&nats_url(), &[("DOCFLOW__GATEWAY__MAX_BODY", "1KiB")], true).await;
    let mut value: Value = serde_json::from_slice(&callback_body(&event())).unwrap();
    value["padding"] = json!("x".repeat(2048));
    let body = serde_json::to_vec(&value).unwrap();
    // Declared length over the limit.
    refused(&sandbox, signed_callback(&body), StatusCode::PAYLOAD_TOO_LARGE).await;
    // Chunked: no Content-Length, the limit applies while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(256).map(|c| Ok(c.to_vec())).collect();
    let streamed = Body::from_stream(futures_util::stream::iter(chunks));
    let request = Request::post("/v1/callbacks/sim")
        .header(header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER, sign(SECRET, &body))
        .body(streamed)
        .unwrap();
    refused(&sandbox, request, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn a_missing_signature_is_401() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    refused(&sandbox, callback_request(PROVIDER, &body, None), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_signature_with_the_wrong_secret_or_over_other_bytes_is_401() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    refused(
        &sandbox,
        callback_request(PROVIDER, &body, Some(&sign("not-the-secret", &body))),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Signed over the body, sent with one byte changed (the JSON stays valid).
    let mut altered = body.clone();
    let at = altered.iter().position(|b| *b == b'7').unwrap();
    altered[at] = b'8';
    refused(&sandbox, callback_request(PROVIDER, &altered, Some(&sign(SECRET, &body))), StatusCode::UNAUTHORIZED).await;
    refused(&sandbox, callback_request(PROVIDER, &body, Some("garbage")), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_callback_with_a_stale_timestamp_is_refused() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    for t in [now() - 301, now() + 400] {
        let header = signature::sign(SECRET.as_bytes(), t, &body);
        let answer =
            refused(&sandbox, callback_request(PROVIDER, &body, Some(&header)), StatusCode::UNAUTHORIZED).await;
        assert!(answer["detail"].as_str().unwrap().contains("from now"), "{answer}");
    }
}

#[tokio::test]
async fn the_previous_secret_still_verifies_during_a_rotation() {
    let sandbox = Sandbox::new().await;
    let body = callback_body(&event());
    let response = sandbox.send(callback_request(PROVIDER, &body, Some(&sign(OLD_SECRET, &body)))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    // Several v1= entries: one valid is enough.
    let body = callback_body(&event());
    let header = signature::sign_all(&[b"unknown".as_slice(), SECRET.as_bytes()], now(), &body);
    let response = sandbox.send(callback_request(PROVIDER, &body, Some(&header))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(sandbox.count("callbacks").await, 2);
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_or_breaks_the_schema_is_400_naming_the_field() {
    let sandbox = Sandbox::new().await;
    let body = b"{not json".to_vec();
    let answer = refused(&sandbox, signed_callback(&body), StatusCode::BAD_REQUEST).await;
    assert_eq!(answer["error"], "body is not JSON");

    let mut value: Value = serde_json::from_slice(&callback_body(&event())).unwrap();
    value["results"][1]["sha256"] = json!("123");
    let body = serde_json::to_vec(&value).unwrap();
    let answer = refused(&sandbox, signed_callback(&body), StatusCode::BAD_REQUEST).await;
    assert_eq!(answer["detail"]["field"], "results[1].sha256", "{answer}");

    let mut value: Value = serde_json::from_slice(&callback_body(&event())).unwrap();
    value["reference"] = json!("doc-1");
    let body = serde_json::to_vec(&value).unwrap();
    let answer = refused(&sandbox, signed_callback(&body), StatusCode::BAD_REQUEST).await;
    assert_eq!(answer["detail"]["field"], "reference", "{answer}");

    let mut value: Value = serde_json::from_slice(&callback_body(&event())).unwrap();
    value["status"] = json!("failed");
    let body = serde_json::to_vec(&value).unwrap();
    let answer = refused(&sandbox, signed_callback(&body), StatusCode::BAD_REQUEST).await;
    assert_eq!(answer["detail"]["field"], "error", "{answer}");
}

#[tokio::test]
async fn the_checks_run_in_the_order_of_the_answer_table() {
    let sandbox = Sandbox::with(&nats_url(), &[("DOCFLOW__GATEWAY__MAX_BODY", "64")], true).await;
    let big = vec![b'x'; 100];
    let plain = |provider: &str, body: &[u8]| {
        Request::post(format!("/v1/callbacks/{provider}"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(body.to_vec()))
            .unwrap()
    };
    // Unknown provider beats a wrong content type.
    refused(&sandbox, plain("acme", &big), StatusCode::NOT_FOUND).await;
    // A wrong content type beats an oversized body.
    refused(&sandbox, plain(PROVIDER, &big), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    // An oversized body beats a missing signature.
    refused(&sandbox, callback_request(PROVIDER, &big, None), StatusCode::PAYLOAD_TOO_LARGE).await;
    // A missing signature beats a body that is not JSON.
    refused(&sandbox, callback_request(PROVIDER, b"nope", None), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn without_a_callbacks_stream_the_answer_is_503_with_retry_after() {
    let sandbox = Sandbox::with(&nats_url(), &[], false).await;
    let body = callback_body(&event());
    let response = sandbox.send(signed_callback(&body)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(header::RETRY_AFTER).is_some());
    let answer = json_of(response).await;
    assert!(answer["detail"].as_str().unwrap().contains("docflow setup"), "{answer}");
}
