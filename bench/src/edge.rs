//! Scenario 10 (`edge`): the whole edge box under the benchmark's load, as `docflow dev`
//! runs it. One `docflow dev` process (every component of `docflow run`, SQLite, the S3
//! endpoint that publishes MinIO's notifications, the provider simulator) and the
//! nats-server it starts as its child, on a fresh data directory. Documents go in through
//! the S3 API only: the endpoint's own notifications drive the pipeline, as on an edge
//! install. Both processes' memory and CPU come from /proc, against a box of 1 GiB.
//!
//! The bench learns the addresses and keys as an operator's commands do: from the
//! settings `docflow dev` writes into its data directory (`dev::config_file`); it only
//! picks the ports, through `DOCFLOW__...` variables, so the stack never takes the
//! well-known ones of another instance.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use docflow::dev::{config_file, samples};
use docflow::settings::Settings;
use docflow::testkit::Launch;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::ExposeSecret;

use crate::procs::{self, Found, Process};
use crate::report::Report;
use crate::rig;

/// The memory of the box the stack is measured against.
const BOX_BYTES: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;
/// How long `docflow dev` gets to answer `/readyz` and to finish its samples.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// How long it gets to stop (it stops its nats-server, which may take 10 s, last).
const STOP_GRACE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
/// The first segment of the keys the bench puts; the samples' keys differ.
const RUN: &str = "edge";

/// What scenario 10 runs with.
pub struct EdgeRun<'a> {
    pub docflow_bin: &'a Path,
    pub nats_server: &'a str,
    pub documents: usize,
    /// How long the documents may make no progress before the rest count as stuck.
    pub stall: Duration,
    pub logs: &'a Path,
    /// Where the data directory goes (it stays when the bench keeps its files).
    pub base: &'a Path,
}

/// A running `docflow dev` and its child nats-server.
struct Stack {
    dev: Process,
    nats: Found,
    settings: Settings,
    db: DatabaseConnection,
    data_dir: PathBuf,
}

impl Drop for Stack {
    /// A `docflow dev` killed (the bench failed) leaves its nats-server behind: end it too.
    fn drop(&mut self) {
        self.nats.kill();
    }
}

/// Scenario 10: starts the stack, puts `documents` into its S3 endpoint, waits until
/// every one is terminal (or stuck), and reports memory, CPU, rate and disk.
pub async fn edge(run: &EdgeRun<'_>, report: &mut Report) -> Result<()> {
    let mut stack = Stack::start(run).await?;
    let outcome = measure(run, &mut stack, report).await;
    stack.stop().await;
    outcome
}

async fn measure(run: &EdgeRun<'_>, stack: &mut Stack, report: &mut Report) -> Result<()> {
    let (dev, nats) = (stack.dev.pid(), stack.nats.pid);
    let rss_mib = |pid: u32| procs::memory(&pid.to_string()).0 as f64 / MIB;
    report.add("edge", "docflow_dev_idle_rss_mib", rss_mib(dev), "MiB (VmRSS, samples done, before the load)");
    report.add("edge", "nats_server_idle_rss_mib", rss_mib(nats), "MiB (VmRSS)");

    let s3 = &stack.settings.s3;
    let client = rig::s3_client(&s3.endpoint, &s3.access_key, s3.secret_key.expose_secret())?;
    let cpu0 = (procs::cpu_seconds(dev), procs::cpu_seconds(nats));
    let began = chrono::Utc::now().timestamp_micros();
    rig::put_documents(&client, &s3.uploads_bucket, RUN, 0..run.documents).await?;
    let put_seconds = (chrono::Utc::now().timestamp_micros() - began) as f64 / 1e6;
    let states = stack.wait_terminal(run.documents as i64, run.stall).await?;
    let cpu = (procs::cpu_seconds(dev) - cpu0.0, procs::cpu_seconds(nats) - cpu0.1);
    let peaks = (procs::memory(&dev.to_string()).1 as f64, procs::memory(&nats.to_string()).1 as f64);
    let last = stack.last_normalized().await?.unwrap_or(began);
    let seconds = (last - began) as f64 / 1e6;

    let n = run.documents as f64;
    let count = |state: &str| states.get(state).copied().unwrap_or(0);
    let normalized = count("normalized");
    let terminal = normalized + count("failed") + count("rejected");
    let rate = normalized as f64 / seconds;
    report.add("edge", "documents", n, "docs (put through the S3 endpoint; its notifications drive the pipeline)");
    report.add("edge", "normalized", normalized as f64, "docs");
    report.add("edge", "failed", (count("failed") + count("rejected")) as f64, "docs (target 0)");
    report.add("edge", "stuck", (run.documents as i64 - terminal) as f64, "docs never terminal (target 0)");
    report.add("edge", "put_seconds", put_seconds, "s (16 PUTs at a time, the pipeline already at work)");
    report.add("edge", "documents_per_s", rate, "docs/s (first PUT to the last normalized commit)");
    if let Some(s1) = report.get("throughput", "documents_per_s") {
        report.add("edge", "rate_ratio_to_throughput", rate / s1, "x scenario 1's rate");
    }
    report.add(
        "edge",
        "docflow_dev_peak_rss_mib",
        peaks.0 / MIB,
        "MiB (VmHWM: gateway, stages, SQLite, S3, simulator)",
    );
    report.add("edge", "nats_server_peak_rss_mib", peaks.1 / MIB, "MiB (VmHWM)");
    report.add("edge", "peak_rss_sum_mib", (peaks.0 + peaks.1) / MIB, "MiB (both peaks)");
    report.add("edge", "budget_ratio", (peaks.0 + peaks.1) / BOX_BYTES, "x a 1 GiB box (sum of the peaks)");
    report.add("edge", "docflow_dev_cpu_s", cpu.0, "CPU s (from the first PUT to the last document terminal)");
    report.add("edge", "nats_server_cpu_s", cpu.1, "CPU s");
    report.add("edge", "docflow_dev_cpu_ms_per_doc", cpu.0 * 1000.0 / n, "ms");
    report.add("edge", "nats_server_cpu_ms_per_doc", cpu.1 * 1000.0 / n, "ms");
    report.add("edge", "cpu_utilisation", (cpu.0 + cpu.1) / seconds, "cores (both processes)");
    disk(&stack.data_dir, report);
    report.note(
        "edge",
        "measure",
        "docflow dev's own settings; the bench picks its ports only (gateway, admin, S3 endpoint) and puts from outside both processes",
    );
    Ok(())
}

/// The data directory's files after the run: the database and its write-ahead log, the
/// NATS store, the objects, all of it (blocks allocated).
fn disk(data_dir: &Path, report: &mut Report) {
    let len = |name: &str| std::fs::metadata(data_dir.join(name)).map_or(0, |m| m.len()) as f64 / MIB;
    report.add("edge", "sqlite_db_mib", len("docflow.db"), "MiB (docflow.db)");
    report.add("edge", "sqlite_wal_mib", len("docflow.db-wal"), "MiB (docflow.db-wal)");
    report.add("edge", "nats_store_mib", allocated(&data_dir.join("nats")) as f64 / MIB, "MiB on disk");
    report.add("edge", "s3_objects_mib", allocated(&data_dir.join("s3")) as f64 / MIB, "MiB on disk");
    report.add("edge", "data_dir_mib", allocated(data_dir) as f64 / MIB, "MiB on disk (everything)");
}

/// Bytes allocated on disk to the files under `path`.
fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    let entries = std::fs::read_dir(path).into_iter().flatten().filter_map(Result::ok);
    own + entries.map(|entry| allocated(&entry.path())).sum::<u64>()
}

impl Stack {
    /// `docflow dev` on a fresh data directory and free ports, once it answers `/readyz`
    /// and its samples are done (then it is idle).
    async fn start(run: &EdgeRun<'_>) -> Result<Stack> {
        let data_dir = run.base.join(format!("edge-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        std::fs::create_dir_all(&data_dir)?;
        let port = |what: &str| procs::free_port().with_context(|| format!("no free port for the {what}"));
        let env = [
            ("DOCFLOW__GATEWAY__LISTEN".to_owned(), format!("127.0.0.1:{}", port("gateway")?)),
            ("DOCFLOW__ADMIN__LISTEN".to_owned(), format!("127.0.0.1:{}", port("admin listener")?)),
            ("DOCFLOW__S3__ENDPOINT".to_owned(), format!("http://127.0.0.1:{}", port("S3 endpoint")?)),
        ];
        let data_arg = data_dir.display().to_string();
        let launch = Launch::new("docflow-dev-edge", run.docflow_bin)
            .args(["--data-dir", data_arg.as_str(), "dev", "--nats-server", run.nats_server])
            .envs(&env)
            // No ./docflow.toml of the bench's working directory is read.
            .current_dir(run.base);
        let mut dev = procs::log_to(run.logs, launch).spawn()?;
        let started = async {
            let settings = ready(&mut dev, &data_dir).await?;
            let nats = Found::child_named(dev.pid(), "nats-server").context("docflow dev runs no child nats-server")?;
            let db = connect(&settings.database.url).await?;
            anyhow::Ok((settings, nats, db))
        }
        .await;
        let (settings, nats, db) = match started {
            Ok(started) => started,
            Err(error) => {
                // Stopped, not killed: it stops the nats-server it may have started.
                let nats = Found::child_named(dev.pid(), "nats-server");
                dev.stop(STOP_GRACE).await;
                if let Some(nats) = nats {
                    nats.kill();
                }
                return Err(error);
            }
        };
        let mut stack = Stack { dev, nats, settings, db, data_dir };
        let samples = samples::SAMPLES.len() as i64;
        let end = Instant::now() + START_DEADLINE;
        loop {
            let states = stack.states("%").await?;
            let terminal: i64 = ["normalized", "failed", "rejected"].iter().filter_map(|s| states.get(*s)).sum();
            if terminal >= samples {
                return Ok(stack);
            }
            stack.check_running()?;
            if Instant::now() > end {
                bail!("docflow dev's samples were not done within {START_DEADLINE:?}: {states:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn check_running(&mut self) -> Result<()> {
        if self.dev.exited() {
            bail!("docflow dev exited:\n{}", self.dev.log_tail(40));
        }
        Ok(())
    }

    /// The rows of `sql`, whose one parameter is a `LIKE` pattern of the documents' keys.
    async fn rows(&self, sql: &str, pattern: &str) -> Result<Vec<sea_orm::QueryResult>> {
        let statement = Statement::from_sql_and_values(self.db.get_database_backend(), sql, [pattern.into()]);
        Ok(self.db.query_all_raw(statement).await?)
    }

    /// Documents per state among those whose key is `LIKE pattern`.
    async fn states(&self, pattern: &str) -> Result<BTreeMap<String, i64>> {
        let rows = self.rows("SELECT state, count(*) FROM documents WHERE key LIKE ? GROUP BY state", pattern).await?;
        rows.iter().map(|r| Ok((r.try_get_by_index::<String>(0)?, r.try_get_by_index::<i64>(1)?))).collect()
    }

    /// Polls until `expected` of the bench's documents are terminal, or until nothing has
    /// moved for `stall` (the rest are stuck); fails when `docflow dev` exits.
    async fn wait_terminal(&mut self, expected: i64, stall: Duration) -> Result<BTreeMap<String, i64>> {
        let pattern = format!("{RUN}/%");
        let mut last = (BTreeMap::new(), Instant::now());
        loop {
            let states = self.states(&pattern).await?;
            let terminal: i64 = ["normalized", "failed", "rejected"].iter().filter_map(|s| states.get(*s)).sum();
            if terminal >= expected {
                return Ok(states);
            }
            if states != last.0 {
                last = (states, Instant::now());
            } else if last.1.elapsed() > stall {
                eprintln!("edge: {} documents stuck for {stall:?}: {states:?}", expected - terminal);
                return Ok(states);
            }
            self.check_running()?;
            tokio::time::sleep(POLL).await;
        }
    }

    /// When the bench's last normalized document was committed, in unix microseconds.
    async fn last_normalized(&self) -> Result<Option<i64>> {
        let sql = "SELECT updated_at FROM documents WHERE key LIKE ? AND state = 'normalized'";
        let rows = self.rows(sql, &format!("{RUN}/%")).await?;
        let times: Vec<chrono::DateTime<chrono::Utc>> =
            rows.iter().map(|r| r.try_get_by_index(0)).collect::<Result<_, _>>()?;
        Ok(times.iter().map(|t| t.timestamp_micros()).max())
    }

    /// SIGTERM to `docflow dev`, which stops its components and then its nats-server.
    async fn stop(mut self) {
        self.db.close_by_ref().await.ok();
        self.dev.stop(STOP_GRACE).await;
        if self.nats.alive() {
            eprintln!("edge: nats-server {} outlived docflow dev; killed", self.nats.pid);
        }
    }
}

/// Waits until `docflow dev` has written its settings into `data_dir` and its admin
/// listener answers `/readyz`; returns those settings. The file is written before the
/// components start, so once they answer it is complete.
async fn ready(dev: &mut Process, data_dir: &Path) -> Result<Settings> {
    let file = data_dir.join(config_file::FILE_NAME);
    // Only the file: no `DOCFLOW__...` variable of the bench's own environment.
    let read = || Settings::load_over(None, Some(&file), Some(HashMap::new()));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let end = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(settings) = read() {
            let answered = http.get(format!("http://{}/readyz", settings.admin.listen)).send().await;
            if answered.is_ok_and(|r| r.status().is_success()) {
                return read().with_context(|| format!("cannot read {}", file.display()));
            }
        }
        if dev.exited() {
            bail!("docflow dev exited:\n{}", dev.log_tail(40));
        }
        if Instant::now() > end {
            bail!("docflow dev was not ready within {START_DEADLINE:?}:\n{}", dev.log_tail(40));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The bench's read-only connection to the SQLite database of `docflow dev`.
async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(format!("{url}?mode=ro"));
    options.max_connections(1).min_connections(0).sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    Database::connect(options).await.with_context(|| format!("cannot open {url}"))
}
