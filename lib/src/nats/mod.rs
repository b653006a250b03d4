//! Connecting to NATS (authentication and TLS from `[nats]`, see [`auth`]), and the names
//! of docflow's subjects and streams under a prefix. `docflow setup`, `run`, `dev` and the
//! `dlq` commands all connect through [`connect`].

pub mod auth;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use self::auth::{Auth, Tls};
use crate::settings::NatsSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to NATS at {url}: {source}; {hint}")]
    Connect { url: String, source: async_nats::ConnectError, hint: String },
    #[error("cannot read {key} ({path}): {cause}; point {key} at a readable file")]
    File { key: &'static str, path: String, cause: std::io::Error },
    #[error("configuration: `{key}`: {expected}")]
    Invalid { key: String, expected: String },
}

impl From<auth::Invalid> for ConnectError {
    fn from(e: auth::Invalid) -> ConnectError {
        ConnectError::Invalid { key: e.key, expected: e.expected }
    }
}

/// Connects with infinite reconnects: a worker survives NATS restarts.
pub async fn connect(settings: &NatsSettings, name: &str) -> Result<async_nats::Client, ConnectError> {
    let (options, auth) = options(settings).await?;
    options
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => tracing::warn!("nats disconnected"),
                async_nats::Event::Connected => tracing::info!("nats connected"),
                other => tracing::debug!(event = %other, "nats event"),
            }
        })
        .connect(auth::servers(&settings.url))
        .await
        .map_err(|source| {
            use async_nats::ConnectErrorKind as Kind;
            let hint = match source.kind() {
                Kind::AuthorizationViolation | Kind::Authentication => {
                    format!("the server refused the credentials: check {}", auth.keys())
                }
                // Certificate errors come as Io from the handshake.
                Kind::Tls | Kind::Io if source.to_string().contains("certificate") || source.kind() == Kind::Tls => {
                    "check [nats.tls] ca_file (the server's CA), cert_file and key_file".to_owned()
                }
                _ => "is nats-server running with JetStream (-js)? set nats.url / DOCFLOW__NATS__URL".to_owned(),
            };
            ConnectError::Connect { url: crate::redact::url(&settings.url), source, hint }
        })
}

/// True when a NATS server answers at `nats.url` (with the configured credentials) within
/// a second or two.
pub async fn answers(settings: &NatsSettings) -> bool {
    let Ok((options, _)) = options(settings).await else { return false };
    let connect = options.connection_timeout(Duration::from_secs(1)).connect(auth::servers(&settings.url));
    matches!(tokio::time::timeout(Duration::from_secs(2), connect).await, Ok(Ok(_)))
}

/// The client options `[nats]` asks for: one authentication method and TLS. Files are read
/// here so a missing one is named with its key.
async fn options(settings: &NatsSettings) -> Result<(async_nats::ConnectOptions, Auth), ConnectError> {
    let auth = Auth::from_settings(settings)?;
    let tls = Tls::from_settings(&settings.tls)?;
    // rustls is built with two crypto providers here (ring, through async-nats and minio;
    // aws-lc-rs, through reqwest) and then will not pick one on its own: async-nats' TLS
    // (asked for by [nats.tls] or by the server) would panic. reqwest names its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut options = async_nats::ConnectOptions::new();
    match &auth {
        Auth::None => {}
        Auth::UserPassword { user, password } => {
            options = options.user_and_password(user.clone(), password.expose_secret().to_owned());
        }
        Auth::Token(token) => options = options.token(token.expose_secret().to_owned()),
        Auth::NkeySeedFile(path) => {
            let text = read("nats.nkey_seed_file", path)?;
            let seed =
                text.split_whitespace().find(|word| word.starts_with("SU")).ok_or_else(|| ConnectError::Invalid {
                    key: "nats.nkey_seed_file".into(),
                    expected: format!("{} should hold a user NKey seed (a line starting with SU)", path.display()),
                })?;
            options = options.nkey(seed.to_owned());
        }
        Auth::CredsFile(path) => {
            read("nats.creds_file", path)?;
            options = options.credentials_file(path).await.map_err(|cause| ConnectError::Invalid {
                key: "nats.creds_file".into(),
                expected: format!("{} should be a NATS .creds file (user JWT and seed): {cause}", path.display()),
            })?;
        }
    }
    let tls_url = settings.url.split(',').any(|server| server.trim().starts_with("tls://"));
    if tls.required || tls_url {
        options = options.require_tls(true);
    }
    if let Some(ca) = &tls.ca_file {
        read("nats.tls.ca_file", ca)?;
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &tls.client {
        read("nats.tls.cert_file", cert)?;
        read("nats.tls.key_file", key)?;
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    Ok((options, auth))
}

fn read(key: &'static str, path: &Path) -> Result<String, ConnectError> {
    std::fs::read_to_string(path).map_err(|cause| ConnectError::File { key, path: path.display().to_string(), cause })
}

/// Subject and stream names under one prefix (`docflow` by default).
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names { prefix: prefix.to_owned() }
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// `DOCFLOW_UPLOADS` for `uploads`.
    pub fn stream(&self, short: &str) -> String {
        format!("{}_{}", self.prefix.to_ascii_uppercase().replace('-', "_"), short.to_ascii_uppercase())
    }
    /// `docflow.uploads.minio` for `uploads.minio`.
    pub fn subject(&self, rest: &str) -> String {
        format!("{}.{rest}", self.prefix)
    }
    pub fn dead_subject(&self, stage: &str) -> String {
        self.subject(&format!("dead.{stage}"))
    }
}
