//! The watchdog: lost callbacks are recovered without polling anything. JetStream is the
//! timer: each submitted document has one message on `{prefix}.watch`, naked with a delay
//! until its callback deadline. See `design.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;

use crate::db::{Db, State};
use crate::messages::{self, WatchTimer};
use crate::nats::Names;
use crate::provider::client::{ProviderClient, SubmitError};
use crate::settings::Settings;
use crate::worker::{Delivery, Outcome, Stage};

pub const STAGE: &str = "watchdog";

pub struct Watchdog {
    db: Db,
    js: jetstream::Context,
    names: Names,
    providers: BTreeMap<String, ProviderClient>,
    settings: Arc<Settings>,
}

impl Watchdog {
    pub fn new(settings: Arc<Settings>, db: Db, js: jetstream::Context) -> Result<Watchdog, String> {
        let providers = settings
            .providers
            .iter()
            .map(|(name, p)| ProviderClient::new(name, p).map(|c| (name.clone(), c)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(Watchdog { db, js, names: Names::new(&settings.nats.prefix), providers, settings })
    }

    async fn watch(&self, timer: &WatchTimer, delivery: &Delivery) -> Outcome {
        // Before the deadline nothing is read: the timer goes back to sleep in JetStream.
        let now = Utc::now();
        if now < timer.deadline {
            let wait = (timer.deadline - now).to_std().unwrap_or(Duration::ZERO);
            return Outcome::later(wait, "waiting for the callback");
        }
        let document = match self.db.get(timer.document_id).await {
            Ok(Some(document)) => document,
            Ok(None) => return Outcome::fail(format!("watch timer of unknown document {}", timer.document_id)),
            Err(e) => return Outcome::from_error(&e),
        };
        // The callback came (or the document ended another way): the timer is over.
        if document.state != State::Submitted || document.provider_job_id.as_deref() != Some(timer.job_id.as_str()) {
            return Outcome::Done;
        }
        let Some(client) = self.providers.get(&timer.provider) else {
            return Outcome::fail(format!(
                "provider {:?} of document {} is no longer configured",
                timer.provider, document.id
            ));
        };
        let status = match client.job_status(&timer.job_id).await {
            Ok(status) => status,
            Err(SubmitError::Permanent { detail, .. }) => {
                let reason = format!("no callback by the deadline, and the job status is unavailable: {detail}");
                return self.fail(&document.id, &reason, delivery).await;
            }
            Err(SubmitError::Throttled { retry_after, detail }) => return Outcome::retry_after(retry_after, detail),
            Err(SubmitError::Transient { detail }) => return Outcome::retry(detail),
        };
        let state = status.status;
        if let Some(callback) = status.into_callback() {
            // Recovered as if its callback had come: through the validate stage's stream,
            // deduplicated with a real callback on the event id.
            let body = serde_json::to_vec(&callback).expect("a callback serializes");
            let subject = self.names.subject(&format!("callbacks.{}", timer.provider));
            return match messages::publish(&self.js, subject, &callback.event_id, Some(document.id), None, body).await {
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::from_error(&e),
            };
        }
        let provider = &self.settings.providers[&timer.provider];
        if timer.round >= provider.watch_rounds {
            let reason = format!(
                "no callback after {} watch round(s) of {}, and the job is still {}",
                timer.round + 1,
                humantime::format_duration(provider.callback_timeout),
                state.as_str()
            );
            return self.fail(&document.id, &reason, delivery).await;
        }
        // Still running: watched again, as a new timer (the stream keeps one per round).
        let next = WatchTimer {
            round: timer.round + 1,
            deadline: now + chrono::Duration::from_std(provider.callback_timeout).unwrap_or(chrono::Duration::hours(6)),
            ..timer.clone()
        };
        let message_id = format!("watch:{}:{}:{}", document.id, timer.job_id, next.round);
        let body = serde_json::to_vec(&next).expect("a timer serializes");
        match messages::publish(&self.js, self.names.subject("watch"), &message_id, Some(document.id), None, body).await
        {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::from_error(&e),
        }
    }

    async fn fail(&self, id: &crate::ids::DocumentId, reason: &str, delivery: &Delivery) -> Outcome {
        match self
            .db
            .transition(*id, &[State::Submitted], State::Failed, STAGE, delivery.attempt as u32, Some(reason))
            .await
        {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::from_error(&e),
        }
    }
}

impl Stage for Watchdog {
    fn name(&self) -> &'static str {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        match serde_json::from_slice::<WatchTimer>(&delivery.payload) {
            Ok(timer) => self.watch(&timer, delivery).await,
            Err(e) => Outcome::fail(format!("not a watch timer: {e}")),
        }
    }

    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str) {
        if let Ok(timer) = serde_json::from_slice::<WatchTimer>(&delivery.payload)
            && let Err(error) = self.db.mark_failed(timer.document_id, STAGE, delivery.attempt as u32, reason).await
        {
            tracing::error!(document_id = %timer.document_id, error = %error, "cannot mark the document failed");
        }
    }
}
