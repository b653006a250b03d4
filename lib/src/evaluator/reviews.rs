//! `POST /v1/documents/{id}/reviews` (role `evaluator`): records a review of a normalized
//! document, `{"comment": "...", "verdict": "reviewed" | "changes_requested"}` (verdict
//! optional, `reviewed` by default); answers 201 with the stored review. 404 for an
//! unknown document, 409 while it is not `normalized`.
//!
//! A bearer token names no person: its reviews are signed "evaluator (token)", with the
//! token's digest prefix as the stable key (never the token).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{EvaluatorState, db_error};
use crate::gateway::ApiError;
use crate::gateway::auth::{self, Access};
use crate::gateway::body;
use crate::ids::DocumentId;
use crate::review::{NewReview, ReviewError, Verdict};

/// The display name of reviews made with a bearer token.
pub const TOKEN_REVIEWER: &str = "evaluator (token)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    comment: String,
    #[serde(default)]
    verdict: Option<String>,
}

pub(super) async fn create(
    State(state): State<EvaluatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    request: Body,
) -> Response {
    match handle(&state, &headers, id, request).await {
        Ok(review) => (StatusCode::CREATED, Json(review)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &EvaluatorState,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
    request: Body,
) -> Result<crate::review::Review, ApiError> {
    let token = auth::authorize(headers, &state.settings.gateway.tokens, Access::Evaluate)?;
    let invalid = || ApiError::invalid_field("invalid document id", "id", "a document id is a UUID");
    let Ok(Path(id)) = id else { return Err(invalid()) };
    let id: DocumentId = id.parse().map_err(|_| invalid())?;
    if !body::is_json(headers) {
        return Err(body::unsupported_media_type());
    }
    let max = state.settings.gateway_max_body().unwrap_or(1 << 20);
    let bytes = body::read_limited(headers, request, max).await?;
    let request: Request = serde_json::from_slice(&bytes).map_err(|e| ApiError::not_json(&e))?;
    let verdict = match request.verdict.as_deref() {
        None => Verdict::Reviewed,
        Some(text) => Verdict::parse(text).ok_or_else(|| {
            ApiError::invalid_field("invalid review", "verdict", "expected reviewed or changes_requested")
        })?,
    };
    let review = NewReview {
        document_id: id,
        reviewer: TOKEN_REVIEWER.to_owned(),
        principal: format!("token:{}", &token.sha256_hex()[..16]),
        verdict,
        comment: request.comment,
    };
    crate::review::add(&state.db, review).await.map_err(|e| review_error(&e, id))
}

/// A refused review as the API answers it.
pub(crate) fn review_error(error: &ReviewError, id: DocumentId) -> ApiError {
    match error {
        ReviewError::NoDocument => ApiError::new(StatusCode::NOT_FOUND, "no such document").detail(json!({"id": id})),
        ReviewError::NotReady { .. } => ApiError::new(StatusCode::CONFLICT, "not ready for review")
            .detail(json!({"id": id, "problem": error.to_string()})),
        ReviewError::Invalid(problem) => ApiError::invalid_field("invalid review", "comment", *problem),
        ReviewError::Db(error) => db_error(error),
    }
}
