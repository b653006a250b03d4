//! docflow's side of sections 1 and 2 of `docs/provider-protocol.md`: submitting a job and
//! asking for its status. Every failure is classified by what the caller does next
//! ([`SubmitError`]); the client itself never retries; JetStream redelivery does.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use crate::ids::JobId;
use crate::provider::protocol::{JobAccepted, JobMetadata, JobStatus};
use crate::settings::ProviderSettings;

/// How much of a provider's error body goes into an error's detail.
const DETAIL_LIMIT: usize = 2048;

/// The object's bytes as they come from the bucket.
pub type UploadStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// What a submission carries besides its metadata.
pub enum SubmitBody {
    /// `upload` mode: `multipart/form-data`, the stream sent as the `file` part with a
    /// known length, never buffered whole.
    Upload { stream: UploadStream, size: u64 },
    /// `url` mode: a JSON body; `JobMetadata::source_url` must be set.
    Url,
}

/// A submission or status request that did not succeed, by what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// 429 with a `Retry-After`: try again no sooner than `retry_after`.
    #[error("{detail}")]
    Throttled { retry_after: Duration, detail: String },
    /// 408, 5xx, connection errors, timeouts, and any answer the protocol does not name:
    /// retry with the stage's backoff.
    #[error("{detail}")]
    Transient { detail: String },
    /// 400, 401, 403, 404, 413, 415, 422 (status 0: a request that cannot be built, such as
    /// a URL-mode submission without `source_url`): retrying cannot help.
    #[error("{detail}")]
    Permanent { status: u16, detail: String },
}

impl SubmitError {
    pub fn detail(&self) -> &str {
        match self {
            SubmitError::Throttled { detail, .. }
            | SubmitError::Transient { detail }
            | SubmitError::Permanent { detail, .. } => detail,
        }
    }
}

/// A throttled request retries no sooner than the provider asked; a transient one with
/// the stage's backoff; a permanent one fails.
impl From<SubmitError> for crate::worker::StepError {
    fn from(error: SubmitError) -> crate::worker::StepError {
        use crate::worker::StepError;
        match error {
            SubmitError::Throttled { retry_after, detail } => StepError::retry_after(retry_after, detail),
            SubmitError::Transient { detail } => StepError::retry(detail),
            SubmitError::Permanent { detail, .. } => StepError::fail(detail),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("provider {name}: {detail}")]
pub struct ClientBuildError {
    pub name: String,
    pub detail: String,
}

/// A client of one configured provider.
#[derive(Clone)]
pub struct ProviderClient {
    name: String,
    base_url: Url,
    api_key: SecretString,
    http: reqwest::Client,
    idle_timeout: Duration,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient").field("name", &self.name).field("base_url", &self.base_url.as_str()).finish()
    }
}

impl ProviderClient {
    /// A request has no total-time limit: it fails after `connect_timeout` without a
    /// connection, or once the provider has neither taken any of the upload nor sent
    /// anything for `idle_timeout` (waiting for the answer included). Redirects are not
    /// followed (the protocol has none, and a redirect would carry the API key elsewhere).
    pub fn new(name: &str, settings: &ProviderSettings) -> Result<ProviderClient, ClientBuildError> {
        let error = |detail: String| ClientBuildError { name: name.to_owned(), detail };
        let mut base_url = Url::parse(&settings.base_url)
            .map_err(|e| error(format!("base_url {:?} is not a URL: {e}", crate::redact::url(&settings.base_url))))?;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("docflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| error(format!("cannot build an HTTP client: {e}")))?;
        Ok(ProviderClient {
            name: name.to_owned(),
            base_url,
            api_key: settings.api_key.clone(),
            http,
            idle_timeout: settings.idle_timeout,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What a request of another section of the protocol needs (`deletion.rs`): the HTTP
    /// client, the base URL, the API key and the idle timeout.
    pub(super) fn parts(&self) -> (&reqwest::Client, &Url, &SecretString, Duration) {
        (&self.http, &self.base_url, &self.api_key, self.idle_timeout)
    }

    fn url(&self, path: &str) -> Url {
        self.base_url.join(path).expect("a relative path joins onto an http(s) base URL")
    }

    /// `POST /v1/jobs`. The same `idempotency_key` on every retry of one submission makes
    /// the provider answer a repeat with the job it already created. A span of its own in
    /// the document's trace, whose `traceparent` the provider receives.
    #[tracing::instrument(name = "provider_call", skip_all, fields(provider = %self.name, operation = "submit", document_id = %meta.reference))]
    pub async fn submit(
        &self,
        idempotency_key: &str,
        meta: &JobMetadata,
        body: SubmitBody,
    ) -> Result<JobAccepted, SubmitError> {
        let url = self.url("v1/jobs");
        let activity = Activity::new();
        let request = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", self.api_key.expose_secret()))
            .header("Idempotency-Key", idempotency_key);
        let request = match crate::telemetry::current_traceparent() {
            Some(traceparent) => request.header(crate::messages::TRACEPARENT, traceparent),
            None => request,
        };
        let request = match body {
            SubmitBody::Upload { stream, size } => {
                let metadata = serde_json::to_vec(meta).expect("job metadata serializes");
                let metadata =
                    reqwest::multipart::Part::bytes(metadata).mime_str("application/json").expect("a valid media type");
                // The metadata carries the content type verbatim; the part's header only needs
                // to be well-formed.
                let part_type = if is_media_type(&meta.content_type) {
                    meta.content_type.as_str()
                } else {
                    "application/octet-stream"
                };
                // Each chunk the connection takes is progress: a provider that stops reading
                // the upload stops them, and the idle watchdog ends the request.
                let touched = activity.clone();
                let stream = stream.inspect(move |_| touched.touch());
                let file = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
                    .file_name(meta.file_name.clone())
                    .mime_str(part_type)
                    .map_err(|e| SubmitError::Permanent {
                        status: 0,
                        detail: format!(
                            "provider {}: content type {:?} of {:?}: {e}",
                            self.name, meta.content_type, meta.file_name
                        ),
                    })?;
                let form = reqwest::multipart::Form::new().part("metadata", metadata).part("file", file);
                request.multipart(form)
            }
            SubmitBody::Url => {
                if meta.source_url.is_none() {
                    return Err(SubmitError::Permanent {
                        status: 0,
                        detail: format!("provider {}: a url-mode submission needs source_url", self.name),
                    });
                }
                request.json(meta)
            }
        };
        let response = self.watched(&activity, &url, request.send()).await?.map_err(|e| self.send_error(&url, e))?;
        activity.touch();
        let status = response.status();
        if (200..=202).contains(&status.as_u16()) {
            let body = self.watched(&activity, &url, read_limited(response, &activity)).await?;
            return serde_json::from_slice::<JobAccepted>(&body).map_err(|e| {
                SubmitError::Transient {
                    // The job may exist: a retry with the same key finds it.
                    detail: format!("provider {} answered {status} without a job id ({e}): {}", self.name, text(&body)),
                }
            });
        }
        self.classify(response, &activity, &url).await
    }

    /// `GET /v1/jobs/{job_id}`: the safety net for a lost callback.
    #[tracing::instrument(name = "provider_call", skip_all, fields(provider = %self.name, operation = "status", job_id = %job_id))]
    pub async fn job_status(&self, job_id: &JobId) -> Result<JobStatus, SubmitError> {
        let mut url = self.url("v1/jobs/");
        url.path_segments_mut().expect("an http(s) URL has path segments").pop_if_empty().push(job_id.as_str());
        let activity = Activity::new();
        let request =
            self.http.get(url.clone()).header(AUTHORIZATION, format!("Bearer {}", self.api_key.expose_secret())).send();
        let response = self.watched(&activity, &url, request).await?.map_err(|e| self.send_error(&url, e))?;
        activity.touch();
        if response.status() == StatusCode::OK {
            let body = self.watched(&activity, &url, response.bytes()).await?.map_err(|e| self.send_error(&url, e))?;
            return serde_json::from_slice::<JobStatus>(&body).map_err(|e| SubmitError::Transient {
                detail: format!(
                    "provider {} answered an unreadable status for job {job_id} ({e}): {}",
                    self.name,
                    text(&body)
                ),
            });
        }
        self.classify(response, &activity, &url).await
    }

    /// Runs `work` until it ends or nothing moved for `idle_timeout` (a transient failure).
    async fn watched<F: Future>(&self, activity: &Activity, url: &Url, work: F) -> Result<F::Output, SubmitError> {
        match idle_watchdog(activity, self.idle_timeout, work).await {
            Some(done) => Ok(done),
            None => Err(SubmitError::Transient {
                detail: format!(
                    "provider {}: timed out at {url}: nothing sent or accepted for {:?} (providers.{}.idle_timeout)",
                    self.name, self.idle_timeout, self.name
                ),
            }),
        }
    }

    fn send_error(&self, url: &Url, error: reqwest::Error) -> SubmitError {
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        // reqwest quotes the URL it failed on: no password or signature in it goes further.
        let detail = format!("provider {}: {what} at {url}: {}", self.name, chain(&error));
        SubmitError::Transient { detail: crate::redact::text(&detail) }
    }

    /// Maps an unsuccessful answer by the protocol's table (always an `Err`).
    async fn classify<T>(&self, response: reqwest::Response, activity: &Activity, url: &Url) -> Result<T, SubmitError> {
        let status = response.status();
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = location(response.headers());
        let body = text(&self.watched(activity, url, read_limited(response, activity)).await?);
        Err(classify(&self.name, status, retry_after.as_deref(), location.as_deref(), &body, SystemTime::now()))
    }
}

/// `type/subtype[;params]` with token characters: what a part's `Content-Type` accepts.
fn is_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    matches!(essence.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

fn location(headers: &HeaderMap) -> Option<String> {
    headers.get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The protocol's response table. Statuses it does not name are transient: a wrongly
/// transient answer costs the stage's bounded retries before the dead letter, a wrongly
/// permanent one loses a document that a retry would have delivered (409 for a key in
/// use, 423, 425 are all "later" answers).
pub fn classify(
    provider: &str,
    status: StatusCode,
    retry_after: Option<&str>,
    location: Option<&str>,
    body: &str,
    now: SystemTime,
) -> SubmitError {
    let code = status.as_u16();
    let detail = answered(provider, code, body);
    match code {
        429 => match retry_after.and_then(|value| parse_retry_after(value, now)) {
            Some(retry_after) => SubmitError::Throttled { retry_after, detail },
            None => {
                SubmitError::Transient { detail: format!("{detail} (no usable Retry-After; retrying with backoff)") }
            }
        },
        400 | 401 | 403 | 404 | 413 | 415 | 422 => SubmitError::Permanent { status: code, detail },
        300..=399 => SubmitError::Transient {
            detail: format!(
                "{detail} (a redirect to {}; redirects are not followed: check base_url)",
                location.unwrap_or("nowhere")
            ),
        },
        _ => SubmitError::Transient { detail },
    }
}

/// "provider P answered CODE[: BODY]": the detail of every unsuccessful answer.
pub(super) fn answered(provider: &str, code: u16, body: &str) -> String {
    if body.is_empty() {
        format!("provider {provider} answered {code}")
    } else {
        format!("provider {provider} answered {code}: {body}")
    }
}

/// `Retry-After` as delay-seconds or an HTTP date; a date in the past means now.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// When a request last moved: a chunk of the upload taken, an answer or a chunk of it read.
#[derive(Clone)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start`.
    last: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity { start: Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }

    fn touch(&self) {
        self.last.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// `work`'s output, or `None` once `activity` has not moved for `idle` (`work` is dropped,
/// which closes the connection). No limit on the total time while it keeps moving.
async fn idle_watchdog<F: Future>(activity: &Activity, idle: Duration, work: F) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    loop {
        let deadline = activity.last() + idle;
        tokio::select! {
            done = &mut work => return Some(done),
            _ = tokio::time::sleep_until(deadline.into()) => {
                if activity.last() + idle <= Instant::now() {
                    return None;
                }
            }
        }
    }
}

/// The first [`DETAIL_LIMIT`] bytes of a body, without reading the rest.
async fn read_limited(response: reqwest::Response, activity: &Activity) -> Vec<u8> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        activity.touch();
        body.extend_from_slice(&chunk);
        if body.len() > DETAIL_LIMIT {
            break;
        }
    }
    body
}

/// A body as readable text, at most [`DETAIL_LIMIT`] bytes, cut on a character boundary.
fn text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() <= DETAIL_LIMIT {
        return text.to_owned();
    }
    let mut end = DETAIL_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = at(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        // The obsolete forms HTTP still allows.
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun Nov  6 08:50:07 1994", now), Some(Duration::from_secs(30)));
        // A date already past: retry now.
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        for bad in ["", "-5", "1.5", "soon", "Sun, 99 Nov 1994 08:50:07 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn answers_are_classified_by_the_protocol_table() {
        let now = at(1_000);
        let c = |code: u16, retry_after: Option<&str>| {
            classify("sim", StatusCode::from_u16(code).unwrap(), retry_after, None, "{\"error\":\"x\"}", now)
        };
        assert_eq!(
            c(429, Some("7")),
            SubmitError::Throttled {
                retry_after: Duration::from_secs(7),
                detail: "provider sim answered 429: {\"error\":\"x\"}".into()
            }
        );
        assert!(matches!(c(429, None), SubmitError::Transient { .. }));
        assert!(matches!(c(429, Some("whenever")), SubmitError::Transient { .. }));
        for code in [408, 500, 502, 503, 504, 409, 410, 418, 301] {
            assert!(matches!(c(code, None), SubmitError::Transient { .. }), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 415, 422] {
            match c(code, None) {
                SubmitError::Permanent { status, detail } => {
                    assert_eq!(status, code);
                    assert_eq!(detail, format!("provider sim answered {code}: {{\"error\":\"x\"}}"));
                }
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_long_error_body_is_cut_to_about_two_kilobytes() {
        let body = "é".repeat(5_000);
        let cut = text(body.as_bytes());
        assert!(cut.len() <= DETAIL_LIMIT + "…".len());
        assert!(cut.ends_with('…'));
        assert_eq!(text(b"  short \n"), "short");
    }

    mod timeouts {
        use std::time::Instant;

        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpSocket, TcpStream};

        use super::*;
        use crate::ids::Kind;

        fn client(base_url: &str, connect: &str, idle: &str) -> ProviderClient {
            let settings: ProviderSettings = serde_json::from_value(serde_json::json!({
                "base_url": base_url,
                "api_key": "k",
                "callback_secret": "s",
                "connect_timeout": connect,
                "idle_timeout": idle,
            }))
            .unwrap();
            ProviderClient::new("p", &settings).unwrap()
        }

        fn meta(size: u64) -> JobMetadata {
            JobMetadata {
                reference: "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b".into(),
                kind: Kind::Document,
                file_name: "plan.txt".into(),
                content_type: "text/plain".into(),
                size,
                callback_url: "http://127.0.0.1:9/cb".into(),
                source_url: Some("http://127.0.0.1:9/object".into()),
            }
        }

        /// A listener that accepts and keeps every connection, doing `each` with it.
        async fn listener<F, Fut>(each: F) -> String
        where
            F: Fn(TcpStream) -> Fut + Send + 'static,
            Fut: Future<Output = ()> + Send + 'static,
        {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(each(socket));
                }
            });
            format!("http://{address}")
        }

        fn expect_idle<T: std::fmt::Debug>(result: Result<T, SubmitError>) {
            match result {
                Err(SubmitError::Transient { detail }) => {
                    assert!(detail.contains("nothing sent or accepted"), "{detail}");
                    assert!(detail.contains("providers.p.idle_timeout"), "{detail}");
                }
                other => panic!("expected an idle timeout, got {other:?}"),
            }
        }

        /// A provider answering every request with `status`, `headers` and `body`.
        async fn answering(status: u16, headers: &'static str, body: &'static str) -> String {
            listener(move |mut socket| async move {
                let mut head = Vec::new();
                let mut buffer = vec![0; 16 * 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            })
            .await
        }

        /// Every row of the protocol's response table, over real HTTP.
        #[tokio::test]
        async fn each_answer_of_the_response_table_maps_to_what_docflow_does() {
            for status in [200, 201, 202] {
                let url = answering(status, "", r#"{"job_id":"job_1"}"#).await;
                let job = client(&url, "1s", "2s").submit("k", &meta(3), SubmitBody::Url).await;
                assert_eq!(job.map(|j| j.job_id), Ok(JobId::from("job_1")), "{status}");
            }
            let url = answering(429, "retry-after: 7\r\n", "").await;
            match client(&url, "1s", "2s").submit("k", &meta(3), SubmitBody::Url).await {
                Err(SubmitError::Throttled { retry_after, .. }) => assert_eq!(retry_after, Duration::from_secs(7)),
                other => panic!("429 with seconds: {other:?}"),
            }
            let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
            let header: &'static str = Box::leak(format!("retry-after: {in_a_minute}\r\n").into_boxed_str());
            let url = answering(429, header, "").await;
            match client(&url, "1s", "2s").submit("k", &meta(3), SubmitBody::Url).await {
                Err(SubmitError::Throttled { retry_after, .. }) => {
                    assert!(
                        retry_after > Duration::from_secs(55) && retry_after <= Duration::from_secs(60),
                        "{retry_after:?}"
                    )
                }
                other => panic!("429 with a date: {other:?}"),
            }
            for status in [408, 500, 502, 503, 504] {
                let url = answering(status, "", "busy").await;
                let result = client(&url, "1s", "2s").submit("k", &meta(3), SubmitBody::Url).await;
                assert!(matches!(result, Err(SubmitError::Transient { .. })), "{status}: {result:?}");
            }
            for status in [400, 401, 403, 404, 413, 415, 422] {
                let url = answering(status, "", r#"{"error":"bad_file"}"#).await;
                match client(&url, "1s", "2s").submit("k", &meta(3), SubmitBody::Url).await {
                    Err(SubmitError::Permanent { status: got, detail }) => {
                        assert_eq!(got, status);
                        assert!(detail.ends_with(r#"{"error":"bad_file"}"#), "the provider's body: {detail}");
                    }
                    other => panic!("{status}: {other:?}"),
                }
            }
            // Nothing listens: a connect error.
            let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
            let result = client(&format!("http://{closed}"), "1s", "2s").job_status(&JobId::from("job_1")).await;
            assert!(
                matches!(&result, Err(SubmitError::Transient { detail }) if detail.contains("cannot connect")),
                "{result:?}"
            );
        }

        #[tokio::test]
        async fn a_provider_that_accepts_and_never_answers_is_transient_after_the_idle_timeout() {
            let url = listener(|mut socket| async move {
                // Reads the whole request, answers nothing, keeps the connection.
                let mut sink = vec![0; 64 * 1024];
                while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                std::future::pending::<()>().await;
            })
            .await;
            let client = client(&url, "1s", "200ms");
            let started = Instant::now();
            expect_idle(client.submit("k", &meta(3), SubmitBody::Url).await);
            expect_idle(client.job_status(&JobId::from("job_1")).await);
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(400) && took < Duration::from_millis(1500), "{took:?}");
        }

        #[tokio::test]
        async fn a_provider_that_stops_reading_the_upload_is_transient_after_the_idle_timeout() {
            let url = listener(|socket| async move {
                // Never reads: the upload fills the socket buffers, then stalls.
                let _socket = socket;
                std::future::pending::<()>().await;
            })
            .await;
            let size: u64 = 1 << 30;
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream = futures_util::stream::repeat_with(move || Ok(chunk.clone())).take((size >> 16) as usize);
            let body = SubmitBody::Upload { stream: Box::pin(stream), size };
            let started = Instant::now();
            let mut meta = meta(size);
            meta.source_url = None;
            expect_idle(client(&url, "1s", "300ms").submit("k", &meta, body).await);
            assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        }

        #[tokio::test]
        async fn an_upload_that_keeps_moving_is_never_cut_however_long_it_takes() {
            let url = listener(|mut socket| async move {
                // Reads the request to the end of its multipart body, then accepts it.
                let mut request = Vec::new();
                let mut buffer = vec![0; 16 * 1024];
                while !request.ends_with(b"--\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = br#"{"job_id":"job_slow"}"#;
                let head = format!(
                    "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
                std::future::pending::<()>().await;
            })
            .await;
            // 12 chunks, one every 100 ms: 1.2 s in all, each gap well under the 400 ms idle timeout.
            let stream = futures_util::stream::unfold(0u32, |n| async move {
                if n == 12 {
                    return None;
                }
                // A slow sender's pace (the test's upload body), not a wait for anything.
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok(Bytes::from_static(b"0123456789")), n + 1))
            });
            let body = SubmitBody::Upload { stream: Box::pin(stream), size: 120 };
            let mut meta = meta(120);
            meta.source_url = None;
            let started = Instant::now();
            let job = client(&url, "1s", "400ms").submit("k", &meta, body).await.expect("accepted");
            assert_eq!(job.job_id, "job_slow");
            assert!(started.elapsed() > Duration::from_millis(1100), "{:?}", started.elapsed());
        }

        #[tokio::test]
        async fn a_provider_that_does_not_accept_the_connection_is_transient_after_the_connect_timeout() {
            // A listener whose accept queue is full and never accepts: further SYNs are dropped.
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let address = socket.local_addr().unwrap();
            let _listener = socket.listen(0).unwrap();
            let mut queued = Vec::new();
            loop {
                match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(address)).await {
                    Ok(Ok(stream)) => queued.push(stream),
                    Ok(Err(e)) => panic!("cannot fill the accept queue: {e}"),
                    Err(_) => break,
                }
                assert!(queued.len() < 64, "the accept queue never filled");
            }
            let started = Instant::now();
            match client(&format!("http://{address}"), "200ms", "10s").job_status(&JobId::from("job_1")).await {
                Err(SubmitError::Transient { detail }) => assert!(detail.contains("timed out"), "{detail}"),
                other => panic!("expected a connect timeout, got {other:?}"),
            }
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(2), "{took:?}");
        }
    }

    #[test]
    fn media_types_are_checked_like_reqwest_does() {
        assert!(is_media_type("application/pdf"));
        assert!(is_media_type("text/plain; charset=utf-8"));
        assert!(!is_media_type("not a type"));
        assert!(!is_media_type(""));
    }
}
