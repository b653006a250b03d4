//! What the simulator remembers: submission attempts per `Idempotency-Key`, jobs, and the
//! counters the introspection routes show. Locks are `std` mutexes held for a few field
//! updates only, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ids::{JobId, Kind};
use crate::provider::protocol::{
    Callback, CallbackStatus, JobMetadata, JobState, JobStatus, ProviderError, ResultFile,
};
use crate::provider::sim::SimOptions;

pub(super) struct Sim {
    pub opts: SimOptions,
    pub data_dir: PathBuf,
    /// Base of result URLs, without a trailing slash.
    pub public_url: String,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    pub http: reqwest::Client,
    keys: Mutex<HashMap<String, KeyEntry>>,
    /// Each reference's Idempotency-Keys, in the order first seen with a body.
    references: Mutex<HashMap<String, Vec<String>>>,
    jobs: Mutex<BTreeMap<JobId, Job>>,
    /// DELETE requests per job id, counted before the answer (`--fail-deletes`).
    deletions: Mutex<HashMap<JobId, u32>>,
    stats: Mutex<Stats>,
}

/// One `Idempotency-Key`: how often it was submitted, the job it made, and the lock that
/// lets only one request per key create a job.
struct KeyEntry {
    attempts: u32,
    /// When each attempt arrived, in unix milliseconds (tests measure retry delays).
    attempt_times_ms: Vec<i64>,
    job_id: Option<JobId>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum DeliveryMode {
    Upload,
    Url,
}

#[derive(Debug, Clone)]
pub(super) struct Job {
    pub job_id: JobId,
    pub event_id: String,
    pub idempotency_key: String,
    pub meta: JobMetadata,
    pub delivery: DeliveryMode,
    /// Of the received source; known on creation in upload mode, after the fetch in url mode.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub status: JobState,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the job was created, and when its first callback was sent: the provider's
    /// own time lies between.
    pub created_at: DateTime<Utc>,
    pub first_callback_at: Option<DateTime<Utc>>,
    pub results: Vec<ResultFile>,
    pub error: Option<ProviderError>,
    pub callbacks_sent: u32,
    pub callback_attempts: u32,
    pub callback_dropped: bool,
}

impl Job {
    pub fn status_view(&self) -> JobStatus {
        let done = self.status.is_final();
        JobStatus {
            job_id: self.job_id.clone(),
            status: self.status,
            event_id: done.then(|| self.event_id.clone()),
            reference: Some(self.meta.reference.clone()),
            completed_at: self.completed_at.filter(|_| done),
            results: if done { self.results.clone() } else { Vec::new() },
            error: self.error.clone().filter(|_| done),
        }
    }

    /// The callback body of a final job; none for a job whose reference is not a document
    /// id (docflow's are).
    pub fn callback(&self) -> Option<Callback> {
        let status = match self.status {
            JobState::Completed => CallbackStatus::Completed,
            JobState::Failed => CallbackStatus::Failed,
            JobState::Queued | JobState::Processing => return None,
        };
        Some(Callback {
            event_id: self.event_id.clone(),
            job_id: self.job_id.clone(),
            reference: self.meta.reference.parse().ok()?,
            status,
            completed_at: self.completed_at?,
            results: self.results.clone(),
            error: self.error.clone(),
        })
    }
}

/// `GET /v1/_sim/jobs` items.
#[derive(Debug, Serialize)]
pub(super) struct JobView {
    job_id: JobId,
    idempotency_key: String,
    reference: String,
    kind: Kind,
    delivery: DeliveryMode,
    size: Option<u64>,
    sha256: Option<String>,
    attempts: u32,
    attempt_times_ms: Vec<i64>,
    status: JobState,
    callbacks_sent: u32,
    callback_attempts: u32,
    callback_dropped: bool,
    /// Milliseconds from the job's creation to its first callback attempt.
    own_time_ms: Option<f64>,
}

/// `GET /v1/_sim/stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub(super) struct Stats {
    pub submissions_received: u64,
    pub jobs_created: u64,
    pub responses_by_status: BTreeMap<String, u64>,
    pub callbacks_sent: u64,
    pub callback_attempts: u64,
    /// Jobs erased by `DELETE /v1/jobs/{job_id}`.
    pub jobs_deleted: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain counters behind: still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sim {
    pub fn new(opts: SimOptions, data_dir: PathBuf, public_url: String, shutdown: CancellationToken) -> Sim {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .expect("an HTTP client with default TLS settings builds");
        Sim {
            opts,
            data_dir,
            public_url,
            tasks: TaskTracker::new(),
            shutdown,
            http,
            keys: Mutex::new(HashMap::new()),
            references: Mutex::new(HashMap::new()),
            jobs: Mutex::new(BTreeMap::new()),
            deletions: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
        }
    }

    pub fn job_dir(&self, job_id: &JobId) -> PathBuf {
        self.data_dir.join("jobs").join(job_id.as_str())
    }

    pub fn note_submission(&self) {
        lock(&self.stats).submissions_received += 1;
    }

    pub fn note_response(&self, status: StatusCode) {
        *lock(&self.stats).responses_by_status.entry(status.as_u16().to_string()).or_default() += 1;
    }

    /// Counts one attempt of `key`; its number (from 1) and the key's creation lock.
    pub fn note_attempt(&self, key: &str) -> (u32, Arc<tokio::sync::Mutex<()>>) {
        let mut keys = lock(&self.keys);
        let entry = keys.entry(key.to_owned()).or_insert_with(|| KeyEntry {
            attempts: 0,
            attempt_times_ms: Vec::new(),
            job_id: None,
            lock: Arc::new(tokio::sync::Mutex::new(())),
        });
        entry.attempts += 1;
        entry.attempt_times_ms.push(chrono::Utc::now().timestamp_millis());
        (entry.attempts, entry.lock.clone())
    }

    /// Which of `reference`'s keys `key` is (from 0, in the order first seen).
    pub fn key_index(&self, reference: &str, key: &str) -> usize {
        let mut references = lock(&self.references);
        let keys = references.entry(reference.to_owned()).or_default();
        match keys.iter().position(|k| k == key) {
            Some(index) => index,
            None => {
                keys.push(key.to_owned());
                keys.len() - 1
            }
        }
    }

    pub fn job_for_key(&self, key: &str) -> Option<JobId> {
        lock(&self.keys).get(key).and_then(|entry| entry.job_id.clone())
    }

    /// Records a new job; the caller holds the key's creation lock.
    pub fn create_job(&self, job: Job) {
        if let Some(entry) = lock(&self.keys).get_mut(&job.idempotency_key) {
            entry.job_id = Some(job.job_id.clone());
        }
        lock(&self.stats).jobs_created += 1;
        lock(&self.jobs).insert(job.job_id.clone(), job);
    }

    /// Counts one DELETE request of `job_id`; its number, from 1.
    pub fn note_deletion(&self, job_id: &JobId) -> u32 {
        let mut deletions = lock(&self.deletions);
        let count = deletions.entry(job_id.clone()).or_default();
        *count += 1;
        *count
    }

    /// Forgets a job (its key no longer names it); `None` when there was none.
    pub fn remove_job(&self, job_id: &JobId) -> Option<Job> {
        let job = lock(&self.jobs).remove(job_id)?;
        if let Some(entry) = lock(&self.keys).get_mut(&job.idempotency_key) {
            entry.job_id = None;
        }
        lock(&self.stats).jobs_deleted += 1;
        Some(job)
    }

    pub fn job(&self, job_id: &JobId) -> Option<Job> {
        lock(&self.jobs).get(job_id).cloned()
    }

    /// Changes a job in place; `None` when it does not exist.
    pub fn update<R>(&self, job_id: &JobId, change: impl FnOnce(&mut Job) -> R) -> Option<R> {
        lock(&self.jobs).get_mut(job_id).map(change)
    }

    pub fn note_callback_attempt(&self, job_id: &JobId) {
        self.update(job_id, |job| {
            job.callback_attempts += 1;
            job.first_callback_at.get_or_insert_with(Utc::now);
        });
        lock(&self.stats).callback_attempts += 1;
    }

    pub fn note_callback_sent(&self, job_id: &JobId) {
        self.update(job_id, |job| job.callbacks_sent += 1);
        lock(&self.stats).callbacks_sent += 1;
    }

    pub fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub fn job_views(&self) -> Vec<JobView> {
        let keys = lock(&self.keys);
        lock(&self.jobs)
            .values()
            .map(|job| JobView {
                job_id: job.job_id.clone(),
                idempotency_key: job.idempotency_key.clone(),
                reference: job.meta.reference.clone(),
                kind: job.meta.kind,
                delivery: job.delivery,
                size: job.size,
                sha256: job.sha256.clone(),
                attempts: keys.get(&job.idempotency_key).map_or(0, |entry| entry.attempts),
                attempt_times_ms: keys
                    .get(&job.idempotency_key)
                    .map_or_else(Vec::new, |entry| entry.attempt_times_ms.clone()),
                status: job.status,
                callbacks_sent: job.callbacks_sent,
                callback_attempts: job.callback_attempts,
                callback_dropped: job.callback_dropped,
                own_time_ms: job
                    .first_callback_at
                    .map(|at| (at - job.created_at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0),
            })
            .collect()
    }

    /// A deterministic draw in [0, 1) from the seed and `parts`: the same submission gets
    /// the same injected faults on every run.
    pub fn draw(&self, parts: &[&str]) -> f64 {
        let mut hash = Sha256::new();
        hash.update(self.opts.seed.to_le_bytes());
        for part in parts {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        let value = u64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes"));
        (value >> 11) as f64 / (1u64 << 53) as f64
    }
}
