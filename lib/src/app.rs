//! Process wiring: `docflow setup` and `docflow run [COMPONENT...]`. One binary, selectable
//! roles: an edge install runs every component in one process, a big install runs them
//! apart. One shutdown path: the token cancels every component.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{self, AdminState};
use crate::db::Db;
use crate::evaluator::{self, EvaluatorState};
use crate::gateway::{self, GatewayState};
use crate::ids::StageId;
use crate::settings::Settings;
use crate::stages::normalize::Normalize;
use crate::stages::ports::Ports;
use crate::stages::transfer::Transfer;
use crate::stages::validate::Validate;
use crate::stages::watchdog::Watchdog;
use crate::storage::Store;
use crate::{nats, topology, worker};

/// What `docflow run` can run: the gateway, or a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    Gateway,
    Stage(StageId),
}

impl Component {
    pub const ALL: [Component; 7] = [
        Component::Gateway,
        Component::Stage(StageId::ALL[0]),
        Component::Stage(StageId::ALL[1]),
        Component::Stage(StageId::ALL[2]),
        Component::Stage(StageId::ALL[3]),
        Component::Stage(StageId::ALL[4]),
        Component::Stage(StageId::ALL[5]),
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Component::Gateway => "gateway",
            Component::Stage(stage) => stage.as_str(),
        }
    }

    /// `gateway, transfer, validate, normalize, watchdog, mail, forget`: for help and error messages.
    pub fn listed() -> String {
        Component::ALL.map(|c| c.as_str()).join(", ")
    }
}

impl std::str::FromStr for Component {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown component {s:?}; expected one of: {}", Component::listed()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Nats(#[from] nats::ConnectError),
    #[error(transparent)]
    Topology(#[from] topology::TopologyError),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Worker(#[from] worker::WorkerError),
    #[error(transparent)]
    NotWritable(#[from] crate::writable::NotWritable),
    #[error(
        "cannot listen on {listen} ({key}): {cause}; stop what uses that address or set {key} ({env}) to a free one"
    )]
    Listen { key: &'static str, env: &'static str, listen: String, cause: std::io::Error },
    #[error("the {what} listener stopped serving: {cause}")]
    Serve { what: &'static str, cause: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// What `docflow setup` did.
#[derive(Debug, Default)]
pub struct SetupReport {
    pub topology: String,
    pub buckets_created: Vec<String>,
    /// SQLite files and directories setup created as root, handed to the owner of the
    /// directory they are in (the service's user).
    pub handed_over: Vec<String>,
}

/// Creates or updates streams and consumers, migrates the database, creates missing
/// buckets. Idempotent.
pub async fn setup(settings: &Settings) -> Result<SetupReport, AppError> {
    let client = nats::connect(&settings.nats, "docflow setup").await?;
    let js = async_nats::jetstream::new(client.clone());
    topology::require_jetstream(&js, &settings.nats.url).await?;
    let applied = topology::apply(&js, settings).await?;
    let existing = crate::writable::existing_ancestor(&settings.database.url);
    // The web interface's session revocations: a KV bucket (topology::kv).
    let buckets = topology::kv::apply(&js, settings).await?;
    let db = Db::connect(&settings.database).await?;
    db.migrate().await?;
    let handed_over = crate::writable::hand_over(&settings.database.url, existing.as_deref())
        .map_err(|e| AppError::Other(format!("cannot hand the SQLite files to the owner of their directory: {e}")))?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let store = Store::new(&settings.s3)?;
    let mut buckets_created = Vec::new();
    for bucket in [&settings.s3.uploads_bucket, &settings.s3.results_bucket] {
        if store.ensure_bucket(bucket).await? {
            buckets_created.push(bucket.clone());
        }
    }
    client.flush().await.ok();
    let mut topology = String::new();
    for (stream, change) in &applied.streams {
        topology.push_str(&format!("stream {stream}: {change:?}\n").to_lowercase().replacen(
            &stream.to_lowercase(),
            stream,
            1,
        ));
    }
    for (stream, change) in &buckets {
        topology.push_str(&format!("kv stream {stream}: {}\n", format!("{change:?}").to_lowercase()));
    }
    for (stream, consumer, change) in &applied.consumers {
        topology.push_str(&format!("consumer {stream}/{consumer}: {}\n", format!("{change:?}").to_lowercase()));
    }
    Ok(SetupReport { topology, buckets_created, handed_over })
}

/// The runtime `docflow run` lives on: `worker_threads` threads (`runtime.worker_threads`),
/// or one per core the process may use when 0.
pub fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if worker_threads > 0 {
        builder.worker_threads(worker_threads);
    }
    builder.enable_all().build()
}

/// Runs the components until `shutdown` is cancelled; an empty list runs all of them.
pub async fn run(
    settings: Arc<Settings>,
    components: &[Component],
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    run_with(settings, components, shutdown, None).await
}

/// [`run`], with the gateway serving on `listener` when one is given (tests bind port 0)
/// instead of binding `gateway.listen`; the admin listener binds `admin.listen`.
pub async fn run_with(
    settings: Arc<Settings>,
    components: &[Component],
    shutdown: CancellationToken,
    listener: Option<TcpListener>,
) -> Result<(), AppError> {
    run_listening(settings, components, shutdown, Listeners { gateway: listener, admin: None }).await
}

/// Listeners bound by the caller (tests and `docflow dev` bind free ports); `None`: the
/// configured address.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The public listener, used when the gateway component runs.
    pub gateway: Option<TcpListener>,
    /// The private admin listener, on every process.
    pub admin: Option<TcpListener>,
}

/// [`run`], on the given listeners.
pub async fn run_listening(
    settings: Arc<Settings>,
    components: &[Component],
    shutdown: CancellationToken,
    listeners: Listeners,
) -> Result<(), AppError> {
    let components: Vec<Component> = if components.is_empty() { Component::ALL.to_vec() } else { components.to_vec() };
    crate::metrics::init();
    // Bound before anything connects or starts, so a taken port stops the process at once.
    let admin = match listeners.admin {
        Some(listener) => listener,
        None => bind("admin.listen", "DOCFLOW__ADMIN__LISTEN", &settings.admin.listen).await?,
    };
    let listener = match (components.contains(&Component::Gateway), listeners.gateway) {
        (false, _) => None,
        (true, Some(listener)) => Some(listener),
        (true, None) => Some(bind("gateway.listen", "DOCFLOW__GATEWAY__LISTEN", &settings.gateway.listen).await?),
    };
    let client = nats::connect(&settings.nats, "docflow").await?;
    let js = async_nats::jetstream::new(client.clone());
    topology::require_jetstream(&js, &settings.nats.url).await?;
    let names = nats::Names::new(&settings.nats.prefix);
    // Every state a document takes is published for the web interface's live updates.
    let db = Db::connect(&settings.database)
        .await
        // A SQLite file this user may not write can fail the connection itself.
        .map_err(|e| crate::writable::owner_problem(&settings.database.url).map_or(AppError::from(e), AppError::from))?
        .with_observer(crate::web::live::publisher(client.clone(), names.clone()))
        // The transitions each stage applies at the same time share a commit (db/group.rs).
        .with_group_commit(crate::db::GROUP_COMMIT_MAX);
    // Reading works where writing does not (a file left root's by `sudo docflow setup`):
    // refuse to start rather than take uploads that cannot be recorded.
    crate::writable::check(&db, &settings.database.url).await?;
    let store = Store::new(&settings.s3)?;

    // What the stages reach the outside through; built once, before anything serves.
    // Provider clients only where a stage calls providers.
    let calls_providers =
        components.iter().any(|c| matches!(c, Component::Stage(StageId::Transfer | StageId::Watchdog)));
    let mut ports =
        Ports::connect(&settings, db.clone(), store.clone(), js.clone(), calls_providers).map_err(AppError::Other)?;
    // Terminal transitions publish the teacher's notices (`[mail] enabled` only).
    ports.documents =
        crate::mail::documents::wrap(ports.documents, crate::mail::notify::Notifier::new(&settings, js.clone()));

    let tasks = TaskTracker::new();
    let (failed_tx, mut failed_rx) = tokio::sync::mpsc::channel::<AppError>(components.len());
    let runner = StageRunner {
        js: js.clone(),
        client: client.clone(),
        settings: settings.clone(),
        shutdown: shutdown.clone(),
        failed: failed_tx.clone(),
        tasks: tasks.clone(),
    };
    for component in &components {
        match component {
            Component::Stage(StageId::Transfer) => runner.spawn(Transfer::new(settings.clone(), &ports)),
            Component::Stage(StageId::Validate) => runner.spawn(Validate::new(settings.clone(), &ports)),
            Component::Stage(StageId::Normalize) => runner.spawn(Normalize::new(settings.clone(), &ports)),
            Component::Stage(StageId::Watchdog) => runner.spawn(Watchdog::new(settings.clone(), &ports)),
            Component::Stage(StageId::Mail) => runner.spawn(crate::mail::Mail::new(settings.clone(), db.clone())),
            Component::Stage(StageId::Forget) => runner.spawn(
                crate::forget::Forget::new(settings.clone(), db.clone(), store.clone(), js.clone())
                    .map_err(AppError::Other)?,
            ),
            // Spawned below, once every stage is built: a stage that fails to build
            // returns before anything serves.
            Component::Gateway => {}
        }
    }
    if let Some(listener) = listener {
        let evaluator_state = EvaluatorState::new(settings.clone(), db.clone(), store.clone());
        let live = crate::web::live::Live::new(shutdown.clone());
        tasks.spawn(crate::web::live::feed(client.clone(), names.clone(), live.clone(), shutdown.clone()));
        let revocations = crate::web::revocations::Revocations::watch(js.clone(), &names, shutdown.clone());
        let restarts = crate::web::retry::Restarts { js: js.clone(), names: names.clone() };
        let web = crate::web::WebState::new(evaluator_state.clone())
            .with_live(live)
            .with_revocations(revocations)
            .with_restarts(restarts)
            .with_ops(crate::ops::Ops::new(client.clone(), db.clone(), &settings));
        let state = GatewayState::new(settings.clone(), js.clone(), store.clone())
            .with_routes(evaluator::routes(evaluator_state))
            .with_routes(crate::web::routes(web));
        let (shutdown, failed) = (shutdown.clone(), failed_tx.clone());
        // `serve` logs the address it listens on.
        tasks.spawn(async move {
            if let Err(cause) = gateway::serve(state, listener, shutdown.clone()).await {
                failed.send(AppError::Serve { what: "gateway", cause }).await.ok();
                shutdown.cancel();
            }
        });
    }
    // Every process, whatever it runs. A provider's open breaker is shown, never a reason
    // to take the process out of service (empty where no transfer stage runs).
    let breakers: admin::ProbeFn = std::sync::Arc::new(|| {
        Box::pin(async {
            let states = crate::provider::breaker::states();
            admin::Probe::info(serde_json::Value::Object(
                states.into_iter().map(|(name, state)| (name, state.as_str().into())).collect(),
            ))
        })
    });
    let admin_state = AdminState::new(client.clone(), db.clone()).with_probe("providers", breakers);
    // The operators' overview: this process's breakers on request, and the pipeline
    // gauges on /metrics (crate::ops).
    let identity = crate::ops::breakers::Identity::of_this_process(
        admin.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        components.iter().map(|c| c.as_str().to_owned()).collect(),
    );
    // Without it the overview only misses this process's answer: no reason to stop.
    if let Err(error) = crate::ops::breakers::serve(client.clone(), &names, identity, shutdown.clone()).await {
        tracing::warn!(%error, "the overview's breakers request is not answered by this process");
    }
    tasks.spawn(crate::ops::gauges::run(
        js.clone(),
        names.clone(),
        admin_state.clone(),
        settings.providers.keys().cloned().collect(),
        settings.admin.gauges_every,
        shutdown.clone(),
    ));
    let (admin_shutdown, failed) = (shutdown.clone(), failed_tx.clone());
    tasks.spawn(async move {
        if let Err(cause) = admin::serve(admin_state, admin, admin_shutdown.clone()).await {
            failed.send(AppError::Serve { what: "admin", cause }).await.ok();
            admin_shutdown.cancel();
        }
    });
    tasks.close();
    drop((failed_tx, runner));
    tasks.wait().await;
    client.drain().await.ok();
    match failed_rx.recv().await {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

async fn bind(key: &'static str, env: &'static str, listen: &str) -> Result<TcpListener, AppError> {
    TcpListener::bind(listen).await.map_err(|cause| AppError::Listen { key, env, listen: listen.to_owned(), cause })
}

/// Spawns stage workers; the first to fail stops the others.
struct StageRunner {
    js: async_nats::jetstream::Context,
    client: async_nats::Client,
    settings: Arc<Settings>,
    shutdown: CancellationToken,
    failed: tokio::sync::mpsc::Sender<AppError>,
    tasks: TaskTracker,
}

impl StageRunner {
    fn spawn<S: worker::Stage>(&self, stage: S) {
        let (js, client, settings, shutdown, failed) =
            (self.js.clone(), self.client.clone(), self.settings.clone(), self.shutdown.clone(), self.failed.clone());
        self.tasks.spawn(async move {
            if let Err(e) = worker::run(Arc::new(stage), js, client, &settings, shutdown.clone()).await {
                failed.send(e.into()).await.ok();
                shutdown.cancel();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_runtime_has_the_worker_threads_asked_for_or_one_per_core() {
        assert_eq!(super::runtime(1).unwrap().metrics().num_workers(), 1);
        assert_eq!(super::runtime(3).unwrap().metrics().num_workers(), 3);
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(super::runtime(0).unwrap().metrics().num_workers(), cores);
    }
}
