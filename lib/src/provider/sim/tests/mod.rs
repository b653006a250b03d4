//! The simulator driven in-process by docflow's own `ProviderClient`, with a tiny callback
//! receiver and source server. Every wait is on a condition with a deadline.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use clap::Parser;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{SimOptions, run};
use crate::ids::{JobId, Kind};
use crate::provider::client::{ProviderClient, SubmitBody, SubmitError};
use crate::provider::protocol::{Callback, CallbackStatus, Findings, JobMetadata, JobState, Role, Summary};
use crate::provider::signature;
use crate::settings::ProviderSettings;

const DEADLINE: Duration = Duration::from_secs(10);
const REFERENCE: &str = "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b";

/// Polls `check` until it gives a value, or fails the test after [`DEADLINE`].
async fn wait_for<T, Fut: Future<Output = Option<T>>>(what: &str, check: impl FnMut() -> Fut) -> T {
    crate::testkit::wait_for(what, DEADLINE, check).await
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

fn provider_client(base_url: &str, api_key: &str, idle_timeout: &str) -> ProviderClient {
    // Through serde, so fields added to the settings later take their defaults.
    let settings: ProviderSettings = serde_json::from_value(serde_json::json!({
        "base_url": base_url,
        "api_key": api_key,
        "callback_secret": "sim-callback-secret",
        "idle_timeout": idle_timeout,
    }))
    .unwrap();
    ProviderClient::new("sim", &settings).unwrap()
}

struct RunningSim {
    base_url: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _data: tempfile::TempDir,
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl RunningSim {
    async fn start(opts: SimOptions) -> RunningSim {
        let data = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let opts = SimOptions { data_dir: Some(data.path().to_owned()), ..opts };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(opts, listener, shutdown.clone()));
        RunningSim { base_url, shutdown, task: Some(task), _data: data }
    }

    fn client(&self) -> ProviderClient {
        self.client_with_key("sim-api-key")
    }

    fn client_with_key(&self, api_key: &str) -> ProviderClient {
        provider_client(&self.base_url, api_key, "10s")
    }

    async fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::get(format!("{}{path}", self.base_url)).await.unwrap().json().await.unwrap()
    }

    async fn jobs(&self) -> Vec<serde_json::Value> {
        serde_json::from_value(self.get_json("/v1/_sim/jobs").await).unwrap()
    }

    async fn job(&self, job_id: &JobId) -> serde_json::Value {
        self.jobs().await.into_iter().find(|j| j["job_id"] == job_id.as_str()).expect("the job is listed")
    }
}

/// Receives callbacks; answers each with the next status of `answers`, then 202.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Bytes)>>>,
    answers: Arc<Mutex<Vec<StatusCode>>>,
}

impl Receiver {
    async fn start(answers: Vec<StatusCode>) -> (Receiver, String) {
        let receiver = Receiver { answers: Arc::new(Mutex::new(answers)), ..Receiver::default() };
        let state = receiver.clone();
        let router = Router::new().route(
            "/v1/callbacks/sim",
            post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let signature =
                        headers.get(signature::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let mut answers = state.answers.lock().unwrap();
                    if !answers.is_empty() {
                        return answers.remove(0);
                    }
                    state.got.lock().unwrap().push((signature, body));
                    StatusCode::ACCEPTED
                }
            }),
        );
        let address = serve(router).await;
        (receiver, format!("http://{address}/v1/callbacks/sim"))
    }

    fn received(&self) -> Vec<(String, Bytes)> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for_callbacks(&self, count: usize) -> Vec<(String, Bytes)> {
        wait_for(&format!("{count} callbacks"), || async {
            let got = self.received();
            (got.len() >= count).then_some(got)
        })
        .await
    }
}

fn meta(kind: Kind, file_name: &str, content_type: &str, size: usize, callback_url: &str) -> JobMetadata {
    JobMetadata {
        reference: REFERENCE.into(),
        kind,
        file_name: file_name.into(),
        content_type: content_type.into(),
        size: size as u64,
        callback_url: callback_url.into(),
        source_url: None,
    }
}

/// The bytes as a stream of small chunks, as a bucket would hand them out.
fn upload(bytes: &[u8]) -> SubmitBody {
    let chunks: Vec<std::io::Result<Bytes>> = bytes.chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    SubmitBody::Upload { stream: Box::pin(futures_util::stream::iter(chunks)), size: bytes.len() as u64 }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

const PLAN: &[u8] = b"Week 3: teh water cycle.\nPupils recieve a worksheet  and draw clouds.\n";

/// Verifies, parses and returns the callback at `index`.
fn checked_callback(received: &[(String, Bytes)], index: usize) -> Callback {
    let (header, body) = &received[index];
    let now = chrono::Utc::now().timestamp();
    signature::verify(header, body, &[b"sim-callback-secret"], now, signature::TOLERANCE).expect("a valid signature");
    assert!(signature::verify(header, body, &[b"another-secret"], now, signature::TOLERANCE).is_err());
    serde_json::from_slice(body).unwrap()
}

async fn download(url: &str) -> Bytes {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap()
}

mod jobs;
mod submissions;
