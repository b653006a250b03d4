//! `GET /v1/documents/{id}`: the whole document resource. 400 for an id that is not a
//! UUID, 404 for one no document has.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ArtifactView, DocumentResource, DocumentSummary, EvaluatorState, TimelineView, authorize, db_error};
use crate::db::ArtifactRow;
use crate::gateway::ApiError;
use crate::ids::DocumentId;

pub(super) async fn show(
    State(state): State<EvaluatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match handle(&state, &headers, id).await {
        Ok(resource) => Json(resource).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &EvaluatorState,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<DocumentResource, ApiError> {
    authorize(state, headers)?;
    let invalid = || ApiError::invalid_field("invalid document id", "id", "a document id is a UUID");
    // A path that is not percent-encoded UTF-8 is as invalid as any other non-UUID.
    let Ok(Path(id)) = id else { return Err(invalid()) };
    let id: DocumentId = id.parse().map_err(|_| invalid())?;
    load(state, id, None)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such document").detail(json!({"id": id})))
}

/// The resource of document `id` with presigned artifact links; `None` when there is no
/// such document, or when `uploader` is given and the document is someone else's (the
/// web interface's uploader sessions: checked before anything is presigned).
pub(crate) async fn load(
    state: &EvaluatorState,
    id: DocumentId,
    uploader: Option<&str>,
) -> Result<Option<DocumentResource>, ApiError> {
    let Some(mut document) = state.db.get(id).await.map_err(|e| db_error(&e))? else {
        return Ok(None);
    };
    if uploader.is_some_and(|own| own != document.uploader_id) {
        return Ok(None);
    }
    let (timeline, artifacts) =
        tokio::try_join!(state.db.timeline(id), state.db.artifacts(id)).map_err(|e| db_error(&e))?;
    let mut views = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let url = presign(state, &artifact).await?;
        views.push(ArtifactView::new(artifact, url));
    }
    let normalized = document.normalized.take();
    Ok(Some(DocumentResource {
        summary: DocumentSummary::from(document),
        timeline: timeline.into_iter().map(TimelineView::from).collect(),
        normalized,
        artifacts: views,
    }))
}

/// A GET URL for the artifact in `s3.results_bucket`. Presigning is computed locally, so
/// a failure means the settings are wrong rather than that the store is down.
async fn presign(state: &EvaluatorState, artifact: &ArtifactRow) -> Result<String, ApiError> {
    let bucket = &state.settings.s3.results_bucket;
    state.store.presign_get(bucket, &artifact.key, state.artifact_url_ttl).await.map_err(|error| {
        tracing::error!(%error, bucket, key = %artifact.key, "cannot presign an artifact URL");
        if error.is_transient() {
            ApiError::unavailable("object store unavailable").detail("retry later")
        } else {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot presign an artifact URL")
                .detail("the gateway's log has the cause; check the s3 settings")
        }
    })
}
