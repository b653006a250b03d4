//! Connecting to NATS, and the names of docflow's subjects and streams under a prefix.

use std::time::Duration;

use crate::settings::NatsSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "cannot connect to NATS at {url}: {source}; is nats-server running with JetStream (-js)? set nats.url / DOCFLOW__NATS__URL"
    )]
    Connect { url: String, source: async_nats::ConnectError },
}

/// Connects with infinite reconnects: a worker survives NATS restarts.
pub async fn connect(settings: &NatsSettings, name: &str) -> Result<async_nats::Client, ConnectError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => tracing::warn!("nats disconnected"),
                async_nats::Event::Connected => tracing::info!("nats connected"),
                other => tracing::debug!(event = %other, "nats event"),
            }
        })
        .connect(&settings.url)
        .await
        .map_err(|source| ConnectError::Connect { url: settings.url.clone(), source })
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

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn names_follow_the_prefix() {
        let n = Names::new("docflow");
        assert_eq!(n.stream("uploads"), "DOCFLOW_UPLOADS");
        assert_eq!(n.subject("uploads.minio"), "docflow.uploads.minio");
        assert_eq!(n.dead_subject("transfer"), "docflow.dead.transfer");
        assert_eq!(Names::new("t-1a").stream("dead"), "T_1A_DEAD");
    }
}
