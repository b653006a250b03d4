//! The document as the rest of docflow sees it: parsed ids, kinds and states, so no
//! caller handles the strings stored in the database.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DbError;
use super::entities::{artifacts, document_events, documents};
use crate::ids::{DocumentId, JobId, Kind, UploaderId};
use crate::lifecycle::FailureCause;

/// A document's state. `received -> submitted -> processed -> validated -> normalized`;
/// `failed` and `rejected` end a document's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Received,
    Submitted,
    Processed,
    Validated,
    Normalized,
    Failed,
    Rejected,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Received,
        State::Submitted,
        State::Processed,
        State::Validated,
        State::Normalized,
        State::Failed,
        State::Rejected,
    ];

    /// Every state a document can still leave.
    pub const NON_TERMINAL: [State; 4] = [State::Received, State::Submitted, State::Processed, State::Validated];

    pub fn as_str(&self) -> &'static str {
        match self {
            State::Received => "received",
            State::Submitted => "submitted",
            State::Processed => "processed",
            State::Validated => "validated",
            State::Normalized => "normalized",
            State::Failed => "failed",
            State::Rejected => "rejected",
        }
    }

    /// `normalized`, `failed` and `rejected`: no stage moves a document on from them. Only a
    /// restart moves a `failed` or `rejected` one, back to `received` in a new round
    /// ([`State::is_restartable`]); nothing leaves `normalized`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, State::Normalized | State::Failed | State::Rejected)
    }

    /// `failed` and `rejected`: a replay, `docflow retry` or a new notification restarts
    /// the document in a new submission round. Nothing restarts any other state.
    pub fn is_restartable(&self) -> bool {
        self.is_failure()
    }

    /// `failed` and `rejected` carry an error stage and reason.
    pub fn is_failure(&self) -> bool {
        matches!(self, State::Failed | State::Rejected)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown document state {0:?}; expected one of received, submitted, processed, validated, normalized, failed, rejected"
)]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL.into_iter().find(|state| state.as_str() == s).ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// What the transfer stage knows of a new upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    pub id: DocumentId,
    pub kind: Kind,
    pub uploader_id: UploaderId,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: i64,
    pub content_type: String,
    pub provider: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub id: DocumentId,
    pub state: State,
    pub kind: Kind,
    pub uploader_id: UploaderId,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: i64,
    pub content_type: String,
    pub provider: String,
    pub provider_job_id: Option<JobId>,
    pub submission_id: Option<String>,
    pub error_stage: Option<String>,
    pub error_reason: Option<String>,
    /// Why the document stopped, while it is `failed` or `rejected` (`None` for rows that
    /// stopped before causes were stored, and for every other state).
    pub failure_cause: Option<FailureCause>,
    /// `{stage: attempt}` of the last transition each stage made.
    pub attempts: serde_json::Value,
    pub normalized: Option<serde_json::Value>,
    /// 0 for the first submission; each restart (replay, retry, new notification) adds
    /// one, and the round's submission id is its `Idempotency-Key`.
    pub submission_round: u32,
    /// The uploads stream sequence of the message that started the current round.
    pub round_origin: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Document {
    /// The submission id (`Idempotency-Key`) of the document's current round.
    pub fn round_submission_id(&self) -> uuid::Uuid {
        self.id.submission_id_for_round(&self.provider, self.submission_round)
    }
}

/// One entry of a document's timeline, as the document resource shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub state: State,
    pub stage: String,
    pub attempt: i32,
    pub reason: Option<String>,
}

/// An artifact's role: the provider protocol's result role, stored by its name.
pub use crate::provider::protocol::Role as ArtifactRole;

/// A file a provider returned, checked and stored in the results bucket under `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRow {
    pub role: ArtifactRole,
    pub name: String,
    pub key: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
}

impl TryFrom<artifacts::Model> for ArtifactRow {
    type Error = DbError;
    fn try_from(row: artifacts::Model) -> Result<Self, DbError> {
        Ok(ArtifactRow {
            role: row.role.parse().map_err(|_| DbError::decode("artifacts.role", &row.role))?,
            name: row.name,
            key: row.key,
            size: row.size,
            sha256: row.sha256,
            content_type: row.content_type,
        })
    }
}

impl TryFrom<documents::Model> for Document {
    type Error = DbError;
    fn try_from(row: documents::Model) -> Result<Self, DbError> {
        let id = row.id.parse().map_err(|_| DbError::decode("documents.id", &row.id))?;
        let state = row.state.parse().map_err(|_| DbError::decode("documents.state", &row.state))?;
        let kind = row.kind.parse().map_err(|_| DbError::decode("documents.kind", &row.kind))?;
        Ok(Document {
            id,
            state,
            kind,
            uploader_id: UploaderId::from(row.uploader_id),
            bucket: row.bucket,
            key: row.key,
            version_id: row.version_id,
            etag: row.etag,
            size: row.size,
            content_type: row.content_type,
            provider: row.provider,
            provider_job_id: row.provider_job_id.map(JobId::from),
            submission_id: row.submission_id,
            error_stage: row.error_stage,
            error_reason: row.error_reason,
            // A name this docflow does not know (a newer one wrote it) reads as unknown.
            failure_cause: row.failure_cause.map(|c| c.parse().unwrap_or(FailureCause::Unknown)),
            attempts: row.attempts,
            normalized: row.normalized,
            submission_round: u32::try_from(row.submission_round).unwrap_or(0),
            round_origin: row.round_origin.and_then(|o| u64::try_from(o).ok()),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl TryFrom<document_events::Model> for TimelineEntry {
    type Error = DbError;
    fn try_from(row: document_events::Model) -> Result<Self, DbError> {
        let state = row.state.parse().map_err(|_| DbError::decode("document_events.state", &row.state))?;
        Ok(TimelineEntry { at: row.at, state, stage: row.stage, attempt: row.attempt, reason: row.reason })
    }
}
