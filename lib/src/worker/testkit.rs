//! Test helpers for the topology and the worker runtime: every test gets its own prefix
//! (so its own streams) on the NATS at 127.0.0.1:4222, or its own nats-server.

use std::collections::HashMap;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::nats::Names;
use crate::settings::Settings;

pub const SHARED_NATS: &str = "nats://127.0.0.1:4222";

/// 127.0.0.1:4222, or `DOCFLOW_TEST_NATS_URL` (to run the tests against another version).
pub fn nats_url() -> String {
    std::env::var("DOCFLOW_TEST_NATS_URL").unwrap_or_else(|_| SHARED_NATS.to_owned())
}

pub fn random_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Settings with one provider, the given prefix and NATS url, and `extra` environment.
pub fn settings(url: &str, prefix: &str, extra: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = [
        ("DOCFLOW__PROVIDERS__SIM__BASE_URL", "http://127.0.0.1:9100"),
        ("DOCFLOW__PROVIDERS__SIM__API_KEY", "k"),
        ("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET", "s"),
        ("DOCFLOW__NATS__URL", url),
        ("DOCFLOW__NATS__PREFIX", prefix),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load(None, Some(env)).expect("test settings")
}

pub async fn connect(url: &str) -> (async_nats::Client, async_nats::jetstream::Context) {
    let client = async_nats::connect(url).await.expect("nats at 127.0.0.1:4222 (nats-server -js)");
    let js = async_nats::jetstream::new(client.clone());
    (client, js)
}

/// Deletes the streams of `prefix`.
pub async fn delete_streams(js: &async_nats::jetstream::Context, prefix: &str) {
    let names = Names::new(prefix);
    for short in ["uploads", "callbacks", "normalize", "watch", "dead"] {
        let _ = js.delete_stream(names.stream(short)).await;
    }
}

/// Polls `check` until it returns `Some` or `deadline` passes.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    loop {
        tick.tick().await;
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < end, "timed out after {deadline:?} waiting for {what}");
    }
}

/// A nats-server of its own (`NATS_SERVER_BIN` or `nats-server` on PATH), killed on drop.
pub struct OwnServer {
    child: Child,
    port: u16,
    pub url: String,
    pub version: String,
    dir: tempfile::TempDir,
}

impl OwnServer {
    pub async fn start() -> OwnServer {
        let port = crate::dev::ports::unused_local_port().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let child = Self::spawn(port, dir.path());
        let url = format!("nats://127.0.0.1:{port}");
        let mut server = OwnServer { child, port, url, version: String::new(), dir };
        server.wait_ready().await;
        server
    }

    /// Kills the server and starts it again on the same port and store.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, self.dir.path());
        self.wait_ready().await;
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Child {
        let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        Command::new(&bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}; set NATS_SERVER_BIN"))
    }

    async fn wait_ready(&mut self) {
        let url = self.url.clone();
        let client = wait_for("own nats-server to accept connections", Duration::from_secs(10), || {
            let url = url.clone();
            async move { async_nats::connect(&url).await.ok() }
        })
        .await;
        self.version = client.server_info().version;
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
