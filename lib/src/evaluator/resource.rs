//! The document resource of `docs/openapi.json` (`Document`), field for field. These types are the API's
//! shape: renaming a field here changes what evaluators' scripts read.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{ArtifactRole, ArtifactRow, Document, State, TimelineEntry};
use crate::ids::{DocumentId, JobId, Kind, UploaderId};
use crate::lifecycle::FailureCause;
use crate::review::{Review, Verdict, Version};

/// A list item: the first fields of the resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentSummary {
    pub id: DocumentId,
    pub state: State,
    pub kind: Kind,
    pub uploader_id: UploaderId,
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub content_type: String,
    pub provider: String,
    pub provider_job_id: Option<JobId>,
    /// `{stage: attempt}` of the last transition each stage made.
    pub attempts: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set for `failed` and `rejected` only.
    pub error: Option<ErrorView>,
    /// The number of findings of a normalized lesson plan; `null` otherwise.
    pub findings: Option<usize>,
    /// The latest review, once an evaluator reviewed the document.
    pub review: Option<ReviewMark>,
}

/// Who reviewed a document last, when, and what they concluded (the comment is in the
/// document's `reviews`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewMark {
    pub reviewer: String,
    pub verdict: Verdict,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorView {
    pub stage: String,
    pub reason: String,
    /// Why it stopped, by name (`file_refused`, ...); `unknown` for documents that stopped
    /// before causes were stored.
    pub cause: FailureCause,
}

/// `GET /v1/documents/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentResource {
    #[serde(flatten)]
    pub summary: DocumentSummary,
    pub timeline: Vec<TimelineView>,
    /// The normalized record, once the document is `normalized`.
    pub normalized: Option<serde_json::Value>,
    pub artifacts: Vec<ArtifactView>,
    /// Every review of this document, oldest first.
    pub reviews: Vec<Review>,
    /// The uploads of the same file by the same uploader, oldest first (this one among
    /// them): a new upload is a new document, and each keeps its own reviews.
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineView {
    pub at: DateTime<Utc>,
    pub state: State,
    pub stage: String,
    pub attempt: i32,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactView {
    pub role: ArtifactRole,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    /// A presigned GET of the artifact in the results bucket.
    pub url: String,
}

impl From<Document> for DocumentSummary {
    fn from(document: Document) -> DocumentSummary {
        let error = document.state.is_failure().then(|| ErrorView {
            stage: document.error_stage.unwrap_or_default(),
            reason: document.error_reason.unwrap_or_default(),
            cause: document.failure_cause.unwrap_or(FailureCause::Unknown),
        });
        DocumentSummary {
            id: document.id,
            state: document.state,
            kind: document.kind,
            uploader_id: document.uploader_id,
            bucket: document.bucket,
            key: document.key,
            size: document.size,
            content_type: document.content_type,
            provider: document.provider,
            provider_job_id: document.provider_job_id,
            attempts: document.attempts,
            created_at: document.created_at,
            updated_at: document.updated_at,
            findings: findings_of(document.normalized.as_ref()),
            error,
            review: None,
        }
    }
}

/// The number of findings of a normalized lesson plan.
pub fn findings_of(normalized: Option<&serde_json::Value>) -> Option<usize> {
    normalized?.get("findings")?.as_array().map(Vec::len)
}

impl DocumentSummary {
    pub fn with_review(mut self, review: Option<&Review>) -> DocumentSummary {
        self.review = review.map(|r| ReviewMark { reviewer: r.reviewer.clone(), verdict: r.verdict, at: r.at });
        self
    }
}

impl From<TimelineEntry> for TimelineView {
    fn from(entry: TimelineEntry) -> TimelineView {
        TimelineView {
            at: entry.at,
            state: entry.state,
            stage: entry.stage,
            attempt: entry.attempt,
            reason: entry.reason,
        }
    }
}

impl ArtifactView {
    pub fn new(row: ArtifactRow, url: String) -> ArtifactView {
        ArtifactView {
            role: row.role,
            name: row.name,
            size: row.size,
            sha256: row.sha256,
            content_type: row.content_type,
            url,
        }
    }
}
