//! The admin listener: operators' routes on every `docflow run` process, whatever it
//! runs, and never on the public listener.

use crate::support::Sandbox;

async fn status_of(url: &str) -> u16 {
    reqwest::get(url).await.map(|r| r.status().as_u16()).unwrap_or_else(|e| panic!("{url}: {e}"))
}

#[tokio::test]
async fn metrics_and_probes_are_served_on_the_admin_listener_only_and_by_a_gateway_less_process_too() {
    let mut sandbox = Sandbox::builder().start().await;
    let all = sandbox.start_all().await;
    for path in ["/metrics", "/readyz", "/healthz"] {
        assert_eq!(status_of(&format!("{}{path}", sandbox.gateway_url)).await, 404, "public {path}");
        assert_eq!(status_of(&format!("{}{path}", sandbox.admin_url(all))).await, 200, "admin {path}");
    }
    let metrics = reqwest::get(format!("{}/metrics", sandbox.admin_url(all))).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("docflow_"), "{metrics}");

    // A process that runs only the transfer stage has no public listener, and still its
    // probes and metrics.
    let transfer = sandbox.start_worker(&["transfer"]);
    sandbox.wait_ready(transfer).await;
    let admin = sandbox.admin_url(transfer).to_owned();
    assert_eq!(status_of(&format!("{admin}/healthz")).await, 200);
    assert_eq!(status_of(&format!("{admin}/metrics")).await, 200);
    let ready: serde_json::Value = reqwest::get(format!("{admin}/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["nats"], "connected");
    assert_eq!(ready["database"], "reachable");
}
