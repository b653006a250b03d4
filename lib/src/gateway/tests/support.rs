//! A sandbox per test: its own prefix, streams and settings. Servers of a test's own,
//! waits and settings come from the crate's test kit ([`crate::testkit`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use axum::body::Body;
use axum::http::{Request, Response, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::gateway::{self, GatewayState};
use crate::provider::signature;
use crate::settings::{Secrets, Settings};
use crate::storage::Store;

pub const PROVIDER: &str = "sim";
pub const SECRET: &str = "current-secret";
pub const OLD_SECRET: &str = "previous-secret";
/// Role `uploads`: an uploading app.
pub const TOKEN: &str = "app-token";
/// Role `evaluator`.
pub const EVALUATOR_TOKEN: &str = "evaluator-token";
/// Role `uploader` for `teacher-42`, configured by its SHA-256 only.
pub const TEACHER_TOKEN: &str = "teacher-42-token";
pub const INGEST_TOKEN: &str = "ingest-token";

pub use crate::testkit::nats::{OwnServer, nats_url};
pub use crate::testkit::wait_for;

/// Settings for one test: a random prefix, provider `sim` with two secrets (rotation).
pub fn settings(nats_url: &str, extra: &[(&str, &str)]) -> Settings {
    let prefix = format!("gwt-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let tokens = format!(
        "[{{token = \"{TOKEN}\", role = \"uploads\"}}, {{token = \"{EVALUATOR_TOKEN}\", role = \"evaluator\"}}, \
         {{token_sha256 = \"{}\", role = \"uploader\", uploader_id = \"teacher-42\"}}]",
        crate::settings::tokens::sha256_hex(TEACHER_TOKEN)
    );
    let mut settings = crate::testkit::TestSettings::new()
        .nats(nats_url, &prefix)
        .with(&[
            ("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET", SECRET),
            ("DOCFLOW__GATEWAY__TOKENS", tokens.as_str()),
            ("DOCFLOW__INGEST__TOKEN", INGEST_TOKEN),
            ("DOCFLOW__SHUTDOWN__GRACE", "2s"),
        ])
        .with(extra)
        .load();
    settings.providers.get_mut(PROVIDER).unwrap().callback_secret =
        Secrets::Many(vec![SECRET.to_owned().into(), OLD_SECRET.to_owned().into()]);
    settings
}

/// One test's gateway state plus its streams, deleted on drop.
pub struct Sandbox {
    pub settings: Arc<Settings>,
    pub js: jetstream::Context,
    pub client: async_nats::Client,
    streams: Vec<String>,
}

impl Sandbox {
    /// Callbacks and uploads streams, on the shared NATS server.
    pub async fn new() -> Sandbox {
        Sandbox::with(&nats_url(), &[], true).await
    }

    pub async fn with(nats_url: &str, extra: &[(&str, &str)], streams: bool) -> Sandbox {
        let settings = Arc::new(settings(nats_url, extra));
        let client = connect(nats_url).await;
        let js = jetstream::new(client.clone());
        let mut sandbox = Sandbox { settings, js, client, streams: Vec::new() };
        if streams {
            sandbox.create_streams().await;
        }
        sandbox
    }

    pub fn prefix(&self) -> &str {
        &self.settings.nats.prefix
    }

    pub async fn create_streams(&mut self) {
        let names = crate::nats::Names::new(self.prefix());
        for (short, window) in [("callbacks", Duration::from_secs(24 * 3600)), ("uploads", Duration::from_secs(120))] {
            let name = names.stream(short);
            self.js
                .get_or_create_stream(stream::Config {
                    name: name.clone(),
                    subjects: vec![names.subject(&format!("{short}.>"))],
                    retention: stream::RetentionPolicy::WorkQueue,
                    duplicate_window: window,
                    max_age: Duration::from_secs(25 * 3600),
                    ..Default::default()
                })
                .await
                .expect("create test stream");
            self.streams.push(name);
        }
    }

    pub fn state(&self) -> GatewayState {
        let store = Store::new(&self.settings.s3).expect("store");
        let mut state = GatewayState::new(self.settings.clone(), self.js.clone(), store);
        state.publish_timeout = Duration::from_secs(3);
        state
    }

    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        gateway::router(self.state()).oneshot(request).await.expect("router is infallible")
    }

    /// Messages in the stream `short` (`callbacks`, `uploads`).
    pub async fn count(&self, short: &str) -> u64 {
        let name = crate::nats::Names::new(self.prefix()).stream(short);
        let mut stream = self.js.get_stream(&name).await.expect("stream exists");
        stream.info().await.expect("stream info").state.messages
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.streams.is_empty() {
            return;
        }
        // Runs on a runtime of its own: drop cannot await, and a panicking test still
        // cleans up.
        let streams = std::mem::take(&mut self.streams);
        let url = self.settings.nats.url.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let client = tokio::time::timeout(Duration::from_secs(2), async_nats::connect(url)).await.ok()?.ok()?;
                let js = jetstream::new(client);
                for name in streams {
                    let _ = tokio::time::timeout(Duration::from_secs(2), js.delete_stream(&name)).await;
                }
                Some(())
            })
        })
        .join();
    }
}

/// A client that reconnects quickly, so outage tests wait little.
pub async fn connect(url: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .reconnect_delay_callback(|attempt| Duration::from_millis((50 * attempt as u64).min(250)))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to NATS at {url}: {e}; is nats-server -js running?"))
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A valid completed callback for `event_id`.
pub fn callback_body(event_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event_id": event_id,
        "job_id": "job_7f3c",
        "reference": "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b",
        "status": "completed",
        "completed_at": "2026-11-24T10:15:00Z",
        "results": [
            {"role": "corrected", "name": "lesson plan week 3.corrected.docx",
             "url": "https://files.provider.example/r/abc", "sha256": "ab".repeat(32),
             "size": 49102, "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
            {"role": "findings", "name": "findings.json", "url": "https://files.provider.example/r/abd",
             "sha256": "cd".repeat(32), "size": 2210, "content_type": "application/json"}
        ]
    }))
    .unwrap()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    signature::sign(secret.as_bytes(), now(), body)
}

/// `POST /v1/callbacks/{provider}` with JSON content type and the given signature header.
pub fn callback_request(provider: &str, body: &[u8], signature: Option<&str>) -> Request<Body> {
    let mut builder =
        Request::post(format!("/v1/callbacks/{provider}")).header(header::CONTENT_TYPE, "application/json");
    if let Some(signature) = signature {
        builder = builder.header(signature::HEADER, signature);
    }
    builder.body(Body::from(body.to_vec())).unwrap()
}

/// A correctly signed callback for the `sim` provider.
pub fn signed_callback(body: &[u8]) -> Request<Body> {
    callback_request(PROVIDER, body, Some(&sign(SECRET, body)))
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub async fn bytes_of(response: Response<Body>) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
}

pub async fn text_of(response: Response<Body>) -> String {
    String::from_utf8(bytes_of(response).await).unwrap()
}

pub async fn json_of(response: Response<Body>) -> Value {
    let bytes = bytes_of(response).await;
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/minio").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}
