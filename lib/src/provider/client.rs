//! docflow's side of sections 1 and 2 of `docs/provider-protocol.md`: submitting a job and
//! asking for its status. Every failure is classified by what the caller does next
//! ([`SubmitError`]); the client itself never retries; JetStream redelivery does.

use std::io;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use crate::provider::protocol::{JobAccepted, JobMetadata, JobStatus};
use crate::settings::ProviderSettings;

/// How long establishing a connection to the provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient").field("name", &self.name).field("base_url", &self.base_url.as_str()).finish()
    }
}

impl ProviderClient {
    /// `request_timeout` bounds each whole request, an upload's transfer included: set it
    /// to cover the largest upload on the slowest link. Redirects are not followed (the
    /// protocol has none, and a redirect would carry the API key elsewhere).
    pub fn new(name: &str, settings: &ProviderSettings) -> Result<ProviderClient, ClientBuildError> {
        let error = |detail: String| ClientBuildError { name: name.to_owned(), detail };
        let mut base_url = Url::parse(&settings.base_url)
            .map_err(|e| error(format!("base_url {:?} is not a URL: {e}", settings.base_url)))?;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("docflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| error(format!("cannot build an HTTP client: {e}")))?;
        Ok(ProviderClient { name: name.to_owned(), base_url, api_key: settings.api_key.clone(), http })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn url(&self, path: &str) -> Url {
        self.base_url.join(path).expect("a relative path joins onto an http(s) base URL")
    }

    /// `POST /v1/jobs`. The same `idempotency_key` on every retry of one submission makes
    /// the provider answer a repeat with the job it already created.
    pub async fn submit(
        &self,
        idempotency_key: &str,
        meta: &JobMetadata,
        body: SubmitBody,
    ) -> Result<JobAccepted, SubmitError> {
        let url = self.url("v1/jobs");
        let request = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", self.api_key.expose_secret()))
            .header("Idempotency-Key", idempotency_key);
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
        let response = request.send().await.map_err(|e| self.send_error(&url, e))?;
        let status = response.status();
        if (200..=202).contains(&status.as_u16()) {
            let body = read_limited(response).await;
            return serde_json::from_slice::<JobAccepted>(&body).map_err(|e| {
                SubmitError::Transient {
                    // The job may exist: a retry with the same key finds it.
                    detail: format!("provider {} answered {status} without a job id ({e}): {}", self.name, text(&body)),
                }
            });
        }
        Err(self.classify(response).await)
    }

    /// `GET /v1/jobs/{job_id}`: the safety net for a lost callback.
    pub async fn job_status(&self, job_id: &str) -> Result<JobStatus, SubmitError> {
        let mut url = self.url("v1/jobs/");
        url.path_segments_mut().expect("an http(s) URL has path segments").pop_if_empty().push(job_id);
        let response = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", self.api_key.expose_secret()))
            .send()
            .await
            .map_err(|e| self.send_error(&url, e))?;
        if response.status() == StatusCode::OK {
            let body = response.bytes().await.map_err(|e| self.send_error(&url, e))?;
            return serde_json::from_slice::<JobStatus>(&body).map_err(|e| SubmitError::Transient {
                detail: format!(
                    "provider {} answered an unreadable status for job {job_id} ({e}): {}",
                    self.name,
                    text(&body)
                ),
            });
        }
        Err(self.classify(response).await)
    }

    fn send_error(&self, url: &Url, error: reqwest::Error) -> SubmitError {
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        SubmitError::Transient { detail: format!("provider {}: {what} at {url}: {}", self.name, chain(&error)) }
    }

    /// Maps an unsuccessful answer by the protocol's table.
    async fn classify(&self, response: reqwest::Response) -> SubmitError {
        let status = response.status();
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = location(response.headers());
        let body = text(&read_limited(response).await);
        classify(&self.name, status, retry_after.as_deref(), location.as_deref(), &body, SystemTime::now())
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
    let detail = if body.is_empty() {
        format!("provider {provider} answered {code}")
    } else {
        format!("provider {provider} answered {code}: {body}")
    };
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

/// `Retry-After` as delay-seconds or an HTTP date; a date in the past means now.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The first [`DETAIL_LIMIT`] bytes of a body, without reading the rest.
async fn read_limited(response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
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

    #[test]
    fn media_types_are_checked_like_reqwest_does() {
        assert!(is_media_type("application/pdf"));
        assert!(is_media_type("text/plain; charset=utf-8"));
        assert!(!is_media_type("not a type"));
        assert!(!is_media_type(""));
    }
}
