//! Shorthands of [`Db::apply`] for the tests of the modules that read documents (the API,
//! the pages): each names one transition the way those tests set documents up, with the
//! stage by name. Test builds only; the stages and the wiring call `apply` itself.

use super::{ArtifactRow, Db, DbError, State};
use crate::ids::{DocumentId, JobId};
use crate::lifecycle::{By, FailureCause, Transition};

fn by(stage: &str, attempt: u32) -> By {
    By::new(stage.parse().unwrap_or_else(|e| panic!("{e}")), attempt)
}

impl Db {
    /// [`Transition::Submit`].
    #[allow(clippy::too_many_arguments)]
    pub async fn mark_submitted_in_round(
        &self,
        id: DocumentId,
        round: u32,
        provider: &str,
        submission_id: &str,
        job_id: &str,
        stage: &str,
        attempt: u32,
    ) -> Result<bool, DbError> {
        let submit = Transition::Submit { round, provider, submission_id, job_id: &JobId::from(job_id) };
        self.apply(id, submit, by(stage, attempt)).await
    }

    /// `submitted -> processed` ([`Transition::Processed`]) or `processed -> rejected`
    /// ([`Transition::Rejected`], as results that failed the checks): `from` must be
    /// what that transition leaves.
    pub async fn transition(
        &self,
        id: DocumentId,
        from: &[State],
        to: State,
        stage: &str,
        attempt: u32,
        reason: Option<&str>,
    ) -> Result<bool, DbError> {
        let transition = match to {
            State::Processed => Transition::Processed,
            State::Rejected => {
                Transition::Rejected { cause: FailureCause::ResultsInvalid, reason: reason.unwrap_or_default() }
            }
            other => panic!("no shorthand for a transition to {other}"),
        };
        assert_eq!(from, transition.from_states(), "the states {} leaves", transition.name());
        self.apply(id, transition, by(stage, attempt)).await
    }

    /// [`Transition::Failed`] for `cause`.
    pub async fn mark_failed(
        &self,
        id: DocumentId,
        stage: &str,
        attempt: u32,
        cause: FailureCause,
        reason: &str,
    ) -> Result<bool, DbError> {
        self.apply(id, Transition::Failed { cause, reason }, by(stage, attempt)).await
    }

    /// [`Transition::Restarted`].
    pub async fn restart(
        &self,
        id: DocumentId,
        origin: u64,
        reason: &str,
        stage: &str,
        attempt: u32,
    ) -> Result<bool, DbError> {
        self.apply(id, Transition::Restarted { origin, reason }, by(stage, attempt)).await
    }

    /// [`Transition::Validated`] from `from`.
    pub async fn record_validated(
        &self,
        id: DocumentId,
        from: State,
        event_id: &str,
        artifacts: &[ArtifactRow],
        stage: &str,
        attempt: u32,
    ) -> Result<bool, DbError> {
        self.apply(id, Transition::Validated { from, event_id, artifacts }, by(stage, attempt)).await
    }

    /// [`Transition::Normalized`] with `normalized` as its record.
    pub async fn store_normalized(
        &self,
        id: DocumentId,
        normalized: &serde_json::Value,
        stage: &str,
        attempt: u32,
    ) -> Result<bool, DbError> {
        let json = normalized.to_string();
        self.apply(id, Transition::Normalized { json: &json }, by(stage, attempt)).await
    }
}
