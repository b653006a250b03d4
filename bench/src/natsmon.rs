//! What the bench's nats-server counted itself, from its monitoring port: every message
//! in and out (`/varz`: publications, deliveries, acks, pull requests, progress, API
//! requests and their replies) and the JetStream API requests (`/jsz`). The bench
//! starts that server, so nothing else adds to these counters while a scenario runs.

use anyhow::{Context, Result};

/// The server's counters at one moment (or their difference over a scenario).
#[derive(Debug, Clone, Copy, Default)]
pub struct NatsOps {
    /// Messages the server received from clients plus messages it sent to them.
    pub messages: f64,
    /// JetStream API requests (stream and consumer info, creations...; not pulls or acks).
    pub api: f64,
}

impl NatsOps {
    pub async fn read(monitor: &str) -> Result<NatsOps> {
        let get = |path: &'static str| async move {
            let url = format!("{monitor}/{path}");
            reqwest::get(&url)
                .await
                .and_then(reqwest::Response::error_for_status)
                .with_context(|| format!("reading nats-server's {url}"))?
                .json::<serde_json::Value>()
                .await
                .with_context(|| format!("nats-server's {url} is not JSON"))
        };
        Ok(NatsOps::from_json(&get("varz").await?, &get("jsz").await?))
    }

    /// The counters in `/varz`'s and `/jsz`'s answers (a missing one reads 0).
    fn from_json(varz: &serde_json::Value, jsz: &serde_json::Value) -> NatsOps {
        let number = |v: &serde_json::Value, path: &[&str]| {
            path.iter().try_fold(v, |v, key| v.get(key)).and_then(serde_json::Value::as_f64).unwrap_or(0.0)
        };
        NatsOps {
            messages: number(varz, &["in_msgs"]) + number(varz, &["out_msgs"]),
            api: number(jsz, &["api", "total"]),
        }
    }

    pub fn minus(self, before: NatsOps) -> NatsOps {
        NatsOps { messages: self.messages - before.messages, api: self.api - before.api }
    }
}

#[cfg(test)]
mod tests {
    use super::NatsOps;

    #[test]
    fn messages_are_in_plus_out_and_api_requests_come_from_jsz() {
        let varz = serde_json::json!({"in_msgs": 10, "out_msgs": 32, "in_bytes": 999});
        let jsz = serde_json::json!({"api": {"total": 7, "errors": 1}});
        let ops = NatsOps::from_json(&varz, &jsz);
        assert_eq!((ops.messages, ops.api), (42.0, 7.0));
        let later = NatsOps::from_json(&serde_json::json!({"in_msgs": 20, "out_msgs": 52}), &serde_json::json!({}));
        let since = later.minus(ops);
        assert_eq!((since.messages, since.api), (30.0, -7.0), "a missing counter reads 0");
    }
}
