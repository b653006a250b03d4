//! `POST /v1/ingest/s3`: an S3 store's webhook notification (MinIO's `notify_webhook`
//! POSTs the same JSON its NATS target publishes). The raw body goes to
//! `{prefix}.uploads.webhook`, where the transfer stage reads it exactly as it reads
//! `{prefix}.uploads.minio`.
//!
//! MinIO retries a notification until it gets a 2xx, so the message id is derived from
//! what identifies the event (bucket, key, version or ETag, sequencer, event name): a
//! retry within the uploads stream's duplicate window is stored once.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ApiError, GatewayState, auth, body};
use crate::events::minio::{self as minio_events, EventLog};
use crate::messages::{self, TRACEPARENT};
use crate::metrics::{self, IngestOutcome};

pub(super) async fn receive(State(state): State<GatewayState>, headers: HeaderMap, request_body: Body) -> Response {
    let (response, outcome) = match handle(&state, &headers, request_body).await {
        Ok(duplicate) => (
            (StatusCode::OK, Json(json!({"accepted": true, "duplicate": duplicate}))).into_response(),
            if duplicate { IngestOutcome::Duplicate } else { IngestOutcome::Accepted },
        ),
        Err((error, outcome)) => (error.into_response(), outcome),
    };
    metrics::ingest(outcome);
    response
}

async fn handle(
    state: &GatewayState,
    headers: &HeaderMap,
    request_body: Body,
) -> Result<bool, (ApiError, IngestOutcome)> {
    let token = &state.settings.ingest.token;
    if token.expose_secret().is_empty() {
        return Err((
            ApiError::new(StatusCode::NOT_FOUND, "S3 webhook ingest is disabled").detail(
                "set ingest.token (DOCFLOW__INGEST__TOKEN) and the same token as the store's webhook auth_token",
            ),
            IngestOutcome::Disabled,
        ));
    }
    auth::require_bearer(headers, &[token]).map_err(|e| (e, IngestOutcome::Unauthorized))?;
    let raw =
        body::read_limited(headers, request_body, state.max_body).await.map_err(|e| (e, IngestOutcome::Invalid))?;
    let log: EventLog = serde_json::from_slice(&raw).map_err(|e| {
        let mut error = ApiError::not_json(&e);
        error.error = "not an S3 event notification".to_owned();
        (error, IngestOutcome::Invalid)
    })?;
    if log.records.is_empty() {
        return Err((
            ApiError::invalid_field("not an S3 event notification", "Records", "expected at least one record"),
            IngestOutcome::Invalid,
        ));
    }
    // The document id header is a convenience for `nats stream view`; a key that does not
    // unescape is the transfer stage's to dead-letter, with the event kept whole.
    let document_id =
        minio_events::parse(&raw).ok().and_then(|uploads| uploads.first().map(|upload| upload.document_id()));
    let message_id = message_id(&log);
    let traceparent = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok());
    let traceparent = traceparent.filter(|v| v.len() == 55 && v.is_ascii());
    let unavailable = |error: ApiError| (error, IngestOutcome::Unavailable);
    if state.jetstream.client().connection_state() != async_nats::connection::State::Connected {
        tracing::warn!("s3 notification refused: not connected to NATS");
        return Err(unavailable(
            ApiError::unavailable("message queue unavailable").detail("not connected to NATS; retry later"),
        ));
    }
    let subject = state.names.subject("uploads.webhook");
    let publish = messages::publish(&state.jetstream, subject, &message_id, document_id, traceparent, raw.to_vec());
    match tokio::time::timeout(state.publish_timeout, publish).await {
        Ok(Ok(duplicate)) => {
            tracing::info!(event = %log.event_name, key = %log.key, duplicate, "s3 notification accepted");
            Ok(duplicate)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "s3 notification not stored");
            Err(unavailable(ApiError::from_publish(&error)))
        }
        Err(_) => {
            tracing::warn!(timeout = ?state.publish_timeout, "s3 notification not stored: no publish ack in time");
            Err(unavailable(
                ApiError::unavailable("message queue unavailable")
                    .detail("no acknowledgement from JetStream in time; retry later"),
            ))
        }
    }
}

/// `s3-` and the SHA-256 of what identifies each record: the same event delivered twice
/// has the same id; two uploads of one key differ by version, ETag or sequencer.
pub(super) fn message_id(log: &EventLog) -> String {
    let mut hash = Sha256::new();
    for record in &log.records {
        let object = &record.s3.object;
        for part in [
            record.event_name.as_str(),
            record.s3.bucket.name.as_str(),
            object.key.as_str(),
            object.version_id.as_deref().unwrap_or_default(),
            object.e_tag.as_deref().unwrap_or_default(),
            object.sequencer.as_str(),
        ] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
    }
    format!("s3-{}", hex::encode(hash.finalize()))
}
