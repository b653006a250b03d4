//! The in-memory database: documents, submissions, artifacts and timelines, with the
//! guarded writes' rules of `Db` (a write whose guard does not match changes nothing).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use crate::db::{ArtifactRow, DbError, Document, NewDocument, State};
use crate::ids::DocumentId;
use crate::lifecycle::FailureCause;
use crate::stages::StageId;
use crate::stages::normalize::record::Record;
use crate::stages::ports::Documents;

/// A transient database error (no free connection).
pub fn db_down() -> DbError {
    DbError::PoolTimeout { cause: sea_orm::DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout) }
}

/// One timeline entry: state, stage, attempt, reason.
pub type Entry = (State, String, u32, Option<String>);

/// A change made to the database just before one of the stage's calls.
type Meanwhile = Box<dyn FnOnce(&MemoryDb) + Send>;

#[derive(Default)]
pub struct MemoryDb {
    documents: Mutex<HashMap<DocumentId, Document>>,
    /// (document, job id, submission id).
    submissions: Mutex<Vec<(DocumentId, String, String)>>,
    artifacts: Mutex<HashMap<DocumentId, Vec<ArtifactRow>>>,
    timeline: Mutex<HashMap<DocumentId, Vec<Entry>>>,
    failures: Mutex<VecDeque<DbError>>,
    /// The methods called, in order.
    calls: Mutex<Vec<&'static str>>,
    /// Changes to make before the next call of a method, by method.
    meanwhile: Mutex<Vec<(&'static str, Meanwhile)>>,
}

impl MemoryDb {
    /// The methods called so far, in order; the log starts again empty.
    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
    /// The next call fails with `error`.
    pub fn fail_next(&self, error: DbError) {
        self.failures.lock().unwrap().push_back(error);
    }
    pub fn document(&self, id: DocumentId) -> Document {
        self.documents.lock().unwrap()[&id].clone()
    }
    pub fn state(&self, id: DocumentId) -> State {
        self.document(id).state
    }
    pub fn timeline(&self, id: DocumentId) -> Vec<Entry> {
        self.timeline.lock().unwrap().get(&id).cloned().unwrap_or_default()
    }
    pub fn stored_artifacts(&self, id: DocumentId) -> Vec<ArtifactRow> {
        self.artifacts.lock().unwrap().get(&id).cloned().unwrap_or_default()
    }
    /// Before the next call of `call`, `change` runs on the database: another delivery's
    /// write landing between two of the stage's.
    pub fn before_next(&self, call: &'static str, change: impl FnOnce(&MemoryDb) + Send + 'static) {
        self.meanwhile.lock().unwrap().push((call, Box::new(change)));
    }
    /// Moves `id` from `from` to `to` as `stage`'s first attempt would, with no reason;
    /// for [`MemoryDb::before_next`], which cannot await [`Documents::transition`].
    pub fn move_to(&self, id: DocumentId, from: State, to: State, stage: StageId) -> bool {
        self.apply(id, &[from], to, stage, 1, None, None, |_| true, |_| {})
    }
    fn check(&self, call: &'static str) -> Result<(), DbError> {
        self.calls.lock().unwrap().push(call);
        let change = {
            let mut meanwhile = self.meanwhile.lock().unwrap();
            meanwhile.iter().position(|(c, _)| *c == call).map(|at| meanwhile.remove(at).1)
        };
        if let Some(change) = change {
            change(self);
        }
        self.failures.lock().unwrap().pop_front().map_or(Ok(()), Err)
    }
    /// Moves `id` to `to` when its state is in `from` and `guard` holds; `change` is applied
    /// with the move. As `Db`'s guarded write: `false` changed nothing.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        id: DocumentId,
        from: &[State],
        to: State,
        stage: StageId,
        attempt: u32,
        reason: Option<&str>,
        cause: Option<FailureCause>,
        guard: impl FnOnce(&Document) -> bool,
        change: impl FnOnce(&mut Document),
    ) -> bool {
        let mut documents = self.documents.lock().unwrap();
        let Some(document) = documents.get_mut(&id) else { return false };
        if !from.contains(&document.state) || !guard(document) {
            return false;
        }
        change(document);
        document.state = to;
        let failure = to.is_failure();
        document.error_stage = failure.then(|| stage.to_string());
        document.error_reason = if failure { reason.map(str::to_owned) } else { None };
        document.failure_cause = cause.filter(|_| failure);
        document.attempts[stage.as_str()] = attempt.into();
        document.updated_at = Utc::now();
        let entry = (to, stage.to_string(), attempt, reason.map(str::to_owned));
        self.timeline.lock().unwrap().entry(id).or_default().push(entry);
        true
    }
}

#[async_trait]
impl Documents for MemoryDb {
    async fn get(&self, id: DocumentId) -> Result<Option<Document>, DbError> {
        self.check("get")?;
        Ok(self.documents.lock().unwrap().get(&id).cloned())
    }
    async fn record_received(
        &self,
        new: &NewDocument,
        stage: StageId,
        attempt: u32,
        origin: Option<u64>,
    ) -> Result<(Document, bool), DbError> {
        self.check("record_received")?;
        let mut documents = self.documents.lock().unwrap();
        if let Some(document) = documents.get(&new.id) {
            return Ok((document.clone(), false));
        }
        let now = Utc::now();
        let document = Document {
            id: new.id,
            state: State::Received,
            kind: new.kind,
            uploader_id: new.uploader_id.clone(),
            bucket: new.bucket.clone(),
            key: new.key.clone(),
            version_id: new.version_id.clone(),
            etag: new.etag.clone(),
            size: new.size,
            content_type: new.content_type.clone(),
            provider: new.provider.clone(),
            provider_job_id: None,
            submission_id: None,
            error_stage: None,
            error_reason: None,
            failure_cause: None,
            attempts: serde_json::json!({ stage.as_str(): attempt }),
            normalized: None,
            submission_round: 0,
            round_origin: origin,
            created_at: now,
            updated_at: now,
        };
        documents.insert(new.id, document.clone());
        let entry = (State::Received, stage.to_string(), attempt, None);
        self.timeline.lock().unwrap().entry(new.id).or_default().push(entry);
        Ok((document, true))
    }
    async fn restart(
        &self,
        id: DocumentId,
        origin: u64,
        reason: &str,
        stage: StageId,
        attempt: u32,
    ) -> Result<bool, DbError> {
        self.check("restart")?;
        let from = [State::Failed, State::Rejected];
        Ok(self.apply(
            id,
            &from,
            State::Received,
            stage,
            attempt,
            Some(reason),
            None,
            |d| d.round_origin != Some(origin),
            |d| {
                d.submission_round += 1;
                d.round_origin = Some(origin);
                d.submission_id = None;
                d.provider_job_id = None;
            },
        ))
    }
    async fn mark_submitted_in_round(
        &self,
        id: DocumentId,
        round: u32,
        _provider: &str,
        submission_id: &str,
        job_id: &str,
        stage: StageId,
        attempt: u32,
    ) -> Result<bool, DbError> {
        self.check("mark_submitted_in_round")?;
        let moved = self.apply(
            id,
            &[State::Received],
            State::Submitted,
            stage,
            attempt,
            None,
            None,
            |d| d.submission_round == round,
            |d| {
                d.submission_id = Some(submission_id.to_owned());
                d.provider_job_id = Some(job_id.to_owned());
            },
        );
        if moved {
            let mut submissions = self.submissions.lock().unwrap();
            submissions.retain(|(_, _, s)| s != submission_id);
            submissions.push((id, job_id.to_owned(), submission_id.to_owned()));
        }
        Ok(moved)
    }
    async fn submission_of_job(&self, id: DocumentId, job_id: &str) -> Result<Option<String>, DbError> {
        self.check("submission_of_job")?;
        let submissions = self.submissions.lock().unwrap();
        Ok(submissions.iter().find(|(d, j, _)| *d == id && j == job_id).map(|(_, _, s)| s.clone()))
    }
    async fn transition(
        &self,
        id: DocumentId,
        from: &[State],
        to: State,
        stage: StageId,
        attempt: u32,
        reason: Option<&str>,
    ) -> Result<bool, DbError> {
        self.check("transition")?;
        Ok(self.apply(id, from, to, stage, attempt, reason, None, |_| true, |_| {}))
    }
    async fn end(
        &self,
        id: DocumentId,
        from: &[State],
        to: State,
        cause: FailureCause,
        stage: StageId,
        attempt: u32,
        reason: &str,
    ) -> Result<bool, DbError> {
        self.check("end")?;
        if !to.is_failure() {
            return Ok(false);
        }
        Ok(self.apply(id, from, to, stage, attempt, Some(reason), Some(cause), |_| true, |_| {}))
    }
    async fn mark_failed(
        &self,
        id: DocumentId,
        stage: StageId,
        attempt: u32,
        cause: FailureCause,
        reason: &str,
    ) -> Result<bool, DbError> {
        self.end(id, &State::NON_TERMINAL, State::Failed, cause, stage, attempt, reason).await
    }
    async fn record_validated(
        &self,
        id: DocumentId,
        from: State,
        _event_id: &str,
        artifacts: &[ArtifactRow],
        stage: StageId,
        attempt: u32,
    ) -> Result<bool, DbError> {
        self.check("record_validated")?;
        if !matches!(from, State::Submitted | State::Processed) {
            return Ok(false);
        }
        let moved = self.apply(id, &[from], State::Validated, stage, attempt, None, None, |_| true, |_| {});
        if moved {
            if from == State::Submitted {
                let mut timeline = self.timeline.lock().unwrap();
                let entries = timeline.entry(id).or_default();
                let at = entries.len() - 1;
                entries.insert(at, (State::Processed, stage.to_string(), attempt, None));
            }
            let mut stored = self.artifacts.lock().unwrap();
            let rows = stored.entry(id).or_default();
            for artifact in artifacts {
                rows.retain(|r| (&r.role, &r.name) != (&artifact.role, &artifact.name));
                rows.push(artifact.clone());
            }
        }
        Ok(moved)
    }
    async fn store_normalized(
        &self,
        id: DocumentId,
        record: &Record,
        stage: StageId,
        attempt: u32,
    ) -> Result<bool, DbError> {
        self.check("store_normalized")?;
        let value = serde_json::to_value(record).expect("a record serializes");
        Ok(self.apply(
            id,
            &[State::Validated],
            State::Normalized,
            stage,
            attempt,
            None,
            None,
            |_| true,
            |d| d.normalized = Some(value),
        ))
    }
    async fn artifacts(&self, id: DocumentId) -> Result<Vec<ArtifactRow>, DbError> {
        self.check("artifacts")?;
        let mut rows = self.stored_artifacts(id);
        rows.sort_by(|a, b| (&a.role, &a.name).cmp(&(&b.role, &b.name)));
        Ok(rows)
    }
}
