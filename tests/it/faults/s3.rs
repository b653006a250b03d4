//! The S3 server (s3s-fs) killed mid-transfer and started again on the same data directory.

use std::time::{Duration, Instant};

use docflow::db::State;

use super::{Load, Report, docs, outage, sandbox, until};

const LOAD_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn s3_server_killed_mid_transfer_and_restarted() {
    let mut sandbox =
        sandbox().sim(&["--response-delay", "100ms"]).env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4").start().await;
    let n = docs();
    // Every object is stored before the outage; the transfers read them during it.
    let load = Load::put(&sandbox, n, |_| None).await;
    sandbox.start_all().await;
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a fifth of the documents submitted", LOAD_DEADLINE, |c| {
        c.past(State::Submitted) >= n / 5
    })
    .await;
    sandbox.kill_s3().await;
    let in_flight = n - at_fault.normalized();
    tokio::time::sleep(outage()).await;
    sandbox.start_s3().await;
    let healed = Instant::now();

    let fault = format!(
        "S3 server (s3s-fs) `kill -9`ed mid-transfer for {:.0} s, restarted on the same data",
        outage().as_secs_f64()
    );
    Report::finish(&sandbox, &load, 8, &fault, in_flight, healed).await.assert();
}
