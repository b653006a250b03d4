//! Who hears of state changes: an optional callback on [`Db`], called after every write
//! that recorded a document's new state (its creation in `received`, and each guarded
//! transition that matched), never for one that changed nothing. The process wiring
//! (`crate::app`) publishes each change on NATS for the web interface's live updates, so
//! the pipeline's stages need not know about it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Db, State};
use crate::ids::{DocumentId, Kind, UploaderId};

/// A document that has just taken `state`: what a page needs to show or add its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub id: DocumentId,
    pub state: State,
    pub at: DateTime<Utc>,
    pub uploader: UploaderId,
    pub kind: Kind,
    pub key: String,
}

/// The callback. It runs on the writer's task, after the write: it must not block.
pub type Observer = Arc<dyn Fn(&StatusChange) + Send + Sync>;

impl Db {
    /// This pool, telling `observer` of every state a document takes through it.
    pub fn with_observer(mut self, observer: Observer) -> Db {
        self.observer = Some(observer);
        self
    }

    pub(super) fn observe(&self, change: impl FnOnce() -> StatusChange) {
        if let Some(observer) = &self.observer {
            observer(&change());
        }
    }
}
