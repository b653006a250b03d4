//! `POST /v1/uploads`: hands an uploading app a presigned PUT URL for a fresh key in the
//! uploads bucket, `{uploader_id}/{yyyy}/{mm}/{uuid}-{file_name}`. The upload itself goes
//! straight to the store, whose notification then starts the pipeline.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, GatewayState, auth, body};
use crate::metrics;

/// The largest object one presigned PUT can create (S3's single-PUT limit).
pub const MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;
const INVALID: &str = "invalid upload request";

#[derive(Debug, Deserialize)]
pub(super) struct UploadRequest {
    uploader_id: String,
    file_name: String,
    content_type: String,
    size: u64,
}

pub(super) async fn create(State(state): State<GatewayState>, headers: HeaderMap, request_body: Body) -> Response {
    match handle(&state, &headers, request_body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &GatewayState, headers: &HeaderMap, request_body: Body) -> Result<Response, ApiError> {
    let tokens: Vec<_> = state.settings.gateway.tokens.iter().collect();
    auth::require_bearer(headers, &tokens)?;
    if !body::is_json(headers) {
        return Err(body::unsupported_media_type());
    }
    let raw = body::read_limited(headers, request_body, state.max_body).await?;
    let request: UploadRequest =
        serde_json::from_slice(&raw).map_err(|e| ApiError::bad_request(INVALID).detail(e.to_string()))?;
    validate(&request)?;
    let now = Utc::now();
    let key = format!(
        "{}/{:04}/{:02}/{}-{}",
        request.uploader_id,
        now.year(),
        now.month(),
        uuid::Uuid::new_v4(),
        request.file_name
    );
    let bucket = &state.settings.s3.uploads_bucket;
    let ttl = state.upload_url_ttl;
    let url = state.store.presign_put(bucket, &key, ttl).await.map_err(|error| {
        tracing::warn!(%error, "cannot presign an upload URL");
        if error.is_transient() {
            ApiError::unavailable("object store unavailable").detail(error.to_string())
        } else {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot presign an upload URL").detail(error.to_string())
        }
    })?;
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::minutes(15));
    metrics::upload_url();
    tracing::info!(uploader_id = %request.uploader_id, size = request.size, "upload url issued");
    Ok((
        StatusCode::OK,
        Json(json!({
            "url": url,
            "method": "PUT",
            "headers": {"Content-Type": request.content_type},
            "key": key,
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })),
    )
        .into_response())
}

fn validate(request: &UploadRequest) -> Result<(), ApiError> {
    let field = |name: &str, problem: &str| ApiError::invalid_field(INVALID, name, problem);
    let segment_ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s != "."
            && s != ".."
            && !s.contains(['/', '\\'])
            && !s.chars().any(char::is_control)
    };
    if !segment_ok(&request.uploader_id, 128) {
        return Err(field("uploader_id", "1 to 128 characters, no `/`, `\\` or control characters, not `.` or `..`"));
    }
    if !segment_ok(&request.file_name, 200) {
        return Err(field("file_name", "1 to 200 bytes, no `/`, `\\` or control characters, not `.` or `..`"));
    }
    let content_type_ok =
        request.content_type.split_once('/').is_some_and(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
            && request.content_type.len() <= 255
            && request.content_type.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !content_type_ok {
        return Err(field("content_type", "a media type such as application/pdf"));
    }
    if request.size == 0 || request.size > MAX_UPLOAD_SIZE {
        return Err(field("size", "more than 0 and at most 5 GiB (5368709120 bytes)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uploader_id: &str, file_name: &str, content_type: &str, size: u64) -> UploadRequest {
        UploadRequest {
            uploader_id: uploader_id.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
            size,
        }
    }

    fn field_of(r: UploadRequest) -> String {
        validate(&r).unwrap_err().detail["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_plain_request_is_valid() {
        assert!(validate(&request("teacher-42", "lesson plan week 3.docx", "application/pdf", 10)).is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(field_of(request("", "a.pdf", "application/pdf", 1)), "uploader_id");
        assert_eq!(field_of(request("a/b", "a.pdf", "application/pdf", 1)), "uploader_id");
        assert_eq!(field_of(request("..", "a.pdf", "application/pdf", 1)), "uploader_id");
        assert_eq!(field_of(request("t", "x/a.pdf", "application/pdf", 1)), "file_name");
        assert_eq!(field_of(request("t", "a\n.pdf", "application/pdf", 1)), "file_name");
        assert_eq!(field_of(request("t", "a.pdf", "pdf", 1)), "content_type");
        assert_eq!(field_of(request("t", "a.pdf", "application/pdf", 0)), "size");
        assert_eq!(field_of(request("t", "a.pdf", "application/pdf", MAX_UPLOAD_SIZE + 1)), "size");
    }
}
