//! `POST /v1/ingest/s3`: an S3 store's webhook notification (MinIO's `notify_webhook`
//! POSTs the same JSON its NATS target publishes). Each record goes to
//! `{prefix}.uploads.webhook` as a message of its own (a one-record body unchanged), where
//! the transfer stage reads it exactly as it reads `{prefix}.uploads.minio` and applies
//! the trust boundary: one bad record never fails, delays or retries another.
//!
//! MinIO retries a notification until it gets a 2xx, so each message id is derived from
//! what identifies its record (bucket, key, version or ETag, sequencer, event name): a
//! retry within the uploads stream's duplicate window is stored once.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::json;

use super::{ApiError, GatewayState, auth, body};
use crate::events::Boundary;
use crate::events::minio::{self as minio_events, EventLog, Single};
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
    let messages = messages_of(&log, &raw, &Boundary::from_settings(&state.settings.s3));
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
    // The store retries the whole notification until every record is stored: records
    // stored already are then duplicates the stream drops.
    let publish_all = async {
        let (mut all_duplicates, mut any) = (true, false);
        for message in messages {
            any = true;
            let Single { message_id, document_id, body } = message;
            let trace = traceparent.map(str::to_owned).or_else(|| document_id.map(messages::traceparent_for));
            let publish =
                messages::publish(&state.jetstream, subject.clone(), &message_id, document_id, trace.as_deref(), body);
            all_duplicates &= publish.await?;
        }
        Ok::<_, messages::PublishError>(any && all_duplicates)
    };
    match tokio::time::timeout(state.publish_timeout, publish_all).await {
        Ok(Ok(duplicate)) => {
            tracing::info!(event = %log.event_name, key = %log.key, records = log.records.len(), duplicate, "s3 notification accepted");
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

/// The messages a notification becomes: a one-record body as it came (so what the store
/// sent is what `nats stream view` shows), several records one message each. The
/// document id header is set for records the boundary admits; the transfer stage refuses
/// the others with the reason.
pub(super) fn messages_of(log: &EventLog, raw: &[u8], boundary: &Boundary) -> Vec<Single> {
    match log.records.as_slice() {
        [record] => vec![Single {
            message_id: minio_events::record_message_id(record),
            document_id: minio_events::admit(record, boundary).ok().map(|upload| upload.document_id()),
            body: raw.to_vec(),
        }],
        _ => minio_events::split(log, boundary),
    }
}
