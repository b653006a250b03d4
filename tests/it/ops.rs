//! Operators' view (issue 25): `docflow status` without an argument against a pipeline
//! with documents in several states and a dead letter, the pipeline gauges on `/metrics`,
//! and the alert rules and dashboard naming only metrics docflow exports.

use std::collections::BTreeSet;
use std::time::Duration;

use docflow::db::NewDocument;
use docflow::ids::{DocumentId, Kind};
use sea_orm::ConnectionTrait;

use crate::support::{Sandbox, docflow_binary, lesson_plan, wait_for};

/// `docflow status ARGS...` with the sandbox's settings: exit code and stdout.
async fn status(sandbox: &Sandbox, args: &[&str]) -> (i32, String) {
    let output = tokio::process::Command::new(docflow_binary())
        .arg("status")
        .args(args)
        .envs(&sandbox.env)
        .output()
        .await
        .expect("docflow runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "docflow status {args:?}: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), stdout)
}

async fn status_json(sandbox: &Sandbox) -> serde_json::Value {
    let (_, stdout) = status(sandbox, &["--json"]).await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A document row in `received`, recorded as the transfer stage would.
async fn received(sandbox: &Sandbox, key: &str) -> DocumentId {
    let id = DocumentId::derive("uploads", key, &docflow::ids::ObjectVersion::new(None, Some("e1")));
    let doc = NewDocument {
        id,
        kind: Kind::Document,
        uploader_id: "teacher-42".into(),
        bucket: "uploads".into(),
        key: key.into(),
        version_id: None,
        etag: Some("e1".into()),
        size: 10,
        content_type: "text/plain".into(),
        provider: "sim".into(),
    };
    sandbox.db.record_received(&doc, docflow::ids::StageId::Transfer, 1, None).await.unwrap();
    id
}

fn stage<'a>(overview: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    overview["stages"].as_array().unwrap().iter().find(|s| s["stage"] == name).unwrap()
}

#[tokio::test]
async fn the_overview_shows_states_backlogs_dead_letters_breakers_and_who_answered_in_text_and_json() {
    let mut sandbox = Sandbox::builder().start().await;
    let rest = sandbox.start_worker(&["gateway", "validate", "normalize", "watchdog"]);
    let transfer = sandbox.start_worker(&["transfer"]);
    sandbox.wait_ready(rest).await;
    sandbox.wait_ready(transfer).await;

    // One document normalized, one stuck in `received`, one failed, and a dead letter: an
    // event naming another bucket is refused at the trust boundary.
    let normalized = sandbox.upload("teacher-42/week1/plan.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(normalized, docflow::db::State::Normalized, Duration::from_secs(60)).await;
    let waiting = received(&sandbox, "teacher-42/week2/waiting.txt").await;
    let failed = received(&sandbox, "teacher-42/week2/failed.txt").await;
    sandbox
        .db
        .connection()
        .execute_unprepared(&format!("UPDATE documents SET state = 'failed' WHERE id = '{failed}'"))
        .await
        .unwrap();
    sandbox.notify_created("results", "teacher-42/x.txt", 3, "e2", "text/plain", &[]).await;
    wait_for("the refused event's dead letter", Duration::from_secs(30), || async {
        let overview = status_json(&sandbox).await;
        (overview["dead_letters"]["transfer"] == 1).then_some(())
    })
    .await;

    let overview = status_json(&sandbox).await;
    assert_eq!(overview["documents"]["normalized"], 1, "{overview:#}");
    assert_eq!(overview["documents"]["received"], 1);
    assert_eq!(overview["documents"]["failed"], 1);
    assert_eq!(overview["documents"]["submitted"], 0);
    assert_eq!(overview["in_flight"], 1);
    assert_eq!(overview["oldest_in_flight"]["id"], waiting.to_string());
    assert_eq!(overview["oldest_in_flight"]["waits_at"], "transfer");
    assert_eq!(overview["dead_letters"]["validate"], 0);
    let names: Vec<&str> =
        overview["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(names, ["transfer", "validate", "normalize", "watchdog", "mail", "forget"]);
    assert_eq!(stage(&overview, "transfer")["pending"], 0);
    assert_eq!(overview["processes"].as_array().unwrap().len(), 2, "{overview:#}");
    assert_eq!(overview["providers"][0]["provider"], "sim");
    assert_eq!(overview["providers"][0]["state"], "closed");
    assert_eq!(overview["providers"][0]["reported_by"].as_array().unwrap().len(), 1, "only transfer submits");

    let (code, text) = status(&sandbox, &[]).await;
    assert_eq!(code, 0);
    assert!(text.contains("received 1  submitted 0  processed 0  validated 0  normalized 1  failed 1"), "{text}");
    assert!(text.contains(&format!("oldest in flight: {waiting} received")), "{text}");
    assert!(text.contains("waits at transfer"), "{text}");
    assert!(text.contains("processes: 2 answered"), "{text}");
    let row: Vec<&str> = text.lines().find(|l| l.starts_with("transfer ")).unwrap().split_whitespace().collect();
    assert_eq!(row.last(), Some(&"1"), "one dead letter of transfer: {text}");

    // Every metric the alert rules and the dashboard name is exported by these processes.
    let exported = exported_names(&[sandbox.metrics(rest).await, sandbox.metrics(transfer).await].concat());
    let missing: Vec<String> = named_by_rules_and_dashboard().difference(&exported).cloned().collect();
    assert!(missing.is_empty(), "named by deploy/prometheus but not in /metrics: {missing:?}");

    // Without a transfer worker, uploads wait in its consumer and nobody reports the breaker.
    // Stopped, not killed: a stopped worker takes back its pull request before it exits
    // (unsubscribed and flushed), where a killed one leaves it to the server, which may
    // still deliver the upload to it before it notices the connection gone; the upload
    // would then wait as unacknowledged, not pending.
    sandbox.workers[transfer].stop(Duration::from_secs(20)).await;
    sandbox.notify_created("uploads", "teacher-42/week3/later.txt", 3, "e3", "text/plain", &[]).await;
    let overview = wait_for("the upload to wait for a transfer worker", Duration::from_secs(30), || async {
        let overview = status_json(&sandbox).await;
        (stage(&overview, "transfer")["pending"] == 1).then_some(overview)
    })
    .await;
    assert_eq!(overview["processes"].as_array().unwrap().len(), 1, "{overview:#}");
    assert_eq!(overview["providers"][0]["state"], "unknown");
    let (_, text) = status(&sandbox, &[]).await;
    let row: Vec<&str> = text.lines().find(|l| l.starts_with("transfer ")).unwrap().split_whitespace().collect();
    assert_eq!(row[2], "1", "pending: {text}");
    assert_eq!(row[5], "none", "no worker pulls: {text}");
}

#[tokio::test]
async fn the_pipeline_gauges_exist_at_zero_from_the_start_and_follow_a_backlog() {
    let mut sandbox = Sandbox::builder().env("DOCFLOW__ADMIN__GAUGES_EVERY", "200ms").start().await;
    // No stage runs: what is published stays in the consumers.
    let gateway = sandbox.start_worker(&["gateway"]);
    sandbox.wait_ready(gateway).await;
    // Ready does not wait for the gauges' first read of JetStream (a task of its own): the
    // series appear with that read, which finds nothing waiting.
    let metrics = wait_for("the gauges' first read", Duration::from_secs(20), || async {
        let metrics = sandbox.metrics(gateway).await;
        let read = value(&metrics, "docflow_pipeline_gauges_read_total{outcome=\"ok\"}").unwrap_or(0.0);
        (read >= 1.0).then_some(metrics)
    })
    .await;
    for stage in ["transfer", "validate", "normalize", "watchdog"] {
        for name in ["docflow_stage_consumer_pending", "docflow_stage_consumer_ack_pending", "docflow_dead_letters"] {
            assert_eq!(
                value(&metrics, &format!("{name}{{stage=\"{stage}\"}}")),
                Some(0.0),
                "{name} {stage}: {metrics}"
            );
        }
        let done = format!("docflow_stage_messages_total{{stage=\"{stage}\",outcome=\"done\"}}");
        assert_eq!(value(&metrics, &done), Some(0.0), "{metrics}");
    }
    let signature = "docflow_gateway_callbacks_total{provider=\"sim\",outcome=\"bad_signature\"}";
    assert_eq!(value(&metrics, signature), Some(0.0), "{metrics}");

    for key in ["a", "b", "c"] {
        sandbox.notify_created("uploads", &format!("teacher-42/{key}.txt"), 3, key, "text/plain", &[]).await;
    }
    sandbox.publish_raw(&sandbox.subject("dead.normalize"), b"{}".to_vec()).await;
    let metrics = wait_for("the gauges to show the backlog", Duration::from_secs(20), || async {
        let metrics = sandbox.metrics(gateway).await;
        let pending = value(&metrics, "docflow_stage_consumer_pending{stage=\"transfer\"}");
        let dead = value(&metrics, "docflow_dead_letters{stage=\"normalize\"}");
        (pending == Some(3.0) && dead == Some(1.0)).then_some(metrics)
    })
    .await;
    assert_eq!(value(&metrics, "docflow_stage_stream_last_sequence{stage=\"transfer\"}"), Some(3.0));
    assert_eq!(value(&metrics, "docflow_dead_letters{stage=\"transfer\"}"), Some(0.0));
    assert_eq!(value(&metrics, "docflow_ready"), Some(1.0));
}

/// The value of one series in Prometheus text, by its name and labels as rendered.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The metric names in Prometheus text, histogram and summary suffixes folded into their
/// base name.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        names.insert(name.to_owned());
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                names.insert(base.to_owned());
            }
        }
    }
    names
}

/// Every `docflow_*` name in the rules' `expr` and the dashboard's targets.
fn named_by_rules_and_dashboard() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus");
    let rules = std::fs::read_to_string(root.join("docflow-alerts.yml")).unwrap();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("docflow-dashboard.json")).unwrap()).unwrap();
    // An expr is `expr: TEXT` or a folded `expr: >-` block: the indented lines after it.
    let mut exprs = Vec::new();
    let mut lines = rules.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        let indent = line.len() - line.trim_start().len();
        exprs.push(rest.to_owned());
        while let Some(next) = lines.peek().filter(|l| l.len() - l.trim_start().len() > indent) {
            exprs.push((*next).to_owned());
            lines.next();
        }
    }
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 10, "expressions found: {exprs:?}");
    let mut names = BTreeSet::new();
    for expr in &exprs {
        for (start, _) in expr.match_indices("docflow_") {
            let name: String = expr[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            names.insert(name);
        }
    }
    names
}
