//! `docs/openapi.json` held to the code both ways, through the real routers: the gateway's
//! (with the evaluator API and the web interface, merged as `app::run` merges them) and the
//! admin listener's, in process with tower's `oneshot`; the provider's through `docflow
//! provider-sim` on a loopback port.
//!
//! - Every documented operation is served, and one marked `x-docflow-status: planned` is
//!   not (once it is, drop the mark).
//! - Every route docflow serves is documented. axum cannot list a router's routes, so the
//!   paths come from the route tables the routers are built from ([`RouteTable`]: each
//!   module's `paths()`), and the methods from asking the router each one.
//! - Every answer matches its description. [`cases`] sends requests that reach each
//!   operation's answers (successes and refusals); each answer's status must be listed for
//!   the operation, its content type listed for that status, and a JSON body valid against
//!   the schema (JSON Schema 2020-12, the `jsonschema` crate, formats checked). Every
//!   served operation needs a successful case, or a reason in [`NO_SUCCESS_HERE`].
//!
//! [`RouteTable`]: crate::gateway::RouteTable

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::support::{self, EVALUATOR_TOKEN, INGEST_TOKEN, Sandbox, TEACHER_TOKEN, TOKEN};
use crate::db::{ArtifactRow, State};
use crate::evaluator::EvaluatorState;
use crate::ids::{DocumentId, Kind};
use crate::stages::StageId;
use crate::storage::Store;

const SPEC_TEXT: &str = include_str!("../../../../docs/openapi.json");
static SPEC: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(SPEC_TEXT).expect("docs/openapi.json is not JSON"));
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
/// The methods asked of every served path (HEAD and OPTIONS come with GET in axum).
const PROBED: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// Operations no case here can answer with success, and where that is tested instead.
const NO_SUCCESS_HERE: [(&str, &str); 7] = [
    ("GET /ui/oidc/sign-in", "needs an OpenID provider: web/oidc/tests.rs signs in through a real one"),
    ("GET /ui/oidc/callback", "needs an OpenID provider: web/oidc/tests.rs signs in through a real one"),
    ("GET /ui/oidc/finish", "needs an OpenID provider: web/oidc/tests.rs signs in through a real one"),
    ("POST /ui/oidc/finish", "needs an OpenID provider: web/oidc/tests.rs signs in through a real one"),
    ("GET /ui/documents/{id}/files/{role}", "streams from S3: web/tests/files.rs runs it against a real store"),
    ("GET /ui/documents/{id}/transcript.vtt", "reads from S3: web/browser.rs plays a video with its captions"),
    ("GET /ui/documents/{id}/text/{which}", "reads from S3: web/lesson/tests.rs serves both texts from a real store"),
];

#[derive(Debug)]
struct Operation {
    method: Method,
    template: String,
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
    let paths = SPEC["paths"].as_object().expect("docs/openapi.json has no paths");
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
                template: template.clone(),
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
            "{role}" => "corrected".to_owned(),
            s if s.starts_with('{') => "x".to_owned(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Tokens of every role: `support`'s three and an operator's.
const TOKENS: &str = "[{token = \"app-token\", role = \"uploads\"}, {token = \"evaluator-token\", role = \"evaluator\"}, \
     {token_sha256 = \"TEACHER\", role = \"uploader\", uploader_id = \"teacher-42\"}, {token = \"ops-token\", role = \"admin\"}]";
const ADMIN_TOKEN: &str = "ops-token";

/// docflow's routers by the `x-docflow-served-by` name the description uses, over one
/// database and the real topology of a prefix of their own.
struct Routers {
    gateway: Router,
    admin: Router,
    sandbox: Sandbox,
    db: crate::db::Db,
    _target: crate::evaluator::tests::Target,
}

impl Routers {
    async fn start() -> Routers {
        let tokens = TOKENS.replace("TEACHER", &crate::settings::tokens::sha256_hex(TEACHER_TOKEN));
        let sandbox = Sandbox::with(&support::nats_url(), &[("DOCFLOW__GATEWAY__TOKENS", &tokens)], false).await;
        crate::topology::apply(&sandbox.js, &sandbox.settings).await.expect("the topology applies");
        let target = crate::evaluator::tests::sqlite().await;
        let settings = sandbox.settings.clone();
        let store = Store::new(&settings.s3).expect("store");
        let evaluator = EvaluatorState::new(settings.clone(), target.db.clone(), store);
        let ops = crate::ops::Ops::new(sandbox.client.clone(), target.db.clone(), &settings);
        let restarts = crate::web::retry::Restarts {
            js: sandbox.js.clone(),
            names: crate::nats::Names::new(&settings.nats.prefix),
        };
        let web = crate::web::WebState::new(evaluator.clone()).with_ops(ops).with_restarts(restarts);
        let gateway = crate::gateway::router(
            sandbox.state().with_routes(crate::evaluator::routes(evaluator)).with_routes(crate::web::routes(web)),
        );
        let admin = crate::admin::router(crate::admin::AdminState::new(sandbox.client.clone(), target.db.clone()));
        let db = target.db.clone();
        Routers { gateway, admin, sandbox, db, _target: target }
    }

    fn by_name(&self, served_by: &str) -> Option<&Router> {
        match served_by {
            "gateway" => Some(&self.gateway),
            "admin" => Some(&self.admin),
            _ => None,
        }
    }

    async fn stop(self) {
        crate::testkit::delete_streams(&self.sandbox.js, &self.sandbox.settings.nats.prefix).await;
    }
}

/// Every path each router serves, from the route tables it is built from.
fn served_paths() -> Vec<(&'static str, &'static str)> {
    let gateway = [crate::gateway::paths(), crate::evaluator::paths(), crate::web::paths()].concat();
    let admin = crate::admin::paths();
    gateway.into_iter().map(|p| ("gateway", p)).chain(admin.into_iter().map(|p| ("admin", p))).collect()
}

/// Whether the router, not a handler, refused the request: the gateway's and the admin
/// listener's fallbacks answer 404 "no such route", and 405.
async fn routed_by_docflow(router: &Router, method: &Method, path: &str) -> bool {
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    if response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream")) {
        return true;
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let error = serde_json::from_slice::<Value>(&body).ok().map(|v| v["error"].clone());
    !(status == StatusCode::METHOD_NOT_ALLOWED
        || status == StatusCode::NOT_FOUND && error == Some(Value::from("no such route")))
}

#[tokio::test]
async fn every_documented_docflow_route_is_served_and_every_planned_one_is_not() {
    let routers = Routers::start().await;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for operation in operations().into_iter().filter(|o| o.served_by != "provider") {
        let router = routers
            .by_name(&operation.served_by)
            .unwrap_or_else(|| panic!("{operation}: x-docflow-served-by names no router docflow has"));
        let routed = routed_by_docflow(router, &operation.method, &operation.path).await;
        if routed == operation.planned {
            wrong.push(format!("{operation}: documented as {}, but routed: {routed}", served_or_planned(&operation)));
        }
        checked += 1;
    }
    routers.stop().await;
    assert!(checked >= 8, "docs/openapi.json documents only {checked} docflow operations");
    assert!(wrong.is_empty(), "docs/openapi.json and the routers disagree:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn every_route_docflow_serves_is_documented() {
    let routers = Routers::start().await;
    let documented: BTreeSet<(String, String, String)> =
        operations().into_iter().map(|o| (o.served_by, o.method.as_str().to_owned(), o.template)).collect();
    let mut missing = Vec::new();
    let mut probed = 0;
    for (served_by, template) in served_paths() {
        let router = routers.by_name(served_by).unwrap();
        for method in &PROBED {
            if !routed_by_docflow(router, method, &fill(template)).await {
                continue;
            }
            probed += 1;
            if !documented.contains(&(served_by.to_owned(), method.as_str().to_owned(), template.to_owned())) {
                missing.push(format!(
                    "{method} {template} is served by the {served_by} router but docs/openapi.json does not document \
                     it: add `paths.\"{template}\".{}` with `x-docflow-served-by: {served_by}`, its parameters and \
                     every answer it gives (status, content type, schema)",
                    method.as_str().to_lowercase()
                ));
            }
        }
    }
    routers.stop().await;
    assert!(probed >= 20, "only {probed} routes found: the route tables are not read");
    assert!(missing.is_empty(), "routes served but not documented:\n{}", missing.join("\n"));
}

#[tokio::test]
async fn an_undocumented_path_is_refused_by_the_router() {
    // Both checks above rely on telling the router's refusals from a handler's answers.
    let routers = Routers::start().await;
    for (method, path) in [(Method::GET, "/v1/nothing-here"), (Method::DELETE, "/v1/uploads"), (Method::PUT, "/ui/")] {
        assert!(!routed_by_docflow(&routers.gateway, &method, path).await, "{method} {path} looks routed");
    }
    assert!(!routed_by_docflow(&routers.admin, &Method::POST, "/metrics").await);
    routers.stop().await;
}

#[cfg(feature = "dev")]
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

// --- the answers against the schemas ---

/// The documented operation for `method path`: among the templates it matches, the one
/// with the fewest parameters (`/v1/documents/counts` before `/v1/documents/{id}`).
fn documented(method: &Method, path: &str) -> Option<(String, &'static Value)> {
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    };
    SPEC["paths"]
        .as_object()?
        .iter()
        .filter(|(template, item)| matches(template) && item.get(method.as_str().to_lowercase()).is_some())
        .min_by_key(|(template, _)| template.matches('{').count())
        .map(|(template, item)| (template.clone(), &item[method.as_str().to_lowercase()]))
}

/// `{"$ref": "#/components/..."}` followed.
fn resolve(value: &'static Value) -> &'static Value {
    match value["$ref"].as_str() {
        Some(pointer) => SPEC.pointer(pointer.trim_start_matches('#')).unwrap_or_else(|| panic!("no {pointer}")),
        None => value,
    }
}

/// Errors of `instance` against `schema`, whose `$ref`s point into the description.
fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": SPEC["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("a schema of docs/openapi.json does not compile: {e}"));
    validator.iter_errors(instance).map(|e| format!("at {:?}: {e}", e.instance_path().to_string())).collect()
}

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// Sends `request`; the body is read unless it is an event stream (which never ends).
async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers.get(header::CONTENT_TYPE).map(|t| t.to_str().unwrap().to_owned());
    let body = if content_type.as_deref().is_some_and(|t| t.starts_with("text/event-stream")) {
        Vec::new()
    } else {
        axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
    };
    Answer { status, content_type, headers, body }
}

/// What is wrong with `answer` as the description of `method path` has it.
fn disagreements(method: &Method, path: &str, answer: &Answer) -> Result<String, String> {
    let path = path.split('?').next().unwrap();
    let (template, operation) =
        documented(method, path).ok_or_else(|| format!("{method} {path} is not in docs/openapi.json"))?;
    let name = format!("{method} {template}");
    let status = answer.status.as_u16().to_string();
    let range = format!("{}XX", &status[..1]);
    let responses = &operation["responses"];
    let response = [status.as_str(), range.as_str(), "default"]
        .iter()
        .find_map(|key| responses.get(*key))
        .map(resolve)
        .ok_or_else(|| {
            format!("{name} answered {status}, which docs/openapi.json does not list: add it under its responses")
        })?;
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        if !answer.body.is_empty() && answer.content_type.is_some() {
            return Err(format!(
                "{name} answered {status} with a {} body; docs/openapi.json lists no content for it",
                answer.content_type.as_deref().unwrap_or("")
            ));
        }
        return Ok(format!("{name} {status}"));
    };
    let media = answer.content_type.as_deref().unwrap_or("").split(';').next().unwrap().trim().to_ascii_lowercase();
    let listed = content.iter().find(|(key, _)| {
        *key == &media || *key == "*/*" || key.strip_suffix("/*").is_some_and(|kind| media.starts_with(kind))
    });
    let Some((_, media_type)) = listed else {
        let keys: Vec<&String> = content.keys().collect();
        return Err(format!("{name} answered {status} as {media:?}; docs/openapi.json lists {keys:?}"));
    };
    if media == "application/json" {
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{name} answered {status} with a body that is not JSON: {e}"))?;
        let errors = schema_errors(&media_type["schema"], &body);
        if !errors.is_empty() {
            return Err(format!("{name} answered {status} against its schema: {}\nbody: {body}", errors.join("; ")));
        }
    }
    Ok(format!("{name} {status}"))
}

fn bearer(builder: axum::http::request::Builder, token: Option<&str>) -> axum::http::request::Builder {
    match token {
        Some(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
        None => builder,
    }
}

fn json_request(method: Method, uri: &str, token: Option<&str>, body: &[u8]) -> Request<Body> {
    bearer(Request::builder().method(method).uri(uri), token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap()
}

fn typed(method: Method, uri: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Request<Body> {
    bearer(Request::builder().method(method).uri(uri), token)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    bearer(Request::get(uri), token).body(Body::empty()).unwrap()
}

fn page(method: Method, uri: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method.clone()).uri(uri);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    if method == Method::GET {
        return builder.body(Body::empty()).unwrap();
    }
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&");
    builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(body)).unwrap()
}

/// `name=value` of the `Set-Cookie` header that sets `name`.
fn cookie(answer: &Answer, name: &str) -> String {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// The hidden `csrf` field of a page's form.
fn csrf_field(answer: &Answer) -> String {
    let body = String::from_utf8_lossy(&answer.body);
    let at = body.find("name=\"csrf\" value=\"").expect("a form with a csrf field") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

/// A signed-in web session: its `Cookie` header and a page's CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

/// Records every answer's check; the requests of [`cases`] go through it.
struct Checker {
    routers: Routers,
    wrong: Vec<String>,
    /// Every `METHOD template` answered, with the statuses seen.
    seen: BTreeMap<String, BTreeSet<u16>>,
}

impl Checker {
    async fn send(&mut self, served_by: &str, request: Request<Body>, expected: StatusCode) -> Answer {
        let (method, path) = (request.method().clone(), request.uri().to_string());
        let router = self.routers.by_name(served_by).unwrap();
        let answer = send(router, request).await;
        if answer.status != expected {
            self.wrong.push(format!(
                "{method} {path}: expected {expected}, answered {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body).chars().take(300).collect::<String>()
            ));
        }
        match disagreements(&method, &path, &answer) {
            Ok(seen) => {
                let (name, status) = seen.rsplit_once(' ').unwrap();
                self.seen.entry(name.to_owned()).or_default().insert(status.parse().unwrap());
            }
            Err(wrong) => self.wrong.push(wrong),
        }
        answer
    }

    async fn gateway(&mut self, request: Request<Body>, expected: StatusCode) -> Answer {
        self.send("gateway", request, expected).await
    }

    async fn sign_in(&mut self, token: &str) -> Session {
        let form = self.gateway(page(Method::GET, "/ui/sign-in", None, &[]), StatusCode::OK).await;
        let csrf_cookie = cookie(&form, "docflow_csrf");
        let csrf = csrf_field(&form);
        let fields = [("token", token), ("csrf", csrf.as_str())];
        let preview = page(Method::POST, "/ui/sign-in/preview", Some(&csrf_cookie), &fields);
        self.gateway(preview, StatusCode::OK).await;
        let wrong = [("token", "wrong"), ("csrf", csrf.as_str())];
        let preview = page(Method::POST, "/ui/sign-in/preview", Some(&csrf_cookie), &wrong);
        self.gateway(preview, StatusCode::UNAUTHORIZED).await;
        let signed =
            self.gateway(page(Method::POST, "/ui/sign-in", Some(&csrf_cookie), &fields), StatusCode::SEE_OTHER).await;
        let cookie = cookie(&signed, "docflow_session");
        let landing = if token == ADMIN_TOKEN { "/ui/pipeline" } else { "/ui/upload" };
        let landing = if token == EVALUATOR_TOKEN { "/ui/" } else { landing };
        let page_with_form = self.gateway(page(Method::GET, landing, Some(&cookie), &[]), StatusCode::OK).await;
        let csrf = if token == ADMIN_TOKEN { String::new() } else { csrf_field(&page_with_form) };
        Session { cookie, csrf }
    }
}

/// A `received` document, a `normalized` lesson plan with its artifacts and record, and a
/// `failed` one (its submission gave up: a retry may submit it again).
async fn seed(db: &crate::db::Db) -> (DocumentId, DocumentId, DocumentId) {
    let received = crate::evaluator::tests::new_document("teacher-42", Kind::Document, "waiting.pdf");
    assert!(db.record_received(&received, StageId::Transfer, 1, None).await.unwrap().1);
    let plan = crate::evaluator::tests::new_document("teacher-42", Kind::Document, "plan.pdf");
    let id = plan.id;
    assert!(db.record_received(&plan, StageId::Transfer, 1, None).await.unwrap().1);
    let submission = id.submission_id("sim").to_string();
    assert!(db.mark_submitted_in_round(id, 0, "sim", &submission, "job_7f3c", "transfer", 1).await.unwrap());
    assert!(db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let artifact = |role: &str, name: &str| ArtifactRow {
        role: role.parse().expect("a result role"),
        name: name.into(),
        key: format!("{id}/{role}/{name}"),
        size: 49102,
        sha256: "ab".repeat(32),
        content_type: "application/pdf".into(),
    };
    let artifacts = [artifact("corrected", "plan.corrected.pdf"), artifact("findings", "findings.json")];
    assert!(db.record_validated(id, State::Processed, "evt-1", &artifacts, "validate", 2).await.unwrap());
    let normalized = json!({"schema_version": 1, "findings": [], "word_count": 1234, "language": "en"});
    assert!(db.store_normalized(id, &normalized, "normalize", 1).await.unwrap());
    let failed = crate::evaluator::tests::new_document("teacher-42", Kind::Document, "stopped.pdf");
    assert!(db.record_received(&failed, StageId::Transfer, 1, None).await.unwrap().1);
    let cause = crate::lifecycle::FailureCause::SubmissionGaveUp;
    assert!(db.mark_failed(failed.id, "transfer", 1, cause, "the provider did not answer").await.unwrap());
    (received.id, id, failed.id)
}

/// Requests that reach the answers of every operation docflow serves.
async fn cases(c: &mut Checker) {
    use StatusCode as S;
    let (received, plan, failed) = seed(&c.routers.db).await;
    let unknown = uuid::Uuid::new_v4();
    let big = vec![b' '; 2 << 20];

    // Callbacks.
    let body = support::callback_body("evt-openapi-1");
    c.gateway(support::signed_callback(&body), S::ACCEPTED).await;
    c.gateway(support::signed_callback(&body), S::OK).await;
    c.gateway(support::callback_request("sim", &body, None), S::UNAUTHORIZED).await;
    c.gateway(support::callback_request("nobody", &body, Some(&support::sign(support::SECRET, &body))), S::NOT_FOUND)
        .await;
    c.gateway(support::signed_callback(b"not json"), S::BAD_REQUEST).await;
    let signature = support::sign(support::SECRET, &body);
    let plain = Request::post("/v1/callbacks/sim")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(crate::provider::signature::HEADER, signature)
        .body(Body::from(body.clone()))
        .unwrap();
    c.gateway(plain, S::UNSUPPORTED_MEDIA_TYPE).await;
    c.gateway(support::signed_callback(&big), S::PAYLOAD_TOO_LARGE).await;

    // S3 notifications.
    let notification = support::fixture("put-document.json");
    c.gateway(json_request(Method::POST, "/v1/ingest/s3", Some(INGEST_TOKEN), &notification), S::OK).await;
    c.gateway(json_request(Method::POST, "/v1/ingest/s3", None, &notification), S::UNAUTHORIZED).await;
    c.gateway(json_request(Method::POST, "/v1/ingest/s3", Some(INGEST_TOKEN), b"{}"), S::BAD_REQUEST).await;
    c.gateway(json_request(Method::POST, "/v1/ingest/s3", Some(INGEST_TOKEN), &big), S::PAYLOAD_TOO_LARGE).await;

    // Presigned uploads.
    let upload = serde_json::to_vec(&json!({"uploader_id": "teacher-42", "file_name": "plan week 3.docx",
        "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "size": 48213}))
    .unwrap();
    c.gateway(json_request(Method::POST, "/v1/uploads", Some(TOKEN), &upload), S::OK).await;
    c.gateway(json_request(Method::POST, "/v1/uploads", Some(TEACHER_TOKEN), &upload), S::OK).await;
    c.gateway(json_request(Method::POST, "/v1/uploads", None, &upload), S::UNAUTHORIZED).await;
    c.gateway(json_request(Method::POST, "/v1/uploads", Some(EVALUATOR_TOKEN), &upload), S::FORBIDDEN).await;
    let bad = br#"{"uploader_id": "teacher-42", "file_name": "../x.docx", "content_type": "text/plain", "size": 3}"#;
    c.gateway(json_request(Method::POST, "/v1/uploads", Some(TOKEN), bad), S::BAD_REQUEST).await;
    c.gateway(typed(Method::POST, "/v1/uploads", Some(TOKEN), "text/plain", &upload), S::UNSUPPORTED_MEDIA_TYPE).await;
    c.gateway(json_request(Method::POST, "/v1/uploads", Some(TOKEN), &big), S::PAYLOAD_TOO_LARGE).await;

    // The evaluator API.
    for uri in ["/v1/documents", "/v1/documents?tab=to_review&sort=name", "/v1/documents/counts", "/v1/uploaders"] {
        c.gateway(get(uri, Some(EVALUATOR_TOKEN)), S::OK).await;
        c.gateway(get(uri, None), S::UNAUTHORIZED).await;
        c.gateway(get(uri, Some(TEACHER_TOKEN)), S::FORBIDDEN).await;
    }
    c.gateway(get("/v1/documents?cursor=nonsense", Some(EVALUATOR_TOKEN)), S::BAD_REQUEST).await;
    c.gateway(get("/v1/documents/counts?kind=poster", Some(EVALUATOR_TOKEN)), S::BAD_REQUEST).await;
    c.gateway(get("/v1/uploaders?limit=0", Some(EVALUATOR_TOKEN)), S::BAD_REQUEST).await;
    for id in [plan, received] {
        c.gateway(get(&format!("/v1/documents/{id}"), Some(EVALUATOR_TOKEN)), S::OK).await;
    }
    c.gateway(get(&format!("/v1/documents/{plan}"), None), S::UNAUTHORIZED).await;
    c.gateway(get(&format!("/v1/documents/{plan}"), Some(TEACHER_TOKEN)), S::FORBIDDEN).await;
    c.gateway(get(&format!("/v1/documents/{unknown}"), Some(EVALUATOR_TOKEN)), S::NOT_FOUND).await;
    c.gateway(get("/v1/documents/not-an-id", Some(EVALUATOR_TOKEN)), S::BAD_REQUEST).await;
    let reviews = format!("/v1/documents/{plan}/reviews");
    let review = br#"{"comment": "Clear aims.", "verdict": "reviewed"}"#;
    c.gateway(json_request(Method::POST, &reviews, Some(EVALUATOR_TOKEN), review), S::CREATED).await;
    c.gateway(json_request(Method::POST, &reviews, None, review), S::UNAUTHORIZED).await;
    c.gateway(json_request(Method::POST, &reviews, Some(TEACHER_TOKEN), review), S::FORBIDDEN).await;
    let waiting = format!("/v1/documents/{received}/reviews");
    c.gateway(json_request(Method::POST, &waiting, Some(EVALUATOR_TOKEN), review), S::CONFLICT).await;
    let nowhere = format!("/v1/documents/{unknown}/reviews");
    c.gateway(json_request(Method::POST, &nowhere, Some(EVALUATOR_TOKEN), review), S::NOT_FOUND).await;
    let great = br#"{"comment": "x", "verdict": "great"}"#;
    c.gateway(json_request(Method::POST, &reviews, Some(EVALUATOR_TOKEN), great), S::BAD_REQUEST).await;
    c.gateway(typed(Method::POST, &reviews, Some(EVALUATOR_TOKEN), "text/plain", review), S::UNSUPPORTED_MEDIA_TYPE)
        .await;
    c.gateway(json_request(Method::POST, &reviews, Some(EVALUATOR_TOKEN), &big), S::PAYLOAD_TOO_LARGE).await;
    c.gateway(get(&format!("/v1/documents/{plan}"), Some(EVALUATOR_TOKEN)), S::OK).await;

    // The operator routes.
    for uri in ["/healthz", "/readyz", "/metrics"] {
        c.send("admin", get(uri, None), S::OK).await;
    }

    // The web interface: without a session, then as each role.
    c.gateway(page(Method::GET, "/ui", None, &[]), S::PERMANENT_REDIRECT).await;
    for uri in ["/ui/", "/ui/documents.csv", "/ui/upload", "/ui/pipeline", &format!("/ui/documents/{plan}")] {
        c.gateway(page(Method::GET, uri, None, &[]), S::SEE_OTHER).await;
    }
    c.gateway(page(Method::GET, "/ui/style.css", None, &[]), S::OK).await;
    c.gateway(page(Method::GET, "/ui/app.js", None, &[]), S::OK).await;
    c.gateway(page(Method::GET, "/ui/favicon.svg", None, &[]), S::OK).await;
    c.gateway(page(Method::GET, "/favicon.ico", None, &[]), S::OK).await;
    c.gateway(page(Method::GET, "/", None, &[]), S::SEE_OTHER).await;
    c.gateway(page(Method::GET, &format!("/ui/documents/{plan}/text/original"), None, &[]), S::SEE_OTHER).await;
    c.gateway(page(Method::GET, "/ui/sign-in?next=%2Fui%2Fupload", None, &[]), S::OK).await;
    c.gateway(page(Method::POST, "/ui/sign-in", None, &[("token", "wrong"), ("csrf", "x")]), S::FORBIDDEN).await;
    c.gateway(page(Method::POST, "/ui/sign-in/preview", None, &[("token", "wrong")]), S::FORBIDDEN).await;
    c.gateway(page(Method::GET, "/ui/oidc/sign-in", None, &[]), S::NOT_FOUND).await;
    c.gateway(page(Method::GET, "/ui/oidc/callback?code=x&state=y", None, &[]), S::NOT_FOUND).await;
    c.gateway(page(Method::GET, "/ui/oidc/finish", None, &[]), S::BAD_REQUEST).await;
    c.gateway(page(Method::POST, "/ui/oidc/finish", None, &[]), S::FORBIDDEN).await;

    let evaluator = c.sign_in(EVALUATOR_TOKEN).await;
    let with = Some(evaluator.cookie.as_str());
    for uri in
        ["/ui/?tab=all&sort=name", "/ui/documents.csv", "/ui/uploaders?prefix=teach", &format!("/ui/documents/{plan}")]
    {
        c.gateway(page(Method::GET, uri, with, &[]), S::OK).await;
    }
    c.gateway(page(Method::GET, "/ui/events", with, &[]), S::OK).await;
    c.gateway(page(Method::GET, &format!("/ui/documents/{unknown}"), with, &[]), S::NOT_FOUND).await;
    c.gateway(page(Method::GET, &format!("/ui/documents/{plan}/transcript.vtt"), with, &[]), S::NOT_FOUND).await;
    c.gateway(page(Method::GET, &format!("/ui/documents/{plan}/files/corrected"), None, &[]), S::SEE_OTHER).await;
    c.gateway(page(Method::GET, "/ui/pipeline", with, &[]), S::FORBIDDEN).await;
    let comment = [("comment", "Good pacing."), ("verdict", "reviewed"), ("csrf", evaluator.csrf.as_str())];
    c.gateway(page(Method::POST, &format!("/ui/documents/{plan}/reviews"), with, &comment), S::SEE_OTHER).await;
    let retry = [("csrf", evaluator.csrf.as_str())];
    c.gateway(page(Method::POST, &format!("/ui/documents/{plan}/retry"), with, &retry), S::CONFLICT).await;
    c.gateway(page(Method::POST, &format!("/ui/documents/{failed}/retry"), with, &retry), S::SEE_OTHER).await;
    c.gateway(page(Method::POST, &format!("/ui/documents/{plan}/retry"), with, &[]), S::FORBIDDEN).await;
    c.gateway(page(Method::POST, "/ui/sign-out", with, &[("csrf", evaluator.csrf.as_str())]), S::SEE_OTHER).await;

    let teacher = c.sign_in(TEACHER_TOKEN).await;
    let with = Some(teacher.cookie.as_str());
    let form = [
        ("file_name", "plan week 4.docx"),
        ("content_type", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("size", "48213"),
        ("csrf", teacher.csrf.as_str()),
    ];
    c.gateway(page(Method::POST, "/ui/upload", with, &form), S::OK).await;
    c.gateway(page(Method::GET, "/ui/documents.csv", with, &[]), S::OK).await;

    // An uploading app's session reads no document.
    let app = c.sign_in(TOKEN).await;
    c.gateway(page(Method::GET, "/ui/documents.csv", Some(&app.cookie), &[]), S::FORBIDDEN).await;

    let admin = c.sign_in(ADMIN_TOKEN).await;
    c.gateway(page(Method::GET, "/ui/", Some(&admin.cookie), &[]), S::SEE_OTHER).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_described_by_docs_openapi_json() {
    let mut checker = Checker { routers: Routers::start().await, wrong: Vec::new(), seen: BTreeMap::new() };
    cases(&mut checker).await;
    let Checker { routers, mut wrong, seen } = checker;
    routers.stop().await;
    let excused: HashMap<&str, &str> = NO_SUCCESS_HERE.into_iter().collect();
    for operation in operations().into_iter().filter(|o| o.served_by != "provider" && !o.planned) {
        let name = format!("{} {}", operation.method, operation.template);
        let succeeded = seen.get(&name).is_some_and(|statuses| statuses.iter().any(|s| *s < 400));
        if !succeeded && !excused.contains_key(name.as_str()) {
            wrong.push(format!(
                "{name}: no case answers it with success (2XX or 3XX): add one to `cases` in {}",
                file!()
            ));
        }
    }
    for (name, statuses) in &seen {
        eprintln!("{name}: {statuses:?}");
    }
    assert!(wrong.is_empty(), "docs/openapi.json and the answers disagree:\n{}", wrong.join("\n"));
}

#[test]
fn a_wrong_answer_is_told_apart_from_a_right_one() {
    // The checker itself: a body missing a required field, a status not listed, a
    // content type not listed.
    let answer = |status: u16, content_type: &str, body: &str| Answer {
        status: StatusCode::from_u16(status).unwrap(),
        content_type: Some(content_type.to_owned()),
        headers: Default::default(),
        body: body.as_bytes().to_vec(),
    };
    let counts = r#"{"all": 1, "to_review": 0, "in_progress": 1, "needs_attention": 0, "reviewed": 0}"#;
    assert!(disagreements(&Method::GET, "/v1/documents/counts", &answer(200, "application/json", counts)).is_ok());
    let partial = r#"{"all": 1}"#;
    let wrong = disagreements(&Method::GET, "/v1/documents/counts", &answer(200, "application/json", partial));
    assert!(wrong.as_ref().is_err_and(|e| e.contains("to_review")), "{wrong:?}");
    let wrong = disagreements(&Method::GET, "/v1/documents/counts", &answer(418, "application/json", counts));
    assert!(wrong.as_ref().is_err_and(|e| e.contains("does not list")), "{wrong:?}");
    let wrong = disagreements(&Method::GET, "/v1/documents/counts", &answer(200, "text/html", "<p>"));
    assert!(wrong.as_ref().is_err_and(|e| e.contains("text/html")), "{wrong:?}");
    let wrong = disagreements(&Method::GET, "/v1/nothing", &answer(200, "application/json", "{}"));
    assert!(wrong.is_err());
}
