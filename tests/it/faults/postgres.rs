//! PostgreSQL unreachable for a while, through a TCP proxy the test controls: refusing
//! connections (the server down), and black-holing them (a network that drops packets).
//! The test's own database connection is direct, so it watches throughout.

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use docflow::db::State;

use super::{Load, Report, docs, outage, sandbox, until};
use crate::support::Sandbox;
use crate::support::proxy::{Mode, TcpProxy};

const LOAD_DEADLINE: Duration = Duration::from_secs(60);

/// A proxy to the sandbox's PostgreSQL; the workers' `database.url` goes through it.
async fn proxied_database(sandbox: &mut Sandbox) -> TcpProxy {
    let mut url = reqwest::Url::parse(&sandbox.database_url).expect("the test database URL parses");
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(5432);
    let target = (host.as_str(), port).to_socket_addrs().expect("the database host resolves").next().unwrap();
    let proxy = TcpProxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    sandbox.env.insert("DOCFLOW__DATABASE__URL".into(), url.to_string());
    proxy
}

async fn database_unreachable(mode: Mode, order: u32, how: &str) {
    // Run on SQLite, it would test nothing: it fails instead of passing empty.
    assert_eq!(crate::support::database_kind(), "postgres", "a PostgreSQL outage needs DOCFLOW_TEST_DB=postgres");
    let mut sandbox =
        sandbox().sim(&["--response-delay", "100ms"]).env("DOCFLOW__STAGES__TRANSFER__CONCURRENCY", "4").start().await;
    let proxy = proxied_database(&mut sandbox).await;
    let n = docs();
    let load = Load::put(&sandbox, n, |_| None).await;
    sandbox.start_all().await;
    load.notify(&sandbox).await;

    let at_fault = until(&sandbox, &load.ids, "a fifth of the documents submitted", LOAD_DEADLINE, |c| {
        c.past(State::Submitted) >= n / 5
    })
    .await;
    proxy.set(mode);
    let in_flight = n - at_fault.normalized();
    tokio::time::sleep(outage()).await;
    proxy.set(Mode::Pass);
    let healed = Instant::now();

    let fault = format!("PostgreSQL {how} for {:.0} s (TCP proxy)", outage().as_secs_f64());
    Report::finish(&sandbox, &load, order, &fault, in_flight, healed).await.assert();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite on PostgreSQL: make test-faults (fails on DOCFLOW_TEST_DB=sqlite, naming why)"]
async fn postgres_refusing_connections_for_a_while() {
    database_unreachable(Mode::Refuse, 6, "refusing connections (open ones closed)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite on PostgreSQL: make test-faults (fails on DOCFLOW_TEST_DB=sqlite, naming why)"]
async fn postgres_black_holed_for_a_while() {
    database_unreachable(Mode::BlackHole, 7, "black-holed (connections accepted, nothing answered)").await;
}
