//! One settings tree, loaded once: the embedded `docflow.default.toml`, then the settings
//! file, its `conf.d/*.toml` drop-ins, then `DOCFLOW__SECTION__KEY` environment variables
//! ([`sources`]). Every key of every source must be known ([`keys`], derived from these
//! types by [`schema`]). Validated per command ([`Needs`]): a wrong value stops the program
//! with one line naming the key and what is expected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::Config;
use secrecy::SecretString;
use serde::Deserialize;

use crate::ids::UploaderId;

pub mod edit;
pub mod keys;
pub mod oidc;
pub mod schema;
pub mod sources;
pub mod tokens;
mod validate;

pub use sources::ConfigFiles;
pub use validate::Needs;

/// The reference settings, embedded in the binary.
pub const DEFAULTS: &str = include_str!("../../docflow.default.toml");

/// Each message is one line naming the key (or file) and the fix; no `source()`, so that
/// a printed cause chain does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(config::ConfigError),
    #[error("configuration: `{key}`: {expected}")]
    Invalid { key: String, expected: String },
    #[error("configuration: {0}")]
    Unknown(keys::Unknown),
    #[error("configuration: cannot read {}: {cause}", path.display())]
    Read { path: PathBuf, cause: String },
    /// Several of the above, one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Many(Vec<SettingsError>),
}

impl From<config::ConfigError> for SettingsError {
    fn from(error: config::ConfigError) -> SettingsError {
        SettingsError::Load(error)
    }
}

impl SettingsError {
    /// Each problem, one error each.
    pub fn problems(&self) -> Vec<&SettingsError> {
        match self {
            SettingsError::Many(all) => all.iter().flat_map(SettingsError::problems).collect(),
            one => vec![one],
        }
    }
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
    pub telemetry: TelemetrySettings,
    pub runtime: RuntimeSettings,
    pub stages: StagesSettings,
    /// `[oidc]`: sign-in through an OpenID provider; off while `oidc.issuer` is unset.
    #[serde(default)]
    pub oidc: oidc::OidcSettings,
    pub mail: MailSettings,
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
    /// How often the process reads the pipeline gauges (consumer backlogs, dead letters)
    /// from JetStream for `/metrics`.
    #[serde(with = "humantime_serde")]
    pub gauges_every: Duration,
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
    /// The address docflow itself reaches the store at.
    pub endpoint: String,
    /// The address browsers reach the store at (the upload forms are signed for it);
    /// unset or empty: `endpoint`. See [`S3Settings::public_endpoint`].
    #[serde(default)]
    pub public_endpoint: Option<String>,
    pub region: String,
    pub access_key: String,
    pub secret_key: SecretString,
    pub uploads_bucket: String,
    pub results_bucket: String,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl S3Settings {
    /// `s3.public_endpoint`, else `s3.endpoint`.
    pub fn public_endpoint(&self) -> &str {
        self.public_endpoint.as_deref().filter(|e| !e.trim().is_empty()).unwrap_or(&self.endpoint)
    }
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
    /// Required where providers are called (checked by `validate`, so that commands that
    /// call none load without it).
    #[serde(default)]
    pub base_url: String,
    #[serde(default = "no_secret")]
    pub api_key: SecretString,
    #[serde(default = "no_secrets")]
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

fn no_secret() -> SecretString {
    SecretString::from("")
}
fn no_secrets() -> Secrets {
    Secrets::Many(Vec::new())
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
    #[serde(default, deserialize_with = "crate::settings::tokens::deserialize")]
    pub tokens: Vec<crate::settings::tokens::GatewayToken>,
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

/// `[telemetry]`: traces exported over OTLP (`crate::telemetry`).
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// The collector's OTLP/HTTP address; empty: no export.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeSettings {
    /// Tokio worker threads of `docflow run`; 0: one per available core.
    pub worker_threads: usize,
}

/// `[stages.NAME]`, one table per [`crate::ids::StageId`]; read with its `settings`.
#[derive(Debug, Clone, Deserialize)]
pub struct StagesSettings {
    pub transfer: StageSettings,
    pub validate: StageSettings,
    pub normalize: StageSettings,
    pub watchdog: StageSettings,
    pub mail: StageSettings,
    /// Erasure requests (`docflow forget`).
    pub forget: StageSettings,
}

/// `[mail]`: the e-mail to a teacher when their document is ready or needs their action
/// (`crate::mail`). Off unless `enabled`: nothing is then published or sent.
#[derive(Debug, Clone, Deserialize)]
pub struct MailSettings {
    pub enabled: bool,
    /// The SMTP server as a URL (`smtp://host:587?tls=required`, `smtps://host`, with
    /// `user:password@` when it needs them); unset or empty: `host`, `port`, `starttls`.
    #[serde(default)]
    pub smtp_url: Option<SecretString>,
    pub host: String,
    pub port: u16,
    /// STARTTLS required (`true`) or plain SMTP (`false`, a relay on the same host).
    pub starttls: bool,
    /// The sender, `docflow <docflow@school.example>`.
    pub from: String,
    /// How long one SMTP exchange may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// `[[mail.uploaders]]`: addresses of uploaders who sign in with a token (OpenID
    /// Connect users' come from their sign-in). Listed means opted in unless `opt_in = false`.
    #[serde(default)]
    pub uploaders: Vec<MailUploader>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailUploader {
    pub uploader_id: UploaderId,
    pub email: String,
    #[serde(default = "opted_in")]
    pub opt_in: bool,
}

fn opted_in() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct StageSettings {
    /// Messages handled at once by one process.
    pub concurrency: usize,
    /// The consumer's `max_ack_pending`: messages delivered and not yet acked, across
    /// every process, including those waiting for a delayed redelivery. The watchdog's
    /// is large: every submitted document's timer is pending until its deadline. One
    /// process holds only what it runs (`concurrency`; see `worker/design.md`).
    pub max_ack_pending: i64,
    /// Deliveries of one message before it is dead-lettered.
    pub max_deliver: i64,
    /// Delay before the n-th retry; the last entry repeats.
    #[serde(deserialize_with = "durations")]
    pub backoff: Vec<Duration>,
    /// How long one pull request waits on the server before it is renewed.
    #[serde(with = "humantime_serde")]
    pub pull_expires: Duration,
}

/// Settings read from their sources, not yet validated.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    /// Renamed or retired keys found: print them, the settings still load.
    pub warnings: Vec<String>,
    /// The merged sources, for `docflow config get`.
    pub merged: Config,
}

/// What `docflow config check` found.
#[derive(Debug, Default)]
pub struct Inspection {
    pub warnings: Vec<String>,
    pub problems: Vec<SettingsError>,
}

impl Settings {
    /// Loads defaults < `file` (or `./docflow.toml` when present) < its `conf.d/*.toml` <
    /// environment, and validates everything. `env` replaces the process environment
    /// (tests); `None` reads the real one.
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
        let loaded = Settings::read(base, &ConfigFiles::find(file)?, env)?;
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        loaded.settings.validate()?;
        Ok(loaded.settings)
    }

    /// Reads and merges the sources, refusing unknown keys; no validation (see
    /// [`Settings::validate_for`]).
    pub fn read(
        base: Option<&str>,
        files: &ConfigFiles,
        env: Option<HashMap<String, String>>,
    ) -> Result<Loaded, SettingsError> {
        let (merged, findings) = sources::assemble(base, files, env, None)?;
        if !findings.unknown.is_empty() {
            return Err(validate::one_or_many(findings.unknown.into_iter().map(SettingsError::Unknown).collect())
                .expect_err("not empty"));
        }
        let settings: Settings = merged.clone().try_deserialize()?;
        Ok(Loaded { settings, warnings: findings.warnings, merged })
    }

    /// Every problem of the sources and of the settings they make (`docflow config
    /// check`); `replace` stands for one file's content (or adds a file) without writing it.
    pub fn inspect(
        files: &ConfigFiles,
        env: Option<HashMap<String, String>>,
        replace: Option<(&Path, &str)>,
    ) -> Inspection {
        let (merged, findings) = match sources::assemble(None, files, env, replace) {
            Ok(found) => found,
            Err(e) => return Inspection { warnings: Vec::new(), problems: vec![e] },
        };
        let mut problems: Vec<SettingsError> = findings.unknown.into_iter().map(SettingsError::Unknown).collect();
        match merged.try_deserialize::<Settings>() {
            Ok(settings) => problems.extend(settings.problems(Needs::ALL)),
            Err(e) => problems.push(e.into()),
        }
        Inspection { warnings: findings.warnings, problems }
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
            // The edge file is a drop-in over the package's settings: the provider's address
            // is the operator's to write.
            ("DOCFLOW__PROVIDERS__ACME__BASE_URL".to_owned(), "https://provider.example".to_owned()),
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

    /// A settings file with `text` and the drop-ins `(name, text)` beside it.
    fn files(text: &str, drop_ins: &[(&str, &str)]) -> (tempfile::TempDir, ConfigFiles) {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("docflow.toml");
        std::fs::write(&main, text).unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        for (name, text) in drop_ins {
            std::fs::write(dir.path().join("conf.d").join(name), text).unwrap();
        }
        let files = ConfigFiles::find(Some(&main)).unwrap();
        (dir, files)
    }

    #[test]
    fn drop_ins_override_the_file_in_order_and_the_environment_overrides_all() {
        let (_dir, files) = files(
            "[admin]\nlisten = \"127.0.0.1:1\"\n[gateway]\nmax_body = \"2MiB\"\n[log]\nlevel = \"debug\"\n",
            &[
                ("50-local.toml", "[admin]\nlisten = \"127.0.0.1:3\"\n"),
                ("10-secrets.toml", "[admin]\nlisten = \"127.0.0.1:2\"\n[gateway]\nmax_body = \"3MiB\"\n"),
            ],
        );
        let loaded = Settings::read(None, &files, Some(env(&[("DOCFLOW__LOG__LEVEL", "warn")]))).unwrap();
        let s = loaded.settings;
        assert_eq!((s.admin.listen.as_str(), s.gateway.max_body.as_str()), ("127.0.0.1:3", "3MiB"));
        assert_eq!(s.log.level, "warn");
        assert_eq!(s.database.max_connections, 4, "the defaults under all");
    }

    #[test]
    fn unknown_keys_anywhere_are_all_refused_naming_where_they_are() {
        let (dir, files) = files("[nats]\nurll = \"x\"\n", &[("50-local.toml", "[admin]\nlisen = \"x\"\n")]);
        let error = Settings::read(None, &files, Some(env(&[("DOCFLOW__S3__BUKET", "x")]))).unwrap_err();
        let problems: Vec<String> = error.problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("`nats.urll`") && problems[0].contains("docflow.toml"), "{problems:?}");
        assert!(problems[0].contains("did you mean `nats.url`?"), "{problems:?}");
        let drop_in = dir.path().join("conf.d").join("50-local.toml");
        assert!(problems[1].contains("`admin.lisen`") && problems[1].contains(&drop_in.display().to_string()));
        assert!(problems[2].contains("`s3.buket`") && problems[2].contains("DOCFLOW__S3__BUKET"), "{problems:?}");
        assert_eq!(error.to_string().lines().count(), 3, "one line each: {error}");
    }

    #[test]
    fn a_command_requires_only_the_sections_it_uses() {
        let (_dir, files) = files("[providers.acme]\nbase_url = \"http://127.0.0.1:9100\"\n", &[]);
        let settings = Settings::read(None, &files, Some(HashMap::new())).unwrap().settings;
        settings.validate_for(Needs::DATABASE).unwrap();
        settings.validate_for(Needs::NATS).unwrap();
        settings.validate_for(Needs::SETUP).unwrap();
        let error = settings.validate_for(Needs::ALL).unwrap_err().to_string();
        assert_eq!(error.matches("`providers.acme.api_key`").count(), 1, "{error}");
        assert!(error.contains("`providers.acme.callback_secret`"), "{error}");
        assert!(error.contains("DOCFLOW__PROVIDERS__ACME__API_KEY"), "{error}");
    }

    #[test]
    fn a_retired_key_still_loads_with_a_warning() {
        let (_dir, files) = files(
            "[providers.sim]\nbase_url = \"http://127.0.0.1:9100\"\napi_key = \"k\"\ncallback_secret = \"s\"\n\
             request_timeout = \"10m\"\n",
            &[],
        );
        let loaded = Settings::read(None, &files, Some(HashMap::new())).unwrap();
        loaded.settings.validate().unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("providers.sim.request_timeout"), "{:?}", loaded.warnings);
    }

    #[test]
    fn a_missing_settings_file_is_named() {
        let error = Settings::load(Some(Path::new("/nonexistent/docflow.toml")), Some(HashMap::new())).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/docflow.toml does not exist"), "{error}");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("lots"), None);
    }
}
