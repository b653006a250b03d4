//! Every round through one admission: a document refused once is refused again however
//! it is restarted, and the provider never hears of it.

use super::*;

/// Text under a name that promises a Word file: pre-flight refuses it.
const KEY: &str = "teacher-42/plan.docx";
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01];

/// Steps `delivery`, which must fail, then dead-letters it as the runtime would: the reason.
async fn refused(transfer: &Transfer, delivery: &Delivery) -> String {
    let outcome = transfer.step(delivery).await;
    let Outcome::Fail { reason, cause } = outcome else { panic!("{} was not refused: {outcome:?}", delivery.subject) };
    transfer.on_dead_letter(delivery, &reason, cause).await;
    reason
}

/// The document `failed` in its round: the provider was down to the last attempt.
async fn failed_by_an_outage(world: &World, id: DocumentId) {
    let failed = Transition::Failed { cause: FailureCause::SubmissionGaveUp, reason: "provider down" };
    assert!(world.db.apply(id, failed, By::new(STAGE, 1)).await.unwrap());
}

fn restart_request(world: &World, id: DocumentId, sequence: u64) -> Delivery {
    let body =
        serde_json::to_vec(&RestartRequest { v: messages::VERSION, document_id: id, cause: Cause::Retried }).unwrap();
    world.delivery(STAGE, REQUEST_SUBJECT, &body, 1, sequence)
}

fn reasons(world: &World, id: DocumentId) -> Vec<String> {
    world.db.timeline(id).into_iter().filter_map(|entry| entry.3).collect()
}

/// A document pre-flight refused in round 0, `failed` with the reason.
async fn refused_once(world: &World, transfer: &Transfer) -> (Vec<u8>, DocumentId) {
    let (body, id) = upload(world, KEY, TEXT, &[]);
    let reason = refused(transfer, &event(world, &body, 1, 7)).await;
    assert!(reason.contains("named .docx but is not a Word file"), "{reason}");
    assert_eq!(world.db.state(id), State::Failed);
    assert_eq!(world.db.document(id).failure_cause, Some(crate::lifecycle::FailureCause::FileRefused));
    (body, id)
}

#[tokio::test]
async fn the_same_bytes_notified_again_after_a_refusal_are_refused_again_in_a_new_round() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = refused_once(&world, &transfer).await;

    // Restarted in round 1, refused; its redelivery (a crash before the dead letter) is
    // refused again in the same round.
    assert!(matches!(transfer.step(&event(&world, &body, 1, 9)).await, Outcome::Fail { .. }));
    let reason = refused(&transfer, &event(&world, &body, 2, 9)).await;
    assert!(reason.contains("named .docx"), "{reason}");
    let document = world.db.document(id);
    assert_eq!((document.state, document.submission_round, document.round_origin), (State::Failed, 1, Some(9)));
    assert!(reasons(&world, id).contains(&"notified again".to_owned()));
    // Once it failed, that message's redelivery changes nothing.
    assert_eq!(transfer.step(&event(&world, &body, 3, 9)).await, Outcome::Done);
    assert_eq!((world.db.state(id), world.db.document(id).submission_round), (State::Failed, 1));
    assert_eq!(world.provider.submissions(), 0, "the provider never saw it");
}

#[tokio::test]
async fn a_replay_or_a_retry_of_a_refused_document_is_refused_again_without_a_job() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = refused_once(&world, &transfer).await;

    let mut replayed = event(&world, &body, 1, 12);
    replayed.headers.insert(RESTART_HEADER, "replayed");
    assert!(refused(&transfer, &replayed).await.contains("named .docx"));
    let retried = restart_request(&world, id, 13);
    assert!(refused(&transfer, &retried).await.contains("named .docx"));

    let document = world.db.document(id);
    assert_eq!((document.state, document.submission_round), (State::Failed, 2));
    assert_eq!(document.failure_cause, Some(crate::lifecycle::FailureCause::FileRefused), "every round refused");
    assert_eq!(document.error_reason.as_deref().map(|r| r.contains("named .docx")), Some(true));
    let reasons = reasons(&world, id);
    assert!(reasons.contains(&"replayed".to_owned()) && reasons.contains(&"retried".to_owned()), "{reasons:?}");
    assert_eq!(world.provider.submissions(), 0);
    assert!(world.publisher.on("docflow.watch").is_empty());
}

#[tokio::test]
async fn a_restart_reads_the_object_again_and_refuses_bytes_pre_flight_refuses() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Permanent { status: 422, detail: "refused".into() });
    assert_eq!(refused(&transfer, &event(&world, &body, 1, 7)).await, "refused");
    // The object now holds a picture: a retry, and a new notification, are refused.
    world.store.put("uploads", "teacher-42/plan.txt", JPEG.to_vec());
    assert!(refused(&transfer, &restart_request(&world, id, 8)).await.contains("a picture"));
    assert!(refused(&transfer, &event(&world, &body, 1, 9)).await.contains("a picture"));
    assert_eq!(world.provider.submissions(), 1, "only round 0's");
    assert_eq!(world.db.document(id).submission_round, 2);

    // Restored, the next retry is submitted in its own round.
    world.store.put("uploads", "teacher-42/plan.txt", TEXT.to_vec());
    assert_eq!(transfer.step(&restart_request(&world, id, 10)).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!((document.state, document.submission_round), (State::Submitted, 3));
    assert_eq!(world.provider.submitted.lock().unwrap()[1].0, round_key(id, 3));
}

#[tokio::test]
async fn a_restart_of_a_document_outside_the_uploads_bucket_is_refused_at_the_boundary() {
    let world = World::new(&[("DOCFLOW__S3__UPLOADS_BUCKET", "lessons")]);
    let transfer = stage(&world);
    // Recorded in `uploads` when that was the uploads bucket; failed since.
    let id = world.document(None).await;
    world.store.put("uploads", "teacher-42/plan.txt", TEXT.to_vec());
    failed_by_an_outage(&world, id).await;

    let reason = refused(&transfer, &restart_request(&world, id, 8)).await;
    assert!(reason.contains("bucket \"uploads\" is not the uploads bucket \"lessons\""), "{reason}");
    assert_eq!(world.provider.submissions(), 0);
    assert_eq!(world.db.state(id), State::Failed);
}

#[tokio::test]
async fn a_restart_of_a_document_whose_provider_is_gone_fails_without_a_submission() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let id = DocumentId(uuid::Uuid::new_v4());
    let new = NewDocument {
        id,
        kind: Kind::Document,
        uploader_id: "teacher-42".into(),
        bucket: "uploads".into(),
        key: "teacher-42/plan.txt".into(),
        version_id: None,
        etag: None,
        size: TEXT.len() as i64,
        content_type: "text/plain".into(),
        provider: "gone".into(),
    };
    world.db.record_received(&new, STAGE, 1, Some(1)).await.unwrap();
    failed_by_an_outage(&world, id).await;

    let reason = refused(&transfer, &restart_request(&world, id, 8)).await;
    assert!(reason.contains("provider \"gone\", which is no longer configured"), "{reason}");
    assert_eq!(world.provider.submissions(), 0);
}
