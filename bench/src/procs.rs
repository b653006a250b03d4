//! The processes the bench starts (nats-server, s3s-fs, provider-sim, docflow) and what it
//! reads of them in /proc: CPU time and resident memory. Every process is killed on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub struct Process {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

pub fn free_port() -> Result<u16> {
    Ok(docflow::dev::ports::unused_local_port()?)
}

pub async fn wait_for_port(port: u16, deadline: Duration) -> Result<()> {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if start.elapsed() > deadline {
            bail!("nothing listens on port {port} after {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

/// `S3S_FS_BIN`, else cargo's bin folder, else `s3s-fs` from PATH.
pub fn s3s_fs_binary() -> PathBuf {
    if let Ok(path) = std::env::var("S3S_FS_BIN") {
        return path.into();
    }
    let cargo_bin = Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/s3s-fs");
    if cargo_bin.exists() { cargo_bin } else { "s3s-fs".into() }
}

/// The `docflow` binary next to this one (both are built into the same target folder).
pub fn docflow_binary() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("DOCFLOW_BIN") {
        return Ok(path.into());
    }
    let me = std::env::current_exe()?;
    let sibling = me.with_file_name("docflow");
    if !sibling.exists() {
        bail!(
            "{} does not exist; build it (cargo build --release --bin docflow) or set DOCFLOW_BIN",
            sibling.display()
        );
    }
    Ok(sibling)
}

impl Process {
    /// Starts a process whose stdout and stderr go to `{logs}/{name}.log`.
    pub fn spawn(
        logs: &Path,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Process> {
        let log = logs.join(format!("{}.log", name.replace(' ', "_")));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Process { name: name.to_owned(), child, log })
    }

    /// Starts a process that prints `...{marker}{url}` on stdout once it listens.
    pub async fn spawn_announcing(
        logs: &Path,
        name: &str,
        program: &Path,
        args: &[String],
        marker: &str,
    ) -> Result<(Process, String)> {
        let log = logs.join(format!("{}.log", name.replace(' ', "_")));
        let file = std::fs::File::create(&log)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file.try_clone()?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some((_, url)) = line.split_once(marker) {
                    return Ok(url.trim().to_owned());
                }
            }
            bail!("{name} exited without announcing its address")
        })
        .await
        .with_context(|| format!("{name} did not announce its address within 30s"))??;
        // Keep draining stdout so the process never blocks on a full pipe.
        let mut out = tokio::fs::File::from_std(file);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = out.write_all(format!("{line}\n").as_bytes()).await;
            }
        });
        Ok((Process { name: name.to_owned(), child, log }, url))
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Waits for the process to exit; its log tail in the error when it fails.
    pub async fn wait_success(&mut self, deadline: Duration) -> Result<()> {
        let status = tokio::time::timeout(deadline, self.child.wait())
            .await
            .with_context(|| format!("{} did not exit within {deadline:?}", self.name))??;
        if !status.success() {
            bail!("{} failed ({status}):\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
                let _ = self.child.kill().await;
            }
        }
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn log_tail(&self) -> String {
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Clock ticks per second of /proc/PID/stat's times.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// User plus system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name may hold spaces; the fields after it are space separated.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
    ticks as f64 / clock_ticks_cached() as f64
}

fn clock_ticks_cached() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(clock_ticks)
}

/// `VmRSS` and `VmHWM` of a process (`self` for this one), in bytes.
pub fn memory(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
