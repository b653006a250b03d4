//! Live updates: the pipeline's own state changes, carried to the pages.
//!
//! Every process that writes documents publishes each state a document takes on core NATS,
//! `{prefix}.status.{document_id}`, a small JSON [`StatusChange`] (fire and forget, no
//! stream: a lost message only delays a page until its next change or reload). The
//! publisher is the database's observer ([`crate::db::Db::with_observer`]), wired in
//! `crate::app`, so no stage knows of it. A gateway subscribes once to
//! `{prefix}.status.>` ([`feed`]) and fans the changes out through a broadcast channel to
//! every open `GET /ui/events` (server-sent events), which filters them by role.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::db::{Observer, StatusChange};
use crate::ids::UploaderId;
use crate::nats::Names;

/// Changes waiting to be published; past this they are dropped (pages catch up later).
const PUBLISH_QUEUE: usize = 4096;
/// Changes a slow page may fall behind by; past that its stream ends, and the page, on
/// reconnecting, reads again what it shows.
pub(super) const FAN_OUT: usize = 1024;

/// `{prefix}.status.{id}`.
pub fn subject(names: &Names, change: &StatusChange) -> String {
    names.subject(&format!("status.{}", change.id))
}

/// `{prefix}.status.>`.
pub fn wildcard(names: &Names) -> String {
    names.subject("status.>")
}

/// A database observer that publishes every change on NATS, in the order they happened,
/// from a task of its own (the writer never waits). The task ends when the last clone of
/// the observer is dropped.
pub fn publisher(client: async_nats::Client, names: Names) -> Observer {
    let (tx, mut rx) = mpsc::channel::<StatusChange>(PUBLISH_QUEUE);
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            let body = serde_json::to_vec(&change).expect("a status change serializes");
            if let Err(error) = client.publish(subject(&names, &change), body.into()).await {
                tracing::debug!(%error, id = %change.id, "status change not published");
            }
        }
    });
    std::sync::Arc::new(move |change: &StatusChange| {
        if tx.try_send(change.clone()).is_err() {
            tracing::debug!(id = %change.id, "status change dropped: the publish queue is full");
        }
    })
}

/// Which changes a stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Every document's (an evaluator).
    All,
    /// One uploader's documents (a teacher).
    Uploader(UploaderId),
    /// The document of one key only (an uploading app following the upload it just made).
    Key(String),
}

impl Seen {
    pub fn lets_through(&self, change: &StatusChange) -> bool {
        match self {
            Seen::All => true,
            Seen::Uploader(uploader) => *uploader == change.uploader,
            Seen::Key(key) => *key == change.key,
        }
    }
}

/// Where a gateway's pages hear of changes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Live {
    sender: broadcast::Sender<StatusChange>,
    shutdown: CancellationToken,
}

impl Default for Live {
    fn default() -> Live {
        Live::new(CancellationToken::new())
    }
}

impl Live {
    /// Open streams end when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Live {
        Live { sender: broadcast::channel(FAN_OUT).0, shutdown }
    }

    /// Hands `change` to every open stream (none open: dropped).
    pub fn send(&self, change: StatusChange) {
        let _ = self.sender.send(change);
    }

    /// The server-sent events of the changes `seen` lets through, until shutdown, `until`
    /// (the session's end, seconds since the epoch) or `ends` resolves (the session is
    /// signed out): the page's `EventSource` then reconnects and is refused.
    pub fn events(
        &self,
        seen: Seen,
        until: u64,
        ends: impl Future<Output = ()> + Send + 'static,
    ) -> Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>> {
        let receiver = self.sender.subscribe();
        let shutdown = self.shutdown.clone();
        let left = Duration::from_secs(
            until.saturating_sub(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(u64::MAX)),
        );
        let sleep = tokio::time::sleep(left);
        let expiry: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            tokio::select! {
                () = sleep => {}
                () = ends => {}
            }
        });
        let stream = futures_util::stream::unfold(
            (receiver, seen, shutdown, expiry),
            |(mut receiver, seen, shutdown, mut expiry)| async move {
                loop {
                    let change = tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = &mut expiry => return None,
                        received = receiver.recv() => match received {
                            Ok(change) => change,
                            // Changes were skipped: ending the stream makes the page
                            // reconnect and read its rows or itself again (app.js).
                            Err(broadcast::error::RecvError::Lagged(_)) => return None,
                            Err(broadcast::error::RecvError::Closed) => return None,
                        },
                    };
                    if !seen.lets_through(&change) {
                        continue;
                    }
                    let event =
                        Event::default().event("status").json_data(&change).expect("a status change serializes");
                    return Some((Ok(event), (receiver, seen, shutdown, expiry)));
                }
            },
        );
        Sse::new(stream.boxed()).keep_alive(KeepAlive::default())
    }
}

/// Subscribes to `{prefix}.status.>` and hands every change to `live`, until `shutdown`.
pub async fn feed(client: async_nats::Client, names: Names, live: Live, shutdown: CancellationToken) {
    let mut subscription = match client.subscribe(wildcard(&names)).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!(%error, subject = %wildcard(&names), "cannot subscribe to status changes: pages will not update by themselves");
            return;
        }
    };
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => break,
            message = subscription.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        match serde_json::from_slice::<StatusChange>(&message.payload) {
            Ok(change) => live.send(change),
            Err(error) => tracing::debug!(%error, subject = %message.subject, "not a status change; ignored"),
        }
    }
    subscription.unsubscribe().await.ok();
}
