//! The bench's S3 server, a process of its own so that its CPU stays out of docflow's.
//! By default it is s3s-fs's storage served by this binary (`--serve-s3 DIR`, hidden) with
//! TCP_NODELAY on every connection, as MinIO serves; `--s3-server binary` starts the
//! `s3s-fs` binary instead, which leaves Nagle's algorithm on: every GET after the first
//! on a kept-alive connection then waits ~40 ms for the client's delayed ACK, and that
//! wait, not docflow, would dominate the latency figures.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio_util::sync::CancellationToken;

use crate::procs::{self, Process};
use crate::rig::{ACCESS_KEY, SECRET_KEY};

/// What `--serve-s3` prints once it listens, followed by its URL.
const LISTENING: &str = "s3 listening on ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum S3Server {
    /// s3s-fs's storage served by `docflow-bench --serve-s3`, with TCP_NODELAY
    Nodelay,
    /// The `s3s-fs` binary (`S3S_FS_BIN`, else cargo's bin folder, else PATH), Nagle on
    Binary,
}

impl S3Server {
    /// What the report records as the S3 server.
    pub fn describe(self) -> String {
        match self {
            S3Server::Nodelay => "s3s-fs library in docflow-bench --serve-s3, TCP_NODELAY".to_owned(),
            S3Server::Binary => {
                let version = std::process::Command::new(procs::s3s_fs_binary())
                    .arg("--version")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                    .unwrap_or_default();
                format!("{version} binary, Nagle on")
            }
        }
    }

    /// Starts the server on a free loopback port, storing under `root`; returns its URL.
    pub async fn start(self, logs: &Path, root: &Path) -> Result<(Process, String)> {
        let root_arg = root.to_str().context("the S3 directory is not UTF-8")?.to_owned();
        match self {
            S3Server::Nodelay => {
                let me = std::env::current_exe()?;
                procs::spawn_announcing(logs, "s3-nodelay", &me, &["--serve-s3".to_owned(), root_arg], LISTENING).await
            }
            S3Server::Binary => {
                let port = procs::free_port()?;
                let process =
                    procs::log_to(logs, docflow::testkit::s3s_fs(port, ACCESS_KEY, SECRET_KEY, root)).spawn()?;
                procs::wait_for_port(port, Duration::from_secs(20)).await.context("s3s-fs did not start")?;
                Ok((process, format!("http://127.0.0.1:{port}")))
            }
        }
    }
}

/// `docflow-bench --serve-s3 DIR`: what the `s3s-fs` binary serves (the same store, the
/// same single access key), through docflow's dev S3 loop, which sets TCP_NODELAY. Prints
/// [`LISTENING`] and the URL, then serves until SIGTERM.
pub async fn serve(root: &Path) -> Result<()> {
    let store =
        s3s_fs::FileSystem::new(root).map_err(|e| anyhow!("cannot store objects in {}: {e:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(store);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{LISTENING}http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let cancel = shutdown.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        term.recv().await;
        cancel.cancel();
    });
    docflow::dev::s3::serve(builder.build(), listener, Vec::new(), shutdown).await?;
    Ok(())
}
