//! The bodies docflow publishes between stages, and how it publishes them: durably (the
//! publish ack is awaited) with `Nats-Msg-Id`, `Docflow-Document-Id` and `traceparent`
//! headers so `nats stream view` is readable and redeliveries deduplicate.

use std::collections::BTreeMap;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishErrorKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::ArtifactRow;
use crate::ids::{DocumentId, Kind};
use crate::stages::normalize::record::Original;

pub const DOCUMENT_ID: &str = "Docflow-Document-Id";
pub const TRACEPARENT: &str = "traceparent";

/// The watch timer of a submitted document, on `{prefix}.watch`: the watchdog holds it
/// (nak with delay) until the callback deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchTimer {
    pub document_id: DocumentId,
    pub provider: String,
    pub job_id: String,
    pub submitted_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// 0 for the first deadline; each re-watch of a still-running job adds one.
    #[serde(default)]
    pub round: u32,
    /// Early job-status checks already made (`providers.<name>.first_status_check`, then
    /// doubling): the next one is due `first * (2^(checks+1) - 1)` after `submitted_at`.
    #[serde(default)]
    pub checks: u32,
}

/// Asks the normalize stage to build a validated document's record, on `{prefix}.normalize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizeRequest {
    pub document_id: DocumentId,
    /// What validate checked, when it is small enough to travel with the request (see
    /// `stages/normalize/design.md`): normalize then reads neither the database nor the
    /// results bucket. Absent, normalize reads both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<NormalizeInputs>,
}

/// A validated document as normalize needs it: immutable facts of the document, the
/// artifacts `record_validated` stored, and the checked text of the JSON and WebVTT
/// results by role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizeInputs {
    pub kind: Kind,
    pub uploader_id: String,
    pub original: Original,
    pub artifacts: Vec<ArtifactRow>,
    pub contents: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("publishing to {subject}: {detail}")]
pub struct PublishError {
    pub subject: String,
    pub detail: String,
    /// Nothing answered for the subject: no stream takes it (`docflow setup` was not
    /// run), or the stream's replicas are electing a leader. The two cannot be told apart
    /// from here, so the publish counts as transient: a cluster's election ends in
    /// seconds, and a stream that never appears ends in a dead letter with the hint.
    pub no_stream: bool,
}

/// Every failed publish is worth another attempt: see [`PublishError::no_stream`].
impl crate::worker::Transience for PublishError {
    fn is_transient(&self) -> bool {
        true
    }
}

/// A fresh W3C trace context, sampled.
pub fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

/// The trace context of a document whose message carried none: the trace id is the
/// document id, so the messages and dead letters made for it share one trace.
pub fn traceparent_for(id: DocumentId) -> String {
    let span = uuid::Uuid::new_v5(&id.0, b"traceparent").simple().to_string();
    format!("00-{}-{}-01", id.0.simple(), &span[..16])
}

/// Publishes and waits for the stream's ack. Returns true when the stream recognised the
/// message id as a duplicate.
pub async fn publish(
    js: &jetstream::Context,
    subject: String,
    message_id: &str,
    document_id: Option<DocumentId>,
    traceparent: Option<&str>,
    body: Vec<u8>,
) -> Result<bool, PublishError> {
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, message_id);
    if let Some(id) = document_id {
        headers.insert(DOCUMENT_ID, id.to_string().as_str());
    }
    let trace = traceparent.map(str::to_owned).unwrap_or_else(new_traceparent);
    headers.insert(TRACEPARENT, trace.as_str());
    let fail = |detail: String, no_stream: bool| PublishError { subject: subject.clone(), detail, no_stream };
    let ack = js
        .publish_with_headers(subject.clone(), headers, body.into())
        .await
        .map_err(|e| fail(e.to_string(), false))?
        .await
        .map_err(|e| {
            let no_stream = e.kind() == PublishErrorKind::StreamNotFound;
            let hint = if no_stream {
                "; no stream answered for this subject: if it persists, run `docflow setup`"
            } else {
                ""
            };
            fail(format!("{e}{hint}"), no_stream)
        })?;
    Ok(ack.duplicate)
}
