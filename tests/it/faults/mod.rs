//! The fault suite (issue 13): real outages under load, each on the test's own processes.
//! Every scenario uploads `DOCFLOW_FAULT_DOCS` documents (50 by default; 200+ for a full
//! run), causes its fault at a moment given by a condition ("a fifth of the documents
//! submitted"), heals it, and asserts:
//! - every document `normalized` (none lost, none stuck, none failed by the outage);
//! - exactly one provider job per document (one submission round each: no scenario here
//!   restarts a document);
//! - no dead letter.
//!
//! Each writes one row (documents, in flight at the fault, lost, duplicated jobs, dead
//! letters, time from the fault healed to every document normalized) to
//! `target/faults/rows/`, before its assertions, so a failing scenario is in the table too;
//! `scripts/reliability-table` assembles them into `docs/reliability.md`.
//!
//! Outages are short and explicit (`DOCFLOW_FAULT_OUTAGE_SECS`, 5 s by default) against a
//! retry budget of about 24 s per message (backoff 250 ms, 500 ms, 1 s, then 2 s; 15
//! deliveries): the production budget (1 s … 10 min, 8 deliveries) compressed in the same
//! way, so an outage shorter than the budget must cost no document.
//!
//! The scenarios are `#[ignore]`d in the ordinary runs (they take minutes and kill
//! servers): `make test-faults` runs them, one at a time.

mod crash;
mod nats;
mod postgres;
mod provider;
mod s3;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use docflow::db::{ListFilter, State};
use docflow::ids::DocumentId;
use futures_util::StreamExt;

use crate::support::{Sandbox, SandboxBuilder, try_wait_for};

/// Documents per scenario: `DOCFLOW_FAULT_DOCS`, else 50.
pub fn docs() -> usize {
    std::env::var("DOCFLOW_FAULT_DOCS").ok().and_then(|v| v.parse().ok()).filter(|n| *n >= 10).unwrap_or(50)
}

/// The length of a timed outage: `DOCFLOW_FAULT_OUTAGE_SECS`, else 5 s.
pub fn outage() -> Duration {
    let secs = std::env::var("DOCFLOW_FAULT_OUTAGE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

/// How long, once the fault is healed, every document gets to reach `normalized`.
fn recovery_deadline(documents: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(250) * documents as u32
}

/// A sandbox with the suite's retry budget and the provider settings of the contract
/// (`connect_timeout`, `idle_timeout`, `concurrency`, `first_status_check`), short enough
/// for a test. Settings a build does not know yet are ignored by it.
pub fn sandbox() -> SandboxBuilder {
    let mut builder = Sandbox::builder();
    for stage in ["TRANSFER", "VALIDATE", "NORMALIZE", "WATCHDOG"] {
        builder = builder.env(&format!("DOCFLOW__STAGES__{stage}__BACKOFF"), "250ms,500ms,1s,2s");
    }
    for stage in ["TRANSFER", "VALIDATE", "NORMALIZE"] {
        builder = builder.env(&format!("DOCFLOW__STAGES__{stage}__MAX_DELIVER"), "15");
    }
    provider_settings(builder, "SIM")
}

/// The contract's per-provider isolation and status-check settings, test-sized.
pub fn provider_settings(builder: SandboxBuilder, provider: &str) -> SandboxBuilder {
    let key = |name: &str| format!("DOCFLOW__PROVIDERS__{provider}__{name}");
    builder
        .env(&key("CONNECT_TIMEOUT"), "2s")
        .env(&key("IDLE_TIMEOUT"), "3s")
        .env(&key("CONCURRENCY"), "4")
        .env(&key("FIRST_STATUS_CHECK"), "3s")
        .env(&key("BREAKER__FAILURES"), "5")
}

/// The test's documents: objects put into the uploads bucket, announced when the
/// scenario says.
pub struct Load {
    pub objects: Vec<Object>,
    pub ids: HashSet<DocumentId>,
}

pub struct Object {
    pub id: DocumentId,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub content_type: &'static str,
    pub provider: Option<&'static str>,
}

impl Load {
    /// Puts `n` objects (lesson plans, every fifth a short video) into the uploads bucket;
    /// `provider(i)` names the provider of the i-th (user metadata `provider`).
    pub async fn put(sandbox: &Sandbox, n: usize, provider: impl Fn(usize) -> Option<&'static str>) -> Load {
        let specs: Vec<(usize, Option<&'static str>)> = (0..n).map(|i| (i, provider(i))).collect();
        let objects: Vec<Object> = futures_util::stream::iter(specs)
            .map(|(i, provider)| async move {
                let (key, bytes, content_type) = if i % 5 == 4 {
                    (format!("trainee-{i}/faults/clip-{i}.mp4"), crate::support::video(64 * 1024), "video/mp4")
                } else {
                    (format!("teacher-{i}/faults/plan-{i}.txt"), crate::support::lesson_plan(), "text/plain")
                };
                let size = bytes.len() as u64;
                let meta: Vec<(&str, &str)> = provider.map(|p| vec![("provider", p)]).unwrap_or_default();
                let etag = sandbox.put_object("uploads", &key, bytes, content_type, &meta).await;
                let id = crate::support::document_id("uploads", &key, &etag);
                Object { id, key, size, etag, content_type, provider }
            })
            .buffered(8)
            .collect()
            .await;
        let ids = objects.iter().map(|o| o.id).collect();
        Load { objects, ids }
    }

    /// Announces every object, as MinIO's NATS target would.
    pub async fn notify(&self, sandbox: &Sandbox) {
        for o in &self.objects {
            let meta: Vec<(&str, &str)> = o.provider.map(|p| vec![("provider", p)]).unwrap_or_default();
            sandbox.notify_created("uploads", &o.key, o.size, &o.etag, o.content_type, &meta).await;
        }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// The ids of the objects whose provider is `provider`.
    pub fn of_provider(&self, provider: Option<&str>) -> HashSet<DocumentId> {
        self.objects.iter().filter(|o| o.provider == provider).map(|o| o.id).collect()
    }
}

/// Where the test's documents are: one query.
#[derive(Debug, Default, Clone)]
pub struct Census {
    pub states: HashMap<DocumentId, (State, Option<String>)>,
}

const PIPELINE: [State; 5] = [State::Received, State::Submitted, State::Processed, State::Validated, State::Normalized];

impl Census {
    /// `None` while the database does not answer (the test's own connection is direct,
    /// but a query may still fail).
    pub async fn take(sandbox: &Sandbox, ids: &HashSet<DocumentId>) -> Option<Census> {
        let (rows, _) = sandbox.db.list_documents(&ListFilter::default(), 1_000_000, None).await.ok()?;
        let states = rows
            .into_iter()
            .filter(|d| ids.contains(&d.id))
            .map(|d| (d.id, (d.state, d.error_reason.clone())))
            .collect();
        Some(Census { states })
    }

    pub fn count(&self, state: State) -> usize {
        self.states.values().filter(|(s, _)| *s == state).count()
    }

    /// Documents at `state` or further along the pipeline (failures not included).
    pub fn past(&self, state: State) -> usize {
        let rank = |s: State| PIPELINE.iter().position(|p| *p == s);
        let Some(min) = rank(state) else { return self.count(state) };
        self.states.values().filter(|(s, _)| rank(*s).is_some_and(|r| r >= min)).count()
    }

    pub fn normalized(&self) -> usize {
        self.count(State::Normalized)
    }

    /// Normalized, failed or rejected: nothing more will happen to it by itself.
    pub fn terminal(&self) -> usize {
        self.states.values().filter(|(s, _)| matches!(s, State::Normalized | State::Failed | State::Rejected)).count()
    }

    pub fn by_state(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for (state, _) in self.states.values() {
            *out.entry(state.as_str()).or_default() += 1;
        }
        out
    }
}

/// Waits until `check` holds for the census of `ids`; the census, or `None` at `deadline`.
pub async fn wait_census(
    sandbox: &Sandbox,
    ids: &HashSet<DocumentId>,
    deadline: Duration,
    check: impl Fn(&Census) -> bool,
) -> Option<Census> {
    try_wait_for(deadline, || async { Census::take(sandbox, ids).await.filter(|c| check(c)) }).await
}

/// Like [`wait_census`], but a scenario cannot go on without it: panics with `what`.
pub async fn until(
    sandbox: &Sandbox,
    ids: &HashSet<DocumentId>,
    what: &str,
    deadline: Duration,
    check: impl Fn(&Census) -> bool,
) -> Census {
    match wait_census(sandbox, ids, deadline, check).await {
        Some(census) => census,
        None => {
            let now = Census::take(sandbox, ids).await.unwrap_or_default();
            panic!("timed out after {deadline:?} waiting for {what}; documents by state: {:?}", now.by_state())
        }
    }
}

/// One scenario's measurements: a row of the reliability table.
pub struct Report {
    pub order: u32,
    pub fault: String,
    pub documents: usize,
    /// Documents not yet normalized when the fault struck.
    pub in_flight: usize,
    pub normalized: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub dead_letters: u64,
    /// From the fault healed to every document normalized.
    pub recovery: Option<Duration>,
    /// What went wrong, each a sentence: empty when the scenario passed.
    pub failures: Vec<String>,
}

impl Report {
    /// Waits (from `healed`) until every document is normalized, failed or rejected, or the
    /// recovery deadline, then measures. Checks nothing yet: see [`Report::assert`].
    pub async fn finish(
        sandbox: &Sandbox,
        load: &Load,
        order: u32,
        fault: &str,
        in_flight: usize,
        healed: Instant,
    ) -> Report {
        let n = load.len();
        let done = wait_census(sandbox, &load.ids, recovery_deadline(n), |c| c.terminal() == n).await;
        let recovery = done.as_ref().filter(|c| c.normalized() == n).map(|_| healed.elapsed());
        let census = match done {
            Some(census) => census,
            None => Census::take(sandbox, &load.ids).await.unwrap_or_default(),
        };
        let mut failures = Vec::new();
        let normalized = census.normalized();
        let lost = n - normalized;
        if lost > 0 {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for (state, reason) in census.states.values().filter(|(s, _)| *s != State::Normalized) {
                let reason = reason.as_deref().map(|r| r.chars().take(160).collect::<String>());
                *reasons
                    .entry(format!("{} ({})", state.as_str(), reason.unwrap_or_else(|| "-".into())))
                    .or_default() += 1;
            }
            let missing = n - census.states.len();
            if missing > 0 {
                *reasons.entry("not recorded".into()).or_default() += missing;
            }
            failures.push(format!("{lost} of {n} documents not normalized: {reasons:?}"));
        }

        let (duplicated, jobless) = duplicated_jobs(sandbox, &load.ids).await;
        if duplicated > 0 {
            failures.push(format!("{duplicated} provider jobs beyond one per document"));
        }
        if jobless > 0 && lost == 0 {
            failures.push(format!("{jobless} normalized documents without a provider job"));
        }
        let dead_letters = dead_letters(sandbox).await;
        if !dead_letters.is_empty() {
            failures.push(format!("dead letters: {dead_letters:?}"));
        }
        let report = Report {
            order,
            fault: fault.to_owned(),
            documents: n,
            in_flight,
            normalized,
            lost,
            duplicated,
            dead_letters: dead_letters.iter().map(|(_, count)| count).sum(),
            recovery,
            failures,
        };
        if in_flight == 0 {
            let mut report = report;
            report.failures.push("the fault struck no document in flight: the scenario proved nothing".into());
            return report;
        }
        report
    }

    /// Adds a failure of the scenario's own checks (isolation, callbacks refused, ...).
    pub fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    /// Writes the row (`target/faults/rows/NN.md`), then fails the test with every failure.
    pub fn assert(self) {
        let row = self.row();
        let dir = rows_dir();
        std::fs::create_dir_all(&dir).expect("target/faults/rows can be created");
        std::fs::write(dir.join(format!("{:02}.md", self.order)), format!("{row}\n")).expect("the row is written");
        eprintln!("{row}");
        assert!(self.failures.is_empty(), "{}: {}", self.fault, self.failures.join("; "));
    }

    fn row(&self) -> String {
        let recovery = self.recovery.map_or_else(|| "—".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        let result = if self.failures.is_empty() {
            "pass".to_owned()
        } else {
            format!("**fail**: {}", self.failures.join("; ").replace('|', "/"))
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.fault,
            self.documents,
            self.in_flight,
            self.normalized,
            self.lost,
            self.duplicated,
            self.dead_letters,
            recovery,
            result
        )
    }
}

/// `target/faults/rows`, next to the test binary's `target/tmp`.
fn rows_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), PathBuf::from).join("faults").join("rows")
}

/// Provider jobs beyond one per document, and documents with no job at all, from every
/// simulator's job list (`GET /v1/_sim/jobs`).
pub async fn duplicated_jobs(sandbox: &Sandbox, ids: &HashSet<DocumentId>) -> (usize, usize) {
    let mut per_reference: HashMap<String, usize> = HashMap::new();
    for job in sandbox.sim_jobs().await {
        if let Some(reference) = job["reference"].as_str() {
            *per_reference.entry(reference.to_owned()).or_default() += 1;
        }
    }
    let duplicated = ids.iter().map(|id| per_reference.get(&id.to_string()).map_or(0, |n| n - 1)).sum();
    let jobless = ids.iter().filter(|id| !per_reference.contains_key(&id.to_string())).count();
    (duplicated, jobless)
}

/// Dead letters by subject (`{prefix}.dead.{stage}`).
pub async fn dead_letters(sandbox: &Sandbox) -> Vec<(String, u64)> {
    let mut by_subject: BTreeMap<String, u64> = BTreeMap::new();
    let read = try_wait_for(Duration::from_secs(20), || async {
        let stream = sandbox.js.get_stream(sandbox.stream("DEAD")).await.ok()?;
        let info = stream.get_info().await.ok()?;
        let mut subjects = Vec::new();
        if info.state.messages > 0 {
            for seq in info.state.first_sequence..=info.state.last_sequence {
                if let Ok(message) = stream.get_raw_message(seq).await {
                    subjects.push(message.subject.to_string());
                }
            }
        }
        Some(subjects)
    })
    .await
    .expect("the dead-letter stream answers");
    for subject in read {
        *by_subject.entry(subject).or_default() += 1;
    }
    by_subject.into_iter().collect()
}

/// `docflow_stage_messages_total{stage,outcome}` of worker `index` (the process's own counts).
pub async fn stage_messages(sandbox: &Sandbox, index: usize, stage: &str, outcome: &str) -> f64 {
    let text = sandbox.metrics(index).await;
    text.lines()
        .filter(|l| l.starts_with("docflow_stage_messages_total{"))
        .filter(|l| l.contains(&format!("stage=\"{stage}\"")) && l.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
