//! `docs/openapi.json` against the code, so the description cannot drift: every operation
//! it documents is answered by the router that serves it (with anything but that router's
//! own "no such route" or "method not allowed"), and an operation marked
//! `x-docflow-status: planned` is not served yet (once it is, drop the mark). The requests
//! go through the real routers: the gateway's with the evaluator API and the web
//! interface, built as `app::run` builds them, in process; and `docflow provider-sim` on a loopback port. No service is
//! needed: the requests carry no credentials, so no handler gets as far as NATS or the
//! database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::db::Db;
use crate::evaluator::{self, EvaluatorState};
use crate::gateway::{self, GatewayState};
use crate::settings::{DatabaseSettings, Settings};
use crate::storage::Store;

const SPEC: &str = include_str!("../../docs/openapi.json");
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

#[derive(Debug)]
struct Operation {
    method: Method,
    /// The path with its parameters filled in.
    path: String,
    served_by: String,
    planned: bool,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.served_by)
    }
}

fn operations() -> Vec<Operation> {
    let spec: Value = serde_json::from_str(SPEC).expect("docs/openapi.json is not JSON");
    let paths = spec["paths"].as_object().expect("docs/openapi.json has no paths");
    let mut operations = Vec::new();
    for (template, item) in paths {
        for (method, operation) in item.as_object().expect("a path item is an object") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let served_by = operation["x-docflow-served-by"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {template}: no x-docflow-served-by"))
                .to_owned();
            operations.push(Operation {
                method: method.to_uppercase().parse().expect("an HTTP method"),
                path: fill(template),
                served_by,
                planned: operation["x-docflow-status"] == "planned",
            });
        }
    }
    operations
}

/// A value for each path parameter that reaches the handler: `sim` is the test's provider.
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{provider}" => "sim".to_owned(),
            "{id}" => uuid::Uuid::new_v4().to_string(),
            "{job_id}" => "job-1".to_owned(),
            s if s.starts_with('{') => "x".to_owned(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn settings() -> Settings {
    crate::testkit::TestSettings::new()
        .with(&[
            ("DOCFLOW__NATS__PREFIX", "openapi-check"),
            ("DOCFLOW__GATEWAY__TOKENS", "[{token = \"token\", role = \"evaluator\"}]"),
            ("DOCFLOW__INGEST__TOKEN", "ingest-token"),
        ])
        .load()
}

/// The routers docflow serves, by the `x-docflow-served-by` name the description uses.
async fn docflow_routers(dir: &std::path::Path) -> HashMap<&'static str, Router> {
    let settings = Arc::new(settings());
    // Connects in the background: nothing here needs NATS to answer.
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(settings.nats.url.as_str())
        .await
        .expect("a NATS client");
    let store = Store::new(&settings.s3).expect("store");
    let url = format!("sqlite://{}/docflow.db", dir.display());
    let database = DatabaseSettings { url, max_connections: 1, acquire_timeout: Duration::from_secs(5) };
    let db = Db::connect(&database).await.expect("SQLite");
    let admin = crate::admin::router(crate::admin::AdminState::new(client.clone(), db.clone()));
    let evaluator = EvaluatorState::new(settings.clone(), db, store.clone());
    let gateway = gateway::router(
        GatewayState::new(settings, async_nats::jetstream::new(client), store)
            .with_routes(evaluator::routes(evaluator.clone()))
            .with_routes(crate::web::routes(crate::web::WebState::new(evaluator))),
    );
    HashMap::from([("gateway", gateway), ("admin", admin)])
}

/// Whether the router, not a handler, refused the request: the gateway's fallbacks answer
/// 404 "no such route" and 405.
async fn routed_by_docflow(router: &Router, operation: &Operation) -> bool {
    let request = Request::builder()
        .method(operation.method.clone())
        .uri(&operation.path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let error = serde_json::from_slice::<Value>(&body).ok().map(|v| v["error"].clone());
    !(status == StatusCode::METHOD_NOT_ALLOWED
        || status == StatusCode::NOT_FOUND && error == Some(Value::from("no such route")))
}

#[tokio::test]
async fn every_documented_docflow_route_is_served_and_every_planned_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let routers = docflow_routers(dir.path()).await;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for operation in operations().into_iter().filter(|o| o.served_by != "provider") {
        let router = routers
            .get(operation.served_by.as_str())
            .unwrap_or_else(|| panic!("{operation}: x-docflow-served-by names no router docflow has"));
        let routed = routed_by_docflow(router, &operation).await;
        if routed == operation.planned {
            wrong.push(format!("{operation}: documented as {}, but routed: {routed}", served_or_planned(&operation)));
        }
        checked += 1;
    }
    assert!(checked >= 8, "docs/openapi.json documents only {checked} docflow operations");
    assert!(wrong.is_empty(), "docs/openapi.json and the routers disagree:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn an_undocumented_path_is_refused_by_the_router() {
    // The check above relies on telling the router's refusals from a handler's answers.
    let dir = tempfile::tempdir().unwrap();
    let routers = docflow_routers(dir.path()).await;
    for (method, path) in [(Method::GET, "/v1/nothing-here"), (Method::DELETE, "/v1/uploads")] {
        let operation = Operation { method, path: path.into(), served_by: "gateway".into(), planned: false };
        assert!(!routed_by_docflow(&routers["gateway"], &operation).await, "{operation} looks routed");
    }
}

#[tokio::test]
async fn every_documented_provider_route_is_served_by_provider_sim_and_every_planned_one_is_not() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let data_dir = tempfile::tempdir().unwrap();
    let opts = crate::provider::sim::SimOptions { data_dir: Some(data_dir.path().to_owned()), ..Default::default() };
    let sim = tokio::spawn(crate::provider::sim::run(opts, listener, shutdown.clone()));
    let client = reqwest::Client::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for operation in operations().into_iter().filter(|o| o.served_by == "provider") {
        // Without the API key every served route answers 401; axum refuses a path it does
        // not route with an empty 404, a method it does not route with 405.
        let response = client
            .request(operation.method.clone(), format!("{base}{}", operation.path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{operation}: {e}"));
        let status = response.status();
        let empty = response.bytes().await.unwrap().is_empty();
        let routed = !(status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND && empty);
        if routed == operation.planned {
            wrong.push(format!(
                "{operation}: documented as {}, but provider-sim routes it: {routed}",
                served_or_planned(&operation)
            ));
        }
        checked += 1;
    }
    shutdown.cancel();
    sim.await.unwrap().unwrap();
    assert!(checked >= 3, "docs/openapi.json documents only {checked} provider operations");
    assert!(wrong.is_empty(), "docs/openapi.json and provider-sim disagree:\n{}", wrong.join("\n"));
}

fn served_or_planned(operation: &Operation) -> &'static str {
    if operation.planned { "planned (x-docflow-status)" } else { "served" }
}
