//! `docflow dev`: the whole pipeline in one process on embedded defaults.

use std::path::Path;
use std::time::Duration;

use docflow::db::{Db, State};
use docflow::settings::DatabaseSettings;

use crate::support::{Process, docflow_binary, free_port};

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
    // Nothing answers at the configured NATS URL: dev starts nats-server itself.
    let env = vec![("DOCFLOW__NATS__URL".to_owned(), format!("nats://127.0.0.1:{}", free_port()))];
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
    assert!(files.iter().any(|f| f.contains("/nats/")), "the NATS store is in the data directory");
}
