//! A `nats-server` child process for `docflow dev` when no server answers: JetStream on,
//! loopback only, a free port, its store in the data directory (so streams survive a
//! restart of `docflow dev`). Stopped on [`NatsServer::stop`], killed when dropped. A
//! restart takes the port of the previous start again when it is free (kept in
//! `STORE_DIR/port`), so the URL in the written settings stays the same.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long the server gets to accept connections, and to stop on request.
const START_DEADLINE: Duration = Duration::from_secs(15);
const STOP_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    #[error(
        "cannot start {binary}: {cause}; install nats-server (apt-get install nats-server), set DOCFLOW_NATS_SERVER to its path, or use a running server with `docflow dev --nats-url URL`"
    )]
    Spawn { binary: String, cause: std::io::Error },
    #[error("cannot prepare {path}: {cause}")]
    Dir { path: String, cause: std::io::Error },
    #[error("{binary} exited ({status}) before accepting connections; see {log}")]
    Exited { binary: String, status: std::process::ExitStatus, log: String },
    #[error("{binary} did not accept connections on {url} within {deadline:?}; see {log}")]
    NotReady { binary: String, url: String, deadline: Duration, log: String },
}

/// The binary to run: `DOCFLOW_NATS_SERVER`, else `nats-server` on the PATH.
pub fn default_binary() -> PathBuf {
    std::env::var_os("DOCFLOW_NATS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("nats-server"))
}

/// True when a NATS server answers at `url` within a second.
pub async fn answers(url: &str) -> bool {
    let connect = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(1)).connect(url);
    matches!(tokio::time::timeout(Duration::from_secs(2), connect).await, Ok(Ok(_)))
}

/// A running `nats-server`.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    binary: PathBuf,
    url: String,
    port: u16,
    log: PathBuf,
}

impl NatsServer {
    /// Starts `binary -js -a 127.0.0.1 -p PORT -sd STORE_DIR` on the port of its previous
    /// start when that is free, else on a free port, its output
    /// in `STORE_DIR/nats-server.log`, and waits until it accepts connections.
    pub async fn start(binary: &Path, store_dir: &Path) -> Result<NatsServer, NatsServerError> {
        let dir_error = |cause| NatsServerError::Dir { path: store_dir.display().to_string(), cause };
        std::fs::create_dir_all(store_dir).map_err(dir_error)?;
        // The port of the previous start when it is free again: a restart keeps its URL.
        let port_file = store_dir.join("port");
        let previous = std::fs::read_to_string(&port_file).ok().and_then(|text| text.trim().parse::<u16>().ok());
        let port = match previous.filter(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok()) {
            Some(port) => port,
            None => super::ports::unused_local_port().map_err(dir_error)?,
        };
        std::fs::write(&port_file, port.to_string()).map_err(dir_error)?;
        let args = vec!["-js".into(), "-a".into(), "127.0.0.1".into(), "-p".into(), port.to_string(), "-sd".into()];
        Self::spawn(binary, store_dir, port, args, true).await
    }

    /// Starts `binary` with a configuration file of `config` (nats-server syntax:
    /// `authorization { ... }`, `tls { ... }`) after the address, `port` (a free one when
    /// `None`) and JetStream in `store_dir`. The URL has no credentials: the client brings
    /// its own. For servers that require authentication or TLS (tests, `docflow dev`
    /// against a copy of production's NATS setup).
    pub async fn start_configured(
        binary: &Path,
        store_dir: &Path,
        port: Option<u16>,
        config: &str,
    ) -> Result<NatsServer, NatsServerError> {
        let dir_error = |cause| NatsServerError::Dir { path: store_dir.display().to_string(), cause };
        std::fs::create_dir_all(store_dir).map_err(dir_error)?;
        let port = match port {
            Some(port) => port,
            None => super::ports::unused_local_port().map_err(dir_error)?,
        };
        let file = store_dir.join("nats-server.conf");
        let text = format!(
            "listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: {} }}\n{config}\n",
            serde_json::to_string(&store_dir.display().to_string()).expect("a string serializes")
        );
        std::fs::write(&file, text).map_err(dir_error)?;
        Self::spawn(binary, store_dir, port, vec!["-c".into(), file.display().to_string()], false).await
    }

    async fn spawn(
        binary: &Path,
        store_dir: &Path,
        port: u16,
        args: Vec<String>,
        store_arg: bool,
    ) -> Result<NatsServer, NatsServerError> {
        let dir_error = |cause| NatsServerError::Dir { path: store_dir.display().to_string(), cause };
        std::fs::create_dir_all(store_dir).map_err(dir_error)?;
        let log = store_dir.join("nats-server.log");
        let output = std::fs::File::options().create(true).append(true).open(&log).map_err(dir_error)?;
        let mut command = Command::new(binary);
        command.args(&args);
        if store_arg {
            command.arg(store_dir);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(dir_error)?)
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .map_err(|cause| NatsServerError::Spawn { binary: binary.display().to_string(), cause })?;
        let mut server =
            NatsServer { child, binary: binary.to_owned(), url: format!("nats://127.0.0.1:{port}"), port, log };
        server.wait_ready().await?;
        tracing::info!(url = %server.url, store = %store_dir.display(), "nats-server started");
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the server to stop (as on Ctrl-C: it flushes its store) and waits for it;
    /// kills it when it has not stopped in time.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let asked = Command::new(&self.binary)
                .args(["--signal", &format!("quit={pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            if asked.is_ok_and(|s| s.success()) && tokio::time::timeout(STOP_DEADLINE, self.child.wait()).await.is_ok()
            {
                tracing::info!("nats-server stopped");
                return;
            }
        }
        tracing::warn!("nats-server did not stop when asked; killed");
        let _ = self.child.kill().await;
    }

    async fn wait_ready(&mut self) -> Result<(), NatsServerError> {
        let end = Instant::now() + START_DEADLINE;
        let binary = self.binary.display().to_string();
        let log = self.log.display().to_string();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(NatsServerError::Exited { binary, status, log });
            }
            if tokio::net::TcpStream::connect(self.url.trim_start_matches("nats://")).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= end {
                return Err(NatsServerError::NotReady { binary, url: self.url.clone(), deadline: START_DEADLINE, log });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary() -> PathBuf {
        std::env::var_os("NATS_SERVER_BIN").map(PathBuf::from).unwrap_or_else(default_binary)
    }

    #[tokio::test]
    async fn a_child_server_serves_jetstream_from_its_directory_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("nats");
        let server = NatsServer::start(&binary(), &store).await.unwrap();
        let url = server.url().to_owned();
        assert!(answers(&url).await);
        let client = async_nats::connect(&url).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "DEVTEST".into(),
            subjects: vec!["devtest.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        js.publish("devtest.a", "x".into()).await.unwrap().await.unwrap();
        drop((js, client));
        server.stop().await;
        assert!(!answers(&url).await, "the server stopped");
        assert!(store.join("jetstream").exists(), "the store is in the given directory");

        // Started again on the same store, on the same port, the stream and its message
        // are still there.
        let server = NatsServer::start(&binary(), &store).await.unwrap();
        assert_eq!(server.url(), url, "the port of the previous start");
        let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
        let mut stream = js.get_stream("DEVTEST").await.unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 1);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_missing_binary_says_how_to_install_one() {
        let dir = tempfile::tempdir().unwrap();
        let error = NatsServer::start(Path::new("/nonexistent/nats-server"), dir.path()).await.unwrap_err();
        assert!(error.to_string().contains("DOCFLOW_NATS_SERVER"), "{error}");
    }

    #[tokio::test]
    async fn nothing_answers_on_a_closed_port() {
        let port = crate::dev::ports::unused_local_port().unwrap();
        assert!(!answers(&format!("nats://127.0.0.1:{port}")).await);
    }
}
