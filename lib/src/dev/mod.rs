//! `docflow dev`: the whole stack on one machine with nothing installed but `nats-server`.
//! SQLite in the data directory, a built-in S3 endpoint that announces uploads as MinIO
//! does ([`s3`]), the configured NATS server or a child one ([`nats_server`]), the
//! provider simulator, then every component of `docflow run` in this process, and the
//! bundled [`samples`] uploaded and followed on the console.
//!
//! Isolated by default: NATS is a `nats-server` child of its own (store in the data
//! directory), never a server that happens to answer on 127.0.0.1:4222, where another
//! docflow (a second `docflow dev`, a production install) would share its consumers. Told
//! to use an existing server (`--nats-url`), it takes a prefix of its own, derived from the
//! data directory ([`config_file::derived_prefix`]). The settings it runs with are written
//! to `DATA_DIR/docflow.toml` ([`config_file`]), where `docflow status` and `dlq` find them.
//!
//! Private: the data directory and everything in it is its user's alone ([`private`]), and
//! the child nats-server refuses anonymous clients ([`nats_auth`]). The web interface's
//! one-click links carry single-use codes, never a token.
//!
//! Settings: embedded defaults < dev defaults (below) < the settings file < environment,
//! so a file or `DOCFLOW__...` variable still overrides any of them. A configured provider
//! replaces the simulator.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{self, AppError};
use crate::db::{Db, State};
use crate::provider::sim::{self, SimOptions};
use crate::settings::{Settings, SettingsError};

pub mod config_file;
pub mod console;
pub mod nats_auth;
pub mod nats_server;
pub mod ports;
pub mod private;
pub mod s3;
pub mod samples;

/// What `docflow dev` is asked to do.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Database, objects, NATS store and generated secrets live here.
    pub data_dir: PathBuf,
    /// The settings file (`--config`); `None`: `./docflow.toml` when present.
    pub config: Option<PathBuf>,
    /// Stop once every sample is normalized (an error if one fails or the deadline passes).
    pub exit_after_samples: bool,
    /// How long the samples get to reach a final state.
    pub samples_deadline: Duration,
    /// The `nats-server` binary started as the child server.
    pub nats_server: PathBuf,
    /// Use this existing NATS server instead of a child one (with a prefix of its own).
    pub nats_url: Option<String>,
}

impl DevOptions {
    pub fn new(data_dir: PathBuf) -> DevOptions {
        DevOptions {
            data_dir,
            config: None,
            exit_after_samples: false,
            samples_deadline: Duration::from_secs(300),
            nats_server: nats_server::default_binary(),
            nats_url: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("cannot use the data directory {path}: {cause}; choose another with --data-dir")]
    DataDir { path: String, cause: std::io::Error },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    NatsServer(#[from] nats_server::NatsServerError),
    #[error(transparent)]
    S3(#[from] s3::S3EndpointError),
    #[error("cannot listen on {address} ({what}): {cause}")]
    Listen { what: &'static str, address: String, cause: std::io::Error },
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error(transparent)]
    Upload(#[from] samples::UploadError),
    #[error(
        "no NATS server answers at {url} (--nats-url); start it, or leave --nats-url out to run a nats-server of its own"
    )]
    NatsUnreachable { url: String },
    #[error("cannot write the settings file {path}: {cause}; choose another --data-dir")]
    SettingsFile { path: String, cause: std::io::Error },
    #[error("samples did not all end normalized: {0}")]
    Samples(String),
}

/// Secrets generated on the first run and kept in the data directory, so the printed
/// commands keep working across runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DevSecrets {
    /// Role `evaluator`: `GET /v1/documents*`.
    token: String,
    /// Role `uploads`: `POST /v1/uploads` for any uploader. Absent from the secrets of an
    /// older docflow dev: made then.
    #[serde(default = "random_secret")]
    upload_token: String,
    /// Role `uploader` for the samples' first teacher (the web interface's upload page).
    /// Absent from the secrets of an older docflow dev: made then.
    #[serde(default = "random_secret")]
    teacher_token: String,
    ingest_token: String,
    s3_access_key: String,
    s3_secret_key: String,
    sim_api_key: String,
    sim_callback_secret: String,
    /// `gateway.session_secret`: sessions survive a restart, and the one-click links are
    /// signed with it. Absent from the secrets of an older docflow dev: made then.
    #[serde(default = "random_secret")]
    session_secret: String,
    /// User `docflow`'s password on the child nats-server. Made when absent.
    #[serde(default = "random_secret")]
    nats_password: String,
    /// User `minio`'s (the S3 endpoint's notifications). Made when absent.
    #[serde(default = "random_secret")]
    minio_nats_password: String,
}

impl DevSecrets {
    fn load_or_create(path: &Path) -> std::io::Result<DevSecrets> {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(secrets) = serde_json::from_str::<DevSecrets>(&text)
        {
            let complete = ["upload_token", "teacher_token", "session_secret", "nats_password", "minio_nats_password"]
                .iter()
                .all(|name| text.contains(&format!("\"{name}\"")));
            if !complete {
                private::write(path, &serde_json::to_vec_pretty(&secrets).expect("secrets serialize"))?;
            }
            return Ok(secrets);
        }
        let random = random_secret;
        let secrets = DevSecrets {
            token: format!("dev-{}", random()),
            upload_token: format!("dev-upload-{}", random()),
            teacher_token: format!("dev-teacher-{}", random()),
            ingest_token: random(),
            s3_access_key: "docflow-dev".into(),
            s3_secret_key: random(),
            sim_api_key: random(),
            sim_callback_secret: random(),
            session_secret: random(),
            nats_password: random(),
            minio_nats_password: random(),
        };
        private::write(path, &serde_json::to_vec_pretty(&secrets).expect("secrets serialize"))?;
        Ok(secrets)
    }
}

/// The teacher whose token `docflow dev` makes: the first sample's uploader.
const DEV_TEACHER: &str = "teacher-42";

fn random_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A double-quoted string with JSON's escapes: a TOML basic string, and a string of
/// nats-server's configuration (both take JSON's escapes). The one quoting helper of the
/// files `docflow dev` writes.
fn toml_str(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// The dev defaults; with `sim`, the simulator as the provider (its address is set once
/// it listens); with `child_nats`, user `docflow` and its password for the child server.
fn dev_defaults(data_dir: &Path, secrets: &DevSecrets, sim: bool, child_nats: bool) -> String {
    let database = format!("sqlite://{}/docflow.db", data_dir.display());
    let mut toml = String::new();
    if child_nats {
        toml.push_str(&format!(
            "[nats]\nuser = {}\npassword = {}\n\n",
            toml_str(nats_auth::DOCFLOW_USER),
            toml_str(&secrets.nats_password)
        ));
    }
    toml.push_str(&format!("[gateway]\nsession_secret = {}\n\n", toml_str(&secrets.session_secret)));
    toml.push_str(&format!(
        "[database]\nurl = {}\n\n[s3]\nendpoint = \"http://127.0.0.1:9000\"\naccess_key = {}\nsecret_key = {}\n\n\
         [[gateway.tokens]]\ntoken = {}\nrole = \"evaluator\"\n\n\
         [[gateway.tokens]]\ntoken = {}\nrole = \"uploads\"\n\n\
         [[gateway.tokens]]\ntoken = {}\nrole = \"uploader\"\nuploader_id = {}\n\n[ingest]\ntoken = {}\n",
        toml_str(&database),
        toml_str(&secrets.s3_access_key),
        toml_str(&secrets.s3_secret_key),
        toml_str(&secrets.token),
        toml_str(&secrets.upload_token),
        toml_str(&secrets.teacher_token),
        toml_str(DEV_TEACHER),
        toml_str(&secrets.ingest_token),
    ));
    if sim {
        toml.push_str(&format!(
            "\n[providers.sim]\nbase_url = \"http://127.0.0.1:9100\"\napi_key = {}\ncallback_secret = {}\n",
            toml_str(&secrets.sim_api_key),
            toml_str(&secrets.sim_callback_secret),
        ));
    }
    toml
}

/// Loads the settings over the dev defaults; true when no provider is configured and the
/// simulator is to run.
fn load_settings(
    data_dir: &Path,
    secrets: &DevSecrets,
    config: Option<&Path>,
    env: Option<HashMap<String, String>>,
    child_nats: bool,
) -> Result<(Settings, bool), SettingsError> {
    let defaults = |sim| dev_defaults(data_dir, secrets, sim, child_nats);
    match Settings::load_over(Some(&defaults(false)), config, env.clone()) {
        Ok(settings) => Ok((settings, false)),
        Err(SettingsError::Invalid { key, .. }) if key == "providers" => {
            Settings::load_over(Some(&defaults(true)), config, env).map(|s| (s, true))
        }
        Err(e) => Err(e),
    }
}

/// The default prefix, the one a production docflow uses: never taken by a dev instance
/// on a server it did not start.
const SHARED_PREFIX: &str = "docflow";

/// Binds `wanted`, or a free port on the same address when it is taken.
async fn bind_or_free(what: &'static str, wanted: &str) -> Result<TcpListener, DevError> {
    let fail = |cause| DevError::Listen { what, address: wanted.to_owned(), cause };
    match TcpListener::bind(wanted).await {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let mut address: SocketAddr = wanted.parse().map_err(|_| fail(e))?;
            address.set_port(0);
            let listener = TcpListener::bind(address).await.map_err(fail)?;
            tracing::info!(what, wanted, got = %listener.local_addr().map_err(fail)?, "address taken, using a free port");
            Ok(listener)
        }
        Err(e) => Err(fail(e)),
    }
}

/// `host:port` of an http URL.
fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Runs the stack until `shutdown` is cancelled (or, with `exit_after_samples`, until the
/// samples are done), then stops everything it started.
pub async fn run(
    options: DevOptions,
    env: Option<HashMap<String, String>>,
    shutdown: CancellationToken,
) -> Result<(), DevError> {
    let data_error = |cause| DevError::DataDir { path: options.data_dir.display().to_string(), cause };
    // Private from the start, files of earlier runs included, and whatever is created.
    private::restrict_new_files();
    private::fix(&options.data_dir).map_err(data_error)?;
    let data_dir = options.data_dir.canonicalize().map_err(data_error)?;
    let secrets = DevSecrets::load_or_create(&data_dir.join("dev-secrets.json")).map_err(data_error)?;
    let child_nats = options.nats_url.is_none();
    let (mut settings, run_sim) = load_settings(&data_dir, &secrets, options.config.as_deref(), env, child_nats)?;
    if settings.database.url == format!("sqlite://{}/docflow.db", data_dir.display()) {
        // SQLite keeps the mode of the file it opens, and gives it to its -wal and -shm.
        private::create_empty(&data_dir.join("docflow.db")).map_err(data_error)?;
    }

    // NATS: a child server of our own, unless told to use an existing one.
    let nats_child = match &options.nats_url {
        Some(url) => {
            settings.nats.url = url.clone();
            if settings.nats.prefix == SHARED_PREFIX {
                settings.nats.prefix = config_file::derived_prefix(&data_dir);
            }
            if !crate::nats::answers(&settings.nats).await {
                return Err(DevError::NatsUnreachable { url: url.clone() });
            }
            None
        }
        None => {
            let names = crate::nats::Names::new(&settings.nats.prefix);
            let authorization = nats_auth::server_config(&names, &secrets.nats_password, &secrets.minio_nats_password);
            let server =
                nats_server::NatsServer::start(&options.nats_server, &data_dir.join("nats"), Some(&authorization))
                    .await?;
            settings.nats.url = server.url().to_owned();
            Some(server)
        }
    };
    let result = serve(options, settings, run_sim, &data_dir, &secrets, shutdown).await;
    if let Some(server) = nats_child {
        server.stop().await;
    }
    // What the simulator and the store wrote while it ran.
    if let Err(error) = private::fix(&data_dir) {
        tracing::warn!(%error, dir = %data_dir.display(), "cannot make the data directory private");
    }
    result
}

async fn serve(
    options: DevOptions,
    mut settings: Settings,
    run_sim: bool,
    data_dir: &Path,
    secrets: &DevSecrets,
    shutdown: CancellationToken,
) -> Result<(), DevError> {
    let tasks = tokio_util::task::TaskTracker::new();
    // Two tokens: `stop` ends the components (Ctrl-C, or the samples are done); the S3
    // endpoint and the simulator stop only once the components have finished what was in
    // flight, which may still need them. Whatever happens below, both end on return.
    let stop = shutdown.child_token();
    let servers = CancellationToken::new();
    let _stop_on_return = (stop.clone().drop_guard(), servers.clone().drop_guard());

    // The provider simulator, unless a provider is configured.
    if run_sim {
        let listener = bind_or_free("provider simulator", "127.0.0.1:0").await?;
        let address = listener.local_addr().map_err(|cause| DevError::Listen {
            what: "provider simulator",
            address: "127.0.0.1:0".into(),
            cause,
        })?;
        if let Some(sim) = settings.providers.get_mut("sim") {
            sim.base_url = format!("http://{address}");
            sim.result_hosts = vec![address.to_string()];
        }
        let opts = SimOptions {
            listen: address.to_string(),
            api_key: secrets.sim_api_key.clone(),
            callback_secrets: vec![secrets.sim_callback_secret.clone()],
            data_dir: Some(data_dir.join("sim")),
            ..SimOptions::default()
        };
        let servers = servers.clone();
        tasks.spawn(async move {
            if let Err(error) = sim::run(opts, listener, servers).await {
                tracing::error!(%error, "provider simulator stopped");
            }
        });
    }

    const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
    // The gateway's address; its public URL follows it unless one was configured apart
    // (the provider calls back there).
    let configured = settings.gateway.listen.clone();
    let gateway = bind_or_free("gateway", &configured).await?;
    let gateway_address = gateway.local_addr().map_err(|cause| DevError::Listen {
        what: "gateway",
        address: configured.clone(),
        cause,
    })?;
    settings.gateway.listen = gateway_address.to_string();
    let public = settings.gateway.public_url.trim_end_matches('/');
    if public == format!("http://{configured}") || public == DEFAULT_PUBLIC_URL {
        settings.gateway.public_url = format!("http://{gateway_address}");
    }

    // The admin listener: its configured address, or a free port when that one is taken.
    let configured = settings.admin.listen.clone();
    let admin = bind_or_free("admin", &configured).await?;
    settings.admin.listen = admin
        .local_addr()
        .map_err(|cause| DevError::Listen { what: "admin", address: configured.clone(), cause })?
        .to_string();

    // The S3 endpoint: announces every upload on {prefix}.uploads.minio.
    let s3_listener = bind_or_free("s3 endpoint", &host_port(&settings.s3.endpoint)).await?;
    let s3_address = s3_listener.local_addr().map_err(|cause| DevError::Listen {
        what: "s3 endpoint",
        address: settings.s3.endpoint.clone(),
        cause,
    })?;
    settings.s3.endpoint = format!("http://{s3_address}");
    // As the store's own NATS user on the child server (publish the notifications, nothing
    // else), as MinIO would be.
    let mut s3_nats = settings.nats.clone();
    if options.nats_url.is_none() {
        s3_nats.user = Some(nats_auth::MINIO_USER.to_owned());
        s3_nats.password = Some(secrets.minio_nats_password.clone().into());
    }
    let client = crate::nats::connect(&s3_nats, "docflow dev s3").await.map_err(AppError::from)?;
    let notifier = s3::Notifier::new(
        async_nats::jetstream::new(client.clone()),
        crate::nats::Names::new(&settings.nats.prefix).subject("uploads.minio"),
        settings.s3.endpoint.clone(),
    )
    .for_buckets([settings.s3.uploads_bucket.clone()]);
    let store = s3::NotifyingStore::new(&data_dir.join("s3"), notifier)?.private();
    let service =
        s3::service(store, &settings.s3.access_key, secrecy::ExposeSecret::expose_secret(&settings.s3.secret_key));
    // The web interface's upload page posts to it from the gateway's origin.
    let origins = crate::web::origin(&settings.gateway.public_url).into_iter().collect();
    tasks.spawn(s3::serve(service, s3_listener, origins, servers.clone()));

    let report = app::setup(&settings).await?;
    tracing::info!(topology = %report.topology, buckets = ?report.buckets_created, "set up");
    let settings_file = data_dir.join(config_file::FILE_NAME);
    config_file::write(&settings_file, &settings)
        .map_err(|cause| DevError::SettingsFile { path: settings_file.display().to_string(), cause })?;
    let settings = Arc::new(settings);
    let (app_settings, app_stop) = (settings.clone(), stop.clone());
    let app_task = tokio::spawn(async move {
        let listeners = app::Listeners { gateway: Some(gateway), admin: Some(admin) };
        let result = app::run_listening(app_settings, &[], app_stop.clone(), listeners).await;
        app_stop.cancel();
        result
    });
    print_banner(&settings, secrets, run_sim, &settings_file);

    let outcome = samples_run(&settings, &options, &stop).await;
    if !options.exit_after_samples {
        if let Err(error) = &outcome {
            eprintln!("{error}");
        }
        print_how_to(&settings, secrets);
        stop.cancelled().await;
    }
    println!("stopping");
    stop.cancel();
    let app_result = app_task.await.unwrap_or_else(|e| Err(AppError::Other(format!("the components panicked: {e}"))));
    servers.cancel();
    tasks.close();
    tasks.wait().await;
    client.drain().await.ok();
    app_result?;
    if options.exit_after_samples { outcome } else { Ok(()) }
}

/// Uploads the samples and follows them to a final state; an error when one does not
/// end normalized.
async fn samples_run(settings: &Settings, options: &DevOptions, stop: &CancellationToken) -> Result<(), DevError> {
    let db = Db::connect(&settings.database).await?;
    let mut progress = Vec::new();
    println!("\nuploading the samples to {}/{}", crate::redact::url(&settings.s3.endpoint), settings.s3.uploads_bucket);
    for sample in &samples::SAMPLES {
        let started = Instant::now();
        // A restart follows the samples of the previous run; it uploads none twice.
        let key = sample.key();
        if let Some(document) = db.find_latest_by_key(&settings.s3.uploads_bucket, &key).await? {
            println!(
                "  {:<24} already uploaded ({}), not again (document {})",
                sample.name,
                document.state.as_str(),
                document.id
            );
            let uploaded =
                samples::Uploaded { sample: *sample, bucket: document.bucket, key: document.key, id: document.id };
            progress.push(console::Progress::new(uploaded, started));
            continue;
        }
        let uploaded = sample.upload(&settings.s3).await?;
        println!(
            "  {:<24} uploaded    as {}/{} (document {})",
            sample.name, uploaded.bucket, uploaded.key, uploaded.id
        );
        progress.push(console::Progress::new(uploaded, started));
    }
    let followed = console::follow(&db, &mut progress, options.samples_deadline, stop).await;
    println!("\n{}", console::table(&progress));
    let bad: Vec<String> = progress
        .iter()
        .filter(|p| p.state != Some(State::Normalized))
        .map(|p| format!("{} is {}", p.upload.sample.name, p.state.map(|s| s.as_str()).unwrap_or("not recorded")))
        .collect();
    match followed {
        console::Followed::Finished if bad.is_empty() => Ok(()),
        console::Followed::DeadlinePassed => {
            Err(DevError::Samples(format!("{} after {:?}", bad.join(", "), options.samples_deadline)))
        }
        console::Followed::Interrupted => Err(DevError::Samples("interrupted".into())),
        _ => Err(DevError::Samples(bad.join(", "))),
    }
}

/// URLs go through [`crate::redact::url`]: a configured NATS or database password is never
/// shown. The dev secrets it prints are generated for this data directory, to be used.
fn print_banner(settings: &Settings, secrets: &DevSecrets, sim: bool, settings_file: &Path) {
    use crate::redact::url;
    println!("\ndocflow dev is running");
    println!("  gateway      {}", url(&settings.gateway.public_url));
    // The links carry single-use codes signed with the session secret, never a token:
    // the page says who the link signs in as, a click exchanges the code once.
    let web = url(settings.gateway.public_url.trim_end_matches('/'));
    println!("  web          {web}/ui/");
    for (what, token, note) in
        [("an evaluator  ", &secrets.token, ""), (DEV_TEACHER, &secrets.teacher_token, "  (uploads, reads their own)")]
    {
        match sign_in_link(settings, token) {
            Some(code) => println!("    sign in as {what}  {web}/ui/sign-in?code={code}{note}"),
            None => {
                println!("    sign in as {what}  {web}/ui/sign-in  (with its token: links need gateway.session_secret)")
            }
        }
    }
    println!("    (each link works once; restart docflow dev for new ones)");
    println!("  admin        http://{}  (/healthz /readyz /metrics)", settings.admin.listen);
    println!(
        "  s3 endpoint  {}  (access key {}, secret key {})",
        url(&settings.s3.endpoint),
        secrets.s3_access_key,
        secrets.s3_secret_key
    );
    println!("  nats         {}  (prefix {})", url(&settings.nats.url), settings.nats.prefix);
    println!("  database     {}", url(&settings.database.url));
    match (sim, settings.providers.get("sim")) {
        (true, Some(p)) => println!("  provider     simulator at {}", url(&p.base_url)),
        _ => println!("  providers    {}", settings.providers.keys().cloned().collect::<Vec<_>>().join(", ")),
    }
    println!("  token        {}  (bearer token of /v1/documents: role evaluator)", secrets.token);
    println!("  upload token {}  (bearer token of POST /v1/uploads: role uploads)", secrets.upload_token);
    println!(
        "  settings     {}  (docflow status, docflow dlq ... read it from this directory)",
        settings_file.display()
    );
}

/// A single-use sign-in link's code for `token` (a configured one), valid for a session's
/// lifetime; `None` without a session secret (then every gateway process has its own key).
fn sign_in_link(settings: &Settings, token: &str) -> Option<String> {
    let secret = settings.gateway.session_secret.as_ref()?;
    let key = crate::web::session::SessionKey::from_secret(secrecy::ExposeSecret::expose_secret(secret));
    let token = crate::gateway::auth::find_token(token, &settings.gateway.tokens)?;
    Some(key.link(token, std::time::SystemTime::now(), settings.gateway.session_lifetime))
}

fn print_how_to(settings: &Settings, secrets: &DevSecrets) {
    let bucket = &settings.s3.uploads_bucket;
    println!("still serving; Ctrl-C stops everything. To upload another file:");
    println!(
        "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} aws --endpoint-url {} s3 cp ./plan.docx s3://{bucket}/teacher-42/plan.docx",
        secrets.s3_access_key, secrets.s3_secret_key, settings.s3.endpoint
    );
    println!(
        "  (or: mc alias set dev {} {} {} && mc cp ./plan.docx dev/{bucket}/teacher-42/plan.docx)",
        settings.s3.endpoint, secrets.s3_access_key, secrets.s3_secret_key
    );
    println!("and read it:");
    println!("  curl -H 'Authorization: Bearer {}' {}/v1/documents", secrets.token, settings.gateway.public_url);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> DevSecrets {
        DevSecrets {
            token: "t".into(),
            upload_token: "u".into(),
            teacher_token: "tt".into(),
            ingest_token: "i".into(),
            s3_access_key: "a".into(),
            s3_secret_key: "s".into(),
            sim_api_key: "k".into(),
            sim_callback_secret: "c".into(),
            session_secret: "a session secret of more than thirty-two bytes".into(),
            nats_password: "np".into(),
            minio_nats_password: "mp".into(),
        }
    }

    #[test]
    fn without_a_configured_provider_the_simulator_is_the_provider() {
        let (settings, sim) =
            load_settings(Path::new("/tmp/x y"), &secrets(), None, Some(HashMap::new()), true).unwrap();
        assert!(sim);
        assert_eq!(settings.database.url, "sqlite:///tmp/x y/docflow.db");
        assert_eq!(settings.providers.keys().collect::<Vec<_>>(), ["sim"]);
        assert_eq!(settings.s3.access_key, "a");
        // The child nats-server's user, and the key of the sign-in links.
        assert_eq!(settings.nats.user.as_deref(), Some(nats_auth::DOCFLOW_USER));
        assert_eq!(settings.nats.password.as_ref().map(secrecy::ExposeSecret::expose_secret), Some("np"));
        assert!(settings.gateway.session_secret.is_some());
        let roles: Vec<_> = settings.gateway.tokens.iter().map(|t| t.role.name()).collect();
        assert_eq!(roles, ["evaluator", "uploads", "uploader"]);
        assert_eq!(
            settings.gateway.tokens[2],
            crate::settings::tokens::GatewayToken::new(
                "tt",
                crate::settings::tokens::Role::Uploader { uploader_id: DEV_TEACHER.into() }
            )
        );
        assert_eq!(
            settings.gateway.tokens[0],
            crate::settings::tokens::GatewayToken::new("t", crate::settings::tokens::Role::Evaluator)
        );
    }

    #[test]
    fn the_environment_overrides_the_dev_defaults_and_a_configured_provider_replaces_the_simulator() {
        let env: HashMap<String, String> = [
            ("DOCFLOW__DATABASE__URL", "postgres://127.0.0.1/x"),
            ("DOCFLOW__PROVIDERS__ACME__BASE_URL", "http://acme.example"),
            ("DOCFLOW__PROVIDERS__ACME__API_KEY", "k"),
            ("DOCFLOW__PROVIDERS__ACME__CALLBACK_SECRET", "s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (settings, sim) = load_settings(Path::new("/tmp/x"), &secrets(), None, Some(env), false).unwrap();
        assert!(!sim);
        assert_eq!(settings.nats.user, None, "a server of the user's own (--nats-url): its own credentials");
        assert_eq!(settings.database.url, "postgres://127.0.0.1/x");
        assert_eq!(settings.providers.keys().collect::<Vec<_>>(), ["acme"]);
    }

    #[tokio::test]
    async fn a_taken_port_falls_back_to_a_free_one() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let wanted = taken.local_addr().unwrap().to_string();
        let listener = bind_or_free("test", &wanted).await.unwrap();
        assert_ne!(listener.local_addr().unwrap().to_string(), wanted);
    }
}
