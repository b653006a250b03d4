//! `docflow run` crashing: `kill -9` mid-transfer and mid-validation, then a restart; and
//! two processes sharing the consumers, one of them killed for good.

use std::time::{Duration, Instant};

use docflow::db::State;

use super::{Load, Report, docs, sandbox, stage_messages, until};

const LOAD_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn kill_9_of_docflow_run_mid_transfer_then_restart() {
    // Submissions answered 200 ms after the job is made, four at a time: a kill lands
    // between "the provider made the job" and "docflow heard back" for several documents.
    let mut sandbox = sandbox()
        .sim(&["--response-delay", "200ms"])
        .env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4")
        .start()
        .await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    let first = sandbox.start_all().await;
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a fifth of the documents submitted", LOAD_DEADLINE, |c| {
        c.past(State::Submitted) >= n / 5
    })
    .await;
    sandbox.workers[first].kill().await;
    let in_flight = n - at_fault.normalized();
    sandbox.start_all().await;
    let healed = Instant::now();

    Report::finish(&sandbox, &load, 1, "`kill -9` of `docflow run` mid-transfer, restarted at once", in_flight, healed)
        .await
        .assert();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn kill_9_of_docflow_run_mid_validation_then_restart() {
    // Validation two at a time: when a fifth is normalized, most callbacks wait for it or
    // are being validated (results fetched, written to the results bucket).
    let mut sandbox = sandbox().env("DOCFLOW__STAGES__VALIDATE__CONCURRENCY", "2").start().await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    let first = sandbox.start_all().await;
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a fifth of the documents normalized", LOAD_DEADLINE, |c| {
        c.normalized() >= n / 5
    })
    .await;
    sandbox.workers[first].kill().await;
    let in_flight = n - at_fault.normalized();
    sandbox.start_all().await;
    let healed = Instant::now();

    Report::finish(&sandbox, &load, 2, "`kill -9` of `docflow run` mid-validation, restarted at once", in_flight, healed)
        .await
        .assert();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn two_docflow_run_processes_share_the_consumers_and_one_is_killed() {
    let mut sandbox = sandbox()
        .sim(&["--response-delay", "100ms"])
        .env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4")
        .start()
        .await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    // A: every component; B: the four stages (the gateway's address is A's).
    sandbox.start_all().await;
    let second = sandbox.start_worker(&["transfer", "validate", "normalize", "watchdog"]);
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a quarter of the documents submitted", LOAD_DEADLINE, |c| {
        c.past(State::Submitted) >= n / 4
    })
    .await;
    sandbox.workers[second].kill().await;
    let in_flight = n - at_fault.normalized();
    let healed = Instant::now();

    let mut report = Report::finish(
        &sandbox,
        &load,
        3,
        "two `docflow run` processes sharing the consumers; one `kill -9`ed mid-load, not restarted",
        in_flight,
        healed,
    )
    .await;
    // Both processes took work: A transferred fewer than all (B's share is the rest).
    let done_by_a = stage_messages(&sandbox, "transfer", "done").await;
    if done_by_a >= n as f64 {
        report.fail(format!("the first process transferred all {n} documents: the consumers were not shared"));
    }
    report.assert();
}
