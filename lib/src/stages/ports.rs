//! The narrow interfaces through which the stages reach the outside: the database, the
//! object store, the providers (their API, and the results they serve) and outgoing
//! publishes. The wiring (`crate::app`) hands every stage the real ones, which wrap
//! [`Db`], [`Store`], [`ProviderClient`], a `reqwest::Client` and a JetStream context;
//! the stages' unit tests hand them the in-memory ones of `memory.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_trait::async_trait;
use bytes::Bytes;

use super::StageId;
use crate::db::{ArtifactRow, Db, DbError, Document, NewDocument};
use crate::ids::{DocumentId, JobId};
use crate::lifecycle::{By, Transition};
use crate::messages::{self, PublishError};
use crate::provider::client::{ProviderClient, SubmitBody, SubmitError};
use crate::provider::protocol::{JobAccepted, JobMetadata, JobStatus};
use crate::settings::Settings;
use crate::storage::{ByteStream, StorageError, Store};

/// The database, as far as the stages write and read documents. Every write is guarded
/// (see [`Transition`]): `Ok(false)` means the document was not where the write expected it.
#[async_trait]
pub trait Documents: Send + Sync {
    async fn get(&self, id: DocumentId) -> Result<Option<Document>, DbError>;
    /// [`Db::record_received`]: the row (inserted, or as it was) and whether it was inserted.
    async fn record_received(
        &self,
        new: &NewDocument,
        stage: StageId,
        attempt: u32,
        origin: Option<u64>,
    ) -> Result<(Document, bool), DbError>;
    /// [`Db::apply`]: whether the transition moved the document.
    async fn apply(&self, id: DocumentId, transition: Transition<'_>, by: By) -> Result<bool, DbError>;
    /// [`Db::submission_of_job`].
    async fn submission_of_job(&self, id: DocumentId, job_id: &JobId) -> Result<Option<String>, DbError>;
    /// [`Db::artifacts`].
    async fn artifacts(&self, id: DocumentId) -> Result<Vec<ArtifactRow>, DbError>;
    /// True when the document was forgotten (`crate::forget`): nothing may record it again.
    async fn forgotten(&self, id: DocumentId) -> Result<bool, DbError> {
        let _ = id;
        Ok(false)
    }
    /// The document as a late message must see it: forgotten first, whether or not its
    /// rows are gone yet. The database answers in one read.
    async fn lookup(&self, id: DocumentId) -> Result<Lookup, DbError> {
        if self.forgotten(id).await? {
            return Ok(Lookup::Forgotten);
        }
        Ok(self.get(id).await?.map_or(Lookup::Unknown, |document| Lookup::Found(Box::new(document))))
    }
}

/// [`Documents::lookup`]'s answer.
#[derive(Debug)]
pub enum Lookup {
    /// It has a tombstone (`crate::forget`): nothing may record it again.
    Forgotten,
    /// No such document.
    Unknown,
    Found(Box<Document>),
}

/// The object store: the uploads bucket read, the results bucket written.
#[async_trait]
pub trait Objects: Send + Sync {
    async fn open(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<(ByteStream, u64), StorageError>;
    /// The first `length` bytes of an object (all of a smaller one, none of an empty one).
    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        length: u64,
    ) -> Result<Bytes, StorageError>;
    async fn presign_get(&self, bucket: &str, key: &str, ttl: Duration) -> Result<String, StorageError>;
    async fn put_stream(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        size: u64,
        content_type: &str,
    ) -> Result<(), StorageError>;
    async fn read_small(&self, bucket: &str, key: &str, limit: u64) -> Result<Bytes, StorageError>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError>;
}

/// One provider's API (`docs/provider-protocol.md`).
#[async_trait]
pub trait Provider: Send + Sync {
    async fn submit(
        &self,
        idempotency_key: &str,
        meta: &JobMetadata,
        body: SubmitBody,
    ) -> Result<JobAccepted, SubmitError>;
    async fn job_status(&self, job_id: &JobId) -> Result<JobStatus, SubmitError>;
}

/// An answer to a result's GET: its status and, for a success, its body.
pub struct Fetched {
    pub status: reqwest::StatusCode,
    pub body: ByteStream,
}

/// Where the results of a callback are fetched from (the URLs it names).
#[async_trait]
pub trait Results: Send + Sync {
    /// `Err` with the reason when no answer came (network, timeout).
    async fn get(&self, url: &reqwest::Url) -> Result<Fetched, String>;
}

/// Outgoing messages, published durably (the stream's ack awaited) with `Nats-Msg-Id`.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// See [`messages::publish`]: true when the stream recognised `message_id` as a duplicate.
    async fn publish(
        &self,
        subject: String,
        message_id: &str,
        document_id: Option<DocumentId>,
        traceparent: Option<&str>,
        body: Vec<u8>,
    ) -> Result<bool, PublishError>;
    /// The largest message the server accepts, headers included.
    fn max_payload(&self) -> usize;
}

/// Everything a stage may reach, as the wiring provides it.
#[derive(Clone)]
pub struct Ports {
    pub documents: Arc<dyn Documents>,
    pub objects: Arc<dyn Objects>,
    pub publisher: Arc<dyn Publisher>,
    /// By provider name: every configured provider.
    pub providers: BTreeMap<String, Arc<dyn Provider>>,
    pub results: Arc<dyn Results>,
}

impl Ports {
    /// The real ones: `db`, `store`, `js` and, with `providers`, a client per configured
    /// provider (only the transfer stage and the watchdog call providers).
    pub fn connect(
        settings: &Settings,
        db: Db,
        store: Store,
        js: jetstream::Context,
        providers: bool,
    ) -> Result<Ports, String> {
        let providers = settings
            .providers
            .iter()
            .filter(|_| providers)
            .map(|(name, p)| {
                ProviderClient::new(name, p)
                    .map(|c| (name.clone(), Arc::new(c) as Arc<dyn Provider>))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(Ports {
            documents: Arc::new(db),
            objects: Arc::new(store),
            publisher: Arc::new(js),
            providers,
            results: Arc::new(HttpResults::new(settings.s3.request_timeout.max(Duration::from_secs(60)))),
        })
    }
}

#[async_trait]
impl Documents for Db {
    async fn get(&self, id: DocumentId) -> Result<Option<Document>, DbError> {
        Db::get(self, id).await
    }
    async fn record_received(
        &self,
        new: &NewDocument,
        stage: StageId,
        attempt: u32,
        origin: Option<u64>,
    ) -> Result<(Document, bool), DbError> {
        Db::record_received(self, new, stage, attempt, origin).await
    }
    async fn apply(&self, id: DocumentId, transition: Transition<'_>, by: By) -> Result<bool, DbError> {
        Db::apply(self, id, transition, by).await
    }
    async fn submission_of_job(&self, id: DocumentId, job_id: &JobId) -> Result<Option<String>, DbError> {
        Db::submission_of_job(self, id, job_id).await
    }
    async fn artifacts(&self, id: DocumentId) -> Result<Vec<ArtifactRow>, DbError> {
        Db::artifacts(self, id).await
    }
    async fn forgotten(&self, id: DocumentId) -> Result<bool, DbError> {
        crate::forget::records::is_forgotten(self, id).await
    }
    async fn lookup(&self, id: DocumentId) -> Result<Lookup, DbError> {
        crate::forget::records::lookup(self, id).await
    }
}

#[async_trait]
impl Objects for Store {
    async fn open(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<(ByteStream, u64), StorageError> {
        Store::open(self, bucket, key, version_id).await
    }
    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        length: u64,
    ) -> Result<Bytes, StorageError> {
        Store::read_head(self, bucket, key, version_id, length).await
    }
    async fn presign_get(&self, bucket: &str, key: &str, ttl: Duration) -> Result<String, StorageError> {
        Store::presign_get(self, bucket, key, ttl).await
    }
    async fn put_stream(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        size: u64,
        content_type: &str,
    ) -> Result<(), StorageError> {
        Store::put_stream(self, bucket, key, body, size, content_type).await
    }
    async fn read_small(&self, bucket: &str, key: &str, limit: u64) -> Result<Bytes, StorageError> {
        Store::read_small(self, bucket, key, limit).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        Store::delete(self, bucket, key).await
    }
}

#[async_trait]
impl Provider for ProviderClient {
    async fn submit(
        &self,
        idempotency_key: &str,
        meta: &JobMetadata,
        body: SubmitBody,
    ) -> Result<JobAccepted, SubmitError> {
        ProviderClient::submit(self, idempotency_key, meta, body).await
    }
    async fn job_status(&self, job_id: &JobId) -> Result<JobStatus, SubmitError> {
        ProviderClient::job_status(self, job_id).await
    }
}

/// Results over HTTP.
struct HttpResults(reqwest::Client);

impl HttpResults {
    /// No redirects (a redirect could lead anywhere, past the host allowlist), bounded time.
    fn new(timeout: Duration) -> HttpResults {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .build()
            .expect("a reqwest client builds");
        HttpResults(client)
    }
}

#[async_trait]
impl Results for HttpResults {
    async fn get(&self, url: &reqwest::Url) -> Result<Fetched, String> {
        use futures_util::TryStreamExt;
        let response = self.0.get(url.clone()).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        Ok(Fetched { status, body: Box::pin(response.bytes_stream().map_err(std::io::Error::other)) })
    }
}

#[async_trait]
impl Publisher for jetstream::Context {
    async fn publish(
        &self,
        subject: String,
        message_id: &str,
        document_id: Option<DocumentId>,
        traceparent: Option<&str>,
        body: Vec<u8>,
    ) -> Result<bool, PublishError> {
        messages::publish(self, subject, message_id, document_id, traceparent, body).await
    }
    fn max_payload(&self) -> usize {
        self.client().server_info().max_payload
    }
}
