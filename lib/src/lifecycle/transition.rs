//! The guarded transitions: what each move records and the states it may leave. The one
//! source of these rules: the database (`Db::apply`) and the in-memory documents of the
//! stages' tests both read them from here, and the conformance suite
//! (`stages/conformance.rs`) holds both to them.

use crate::db::{ArtifactRow, State};
use crate::ids::{JobId, StageId};
use crate::lifecycle::FailureCause;

/// A move of one document, with what it records besides its new state. Applied with
/// [`By`] (the stage and attempt making it) through `Documents::apply`, which returns
/// whether it moved the document: `false` changed nothing (the document was not in one of
/// [`Transition::from_states`], the guard of its round or origin did not hold, or it does
/// not exist).
#[derive(Debug, Clone, Copy)]
pub enum Transition<'a> {
    /// `received -> submitted` in submission round `round` (a late step of an earlier
    /// round never records its job as the current round's): the job the provider gave,
    /// under the round's submission id.
    Submit { round: u32, provider: &'a str, submission_id: &'a str, job_id: &'a JobId },
    /// `submitted -> processed`: the callback is accepted, its results are not in yet.
    Processed,
    /// `submitted|processed -> validated`, from `from` (the state the caller read): the
    /// checked artifacts and the callback's event id. From `submitted`, a `processed`
    /// entry precedes `validated` in the timeline (one write on the happy path).
    Validated { from: State, event_id: &'a str, artifacts: &'a [ArtifactRow] },
    /// `validated -> normalized`: the normalized record, serialized (JSON text: the
    /// database stores it as it is, without copying it as a JSON tree).
    Normalized { json: &'a str },
    /// `-> failed`, with why. From any state a stage may still leave, but for the causes a
    /// stage decides from one state it read: the watchdog gives up on a document still
    /// `submitted`, validate on a job the provider failed once the callback is `processed`.
    Failed { cause: FailureCause, reason: &'a str },
    /// `processed -> rejected`: the results failed docflow's checks.
    Rejected { cause: FailureCause, reason: &'a str },
    /// `failed|rejected -> received` in the next submission round (job and error cleared),
    /// asked by the uploads stream message at sequence `origin`: never by the message
    /// that started the current round (its redelivery after the round ended).
    /// `reason`: `replayed`, `retried`, `notified again`.
    Restarted { origin: u64, reason: &'a str },
}

/// A guard besides the state: what else must hold for the move to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    None,
    /// The document is still in this submission round.
    Round(u32),
    /// The current round was not started by this uploads stream sequence.
    NotOrigin(u64),
}

/// Who makes a transition: the stage and its attempt, recorded in `attempts` and the
/// timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct By {
    pub stage: StageId,
    pub attempt: u32,
}

impl By {
    pub fn new(stage: StageId, attempt: u32) -> By {
        By { stage, attempt }
    }
}

const SUBMITTED: &[State] = &[State::Submitted];
const PROCESSED: &[State] = &[State::Processed];
const STOPPED: &[State] = &[State::Failed, State::Rejected];

impl Transition<'_> {
    /// The states the document may be in for the move to be made.
    pub fn from_states(&self) -> &'static [State] {
        match self {
            Transition::Submit { .. } => &[State::Received],
            Transition::Processed => SUBMITTED,
            Transition::Validated { from: State::Submitted, .. } => SUBMITTED,
            Transition::Validated { from: State::Processed, .. } => PROCESSED,
            // A state read elsewhere than where validation starts: nothing to validate.
            Transition::Validated { .. } => &[],
            Transition::Normalized { .. } => &[State::Validated],
            Transition::Failed { cause: FailureCause::CallbackLost, .. } => SUBMITTED,
            Transition::Failed { cause: FailureCause::ProviderFailedJob, .. } => PROCESSED,
            Transition::Failed { .. } => &State::NON_TERMINAL,
            Transition::Rejected { .. } => PROCESSED,
            Transition::Restarted { .. } => STOPPED,
        }
    }

    /// The state the move leaves the document in.
    pub fn to(&self) -> State {
        match self {
            Transition::Submit { .. } => State::Submitted,
            Transition::Processed => State::Processed,
            Transition::Validated { .. } => State::Validated,
            Transition::Normalized { .. } => State::Normalized,
            Transition::Failed { .. } => State::Failed,
            Transition::Rejected { .. } => State::Rejected,
            Transition::Restarted { .. } => State::Received,
        }
    }

    pub fn guard(&self) -> Guard {
        match self {
            Transition::Submit { round, .. } => Guard::Round(*round),
            Transition::Restarted { origin, .. } => Guard::NotOrigin(*origin),
            _ => Guard::None,
        }
    }

    /// Whether the move may be made from `state` (the other guard aside).
    pub fn leaves(&self, state: State) -> bool {
        self.from_states().contains(&state)
    }

    /// The reason the timeline records with the move (and, for `failed` and `rejected`,
    /// the document's error reason).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Transition::Failed { reason, .. }
            | Transition::Rejected { reason, .. }
            | Transition::Restarted { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Why the document stopped, for `failed` and `rejected`; every other move clears it.
    pub fn cause(&self) -> Option<FailureCause> {
        match self {
            Transition::Failed { cause, .. } | Transition::Rejected { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// `validated` from `submitted` records `processed` first, in the same write.
    pub fn processed_first(&self) -> bool {
        matches!(self, Transition::Validated { from: State::Submitted, .. })
    }

    /// The name of the move, for logs and tests (`submit`, `failed`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Transition::Submit { .. } => "submit",
            Transition::Processed => "processed",
            Transition::Validated { .. } => "validated",
            Transition::Normalized { .. } => "normalized",
            Transition::Failed { .. } => "failed",
            Transition::Rejected { .. } => "rejected",
            Transition::Restarted { .. } => "restarted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_restart_leaves_failed_or_rejected_and_nothing_leaves_normalized() {
        let reason = "r";
        let moves = [
            Transition::Submit { round: 0, provider: "sim", submission_id: "s", job_id: &JobId::from("j") },
            Transition::Processed,
            Transition::Validated { from: State::Submitted, event_id: "e", artifacts: &[] },
            Transition::Validated { from: State::Processed, event_id: "e", artifacts: &[] },
            Transition::Failed { cause: FailureCause::SubmissionGaveUp, reason },
            Transition::Failed { cause: FailureCause::CallbackLost, reason },
            Transition::Rejected { cause: FailureCause::ResultsInvalid, reason },
            Transition::Restarted { origin: 1, reason },
        ];
        for t in moves {
            assert!(!t.leaves(State::Normalized), "{}", t.name());
            let restart = matches!(t, Transition::Restarted { .. });
            assert_eq!(t.leaves(State::Failed), restart, "{}", t.name());
            assert_eq!(t.leaves(State::Rejected), restart, "{}", t.name());
            assert!(!t.leaves(t.to()), "{} never stays where it is", t.name());
        }
    }

    #[test]
    fn the_watchdog_fails_only_a_submitted_document_and_validate_only_a_processed_one() {
        let lost = Transition::Failed { cause: FailureCause::CallbackLost, reason: "r" };
        assert_eq!(lost.from_states(), [State::Submitted]);
        let job = Transition::Failed { cause: FailureCause::ProviderFailedJob, reason: "r" };
        assert_eq!(job.from_states(), [State::Processed]);
        let gave_up = Transition::Failed { cause: FailureCause::ResultsUnavailable, reason: "r" };
        assert_eq!(gave_up.from_states(), State::NON_TERMINAL);
        let stale = Transition::Validated { from: State::Received, event_id: "e", artifacts: &[] };
        assert!(stale.from_states().is_empty());
        assert_eq!(gave_up.cause(), Some(FailureCause::ResultsUnavailable));
        assert_eq!(Transition::Restarted { origin: 3, reason: "retried" }.guard(), Guard::NotOrigin(3));
    }
}
