//! Reviews: an evaluator's judgement of a document, with a comment the teacher reads.
//!
//! Kept apart from the pipeline's states (`crate::db::State`): a review neither moves a
//! document nor is moved by it. Only a `normalized` document can be reviewed (there is
//! nothing to judge before, and a failed one is the teacher's to upload again). Each
//! review belongs to the document id it judged, so a new upload of the same file (a new
//! document, [`names::lineage`]) starts unreviewed while its earlier versions keep theirs.
//!
//! The list's tabs derive from the state and whether a review exists:
//! `reviewed` (any review), `to_review` (normalized, no review), `needs_attention`
//! (failed, rejected), `in_progress` (the others).

pub mod entity;
pub mod names;
mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::DbError;
use crate::ids::DocumentId;

pub use store::{Version, add, latest_for, of_document, versions};

/// The longest comment accepted, in characters.
pub const MAX_COMMENT: usize = 10_000;

/// What the evaluator concluded. Both close the evaluator's work on the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Read and judged; the comment says what to keep or change.
    Reviewed,
    /// Read, and the teacher should upload a corrected version.
    ChangesRequested,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reviewed => "reviewed",
            Verdict::ChangesRequested => "changes_requested",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "reviewed" => Some(Verdict::Reviewed),
            "changes_requested" => Some(Verdict::ChangesRequested),
            _ => None,
        }
    }

    /// In a teacher's words.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Reviewed => "Reviewed",
            Verdict::ChangesRequested => "Reviewed: changes requested",
        }
    }
}

/// A stored review, as the API shows it (`Review` in `docs/openapi.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub id: i64,
    pub document_id: DocumentId,
    /// The display name of who reviewed.
    pub reviewer: String,
    pub verdict: Verdict,
    pub comment: String,
    pub at: DateTime<Utc>,
    /// The stable key of who reviewed; not shown to teachers.
    #[serde(skip)]
    pub principal: String,
}

/// A review to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub document_id: DocumentId,
    pub reviewer: String,
    pub principal: String,
    pub verdict: Verdict,
    pub comment: String,
}

/// Why a review was not recorded, by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Answer 404.
    #[error("no such document")]
    NoDocument,
    /// Answer 409: wait until the document is `normalized`.
    #[error("only a normalized document can be reviewed; this one is {state}")]
    NotReady { state: &'static str },
    /// Answer 400.
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl NewReview {
    /// Checks the comment: trimmed, at most [`MAX_COMMENT`] characters, no control
    /// characters other than line breaks and tabs.
    pub fn checked(mut self) -> Result<NewReview, ReviewError> {
        self.comment = self.comment.trim().replace("\r\n", "\n");
        if self.comment.chars().count() > MAX_COMMENT {
            return Err(ReviewError::Invalid("the comment is longer than 10000 characters"));
        }
        if self.comment.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
            return Err(ReviewError::Invalid("the comment contains control characters"));
        }
        if self.reviewer.trim().is_empty() {
            return Err(ReviewError::Invalid("a review needs a reviewer"));
        }
        Ok(self)
    }
}
