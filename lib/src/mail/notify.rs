//! Publishing the notices: after a terminal transition, and again whenever a redelivered
//! stage message finds that transition already applied (the process may have stopped
//! between the database's commit and the publish). The stream's duplicate window
//! (`Nats-Msg-Id` `{document}.{round}.{event}`) and the mail's claim make the repeats
//! harmless; a publish that fails fails the stage's step, which is retried.

use async_nats::jetstream;

use super::notice::Notice;
use crate::db::Document;
use crate::messages::PublishError;
use crate::nats::Names;
use crate::settings::Settings;

/// Publishes the notices of terminal documents. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Notifier {
    js: jetstream::Context,
    names: Names,
}

impl Notifier {
    /// `None` when `[mail]` is off: nothing is published.
    pub fn new(settings: &Settings, js: jetstream::Context) -> Option<Notifier> {
        settings.mail.enabled.then(|| Notifier { js, names: Names::new(&settings.nats.prefix) })
    }

    /// Publishes the notice `document` calls for, if any (a stop the teacher cannot act
    /// on, or a document in flight, calls for none).
    pub async fn after(&self, document: &Document) -> Result<(), PublishError> {
        match Notice::of(document) {
            Some(notice) => notice.publish(&self.js, &self.names).await,
            None => Ok(()),
        }
    }
}
