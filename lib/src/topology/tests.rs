use std::time::Duration;

use async_nats::jetstream::stream::RetentionPolicy;

use super::*;
use crate::testkit::{self, SHARED_NATS};

#[test]
fn the_embedded_definitions_parse_with_the_defaults() {
    let s = testkit::settings(SHARED_NATS, "docflow", &[]);
    let defs = definitions(&s).unwrap();
    let names: Vec<_> = defs.streams.iter().map(|d| d.config.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "DOCFLOW_UPLOADS",
            "DOCFLOW_CALLBACKS",
            "DOCFLOW_NORMALIZE",
            "DOCFLOW_WATCH",
            "DOCFLOW_DEAD",
            "DOCFLOW_NOTIFY",
            "DOCFLOW_FORGET"
        ]
    );
    let uploads = &defs.streams[0].config;
    assert_eq!(uploads.subjects, ["docflow.uploads.>"]);
    assert_eq!(uploads.retention, RetentionPolicy::WorkQueue);
    assert!(uploads.allow_direct);
    let callbacks = &defs.streams[1].config;
    assert_eq!(callbacks.duplicate_window, Duration::from_secs(24 * 3600));
    let dead = &defs.streams[4].config;
    assert_eq!(dead.retention, RetentionPolicy::Limits);
    assert_eq!(dead.max_age, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(dead.subjects, ["docflow.dead.>"]);

    let transfer = &defs.consumers[0];
    assert_eq!((transfer.stream.as_str(), transfer.name()), ("DOCFLOW_UPLOADS", "transfer"));
    assert_eq!(transfer.config.filter_subject, "docflow.uploads.>");
    assert_eq!(transfer.config.max_deliver, 8);
    assert_eq!(transfer.config.max_ack_pending, 4096);
    assert_eq!(transfer.config.backoff.len(), 5);
    assert_eq!(transfer.config.backoff[3], Duration::from_secs(120));
    for def in &defs.consumers {
        let stage: crate::ids::StageId = def.name().parse().unwrap();
        assert_eq!(stage.consumer(), def.name());
        assert_eq!(crate::nats::Names::new("docflow").stream(stage.stream()), def.stream);
    }
}

#[test]
fn the_settings_override_the_definitions() {
    let s = testkit::settings(
        SHARED_NATS,
        "acme-1",
        &[
            ("DOCFLOW__NATS__REPLICAS", "3"),
            ("DOCFLOW__DEAD__MAX_AGE", "2d"),
            ("DOCFLOW__STAGES__VALIDATE__BACKOFF", "200ms,400ms"),
            ("DOCFLOW__STAGES__VALIDATE__MAX_DELIVER", "3"),
            ("DOCFLOW__STAGES__VALIDATE__CONCURRENCY", "4"),
            ("DOCFLOW__STAGES__VALIDATE__MAX_ACK_PENDING", "40"),
        ],
    );
    let defs = definitions(&s).unwrap();
    assert!(defs.streams.iter().all(|d| d.config.num_replicas == 3));
    assert_eq!(defs.streams[1].config.name, "ACME_1_CALLBACKS");
    assert_eq!(defs.streams[1].config.subjects, ["acme-1.callbacks.>"]);
    assert_eq!(defs.streams[4].config.max_age, Duration::from_secs(2 * 24 * 3600));
    let validate = defs.consumers.iter().find(|c| c.name() == "validate").unwrap();
    assert_eq!(validate.stream, "ACME_1_CALLBACKS");
    assert_eq!(validate.config.filter_subject, "acme-1.callbacks.>");
    assert_eq!(validate.config.backoff, [Duration::from_millis(200), Duration::from_millis(400)]);
    assert_eq!(validate.config.ack_wait, Duration::from_millis(200));
    assert_eq!(validate.config.max_deliver, 3);
    assert_eq!(validate.config.max_ack_pending, 40);
    let watchdog = defs.consumers.iter().find(|c| c.name() == "watchdog").unwrap();
    assert_eq!(watchdog.config.max_deliver, 100);
}

#[test]
fn a_definitions_dir_replaces_the_embedded_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../nats");
    for sub in ["streams", "consumers"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
        }
    }
    let path = dir.path().to_str().unwrap().to_owned();
    let s = testkit::settings(SHARED_NATS, "docflow", &[("DOCFLOW__NATS__DEFINITIONS_DIR", &path)]);
    let defs = definitions(&s).unwrap();
    assert_eq!(defs.streams.len(), 7);
    assert_eq!(defs.consumers.len(), 6);

    std::fs::write(dir.path().join("consumers/DOCFLOW_UPLOADS.transfer.json"), "{\"durable_name\": 3}").unwrap();
    let err = definitions(&s).unwrap_err().to_string();
    assert!(err.contains("DOCFLOW_UPLOADS.transfer.json"), "{err}");
}

#[tokio::test]
async fn apply_creates_then_changes_nothing_then_follows_a_changed_setting() {
    let prefix = testkit::random_prefix();
    let url = testkit::nats_url();
    let (_client, js) = testkit::connect(&url).await;
    let s = testkit::settings(&url, &prefix, &[]);
    let (js2, prefix2) = (js.clone(), prefix.clone());
    let result = async move {
        let (js, prefix) = (js2, prefix2);
        let first = apply(&js, &s).await.unwrap();
        assert!(first.streams.iter().all(|(_, c)| *c == Change::Created), "{first:?}");
        assert!(first.consumers.iter().all(|(_, _, c)| *c == Change::Created), "{first:?}");

        let second = apply(&js, &s).await.unwrap();
        assert!(second.is_unchanged(), "{second:?}");

        let changed = testkit::settings(
            &url,
            &prefix,
            &[("DOCFLOW__STAGES__TRANSFER__BACKOFF", "2s,10s"), ("DOCFLOW__DEAD__MAX_AGE", "7d")],
        );
        let third = apply(&js, &changed).await.unwrap();
        let updated: Vec<_> =
            third.consumers.iter().filter(|(_, _, c)| *c == Change::Updated).map(|(_, n, _)| n.as_str()).collect();
        assert_eq!(updated, ["transfer"], "{third:?}");
        let streams: Vec<_> =
            third.streams.iter().filter(|(_, c)| *c == Change::Updated).map(|(n, _)| n.clone()).collect();
        assert_eq!(streams, [crate::nats::Names::new(&prefix).stream("dead")]);
        let info = js
            .get_stream(crate::nats::Names::new(&prefix).stream("uploads"))
            .await
            .unwrap()
            .consumer_info("transfer")
            .await
            .unwrap();
        assert_eq!(info.config.backoff, [Duration::from_secs(2), Duration::from_secs(10)]);
        assert!(apply(&js, &changed).await.unwrap().is_unchanged());
    };
    // Clean up even when an assertion fails.
    let outcome = tokio::spawn(result).await;
    testkit::delete_streams(&js, &prefix).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// What `nats stream add --config` / `nats consumer add --config` send: the files verbatim
/// (only the prefix changed so the test has streams of its own).
#[tokio::test]
async fn the_shipped_files_are_accepted_verbatim_by_the_server() {
    let prefix = testkit::random_prefix();
    let (client, js) = testkit::connect(&testkit::nats_url()).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../nats");
    let (js2, client2, prefix2) = (js.clone(), client.clone(), prefix.clone());
    let outcome = tokio::spawn(async move {
        let (js, client, prefix) = (js2, client2, prefix2);
        let rename = |text: &str| {
            text.replace("DOCFLOW_", &format!("{}_", prefix.to_ascii_uppercase()))
                .replace("docflow.", &format!("{prefix}."))
        };
        let mut files: Vec<_> = std::fs::read_dir(root.join("streams")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for path in files {
            let config: serde_json::Value =
                serde_json::from_str(&rename(&std::fs::read_to_string(&path).unwrap())).unwrap();
            let name = config["name"].as_str().unwrap().to_owned();
            let reply =
                client.request(format!("$JS.API.STREAM.CREATE.{name}"), config.to_string().into()).await.unwrap();
            let reply: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            assert!(reply.get("error").is_none(), "{}: {reply}", path.display());
        }
        for entry in std::fs::read_dir(root.join("consumers")).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_owned();
            let stream = rename(file.split('.').next().unwrap());
            let config: serde_json::Value =
                serde_json::from_str(&rename(&std::fs::read_to_string(&path).unwrap())).unwrap();
            let durable = config["durable_name"].as_str().unwrap().to_owned();
            let request = serde_json::json!({"stream_name": stream, "config": config});
            let reply = client
                .request(format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"), request.to_string().into())
                .await
                .unwrap();
            let reply: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            assert!(reply.get("error").is_none(), "{file}: {reply}");
            assert_eq!(reply["config"]["ack_wait"], 1_000_000_000u64, "{reply}");
        }
        // And `docflow setup` finds them as it would have made them.
        let s = testkit::settings(&testkit::nats_url(), &prefix, &[("DOCFLOW__STAGES__WATCHDOG__MAX_DELIVER", "8")]);
        let applied = apply(&js, &s).await.unwrap();
        assert!(applied.is_unchanged(), "{applied:?}");
    })
    .await;
    testkit::delete_streams(&js, &prefix).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
