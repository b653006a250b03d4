//! The one way docflow starts a `nats-server`: `docflow dev`'s child server when no server
//! answers, and every test's and the bench's own server (through `crate::testkit`).
//!
//! The server picks its client port itself (`-p -1`) and reports it in a ports file
//! (`--ports_file_dir`: `<name>_<pid>.ports`, JSON with the client URLs; nats-server 2.9 and
//! later), so no other process can take the port between a check and the server's bind.
//! A restart asks for the port of the previous start again, so URLs stay the same; a
//! restart can only fail when something else has bound that port in between.
//!
//! `docflow dev`'s server: JetStream on, loopback only, its store in the data directory
//! (streams survive a restart of `docflow dev`), the port of the previous start kept in
//! `STORE_DIR/port`, users and passwords required ([`super::nats_auth`]), every file it
//! writes 0600 (it runs with umask 077). Stopped on [`NatsServer::stop`], killed when
//! dropped.

use std::os::unix::fs::OpenOptionsExt;
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
    #[error(
        "{binary} did not report a client port and accept connections on it within {deadline:?}; see {log} (nats-server 2.9 or later writes the ports file this waits for)"
    )]
    NotReady { binary: String, deadline: Duration, log: String },
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

/// What to start: `binary` on 127.0.0.1, its files (store, log, ports file, configuration)
/// in `dir`.
#[derive(Debug, Clone)]
pub struct NatsServerOptions {
    pub binary: PathBuf,
    pub dir: PathBuf,
    /// `None`: a port the server picks itself.
    pub port: Option<u16>,
    /// JetStream, its store in `dir`.
    pub jetstream: bool,
    /// Lines of a configuration file (nats-server syntax: `authorization { ... }`,
    /// `tls { ... }`), written to `dir/nats-server.conf` after the address and store.
    pub config: Option<String>,
    /// More arguments: a server name (`-n`), cluster flags.
    pub args: Vec<String>,
    /// Where the server's output goes (appended); `dir/nats-server.log` when `None`.
    pub log: Option<PathBuf>,
    /// Run with umask 077: every file and directory the server makes is its user's only.
    pub private: bool,
}

impl NatsServerOptions {
    /// `binary` with JetStream, its files in `dir`, on a port it picks.
    pub fn new(binary: impl Into<PathBuf>, dir: impl Into<PathBuf>) -> NatsServerOptions {
        NatsServerOptions {
            binary: binary.into(),
            dir: dir.into(),
            port: None,
            jetstream: true,
            config: None,
            args: Vec::new(),
            log: None,
            private: false,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.log.clone().unwrap_or_else(|| self.dir.join("nats-server.log"))
    }

    /// The command line (and the configuration file it names, written here).
    fn command_line(&self) -> std::io::Result<Vec<String>> {
        let port = self.port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let dir = self.dir.display().to_string();
        let mut args = match &self.config {
            Some(config) => {
                let file = self.dir.join("nats-server.conf");
                let mut text = format!("host: \"127.0.0.1\"\nport: {port}\n");
                if self.jetstream {
                    text.push_str(&format!("jetstream {{ store_dir: {} }}\n", super::toml_str(&dir)));
                }
                text.push_str(config);
                text.push('\n');
                // It may hold passwords.
                super::private::write(&file, text.as_bytes())?;
                vec!["-c".to_owned(), file.display().to_string()]
            }
            None => {
                let mut args: Vec<String> = vec!["-a".into(), "127.0.0.1".into(), "-p".into(), port];
                if self.jetstream {
                    args.extend(["-js".into(), "-sd".into(), dir.clone()]);
                }
                args
            }
        };
        args.extend(["--ports_file_dir".to_owned(), dir]);
        args.extend(self.args.iter().cloned());
        Ok(args)
    }
}

/// A running `nats-server`.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    options: NatsServerOptions,
    url: String,
    port: u16,
}

impl NatsServer {
    /// Starts the server as `options` say and waits until it reports its client port and
    /// accepts connections on it.
    pub async fn launch(options: NatsServerOptions) -> Result<NatsServer, NatsServerError> {
        let (child, port) = spawn(&options).await?;
        let mut options = options;
        options.port = Some(port);
        let server = NatsServer { child: Some(child), options, url: format!("nats://127.0.0.1:{port}"), port };
        tracing::info!(url = %server.url, dir = %server.options.dir.display(), "nats-server started");
        Ok(server)
    }

    /// `docflow dev`'s server: `binary -js` with its store in `store_dir`, on the port of
    /// its previous start when that is free (a restart keeps its URL), else on one it picks;
    /// with `config` (nats-server syntax: its `authorization { ... }`) when given.
    pub async fn start(binary: &Path, store_dir: &Path, config: Option<&str>) -> Result<NatsServer, NatsServerError> {
        let dir_error = |cause| NatsServerError::Dir { path: store_dir.display().to_string(), cause };
        // Its user's only, files of earlier runs included.
        super::private::fix(store_dir).map_err(dir_error)?;
        let port_file = store_dir.join("port");
        let previous = std::fs::read_to_string(&port_file).ok().and_then(|text| text.trim().parse::<u16>().ok());
        let previous = previous.filter(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok());
        let mut options = NatsServerOptions::new(binary, store_dir);
        options.port = previous;
        options.config = config.map(str::to_owned);
        options.private = true;
        let server = match NatsServer::launch(options.clone()).await {
            // Taken between the check and the server's bind: a port of its own choice.
            Err(NatsServerError::Exited { .. }) if previous.is_some() => {
                options.port = None;
                NatsServer::launch(options).await?
            }
            result => result?,
        };
        super::private::write(&port_file, server.port.to_string().as_bytes()).map_err(dir_error)?;
        Ok(server)
    }

    /// Starts `binary` with a configuration file of `config` (nats-server syntax:
    /// `authorization { ... }`, `tls { ... }`) after the address, `port` (one it picks when
    /// `None`) and JetStream in `store_dir`. The URL has no credentials: the client brings
    /// its own. For servers that require authentication or TLS (tests, `docflow dev`
    /// against a copy of production's NATS setup).
    pub async fn start_configured(
        binary: &Path,
        store_dir: &Path,
        port: Option<u16>,
        config: &str,
    ) -> Result<NatsServer, NatsServerError> {
        let mut options = NatsServerOptions::new(binary, store_dir);
        options.port = port;
        options.config = Some(config.to_owned());
        NatsServer::launch(options).await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// SIGKILL, as a crash, and waits for the process to end; the store stays for
    /// [`NatsServer::restart`].
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the server again (killing it first when it runs) on the same port, store
    /// and options, and waits until it accepts connections.
    pub async fn restart(&mut self) -> Result<(), NatsServerError> {
        self.kill().await;
        let (child, _) = spawn(&self.options).await?;
        self.child = Some(child);
        Ok(())
    }

    /// Asks the server to stop (as on Ctrl-C: it flushes its store) and waits for it;
    /// kills it when it has not stopped in time.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Some(pid) = child.id() {
            let asked = Command::new(&self.options.binary)
                .args(["--signal", &format!("quit={pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            if asked.is_ok_and(|s| s.success()) && tokio::time::timeout(STOP_DEADLINE, child.wait()).await.is_ok() {
                tracing::info!("nats-server stopped");
                return;
            }
        }
        tracing::warn!("nats-server did not stop when asked; killed");
        let _ = child.kill().await;
    }
}

/// Spawns the server and waits until it has reported its client port (the ports file)
/// and accepts connections there.
async fn spawn(options: &NatsServerOptions) -> Result<(Child, u16), NatsServerError> {
    let dir_error = |cause| NatsServerError::Dir { path: options.dir.display().to_string(), cause };
    std::fs::create_dir_all(&options.dir).map_err(dir_error)?;
    let log = options.log_path();
    let output = std::fs::File::options()
        .create(true)
        .append(true)
        .mode(super::private::FILE_MODE)
        .open(&log)
        .map_err(dir_error)?;
    let args = options.command_line().map_err(dir_error)?;
    let binary = options.binary.display().to_string();
    let mut command = if options.private {
        // `exec` keeps the pid: it is the server's, for `--signal` and the ports file.
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "umask 077 && exec \"$0\" \"$@\""]).arg(&options.binary);
        command
    } else {
        Command::new(&options.binary)
    };
    let mut child = command
        .args(&args)
        .stdin(Stdio::null())
        .stdout(output.try_clone().map_err(dir_error)?)
        .stderr(output)
        .kill_on_drop(true)
        .spawn()
        .map_err(|cause| NatsServerError::Spawn { binary: binary.clone(), cause })?;
    let pid = child.id().unwrap_or_default();
    let log = log.display().to_string();
    let end = Instant::now() + START_DEADLINE;
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    loop {
        tick.tick().await;
        if let Ok(Some(status)) = child.try_wait() {
            // The shell's "command not found".
            if options.private && status.code() == Some(127) {
                let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "not found");
                return Err(NatsServerError::Spawn { binary, cause });
            }
            return Err(NatsServerError::Exited { binary, status, log });
        }
        if let Some(port) = reported_port(&options.dir, pid)
            && tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        {
            return Ok((child, port));
        }
        if Instant::now() >= end {
            let _ = child.kill().await;
            return Err(NatsServerError::NotReady { binary, deadline: START_DEADLINE, log });
        }
    }
}

/// The client port in the ports file of process `pid` in `dir`
/// (`{"nats":["nats://127.0.0.1:PORT"], ...}`), once it is there.
fn reported_port(dir: &Path, pid: u32) -> Option<u16> {
    let suffix = format!("_{pid}.ports");
    let file = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().ends_with(&suffix))?;
    let ports: serde_json::Value = serde_json::from_slice(&std::fs::read(file.path()).ok()?).ok()?;
    port_of(ports["nats"].get(0)?.as_str()?)
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary() -> PathBuf {
        crate::testkit::nats::nats_server_binary()
    }

    #[tokio::test]
    async fn a_child_server_serves_jetstream_from_its_directory_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("nats");
        let server = NatsServer::start(&binary(), &store, None).await.unwrap();
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
        let server = NatsServer::start(&binary(), &store, None).await.unwrap();
        assert_eq!(server.url(), url, "the port of the previous start");
        let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
        let mut stream = js.get_stream("DEVTEST").await.unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 1);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_missing_binary_says_how_to_install_one() {
        let dir = tempfile::tempdir().unwrap();
        let error = NatsServer::start(Path::new("/nonexistent/nats-server"), dir.path(), None).await.unwrap_err();
        assert!(error.to_string().contains("DOCFLOW_NATS_SERVER"), "{error}");
    }

    #[tokio::test]
    async fn a_server_on_a_port_of_its_choice_reports_it_and_comes_back_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = NatsServerOptions::new(binary(), dir.path());
        options.jetstream = false;
        let mut server = NatsServer::launch(options).await.unwrap();
        let url = server.url().to_owned();
        assert!(answers(&url).await);
        server.kill().await;
        assert!(!answers(&url).await, "the server was killed");
        server.restart().await.unwrap();
        assert_eq!(server.url(), url);
        assert!(answers(&url).await);
    }

    #[test]
    fn the_port_is_read_from_the_client_url_of_the_ports_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nats-server_42.ports"), r#"{"nats":["nats://127.0.0.1:41234"]}"#).unwrap();
        assert_eq!(reported_port(dir.path(), 42), Some(41234));
        assert_eq!(reported_port(dir.path(), 43), None, "another process's file");
    }

    #[tokio::test]
    async fn nothing_answers_on_a_closed_port() {
        let port = crate::dev::ports::unused_local_port().unwrap();
        assert!(!answers(&format!("nats://127.0.0.1:{port}")).await);
    }
}
