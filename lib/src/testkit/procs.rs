//! Real processes for tests and the bench: spawned with their output in a log file (its
//! tail shown when a test fails), killed when dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot start {name} ({program}): {cause}")]
    Spawn { name: String, program: String, cause: std::io::Error },
    #[error("cannot write the log of {name} to {path}: {cause}")]
    Log { name: String, path: String, cause: std::io::Error },
    #[error("{name} did not announce its address (a line with {marker:?}) within {deadline:?}:\n{tail}")]
    NoAnnouncement { name: String, marker: String, deadline: Duration, tail: String },
    #[error("{name} did not exit within {deadline:?}:\n{tail}")]
    Running { name: String, deadline: Duration, tail: String },
    #[error("{name} failed ({status}):\n{tail}")]
    Failed { name: String, status: ExitStatus, tail: String },
    #[error("cannot wait for {name}: {cause}")]
    Wait { name: String, cause: std::io::Error },
    #[error("nothing listens on 127.0.0.1:{port} after {deadline:?}")]
    NotListening { port: u16, deadline: Duration },
}

/// What to start: a program, its arguments and environment, where its output goes.
pub struct Launch {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    dir: Option<PathBuf>,
    log: Option<PathBuf>,
}

impl Launch {
    /// `name` is what logs and errors call the process.
    pub fn new(name: &str, program: impl AsRef<Path>) -> Launch {
        Launch {
            name: name.to_owned(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            log: None,
        }
    }

    /// What logs and errors call the process.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Launch {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn envs(mut self, env: &[(String, String)]) -> Launch {
        self.env.extend(env.iter().cloned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The working directory.
    pub fn current_dir(mut self, dir: &Path) -> Launch {
        self.dir = Some(dir.to_owned());
        self
    }

    /// The output goes to `path` (created or truncated), which stays after the process;
    /// by default to a file in a temporary directory of the process's own.
    pub fn log_to(mut self, path: PathBuf) -> Launch {
        self.log = Some(path);
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).kill_on_drop(true);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }

    fn log_file(&self) -> Result<(PathBuf, std::fs::File, Option<tempfile::TempDir>), ProcessError> {
        let log_error =
            |path: &Path, cause| ProcessError::Log { name: self.name.clone(), path: path.display().to_string(), cause };
        let (path, dir) = match &self.log {
            Some(path) => (path.clone(), None),
            None => {
                let dir = tempfile::tempdir().map_err(|e| log_error(Path::new("a temporary directory"), e))?;
                (dir.path().join("output.log"), Some(dir))
            }
        };
        let file = std::fs::File::create(&path).map_err(|e| log_error(&path, e))?;
        Ok((path, file, dir))
    }

    fn spawn_error(&self, cause: std::io::Error) -> ProcessError {
        ProcessError::Spawn { name: self.name.clone(), program: self.program.display().to_string(), cause }
    }

    /// Starts the process, stdout and stderr into the log.
    pub fn spawn(self) -> Result<Process, ProcessError> {
        let (log, file, log_dir) = self.log_file()?;
        let stdout = file.try_clone().map_err(|e| self.spawn_error(e))?;
        let child = self.command().stdout(stdout).stderr(file).spawn().map_err(|e| self.spawn_error(e))?;
        Ok(Process { name: self.name, pid: child.id().unwrap_or(0), child, log, _log_dir: log_dir })
    }

    /// Starts a process that prints `...{marker}{address}` on stdout once it listens;
    /// returns it with the address. Its stdout goes on into the log.
    pub async fn spawn_announcing(self, marker: &str, deadline: Duration) -> Result<(Process, String), ProcessError> {
        let (log, file, log_dir) = self.log_file()?;
        let stderr = file.try_clone().map_err(|e| self.spawn_error(e))?;
        let mut child =
            self.command().stdout(Stdio::piped()).stderr(stderr).spawn().map_err(|e| self.spawn_error(e))?;
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let found = tokio::time::timeout(deadline, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, address)) = line.split_once(marker) {
                    return Some(address.trim().to_owned());
                }
            }
            None
        })
        .await;
        let process = Process { name: self.name, pid: child.id().unwrap_or(0), child, log, _log_dir: log_dir };
        let Ok(Some(address)) = found else {
            return Err(ProcessError::NoAnnouncement {
                name: process.name.clone(),
                marker: marker.to_owned(),
                deadline,
                tail: process.log_tail(40),
            });
        };
        // Keep draining stdout into the log so the process never blocks on a full pipe.
        let mut out = tokio::fs::File::from_std(file);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = out.write_all(format!("{line}\n").as_bytes()).await;
            }
        });
        Ok((process, address))
    }
}

/// A running child process.
pub struct Process {
    pub name: String,
    /// Kept from the start: a killed child no longer says it (its log keeps the name).
    pid: u32,
    child: Child,
    log: PathBuf,
    _log_dir: Option<tempfile::TempDir>,
}

/// `RUST_LOG` from `env` when given there, else `TEST_RUST_LOG`, else `info`.
fn rust_log(env: &[(String, String)]) -> String {
    env.iter()
        .find(|(k, _)| k == "RUST_LOG")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| std::env::var("TEST_RUST_LOG").unwrap_or_else(|_| "info".into()))
}

impl Process {
    /// The tests' way: starts `program` with `RUST_LOG` from `env`, `TEST_RUST_LOG` or
    /// `info`; panics when it cannot start.
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
        let mut launch = Launch::new(name, program).args(args).envs(env).env("RUST_LOG", &rust_log(env));
        if let Some(dir) = dir {
            launch = launch.current_dir(dir);
        }
        launch.spawn().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The tests' way to start a process that prints `...{marker}{address}` once it
    /// listens: [`Launch::spawn_announcing`] within 30 s, `RUST_LOG=info`; panics on failure.
    pub async fn spawn_announcing(
        name: &str,
        program: impl AsRef<Path>,
        args: &[&str],
        env: &[(String, String)],
        marker: &str,
    ) -> (Process, String) {
        Launch::new(name, program)
            .args(args)
            .envs(env)
            .env("RUST_LOG", "info")
            .spawn_announcing(marker, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn pid(&self) -> u32 {
        self.pid
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

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if self.child.id().is_some() {
            self.terminate();
            if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
                let _ = self.child.kill().await;
            }
        }
    }

    /// Its exit status once it exits within `deadline`.
    pub async fn try_wait(&mut self, deadline: Duration) -> Result<ExitStatus, ProcessError> {
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => status.map_err(|cause| ProcessError::Wait { name: self.name.clone(), cause }),
            Err(_) => Err(ProcessError::Running { name: self.name.clone(), deadline, tail: self.log_tail(40) }),
        }
    }

    /// Its exit status; panics with its output when it runs past `deadline`.
    pub async fn wait(&mut self, deadline: Duration) -> ExitStatus {
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("{} did not exit within {deadline:?}:\n{}", self.name, self.output()),
        }
    }

    /// Waits for the process to exit; an error with its log tail when it fails.
    pub async fn wait_success(&mut self, deadline: Duration) -> Result<(), ProcessError> {
        let status = self.try_wait(deadline).await?;
        if !status.success() {
            return Err(ProcessError::Failed { name: self.name.clone(), status, tail: self.log_tail(40) });
        }
        Ok(())
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines it printed.
    pub fn log_tail(&self, lines: usize) -> String {
        let output = self.output();
        let all: Vec<&str> = output.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let output = self.output();
            let start = output.len().saturating_sub(6000);
            let start = (start..output.len()).find(|i| output.is_char_boundary(*i)).unwrap_or(0);
            eprintln!("--- {} output (tail) ---\n{}", self.name, &output[start..]);
            // The whole log, kept where `DOCFLOW_TEST_LOG_DIR` says (a failure's full story).
            if let Some(dir) = std::env::var_os("DOCFLOW_TEST_LOG_DIR") {
                let name = format!("{}-{}.log", self.name.trim().replace(' ', "-"), self.pid);
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::copy(&self.log, Path::new(&dir).join(name));
            }
        }
        let _ = self.child.start_kill();
    }
}

/// `S3S_FS_BIN`, else `s3s-fs` in cargo's bin folder, else `s3s-fs` from PATH.
pub fn s3s_fs_binary() -> PathBuf {
    if let Ok(path) = std::env::var("S3S_FS_BIN") {
        return path.into();
    }
    let cargo_bin = Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/s3s-fs");
    if cargo_bin.exists() { cargo_bin } else { "s3s-fs".into() }
}

/// s3s-fs serving the folder `dir` on 127.0.0.1:`port` with one key pair: the S3 server
/// of the integration tests and the bench (start it, then [`wait_for_port`]).
pub fn s3s_fs(port: u16, access_key: &str, secret_key: &str, dir: &Path) -> Launch {
    let port = port.to_string();
    Launch::new("s3s-fs", s3s_fs_binary())
        .args(["--host", "127.0.0.1", "--port", &port, "--access-key", access_key, "--secret-key", secret_key])
        .args([dir])
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub async fn wait_for_port(port: u16, deadline: Duration) -> Result<(), ProcessError> {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if start.elapsed() > deadline {
            return Err(ProcessError::NotListening { port, deadline });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}
