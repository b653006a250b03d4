//! `docflow-bench`: starts its own nats-server, S3 server (s3s-fs) and provider-sim, a fresh
//! PostgreSQL database and `docflow run`, measures the baselines, runs the scenarios, and
//! prints a table and writes `target/bench/latest.json`. Scenario 10 runs `docflow dev`
//! instead, the whole edge box ([`edge`]). The machine is shared and small, so every
//! figure that can be is a ratio to a baseline measured in the same run.

mod baseline;
mod disk;
mod edge;
mod large;
mod natsmon;
mod pg;
mod procs;
mod report;
mod rig;
mod s3;
mod scenarios;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use serde_json::json;

use crate::report::Report;
use crate::rig::StandIns;
use crate::rig::{DocflowOptions, Pipeline, Services};
use crate::s3::S3Server;

#[derive(Debug, Parser)]
#[command(about = "docflow's performance, as ratios to baselines measured in the same run")]
struct Args {
    /// Tiny sizes for every scenario (CI: the harness works end to end; no figure is asserted)
    #[arg(long)]
    smoke: bool,
    /// Scenario 1: documents put as fast as possible
    #[arg(long, default_value_t = 5000)]
    docs: usize,
    /// Scenario 2: seconds at half of scenario 1's rate
    #[arg(long, default_value_t = 60)]
    latency_secs: u64,
    /// Scenario 2: documents per second (default: half of scenario 1's rate)
    #[arg(long)]
    rate: Option<f64>,
    /// Scenario 9: documents through two `docflow run` processes (default: half of --docs)
    #[arg(long)]
    two_docs: Option<usize>,
    /// Scenario 10: documents through `docflow dev`, the whole edge box (default: half of --docs)
    #[arg(long)]
    edge_docs: Option<usize>,
    /// Scenario 4: seconds with nothing to do
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Scenario 6: size of the large object, MiB
    #[arg(long, default_value_t = 1024)]
    large_mib: usize,
    /// Scenario 7: documents through a provider failing half of the attempts
    #[arg(long, default_value_t = 1000)]
    retry_docs: usize,
    /// Baseline: messages through the relay (serial and pipelined)
    #[arg(long, default_value_t = 5000)]
    relay_msgs: usize,
    /// Baseline: single-row upserts
    #[arg(long, default_value_t = 5000)]
    upsert_rows: usize,
    /// `stages.*.concurrency` of docflow (and the writers of the upsert baseline)
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// `runtime.worker_threads` of docflow (0: one per core). 1 is the setting for a small
    /// server whose cores docflow shares with NATS, PostgreSQL and the object store, as here
    #[arg(long, default_value_t = 1)]
    worker_threads: usize,
    /// Messages in flight per stage in the pipelined relay
    #[arg(long, default_value_t = 64)]
    relay_in_flight: usize,
    /// `stages.*.backoff` of docflow
    #[arg(long, default_value = "100ms,200ms,400ms,800ms")]
    backoff: String,
    /// docflow's log level
    #[arg(long, default_value = "info")]
    log_level: String,
    /// provider-sim's --processing-delay (0s: the callback races transfer's commit)
    #[arg(long, default_value = "0s")]
    sim_processing_delay: String,
    /// Seconds without progress after which a batch's remaining documents count as stuck
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
    /// Wait after a batch before reading PostgreSQL's counters (backends flush them within 10 s)
    #[arg(long, default_value_t = 11)]
    settle_secs: u64,
    /// Scenarios to skip: latency, idle, large, retry, breaker, two, edge
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Query appended to docflow's database URL (e.g. `sslmode=disable`: no TLS to a
    /// PostgreSQL on the same host; sqlx's default `prefer` uses it when the server offers it)
    #[arg(long)]
    database_query: Option<String>,
    /// The nats-server binary
    #[arg(long, env = "NATS_SERVER", default_value = "nats-server")]
    nats_server: String,
    /// The S3 server: s3s-fs's storage with TCP_NODELAY (as MinIO), or the s3s-fs binary
    #[arg(long, value_enum, default_value_t = S3Server::Nodelay)]
    s3_server: S3Server,
    /// Where the stand-ins for outside services (the S3 server, provider-sim) keep their
    /// files: memory (a directory on /dev/shm) or disk (the bench's temporary directory).
    /// See docs/performance.md: they write through the page cache without syncing.
    #[arg(long, value_enum, default_value_t = StandIns::Memory)]
    stand_ins: StandIns,
    /// Serve S3 from this directory and nothing else (the bench's own S3 process)
    #[arg(long, hide = true)]
    serve_s3: Option<PathBuf>,
    /// Keep the logs of nats-server, the S3 server, provider-sim and docflow in this
    /// directory, and the pipelines' databases (by default both go at the end)
    #[arg(long)]
    logs: Option<PathBuf>,
    /// Where the JSON goes
    #[arg(long, default_value = "target/bench/latest.json")]
    out: PathBuf,
}

impl Args {
    fn shrink_for_smoke(&mut self) {
        if self.smoke {
            (self.docs, self.latency_secs, self.idle_secs, self.large_mib) = (20, 2, 2, 8);
            (self.retry_docs, self.relay_msgs, self.upsert_rows, self.settle_secs, self.stall_secs) =
                (20, 200, 200, 11, 10);
        }
    }
    fn edge_docs(&self) -> usize {
        self.edge_docs.unwrap_or(self.docs / 2).max(2)
    }
    fn runs(&self, scenario: &str) -> bool {
        !self.skip.iter().any(|s| s == scenario)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if let Some(root) = &args.serve_s3 {
        return s3::serve(root).await;
    }
    args.shrink_for_smoke();
    let began = Instant::now();
    let settle = Duration::from_secs(args.settle_secs);
    let mut report = Report::default();

    // The large object three times (in the bucket; received by provider-sim from docflow
    // and from the baseline), and 1 GiB for the other scenarios' files.
    let stand_in_bytes = (3 * args.large_mib as u64 + 1024) << 20;
    let services =
        Services::start(&args.nats_server, args.s3_server, args.stand_ins, stand_in_bytes, args.logs.as_deref())
            .await?;
    println!("docflow-bench: logs in {}", services.logs.display());
    let result = run(&args, &services, settle, &mut report).await;
    if let Err(e) = &result {
        eprintln!("docflow-bench failed: {e:#}\nlogs: {}", services.logs.display());
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let nats_version = std::process::Command::new(&args.nats_server)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let s3_server = args.s3_server.describe();
    let stand_ins = services.stand_ins_place.clone();
    let top = json!({
        "machine": { "nproc": nproc, "cpu_model": model, "loadavg_at_end": load.trim(), "nats_server": nats_version,
                     "s3_server": s3_server, "stand_ins_files": stand_ins },
        "sizes": { "smoke": args.smoke, "docs": args.docs, "latency_secs": args.latency_secs, "idle_secs": args.idle_secs,
                   "large_mib": args.large_mib, "retry_docs": args.retry_docs, "edge_docs": args.edge_docs(), "relay_msgs": args.relay_msgs,
                   "upsert_rows": args.upsert_rows, "concurrency": args.concurrency, "worker_threads": args.worker_threads, "relay_in_flight": args.relay_in_flight,
                   "backoff": args.backoff, "log_level": args.log_level, "sim_processing_delay": args.sim_processing_delay,
                   "database_query": args.database_query },
        "ok": result.is_ok(),
        "error": result.as_ref().err().map(|e| format!("{e:#}")),
        "wall_seconds": began.elapsed().as_secs_f64(),
    });
    let serde_json::Value::Object(top) = top else { unreachable!("an object literal") };
    report.write_json(&args.out, top)?;
    println!(
        "\nmachine: {nproc} CPUs, {model}; load average {}; {nats_version}; S3: {s3_server}; stand-ins' files: {stand_ins}\n",
        load.trim()
    );
    println!("{}", report.table());
    println!("written to {} in {:.0} s", args.out.display(), began.elapsed().as_secs_f64());
    if result.is_ok() {
        // The logs go with the temporary folder unless the run failed.
        drop(services);
    } else {
        let kept = services.dir.keep();
        eprintln!("kept {}", kept.display());
    }
    result
}

/// Rounds of each relay. The relays are the noisiest figures on a shared machine (the
/// serial one measured 232 msgs/s in one run and 2 693 in the next), and they are
/// ceilings: the best round is the baseline, every round is in the JSON.
const RELAY_ROUNDS: usize = 3;

async fn best_relay(
    services: &Services,
    messages: usize,
    in_flight: usize,
    body: &[u8],
    name: &str,
    report: &mut Report,
) -> Result<f64> {
    let mut best = 0f64;
    let nats0 = natsmon::NatsOps::read(&services.nats_monitor).await?;
    for round in 1..=RELAY_ROUNDS {
        let rate = baseline::relay(services, messages, in_flight, body).await?;
        report.add("baseline", &format!("{name}_relay_round{round}_msgs_per_s"), rate, "msgs/s");
        best = best.max(rate);
    }
    let nats = natsmon::NatsOps::read(&services.nats_monitor).await?.minus(nats0);
    report.add(
        "baseline",
        &format!("{name}_relay_nats_messages_per_msg"),
        nats.messages / (RELAY_ROUNDS * messages) as f64,
        "messages in + out of nats-server per relayed message (its load included)",
    );
    report.add("baseline", &format!("{name}_relay_msgs_per_s"), best, "msgs/s (best round)");
    Ok(best)
}

async fn run(args: &Args, services: &Services, settle: Duration, report: &mut Report) -> Result<()> {
    println!("baselines");
    let body = rig::event_body(&rig::Upload {
        key: "teacher-1/plan-1.txt".into(),
        size: 20_000,
        etag: "0".repeat(32),
        content_type: "text/plain",
    });
    let serial = best_relay(services, args.relay_msgs, 1, &body, "serial", report).await?;
    let pipelined = best_relay(services, args.relay_msgs, args.relay_in_flight, &body, "pipelined", report).await?;
    let upserts = baseline::upserts(services, args.upsert_rows, args.concurrency).await?;
    report.add("baseline", "upserts_per_s", upserts, "rows/s (4 connections)");

    let options = DocflowOptions {
        concurrency: args.concurrency,
        worker_threads: args.worker_threads,
        backoff: args.backoff.clone(),
        transfer_max_deliver: 8,
        log_level: args.log_level.clone(),
        stall: Duration::from_secs(args.stall_secs),
        database_query: args.database_query.clone(),
        breaker_failures: None,
        processes: 1,
    };
    let delay = ["--processing-delay", args.sim_processing_delay.as_str()];
    let mut pipe = Pipeline::start(services, "main", &delay, &options).await?;
    let outcome = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        report.add(
            "memory",
            "idle_rss_mib",
            procs::memory(&pipe.docflow_pid().to_string()).0 as f64 / (1 << 20) as f64,
            "MiB (after start)",
        );

        println!("scenario 1: throughput ({} documents)", args.docs);
        let rate = scenarios::throughput(services, &mut pipe, args.docs, settle, serial, report).await?;
        report.add("throughput", "ratio_to_pipelined_relay", rate / pipelined, "x pipelined relay");
        if let Some(tx) = report.get("db", "transactions_per_doc") {
            report.add(
                "db",
                "upsert_equivalents_per_s",
                rate * tx / upserts,
                "x upsert baseline (docs/s × commits/doc ÷ upserts/s)",
            );
        }
        let mut done = args.docs as i64;
        if args.runs("idle") {
            println!("scenario 4: idle ({} s)", args.idle_secs);
            scenarios::idle(services, &pipe, Duration::from_secs(args.idle_secs), report).await?;
        }
        if args.runs("latency") {
            let seconds = Duration::from_secs(args.latency_secs);
            let at = args.rate.unwrap_or(rate / 2.0);
            println!("baseline: relay with a commit per stage ({} s at {at:.1} msgs/s)", args.latency_secs);
            let floor = baseline::relay_latency(services, at, seconds, args.concurrency, &body).await?;
            println!("scenario 2: latency ({} s at {at:.1} docs/s; scenario 1: {rate:.1})", args.latency_secs);
            report.add("latency", "rate_ratio_to_throughput", at / rate, "x scenario 1's rate");
            scenarios::latency(services, &mut pipe, at, seconds, done, report).await?;
            scenarios::latency_ratios(floor, report);
            let states = pipe.states().await?;
            done = ["normalized", "failed", "rejected"].iter().filter_map(|s| states.get(*s)).sum();
        }
        if args.runs("large") {
            println!("scenario 6: large object ({} MiB)", args.large_mib);
            large::large_object(services, &mut pipe, args.large_mib, report).await?;
            pipe.wait_terminal(done + 1, Duration::from_millis(100), pipe.stall).await?;
        }
        anyhow::Ok(())
    }
    .await;
    pipe.stop(services).await;
    outcome?;

    // Scenario 7 holds the breaker closed (a threshold it never reaches): what retries
    // cost. Scenario 8 runs the same with docflow's default breaker.
    for (scenario, breaker_failures) in [("retry", Some(u32::MAX)), ("breaker", None)] {
        if !args.runs(scenario) {
            continue;
        }
        println!("scenario {scenario}: {} documents, provider failing half the attempts", args.retry_docs);
        let options = DocflowOptions { transfer_max_deliver: 20, breaker_failures, ..options.clone() };
        let mut pipe =
            Pipeline::start(services, scenario, &[delay[0], delay[1], "--error-rate", "0.5", "--seed", "7"], &options)
                .await?;
        let outcome = scenarios::retry(services, &mut pipe, args.retry_docs, settle, scenario, report).await;
        pipe.stop(services).await;
        outcome?;
    }
    if args.runs("two") {
        let documents = args.two_docs.unwrap_or(args.docs / 2).max(2);
        println!("scenario 9: two docflow run processes ({documents} documents)");
        let options = DocflowOptions { processes: 2, ..options };
        let mut pipe = Pipeline::start(services, "two", &delay, &options).await?;
        let outcome = scenarios::two_processes(services, &mut pipe, documents, settle, report).await;
        pipe.stop(services).await;
        outcome?;
    }
    if args.runs("edge") {
        println!("scenario 10: the edge box, docflow dev ({} documents)", args.edge_docs());
        // Its data directory goes with the logs when they are kept, else with the bench's files.
        let base = if services.keep { &services.logs } else { services.dir.path() };
        let run = edge::EdgeRun {
            docflow_bin: &services.docflow_bin,
            nats_server: &args.nats_server,
            documents: args.edge_docs(),
            stall: Duration::from_secs(args.stall_secs),
            logs: &services.logs,
            base,
        };
        edge::edge(&run, report).await?;
    }
    Ok(())
}
