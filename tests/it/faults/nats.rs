//! NATS going away: the test's own nats-server killed and started again on the same store
//! while callbacks arrive (the gateway refuses them with 503 and the provider gives up);
//! and one node of a three-node cluster with R3 streams killed under load: the node that
//! leads the transfer consumer, so the pull requests it held die with it.

use std::time::{Duration, Instant};

use docflow::db::State;

use super::{Load, Report, docs, outage, sandbox, until};
use crate::support::nats_server::{NatsCluster, NatsNode, wait_for_jetstream};

const LOAD_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn nats_server_killed_and_restarted_while_callbacks_are_refused() {
    let mut nats = NatsNode::single().await;
    // Jobs take 2 s; a callback is tried twice (250 ms apart), then given up: every
    // callback due during the outage is lost, and only the watchdog's early job-status
    // check can bring its document home.
    let mut sandbox = sandbox()
        .env("DOCFLOW__NATS__URL", &nats.url)
        .sim(&["--processing-delay", "2s", "--callback-attempts", "2"])
        .start()
        .await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    sandbox.start_all().await;
    load.notify(&sandbox).await;

    let at_fault =
        until(&sandbox, &load.ids, "every document submitted", LOAD_DEADLINE, |c| c.past(State::Submitted) == n).await;
    nats.kill().await;
    let in_flight = n - at_fault.normalized();
    // The outage: a fixed window, the fault itself.
    tokio::time::sleep(outage()).await;
    nats.start().await;
    let healed = Instant::now();

    let fault = format!(
        "nats-server `kill -9`ed for {:.0} s, restarted on the same store; callbacks refused meanwhile (provider gives up after 2 tries)",
        outage().as_secs_f64()
    );
    let mut report = Report::finish(&sandbox, &load, 4, &fault, in_flight, healed).await;
    // The outage did refuse callbacks: some jobs have attempts that never got through.
    let refused: u64 = sandbox
        .sim_jobs()
        .await
        .iter()
        .filter(|job| job["callbacks_sent"].as_u64() == Some(0) && job["callback_attempts"].as_u64() > Some(0))
        .count() as u64;
    if refused == 0 {
        report.fail("no callback was refused during the outage: the scenario proved nothing about them".into());
    }
    report.fault = format!("{} ({refused} callbacks given up)", report.fault);
    report.assert();
    drop(sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn one_node_of_a_three_node_nats_cluster_killed_under_load_and_brought_back() {
    let mut cluster = NatsCluster::start().await;
    let mut sandbox = sandbox()
        .env("DOCFLOW__NATS__URL", &cluster.url())
        .env("DOCFLOW__NATS__REPLICAS", "3")
        .sim(&["--response-delay", "100ms", "--processing-delay", "500ms"])
        .env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4")
        .start()
        .await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    let uploads = sandbox.stream("UPLOADS");
    let replicas = sandbox.js.get_stream(&uploads).await.unwrap().get_info().await.unwrap().config.num_replicas;
    assert_eq!(replicas, 3, "the streams are R3");
    sandbox.start_all().await;
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a fifth of the documents submitted", LOAD_DEADLINE, |c| {
        c.past(State::Submitted) >= n / 5
    })
    .await;
    // The node that leads the transfer consumer: it holds the stage's pull requests, and
    // dies with them (the new leader knows none, and nobody says so). Whether it also
    // leads the uploads stream is up to the elections; the row says which.
    let stream_info = sandbox.js.get_stream(&uploads).await.unwrap().get_info().await.unwrap();
    let stream_leader = stream_info.cluster.and_then(|c| c.leader).expect("the stream has a leader");
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        sandbox.js.get_consumer_from_stream("transfer", &uploads).await.expect("the transfer consumer");
    let consumer_info = consumer.cached_info().clone();
    let leader = consumer_info.cluster.and_then(|c| c.leader).expect("the consumer has a leader");
    let also = if leader == stream_leader { ", which also led the uploads stream," } else { "" };
    cluster.node(&leader).kill().await;
    let in_flight = n - at_fault.normalized();
    tokio::time::sleep(outage()).await;
    cluster.node(&leader).start().await;
    let healed = Instant::now();
    wait_for_jetstream(&cluster.url(), Duration::from_secs(30)).await;

    let fault = format!(
        "3-node NATS cluster, R3 streams: the transfer consumer's leader{also} `kill -9`ed for {:.0} s under load, then restarted",
        outage().as_secs_f64()
    );
    let mut report = Report::finish(&sandbox, &load, 5, &fault, in_flight, healed).await;
    // The node caught up: every replica of the uploads stream is current again.
    let caught_up = crate::support::try_wait_for(Duration::from_secs(30), || async {
        let info = sandbox.js.get_stream(&uploads).await.ok()?.get_info().await.ok()?;
        let cluster = info.cluster?;
        (cluster.replicas.len() == 2 && cluster.replicas.iter().all(|r| r.current)).then_some(())
    })
    .await;
    if caught_up.is_none() {
        report.fail("the restarted node's replica of the uploads stream did not catch up".into());
    }
    report.assert();
    drop(sandbox);
}
