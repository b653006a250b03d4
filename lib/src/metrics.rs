//! docflow's metrics, all declared here: the gateway's and the stages'. Labels are low-cardinality only: the route
//! template (never the concrete path), the method, the status, a configured provider's
//! name and an outcome from a fixed set. Never a document id, object key or event id.
//!
//! They go through the `metrics` facade to a Prometheus recorder installed once per
//! process ([`init`]); `GET /metrics` renders it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `route`, `method` and `status`.
pub const HTTP_REQUESTS: &str = "docflow_gateway_http_requests_total";
/// Time to answer, in seconds, by `route` and `method`.
pub const HTTP_DURATION: &str = "docflow_gateway_http_request_duration_seconds";
/// Provider callbacks by `provider` and `outcome` (see [`CallbackOutcome`]).
pub const CALLBACKS: &str = "docflow_gateway_callbacks_total";
/// S3 webhook notifications by `outcome` (see [`IngestOutcome`]).
pub const INGESTS: &str = "docflow_gateway_ingest_total";
/// Upload event records refused at the trust boundary (another bucket, a key that breaks
/// the key rules, a body that is not an event), by `reason`: see
/// [`crate::events::Refused::reason`].
pub const EVENTS_REFUSED: &str = "docflow_events_refused_total";
/// Presigned upload URLs handed out.
pub const UPLOAD_URLS: &str = "docflow_gateway_upload_urls_total";
/// Messages settled by a stage, by `stage` and `outcome` (`done`, `retry`, `later`, `held`,
/// `dead_letter`).
pub const STAGE_MESSAGES: &str = "docflow_stage_messages_total";
/// Time a stage's step took, in seconds, by `stage`.
pub const STAGE_DURATION: &str = "docflow_stage_step_duration_seconds";
/// Pull requests a stage's worker sent, by `stage`: each asks for as many messages as it
/// has free run slots (`worker/design.md`), so no delivered message waits for a slot.
pub const STAGE_PULL_REQUESTS: &str = "docflow_stage_pull_requests_total";
/// Progress (`+WPI`) sent to keep a delivery from being redelivered while its step runs,
/// by `stage` and `phase` (`running`).
pub const STAGE_PROGRESS: &str = "docflow_stage_progress_total";
/// Deliveries of a message whose step already ran in the same process, by `stage`: they
/// joined that step instead of running a second one (`worker/inflight.rs`).
pub const STAGE_DELIVERIES_JOINED: &str = "docflow_stage_deliveries_joined_total";
/// A provider's circuit breaker, by `provider`: 0 closed, 1 open, 2 half-open.
pub const PROVIDER_BREAKER: &str = "docflow_provider_breaker_state";
/// Documents held back from a provider without spending an attempt, by `provider` and
/// `reason` (`breaker`: open or probing; `busy`: all of its slots in use).
pub const PROVIDER_HELD: &str = "docflow_provider_held_total";
/// SQL statements sent to the database, by the `stage` that sent them (`none` outside
/// the stages: the evaluator API, migrations); see [`crate::db::statements`].
pub const DB_STATEMENTS: &str = "docflow_db_statements_total";
/// Group commit's transactions (a lone PostgreSQL write counts as one), by `stage`;
/// see [`crate::db`]'s `group.rs`.
pub const DB_GROUP_COMMITS: &str = "docflow_db_group_commits_total";
/// The transitions those transactions carried, by `stage`: their ratio to
/// [`DB_GROUP_COMMITS`] is how many writes share a commit.
pub const DB_GROUP_TRANSITIONS: &str = "docflow_db_group_transitions_total";

/// A stage consumer's messages not yet delivered, by `stage` (JetStream's `num_pending`),
/// read every `admin.gauges_every`; every run process exports it, rules take the max.
pub const CONSUMER_PENDING: &str = "docflow_stage_consumer_pending";
/// A stage consumer's messages delivered and not yet acknowledged, by `stage`.
pub const CONSUMER_ACK_PENDING: &str = "docflow_stage_consumer_ack_pending";
/// A stage consumer's messages delivered more than once and still unacknowledged.
pub const CONSUMER_REDELIVERED: &str = "docflow_stage_consumer_redelivered";
/// The last sequence of the stream a stage reads, by `stage`: grows with every message
/// the stage is given (for transfer: every upload event), whichever process took it.
pub const STREAM_LAST_SEQUENCE: &str = "docflow_stage_stream_last_sequence";
/// Dead letters kept for a stage, by `stage` (the depth of `{prefix}.dead.{stage}`).
pub const DEAD_LETTERS: &str = "docflow_dead_letters";
/// Reads of the pipeline gauges from JetStream, by `outcome` (`ok`, `failed`).
pub const GAUGES_READ: &str = "docflow_pipeline_gauges_read_total";
/// 1 while the process's `/readyz` would answer 200, else 0; updated with the gauges.
pub const READY: &str = "docflow_ready";

/// The one recorder of the process. When another recorder was installed first (by an
/// embedding program), metrics go there and `/metrics` renders an empty local recorder.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder if it is not installed yet, and describes the metrics.
pub fn init() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => handle,
            Err(error) => {
                tracing::warn!(%error, "another metrics recorder is installed; /metrics will be empty");
                PrometheusBuilder::new().build_recorder().handle()
            }
        };
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered by the gateway, by route, method and status");
    metrics::describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "time to answer an HTTP request");
    metrics::describe_counter!(CALLBACKS, "provider callbacks by provider and outcome");
    metrics::describe_counter!(INGESTS, "S3 webhook notifications by outcome");
    metrics::describe_counter!(UPLOAD_URLS, "presigned upload URLs handed out");
    metrics::describe_counter!(EVENTS_REFUSED, "upload event records refused at the trust boundary, by reason");
    metrics::describe_counter!(STAGE_MESSAGES, "messages settled by a stage, by stage and outcome");
    metrics::describe_histogram!(STAGE_DURATION, metrics::Unit::Seconds, "time a stage's step took");
    metrics::describe_counter!(
        STAGE_PULL_REQUESTS,
        "pull requests sent by a stage's worker, each for as many messages as it has free run slots"
    );
    metrics::describe_counter!(STAGE_PROGRESS, "progress sent to keep deliveries whose step runs, by stage and phase");
    metrics::describe_counter!(
        STAGE_DELIVERIES_JOINED,
        "deliveries of a message whose step already ran in the process, joined to it, by stage"
    );
    metrics::describe_gauge!(
        PROVIDER_BREAKER,
        "circuit breaker of a provider: 0 closed, 1 open, 2 half-open (one probe in flight)"
    );
    metrics::describe_counter!(
        PROVIDER_HELD,
        "documents held back from a provider without spending an attempt, by provider and reason (breaker, busy)"
    );
    metrics::describe_counter!(DB_STATEMENTS, "SQL statements sent to the database, by the stage that sent them");
    metrics::describe_counter!(DB_GROUP_COMMITS, "group commit's transactions, by stage (a lone write counts as one)");
    metrics::describe_counter!(DB_GROUP_TRANSITIONS, "transitions carried by group commit's transactions, by stage");
    metrics::describe_gauge!(CONSUMER_PENDING, "messages of a stage's consumer not yet delivered (JetStream)");
    metrics::describe_gauge!(CONSUMER_ACK_PENDING, "messages of a stage's consumer delivered, not yet acknowledged");
    metrics::describe_gauge!(
        CONSUMER_REDELIVERED,
        "messages of a stage's consumer delivered more than once, unacknowledged"
    );
    metrics::describe_gauge!(STREAM_LAST_SEQUENCE, "last sequence of the stream a stage reads (grows with its input)");
    metrics::describe_gauge!(DEAD_LETTERS, "dead letters kept for a stage");
    metrics::describe_counter!(GAUGES_READ, "reads of the pipeline gauges from JetStream, by outcome (ok, failed)");
    metrics::describe_gauge!(READY, "1 while /readyz answers 200, else 0");
}

/// The Prometheus text of every metric of the process.
pub fn render() -> String {
    let handle = init();
    handle.run_upkeep();
    handle.render()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Accepted,
    Duplicate,
    UnknownProvider,
    UnsupportedMediaType,
    TooLarge,
    BadSignature,
    Invalid,
    Unavailable,
}

impl CallbackOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackOutcome::Accepted => "accepted",
            CallbackOutcome::Duplicate => "duplicate",
            CallbackOutcome::UnknownProvider => "unknown_provider",
            CallbackOutcome::UnsupportedMediaType => "unsupported_media_type",
            CallbackOutcome::TooLarge => "too_large",
            CallbackOutcome::BadSignature => "bad_signature",
            CallbackOutcome::Invalid => "invalid",
            CallbackOutcome::Unavailable => "unavailable",
        }
    }
}

/// `provider` must be a configured provider's name (or `"unknown"`), never the raw path.
pub fn callback(provider: &str, outcome: CallbackOutcome) {
    metrics::counter!(CALLBACKS, "provider" => provider.to_owned(), "outcome" => outcome.as_str()).increment(1);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Accepted,
    Duplicate,
    Unauthorized,
    Disabled,
    Invalid,
    Unavailable,
}

impl IngestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Accepted => "accepted",
            IngestOutcome::Duplicate => "duplicate",
            IngestOutcome::Unauthorized => "unauthorized",
            IngestOutcome::Disabled => "disabled",
            IngestOutcome::Invalid => "invalid",
            IngestOutcome::Unavailable => "unavailable",
        }
    }
}

pub fn ingest(outcome: IngestOutcome) {
    metrics::counter!(INGESTS, "outcome" => outcome.as_str()).increment(1);
}

/// One event record refused; `reason` is one of the fixed labels of `Refused::reason`.
pub fn event_refused(reason: &'static str) {
    metrics::counter!(EVENTS_REFUSED, "reason" => reason).increment(1);
}

pub fn upload_url() {
    metrics::counter!(UPLOAD_URLS).increment(1);
}

/// Middleware counting every answer by route template, method and status.
pub(super) async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status).increment(1);
    response
}

/// Counts one settled message of `stage` and how long its step took.
pub fn stage_step(stage: &'static str, outcome: &'static str, took: std::time::Duration) {
    metrics::counter!(STAGE_MESSAGES, "stage" => stage, "outcome" => outcome).increment(1);
    metrics::histogram!(STAGE_DURATION, "stage" => stage).record(took.as_secs_f64());
}

/// A pull request sent for `count` messages.
pub fn stage_pull_request(stage: &'static str) {
    metrics::counter!(STAGE_PULL_REQUESTS, "stage" => stage).increment(1);
}

/// A progress message sent for a delivery whose step is `running`.
pub fn stage_progress(stage: &'static str, phase: &'static str) {
    metrics::counter!(STAGE_PROGRESS, "stage" => stage, "phase" => phase).increment(1);
}

/// A delivery of a message whose step already runs here, joined to that step.
pub fn stage_delivery_joined(stage: &'static str) {
    metrics::counter!(STAGE_DELIVERIES_JOINED, "stage" => stage).increment(1);
}

/// `count` SQL statements sent by `stage`.
pub fn db_statements(stage: &'static str, count: u64) {
    metrics::counter!(DB_STATEMENTS, "stage" => stage).increment(count);
}

/// One transaction of group commit, for `stage`, carrying `transitions`.
pub fn db_group_commit(stage: &'static str, transitions: u64) {
    metrics::counter!(DB_GROUP_COMMITS, "stage" => stage).increment(1);
    metrics::counter!(DB_GROUP_TRANSITIONS, "stage" => stage).increment(transitions);
}

/// The breaker state of `provider` (a configured name): 0 closed, 1 open, 2 half-open.
pub fn provider_breaker(provider: &str, state: f64) {
    metrics::gauge!(PROVIDER_BREAKER, "provider" => provider.to_owned()).set(state);
}

/// A document held back from `provider` for `reason` (`breaker` or `busy`).
pub fn provider_held(provider: &str, reason: &'static str) {
    metrics::counter!(PROVIDER_HELD, "provider" => provider.to_owned(), "reason" => reason).increment(1);
}

/// A stage consumer's backlog, as JetStream counts it.
pub fn stage_backlog(stage: &'static str, pending: u64, ack_pending: u64, redelivered: u64) {
    metrics::gauge!(CONSUMER_PENDING, "stage" => stage).set(pending as f64);
    metrics::gauge!(CONSUMER_ACK_PENDING, "stage" => stage).set(ack_pending as f64);
    metrics::gauge!(CONSUMER_REDELIVERED, "stage" => stage).set(redelivered as f64);
}

/// The last sequence of the stream `stage` reads. Never set to a made-up zero: a rule
/// comparing it with an hour ago would read a restart as an hour of input.
pub fn stage_stream_last_sequence(stage: &'static str, last_sequence: u64) {
    metrics::gauge!(STREAM_LAST_SEQUENCE, "stage" => stage).set(last_sequence as f64);
}

/// The depth of `stage`'s dead letters.
pub fn dead_letters(stage: &'static str, depth: u64) {
    metrics::gauge!(DEAD_LETTERS, "stage" => stage).set(depth as f64);
}

/// One read of the pipeline gauges, whether it got every number.
pub fn gauges_read(ok: bool) {
    metrics::counter!(GAUGES_READ, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
}

/// Whether the process is ready, as `/readyz` would say.
pub fn ready(ready: bool) {
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

/// Makes `stage`'s `outcome` series exist at zero (alert rules rate it from the start).
pub fn stage_messages_zero(stage: &'static str, outcome: &'static str) {
    metrics::counter!(STAGE_MESSAGES, "stage" => stage, "outcome" => outcome).increment(0);
}

/// Makes a configured provider's callback `outcome` series exist at zero.
pub fn callback_zero(provider: &str, outcome: CallbackOutcome) {
    metrics::counter!(CALLBACKS, "provider" => provider.to_owned(), "outcome" => outcome.as_str()).increment(0);
}
