//! A job's life after its 202: queued, processing (fetching the source in url mode),
//! completed or failed, then the signed callback, retried a bounded number of times as a
//! real provider would.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::ids::JobId;
use crate::provider::protocol::{JobState, ProviderError, ResultFile};
use crate::provider::signature;
use crate::provider::sim::outputs;
use crate::provider::sim::state::{DeliveryMode, Sim};

/// Bounds one source fetch in url mode.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// Bounds one callback POST.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
const CALLBACK_FIRST_BACKOFF: Duration = Duration::from_millis(250);
const CALLBACK_MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(super) async fn process(sim: Arc<Sim>, job_id: JobId) {
    let shutdown = sim.shutdown.clone();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = run_job(&sim, &job_id) => {}
    }
}

async fn run_job(sim: &Sim, job_id: &JobId) {
    let Some(job) = sim.job(job_id) else { return };
    let queued = sim.opts.processing_delay / 2;
    // The simulated provider's own processing time (`--processing-delay`), not a retry.
    tokio::time::sleep(queued).await;
    sim.update(job_id, |job| job.status = JobState::Processing);

    let dir = sim.job_dir(job_id);
    let source = dir.join("source");
    if job.delivery == DeliveryMode::Url {
        let url = job.meta.source_url.clone().unwrap_or_default();
        match fetch(sim, &url, &source).await {
            Ok((size, _)) if size != job.meta.size => {
                finish_failed(
                    sim,
                    job_id,
                    "size_mismatch",
                    format!("source has {size} bytes, metadata.size says {}", job.meta.size),
                );
                return deliver(sim, job_id).await;
            }
            Ok((size, sha256)) => {
                sim.update(job_id, |job| {
                    job.size = Some(size);
                    job.sha256 = Some(sha256);
                });
            }
            Err(reason) => {
                finish_failed(sim, job_id, "source_unreachable", format!("cannot fetch source_url: {reason}"));
                return deliver(sim, job_id).await;
            }
        }
    }
    // The rest of the simulated processing time, not a retry.
    tokio::time::sleep(sim.opts.processing_delay - queued).await;

    if sim.opts.fail_jobs > 0.0 && sim.draw(&["fail", &job.idempotency_key]) < sim.opts.fail_jobs {
        finish_failed(sim, job_id, "processing_failed", "the simulator failed this job (--fail-jobs)".into());
        return deliver(sim, job_id).await;
    }
    if (sim.key_index(&job.meta.reference, &job.idempotency_key) as u64) < u64::from(sim.opts.fail_first_jobs) {
        finish_failed(sim, job_id, "processing_failed", "the simulator failed this job (--fail-first-jobs)".into());
        return deliver(sim, job_id).await;
    }
    match outputs::produce(&job.meta, &source, &dir.join("results")).await {
        Ok(produced) => {
            let results = produced
                .into_iter()
                .map(|output| ResultFile {
                    role: output.role,
                    url: format!("{}/r/{job_id}/{}", sim.public_url, encode_segment(&output.name)),
                    name: output.name,
                    sha256: output.sha256,
                    size: output.size,
                    content_type: output.content_type,
                })
                .collect();
            sim.update(job_id, |job| {
                job.results = results;
                job.completed_at = Some(Utc::now());
                job.status = JobState::Completed;
            });
            tracing::info!(%job_id, "job completed");
        }
        Err(e) => finish_failed(sim, job_id, "internal_error", format!("cannot produce results: {e}")),
    }
    deliver(sim, job_id).await;
}

fn finish_failed(sim: &Sim, job_id: &JobId, code: &str, message: String) {
    tracing::info!(%job_id, code, message, "job failed");
    sim.update(job_id, |job| {
        job.error = Some(ProviderError { code: code.to_owned(), message });
        job.completed_at = Some(Utc::now());
        job.status = JobState::Failed;
    });
}

/// A result name as one URL path segment.
fn encode_segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Streams `url` into `path`; its size and SHA-256, or why it failed.
async fn fetch(sim: &Sim, url: &str, path: &Path) -> Result<(u64, String), String> {
    let response = sim.http.get(url).timeout(FETCH_TIMEOUT).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| e.to_string())?;
    }
    let mut file = tokio::fs::File::create(path).await.map_err(|e| e.to_string())?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("reading {url}: {e}"))?;
        hash.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())?;
    Ok((size, hex::encode(hash.finalize())))
}

/// Sends the final job's callback once plus `--duplicate-callbacks` times, unless
/// `--drop-callbacks` drew this job.
async fn deliver(sim: &Sim, job_id: &JobId) {
    let Some(job) = sim.job(job_id) else { return };
    let Some(callback) = job.callback() else {
        return;
    };
    if sim.opts.drop_callbacks > 0.0 && sim.draw(&["drop", &job.idempotency_key]) < sim.opts.drop_callbacks {
        sim.update(job_id, |job| job.callback_dropped = true);
        tracing::info!(%job_id, "callback dropped (--drop-callbacks)");
        return;
    }
    let url = sim.opts.callback_url_override.clone().unwrap_or(job.meta.callback_url.clone());
    let body = serde_json::to_vec(&callback).expect("a callback serializes");
    for _ in 0..=sim.opts.duplicate_callbacks {
        deliver_once(sim, job_id, &url, &body).await;
    }
}

/// One delivery: POSTs until a 2xx or `--callback-attempts` run out, signing each try
/// afresh so its timestamp stays current.
async fn deliver_once(sim: &Sim, job_id: &JobId, url: &str, body: &[u8]) -> bool {
    let secrets: Vec<&[u8]> = sim.opts.callback_secrets.iter().map(|s| s.as_bytes()).collect();
    let mut backoff = CALLBACK_FIRST_BACKOFF;
    for attempt in 1..=sim.opts.callback_attempts {
        let header = signature::sign_all(&secrets, Utc::now().timestamp(), body);
        sim.note_callback_attempt(job_id);
        let sent = sim
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, header)
            .timeout(CALLBACK_TIMEOUT)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                sim.note_callback_sent(job_id);
                tracing::info!(%job_id, attempt, status = response.status().as_u16(), "callback delivered");
                return true;
            }
            Ok(response) => {
                tracing::warn!(%job_id, attempt, status = response.status().as_u16(), url, "callback refused")
            }
            Err(error) => {
                tracing::warn!(%job_id, attempt, url, error = %error, "callback not delivered")
            }
        }
        if attempt < sim.opts.callback_attempts {
            // The third party's callback retry policy, simulated: a provider retries a
            // refused callback over HTTP. docflow's own retries are JetStream redeliveries.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(CALLBACK_MAX_BACKOFF);
        }
    }
    tracing::warn!(%job_id, url, attempts = sim.opts.callback_attempts, "callback given up");
    false
}
