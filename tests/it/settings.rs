//! Settings and start-up checks as an operator meets them: the real `docflow` binary with
//! a settings file, drop-ins and variables; a NATS server without JetStream; a taken port;
//! a database file the service's user cannot write; a closed pipe.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use docflow::testkit::TestSettings;
use docflow::testkit::nats::nats_server_binary;

use docflow::testkit::wait_for_port;

use crate::support::{Process, docflow_binary, free_port, nats_url, random_prefix};

const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `docflow ARGS` with `env`; its exit code and everything it printed.
async fn docflow(args: &[&str], env: &[(String, String)]) -> (Option<i32>, String) {
    let mut process = Process::spawn("docflow", docflow_binary(), args, env);
    let status = process.wait(DEADLINE).await;
    (status.code(), process.output())
}

/// A settings file with `text` in a directory of its own.
fn settings_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docflow.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

async fn migrated_sqlite(url: &str) {
    let db = docflow::db::Db::connect(&docflow::settings::DatabaseSettings {
        url: url.to_owned(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn an_unknown_key_in_a_drop_in_stops_setup_and_run_naming_it_and_the_closest_known_one() {
    let (dir, config) = settings_file("[providers.sim]\nbase_url = \"http://127.0.0.1:9100\"\n");
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(dir.path().join("conf.d/50-local.toml"), "[admin]\nlisen = \"127.0.0.1:7600\"\n").unwrap();
    let config = config.display().to_string();
    for command in [&["setup"][..], &["run"], &["status", "x/y"], &["dlq", "list"]] {
        let args = [&["--config", config.as_str()][..], command].concat();
        let (code, output) = docflow(&args, &[]).await;
        assert_eq!(code, Some(1), "{command:?}: {output}");
        assert!(output.contains("unknown key `admin.lisen`"), "{command:?}: {output}");
        assert!(output.contains("conf.d/50-local.toml") && output.contains("did you mean `admin.listen`?"), "{output}");
    }
}

#[tokio::test]
async fn read_only_commands_ask_for_no_provider_secret_and_run_names_the_missing_one_once() {
    let database = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/docflow.db", database.path().display());
    migrated_sqlite(&url).await;
    let (dir, config) = settings_file(&format!(
        "[database]\nurl = \"{url}\"\n[providers.acme]\nbase_url = \"http://127.0.0.1:9100\"\ncallback_secret = \"s\"\n"
    ));
    let config = config.display().to_string();
    let (code, output) = docflow(&["--config", &config, "status", "uploads/teacher-1/nothing.txt"], &[]).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("no document uploads/teacher-1/nothing.txt"), "{output}");
    assert!(!output.contains("configuration"), "{output}");
    let nats = env(&[("DOCFLOW__NATS__URL", &nats_url()), ("DOCFLOW__NATS__PREFIX", &random_prefix())]);
    let (_, output) = docflow(&["--config", &config, "dlq", "list"], &nats).await;
    assert!(!output.contains("configuration"), "{output}");

    let (code, output) = docflow(&["--config", &config, "run"], &[]).await;
    assert_eq!(code, Some(1), "{output}");
    assert_eq!(output.matches("`providers.acme.api_key`").count(), 1, "named once: {output}");
    assert!(output.contains("DOCFLOW__PROVIDERS__ACME__API_KEY"), "{output}");
    drop(dir);
}

#[tokio::test]
async fn config_set_writes_a_drop_in_that_check_and_get_read_back() {
    let (dir, config) = settings_file("# the operator's\n[providers.acme]\nbase_url = \"http://127.0.0.1:9100\"\n");
    let config = config.display().to_string();
    let (code, output) = docflow(&["--config", &config, "config", "check"], &[]).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("providers.acme.api_key") && output.contains("providers.acme.callback_secret"), "{output}");

    for (key, value) in [("providers.acme.api_key", "k-1"), ("providers.acme.callback_secret", "s-1")] {
        let args = ["--config", &config, "config", "set", key, value, "--file", "conf.d/10-secrets.toml"];
        let (code, output) = docflow(&args, &[]).await;
        assert_eq!(code, Some(0), "{output}");
    }
    let (code, output) = docflow(&["--config", &config, "config", "set", "admin.listen", "127.0.0.1:7600"], &[]).await;
    assert_eq!(code, Some(0), "{output}");
    let local = dir.path().join("conf.d/50-local.toml");
    assert_eq!(std::fs::metadata(&local).unwrap().permissions().mode() & 0o777, 0o640);
    let (code, output) = docflow(&["--config", &config, "config", "check"], &[]).await;
    assert_eq!((code, output.trim()), (Some(0), "ok"));
    let (code, output) = docflow(&["--config", &config, "config", "get", "admin.listen"], &[]).await;
    assert_eq!((code, output.trim()), (Some(0), "127.0.0.1:7600"));
    let (code, output) = docflow(&["--config", &config, "config", "get", "providers.acme.api_key"], &[]).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(!output.contains("k-1"), "{output}");
    // The environment still wins over every file.
    let (_, output) = docflow(
        &["--config", &config, "config", "get", "admin.listen"],
        &env(&[("DOCFLOW__ADMIN__LISTEN", "127.0.0.1:7700")]),
    )
    .await;
    assert_eq!(output.trim(), "127.0.0.1:7700");
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let (_dir, config) = settings_file("");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(docflow_binary())
        .args(["--config", &config.display().to_string(), "config", "get", "admin.listen"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test]
async fn a_taken_port_names_its_setting_and_how_to_change_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let base = TestSettings::new().nats(&nats_url(), &random_prefix());
    for (key, variable, component) in [
        ("admin.listen", "DOCFLOW__ADMIN__LISTEN", "transfer"),
        ("gateway.listen", "DOCFLOW__GATEWAY__LISTEN", "gateway"),
    ] {
        let settings = base.clone().set("DOCFLOW__ADMIN__LISTEN", "127.0.0.1:0").set(variable, &address);
        let (code, output) = docflow(&["run", component], &settings.pairs()).await;
        assert_eq!(code, Some(1), "{output}");
        assert!(output.contains(&format!("cannot listen on {address} ({key})")), "{output}");
        assert!(output.contains(&format!("set {key} ({variable}) to a free one")), "{output}");
    }
}

#[tokio::test]
async fn nats_without_jetstream_is_refused_by_setup_and_run_saying_how_to_turn_it_on() {
    let port = free_port();
    let mut server = Process::spawn(
        "nats-server without -js",
        nats_server_binary(),
        &["-a", "127.0.0.1", "-p", &port.to_string()],
        &[],
    );
    wait_for_port(port, DEADLINE).await.unwrap();
    let settings = TestSettings::new()
        .nats(&format!("nats://127.0.0.1:{port}"), &random_prefix())
        .set("DOCFLOW__ADMIN__LISTEN", "127.0.0.1:0");
    for command in [&["setup"][..], &["run", "transfer"]] {
        let (code, output) = docflow(command, &settings.pairs()).await;
        assert_eq!(code, Some(1), "{output}");
        assert!(output.contains("without JetStream") && output.contains("`-js`"), "{command:?}: {output}");
        assert!(output.contains("jetstream { store_dir"), "{output}");
    }
    server.kill().await;
}

/// `setpriv` runs a command as another user: the service's user is not root.
fn as_nobody(args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = ["--reuid=65534", "--regid=65534", "--clear-groups"].map(String::from).to_vec();
    all.push(docflow_binary().display().to_string());
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

#[tokio::test]
async fn a_database_file_the_service_cannot_write_stops_it_naming_the_file_its_owner_and_the_fix() {
    // As root (setup with sudo): the file is root's, its directory readable by all.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("docflow.db");
    let url = format!("sqlite://{}", file.display());
    migrated_sqlite(&url).await;
    assert!(Path::new(&file).exists());

    let settings = TestSettings::new()
        .nats(&nats_url(), &random_prefix())
        .set("DOCFLOW__ADMIN__LISTEN", "127.0.0.1:0")
        .set("DOCFLOW__DATABASE__URL", &url);
    let args = as_nobody(&["run", "transfer"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut process = Process::spawn("docflow as nobody", "setpriv", &args, &settings.pairs());
    let status = process.wait(DEADLINE).await;
    let output = process.output();
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains(&file.display().to_string()) && output.contains("owned by root:root"), "{output}");
    assert!(output.contains(&format!("chown nobody:nogroup {}", file.display())), "{output}");
}
