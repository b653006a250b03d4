//! docflow's JetStream topology. The natscli-compatible JSON under `nats/` is the only
//! definition of streams and consumers; it is embedded here (or read from
//! `nats.definitions_dir`), adjusted to the settings (prefix, replicas, each stage's
//! retries and concurrency, how long dead letters are kept) and applied idempotently.

mod definitions;
pub mod kv;

use std::collections::BTreeSet;

use async_nats::jetstream;
use async_nats::jetstream::context::{ConsumerInfoErrorKind, GetStreamErrorKind};
use serde::Serialize;

use crate::settings::Settings;

pub use definitions::{ConsumerDef, Definitions, StreamDef, definitions};

/// The short name of the dead-letter stream.
pub const DEAD_STREAM: &str = "dead";

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(
        "cannot read NATS definition {path}: {source}; set nats.definitions_dir to a folder holding streams/*.json and consumers/*.json, or leave it empty to use the embedded ones"
    )]
    Read { path: String, source: std::io::Error },
    #[error(
        "NATS definition {file}: {detail}; fix the file (it must be JSON that `nats stream add --config` / `nats consumer add --config` accepts)"
    )]
    Invalid { file: String, detail: String },
    #[error("cannot {action} stream {stream}: {detail}; {fix}")]
    Stream { stream: String, action: &'static str, detail: String, fix: String },
    #[error("cannot {action} consumer {consumer} on stream {stream}: {detail}; {fix}")]
    Consumer { stream: String, consumer: String, action: &'static str, detail: String, fix: String },
    #[error(
        "the NATS server at {url} answers without JetStream ({detail}); turn JetStream on: start nats-server with \
         `-js` (`--jetstream`), or add `jetstream {{ store_dir: \"/var/lib/nats\" }}` to its configuration file \
         (a directory the server may write) and restart it; with accounts, also `jetstream: enabled` in docflow's \
         account"
    )]
    NoJetStream { url: String, detail: &'static str },
}

/// Refuses a NATS server (or account) without JetStream, saying how to turn it on; any
/// other trouble is left to the steps that follow, which name it. `url` is shown redacted.
pub async fn require_jetstream(js: &async_nats::jetstream::Context, url: &str) -> Result<(), TopologyError> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::AccountErrorKind;
    let detail = match js.query_account().await {
        Err(e) => match e.kind() {
            AccountErrorKind::JetStreamUnavailable => "no JetStream API answers",
            AccountErrorKind::JetStream(error) if error.error_code() == ErrorCode::JETSTREAM_NOT_ENABLED => {
                "JetStream is not enabled"
            }
            AccountErrorKind::JetStream(error)
                if error.error_code() == ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT =>
            {
                "JetStream is not enabled for this account"
            }
            _ => return Ok(()),
        },
        Ok(_) => return Ok(()),
    };
    Err(TopologyError::NoJetStream { url: crate::redact::url(url), detail })
}

/// What `apply` did to one stream or consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// The result of [`apply`], in the order applied.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    /// `(stream, change)`.
    pub streams: Vec<(String, Change)>,
    /// `(stream, consumer, change)`.
    pub consumers: Vec<(String, String, Change)>,
}

impl Applied {
    /// True when nothing was created or updated.
    pub fn is_unchanged(&self) -> bool {
        self.streams.iter().all(|(_, c)| *c == Change::Unchanged)
            && self.consumers.iter().all(|(_, _, c)| *c == Change::Unchanged)
    }
}

/// Creates or updates every stream and consumer. Running it twice changes nothing;
/// changing a setting (backoff, replicas, ...) updates what it concerns.
pub async fn apply(js: &jetstream::Context, settings: &Settings) -> Result<Applied, TopologyError> {
    let defs = definitions(settings)?;
    let mut applied = Applied::default();
    for def in &defs.streams {
        let change = apply_stream(js, def).await?;
        tracing::info!(stream = %def.config.name, ?change, "stream applied");
        applied.streams.push((def.config.name.clone(), change));
    }
    for def in &defs.consumers {
        let change = apply_consumer(js, def).await?;
        let name = def.name().to_owned();
        tracing::info!(stream = %def.stream, consumer = %name, ?change, "consumer applied");
        applied.consumers.push((def.stream.clone(), name, change));
    }
    Ok(applied)
}

async fn apply_stream(js: &jetstream::Context, def: &StreamDef) -> Result<Change, TopologyError> {
    let name = def.config.name.clone();
    let err = |action: &'static str, detail: String, fix: String| TopologyError::Stream {
        stream: name.clone(),
        action,
        detail,
        fix,
    };
    match js.get_stream(&name).await {
        Ok(mut existing) => {
            let info = existing.info().await.map_err(|e| err("read", e.to_string(), reachable()))?;
            if same(&def.config, &info.config, &def.keys) {
                return Ok(Change::Unchanged);
            }
            js.update_stream(&def.config).await.map_err(|e| {
                err(
                    "update",
                    e.to_string(),
                    format!(
                        "some settings (retention, storage) cannot change in place: drain the stream, delete it with `nats stream rm {name}` and run `docflow setup` again"
                    ),
                )
            })?;
            Ok(Change::Updated)
        }
        Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.code() == 404) => {
            js.create_stream(def.config.clone()).await.map_err(|e| {
                err(
                    "create",
                    e.to_string(),
                    format!(
                        "check that no other stream already binds the subjects {:?} (`nats stream ls`)",
                        def.config.subjects
                    ),
                )
            })?;
            Ok(Change::Created)
        }
        Err(e) => Err(err("read", e.to_string(), reachable())),
    }
}

async fn apply_consumer(js: &jetstream::Context, def: &ConsumerDef) -> Result<Change, TopologyError> {
    let consumer_name = def.name().to_owned();
    let err = |action: &'static str, detail: String, fix: String| TopologyError::Consumer {
        stream: def.stream.clone(),
        consumer: consumer_name.clone(),
        action,
        detail,
        fix,
    };
    let stream = js.get_stream_no_info(&def.stream).await.map_err(|e| err("read", e.to_string(), reachable()))?;
    let change = match stream.consumer_info(&consumer_name).await {
        Ok(info) if same(&def.config, &info.config, &def.keys) => return Ok(Change::Unchanged),
        Ok(_) => Change::Updated,
        Err(e)
            if matches!(e.kind(), ConsumerInfoErrorKind::NotFound)
                || matches!(e.kind(), ConsumerInfoErrorKind::JetStream(ref j) if j.code() == 404) =>
        {
            Change::Created
        }
        Err(e) => return Err(err("read", e.to_string(), reachable())),
    };
    // CONSUMER.CREATE without an action creates or updates, on 2.9 as on current servers.
    stream.create_consumer(def.config.clone()).await.map_err(|e| {
        err(
            if change == Change::Created { "create" } else { "update" },
            e.to_string(),
            format!(
                "deliver/ack/replay policy and the filter cannot change in place: stop the workers, delete it with `nats consumer rm {} {consumer_name}` and run `docflow setup` again; max_deliver must exceed the number of backoff entries",
                def.stream
            ),
        )
    })?;
    Ok(change)
}

fn reachable() -> String {
    "is nats-server running at nats.url, with JetStream on (`-js`, or `jetstream {}` in its configuration)?".to_owned()
}

/// Compares the keys the definition sets (plus the overridden ones) with the server's copy.
fn same<T: Serialize>(desired: &T, current: &T, keys: &BTreeSet<String>) -> bool {
    let (Ok(serde_json::Value::Object(desired)), Ok(serde_json::Value::Object(current))) =
        (serde_json::to_value(desired), serde_json::to_value(current))
    else {
        return false;
    };
    keys.iter().all(|key| {
        let a = desired.get(key).filter(|v| !v.is_null());
        let b = current.get(key).filter(|v| !v.is_null());
        a == b
    })
}

#[cfg(test)]
mod tests;
