//! NATS for tests: the shared server (a prefix per test keeps tests apart), and
//! nats-servers of a test's own, started by [`crate::dev::nats_server`] on a port they
//! pick, which a test may kill and start again on the same port and store.

use std::path::PathBuf;
use std::time::Duration;

use crate::dev::nats_server::{NatsServer, NatsServerOptions};
use crate::nats::Names;

pub const SHARED_NATS: &str = "nats://127.0.0.1:4222";

/// 127.0.0.1:4222, or `DOCFLOW_TEST_NATS_URL` (to run the tests against another version).
pub fn nats_url() -> String {
    std::env::var("DOCFLOW_TEST_NATS_URL").unwrap_or_else(|_| SHARED_NATS.to_owned())
}

/// The nats-server tests start: `NATS_SERVER_BIN`, else Debian's /usr/sbin/nats-server,
/// else `nats-server` (`DOCFLOW_NATS_SERVER` or the PATH, as `docflow dev`).
pub fn nats_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return path.into();
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    if debian.exists() { debian } else { crate::dev::nats_server::default_binary() }
}

pub async fn connect(url: &str) -> (async_nats::Client, async_nats::jetstream::Context) {
    let client = async_nats::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to NATS at {url}: {e}; is nats-server -js running?"));
    let js = async_nats::jetstream::new(client.clone());
    (client, js)
}

/// Deletes the streams of `prefix`.
pub async fn delete_streams(js: &async_nats::jetstream::Context, prefix: &str) {
    let names = Names::new(prefix);
    for short in ["uploads", "callbacks", "normalize", "watch", "dead", "notify"] {
        let _ = js.delete_stream(names.stream(short)).await;
    }
}

/// A nats-server of the test's own, its store in a temporary directory; killed on drop.
pub struct OwnServer {
    pub server: NatsServer,
    pub url: String,
    pub port: u16,
    /// The version the server reports.
    pub version: String,
    _dir: tempfile::TempDir,
}

impl OwnServer {
    /// With JetStream.
    pub async fn start() -> OwnServer {
        OwnServer::start_with(|_| ()).await
    }

    /// Without JetStream: clients connect, no stream answers.
    pub async fn core_only() -> OwnServer {
        OwnServer::start_with(|options| options.jetstream = false).await
    }

    /// With options as `adjust` leaves them (a name, cluster flags, a configuration).
    pub async fn start_with(adjust: impl FnOnce(&mut NatsServerOptions)) -> OwnServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut options = NatsServerOptions::new(nats_server_binary(), dir.path().join("nats"));
        adjust(&mut options);
        let server = NatsServer::launch(options).await.unwrap_or_else(|e| panic!("{e}"));
        let (url, port) = (server.url().to_owned(), server.port());
        let mut own = OwnServer { server, url, port, version: String::new(), _dir: dir };
        own.version = own.server_version().await;
        own
    }

    async fn server_version(&self) -> String {
        let client = super::wait_for("own nats-server to accept connections", Duration::from_secs(10), || async {
            async_nats::connect(&self.url).await.ok()
        })
        .await;
        client.server_info().version
    }

    /// SIGKILL, as a crash; the store stays for [`OwnServer::restart`].
    pub async fn kill(&mut self) {
        self.server.kill().await;
    }

    /// Kills the server when it runs and starts it again on the same port and store.
    pub async fn restart(&mut self) {
        self.server.restart().await.unwrap_or_else(|e| panic!("{e}"));
    }
}
