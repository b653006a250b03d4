//! The checks serde cannot make, by section, so that each command requires what it uses
//! and nothing more: `docflow status` needs the database, not a provider's API key. Every
//! problem names its key; all of them are reported at once.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::{Settings, SettingsError, check_http_url, invalid, parse_size};
use crate::ids::StageId;

/// The sections a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub nats: bool,
    pub database: bool,
    /// The object store (`[s3]`).
    pub store: bool,
    /// `[providers.*]` (with their secrets) and `[routing]`.
    pub providers: bool,
    /// `[gateway]`, `[admin]` and `[ingest]`.
    pub listeners: bool,
    pub stages: bool,
}

impl Needs {
    /// `docflow run`, `docflow config check`: everything.
    pub const ALL: Needs =
        Needs { nats: true, database: true, store: true, providers: true, listeners: true, stages: true };
    /// Nothing beyond the shape of the settings (`docflow config get`).
    pub const NONE: Needs =
        Needs { nats: false, database: false, store: false, providers: false, listeners: false, stages: false };
    /// `docflow setup`: streams, the database and the buckets.
    pub const SETUP: Needs = Needs { nats: true, database: true, store: true, stages: true, ..Needs::NONE };
    /// `docflow status`.
    pub const DATABASE: Needs = Needs { database: true, ..Needs::NONE };
    /// `docflow dlq`.
    pub const NATS: Needs = Needs { nats: true, ..Needs::NONE };
    /// `docflow retry`.
    pub const DATABASE_AND_NATS: Needs = Needs { nats: true, database: true, ..Needs::NONE };
}

/// Collects problems instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<SettingsError>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, expected: impl Into<String>) {
        self.0.push(invalid(key, expected));
    }
    fn require(&mut self, ok: bool, key: impl Into<String>, expected: impl Into<String>) {
        if !ok {
            self.add(key, expected);
        }
    }
    fn url(&mut self, key: &str, value: &str) {
        if let Err(e) = check_http_url(key, value) {
            self.0.push(e);
        }
    }
}

/// Several problems as one error (one stays itself).
pub fn one_or_many(mut problems: Vec<SettingsError>) -> Result<(), SettingsError> {
    match problems.len() {
        0 => Ok(()),
        1 => Err(problems.remove(0)),
        _ => Err(SettingsError::Many(problems)),
    }
}

impl Settings {
    /// Every check; each error names its key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_for(Needs::ALL)
    }

    /// The checks of the sections `needs` names (and `[log]`, which every command uses).
    pub fn validate_for(&self, needs: Needs) -> Result<(), SettingsError> {
        one_or_many(self.problems(needs))
    }

    /// Every problem of the sections `needs` names.
    pub fn problems(&self, needs: Needs) -> Vec<SettingsError> {
        let mut p = Problems::default();
        if needs.nats {
            self.check_nats(&mut p);
        }
        if needs.database {
            let db = &self.database.url;
            p.require(
                db.starts_with("postgres://") || db.starts_with("postgresql://") || db.starts_with("sqlite:"),
                "database.url",
                "a postgres:// or sqlite: URL",
            );
            p.require(self.database.max_connections > 0, "database.max_connections", "at least 1");
        }
        if needs.store {
            self.check_store(&mut p);
        }
        if needs.providers {
            self.check_providers(&mut p);
        }
        if needs.listeners {
            self.check_listeners(&mut p);
        }
        p.require(matches!(self.log.format.as_str(), "text" | "json"), "log.format", "`text` or `json`");
        if needs.stages {
            self.check_stages(&mut p);
        }
        p.0
    }

    fn check_nats(&self, p: &mut Problems) {
        let nats = &self.nats;
        p.require(
            nats.url.starts_with("nats://") || nats.url.starts_with("tls://"),
            "nats.url",
            "a nats:// or tls:// URL, e.g. nats://127.0.0.1:4222",
        );
        let prefix_ok =
            !nats.prefix.is_empty() && nats.prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        p.require(prefix_ok, "nats.prefix", "letters, digits, `_` or `-` only (it names subjects and streams)");
        p.require((1..=5).contains(&nats.replicas), "nats.replicas", "1 to 5");
        if let Err(e) = crate::nats::auth::Auth::from_settings(nats) {
            p.add(e.key, e.expected);
        }
        if let Err(e) = crate::nats::auth::Tls::from_settings(&nats.tls) {
            p.add(e.key, e.expected);
        }
    }

    fn check_store(&self, p: &mut Problems) {
        p.url("s3.endpoint", &self.s3.endpoint);
        p.url("s3.public_endpoint", self.s3.public_endpoint());
        for (key, bucket) in
            [("s3.uploads_bucket", &self.s3.uploads_bucket), ("s3.results_bucket", &self.s3.results_bucket)]
        {
            let ok = (3..=63).contains(&bucket.len())
                && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            p.require(ok, key, "an S3 bucket name: 3 to 63 lowercase letters, digits, `-` or `.`");
        }
    }

    fn check_providers(&self, p: &mut Problems) {
        if self.providers.is_empty() {
            p.add("providers", "at least one [providers.NAME] table with base_url, api_key and callback_secret");
        }
        for (name, provider) in &self.providers {
            let key = |field: &str| format!("providers.{name}.{field}");
            let missing = |field: &str, what: &str| {
                format!(
                    "missing: {what}; set it in a file of conf.d beside the settings file (`docflow config set {} \
                     VALUE --file conf.d/10-secrets.toml`) or as {}",
                    key(field),
                    super::keys::env_name(&key(field))
                )
            };
            if provider.base_url.is_empty() {
                p.add(key("base_url"), missing("base_url", "the provider's address, e.g. https://api.example.com"));
            } else {
                p.url(&key("base_url"), &provider.base_url);
            }
            if provider.api_key.expose_secret().is_empty() {
                p.add(key("api_key"), missing("api_key", "the provider's API key"));
            }
            if provider.callback_secret.all().iter().all(|s| s.expose_secret().is_empty()) {
                p.add(
                    key("callback_secret"),
                    missing("callback_secret", "the secret that signs the provider's callbacks (or a list of them)"),
                );
            }
            p.require(
                !provider.connect_timeout.is_zero() && !provider.idle_timeout.is_zero(),
                key("idle_timeout"),
                "positive durations for connect_timeout and idle_timeout, e.g. \"5s\" and \"60s\"",
            );
            p.require(provider.concurrency != Some(0), key("concurrency"), "at least 1");
            p.require(
                provider.breaker.failures > 0 && !provider.breaker.probe_after.is_zero(),
                key("breaker"),
                "failures of at least 1 and a positive probe_after",
            );
            p.require(
                provider.max_size.as_deref().is_none_or(|size| parse_size(size).is_some()),
                key("max_size"),
                "a size such as 2GiB or 500MB",
            );
        }
        let known = self.providers.contains_key(&self.routing.default);
        if self.providers.len() > 1 && !known {
            p.add(
                "routing.default",
                format!(
                    "one of the configured providers ({}) when several are configured",
                    self.providers.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        } else if !self.routing.default.is_empty() && !known {
            p.add("routing.default", "the name of a configured provider, or empty");
        }
    }

    fn check_listeners(&self, p: &mut Problems) {
        p.url("gateway.public_url", &self.gateway.public_url);
        p.require(
            self.gateway.listen.parse::<std::net::SocketAddr>().is_ok(),
            "gateway.listen",
            "an address and port, e.g. 127.0.0.1:8080",
        );
        p.require(
            self.admin.listen.parse::<std::net::SocketAddr>().is_ok(),
            "admin.listen",
            "an address and port, e.g. 127.0.0.1:7591 (keep it private)",
        );
        p.require(
            self.gateway.session_secret.as_ref().is_none_or(|s| s.expose_secret().len() >= 32),
            "gateway.session_secret",
            "at least 32 bytes (e.g. `openssl rand -hex 32`), the same on every gateway; or unset for a key per process",
        );
        p.require(self.gateway_max_body().is_some(), "gateway.max_body", "a size such as 1MiB, 512KiB or 1048576");
        for (key, expected) in self.oidc.problems() {
            p.add(key, expected);
        }
    }

    fn check_stages(&self, p: &mut Problems) {
        for stage in StageId::ALL {
            let s = stage.settings(&self.stages);
            let key = |field: &str| format!("stages.{stage}.{field}");
            p.require(s.concurrency > 0, key("concurrency"), "at least 1");
            p.require(
                s.max_ack_pending >= s.concurrency as i64,
                key("max_ack_pending"),
                format!("at least stages.{stage}.concurrency ({})", s.concurrency),
            );
            let backoff_ok = !s.backoff.is_empty() && s.backoff.iter().all(|d| !d.is_zero());
            p.require(backoff_ok, key("backoff"), "a non-empty list of positive durations, e.g. [\"1s\", \"30s\"]");
            if backoff_ok {
                p.require(
                    s.max_deliver > s.backoff.len() as i64,
                    key("max_deliver"),
                    format!(
                        "more than the {} entries of stages.{stage}.backoff (JetStream requires it)",
                        s.backoff.len()
                    ),
                );
            }
            p.require(s.pull_expires >= Duration::from_secs(1), key("pull_expires"), "at least 1s");
        }
    }
}
