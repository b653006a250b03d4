//! `GET /ui/upload`: a teacher's upload page (role `uploader`, or role `uploads` naming the
//! teacher it uploads for). `POST /ui/upload` (with the session's CSRF token) hands the
//! page's script a presigned form upload, the same the API's `POST /v1/uploads` makes;
//! the browser then posts the file straight to the object store, showing its progress,
//! and follows the new document on `GET /ui/events` until it is `normalized`.
//!
//! The page's policy allows exactly the store's public origin (of the uploads bucket's
//! form URL on `s3.public_endpoint`) in `connect-src` and `form-action`; the store must
//! answer the browser's CORS preflight for the gateway's origin (docs/web.md says how).

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{CSP, WebState, field, origin, pages, to_sign_in};
use crate::gateway::ApiError;
use crate::gateway::tokens::Role;
use crate::gateway::uploads::{Presigned, UploadRequest, presign as presign_form};

/// Who a session uploads for: `Some(uploader)` for a teacher, `None` for an uploading app
/// (which names the teacher in the form); `Err` for an evaluator.
fn uploads_for(role: &Role) -> Result<Option<&str>, ()> {
    match role {
        Role::Uploader { uploader_id } => Ok(Some(uploader_id)),
        Role::Uploads => Ok(None),
        Role::Evaluator | Role::Admin => Err(()),
    }
}

pub(super) async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    let csrf = state.key.csrf(&session);
    let Ok(teacher) = uploads_for(&session.role) else {
        return pages::error(
            Some((&session, &csrf)),
            StatusCode::FORBIDDEN,
            "Not available to this role",
            "Evaluators read documents; teachers upload them. Sign in with a teacher's own token to upload.",
        );
    };
    let mut response = pages::upload(&session, &csrf, teacher).into_response();
    let settings = &state.evaluator.settings;
    match state.evaluator.store.form_url(&settings.s3.uploads_bucket).ok().as_deref().and_then(origin) {
        Some(store) => {
            let policy = format!("{CSP}; connect-src 'self' {store}; form-action 'self' {store}")
                .replace("form-action 'self'; ", "");
            if let Ok(value) = HeaderValue::from_str(&policy) {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
            }
        }
        None => {
            tracing::warn!(endpoint = %settings.s3.public_endpoint(), "the upload page cannot name the store's origin")
        }
    }
    response
}

/// `POST /ui/upload`: `csrf`, `file_name`, `content_type`, `size` and, for an uploading
/// app, `teacher`; answers `{url, fields, key, watch}` or the API's error body.
pub(super) async fn presign(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "signed out").detail("sign in again").into_response();
    };
    let Ok(Form(form)) = form else {
        return ApiError::bad_request("malformed form").detail("expected a urlencoded form").into_response();
    };
    if !state.key.csrf_ok(&session, field(&form, "csrf")) {
        return ApiError::new(StatusCode::FORBIDDEN, "missing or wrong form token")
            .detail("reload the page and try again")
            .into_response();
    }
    let uploader_id = match uploads_for(&session.role) {
        Ok(Some(own)) => own.to_owned(),
        Ok(None) => field(&form, "teacher").trim().to_owned(),
        Err(()) => {
            return ApiError::new(StatusCode::FORBIDDEN, "this role does not upload")
                .detail("sign in with a teacher's token")
                .into_response();
        }
    };
    let content_type = match field(&form, "content_type").trim() {
        "" => "application/octet-stream".to_owned(),
        given => given.to_owned(),
    };
    let request = UploadRequest {
        uploader_id,
        file_name: field(&form, "file_name").to_owned(),
        content_type,
        size: field(&form, "size").trim().parse().unwrap_or(0),
    };
    let ttl = std::time::Duration::from_secs(15 * 60);
    let Presigned { form, key, expires_at } =
        match presign_form(&state.evaluator.store, &state.evaluator.settings, &request, ttl).await {
            Ok(presigned) => presigned,
            Err(error) => return error.into_response(),
        };
    Json(json!({
        "url": form.url,
        "fields": form.fields,
        "key": key,
        "watch": state.key.watch(&session, &key),
        "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
    .into_response()
}
