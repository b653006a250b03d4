//! The watchdog's branches, on in-memory ports: no service, milliseconds.

use chrono::Utc;

use super::*;
use crate::ids::DocumentId;
use crate::provider::protocol::{JobState, JobStatus};
use crate::stages::memory::{World, db_down};
use crate::stages::ports::Documents;

/// A document submitted as `job-1`.
async fn submitted(world: &World) -> DocumentId {
    world.document(Some("job-1")).await
}

/// A timer of `id` with `checks` made, whose deadline is `deadline_in` from now.
fn timer(id: DocumentId, checks: u32, round: u32, deadline_in: chrono::Duration) -> WatchTimer {
    let now = Utc::now();
    WatchTimer {
        v: messages::VERSION,
        document_id: id,
        provider: "sim".into(),
        job_id: "job-1".into(),
        submitted_at: now - chrono::Duration::hours(7),
        deadline: now + deadline_in,
        round,
        checks,
    }
}

fn due(world: &World, timer: &WatchTimer) -> Delivery {
    world.delivery(STAGE, "watch", &serde_json::to_vec(timer).unwrap(), 1, 11)
}

fn stage(world: &World) -> Watchdog {
    Watchdog::new(world.settings.clone(), &world.ports())
}

fn status(state: JobState, id: DocumentId) -> JobStatus {
    JobStatus {
        job_id: "job-1".into(),
        status: state,
        event_id: Some("evt-9".into()),
        reference: Some(id.to_string()),
        completed_at: Some(Utc::now()),
        results: vec![],
        error: None,
    }
}

const PAST: chrono::Duration = chrono::Duration::minutes(-1);

#[tokio::test]
async fn a_timer_not_yet_due_goes_back_to_sleep_without_reading_anything() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    let sleeping = timer(id, MAX_CHECKS, 0, chrono::Duration::hours(1));
    match stage(&world).step(&due(&world, &sleeping)).await {
        Outcome::Later { after, .. } => assert!(after > Duration::from_secs(3500), "{after:?}"),
        other => panic!("{other:?}"),
    }
    assert!(world.db.take_calls().iter().all(|c| *c != "get"));
}

#[tokio::test]
async fn a_job_still_running_at_an_early_check_gets_the_next_check() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    assert_eq!(stage(&world).step(&due(&world, &timer(id, 0, 0, chrono::Duration::hours(1)))).await, Outcome::Done);
    let next = world.publisher.on("docflow.watch");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].message_id, format!("watch:{id}:job-1:0:check:1"));
    assert_eq!((next[0].json()["checks"].as_u64(), next[0].json()["v"].as_u64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn a_status_check_that_gets_no_answer_only_schedules_the_next_one() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    world.provider.status_next(Err(SubmitError::Transient { detail: "refused".into() }));
    assert_eq!(stage(&world).step(&due(&world, &timer(id, 0, 0, chrono::Duration::hours(1)))).await, Outcome::Done);
    world.db.fail_next(db_down());
    assert_eq!(stage(&world).step(&due(&world, &timer(id, 1, 0, chrono::Duration::hours(1)))).await, Outcome::Done);
    let ids: Vec<String> = world.publisher.on("docflow.watch").into_iter().map(|p| p.message_id).collect();
    assert_eq!(ids, [format!("watch:{id}:job-1:0:check:1"), format!("watch:{id}:job-1:0:check:2")]);
}

#[tokio::test]
async fn a_finished_job_is_recovered_as_its_callback() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    world.provider.status_next(Ok(status(JobState::Completed, id)));
    assert_eq!(stage(&world).step(&due(&world, &timer(id, 0, 0, chrono::Duration::hours(1)))).await, Outcome::Done);
    let callbacks = world.publisher.on("docflow.callbacks.sim");
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].message_id, "evt-9", "deduplicated with the real callback");
    assert_eq!(callbacks[0].json()["reference"], id.to_string());
}

#[tokio::test]
async fn a_job_still_running_at_the_deadline_is_watched_another_round_then_fails() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    let watchdog = stage(&world);
    assert_eq!(watchdog.step(&due(&world, &timer(id, MAX_CHECKS, 0, PAST))).await, Outcome::Done);
    let next = world.publisher.on("docflow.watch");
    assert_eq!(next[0].message_id, format!("watch:{id}:job-1:1"));
    assert_eq!(world.db.state(id), State::Submitted);

    let rounds = world.settings.providers["sim"].watch_rounds;
    assert_eq!(watchdog.step(&due(&world, &timer(id, MAX_CHECKS, rounds, PAST))).await, Outcome::Done);
    let document = world.db.document(id);
    assert_eq!(document.state, State::Failed);
    assert_eq!(document.failure_cause, Some(crate::lifecycle::FailureCause::CallbackLost));
    assert!(document.error_reason.unwrap().contains("and the job is still processing"));
}

#[tokio::test]
async fn an_unanswered_status_at_the_deadline_retries_and_a_refused_one_fails_the_document() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    let watchdog = stage(&world);
    let deadline = timer(id, MAX_CHECKS, 0, PAST);
    world
        .provider
        .status_next(Err(SubmitError::Throttled { retry_after: Duration::from_secs(9), detail: "429".into() }));
    assert_eq!(watchdog.step(&due(&world, &deadline)).await, Outcome::retry_after(Duration::from_secs(9), "429"));
    world.provider.status_next(Err(SubmitError::Transient { detail: "503".into() }));
    assert_eq!(watchdog.step(&due(&world, &deadline)).await, Outcome::retry("503"));
    world.db.fail_next(db_down());
    assert!(matches!(watchdog.step(&due(&world, &deadline)).await, Outcome::Retry { .. }));
    world.provider.status_next(Err(SubmitError::Permanent { status: 404, detail: "no such job".into() }));
    assert_eq!(watchdog.step(&due(&world, &deadline)).await, Outcome::Done);
    assert!(world.db.document(id).error_reason.unwrap().contains("status is unavailable: no such job"));
}

#[tokio::test]
async fn a_document_that_moved_on_ends_its_timer() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    world.db.transition(id, &[State::Submitted], State::Processed, StageId::Validate, 1, None).await.unwrap();
    assert_eq!(stage(&world).step(&due(&world, &timer(id, MAX_CHECKS, 0, PAST))).await, Outcome::Done);
    assert!(world.publisher.published().is_empty());
    assert_eq!(world.db.state(id), State::Processed);
}

#[tokio::test]
async fn a_timer_that_cannot_be_published_retries_and_bad_timers_fail() {
    let world = World::new(&[]);
    let id = submitted(&world).await;
    let watchdog = stage(&world);
    world.publisher.fail_next(1);
    assert!(matches!(
        watchdog.step(&due(&world, &timer(id, 0, 0, chrono::Duration::hours(1)))).await,
        Outcome::Retry { .. }
    ));
    let garbage = world.delivery(STAGE, "watch", b"{}", 1, 11);
    assert!(
        matches!(watchdog.step(&garbage).await, Outcome::Fail { reason, .. } if reason.starts_with("not a watch timer"))
    );
    let mut elsewhere = timer(id, 0, 0, PAST);
    elsewhere.provider = "acme".into();
    let delivery = due(&world, &elsewhere);
    assert!(
        matches!(watchdog.step(&delivery).await, Outcome::Fail { reason, .. } if reason.contains("no longer configured"))
    );
    watchdog.on_dead_letter(&delivery, "no longer configured", None).await;
    let document = world.db.document(id);
    assert_eq!(document.error_stage.as_deref(), Some("watchdog"));
    assert_eq!(document.failure_cause, Some(crate::lifecycle::FailureCause::CallbackLost));
}
