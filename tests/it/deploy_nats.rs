//! The NATS configurations shipped under deploy/ require authentication and hold each user
//! to its subjects (docs/operator.md "NATS permissions"). Every configuration is started
//! as written, on a loopback port of its own with its store in a temporary directory, on
//! the suite's nats-server and on the current release when `make deps` installed it
//! (scripts/check-nats-configs parses them on both, with the passwords in the environment).
//!
//! The configurations read the passwords from the environment (`$DOCFLOW_NATS_PASSWORD`);
//! the copy started here has them written in instead, since a test cannot give one child
//! process an environment of its own through the shared starter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};
use docflow::dev::nats_server::{NatsServer, NatsServerOptions};
use docflow::testkit::nats::nats_server_binary;
use futures_util::TryStreamExt;
use tokio::sync::mpsc;

const DOCFLOW_PASSWORD: &str = "deploy-test-docflow-pw";
const MINIO_PASSWORD: &str = "deploy-test-minio-pw";
const DEADLINE: Duration = Duration::from_secs(10);
/// A stream of the test's own on the test's own server: it stores every subject the
/// checks publish to, so a publish that got through is a stored message.
const STREAM: &str = "DEPLOY_CHECK";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bin/ is in the repository").to_owned()
}

/// Every NATS configuration under deploy/ (the `*.conf` files on a path naming nats, as
/// scripts/check-nats-configs finds them).
fn configurations() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "conf") && path.to_string_lossy().contains("nats") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repository().join("deploy"), &mut found);
    found.sort();
    assert!(!found.is_empty(), "no NATS configuration under deploy/");
    found
}

/// The suite's nats-server, and the current release from the repository's virtual
/// environment when it is there.
fn servers() -> Vec<PathBuf> {
    let mut servers = vec![nats_server_binary()];
    let venv = std::env::var_os("DOCFLOW_VENV").map_or_else(|| repository().join(".venv"), PathBuf::from);
    let current = venv.join("bin/nats-server");
    if current.exists() && !servers.contains(&current) {
        servers.push(current);
    }
    servers
}

/// `config` as the server will read it: the passwords written in, the store in `store`.
fn prepared(config: &str, store: &Path) -> String {
    let store = serde_json::to_string(&store.display().to_string()).unwrap();
    config
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("store_dir") {
                format!("store_dir: {store}")
            } else {
                line.replace("$DOCFLOW_NATS_PASSWORD", &format!("\"{DOCFLOW_PASSWORD}\""))
                    .replace("$MINIO_NATS_PASSWORD", &format!("\"{MINIO_PASSWORD}\""))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts `config` with `binary` on a loopback port it picks (the file's `listen` and
/// `http` addresses overridden on the command line).
async fn start(binary: &Path, config: &Path, dir: &Path) -> NatsServer {
    let text = std::fs::read_to_string(config).unwrap();
    let copy = dir.join("nats-server.conf");
    std::fs::write(&copy, prepared(&text, &dir.join("store"))).unwrap();
    let mut options = NatsServerOptions::new(binary, dir.join("run"));
    // JetStream and its store come from the file itself.
    options.jetstream = false;
    options.args = vec!["-c".into(), copy.display().to_string(), "-m".into(), "-1".into()];
    NatsServer::launch(options).await.unwrap_or_else(|e| panic!("{} on {}: {e}", config.display(), binary.display()))
}

/// A client of `user`, and the errors the server sends it (permission violations).
async fn connect(url: &str, user: &str, password: &str) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (errors, received) = mpsc::unbounded_channel();
    let client = ConnectOptions::with_user_and_password(user.into(), password.into())
        .event_callback(move |event| {
            let errors = errors.clone();
            async move {
                if let Event::ServerError(ServerError::Other(text)) = event {
                    let _ = errors.send(text);
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} cannot connect to {url}: {e}"));
    (client, received)
}

/// Publishes `subject` as a user who may not, and waits until the server has said so.
async fn refused(what: &str, client: &async_nats::Client, errors: &mut mpsc::UnboundedReceiver<String>, subject: &str) {
    client.publish(subject.to_owned(), "forged".into()).await.unwrap();
    client.flush().await.unwrap();
    let said = tokio::time::timeout(DEADLINE, async {
        while let Some(text) = errors.recv().await {
            if text.to_lowercase().contains("permissions violation") && text.contains(subject) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(said, Ok(true), "{what}: the server did not refuse minio's publish to {subject}");
}

/// How many messages the test's stream holds on `subject`.
async fn stored(js: &jetstream::Context, subject: &str) -> usize {
    let stream = js.get_stream(STREAM).await.unwrap();
    let counts: Vec<(String, usize)> = stream.info_with_subjects(subject).await.unwrap().try_collect().await.unwrap();
    counts.iter().map(|(_, count)| count).sum()
}

async fn prove(binary: &Path, config: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(binary, config, dir.path()).await;
    let url = server.url().to_owned();
    let what = format!("{} on {}", config.display(), binary.display());

    // No anonymous client, and no wrong password.
    let anonymous = async_nats::connect(&url).await.err();
    assert_eq!(anonymous.map(|e| e.kind()), Some(ConnectErrorKind::AuthorizationViolation), "{what}: anonymous");
    let wrong = ConnectOptions::with_user_and_password("docflow".into(), "wrong".into()).connect(&url).await.err();
    assert_eq!(wrong.map(|e| e.kind()), Some(ConnectErrorKind::AuthorizationViolation), "{what}: wrong password");

    // docflow manages streams and publishes everywhere under its prefix.
    let (docflow, _) = connect(&url, "docflow", DOCFLOW_PASSWORD).await;
    let js = jetstream::new(docflow);
    js.create_stream(jetstream::stream::Config {
        name: STREAM.into(),
        subjects: vec!["docflow.>".into()],
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{what}: docflow cannot create a stream: {e}"));
    for subject in ["docflow.callbacks.x", "docflow.status.x", "docflow.uploads.webhook"] {
        js.publish(subject, "ok".into())
            .await
            .unwrap()
            .await
            .unwrap_or_else(|e| panic!("{what}: docflow on {subject}: {e}"));
        assert_eq!(stored(&js, subject).await, 1, "{what}: {subject}");
    }

    // minio publishes its notifications (acknowledged by JetStream on its inbox), and
    // nothing else: no forged callback or status, no JetStream API call.
    let (minio, mut errors) = connect(&url, "minio", MINIO_PASSWORD).await;
    let minio_js = jetstream::new(minio.clone());
    let ack = minio_js.publish("docflow.uploads.minio", "event".into()).await.unwrap().await;
    ack.unwrap_or_else(|e| panic!("{what}: minio's notification: {e}"));
    assert_eq!(stored(&js, "docflow.uploads.minio").await, 1, "{what}: minio's notification");
    for subject in ["docflow.callbacks.x", "docflow.status.x", "$JS.API.STREAM.DELETE.DEPLOY_CHECK"] {
        refused(&what, &minio, &mut errors, subject).await;
    }
    assert_eq!(stored(&js, "docflow.callbacks.x").await, 1, "{what}: only docflow's callback is stored");
    assert_eq!(stored(&js, "docflow.status.x").await, 1, "{what}: only docflow's status is stored");
    js.get_stream(STREAM).await.unwrap_or_else(|e| panic!("{what}: minio deleted the stream: {e}"));
    server.stop().await;
    eprintln!("{what}: anonymous refused, minio held to its subject, docflow everywhere under its prefix");
}

#[tokio::test]
async fn every_nats_configuration_in_deploy_refuses_anonymous_clients_and_holds_minio_to_its_subject() {
    let configs = configurations();
    for binary in servers() {
        for config in &configs {
            prove(&binary, config).await;
        }
    }
}
