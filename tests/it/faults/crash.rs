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
    let mut sandbox =
        sandbox().sim(&["--response-delay", "200ms"]).env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4").start().await;
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

    let at_fault =
        until(&sandbox, &load.ids, "a fifth of the documents normalized", LOAD_DEADLINE, |c| c.normalized() >= n / 5)
            .await;
    sandbox.workers[first].kill().await;
    let in_flight = n - at_fault.normalized();
    sandbox.start_all().await;
    let healed = Instant::now();

    Report::finish(
        &sandbox,
        &load,
        2,
        "`kill -9` of `docflow run` mid-validation, restarted at once",
        in_flight,
        healed,
    )
    .await
    .assert();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn two_docflow_run_processes_share_the_consumers_and_one_is_killed() {
    // At most 8 uploads delivered and unacked across both processes: the first to pull
    // cannot take the whole load for itself.
    let mut sandbox = sandbox()
        .sim(&["--response-delay", "100ms"])
        .env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4")
        .env("DOCFLOW__STAGES__TRANSFER__MAX_ACK_PENDING", "8")
        .start()
        .await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    // Two identical `docflow run`, each with its own gateway address (the callbacks go to
    // the first's, the public URL): both ready before the load arrives.
    sandbox.start_all().await;
    let port = crate::support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let second = sandbox.start_worker_with(&[], &[("DOCFLOW__GATEWAY__LISTEN", &listen)]);
    sandbox.wait_ready(second).await;
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a quarter of the documents submitted", LOAD_DEADLINE, |c| {
        c.past(State::Submitted) >= n / 4
    })
    .await;
    // What the second process had transferred when it died: it took its share.
    let done_by_second = stage_messages(&sandbox, second, "transfer", "done").await;
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
    if done_by_second < 1.0 {
        report.fail(
            "the second process had transferred nothing when it was killed: the consumers were not shared".into(),
        );
    }
    report.assert();
}
