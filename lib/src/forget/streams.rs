//! Messages that still carry a forgotten document: its dead letters (`{PREFIX}_DEAD`) and
//! its pending watch timer (`{PREFIX}_WATCH`). Both are found by the
//! `Docflow-Document-Id` header every docflow message carries, and deleted by sequence.
//! Deleting one already gone is not an error, so the walk can be repeated.

use async_nats::jetstream;
use async_nats::jetstream::stream::DirectGetErrorKind;

use crate::ids::DocumentId;
use crate::messages::DOCUMENT_ID;
use crate::worker::Transience;

/// A stream that could not be read or changed: worth another attempt (the stream may be
/// electing a leader, or NATS restarting).
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} stream {stream}: {detail}")]
pub struct StreamError {
    pub stream: String,
    pub action: &'static str,
    pub detail: String,
}

impl Transience for StreamError {
    fn is_transient(&self) -> bool {
        true
    }
}

/// Deletes every message of `stream` on `subject` (a filter, wildcards allowed) whose
/// `Docflow-Document-Id` is `id`; returns how many it deleted. Reads the stream with
/// direct gets (every docflow stream sets `allow_direct`), oldest first.
pub async fn delete_messages_of(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    id: DocumentId,
) -> Result<u64, StreamError> {
    let fail = |action: &'static str, detail: String| StreamError { stream: stream.to_owned(), action, detail };
    let handle = js.get_stream_no_info(stream).await.map_err(|e| fail("read", e.to_string()))?;
    let wanted = id.to_string();
    let mut next = 1;
    let mut deleted = 0;
    loop {
        let message = match handle.direct_get_next_for_subject(subject.to_owned(), Some(next)).await {
            Ok(message) => message,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => return Ok(deleted),
            Err(e) => return Err(fail("read", e.to_string())),
        };
        next = message.sequence + 1;
        if message.headers.get(DOCUMENT_ID).map(|v| v.as_str()) == Some(wanted.as_str()) {
            match handle.delete_message(message.sequence).await {
                Ok(_) => deleted += 1,
                // Consumed or deleted meanwhile: gone either way.
                Err(e) if e.to_string().contains("no message found") => {}
                Err(e) => return Err(fail("delete a message of", e.to_string())),
            }
        }
    }
}
