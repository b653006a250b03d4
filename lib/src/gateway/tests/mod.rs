//! Gateway tests through `Router::oneshot`, against a real JetStream: the NATS server at
//! 127.0.0.1:4222 (`DOCFLOW_TEST_NATS_URL` overrides it) with a random prefix per test,
//! or a `nats-server` of their own when a test must stop it.

mod callbacks;
mod fuzz;
mod ingest;
mod openapi;
mod outage;
mod support;
mod uploads;

use axum::http::StatusCode;

use support::{Sandbox, get, json_of, text_of};

#[tokio::test]
async fn operators_routes_are_not_served_on_the_public_listener() {
    let sandbox = Sandbox::new().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = sandbox.send(get(path)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(json_of(response).await["error"], "no such route", "{path}");
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_route_templates_as_labels() {
    let sandbox = Sandbox::new().await;
    crate::metrics::init();
    let response = sandbox.send(support::callback_request("nobody-here", b"{}", None)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Served on the admin listener (crate::admin).
    let text = crate::metrics::render();
    assert!(text.contains("docflow_gateway_http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/v1/callbacks/{provider}""#), "{text}");
    assert!(text.contains(r#"outcome="unknown_provider""#), "{text}");
    assert!(!text.contains("nobody-here"), "a path value must never become a label: {text}");
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let sandbox = Sandbox::new().await;
    let response = sandbox.send(get("/v1/nothing")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(response).await["error"], "no such route");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let sandbox = Sandbox::new().await;
    let response = sandbox.send(get("/v1/callbacks/sim")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(json_of(response).await["error"].is_string());
}

#[tokio::test]
async fn extra_routes_are_served_next_to_the_gateways_own() {
    let sandbox = Sandbox::new().await;
    let extra = axum::Router::new().route("/v1/documents", axum::routing::get(|| async { "documents" }));
    let app = crate::gateway::router(sandbox.state().with_routes(extra));
    let response = tower::ServiceExt::oneshot(app, get("/v1/documents")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "documents");
}

#[tokio::test]
async fn serve_stops_when_the_shutdown_token_is_cancelled() {
    let sandbox = Sandbox::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(crate::gateway::serve(sandbox.state(), listener, shutdown.clone()));
    let answer = reqwest::get(format!("http://{addr}/v1/nothing")).await.unwrap();
    assert_eq!(answer.status(), 404);
    shutdown.cancel();
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), server).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
}
