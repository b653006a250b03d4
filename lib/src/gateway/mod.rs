//! The `gateway` component: docflow's HTTP edge. It verifies what comes in, publishes it
//! durably to JetStream and answers; it touches no database. Routes (`docs/openapi.json`):
//! - `POST /v1/callbacks/{provider}`: a provider's signed callback (docs/provider-protocol.md, section 3);
//! - `POST /v1/ingest/s3`: an S3 store's webhook notification;
//! - `POST /v1/uploads`: a presigned PUT URL for an uploading app.
//!
//! This is the PUBLIC listener: operators' `/healthz`, `/readyz` and `/metrics` are served
//! on the private admin listener only ([`crate::admin`]) and answer 404 here.
//!
//! Other routes (the evaluator API, `GET /v1/documents...`) are built elsewhere and merged
//! in through [`GatewayState::with_routes`]; they can reuse [`auth::authorize`] and
//! [`ApiError`], and are counted by the same metrics middleware.

pub mod auth;
pub(crate) mod body;
mod callbacks;
mod errors;
mod ingest;
mod route_table;
pub(crate) mod uploads;

#[cfg(test)]
mod tests;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use axum::Router;
use axum::http::{HeaderName, StatusCode, header};
use axum::routing::post;
use axum::serve::{Listener, ListenerExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use self::route_table::RouteTable;
use crate::nats::Names;
use crate::settings::Settings;
use crate::storage::Store;

pub use errors::{ApiError, shown};

/// The signature header of provider callbacks.
pub const SIGNATURE_HEADER: &str = "Docflow-Signature";

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct GatewayState {
    pub settings: Arc<Settings>,
    pub jetstream: jetstream::Context,
    pub names: Names,
    pub store: Store,
    /// `gateway.max_body` in bytes.
    pub max_body: usize,
    /// How long a publish may wait for the stream's ack before the request is answered 503.
    pub publish_timeout: Duration,
    /// Validity of the presigned PUT URLs of `POST /v1/uploads`.
    pub upload_url_ttl: Duration,
    /// How long a request may take as a whole before it is answered 408.
    pub request_timeout: Duration,
    /// Routes built elsewhere (the evaluator API), merged into [`router`]. They carry
    /// their own state.
    extra_routes: Option<Router>,
}

impl std::fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayState")
            .field("names", &self.names)
            .field("store", &self.store)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl GatewayState {
    pub fn new(settings: Arc<Settings>, jetstream: jetstream::Context, store: Store) -> GatewayState {
        // Settings::validate has already checked gateway.max_body; 1 MiB is its default.
        let max_body = settings.gateway_max_body().unwrap_or(1 << 20);
        GatewayState {
            names: Names::new(&settings.nats.prefix),
            settings,
            jetstream,
            store,
            max_body,
            publish_timeout: Duration::from_secs(5),
            upload_url_ttl: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(30),
            extra_routes: None,
        }
    }

    /// Adds routes served next to the gateway's own (merged; paths must not overlap).
    pub fn with_routes(mut self, routes: Router) -> GatewayState {
        self.extra_routes = Some(match self.extra_routes.take() {
            Some(existing) => existing.merge(routes),
            None => routes,
        });
        self
    }
}

/// The gateway's routes and middleware, plus any routes added with
/// [`GatewayState::with_routes`].
pub fn router(mut state: GatewayState) -> Router {
    let extra = state.extra_routes.take();
    let request_timeout = state.request_timeout;
    let own = table().into_router().with_state(state);
    let app = match extra {
        Some(extra) => own.merge(extra),
        None => own,
    };
    app.fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(axum::middleware::from_fn(crate::metrics::count_requests))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(TraceLayer::new_for_http())
        // Before the trace layer sees them: neither credentials nor signatures are logged.
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            HeaderName::from_static("docflow-signature"),
        ]))
}

fn table() -> RouteTable<GatewayState> {
    RouteTable::new()
        .route("/v1/callbacks/{provider}", post(callbacks::receive))
        .route("/v1/ingest/s3", post(ingest::receive))
        .route("/v1/uploads", post(uploads::create))
}

/// The paths of the gateway's own routes (not those added with
/// [`GatewayState::with_routes`]: their modules list theirs).
pub fn paths() -> Vec<&'static str> {
    table().paths()
}

/// Serves [`router`] on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish for at most `shutdown.grace` before returning.
pub async fn serve(state: GatewayState, listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    let grace = state.settings.shutdown.grace;
    crate::metrics::init();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "gateway listening");
    }
    let server = axum::serve(nodelay(listener), router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown.cancelled() => {}
    }
    // Shutting down: requests in flight get `shutdown.grace` to finish.
    tokio::time::timeout(grace, server).await.unwrap_or_else(|_| {
        tracing::warn!(?grace, "gateway requests still in flight after the grace period; closing them");
        Ok(())
    })
}

/// `listener`, with TCP_NODELAY on every connection it accepts; for every HTTP server of
/// docflow's. Without it a response written in two parts waits for the client's delayed
/// ACK (Nagle's algorithm), about 40 ms per request on a kept-alive connection.
pub fn nodelay(listener: TcpListener) -> impl Listener<Io = TcpStream, Addr = std::net::SocketAddr> {
    listener.tap_io(|tcp| set_nodelay(tcp))
}

/// Sets TCP_NODELAY on an accepted connection; a failure only costs latency.
pub fn set_nodelay(tcp: &TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
    }
}
