//! Reading and redriving dead letters (the `docflow dlq` commands): they live in the
//! `{PREFIX}_DEAD` stream on `{prefix}.dead.{stage}`, with the original body and the
//! headers `publish_dead_letter` sets.

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{DirectGetErrorKind, Stream};
use async_nats::jetstream::{self, publish::PublishAck};
use bytes::Bytes;
use serde::Serialize;

use super::dead_letter::{ATTEMPTS, DOCUMENT_ID, ERROR, FAILED_AT, ORIGINAL_SUBJECT, STAGE, TRACEPARENT};
use crate::ids::DocumentId;
use crate::messages::PublishError;
use crate::nats::Names;
use crate::topology::DEAD_STREAM;

/// What a replay needs of the pipeline, which the worker runtime does not know: how a
/// republished message is marked replayed, and the restart of the letter's document. The
/// transfer stage answers (`crate::stages::transfer::restart::ReplayRestarts`).
#[async_trait::async_trait]
pub trait Restarts: std::fmt::Debug + Send + Sync {
    /// The header, and its value, that marks a republished message as replayed.
    fn replayed_header(&self) -> (&'static str, &'static str);

    /// Asks, before the letter is republished, for the restart of `document`, whose letter
    /// was on `subject`; asks nothing when the republished message restarts its document
    /// itself or restarts nothing. `message_id` deduplicates repeats of one request.
    async fn restart(
        &self,
        js: &jetstream::Context,
        names: &Names,
        subject: &str,
        document: DocumentId,
        message_id: &str,
    ) -> Result<(), PublishError>;
}

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("cannot read stream {stream}: {detail}; run `docflow setup` and check nats.url")]
    Stream { stream: String, detail: String },
    #[error("no dead letter #{sequence} in {stream}; `docflow dlq list` shows the sequences")]
    NotFound { stream: String, sequence: u64 },
    #[error(
        "dead letter #{sequence} has no {ORIGINAL_SUBJECT} header: it was not written by docflow and cannot be replayed"
    )]
    NoOriginalSubject { sequence: u64 },
    #[error("cannot replay dead letter #{sequence} to {subject}: {detail}; is its stream there (`docflow setup`)?")]
    Replay { sequence: u64, subject: String, detail: String },
}

/// One dead letter, as `docflow dlq list/show` print it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub sequence: u64,
    pub stage: String,
    pub error: String,
    pub attempts: u64,
    pub original_subject: String,
    pub failed_at: String,
    pub document_id: Option<String>,
    #[serde(skip)]
    pub headers: HeaderMap,
    #[serde(skip)]
    pub payload: Bytes,
}

impl DeadLetter {
    fn from_message(message: jetstream::message::StreamMessage) -> DeadLetter {
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
        DeadLetter {
            sequence: message.sequence,
            stage: header(STAGE).unwrap_or_default(),
            error: header(ERROR).unwrap_or_default(),
            attempts: header(ATTEMPTS).and_then(|a| a.parse().ok()).unwrap_or(0),
            original_subject: header(ORIGINAL_SUBJECT).unwrap_or_default(),
            failed_at: header(FAILED_AT).unwrap_or_default(),
            document_id: header(DOCUMENT_ID),
            headers: message.headers,
            payload: message.payload,
        }
    }
}

async fn dead_stream(js: &jetstream::Context, names: &Names) -> Result<(Stream<()>, String), DlqError> {
    let name = names.stream(DEAD_STREAM);
    let stream = js
        .get_stream_no_info(&name)
        .await
        .map_err(|e| DlqError::Stream { stream: name.clone(), detail: e.to_string() })?;
    Ok((stream, name))
}

fn filter(names: &Names, stage: Option<&str>) -> String {
    names.dead_subject(stage.unwrap_or(">"))
}

/// The dead letters, oldest first, of one stage or all.
pub async fn list(js: &jetstream::Context, names: &Names, stage: Option<&str>) -> Result<Vec<DeadLetter>, DlqError> {
    let (stream, name) = dead_stream(js, names).await?;
    let subject = filter(names, stage);
    let mut letters = Vec::new();
    let mut next = 1;
    loop {
        match stream.direct_get_next_for_subject(subject.clone(), Some(next)).await {
            Ok(message) => {
                next = message.sequence + 1;
                letters.push(DeadLetter::from_message(message));
            }
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => return Ok(letters),
            Err(e) => {
                return Err(DlqError::Stream { stream: name, detail: e.to_string() });
            }
        }
    }
}

/// One dead letter with its body.
pub async fn show(js: &jetstream::Context, names: &Names, sequence: u64) -> Result<DeadLetter, DlqError> {
    let (stream, name) = dead_stream(js, names).await?;
    let message = stream.get_raw_message(sequence).await.map_err(|_| DlqError::NotFound { stream: name, sequence })?;
    Ok(DeadLetter::from_message(message))
}

/// Republishes the original body to its original subject (keeping the document id and
/// trace headers, and marked `Docflow-Restart: replayed`), then deletes the dead letter. A
/// replay repeated within the target stream's duplicate window is stored once
/// (`Nats-Msg-Id` `replay:{DEAD}:{seq}`).
///
/// The replay restarts the letter's document when it is `failed` or `rejected` (a new
/// submission round, the timeline saying `replayed`), asking `restarts` first: once the
/// letter is gone, nothing would ask again. The republished message of a later stage then
/// finds its document restarted, or ended, and changes nothing; a document still in flight
/// is not restarted, and its message is handled anew.
pub async fn replay(
    js: &jetstream::Context,
    names: &Names,
    restarts: &dyn Restarts,
    sequence: u64,
) -> Result<PublishAck, DlqError> {
    let letter = show(js, names, sequence).await?;
    if letter.original_subject.is_empty() {
        return Err(DlqError::NoOriginalSubject { sequence });
    }
    let mut headers = HeaderMap::new();
    for name in [DOCUMENT_ID, TRACEPARENT] {
        if let Some(value) = letter.headers.get(name) {
            headers.insert(name, value.as_str());
        }
    }
    let (replayed, value) = restarts.replayed_header();
    headers.insert(replayed, value);
    let dead = names.stream(DEAD_STREAM);
    let err = |detail: String| DlqError::Replay { sequence, subject: letter.original_subject.clone(), detail };
    if let Some(document) = letter.document_id.as_deref().and_then(|id| id.parse::<DocumentId>().ok()) {
        let message_id = format!("replay:{dead}:{sequence}:restart");
        restarts
            .restart(js, names, &letter.original_subject, document, &message_id)
            .await
            .map_err(|e| DlqError::Replay { sequence, subject: e.subject.clone(), detail: e.detail.clone() })?;
    }
    let publish = PublishMessage::build()
        .payload(letter.payload.clone())
        .headers(headers)
        .message_id(format!("replay:{dead}:{sequence}"));
    let ack = js
        .send_publish(letter.original_subject.clone(), publish)
        .await
        .map_err(|e| err(e.to_string()))?
        .await
        .map_err(|e| err(e.to_string()))?;
    let (stream, name) = dead_stream(js, names).await?;
    stream.delete_message(sequence).await.map_err(|e| DlqError::Stream { stream: name, detail: e.to_string() })?;
    Ok(ack)
}

/// Deletes the dead letters of one stage, or all; returns how many.
pub async fn purge(js: &jetstream::Context, names: &Names, stage: Option<&str>) -> Result<u64, DlqError> {
    let (stream, name) = dead_stream(js, names).await?;
    let response = stream
        .purge()
        .filter(filter(names, stage))
        .await
        .map_err(|e| DlqError::Stream { stream: name, detail: e.to_string() })?;
    Ok(response.purged)
}
