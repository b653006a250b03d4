//! The admin listener (`admin.listen`, private by default): `GET /healthz` (the process
//! answers), `GET /readyz` (it can do its work) and `GET /metrics`, on EVERY `docflow run`
//! process whatever components it runs (a transfer-only worker too). The public listener
//! (`gateway.listen`) does not serve them: the provider must reach it from the internet,
//! operators' endpoints must not be.
//!
//! `/readyz` answers 503 while NATS or the database cannot be reached, or the database
//! cannot be written (`"database": "not writable"`: a file or role without write rights),
//! naming which (`"nats"`, `"database"`) and never a URL, user name or password. More checks join
//! through [`AdminState::with_probe`] (a provider's breaker states, for example).

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State as NatsState;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::gateway::ApiError;

/// How long `/readyz` waits for the database before calling it unreachable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write probe's answer is kept: probes every few seconds cost one write probe.
const WRITE_PROBE_EVERY: Duration = Duration::from_secs(5);
/// How long admin requests in flight get once the process stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// What one readiness probe found: whether the process is ready as far as it is concerned,
/// and what `/readyz` shows under its name (no URLs, no secrets).
#[derive(Debug, Clone)]
pub struct Probe {
    pub ready: bool,
    pub detail: Value,
}

impl Probe {
    /// Shown, but never makes the process unready (a provider's breaker open is no reason
    /// to take a worker out of service).
    pub fn info(detail: impl Into<Value>) -> Probe {
        Probe { ready: true, detail: detail.into() }
    }
}

/// A readiness check added to `/readyz`.
pub type ProbeFn = Arc<dyn Fn() -> BoxFuture<'static, Probe> + Send + Sync>;

/// What the admin routes share. Cheap to clone.
#[derive(Clone)]
pub struct AdminState {
    nats: async_nats::Client,
    db: Db,
    probes: Vec<(&'static str, ProbeFn)>,
    database_timeout: Duration,
    writable: Arc<crate::writable::Probe>,
}

impl AdminState {
    pub fn new(nats: async_nats::Client, db: Db) -> AdminState {
        AdminState {
            nats,
            db,
            probes: Vec::new(),
            database_timeout: DATABASE_TIMEOUT,
            writable: Arc::new(crate::writable::Probe::new(WRITE_PROBE_EVERY)),
        }
    }

    /// Adds a check shown under `name` in `/readyz`.
    pub fn with_probe(mut self, name: &'static str, probe: ProbeFn) -> AdminState {
        self.probes.push((name, probe));
        self
    }

    /// How long the database gets to answer before `/readyz` calls it unreachable.
    pub fn with_database_timeout(mut self, timeout: Duration) -> AdminState {
        self.database_timeout = timeout;
        self
    }

    /// Every check: `(ready, detail)`; detail holds `nats`, `database` and each probe.
    pub async fn readiness(&self) -> (Vec<&'static str>, Map<String, Value>) {
        let mut down = Vec::new();
        let mut detail = Map::new();
        let nats = match self.nats.connection_state() {
            NatsState::Connected => "connected",
            NatsState::Pending => "connecting",
            _ => "disconnected",
        };
        if nats != "connected" {
            down.push("nats");
        }
        detail.insert("nats".into(), nats.into());
        let ping = tokio::time::timeout(self.database_timeout, self.db.connection().ping()).await;
        let database = match ping {
            // A write blocked behind another writer for longer than the timeout is no
            // sign of a read-only database.
            Ok(Ok(())) => match tokio::time::timeout(self.database_timeout, self.writable.writable(&self.db)).await {
                Ok(false) => "not writable",
                _ => "reachable",
            },
            // The driver's text may quote the server's address: it stays in the logs.
            Ok(Err(error)) => {
                tracing::debug!(error = %crate::redact::text(&error.to_string()), "readyz: the database did not answer");
                "unreachable"
            }
            Err(_) => "unreachable",
        };
        if database != "reachable" {
            down.push("database");
        }
        detail.insert("database".into(), database.into());
        for (name, probe) in &self.probes {
            let found = probe().await;
            if !found.ready {
                down.push(name);
            }
            detail.insert((*name).into(), found.detail);
        }
        (down, detail)
    }
}

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    table().into_router().with_state(state).fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
}

/// The paths [`router`] serves.
pub fn paths() -> Vec<&'static str> {
    table().paths()
}

fn table() -> crate::gateway::RouteTable<AdminState> {
    crate::gateway::RouteTable::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Serves [`router`] on `listener` until `shutdown` is cancelled.
pub async fn serve(state: AdminState, listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    crate::metrics::init();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin listening (/healthz /readyz /metrics)");
    }
    let server = axum::serve(crate::gateway::nodelay(listener), router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown.cancelled() => {}
    }
    // A scraper's kept-alive connection must not hold the process.
    tokio::time::timeout(SHUTDOWN_GRACE, server).await.unwrap_or(Ok(()))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let (down, mut detail) = state.readiness().await;
    if down.is_empty() {
        detail.insert("status".into(), "ready".into());
        Json(Value::Object(detail)).into_response()
    } else {
        ApiError::unavailable(format!("not ready: {}", down.join(", "))).detail(Value::Object(detail)).into_response()
    }
}

async fn metrics() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render())
        .into_response()
}

#[cfg(test)]
mod tests;
