//! The routes besides submission: job status (section 2), deletion (section 5), result files,
//! and introspection.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio_util::io::ReaderStream;

use crate::ids::JobId;
use crate::provider::sim::state::Sim;
use crate::provider::sim::submit::{authorized, error};

pub(super) async fn job_status(State(sim): State<Arc<Sim>>, Path(job_id): Path<JobId>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &sim.opts.api_key) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer API key");
    }
    match sim.job(&job_id) {
        Some(job) => Json(job.status_view()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", format!("no job {job_id}")),
    }
}

/// `DELETE /v1/jobs/{job_id}` (section 5): erases the job, its upload and its results;
/// 404 for a job it does not know. With `--fail-deletes N` the first N requests for each
/// job answer 503 and erase nothing.
pub(super) async fn delete_job(State(sim): State<Arc<Sim>>, Path(job_id): Path<JobId>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &sim.opts.api_key) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer API key");
    }
    if sim.note_deletion(&job_id) <= sim.opts.fail_deletes {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "injected failure (--fail-deletes)");
    }
    if sim.remove_job(&job_id).is_none() {
        return error(StatusCode::NOT_FOUND, "not_found", format!("no job {job_id}"));
    }
    // A job id is the simulator's own (`job_` and hex), so it names a directory of its own.
    let dir = sim.job_dir(&job_id);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("cannot erase the job's files: {e}"),
        );
    }
    tracing::info!(%job_id, "job erased");
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /r/{job_id}/{name}`: streams a result from disk; with `--corrupt-results` its last
/// byte is flipped, so size and magic bytes still match but the SHA-256 does not.
pub(super) async fn result_file(State(sim): State<Arc<Sim>>, Path((job_id, name)): Path<(JobId, String)>) -> Response {
    // The file is found through the job's own result list, never by joining the
    // request's path onto the disk.
    let Some(result) = sim.job(&job_id).and_then(|job| job.results.into_iter().find(|r| r.name == name)) else {
        return error(StatusCode::NOT_FOUND, "not_found", format!("no result {name:?} of job {job_id}"));
    };
    let path = sim.job_dir(&job_id).join("results").join(result.role.as_str());
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", format!("cannot open the result: {e}"));
        }
    };
    let size = result.size;
    let stream = ReaderStream::new(file);
    let body = if sim.opts.corrupt_results && size > 0 {
        let mut offset = 0u64;
        Body::from_stream(stream.map(move |chunk| {
            chunk.map(|chunk| {
                let start = offset;
                offset += chunk.len() as u64;
                if (start..offset).contains(&(size - 1)) {
                    let mut bytes = chunk.to_vec();
                    bytes[(size - 1 - start) as usize] ^= 0x01;
                    Bytes::from(bytes)
                } else {
                    chunk
                }
            })
        }))
    } else {
        Body::from_stream(stream)
    };
    ([(header::CONTENT_TYPE, result.content_type), (header::CONTENT_LENGTH, size.to_string())], body).into_response()
}

pub(super) async fn sim_jobs(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.job_views()).into_response()
}

pub(super) async fn sim_stats(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.stats()).into_response()
}
