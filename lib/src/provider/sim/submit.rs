//! `POST /v1/jobs`: authentication, injected faults, idempotency, then the body: a
//! multipart upload streamed to disk, or a JSON body naming a `source_url`.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::ids::JobId;
use crate::provider::protocol::{JobAccepted, JobMetadata, JobState};
use crate::provider::sim::process;
use crate::provider::sim::state::{DeliveryMode, Job, Sim};

/// Largest metadata part or JSON body read.
const METADATA_LIMIT: usize = 64 * 1024;

/// An answer with the JSON error body `{"error": "...", "code": "..."}`.
pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    Refusal { status, code: code.to_owned(), message: message.into() }.into_response()
}

/// A submission the simulator refuses, before it becomes a response.
pub(super) struct Refusal {
    status: StatusCode,
    code: String,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message, "code": self.code }))).into_response()
    }
}

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Refusal {
    Refusal { status, code: code.to_owned(), message: message.into() }
}

pub(super) fn authorized(headers: &HeaderMap, api_key: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| token.trim() == api_key)
}

pub(super) async fn submit(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    sim.note_submission();
    let response = handle(&sim, request).await;
    sim.note_response(response.status());
    response
}

/// Reads and discards a body we answer without, so the client sees our answer rather
/// than a connection reset in the middle of its upload.
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

fn code_for(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        408 => "request_timeout",
        409 => "conflict",
        413 => "too_large",
        415 => "unsupported_media",
        422 => "unprocessable",
        429 => "throttled",
        500..=599 => "unavailable",
        _ => "rejected",
    }
}

async fn handle(sim: &Arc<Sim>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !authorized(&parts.headers, &sim.opts.api_key) {
        drain(body).await;
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer API key");
    }
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if key.is_empty() {
        drain(body).await;
        return error(StatusCode::BAD_REQUEST, "missing_idempotency_key", "the Idempotency-Key header is required");
    }
    let (attempt, key_lock) = sim.note_attempt(&key);
    let opts = &sim.opts;
    if let Some(status) = opts.reject_status.filter(|_| opts.reject_first == 0) {
        drain(body).await;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return error(
            status,
            code_for(status.as_u16()),
            format!("submission rejected with {} (--reject-status)", status.as_u16()),
        );
    }
    if attempt <= opts.throttle_first {
        drain(body).await;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!("attempt {attempt} throttled (--throttle-first)"),
        );
        response.headers_mut().insert(header::RETRY_AFTER, opts.retry_after.into());
        return response;
    }
    if attempt <= opts.throttle_first.saturating_add(opts.fail_first) {
        drain(body).await;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("attempt {attempt} failed (--fail-first)"),
        );
    }
    if opts.error_rate > 0.0 && sim.draw(&["error", &key, &attempt.to_string()]) < opts.error_rate {
        drain(body).await;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("attempt {attempt} failed (--error-rate)"),
        );
    }

    // One request per key at a time: a concurrent repeat waits here, then finds the job.
    let _creating = key_lock.lock().await;
    if let Some(job_id) = sim.job_for_key(&key) {
        drain(body).await;
        return (StatusCode::OK, Json(JobAccepted { job_id })).into_response();
    }
    let content_type =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let request = Request::from_parts(parts, body);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let job_id = JobId::from(format!("job_{id}"));
    let dir = sim.job_dir(&job_id);
    let received = if content_type.starts_with("multipart/form-data") {
        receive_upload(request, &dir).await
    } else if content_type.split(';').next().is_some_and(|essence| essence.trim() == "application/json") {
        receive_json(request).await
    } else {
        drain(request.into_body()).await;
        Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media",
            format!("Content-Type {content_type:?}: send multipart/form-data (upload) or application/json (url)"),
        ))
    };
    let received = match received {
        Ok(received) => received,
        Err(refusal) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return refusal.into_response();
        }
    };
    if (sim.key_index(&received.meta.reference, &key) as u64) < u64::from(opts.reject_first) {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        let status =
            StatusCode::from_u16(opts.reject_status.unwrap_or(422)).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        return error(
            status,
            code_for(status.as_u16()),
            format!("submission rejected with {} (--reject-first)", status.as_u16()),
        );
    }
    sim.create_job(Job {
        job_id: job_id.clone(),
        event_id: format!("evt_{id}"),
        idempotency_key: key,
        meta: received.meta,
        delivery: received.delivery,
        size: received.size,
        sha256: received.sha256,
        status: JobState::Queued,
        completed_at: None,
        created_at: chrono::Utc::now(),
        first_callback_at: None,
        results: Vec::new(),
        error: None,
        callbacks_sent: 0,
        callback_attempts: 0,
        callback_dropped: false,
    });
    tracing::info!(%job_id, attempt, "job created");
    let task_sim = sim.clone();
    let task_job = job_id.clone();
    sim.tasks.spawn(async move { process::process(task_sim, task_job).await });
    // The job exists; answering late lets a test kill the client in between.
    if !sim.opts.response_delay.is_zero() {
        tokio::time::sleep(sim.opts.response_delay).await;
    }
    (StatusCode::ACCEPTED, Json(JobAccepted { job_id })).into_response()
}

struct Received {
    meta: JobMetadata,
    delivery: DeliveryMode,
    size: Option<u64>,
    sha256: Option<String>,
}

fn bad_request(code: &str, message: impl Into<String>) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, code, message)
}

fn internal(e: std::io::Error) -> Refusal {
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", format!("cannot store the upload: {e}"))
}

fn parse_metadata(bytes: &[u8]) -> Result<JobMetadata, Refusal> {
    let meta: JobMetadata = serde_json::from_slice(bytes)
        .map_err(|e| bad_request("invalid_metadata", format!("metadata is not a job object: {e}")))?;
    if uuid::Uuid::parse_str(&meta.reference).is_err() {
        return Err(bad_request("invalid_metadata", format!("reference {:?} is not a UUID", meta.reference)));
    }
    if meta.file_name.trim().is_empty() {
        return Err(bad_request("invalid_metadata", "file_name is empty"));
    }
    if meta.content_type.trim().is_empty() {
        return Err(bad_request("invalid_metadata", "content_type is empty"));
    }
    if !is_http_url(&meta.callback_url) {
        return Err(bad_request(
            "invalid_metadata",
            format!("callback_url {:?} is not an http(s) URL", meta.callback_url),
        ));
    }
    Ok(meta)
}

pub(super) fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// Upload mode: the `metadata` part, then the `file` part streamed to `{dir}/source` while
/// its size and SHA-256 are computed.
async fn receive_upload(request: Request, dir: &Path) -> Result<Received, Refusal> {
    let mut multipart =
        Multipart::from_request(request, &()).await.map_err(|e| bad_request("invalid_multipart", e.body_text()))?;
    let multipart_error = |e: axum::extract::multipart::MultipartError| bad_request("invalid_multipart", e.body_text());
    let mut field = multipart
        .next_field()
        .await
        .map_err(multipart_error)?
        .ok_or_else(|| bad_request("invalid_multipart", "no parts: send `metadata` then `file`"))?;
    if field.name() != Some("metadata") {
        return Err(bad_request(
            "invalid_multipart",
            format!("the first part is {:?}; send `metadata` then `file`", field.name()),
        ));
    }
    let mut metadata = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        metadata.extend_from_slice(&chunk);
        if metadata.len() > METADATA_LIMIT {
            return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the metadata part is over 64 KiB"));
        }
    }
    // multer hands out the next part only once the previous one is dropped.
    drop(field);
    let meta = parse_metadata(&metadata)?;
    let mut field = multipart
        .next_field()
        .await
        .map_err(multipart_error)?
        .ok_or_else(|| bad_request("invalid_multipart", "no `file` part after `metadata`"))?;
    if field.name() != Some("file") {
        return Err(bad_request(
            "invalid_multipart",
            format!("the second part is {:?}; expected `file`", field.name()),
        ));
    }
    tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    let mut file = tokio::fs::File::create(dir.join("source")).await.map_err(internal)?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        hash.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    if size != meta.size {
        return Err(bad_request(
            "size_mismatch",
            format!("the file part has {size} bytes, metadata.size says {}", meta.size),
        ));
    }
    Ok(Received { meta, delivery: DeliveryMode::Upload, size: Some(size), sha256: Some(hex::encode(hash.finalize())) })
}

/// URL mode: the metadata with a `source_url`; the fetch is the job's first step.
async fn receive_json(request: Request) -> Result<Received, Refusal> {
    let bytes = axum::body::to_bytes(request.into_body(), METADATA_LIMIT)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the JSON body is over 64 KiB"))?;
    let meta = parse_metadata(&bytes)?;
    match &meta.source_url {
        Some(url) if is_http_url(url) => {}
        Some(url) => {
            return Err(bad_request("invalid_metadata", format!("source_url {url:?} is not an http(s) URL")));
        }
        None => {
            return Err(bad_request(
                "invalid_metadata",
                "a JSON submission needs source_url (or send multipart/form-data)",
            ));
        }
    }
    Ok(Received { meta, delivery: DeliveryMode::Url, size: None, sha256: None })
}
