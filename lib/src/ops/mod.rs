//! Operators' view of the whole pipeline (issue 25): the overview `docflow status` prints
//! without an argument and the admin page draws ([`Ops::overview`]), the JetStream gauges
//! every run process exports on `/metrics` ([`gauges`]), and the breakers request every
//! run process answers ([`breakers`]).
//!
//! Everything here reads aggregates: one consumer info per stage, one count per
//! dead-letter subject, one `GROUP BY` and one single-row query on the documents, and one
//! answer per process. Nothing walks documents or messages one by one, so an overview
//! costs the same with ten documents or ten million.

pub mod breakers;
pub mod gauges;
mod overview;
mod reads;
pub mod render;

use std::time::Duration;

use chrono::Utc;

pub use self::overview::{OldestInFlight, Overview, ProcessAnswer, ProviderBreaker, StageBacklog, waits_at};
use crate::db::{Db, DbError};
use crate::nats::{self, ConnectError, Names};
use crate::settings::Settings;

/// How long the overview waits for the run processes' breaker answers.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(700);

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot read {what} from JetStream: {detail}; has `docflow setup` run with this nats.prefix?")]
    JetStream { what: String, detail: String },
}

impl OpsError {
    fn database(cause: sea_orm::DbErr) -> OpsError {
        OpsError::Database(DbError::from(cause))
    }
}

/// What the overview reads from: NATS and the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ops {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    names: Names,
    db: Db,
    providers: Vec<String>,
    answer_within: Duration,
}

impl Ops {
    /// On a process's existing connections.
    pub fn new(client: async_nats::Client, db: Db, settings: &Settings) -> Ops {
        Ops {
            js: async_nats::jetstream::new(client.clone()),
            client,
            names: Names::new(&settings.nats.prefix),
            db,
            providers: settings.providers.keys().cloned().collect(),
            answer_within: ANSWER_WITHIN,
        }
    }

    /// Connects to NATS and the database (`docflow status`).
    pub async fn connect(settings: &Settings) -> Result<Ops, OpsError> {
        let client = nats::connect(&settings.nats, "docflow status").await?;
        let db = Db::connect(&settings.database).await?;
        Ok(Ops::new(client, db, settings))
    }

    /// How long to wait for the processes' answers.
    pub fn answer_within(mut self, within: Duration) -> Ops {
        self.answer_within = within;
        self
    }

    /// The pipeline now. The reads run concurrently; the breakers' deadline bounds it.
    pub async fn overview(&self) -> Result<Overview, OpsError> {
        let (stages, dead, counts, oldest, answers) = tokio::join!(
            reads::backlogs(&self.js, &self.names),
            reads::dead_letters(&self.js, &self.names),
            reads::documents_per_state(&self.db),
            reads::oldest_in_flight(&self.db),
            breakers::gather(&self.client, &self.names, self.answer_within),
        );
        let counts = counts?;
        let dead = dead?;
        Ok(Overview {
            at: Utc::now(),
            documents: overview::documents_per_state(&counts),
            in_flight: overview::in_flight(&counts),
            stages: stages?,
            dead_letters: dead,
            providers: overview::providers(&self.providers, &answers),
            processes: answers,
            oldest_in_flight: oldest?,
        })
    }
}
