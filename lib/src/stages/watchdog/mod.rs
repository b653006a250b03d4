//! The watchdog: lost callbacks are recovered without polling anything. JetStream is the
//! timer: each submitted document has one message on `{prefix}.watch`, naked with a delay
//! until its callback deadline. See `design.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::State;
use crate::lifecycle::{By, FailureCause, Transition};
use crate::messages::{self, WatchTimer};
use crate::nats::Names;
use crate::provider::client::SubmitError;
use crate::settings::Settings;
use crate::stages::StageId;
use crate::stages::ports::{Documents, Ports, Provider, Publisher};
use crate::worker::{self, Delivery, Outcome, Stage, Step, StepError};

pub const STAGE: StageId = StageId::Watchdog;

/// What the watchdog does when a timer is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// An early job-status check: a job still running gets the next check.
    Check,
    /// The callback deadline: a job still running is watched another round, or fails.
    Deadline,
}

/// Early checks at most; past them only deadlines wake a timer (with the 2 min default
/// the last would be years away).
const MAX_CHECKS: u32 = 24;

/// When `timer` is next due, and for what: its next early status check, at
/// `first * (2^(checks+1) - 1)` after the submission (`first`, `3 first`, `7 first`, ...:
/// doubling intervals), or its deadline when that comes first. `first` zero: deadlines only.
pub fn next_wake(timer: &WatchTimer, first: Duration) -> (Wake, DateTime<Utc>) {
    if first.is_zero() || timer.checks >= MAX_CHECKS {
        return (Wake::Deadline, timer.deadline);
    }
    let factor = (1u32 << (timer.checks + 1)) - 1;
    let check = first
        .checked_mul(factor)
        .and_then(|offset| chrono::Duration::from_std(offset).ok())
        .and_then(|offset| timer.submitted_at.checked_add_signed(offset));
    match check {
        Some(at) if at < timer.deadline => (Wake::Check, at),
        _ => (Wake::Deadline, timer.deadline),
    }
}

pub struct Watchdog {
    db: Arc<dyn Documents>,
    publisher: Arc<dyn Publisher>,
    names: Names,
    providers: BTreeMap<String, Arc<dyn Provider>>,
    settings: Arc<Settings>,
}

impl Watchdog {
    pub fn new(settings: Arc<Settings>, ports: &Ports) -> Watchdog {
        Watchdog {
            db: ports.documents.clone(),
            publisher: ports.publisher.clone(),
            names: Names::new(&settings.nats.prefix),
            providers: ports.providers.clone(),
            settings,
        }
    }

    async fn watch(&self, timer: &WatchTimer, delivery: &Delivery) -> Step {
        let no_longer = || {
            StepError::fail(format!(
                "provider {:?} of document {} is no longer configured",
                timer.provider, timer.document_id
            ))
        };
        let provider = self.settings.providers.get(&timer.provider).ok_or_else(no_longer)?;
        // Before the next check (or the deadline) nothing is read: the timer goes back to
        // sleep in JetStream.
        let now = Utc::now();
        let (wake, at) = next_wake(timer, provider.first_status_check);
        if now < at {
            let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
            return Ok(Outcome::later(wait, "waiting for the callback"));
        }
        let document = match self.db.get(timer.document_id).await {
            Ok(Some(document)) => document,
            // Forgotten while its timer slept: the timer ends with it, and no dead letter
            // names the document again.
            Ok(None) if self.db.forgotten(timer.document_id).await? => return Ok(Outcome::Done),
            Ok(None) => return Err(StepError::fail(format!("watch timer of unknown document {}", timer.document_id))),
            Err(e) if wake == Wake::Check => return self.next_check(timer, &e.to_string()).await,
            Err(e) => return Err(e.into()),
        };
        // The callback came (or the document ended another way, or was restarted in a new
        // round with another job): the timer is over.
        if document.state != State::Submitted || document.provider_job_id.as_ref() != Some(&timer.job_id) {
            return Ok(Outcome::Done);
        }
        let client = self.providers.get(&timer.provider).ok_or_else(no_longer)?;
        let status = match (client.job_status(&timer.job_id).await, wake) {
            (Ok(status), _) => status,
            // An early check that gets no answer is no reason to retry or fail: the next
            // check (or the deadline) asks again.
            (Err(error), Wake::Check) => return self.next_check(timer, &error.to_string()).await,
            (Err(SubmitError::Permanent { detail, .. }), Wake::Deadline) => {
                let reason = format!("no callback by the deadline, and the job status is unavailable: {detail}");
                return self.fail(&document.id, &reason, delivery).await;
            }
            // Throttled or transient: retried.
            (Err(error), Wake::Deadline) => return Err(error.into()),
        };
        let state = status.status;
        if let Some(callback) = status.into_callback() {
            // Recovered as if its callback had come: through the validate stage's stream,
            // deduplicated with a real callback on the event id.
            tracing::info!(document_id = %document.id, job_id = %timer.job_id, checks = timer.checks, "callback recovered from the job status");
            let body = serde_json::to_vec(&callback).expect("a callback serializes");
            let subject = self.names.subject(&format!("callbacks.{}", timer.provider));
            self.publisher.publish(subject, &callback.event_id, Some(document.id), None, body).await?;
            return Ok(Outcome::Done);
        }
        if wake == Wake::Check {
            return self.next_check(timer, state.as_str()).await;
        }
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
            v: messages::VERSION,
            round: timer.round + 1,
            deadline: now + chrono::Duration::from_std(provider.callback_timeout).unwrap_or(chrono::Duration::hours(6)),
            ..timer.clone()
        };
        let message_id = format!("watch:{}:{}:{}", document.id, timer.job_id, next.round);
        self.publish_timer(&next, &message_id).await
    }

    /// The job is still running (or its status could not be read) at an early check: a new
    /// timer for the next one replaces this one, so the number of deliveries of one timer
    /// message stays two (held, then due), however many checks a job takes.
    async fn next_check(&self, timer: &WatchTimer, seen: &str) -> Step {
        tracing::debug!(document_id = %timer.document_id, job_id = %timer.job_id, checks = timer.checks, seen, "no callback yet; next status check scheduled");
        let next = WatchTimer { v: messages::VERSION, checks: timer.checks + 1, ..timer.clone() };
        let message_id = format!("watch:{}:{}:{}:check:{}", timer.document_id, timer.job_id, timer.round, next.checks);
        self.publish_timer(&next, &message_id).await
    }

    async fn publish_timer(&self, timer: &WatchTimer, message_id: &str) -> Step {
        let body = serde_json::to_vec(timer).expect("a timer serializes");
        let subject = self.names.subject("watch");
        self.publisher.publish(subject, message_id, Some(timer.document_id), None, body).await?;
        Ok(Outcome::Done)
    }

    async fn fail(&self, id: &crate::ids::DocumentId, reason: &str, delivery: &Delivery) -> Step {
        // Only from `submitted`: a callback that arrived meanwhile wins.
        let lost = Transition::Failed { cause: FailureCause::CallbackLost, reason };
        self.db.apply(*id, lost, By::new(STAGE, delivery.attempt as u32)).await?;
        Ok(Outcome::Done)
    }
}

impl Stage for Watchdog {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        match serde_json::from_slice::<WatchTimer>(&delivery.payload) {
            Ok(timer) => worker::settled(self.watch(&timer, delivery).await),
            Err(e) => Outcome::fail(format!("not a watch timer: {e}")),
        }
    }

    /// Whatever stopped the watch, the callback it waited for never came.
    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str, cause: Option<FailureCause>) {
        let failed = Transition::Failed { cause: cause.unwrap_or(FailureCause::CallbackLost), reason };
        let by = By::new(STAGE, delivery.attempt as u32);
        if let Ok(timer) = serde_json::from_slice::<WatchTimer>(&delivery.payload)
            && let Err(error) = self.db.apply(timer.document_id, failed, by).await
        {
            tracing::error!(document_id = %timer.document_id, error = %error, "cannot mark the document failed");
        }
    }
}

#[cfg(test)]
mod stage_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(checks: u32, round: u32) -> WatchTimer {
        let submitted_at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        WatchTimer {
            v: messages::VERSION,
            document_id: crate::ids::DocumentId(uuid::Uuid::from_u128(1)),
            provider: "sim".into(),
            job_id: "job_1".into(),
            submitted_at,
            deadline: submitted_at + chrono::Duration::hours(6),
            round,
            checks,
        }
    }

    fn minutes_after_submission(wake: (Wake, DateTime<Utc>), t: &WatchTimer) -> (Wake, i64) {
        (wake.0, (wake.1 - t.submitted_at).num_minutes())
    }

    #[test]
    fn status_checks_start_at_first_status_check_and_double_until_the_deadline() {
        let first = Duration::from_secs(120);
        let wakes: Vec<(Wake, i64)> = (0..10)
            .map(|checks| {
                let t = timer(checks, 0);
                minutes_after_submission(next_wake(&t, first), &t)
            })
            .collect();
        let checks: Vec<i64> = wakes.iter().filter(|(w, _)| *w == Wake::Check).map(|(_, m)| *m).collect();
        assert_eq!(checks, [2, 6, 14, 30, 62, 126, 254], "intervals 2, 4, 8, ... minutes");
        assert!(wakes[7..].iter().all(|w| *w == (Wake::Deadline, 360)), "{wakes:?}");
    }

    #[test]
    fn without_first_status_check_only_the_deadline_wakes_a_timer() {
        let t = timer(0, 0);
        assert_eq!(next_wake(&t, Duration::ZERO), (Wake::Deadline, t.deadline));
    }

    #[test]
    fn many_checks_or_a_huge_first_check_never_overflow() {
        let t = timer(MAX_CHECKS + 5, 0);
        assert_eq!(next_wake(&t, Duration::from_secs(1)).0, Wake::Deadline);
        let t = timer(MAX_CHECKS - 1, 0);
        assert_eq!(next_wake(&t, Duration::from_secs(u64::MAX / 4)).0, Wake::Deadline);
    }

    #[test]
    fn a_later_watch_round_goes_on_checking_at_the_same_doubling_points() {
        // Round 1's deadline is 12 h after the submission: the 8th check (510 min) fits.
        let mut t = timer(7, 1);
        t.deadline = t.submitted_at + chrono::Duration::hours(12);
        assert_eq!(minutes_after_submission(next_wake(&t, Duration::from_secs(120)), &t), (Wake::Check, 510));
    }
}
