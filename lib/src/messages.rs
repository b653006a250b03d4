//! The bodies docflow publishes between stages, and how it publishes them: durably (the
//! publish ack is awaited) with `Nats-Msg-Id`, `Docflow-Document-Id` and `traceparent`
//! headers so `nats stream view` is readable and redeliveries deduplicate.

use std::collections::BTreeMap;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishErrorKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{ArtifactRole, ArtifactRow, Document};
use crate::ids::{DocumentId, JobId, Kind, UploaderId};

pub const DOCUMENT_ID: &str = "Docflow-Document-Id";
pub const TRACEPARENT: &str = "traceparent";

/// The version of the message bodies this release writes, in their `v` field. A body
/// without one is version 1: the release before the field wrote the same shapes, so its
/// messages still in flight during an upgrade parse as they are. A change of shape adds
/// a version and keeps reading the older ones.
pub const VERSION: u32 = 1;

pub(crate) fn version_1() -> u32 {
    1
}

/// The watch timer of a submitted document, on `{prefix}.watch`: the watchdog holds it
/// (nak with delay) until the callback deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchTimer {
    #[serde(default = "version_1")]
    pub v: u32,
    pub document_id: DocumentId,
    pub provider: String,
    pub job_id: JobId,
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
    #[serde(default = "version_1")]
    pub v: u32,
    pub document_id: DocumentId,
    /// What validate checked, when it is small enough to travel with the request (see
    /// `stages/normalize/design.md`): normalize then reads neither the database nor the
    /// results bucket. Absent, normalize reads both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<NormalizeInputs>,
}

/// A validated document as normalize needs it: immutable facts of the document, the
/// artifacts validate stored, and the checked text of the JSON and WebVTT results by
/// role. Its own fields, not the database's: a column renamed changes no message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizeInputs {
    pub kind: Kind,
    pub uploader_id: UploaderId,
    pub original: Original,
    pub artifacts: Vec<Artifact>,
    pub contents: BTreeMap<String, String>,
}

impl NormalizeInputs {
    /// The inputs of `document`, with its artifacts and the checked `contents` by role.
    pub fn of(document: &Document, artifacts: Vec<ArtifactRow>, contents: BTreeMap<String, String>) -> NormalizeInputs {
        NormalizeInputs {
            kind: document.kind,
            uploader_id: document.uploader_id.clone(),
            original: Original {
                bucket: document.bucket.clone(),
                key: document.key.clone(),
                size: document.size,
                content_type: document.content_type.clone(),
            },
            artifacts: artifacts.into_iter().map(Artifact::from).collect(),
            contents,
        }
    }
}

/// The uploaded object a document came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Original {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub content_type: String,
}

/// A checked result, stored in the results bucket under `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub role: ArtifactRole,
    pub name: String,
    pub key: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
}

impl From<ArtifactRow> for Artifact {
    fn from(row: ArtifactRow) -> Artifact {
        let ArtifactRow { role, name, key, size, sha256, content_type } = row;
        Artifact { role, name, key, size, sha256, content_type }
    }
}

impl From<Artifact> for ArtifactRow {
    fn from(artifact: Artifact) -> ArtifactRow {
        let Artifact { role, name, key, size, sha256, content_type } = artifact;
        ArtifactRow { role, name, key, size, sha256, content_type }
    }
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
    // The caller's, else the publishing step's span (exported traces), else the document's.
    let trace = traceparent
        .map(str::to_owned)
        .or_else(crate::telemetry::current_traceparent)
        .or_else(|| document_id.map(traceparent_for))
        .unwrap_or_else(new_traceparent);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;
    use crate::worker::{Outcome, StepError};

    /// A subject no stream takes (as while a clustered stream elects its leader) is worth
    /// another attempt: the step retries, and the reason still says how to fix a stream
    /// that never appears.
    #[tokio::test]
    async fn a_publish_no_stream_answers_is_retried_with_the_setup_hint() {
        let (_client, js) = testkit::connect(&testkit::nats_url()).await;
        let subject = format!("{}.watch", testkit::random_prefix());
        let error = publish(&js, subject.clone(), "id-1", None, None, b"{}".to_vec())
            .await
            .expect_err("no stream takes the subject");
        assert!(error.no_stream, "{error}");
        match Outcome::from(StepError::from(error)) {
            Outcome::Retry { reason, .. } => {
                assert!(reason.contains(&subject) && reason.contains("docflow setup"), "{reason}")
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    /// A request as the release before versioned messages wrote it: no `v`.
    const UNVERSIONED: &str = r#"{"document_id":"00000000-0000-0000-0000-000000000007","inputs":{"kind":"document","uploader_id":"teacher-42","original":{"bucket":"uploads","key":"teacher-42/plan.pdf","size":10,"content_type":"application/pdf"},"artifacts":[{"role":"findings","name":"findings.json","key":"k/findings/findings.json","size":2,"sha256":"ab","content_type":"application/json"}],"contents":{"findings":"{}"}}}"#;

    #[test]
    fn a_normalize_request_from_the_previous_release_still_parses_as_version_1() {
        let request: NormalizeRequest = serde_json::from_str(UNVERSIONED).unwrap();
        assert_eq!(request.v, 1);
        let inputs = request.inputs.unwrap();
        assert_eq!(inputs.original.key, "teacher-42/plan.pdf");
        assert_eq!(ArtifactRow::from(inputs.artifacts[0].clone()).key, "k/findings/findings.json");
        assert_eq!(inputs.contents["findings"], "{}");
    }

    #[test]
    fn a_watch_timer_from_the_previous_release_still_parses_and_new_ones_carry_their_version() {
        let old = r#"{"document_id":"00000000-0000-0000-0000-000000000007","provider":"sim","job_id":"job_1","submitted_at":"2026-01-01T00:00:00Z","deadline":"2026-01-01T06:00:00Z"}"#;
        let timer: WatchTimer = serde_json::from_str(old).unwrap();
        assert_eq!((timer.v, timer.round, timer.checks), (1, 0, 0));
        let written = serde_json::to_value(WatchTimer { v: VERSION, ..timer }).unwrap();
        assert_eq!(written["v"], VERSION);
    }
}
