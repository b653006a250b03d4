//! Tell the teacher: an e-mail when their document is ready, or stopped for a cause only a
//! new version of the file fixes. The `mail` component (`docflow run mail`, in the default
//! set) reads the notices of `DOCFLOW_NOTIFY` ([`notice`]), published after the terminal
//! transition ([`notify`]) by a decorator around the stages' documents port
//! ([`documents`]). See `design.md` beside this file for why each mail is sent once.
//!
//! Without `[mail] enabled` nothing is published, and the component acks whatever arrives
//! without connecting anywhere.

pub mod documents;
pub mod notice;
pub mod notify;
pub mod smtp;
pub mod store;

use std::sync::Arc;

use self::notice::Notice;
use self::smtp::{SendError, Smtp};
use self::store::{Claim, Contact, MailStore};
use crate::db::Db;
use crate::ids::{StageId, UploaderId};
use crate::settings::Settings;
use crate::worker::{self, Delivery, Outcome, Stage, Step, StepError};

pub const STAGE: StageId = StageId::Mail;

/// The `mail` component.
pub struct Mail {
    settings: Arc<Settings>,
    store: MailStore,
    /// `None` when `[mail]` is off or cannot build a transport (each message then says why).
    smtp: Result<Smtp, String>,
}

impl Mail {
    pub fn new(settings: Arc<Settings>, db: Db) -> Mail {
        let smtp = if settings.mail.enabled {
            Smtp::new(&settings.mail).map_err(|e| e.to_string())
        } else {
            Err("mail is off".to_owned())
        };
        Mail { settings, store: MailStore::new(db), smtp }
    }

    /// The address `uploader_id`'s mail goes to: `[[mail.uploaders]]` first (token
    /// uploaders), then the address recorded at their OpenID Connect sign-in. `None` when
    /// there is none or they did not opt in.
    pub async fn recipient(&self, uploader_id: &UploaderId) -> Result<Option<String>, StepError> {
        let configured = self.settings.mail.uploaders.iter().find(|u| u.uploader_id == *uploader_id);
        let contact = match configured {
            Some(u) => Some(Contact { email: u.email.clone(), opt_in: u.opt_in }),
            None => self.store.contact(uploader_id).await?,
        };
        Ok(contact.filter(|c| c.opt_in && !c.email.trim().is_empty()).map(|c| c.email))
    }

    /// How long an unsent claim is another delivery's before this one takes it over: a
    /// sender still in its SMTP exchange keeps it.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.mail.timeout * 2).unwrap_or(chrono::Duration::minutes(1))
    }

    async fn handle(&self, delivery: &Delivery) -> Step {
        if !self.settings.mail.enabled {
            return Ok(Outcome::Done);
        }
        let notice: Notice =
            serde_json::from_slice(&delivery.payload).map_err(|e| StepError::fail(format!("not a notice: {e}")))?;
        let smtp = self.smtp.as_ref().map_err(|e| StepError::fail(e.clone()))?;
        // Forgotten after the notice was published (`docflow forget` deletes the notices it
        // finds, not one a delivery holds): no mail names the file any more.
        if crate::forget::records::is_forgotten(self.store.db(), notice.document_id).await? {
            tracing::info!(document_id = %notice.document_id, "notice of a forgotten document dropped");
            return Ok(Outcome::Done);
        }
        let Some(to) = self.recipient(&notice.uploader_id).await? else {
            tracing::debug!(document_id = %notice.document_id, "no address, or no opt-in: no mail");
            return Ok(Outcome::Done);
        };
        let message_id = smtp.message_id(&notice);
        match self.store.claim(&notice, &to, &message_id).await? {
            Claim::Ours => {}
            Claim::Sent => return Ok(Outcome::Done),
            Claim::Unsent => {
                if !self.store.take_over(&notice, chrono::Utc::now() - self.lease()).await? {
                    return Err(StepError::retry("another delivery of this notice is sending its mail"));
                }
            }
        }
        let mail = smtp.compose(&self.settings, &notice, &to, &message_id)?;
        match smtp.send(mail).await {
            Ok(()) => {
                self.store.mark_sent(&notice).await?;
                tracing::info!(document_id = %notice.document_id, event = notice.event.as_str(), "mail sent");
                Ok(Outcome::Done)
            }
            Err(error) => {
                // The next delivery may send at once: nothing of this one is in flight.
                self.store.release(&notice).await?;
                Err(match error {
                    SendError::Transient(_) => StepError::retry(error.to_string()),
                    _ => StepError::fail(error.to_string()),
                })
            }
        }
    }
}

impl Stage for Mail {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        worker::settled(self.handle(delivery).await)
    }

    fn document_of(&self, delivery: &Delivery) -> Option<crate::ids::DocumentId> {
        serde_json::from_slice::<Notice>(&delivery.payload).ok().map(|n| n.document_id)
    }
}

#[cfg(test)]
pub(crate) mod tests;
