//! One conformance suite for the documents port ([`Documents`]), run against each
//! implementation: PostgreSQL and SQLite (`Db`) and the in-memory one the stages' unit
//! tests use (`MemoryDb`). Every guarded write from every state, rounds, and the same
//! write applied twice at once: the stage tests on the in-memory copy are only worth
//! what this suite holds it to.

use std::sync::Arc;

use crate::db::{ArtifactRow, NewDocument, State};
use crate::ids::{DocumentId, Kind};
use crate::lifecycle::FailureCause;
use crate::stages::StageId;
use crate::stages::normalize::record::Record;
use crate::stages::ports::Documents;

/// Runs `body` against the in-memory port, SQLite and PostgreSQL, as three tests.
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
                let target = crate::db::tests::sqlite().await;
                super::$name(Arc::new(target.db.clone())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let target = crate::db::tests::postgres().await;
                let url = target.url.clone();
                let outcome = tokio::spawn(super::$name(Arc::new(target.db.clone()))).await;
                crate::db::testing::drop_postgres(&url).await;
                if let Err(panic) = outcome {
                    std::panic::resume_unwind(panic.into_panic());
                }
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

fn new_document() -> NewDocument {
    let id = DocumentId(uuid::Uuid::new_v4());
    NewDocument {
        id,
        kind: Kind::Document,
        uploader_id: "teacher-42".into(),
        bucket: "uploads".into(),
        key: format!("teacher-42/{id}.txt"),
        version_id: None,
        etag: Some("etag".into()),
        size: 19,
        content_type: "text/plain".into(),
        provider: "sim".into(),
    }
}

fn submission(id: DocumentId, round: u32) -> String {
    id.submission_id_for_round("sim", round).to_string()
}

fn artifact(name: &str, size: i64) -> ArtifactRow {
    ArtifactRow {
        role: "findings".into(),
        name: name.into(),
        key: format!("results/{name}"),
        size,
        sha256: "ab".into(),
        content_type: "application/json".into(),
    }
}

fn record() -> Record {
    serde_json::from_value(serde_json::json!({
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
    .expect("a normalized record")
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
                docs.mark_submitted_in_round(id, 0, "sim", &submission(id, 0), "job-0", TRANSFER, 1).await
            }
            State::Processed => docs.transition(id, &[State::Submitted], State::Processed, VALIDATE, 1, None).await,
            State::Validated => docs.record_validated(id, State::Submitted, "evt", &[], VALIDATE, 1).await,
            State::Normalized => docs.store_normalized(id, &record(), StageId::Normalize, 1).await,
            State::Failed => docs.mark_failed(id, TRANSFER, 1, FailureCause::FileRefused, "refused").await,
            State::Rejected => {
                docs.transition(id, &[State::Processed], State::Rejected, VALIDATE, 1, Some("bad results")).await
            }
            State::Received => unreachable!("the path starts there"),
        };
        assert!(moved.unwrap(), "{step} on the way to {target}");
    }
    assert_eq!(state(docs, id).await, target);
    id
}

/// Each write the stages make, and the states it may move a document from.
async fn every_write_moves_a_document_only_from_its_states(docs: Arc<dyn Documents>) {
    type Write = fn(&dyn Documents, DocumentId) -> futures_util::future::BoxFuture<'_, bool>;
    let writes: [(&str, &[State], State, Write); 7] = [
        ("submitted", &[State::Received], State::Submitted, |d, id| {
            Box::pin(async move {
                d.mark_submitted_in_round(id, 0, "sim", &submission(id, 0), "job-1", TRANSFER, 2).await.unwrap()
            })
        }),
        ("processed", &[State::Submitted], State::Processed, |d, id| {
            Box::pin(async move {
                d.transition(id, &[State::Submitted], State::Processed, VALIDATE, 2, None).await.unwrap()
            })
        }),
        ("validated from submitted", &[State::Submitted], State::Validated, |d, id| {
            Box::pin(async move { d.record_validated(id, State::Submitted, "evt-2", &[], VALIDATE, 2).await.unwrap() })
        }),
        ("validated from processed", &[State::Processed], State::Validated, |d, id| {
            Box::pin(async move { d.record_validated(id, State::Processed, "evt-2", &[], VALIDATE, 2).await.unwrap() })
        }),
        ("normalized", &[State::Validated], State::Normalized, |d, id| {
            Box::pin(async move { d.store_normalized(id, &record(), StageId::Normalize, 2).await.unwrap() })
        }),
        ("failed", &State::NON_TERMINAL, State::Failed, |d, id| {
            Box::pin(async move {
                d.mark_failed(id, VALIDATE, 2, FailureCause::ResultsUnavailable, "gave up").await.unwrap()
            })
        }),
        ("restarted", &[State::Failed, State::Rejected], State::Received, |d, id| {
            Box::pin(async move { d.restart(id, 99, "retried", TRANSFER, 2).await.unwrap() })
        }),
    ];
    for (name, from, to, write) in writes {
        for start in State::ALL {
            let id = document_in(&*docs, start).await;
            let allowed = from.contains(&start);
            assert_eq!(write(&*docs, id).await, allowed, "{name} from {start}");
            let document = docs.get(id).await.unwrap().unwrap();
            assert_eq!(document.state, if allowed { to } else { start }, "{name} from {start}");
            if allowed {
                let stage = match to {
                    State::Received | State::Submitted => "transfer",
                    State::Normalized => "normalize",
                    _ => "validate",
                };
                assert_eq!(document.attempts[stage], 2, "{name} from {start}");
                let failed = to == State::Failed;
                assert_eq!(document.error_stage.as_deref(), failed.then_some("validate"), "{name} from {start}");
                assert_eq!(document.error_reason.as_deref(), failed.then_some("gave up"), "{name} from {start}");
                let cause = failed.then_some(FailureCause::ResultsUnavailable);
                assert_eq!(document.failure_cause, cause, "{name} from {start}: set by failing, cleared by leaving");
            }
        }
    }
    // A write naming no state, or a document that does not exist, changes nothing.
    let id = document_in(&*docs, State::Received).await;
    assert!(!docs.transition(id, &[], State::Submitted, VALIDATE, 1, None).await.unwrap());
    let unknown = DocumentId(uuid::Uuid::new_v4());
    assert!(!docs.mark_failed(unknown, TRANSFER, 1, FailureCause::FileRefused, "gone").await.unwrap());
    assert!(docs.get(unknown).await.unwrap().is_none());
}

async fn a_document_is_recorded_once(docs: Arc<dyn Documents>) {
    let new = new_document();
    let (first, inserted) = docs.record_received(&new, TRANSFER, 1, Some(7)).await.unwrap();
    assert!(inserted);
    assert_eq!((first.state, first.submission_round, first.round_origin), (State::Received, 0, Some(7)));
    assert!(docs.mark_failed(new.id, TRANSFER, 1, FailureCause::FileRefused, "refused").await.unwrap());
    let (again, inserted) = docs.record_received(&new, TRANSFER, 2, Some(8)).await.unwrap();
    assert!(!inserted);
    assert_eq!((again.state, again.round_origin), (State::Failed, Some(7)), "the row as it is");
}

async fn a_restart_starts_the_next_round_once_per_message(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Submitted).await;
    assert!(docs.mark_failed(id, VALIDATE, 1, FailureCause::ProviderFailedJob, "job failed").await.unwrap());
    assert!(!docs.restart(id, 1, "notified again", TRANSFER, 1).await.unwrap(), "the message that started round 0");
    assert!(docs.restart(id, 5, "retried", TRANSFER, 1).await.unwrap());
    let document = docs.get(id).await.unwrap().unwrap();
    assert_eq!((document.state, document.submission_round, document.round_origin), (State::Received, 1, Some(5)));
    assert_eq!((document.provider_job_id, document.submission_id), (None, None));
    assert_eq!((document.error_stage, document.error_reason), (None, None));
    assert!(!docs.restart(id, 6, "replayed", TRANSFER, 1).await.unwrap(), "received: nothing to restart");
    assert!(docs.mark_failed(id, TRANSFER, 1, FailureCause::FileRefused, "refused").await.unwrap());
    assert!(!docs.restart(id, 5, "retried", TRANSFER, 2).await.unwrap(), "its redelivery after round 1 failed");
    assert!(docs.restart(id, 6, "replayed", TRANSFER, 1).await.unwrap());
    assert_eq!(docs.get(id).await.unwrap().unwrap().submission_round, 2);
}

async fn a_job_is_recorded_only_in_the_current_round(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Failed).await;
    assert!(docs.restart(id, 5, "retried", TRANSFER, 1).await.unwrap());
    let late = docs.mark_submitted_in_round(id, 0, "sim", &submission(id, 0), "job-old", TRANSFER, 3).await;
    assert!(!late.unwrap(), "a step of round 0 never records its job in round 1");
    assert!(docs.mark_submitted_in_round(id, 1, "sim", &submission(id, 1), "job-new", TRANSFER, 1).await.unwrap());
    let document = docs.get(id).await.unwrap().unwrap();
    assert_eq!(document.provider_job_id.as_deref(), Some("job-new"));
    assert_eq!(document.submission_id, Some(submission(id, 1)));
    assert_eq!(docs.submission_of_job(id, "job-new").await.unwrap(), Some(submission(id, 1)));
    assert_eq!(docs.submission_of_job(id, "job-old").await.unwrap(), None);
}

/// The same delivery handled twice at once (two processes): one write matches.
async fn the_same_write_applied_twice_at_once_moves_the_document_once(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Received).await;
    let key = submission(id, 0);
    let (a, b) = tokio::join!(
        docs.mark_submitted_in_round(id, 0, "sim", &key, "job-a", TRANSFER, 1),
        docs.mark_submitted_in_round(id, 0, "sim", &key, "job-b", TRANSFER, 2),
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one matched");
    let id = document_in(&*docs, State::Failed).await;
    let (a, b) =
        tokio::join!(docs.restart(id, 5, "retried", TRANSFER, 1), docs.restart(id, 6, "notified again", TRANSFER, 1));
    assert!(a.unwrap() ^ b.unwrap(), "exactly one restart");
    assert_eq!(docs.get(id).await.unwrap().unwrap().submission_round, 1);
}

async fn artifacts_and_the_normalized_record_are_kept_with_their_writes(docs: Arc<dyn Documents>) {
    let id = document_in(&*docs, State::Processed).await;
    let rows = [artifact("b.json", 1), artifact("a.json", 2)];
    assert!(docs.record_validated(id, State::Processed, "evt-1", &rows, VALIDATE, 1).await.unwrap());
    let refused = [artifact("c.json", 3)];
    assert!(!docs.record_validated(id, State::Processed, "evt-2", &refused, VALIDATE, 2).await.unwrap());
    assert_eq!(docs.artifacts(id).await.unwrap(), [artifact("a.json", 2), artifact("b.json", 1)], "by role and name");
    assert!(docs.store_normalized(id, &record(), StageId::Normalize, 1).await.unwrap());
    let normalized = docs.get(id).await.unwrap().unwrap().normalized.expect("the record is stored");
    assert_eq!(normalized["word_count"], 3);
}
