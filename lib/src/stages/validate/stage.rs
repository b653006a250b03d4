//! The validate stage: a provider's callback (from the gateway, or recovered by the
//! watchdog) becomes verified artifacts in the results bucket, or a `rejected` or
//! `failed` document with its reason. See `design.md`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::checks::{self, CONTENT_LIMIT, Refusal};
use super::fetch::{self, FetchError};
use crate::db::{ArtifactRow, Document, State};
use crate::ids::JobId;
use crate::lifecycle::{By, FailureCause, Transition};
use crate::messages::{self, NormalizeInputs, NormalizeRequest};
use crate::nats::Names;
use crate::provider::protocol::{Callback, CallbackStatus, ResultFile, Role};
use crate::settings::Settings;
use crate::stages::StageId;
use crate::stages::ports::{Documents, Lookup, Objects, Ports, Publisher, Results};
use crate::worker::{self, Delivery, Outcome, Stage, Step, StepError};

pub const STAGE: StageId = StageId::Validate;

/// Deliveries after which bytes that keep mismatching reject the document.
const MISMATCH_ATTEMPTS: u64 = 3;

/// The largest normalize request that carries its inputs (and at most half the server's
/// `max_payload`); a larger one goes without them and normalize reads the results bucket.
const INLINE_LIMIT: usize = 512 * 1024;

pub struct Validate {
    db: Arc<dyn Documents>,
    store: Arc<dyn Objects>,
    publisher: Arc<dyn Publisher>,
    results: Arc<dyn Results>,
    names: Names,
    settings: Arc<Settings>,
}

impl Validate {
    pub fn new(settings: Arc<Settings>, ports: &Ports) -> Validate {
        Validate {
            db: ports.documents.clone(),
            store: ports.objects.clone(),
            publisher: ports.publisher.clone(),
            results: ports.results.clone(),
            names: Names::new(&settings.nats.prefix),
            settings,
        }
    }

    async fn validate(&self, callback: &Callback, provider: &str, delivery: &Delivery) -> Step {
        let attempt = delivery.attempt as u32;
        let id = callback.reference;
        let mut document = match self.db.lookup(id).await? {
            Lookup::Found(document) => *document,
            Lookup::Forgotten => {
                tracing::info!(document_id = %id, job_id = %callback.job_id, "callback for a forgotten document ignored");
                return Ok(Outcome::Done);
            }
            Lookup::Unknown => {
                return Err(StepError::fail(format!("callback {} names unknown document {id}", callback.event_id)));
            }
        };
        // A restarted document's earlier rounds may still call back: their jobs were
        // recorded under another round's submission id, and their news is stale.
        if document.provider_job_id.as_ref() != Some(&callback.job_id)
            && let Some(submission) = self.db.submission_of_job(id, &callback.job_id).await?
            && submission != document.round_submission_id().to_string()
        {
            tracing::info!(document_id = %id, job_id = %callback.job_id, round = document.submission_round, "callback of an earlier submission round ignored");
            return Ok(Outcome::Done);
        }
        // A fast provider can call back before transfer has recorded the job it answered.
        // The callback is signed by the document's provider and names the document, so
        // it records the job itself; transfer then finds the document submitted.
        if document.provider == provider && document.state == State::Received {
            let submission_id = document.round_submission_id().to_string();
            let round = document.submission_round;
            let job_id = &callback.job_id;
            let submitted = Transition::Submit { round, provider, submission_id: &submission_id, job_id };
            self.db.apply(id, submitted, By::new(STAGE, attempt)).await?;
            document = self.db.get(id).await?.ok_or_else(|| StepError::fail(format!("document {id} disappeared")))?;
        }
        if document.provider != provider || document.provider_job_id.as_ref() != Some(&callback.job_id) {
            return Err(StepError::fail(format!(
                "callback {} from {provider} names job {} of document {id}, which went to {} as job {}",
                callback.event_id,
                callback.job_id,
                document.provider,
                document.provider_job_id.as_ref().map_or("(none)", JobId::as_str)
            )));
        }
        match document.state {
            // `processed` (callback accepted) is written with `validated` when the results
            // pass at once, and on its own before any other outcome.
            State::Submitted | State::Processed => {}
            // Validated but the normalize request may not have been published: do it.
            State::Validated => return self.request_normalize(&document, None).await,
            // Already done, or ended: a duplicate callback changes nothing.
            _ => return Ok(Outcome::Done),
        }
        if callback.status == CallbackStatus::Failed {
            let error = callback
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_else(|| "no error given".into());
            let reason = format!("the provider reported failure: {error}");
            let failed = Transition::Failed { cause: FailureCause::ProviderFailedJob, reason: &reason };
            return self.end(&document, failed, attempt).await;
        }
        // Each way the check ends returns from here: recorded and passed on, ended
        // (rejected), or retried with the callback accepted.
        let retry = match self.check_and_store(&document, callback).await {
            Ok(checked) => {
                let validated = Transition::Validated {
                    from: document.state,
                    event_id: &callback.event_id,
                    artifacts: &checked.artifacts,
                };
                let recorded = self.db.apply(id, validated, By::new(STAGE, attempt));
                return if recorded.await? {
                    self.request_normalize(&document, Some(checked)).await
                } else {
                    // Another delivery moved the document meanwhile: the redelivery reads
                    // where it is. Publishing now could hand normalize a document not yet
                    // validated, and the request's id would then hide the real one.
                    Err(StepError::retry("the document changed while its results were checked"))
                };
            }
            Err(FetchError::Transient(reason)) => reason,
            Err(FetchError::Mismatch(reason))
                if delivery.attempt < MISMATCH_ATTEMPTS && !delivery.is_last_attempt() =>
            {
                reason
            }
            Err(FetchError::Mismatch(reason)) | Err(FetchError::Refused(Refusal(reason))) => {
                let rejected = Transition::Rejected { cause: FailureCause::ResultsInvalid, reason: &reason };
                return self.end(&document, rejected, attempt).await;
            }
        };
        // The callback is accepted, its results are not in yet.
        self.accept(&document, attempt).await?;
        Err(StepError::retry(retry))
    }

    /// Records the callback's acceptance (`submitted -> processed`) unless it is recorded.
    async fn accept(&self, document: &Document, attempt: u32) -> Result<(), crate::db::DbError> {
        if document.state == State::Submitted {
            self.db.apply(document.id, Transition::Processed, By::new(STAGE, attempt)).await?;
        }
        Ok(())
    }

    /// Ends the document (`failed` or `rejected`, from `processed`) after recording `processed`.
    async fn end(&self, document: &Document, ending: Transition<'_>, attempt: u32) -> Step {
        self.accept(document, attempt).await?;
        self.db.apply(document.id, ending, By::new(STAGE, attempt)).await?;
        Ok(Outcome::Done)
    }

    /// Checks every result and stores it under `{document}/{role}/{name}`. Returns the
    /// artifacts, by role and name, and the text of the roles whose content was checked.
    async fn check_and_store(&self, document: &Document, callback: &Callback) -> Result<Checked, FetchError> {
        checks::check_roles(document.kind, callback.results.iter().map(|r| r.role))?;
        let provider = &self.settings.providers[&document.provider];
        // Every URL is checked before anything is fetched.
        let urls = callback
            .results
            .iter()
            .map(|r| checks::check_result_url(&r.url, &provider.result_hosts))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(result) =
            callback.results.iter().find(|r| r.name.is_empty() || r.name.contains('/') || r.name.starts_with('.'))
        {
            return Err(Refusal(format!("result name {:?} is not a plain file name", result.name)).into());
        }
        for result in &callback.results {
            checks::check_result_file(result.role, &result.name, &result.content_type)?;
        }
        if let Some(result) = callback.results.iter().find(|r| r.role.has_checked_content() && r.size > CONTENT_LIMIT) {
            return Err(Refusal(format!(
                "{} is {} bytes, more than the {CONTENT_LIMIT} a {} result may have",
                result.role, result.size, result.role
            ))
            .into());
        }
        // The results are fetched side by side; the first refusal or failure stops them all.
        let fetches = callback.results.iter().zip(urls).map(|(result, url)| self.store_one(document, result, url));
        let mut checked = Checked::default();
        for (artifact, text) in futures_util::future::try_join_all(fetches).await? {
            if let Some(text) = text {
                checked.contents.insert(artifact.role.as_str().to_owned(), text);
            }
            checked.artifacts.push(artifact);
        }
        // By role name, as the database lists them.
        checked.artifacts.sort_by(|a, b| (a.role.as_str(), &a.name).cmp(&(b.role.as_str(), &b.name)));
        Ok(checked)
    }

    /// Fetches one result into `{document}/{role}/{name}` and checks its content; the text
    /// of a JSON or WebVTT role comes back with the artifact.
    async fn store_one(
        &self,
        document: &Document,
        result: &ResultFile,
        url: reqwest::Url,
    ) -> Result<(ArtifactRow, Option<String>), FetchError> {
        let bucket = &self.settings.s3.results_bucket;
        let role = result.role;
        let key = format!("{}/{role}/{}", document.id, result.name);
        let keep = role.has_checked_content();
        let body = fetch::fetch_into(&*self.results, &*self.store, url, result, bucket, &key, keep).await?;
        let text = match body {
            Some(bytes) => match check_content(role, bytes) {
                Ok(text) => Some(text),
                Err(refusal) => {
                    self.store.delete(bucket, &key).await.ok();
                    return Err(refusal.into());
                }
            },
            None => None,
        };
        let artifact = ArtifactRow {
            role,
            name: result.name.clone(),
            key,
            size: result.size as i64,
            sha256: result.sha256.to_ascii_lowercase(),
            content_type: result.content_type.clone(),
        };
        Ok((artifact, text))
    }

    /// Publishes the normalize request; with the checked inputs when they are small
    /// enough to travel in it.
    async fn request_normalize(&self, document: &Document, checked: Option<Checked>) -> Step {
        let inputs = checked.map(|checked| NormalizeInputs::of(document, checked.artifacts, checked.contents));
        let request = |inputs| NormalizeRequest { v: messages::VERSION, document_id: document.id, inputs };
        let mut body = serde_json::to_vec(&request(inputs)).expect("serializes");
        // Half the server's largest message leaves room for headers and for a server
        // configured below NATS's default 1 MiB.
        let limit = INLINE_LIMIT.min(self.publisher.max_payload() / 2);
        if body.len() > limit {
            body = serde_json::to_vec(&request(None)).expect("serializes");
        }
        let message_id = format!("normalize:{}", document.id);
        let subject = self.names.subject("normalize");
        self.publisher.publish(subject, &message_id, Some(document.id), None, body).await?;
        Ok(Outcome::Done)
    }
}

/// The results of a callback, checked and stored.
#[derive(Default)]
struct Checked {
    artifacts: Vec<ArtifactRow>,
    /// The text of the JSON and WebVTT roles, by role.
    contents: BTreeMap<String, String>,
}

/// The JSON and WebVTT roles must parse and match their schemas; their text.
fn check_content(role: Role, bytes: Bytes) -> Result<String, Refusal> {
    match role {
        Role::Findings => checks::parse_findings(&bytes).map(drop),
        Role::Summary => checks::parse_summary(&bytes).map(drop),
        _ => checks::parse_webvtt(&bytes).map(drop),
    }?;
    String::from_utf8(bytes.into()).map_err(|_| Refusal(format!("{role} is not UTF-8 text")))
}

impl Stage for Validate {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        let provider = delivery.subject.rsplit('.').next().unwrap_or_default().to_owned();
        if !self.settings.providers.contains_key(&provider) {
            return Outcome::fail(format!(
                "callback on {} names provider {provider:?}, which is not configured",
                delivery.subject
            ));
        }
        let callback: Callback = match serde_json::from_slice(&delivery.payload) {
            Ok(callback) => callback,
            Err(e) => return Outcome::fail(format!("callback is not valid JSON of the protocol: {e}")),
        };
        worker::settled(self.validate(&callback, &provider, delivery).await)
    }

    /// Fetching or storing the results ran out of attempts (unless the step named its cause).
    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str, cause: Option<FailureCause>) {
        let failed = Transition::Failed { cause: cause.unwrap_or(FailureCause::ResultsUnavailable), reason };
        let Ok(callback) = serde_json::from_slice::<Callback>(&delivery.payload) else { return };
        let id = callback.reference;
        // Only a document this callback belongs to is failed by it.
        if let Ok(Some(document)) = self.db.get(id).await
            && document.provider_job_id.as_ref() == Some(&callback.job_id)
            && let Err(error) = self.db.apply(id, failed, By::new(STAGE, delivery.attempt as u32)).await
        {
            tracing::error!(document_id = %id, error = %error, "cannot mark the document failed");
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
