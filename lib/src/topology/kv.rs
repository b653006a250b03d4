//! docflow's KV buckets: `nats/kv/*.json` is their definition, the stream JSON natscli
//! writes for a bucket (`nats stream add --config nats/kv/DOCFLOW_SESSIONS.json` makes the
//! same bucket `nats kv` then reads). Today one bucket: the web interface's session
//! revocations ([`crate::web::revocations`]), whose `max_age` is the absolute session
//! lifetime (`gateway.session_lifetime`): every entry lives at least as long as the
//! session or link it refuses, without the per-key TTLs nats-server 2.9 lacks.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::stream;

use super::{Change, StreamDef, TopologyError};
use crate::nats::Names;
use crate::settings::Settings;

const SESSIONS: (&str, &str) = ("DOCFLOW_SESSIONS.json", include_str!("../../../nats/kv/DOCFLOW_SESSIONS.json"));

/// The sessions bucket's stream as it will be applied: prefix, replicas and age from the
/// settings.
pub fn sessions_definition(settings: &Settings) -> Result<StreamDef, TopologyError> {
    let (file, text) = SESSIONS;
    let invalid = |detail: String| TopologyError::Invalid { file: file.to_owned(), detail };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut keys: std::collections::BTreeSet<String> = match &value {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        _ => return Err(invalid("expected a JSON object".into())),
    };
    let mut config: stream::Config = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let bucket = crate::web::revocations::bucket(&Names::new(&settings.nats.prefix));
    config.name = format!("KV_{bucket}");
    config.subjects = vec![format!("$KV.{bucket}.>")];
    config.num_replicas = settings.nats.replicas;
    config.max_age = settings.gateway.session_lifetime;
    // The server refuses a duplicate window longer than the age limit.
    config.duplicate_window = config.duplicate_window.min(config.max_age).max(Duration::from_secs(1));
    keys.extend(["num_replicas", "max_age", "duplicate_window"].map(String::from));
    Ok(StreamDef { file: file.to_owned(), config, keys })
}

/// Creates or updates the buckets (a changed `gateway.session_lifetime` updates the age).
pub async fn apply(js: &jetstream::Context, settings: &Settings) -> Result<Vec<(String, Change)>, TopologyError> {
    let def = sessions_definition(settings)?;
    let change = super::apply_stream(js, &def).await?;
    tracing::info!(stream = %def.config.name, ?change, "kv bucket applied");
    Ok(vec![(def.config.name.clone(), change)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn the_bucket_is_named_by_the_prefix_and_lives_as_long_as_a_session() {
        let s = testkit::settings(testkit::SHARED_NATS, "acme-1", &[("DOCFLOW__GATEWAY__SESSION_LIFETIME", "12h")]);
        let def = sessions_definition(&s).unwrap();
        assert_eq!(def.config.name, "KV_ACME_1_SESSIONS");
        assert_eq!(def.config.subjects, ["$KV.ACME_1_SESSIONS.>"]);
        assert_eq!(def.config.max_age, Duration::from_secs(12 * 3600));
        assert_eq!(def.config.max_messages_per_subject, 1);
    }

    #[tokio::test]
    async fn setup_makes_a_bucket_that_kv_clients_open_and_follows_the_lifetime() {
        let prefix = testkit::random_prefix();
        let url = testkit::nats_url();
        let (_client, js) = testkit::connect(&url).await;
        let s = testkit::settings(&url, &prefix, &[]);
        let bucket = crate::web::revocations::bucket(&Names::new(&prefix));
        let (js2, bucket2) = (js.clone(), bucket.clone());
        let outcome = tokio::spawn(async move {
            let (js, bucket) = (js2, bucket2);
            assert_eq!(apply(&js, &s).await.unwrap()[0].1, Change::Created);
            assert_eq!(apply(&js, &s).await.unwrap()[0].1, Change::Unchanged);
            let kv = js.get_key_value(&bucket).await.expect("a KV bucket");
            let status = kv.status().await.unwrap();
            assert_eq!(status.max_age(), Duration::from_secs(8 * 3600));
            kv.create("revoked.abc", "{}".into()).await.unwrap();
            assert!(kv.create("revoked.abc", "{}".into()).await.is_err(), "create is once");
            let shorter = testkit::settings(&url, &prefix, &[("DOCFLOW__GATEWAY__SESSION_LIFETIME", "1h")]);
            assert_eq!(apply(&js, &shorter).await.unwrap()[0].1, Change::Updated);
            let fresh = js.get_key_value(&bucket).await.unwrap();
            assert_eq!(fresh.status().await.unwrap().max_age(), Duration::from_secs(3600));
        })
        .await;
        let _ = js.delete_stream(format!("KV_{bucket}")).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic.into_panic());
        }
    }
}
