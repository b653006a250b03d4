//! The decorator around the documents port that publishes the teacher's notices: after a
//! terminal write (applied, or found already applied: a redelivered message after a crash
//! between the commit and the publish), and when a stage reads a terminal document (the
//! normalize stage's redelivery reads and stops before any write; a watchdog timer finds
//! the document ended). The stream drops repeats by `Nats-Msg-Id` within its 24 h window.
//!
//! A publish that fails fails the call as a transient database error would: the stage's
//! message is naked and, redelivered, finds the write applied and publishes again.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DbErr, RuntimeErr};

use super::notify::Notifier;
use crate::db::{ArtifactRow, DbError, Document, NewDocument, State};
use crate::ids::{DocumentId, JobId, StageId};
use crate::lifecycle::{By, Transition};
use crate::stages::ports::Documents;

/// `inner`, publishing notices through `notifier`.
pub struct Notifying {
    inner: Arc<dyn Documents>,
    notifier: Notifier,
}

/// `inner` as is when `[mail]` is off (`notifier` is `None`), else decorated.
pub fn wrap(inner: Arc<dyn Documents>, notifier: Option<Notifier>) -> Arc<dyn Documents> {
    match notifier {
        Some(notifier) => Arc::new(Notifying { inner, notifier }),
        None => inner,
    }
}

/// A failed publish, as the transient error the stage retries on.
fn unpublished(error: crate::messages::PublishError) -> DbError {
    DbError::from(DbErr::Conn(RuntimeErr::Internal(format!("the notice was not published: {error}"))))
}

const ENDS: [State; 3] = [State::Normalized, State::Failed, State::Rejected];

impl Notifying {
    /// After a write towards `to`, applied or not: the document as it is now, its notice
    /// published when it is in `to`.
    async fn after(&self, id: DocumentId, to: &[State]) -> Result<(), DbError> {
        let Some(document) = self.inner.get(id).await? else { return Ok(()) };
        if to.contains(&document.state) {
            self.notifier.after(&document).await.map_err(unpublished)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Documents for Notifying {
    /// A terminal document read (a redelivery that finds its write applied, a watchdog
    /// timer after the end): its notice again, dropped by the stream when it is a repeat.
    async fn get(&self, id: DocumentId) -> Result<Option<Document>, DbError> {
        let document = self.inner.get(id).await?;
        if let Some(document) = document.as_ref().filter(|d| d.state.is_terminal()) {
            self.notifier.after(document).await.map_err(unpublished)?;
        }
        Ok(document)
    }
    async fn record_received(
        &self,
        new: &NewDocument,
        stage: StageId,
        attempt: u32,
        origin: Option<u64>,
    ) -> Result<(Document, bool), DbError> {
        self.inner.record_received(new, stage, attempt, origin).await
    }
    /// A move to `normalized`, `failed` or `rejected`, applied or found applied: the
    /// document's notice. A failure decided elsewhere may have won the race (a failed
    /// document the watchdog meant to fail): whichever end it is in gets its notice.
    async fn apply(&self, id: DocumentId, transition: Transition<'_>, by: By) -> Result<bool, DbError> {
        let applied = self.inner.apply(id, transition, by).await?;
        let to = transition.to();
        if to == State::Normalized {
            self.after(id, &[State::Normalized]).await?;
        } else if to.is_terminal() {
            self.after(id, &ENDS).await?;
        }
        Ok(applied)
    }
    async fn submission_of_job(&self, id: DocumentId, job_id: &JobId) -> Result<Option<String>, DbError> {
        self.inner.submission_of_job(id, job_id).await
    }
    async fn artifacts(&self, id: DocumentId) -> Result<Vec<ArtifactRow>, DbError> {
        self.inner.artifacts(id).await
    }
    async fn forgotten(&self, id: DocumentId) -> Result<bool, DbError> {
        self.inner.forgotten(id).await
    }
}
