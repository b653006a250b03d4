//! The admin routes through `Router::oneshot`, with real NATS and databases: NATS stopped
//! (a nats-server of the test's own, with a password in its URL) and PostgreSQL cut (a TCP
//! proxy the test controls).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::FutureExt;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::{AdminState, Probe, router};
use crate::db::Db;
use crate::settings::DatabaseSettings;
use crate::testkit::{self, wait_for};

/// A migrated SQLite database in `dir`.
async fn sqlite(dir: &tempfile::TempDir) -> Db {
    let db = sqlite_opened(dir, "rwc").await;
    db.migrate().await.unwrap();
    db
}

async fn sqlite_opened(dir: &tempfile::TempDir, mode: &str) -> Db {
    Db::connect(&DatabaseSettings {
        url: format!("sqlite://{}/docflow.db?mode={mode}", dir.path().display()),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap()
}

async fn get(state: &AdminState, path: &str) -> (StatusCode, String) {
    let response = router(state.clone()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn healthz_metrics_and_readyz_answer_while_everything_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = testkit::connect(&testkit::nats_url()).await;
    let state = AdminState::new(client, sqlite(&dir).await);
    assert_eq!(get(&state, "/healthz").await, (StatusCode::OK, "ok".to_owned()));
    crate::metrics::init();
    let (status, text) = get(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("# TYPE") || text.is_empty(), "{text}");
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json(&text), json!({"status": "ready", "nats": "connected", "database": "reachable"}));
    assert_eq!(get(&state, "/v1/documents").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readyz_is_503_naming_the_database_while_it_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    drop(sqlite(&dir).await);
    let (client, _) = testkit::connect(&testkit::nats_url()).await;
    // Readable, not writable: what a file left root's by `sudo docflow setup` is to the service.
    let state = AdminState::new(client, sqlite_opened(&dir, "ro").await);
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let body = json(&text);
    assert_eq!(body["error"], "not ready: database");
    assert_eq!(body["detail"], json!({"nats": "connected", "database": "not writable"}));
}

#[tokio::test]
async fn readyz_is_503_naming_nats_while_it_is_down_and_never_shows_its_url_or_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::dev::nats_server::NatsServer::start_configured(
        &crate::testkit::nats::nats_server_binary(),
        &dir.path().join("nats"),
        None,
        r#"authorization { user: "readyz-user", password: "readyz-pw-8812" }"#,
    )
    .await
    .unwrap();
    let port = server.port();
    let url = format!("nats://readyz-user:readyz-pw-8812@127.0.0.1:{port}");
    let settings = testkit::settings(&url, &testkit::random_prefix(), &[]);
    let client = crate::nats::connect(&settings.nats, "readyz test").await.unwrap();
    let state = AdminState::new(client.clone(), sqlite(&dir).await);
    assert_eq!(get(&state, "/readyz").await.0, StatusCode::OK);

    server.stop().await;
    wait_for("the client to see NATS gone", Duration::from_secs(10), || {
        let state = client.connection_state();
        async move { (state != async_nats::connection::State::Connected).then_some(()) }
    })
    .await;
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let body = json(&text);
    assert_eq!(body["error"], "not ready: nats");
    assert_eq!(body["detail"]["nats"], "disconnected");
    assert_eq!(body["detail"]["database"], "reachable");
    for secret in ["readyz-user", "readyz-pw-8812", "nats://", &port.to_string()] {
        assert!(!text.contains(secret), "{secret:?} in /readyz: {text}");
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut: open connections are dropped
/// and new ones closed at once until it is restored.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (is_open, cut_all) = (open.clone(), cut.clone());
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        if !is_open.load(Ordering::SeqCst) {
                            continue; // dropped: closed at once
                        }
                        let upstream = upstream.clone();
                        connections.spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        });
                    }
                    () = cut_all.notified() => connections.abort_all(),
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Proxy { port, open, cut, accept }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cut.notify_one();
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test]
async fn readyz_is_503_naming_the_database_while_it_is_cut_and_ready_again_after() {
    let direct = crate::db::testing::fresh_postgres_url().await;
    // postgres://USER@HOST:PORT/NAME -> through the proxy, with a password PostgreSQL's
    // trust authentication never asks for (it must not show either).
    let (server, name) = direct.rsplit_once('/').unwrap();
    let host = server.rsplit_once('@').map_or(server.trim_start_matches("postgres://"), |(_, host)| host);
    let upstream = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    let proxy = Proxy::start(upstream).await;
    let url = format!("postgres://postgres:db-pw-3391@127.0.0.1:{}/{name}", proxy.port);
    let db = Db::connect(&DatabaseSettings { url, max_connections: 2, acquire_timeout: Duration::from_secs(2) })
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let (client, _) = testkit::connect(&testkit::nats_url()).await;
    let state = AdminState::new(client, db).with_database_timeout(Duration::from_millis(1500));
    assert_eq!(get(&state, "/readyz").await.0, StatusCode::OK);

    proxy.cut();
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let body = json(&text);
    assert_eq!(body["error"], "not ready: database");
    assert_eq!(body["detail"], json!({"nats": "connected", "database": "unreachable"}));
    for secret in ["db-pw-3391", "postgres", &proxy.port.to_string()] {
        assert!(!text.contains(secret), "{secret:?} in /readyz: {text}");
    }

    proxy.restore();
    wait_for("/readyz to be ready again", Duration::from_secs(15), || async {
        (get(&state, "/readyz").await.0 == StatusCode::OK).then_some(())
    })
    .await;
    crate::db::testing::drop_postgres(&direct).await;
}

#[tokio::test]
async fn probes_show_under_their_name_and_only_a_failing_one_makes_the_process_unready() {
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = testkit::connect(&testkit::nats_url()).await;
    let breaker_open = Arc::new(AtomicBool::new(false));
    let flag = breaker_open.clone();
    let state = AdminState::new(client, sqlite(&dir).await)
        .with_probe("providers", Arc::new(|| async { Probe::info(json!({"sim": "closed"})) }.boxed()))
        .with_probe(
            "custom",
            Arc::new(move || {
                let open = flag.load(Ordering::SeqCst);
                async move { Probe { ready: !open, detail: json!(if open { "failing" } else { "fine" }) } }.boxed()
            }),
        );
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json(&text)["providers"], json!({"sim": "closed"}));
    breaker_open.store(true, Ordering::SeqCst);
    let (status, text) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(json(&text)["error"], "not ready: custom");
    assert_eq!(json(&text)["detail"]["custom"], "failing");
}
