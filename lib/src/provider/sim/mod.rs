//! `docflow provider-sim`: the reference provider of `docs/provider-protocol.md`, with failure
//! injection for tests and demos. Every injected fault is deterministic: it depends on the
//! `Idempotency-Key`, the attempt number and `--seed`, never on timing.
//!
//! Routes: `POST /v1/jobs`, `GET /v1/jobs/{job_id}`, `DELETE /v1/jobs/{job_id}` (sections 1, 2
//! and 5), `GET /r/{job_id}/{name}`
//! (result files), and for tests and operators `GET /v1/_sim/jobs` and `GET /v1/_sim/stats`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod outputs;
mod process;
mod routes;
mod state;
mod submit;
#[cfg(test)]
mod tests;

use state::Sim;

/// How long, after the server stopped, running jobs and callbacks get to notice the shutdown.
const TASK_GRACE: Duration = Duration::from_secs(5);

/// The simulator's command line (`docflow provider-sim --help`).
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// Address to listen on (the binary binds it; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub listen: String,
    /// Bearer token submissions and status requests must carry.
    #[arg(long, default_value = "sim-api-key")]
    pub api_key: String,
    /// Secret the callbacks are signed with; repeat it to sign with several (a rotation).
    #[arg(long = "callback-secret", default_value = "sim-callback-secret")]
    pub callback_secrets: Vec<String>,
    /// Base URL put into result URLs [default: http://{listen address}, loopback when listening on all interfaces].
    #[arg(long)]
    pub public_url: Option<String>,
    /// Where received uploads and produced results are kept [default: a new temporary directory].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// How long a job takes: half of it queued, half processing.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub processing_delay: Duration,
    /// Answer a new job's submission this long after creating it (a client killed in
    /// between has submitted without hearing back).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub response_delay: Duration,
    /// Fraction (0 to 1) of submission attempts answered 503, drawn from the key, the attempt and --seed.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    pub error_rate: f64,
    /// Seed of every fractional fault.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Answer the first N attempts of each Idempotency-Key with 503 (after any --throttle-first attempts).
    #[arg(long, default_value_t = 0)]
    pub fail_first: u32,
    /// Answer the first N attempts of each Idempotency-Key with 429 and Retry-After.
    #[arg(long, default_value_t = 0)]
    pub throttle_first: u32,
    /// Seconds sent in Retry-After with --throttle-first.
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Answer every submission with this status (400-599) and a JSON error body.
    #[arg(long, value_parser = clap::value_parser!(u16).range(400..=599))]
    pub reject_status: Option<u16>,
    /// Fraction (0 to 1) of jobs that end failed (error code `processing_failed`).
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    pub fail_jobs: f64,
    /// The first N Idempotency-Keys of each reference end their jobs failed (`processing_failed`):
    /// a document restarted under a new key then succeeds.
    #[arg(long, default_value_t = 0)]
    pub fail_first_jobs: u32,
    /// Refuse the first N Idempotency-Keys of each reference with --reject-status (default
    /// 422), every attempt of them; later keys (a restarted document) are accepted.
    #[arg(long, default_value_t = 0)]
    pub reject_first: u32,
    /// Fraction (0 to 1) of jobs whose callback is never sent.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    pub drop_callbacks: f64,
    /// Send each callback N extra times (same event_id).
    #[arg(long, default_value_t = 0)]
    pub duplicate_callbacks: u32,
    /// Serve result bytes that do not match their announced sha256 (same size).
    #[arg(long)]
    pub corrupt_results: bool,
    /// Send callbacks here instead of the submission's callback_url.
    #[arg(long)]
    pub callback_url_override: Option<String>,
    /// Attempts of one callback delivery before giving up (backoff 250 ms doubling to 30 s).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    pub callback_attempts: u32,
    /// Answer the first N deletions (`DELETE /v1/jobs/{job_id}`) of each job with 503.
    #[arg(long, default_value_t = 0)]
    pub fail_deletes: u32,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            listen: "127.0.0.1:9100".into(),
            api_key: "sim-api-key".into(),
            callback_secrets: vec!["sim-callback-secret".into()],
            public_url: None,
            data_dir: None,
            processing_delay: Duration::ZERO,
            response_delay: Duration::ZERO,
            error_rate: 0.0,
            seed: 0,
            fail_first: 0,
            throttle_first: 0,
            retry_after: 1,
            reject_status: None,
            fail_jobs: 0.0,
            fail_first_jobs: 0,
            reject_first: 0,
            drop_callbacks: 0.0,
            duplicate_callbacks: 0,
            corrupt_results: false,
            callback_url_override: None,
            callback_attempts: 6,
            fail_deletes: 0,
        }
    }
}

fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a fraction from 0.0 to 1.0")),
    }
}

/// Serves the simulator on `listener` until `shutdown` is cancelled, then lets running
/// jobs and callbacks stop (they watch the same token).
pub async fn run(opts: SimOptions, listener: TcpListener, shutdown: CancellationToken) -> io::Result<()> {
    let address = listener.local_addr()?;
    // Bound to every interface, the loopback address is the one certainly reachable;
    // anything remote needs --public-url.
    let mut reachable = address;
    if reachable.ip().is_unspecified() {
        reachable.set_ip(match reachable {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let public_url = opts.public_url.clone().unwrap_or_else(|| format!("http://{reachable}"));
    let public_url = public_url.trim_end_matches('/').to_owned();
    let data_dir = match &opts.data_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("docflow-provider-sim-{}", uuid::Uuid::new_v4().simple())),
    };
    tokio::fs::create_dir_all(data_dir.join("jobs"))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create --data-dir {}: {e}", data_dir.display())))?;
    tracing::info!(%address, %public_url, data_dir = %data_dir.display(), "provider sim started");
    let sim = Arc::new(Sim::new(opts, data_dir, public_url, shutdown.clone()));
    axum::serve(crate::gateway::nodelay(listener), router(sim.clone()))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    sim.tasks.close();
    if tokio::time::timeout(TASK_GRACE, sim.tasks.wait()).await.is_err() {
        tracing::warn!(running = sim.tasks.len(), "provider sim tasks still running at shutdown");
    }
    Ok(())
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        // Uploads are streamed to disk, so the body limit does not apply here.
        .route("/v1/jobs", post(submit::submit).layer(DefaultBodyLimit::disable()))
        .route("/v1/jobs/{job_id}", get(routes::job_status).delete(routes::delete_job))
        .route("/r/{job_id}/{name}", get(routes::result_file))
        .route("/v1/_sim/jobs", get(routes::sim_jobs))
        .route("/v1/_sim/stats", get(routes::sim_stats))
        .with_state(sim)
}
