//! The object store, through the `minio` crate as a generic S3 client (MinIO, Garage,
//! RustFS, SeaweedFS, s3s all speak it). Bodies are streams: an object is never held
//! whole in memory. Every call has a timeout: the minio client sets none of its own.
//!
//! Two addresses: docflow itself talks to `s3.endpoint`; what a browser or an evaluator's
//! script is handed (upload forms, the API's artifact links) is signed for
//! `s3.public_endpoint`. A SigV4 signature covers the `host` header, so a URL signed for one
//! host and rewritten to another is refused by the store: each is signed for the host it
//! will be sent to.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use minio::s3::MinioClient;
use minio::s3::client::MinioClientBuilder;
use minio::s3::creds::StaticProvider;
use minio::s3::error::Error as MinioError;
use minio::s3::http::BaseUrl;
use minio::s3::types::S3Api;
use secrecy::ExposeSecret;

use crate::settings::S3Settings;

pub mod active;
mod classify;
#[cfg(all(test, feature = "dev"))]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
#[cfg(all(test, feature = "dev"))]
mod tests_head;
#[cfg(all(test, feature = "dev"))]
mod tests_public;
mod upload_form;
pub use upload_form::UploadForm;

/// The part size of multipart uploads: one part is buffered at a time.
const PART_SIZE: u64 = 16 * 1024 * 1024;

/// An object's bytes as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// An object store error, by what the caller does next (see `classify.rs` for which
/// answer is which).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store answered that the object (or its bucket) does not exist: retrying will
    /// not help.
    #[error("object {bucket}/{key} does not exist (it may have been deleted after the upload)")]
    NotFound { bucket: String, key: String },
    /// The store could not be reached, did not answer in time, or answered an error that
    /// may pass (5xx, `SlowDown`): retry with the stage's backoff.
    #[error("object store at {endpoint}: {detail}")]
    Transient { endpoint: String, detail: String },
    /// The request can never succeed as it is: access denied, refused credentials, a name
    /// the store or the client rejects.
    #[error("object store at {endpoint}: {detail}")]
    Permanent { endpoint: String, detail: String },
}

impl StorageError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Transient { .. })
    }
}

impl crate::worker::Transience for StorageError {
    fn is_transient(&self) -> bool {
        StorageError::is_transient(self)
    }
}

#[derive(Clone)]
pub struct Store {
    client: MinioClient,
    endpoint: String,
    /// Signs for `s3.public_endpoint`; presigns only, never sends a request.
    public: MinioClient,
    public_endpoint: String,
    /// `s3.region`: presigned form URLs are built for it.
    region: String,
    timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("endpoint", &self.endpoint)
            .field("public_endpoint", &self.public_endpoint)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn new(settings: &S3Settings) -> Result<Store, StorageError> {
        let public_endpoint = settings.public_endpoint();
        Ok(Store {
            client: client(settings, "s3.endpoint", &settings.endpoint)?,
            endpoint: settings.endpoint.clone(),
            public: client(settings, "s3.public_endpoint", public_endpoint)?,
            public_endpoint: public_endpoint.to_owned(),
            region: settings.region.clone(),
            timeout: settings.request_timeout,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The address browsers reach the store at (`s3.public_endpoint`, else `s3.endpoint`).
    pub fn public_endpoint(&self) -> &str {
        &self.public_endpoint
    }

    /// Creates the bucket when missing; true when it was created.
    pub async fn ensure_bucket(&self, bucket: &str) -> Result<bool, StorageError> {
        let exists =
            self.call(bucket, "", async { self.client.bucket_exists(bucket)?.build().send().await }).await?.exists();
        if exists {
            return Ok(false);
        }
        self.call(bucket, "", async { self.client.create_bucket(bucket)?.build().send().await }).await?;
        Ok(true)
    }

    /// Opens an object for streaming: its bytes and its size.
    pub async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(ByteStream, u64), StorageError> {
        let response = self
            .call(bucket, key, async {
                self.client.get_object(bucket, key)?.version_id(version_id.map(str::to_owned)).build().send().await
            })
            .await?;
        response.into_boxed_stream().map_err(|e| self.classify(bucket, key, e))
    }

    /// The first `length` bytes of an object (all of a smaller one, none of an empty one):
    /// a range request whose answer is read to its end, so that its connection serves the
    /// next request (an answer dropped half read closes it).
    pub async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        length: u64,
    ) -> Result<Bytes, StorageError> {
        use futures_util::StreamExt;
        let ranged = self
            .call(bucket, key, async {
                self.client
                    .get_object(bucket, key)?
                    .version_id(version_id.map(str::to_owned))
                    .length(length)
                    .build()
                    .send()
                    .await
            })
            .await;
        let mut stream = match ranged {
            Ok(response) => response.into_boxed_stream().map_err(|e| self.classify(bucket, key, e))?.0,
            // An empty object has no byte 0: stores refuse the range (`InvalidRange`). A
            // plain GET reads its nothing (or meets the same refusal as the range did).
            Err(StorageError::Permanent { .. }) => self.open(bucket, key, version_id).await?.0,
            Err(error) => return Err(error),
        };
        let limit = usize::try_from(length).unwrap_or(usize::MAX);
        let mut head = Vec::with_capacity(limit.min(64 * 1024));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| StorageError::Transient {
                endpoint: self.endpoint.clone(),
                detail: format!("reading {bucket}/{key}: {e}"),
            })?;
            head.extend_from_slice(&chunk[..chunk.len().min(limit - head.len())]);
            if head.len() == limit {
                break;
            }
        }
        Ok(head.into())
    }

    /// Opens `length` bytes of an object from byte `offset` (a range request to the
    /// store): the bytes as they arrive and how many the store sends.
    pub async fn open_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        length: u64,
    ) -> Result<(ByteStream, u64), StorageError> {
        let response = self
            .call(bucket, key, async {
                self.client.get_object(bucket, key)?.offset(offset).length(length).build().send().await
            })
            .await?;
        response.into_boxed_stream().map_err(|e| self.classify(bucket, key, e))
    }

    /// A presigned GET URL on `s3.endpoint`, valid for `ttl` (1 s to 7 days): for docflow's
    /// own side (the provider's `url` delivery), never for a browser.
    pub async fn presign_get(&self, bucket: &str, key: &str, ttl: Duration) -> Result<String, StorageError> {
        self.presign(&self.client, bucket, key, ttl).await
    }

    /// A presigned GET URL signed for `s3.public_endpoint` (the evaluator API's artifact
    /// links), valid for `ttl` (1 s to 7 days).
    pub async fn presign_public_get(&self, bucket: &str, key: &str, ttl: Duration) -> Result<String, StorageError> {
        self.presign(&self.public, bucket, key, ttl).await
    }

    async fn presign(
        &self,
        client: &MinioClient,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        let seconds = u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX).clamp(1, 604_800);
        let response = self
            .call(bucket, key, async {
                client
                    .get_presigned_object_url(bucket, key, http::Method::GET)?
                    .expiry_seconds(seconds)
                    .build()
                    .send()
                    .await
            })
            .await?;
        Ok(response.url)
    }

    /// Stores a stream of `size` bytes. Large bodies go up in 16 MiB parts, so at most
    /// one part is held in memory.
    pub async fn put_stream(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        size: u64,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let content = minio::s3::builders::ObjectContent::new_from_stream(body, Some(size));
        self.call(bucket, key, async {
            self.client
                .put_object_content(bucket, key, content)?
                .content_type(Some(content_type.to_owned()))
                .part_size(Some(PART_SIZE))
                .build()
                .send()
                .await
        })
        .await?;
        Ok(())
    }

    /// Reads a small object whole, refusing one larger than `limit` bytes.
    pub async fn read_small(&self, bucket: &str, key: &str, limit: u64) -> Result<Bytes, StorageError> {
        use futures_util::TryStreamExt;
        let (stream, size) = self.open(bucket, key, None).await?;
        if size > limit {
            return Err(StorageError::Permanent {
                endpoint: self.endpoint.clone(),
                detail: format!("{bucket}/{key} is {size} bytes, more than the {limit} expected"),
            });
        }
        let chunks: Vec<Bytes> = stream.try_collect().await.map_err(|e| StorageError::Transient {
            endpoint: self.endpoint.clone(),
            detail: format!("reading {bucket}/{key}: {e}"),
        })?;
        Ok(chunks.concat().into())
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        match self.call(bucket, key, async { self.client.delete_object(bucket, key)?.build().send().await }).await {
            Ok(_) | Err(StorageError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The keys under `prefix`, every page of the listing (forgetting a document lists
    /// its results this way: they are stored under `{document_id}/`).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        use futures_util::StreamExt;
        use minio::s3::types::ToStream;
        self.call(bucket, prefix, async {
            // Keys as they are: the client's decoding of `encoding-type=url` answers
            // mangles them with some stores (s3s-fs).
            let listing = self
                .client
                .list_objects(bucket)?
                .prefix(Some(prefix.to_owned()))
                .recursive(true)
                .disable_url_encoding(true)
                .build();
            let mut pages = listing.to_stream().await;
            let mut keys = Vec::new();
            while let Some(page) = pages.next().await {
                keys.extend(page?.contents.into_iter().map(|entry| entry.name));
            }
            Ok(keys)
        })
        .await
    }

    /// Runs one S3 call under the store's timeout and classifies its error.
    async fn call<T>(
        &self,
        bucket: &str,
        key: &str,
        request: impl Future<Output = Result<T, MinioError>>,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.classify(bucket, key, error)),
            Err(_) => Err(StorageError::Transient {
                endpoint: self.endpoint.clone(),
                detail: format!("no answer within {:?} for {bucket}/{key}", self.timeout),
            }),
        }
    }

    fn classify(&self, bucket: &str, key: &str, error: MinioError) -> StorageError {
        classify::classify(&crate::redact::url(&self.endpoint), bucket, key, error)
    }
}

/// A client of the store at `endpoint` (the setting `name`), with the settings' region
/// and keys; no region lookup, so presigning sends nothing.
fn client(settings: &S3Settings, name: &str, endpoint: &str) -> Result<MinioClient, StorageError> {
    let permanent = |detail: String| StorageError::Permanent { endpoint: endpoint.to_owned(), detail };
    let mut base: BaseUrl = endpoint.parse().map_err(|e| permanent(format!("{name} is not a usable URL: {e}")))?;
    base.region = settings.region.clone().try_into().map_err(|e| permanent(format!("s3.region: {e}")))?;
    let provider = StaticProvider::new(&settings.access_key, settings.secret_key.expose_secret(), None);
    MinioClientBuilder::new(base)
        .provider(Some(provider))
        .skip_region_lookup(true)
        .build()
        .map_err(|e| permanent(format!("cannot build the S3 client for {name}: {e}")))
}
