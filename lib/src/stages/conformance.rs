//! One conformance suite for the documents port ([`Documents`]), run against each
//! implementation: PostgreSQL and SQLite (`Db`), each also with group commit as `docflow
//! run` uses it, and the in-memory one the stages' unit tests use (`MemoryDb`). Every
//! guarded write from every state, rounds, and the same write applied twice at once: the
//! stage tests on the in-memory copy are only worth what this suite holds it to.

use std::sync::Arc;

use crate::db::testing::new_document;
use crate::db::{ArtifactRow, State};
use crate::ids::{DocumentId, JobId};
use crate::lifecycle::{By, FailureCause, Transition};
use crate::stages::StageId;
use crate::stages::normalize::record::Record;
use crate::stages::ports::Documents;

/// Runs `body` against the in-memory port, SQLite and PostgreSQL, the latter two with and
/// without group commit, as five tests.
macro_rules! on_all {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use std::sync::Arc;

            #[tokio::test]
            async fn memory() {
                super::$name(Arc::new(crate::stages::memory::MemoryDb::default())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let target = crate::db::testing::sqlite().await;
                super::$name(Arc::new(target.db.clone())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                crate::db::testing::with_postgres(|target| super::$name(Arc::new(target.db))).await;
            }

            /// With group commit (`db/group.rs`), as `docflow run` applies transitions.
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_grouped() {
                let target = crate::db::testing::sqlite().await.grouped();
                super::$name(Arc::new(target.db.clone())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_grouped() {
                crate::db::testing::with_postgres(|target| super::$name(Arc::new(target.grouped().db))).await;
            }
        }
    )*};
}

on_all!(
    every_write_moves_a_document_only_from_its_states,
    a_document_is_recorded_once,
    a_restart_starts_the_next_round_once_per_message,
    a_job_is_recorded_only_in_the_current_round,
    the_same_write_applied_twice_at_once_moves_the_document_once,
    artifacts_and_the_normalized_record_are_kept_with_their_writes,
);

const TRANSFER: StageId = StageId::Transfer;
const VALIDATE: StageId = StageId::Validate;

fn submission(id: DocumentId, round: u32) -> String {
    id.submission_id_for_round("sim", round).to_string()
}

fn artifact(name: &str, size: i64) -> ArtifactRow {
    ArtifactRow {
        role: crate::db::ArtifactRole::Findings,
        name: name.into(),
        key: format!("results/{name}"),
        size,
        sha256: "ab".into(),
        content_type: "application/json".into(),
    }
}

/// A normalized record as normalize stores it: serialized.
fn record() -> String {
    let record: Record = serde_json::from_value(serde_json::json!({
        "schema_version": 1,
        "kind": "document",
        "uploader_id": "teacher-42",
        "original": {"bucket": "uploads", "key": "teacher-42/plan.txt", "size": 19, "content_type": "text/plain"},
        "artifacts": [],
        "findings": [],
        "findings_by_category": {},
        "findings_by_severity": {},
        "word_count": 3,
        "language": "en",
    }))
    .expect("a normalized record");
    serde_json::to_string(&record).unwrap()
}

/// `failed` for `cause`, as transfer's first attempt: whether it moved the document.
async fn fail(docs: &dyn Documents, id: DocumentId, cause: FailureCause) -> bool {
    docs.apply(id, Transition::Failed { cause, reason: "refused" }, By::new(TRANSFER, 1)).await.unwrap()
}

/// A restart asked by the uploads message at `origin`: whether it moved the document.
async fn restart(docs: &dyn Documents, id: DocumentId, origin: u64) -> bool {
    docs.apply(id, Transition::Restarted { origin, reason: "retried" }, By::new(TRANSFER, 1)).await.unwrap()
}

async fn state(docs: &dyn Documents, id: DocumentId) -> State {
    docs.get(id).await.unwrap().expect("the document exists").state
}

/// A new document taken to `target` through the writes the stages make.
async fn document_in(docs: &dyn Documents, target: State) -> DocumentId {
    let new = new_document();
    let id = new.id;
    docs.record_received(&new, TRANSFER, 1, Some(1)).await.unwrap();
    let path: &[State] = match target {
        State::Received => &[],
        State::Submitted => &[State::Submitted],
        State::Processed => &[State::Submitted, State::Processed],
        State::Validated => &[State::Submitted, State::Validated],
        State::Normalized => &[State::Submitted, State::Validated, State::Normalized],
        State::Failed => &[State::Failed],
        State::Rejected => &[State::Submitted, State::Processed, State::Rejected],
    };
    for step in path {
        let moved = match step {
            State::Submitted => {
                docs.apply(
                    id,
                    Transition::Submit {
                        round: 0,
                        provider: "sim",
                        submission_id: &submission(id, 0),
                        job_id: &JobId::from("job-0"),
                    },
                    By::new(TRANSFER, 1),
                )
                .await
            }
            State::Processed => docs.apply(id, Transition::Processed, By::new(VALIDATE, 1)).await,
            State::Validated => {
                docs.apply(
                    id,
                    Transition::Validated { from: State::Submitted, event_id: "evt", artifacts: &[] },
                    By::new(VALIDATE, 1),
                )
                .await
            }
            State::Normalized => {
                docs.apply(id, Transition::Normalized { json: &record() }, By::new(StageId::Normalize, 1)).await
            }
            State::Failed => {
                docs.apply(
                    id,
                    Transition::Failed { cause: FailureCause::FileRefused, reason: "refused" },
                    By::new(TRANSFER, 1),
                )
                .await
            }
            State::Rejected => {
                docs.apply(
                    id,
                    Transition::Rejected { cause: FailureCause::ResultsInvalid, reason: "bad results" },
                    By::new(VALIDATE, 1),
                )
                .await
            }
            State::Received => unreachable!("the path starts there"),
        };
        assert!(moved.unwrap(), "{step} on the way to {target}");
    }
    assert_eq!(state(docs, id).await, target);
    id
}

/// Each transition the stages apply, by name, with the submission id of its document and
/// the job it records.
fn transition<'a>(name: &str, key: &'a str, job: &'a JobId, record: &'a str) -> Transition<'a> {
    let reason = "gave up";
    match name {
        "submitted" => Transition::Submit { round: 0, provider: "sim", submission_id: key, job_id: job },
        "processed" => Transition::Processed,
        "validated from submitted" => Transition::Validated { from: State::Submitted, event_id: "e2", artifacts: &[] },
        "validated from processed" => Transition::Validated { from: State::Processed, event_id: "e2", artifacts: &[] },
        "normalized" => Transition::Normalized { json: record },
        "failed" => Transition::Failed { cause: FailureCause::ResultsUnavailable, reason },
        "callback lost" => Transition::Failed { cause: FailureCause::CallbackLost, reason },
        "job failed" => Transition::Failed { cause: FailureCause::ProviderFailedJob, reason },
        "rejected" => Transition::Rejected { cause: FailureCause::ResultsInvalid, reason },
        "restarted" => Transition::Restarted { origin: 99, reason: "retried" },
        _ => unreachable!("{name}"),
    }
}

/// Every transition from every state: it moves the document only from the states written
/// here (not read from `Transition`, so the rules themselves are checked), and records
/// its stage's attempt, the error and the cause of a failure, and clears them otherwise.
async fn every_write_moves_a_document_only_from_its_states(docs: Arc<dyn Documents>) {
    use State::{Failed, Processed, Received, Rejected, Submitted, Validated};
    let writes: [(&str, &[State], State); 10] = [
        ("submitted", &[Received], Submitted),
        ("processed", &[Submitted], Processed),
        ("validated from submitted", &[Submitted], Validated),
        ("validated from processed", &[Processed], Validated),
        ("normalized", &[Validated], State::Normalized),
        ("failed", &[Received, Submitted, Processed, Validated], Failed),
        ("callback lost", &[Submitted], Failed),
        ("job failed", &[Processed], Failed),
        ("rejected", &[Processed], Rejected),
        ("restarted", &[Failed, Rejected], Received),
    ];
    let (record, job) = (record(), JobId::from("job-1"));
    for (name, from, to) in writes {
        for start in State::ALL {
            let id = document_in(&*docs, start).await;
            let key = submission(id, 0);
            let write = transition(name, &key, &job, &record);
            let stage = match to {
                Received | Submitted => TRANSFER,
                State::Normalized => StageId::Normalize,
                _ => VALIDATE,
            };
            let allowed = from.contains(&start);
            assert_eq!(docs.apply(id, write, By::new(stage, 2)).await.unwrap(), allowed, "{name} from {start}");
            let document = docs.get(id).await.unwrap().unwrap();
            assert_eq!(document.state, if allowed { to } else { start }, "{name} from {start}");
            if allowed {
                assert_eq!(document.attempts[stage.as_str()], 2, "{name} from {start}");
                let failure = to.is_failure();
                assert_eq!(document.error_stage.as_deref(), failure.then_some("validate"), "{name} from {start}");
                assert_eq!(document.error_reason.as_deref(), failure.then_some("gave up"), "{name} from {start}");
                let cause = write.cause().filter(|_| failure);
                assert_eq!(document.failure_cause, cause, "{name} from {start}: set by failing, cleared by leaving");
            }
        }
    }
    // A write from no state (validated from a state read elsewhere), or to a document that
    // does not exist, changes nothing.
    let id = document_in(&*docs, State::Received).await;
    let stale = Transition::Validated { from: State::Received, event_id: "evt", artifacts: &[] };
    assert!(!docs.apply(id, stale, By::new(VALIDATE, 1)).await.unwrap());
    let unknown = DocumentId(uuid::Uuid::new_v4());
    assert!(!fail(&*docs, unknown, FailureCause::FileRefused).await);
    assert!(docs.get(unknown).await.unwrap().is_none());
}

async fn a_document_is_recorded_once(docs: Arc<dyn Documents>) {
    let new = new_document();
    let (first, inserted) = docs.record_received(&new, TRANSFER, 1, Some(7)).await.unwrap();
    assert!(inserted);
    assert_eq!((first.state, first.submission_round, first.round_origin), (State::Received, 0, Some(7)));
    assert!(fail(&*docs, new.id, FailureCause::FileRefused).await);
    let (again, inserted) = docs.record_received(&new, TRANSFER, 2, Some(8)).await.unwrap();
    assert!(!inserted);
    assert_eq!((again.state, again.round_origin), (State::Failed, Some(7)), "the row as it is");
}

async fn a_restart_starts_the_next_round_once_per_message(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Submitted).await;
    assert!(fail(&*docs, id, FailureCause::ResultsUnavailable).await);
    assert!(!restart(&*docs, id, 1).await, "the message that started round 0");
    assert!(restart(&*docs, id, 5).await);
    let document = docs.get(id).await.unwrap().unwrap();
    assert_eq!((document.state, document.submission_round, document.round_origin), (State::Received, 1, Some(5)));
    assert_eq!((document.provider_job_id, document.submission_id), (None, None));
    assert_eq!((document.error_stage, document.error_reason), (None, None));
    assert!(!restart(&*docs, id, 6).await, "received: nothing to restart");
    assert!(fail(&*docs, id, FailureCause::FileRefused).await);
    assert!(!restart(&*docs, id, 5).await, "its redelivery after round 1 failed");
    assert!(restart(&*docs, id, 6).await);
    assert_eq!(docs.get(id).await.unwrap().unwrap().submission_round, 2);
}

async fn a_job_is_recorded_only_in_the_current_round(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Failed).await;
    assert!(restart(&*docs, id, 5).await);
    let late = docs
        .apply(
            id,
            Transition::Submit {
                round: 0,
                provider: "sim",
                submission_id: &submission(id, 0),
                job_id: &JobId::from("job-old"),
            },
            By::new(TRANSFER, 3),
        )
        .await;
    assert!(!late.unwrap(), "a step of round 0 never records its job in round 1");
    assert!(
        docs.apply(
            id,
            Transition::Submit {
                round: 1,
                provider: "sim",
                submission_id: &submission(id, 1),
                job_id: &JobId::from("job-new")
            },
            By::new(TRANSFER, 1)
        )
        .await
        .unwrap()
    );
    let document = docs.get(id).await.unwrap().unwrap();
    assert_eq!(document.provider_job_id, Some(JobId::from("job-new")));
    assert_eq!(document.submission_id, Some(submission(id, 1)));
    assert_eq!(docs.submission_of_job(id, &JobId::from("job-new")).await.unwrap(), Some(submission(id, 1)));
    assert_eq!(docs.submission_of_job(id, &JobId::from("job-old")).await.unwrap(), None);
}

/// The same delivery handled twice at once (two processes): one write matches.
async fn the_same_write_applied_twice_at_once_moves_the_document_once(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Received).await;
    let key = submission(id, 0);
    let (job_a, job_b) = (JobId::from("job-a"), JobId::from("job-b"));
    let (a, b) = tokio::join!(
        docs.apply(
            id,
            Transition::Submit { round: 0, provider: "sim", submission_id: &key, job_id: &job_a },
            By::new(TRANSFER, 1)
        ),
        docs.apply(
            id,
            Transition::Submit { round: 0, provider: "sim", submission_id: &key, job_id: &job_b },
            By::new(TRANSFER, 2)
        ),
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one matched");
    let id = document_in(&*docs, State::Failed).await;
    let (a, b) = tokio::join!(
        docs.apply(id, Transition::Restarted { origin: 5, reason: "retried" }, By::new(TRANSFER, 1)),
        docs.apply(id, Transition::Restarted { origin: 6, reason: "notified again" }, By::new(TRANSFER, 1))
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one restart");
    assert_eq!(docs.get(id).await.unwrap().unwrap().submission_round, 1);
}

async fn artifacts_and_the_normalized_record_are_kept_with_their_writes(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Processed).await;
    let rows = [artifact("b.json", 1), artifact("a.json", 2)];
    assert!(
        docs.apply(
            id,
            Transition::Validated { from: State::Processed, event_id: "evt-1", artifacts: &rows },
            By::new(VALIDATE, 1)
        )
        .await
        .unwrap()
    );
    let refused = [artifact("c.json", 3)];
    assert!(
        !docs
            .apply(
                id,
                Transition::Validated { from: State::Processed, event_id: "evt-2", artifacts: &refused },
                By::new(VALIDATE, 2)
            )
            .await
            .unwrap()
    );
    assert_eq!(docs.artifacts(id).await.unwrap(), [artifact("a.json", 2), artifact("b.json", 1)], "by role and name");
    assert!(docs.apply(id, Transition::Normalized { json: &record() }, By::new(StageId::Normalize, 1)).await.unwrap());
    let normalized = docs.get(id).await.unwrap().unwrap().normalized.expect("the record is stored");
    assert_eq!(normalized["word_count"], 3);
}
