//! The transfer stage: from an upload notification to a job submitted at the provider.
//! Reads MinIO's event from `{prefix}.uploads.>`, records the document once, streams the
//! object to the provider (or hands it a presigned URL), records the job and starts the
//! document's watch timer. See `design.md` for why a duplicate event or a crash between
//! submit and ack makes no second job.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_nats::jetstream;
use chrono::Utc;

use crate::db::{Db, Document, NewDocument, State};
use crate::events::minio::{self, Upload};
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
}

impl Transfer {
    pub fn new(settings: Arc<Settings>, db: Db, store: Store, js: jetstream::Context) -> Result<Transfer, String> {
        let providers = settings
            .providers
            .iter()
            .map(|(name, p)| ProviderClient::new(name, p).map(|c| (name.clone(), c)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(Transfer { db, store, js, names: Names::new(&settings.nats.prefix), providers, settings })
    }

    async fn transfer(&self, upload: &Upload, attempt: u64) -> Outcome {
        let Some((provider, provider_settings)) = self.settings.provider_for(upload.requested_provider()) else {
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
        let document = match self.db.record_received(&new, STAGE, attempt as u32).await {
            Ok((document, _inserted)) => document,
            Err(e) => return Outcome::from_error(&e),
        };
        match document.state {
            State::Received => {}
            // A duplicate event, or a redelivery after a crash between recording the job
            // and acking: the job exists; make sure its watch timer does too.
            State::Submitted => return self.start_watch(&document).await,
            _ => return Outcome::Done,
        }

        let client = &self.providers[provider];
        let submission_id = document.id.submission_id(provider).to_string();
        let mut meta = JobMetadata {
            reference: document.id.to_string(),
            kind: document.kind,
            file_name: upload.file_name().to_owned(),
            content_type: document.content_type.clone(),
            size: upload.size,
            callback_url: format!("{}/v1/callbacks/{provider}", self.settings.gateway.public_url.trim_end_matches('/')),
            source_url: None,
        };
        let body = match provider_settings.delivery {
            DeliveryMode::Upload => {
                match self.store.open(&upload.bucket, &upload.key, upload.version_id.as_deref()).await {
                    Ok((stream, size)) => {
                        meta.size = size;
                        SubmitBody::Upload { stream, size }
                    }
                    Err(e) => return Outcome::from_error(&e),
                }
            }
            DeliveryMode::Url => {
                match self.store.presign_get(&upload.bucket, &upload.key, provider_settings.url_ttl).await {
                    Ok(url) => meta.source_url = Some(url),
                    Err(e) => return Outcome::from_error(&e),
                }
                SubmitBody::Url
            }
        };
        let job = match client.submit(&submission_id, &meta, body).await {
            Ok(job) => job,
            Err(SubmitError::Throttled { retry_after, detail }) => return Outcome::retry_after(retry_after, detail),
            Err(SubmitError::Transient { detail }) => return Outcome::retry(detail),
            Err(SubmitError::Permanent { detail, .. }) => return Outcome::fail(detail),
        };
        match self.db.mark_submitted(document.id, provider, &submission_id, &job.job_id, STAGE, attempt as u32).await {
            Ok(_) => {}
            Err(e) => return Outcome::from_error(&e),
        }
        let submitted = Document { provider_job_id: Some(job.job_id), provider: provider.to_owned(), ..document };
        self.start_watch(&submitted).await
    }

    /// Publishes the document's watch timer; deduplicated by the stream on its job id.
    async fn start_watch(&self, document: &Document) -> Outcome {
        let Some(job_id) = document.provider_job_id.clone() else {
            return Outcome::fail(format!("document {} is submitted but has no job id", document.id));
        };
        let Some(provider) = self.settings.providers.get(&document.provider) else {
            return Outcome::fail(format!(
                "document {} went to provider {:?}, which is no longer configured",
                document.id, document.provider
            ));
        };
        let submitted_at = Utc::now();
        let deadline =
            submitted_at + chrono::Duration::from_std(provider.callback_timeout).unwrap_or(chrono::Duration::hours(6));
        let timer = WatchTimer {
            document_id: document.id,
            provider: document.provider.clone(),
            job_id: job_id.clone(),
            submitted_at,
            deadline,
            round: 0,
        };
        let body = serde_json::to_vec(&timer).expect("a watch timer serializes");
        let message_id = format!("watch:{}:{job_id}", document.id);
        match messages::publish(&self.js, self.names.subject("watch"), &message_id, Some(document.id), None, body).await
        {
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
            let outcome = self.transfer(upload, delivery.attempt).await;
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
            if let Err(error) = self.db.mark_failed(id, STAGE, delivery.attempt as u32, reason).await {
                tracing::error!(document_id = %id, error = %error, "cannot mark the document failed");
            }
        }
    }
}
