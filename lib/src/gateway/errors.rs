//! Every error the gateway answers is JSON `{"error": "...", "detail": ...}` with a status
//! code that tells the caller what to do next.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::messages::PublishError;

/// Seconds a caller is asked to wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub detail: Value,
    pub retry_after: Option<u32>,
    /// `WWW-Authenticate: Bearer` on a 401 of a bearer-token route.
    pub bearer_challenge: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError { status, error: error.into(), detail: Value::Null, retry_after: None, bearer_challenge: false }
    }

    pub fn detail(mut self, detail: impl Into<Value>) -> ApiError {
        self.detail = detail.into();
        self
    }

    pub fn retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    /// A 400 naming the field at fault and what is wrong with it.
    pub fn invalid_field(error: &str, field: &str, problem: impl Into<String>) -> ApiError {
        ApiError::bad_request(error).detail(json!({"field": field, "problem": problem.into()}))
    }

    /// A 400 for a body that is not the JSON it should be, in our words: where, and which
    /// kind of problem (serde's own message is not repeated).
    pub fn not_json(error: &serde_json::Error) -> ApiError {
        use serde_json::error::Category;
        let problem = match error.classify() {
            Category::Syntax => "malformed JSON",
            Category::Eof => "the JSON ends early",
            Category::Data => "a value has the wrong type",
            Category::Io => "the body could not be read",
        };
        ApiError::bad_request("body is not JSON")
            .detail(json!({"problem": problem, "line": error.line(), "column": error.column()}))
    }

    pub fn unavailable(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error).retry_after(RETRY_AFTER_SECONDS)
    }

    /// A failed publish: the message is not stored, the caller retries later.
    pub fn from_publish(error: &PublishError) -> ApiError {
        let hint = if error.no_stream {
            "no JetStream stream answered for this subject; retry later (if it persists, an operator must run `docflow setup`)"
        } else {
            "JetStream did not acknowledge the message; retry later"
        };
        ApiError::unavailable("message queue unavailable").detail(hint)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"error": self.error, "detail": self.detail}))).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.bearer_challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `value` fit to be repeated in an error: control characters shown as `\u{..}`, cut to
/// 64 characters. Input is echoed only to help the caller find it, never whole.
pub fn shown(value: &str) -> String {
    const MAX: usize = 64;
    let mut text: String = value.chars().take(MAX).flat_map(char::escape_debug).collect();
    if value.chars().nth(MAX).is_some() {
        text.push_str("...");
    }
    text
}

/// Paths the gateway does not serve.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// A served path with another method.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_values_are_short_and_escaped() {
        assert_eq!(shown("teacher-42"), "teacher-42");
        assert_eq!(shown("a\0b\n"), "a\\0b\\n");
        let long = "x".repeat(450_000);
        assert_eq!(shown(&long).len(), 67);
    }

    #[test]
    fn a_json_error_is_described_without_serdes_text() {
        let error = serde_json::from_slice::<serde_json::Value>(b"{\"a\": trux}").unwrap_err();
        let api = ApiError::not_json(&error);
        assert_eq!(api.status, StatusCode::BAD_REQUEST);
        assert_eq!(api.detail["problem"], "malformed JSON");
        assert_eq!(api.detail["line"], 1);
    }
}
