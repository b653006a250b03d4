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
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::i18n::Lang;
use super::session::Session;
use super::{CSP, WebState, field, origin, pages, to_sign_in};
use crate::gateway::ApiError;
use crate::gateway::uploads::{Presigned, UploadRequest, presign as presign_form};
use crate::ids::{Kind, UploaderId};
use crate::mail::store::{Contact, MailStore};
use crate::settings::tokens::Role;

/// Who a session uploads for: `Some(uploader)` for a teacher, `None` for an uploading app
/// (which names the teacher in the form); `Err` for an evaluator.
fn uploads_for(role: &Role) -> Result<Option<&UploaderId>, ()> {
    match role {
        Role::Uploader { uploader_id } => Ok(Some(uploader_id)),
        Role::Uploads => Ok(None),
        Role::Evaluator | Role::Admin => Err(()),
    }
}

/// `GET /ui/upload[?kind=document|video&replaces=NAME]`: the page; the query comes from a
/// stopped document's "Upload a new version" (`failure.rs`).
pub(super) async fn page(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    let csrf = state.key.csrf(&session);
    let Ok(teacher) = uploads_for(&session.role) else {
        return pages::error_tr(
            lang,
            Some((&session, &csrf)),
            StatusCode::FORBIDDEN,
            "common-not-for-this-role",
            "upload-teachers-only",
        );
    };
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let replaces = replaces(&pairs);
    let replaces = replaces.as_ref().map(|(kind, name)| (*kind, name.as_str()));
    let email = teacher.and(email_of(&session));
    // What the page says once docflow has the file: how long each kind usually takes.
    let db = &state.evaluator.db;
    let (document, video) =
        tokio::join!(super::wait::said(db, lang, Kind::Document), super::wait::said(db, lang, Kind::Video));
    let shown = pages::UploadPage {
        teacher,
        replaces,
        email: email.as_deref(),
        waits: vec![(Kind::Document, document), (Kind::Video, video)],
    };
    let mut response = pages::upload(lang, &session, &csrf, &shown).into_response();
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
        return in_words(ApiError::new(StatusCode::UNAUTHORIZED, "signed out").detail("sign in again"));
    };
    let Ok(Form(form)) = form else {
        return in_words(ApiError::bad_request("malformed form").detail("expected a urlencoded form"));
    };
    if !state.key.csrf_ok(&session, field(&form, "csrf")) {
        return in_words(
            ApiError::new(StatusCode::FORBIDDEN, "missing or wrong form token").detail("reload the page and try again"),
        );
    }
    let uploader_id = match uploads_for(&session.role) {
        Ok(Some(own)) => own.clone(),
        Ok(None) => UploaderId::from(field(&form, "teacher").trim()),
        Err(()) => {
            return in_words(
                ApiError::new(StatusCode::FORBIDDEN, "this role does not upload")
                    .detail("sign in with a teacher's token"),
            );
        }
    };
    if let (Ok(Some(own)), Some(email)) = (uploads_for(&session.role), email_of(&session)) {
        // The teacher's choice for the e-mails, as the page's box says it.
        let contact = Contact { email, opt_in: field(&form, "notify") == "1" };
        if let Err(error) = MailStore::new(state.evaluator.db.clone()).record_contact(own, &contact).await {
            tracing::warn!(%error, uploader = own.as_str(), "the uploader's e-mail choice was not recorded");
        }
    }
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
            Err(error) => return in_words(error),
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

/// The address a session's sign-in gave (OpenID Connect claims), for the e-mails; token
/// sessions have none (their addresses are `[[mail.uploaders]]`).
fn email_of(session: &Session) -> Option<String> {
    session.email().map(str::to_owned)
}

/// The kind and file name of `?kind=&replaces=`, when both are sound: a name of at most
/// 255 characters without control characters (it is only shown, escaped).
fn replaces(pairs: &[(String, String)]) -> Option<(Kind, String)> {
    let name = field(pairs, "replaces").trim();
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return None;
    }
    let kind = if field(pairs, "kind") == "video" { Kind::Video } else { Kind::Document };
    Some((kind, name.to_owned()))
}

/// The API's error body, plus `message`: what the page shows, in words. A refused field's
/// `detail` is `{"field", "problem"}`; the person reads the problem, never the JSON.
fn in_words(error: ApiError) -> Response {
    let message = message(&error);
    (error.status, Json(json!({"error": error.error, "detail": error.detail, "message": message}))).into_response()
}

/// The sentence the upload page shows for a refused upload.
pub(super) fn message(error: &ApiError) -> String {
    let problem = error.detail.get("problem").and_then(|p| p.as_str()).or_else(|| error.detail.as_str());
    let text = match problem {
        Some(problem) if !problem.trim().is_empty() => problem.trim().to_owned(),
        _ => error.error.clone(),
    };
    let mut chars = text.chars();
    let mut said: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if !said.ends_with(['.', '!', '?']) {
        said.push('.');
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_field_reads_as_its_problem_not_as_json() {
        let error = ApiError::invalid_field("invalid upload", "size", "the file is larger than the 2 GiB allowed");
        assert_eq!(message(&error), "The file is larger than the 2 GiB allowed.");
        let error = ApiError::unavailable("object store unavailable").detail("retry later");
        assert_eq!(message(&error), "Retry later.");
        assert_eq!(message(&ApiError::bad_request("malformed form")), "Malformed form.");
    }

    #[test]
    fn a_new_version_names_only_a_sound_file_name() {
        let pairs = |kind: &str, name: &str| {
            vec![("kind".to_owned(), kind.to_owned()), ("replaces".to_owned(), name.to_owned())]
        };
        assert_eq!(replaces(&pairs("video", "a.mp4")), Some((Kind::Video, "a.mp4".to_owned())));
        assert_eq!(replaces(&pairs("x", "plan.docx")), Some((Kind::Document, "plan.docx".to_owned())));
        assert_eq!(replaces(&pairs("document", "bad\u{7}name")), None);
        assert_eq!(replaces(&pairs("document", &"x".repeat(256))), None);
        assert_eq!(replaces(&[]), None);
    }
}
