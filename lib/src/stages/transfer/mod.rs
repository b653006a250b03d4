//! The transfer stage: from an upload notification to a job submitted at the provider.
//! Reads MinIO's event from `{prefix}.uploads.>`, records the document once, streams the
//! object to the provider (or hands it a presigned URL), records the job and starts the
//! document's watch timer. See `design.md` for why a duplicate event or a crash between
//! submit and ack makes no second job.

mod preflight;
mod retried;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_nats::jetstream;
use chrono::Utc;

use self::retried::Retried;
use crate::db::{Db, Document, NewDocument, State};
use crate::events::minio::{self, Upload};
use crate::ids::{DocumentId, Kind};
use crate::messages::{self, WatchTimer};
use crate::nats::Names;
use crate::provider::client::{ProviderClient, SubmitBody, SubmitError};
use crate::provider::protocol::JobMetadata;
use crate::settings::{Delivery as DeliveryMode, Settings};
use crate::storage::Store;
use crate::worker::{Delivery, Outcome, Stage};

pub const STAGE: &str = "transfer";

pub struct Transfer {
    db: Db,
    store: Store,
    js: jetstream::Context,
    names: Names,
    providers: BTreeMap<String, ProviderClient>,
    settings: Arc<Settings>,
    /// Documents this process naked in `received`: their redelivery writes nothing.
    retried: Retried,
}

impl Transfer {
    pub fn new(settings: Arc<Settings>, db: Db, store: Store, js: jetstream::Context) -> Result<Transfer, String> {
        let providers = settings
            .providers
            .iter()
            .map(|(name, p)| ProviderClient::new(name, p).map(|c| (name.clone(), c)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let names = Names::new(&settings.nats.prefix);
        Ok(Transfer { db, store, js, names, providers, settings, retried: Retried::new(retried::CAPACITY) })
    }

    async fn transfer(&self, upload: &Upload, delivery: &Delivery) -> Outcome {
        let Some((provider, _)) = self.settings.provider_for(upload.requested_provider()) else {
            return Outcome::fail(format!(
                "object {}/{} names provider {:?}, which is not configured (configured: {})",
                upload.bucket,
                upload.key,
                upload.requested_provider().unwrap_or(&self.settings.routing.default),
                self.settings.providers.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        let new = NewDocument {
            id: upload.document_id(),
            kind: upload.kind(),
            uploader_id: upload.uploader_id().to_owned(),
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            version_id: upload.version_id.clone(),
            etag: upload.etag.clone(),
            size: upload.size as i64,
            content_type: upload.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
            provider: provider.to_owned(),
        };
        if let Some(outcome) = preflight::refused(&self.db, &self.store, &self.settings, upload, &new, delivery).await {
            return outcome;
        }
        if delivery.attempt > 1 && self.retried.recalls(new.id, delivery.stream_sequence) {
            return self.resubmit(upload, &new, delivery).await;
        }
        self.record_and_submit(upload, &new, delivery).await
    }

    /// The path of a first delivery, and of any the process does not remember: record the
    /// document (or read it back), then do what its state leaves to do.
    async fn record_and_submit(&self, upload: &Upload, new: &NewDocument, delivery: &Delivery) -> Outcome {
        let attempt = delivery.attempt as u32;
        let document = match self.db.record_received(new, STAGE, attempt).await {
            Ok((document, _inserted)) => document,
            Err(e) => return Outcome::from_error(&e),
        };
        if document.state != State::Received {
            self.retried.forget(document.id);
            return self.resume(&document).await;
        }
        // The row's kind and content type: the event that recorded it may have said otherwise.
        match self.submit_and_mark(upload, new, document.kind, &document.content_type, delivery).await {
            Ok((job_id, _)) => self.start_watch(new.id, &new.provider, &job_id).await,
            Err(outcome) => outcome,
        }
    }

    /// The redelivery of a message this process naked with the document in `received`:
    /// no recording, straight to the submission (the provider answers a repeated
    /// submission id with the job it has). The guarded write decides; when it finds the
    /// document elsewhere than `received`, the document is read and its state acted on.
    async fn resubmit(&self, upload: &Upload, new: &NewDocument, delivery: &Delivery) -> Outcome {
        tracing::debug!(document_id = %new.id, "redelivery of a document left received; submitting again");
        match self.submit_and_mark(upload, new, new.kind, &new.content_type, delivery).await {
            Ok((job_id, true)) => self.start_watch(new.id, &new.provider, &job_id).await,
            // Validate recorded the job from an early callback, another process did, or
            // the row is gone: whatever happened is in the row.
            Ok((_, false)) => match self.db.get(new.id).await {
                Ok(Some(document)) if document.state != State::Received => self.resume(&document).await,
                Ok(_) => self.record_and_submit(upload, new, delivery).await,
                Err(e) => Outcome::from_error(&e),
            },
            Err(outcome) => outcome,
        }
    }

    /// Submits the document and records its job (`received -> submitted`): the job id and
    /// whether the guarded write matched. A failure leaves the document `received`, and a
    /// retry is remembered; anything else forgets it.
    async fn submit_and_mark(
        &self,
        upload: &Upload,
        new: &NewDocument,
        kind: Kind,
        content_type: &str,
        delivery: &Delivery,
    ) -> Result<(String, bool), Outcome> {
        let provider = new.provider.as_str();
        let submission_id = new.id.submission_id(provider).to_string();
        let job_id = self
            .submit(upload, new.id, &submission_id, kind, content_type, provider)
            .await
            .map_err(|outcome| self.naked_in_received(new.id, delivery, outcome))?;
        let marked = self
            .db
            .mark_submitted(new.id, provider, &submission_id, &job_id, STAGE, delivery.attempt as u32)
            .await
            .map_err(|e| self.naked_in_received(new.id, delivery, Outcome::from_error(&e)))?;
        self.retried.forget(new.id);
        Ok((job_id, marked))
    }

    /// Streams the object to the provider (or hands it a presigned URL); the job id, or
    /// the outcome of the failure.
    async fn submit(
        &self,
        upload: &Upload,
        id: DocumentId,
        submission_id: &str,
        kind: Kind,
        content_type: &str,
        provider: &str,
    ) -> Result<String, Outcome> {
        let client = &self.providers[provider];
        let provider_settings = &self.settings.providers[provider];
        let mut meta = JobMetadata {
            reference: id.to_string(),
            kind,
            file_name: upload.file_name().to_owned(),
            content_type: content_type.to_owned(),
            size: upload.size,
            callback_url: format!("{}/v1/callbacks/{provider}", self.settings.gateway.public_url.trim_end_matches('/')),
            source_url: None,
        };
        let body = match provider_settings.delivery {
            DeliveryMode::Upload => {
                let (stream, size) = self
                    .store
                    .open(&upload.bucket, &upload.key, upload.version_id.as_deref())
                    .await
                    .map_err(|e| Outcome::from_error(&e))?;
                meta.size = size;
                SubmitBody::Upload { stream, size }
            }
            DeliveryMode::Url => {
                let url = self
                    .store
                    .presign_get(&upload.bucket, &upload.key, provider_settings.url_ttl)
                    .await
                    .map_err(|e| Outcome::from_error(&e))?;
                meta.source_url = Some(url);
                SubmitBody::Url
            }
        };
        match client.submit(submission_id, &meta, body).await {
            Ok(job) => Ok(job.job_id),
            Err(SubmitError::Throttled { retry_after, detail }) => Err(Outcome::retry_after(retry_after, detail)),
            Err(SubmitError::Transient { detail }) => Err(Outcome::retry(detail)),
            Err(SubmitError::Permanent { detail, .. }) => Err(Outcome::fail(detail)),
        }
    }

    /// `outcome` of a step that leaves the document in `received`: a retry is remembered,
    /// so the redelivery skips the recording.
    fn naked_in_received(&self, id: DocumentId, delivery: &Delivery, outcome: Outcome) -> Outcome {
        if matches!(outcome, Outcome::Retry { .. }) && !delivery.is_last_attempt() {
            self.retried.remember(id, delivery.stream_sequence);
        }
        outcome
    }

    /// What is left to do for a document past `received`. A `submitted` one comes from a
    /// duplicate event, or a redelivery after a crash between recording the job and
    /// acking: the job exists; make sure its watch timer does too.
    async fn resume(&self, document: &Document) -> Outcome {
        match (document.state, &document.provider_job_id) {
            (State::Submitted, Some(job_id)) => self.start_watch(document.id, &document.provider, job_id).await,
            (State::Submitted, None) => {
                Outcome::fail(format!("document {} is submitted but has no job id", document.id))
            }
            _ => Outcome::Done,
        }
    }

    /// Publishes the document's watch timer; deduplicated by the stream on its job id.
    async fn start_watch(&self, id: DocumentId, provider_name: &str, job_id: &str) -> Outcome {
        let Some(provider) = self.settings.providers.get(provider_name) else {
            return Outcome::fail(format!(
                "document {id} went to provider {provider_name:?}, which is no longer configured"
            ));
        };
        let submitted_at = Utc::now();
        let deadline =
            submitted_at + chrono::Duration::from_std(provider.callback_timeout).unwrap_or(chrono::Duration::hours(6));
        let timer = WatchTimer {
            document_id: id,
            provider: provider_name.to_owned(),
            job_id: job_id.to_owned(),
            submitted_at,
            deadline,
            round: 0,
        };
        let body = serde_json::to_vec(&timer).expect("a watch timer serializes");
        let message_id = format!("watch:{id}:{job_id}");
        match messages::publish(&self.js, self.names.subject("watch"), &message_id, Some(id), None, body).await {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::from_error(&e),
        }
    }
}

impl Stage for Transfer {
    fn name(&self) -> &'static str {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        let uploads = match minio::parse(&delivery.payload) {
            Ok(uploads) => uploads,
            Err(e) => return Outcome::fail(e.to_string()),
        };
        // A webhook body may carry several records: each is idempotent, so a retry of the
        // message redoes none of the work already done.
        for upload in &uploads {
            let outcome = self.transfer(upload, delivery).await;
            if outcome != Outcome::Done {
                return outcome;
            }
        }
        Outcome::Done
    }

    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str) {
        let Ok(uploads) = minio::parse(&delivery.payload) else { return };
        for upload in uploads {
            let id = upload.document_id();
            self.retried.forget(id);
            if let Err(error) = self.db.mark_failed(id, STAGE, delivery.attempt as u32, reason).await {
                tracing::error!(document_id = %id, error = %error, "cannot mark the document failed");
            }
        }
    }
}
