//! NATS stops and comes back: the gateway answers 503 (nothing stored, nothing buffered
//! for later) while it is down, and 202 once it is back.

use std::time::Duration;

use async_nats::connection::State;
use axum::http::{StatusCode, header};

use super::support::*;

#[tokio::test]
async fn a_callback_while_jetstream_is_down_is_503_and_accepted_once_it_is_back() {
    let mut server = OwnServer::start().await;
    let mut sandbox = Sandbox::with(&server.url, &[], false).await;
    sandbox.create_streams().await;
    let client = sandbox.client.clone();
    let body = callback_body("evt_outage_1");

    server.kill().await;
    wait_for("the client to see the server gone", Duration::from_secs(10), || async {
        (client.connection_state() != State::Connected).then_some(())
    })
    .await;
    let response = sandbox.send(signed_callback(&body)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(header::RETRY_AFTER).is_some());
    assert!(json_of(response).await["error"].is_string());

    server.restart().await;
    wait_for("the client to reconnect", Duration::from_secs(15), || async {
        (client.connection_state() == State::Connected).then_some(())
    })
    .await;
    // The same event again: the refused attempt left nothing behind, so it is new.
    let response = sandbox.send(signed_callback(&body)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(sandbox.count("callbacks").await, 1);
}

#[tokio::test]
async fn a_callback_is_503_when_nats_is_up_but_jetstream_does_not_answer() {
    let server = OwnServer::core_only().await;
    let sandbox = Sandbox::with(&server.url, &[], false).await;
    let response = sandbox.send(signed_callback(&callback_body("evt_no_js"))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(header::RETRY_AFTER).is_some());
    let response = sandbox
        .send(
            axum::http::Request::post("/v1/ingest/s3")
                .header(header::AUTHORIZATION, format!("Bearer {INGEST_TOKEN}"))
                .body(axum::body::Body::from(fixture("put-document.json")))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}
