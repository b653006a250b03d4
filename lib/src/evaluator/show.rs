//! `GET /v1/documents/{id}`: the whole document resource. 400 for an id that is not a
//! UUID, 404 for one no document has. The artifact links are presigned GETs signed for
//! `s3.public_endpoint`; the answer carries them, so it is `Cache-Control: no-store`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ArtifactView, DocumentResource, DocumentSummary, EvaluatorState, TimelineView, authorize, db_error};
use crate::db::{ArtifactRole, ArtifactRow};
use crate::gateway::ApiError;
use crate::ids::{DocumentId, UploaderId};

pub(super) async fn show(
    State(state): State<EvaluatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match handle(&state, &headers, id).await {
        Ok(resource) => {
            ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(resource)).into_response()
        }
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
    load(state, id, None, Links::Presigned)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such document").detail(json!({"id": id})))
}

/// How a resource links its artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Presigned GETs on `s3.public_endpoint` (the API's `artifacts[].url`).
    Presigned,
    /// The gateway's own download route, `/ui/documents/{id}/files/{role}` (the web
    /// interface: browsers get no presigned link at all).
    Gateway,
}

/// The gateway's address of a document's artifact of `role`.
pub(crate) fn gateway_link(id: DocumentId, role: ArtifactRole) -> String {
    format!("/ui/documents/{id}/files/{role}")
}

/// The resource of document `id` with artifact links as `links` says; `None` when there
/// is no such document, or when `uploader` is given and the document is someone else's
/// (the web interface's uploader sessions: checked before anything is presigned).
pub(crate) async fn load(
    state: &EvaluatorState,
    id: DocumentId,
    uploader: Option<&UploaderId>,
    links: Links,
) -> Result<Option<DocumentResource>, ApiError> {
    let Some(mut document) = state.db.get(id).await.map_err(|e| db_error(&e))? else {
        return Ok(None);
    };
    if uploader.is_some_and(|own| *own != document.uploader_id) {
        return Ok(None);
    }
    let (timeline, artifacts) =
        tokio::try_join!(state.db.timeline(id), state.db.artifacts(id)).map_err(|e| db_error(&e))?;
    let mut views = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let url = match links {
            Links::Presigned => presign(state, &artifact).await?,
            Links::Gateway => gateway_link(id, artifact.role),
        };
        views.push(ArtifactView::new(artifact, url));
    }
    let reviews = crate::review::of_document(&state.db, id).await.map_err(|e| db_error(&e))?;
    let versions =
        crate::review::versions(&state.db, &document.uploader_id, &document.key).await.map_err(|e| db_error(&e))?;
    let normalized = document.normalized.take();
    let mut summary = DocumentSummary::from(document).with_review(reviews.last());
    summary.findings = super::resource::findings_of(normalized.as_ref());
    Ok(Some(DocumentResource {
        summary,
        reviews,
        versions,
        timeline: timeline.into_iter().map(TimelineView::from).collect(),
        normalized,
        artifacts: views,
    }))
}

/// A GET URL for the artifact in `s3.results_bucket`, for the public address. Presigning
/// is computed locally, so a failure means the settings are wrong rather than that the
/// store is down.
async fn presign(state: &EvaluatorState, artifact: &ArtifactRow) -> Result<String, ApiError> {
    let bucket = &state.settings.s3.results_bucket;
    state.store.presign_public_get(bucket, &artifact.key, state.artifact_url_ttl).await.map_err(|error| {
        tracing::error!(%error, bucket, key = %artifact.key, "cannot presign an artifact URL");
        if error.is_transient() {
            ApiError::unavailable("object store unavailable").detail("retry later")
        } else {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot presign an artifact URL")
                .detail("the gateway's log has the cause; check the s3 settings")
        }
    })
}
