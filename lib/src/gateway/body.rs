//! Reading request bodies under `gateway.max_body`, and the JSON content-type check.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use super::ApiError;

/// True for `application/json`, with or without parameters, as long as a `charset`
/// parameter, if any, is UTF-8.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    })
}

pub(crate) fn unsupported_media_type() -> ApiError {
    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected Content-Type: application/json")
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large").detail(json!({"max_bytes": max}))
}

/// The whole body, refused with 413 past `max` bytes: up front when `Content-Length`
/// says so, else as soon as the limit is crossed while reading (chunked bodies).
pub(crate) async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        discard(body).await;
        return Err(too_large(max));
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Err(error) => {
            tracing::debug!(%error, "request body unreadable");
            Err(ApiError::bad_request("could not read the request body")
                .detail("the connection broke or the body's framing is wrong"))
        }
    }
}

/// What is read and thrown away of a refused body, so that a client still sending it can
/// read the 413 (answering mid-upload makes many clients fail on the reset instead).
/// A larger body is cut off: the connection closes.
const DISCARD_LIMIT: usize = 16 * 1024 * 1024;
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(5);

async fn discard(body: Body) {
    let _ = tokio::time::timeout(DISCARD_TIME, Limited::new(body, DISCARD_LIMIT).collect()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
        headers
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json(&with_type("application/json")));
        assert!(is_json(&with_type("application/json; charset=utf-8")));
        assert!(is_json(&with_type("Application/JSON;charset=\"UTF-8\"")));
        assert!(!is_json(&with_type("application/json; charset=latin1")));
        assert!(!is_json(&with_type("text/plain")));
        assert!(!is_json(&with_type("application/jsonx")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
