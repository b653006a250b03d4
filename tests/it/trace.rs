//! One trace per document across processes: a gateway process and a stages process both
//! export their spans over OTLP/HTTP to a small receiver here, and one document's spans
//! (the callback at the gateway, then transfer, validate and normalize) share one trace id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use docflow::db::State;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

use crate::support::{Sandbox, wait_for};

/// A span as the receiver keeps it.
#[derive(Debug, Clone)]
struct Received {
    pid: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    start: u64,
    end: u64,
    name: String,
    attributes: BTreeMap<String, String>,
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with a protobuf body.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    let route = axum::routing::post(move |body: axum::body::Bytes| {
        let kept = kept.clone();
        async move {
            let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
            let mut kept = kept.lock().unwrap();
            for resource in request.resource_spans {
                let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
                let pid = attributes.iter().find(|a| a.key == "process.pid").map(|a| text(a.value.as_ref()));
                let pid = pid.and_then(|p| p.parse().ok()).unwrap_or(0);
                for scope in resource.scope_spans {
                    for span in scope.spans {
                        kept.push(Received {
                            pid,
                            trace_id: hex::encode(&span.trace_id),
                            span_id: hex::encode(&span.span_id),
                            parent_span_id: hex::encode(&span.parent_span_id),
                            start: span.start_time_unix_nano,
                            end: span.end_time_unix_nano,
                            name: span.name.clone(),
                            attributes: span
                                .attributes
                                .iter()
                                .map(|a| (a.key.clone(), text(a.value.as_ref())))
                                .collect(),
                        });
                    }
                }
            }
            ([("content-type", "application/x-protobuf")], ExportTraceServiceResponse::default().encode_to_vec())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().route("/v1/traces", route)).await.unwrap() });
    (url, spans)
}

#[tokio::test]
async fn one_documents_spans_share_one_trace_across_the_gateway_and_the_stages_processes() {
    let (url, spans) = receiver().await;
    let mut sandbox = Sandbox::builder().env("DOCFLOW__TELEMETRY__OTLP_ENDPOINT", &url).start().await;
    // Export every 200 ms instead of 5 s.
    let fast = [("OTEL_BSP_SCHEDULE_DELAY", "200")];
    let gateway = sandbox.start_worker_with(&["gateway"], &fast);
    let stages = sandbox.start_worker_with(&["transfer", "validate", "normalize", "watchdog"], &fast);
    sandbox.wait_ready(gateway).await;
    sandbox.wait_ready(stages).await;
    let id = sandbox.upload("teacher-3/plan.txt", crate::support::lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(id, State::Normalized, Duration::from_secs(60)).await;

    let document = id.to_string();
    let wanted: BTreeSet<&str> = ["callback", "transfer", "provider_call", "validate", "normalize"].into();
    let of_document = wait_for("the document's spans from both processes", Duration::from_secs(30), || async {
        let spans: Vec<Received> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.attributes.get("document_id") == Some(&document))
            .cloned()
            .collect();
        let seen: BTreeSet<&str> = spans
            .iter()
            .map(|s| s.attributes.get("stage").map(String::as_str).unwrap_or(s.name.as_str()))
            .filter(|s| wanted.contains(s))
            .collect();
        let pids: BTreeSet<i64> = spans.iter().map(|s| s.pid).collect();
        (seen.len() == wanted.len() && pids.len() >= 2).then_some(spans)
    })
    .await;
    let traces: BTreeSet<&str> = of_document.iter().map(|s| s.trace_id.as_str()).collect();
    assert_eq!(traces.len(), 1, "one trace per document: {of_document:#?}");
    assert_eq!(traces.first().copied(), Some(id.0.simple().to_string().as_str()), "the trace id is the document id");
    let outcomes: BTreeSet<&str> =
        of_document.iter().filter_map(|s| s.attributes.get("outcome").map(String::as_str)).collect();
    assert!(outcomes.contains("done"), "{of_document:#?}");
    for span in of_document.iter().filter(|s| s.name == "message") {
        assert!(span.attributes.contains_key("attempt"), "{span:?}");
    }
    // The example trace of docs/operations.md (`cargo test ... trace -- --nocapture`).
    eprintln!("{}", table(&of_document));
}

/// One line per span, oldest first: when (ms after the first), process, span and parent,
/// name and the document's attributes.
fn table(spans: &[Received]) -> String {
    let mut spans = spans.to_vec();
    spans.sort_by_key(|s| s.start);
    let first = spans.first().map(|s| s.start).unwrap_or(0);
    let mut lines = vec![format!("trace {}", spans.first().map(|s| s.trace_id.as_str()).unwrap_or(""))];
    lines.push(format!(
        "{:>8} {:>8} {:>7}  {:<16} {:<16} {:<14} {:<10} {:>7}  {}",
        "start ms", "took ms", "pid", "span", "parent", "name", "stage", "attempt", "outcome"
    ));
    for s in &spans {
        let get = |key: &str| s.attributes.get(key).cloned().unwrap_or_else(|| "-".into());
        lines.push(format!(
            "{:>8} {:>8} {:>7}  {:<16} {:<16} {:<14} {:<10} {:>7}  {}",
            (s.start - first) / 1_000_000,
            s.end.saturating_sub(s.start) / 1_000_000,
            s.pid,
            s.span_id,
            if s.parent_span_id.is_empty() { "-" } else { s.parent_span_id.as_str() },
            s.name,
            get("stage"),
            get("attempt"),
            get("outcome"),
        ));
    }
    lines.join("\n")
}
