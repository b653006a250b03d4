//! `GET /ui/documents/{id}/files/{role}`: a document's result file (the corrected file,
//! the video's rendition and thumbnail, the findings, ...) streamed from the results
//! bucket through the gateway. Browsers get no presigned link to the store: what the
//! store would serve is whatever type the provider declared, on the store's origin,
//! without `nosniff` (issue 21), and often at an address only docflow can reach
//! (issue 20).
//!
//! - Who: the session's role decides, as for the document's page: an evaluator any
//!   document, a teacher only their own (another's is 404, as is an unknown role or id),
//!   an uploading app none (403). Without a session: to the sign-in page.
//! - Streamed: the body is the store's stream, never held whole. A single `Range:
//!   bytes=...` is passed to the store as a range request and answered 206 with
//!   `Content-Range`; an unsatisfiable one 416; several ranges, or an `If-Range` that does
//!   not match the `ETag` (the file's SHA-256, checked at validation), the whole file.
//! - Headers: `Content-Disposition: attachment` (the rendition and thumbnail, which the
//!   page's player shows, `inline`), the declared type with `charset=utf-8` for text, but
//!   `application/octet-stream` for a type a browser would run; `X-Content-Type-Options:
//!   nosniff`; `Cache-Control: private, no-store`; a policy that runs nothing.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Refused, WebState, readable, to_sign_in};
use crate::db::{ArtifactRole, ArtifactRow, Document};
use crate::ids::{DocumentId, UploaderId};
use crate::storage::{StorageError, active};

/// Roles the page's player shows in place: served `inline`.
const INLINE_ROLES: [ArtifactRole; 2] = [ArtifactRole::Rendition, ArtifactRole::Thumbnail];

/// What the response of a file carries as its own policy: nothing runs, even opened alone.
const FILE_CSP: &str = "default-src 'none'; sandbox";

/// The part of a file a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// Bytes `start..=end`.
    Range {
        start: u64,
        end: u64,
    },
    /// No byte of a file of this size is in the range asked for.
    Unsatisfiable,
}

/// The part a `Range` header value asks of a file of `size` bytes. One range only; a
/// malformed value, another unit or several ranges ask for the whole file (RFC 9110
/// allows ignoring `Range`).
pub fn requested_part(range: Option<&str>, size: u64) -> Part {
    let Some(spec) = range.map(str::trim).and_then(|r| {
        let (unit, spec) = r.split_once('=')?;
        unit.trim().eq_ignore_ascii_case("bytes").then_some(spec.trim())
    }) else {
        return Part::Whole;
    };
    if spec.contains(',') {
        return Part::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else { return Part::Whole };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-N`: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                Part::Unsatisfiable
            } else {
                Part::Range { start: size.saturating_sub(suffix), end: size - 1 }
            }
        }
        (false, Some(start), None) if last.trim().is_empty() => {
            if start >= size {
                Part::Unsatisfiable
            } else {
                Part::Range { start, end: size - 1 }
            }
        }
        (false, Some(start), Some(end)) if start <= end => {
            if start >= size {
                Part::Unsatisfiable
            } else {
                Part::Range { start, end: end.min(size - 1) }
            }
        }
        _ => Part::Whole,
    }
}

/// The `Content-Type` a result file is served with: the declared type, with
/// `charset=utf-8` for text when it names none; `application/octet-stream` for a type a
/// browser would run (stored before that was refused) or one that is not a media type.
pub fn served_type(declared: &str) -> String {
    let essence = active::essence(declared);
    let looks_valid = essence.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && declared.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !looks_valid || active::is_active_type(declared) {
        return "application/octet-stream".to_owned();
    }
    let textual = essence.starts_with("text/") || essence == "application/json" || essence.ends_with("+json");
    if textual && !declared.to_ascii_lowercase().contains("charset=") {
        format!("{essence}; charset=utf-8")
    } else {
        declared.trim().to_owned()
    }
}

/// `attachment` (or `inline`) with the file's name: an ASCII fallback and the UTF-8 name
/// (RFC 6266). Quotes, backslashes, control and invisible characters never reach it.
pub fn disposition(inline: bool, name: &str) -> String {
    let clean: String =
        name.chars().filter(|c| !c.is_control() && !crate::events::key::is_invisible(*c)).collect::<String>();
    let clean = clean.trim();
    let clean = if clean.is_empty() { "download" } else { clean };
    let plain = |c: char| c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | ';'));
    let ascii: String = clean.chars().map(|c| if plain(c) { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(clean, percent_encoding::NON_ALPHANUMERIC);
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub(super) async fn download(
    State(state): State<WebState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let own = match reader(&state, &headers) {
        Ok(own) => own,
        Err(answer) => return *answer,
    };
    let Some((id, role)) = path
        .ok()
        .and_then(|Path((id, role))| Some((id.parse::<DocumentId>().ok()?, role.parse::<ArtifactRole>().ok()?)))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(answer) = own_document(&state, id, own.as_ref()).await {
        return *answer;
    }
    let db = &state.evaluator.db;
    let artifact = match db.artifacts(id).await {
        Ok(artifacts) => artifacts.into_iter().find(|a| a.role == role),
        Err(error) => return crate::evaluator::db_error(&error).into_response(),
    };
    let Some(artifact) = artifact else { return StatusCode::NOT_FOUND.into_response() };
    serve(&state, &headers, &artifact).await
}

/// Who may read a document's files: `Ok(None)` every document, `Ok(Some(uploader))` that
/// teacher's own; without a session, to the sign-in page; a role that reads none, 403.
pub(super) fn reader(state: &WebState, headers: &HeaderMap) -> Result<Option<UploaderId>, Box<Response>> {
    let Some(session) = state.session(headers) else { return Err(Box::new(to_sign_in())) };
    match readable(&session) {
        Ok(own) => Ok(own.cloned()),
        Err(Refused) => Err(Box::new(StatusCode::FORBIDDEN.into_response())),
    }
}

/// Document `id` if `own` (see [`reader`]) may read it; 404 when there is none or it is
/// another teacher's.
pub(super) async fn own_document(
    state: &WebState,
    id: DocumentId,
    own: Option<&UploaderId>,
) -> Result<Document, Box<Response>> {
    match state.evaluator.db.get(id).await {
        Ok(Some(document)) if own.is_none_or(|own| *own == document.uploader_id) => Ok(document),
        Ok(_) => Err(Box::new(StatusCode::NOT_FOUND.into_response())),
        Err(error) => Err(Box::new(crate::evaluator::db_error(&error).into_response())),
    }
}

/// The artifact's bytes, or the part the request asks for, from the results bucket.
async fn serve(state: &WebState, headers: &HeaderMap, artifact: &ArtifactRow) -> Response {
    let size = u64::try_from(artifact.size).unwrap_or(0);
    let etag = format!("\"{}\"", artifact.sha256);
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // A stale `If-Range` (another version of the file) gets the whole file.
    let if_range_ok = headers.get(header::IF_RANGE).is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let part = if if_range_ok { requested_part(range, size) } else { Part::Whole };
    let mut response = match part {
        Part::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            insert(response.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{size}"));
            response
        }
        Part::Whole | Part::Range { .. } => {
            let bucket = &state.evaluator.settings.s3.results_bucket;
            let store = &state.evaluator.store;
            let opened = match part {
                Part::Range { start, end } => store.open_range(bucket, &artifact.key, start, end - start + 1).await,
                _ => store.open(bucket, &artifact.key, None).await,
            };
            let (stream, length) = match opened {
                Ok(opened) => opened,
                Err(error) => return store_error(&error),
            };
            let mut response = Response::new(Body::from_stream(stream));
            insert(response.headers_mut(), header::CONTENT_LENGTH, &length.to_string());
            if let Part::Range { start, end } = part {
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                insert(response.headers_mut(), header::CONTENT_RANGE, &format!("bytes {start}-{end}/{size}"));
            }
            insert(response.headers_mut(), header::CONTENT_TYPE, &served_type(&artifact.content_type));
            let inline = INLINE_ROLES.contains(&artifact.role);
            insert(response.headers_mut(), header::CONTENT_DISPOSITION, &disposition(inline, &artifact.name));
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    insert(headers, header::ETAG, &etag);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_CSP));
    response
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A store failure as the browser sees it; logged here, where it is handled.
fn store_error(error: &StorageError) -> Response {
    match error {
        StorageError::NotFound { .. } => {
            tracing::warn!(%error, "a result file recorded for a document is missing from the store");
            StatusCode::NOT_FOUND.into_response()
        }
        StorageError::Transient { .. } => {
            tracing::warn!(%error, "cannot read a result file for the web interface");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")]).into_response()
        }
        StorageError::Permanent { .. } => {
            tracing::error!(%error, "cannot read a result file for the web interface");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_range_of_each_form_is_understood() {
        let part = |range: &str| requested_part(Some(range), 1000);
        assert_eq!(part("bytes=0-99"), Part::Range { start: 0, end: 99 });
        assert_eq!(part("bytes=900-"), Part::Range { start: 900, end: 999 });
        assert_eq!(part("bytes=-100"), Part::Range { start: 900, end: 999 });
        assert_eq!(part("bytes=-5000"), Part::Range { start: 0, end: 999 }, "a suffix longer than the file");
        assert_eq!(part("bytes=990-5000"), Part::Range { start: 990, end: 999 }, "an end past the file");
        assert_eq!(part("Bytes = 5-5"), Part::Range { start: 5, end: 5 });
    }

    #[test]
    fn a_range_outside_the_file_is_unsatisfiable() {
        assert_eq!(requested_part(Some("bytes=1000-"), 1000), Part::Unsatisfiable);
        assert_eq!(requested_part(Some("bytes=1000-1001"), 1000), Part::Unsatisfiable);
        assert_eq!(requested_part(Some("bytes=-0"), 1000), Part::Unsatisfiable);
        assert_eq!(requested_part(Some("bytes=0-"), 0), Part::Unsatisfiable, "an empty file has no byte");
    }

    #[test]
    fn anything_else_asks_for_the_whole_file() {
        for range in ["", "bytes", "items=0-5", "bytes=5-1", "bytes=0-1,5-9", "bytes=a-b", "bytes=-", "bytes=+1-2"] {
            assert_eq!(requested_part(Some(range), 1000), Part::Whole, "{range:?}");
        }
        assert_eq!(requested_part(None, 1000), Part::Whole);
    }

    #[test]
    fn text_gets_utf8_and_active_types_are_served_as_bytes() {
        assert_eq!(served_type("text/plain"), "text/plain; charset=utf-8");
        assert_eq!(served_type("text/vtt"), "text/vtt; charset=utf-8");
        assert_eq!(served_type("application/json"), "application/json; charset=utf-8");
        assert_eq!(served_type("text/plain; charset=iso-8859-1"), "text/plain; charset=iso-8859-1");
        assert_eq!(served_type("video/mp4"), "video/mp4");
        assert_eq!(served_type("application/pdf"), "application/pdf");
        for active in ["text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "text/javascript", "", "pdf"]
        {
            assert_eq!(served_type(active), "application/octet-stream", "{active:?}");
        }
    }

    #[test]
    fn the_disposition_names_the_file_safely() {
        assert_eq!(
            disposition(false, "plan.corrected.docx"),
            "attachment; filename=\"plan.corrected.docx\"; filename*=UTF-8''plan%2Ecorrected%2Edocx"
        );
        let accented = disposition(false, "leçon \"3\".pdf");
        assert!(accented.starts_with("attachment; filename=\"le_on _3_.pdf\"; filename*=UTF-8''le%C3%A7on%20%223%22"));
        let bidi = disposition(true, "evil\u{202E}fdp.exe\r\n");
        assert!(bidi.starts_with("inline; filename=\"evilfdp.exe\""), "{bidi}");
        assert!(!bidi.contains('\u{202E}') && !bidi.contains("%E2%80%AE") && !bidi.contains('\n'), "{bidi}");
        assert!(disposition(false, "\u{200B}").contains("filename=\"download\""));
    }
}
