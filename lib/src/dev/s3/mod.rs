//! A built-in S3 endpoint that announces new objects as MinIO does: `s3s-fs` stores the
//! objects in a directory, and [`NotifyingStore`] wraps it so that every completed
//! `PutObject`, `PostObject`, `CopyObject` and `CompleteMultipartUpload` publishes the
//! event MinIO's NATS JetStream target would send, on `{prefix}.uploads.minio`.
//!
//! What must stay true:
//! - the event is published after the store succeeded, and the client hears of success
//!   only once JetStream acked the event. When the publish fails the client gets a 503
//!   and retries the upload; a retried upload of the same bytes has the same ETag and so
//!   the same document id, and the pipeline takes the duplicate as one document.
//! - the body is exactly MinIO's (`events::minio::created_event`): no headers, no
//!   `Nats-Msg-Id`, the object name escaped as Go's `url.QueryEscape` escapes it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::{ETag, HeadObjectInput, HeadObjectOutput};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::events::minio::{CreatedObject, created_event};

mod delegate;
#[cfg(test)]
mod tests;

/// How long open connections get to finish once the endpoint is asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum S3EndpointError {
    #[error("cannot use {path} as the object store directory: {cause}")]
    Root { path: String, cause: io::Error },
}

/// Where the store announces new objects.
#[derive(Clone)]
pub struct Notifier {
    js: jetstream::Context,
    /// `{prefix}.uploads.minio`.
    subject: String,
    /// The endpoint's own URL, sent as `x-minio-origin-endpoint` as MinIO sends its own.
    origin: String,
    /// The buckets whose objects are announced (MinIO's `mc event add ALIAS/BUCKET`);
    /// empty: every bucket. The results bucket must not be announced: its objects would
    /// go through the pipeline again.
    buckets: Vec<String>,
}

impl Notifier {
    pub fn new(js: jetstream::Context, subject: impl Into<String>, origin: impl Into<String>) -> Notifier {
        Notifier { js, subject: subject.into(), origin: origin.into(), buckets: Vec::new() }
    }

    /// Announces the objects of these buckets only.
    pub fn for_buckets(mut self, buckets: impl IntoIterator<Item = impl Into<String>>) -> Notifier {
        self.buckets = buckets.into_iter().map(Into::into).collect();
        self
    }

    fn announces(&self, bucket: &str) -> bool {
        self.buckets.is_empty() || self.buckets.iter().any(|b| b == bucket)
    }
}

/// `s3s_fs::FileSystem`, announcing every object it creates.
pub struct NotifyingStore {
    inner: s3s_fs::FileSystem,
    notifier: Notifier,
    root: std::path::PathBuf,
    /// Made private (files 0600, directories 0700) after each object it creates.
    private: bool,
}

impl std::fmt::Debug for NotifyingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyingStore").field("subject", &self.notifier.subject).finish_non_exhaustive()
    }
}

impl NotifyingStore {
    /// Stores buckets as directories under `root` (created when missing).
    pub fn new(root: &Path, notifier: Notifier) -> Result<NotifyingStore, S3EndpointError> {
        let fail = |cause: io::Error| S3EndpointError::Root { path: root.display().to_string(), cause };
        std::fs::create_dir_all(root).map_err(fail)?;
        let inner = s3s_fs::FileSystem::new(root).map_err(|e| fail(io::Error::other(format!("{e:?}"))))?;
        let root = root.to_path_buf();
        Ok(NotifyingStore { inner, notifier, root, private: false })
    }

    /// Every object stored is readable by this user only (`docflow dev`), as is the
    /// store's bookkeeping beside it.
    pub fn private(mut self) -> NotifyingStore {
        self.private = true;
        self
    }

    /// Publishes the event of an object just created and waits for JetStream's ack.
    async fn announce(
        &self,
        event_name: &str,
        bucket: &str,
        key: &str,
        request: &RequestFacts,
        etag: Option<&ETag>,
    ) -> S3Result<()> {
        if self.private
            && let Err(error) = crate::dev::private::fix_path(&self.root, &self.root.join(bucket).join(key))
        {
            tracing::warn!(%error, root = %self.root.display(), "cannot make the stored object private");
        }
        if !self.notifier.announces(bucket) {
            return Ok(());
        }
        let head = self.head(bucket, key).await?;
        let etag = etag.or(head.e_tag.as_ref()).map(|e| e.value().to_owned()).unwrap_or_default();
        let content_type = head.content_type.clone().unwrap_or_else(|| "application/octet-stream".to_owned());
        let user_metadata = head
            .metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (canonical_header_key(&format!("x-amz-meta-{name}")), value))
            .collect();
        let event_time = chrono::Utc::now();
        let request_id = format!("{:X}", event_time.timestamp_nanos_opt().unwrap_or_default());
        let mut event = created_event(&CreatedObject {
            event_name,
            bucket,
            key,
            size: head.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or_default(),
            etag: &etag,
            content_type: &content_type,
            user_metadata,
            version_id: None,
            principal_id: &request.principal,
            source_ip: &request.source_ip,
            user_agent: &request.user_agent,
            request_id: &request_id,
            event_time,
        });
        for record in &mut event.records {
            record.response_elements.insert("x-minio-origin-endpoint".into(), self.notifier.origin.clone());
        }
        let body =
            serde_json::to_vec(&event).map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let unavailable = |detail: String| {
            tracing::warn!(subject = %self.notifier.subject, %bucket, %key, error = %detail, "object stored but not announced");
            S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                format!("the object was stored but its notification was not: {detail}; retry the upload"),
            )
        };
        let ack = self
            .notifier
            .js
            .publish(self.notifier.subject.clone(), body.into())
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        ack.await.map_err(|e| unavailable(e.to_string()))?;
        tracing::debug!(event = event_name, %bucket, %key, "object announced");
        Ok(())
    }

    async fn head(&self, bucket: &str, key: &str) -> S3Result<HeadObjectOutput> {
        let input = HeadObjectInput::builder()
            .bucket(bucket.to_owned())
            .key(key.to_owned())
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let request = S3Request {
            input,
            method: http::Method::HEAD,
            uri: http::Uri::default(),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        };
        Ok(s3s::S3::head_object(&self.inner, request).await?.output)
    }
}

/// What the event tells of the request, taken before the request is handed on.
struct RequestFacts {
    principal: String,
    source_ip: String,
    user_agent: String,
}

impl RequestFacts {
    fn of<T>(request: &S3Request<T>) -> RequestFacts {
        RequestFacts {
            principal: request.credentials.as_ref().map(|c| c.access_key.clone()).unwrap_or_default(),
            source_ip: request.extensions.get::<Peer>().map(|p| p.0.to_string()).unwrap_or_default(),
            user_agent: request
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// The client's address, put into every request's extensions by [`serve`].
#[derive(Debug, Clone, Copy)]
struct Peer(IpAddr);

/// The request's `Origin` when it is one of `origins`.
fn cors_origin<B>(request: &http::Request<B>, origins: &[String]) -> Option<http::HeaderValue> {
    let origin = request.headers().get(http::header::ORIGIN)?;
    origins.iter().any(|o| o.as_bytes() == origin.as_bytes()).then(|| origin.clone())
}

/// The answer to a CORS preflight from an allowed origin.
fn preflight<B>(origin: &http::HeaderValue, request: &http::Request<B>) -> http::Response<s3s::Body> {
    let mut response = http::Response::new(s3s::Body::empty());
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, http::HeaderValue::from_static("GET, HEAD, PUT, POST"));
    if let Some(asked) = request.headers().get(http::header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(http::header::ACCESS_CONTROL_MAX_AGE, http::HeaderValue::from_static("600"));
    headers.insert(http::header::VARY, http::HeaderValue::from_static("Origin"));
    response
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-amz-meta-kind` -> `X-Amz-Meta-Kind`.
pub fn canonical_header_key(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            upper = c == '-';
            out
        })
        .collect()
}

/// The S3 service: path-style requests, SigV4 with one access key.
pub fn service(store: NotifyingStore, access_key: &str, secret_key: &str) -> S3Service {
    let mut builder = S3ServiceBuilder::new(store);
    builder.set_auth(SimpleAuth::from_single(access_key.to_owned(), secret_key.to_owned()));
    builder.build()
}

/// Serves `service` on `listener` until `shutdown` is cancelled, then lets open
/// connections finish for a few seconds. Browsers on one of `origins` (the gateway's, for
/// the web interface's upload page) may post to it cross-origin: their CORS preflight is
/// answered and their responses carry `Access-Control-Allow-Origin`, as a MinIO or a
/// bucket's CORS rule would.
pub async fn serve(
    service: S3Service,
    listener: TcpListener,
    origins: Vec<String>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let origins = std::sync::Arc::new(origins);
    let address = listener.local_addr()?;
    tracing::info!(%address, "s3 endpoint listening");
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (socket, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "s3 endpoint cannot accept a connection");
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // s3s-fs's own server leaves it off: every GET on a kept-alive connection then
        // waits ~40 ms for the client's delayed ACK.
        crate::gateway::set_nodelay(&socket);
        let (service, origins) = (service.clone(), origins.clone());
        let handler = hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(Peer(peer.ip()));
            let service = service.clone();
            let allowed = cors_origin(&request, &origins);
            async move {
                if let Some(origin) = &allowed
                    && request.method() == http::Method::OPTIONS
                {
                    return Ok::<_, s3s::HttpError>(preflight(origin, &request));
                }
                // An error here aborts the connection, as s3s intends.
                let mut response = service.call(request.map(s3s::Body::from)).await?;
                if let Some(origin) = allowed {
                    let headers = response.headers_mut();
                    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                    headers.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, http::HeaderValue::from_static("ETag"));
                    headers.append(http::header::VARY, http::HeaderValue::from_static("Origin"));
                }
                Ok(response)
            }
        });
        let connection = http.serve_connection(TokioIo::new(socket), handler).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("s3 endpoint connections still open at shutdown");
    }
    Ok(())
}
