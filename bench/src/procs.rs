//! The processes the bench starts (s3s-fs, provider-sim, docflow; nats-server through
//! docflow's starter) as the test kit's [`Process`], their logs in the bench's log folder,
//! and what the bench reads of them in /proc: CPU time and resident memory. Every process
//! is killed on drop.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use docflow::testkit::Launch;

pub use docflow::testkit::{Process, s3s_fs_binary, wait_for_port};

pub fn free_port() -> Result<u16> {
    Ok(docflow::dev::ports::unused_local_port()?)
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

/// The log file of process `name` in `logs`.
fn log_file(logs: &Path, name: &str) -> PathBuf {
    logs.join(format!("{}.log", name.replace(' ', "_")))
}

/// `launch` with its output in `{logs}/{name}.log`.
pub fn log_to(logs: &Path, launch: Launch) -> Launch {
    let path = log_file(logs, launch.name());
    launch.log_to(path)
}

/// Starts a process whose stdout and stderr go to `{logs}/{name}.log`.
pub fn spawn(logs: &Path, name: &str, program: &Path, args: &[String], env: &[(String, String)]) -> Result<Process> {
    Ok(Launch::new(name, program).args(args).envs(env).log_to(log_file(logs, name)).spawn()?)
}

/// Starts a process that prints `...{marker}{url}` on stdout once it listens.
pub async fn spawn_announcing(
    logs: &Path,
    name: &str,
    program: &Path,
    args: &[String],
    marker: &str,
) -> Result<(Process, String)> {
    Ok(Launch::new(name, program)
        .args(args)
        .log_to(log_file(logs, name))
        .spawn_announcing(marker, Duration::from_secs(30))
        .await?)
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
