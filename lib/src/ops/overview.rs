//! The overview's shape: what `docflow status` (no argument) prints, `--json` writes and
//! the admin page draws. Built from reads that are already aggregates (one GROUP BY, one
//! consumer info per stage, one subject count of the dead letters, one answer per
//! process), so its cost does not grow with the number of documents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::State;
use crate::provider::breaker::BreakerState;

/// The whole pipeline at one moment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Overview {
    pub at: DateTime<Utc>,
    /// Documents per state, every state present (zero included).
    pub documents: BTreeMap<&'static str, u64>,
    /// Documents in a state some stage still moves on from.
    pub in_flight: u64,
    /// Each stage's durable consumer, in pipeline order.
    pub stages: Vec<StageBacklog>,
    /// Dead letters per stage, every stage present (zero included).
    pub dead_letters: BTreeMap<String, u64>,
    /// Each configured provider's breaker, as the processes that submit to it see it.
    pub providers: Vec<ProviderBreaker>,
    /// The `docflow run` processes that answered, with what they run.
    pub processes: Vec<ProcessAnswer>,
    /// The oldest document not yet normalized, failed or rejected.
    pub oldest_in_flight: Option<OldestInFlight>,
}

/// A stage's consumer as JetStream counts it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StageBacklog {
    pub stage: &'static str,
    pub stream: String,
    pub consumer: String,
    /// Messages not yet delivered to any worker.
    pub pending: u64,
    /// Delivered and not yet acknowledged (JetStream's "ack pending").
    pub in_flight: u64,
    /// Delivered more than once and still unacknowledged.
    pub redelivered: u64,
    /// Pull requests waiting: 0 means no worker of this stage is listening.
    pub waiting: u64,
    /// The stream's last sequence: grows with every message the stage was given.
    pub last_sequence: u64,
}

/// What one `docflow run` process said about itself.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ProcessAnswer {
    /// `host:pid`.
    pub process: String,
    /// Its admin listener, where its `/metrics` and `/readyz` are.
    pub admin: String,
    pub components: Vec<String>,
    /// Breaker state by provider (`closed`, `open`, `half-open`); empty where the process
    /// runs no transfer stage.
    pub breakers: BTreeMap<String, String>,
}

/// A provider's breaker across the processes that submit to it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderBreaker {
    pub provider: String,
    /// The worst any process reports (`open` over `half-open` over `closed`), or
    /// `unknown` when no process submitting to it answered.
    pub state: String,
    /// The processes that reported a state for it.
    pub reported_by: Vec<String>,
}

/// The oldest document still on its way, and where it waits.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OldestInFlight {
    pub id: String,
    pub state: &'static str,
    /// The place that moves it on next: `transfer`, `provider`, `validate` or `normalize`.
    pub waits_at: &'static str,
    pub created_at: DateTime<Utc>,
    /// When it took its current state.
    pub since: DateTime<Utc>,
}

/// Where a document in `state` waits: the stage (or the provider) that moves it on.
/// `None` for the states nothing moves on from.
pub fn waits_at(state: State) -> Option<&'static str> {
    match state {
        State::Received => Some("transfer"),
        State::Submitted => Some("provider"),
        State::Processed => Some("validate"),
        State::Validated => Some("normalize"),
        State::Normalized | State::Failed | State::Rejected => None,
    }
}

/// Every state with its count (zero where the query found none).
pub fn documents_per_state(counts: &[(State, u64)]) -> BTreeMap<&'static str, u64> {
    let mut out: BTreeMap<&'static str, u64> = State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for (state, count) in counts {
        *out.entry(state.as_str()).or_default() += count;
    }
    out
}

/// The documents that some stage still moves on.
pub fn in_flight(counts: &[(State, u64)]) -> u64 {
    counts.iter().filter(|(state, _)| !state.is_terminal()).map(|(_, n)| n).sum()
}

/// How bad a breaker state is, to take the worst of several processes' answers.
fn severity(state: &str) -> u8 {
    match state {
        "open" => 3,
        "half-open" => 2,
        "closed" => 1,
        _ => 0,
    }
}

/// Each configured provider with the worst state any answering process reports; a
/// provider no answer names is `unknown` (no transfer stage answered).
pub fn providers(configured: &[String], answers: &[ProcessAnswer]) -> Vec<ProviderBreaker> {
    configured
        .iter()
        .map(|provider| {
            let mut state = "unknown".to_owned();
            let mut reported_by = Vec::new();
            for answer in answers {
                if let Some(reported) = answer.breakers.get(provider) {
                    reported_by.push(answer.process.clone());
                    if severity(reported) > severity(&state) {
                        state = reported.clone();
                    }
                }
            }
            ProviderBreaker { provider: provider.clone(), state, reported_by }
        })
        .collect()
}

/// A process's breaker table as it answers it.
pub fn breaker_table(states: BTreeMap<String, BreakerState>) -> BTreeMap<String, String> {
    states.into_iter().map(|(name, state)| (name, state.as_str().to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(process: &str, breakers: &[(&str, &str)]) -> ProcessAnswer {
        ProcessAnswer {
            process: process.into(),
            admin: "127.0.0.1:7591".into(),
            components: vec!["transfer".into()],
            breakers: breakers.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect(),
        }
    }

    #[test]
    fn every_state_is_counted_and_only_the_moving_ones_are_in_flight() {
        let counts = [(State::Submitted, 3), (State::Normalized, 10), (State::Failed, 2), (State::Received, 1)];
        let per_state = documents_per_state(&counts);
        assert_eq!(per_state.len(), State::ALL.len());
        assert_eq!(per_state["submitted"], 3);
        assert_eq!(per_state["validated"], 0);
        assert_eq!(per_state["failed"], 2);
        assert_eq!(in_flight(&counts), 4);
    }

    #[test]
    fn a_provider_shows_the_worst_state_any_process_reports_and_who_reported_it() {
        let answers = [
            answer("a:1", &[("sim", "closed"), ("other", "half-open")]),
            answer("b:2", &[("sim", "open")]),
            answer("c:3", &[]),
        ];
        let configured = ["sim".to_owned(), "other".to_owned(), "silent".to_owned()];
        let found = providers(&configured, &answers);
        assert_eq!(found[0].state, "open");
        assert_eq!(found[0].reported_by, ["a:1", "b:2"]);
        assert_eq!(found[1].state, "half-open");
        assert_eq!(found[2].state, "unknown", "no process submits to it");
        assert!(found[2].reported_by.is_empty());
    }

    #[test]
    fn each_moving_state_waits_at_the_place_that_moves_it_on() {
        let places: Vec<_> = State::NON_TERMINAL.iter().map(|s| waits_at(*s).unwrap()).collect();
        assert_eq!(places, ["transfer", "provider", "validate", "normalize"]);
        assert!(State::ALL.iter().filter(|s| s.is_terminal()).all(|s| waits_at(*s).is_none()));
    }
}
