//! Who may do what on `docflow dev`'s own nats-server: the users and permissions of
//! docs/operator.md's "NATS permissions" table, with passwords generated per data
//! directory. No anonymous connection; user `docflow` (every docflow component) and user
//! `minio` (the store's notifications: dev's built-in S3 endpoint connects as it). Core
//! NATS does not tell a subscriber who published, so the status subjects the web pages
//! trust are protected here: only `docflow` may publish them.

use crate::nats::Names;

/// docflow's own user.
pub const DOCFLOW_USER: &str = "docflow";
/// The object store's user: publishes upload notifications only.
pub const MINIO_USER: &str = "minio";

/// The subjects user `docflow` may publish and subscribe to, for `prefix`.
pub fn docflow_subjects(names: &Names) -> Vec<String> {
    let bucket = crate::web::revocations::bucket(names);
    vec![
        names.subject(">"),
        "$JS.API.>".into(),
        format!("$KV.{bucket}.>"),
        "_INBOX.>".into(),
        "$JS.ACK.>".into(),
        // Flow control of the ordered consumer that watches the sessions bucket.
        "$JS.FC.>".into(),
        "$JS.EVENT.ADVISORY.>".into(),
    ]
}

/// The `authorization { ... }` block of the server's configuration.
pub fn server_config(names: &Names, docflow_password: &str, minio_password: &str) -> String {
    let quoted = |items: &[String]| {
        items.iter().map(|s| serde_json::to_string(s).expect("a string serializes")).collect::<Vec<_>>().join(", ")
    };
    let docflow = quoted(&docflow_subjects(names));
    let minio_publish = quoted(&[names.subject("uploads.minio")]);
    let password = |p: &str| serde_json::to_string(p).expect("a string serializes");
    format!(
        "authorization {{\n  users = [\n    {{ user: {du}, password: {dp}, permissions: {{ publish: [{docflow}], subscribe: [{docflow}] }} }}\n    \
         {{ user: {mu}, password: {mp}, permissions: {{ publish: [{minio_publish}], subscribe: [\"_INBOX.>\"] }} }}\n  ]\n}}",
        du = password(DOCFLOW_USER),
        dp = password(docflow_password),
        mu = password(MINIO_USER),
        mp = password(minio_password),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;
    use crate::dev::nats_server::NatsServer;

    #[test]
    fn docflow_gets_its_prefix_its_bucket_and_jetstream_and_minio_one_subject() {
        let config = server_config(&Names::new("docflow"), "p1", "p2");
        for subject in ["\"docflow.>\"", "\"$KV.DOCFLOW_SESSIONS.>\"", "\"$JS.API.>\"", "\"docflow.uploads.minio\""] {
            assert!(config.contains(subject), "{subject}: {config}");
        }
        assert!(!config.contains("\">\""), "nobody gets everything: {config}");
    }

    /// Dev's own server as `docflow dev` starts it: an anonymous client is refused, and
    /// another user's publish on a status subject is denied by the server (no docflow
    /// subscriber ever sees it), while docflow's own reaches subscribers.
    #[tokio::test]
    async fn dev_nats_refuses_anonymous_clients_and_status_publishes_of_other_users() {
        let dir = tempfile::tempdir().unwrap();
        let names = Names::new("docflow");
        let config = server_config(&names, "docflow-secret", "minio-secret");
        let binary = crate::testkit::nats::nats_server_binary();
        let server = NatsServer::start(&binary, &dir.path().join("nats"), Some(&config)).await.unwrap();
        let url = server.url().to_owned();

        let anonymous =
            async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(2)).connect(&url).await;
        let error = anonymous.expect_err("an anonymous connection is refused").to_string();
        assert!(error.to_lowercase().contains("authorization"), "{error}");

        let docflow = async_nats::ConnectOptions::with_user_and_password(DOCFLOW_USER.into(), "docflow-secret".into())
            .connect(&url)
            .await
            .unwrap();
        let mut status = docflow.subscribe("docflow.status.>").await.unwrap();
        let mut uploads = docflow.subscribe("docflow.uploads.minio").await.unwrap();
        docflow.flush().await.unwrap();

        let (violations_tx, mut violations) = tokio::sync::mpsc::unbounded_channel();
        let minio = async_nats::ConnectOptions::with_user_and_password(MINIO_USER.into(), "minio-secret".into())
            .event_callback(move |event| {
                let tx = violations_tx.clone();
                async move {
                    if let async_nats::Event::ServerError(error) = event {
                        let _ = tx.send(error.to_string());
                    }
                }
            })
            .connect(&url)
            .await
            .unwrap();
        minio.publish("docflow.status.0190", "{\"forged\":true}".into()).await.unwrap();
        // Then a message it may publish: by the time docflow has it, the forged status
        // would have arrived before it (one connection's messages keep their order).
        minio.publish("docflow.uploads.minio", "{}".into()).await.unwrap();
        minio.flush().await.unwrap();
        let violation = tokio::time::timeout(Duration::from_secs(10), violations.recv()).await.unwrap().unwrap();
        assert!(violation.to_lowercase().contains("permissions violation"), "{violation}");
        tokio::time::timeout(Duration::from_secs(10), uploads.next()).await.expect("the allowed message").unwrap();
        let forged = futures_util::FutureExt::now_or_never(status.next());
        assert!(forged.is_none(), "the forged status reached a subscriber: {forged:?}");

        // docflow's own status changes go through.
        docflow.publish("docflow.status.0190", "{}".into()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), status.next()).await.expect("docflow's own status").unwrap();
        // A JetStream write, so the store has files: the server made them its user's only.
        let js = async_nats::jetstream::new(docflow.clone());
        let config = async_nats::jetstream::stream::Config {
            name: "DOCFLOW_T".into(),
            subjects: vec!["docflow.t".into()],
            ..Default::default()
        };
        js.create_stream(config).await.unwrap();
        js.publish("docflow.t", "x".into()).await.unwrap().await.unwrap();
        server.stop().await;
        let files = crate::dev::private::assert_private(&dir.path().join("nats"));
        assert!(files > 3, "the store, its configuration, log and port files");
    }
}
