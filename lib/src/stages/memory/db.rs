//! The in-memory database: documents, submissions, artifacts and timelines, with the
//! guarded writes' rules of `Db` (a write whose guard does not match changes nothing).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use crate::db::{ArtifactRow, DbError, Document, NewDocument, State};
use crate::ids::{DocumentId, JobId};
use crate::lifecycle::{By, Guard, Transition};
use crate::stages::StageId;
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
    submissions: Mutex<Vec<(DocumentId, JobId, String)>>,
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
    /// Applies `transition` as `stage`'s first attempt would; for
    /// [`MemoryDb::before_next`], which cannot await [`Documents::apply`].
    pub fn apply_now(&self, id: DocumentId, transition: Transition<'_>, stage: StageId) -> bool {
        self.write(id, &transition, By::new(stage, 1))
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
    /// `Db::apply`'s rules, read from the same [`Transition`]: `false` changed nothing.
    fn write(&self, id: DocumentId, transition: &Transition<'_>, by: By) -> bool {
        let mut documents = self.documents.lock().unwrap();
        let Some(document) = documents.get_mut(&id) else { return false };
        let guarded = match transition.guard() {
            Guard::None => true,
            Guard::Round(round) => document.submission_round == round,
            Guard::NotOrigin(origin) => document.round_origin != Some(origin),
        };
        if !transition.leaves(document.state) || !guarded {
            return false;
        }
        match *transition {
            Transition::Submit { submission_id, job_id, .. } => {
                document.submission_id = Some(submission_id.to_owned());
                document.provider_job_id = Some(job_id.to_owned());
                let mut submissions = self.submissions.lock().unwrap();
                submissions.retain(|(_, _, s)| s != submission_id);
                submissions.push((id, job_id.to_owned(), submission_id.to_owned()));
            }
            Transition::Restarted { origin, .. } => {
                document.submission_round += 1;
                document.round_origin = Some(origin);
                document.submission_id = None;
                document.provider_job_id = None;
            }
            Transition::Validated { artifacts, .. } => {
                let mut stored = self.artifacts.lock().unwrap();
                let rows = stored.entry(id).or_default();
                for artifact in artifacts {
                    rows.retain(|r| (&r.role, &r.name) != (&artifact.role, &artifact.name));
                    rows.push(artifact.clone());
                }
            }
            Transition::Normalized { json } => {
                document.normalized = Some(serde_json::from_str(json).expect("the record is JSON"));
            }
            Transition::Processed | Transition::Failed { .. } | Transition::Rejected { .. } => {}
        }
        let (to, reason, stage) = (transition.to(), transition.reason().map(str::to_owned), by.stage.to_string());
        document.state = to;
        let failure = to.is_failure();
        document.error_stage = failure.then(|| stage.clone());
        document.error_reason = if failure { reason.clone() } else { None };
        document.failure_cause = transition.cause();
        document.attempts[by.stage.as_str()] = by.attempt.into();
        document.updated_at = Utc::now();
        let mut timeline = self.timeline.lock().unwrap();
        let entries = timeline.entry(id).or_default();
        if transition.processed_first() {
            entries.push((State::Processed, stage.clone(), by.attempt, None));
        }
        entries.push((to, stage, by.attempt, reason));
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
    async fn apply(&self, id: DocumentId, transition: Transition<'_>, by: By) -> Result<bool, DbError> {
        self.check(transition.name())?;
        Ok(self.write(id, &transition, by))
    }
    async fn submission_of_job(&self, id: DocumentId, job_id: &JobId) -> Result<Option<String>, DbError> {
        self.check("submission_of_job")?;
        let submissions = self.submissions.lock().unwrap();
        Ok(submissions.iter().find(|(d, j, _)| *d == id && j == job_id).map(|(_, _, s)| s.clone()))
    }
    async fn artifacts(&self, id: DocumentId) -> Result<Vec<ArtifactRow>, DbError> {
        self.check("artifacts")?;
        let mut rows = self.stored_artifacts(id);
        // By role name, as the database orders them.
        rows.sort_by(|a, b| (a.role.as_str(), &a.name).cmp(&(b.role.as_str(), &b.name)));
        Ok(rows)
    }
}
