//! The NATS configurations shipped under deploy/ require authentication and hold each user
//! to its subjects (docs/operator.md "NATS permissions"). Every configuration is started
//! as written, on a loopback port of its own with its store in a temporary directory, on
//! the suite's nats-server and on the current release when `make deps` installed it
//! (scripts/check-nats-configs parses them on both, with the passwords in the environment).
//!
//! The configurations read the passwords from the environment (`$DOCFLOW_NATS_PASSWORD`)
//! or from a passwords file they include; the copy started here has the test's written in
//! instead (a test cannot give one child process an environment of its own through the
//! shared starter).

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

/// Every NATS server configuration under deploy/: the `*.conf` files on a path naming nats
/// (as scripts/check-nats-configs finds them) with a `jetstream` block; the others are
/// fragments (a passwords file), started through the configurations that include them.
fn configurations() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "conf")
                && path.to_string_lossy().contains("nats")
                && std::fs::read_to_string(&path).unwrap().lines().any(|l| l.trim_start().starts_with("jetstream"))
            {
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

/// The password variable a line defines (`DOCFLOW_PASSWORD: "..."`), if any.
fn defined_password(line: &str) -> Option<&str> {
    let name = line.trim_start().split([':', '=', ' ']).next()?;
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest = line.trim_start()[name.len()..].trim_start();
    (is_name && name.contains("PASSWORD") && (rest.starts_with(':') || rest.starts_with('='))).then_some(name)
}

/// `line` with every password variable (`$DOCFLOW_NATS_PASSWORD`, `$MINIO_PASSWORD`, ...)
/// replaced by the test's password of its user: `minio`'s when the name says MINIO.
fn with_passwords(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let name: String = rest[at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.contains("PASSWORD") {
            let password = if name.contains("MINIO") { MINIO_PASSWORD } else { DOCFLOW_PASSWORD };
            out.push_str(&format!("\"{password}\""));
        } else {
            out.push('$');
            out.push_str(&name);
        }
        rest = &rest[at + 1 + name.len()..];
    }
    out.push_str(rest);
    out
}

/// A configuration file as the test's server reads it: the store in `store`, the
/// passwords the test's (whether the file takes them from the environment or from a
/// passwords file it includes, whose definitions are dropped).
fn prepared(config: &str, store: &Path) -> String {
    let store = serde_json::to_string(&store.display().to_string()).unwrap();
    let lines = config.lines().filter(|line| defined_password(line).is_none()).map(|line| {
        if line.trim_start().starts_with("store_dir") { format!("store_dir: {store}") } else { with_passwords(line) }
    });
    lines.collect::<Vec<_>>().join("\n")
}

/// Starts `config` with `binary` on a loopback port it picks (the file's `listen` and
/// `http` addresses overridden on the command line), from a prepared copy of its folder
/// (the files it includes are beside it).
async fn start(binary: &Path, config: &Path, dir: &Path) -> NatsServer {
    let copies = dir.join("conf");
    std::fs::create_dir_all(&copies).unwrap();
    for entry in std::fs::read_dir(config.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(copies.join(path.file_name().unwrap()), prepared(&text, &dir.join("store"))).unwrap();
        }
    }
    let copy = copies.join(config.file_name().unwrap());
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

#[test]
fn password_variables_are_replaced_and_their_definitions_dropped() {
    assert_eq!(defined_password(r#"DOCFLOW_PASSWORD: "x""#), Some("DOCFLOW_PASSWORD"));
    assert_eq!(defined_password("  MINIO_PASSWORD = x"), Some("MINIO_PASSWORD"));
    assert_eq!(defined_password("password: $DOCFLOW_PASSWORD"), None);
    assert_eq!(defined_password("store_dir: /x"), None);
    assert_eq!(
        with_passwords("{user: minio, password: $MINIO_NATS_PASSWORD}"),
        format!("{{user: minio, password: \"{MINIO_PASSWORD}\"}}")
    );
    assert_eq!(with_passwords("password: $DOCFLOW_PASSWORD,"), format!("password: \"{DOCFLOW_PASSWORD}\","));
    assert_eq!(with_passwords("permissions: $DOCFLOW_SUBJECTS"), "permissions: $DOCFLOW_SUBJECTS");
    let prepared =
        prepared("DOCFLOW_PASSWORD: \"p\"\n  store_dir: /var/lib/nats\nx: $DOCFLOW_PASSWORD", Path::new("/t"));
    assert_eq!(prepared, format!("store_dir: \"/t\"\nx: \"{DOCFLOW_PASSWORD}\""));
}
