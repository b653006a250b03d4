//! The transfer stage: from an upload notification to a job submitted at the provider.
//! Reads MinIO's event from `{prefix}.uploads.>`, records the document once, streams the
//! object to the provider (or hands it a presigned URL), records the job and starts the
//! document's watch timer. See `design.md` for why a duplicate event or a crash between
//! submit and ack makes no second job.

mod admission;
pub mod preflight;
pub mod restart;
mod retried;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;

use self::restart::{Cause, REQUEST_SUBJECT, RESTART_HEADER, RestartRequest};
use self::retried::Retried;
use crate::db::{Document, NewDocument, State};
use crate::events::minio::{self, EventLog, Upload};
use crate::events::{Boundary, Refused};
use crate::ids::{DocumentId, JobId, Kind};
use crate::lifecycle::{By, FailureCause, Transition};
use crate::messages::{self, TRACEPARENT, WatchTimer};
use crate::nats::Names;
use crate::provider::breaker::{Gate, Verdict};
use crate::provider::client::{SubmitBody, SubmitError};
use crate::provider::protocol::JobMetadata;
use crate::settings::{Delivery as DeliveryMode, Settings};
use crate::stages::StageId;
use crate::stages::ports::{Documents, Objects, Ports, Provider, Publisher};
use crate::worker::{self, Delivery, Outcome, Stage, Step, StepError};

pub const STAGE: StageId = StageId::Transfer;

pub struct Transfer {
    db: Arc<dyn Documents>,
    store: Arc<dyn Objects>,
    publisher: Arc<dyn Publisher>,
    names: Names,
    providers: BTreeMap<String, Arc<dyn Provider>>,
    /// Each provider's slots and circuit breaker (`provider/design.md`).
    gates: BTreeMap<String, Arc<Gate>>,
    settings: Arc<Settings>,
    /// Documents this process naked in `received`: their redelivery writes nothing.
    retried: Retried,
    /// The buckets an event may start work in.
    boundary: Boundary,
}

/// What an upload message holds, once read.
enum Units {
    /// No record that creates content: acknowledged and ignored.
    Nothing,
    /// One record, admitted or refused at the boundary.
    One(Result<Upload, Refused>),
    /// Several records: split into one message each.
    Several(EventLog),
}

impl Transfer {
    pub fn new(settings: Arc<Settings>, ports: &Ports) -> Transfer {
        let gates = settings
            .providers
            .iter()
            .map(|(name, p)| (name.clone(), Gate::new(name, settings.provider_concurrency(name), &p.breaker)))
            .collect();
        let names = Names::new(&settings.nats.prefix);
        let boundary = Boundary::from_settings(&settings.s3);
        Transfer {
            db: ports.documents.clone(),
            store: ports.objects.clone(),
            publisher: ports.publisher.clone(),
            names,
            providers: ports.providers.clone(),
            gates,
            settings,
            retried: Retried::new(retried::CAPACITY),
            boundary,
        }
    }

    /// Reads an upload message: a body that is not an event is refused.
    fn units(&self, payload: &[u8]) -> Result<Units, Refused> {
        let log: EventLog =
            serde_json::from_slice(payload).map_err(|e| Refused::Malformed { detail: e.to_string() })?;
        let mut creating = log.records.iter().filter(|r| minio::is_creating(r));
        Ok(match (creating.next(), creating.next()) {
            (None, _) => Units::Nothing,
            (Some(record), None) => Units::One(minio::admit(record, &self.boundary)),
            _ => Units::Several(log),
        })
    }

    /// The upload of a one-record message the boundary admits.
    fn single_upload(&self, delivery: &Delivery) -> Option<Upload> {
        match self.units(&delivery.payload) {
            Ok(Units::One(Ok(upload))) => Some(upload),
            _ => None,
        }
    }

    /// A record that can never start work: dead-lettered at once with the reason, counted.
    fn refuse(&self, refused: Refused) -> StepError {
        crate::metrics::event_refused(refused.reason());
        StepError::fail(refused.to_string())
    }

    /// A notification of several records becomes one message per record, on the subject
    /// it came on, each with its own `Nats-Msg-Id`, document id and trace: one bad record
    /// then never fails, delays or retries another. The copies are stored (acks awaited)
    /// before the original is acked; a crash in between splits again, and the stream
    /// drops the second copies as duplicates of the first.
    async fn split(&self, log: &EventLog, delivery: &Delivery) -> Step {
        let singles = minio::split(log, &self.boundary);
        let carried = delivery.header(TRACEPARENT).filter(|t| t.len() == 55);
        for single in &singles {
            let trace = single.document_id.map(messages::traceparent_for).or_else(|| carried.map(str::to_owned));
            let subject = delivery.subject.clone();
            let body = single.body.clone();
            let document = single.document_id;
            self.publisher.publish(subject, &single.message_id, document, trace.as_deref(), body).await?;
        }
        tracing::info!(records = singles.len(), "notification split into one message per record");
        Ok(Outcome::Done)
    }

    async fn transfer(&self, upload: &Upload, delivery: &Delivery) -> Step {
        let Some((provider, _)) = self.settings.provider_for(upload.requested_provider()) else {
            return Err(StepError::refuse(
                FailureCause::SubmissionRefused,
                format!(
                    "object {}/{} names provider {:?}, which is not configured (configured: {})",
                    upload.bucket,
                    upload.key,
                    upload.requested_provider().unwrap_or(&self.settings.routing.default),
                    self.settings.providers.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let new = NewDocument {
            id: upload.document_id(),
            kind: upload.kind(),
            uploader_id: upload.uploader_id(),
            bucket: upload.bucket.clone(),
            key: upload.key.to_string(),
            version_id: upload.version_id.clone(),
            etag: upload.etag.clone(),
            size: upload.size as i64,
            content_type: upload.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
            provider: provider.to_owned(),
        };
        if delivery.attempt > 1
            && let Some(round) = self.retried.recalls(new.id, delivery.stream_sequence)
        {
            return self.resubmit(upload, &new, round, delivery).await;
        }
        self.record_and_submit(upload, &new, delivery).await
    }

    /// The path of a first delivery, and of any the process does not remember: record the
    /// document (or read it back), restart it when it is failed or rejected (a new
    /// notification, or the replay of its dead letter), then do what its state leaves to do.
    async fn record_and_submit(&self, upload: &Upload, new: &NewDocument, delivery: &Delivery) -> Step {
        let attempt = delivery.attempt as u32;
        let origin = Some(delivery.stream_sequence);
        let (mut document, _inserted) = match self.db.record_received(new, STAGE, attempt, origin).await {
            Ok(recorded) => recorded,
            // The only path that records a document, and its insert skips a forgotten one:
            // then there is no row to read back. Asked only then, so it costs nothing else.
            Err(error) => {
                if self.db.forgotten(new.id).await? {
                    tracing::info!(document_id = %new.id, "event for a forgotten document ignored");
                    return Ok(Outcome::Done);
                }
                return Err(error.into());
            }
        };
        if restart::restarts(document.state, document.round_origin, delivery.stream_sequence) {
            let cause = Cause::of_event(delivery.header(RESTART_HEADER));
            document = self.restart(document.id, cause, delivery).await?;
        }
        self.submit_current_round(upload, new, &document, delivery).await
    }

    /// Submits a `received` document in its current round once the round is admitted
    /// (`admission.rs`); for any other state, does what the state leaves to do. The only
    /// way to the provider but `resubmit`, whose round was admitted on this path.
    async fn submit_current_round(
        &self,
        upload: &Upload,
        new: &NewDocument,
        document: &Document,
        delivery: &Delivery,
    ) -> Step {
        if document.state != State::Received {
            self.retried.forget(document.id);
            return self.resume(document).await;
        }
        // Every round, whatever started it, is admitted before anything reaches the provider.
        self.admit(upload, document).await?;
        // The row's kind and content type: the event that recorded it may have said otherwise.
        let round = document.submission_round;
        let (job_id, _) =
            self.submit_and_mark(upload, new, document.kind, &document.content_type, round, delivery).await?;
        self.start_watch(new.id, &new.provider, &job_id).await
    }

    /// Restarts a failed or rejected document in its next submission round (unless this
    /// message started the current one), and reads where it is: whatever another message
    /// did meanwhile is in the row.
    async fn restart(&self, id: DocumentId, cause: Cause, delivery: &Delivery) -> Result<Document, StepError> {
        let attempt = delivery.attempt as u32;
        let restarted = Transition::Restarted { origin: delivery.stream_sequence, reason: cause.reason() };
        if self.db.apply(id, restarted, By::new(STAGE, attempt)).await? {
            tracing::info!(document_id = %id, cause = cause.reason(), "document restarted");
        }
        self.db
            .get(id)
            .await?
            .ok_or_else(|| StepError::fail(format!("document {id} disappeared while it was restarted")))
    }

    /// A restart request (`docflow retry`, or the replay of a dead letter of a later stage):
    /// the document is restarted and submitted from what its row says of the upload.
    async fn restart_requested(&self, request: &RestartRequest, delivery: &Delivery) -> Step {
        let document = self.restart(request.document_id, request.cause, delivery).await?;
        let key = crate::events::ObjectKey::parse(&document.key).map_err(|e| {
            StepError::fail(format!("document {} has a key that can never start work: {e}", document.id))
        })?;
        let upload = Upload {
            event_name: format!("docflow:{}", request.cause.reason()),
            bucket: document.bucket.clone(),
            key,
            size: u64::try_from(document.size).unwrap_or(0),
            etag: document.etag.clone(),
            version_id: document.version_id.clone(),
            content_type: Some(document.content_type.clone()),
            metadata: [("kind".to_owned(), document.kind.as_str().to_owned())].into_iter().collect(),
        };
        let new = NewDocument {
            id: document.id,
            kind: document.kind,
            uploader_id: document.uploader_id.clone(),
            bucket: document.bucket.clone(),
            key: document.key.clone(),
            version_id: document.version_id.clone(),
            etag: document.etag.clone(),
            size: document.size,
            content_type: document.content_type.clone(),
            provider: document.provider.clone(),
        };
        self.submit_current_round(&upload, &new, &document, delivery).await
    }

    /// The redelivery of a message this process naked with the document in `received`:
    /// no recording, straight to the submission (the provider answers a repeated
    /// submission id with the job it has). The guarded write decides; when it finds the
    /// document elsewhere than `received`, the document is read and its state acted on.
    async fn resubmit(&self, upload: &Upload, new: &NewDocument, round: u32, delivery: &Delivery) -> Step {
        tracing::debug!(document_id = %new.id, "redelivery of a document left received; submitting again");
        let (job_id, marked) = self.submit_and_mark(upload, new, new.kind, &new.content_type, round, delivery).await?;
        if marked {
            return self.start_watch(new.id, &new.provider, &job_id).await;
        }
        // Validate recorded the job from an early callback, another process did, or the
        // row is gone: whatever happened is in the row.
        match self.db.get(new.id).await? {
            Some(document) if document.state != State::Received => self.resume(&document).await,
            _ => self.record_and_submit(upload, new, delivery).await,
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
        round: u32,
        delivery: &Delivery,
    ) -> Result<(JobId, bool), StepError> {
        let provider = new.provider.as_str();
        // One key per submission round: every retry within the round repeats it.
        let submission_id = new.id.submission_id_for_round(provider, round).to_string();
        let job_id = self
            .submit(upload, new.id, &submission_id, kind, content_type, provider)
            .await
            .map_err(|error| self.naked_in_received(new.id, round, delivery, error))?;
        let submitted = Transition::Submit { round, provider, submission_id: &submission_id, job_id: &job_id };
        let marked = self
            .db
            .apply(new.id, submitted, By::new(STAGE, delivery.attempt as u32))
            .await
            .map_err(|e| self.naked_in_received(new.id, round, delivery, e.into()))?;
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
    ) -> Result<JobId, StepError> {
        let client = &self.providers[provider];
        let provider_settings = &self.settings.providers[provider];
        // The provider's own slot and its breaker's leave; otherwise the document waits in
        // its stream without spending an attempt.
        let gate = &self.gates[provider];
        let pass = gate.enter().map_err(|after| {
            StepError::hold(
                after,
                format!("provider {provider} is busy or down (breaker {}); held", gate.state().as_str()),
            )
        })?;
        let probe = pass.is_probe();
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
                    .map_err(unreadable)?;
                meta.size = size;
                SubmitBody::Upload { stream, size }
            }
            DeliveryMode::Url => {
                let url = self
                    .store
                    .presign_get(&upload.bucket, &upload.key, provider_settings.url_ttl)
                    .await
                    .map_err(unreadable)?;
                meta.source_url = Some(url);
                SubmitBody::Url
            }
        };
        let result = client.submit(submission_id, &meta, body).await;
        pass.settle(match &result {
            Ok(_) | Err(SubmitError::Permanent { status: 400.., .. }) => Verdict::Answered,
            Err(SubmitError::Transient { .. }) => Verdict::Transient,
            Err(SubmitError::Throttled { .. } | SubmitError::Permanent { .. }) => Verdict::Neutral,
        });
        match result {
            Ok(job) => Ok(job.job_id),
            // A failed probe is the outage, not the document: no attempt spent on it.
            Err(SubmitError::Transient { detail }) if probe => Err(StepError::hold(
                self.settings.providers[provider].breaker.probe_after,
                format!("probe failed: {detail}"),
            )),
            // A permanent answer: the provider refused the submission for good.
            Err(error) => Err(StepError::from(error).caused_by(FailureCause::SubmissionRefused)),
        }
    }

    /// `error` of a step that leaves the document in `received`: a retry is remembered,
    /// so the redelivery skips the recording.
    fn naked_in_received(&self, id: DocumentId, round: u32, delivery: &Delivery, error: StepError) -> StepError {
        // A restart request's redelivery takes its full path (it has no event to resubmit).
        let event = !self.is_restart_request(delivery);
        if event && error.is_retry() && !delivery.is_last_attempt() {
            self.retried.remember(id, delivery.stream_sequence, round);
        }
        error
    }

    /// What is left to do for a document past `received`. A `submitted` one comes from a
    /// duplicate event, or a redelivery after a crash between recording the job and
    /// acking: the job exists; make sure its watch timer does too.
    async fn resume(&self, document: &Document) -> Step {
        match (document.state, &document.provider_job_id) {
            (State::Submitted, Some(job_id)) => self.start_watch(document.id, &document.provider, job_id).await,
            (State::Submitted, None) => {
                Err(StepError::fail(format!("document {} is submitted but has no job id", document.id)))
            }
            _ => Ok(Outcome::Done),
        }
    }

    fn is_restart_request(&self, delivery: &Delivery) -> bool {
        delivery.subject == self.names.subject(REQUEST_SUBJECT)
    }

    /// Publishes the document's watch timer; deduplicated by the stream on its job id.
    async fn start_watch(&self, id: DocumentId, provider_name: &str, job_id: &JobId) -> Step {
        let Some(provider) = self.settings.providers.get(provider_name) else {
            return Err(StepError::fail(format!(
                "document {id} went to provider {provider_name:?}, which is no longer configured"
            )));
        };
        let submitted_at = Utc::now();
        let deadline =
            submitted_at + chrono::Duration::from_std(provider.callback_timeout).unwrap_or(chrono::Duration::hours(6));
        let timer = WatchTimer {
            v: messages::VERSION,
            document_id: id,
            provider: provider_name.to_owned(),
            job_id: job_id.clone(),
            submitted_at,
            deadline,
            round: 0,
            checks: 0,
        };
        let body = serde_json::to_vec(&timer).expect("a watch timer serializes");
        let message_id = format!("watch:{id}:{job_id}");
        self.publisher.publish(self.names.subject("watch"), &message_id, Some(id), None, body).await?;
        Ok(Outcome::Done)
    }

    async fn handle(&self, delivery: &Delivery) -> Step {
        if self.is_restart_request(delivery) {
            let request = serde_json::from_slice::<RestartRequest>(&delivery.payload)
                .map_err(|e| StepError::fail(format!("not a restart request: {e}")))?;
            return self.restart_requested(&request, delivery).await;
        }
        match self.units(&delivery.payload) {
            Ok(Units::Nothing) => Ok(Outcome::Done),
            Ok(Units::One(Ok(upload))) => self.transfer(&upload, delivery).await,
            Ok(Units::One(Err(refused))) | Err(refused) => Err(self.refuse(refused)),
            Ok(Units::Several(log)) => self.split(&log, delivery).await,
        }
    }
}

impl Stage for Transfer {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        worker::settled(self.handle(delivery).await)
    }

    fn document_of(&self, delivery: &Delivery) -> Option<DocumentId> {
        if self.is_restart_request(delivery) {
            return serde_json::from_slice::<RestartRequest>(&delivery.payload).ok().map(|r| r.document_id);
        }
        self.single_upload(delivery).map(|upload| upload.document_id())
    }

    /// Marks the document of a one-record message failed, with the cause the step named
    /// (its attempts running out is [`FailureCause::SubmissionGaveUp`]). A refused record
    /// has none; a notification of several records is dead-lettered only when its split
    /// could not be stored, before any of its documents was recorded.
    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str, cause: Option<FailureCause>) {
        let failed = Transition::Failed { cause: cause.unwrap_or(FailureCause::SubmissionGaveUp), reason };
        let by = By::new(STAGE, delivery.attempt as u32);
        if self.is_restart_request(delivery) {
            if let Ok(request) = serde_json::from_slice::<RestartRequest>(&delivery.payload) {
                let id = request.document_id;
                if let Err(error) = self.db.apply(id, failed, by).await {
                    tracing::error!(document_id = %id, error = %error, "cannot mark the document failed");
                }
            }
            return;
        }
        let Some(upload) = self.single_upload(delivery) else { return };
        let id = upload.document_id();
        self.retried.forget(id);
        if let Err(error) = self.db.apply(id, failed, by).await {
            tracing::error!(document_id = %id, error = %error, "cannot mark the document failed");
        }
    }
}

/// The upload could not be read for good (gone, access denied): the cause of a failure;
/// a transient error stays a retry.
fn unreadable(error: crate::storage::StorageError) -> StepError {
    StepError::from(error).caused_by(FailureCause::UploadUnreadable)
}

#[cfg(test)]
mod tests;
