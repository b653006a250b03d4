//! The `forget` component's step: one document per message. The order (see `design.md`):
//! tombstone, the audit row notes the provider's job ids, then everything docflow holds
//! (results objects, the upload when asked, dead letters, the watch timer, the rows),
//! then the provider's copy. Every step is idempotent, so a redelivery redoes what an
//! interrupted attempt left and skips what it finished.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::records::{self, Erasure, Outcome as Audit};
use super::streams;
use super::{ForgetRequest, STAGE};
use crate::db::Db;
use crate::ids::{DocumentId, JobId, StageId, UploaderId};
use crate::nats::Names;
use crate::provider::client::ProviderClient;
use crate::provider::deletion::Deletion;
use crate::settings::Settings;
use crate::storage::Store;
use crate::topology::DEAD_STREAM;
use crate::worker::{self, Delivery, Outcome, Stage, Step, StepError};

pub struct Forget {
    db: Db,
    store: Store,
    js: async_nats::jetstream::Context,
    names: Names,
    providers: BTreeMap<String, ProviderClient>,
    settings: Arc<Settings>,
}

impl Forget {
    /// Builds a client for every configured provider (their `DELETE /v1/jobs/{id}`).
    pub fn new(
        settings: Arc<Settings>,
        db: Db,
        store: Store,
        js: async_nats::jetstream::Context,
    ) -> Result<Forget, String> {
        let providers = settings
            .providers
            .iter()
            .map(|(name, p)| ProviderClient::new(name, p).map(|client| (name.clone(), client)))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let names = Names::new(&settings.nats.prefix);
        Ok(Forget { db, store, js, names, providers, settings })
    }

    async fn forget(&self, request: &ForgetRequest) -> Step {
        let id = request.document_id;
        let erasure = match records::erasure(&self.db, &request.request_id, id).await? {
            // Done before (a redelivery after the ack was lost). A `failed` one goes on: its
            // dead letter was replayed.
            Some(erasure) if matches!(erasure.outcome, Audit::Erased | Audit::ProviderRefused) => {
                return Ok(Outcome::Done);
            }
            Some(erasure) => erasure,
            None => {
                // Published by something other than `docflow forget`: audited all the same.
                let erasure = new_erasure(request, self.db.get(id).await?.map(|d| d.uploader_id));
                records::record_request(&self.db, &erasure).await?;
                erasure
            }
        };
        // First: from now on no late callback or event records the document again.
        records::tombstone(&self.db, id).await?;
        let mut detail = erasure.detail.clone();
        let (provider, jobs) = match self.db.get(id).await? {
            Some(document) => {
                let jobs = records::job_ids(&self.db, id, document.provider_job_id.as_ref()).await?;
                records::note_jobs(&self.db, &request.request_id, id, &document.provider, &jobs).await?;
                let known: Vec<String> = self.db.artifacts(id).await?.into_iter().map(|a| a.key).collect();
                let objects = self.delete_results(id, &known).await?;
                let upload = if request.with_upload {
                    self.store.delete(&document.bucket, &document.key).await?;
                    "upload erased"
                } else {
                    "upload kept"
                };
                let Messages { dead, timers, notices } = self.delete_messages(id).await?;
                let rows = records::delete_rows(&self.db, id).await?;
                detail = format!(
                    "rows {rows}, results objects {objects}, {upload}, dead letters {dead}, watch timers {timers}, \
                     mail notices {notices}"
                );
                records::note_detail(&self.db, &request.request_id, id, &detail).await?;
                (Some(document.provider), jobs)
            }
            // The rows went in an earlier attempt (with the upload, when asked); what a
            // late message may have added since is swept again.
            None => {
                self.delete_results(id, &[]).await?;
                self.delete_messages(id).await?;
                (erasure.provider.clone(), erasure.job_ids.clone())
            }
        };
        let (outcome, provider_detail) = self.delete_at_provider(provider.as_deref(), &jobs).await?;
        let detail = if detail.is_empty() { provider_detail } else { format!("{detail}; {provider_detail}") };
        records::finish(&self.db, &request.request_id, id, outcome, &detail).await?;
        tracing::info!(document_id = %id, outcome = outcome.as_str(), %detail, "document forgotten");
        Ok(Outcome::Done)
    }

    /// Its objects in the results bucket: the artifacts' keys, and whatever else is stored
    /// under `{document_id}/` (a result validate stored as the erasure began).
    async fn delete_results(&self, id: DocumentId, known: &[String]) -> Result<usize, StepError> {
        let bucket = &self.settings.s3.results_bucket;
        let mut keys = self.store.list(bucket, &format!("{id}/")).await?;
        keys.extend(known.iter().cloned());
        keys.sort();
        keys.dedup();
        for key in &keys {
            self.store.delete(bucket, key).await?;
        }
        // A store may answer a deletion it did not make: what is still listed is retried.
        let left = self.store.list(bucket, &format!("{id}/")).await?;
        if !left.is_empty() {
            return Err(StepError::retry(format!(
                "{} results objects remain after deletion: {}",
                left.len(),
                left.join(", ")
            )));
        }
        Ok(keys.len())
    }

    /// Its dead letters, its pending watch timer and its mail notices not yet sent (the
    /// outbox: a notice names the file).
    async fn delete_messages(&self, id: DocumentId) -> Result<Messages, StepError> {
        let dead = self.names.stream(DEAD_STREAM);
        let dead = streams::delete_messages_of(&self.js, &dead, &self.names.dead_subject(">"), id).await?;
        let watch = self.names.stream(StageId::Watchdog.stream());
        let timers = streams::delete_messages_of(&self.js, &watch, &self.names.subject("watch"), id).await?;
        let notify = self.names.stream(StageId::Mail.stream());
        let notices = streams::delete_messages_of(&self.js, &notify, &self.names.subject("notify.>"), id).await?;
        Ok(Messages { dead, timers, notices })
    }

    /// Asks the provider to erase every job of the document. A transient answer retries
    /// the message (what is already erased answers 404 next time); a refusal is recorded.
    async fn delete_at_provider(&self, provider: Option<&str>, jobs: &[JobId]) -> Result<(Audit, String), StepError> {
        let Some(name) = provider.filter(|_| !jobs.is_empty()) else {
            return Ok((Audit::Erased, "provider: nothing submitted".into()));
        };
        let Some(client) = self.providers.get(name) else {
            let jobs = records::joined(jobs, ", ");
            let detail = format!("provider {name} is no longer configured: its copy of jobs {jobs} was not erased");
            return Ok((Audit::ProviderRefused, detail));
        };
        let mut refused = Vec::new();
        for job in jobs {
            match client.delete_job(job).await {
                Deletion::Erased | Deletion::AlreadyGone => {}
                Deletion::Transient { retry_after: Some(after), detail } => {
                    return Err(StepError::retry_after(after, detail));
                }
                Deletion::Transient { retry_after: None, detail } => return Err(StepError::retry(detail)),
                Deletion::Refused { detail, .. } => refused.push(format!("job {job}: {detail}")),
            }
        }
        if refused.is_empty() {
            Ok((Audit::Erased, format!("provider {name}: jobs {} erased", records::joined(jobs, ", "))))
        } else {
            Ok((Audit::ProviderRefused, format!("provider {name} refused to erase: {}", refused.join("; "))))
        }
    }
}

/// How many messages of the document [`Forget::delete_messages`] deleted, by stream.
struct Messages {
    dead: u64,
    timers: u64,
    notices: u64,
}

fn new_erasure(request: &ForgetRequest, uploader_id: Option<UploaderId>) -> Erasure {
    Erasure {
        request_id: request.request_id.clone(),
        document_id: request.document_id.to_string(),
        // A document already gone has no uploader to name: the audit keeps empty text.
        uploader_id: uploader_id.unwrap_or_else(|| UploaderId::from("")),
        requested_by: request.requested_by.clone(),
        with_upload: request.with_upload,
        provider: None,
        job_ids: Vec::new(),
        outcome: Audit::Pending,
        detail: String::new(),
        requested_at: chrono::Utc::now(),
        finished_at: None,
    }
}

impl Stage for Forget {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        match serde_json::from_slice::<ForgetRequest>(&delivery.payload) {
            Ok(request) => worker::settled(self.forget(&request).await),
            Err(e) => Outcome::fail(format!("not an erasure request: {e}")),
        }
    }

    /// The erasure stopped for good (its retries ran out): the audit says so, with why.
    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str, _cause: Option<crate::lifecycle::FailureCause>) {
        let Ok(request) = serde_json::from_slice::<ForgetRequest>(&delivery.payload) else { return };
        let id = request.document_id;
        let detail = format!("stopped after {} attempts: {reason}", delivery.attempt);
        if let Err(error) = records::finish(&self.db, &request.request_id, id, Audit::Failed, &detail).await {
            tracing::error!(document_id = %id, %error, "cannot record the failed erasure");
        }
    }
}
