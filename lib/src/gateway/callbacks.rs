//! `POST /v1/callbacks/{provider}` (docs/provider-protocol.md, section 3): verify, publish, answer.
//!
//! The checks run in the order of the protocol's answer table, cheapest and least
//! revealing first: provider (404), content type (415), size (413), signature (401),
//! JSON and schema (400). Only a request that passes all of them is published, to
//! `{prefix}.callbacks.{provider}` with `Nats-Msg-Id = event_id`, and only the stream's
//! ack makes the answer 202 (or 200 when the stream recognises the event id as a
//! duplicate within its window). No database is touched: whether the reference is known
//! is the validation stage's business.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, GatewayState, body};
use crate::messages::{self, TRACEPARENT};
use crate::metrics::{self, CallbackOutcome};
use crate::provider::protocol::{Callback, CallbackStatus, Role};
use crate::provider::signature::{self, SignatureError};

const INVALID: &str = "invalid callback";
/// Longest accepted `event_id`: it becomes a NATS header value.
const MAX_EVENT_ID: usize = 256;

pub(super) async fn receive(
    State(state): State<GatewayState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    request_body: Body,
) -> Response {
    let Some((provider, settings)) = state.settings.providers.get_key_value(&provider) else {
        metrics::callback("unknown", CallbackOutcome::UnknownProvider);
        return ApiError::new(StatusCode::NOT_FOUND, "unknown provider")
            .detail("the path names no configured provider ([providers.NAME] in the configuration)")
            .into_response();
    };
    let outcome = handle(&state, provider, &settings.callback_secret, &headers, request_body).await;
    let (response, label) = match outcome {
        Ok(duplicate) if duplicate => (
            (StatusCode::OK, Json(json!({"accepted": true, "duplicate": true}))).into_response(),
            CallbackOutcome::Duplicate,
        ),
        Ok(_) => ((StatusCode::ACCEPTED, Json(json!({"accepted": true}))).into_response(), CallbackOutcome::Accepted),
        Err((error, label)) => (error.into_response(), label),
    };
    metrics::callback(provider, label);
    response
}

/// Everything after the provider lookup. `Ok(duplicate)` once the stream has the event.
async fn handle(
    state: &GatewayState,
    provider: &str,
    secrets: &crate::settings::Secrets,
    headers: &HeaderMap,
    request_body: Body,
) -> Result<bool, (ApiError, CallbackOutcome)> {
    if !body::is_json(headers) {
        return Err((body::unsupported_media_type(), CallbackOutcome::UnsupportedMediaType));
    }
    let raw = body::read_limited(headers, request_body, state.max_body).await.map_err(|error| {
        let label = if error.status == StatusCode::PAYLOAD_TOO_LARGE {
            CallbackOutcome::TooLarge
        } else {
            CallbackOutcome::Invalid
        };
        (error, label)
    })?;
    verify_signature(headers, &raw, secrets).map_err(|error| {
        tracing::info!(provider, %error, "callback refused: signature");
        (unauthorized(&error), CallbackOutcome::BadSignature)
    })?;
    let callback = parse(&raw).map_err(|error| {
        tracing::info!(provider, error = %error.error, detail = %error.detail, "callback refused: schema");
        (error, CallbackOutcome::Invalid)
    })?;
    let document_id = callback.reference;
    let traceparent = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).filter(|v| is_traceparent(v));
    // The callback's span continues the document's trace (the provider's traceparent, else
    // the document's), and what is published continues the callback's span.
    let span = tracing::info_span!("callback", stage = "callback", provider, document_id = %callback.reference,
        event_id = %callback.event_id, outcome = tracing::field::Empty);
    let parent = traceparent.map(str::to_owned).or_else(|| Some(messages::traceparent_for(document_id)));
    crate::telemetry::link(&span, parent.as_deref());
    let carried = span.in_scope(crate::telemetry::current_traceparent).or(parent);
    let traceparent = carried.as_deref();
    let subject = state.names.subject(&format!("callbacks.{provider}"));
    let unavailable = |error: ApiError| (error, CallbackOutcome::Unavailable);
    // A publish while disconnected would sit in the client's buffer and reach the stream
    // after the provider was told 503: refuse up front instead.
    if state.jetstream.client().connection_state() != async_nats::connection::State::Connected {
        tracing::warn!(provider, "callback refused: not connected to NATS");
        return Err(unavailable(
            ApiError::unavailable("message queue unavailable").detail("not connected to NATS; retry later"),
        ));
    }
    let publish =
        messages::publish(&state.jetstream, subject, &callback.event_id, Some(document_id), traceparent, raw.to_vec());
    let published = tokio::time::timeout(state.publish_timeout, publish).await;
    span.record(
        "outcome",
        match &published {
            Ok(Ok(true)) => "duplicate",
            Ok(Ok(false)) => "accepted",
            _ => "unavailable",
        },
    );
    match published {
        Ok(Ok(duplicate)) => {
            tracing::info!(provider, event_id = %callback.event_id, job_id = %callback.job_id,
                document_id = %callback.reference, duplicate, "callback accepted");
            Ok(duplicate)
        }
        Ok(Err(error)) => {
            tracing::warn!(provider, %error, "callback not stored");
            Err(unavailable(ApiError::from_publish(&error)))
        }
        Err(_) => {
            tracing::warn!(provider, timeout = ?state.publish_timeout, "callback not stored: no publish ack in time");
            Err(unavailable(
                ApiError::unavailable("message queue unavailable")
                    .detail("no acknowledgement from JetStream in time; retry later"),
            ))
        }
    }
}

fn verify_signature(
    headers: &HeaderMap,
    raw: &Bytes,
    secrets: &crate::settings::Secrets,
) -> Result<(), SignatureError> {
    let header = headers
        .get(signature::HEADER)
        .ok_or(SignatureError::Malformed("no Docflow-Signature header"))?
        .to_str()
        .map_err(|_| SignatureError::Malformed("the header is not ASCII"))?;
    let now = chrono::Utc::now().timestamp();
    signature::verify_secrets(header, raw, secrets, now, signature::TOLERANCE)
}

fn unauthorized(error: &SignatureError) -> ApiError {
    // The reason helps a provider fix its clock or its signing; it reveals nothing of the
    // secret or of the expected MAC.
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid signature").detail(error.to_string())
}

/// A `traceparent` worth propagating: `00-<32 hex>-<16 hex>-<2 hex>`.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 4
        && [2, 32, 16, 2]
            .iter()
            .zip(&parts)
            .all(|(len, part)| part.len() == *len && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The body as a [`Callback`], or a 400 naming the first field at fault.
pub(super) fn parse(raw: &[u8]) -> Result<Callback, ApiError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| ApiError::not_json(&e))?;
    check_schema(&value)?;
    // The checks above name the field; this keeps the gateway and the validation stage
    // agreeing on what a callback is.
    serde_json::from_value(value)
        .map_err(|_| ApiError::bad_request(INVALID).detail("a field has a value of the wrong type or shape"))
}

fn check_schema(value: &Value) -> Result<(), ApiError> {
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid_field(INVALID, "$", "expected a JSON object"));
    };
    let field = |name: &str, problem: &str| ApiError::invalid_field(INVALID, name, problem);
    let text = |name: &str| -> Result<&str, ApiError> {
        match object.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            Some(Value::String(_)) => Err(field(name, "must not be empty")),
            Some(_) => Err(field(name, "expected a string")),
            None => Err(field(name, "missing")),
        }
    };
    let event_id = text("event_id")?;
    if event_id.len() > MAX_EVENT_ID || !event_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field("event_id", "expected at most 256 visible ASCII characters"));
    }
    text("job_id")?;
    let reference = text("reference")?;
    if uuid::Uuid::parse_str(reference).is_err() {
        return Err(field("reference", "expected a UUID (docflow's document id)"));
    }
    let status = match text("status")? {
        "completed" => CallbackStatus::Completed,
        "failed" => CallbackStatus::Failed,
        _ => return Err(field("status", "expected `completed` or `failed`")),
    };
    if chrono::DateTime::parse_from_rfc3339(text("completed_at")?).is_err() {
        return Err(field("completed_at", "expected an RFC 3339 date-time such as 2026-11-24T10:15:00Z"));
    }
    match status {
        CallbackStatus::Completed => {
            let Some(results) = object.get("results") else {
                return Err(field("results", "missing (a completed job carries its result files)"));
            };
            let Some(results) = results.as_array() else {
                return Err(field("results", "expected an array"));
            };
            if results.is_empty() {
                return Err(field("results", "a completed job carries at least one result file"));
            }
            for (i, result) in results.iter().enumerate() {
                check_result(i, result)?;
            }
        }
        CallbackStatus::Failed => {
            let Some(error) = object.get("error").and_then(Value::as_object) else {
                return Err(field("error", "a failed job carries an object {\"code\", \"message\"}"));
            };
            for key in ["code", "message"] {
                if !error.get(key).is_some_and(Value::is_string) {
                    return Err(field(&format!("error.{key}"), "expected a string"));
                }
            }
        }
    }
    Ok(())
}

fn check_result(i: usize, result: &Value) -> Result<(), ApiError> {
    let at = |name: &str| format!("results[{i}].{name}");
    let field = |name: &str, problem: &str| ApiError::invalid_field(INVALID, &at(name), problem);
    let Some(object) = result.as_object() else {
        return Err(ApiError::invalid_field(INVALID, &format!("results[{i}]"), "expected an object"));
    };
    let text = |name: &str| -> Result<&str, ApiError> {
        match object.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            Some(Value::String(_)) => Err(field(name, "must not be empty")),
            Some(_) => Err(field(name, "expected a string")),
            None => Err(field(name, "missing")),
        }
    };
    let role = text("role")?;
    if serde_json::from_value::<Role>(Value::String(role.to_owned())).is_err() {
        return Err(field("role", "expected one of corrected, findings, transcript, summary, rendition, thumbnail"));
    }
    text("name")?;
    let url = text("url")?;
    if !reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()) {
        return Err(field("url", "expected an http(s) URL"));
    }
    let sha256 = text("sha256")?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(field("sha256", "expected 64 hex digits"));
    }
    if object.get("size").is_none_or(|s| s.as_u64().is_none()) {
        return Err(field("size", "expected a non-negative integer (bytes)"));
    }
    text("content_type")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed() -> Value {
        json!({
            "event_id": "evt_1", "job_id": "job_1",
            "reference": "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b", "status": "completed",
            "completed_at": "2026-11-24T10:15:00Z",
            "results": [{"role": "corrected", "name": "a.docx", "url": "https://files.example/r/1",
                         "sha256": "a".repeat(64), "size": 10, "content_type": "application/octet-stream"}]
        })
    }

    fn field_of(value: Value) -> String {
        let error = parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        error.detail["field"].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn the_protocol_example_is_valid() {
        let callback = parse(&serde_json::to_vec(&completed()).unwrap()).unwrap();
        assert_eq!(callback.event_id, "evt_1");
    }

    #[test]
    fn a_failed_job_needs_an_error_object_and_no_results() {
        let mut value = completed();
        value["status"] = json!("failed");
        value.as_object_mut().unwrap().remove("results");
        assert_eq!(field_of(value.clone()), "error");
        value["error"] = json!({"code": "unsupported_media", "message": "no"});
        assert!(parse(&serde_json::to_vec(&value).unwrap()).is_ok());
        value["error"] = json!({"code": 3, "message": "no"});
        assert_eq!(field_of(value), "error.code");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(&str, Value, &str); 9] = [
            ("event_id", json!(""), "event_id"),
            ("event_id", json!("evt 1"), "event_id"),
            ("job_id", json!(7), "job_id"),
            ("reference", json!("not-a-uuid"), "reference"),
            ("status", json!("done"), "status"),
            ("completed_at", json!("yesterday"), "completed_at"),
            ("results", json!({}), "results"),
            ("results", json!([]), "results"),
            ("results", json!([1]), "results[0]"),
        ];
        for (key, bad, named) in cases {
            let mut value = completed();
            value[key] = bad;
            assert_eq!(field_of(value), named, "{key}");
        }
        let result_cases: [(&str, Value); 7] = [
            ("role", json!("poem")),
            ("name", json!("")),
            ("url", json!("ftp://x/y")),
            ("sha256", json!("abc")),
            ("sha256", json!("g".repeat(64))),
            ("size", json!(-1)),
            ("content_type", json!(null)),
        ];
        for (key, bad) in result_cases {
            let mut value = completed();
            value["results"][0][key] = bad;
            assert_eq!(field_of(value), format!("results[0].{key}"), "{key}");
        }
        let mut value = completed();
        value.as_object_mut().unwrap().remove("job_id");
        assert_eq!(field_of(value), "job_id");
    }

    #[test]
    fn not_json_is_a_bad_request() {
        let error = parse(b"{nope").unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.error, "body is not JSON");
        assert_eq!(field_of(json!([1, 2])), "$");
    }

    #[test]
    fn only_well_formed_traceparents_are_propagated() {
        assert!(is_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("00-xyz-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("garbage"));
    }
}
