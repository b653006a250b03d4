//! A provider that hangs (accepts the connection, never answers) or is down (answers 503)
//! for a while, behind a proxy the test switches, while a second provider's documents
//! must keep flowing: one provider's trouble never holds another's documents.

use std::time::{Duration, Instant};

use super::{Load, Report, docs, outage, sandbox, wait_census};
use crate::support::Sandbox;
use crate::support::proxy::{Mode, TcpProxy};

/// How long the second provider's documents get to be normalized while the first is out.
const ISOLATION_DEADLINE: Duration = Duration::from_secs(45);

/// Routes provider `sim` through a proxy and adds provider `alt`, the same simulator
/// reached directly; returns the proxy.
async fn two_providers(sandbox: &mut Sandbox) -> TcpProxy {
    let sim_host = sandbox.sim_url.trim_start_matches("http://").to_owned();
    let target = sim_host.parse().expect("the simulator listens on an IP address");
    let proxy = TcpProxy::start(target).await;
    let alt = |key: &str| format!("DOCFLOW__PROVIDERS__ALT__{key}");
    let settings = [
        ("DOCFLOW__PROVIDERS__SIM__BASE_URL".to_owned(), format!("http://127.0.0.1:{}", proxy.port)),
        ("DOCFLOW__ROUTING__DEFAULT".to_owned(), "sim".to_owned()),
        (alt("BASE_URL"), sandbox.sim_url.clone()),
        (alt("API_KEY"), "sim-api-key".to_owned()),
        (alt("CALLBACK_SECRET"), "sim-callback-secret".to_owned()),
        (alt("RESULT_HOSTS"), sim_host),
        (alt("CONNECT_TIMEOUT"), "2s".to_owned()),
        (alt("IDLE_TIMEOUT"), "3s".to_owned()),
        (alt("CONCURRENCY"), "4".to_owned()),
        (alt("FIRST_STATUS_CHECK"), "3s".to_owned()),
    ];
    sandbox.env.extend(settings);
    proxy
}

async fn provider_out(mode: Mode, order: u32, how: &str) {
    let mut sandbox = sandbox().start().await;
    let proxy = two_providers(&mut sandbox).await;
    let n = docs();
    // Every other document names provider `alt`; the rest go to `sim`, the default.
    let load = Load::put(&sandbox, n, |i| (i % 2 == 1).then_some("alt")).await;
    let alt = load.of_provider(Some("alt"));
    sandbox.start_all().await;

    proxy.set(mode);
    let struck = Instant::now();
    load.notify(&sandbox).await;
    // The second provider's documents flow while the first is out...
    let isolated = wait_census(&sandbox, &alt, ISOLATION_DEADLINE, |c| c.normalized() == alt.len()).await;
    let alt_done = match &isolated {
        Some(_) => alt.len(),
        None => super::Census::take(&sandbox, &alt).await.map_or(0, |c| c.normalized()),
    };
    // ...and the outage lasts at least its fixed window.
    tokio::time::sleep(outage().saturating_sub(struck.elapsed())).await;
    let outage_secs = struck.elapsed().as_secs_f64();
    proxy.set(Mode::Pass);
    let healed = Instant::now();

    let fault = format!(
        "provider {how} for {outage_secs:.0} s (proxy), a second provider's {} documents flowing meanwhile",
        alt.len()
    );
    let mut report = Report::finish(&sandbox, &load, order, &fault, n, healed).await;
    if isolated.is_none() {
        report.fail(format!(
            "only {alt_done} of the second provider's {} documents were normalized within {ISOLATION_DEADLINE:?} while the first was out",
            alt.len()
        ));
    }
    report.assert();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn provider_hung_while_a_second_provider_flows() {
    provider_out(Mode::BlackHole, 9, "hung (accepts, never answers)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: make test-faults"]
async fn provider_down_503_while_a_second_provider_flows() {
    provider_out(Mode::http_503(), 10, "down (every request answered 503)").await;
}
