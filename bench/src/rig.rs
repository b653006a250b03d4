//! What the scenarios run on. [`Services`]: one nats-server of the bench's own (a port it picks,
//! temporary store), one S3 server ([`S3Server`]), the local PostgreSQL. [`Pipeline`]: a
//! provider-sim, a fresh database and stream prefix, `docflow setup` and one `docflow run`
//! process (every component), configured as the bench wants; documents go in as MinIO
//! would put them.

use std::collections::{BTreeMap, HashMap};
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use minio::s3::MinioClient;
use minio::s3::builders::ObjectContent;
use minio::s3::client::MinioClientBuilder;
use minio::s3::creds::StaticProvider;
use minio::s3::response_traits::HasEtagFromHeaders;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TryGetable};

use crate::pg::{self, Admin};
use docflow::dev::nats_server::{NatsServer, NatsServerOptions};

use crate::procs::{self, Process};
use crate::s3::S3Server;

pub const ACCESS_KEY: &str = "docflow-bench";
pub const SECRET_KEY: &str = "docflow-bench-secret";
pub const BUCKET: &str = "uploads";
const API_KEY: &str = "sim-api-key";
const CALLBACK_SECRET: &str = "sim-callback-secret";

/// How docflow runs in the bench.
#[derive(Debug, Clone)]
pub struct DocflowOptions {
    pub concurrency: usize,
    /// `runtime.worker_threads` (0: one per core).
    pub worker_threads: usize,
    pub backoff: String,
    pub transfer_max_deliver: u32,
    pub log_level: String,
    pub stall: Duration,
    /// Appended to docflow's database URL, e.g. `sslmode=disable`.
    pub database_query: Option<String>,
    /// `providers.sim.breaker.failures` (docflow's default when `None`).
    pub breaker_failures: Option<u32>,
    /// `docflow run` processes on the same streams and database (1: the usual).
    pub processes: usize,
}

/// Where the stand-ins for outside services (the S3 server, provider-sim) keep their files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StandIns {
    /// A directory on /dev/shm (tmpfs), when it has room; else disk, said so
    Memory,
    /// The bench's temporary directory, on the disk the NATS store (here PostgreSQL too) writes to
    Disk,
}

/// Where `StandIns::Memory` puts the stand-ins' files.
const SHM: &str = "/dev/shm";

impl StandIns {
    /// The directory to put the stand-ins' files in, and how the report names it.
    /// `Memory` falls back to disk when /dev/shm is missing or has less than `bytes` free.
    pub fn place(self, disk: &Path, bytes: u64) -> (PathBuf, String) {
        if self == StandIns::Memory {
            match rustix::fs::statvfs(SHM) {
                Ok(fs) if fs.f_bavail.saturating_mul(fs.f_frsize) >= bytes => {
                    return (PathBuf::from(SHM), format!("memory ({SHM}, tmpfs)"));
                }
                Ok(fs) => println!(
                    "docflow-bench: {SHM} has {} MiB free, {} MiB wanted: the stand-ins' files go on disk",
                    fs.f_bavail.saturating_mul(fs.f_frsize) >> 20,
                    bytes >> 20
                ),
                Err(e) => println!("docflow-bench: no {SHM} ({e}): the stand-ins' files go on disk"),
            }
        }
        (disk.to_path_buf(), "disk".to_owned())
    }
}

pub struct Services {
    pub dir: tempfile::TempDir,
    pub logs: PathBuf,
    pub nats_url: String,
    pub nats: NatsServer,
    /// nats-server's monitoring endpoint (`/varz`, `/jsz`).
    pub nats_monitor: String,
    pub s3_endpoint: String,
    pub s3: MinioClient,
    _s3_process: Process,
    /// Where the stand-ins for outside services keep their files (the S3 server's objects,
    /// provider-sim's jobs; removed at the end), and what the report calls that place.
    pub stand_ins: tempfile::TempDir,
    pub stand_ins_place: String,
    pub admin: Admin,
    pub docflow_bin: PathBuf,
    /// Keep the pipelines' databases (with `--logs`: everything to look into afterwards).
    pub keep: bool,
}

impl Services {
    /// `logs`: where the processes' logs go (and stay); by default in the temporary
    /// directory, removed at the end.
    /// `stand_in_bytes`: room the stand-ins' files may need (for `StandIns::Memory`).
    pub async fn start(
        nats_server: &str,
        s3_server: S3Server,
        stand_ins: StandIns,
        stand_in_bytes: u64,
        logs: Option<&Path>,
    ) -> Result<Services> {
        let dir = tempfile::Builder::new().prefix("docflow-bench-").tempdir()?;
        let logs_given = logs.is_some();
        let logs = logs.map_or_else(|| dir.path().join("logs"), Path::to_path_buf);
        std::fs::create_dir_all(&logs)?;
        let docflow_bin = procs::docflow_binary()?;

        let mut options = NatsServerOptions::new(nats_server, dir.path().join("nats"));
        options.log = Some(logs.join("nats-server.log"));
        let monitor_port = procs::free_port()?;
        options.args = vec!["-m".into(), monitor_port.to_string()];
        let nats = NatsServer::launch(options).await.context("nats-server did not start")?;

        let (base, stand_ins_place) = stand_ins.place(dir.path(), stand_in_bytes);
        let stand_ins = tempfile::Builder::new().prefix("docflow-bench-stand-ins-").tempdir_in(&base)?;
        let s3_dir = stand_ins.path().join("s3");
        std::fs::create_dir_all(&s3_dir)?;
        let (s3_process, s3_endpoint) = s3_server.start(&logs, &s3_dir).await?;
        let s3 = s3_client(&s3_endpoint, ACCESS_KEY, SECRET_KEY)?;
        let admin = Admin::connect().await?;
        Ok(Services {
            dir,
            logs,
            nats_url: nats.url().to_owned(),
            nats_monitor: format!("http://127.0.0.1:{monitor_port}"),
            nats,
            s3_endpoint,
            s3,
            _s3_process: s3_process,
            stand_ins,
            stand_ins_place,
            admin,
            docflow_bin,
            keep: logs_given,
        })
    }

    pub async fn jetstream(&self) -> Result<async_nats::jetstream::Context> {
        Ok(async_nats::jetstream::new(async_nats::connect(&self.nats_url).await?))
    }
}

/// Documents per state once a batch has ended, and how many never did.
pub struct Settled {
    pub states: BTreeMap<String, i64>,
    pub stuck: i64,
}

impl Settled {
    pub fn count(&self, state: &str) -> i64 {
        self.states.get(state).copied().unwrap_or(0)
    }
}

/// One document put into the bucket and not yet announced.
#[derive(Debug, Clone)]
pub struct Upload {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub content_type: &'static str,
}

pub struct Pipeline {
    pub name: String,
    pub prefix: String,
    pub db_name: String,
    pub db: DatabaseConnection,
    /// Queries the bench made on the database (each one a transaction docflow did not make).
    pub bench_queries: Arc<AtomicI64>,
    pub statement_stats: bool,
    pub env: HashMap<String, String>,
    pub sim_url: String,
    pub sim: Process,
    pub docflow: Process,
    /// docflow's admin listener, for `/metrics`.
    pub admin_url: String,
    /// The other `docflow run` processes (`DocflowOptions::processes`) and their admin URLs.
    pub others: Vec<(Process, String)>,
    pub js: async_nats::jetstream::Context,
    /// How long a batch may make no progress before its remaining documents count as stuck.
    pub stall: Duration,
}

impl Pipeline {
    pub async fn start(
        services: &Services,
        name: &str,
        sim_flags: &[&str],
        options: &DocflowOptions,
    ) -> Result<Pipeline> {
        let prefix = format!("b{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (db_name, db_url) = services.admin.fresh_database().await?;

        let mut sim_args: Vec<String> =
            ["provider-sim", "--listen", "127.0.0.1:0", "--api-key", API_KEY, "--callback-secret", CALLBACK_SECRET]
                .map(String::from)
                .to_vec();
        sim_args.extend([
            "--data-dir".to_owned(),
            services.stand_ins.path().join(format!("sim-{name}")).display().to_string(),
        ]);
        sim_args.extend(sim_flags.iter().map(|f| f.to_string()));
        let (sim, sim_url) = procs::spawn_announcing(
            &services.logs,
            &format!("provider-sim-{name}"),
            &services.docflow_bin,
            &sim_args,
            "listening on ",
        )
        .await?;

        let gateway_port = procs::free_port()?;
        let admin_port = procs::free_port()?;
        let backoff = options.backoff.clone();
        let mut env: HashMap<String, String> = HashMap::from([
            ("DOCFLOW__LOG__LEVEL".into(), options.log_level.clone()),
            ("DOCFLOW__GATEWAY__LISTEN".into(), format!("127.0.0.1:{gateway_port}")),
            ("DOCFLOW__GATEWAY__PUBLIC_URL".into(), format!("http://127.0.0.1:{gateway_port}")),
            ("DOCFLOW__ADMIN__LISTEN".into(), format!("127.0.0.1:{admin_port}")),
            ("DOCFLOW__GATEWAY__TOKENS".into(), "[{token = \"bench-token\", role = \"evaluator\"}]".into()),
            ("DOCFLOW__NATS__URL".into(), services.nats_url.clone()),
            ("DOCFLOW__NATS__PREFIX".into(), prefix.clone()),
            (
                "DOCFLOW__DATABASE__URL".into(),
                match &options.database_query {
                    Some(query) => format!("{db_url}?{query}"),
                    None => db_url.clone(),
                },
            ),
            ("DOCFLOW__S3__ENDPOINT".into(), services.s3_endpoint.clone()),
            ("DOCFLOW__S3__ACCESS_KEY".into(), ACCESS_KEY.into()),
            ("DOCFLOW__S3__SECRET_KEY".into(), SECRET_KEY.into()),
            ("DOCFLOW__S3__UPLOADS_BUCKET".into(), BUCKET.into()),
            ("DOCFLOW__S3__RESULTS_BUCKET".into(), "results".into()),
            // The 1 GiB object is one GET; the default 60 s would bound the transfer rate.
            ("DOCFLOW__S3__REQUEST_TIMEOUT".into(), "10m".into()),
            ("DOCFLOW__PROVIDERS__SIM__BASE_URL".into(), sim_url.clone()),
            ("DOCFLOW__PROVIDERS__SIM__API_KEY".into(), API_KEY.into()),
            ("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET".into(), CALLBACK_SECRET.into()),
            ("DOCFLOW__PROVIDERS__SIM__DELIVERY".into(), "upload".into()),
            ("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS".into(), sim_url.trim_start_matches("http://").to_owned()),
            ("DOCFLOW__SHUTDOWN__GRACE".into(), "2s".into()),
            ("DOCFLOW__RUNTIME__WORKER_THREADS".into(), options.worker_threads.to_string()),
        ]);
        for stage in ["TRANSFER", "VALIDATE", "NORMALIZE", "WATCHDOG"] {
            env.insert(format!("DOCFLOW__STAGES__{stage}__BACKOFF"), backoff.clone());
        }
        for stage in ["TRANSFER", "VALIDATE", "NORMALIZE"] {
            env.insert(format!("DOCFLOW__STAGES__{stage}__CONCURRENCY"), options.concurrency.to_string());
            env.insert(
                format!("DOCFLOW__STAGES__{stage}__MAX_ACK_PENDING"),
                (options.concurrency * 4).max(64).to_string(),
            );
        }
        env.insert("DOCFLOW__STAGES__TRANSFER__MAX_DELIVER".into(), options.transfer_max_deliver.to_string());
        if let Some(failures) = options.breaker_failures {
            env.insert("DOCFLOW__PROVIDERS__SIM__BREAKER__FAILURES".into(), failures.to_string());
        }
        let pairs: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();

        let mut setup = procs::spawn(
            &services.logs,
            &format!("setup-{name}"),
            &services.docflow_bin,
            &["setup".to_owned()],
            &pairs,
        )?;
        setup.wait_success(Duration::from_secs(120)).await?;
        let docflow = procs::spawn(
            &services.logs,
            &format!("docflow-run-{name}"),
            &services.docflow_bin,
            &["run".to_owned()],
            &pairs,
        )?;
        procs::wait_for_port(gateway_port, Duration::from_secs(30))
            .await
            .context("docflow run did not start its gateway")?;
        // More processes on the same streams and database, each on ports of its own.
        let mut others = Vec::new();
        for n in 2..=options.processes {
            let (gateway, admin) = (procs::free_port()?, procs::free_port()?);
            let mut pairs = pairs.clone();
            for (key, value) in &mut pairs {
                match key.as_str() {
                    "DOCFLOW__GATEWAY__LISTEN" => *value = format!("127.0.0.1:{gateway}"),
                    "DOCFLOW__ADMIN__LISTEN" => *value = format!("127.0.0.1:{admin}"),
                    _ => {}
                }
            }
            let process = procs::spawn(
                &services.logs,
                &format!("docflow-run-{name}-{n}"),
                &services.docflow_bin,
                &["run".to_owned()],
                &pairs,
            )?;
            procs::wait_for_port(gateway, Duration::from_secs(30))
                .await
                .with_context(|| format!("docflow run (process {n}) did not start its gateway"))?;
            others.push((process, format!("http://127.0.0.1:{admin}")));
        }

        let db = pg::connect(&pg::bench_url(&db_url), 2).await?;
        let statement_stats = pg::try_statement_stats(&db).await;
        Ok(Pipeline {
            name: name.to_owned(),
            prefix,
            db_name,
            db,
            bench_queries: Arc::new(AtomicI64::new(0)),
            statement_stats,
            env,
            sim_url,
            sim,
            docflow,
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            others,
            js: services.jetstream().await?,
            stall: options.stall,
        })
    }

    pub fn docflow_pid(&self) -> u32 {
        self.docflow.pid()
    }

    pub async fn counters(&self, services: &Services) -> Result<pg::DbCounters> {
        let stats = if self.statement_stats { Some(&self.db) } else { None };
        services.admin.counters(&self.db_name, stats).await
    }

    /// Documents per state, from the database.
    pub async fn states(&self) -> Result<BTreeMap<String, i64>> {
        self.pairs("SELECT state, count(*)::bigint FROM documents GROUP BY state").await
    }

    /// Rows of two columns (text, bigint, ...) from one of the bench's own queries,
    /// counted so that the commits it causes are not charged to docflow.
    async fn pairs<A: TryGetable, B: TryGetable, C: FromIterator<(A, B)>>(&self, sql: &str) -> Result<C> {
        self.bench_queries.fetch_add(1, Ordering::Relaxed);
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db.get_database_backend(), format!("/* docflow-bench */ {sql}")))
            .await?;
        rows.iter().map(|r| Ok((r.try_get_by_index::<A>(0)?, r.try_get_by_index::<B>(1)?))).collect()
    }

    /// Polls until `expected` documents are in a terminal state, or until nothing has
    /// moved for `stall` (documents stuck; the caller reports them). Fails when docflow
    /// exits or nothing at all ends.
    pub async fn wait_terminal(&mut self, expected: i64, poll: Duration, stall: Duration) -> Result<Settled> {
        let mut last = (BTreeMap::new(), Instant::now());
        loop {
            let states = self.states().await?;
            let terminal: i64 = ["normalized", "failed", "rejected"].iter().filter_map(|s| states.get(*s)).sum();
            if terminal >= expected {
                return Ok(Settled { states, stuck: 0 });
            }
            if states != last.0 {
                last = (states, Instant::now());
            } else if last.1.elapsed() > stall {
                if terminal == 0 {
                    bail!("pipeline {}: no document ended within {stall:?}: {states:?}", self.name);
                }
                eprintln!("pipeline {}: {} documents stuck for {stall:?}: {states:?}", self.name, expected - terminal);
                return Ok(Settled { states, stuck: expected - terminal });
            }
            if self.docflow.exited() {
                bail!("docflow run exited:\n{}", self.docflow.log_tail(40));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// `updated_at` of normalized documents by key, as unix microseconds.
    pub async fn normalized_times(&self) -> Result<HashMap<String, i64>> {
        self.pairs(
            "SELECT key, (extract(epoch FROM updated_at) * 1000000)::bigint FROM documents WHERE state = 'normalized'",
        )
        .await
    }

    /// The time each document of `prefix` reached each state, from docflow's timeline,
    /// as (key, state, unix microseconds) rows folded into `key -> state -> time`.
    pub async fn timelines(&self, prefix: &str) -> Result<HashMap<String, HashMap<String, i64>>> {
        let rows: Vec<(String, i64)> = self
            .pairs(&format!(
                "SELECT d.key || ' ' || e.state, (extract(epoch FROM e.at) * 1000000)::bigint \
                 FROM document_events e JOIN documents d ON d.id = e.document_id WHERE d.key LIKE '{prefix}%'"
            ))
            .await?;
        let mut out: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for (key_state, at) in rows {
            if let Some((key, state)) = key_state.rsplit_once(' ') {
                out.entry(key.to_owned()).or_default().insert(state.to_owned(), at);
            }
        }
        Ok(out)
    }

    /// The provider's own time per document key, in ms: from the simulator's job creation
    /// to its first callback (`GET /v1/_sim/jobs`), joined to the key by the job id.
    pub async fn provider_times(&self, prefix: &str) -> Result<HashMap<String, f64>> {
        let jobs: Vec<serde_json::Value> = reqwest::get(format!("{}/v1/_sim/jobs", self.sim_url)).await?.json().await?;
        let own: HashMap<String, f64> =
            jobs.iter().filter_map(|j| Some((j["job_id"].as_str()?.to_owned(), j["own_time_ms"].as_f64()?))).collect();
        let jobs_by_key: Vec<(String, String)> = self
            .pairs(&format!(
                "SELECT key, provider_job_id FROM documents WHERE key LIKE '{prefix}%' AND provider_job_id IS NOT NULL"
            ))
            .await?;
        Ok(jobs_by_key.into_iter().filter_map(|(key, job)| Some((key, *own.get(&job)?))).collect())
    }

    /// What docflow has counted so far on its `/metrics`.
    pub async fn own_counters(&self) -> Result<OwnCounters> {
        let text = reqwest::get(format!("{}/metrics", self.admin_url)).await?.error_for_status()?.text().await?;
        Ok(OwnCounters::parse(&text))
    }

    /// Deliveries each `docflow run` process handled (`docflow_stage_messages_total`,
    /// every stage and outcome), the first process first.
    pub async fn handled_by_process(&self) -> Result<Vec<f64>> {
        let mut handled = Vec::new();
        for url in std::iter::once(&self.admin_url).chain(self.others.iter().map(|(_, url)| url)) {
            let text = reqwest::get(format!("{url}/metrics")).await?.error_for_status()?.text().await?;
            handled.push(OwnCounters::parse(&text).messages);
        }
        Ok(handled)
    }

    /// Documents whose timeline does not hold exactly one `normalized` entry, and
    /// documents with more than one submission (each document must go through once).
    pub async fn not_exactly_once(&self) -> Result<(i64, i64)> {
        self.bench_queries.fetch_add(1, Ordering::Relaxed);
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                "/* docflow-bench */ SELECT
                   (SELECT count(*) FROM documents d WHERE (SELECT count(*) FROM document_events e WHERE e.document_id = d.id AND e.state = 'normalized') <> 1),
                   (SELECT count(*) FROM (SELECT document_id FROM submissions GROUP BY document_id HAVING count(*) > 1) s)"
                    .to_owned(),
            ))
            .await?
            .context("no row")?;
        Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
    }

    /// Total delivery attempts docflow recorded for `stage` over every document.
    pub async fn attempts(&self, stage: &str) -> Result<(i64, i64)> {
        self.bench_queries.fetch_add(1, Ordering::Relaxed);
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                format!("/* docflow-bench */ SELECT coalesce(sum((attempts->>'{stage}')::bigint), 0)::bigint, count(*) FILTER (WHERE (attempts->>'{stage}')::bigint > 1) FROM documents"),
            ))
            .await?
            .context("no row")?;
        Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
    }

    /// The state of the document of `key`, if docflow has one.
    pub async fn state_of(&self, key: &str) -> Result<Option<String>> {
        self.bench_queries.fetch_add(1, Ordering::Relaxed);
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "/* docflow-bench */ SELECT state FROM documents WHERE key = $1",
                [key.into()],
            ))
            .await?;
        Ok(row.map(|r| r.try_get_by_index::<String>(0)).transpose()?)
    }

    /// Publishes what MinIO's NATS target would for `upload`; returns when the stream acks.
    pub async fn announce(&self, upload: &Upload) -> Result<()> {
        let event = event_body(upload);
        self.js.publish(format!("{}.uploads.minio", self.prefix), event.into()).await?.await?;
        Ok(())
    }

    pub async fn stop(mut self, services: &Services) {
        self.docflow.stop(Duration::from_secs(5)).await;
        for (process, _) in &mut self.others {
            process.stop(Duration::from_secs(5)).await;
        }
        self.sim.stop(Duration::from_secs(2)).await;
        self.db.close_by_ref().await.ok();
        if services.keep {
            eprintln!("pipeline {}: database {} kept", self.name, self.db_name);
        } else {
            services.admin.drop_database(&self.db_name).await;
        }
    }
}

/// Publishes `count` messages at `rate` per second, the `n`th being what `message(n)`
/// returns when its time comes (so a timestamp it takes is the publication's), and waits
/// for every publish ack; the rate actually offered.
pub async fn publish_paced(
    js: &async_nats::jetstream::Context,
    rate: f64,
    count: usize,
    mut message: impl FnMut(usize) -> (String, Vec<u8>),
) -> Result<f64> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let mut acks = Vec::with_capacity(count);
    for n in 0..count {
        tokio::time::sleep_until(start + interval * n as u32).await;
        let (subject, body) = message(n);
        let ack = js.publish(subject, body.into()).await?;
        // Awaited as they come: the client lets at most 5000 publish acks wait, and a
        // publish beyond them waits for one to be awaited.
        acks.push(tokio::spawn(ack.into_future()));
    }
    for ack in acks {
        ack.await??;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

pub fn event_body(upload: &Upload) -> Vec<u8> {
    let event = docflow::events::minio::created_event(&docflow::events::minio::CreatedObject {
        event_name: "s3:ObjectCreated:Put",
        bucket: BUCKET,
        key: &upload.key,
        size: upload.size,
        etag: &upload.etag,
        content_type: upload.content_type,
        user_metadata: BTreeMap::new(),
        version_id: None,
        principal_id: ACCESS_KEY,
        source_ip: "127.0.0.1",
        user_agent: "docflow-bench",
        request_id: "0000000000000000",
        event_time: chrono::Utc::now(),
    });
    serde_json::to_vec(&event).expect("an event serializes")
}

/// The `i`th small document of a run: one in four a video, sizes spread over 4–64 KiB.
pub fn small_document(run: &str, i: usize) -> (String, Vec<u8>, &'static str) {
    let size = 4096 + (i * 7919) % (60 * 1024 + 1);
    if i % 4 == 3 {
        let mut bytes = vec![0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'm', b'p', b'4', b'2'];
        bytes.resize(size, (i % 251) as u8);
        (format!("{run}/trainee-{}/clip-{i}.mp4", i % 40), bytes, "video/mp4")
    } else {
        let line = format!("Lesson plan {i}: teh pupils wil recieve fractions with pizza slices.\n");
        let mut bytes = line.repeat(size / line.len() + 1).into_bytes();
        bytes.truncate(size);
        (format!("{run}/teacher-{}/plan-{i}.txt", i % 50), bytes, "text/plain")
    }
}

/// An S3 client of `endpoint` with one key pair.
pub fn s3_client(endpoint: &str, access_key: &str, secret_key: &str) -> Result<MinioClient> {
    Ok(MinioClientBuilder::new(endpoint.parse()?)
        .provider(Some(StaticProvider::new(access_key, secret_key, None)))
        .skip_region_lookup(true)
        .build()?)
}

/// Puts documents `range` of `run` into the bucket, 16 at a time (not timed).
pub async fn put_small(services: &Services, run: &str, range: std::ops::Range<usize>) -> Result<Vec<Upload>> {
    put_documents(&services.s3, BUCKET, run, range).await
}

/// Puts the small documents `range` of `run` into `bucket` through `s3`, 16 at a time.
pub async fn put_documents(
    s3: &MinioClient,
    bucket: &str,
    run: &str,
    range: std::ops::Range<usize>,
) -> Result<Vec<Upload>> {
    let puts = futures_util::stream::iter(range.map(|i| {
        let s3 = s3.clone();
        let run = run.to_owned();
        async move {
            let (key, bytes, content_type) = small_document(&run, i);
            let size = bytes.len() as u64;
            let response = s3
                .put_object_content(bucket, &key, ObjectContent::from(bytes))?
                .content_type(content_type.to_owned())
                .build()
                .send()
                .await?;
            let etag = response.etag()?.to_string().trim_matches('"').to_owned();
            anyhow::Ok(Upload { key, size, etag, content_type })
        }
    }))
    .buffered(16)
    .collect::<Vec<_>>()
    .await;
    puts.into_iter().collect()
}

/// Counters docflow keeps itself, from its `/metrics` at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnCounters {
    /// Progress messages (`+WPI`) sent, every stage and phase summed
    /// (`docflow_stage_progress_total`).
    pub progress: f64,
    /// Pull requests the workers sent, every stage summed (`docflow_stage_pull_requests_total`).
    pub pulls: f64,
    /// Deliveries handled, every stage and outcome summed (`docflow_stage_messages_total`).
    pub messages: f64,
    /// SQL statements sent, by the stage that sent them (`docflow_db_statements_total`,
    /// the pool's own count).
    pub statements: BTreeMap<String, f64>,
    /// Group commit's transactions and the transitions they carried, by stage
    /// (`docflow_db_group_commits_total`, `docflow_db_group_transitions_total`).
    pub group_commits: BTreeMap<String, f64>,
    pub group_transitions: BTreeMap<String, f64>,
}

/// `stage` of a series' labels (`...{stage="transfer"}`).
fn stage_label(labels: &str) -> String {
    labels.split("stage=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("").to_owned()
}

/// `now - before`, key by key.
fn since(now: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    now.iter().map(|(key, n)| (key.clone(), n - before.get(key).copied().unwrap_or(0.0))).collect()
}

impl OwnCounters {
    fn parse(text: &str) -> OwnCounters {
        let mut counters = OwnCounters::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            if series.starts_with("docflow_stage_progress_total") {
                counters.progress += value;
            } else if series.starts_with("docflow_stage_pull_requests_total") {
                counters.pulls += value;
            } else if series.starts_with("docflow_stage_messages_total") {
                counters.messages += value;
            } else if let Some(labels) = series.strip_prefix("docflow_db_statements_total{") {
                *counters.statements.entry(stage_label(labels)).or_default() += value;
            } else if let Some(labels) = series.strip_prefix("docflow_db_group_commits_total{") {
                *counters.group_commits.entry(stage_label(labels)).or_default() += value;
            } else if let Some(labels) = series.strip_prefix("docflow_db_group_transitions_total{") {
                *counters.group_transitions.entry(stage_label(labels)).or_default() += value;
            }
        }
        counters
    }

    /// What was counted since `before`.
    pub fn minus(&self, before: &OwnCounters) -> OwnCounters {
        OwnCounters {
            progress: self.progress - before.progress,
            pulls: self.pulls - before.pulls,
            messages: self.messages - before.messages,
            statements: since(&self.statements, &before.statements),
            group_commits: since(&self.group_commits, &before.group_commits),
            group_transitions: since(&self.group_transitions, &before.group_transitions),
        }
    }

    /// Transitions per group commit transaction of each stage that committed any.
    pub fn transitions_per_commit(&self) -> BTreeMap<String, f64> {
        self.group_commits
            .iter()
            .filter(|(_, commits)| **commits > 0.0)
            .map(|(stage, commits)| {
                (stage.clone(), self.group_transitions.get(stage).copied().unwrap_or(0.0) / commits)
            })
            .collect()
    }

    /// Statements sent by `stage`.
    pub fn statements_of(&self, stage: &str) -> f64 {
        self.statements.get(stage).copied().unwrap_or(0.0)
    }

    /// Statements sent, every stage summed.
    pub fn all_statements(&self) -> f64 {
        self.statements.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::OwnCounters;

    #[test]
    fn own_counters_are_read_from_prometheus_text() {
        let text = "# TYPE docflow_stage_progress_total counter\n\
            docflow_stage_progress_total{stage=\"transfer\",phase=\"waiting\"} 3\n\
            docflow_stage_progress_total{stage=\"validate\",phase=\"running\"} 2\n\
            docflow_stage_pull_requests_total{stage=\"transfer\"} 7\n\
            docflow_db_statements_total{stage=\"transfer\"} 10\n\
            docflow_db_statements_total{stage=\"none\"} 4\n\
            docflow_stage_messages_total{stage=\"transfer\",outcome=\"done\"} 9\n\
            docflow_stage_messages_total{stage=\"validate\",outcome=\"retry\"} 2\n";
        let now = OwnCounters::parse(text);
        assert_eq!(now.progress, 5.0);
        assert_eq!(now.pulls, 7.0);
        assert_eq!(now.messages, 11.0, "deliveries handled, every stage and outcome");
        assert_eq!(now.statements_of("transfer"), 10.0);
        assert_eq!(now.all_statements(), 14.0);
        let before = OwnCounters::parse("docflow_db_statements_total{stage=\"transfer\"} 4\n");
        let since = now.minus(&before);
        assert_eq!(since.statements_of("transfer"), 6.0);
        assert_eq!(since.statements_of("none"), 4.0);
        assert_eq!(since.progress, 5.0);
    }

    #[test]
    fn group_commit_sizes_are_read_by_stage() {
        let before = OwnCounters::parse(
            "docflow_db_group_commits_total{stage=\"validate\"} 10\n\
             docflow_db_group_transitions_total{stage=\"validate\"} 10\n",
        );
        let now = OwnCounters::parse(
            "docflow_db_group_commits_total{stage=\"validate\"} 14\n\
             docflow_db_group_transitions_total{stage=\"validate\"} 22\n\
             docflow_db_group_commits_total{stage=\"normalize\"} 0\n",
        );
        let sizes = now.minus(&before).transitions_per_commit();
        assert_eq!(sizes.get("validate"), Some(&3.0), "12 transitions in 4 transactions");
        assert_eq!(sizes.get("normalize"), None, "a stage that committed nothing has no size");
    }
}
