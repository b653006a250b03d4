//! The cause each way transfer ends a document stores: the file refused, the upload gone,
//! the provider refusing the submission, the attempts running out.

use super::*;
use crate::lifecycle::FailureCause;
use crate::stages::ports::Objects;

/// Steps `delivery` and, when the runtime would dead-letter it (a failure, or a retry on
/// the last attempt), calls `on_dead_letter` as the runtime does: the cause the document
/// then has.
async fn ended(world: &World, transfer: &Transfer, delivery: &Delivery, id: DocumentId) -> Option<FailureCause> {
    match transfer.step(delivery).await {
        Outcome::Fail { reason, cause } => transfer.on_dead_letter(delivery, &reason, cause).await,
        Outcome::Retry { reason, .. } if delivery.is_last_attempt() => {
            transfer.on_dead_letter(delivery, &reason, None).await
        }
        other => panic!("not ended: {other:?}"),
    }
    let document = world.db.document(id);
    assert_eq!(document.state, State::Failed);
    document.failure_cause
}

#[tokio::test]
async fn a_file_pre_flight_refuses_is_stored_as_file_refused() {
    let world = World::new(&[]);
    let (body, id) = upload(&world, "teacher-42/plan.txt", b"", &[]);
    let cause = ended(&world, &stage(&world), &event(&world, &body, 1, 7), id).await;
    assert_eq!(cause, Some(FailureCause::FileRefused));
    assert_eq!(world.provider.submissions(), 0);
}

#[tokio::test]
async fn an_upload_deleted_before_its_submission_is_stored_as_unreadable() {
    let world = World::new(&[]);
    // A video: pre-flight checks its size only, so the submission is the first to read it.
    let (body, id) = upload(&world, "teacher-42/lesson.mp4", TEXT, &[("Kind", "video")]);
    world.store.delete("uploads", "teacher-42/lesson.mp4").await.unwrap();
    let cause = ended(&world, &stage(&world), &event(&world, &body, 1, 7), id).await;
    assert_eq!(cause, Some(FailureCause::UploadUnreadable));
}

#[tokio::test]
async fn a_submission_the_provider_refuses_for_good_is_stored_as_refused() {
    let world = World::new(&[]);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Permanent { status: 422, detail: "unknown field".into() });
    let cause = ended(&world, &stage(&world), &event(&world, &body, 1, 7), id).await;
    assert_eq!(cause, Some(FailureCause::SubmissionRefused));
}

#[tokio::test]
async fn a_provider_down_to_the_last_attempt_is_stored_as_given_up() {
    let world = World::new(&[]);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Transient { detail: "down".into() });
    let last = event(&world, &body, world.settings.stages.transfer.max_deliver as u64, 7);
    let cause = ended(&world, &stage(&world), &last, id).await;
    assert_eq!(cause, Some(FailureCause::SubmissionGaveUp));
}

#[tokio::test]
async fn a_restart_clears_the_cause() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Permanent { status: 422, detail: "unknown field".into() });
    ended(&world, &transfer, &event(&world, &body, 1, 7), id).await;
    let mut replayed = event(&world, &body, 1, 12);
    replayed.headers.insert(RESTART_HEADER, "replayed");
    assert_eq!(transfer.step(&replayed).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!((document.state, document.failure_cause), (State::Submitted, None));
}
