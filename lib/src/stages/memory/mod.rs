//! In-memory ports for the stages' unit tests (test builds only): a database that keeps
//! the guarded writes' rules, an object store, providers and results that answer what a
//! test scripts, and a publisher that keeps what was published. Each can be told to fail
//! its next calls, transiently or for good.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;

mod db;

pub use db::{MemoryDb, db_down};

use super::StageId;
use super::ports::{Fetched, Objects, Ports, Provider, Publisher, Results};
use crate::ids::{DocumentId, JobId};
use crate::lifecycle::{By, Transition};
use crate::messages::PublishError;
use crate::nats::Names;
use crate::provider::client::{SubmitBody, SubmitError};
use crate::provider::protocol::{JobAccepted, JobMetadata, JobState, JobStatus};
use crate::settings::Settings;
use crate::storage::{ByteStream, StorageError};
use crate::worker::Delivery;

#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<HashMap<(String, String), Bytes>>,
    failures: Mutex<VecDeque<StorageError>>,
}

impl MemoryStore {
    pub fn put(&self, bucket: &str, key: &str, bytes: impl Into<Bytes>) {
        self.objects.lock().unwrap().insert((bucket.to_owned(), key.to_owned()), bytes.into());
    }
    pub fn get(&self, bucket: &str, key: &str) -> Option<Bytes> {
        self.objects.lock().unwrap().get(&(bucket.to_owned(), key.to_owned())).cloned()
    }
    /// The next call fails with `error`.
    pub fn fail_next(&self, error: StorageError) {
        self.failures.lock().unwrap().push_back(error);
    }
    fn check(&self) -> Result<(), StorageError> {
        self.failures.lock().unwrap().pop_front().map_or(Ok(()), Err)
    }
    fn read(&self, bucket: &str, key: &str) -> Result<Bytes, StorageError> {
        self.get(bucket, key).ok_or_else(|| StorageError::NotFound { bucket: bucket.to_owned(), key: key.to_owned() })
    }
}

/// A transient store error (unreachable).
pub fn store_down() -> StorageError {
    StorageError::Transient { endpoint: "http://store.test".into(), detail: "connection refused".into() }
}

#[async_trait]
impl Objects for MemoryStore {
    async fn open(&self, bucket: &str, key: &str, _: Option<&str>) -> Result<(ByteStream, u64), StorageError> {
        self.check()?;
        let bytes = self.read(bucket, key)?;
        let size = bytes.len() as u64;
        Ok((Box::pin(futures_util::stream::iter([Ok(bytes)])), size))
    }
    async fn read_head(&self, bucket: &str, key: &str, _: Option<&str>, length: u64) -> Result<Bytes, StorageError> {
        self.check()?;
        let bytes = self.read(bucket, key)?;
        Ok(bytes.slice(..bytes.len().min(usize::try_from(length).unwrap_or(usize::MAX))))
    }
    async fn presign_get(&self, bucket: &str, key: &str, ttl: Duration) -> Result<String, StorageError> {
        self.check()?;
        Ok(format!("http://store.test/{bucket}/{key}?expires={}", ttl.as_secs()))
    }
    async fn put_stream(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        _size: u64,
        _content_type: &str,
    ) -> Result<(), StorageError> {
        self.check()?;
        let chunks: Vec<Bytes> = body.try_collect().await.map_err(|e| StorageError::Transient {
            endpoint: "http://store.test".into(),
            detail: format!("reading the body: {e}"),
        })?;
        self.put(bucket, key, chunks.concat());
        Ok(())
    }
    async fn read_small(&self, bucket: &str, key: &str, _limit: u64) -> Result<Bytes, StorageError> {
        self.check()?;
        self.read(bucket, key)
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        self.check()?;
        self.objects.lock().unwrap().remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }
}

/// A provider that accepts every submission (the same idempotency key, the same job, as
/// the protocol asks) unless a test scripted another answer.
#[derive(Default)]
pub struct MemoryProvider {
    /// Every submission: its idempotency key, metadata and the bytes uploaded (`None`
    /// when the provider was handed a URL instead of the body).
    pub submitted: Mutex<Vec<(String, JobMetadata, Option<Bytes>)>>,
    answers: Mutex<VecDeque<SubmitError>>,
    statuses: Mutex<VecDeque<Result<JobStatus, SubmitError>>>,
    /// While true, submissions are recorded and then wait before answering.
    paused: tokio::sync::watch::Sender<bool>,
}

impl MemoryProvider {
    /// The next submission is answered with `error`.
    pub fn refuse_next(&self, error: SubmitError) {
        self.answers.lock().unwrap().push_back(error);
    }
    /// The next status request is answered with `status`.
    pub fn status_next(&self, status: Result<JobStatus, SubmitError>) {
        self.statuses.lock().unwrap().push_back(status);
    }
    /// Submissions from now on are recorded, then wait for [`MemoryProvider::resume`]
    /// before answering: a submission in flight, holding its slot.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
    pub fn submissions(&self) -> usize {
        self.submitted.lock().unwrap().len()
    }
    /// The job the provider makes for `key`.
    pub fn job_for(key: &str) -> JobId {
        JobId::from(format!("job-{}", &key[..8]))
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    async fn submit(&self, key: &str, meta: &JobMetadata, body: SubmitBody) -> Result<JobAccepted, SubmitError> {
        let bytes = match body {
            SubmitBody::Upload { stream, .. } => {
                let chunks: Vec<Bytes> = stream
                    .try_collect()
                    .await
                    .map_err(|e| SubmitError::Transient { detail: format!("reading the upload: {e}") })?;
                Some(Bytes::from(chunks.concat()))
            }
            SubmitBody::Url => None,
        };
        self.submitted.lock().unwrap().push((key.to_owned(), meta.clone(), bytes));
        // The sender lives as long as `self`: the wait ends only on `resume`.
        let _ = self.paused.subscribe().wait_for(|paused| !paused).await;
        if let Some(error) = self.answers.lock().unwrap().pop_front() {
            return Err(error);
        }
        Ok(JobAccepted { job_id: MemoryProvider::job_for(key) })
    }
    async fn job_status(&self, job_id: &JobId) -> Result<JobStatus, SubmitError> {
        self.statuses.lock().unwrap().pop_front().unwrap_or_else(|| {
            Ok(JobStatus {
                job_id: job_id.to_owned(),
                status: JobState::Processing,
                event_id: None,
                reference: None,
                completed_at: None,
                results: vec![],
                error: None,
            })
        })
    }
}

/// Results served by URL; any other URL gets no answer.
#[derive(Default)]
pub struct MemoryResults {
    served: Mutex<HashMap<String, (reqwest::StatusCode, Bytes)>>,
}

impl MemoryResults {
    pub fn serve(&self, url: &str, status: u16, body: impl Into<Bytes>) {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        self.served.lock().unwrap().insert(url.to_owned(), (status, body.into()));
    }
}

#[async_trait]
impl Results for MemoryResults {
    async fn get(&self, url: &reqwest::Url) -> Result<Fetched, String> {
        let (status, body) =
            self.served.lock().unwrap().get(url.as_str()).cloned().ok_or_else(|| "connection refused".to_owned())?;
        Ok(Fetched { status, body: Box::pin(futures_util::stream::iter([Ok(body)])) })
    }
}

/// One message published.
#[derive(Debug, Clone)]
pub struct Published {
    pub subject: String,
    pub message_id: String,
    pub document_id: Option<DocumentId>,
    pub body: Vec<u8>,
}

impl Published {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Keeps what is published, once per message id (as the stream's duplicate window).
#[derive(Default)]
pub struct MemoryPublisher {
    published: Mutex<Vec<Published>>,
    failures: Mutex<usize>,
    max_payload: Mutex<Option<usize>>,
}

impl MemoryPublisher {
    pub fn published(&self) -> Vec<Published> {
        self.published.lock().unwrap().clone()
    }
    /// The messages published on `subject`.
    pub fn on(&self, subject: &str) -> Vec<Published> {
        self.published().into_iter().filter(|p| p.subject == subject).collect()
    }
    /// The next `n` publishes get no answer.
    pub fn fail_next(&self, n: usize) {
        *self.failures.lock().unwrap() += n;
    }
    pub fn set_max_payload(&self, bytes: usize) {
        *self.max_payload.lock().unwrap() = Some(bytes);
    }
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish(
        &self,
        subject: String,
        message_id: &str,
        document_id: Option<DocumentId>,
        _traceparent: Option<&str>,
        body: Vec<u8>,
    ) -> Result<bool, PublishError> {
        {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(PublishError { subject, detail: "no responders".into(), no_stream: true });
            }
        }
        let mut published = self.published.lock().unwrap();
        if published.iter().any(|p| p.message_id == message_id) {
            return Ok(true);
        }
        published.push(Published { subject, message_id: message_id.to_owned(), document_id, body });
        Ok(false)
    }
    fn max_payload(&self) -> usize {
        self.max_payload.lock().unwrap().unwrap_or(1 << 20)
    }
}

/// A stage's world in memory: settings with one provider `sim` whose results are served
/// from `results.test`, and the in-memory ports.
pub struct World {
    pub settings: Arc<Settings>,
    pub names: Names,
    pub db: Arc<MemoryDb>,
    pub store: Arc<MemoryStore>,
    pub provider: Arc<MemoryProvider>,
    pub results: Arc<MemoryResults>,
    pub publisher: Arc<MemoryPublisher>,
}

impl World {
    pub fn new(extra: &[(&str, &str)]) -> World {
        let mut env: Vec<(&str, &str)> = vec![("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS", "results.test")];
        env.extend_from_slice(extra);
        let settings = crate::testkit::settings("nats://127.0.0.1:4222", "docflow", &env);
        World {
            settings: Arc::new(settings),
            names: Names::new("docflow"),
            db: Arc::default(),
            store: Arc::default(),
            provider: Arc::default(),
            results: Arc::default(),
            publisher: Arc::default(),
        }
    }

    /// A lesson plan (`teacher-42/plan.txt`, 19 bytes) recorded by transfer, and submitted
    /// to `sim` as `job` in round 0 when one is given.
    pub async fn document(&self, job: Option<&str>) -> DocumentId {
        use super::ports::Documents;
        let id = DocumentId(uuid::Uuid::new_v4());
        let new = crate::db::NewDocument {
            id,
            kind: crate::ids::Kind::Document,
            uploader_id: "teacher-42".into(),
            bucket: "uploads".into(),
            key: "teacher-42/plan.txt".into(),
            version_id: None,
            etag: None,
            size: 19,
            content_type: "text/plain".into(),
            provider: "sim".into(),
        };
        self.db.record_received(&new, StageId::Transfer, 1, Some(1)).await.unwrap();
        if let Some(job) = job {
            let submission = id.submission_id_for_round("sim", 0).to_string();
            self.db
                .apply(
                    id,
                    Transition::Submit {
                        round: 0,
                        provider: "sim",
                        submission_id: &submission,
                        job_id: &JobId::from(job),
                    },
                    By::new(StageId::Transfer, 1),
                )
                .await
                .unwrap();
        }
        id
    }

    pub fn ports(&self) -> Ports {
        Ports {
            documents: self.db.clone(),
            objects: self.store.clone(),
            publisher: self.publisher.clone(),
            providers: BTreeMap::from([("sim".to_owned(), self.provider.clone() as Arc<dyn Provider>)]),
            results: self.results.clone(),
        }
    }

    /// A delivery of `body` on `{prefix}.{subject}`: attempt `attempt` of the message at
    /// stream sequence `sequence`, with the stage's `max_deliver`.
    pub fn delivery(&self, stage: StageId, subject: &str, body: &[u8], attempt: u64, sequence: u64) -> Delivery {
        Delivery {
            subject: self.names.subject(subject),
            headers: async_nats::HeaderMap::new(),
            payload: Bytes::copy_from_slice(body),
            attempt,
            delivered: attempt,
            max_deliver: stage.settings(&self.settings.stages).max_deliver,
            stream_sequence: sequence,
        }
    }
}
