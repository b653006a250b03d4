//! `POST /v1/uploads`: hands an uploading app a presigned form upload (S3 POST Object)
//! for a fresh key in the uploads bucket, `{uploader_id}/{yyyy}/{mm}/{uuid}-{file_name}`.
//! The form binds what the request declared: the store refuses a file of another size or
//! another content type ([`crate::storage::UploadForm`]). The upload itself goes straight
//! to the store, whose notification then starts the pipeline.
//!
//! Who may ask: a token of role `uploads` for any uploader, `uploader` for its own
//! `uploader_id` only (401 without a known token, 403 for another role or uploader).
//!
//! Refused with 400: a type or a file name a browser would run
//! ([`crate::storage::active`]), and invisible characters (bidi overrides, zero-width
//! spaces: [`crate::events::key::is_invisible`]) in a name. The answer holds a signed form:
//! `Cache-Control: no-store`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use serde_json::{Map, Value, json};

use super::auth::{self, Access};
use super::{ApiError, GatewayState, body};
use crate::events::key::is_invisible;
use crate::ids::UploaderId;
use crate::metrics;
use crate::settings::tokens::{MAX_UPLOADER_ID, uploader_id_ok};
use crate::storage::active;

/// The largest object one presigned upload can create (S3's single-PUT limit).
pub const MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Longest `file_name`, in bytes.
pub const MAX_FILE_NAME: usize = 200;
const INVALID: &str = "invalid upload request";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadRequest {
    pub(crate) uploader_id: UploaderId,
    pub(crate) file_name: String,
    pub(crate) content_type: String,
    pub(crate) size: u64,
}

/// A form upload handed out: where and what to post, and until when.
#[derive(Debug, Clone)]
pub(crate) struct Presigned {
    pub(crate) form: crate::storage::UploadForm,
    pub(crate) key: String,
    pub(crate) expires_at: chrono::DateTime<Utc>,
}

/// The presigned form upload of a valid `request`, for a fresh key
/// `{uploader_id}/{yyyy}/{mm}/{uuid}-{file_name}` in the uploads bucket (the web
/// interface's upload page asks through here too).
pub(crate) async fn presign(
    store: &crate::storage::Store,
    settings: &crate::settings::Settings,
    request: &UploadRequest,
    ttl: std::time::Duration,
) -> Result<Presigned, ApiError> {
    validate(request)?;
    let now = Utc::now();
    let key = format!(
        "{}/{:04}/{:02}/{}-{}",
        request.uploader_id,
        now.year(),
        now.month(),
        uuid::Uuid::new_v4(),
        request.file_name
    );
    let bucket = &settings.s3.uploads_bucket;
    let form =
        store.presign_upload_form(bucket, &key, &request.content_type, request.size, ttl).await.map_err(|error| {
            tracing::warn!(%error, "cannot presign an upload form");
            if error.is_transient() {
                ApiError::unavailable("object store unavailable").detail("retry later")
            } else {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot presign an upload")
                    .detail("the gateway's log has the cause; check the s3 settings")
            }
        })?;
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::minutes(15));
    metrics::upload_url();
    tracing::info!(uploader_id = %request.uploader_id, size = request.size, "upload form issued");
    Ok(Presigned { form, key, expires_at })
}

pub(super) async fn create(State(state): State<GatewayState>, headers: HeaderMap, request_body: Body) -> Response {
    match handle(&state, &headers, request_body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &GatewayState, headers: &HeaderMap, request_body: Body) -> Result<Response, ApiError> {
    // 401 and a role that can upload for nobody (403) before the body is read.
    let token = auth::authorize(headers, &state.settings.gateway.tokens, Access::Upload(None))?;
    if !body::is_json(headers) {
        return Err(body::unsupported_media_type());
    }
    let raw = body::read_limited(headers, request_body, state.max_body).await?;
    let request = parse(&raw)?;
    auth::check(&token.role, Access::Upload(Some(&request.uploader_id)))?;
    let Presigned { form, key, expires_at } =
        presign(&state.store, &state.settings, &request, state.upload_url_ttl).await?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({
            "url": form.url,
            "method": "POST",
            "headers": {},
            "fields": form.fields,
            "key": key,
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })),
    )
        .into_response())
}

/// The body as an [`UploadRequest`], or a 400 in our own words naming the field.
pub(super) fn parse(raw: &[u8]) -> Result<UploadRequest, ApiError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| ApiError::not_json(&e))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid_field(INVALID, "$", "expected a JSON object"));
    };
    let request = UploadRequest {
        uploader_id: UploaderId::from(text(object, "uploader_id")?),
        file_name: text(object, "file_name")?,
        content_type: text(object, "content_type")?,
        size: match object.get("size") {
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| field("size", SIZE_RULE))?,
            Some(_) => return Err(field("size", "expected a number of bytes")),
            None => return Err(field("size", "missing")),
        },
    };
    validate(&request)?;
    Ok(request)
}

const SIZE_RULE: &str = "more than 0 and at most 5 GiB (5368709120 bytes)";

fn field(name: &str, problem: &str) -> ApiError {
    ApiError::invalid_field(INVALID, name, problem)
}

fn text(object: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match object.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(field(name, "expected a string")),
        None => Err(field(name, "missing")),
    }
}

pub(crate) fn validate(request: &UploadRequest) -> Result<(), ApiError> {
    if !uploader_id_ok(request.uploader_id.as_str()) || request.uploader_id.as_str().chars().any(is_invisible) {
        return Err(field(
            "uploader_id",
            &format!("1 to {MAX_UPLOADER_ID} bytes, no `/`, `\\`, control or invisible characters, not `.` or `..`"),
        ));
    }
    let name = &request.file_name;
    let name_ok = !name.is_empty()
        && name.len() <= MAX_FILE_NAME
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(|c| c.is_control() || is_invisible(c));
    if !name_ok {
        return Err(field(
            "file_name",
            &format!(
                "1 to {MAX_FILE_NAME} bytes, no `/`, `\\`, control or invisible characters (such as U+202E, which \
                 shows a name backwards), not `.` or `..`"
            ),
        ));
    }
    let content_type_ok =
        request.content_type.split_once('/').is_some_and(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
            && request.content_type.len() <= 255
            && request.content_type.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !content_type_ok {
        return Err(field("content_type", "a media type such as application/pdf, at most 255 characters"));
    }
    if let Some(what) = active::active(&request.content_type, &request.file_name) {
        let name = if active::is_active_type(&request.content_type) { "content_type" } else { "file_name" };
        return Err(field(
            name,
            &format!("{what} is refused: a browser would run it as a page or a script. Accepted: {}", active::ACCEPTED),
        ));
    }
    if request.size == 0 || request.size > MAX_UPLOAD_SIZE {
        return Err(field("size", SIZE_RULE));
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

    #[test]
    fn invisible_characters_in_names_are_refused() {
        for c in ['\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{200F}', '\u{FEFF}', '\u{061C}'] {
            assert_eq!(field_of(request("t", &format!("plan{c}fdp.exe"), "application/pdf", 1)), "file_name", "{c:?}");
            assert_eq!(field_of(request(&format!("teacher{c}42"), "a.pdf", "application/pdf", 1)), "uploader_id");
        }
        let problem =
            validate(&request("t", "evil\u{202E}fdp.exe", "application/pdf", 1)).unwrap_err().detail["problem"]
                .as_str()
                .unwrap()
                .to_owned();
        assert!(problem.contains("invisible"), "{problem}");
        assert!(validate(&request("t", "Plan de leçon — خطة.pdf", "application/pdf", 1)).is_ok());
    }

    #[test]
    fn types_a_browser_would_run_are_refused_naming_the_type_and_what_is_accepted() {
        for content_type in
            ["text/html", "text/html; charset=utf-8", "image/svg+xml", "application/xhtml+xml", "text/xml"]
        {
            let error = validate(&request("t", "plan.txt", content_type, 10)).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert_eq!(error.detail["field"], "content_type", "{content_type}");
            let problem = error.detail["problem"].as_str().unwrap();
            assert!(problem.contains(&active::essence(content_type)) && problem.contains("PDF, Word"), "{problem}");
        }
        let error = validate(&request("t", "page.html", "text/plain", 10)).unwrap_err();
        assert_eq!(error.detail["field"], "file_name");
        assert!(error.detail["problem"].as_str().unwrap().contains(".html"), "{}", error.detail);
        assert!(validate(&request("t", "clip.mp4", "video/mp4", 10)).is_ok());
        assert!(validate(&request("t", "notes.txt", "text/plain", 10)).is_ok());
    }
}
