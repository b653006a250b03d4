//! The evaluator API, part of the `gateway` component: read-only views of documents for
//! the people who evaluate them (`docs/openapi.json`, `Document`).
//! - `GET /v1/documents?state=&kind=&uploader=&limit=&cursor=`: newest first, paged by an
//!   opaque keyset cursor ([`crate::db::Cursor`]);
//! - `GET /v1/documents/{id}`: one document with its timeline, normalized content,
//!   reviews, versions and artifacts, each with a presigned GET URL into `s3.results_bucket`;
//! - `GET /v1/documents/counts`: documents per tab ([`query::Tab`]);
//! - `POST /v1/documents/{id}/reviews`: an evaluator's review ([`crate::review`]);
//! - `GET /v1/uploaders?prefix=`: the uploader picker.
//!
//! Both need a bearer token of role `evaluator` from `[[gateway.tokens]]`. Unlike the gateway's own routes these
//! read the database; they are merged into the gateway's router with
//! [`crate::gateway::GatewayState::with_routes`], so they share its middleware (metrics,
//! timeout, tracing with the `Authorization` header hidden).

pub(crate) mod counts;
pub(crate) mod list;
pub mod query;
mod resource;
pub(crate) mod reviews;
pub(crate) mod show;
pub mod sort;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use crate::db::{Db, DbError};
use crate::gateway::auth::{self, Access};
use crate::gateway::{ApiError, RouteTable};
use crate::settings::Settings;
use crate::storage::Store;

pub use resource::{ArtifactView, DocumentResource, DocumentSummary, ErrorView, ReviewMark, TimelineView};

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u64 = 500;
/// Validity of the artifact URLs of `GET /v1/documents/{id}`.
pub const ARTIFACT_URL_TTL: Duration = Duration::from_secs(3600);

/// What the evaluator handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EvaluatorState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub store: Store,
    /// Validity of presigned artifact URLs; [`ARTIFACT_URL_TTL`] unless a test changes it.
    pub artifact_url_ttl: Duration,
}

impl EvaluatorState {
    pub fn new(settings: Arc<Settings>, db: Db, store: Store) -> EvaluatorState {
        EvaluatorState { settings, db, store, artifact_url_ttl: ARTIFACT_URL_TTL }
    }
}

/// The evaluator routes, with their state, ready for
/// [`crate::gateway::GatewayState::with_routes`].
pub fn routes(state: EvaluatorState) -> Router {
    table().into_router().with_state(state)
}

/// The paths [`routes`] serves.
pub fn paths() -> Vec<&'static str> {
    table().paths()
}

fn table() -> RouteTable<EvaluatorState> {
    RouteTable::new()
        .route("/v1/documents", get(list::list))
        .route("/v1/documents/counts", get(counts::counts))
        .route("/v1/documents/{id}", get(show::show))
        .route("/v1/documents/{id}/reviews", axum::routing::post(reviews::create))
        .route("/v1/uploaders", get(counts::uploaders))
}

/// 401 unless the request carries one of `[[gateway.tokens]]`, 403 unless its role is
/// `evaluator`. With no token configured every request is refused, with a message telling
/// the operator what to set.
fn authorize(state: &EvaluatorState, headers: &HeaderMap) -> Result<(), ApiError> {
    auth::authorize(headers, &state.settings.gateway.tokens, Access::Evaluate).map(drop)
}

/// A database failure as the caller sees it: 503 with `Retry-After` when it may pass,
/// else 500. Logged here, where it is handled; the driver's own text stays in the log.
pub(crate) fn db_error(error: &DbError) -> ApiError {
    if error.is_transient() {
        tracing::warn!(%error, "evaluator query failed, answered 503");
        ApiError::unavailable("database unavailable").detail("the database cannot be reached; retry later")
    } else {
        tracing::error!(%error, "evaluator query failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "database query failed")
            .detail("the gateway's log has the cause")
    }
}
