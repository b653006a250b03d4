//! Restarting a `failed` or `rejected` document (see `design.md`, "Restarts"): what asks
//! for it, and the request `docflow retry` and a dead letter's replay publish.
//!
//! Every restart happens in the transfer stage, on a message of the uploads stream: a new
//! notification of the document's object, the replay of its transfer dead letter (the
//! original event with [`RESTART_HEADER`]), or a [`RestartRequest`] on
//! `{prefix}.uploads.restart`. The guarded write ([`crate::db::Db::restart`]) moves the
//! document back to `received` in the next submission round, unless that very message
//! started the current round: the redelivery of the message that submitted a document
//! never restarts it once it has failed.

use async_nats::jetstream;
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError, Document, State};
use crate::ids::DocumentId;
use crate::messages::{self, PublishError};
use crate::nats::Names;
use crate::settings::Settings;

/// Set by `docflow dlq replay` on a replayed message: a restart it causes is `replayed`.
pub const RESTART_HEADER: &str = "Docflow-Restart";

/// The subject suffix (after the prefix) of restart requests; in the uploads stream.
pub const REQUEST_SUBJECT: &str = "uploads.restart";

/// Why a document restarts; the timeline's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// `docflow dlq replay` of one of its dead letters.
    Replayed,
    /// `docflow retry`.
    Retried,
    /// A new bucket notification for its object.
    NotifiedAgain,
}

impl Cause {
    pub fn reason(&self) -> &'static str {
        match self {
            Cause::Replayed => "replayed",
            Cause::Retried => "retried",
            Cause::NotifiedAgain => "notified again",
        }
    }

    /// The cause of a restart an upload event asks for: `replayed` when `docflow dlq
    /// replay` republished it, else a new notification.
    pub fn of_event(restart_header: Option<&str>) -> Cause {
        match restart_header {
            Some("replayed") => Cause::Replayed,
            Some("retried") => Cause::Retried,
            _ => Cause::NotifiedAgain,
        }
    }
}

/// Asks the transfer stage to restart a document, on `{prefix}.uploads.restart`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartRequest {
    #[serde(default = "messages::version_1")]
    pub v: u32,
    pub document_id: DocumentId,
    pub cause: Cause,
}

/// True when a message about a document in `state` restarts it. Only `failed` and
/// `rejected` restart, and never from the message that started the current round.
pub fn restarts(state: State, round_origin: Option<u64>, message: u64) -> bool {
    state.is_restartable() && round_origin != Some(message)
}

/// Publishes a restart request; `message_id` deduplicates repeats of one request.
pub async fn request(
    js: &jetstream::Context,
    names: &Names,
    document_id: DocumentId,
    cause: Cause,
    message_id: &str,
) -> Result<(), PublishError> {
    let body = serde_json::to_vec(&RestartRequest { v: messages::VERSION, document_id, cause })
        .expect("a restart request serializes");
    messages::publish(js, names.subject(REQUEST_SUBJECT), message_id, Some(document_id), None, body).await.map(drop)
}

/// The dead-letter replay's restarts ([`crate::worker::dlq::Restarts`]): a replayed upload
/// event restarts its document in the transfer stage itself, and a replayed erasure request
/// restarts nothing (it resumes the erasure); for a letter of a later stage, a restart
/// request goes to the transfer stage.
#[derive(Debug, Clone, Copy)]
pub struct ReplayRestarts;

#[async_trait::async_trait]
impl crate::worker::dlq::Restarts for ReplayRestarts {
    fn replayed_header(&self) -> (&'static str, &'static str) {
        (RESTART_HEADER, Cause::Replayed.reason())
    }

    async fn restart(
        &self,
        js: &jetstream::Context,
        names: &Names,
        subject: &str,
        document: DocumentId,
        message_id: &str,
    ) -> Result<(), PublishError> {
        let upload_event = subject.starts_with(&names.subject("uploads."));
        if upload_event || subject == names.subject(crate::forget::SUBJECT) {
            return Ok(());
        }
        request(js, names, document, Cause::Replayed, message_id).await
    }
}

/// Asks the transfer stage to restart `document`, which must be failed or rejected: what
/// `docflow retry` and the web page's Retry both do. Asking twice for the same round is
/// stored once (`Nats-Msg-Id` `retry:{document}:{round}`).
pub async fn ask(js: &jetstream::Context, names: &Names, document: &Document) -> Result<(), RetryError> {
    if !document.state.is_restartable() {
        return Err(RetryError::NotRestartable { id: document.id, state: document.state });
    }
    let message_id = format!("retry:{}:{}", document.id, document.submission_round);
    request(js, names, document.id, Cause::Retried, &message_id).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("{0:?} is neither a document id (UUID) nor BUCKET/KEY; `docflow status` shows a document's id")]
    NotAnId(String),
    #[error("no document {0}; `docflow status` takes the same id or BUCKET/KEY")]
    Unknown(String),
    #[error(
        "document {id} is {state}: only failed or rejected documents restart (a document in flight finishes on its own)"
    )]
    NotRestartable { id: DocumentId, state: State },
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    Nats(#[from] crate::nats::ConnectError),
    #[error("{0}; the document was not restarted")]
    Publish(#[from] PublishError),
}

/// `docflow retry`: finds documents and asks the transfer stage to restart them.
pub struct Retry {
    db: Db,
    client: async_nats::Client,
    js: jetstream::Context,
    names: Names,
}

impl Retry {
    pub async fn connect(settings: &Settings) -> Result<Retry, RetryError> {
        let db = Db::connect(&settings.database).await?;
        let client = crate::nats::connect(&settings.nats, "docflow retry").await?;
        Ok(Retry { db, js: jetstream::new(client.clone()), client, names: Names::new(&settings.nats.prefix) })
    }

    /// The document an id or `BUCKET/KEY` names (the latest upload of that key).
    pub async fn find(&self, id_or_key: &str) -> Result<Document, RetryError> {
        let document = match id_or_key.parse::<DocumentId>() {
            Ok(id) => self.db.get(id).await?,
            Err(_) => {
                let Some((bucket, key)) = id_or_key.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty())
                else {
                    return Err(RetryError::NotAnId(id_or_key.to_owned()));
                };
                self.db.find_latest_by_key(bucket, key).await?
            }
        };
        document.ok_or_else(|| RetryError::Unknown(id_or_key.to_owned()))
    }

    /// The documents in `state` that reached it within `since` (all when `None`), oldest
    /// change first.
    pub async fn in_state(
        &self,
        state: State,
        since: Option<std::time::Duration>,
    ) -> Result<Vec<Document>, RetryError> {
        // A duration reaching before the calendar's start is no limit.
        let since = since
            .and_then(|since| chrono::Duration::from_std(since).ok())
            .and_then(|since| chrono::Utc::now().checked_sub_signed(since));
        Ok(self.db.in_states_since(&[state], since).await?)
    }

    /// [`ask`]: the restart of `document`, which must be failed or rejected.
    pub async fn restart(&self, document: &Document) -> Result<(), RetryError> {
        ask(&self.js, &self.names, document).await
    }

    /// Flushes what was published before the process exits.
    pub async fn close(self) {
        self.client.flush().await.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failed_and_rejected_documents_restart() {
        for state in State::ALL {
            let expected = matches!(state, State::Failed | State::Rejected);
            assert_eq!(restarts(state, Some(1), 2), expected, "{state}");
            assert_eq!(restarts(state, None, 2), expected, "{state}");
        }
    }

    #[test]
    fn the_message_that_started_a_round_never_restarts_it() {
        assert!(!restarts(State::Failed, Some(7), 7), "its redelivery after the round failed");
        assert!(restarts(State::Failed, Some(7), 8), "a new notification or a replay");
        assert!(restarts(State::Rejected, None, 7), "a document recorded before rounds existed");
    }

    #[test]
    fn an_event_replayed_from_its_dead_letter_restarts_as_replayed() {
        assert_eq!(Cause::of_event(Some("replayed")), Cause::Replayed);
        assert_eq!(Cause::of_event(None), Cause::NotifiedAgain);
        assert_eq!(Cause::of_event(Some("anything")), Cause::NotifiedAgain);
        assert_eq!(Cause::NotifiedAgain.reason(), "notified again");
    }

    #[test]
    fn a_restart_request_round_trips() {
        let request = RestartRequest {
            v: messages::VERSION,
            document_id: DocumentId(uuid::Uuid::from_u128(9)),
            cause: Cause::Retried,
        };
        let text = serde_json::to_string(&request).unwrap();
        assert!(text.contains("\"retried\""), "{text}");
        assert_eq!(serde_json::from_str::<RestartRequest>(&text).unwrap(), request);
    }
}
