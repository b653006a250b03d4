//! Loading the `nats/` JSON and fitting it to the settings.

use std::collections::BTreeSet;
use std::path::Path;

use async_nats::jetstream::{consumer, stream};

use super::{DEAD_STREAM, TopologyError};
use crate::ids::{StageId, UnknownStage};
use crate::nats::Names;
use crate::settings::Settings;

/// The prefix the shipped definitions are written with.
const SHIPPED_PREFIX: &str = "docflow";

/// The shipped definitions: `(file name, JSON)`.
const STREAMS: [(&str, &str); 7] = [
    ("DOCFLOW_UPLOADS.json", include_str!("../../../nats/streams/DOCFLOW_UPLOADS.json")),
    ("DOCFLOW_CALLBACKS.json", include_str!("../../../nats/streams/DOCFLOW_CALLBACKS.json")),
    ("DOCFLOW_NORMALIZE.json", include_str!("../../../nats/streams/DOCFLOW_NORMALIZE.json")),
    ("DOCFLOW_WATCH.json", include_str!("../../../nats/streams/DOCFLOW_WATCH.json")),
    ("DOCFLOW_DEAD.json", include_str!("../../../nats/streams/DOCFLOW_DEAD.json")),
    ("DOCFLOW_NOTIFY.json", include_str!("../../../nats/streams/DOCFLOW_NOTIFY.json")),
    ("DOCFLOW_FORGET.json", include_str!("../../../nats/streams/DOCFLOW_FORGET.json")),
];
const CONSUMERS: [(&str, &str); 6] = [
    ("DOCFLOW_UPLOADS.transfer.json", include_str!("../../../nats/consumers/DOCFLOW_UPLOADS.transfer.json")),
    ("DOCFLOW_CALLBACKS.validate.json", include_str!("../../../nats/consumers/DOCFLOW_CALLBACKS.validate.json")),
    ("DOCFLOW_NORMALIZE.normalize.json", include_str!("../../../nats/consumers/DOCFLOW_NORMALIZE.normalize.json")),
    ("DOCFLOW_WATCH.watchdog.json", include_str!("../../../nats/consumers/DOCFLOW_WATCH.watchdog.json")),
    ("DOCFLOW_NOTIFY.mail.json", include_str!("../../../nats/consumers/DOCFLOW_NOTIFY.mail.json")),
    ("DOCFLOW_FORGET.forget.json", include_str!("../../../nats/consumers/DOCFLOW_FORGET.forget.json")),
];

/// A stream as it will be applied.
#[derive(Debug, Clone)]
pub struct StreamDef {
    pub file: String,
    pub config: stream::Config,
    /// The keys the definition sets, plus the overridden ones: what `apply` compares.
    pub keys: BTreeSet<String>,
}

/// A durable consumer as it will be applied; its name is the stage's.
#[derive(Debug, Clone)]
pub struct ConsumerDef {
    pub file: String,
    /// The stream's full name (prefix applied).
    pub stream: String,
    pub config: consumer::Config,
    pub keys: BTreeSet<String>,
}

impl ConsumerDef {
    pub fn name(&self) -> &str {
        self.config.durable_name.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Definitions {
    pub streams: Vec<StreamDef>,
    pub consumers: Vec<ConsumerDef>,
}

/// The definitions (embedded, or from `nats.definitions_dir`) with the settings applied.
pub fn definitions(settings: &Settings) -> Result<Definitions, TopologyError> {
    let (streams, consumers) = if settings.nats.definitions_dir.is_empty() {
        let own = |list: &[(&str, &str)]| list.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect();
        (own(&STREAMS), own(&CONSUMERS))
    } else {
        let dir = Path::new(&settings.nats.definitions_dir);
        (read_dir(&dir.join("streams"))?, read_dir(&dir.join("consumers"))?)
    };
    let names = Names::new(&settings.nats.prefix);
    let streams =
        streams.iter().map(|(file, text)| stream_def(file, text, &names, settings)).collect::<Result<Vec<_>, _>>()?;
    let consumers = consumers
        .iter()
        .map(|(file, text)| consumer_def(file, text, &names, settings))
        .collect::<Result<Vec<_>, _>>()?;
    for c in &consumers {
        if !streams.iter().any(|s| s.config.name == c.stream) {
            return Err(invalid(&c.file, format!("its stream {} has no definition under streams/", c.stream)));
        }
    }
    Ok(Definitions { streams, consumers })
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, TopologyError> {
    let read_err = |source| TopologyError::Read { path: dir.display().to_string(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| TopologyError::Read { path: path.display().to_string(), source })?;
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            files.push((name, text));
        }
    }
    files.sort();
    Ok(files)
}

fn invalid(file: &str, detail: impl Into<String>) -> TopologyError {
    TopologyError::Invalid { file: file.to_owned(), detail: detail.into() }
}

/// Accepts a bare config or the output of `nats stream info --json` (a `config` key), as
/// natscli does; returns the config object and its keys.
fn parse_object(file: &str, text: &str) -> Result<(serde_json::Value, BTreeSet<String>), TopologyError> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
    if let Some(config) = value.get_mut("config") {
        value = config.take();
    }
    let keys = match &value {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        _ => return Err(invalid(file, "expected a JSON object")),
    };
    Ok((value, keys))
}

fn rename_stream(file: &str, name: &str, names: &Names) -> Result<String, TopologyError> {
    let shipped = format!("{}_", SHIPPED_PREFIX.to_ascii_uppercase());
    match name.strip_prefix(&shipped) {
        Some(short) if !short.is_empty() => Ok(names.stream(&short.to_ascii_lowercase())),
        _ => Err(invalid(
            file,
            format!("stream name {name:?} must start with {shipped} (the prefix is applied from nats.prefix)"),
        )),
    }
}

fn rename_subject(file: &str, subject: &str, names: &Names) -> Result<String, TopologyError> {
    match subject.strip_prefix(&format!("{SHIPPED_PREFIX}.")) {
        Some(rest) if !rest.is_empty() => Ok(names.subject(rest)),
        _ => Err(invalid(
            file,
            format!("subject {subject:?} must start with {SHIPPED_PREFIX}. (the prefix is applied from nats.prefix)"),
        )),
    }
}

fn stream_def(file: &str, text: &str, names: &Names, settings: &Settings) -> Result<StreamDef, TopologyError> {
    let (value, mut keys) = parse_object(file, text)?;
    let mut config: stream::Config = serde_json::from_value(value).map_err(|e| invalid(file, e.to_string()))?;
    let short = config.name.strip_prefix("DOCFLOW_").unwrap_or_default().to_ascii_lowercase();
    config.name = rename_stream(file, &config.name, names)?;
    config.subjects = config.subjects.iter().map(|s| rename_subject(file, s, names)).collect::<Result<_, _>>()?;
    config.num_replicas = settings.nats.replicas;
    keys.insert("num_replicas".into());
    if short == DEAD_STREAM {
        config.max_age = settings.dead.max_age;
        keys.insert("max_age".into());
    }
    Ok(StreamDef { file: file.to_owned(), config, keys })
}

fn consumer_def(file: &str, text: &str, names: &Names, settings: &Settings) -> Result<ConsumerDef, TopologyError> {
    let stream = file
        .split_once('.')
        .map(|(stream, _)| stream)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(file, "name it STREAM.CONSUMER.json"))?;
    let stream = rename_stream(file, stream, names)?;
    let (value, mut keys) = parse_object(file, text)?;
    let mut config: consumer::Config = serde_json::from_value(value).map_err(|e| invalid(file, e.to_string()))?;
    let Some(stage) = config.durable_name.clone() else {
        return Err(invalid(file, "set durable_name (docflow's consumers are durable, named after their stage)"));
    };
    let stage: StageId = stage.parse().map_err(|e: UnknownStage| invalid(file, format!("durable_name {e}")))?;
    let stage_settings = stage.settings(&settings.stages);
    if !config.filter_subject.is_empty() {
        config.filter_subject = rename_subject(file, &config.filter_subject, names)?;
    }
    if !config.filter_subjects.is_empty() {
        return Err(invalid(
            file,
            "use filter_subject: filter_subjects needs nats-server 2.10 and 2.9 would ignore it",
        ));
    }
    config.max_deliver = stage_settings.max_deliver;
    config.backoff = stage_settings.backoff.clone();
    // The server sets ack_wait to backoff[0] anyway; saying so keeps the comparison exact.
    config.ack_wait = stage_settings.backoff.first().copied().unwrap_or_default();
    config.max_ack_pending = stage_settings.max_ack_pending;
    keys.extend(["max_deliver", "backoff", "ack_wait", "max_ack_pending"].map(String::from));
    Ok(ConsumerDef { file: file.to_owned(), stream, config, keys })
}
