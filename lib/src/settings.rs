//! One settings tree, loaded once: the embedded `docflow.default.toml`, then the user's
//! file, then `DOCFLOW__SECTION__KEY` environment variables. Validated at start: a wrong
//! value stops the program with one line naming the key and what is expected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::stages::StageId;

/// The reference settings, embedded in the binary.
pub const DEFAULTS: &str = include_str!("../docflow.default.toml");

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: `{key}`: {expected}")]
    Invalid { key: String, expected: String },
}

fn invalid(key: impl Into<String>, expected: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { key: key.into(), expected: expected.into() }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub nats: NatsSettings,
    pub database: DatabaseSettings,
    pub s3: S3Settings,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSettings>,
    pub routing: RoutingSettings,
    pub gateway: GatewaySettings,
    pub admin: AdminSettings,
    pub ingest: IngestSettings,
    pub dead: DeadSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    pub runtime: RuntimeSettings,
    pub stages: StagesSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NatsSettings {
    pub url: String,
    pub prefix: String,
    pub replicas: usize,
    /// Empty: the definitions embedded in the binary.
    pub definitions_dir: String,
    /// Authentication, at most one method (checked by `crate::nats::auth`): `user` +
    /// `password`, `token`, `nkey_seed_file`, `creds_file`, or credentials in `url`. An
    /// empty value counts as unset (so an environment variable can clear a file's key).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub token: Option<SecretString>,
    #[serde(default)]
    pub nkey_seed_file: Option<PathBuf>,
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    #[serde(default)]
    pub tls: NatsTlsSettings,
}

/// `[nats.tls]`: any key set turns TLS on (required, not opportunistic).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NatsTlsSettings {
    /// CA certificates (PEM) the server's certificate must chain to, on top of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for servers that verify clients; with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// `[admin]`: the private listener of every `docflow run` process.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    /// `/healthz`, `/readyz`, `/metrics`; keep it on a private address.
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: SecretString,
    pub uploads_bucket: String,
    pub results_bucket: String,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    Upload,
    Url,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Secrets {
    One(SecretString),
    Many(Vec<SecretString>),
}

impl Secrets {
    pub fn all(&self) -> Vec<&SecretString> {
        match self {
            Secrets::One(s) => vec![s],
            Secrets::Many(v) => v.iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProviderSettings {
    pub base_url: String,
    pub api_key: SecretString,
    pub callback_secret: Secrets,
    #[serde(default = "default_delivery")]
    pub delivery: Delivery,
    #[serde(default = "default_url_ttl", with = "humantime_serde")]
    pub url_ttl: Duration,
    #[serde(default)]
    pub result_hosts: Vec<String>,
    #[serde(default = "default_callback_timeout", with = "humantime_serde")]
    pub callback_timeout: Duration,
    /// The watchdog's first job-status check after a submission, then at doubling
    /// intervals until the callback or `callback_timeout` (0 s: only at the deadline).
    #[serde(default = "default_first_status_check", with = "humantime_serde")]
    pub first_status_check: Duration,
    /// No longer used: a submission has no total-time limit (a large upload that keeps
    /// moving is never cut); `connect_timeout` and `idle_timeout` bound it instead.
    /// Still accepted so existing files load.
    #[serde(default, with = "humantime_serde")]
    pub request_timeout: Option<Duration>,
    /// How long establishing a connection to the provider may take.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// A provider that sends nothing and accepts none of the upload for this long is a
    /// transient failure (waiting for the answer included).
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Submissions to this provider at once per process; unset: the transfer stage's
    /// concurrency divided by the number of providers (at least 1), so a hung provider
    /// never holds the slots the others need.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// The circuit breaker (`provider/design.md`).
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// After the deadline, a job still running is watched again this many times (one
    /// `callback_timeout` each) before its document fails.
    #[serde(default = "default_watch_rounds")]
    pub watch_rounds: u32,
    /// The largest file the provider accepts (`2GiB`); larger uploads are refused before
    /// they are sent (transfer's pre-flight). None: no limit.
    #[serde(default)]
    pub max_size: Option<String>,
}

fn default_delivery() -> Delivery {
    Delivery::Upload
}
fn default_url_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_callback_timeout() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn default_first_status_check() -> Duration {
    Duration::from_secs(120)
}
fn default_watch_rounds() -> u32 {
    3
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(60)
}

/// `providers.<name>.breaker`: after `failures` consecutive transient failures nothing is
/// submitted to the provider until a probe, first `probe_after` later, then at doubling
/// intervals up to `max_probe_after`; the first success closes it.
#[derive(Debug, Clone, Deserialize)]
pub struct BreakerSettings {
    #[serde(default = "default_breaker_failures")]
    pub failures: u32,
    #[serde(default = "default_probe_after", with = "humantime_serde")]
    pub probe_after: Duration,
    #[serde(default = "default_max_probe_after", with = "humantime_serde")]
    pub max_probe_after: Duration,
}

impl Default for BreakerSettings {
    fn default() -> BreakerSettings {
        BreakerSettings {
            failures: default_breaker_failures(),
            probe_after: default_probe_after(),
            max_probe_after: default_max_probe_after(),
        }
    }
}

fn default_breaker_failures() -> u32 {
    5
}
fn default_probe_after() -> Duration {
    Duration::from_secs(5)
}
fn default_max_probe_after() -> Duration {
    Duration::from_secs(60)
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoutingSettings {
    pub default: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GatewaySettings {
    pub listen: String,
    pub public_url: String,
    /// `[[gateway.tokens]]`: who may call the uploads route and the evaluator API.
    #[serde(default, deserialize_with = "crate::gateway::tokens::deserialize")]
    pub tokens: Vec<crate::gateway::tokens::GatewayToken>,
    pub max_body: String,
    /// The web interface's session signing secret, at least 32 bytes; every gateway
    /// given the same one accepts the others' sessions. Unset: a random key per process
    /// (a restart signs everybody out).
    #[serde(default)]
    pub session_secret: Option<SecretString>,
    /// A web session ends this long after its last use.
    #[serde(default = "default_session_idle", with = "humantime_serde")]
    pub session_idle: Duration,
    /// A web session ends this long after sign-in, however used; also how long the
    /// sessions bucket keeps revoked ids (its `max_age`).
    #[serde(default = "default_session_lifetime", with = "humantime_serde")]
    pub session_lifetime: Duration,
}

fn default_session_idle() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_session_lifetime() -> Duration {
    Duration::from_secs(8 * 3600)
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeadSettings {
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShutdownSettings {
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeSettings {
    /// Tokio worker threads of `docflow run`; 0: one per available core.
    pub worker_threads: usize,
}

/// `[stages.NAME]`, one table per [`StageId`]; read with [`StageId::settings`].
#[derive(Debug, Clone, Deserialize)]
pub struct StagesSettings {
    pub transfer: StageSettings,
    pub validate: StageSettings,
    pub normalize: StageSettings,
    pub watchdog: StageSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StageSettings {
    /// Messages handled at once by one process.
    pub concurrency: usize,
    /// The consumer's `max_ack_pending`: messages delivered and not yet acked, across
    /// every process, including those waiting for a delayed redelivery. The watchdog's
    /// is large: every submitted document's timer is pending until its deadline. It is
    /// also the most messages one process holds for the stage, running or waiting for a
    /// slot (capped at 1024; see `worker/design.md`): lower it to bound memory.
    pub max_ack_pending: i64,
    /// The most messages one process holds for the stage, running or waiting for a slot;
    /// unset: `max_ack_pending` (capped at 1024). The transfer stage sets it below its
    /// large `max_ack_pending`: documents held for a provider that is down wait on the
    /// server (pending, naked with a delay), not in memory, and must not stop the
    /// consumer from delivering other providers' documents (`provider/design.md`).
    #[serde(default)]
    pub max_held: Option<usize>,
    /// Deliveries of one message before it is dead-lettered.
    pub max_deliver: i64,
    /// Delay before the n-th retry; the last entry repeats.
    #[serde(deserialize_with = "durations")]
    pub backoff: Vec<Duration>,
    /// How long one pull request waits on the server before it is renewed.
    #[serde(with = "humantime_serde")]
    pub pull_expires: Duration,
}

impl Settings {
    /// Loads defaults < `file` (or `./docflow.toml` when present) < environment.
    /// `env` replaces the process environment (tests); `None` reads the real one.
    pub fn load(file: Option<&Path>, env: Option<HashMap<String, String>>) -> Result<Settings, SettingsError> {
        Settings::load_over(None, file, env)
    }

    /// [`Settings::load`] with `base` (TOML) between the embedded defaults and the file:
    /// how `docflow dev` brings defaults of its own that the file and environment override.
    pub fn load_over(
        base: Option<&str>,
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(base) = base {
            builder = builder.add_source(File::from_str(base, FileFormat::Toml));
        }
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(invalid(
                        "--config",
                        format!("{} does not exist; pass an existing TOML file", path.display()),
                    ));
                }
                builder = builder.add_source(File::from(PathBuf::from(path)).format(FileFormat::Toml));
            }
            None => {
                builder = builder.add_source(File::new("docflow.toml", FileFormat::Toml).required(false));
            }
        }
        let mut environment = Environment::with_prefix("DOCFLOW").separator("__").list_separator(",").try_parsing(true);
        let mut vars: HashMap<String, String> = env.unwrap_or_else(|| std::env::vars().collect());
        // `DOCFLOW__GATEWAY__TOKENS` holds a TOML array of tables: read here, not by the
        // environment source (it has no form for a list of tables).
        if let Some(tokens) = vars.remove(crate::gateway::tokens::ENV_VAR) {
            builder = builder.add_source(crate::gateway::tokens::env_source(&tokens)?);
        }
        let mut list_keys = Vec::new();
        list_keys.extend(StageId::ALL.iter().map(|stage| format!("stages.{stage}.backoff")));
        // Per-provider lists: the provider names are only known from the variables.
        for (name, value) in &vars {
            let Some(rest) = name.strip_prefix("DOCFLOW__PROVIDERS__") else { continue };
            let Some((provider, key)) = rest.split_once("__") else { continue };
            if key == "RESULT_HOSTS" || (key == "CALLBACK_SECRET" && value.contains(',')) {
                list_keys.push(format!("providers.{}.{}", provider.to_ascii_lowercase(), key.to_ascii_lowercase()));
            }
        }
        for key in &list_keys {
            environment = environment.with_list_parse_key(key);
        }
        environment = environment.source(Some(vars));
        let settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The checks serde cannot make; each error names its key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !self.nats.url.starts_with("nats://") && !self.nats.url.starts_with("tls://") {
            return Err(invalid("nats.url", "a nats:// or tls:// URL, e.g. nats://127.0.0.1:4222"));
        }
        let prefix_ok = !self.nats.prefix.is_empty()
            && self.nats.prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !prefix_ok {
            return Err(invalid("nats.prefix", "letters, digits, `_` or `-` only (it names subjects and streams)"));
        }
        if self.nats.replicas == 0 || self.nats.replicas > 5 {
            return Err(invalid("nats.replicas", "1 to 5"));
        }
        crate::nats::auth::Auth::from_settings(&self.nats).map_err(|e| invalid(e.key, e.expected))?;
        crate::nats::auth::Tls::from_settings(&self.nats.tls).map_err(|e| invalid(e.key, e.expected))?;
        let db = &self.database.url;
        if !db.starts_with("postgres://") && !db.starts_with("postgresql://") && !db.starts_with("sqlite:") {
            return Err(invalid("database.url", "a postgres:// or sqlite: URL"));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "at least 1"));
        }
        check_http_url("s3.endpoint", &self.s3.endpoint)?;
        for (key, bucket) in
            [("s3.uploads_bucket", &self.s3.uploads_bucket), ("s3.results_bucket", &self.s3.results_bucket)]
        {
            let ok = (3..=63).contains(&bucket.len())
                && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !ok {
                return Err(invalid(key, "an S3 bucket name: 3 to 63 lowercase letters, digits, `-` or `.`"));
            }
        }
        if self.providers.is_empty() {
            return Err(invalid(
                "providers",
                "at least one [providers.NAME] table with base_url, api_key and callback_secret",
            ));
        }
        for (name, p) in &self.providers {
            check_http_url(&format!("providers.{name}.base_url"), &p.base_url)?;
            if p.connect_timeout.is_zero() || p.idle_timeout.is_zero() {
                return Err(invalid(
                    format!("providers.{name}.idle_timeout"),
                    "positive durations for connect_timeout and idle_timeout, e.g. \"5s\" and \"60s\"",
                ));
            }
            if p.concurrency == Some(0) {
                return Err(invalid(format!("providers.{name}.concurrency"), "at least 1"));
            }
            if p.breaker.failures == 0 || p.breaker.probe_after.is_zero() {
                return Err(invalid(
                    format!("providers.{name}.breaker"),
                    "failures of at least 1 and a positive probe_after",
                ));
            }
            if p.callback_secret.all().is_empty() {
                return Err(invalid(
                    format!("providers.{name}.callback_secret"),
                    "a secret or a non-empty list of secrets",
                ));
            }
            if p.max_size.as_deref().is_some_and(|size| parse_size(size).is_none()) {
                return Err(invalid(format!("providers.{name}.max_size"), "a size such as 2GiB or 500MB"));
            }
        }
        if self.providers.len() > 1 && !self.providers.contains_key(&self.routing.default) {
            return Err(invalid(
                "routing.default",
                format!(
                    "one of the configured providers ({}) when several are configured",
                    self.providers.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if !self.routing.default.is_empty() && !self.providers.contains_key(&self.routing.default) {
            return Err(invalid("routing.default", "the name of a configured provider, or empty"));
        }
        check_http_url("gateway.public_url", &self.gateway.public_url)?;
        if self.gateway.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid("gateway.listen", "an address and port, e.g. 127.0.0.1:8080"));
        }
        if self.admin.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid("admin.listen", "an address and port, e.g. 127.0.0.1:9090 (keep it private)"));
        }
        if self.gateway.session_secret.as_ref().is_some_and(|s| s.expose_secret().len() < 32) {
            return Err(invalid(
                "gateway.session_secret",
                "at least 32 bytes (e.g. `openssl rand -hex 32`), the same on every gateway; or unset for a key per process",
            ));
        }
        if self.gateway_max_body().is_none() {
            return Err(invalid("gateway.max_body", "a size such as 1MiB, 512KiB or 1048576"));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "`text` or `json`"));
        }
        for stage in StageId::ALL {
            let s = stage.settings(&self.stages);
            if s.concurrency == 0 {
                return Err(invalid(format!("stages.{stage}.concurrency"), "at least 1"));
            }
            if s.max_ack_pending < s.concurrency as i64 {
                return Err(invalid(
                    format!("stages.{stage}.max_ack_pending"),
                    format!("at least stages.{stage}.concurrency ({})", s.concurrency),
                ));
            }
            if s.backoff.is_empty() || s.backoff.iter().any(|d| d.is_zero()) {
                return Err(invalid(
                    format!("stages.{stage}.backoff"),
                    "a non-empty list of positive durations, e.g. [\"1s\", \"30s\"]",
                ));
            }
            if s.max_deliver <= s.backoff.len() as i64 {
                return Err(invalid(
                    format!("stages.{stage}.max_deliver"),
                    format!(
                        "more than the {} entries of stages.{stage}.backoff (JetStream requires it)",
                        s.backoff.len()
                    ),
                ));
            }
            if s.pull_expires < Duration::from_secs(1) {
                return Err(invalid(format!("stages.{stage}.pull_expires"), "at least 1s"));
            }
        }
        Ok(())
    }

    /// `gateway.max_body` in bytes.
    pub fn gateway_max_body(&self) -> Option<usize> {
        parse_size(&self.gateway.max_body)
    }

    /// `providers.<name>.concurrency`, or its default: the transfer stage's concurrency
    /// shared between the providers.
    pub fn provider_concurrency(&self, name: &str) -> usize {
        let shared = (self.stages.transfer.concurrency / self.providers.len().max(1)).max(1);
        self.providers.get(name).and_then(|p| p.concurrency).unwrap_or(shared)
    }

    /// The provider a document goes to: the one its metadata names, else the default.
    pub fn provider_for(&self, requested: Option<&str>) -> Option<(&str, &ProviderSettings)> {
        let name = match requested {
            Some(name) if !name.is_empty() => name,
            _ if self.providers.len() == 1 => self.providers.keys().next()?.as_str(),
            _ => self.routing.default.as_str(),
        };
        self.providers.get_key_value(name).map(|(k, v)| (k.as_str(), v))
    }
}

fn durations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let items: Vec<humantime_serde::Serde<Duration>> = Deserialize::deserialize(d)?;
    Ok(items.into_iter().map(|s| s.into_inner()).collect())
}

fn check_http_url(key: &str, value: &str) -> Result<(), SettingsError> {
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(invalid(key, format!("an http(s) URL, got {value:?}"))),
    }
}

/// Parses `1MiB`, `512KiB`, `2MB`, `1048576`.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        crate::testkit::TestSettings::new().with(pairs).vars()
    }

    #[test]
    fn the_defaults_plus_one_provider_are_valid() {
        let s = Settings::load(None, Some(env(&[]))).unwrap();
        assert_eq!(s.database.max_connections, 4);
        assert_eq!(s.stages.transfer.backoff[1], Duration::from_secs(5));
        assert_eq!(s.provider_for(None).unwrap().0, "sim");
        assert_eq!(s.runtime.worker_threads, 0);
    }

    #[test]
    fn the_deploy_examples_load_with_their_secrets_from_the_environment() {
        let secrets = HashMap::from([
            ("DOCFLOW__PROVIDERS__ACME__API_KEY".to_owned(), "k".to_owned()),
            ("DOCFLOW__PROVIDERS__ACME__CALLBACK_SECRET".to_owned(), "s".to_owned()),
        ]);
        for (file, worker_threads) in [("deploy/docflow.example.toml", 0), ("deploy/edge/docflow.toml", 1)] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
            let s = Settings::load(Some(&path), Some(secrets.clone())).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(s.runtime.worker_threads, worker_threads, "{file}");
            assert!(s.providers.contains_key("acme"), "{file}");
        }
    }

    #[test]
    fn the_environment_overrides_the_defaults() {
        let s = Settings::load(
            None,
            Some(env(&[
                ("DOCFLOW__NATS__URL", "nats://127.0.0.1:5222"),
                ("DOCFLOW__STAGES__TRANSFER__BACKOFF", "1s,2s"),
                ("DOCFLOW__RUNTIME__WORKER_THREADS", "1"),
            ])),
        )
        .unwrap();
        assert_eq!(s.nats.url, "nats://127.0.0.1:5222");
        assert_eq!(s.runtime.worker_threads, 1);
        assert_eq!(s.stages.transfer.backoff, vec![Duration::from_secs(1), Duration::from_secs(2)]);
    }

    #[test]
    fn provider_lists_come_from_comma_separated_variables() {
        let s = Settings::load(
            None,
            Some(env(&[
                ("DOCFLOW__PROVIDERS__SIM__RESULT_HOSTS", "127.0.0.1:9100,files.example"),
                ("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET", "new,old"),
            ])),
        )
        .unwrap();
        let sim = &s.providers["sim"];
        assert_eq!(sim.result_hosts, ["127.0.0.1:9100", "files.example"]);
        assert_eq!(sim.callback_secret.all().len(), 2);
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let err = Settings::load(None, Some(env(&[("DOCFLOW__DATABASE__URL", "mysql://x")]))).unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = Settings::load(None, Some(env(&[("DOCFLOW__STAGES__TRANSFER__MAX_DELIVER", "2")]))).unwrap_err();
        assert!(err.to_string().contains("stages.transfer.max_deliver"), "{err}");
    }

    #[test]
    fn no_provider_is_an_error_that_says_what_to_add() {
        let err = Settings::load(None, Some(HashMap::new())).unwrap_err();
        assert!(err.to_string().contains("[providers.NAME]"), "{err}");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("lots"), None);
    }
}
