//! The processes the bench starts (s3s-fs, provider-sim, docflow; nats-server through
//! docflow's starter) as the test kit's [`Process`], their logs in the bench's log folder,
//! and what the bench reads of them in /proc: CPU time, resident memory, and the children
//! a process started itself ([`Found`]). Every process the bench starts is killed on drop.

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

/// What the bench reads of /proc/PID/stat.
struct Stat {
    name: String,
    /// `R`, `S`, ..., `Z` for a zombie (ended, not yet reaped).
    state: char,
    /// The fields after the state, field 4 of the line first: field N is at index N - 4.
    fields: Vec<u64>,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after it are space separated.
    let (head, rest) = text.rsplit_once(')')?;
    let mut rest = rest.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let fields = rest.map(|f| f.parse().unwrap_or(0)).collect();
    Some(Stat { name: head.split_once('(')?.1.to_owned(), state, fields })
}

/// Fields 4 (the parent's pid), 14 and 15 (user and system CPU time, in ticks) and 22
/// (the start time) of /proc/PID/stat, as indexes of [`Stat::fields`].
const PARENT: usize = 0;
const CPU_TIMES: [usize; 2] = [10, 11];
const STARTED: usize = 18;

/// User plus system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Some(stat) = stat(pid) else { return 0.0 };
    let ticks: u64 = CPU_TIMES.iter().filter_map(|i| stat.fields.get(*i)).sum();
    ticks as f64 / clock_ticks_cached() as f64
}

/// A process the bench did not start itself (a child of one it did), told apart from a
/// later process that reuses its pid by its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub pid: u32,
    started: u64,
}

impl Found {
    /// The child of `parent` whose command name is `name`, if it runs.
    pub fn child_named(parent: u32, name: &str) -> Option<Found> {
        std::fs::read_dir("/proc").ok()?.filter_map(Result::ok).find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = stat(pid)?;
            (stat.name == name && *stat.fields.get(PARENT)? == u64::from(parent))
                .then_some(Found { pid, started: *stat.fields.get(STARTED)? })
        })
    }

    /// True while the process found still runs.
    pub fn alive(&self) -> bool {
        stat(self.pid).is_some_and(|stat| stat.fields.get(STARTED) == Some(&self.started) && stat.state != 'Z')
    }

    /// SIGKILL, unless it has ended (its pid may be another process's by now).
    pub fn kill(&self) {
        if self.alive()
            && let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_found_by_its_parent_and_name_and_killed() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        // The child exists once spawn returns; it is `sleep` once it has exec'd.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let found = loop {
            if let Some(found) = Found::child_named(std::process::id(), "sleep") {
                break found;
            }
            assert!(std::time::Instant::now() < deadline, "sleep was not found as a child");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(found.pid, child.id());
        assert!(found.alive());
        assert!(cpu_seconds(found.pid) >= 0.0);
        found.kill();
        child.wait().unwrap();
        assert!(!found.alive(), "reaped: gone");
        found.kill();
    }
}
