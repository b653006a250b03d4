//! `docflow dev`: the whole pipeline in one process on embedded defaults.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use docflow::db::{Db, State};
use docflow::settings::{DatabaseSettings, Settings};

use crate::support::{Process, docflow_binary, nats_url, try_wait_for};

fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn docflow_dev_takes_every_sample_to_normalized_on_its_own_nats_server() {
    let data = tempfile::tempdir().unwrap();
    // A NATS server answers on 127.0.0.1:4222 on this machine (the suite's); dev does not
    // join it, whatever the settings name: it starts nats-server itself.
    let env = vec![("DOCFLOW__NATS__URL".to_owned(), nats_url())];
    let mut dev = Process::spawn(
        "docflow dev",
        docflow_binary(),
        &["dev", "--exit-after-samples", "--samples-deadline", "90s", "--data-dir", data.path().to_str().unwrap()],
        &env,
    );
    let status = dev.wait(Duration::from_secs(150)).await;
    assert!(status.success(), "docflow dev exited with {status}:\n{}", dev.output());

    let db = Db::connect(&DatabaseSettings {
        url: format!("sqlite://{}/docflow.db", data.path().display()),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    assert_eq!(db.count_documents().await.unwrap(), 2);
    for (key, kind) in [("lesson-plan-week3.md", "document"), ("classroom-clip.mp4", "video")] {
        let (documents, _) = db.list_documents(&Default::default(), 10, None).await.unwrap();
        let document =
            documents.iter().find(|d| d.key.ends_with(key)).unwrap_or_else(|| panic!("no document for {key}"));
        assert_eq!(document.state, State::Normalized, "{key}");
        assert_eq!(document.kind.as_str(), kind);
        assert!(document.normalized.is_some());
        let artifacts = db.artifacts(document.id).await.unwrap();
        assert!(artifacts.len() >= 2, "{key}: {artifacts:?}");
    }
    let files = files_under(data.path());
    assert!(files.iter().any(|f| f.contains("/s3/uploads/") && f.ends_with("lesson-plan-week3.md")), "{files:#?}");
    assert!(files.iter().any(|f| f.contains("/s3/results/") && f.ends_with("findings.json")), "{files:#?}");
    assert!(files.iter().any(|f| f.contains("/s3/results/") && f.contains("transcript")), "{files:#?}");
    assert!(
        files.iter().any(|f| f.contains("/nats/jetstream/") && f.contains("DOCFLOW_UPLOADS")),
        "the streams are in the data directory's NATS store: {files:#?}"
    );
    assert_ne!(written_settings(data.path()).nats.url, nats_url(), "not the NATS server that was there");
}

/// The settings a dev instance wrote into its data directory.
fn written_settings(data_dir: &Path) -> Settings {
    Settings::load(Some(&data_dir.join("docflow.toml")), Some(HashMap::new()))
        .unwrap_or_else(|e| panic!("{}/docflow.toml: {e}", data_dir.display()))
}

/// Runs `docflow ARGS` in `dir` with no docflow setting in its environment, as an operator
/// would right after `make run`: (success, stdout, stderr).
async fn operator(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(docflow_binary());
    command.args(args).current_dir(dir).env_remove("DOCFLOW_CONFIG").env_remove("DOCFLOW_DATA_DIR");
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("DOCFLOW__")) {
        command.env_remove(name);
    }
    let output = command.output().await.unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

fn dev_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["dev", "--exit-after-samples", "--samples-deadline", "90s"];
    args.extend_from_slice(extra);
    args
}

#[tokio::test]
async fn two_dev_instances_on_one_nats_server_share_no_stream() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = nats_url();
    let spawn = |name: &str, dir: &Path| {
        let args = dev_args(&["--nats-url", &url, "--data-dir", dir.to_str().unwrap()]);
        Process::spawn(name, docflow_binary(), &args, &[])
    };
    // Both at once on the same server: with a shared prefix, each would take the other's
    // upload events (objects it does not have) and dead-letter them.
    let (mut first, mut second) = (spawn("docflow dev A", a.path()), spawn("docflow dev B", b.path()));
    let (status_a, status_b) =
        tokio::join!(first.wait(Duration::from_secs(150)), second.wait(Duration::from_secs(150)));
    assert!(status_a.success(), "A exited with {status_a}:\n{}", first.output());
    assert!(status_b.success(), "B exited with {status_b}:\n{}", second.output());

    let (settings_a, settings_b) = (written_settings(a.path()), written_settings(b.path()));
    assert_eq!(settings_a.nats.url, url);
    let (prefix_a, prefix_b) = (settings_a.nats.prefix.clone(), settings_b.nats.prefix.clone());
    assert_ne!(prefix_a, prefix_b);
    assert!(prefix_a != "docflow" && prefix_b != "docflow", "never the production prefix: {prefix_a} {prefix_b}");
    let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    for prefix in [&prefix_a, &prefix_b] {
        let names = docflow::nats::Names::new(prefix);
        let mut dead = js.get_stream(names.stream("DEAD")).await.unwrap();
        assert_eq!(dead.info().await.unwrap().state.messages, 0, "{prefix}: no dead letter");
    }
    for prefix in [&prefix_a, &prefix_b] {
        let names = docflow::nats::Names::new(prefix);
        for short in ["uploads", "callbacks", "normalize", "watch", "dead"] {
            let _ = js.delete_stream(names.stream(short)).await;
        }
    }
}

#[tokio::test]
async fn after_dev_the_operator_commands_work_with_no_environment_and_a_restart_uploads_nothing_again() {
    let cwd = tempfile::tempdir().unwrap();
    // `make run`: the default data directory, ./var.
    let mut dev = Process::spawn_in("docflow dev", docflow_binary(), &dev_args(&[]), &[], Some(cwd.path()));
    let status = dev.wait(Duration::from_secs(150)).await;
    assert!(status.success(), "docflow dev exited with {status}:\n{}", dev.output());

    let key = "uploads/teacher-42/samples/lesson-plan-week3.md";
    let (ok, out, err) = operator(cwd.path(), &["status", key]).await;
    assert!(ok, "docflow status failed:\n{out}\n{err}");
    assert!(out.contains("normalized"), "{out}");

    let uploads = cwd.path().join("var/s3/uploads");
    let stamps = |dir: &Path| {
        let mut files: Vec<(String, std::time::SystemTime)> = files_under(dir)
            .into_iter()
            .filter(|f| f.ends_with(".md") || f.ends_with(".mp4"))
            .map(|f| (f.clone(), std::fs::metadata(&f).unwrap().modified().unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = stamps(&uploads);
    assert_eq!(before.len(), 2, "{before:#?}");

    // A restart follows the same samples: nothing uploaded again, no new document.
    let mut again = Process::spawn_in("docflow dev again", docflow_binary(), &dev_args(&[]), &[], Some(cwd.path()));
    let status = again.wait(Duration::from_secs(150)).await;
    assert!(status.success(), "the restart exited with {status}:\n{}", again.output());
    assert_eq!(stamps(&uploads), before, "the samples were uploaded again");
    let settings = written_settings(&cwd.path().join("var"));
    let db = Db::connect(&settings.database).await.unwrap();
    assert_eq!(db.count_documents().await.unwrap(), 2);

    // While it runs, `docflow dlq list` reaches its NATS server with no setting given.
    let mut serving = Process::spawn_in("docflow dev serving", docflow_binary(), &["dev"], &[], Some(cwd.path()));
    let listed = try_wait_for(Duration::from_secs(60), || async {
        let (ok, out, _) = operator(cwd.path(), &["dlq", "list"]).await;
        ok.then_some(out)
    })
    .await;
    serving.terminate();
    let status = serving.wait(Duration::from_secs(60)).await;
    assert!(listed.is_some(), "docflow dlq list never succeeded:\n{}", serving.output());
    assert!(status.success(), "{}", serving.output());

    // Without any file, the error says where the settings come from.
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = operator(empty.path(), &["status", key]).await;
    assert!(!ok);
    assert!(err.contains("docflow dev") && err.contains("--config"), "{err}");
}
