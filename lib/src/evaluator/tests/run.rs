//! The gateway component as `docflow run gateway` starts it (needs NATS).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{TOKEN, settings};
use crate::app::{self, AppError, Component};

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/docflow.db", dir.path().display())
}

#[tokio::test]
async fn run_serves_the_gateway_on_a_given_listener_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let settings = Arc::new(settings(&[("DOCFLOW__DATABASE__URL", url.as_str())]));
    crate::db::Db::connect(&settings.database).await.unwrap().migrate().await.unwrap();
    // What `docflow setup` makes for the gateway: the bucket of signed-out sessions.
    let (_client, js) = crate::testkit::nats::connect(&settings.nats.url).await;
    crate::topology::kv::apply(&js, &settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app::run_with(settings, &[Component::Gateway], shutdown.clone(), Some(listener)));

    let client = reqwest::Client::new();
    let start = Instant::now();
    let health = loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(response) => break response,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(10), "no answer from the gateway: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // Operators' routes are on the admin listener only.
    assert_eq!(health.status(), 404);

    // The evaluator routes are merged in.
    let page = client.get(format!("{base}/v1/documents")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page: serde_json::Value = page.json().await.unwrap();
    assert_eq!(page, serde_json::json!({"items": [], "next_cursor": null, "prev_cursor": null}));
    let refused = client.get(format!("{base}/v1/documents")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    // So is the web interface, with its own headers.
    // It answers once it has read the bucket of signed-out sessions (503 until then).
    let sign_in = crate::testkit::wait_for("the sign-in page", Duration::from_secs(10), || {
        let request = client.get(format!("{base}/ui/sign-in"));
        async move { request.send().await.ok().filter(|r| r.status() != 503) }
    })
    .await;
    assert_eq!(sign_in.status(), 200);
    assert!(sign_in.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'self'"));

    shutdown.cancel();
    let outcome =
        tokio::time::timeout(Duration::from_secs(10), running).await.expect("run returns after shutdown").unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(client.get(format!("{base}/healthz")).send().await.is_err(), "the listener is closed");
}

#[tokio::test]
async fn a_taken_gateway_address_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let settings =
        Arc::new(settings(&[("DOCFLOW__DATABASE__URL", url.as_str()), ("DOCFLOW__GATEWAY__LISTEN", listen.as_str())]));
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        app::run(settings, &[Component::Gateway], CancellationToken::new()),
    )
    .await
    .expect("run fails at once")
    .unwrap_err();
    assert!(matches!(error, AppError::Listen { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&listen) && message.contains("gateway.listen"), "{message}");
}
