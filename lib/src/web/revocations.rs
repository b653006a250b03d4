//! Sign-out that holds on every gateway: revoked session ids, and used sign-in links, in a
//! NATS KV bucket (`{PREFIX}_SESSIONS`, defined in `nats/kv/` and made by `docflow setup`).
//!
//! Keys: `revoked.{session id}` and `link.{nonce}`; the value is `{"until": unix seconds}`,
//! the moment the entry stops mattering (the session's absolute end, the link's expiry).
//! A session opened through the OpenID provider also has `hint.{session id}`, with
//! `"id_token"`: what sign-out sends the provider as `id_token_hint` (too large for the
//! cookie). Hints are read from the bucket at sign-out only, never kept in memory.
//! The bucket's `max_age` is the absolute session lifetime, so every entry outlives what
//! it refuses and no key needs a per-key TTL (nats-server 2.11).
//!
//! Every gateway watches the bucket into memory rather than reading it on each request:
//! a request costs a map lookup and no NATS round trip, and the same watch is what closes
//! a revoked session's open event streams at once. Until the watch has read what the
//! bucket held when it started, the pages answer 503 (a revoked cookie must not slip in
//! while a gateway starts). A sign-out is in the signing-out gateway's memory before it
//! answers; the others hear of it within the watch's delivery (milliseconds).
//!
//! Sign-in links are made single-use by `create` (which fails when the key exists): of
//! two gateways exchanging one code at once, exactly one wins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use async_nats::jetstream;
use async_nats::jetstream::kv::{CreateErrorKind, Operation};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::session::unix;
use crate::nats::Names;

/// The bucket's short name: `{PREFIX}_SESSIONS`.
pub const BUCKET: &str = "sessions";
/// How long a gateway waits before watching the bucket again after a failure.
const RETRY: Duration = Duration::from_secs(2);

/// `DOCFLOW_SESSIONS` for prefix `docflow`.
pub fn bucket(names: &Names) -> String {
    names.stream(BUCKET)
}

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("the session bucket is unreachable ({0}); is NATS up, and was `docflow setup` run?")]
    Unreachable(String),
}

/// What this gateway knows to be revoked or used. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Revocations {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Key (`revoked.ID`, `link.NONCE`) to `until`.
    entries: Mutex<HashMap<String, u64>>,
    /// The bucket has been read up to its state when the watch began.
    ready: AtomicBool,
    kv: OnceLock<jetstream::kv::Store>,
    /// Keys as they are revoked, for the open event streams.
    changes: broadcast::Sender<String>,
    /// Without a bucket (tests): the hints, by session id.
    hints: Mutex<HashMap<String, String>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Value {
    until: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl Default for Revocations {
    /// In this process's memory only: for a gateway without NATS (tests).
    fn default() -> Revocations {
        let revocations = Revocations::unready();
        revocations.inner.ready.store(true, Ordering::SeqCst);
        revocations
    }
}

impl Revocations {
    fn unready() -> Revocations {
        Revocations {
            inner: Arc::new(Inner {
                entries: Mutex::default(),
                ready: AtomicBool::new(false),
                kv: OnceLock::new(),
                changes: broadcast::channel(256).0,
                hints: Mutex::default(),
            }),
        }
    }

    /// Watches `{PREFIX}_SESSIONS` until `shutdown`, again after any failure. Ready once
    /// it has read the bucket.
    pub fn watch(js: jetstream::Context, names: &Names, shutdown: CancellationToken) -> Revocations {
        let revocations = Revocations::unready();
        let (this, bucket) = (revocations.clone(), bucket(names));
        tokio::spawn(async move {
            loop {
                let outcome = tokio::select! {
                    () = shutdown.cancelled() => return,
                    outcome = this.follow(&js, &bucket) => outcome,
                };
                if let Err(error) = outcome {
                    tracing::error!(%error, %bucket, "cannot watch the session bucket: the web interface answers 503 until it can");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
        });
        revocations
    }

    async fn follow(&self, js: &jetstream::Context, bucket: &str) -> Result<(), RevocationError> {
        let unreachable = |e: &dyn std::fmt::Display| RevocationError::Unreachable(e.to_string());
        let kv = js.get_key_value(bucket).await.map_err(|e| unreachable(&e))?;
        let _ = self.inner.kv.set(kv.clone());
        let mut watch = kv.watch_with_history(">").await.map_err(|e| unreachable(&e))?;
        // Caught up once an entry says nothing is pending, or once the bucket holds nothing
        // past what the watch delivered (an empty bucket delivers nothing at all; entries
        // may expire before they are delivered). Checked until ready.
        let mut seen = 0u64;
        let mut check = tokio::time::interval(Duration::from_millis(250));
        loop {
            let entry = tokio::select! {
                entry = watch.next() => entry,
                _ = check.tick(), if !self.ready() => {
                    let mut stream = js.get_stream(format!("KV_{bucket}")).await.map_err(|e| unreachable(&e))?;
                    let state = stream.info().await.map_err(|e| unreachable(&e))?.state.clone();
                    if state.messages == 0 || state.last_sequence <= seen {
                        self.inner.ready.store(true, Ordering::SeqCst);
                    }
                    continue;
                }
            };
            let Some(entry) = entry else { break };
            let entry = entry.map_err(|e| unreachable(&e))?;
            seen = seen.max(entry.revision);
            if entry.operation == Operation::Put
                && !entry.key.starts_with("hint.")
                && let Ok(value) = serde_json::from_slice::<Value>(&entry.value)
            {
                self.remember(&entry.key, value.until);
            }
            if entry.delta == 0 {
                self.inner.ready.store(true, Ordering::SeqCst);
            }
        }
        Err(RevocationError::Unreachable("the watch ended".into()))
    }

    fn remember(&self, key: &str, until: u64) {
        let mut entries = self.inner.entries.lock().expect("not poisoned");
        if entries.len() > 1024 {
            // Entries past their end refuse nothing any more (the bucket drops them too).
            let now = unix(SystemTime::now());
            entries.retain(|_, until| *until > now);
        }
        if entries.insert(key.to_owned(), until).is_none() {
            let _ = self.inner.changes.send(key.to_owned());
        }
    }

    /// False until the bucket has been read: sessions cannot be checked yet.
    pub fn ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// True when session `id` was signed out (here or on any gateway).
    pub fn is_revoked(&self, id: &str) -> bool {
        self.inner.entries.lock().expect("not poisoned").contains_key(&format!("revoked.{id}"))
    }

    /// True when the sign-in link of `nonce` was used.
    pub fn link_used(&self, nonce: &str) -> bool {
        self.inner.entries.lock().expect("not poisoned").contains_key(&format!("link.{nonce}"))
    }

    /// Revokes session `id` (whose absolute end is `until`): at once in this gateway, then
    /// in the bucket for the others. Refused here even when the bucket cannot be written.
    pub async fn revoke(&self, id: &str, until: u64) -> Result<(), RevocationError> {
        let key = format!("revoked.{id}");
        self.remember(&key, until);
        let Some(kv) = self.inner.kv.get() else { return Ok(()) };
        let value = serde_json::to_vec(&Value { until, id_token: None }).expect("serializes");
        kv.put(&key, value.into()).await.map_err(|e| RevocationError::Unreachable(e.to_string()))?;
        Ok(())
    }

    /// Records the link of `nonce` as used: true the first time, on any gateway; false
    /// when it was used already.
    pub async fn use_link(&self, nonce: &str, until: u64) -> Result<bool, RevocationError> {
        let key = format!("link.{nonce}");
        let Some(kv) = self.inner.kv.get() else {
            let first = !self.link_used(nonce);
            self.remember(&key, until);
            return Ok(first);
        };
        let value = serde_json::to_vec(&Value { until, id_token: None }).expect("serializes");
        match kv.create(&key, value.into()).await {
            Ok(_) => {
                self.remember(&key, until);
                Ok(true)
            }
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                self.remember(&key, until);
                Ok(false)
            }
            Err(e) => Err(RevocationError::Unreachable(e.to_string())),
        }
    }

    /// Keeps the ID token of session `id` (whose absolute end is `until`) for the
    /// provider's sign-out, on every gateway.
    pub async fn put_hint(&self, id: &str, until: u64, id_token: &str) -> Result<(), RevocationError> {
        let Some(kv) = self.inner.kv.get() else {
            self.inner.hints.lock().expect("not poisoned").insert(id.to_owned(), id_token.to_owned());
            return Ok(());
        };
        let value = serde_json::to_vec(&Value { until, id_token: Some(id_token.to_owned()) }).expect("serializes");
        kv.put(format!("hint.{id}"), value.into()).await.map_err(|e| RevocationError::Unreachable(e.to_string()))?;
        Ok(())
    }

    /// The ID token [`Revocations::put_hint`] kept for session `id`.
    pub async fn hint(&self, id: &str) -> Result<Option<String>, RevocationError> {
        let Some(kv) = self.inner.kv.get() else {
            return Ok(self.inner.hints.lock().expect("not poisoned").get(id).cloned());
        };
        let entry = kv.get(format!("hint.{id}")).await.map_err(|e| RevocationError::Unreachable(e.to_string()))?;
        Ok(entry.and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok()).and_then(|value| value.id_token))
    }

    /// Resolves once session `id` is revoked (at once when it already is).
    pub fn revoked(&self, id: &str) -> impl Future<Output = ()> + Send + 'static {
        let mut changes = self.inner.changes.subscribe();
        let (this, key) = (self.clone(), format!("revoked.{id}"));
        async move {
            loop {
                if this.inner.entries.lock().expect("not poisoned").contains_key(&key) {
                    return;
                }
                match changes.recv().await {
                    Ok(changed) if changed == key => return,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    // The gateway is stopping: the stream ends with it anyway.
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_revoked_session_is_refused_and_its_waiters_wake() {
        let revocations = Revocations::default();
        assert!(revocations.ready());
        let waiting = tokio::spawn(revocations.revoked("abc"));
        assert!(!revocations.is_revoked("abc"));
        revocations.revoke("abc", u64::MAX).await.unwrap();
        assert!(revocations.is_revoked("abc") && !revocations.is_revoked("abd"));
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken").unwrap();
        // Already revoked: at once.
        tokio::time::timeout(Duration::from_secs(5), revocations.revoked("abc")).await.expect("at once");
    }

    /// Two gateways on one NATS, each watching the bucket `docflow setup` made: a sign-out
    /// on one is refused by the other, a link works once across both, and a gateway that
    /// starts later is ready only once it has read the earlier sign-outs.
    #[tokio::test]
    async fn a_sign_out_on_one_gateway_is_refused_by_another_and_a_link_works_once_across_them() {
        use crate::testkit;
        let prefix = testkit::random_prefix();
        let url = testkit::nats_url();
        let (_client, js) = testkit::connect(&url).await;
        let names = Names::new(&prefix);
        let settings = testkit::settings(&url, &prefix, &[]);
        let (js2, names2) = (js.clone(), names.clone());
        let outcome = tokio::spawn(async move {
            let (js, names) = (js2, names2);
            crate::topology::kv::apply(&js, &settings).await.unwrap();
            let stop = CancellationToken::new();
            let _stop = stop.clone().drop_guard();
            let ready = |r: Revocations| async move {
                testkit::wait_for("the watch read the bucket", Duration::from_secs(10), || {
                    let r = r.clone();
                    async move { r.ready().then_some(()) }
                })
                .await;
                r
            };
            let first = ready(Revocations::watch(js.clone(), &names, stop.clone())).await;
            let second = ready(Revocations::watch(js.clone(), &names, stop.clone())).await;
            let waiting = tokio::spawn(second.revoked("s1"));
            first.revoke("s1", u64::MAX).await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("the other gateway hears it").unwrap();
            assert!(second.is_revoked("s1") && !second.is_revoked("s2"));
            // A provider's ID token kept by one gateway is read by another at sign-out.
            first.put_hint("s2", u64::MAX, "header.payload.signature").await.unwrap();
            assert_eq!(second.hint("s2").await.unwrap().as_deref(), Some("header.payload.signature"));
            assert_eq!(second.hint("s3").await.unwrap(), None);
            assert!(!second.is_revoked("s2"), "a hint revokes nothing");

            let (a, b) = tokio::join!(first.use_link("n1", u64::MAX), second.use_link("n1", u64::MAX));
            assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|first| **first).count(), 1, "exactly one exchange");

            let later = Revocations::watch(js.clone(), &names, stop.clone());
            let later = ready(later).await;
            assert!(later.is_revoked("s1") && later.link_used("n1"), "read before it was ready");
        })
        .await;
        let _ = js.delete_stream(format!("KV_{}", bucket(&names))).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic.into_panic());
        }
    }

    #[tokio::test]
    async fn a_link_is_used_once() {
        let revocations = Revocations::default();
        assert!(revocations.use_link("n", u64::MAX).await.unwrap());
        assert!(!revocations.use_link("n", u64::MAX).await.unwrap());
        assert!(revocations.link_used("n"));
    }
}
