//! The transfer stage's branches, on in-memory ports: no service, milliseconds.

use std::time::Duration;

use super::restart::{Cause, RESTART_HEADER, RestartRequest};
use super::*;
use crate::events::minio::{CreatedObject, created_event};
use crate::provider::client::SubmitError;
use crate::stages::memory::{MemoryProvider, World, db_down};
use crate::worker::Outcome;

mod admission;
mod causes;

const TEXT: &[u8] = b"Week 3: fractions, with a worked example for each.\n";

fn object<'a>(key: &'a str, size: usize, metadata: &[(&str, &str)]) -> CreatedObject<'a> {
    CreatedObject {
        event_name: "s3:ObjectCreated:Put",
        bucket: "uploads",
        key,
        size: size as u64,
        etag: "d41d8cd98f00b204e9800998ecf8427e",
        content_type: "text/plain",
        user_metadata: metadata.iter().map(|(k, v)| (format!("X-Amz-Meta-{k}"), v.to_string())).collect(),
        version_id: None,
        principal_id: "teacher-42",
        source_ip: "127.0.0.1",
        user_agent: "test",
        request_id: "req-1",
        event_time: chrono::Utc::now(),
    }
}

/// Stores `bytes` under `key` in the uploads bucket; the event MinIO sends for it, and
/// the document it becomes.
fn upload(world: &World, key: &str, bytes: &[u8], metadata: &[(&str, &str)]) -> (Vec<u8>, DocumentId) {
    world.store.put("uploads", key, bytes.to_vec());
    let log = created_event(&object(key, bytes.len(), metadata));
    let admitted = minio::admit(&log.records[0], &Boundary::from_settings(&world.settings.s3)).unwrap();
    (serde_json::to_vec(&log).unwrap(), admitted.document_id())
}

fn stage(world: &World) -> Transfer {
    Transfer::new(world.settings.clone(), &world.ports())
}

fn event(world: &World, body: &[u8], attempt: u64, sequence: u64) -> Delivery {
    world.delivery(STAGE, "uploads.minio", body, attempt, sequence)
}

fn round_key(id: DocumentId, round: u32) -> String {
    id.submission_id_for_round("sim", round).to_string()
}

#[tokio::test]
async fn an_upload_is_recorded_submitted_and_watched() {
    let world = World::new(&[]);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    assert_eq!(stage(&world).step(&event(&world, &body, 1, 7)).await, Outcome::Done);

    let document = world.db.document(id);
    let job = MemoryProvider::job_for(&round_key(id, 0));
    assert_eq!((document.state, document.provider_job_id), (State::Submitted, Some(job.clone())));
    assert_eq!(document.round_origin, Some(7));
    let submitted = world.provider.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1);
    assert_eq!((submitted[0].0.as_str(), submitted[0].2.as_deref()), (round_key(id, 0).as_str(), Some(TEXT)));
    assert_eq!(submitted[0].1.callback_url, "http://127.0.0.1:8080/v1/callbacks/sim");
    let timers = world.publisher.on("docflow.watch");
    assert_eq!(timers.len(), 1);
    assert_eq!((timers[0].message_id.clone(), timers[0].document_id), (format!("watch:{id}:{job}"), Some(id)));
    let timer = timers[0].json();
    assert_eq!((timer["v"].as_u64(), timer["job_id"].as_str()), (Some(1), Some(job.as_str())));
}

#[tokio::test]
async fn a_redelivery_after_a_failed_submission_skips_the_recording_and_submits_again() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Transient { detail: "provider answered 503".into() });
    let first = transfer.step(&event(&world, &body, 1, 7)).await;
    assert_eq!(first, Outcome::Retry { after: None, reason: "provider answered 503".into() });
    assert_eq!(world.db.state(id), State::Received);
    assert!(world.db.take_calls().contains(&"record_received"));

    assert_eq!(transfer.step(&event(&world, &body, 2, 7)).await, Outcome::Done);
    assert_eq!(world.db.take_calls(), ["submit"], "the retried hint: no recording read");
    assert_eq!(world.db.state(id), State::Submitted);
    let keys: Vec<String> = world.provider.submitted.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    assert_eq!(keys, [round_key(id, 0), round_key(id, 0)], "one idempotency key for both tries");
}

#[tokio::test]
async fn another_message_for_the_same_document_is_not_taken_for_the_retried_one() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Transient { detail: "down".into() });
    assert!(matches!(transfer.step(&event(&world, &body, 1, 7)).await, Outcome::Retry { .. }));
    world.db.take_calls();
    // A duplicate event (another stream sequence), on its second delivery.
    assert_eq!(transfer.step(&event(&world, &body, 2, 8)).await, Outcome::Done);
    assert_eq!(world.db.take_calls()[0], "record_received");
    assert_eq!(world.db.state(id), State::Submitted);
}

#[tokio::test]
async fn a_callback_that_recorded_the_job_first_leaves_the_redelivery_only_the_timer_to_start() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Transient { detail: "timed out reading the answer".into() });
    assert!(matches!(transfer.step(&event(&world, &body, 1, 7)).await, Outcome::Retry { .. }));
    // The provider had created the job; its callback came, and validate recorded it.
    let job = MemoryProvider::job_for(&round_key(id, 0));
    let validate = StageId::Validate;
    assert!(
        world
            .db
            .apply(
                id,
                Transition::Submit { round: 0, provider: "sim", submission_id: &round_key(id, 0), job_id: &job },
                By::new(validate, 1)
            )
            .await
            .unwrap()
    );

    assert_eq!(transfer.step(&event(&world, &body, 2, 7)).await, Outcome::Done);
    assert_eq!(world.db.document(id).provider_job_id, Some(job.clone()));
    let timers = world.publisher.on("docflow.watch");
    assert_eq!(timers.iter().map(|t| t.message_id.clone()).collect::<Vec<_>>(), [format!("watch:{id}:{job}")]);
    let entries: Vec<State> = world.db.timeline(id).into_iter().map(|e| e.0).collect();
    assert_eq!(entries, [State::Received, State::Submitted], "submitted once, by validate");
}

#[tokio::test]
async fn a_duplicate_event_of_a_submitted_document_submits_nothing_and_keeps_one_timer() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, _) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    assert_eq!(transfer.step(&event(&world, &body, 1, 7)).await, Outcome::Done);
    assert_eq!(transfer.step(&event(&world, &body, 1, 9)).await, Outcome::Done);
    assert_eq!(world.provider.submissions(), 1);
    assert_eq!(world.publisher.on("docflow.watch").len(), 1);
}

#[tokio::test]
async fn the_providers_answers_decide_retry_delay_and_failure() {
    for (error, expected) in [
        (
            SubmitError::Throttled { retry_after: Duration::from_secs(30), detail: "429".into() },
            Outcome::retry_after(Duration::from_secs(30), "429"),
        ),
        (
            SubmitError::Permanent { status: 422, detail: "unsupported".into() },
            Outcome::Fail {
                reason: "unsupported".into(),
                cause: Some(crate::lifecycle::FailureCause::SubmissionRefused),
            },
        ),
    ] {
        let world = World::new(&[]);
        let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
        world.provider.refuse_next(error);
        assert_eq!(stage(&world).step(&event(&world, &body, 1, 7)).await, expected);
        assert_eq!(world.db.state(id), State::Received);
    }
}

#[tokio::test]
async fn the_last_attempt_is_dead_lettered_and_fails_the_document() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    let last = event(&world, &body, world.settings.stages.transfer.max_deliver as u64, 7);
    assert!(last.is_last_attempt());
    world.provider.refuse_next(SubmitError::Transient { detail: "down".into() });
    assert!(matches!(transfer.step(&last).await, Outcome::Retry { .. }), "the runtime dead-letters it");
    transfer.on_dead_letter(&last, "last attempt (8 of 8): down", None).await;
    let document = world.db.document(id);
    assert_eq!(document.state, State::Failed);
    assert_eq!(document.error_stage.as_deref(), Some("transfer"));
    assert_eq!(document.error_reason.as_deref(), Some("last attempt (8 of 8): down"));
}

#[tokio::test]
async fn an_empty_file_is_refused_before_the_provider_sees_it() {
    let world = World::new(&[]);
    let (body, id) = upload(&world, "teacher-42/plan.txt", b"", &[]);
    match stage(&world).step(&event(&world, &body, 1, 7)).await {
        Outcome::Fail { reason, .. } => assert!(reason.contains("empty (0 bytes)"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(world.provider.submissions(), 0);
    assert_eq!(world.db.state(id), State::Received, "failed by on_dead_letter, with the reason");
}

#[tokio::test]
async fn an_object_for_a_provider_that_is_not_configured_fails() {
    let world = World::new(&[]);
    let (body, _) = upload(&world, "teacher-42/plan.txt", TEXT, &[("Provider", "acme")]);
    match stage(&world).step(&event(&world, &body, 1, 7)).await {
        Outcome::Fail { reason, .. } => assert!(reason.contains("\"acme\", which is not configured"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_database_that_is_down_retries_with_the_stages_backoff() {
    let world = World::new(&[]);
    let (body, _) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.db.fail_next(db_down());
    assert!(matches!(stage(&world).step(&event(&world, &body, 1, 7)).await, Outcome::Retry { after: None, .. }));
    assert_eq!(world.provider.submissions(), 0);
}

#[tokio::test]
async fn a_timer_that_cannot_be_published_retries_and_the_redelivery_only_publishes_it() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.publisher.fail_next(1);
    assert!(matches!(transfer.step(&event(&world, &body, 1, 7)).await, Outcome::Retry { .. }));
    assert_eq!(world.db.state(id), State::Submitted);
    assert_eq!(transfer.step(&event(&world, &body, 2, 7)).await, Outcome::Done);
    assert_eq!(world.provider.submissions(), 1);
    assert_eq!(world.publisher.on("docflow.watch").len(), 1);
}

#[tokio::test]
async fn a_replayed_event_restarts_a_failed_document_in_its_next_round() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Permanent { status: 422, detail: "refused".into() });
    let first = event(&world, &body, 1, 7);
    assert!(matches!(transfer.step(&first).await, Outcome::Fail { .. }));
    transfer.on_dead_letter(&first, "refused", None).await;
    assert_eq!(world.db.state(id), State::Failed);

    // Its own redelivery never restarts it.
    assert_eq!(transfer.step(&event(&world, &body, 2, 7)).await, Outcome::Done);
    assert_eq!(world.db.state(id), State::Failed);

    let mut replayed = event(&world, &body, 1, 12);
    replayed.headers.insert(RESTART_HEADER, "replayed");
    assert_eq!(transfer.step(&replayed).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!((document.state, document.submission_round, document.round_origin), (State::Submitted, 1, Some(12)));
    let keys: Vec<String> = world.provider.submitted.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    assert_eq!(keys, [round_key(id, 0), round_key(id, 1)]);
    assert!(world.db.timeline(id).contains(&(State::Received, "transfer".into(), 1, Some("replayed".into()))));
}

#[tokio::test]
async fn a_restart_request_submits_the_document_from_its_row() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Permanent { status: 422, detail: "refused".into() });
    let first = event(&world, &body, 1, 7);
    transfer.step(&first).await;
    transfer.on_dead_letter(&first, "refused", None).await;

    let request = RestartRequest { v: messages::VERSION, document_id: id, cause: Cause::Retried };
    let body = serde_json::to_vec(&request).unwrap();
    let delivery = world.delivery(STAGE, REQUEST_SUBJECT, &body, 1, 20);
    assert_eq!(transfer.document_of(&delivery), Some(id));
    assert_eq!(transfer.step(&delivery).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!((document.state, document.submission_round), (State::Submitted, 1));
    assert_eq!(world.provider.submitted.lock().unwrap()[1].2.as_deref(), Some(TEXT), "the object the row names");

    let unversioned = format!(r#"{{"document_id":"{id}","cause":"retried"}}"#);
    let delivery = world.delivery(STAGE, REQUEST_SUBJECT, unversioned.as_bytes(), 1, 21);
    assert_eq!(transfer.step(&delivery).await, Outcome::Done, "a request of the previous release");
}

#[tokio::test]
async fn a_notification_of_several_records_is_split_into_one_message_each() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    let mut log = created_event(&object("teacher-42/a.txt", 3, &[]));
    log.records.extend(created_event(&object("teacher-42/b.txt", 3, &[])).records);
    let body = serde_json::to_vec(&log).unwrap();
    world.publisher.fail_next(1);
    assert!(matches!(transfer.step(&event(&world, &body, 1, 7)).await, Outcome::Retry { .. }));
    assert_eq!(transfer.step(&event(&world, &body, 2, 7)).await, Outcome::Done);
    let singles = world.publisher.on("docflow.uploads.minio");
    assert_eq!(singles.len(), 2);
    let keys: Vec<serde_json::Value> =
        singles.iter().map(|s| s.json()["Records"][0]["s3"]["object"]["key"].clone()).collect();
    assert_eq!(keys, ["teacher-42%2Fa.txt", "teacher-42%2Fb.txt"]);
    assert_eq!(world.provider.submissions(), 0, "each is transferred as its own message");
}

#[tokio::test]
async fn bodies_that_are_not_events_or_requests_fail_and_events_without_a_creation_are_done() {
    let world = World::new(&[]);
    let transfer = stage(&world);
    assert!(matches!(transfer.step(&event(&world, b"not json", 1, 7)).await, Outcome::Fail { .. }));
    let restart = world.delivery(STAGE, REQUEST_SUBJECT, b"{}", 1, 8);
    assert!(
        matches!(transfer.step(&restart).await, Outcome::Fail { reason, .. } if reason.starts_with("not a restart request"))
    );
    let mut log = created_event(&object("teacher-42/a.txt", 3, &[]));
    log.records[0].event_name = "s3:ObjectRemoved:Delete".into();
    let body = serde_json::to_vec(&log).unwrap();
    assert_eq!(transfer.step(&event(&world, &body, 1, 9)).await, Outcome::Done);
}

/// Waits until the provider has received `n` submissions.
async fn submissions(world: &World, n: usize) {
    let provider = &world.provider;
    crate::testkit::wait_for("the submissions", Duration::from_secs(5), move || async move {
        (provider.submissions() == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_open_breaker_holds_the_next_document_without_submitting_it() {
    let world = World::new(&[
        ("DOCFLOW__PROVIDERS__SIM__BREAKER__FAILURES", "1"),
        ("DOCFLOW__PROVIDERS__SIM__BREAKER__PROBE_AFTER", "60s"),
    ]);
    let transfer = stage(&world);
    let (first, _) = upload(&world, "teacher-42/a.txt", TEXT, &[]);
    let (second, id) = upload(&world, "teacher-42/b.txt", TEXT, &[]);
    world.provider.refuse_next(SubmitError::Transient { detail: "provider answered 503".into() });
    assert!(matches!(transfer.step(&event(&world, &first, 1, 7)).await, Outcome::Retry { .. }), "opens the breaker");
    world.db.take_calls();

    match transfer.step(&event(&world, &second, 1, 8)).await {
        Outcome::Hold { after, reason } => {
            assert!((Duration::from_secs(59)..=Duration::from_secs(75)).contains(&after), "{after:?}");
            assert_eq!(reason, "provider sim is busy or down (breaker open); held");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(world.provider.submissions(), 1, "only the submission that opened it");
    assert!(!world.db.take_calls().contains(&"submit"));
    assert_eq!(world.db.timeline(id).into_iter().map(|e| e.0).collect::<Vec<_>>(), [State::Received]);
    assert!(world.publisher.published().is_empty(), "no watch timer");
    // A hold is not a retry: its redelivery takes the full path, recording included.
    assert!(matches!(transfer.step(&event(&world, &second, 2, 8)).await, Outcome::Hold { .. }));
    assert_eq!(world.db.take_calls()[0], "record_received");
    assert_eq!(world.provider.submissions(), 1);
}

#[tokio::test]
async fn a_provider_whose_slots_are_all_taken_holds_the_next_document_until_one_is_free() {
    let world = World::new(&[("DOCFLOW__PROVIDERS__SIM__CONCURRENCY", "1")]);
    let transfer = stage(&world);
    let (first, first_id) = upload(&world, "teacher-42/a.txt", TEXT, &[]);
    let (second, id) = upload(&world, "teacher-42/b.txt", TEXT, &[]);
    let (in_flight, next) = (event(&world, &first, 1, 7), event(&world, &second, 1, 8));
    world.provider.pause();
    let (done, held) = tokio::join!(transfer.step(&in_flight), async {
        submissions(&world, 1).await;
        let held = transfer.step(&next).await;
        world.provider.resume();
        held
    });

    assert_eq!(done, Outcome::Done);
    match held {
        Outcome::Hold { after, reason } => {
            assert!((Duration::from_secs(2)..=Duration::from_millis(2500)).contains(&after), "{after:?}");
            assert_eq!(reason, "provider sim is busy or down (breaker closed); held");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(world.provider.submissions(), 1);
    assert_eq!((world.db.state(first_id), world.db.state(id)), (State::Submitted, State::Received));
    assert_eq!(world.publisher.on("docflow.watch").len(), 1);
    // The slot is free again: the held document goes.
    assert_eq!(transfer.step(&event(&world, &second, 2, 8)).await, Outcome::Done);
    assert_eq!(world.db.state(id), State::Submitted);
    assert_eq!(world.provider.submissions(), 2);
}

#[tokio::test]
async fn a_provider_that_takes_urls_gets_a_presigned_url_instead_of_the_body() {
    let world =
        World::new(&[("DOCFLOW__PROVIDERS__SIM__DELIVERY", "url"), ("DOCFLOW__PROVIDERS__SIM__URL_TTL", "15m")]);
    let (body, id) = upload(&world, "teacher-42/plan.txt", TEXT, &[]);
    assert_eq!(stage(&world).step(&event(&world, &body, 1, 7)).await, Outcome::Done);

    let submitted = world.provider.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1);
    let (key, meta, sent) = &submitted[0];
    assert_eq!((key.as_str(), sent.as_deref()), (round_key(id, 0).as_str(), None), "no body streamed");
    assert_eq!(meta.source_url.as_deref(), Some("http://store.test/uploads/teacher-42/plan.txt?expires=900"));
    assert_eq!(meta.size, TEXT.len() as u64);
    let job = MemoryProvider::job_for(&round_key(id, 0));
    let document = world.db.document(id);
    assert_eq!((document.state, document.provider_job_id), (State::Submitted, Some(job.clone())));
    assert_eq!(world.publisher.on("docflow.watch")[0].message_id, format!("watch:{id}:{job}"));
}
