//! The sandbox: every test gets its own stream prefix, database, buckets, S3 server,
//! provider-sim process and worker processes, so tests run in parallel against the same
//! NATS and PostgreSQL. Processes are killed when the sandbox drops.

pub mod hold;
pub mod nats_server;
pub mod proxy;
pub mod smtp_sink;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use docflow::db::Db;
use docflow::settings::Settings;
use minio::s3::MinioClient;
use minio::s3::builders::ObjectContent;
use minio::s3::client::MinioClientBuilder;
use minio::s3::creds::StaticProvider;

pub use docflow::testkit::nats::nats_url;
pub use docflow::testkit::{Process, free_port, random_prefix, try_wait_for, wait_for};
use docflow::testkit::{TestSettings, s3s_fs, wait_for_port};

pub const ACCESS_KEY: &str = "docflow-test";
pub const SECRET_KEY: &str = "docflow-test-secret";
/// The evaluators' bearer token in every sandbox (role `evaluator`).
pub const TOKEN: &str = "evaluator-token";
/// An uploading app's token in every sandbox (role `uploads`).
pub const UPLOAD_TOKEN: &str = "upload-token";
/// One teacher's token in every sandbox (role `uploader`, uploader_id `teacher-42`),
/// configured by its SHA-256.
pub const TEACHER_TOKEN: &str = "teacher-42-token";

/// `DOCFLOW__GATEWAY__TOKENS` of every sandbox.
pub fn tokens_setting() -> String {
    format!(
        "[{{token = \"{TOKEN}\", role = \"evaluator\"}}, {{token = \"{UPLOAD_TOKEN}\", role = \"uploads\"}}, \
         {{token_sha256 = \"{}\", role = \"uploader\", uploader_id = \"teacher-42\"}}]",
        docflow::settings::tokens::sha256_hex(TEACHER_TOKEN)
    )
}

/// A small text lesson plan, with a few typos for the provider to find.
pub fn lesson_plan() -> Vec<u8> {
    b"Lesson plan for week 3: teh pupils wil learn fractions with pizza slices.\n".repeat(30)
}

/// Bytes that start like an MP4 (an `ftyp` box), `size` long.
pub fn video(size: usize) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'm', b'p', b'4', b'2'];
    bytes.resize(size, 7);
    bytes
}

pub fn database_kind() -> String {
    std::env::var("DOCFLOW_TEST_DB").unwrap_or_else(|_| "postgres".into())
}

pub struct SandboxBuilder {
    sim_flags: Vec<String>,
    env: Vec<(String, String)>,
    database_password: Option<String>,
}

impl SandboxBuilder {
    /// Flags for `docflow provider-sim`.
    pub fn sim(mut self, flags: &[&str]) -> Self {
        self.sim_flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    /// A password in the PostgreSQL URL docflow is given (the test server trusts local
    /// connections, so it is never asked for: a value to look for in what docflow prints).
    pub fn database_password(mut self, password: &str) -> Self {
        self.database_password = Some(password.to_owned());
        self
    }

    /// A `DOCFLOW__...` setting.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub async fn start(self) -> Sandbox {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let prefix = random_prefix();
        let database_url = match database_kind().as_str() {
            "sqlite" => format!("sqlite://{}/docflow.db?mode=rwc", dir.path().display()),
            _ => docflow::testkit::fresh_postgres_url().await,
        };
        let database_url = match (&self.database_password, database_url.split_once('@')) {
            (Some(password), Some((user, rest))) => format!("{user}:{password}@{rest}"),
            _ => database_url,
        };

        let s3_dir = dir.path().join("s3");
        std::fs::create_dir_all(&s3_dir).unwrap();
        let s3_port = free_port();
        let s3 = spawn_s3(s3_port, &s3_dir).await;
        let s3_endpoint = format!("http://127.0.0.1:{s3_port}");

        let mut sim_args = vec!["provider-sim".to_owned(), "--listen".into(), "127.0.0.1:0".into()];
        sim_args.extend(["--data-dir".into(), dir.path().join("sim").display().to_string()]);
        sim_args.extend(self.sim_flags);
        let sim_args: Vec<&str> = sim_args.iter().map(String::as_str).collect();
        let (sim, sim_url) =
            Process::spawn_announcing("provider-sim", docflow_binary(), &sim_args, &[], "listening on ").await;

        let gateway_port = free_port();
        let sim_host = sim_url.trim_start_matches("http://").to_owned();
        let mut env: HashMap<String, String> = TestSettings::new().vars();
        env.extend([
            ("DOCFLOW__GATEWAY__LISTEN".into(), format!("127.0.0.1:{gateway_port}")),
            ("DOCFLOW__GATEWAY__PUBLIC_URL".into(), format!("http://127.0.0.1:{gateway_port}")),
            ("DOCFLOW__GATEWAY__TOKENS".into(), tokens_setting()),
            ("DOCFLOW__INGEST__TOKEN".into(), "ingest-token".into()),
            ("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS".into(), sim_host),
            ("DOCFLOW__STAGES__VALIDATE__BACKOFF".into(), "300ms,600ms,1s".into()),
            ("DOCFLOW__STAGES__VALIDATE__MAX_DELIVER".into(), "5".into()),
            ("DOCFLOW__STAGES__NORMALIZE__BACKOFF".into(), "300ms,600ms,1s".into()),
            ("DOCFLOW__STAGES__NORMALIZE__MAX_DELIVER".into(), "5".into()),
            ("DOCFLOW__STAGES__WATCHDOG__BACKOFF".into(), "300ms,600ms,1s".into()),
            ("DOCFLOW__NATS__URL".into(), nats_url()),
            ("DOCFLOW__NATS__PREFIX".into(), prefix.clone()),
            ("DOCFLOW__DATABASE__URL".into(), database_url.clone()),
            ("DOCFLOW__S3__ENDPOINT".into(), s3_endpoint.clone()),
            ("DOCFLOW__S3__ACCESS_KEY".into(), ACCESS_KEY.into()),
            ("DOCFLOW__S3__SECRET_KEY".into(), SECRET_KEY.into()),
            ("DOCFLOW__S3__UPLOADS_BUCKET".into(), "uploads".into()),
            ("DOCFLOW__S3__RESULTS_BUCKET".into(), "results".into()),
            ("DOCFLOW__PROVIDERS__SIM__BASE_URL".into(), sim_url.clone()),
            ("DOCFLOW__PROVIDERS__SIM__API_KEY".into(), "sim-api-key".into()),
            ("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET".into(), "sim-callback-secret".into()),
            ("DOCFLOW__STAGES__TRANSFER__BACKOFF".into(), "300ms,600ms,1s".into()),
            ("DOCFLOW__STAGES__TRANSFER__MAX_DELIVER".into(), "5".into()),
            ("DOCFLOW__SHUTDOWN__GRACE".into(), "2s".into()),
        ]);
        env.extend(self.env);
        let settings = Settings::load(None, Some(env.clone())).expect("test settings are valid");

        let mut setup = Process::spawn("setup", docflow_binary(), &["setup"], &env_pairs(&env));
        let status = setup.wait(Duration::from_secs(60)).await;
        assert!(status.success(), "docflow setup failed: {}", setup.output());

        // Through docflow's own connect: the sandbox's NATS may require credentials.
        let client = docflow::nats::connect(&settings.nats, "tests").await.expect("NATS is running");
        let js = async_nats::jetstream::new(client);
        let db = Db::connect(&settings.database).await.expect("the test database answers");
        let s3_client = MinioClientBuilder::new(s3_endpoint.parse().unwrap())
            .provider(Some(StaticProvider::new(ACCESS_KEY, SECRET_KEY, None)))
            .skip_region_lookup(true)
            .build()
            .unwrap();
        Sandbox {
            _dir: dir,
            prefix,
            env,
            database_url,
            sim_url,
            gateway_url: format!("http://127.0.0.1:{gateway_port}"),
            js,
            db,
            s3: s3_client,
            processes: vec![s3, sim],
            workers: Vec::new(),
            admin_urls: Vec::new(),
            nats: settings.nats.clone(),
        }
    }
}

/// An S3 server (s3s-fs) on `port`, serving `dir`, once it accepts connections.
async fn spawn_s3(port: u16, dir: &std::path::Path) -> Process {
    let s3 =
        s3s_fs(port, ACCESS_KEY, SECRET_KEY, dir).env("RUST_LOG", "info").spawn().unwrap_or_else(|e| panic!("{e}"));
    wait_for_port(port, Duration::from_secs(20)).await.unwrap();
    s3
}

pub struct Sandbox {
    /// Holds the sandbox's files until it drops.
    _dir: tempfile::TempDir,
    pub prefix: String,
    pub env: HashMap<String, String>,
    pub database_url: String,
    pub sim_url: String,
    pub gateway_url: String,
    pub js: async_nats::jetstream::Context,
    pub db: Db,
    pub s3: MinioClient,
    processes: Vec<Process>,
    pub workers: Vec<Process>,
    /// The admin listener of each worker (`/healthz`, `/readyz`, `/metrics`), by index.
    pub admin_urls: Vec<String>,
    nats: docflow::settings::NatsSettings,
}

pub fn docflow_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_docflow"))
}

fn env_pairs(env: &HashMap<String, String>) -> Vec<(String, String)> {
    env.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Sandbox {
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder { sim_flags: Vec::new(), env: Vec::new(), database_password: None }
    }

    /// Starts `docflow run COMPONENTS...` as a process of its own, with an admin listener
    /// of its own (see [`Sandbox::admin_urls`]); returns its index.
    pub fn start_worker(&mut self, components: &[&str]) -> usize {
        self.start_worker_with(components, &[])
    }

    /// [`Sandbox::start_worker`] with more `DOCFLOW__...` (or `RUST_LOG`) variables.
    pub fn start_worker_with(&mut self, components: &[&str], extra: &[(&str, &str)]) -> usize {
        let mut args = vec!["run"];
        args.extend_from_slice(components);
        let admin = format!("127.0.0.1:{}", free_port());
        let mut env = env_pairs(&self.env);
        env.push(("DOCFLOW__ADMIN__LISTEN".into(), admin.clone()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let worker = Process::spawn(&format!("docflow run {}", components.join(" ")), docflow_binary(), &args, &env);
        self.workers.push(worker);
        self.admin_urls.push(format!("http://{admin}"));
        self.workers.len() - 1
    }

    /// Kills the S3 server (SIGKILL); its data directory stays.
    pub async fn kill_s3(&mut self) {
        self.processes[0].kill().await;
    }

    /// Starts the S3 server again on the same port and data directory.
    pub async fn start_s3(&mut self) {
        let endpoint = &self.env["DOCFLOW__S3__ENDPOINT"];
        let port: u16 = endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the S3 endpoint's port");
        self.processes[0] = spawn_s3(port, &self._dir.path().join("s3")).await;
    }

    /// The admin listener of worker `index`.
    pub fn admin_url(&self, index: usize) -> &str {
        &self.admin_urls[index]
    }

    /// The Prometheus text of worker `index`'s `/metrics` (its admin listener).
    pub async fn metrics(&self, index: usize) -> String {
        let url = format!("{}/metrics", self.admin_url(index));
        reqwest::get(&url).await.expect("the admin listener answers").text().await.expect("a metrics body")
    }

    /// Waits until worker `index` is ready (`/readyz` on its admin listener answers 200).
    pub async fn wait_ready(&self, index: usize) {
        let url = format!("{}/readyz", self.admin_url(index));
        wait_for("the process to be ready", Duration::from_secs(30), || async {
            reqwest::get(&url).await.ok().filter(|r| r.status().is_success()).map(drop)
        })
        .await;
    }

    /// Starts `docflow run` (every component) and waits until it is ready and its gateway
    /// answers.
    pub async fn start_all(&mut self) -> usize {
        let index = self.start_worker(&[]);
        self.wait_ready(index).await;
        let port: u16 = self.gateway_url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a gateway port");
        wait_for_port(port, Duration::from_secs(30)).await.unwrap();
        index
    }

    /// `GET` on the evaluator API with the sandbox's token: status and JSON body.
    pub async fn api(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.gateway_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Posts a callback to the gateway, signed with the simulator's secret at `t`.
    pub async fn post_callback(
        &self,
        provider: &str,
        body: &[u8],
        t: i64,
        content_type: &str,
    ) -> (u16, serde_json::Value) {
        let signature = docflow::provider::signature::sign(b"sim-callback-secret", t, body);
        let response = reqwest::Client::new()
            .post(format!("{}/v1/callbacks/{provider}", self.gateway_url))
            .header("Content-Type", content_type)
            .header("Docflow-Signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub fn subject(&self, rest: &str) -> String {
        format!("{}.{rest}", self.prefix)
    }

    pub fn stream(&self, short: &str) -> String {
        docflow::nats::Names::new(&self.prefix).stream(short)
    }

    /// Puts an object into a bucket with `x-amz-meta-*` metadata; returns its ETag.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> String {
        let mut meta = minio::s3::multimap_ext::Multimap::new();
        for (k, v) in metadata {
            meta.insert(format!("x-amz-meta-{k}"), v.to_string());
        }
        let response = self
            .s3
            .put_object_content(bucket, key, ObjectContent::from(bytes))
            .unwrap()
            .content_type(content_type.to_owned())
            .user_metadata(Some(meta))
            .build()
            .send()
            .await
            .expect("the S3 server takes the object");
        use minio::s3::response_traits::HasEtagFromHeaders;
        response.etag().expect("the S3 server returns an ETag").to_string().trim_matches('"').to_owned()
    }

    /// Publishes what MinIO's NATS target would for a created object; returns the body.
    pub async fn notify_created(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        etag: &str,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Vec<u8> {
        let user_metadata = metadata.iter().map(|(k, v)| (canonical_meta(k), v.to_string())).collect();
        let event = docflow::events::minio::created_event(&docflow::events::minio::CreatedObject {
            event_name: "s3:ObjectCreated:Put",
            bucket,
            key,
            size,
            etag,
            content_type,
            user_metadata,
            version_id: None,
            principal_id: ACCESS_KEY,
            source_ip: "127.0.0.1",
            user_agent: "docflow-tests",
            request_id: "0000000000000000",
            event_time: chrono_now(),
        });
        let body = serde_json::to_vec(&event).unwrap();
        self.publish_raw(&self.subject("uploads.minio"), body.clone()).await;
        body
    }

    /// Publishes a body as MinIO does: no headers, publish ack awaited.
    pub async fn publish_raw(&self, subject: &str, body: Vec<u8>) {
        self.js.publish(subject.to_owned(), body.into()).await.unwrap().await.expect("the stream acks");
    }

    /// Uploads an object and announces it, as MinIO would.
    pub async fn upload(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> docflow::ids::DocumentId {
        let size = bytes.len() as u64;
        let etag = self.put_object("uploads", key, bytes, content_type, metadata).await;
        self.notify_created("uploads", key, size, &etag, content_type, metadata).await;
        document_id("uploads", key, &etag)
    }

    pub async fn wait_for_state(
        &self,
        id: docflow::ids::DocumentId,
        state: docflow::db::State,
        deadline: Duration,
    ) -> docflow::db::Document {
        let reached =
            try_wait_for(deadline, || async { self.db.get(id).await.ok().flatten().filter(|d| d.state == state) })
                .await;
        if let Some(document) = reached {
            return document;
        }
        // Where the document is instead, so a failure says which stage stopped it.
        let current = self.db.get(id).await.ok().flatten().map_or_else(
            || "not recorded".to_owned(),
            |d| format!("{} (error: {:?} in {:?})", d.state.as_str(), d.error_reason, d.error_stage),
        );
        let timeline = self.db.timeline(id).await.unwrap_or_default();
        panic!(
            "timed out after {deadline:?} waiting for document {id} to be {}; it is {current}; timeline: {timeline:?}",
            state.as_str()
        );
    }

    /// The simulator's jobs, as `GET /v1/_sim/jobs` lists them.
    pub async fn sim_jobs(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/v1/_sim/jobs", self.sim_url)).await.unwrap().json().await.unwrap()
    }

    /// A message of a stream by sequence, via the stream's direct get.
    pub async fn stream_messages(&self, short: &str) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let stream = self.js.get_stream(self.stream(short)).await.unwrap();
        let info = stream.get_info().await.unwrap();
        let mut out = Vec::new();
        if info.state.messages == 0 {
            return out;
        }
        for seq in info.state.first_sequence..=info.state.last_sequence {
            if let Ok(m) = stream.get_raw_message(seq).await {
                out.push(m);
            }
        }
        out
    }
}

pub fn document_id(bucket: &str, key: &str, etag: &str) -> docflow::ids::DocumentId {
    docflow::ids::DocumentId::derive(bucket, key, &docflow::ids::ObjectVersion::new(None, Some(etag)))
}

fn canonical_meta(name: &str) -> String {
    let canonical: Vec<String> = format!("x-amz-meta-{name}")
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    canonical.join("-")
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Processes first (they hold database connections), then streams and database.
        self.workers.clear();
        self.processes.clear();
        // Streams of this test's prefix go with it, and the database. The test's own
        // runtime is blocked in this drop, so the clean-up has its own runtime and client.
        let names: Vec<String> =
            ["UPLOADS", "CALLBACKS", "NORMALIZE", "WATCH", "DEAD", "NOTIFY"].iter().map(|s| self.stream(s)).collect();
        let url = self.database_url.clone();
        let nats = self.nats.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(client) = docflow::nats::connect(&nats, "tests clean-up").await {
                    let js = async_nats::jetstream::new(client);
                    for name in names {
                        let _ = js.delete_stream(name).await;
                    }
                }
                if url.starts_with("postgres") {
                    docflow::testkit::drop_postgres(&url).await;
                }
            });
        })
        .join();
    }
}
