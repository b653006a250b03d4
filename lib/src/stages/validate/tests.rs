//! The validate stage's branches, on in-memory ports: no service, milliseconds.

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::*;
use crate::ids::{DocumentId, JobId};
use crate::provider::protocol::{ProviderError, Role};
use crate::stages::memory::{World, db_down};
use crate::stages::ports::Documents;

const FINDINGS: &[u8] =
    br#"{"findings":[{"category":"spelling","severity":"minor","message":"a"}],"word_count":120,"language":"en"}"#;
const CORRECTED: &[u8] = b"Week 3: fractions.\n";

/// A document recorded by transfer; submitted as `job` when one is given.
async fn document(world: &World, job: Option<&str>) -> DocumentId {
    world.document(job).await
}

fn result(role: Role, name: &str, bytes: &[u8], content_type: &str) -> ResultFile {
    ResultFile {
        role,
        name: name.into(),
        url: format!("http://results.test/{name}"),
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
        content_type: content_type.into(),
    }
}

/// The two results of a document, served at `results.test`.
fn results(world: &World) -> Vec<ResultFile> {
    world.results.serve("http://results.test/corrected.txt", 200, CORRECTED);
    world.results.serve("http://results.test/findings.json", 200, FINDINGS);
    vec![
        result(Role::Corrected, "corrected.txt", CORRECTED, "text/plain"),
        result(Role::Findings, "findings.json", FINDINGS, "application/json"),
    ]
}

fn callback(id: DocumentId, job: &str, results: Vec<ResultFile>) -> Callback {
    Callback {
        event_id: format!("evt-{job}"),
        job_id: job.into(),
        reference: id,
        status: CallbackStatus::Completed,
        completed_at: Utc::now(),
        results,
        error: None,
    }
}

fn delivery(world: &World, callback: &Callback, attempt: u64) -> Delivery {
    world.delivery(STAGE, "callbacks.sim", &serde_json::to_vec(callback).unwrap(), attempt, 3)
}

fn stage(world: &World) -> Validate {
    Validate::new(world.settings.clone(), &world.ports())
}

#[tokio::test]
async fn good_results_are_stored_validated_and_passed_to_normalize_with_their_text() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    assert_eq!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Done);

    assert_eq!(world.db.state(id), State::Validated);
    let states: Vec<State> = world.db.timeline(id).into_iter().map(|e| e.0).collect();
    assert_eq!(states, [State::Received, State::Submitted, State::Processed, State::Validated]);
    assert_eq!(world.store.get("results", &format!("{id}/findings/findings.json")).unwrap().as_ref(), FINDINGS);
    assert_eq!(world.db.stored_artifacts(id).len(), 2);
    let requests = world.publisher.on("docflow.normalize");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].message_id, format!("normalize:{id}"));
    let request = requests[0].json();
    assert_eq!(request["v"], 1);
    assert_eq!(request["inputs"]["contents"]["findings"].as_str().unwrap().as_bytes(), FINDINGS);
    assert_eq!(request["inputs"]["artifacts"][0]["key"], format!("{id}/corrected/corrected.txt"));
}

#[tokio::test]
async fn a_callback_before_transfer_recorded_the_job_records_it_itself() {
    let world = World::new(&[]);
    let id = document(&world, None).await;
    let callback = callback(id, "job-early", results(&world));
    assert_eq!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Done);

    let document = world.db.document(id);
    assert_eq!((document.state, document.provider_job_id), (State::Validated, Some(JobId::from("job-early"))));
    assert_eq!(document.submission_id, Some(id.submission_id_for_round("sim", 0).to_string()));
    let submitted = world.db.timeline(id).into_iter().find(|e| e.0 == State::Submitted).unwrap();
    assert_eq!(submitted.1, "validate");
}

#[tokio::test]
async fn a_failed_job_fails_the_document_with_the_providers_reason() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let mut callback = callback(id, "job-1", vec![]);
    callback.status = CallbackStatus::Failed;
    callback.error = Some(ProviderError { code: "codec".into(), message: "unsupported codec".into() });
    assert_eq!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!(document.state, State::Failed);
    assert_eq!(document.error_reason.as_deref(), Some("the provider reported failure: codec: unsupported codec"));
    assert_eq!(document.failure_cause, Some(FailureCause::ProviderFailedJob));
    let states: Vec<State> = world.db.timeline(id).into_iter().map(|e| e.0).collect();
    assert_eq!(states, [State::Received, State::Submitted, State::Processed, State::Failed]);
}

#[tokio::test]
async fn results_that_cannot_be_fetched_retry_with_the_callback_accepted() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    world.results.serve("http://results.test/findings.json", 503, "busy");
    match stage(&world).step(&delivery(&world, &callback, 1)).await {
        Outcome::Retry { after: None, reason } => assert!(reason.contains("503"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(world.db.state(id), State::Processed);
    assert!(world.publisher.published().is_empty());
}

#[tokio::test]
async fn bytes_that_keep_mismatching_are_retried_then_reject_the_document() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    world.results.serve("http://results.test/findings.json", 200, &b"{\"other\":1}"[..]);
    let validate = stage(&world);
    for attempt in 1..MISMATCH_ATTEMPTS {
        let outcome = validate.step(&delivery(&world, &callback, attempt)).await;
        assert!(matches!(outcome, Outcome::Retry { .. }), "attempt {attempt}: {outcome:?}");
    }
    assert_eq!(validate.step(&delivery(&world, &callback, MISMATCH_ATTEMPTS)).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!(document.state, State::Rejected);
    assert_eq!(document.failure_cause, Some(FailureCause::ResultsInvalid));
    assert!(document.error_reason.unwrap().contains("declared"));
    assert_eq!(world.store.get("results", &format!("{id}/findings/findings.json")), None, "deleted again");
}

#[tokio::test]
async fn a_result_from_a_host_not_listed_rejects_the_document_at_once() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let mut results = results(&world);
    results[0].url = "http://169.254.169.254/latest".into();
    let callback = callback(id, "job-1", results);
    assert_eq!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!(document.state, State::Rejected);
    assert_eq!(document.failure_cause, Some(FailureCause::ResultsInvalid));
    assert!(document.error_reason.unwrap().contains("internal address"));
}

#[tokio::test]
async fn a_callback_of_an_earlier_round_is_ignored() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-old")).await;
    let transfer = StageId::Transfer;
    world
        .db
        .apply(id, Transition::Failed { cause: FailureCause::FileRefused, reason: "refused" }, By::new(transfer, 1))
        .await
        .unwrap();
    assert!(
        world.db.apply(id, Transition::Restarted { origin: 9, reason: "retried" }, By::new(transfer, 1)).await.unwrap()
    );
    let round_1 = id.submission_id_for_round("sim", 1).to_string();
    world
        .db
        .apply(
            id,
            Transition::Submit { round: 1, provider: "sim", submission_id: &round_1, job_id: &JobId::from("job-new") },
            By::new(transfer, 1),
        )
        .await
        .unwrap();

    let stale = callback(id, "job-old", results(&world));
    assert_eq!(stage(&world).step(&delivery(&world, &stale, 1)).await, Outcome::Done);
    assert_eq!(world.db.state(id), State::Submitted);
    assert!(world.publisher.published().is_empty());
}

#[tokio::test]
async fn a_callback_naming_another_job_fails_and_fails_no_document() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let stranger = callback(id, "job-2", results(&world));
    let delivery = delivery(&world, &stranger, 1);
    let validate = stage(&world);
    match validate.step(&delivery).await {
        Outcome::Fail { reason, .. } => assert!(reason.contains("names job job-2"), "{reason}"),
        other => panic!("{other:?}"),
    }
    validate.on_dead_letter(&delivery, "no", None).await;
    assert_eq!(world.db.state(id), State::Submitted, "not its callback");
}

#[tokio::test]
async fn callbacks_that_name_nothing_known_fail() {
    let world = World::new(&[]);
    let validate = stage(&world);
    let unknown = callback(DocumentId(uuid::Uuid::new_v4()), "job-1", vec![]);
    assert!(
        matches!(validate.step(&delivery(&world, &unknown, 1)).await, Outcome::Fail { reason, .. } if reason.contains("unknown document"))
    );
    let mut not_an_id = serde_json::to_value(&unknown).unwrap();
    not_an_id["reference"] = "plan.txt".into();
    let not_an_id = world.delivery(STAGE, "callbacks.sim", &serde_json::to_vec(&not_an_id).unwrap(), 1, 3);
    assert!(
        matches!(validate.step(&not_an_id).await, Outcome::Fail { reason, .. } if reason.contains("not valid JSON of the protocol"))
    );
    let elsewhere = world.delivery(STAGE, "callbacks.acme", &serde_json::to_vec(&unknown).unwrap(), 1, 3);
    assert!(matches!(validate.step(&elsewhere).await, Outcome::Fail { reason, .. } if reason.contains("\"acme\"")));
    let garbage = world.delivery(STAGE, "callbacks.sim", b"{", 1, 3);
    assert!(matches!(validate.step(&garbage).await, Outcome::Fail { .. }));
}

#[tokio::test]
async fn a_repeated_callback_of_a_validated_document_publishes_the_request_again() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    let validate = stage(&world);
    world.publisher.fail_next(1);
    assert!(matches!(validate.step(&delivery(&world, &callback, 1)).await, Outcome::Retry { .. }));
    assert_eq!(world.db.state(id), State::Validated);
    assert_eq!(validate.step(&delivery(&world, &callback, 2)).await, Outcome::Done);
    let requests = world.publisher.on("docflow.normalize");
    assert_eq!(requests.len(), 1);
    assert!(requests[0].json().get("inputs").is_none(), "normalize reads what the row has");
}

#[tokio::test]
async fn inputs_too_large_for_the_server_travel_separately() {
    let world = World::new(&[]);
    world.publisher.set_max_payload(200);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    assert_eq!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Done);
    let request = world.publisher.on("docflow.normalize")[0].json();
    assert_eq!(request, serde_json::json!({"v": 1, "document_id": id}));
}

#[tokio::test]
async fn a_database_that_is_down_retries() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    world.db.fail_next(db_down());
    assert!(matches!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Retry { after: None, .. }));
    assert_eq!(world.db.state(id), State::Submitted);
}

#[tokio::test]
async fn the_last_attempt_dead_letters_and_fails_the_document() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    world.results.serve("http://results.test/findings.json", 503, "busy");
    let last = delivery(&world, &callback, world.settings.stages.validate.max_deliver as u64);
    let validate = stage(&world);
    assert!(matches!(validate.step(&last).await, Outcome::Retry { .. }));
    validate.on_dead_letter(&last, "last attempt", None).await;
    let document = world.db.document(id);
    assert_eq!(document.error_stage.as_deref(), Some("validate"));
    assert_eq!(document.failure_cause, Some(FailureCause::ResultsUnavailable));
}

#[tokio::test]
async fn a_document_moved_while_its_results_were_checked_retries_and_records_nothing() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let callback = callback(id, "job-1", results(&world));
    // Another delivery of the callback accepts it between this one's read and its write.
    world.db.before_next("validated", move |db| {
        assert!(db.apply_now(id, Transition::Processed, STAGE));
    });
    let validate = stage(&world);
    assert_eq!(
        validate.step(&delivery(&world, &callback, 1)).await,
        Outcome::retry("the document changed while its results were checked")
    );

    assert!(world.db.take_calls().contains(&"validated"));
    assert_eq!(world.db.state(id), State::Processed);
    assert!(world.db.stored_artifacts(id).is_empty());
    assert!(world.publisher.published().is_empty(), "no normalize request for a document not validated");
    // The redelivery reads where the document is and validates it from there.
    assert_eq!(validate.step(&delivery(&world, &callback, 2)).await, Outcome::Done);
    let states: Vec<State> = world.db.timeline(id).into_iter().map(|e| e.0).collect();
    assert_eq!(states, [State::Received, State::Submitted, State::Processed, State::Validated]);
    assert_eq!(world.db.stored_artifacts(id).len(), 2);
    assert_eq!(world.publisher.on("docflow.normalize").len(), 1);
}

#[tokio::test]
async fn an_html_corrected_file_rejects_the_results_before_anything_is_fetched() {
    let world = World::new(&[]);
    let id = document(&world, Some("job-1")).await;
    let page: &[u8] = b"<html><script>document.cookie='docflow_session=x'</script></html>";
    world.results.serve("http://results.test/corrected.html", 200, page);
    world.results.serve("http://results.test/findings.json", 200, FINDINGS);
    let results = vec![
        result(Role::Corrected, "corrected.html", page, "text/html"),
        result(Role::Findings, "findings.json", FINDINGS, "application/json"),
    ];
    let callback = callback(id, "job-1", results);
    assert_eq!(stage(&world).step(&delivery(&world, &callback, 1)).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!(document.state, State::Rejected);
    let reason = document.error_reason.unwrap_or_default();
    assert!(reason.contains("text/html") && reason.contains("browser"), "{reason}");
    assert!(world.store.get("results", &format!("{id}/corrected/corrected.html")).is_none(), "nothing stored");
    assert!(world.db.stored_artifacts(id).is_empty());
}
