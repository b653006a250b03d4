//! Real processes for tests: spawned with their output kept in a log file (shown when a
//! test fails), killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub struct Process {
    pub name: String,
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    docflow::dev::ports::unused_local_port().unwrap()
}

/// `S3S_FS_BIN`, else `s3s-fs` from PATH or cargo's bin folder.
pub fn s3s_fs_binary() -> PathBuf {
    if let Ok(path) = std::env::var("S3S_FS_BIN") {
        return path.into();
    }
    let cargo_bin = Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/s3s-fs");
    if cargo_bin.exists() { cargo_bin } else { "s3s-fs".into() }
}

pub async fn wait_for_port(port: u16, deadline: Duration) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(start.elapsed() < deadline, "nothing listens on port {port} after {deadline:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Process {
    pub fn spawn(name: &str, program: impl AsRef<Path>, args: &[&str], env: &[(String, String)]) -> Process {
        Process::spawn_in(name, program, args, env, None)
    }

    /// [`Process::spawn`] in the working directory `dir`.
    pub fn spawn_in(
        name: &str,
        program: impl AsRef<Path>,
        args: &[&str],
        env: &[(String, String)],
        dir: Option<&Path>,
    ) -> Process {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("output.log");
        let file = std::fs::File::create(&log).unwrap();
        // RUST_LOG from `env` when given there (a test that reads every log level).
        let rust_log = env
            .iter()
            .find(|(k, _)| k == "RUST_LOG")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| std::env::var("TEST_RUST_LOG").unwrap_or_else(|_| "info".into()));
        let mut command = Command::new(program.as_ref());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let child = command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.as_ref().display()));
        Process { name: name.to_owned(), child, log, _log_dir: log_dir }
    }

    /// Spawns a process that prints `...{marker}{url}` on stdout once it listens; returns
    /// it with the URL.
    pub async fn spawn_announcing(
        name: &str,
        program: impl AsRef<Path>,
        args: &[&str],
        env: &[(String, String)],
        marker: &str,
    ) -> (Process, String) {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("output.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(program.as_ref())
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file.try_clone().unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some((_, url)) = line.split_once(marker) {
                    return url.trim().to_owned();
                }
            }
            panic!("{name} exited without announcing its address");
        })
        .await
        .unwrap_or_else(|_| panic!("{name} did not announce its address within 30s"));
        // Keep draining stdout into the log so the process never blocks on a full pipe.
        let mut out = tokio::fs::File::from_std(file);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = out.write_all(format!("{line}\n").as_bytes()).await;
            }
        });
        (Process { name: name.to_owned(), child, log, _log_dir: log_dir }, url)
    }

    /// SIGKILL: no graceful anything, as a crash.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, as an orchestrator stopping the process.
    pub fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
    }

    pub async fn wait(&mut self, deadline: Duration) -> ExitStatus {
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("{} did not exit within {deadline:?}:\n{}", self.name, self.output()),
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let output = self.output();
            let start = output.len().saturating_sub(6000);
            let start = (start..output.len()).find(|i| output.is_char_boundary(*i)).unwrap_or(0);
            let tail = &output[start..];
            eprintln!("--- {} output (tail) ---\n{tail}", self.name);
        }
        let _ = self.child.start_kill();
    }
}
