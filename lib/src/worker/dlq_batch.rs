//! The dead-letter operations as the `docflow dlq` command uses them: one handle that
//! connects from the settings, and replays of several letters at once (by sequence, by
//! stage, or all). Each letter is replayed on its own through [`dlq::replay`]; one that
//! fails is reported and the others still go.

use async_nats::jetstream;

use super::dlq::{self, DeadLetter, DlqError, Restarts};
use crate::nats::{self, ConnectError, Names};
use crate::settings::Settings;

/// A connection to the dead-letter stream of one prefix.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    client: async_nats::Client,
    js: jetstream::Context,
    names: Names,
    restarts: &'static dyn Restarts,
}

/// What a batch replay did, sequence by sequence.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Replayed: republished to their original subject and deleted from the dead letters.
    pub replayed: Vec<u64>,
    /// Left in place, with the reason.
    pub failed: Vec<(u64, DlqError)>,
}

impl ReplayReport {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
    }
}

impl DeadLetters {
    /// Replays ask `restarts` for their document's restart
    /// (`crate::stages::transfer::restart::ReplayRestarts` in the `docflow dlq` command).
    pub async fn connect(settings: &Settings, restarts: &'static dyn Restarts) -> Result<DeadLetters, ConnectError> {
        let client = nats::connect(&settings.nats, "docflow dlq").await?;
        let names = Names::new(&settings.nats.prefix);
        Ok(DeadLetters { js: jetstream::new(client.clone()), client, names, restarts })
    }

    /// The dead letters of `stage` (all when `None`), oldest first.
    pub async fn list(&self, stage: Option<&str>) -> Result<Vec<DeadLetter>, DlqError> {
        dlq::list(&self.js, &self.names, stage).await
    }

    pub async fn show(&self, sequence: u64) -> Result<DeadLetter, DlqError> {
        dlq::show(&self.js, &self.names, sequence).await
    }

    /// Replays each of `sequences`, in the order given.
    pub async fn replay(&self, sequences: &[u64]) -> ReplayReport {
        let mut report = ReplayReport::default();
        for &sequence in sequences {
            match dlq::replay(&self.js, &self.names, self.restarts, sequence).await {
                Ok(_) => report.replayed.push(sequence),
                Err(error) => report.failed.push((sequence, error)),
            }
        }
        report
    }

    /// Replays the dead letters of `stage` (all when `None`) present when called, oldest
    /// first. Letters a replayed message produces again are not replayed in the same call.
    pub async fn replay_stage(&self, stage: Option<&str>) -> Result<ReplayReport, DlqError> {
        let sequences: Vec<u64> = self.list(stage).await?.iter().map(|letter| letter.sequence).collect();
        Ok(self.replay(&sequences).await)
    }

    /// Deletes the dead letters of `stage` (all when `None`); returns how many.
    pub async fn purge(&self, stage: Option<&str>) -> Result<u64, DlqError> {
        dlq::purge(&self.js, &self.names, stage).await
    }

    /// Flushes what was published before the process exits.
    pub async fn close(self) {
        self.client.flush().await.ok();
    }
}

#[cfg(test)]
mod tests {
    use async_nats::HeaderMap;

    use super::*;
    use crate::stages::transfer::restart::ReplayRestarts;
    use crate::testkit;
    use crate::worker::dead_letter::{ATTEMPTS, DOCUMENT_ID, ERROR, ORIGINAL_SUBJECT, STAGE};

    /// Publishes a dead letter of `stage` whose original subject is `uploads.minio`.
    async fn dead_letter(js: &jetstream::Context, names: &Names, stage: &str, body: &str) {
        let mut headers = HeaderMap::new();
        headers.insert(STAGE, stage);
        headers.insert(ERROR, "boom");
        headers.insert(ATTEMPTS, "8");
        headers.insert(ORIGINAL_SUBJECT, names.subject("uploads.minio").as_str());
        headers.insert(DOCUMENT_ID, "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b");
        js.publish_with_headers(names.dead_subject(stage), headers, body.to_owned().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn replaying_a_later_stages_letter_asks_the_transfer_stage_to_restart_its_document() {
        use crate::stages::transfer::restart::{Cause, RESTART_HEADER, RestartRequest};
        let url = testkit::nats_url();
        let prefix = testkit::random_prefix();
        let settings = testkit::settings(&url, &prefix, &[]);
        let (_client, js) = testkit::connect(&url).await;
        crate::topology::apply(&js, &settings).await.unwrap();
        let names = Names::new(&prefix);
        let mut headers = HeaderMap::new();
        headers.insert(STAGE, "validate");
        headers.insert(ERROR, "results host unreachable");
        headers.insert(ATTEMPTS, "5");
        headers.insert(ORIGINAL_SUBJECT, names.subject("callbacks.sim").as_str());
        headers.insert(DOCUMENT_ID, "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b");
        js.publish_with_headers(names.dead_subject("validate"), headers, "{}".into()).await.unwrap().await.unwrap();

        let letters = DeadLetters::connect(&settings, &ReplayRestarts).await.unwrap();
        assert!(letters.replay(&[1]).await.is_success());
        // The callback goes back to validate, and a restart request to transfer.
        let callbacks = js.get_stream(names.stream("callbacks")).await.unwrap();
        let callback = callbacks.get_last_raw_message_by_subject(&names.subject("callbacks.sim")).await.unwrap();
        assert_eq!(callback.headers.get(RESTART_HEADER).map(|v| v.as_str()), Some("replayed"));
        let uploads = js.get_stream(names.stream("uploads")).await.unwrap();
        let request = uploads.get_last_raw_message_by_subject(&names.subject("uploads.restart")).await.unwrap();
        let request: RestartRequest = serde_json::from_slice(&request.payload).unwrap();
        assert_eq!(request.document_id.to_string(), "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b");
        assert_eq!(request.cause, Cause::Replayed);
        // Replaying it again within the duplicate window stores nothing more.
        assert!(!letters.replay(&[1]).await.is_success(), "the letter is gone");
        letters.close().await;
        testkit::delete_streams(&js, &prefix).await;
    }

    #[tokio::test]
    async fn letters_are_replayed_by_stage_and_by_sequence_and_failures_reported() {
        let url = testkit::nats_url();
        let prefix = testkit::random_prefix();
        let settings = testkit::settings(&url, &prefix, &[]);
        let (_client, js) = testkit::connect(&url).await;
        crate::topology::apply(&js, &settings).await.unwrap();
        let names = Names::new(&prefix);
        dead_letter(&js, &names, "transfer", "a").await;
        dead_letter(&js, &names, "validate", "b").await;
        dead_letter(&js, &names, "transfer", "c").await;

        let letters = DeadLetters::connect(&settings, &ReplayRestarts).await.unwrap();
        assert_eq!(letters.list(None).await.unwrap().len(), 3);
        let transfer = letters.replay_stage(Some("transfer")).await.unwrap();
        assert_eq!(transfer.replayed, [1, 3]);
        assert!(transfer.is_success());
        let mut uploads = js.get_stream(names.stream("uploads")).await.unwrap();
        assert_eq!(uploads.info().await.unwrap().state.messages, 2);

        let again = letters.replay(&[1, 2]).await;
        assert_eq!(again.replayed, [2]);
        assert_eq!(again.failed.len(), 1);
        assert!(matches!(again.failed[0], (1, DlqError::NotFound { .. })));
        assert!(letters.list(None).await.unwrap().is_empty());

        dead_letter(&js, &names, "normalize", "d").await;
        dead_letter(&js, &names, "watchdog", "e").await;
        assert_eq!(letters.purge(Some("normalize")).await.unwrap(), 1);
        assert_eq!(letters.replay_stage(None).await.unwrap().replayed, [5]);
        letters.close().await;
        testkit::delete_streams(&js, &prefix).await;
    }
}
