//! Scenarios 1–5 and 7 on a running [`Pipeline`]: throughput (with its database and
//! memory footprint), latency at a steady rate, idle cost, and the cost of retries.
//! Objects are put into the bucket before the clock starts; the clock runs from the first
//! MinIO event published to the last document's `normalized` commit (its `updated_at`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;

use crate::disk::{self, FsyncProbe};
use crate::natsmon::NatsOps;
use crate::pg::DbCounters;
use crate::procs;
use crate::report::Report;
use crate::rig::{self, OwnCounters, Pipeline, Services, Upload};

const POLL: Duration = Duration::from_millis(20);

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// What one batch cost docflow: wall time, CPU, database work.
pub struct Batch {
    pub documents: usize,
    pub normalized: i64,
    pub failed: i64,
    pub stuck: i64,
    pub seconds: f64,
    pub docflow_cpu: f64,
    pub sim_cpu: f64,
    pub nats_cpu: f64,
    pub db: DbCounters,
    pub max_connections: i64,
    pub peak_rss: u64,
    /// What docflow counted itself: progress sent to keep deliveries while they waited
    /// or ran, statements sent by each stage.
    pub own: OwnCounters,
    /// What nats-server counted: messages in and out, JetStream API requests.
    pub nats: NatsOps,
}

/// Publishes every upload as fast as the stream acks (64 acks outstanding), waits until
/// all are terminal, then `settle`s so the server's counters include the last writes.
pub async fn run_batch(
    services: &Services,
    pipe: &mut Pipeline,
    uploads: &[Upload],
    already: i64,
    settle: Duration,
) -> Result<Batch> {
    let pids = (pipe.docflow_pid(), pipe.sim.pid(), services.nats.pid().unwrap_or(0));
    let others: Vec<u32> = pipe.others.iter().map(|(p, _)| p.pid()).collect();
    // Every `docflow run` process's CPU counts as docflow's.
    let docflow_cpu = || procs::cpu_seconds(pids.0) + others.iter().map(|p| procs::cpu_seconds(*p)).sum::<f64>();
    let cpu = || (docflow_cpu(), procs::cpu_seconds(pids.1), procs::cpu_seconds(pids.2));
    let states0 = pipe.states().await?;
    let db0 = pipe.counters(services).await?;
    let queries0 = pipe.bench_queries.load(Ordering::Relaxed);
    // Read before the CPU clock starts: rendering /metrics is not docflow's work.
    let own0 = pipe.own_counters().await?;
    let nats0 = NatsOps::read(&services.nats_monitor).await?;
    let cpu0 = cpu();
    let stop = AtomicBool::new(false);
    let db_name = pipe.db_name.clone();
    let start = now_micros();

    let work = async {
        let published =
            futures_util::stream::iter(uploads.iter().map(|u| pipe.announce(u))).buffered(64).collect::<Vec<_>>().await;
        published.into_iter().collect::<Result<Vec<()>>>()?;
        let states = pipe.wait_terminal(already + uploads.len() as i64, POLL, pipe.stall).await;
        stop.store(true, Ordering::Relaxed);
        states
    };
    let sampler = async {
        let (mut connections, mut rss) = (0i64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            connections = connections.max(services.admin.connections(&db_name).await.unwrap_or(0));
            rss = rss.max(procs::memory(&pids.0.to_string()).0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (connections, rss)
    };
    let (states, (max_connections, peak_rss)) = tokio::join!(work, sampler);
    let cpu1 = cpu();
    let nats = NatsOps::read(&services.nats_monitor).await?.minus(nats0);
    let settled = states?;
    let before = |state: &str| states0.get(state).copied().unwrap_or(0);
    let normalized_at = pipe.normalized_times().await?;
    let last = normalized_at.values().copied().max().unwrap_or(start);
    let seconds = (last - start) as f64 / 1e6;
    tokio::time::sleep(settle).await;
    let queries = pipe.bench_queries.load(Ordering::Relaxed) - queries0;
    let mut db = pipe.counters(services).await?.minus(&db0);
    db.xact_commit -= queries;
    Ok(Batch {
        documents: uploads.len(),
        normalized: settled.count("normalized") - before("normalized"),
        failed: settled.count("failed") + settled.count("rejected") - before("failed") - before("rejected"),
        stuck: settled.stuck,
        seconds,
        docflow_cpu: cpu1.0 - cpu0.0,
        sim_cpu: cpu1.1 - cpu0.1,
        nats_cpu: cpu1.2 - cpu0.2,
        db,
        max_connections,
        peak_rss: peak_rss.max(procs::memory(&pids.0.to_string()).1),
        own: pipe.own_counters().await?.minus(&own0),
        nats,
    })
}

/// Scenarios 1, 3 and 5: returns documents per second.
pub async fn throughput(
    services: &Services,
    pipe: &mut Pipeline,
    documents: usize,
    settle: Duration,
    serial_relay: f64,
    report: &mut Report,
) -> Result<f64> {
    let uploads = rig::put_small(services, &format!("{}-s1", pipe.prefix), 0..documents).await?;
    let batch = run_batch(services, pipe, &uploads, 0, settle).await?;
    let n = batch.documents as f64;
    let rate = batch.normalized as f64 / batch.seconds;
    report.add("throughput", "documents", n, "docs");
    report.add("throughput", "normalized", batch.normalized as f64, "docs");
    report.add("throughput", "failed", batch.failed as f64, "docs (target 0)");
    report.add("throughput", "stuck", batch.stuck as f64, "docs never terminal (target 0)");
    report.add("throughput", "documents_per_s", rate, "docs/s");
    report.add("throughput", "throughput_ratio_to_relay", rate / serial_relay, "x serial relay");
    report.add("throughput", "docflow_cpu_ms_per_doc", batch.docflow_cpu * 1000.0 / n, "ms");
    report.add("throughput", "docflow_cpu_utilisation", batch.docflow_cpu / batch.seconds, "cores");
    report.add("throughput", "provider_sim_cpu_ms_per_doc", batch.sim_cpu * 1000.0 / n, "ms");
    report.add("throughput", "nats_server_cpu_ms_per_doc", batch.nats_cpu * 1000.0 / n, "ms");
    report.add(
        "throughput",
        "progress_per_doc",
        batch.own.progress / n,
        "+WPI sent per document (deliveries kept while their step ran)",
    );
    report.add(
        "throughput",
        "pull_requests_per_doc",
        batch.own.pulls / n,
        "pull requests sent per document, all stages",
    );
    report_nats(report, "throughput", &batch);
    // The host's speed drifts from run to run; this ratio does not move with it.
    report.add(
        "throughput",
        "docflow_cpu_ratio_to_nats_server",
        batch.docflow_cpu / batch.nats_cpu,
        "x nats-server's CPU for the same documents",
    );

    report.add("db", "max_connections_held", batch.max_connections as f64, "connections (pool max 4)");
    report.add("db", "statements_per_doc", batch.own.all_statements() / n, "statements (target <= 12)");
    for (stage, statements) in &batch.own.statements {
        report.add("db", &format!("statements_per_doc_{stage}"), statements / n, "statements");
    }
    for (stage, size) in batch.own.transitions_per_commit() {
        report.add("db", &format!("transitions_per_commit_{stage}"), size, "transitions per group commit transaction");
    }
    let write_commits: f64 = batch.own.group_commits.values().sum();
    report.add(
        "db",
        "write_commits_per_doc",
        write_commits / n,
        "group commit's transactions per document (transactions_per_doc also counts autocommitted reads)",
    );
    match batch.db.statements {
        Some(statements) => {
            report.add("db", "pg_stat_statements_per_doc", statements as f64 / n, "statements");
            report.note("db", "measure", "statements: docflow's pool counter (docflow_db_statements_total) and pg_stat_statements calls");
        }
        None => report.note("db", "measure", "statements: docflow's pool counter (docflow_db_statements_total, by stage); transactions from pg_stat_database.xact_commit (minus the bench's own queries), rows from tup_inserted+tup_updated+tup_deleted"),
    }
    report.add("db", "transactions_per_doc", batch.db.xact_commit as f64 / n, "commits");
    report.add("db", "rollbacks_per_doc", batch.db.xact_rollback as f64 / n, "rollbacks");
    report.add("db", "rows_written_per_doc", batch.db.rows_written() as f64 / n, "rows");

    report.add("memory", "peak_rss_mib", batch.peak_rss as f64 / (1 << 20) as f64, "MiB (VmHWM)");
    Ok(rate)
}

/// JetStream's work per document, as nats-server counted it, and as a ratio to the
/// serial relay's per message (three stages, each a publish, its ack and the consume).
fn report_nats(report: &mut Report, scenario: &str, batch: &Batch) {
    let n = batch.documents as f64;
    let messages = batch.nats.messages / n;
    report.add(scenario, "nats_messages_per_doc", messages, "messages in + out of nats-server per document");
    report.add(scenario, "jetstream_api_per_doc", batch.nats.api / n, "JetStream API requests per document");
    if let Some(relay) = report.get("baseline", "serial_relay_nats_messages_per_msg") {
        report.add(scenario, "nats_messages_ratio_to_relay", messages / relay, "x the serial relay's per message");
    }
}

/// Scenario 4: nothing to do for `duration`.
pub async fn idle(services: &Services, pipe: &Pipeline, duration: Duration, report: &mut Report) -> Result<()> {
    let (pid, nats) = (pipe.docflow_pid(), services.nats.pid().unwrap_or(0));
    let db0 = pipe.counters(services).await?;
    let own0 = pipe.own_counters().await?;
    let (cpu0, nats0) = (procs::cpu_seconds(pid), procs::cpu_seconds(nats));
    tokio::time::sleep(duration).await;
    let (cpu1, nats1) = (procs::cpu_seconds(pid), procs::cpu_seconds(nats));
    let own = pipe.own_counters().await?.minus(&own0);
    let db = pipe.counters(services).await?.minus(&db0);
    report.add("idle", "seconds", duration.as_secs_f64(), "s");
    report.add("idle", "docflow_cpu_s", cpu1 - cpu0, "CPU s (target 0)");
    report.add("idle", "nats_server_cpu_s", nats1 - nats0, "CPU s");
    report.add("idle", "transactions", db.xact_commit as f64, "commits (target 0)");
    report.add("idle", "docflow_statements", own.all_statements(), "statements, pool counter (target 0)");
    if let Some(statements) = db.statements {
        report.add("idle", "statements", statements as f64, "statements (target 0)");
    }
    report.add("memory", "rss_after_load_mib", procs::memory(&pid.to_string()).0 as f64 / (1 << 20) as f64, "MiB");
    Ok(())
}

/// Scenario 2: `rate` documents per second for `duration`; percentiles of the time from
/// an event's publication to its document's `normalized` commit.
pub async fn latency(
    services: &Services,
    pipe: &mut Pipeline,
    rate: f64,
    duration: Duration,
    already: i64,
    report: &mut Report,
) -> Result<()> {
    let count = ((rate * duration.as_secs_f64()).round() as usize).max(1);
    let uploads = rig::put_small(services, &format!("{}-s2", pipe.prefix), 0..count).await?;
    let probe = FsyncProbe::start(services.dir.path(), Duration::from_millis(50))?;
    let own0 = pipe.own_counters().await?;
    let subject = format!("{}.uploads.minio", pipe.prefix);
    let mut sent = Vec::with_capacity(count);
    let offered = rig::publish_paced(&pipe.js, rate, count, |i| {
        sent.push((uploads[i].key.clone(), now_micros()));
        (subject.clone(), rig::event_body(&uploads[i]))
    })
    .await?;
    let settled = pipe.wait_terminal(already + count as i64, POLL, pipe.stall).await?;
    let fsyncs = probe.finish()?;
    let progress = pipe.own_counters().await?.minus(&own0).progress;
    let normalized_at = pipe.normalized_times().await?;
    let provider = pipe.provider_times(&format!("{}-s2", pipe.prefix)).await?;
    // (end to end, the provider's own time) per normalized document.
    let timed: Vec<(f64, f64, i64)> = sent
        .iter()
        .filter_map(|(key, at)| {
            let total = (normalized_at.get(key)? - at) as f64 / 1000.0;
            Some((total, provider.get(key).copied().unwrap_or(0.0), *at))
        })
        .collect();
    let latencies = sorted(timed.iter().map(|(total, own, _)| total - own).collect());
    let raw = sorted(timed.iter().map(|(total, _, _)| *total).collect());
    let own = sorted(timed.iter().map(|(_, own, _)| *own).collect());
    // Whether the slowest 1 % come in bursts (a stall of the machine or of one component
    // holds up everything in flight) or spread over the run (queueing).
    let p99 = percentile(&latencies, 0.99);
    let slow_seconds: BTreeSet<i64> =
        timed.iter().filter(|(total, own, _)| total - own >= p99).map(|(_, _, at)| at / 1_000_000).collect();
    let pct = |p: f64| percentile(&latencies, p);
    report.add("latency", "rate_per_s", rate, "docs/s (half of throughput)");
    report.add("latency", "offered_rate_per_s", offered, "docs/s (publishing, measured)");
    report.add("latency", "documents", latencies.len() as f64, "normalized");
    report.add("latency", "stuck", settled.stuck as f64, "docs never terminal (target 0)");
    report.add("latency", "p50_ms", pct(0.50), "ms (event published to normalized, minus the provider's own time)");
    report.add("latency", "p90_ms", pct(0.90), "ms");
    report.add("latency", "p99_ms", pct(0.99), "ms (target < 25)");
    report.add("latency", "max_ms", latencies.last().copied().unwrap_or(f64::NAN), "ms");
    report.add("latency", "end_to_end_p50_ms", percentile(&raw, 0.50), "ms (the provider's time included)");
    report.add("latency", "end_to_end_p99_ms", percentile(&raw, 0.99), "ms");
    report.add(
        "latency",
        "provider_own_p50_ms",
        percentile(&own, 0.50),
        "ms (job created to first callback, at the simulator)",
    );
    report.add("latency", "provider_own_p99_ms", percentile(&own, 0.99), "ms");
    report.add("latency", "progress_per_doc", progress / count as f64, "+WPI sent per document");
    report.add("latency", "slowest_1pct_in_seconds", slow_seconds.len() as f64, "distinct seconds of publication");
    disk_stalls(&fsyncs, &slow_seconds, report);
    stage_breakdown(pipe, &format!("{}-s2", pipe.prefix), &sent, report).await
}

/// Scenario 2 against the latency relay's floor (`baseline::relay_latency`): what the
/// machine gives any three-stage JetStream and PostgreSQL pipeline at the same rate in
/// the same run, so a tail that is the machine's shows as a ratio near the p50's.
pub fn latency_ratios(floor: Vec<f64>, report: &mut Report) {
    let floor = sorted(floor);
    let what = "ms (relay through 3 streams, one upsert commit per stage, at scenario 2's rate)";
    for (p, key) in [(0.50, "p50"), (0.90, "p90"), (0.99, "p99")] {
        let base = percentile(&floor, p);
        report.add("baseline", &format!("relay_commit_latency_{key}_ms"), base, if key == "p50" { what } else { "ms" });
        if let Some(docflow) = report.get("latency", &format!("{key}_ms")) {
            report.add(
                "latency",
                &format!("{key}_ratio_to_baseline"),
                docflow / base,
                "x the relay's (same percentile)",
            );
        }
    }
}

/// The disk under the NATS store (and, on one-disk machines, PostgreSQL): fsync times
/// during the scenario, and the worst fsync within the seconds the slowest 1 % were
/// published against the other seconds' typical worst (much higher: the tail is the disk).
fn disk_stalls(fsyncs: &[disk::Sample], slow_seconds: &BTreeSet<i64>, report: &mut Report) {
    let all = sorted(fsyncs.iter().map(|(_, ms)| *ms).collect());
    let mut worst_per_second: BTreeMap<i64, f64> = BTreeMap::new();
    for (at, ms) in fsyncs {
        let worst = worst_per_second.entry(at / 1_000_000).or_insert(0.0);
        *worst = worst.max(*ms);
    }
    let (slow, other): (Vec<_>, Vec<_>) =
        worst_per_second.iter().partition(|(second, _)| slow_seconds.contains(second));
    let slow_worst = slow.iter().map(|(_, ms)| **ms).fold(f64::NAN, f64::max);
    let other_worst = sorted(other.iter().map(|(_, ms)| **ms).collect());
    let what = "ms (fsync of 4 KiB in the bench's temporary directory, 20 per second)";
    report.add("latency", "disk_fsync_p50_ms", percentile(&all, 0.50), what);
    report.add("latency", "disk_fsync_p99_ms", percentile(&all, 0.99), "ms");
    report.add("latency", "disk_fsync_max_ms", all.last().copied().unwrap_or(f64::NAN), "ms");
    report.add(
        "latency",
        "disk_fsync_worst_in_slowest_seconds_ms",
        slow_worst,
        "ms (worst fsync within the seconds the slowest 1 % were published)",
    );
    report.add(
        "latency",
        "disk_fsync_worst_in_other_seconds_p50_ms",
        percentile(&other_worst, 0.50),
        "ms (median over the other seconds of each one's worst fsync)",
    );
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// The `p` percentile (nearest rank) of `sorted` values; NaN when there are none.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN)
}

/// Where the time goes: for each step between two timeline states (the event's
/// publication first), its p50 and p99, and how many of the slowest 1 % of documents
/// spent their longest step there.
async fn stage_breakdown(pipe: &Pipeline, prefix: &str, sent: &[(String, i64)], report: &mut Report) -> Result<()> {
    const STEPS: [(&str, &str, &str); 5] = [
        ("to_received", "published", "received"),
        ("to_submitted", "received", "submitted"),
        ("to_processed", "submitted", "processed"),
        ("to_validated", "processed", "validated"),
        ("to_normalized", "validated", "normalized"),
    ];
    let timelines = pipe.timelines(prefix).await?;
    let mut gaps: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    let mut totals: Vec<(f64, usize)> = Vec::new();
    for (key, published) in sent {
        let Some(times) = timelines.get(key) else { continue };
        let at = |state: &str| if state == "published" { Some(*published) } else { times.get(state).copied() };
        let steps: Option<Vec<f64>> =
            STEPS.iter().map(|(_, from, to)| Some((at(to)? - at(from)?) as f64 / 1000.0)).collect();
        let Some(steps) = steps else { continue };
        for (gap, step) in gaps.iter_mut().zip(&steps) {
            gap.push(*step);
        }
        let longest = (0..steps.len()).max_by(|a, b| steps[*a].total_cmp(&steps[*b])).unwrap_or(0);
        totals.push((steps.iter().sum(), longest));
    }
    totals.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest = &totals[..totals.len().div_ceil(100)];
    for ((name, _, _), gap) in STEPS.iter().zip(gaps) {
        let gap = sorted(gap);
        let pct = |p: f64| percentile(&gap, p);
        report.add("latency", &format!("{name}_p50_ms"), pct(0.50), "ms");
        report.add("latency", &format!("{name}_p99_ms"), pct(0.99), "ms");
    }
    for (i, (name, _, _)) in STEPS.iter().enumerate() {
        let count = slowest.iter().filter(|(_, longest)| *longest == i).count();
        report.add("latency", &format!("slowest_1pct_longest_{name}"), count as f64, "docs");
    }
    Ok(())
}

/// Scenario 7 (`retry`): `documents` through a provider that answers 503 to half of the
/// submission attempts (`--error-rate 0.5`, drawn per key and attempt, so retries fail
/// half the time too), with the circuit breaker held closed (its threshold out of reach),
/// so the figure is what a retry costs. Compared with scenario 1's rate and database work
/// per document. Scenario 8 (`breaker`): the same with docflow's default breaker, which
/// opens under that failure rate; compared with scenario 7.
pub async fn retry(
    services: &Services,
    pipe: &mut Pipeline,
    documents: usize,
    settle: Duration,
    scenario: &str,
    report: &mut Report,
) -> Result<()> {
    let s1_rate = report.get("throughput", "documents_per_s").unwrap_or(f64::NAN);
    let s1_transfer_statements = report.get("db", "statements_per_doc_transfer").unwrap_or(f64::NAN);
    let s1_rows_per_doc = report.get("db", "rows_written_per_doc").unwrap_or(f64::NAN);
    let s1_cpu_per_doc = report.get("throughput", "docflow_cpu_ms_per_doc").unwrap_or(f64::NAN) / 1000.0;
    let uploads = rig::put_small(services, &format!("{}-{scenario}", pipe.prefix), 0..documents).await?;
    let batch = run_batch(services, pipe, &uploads, 0, settle).await?;
    let (attempts, retried_docs) = pipe.attempts("transfer").await?;
    let retries = attempts - batch.normalized;
    let n = documents as f64;
    let expected = n / s1_rate;
    report.add(scenario, "documents", n, "docs");
    report.add(scenario, "normalized", batch.normalized as f64, "docs");
    report.add(scenario, "failed", batch.failed as f64, "docs");
    report.add(scenario, "stuck", batch.stuck as f64, "docs never terminal");
    report.add(scenario, "retried_documents", retried_docs as f64, "docs");
    report.add(scenario, "retries", retries as f64, "failed submission attempts");
    report.add(scenario, "seconds", batch.seconds, "s");
    report.add(scenario, "seconds_at_s1_rate", expected, "s");
    report.add(
        scenario,
        "extra_ms_per_retried_doc",
        (batch.seconds - expected) * 1000.0 / retried_docs.max(1) as f64,
        "ms",
    );
    report.add(
        scenario,
        "docflow_cpu_ms_per_retry",
        (batch.docflow_cpu - s1_cpu_per_doc * n) * 1000.0 / retries.max(1) as f64,
        "ms over scenario 1's per document",
    );
    // Only transfer retries here (the provider refuses submissions). Its statements per
    // document do not depend on how the callback races the submission's record, as the
    // other stages' do; the rows written do not depend on it at all.
    report.add(
        scenario,
        "statements_per_retry",
        (batch.own.statements_of("transfer") - s1_transfer_statements * n) / retries.max(1) as f64,
        "transfer's statements over scenario 1's per document (target 0)",
    );
    report.add(
        scenario,
        "rows_written_per_retry",
        (batch.db.rows_written() as f64 - s1_rows_per_doc * n) / retries.max(1) as f64,
        "rows over scenario 1's per document (target 0)",
    );
    report.add(scenario, "statements_per_doc", batch.own.all_statements() / n, "statements, every stage");
    report.add(scenario, "rows_written_per_doc", batch.db.rows_written() as f64 / n, "rows");
    report.add(scenario, "transactions_per_doc", batch.db.xact_commit as f64 / n, "commits");
    report.add(scenario, "docflow_cpu_ms_per_doc", batch.docflow_cpu * 1000.0 / n, "ms");
    report.add(scenario, "nats_server_cpu_ms_per_doc", batch.nats_cpu * 1000.0 / n, "ms");
    report.add(scenario, "provider_calls_per_doc", attempts as f64 / n, "submission attempts per document");
    report_nats(report, scenario, &batch);
    if scenario != "retry" {
        // Against the breaker held closed, measured just before on the same documents' count.
        for figure in ["seconds", "provider_calls_per_doc", "normalized", "docflow_cpu_ms_per_doc"] {
            if let (Some(this), Some(closed)) = (report.get(scenario, figure), report.get("retry", figure)) {
                report.add(
                    scenario,
                    &format!("{figure}_ratio_to_closed"),
                    this / closed,
                    "x the retry scenario's (breaker closed)",
                );
            }
        }
    }
    Ok(())
}

/// Scenario 9: two `docflow run` processes on the same streams and database (2 cores
/// cannot show a speed-up): each process's share of the deliveries, every document
/// normalized exactly once and submitted once, and the rate and CPU per document as
/// ratios to scenario 1's single process.
pub async fn two_processes(
    services: &Services,
    pipe: &mut Pipeline,
    documents: usize,
    settle: Duration,
    report: &mut Report,
) -> Result<()> {
    let uploads = rig::put_small(services, &format!("{}-s9", pipe.prefix), 0..documents).await?;
    let handled0 = pipe.handled_by_process().await?;
    let batch = run_batch(services, pipe, &uploads, 0, settle).await?;
    let handled: Vec<f64> = pipe.handled_by_process().await?.iter().zip(&handled0).map(|(a, b)| a - b).collect();
    let total: f64 = handled.iter().sum();
    let n = documents as f64;
    let (not_once, submitted_twice) = pipe.not_exactly_once().await?;
    let rate = batch.normalized as f64 / batch.seconds;
    report.add("two", "documents", n, "docs");
    report.add("two", "normalized", batch.normalized as f64, "docs");
    report.add("two", "stuck", batch.stuck as f64, "docs never terminal (target 0)");
    report.add("two", "not_normalized_exactly_once", not_once as f64, "docs (target 0)");
    report.add("two", "submitted_more_than_once", submitted_twice as f64, "docs (target 0)");
    for (i, h) in handled.iter().enumerate() {
        report.add("two", &format!("share_of_process_{}", i + 1), h / total.max(1.0), "of the deliveries handled");
    }
    report.add("two", "documents_per_s", rate, "docs/s");
    report.add("two", "docflow_cpu_ms_per_doc", batch.docflow_cpu * 1000.0 / n, "ms, both processes");
    report.add("two", "transactions_per_doc", batch.db.xact_commit as f64 / n, "commits");
    report_nats(report, "two", &batch);
    for (figure, of) in [("documents_per_s", "documents_per_s"), ("docflow_cpu_ms_per_doc", "docflow_cpu_ms_per_doc")] {
        if let (Some(this), Some(one)) = (report.get("two", figure), report.get("throughput", of)) {
            report.add("two", &format!("{figure}_ratio_to_one_process"), this / one, "x scenario 1 (one process)");
        }
    }
    Ok(())
}
