//! The database layer: documents, their timelines, submissions, artifacts and handled
//! callback events, on PostgreSQL or SQLite through SeaORM.
//!
//! Writes happen only at state transitions and each transition is atomic: on PostgreSQL
//! one statement (a data-modifying CTE updates the document and appends its timeline
//! entry together), on SQLite one `BEGIN IMMEDIATE` transaction. Transitions are guarded
//! by the current state (`UPDATE ... WHERE state IN (...)`), so a redelivered message or
//! two workers racing on one document change it at most once. `docflow run` commits the
//! transitions a stage applies at the same time together (`group.rs`).

use std::path::Path;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::settings::DatabaseSettings;

pub mod entities;
mod error;
mod group;
mod listing;
pub mod migration;
mod model;
mod repository;
#[cfg(test)]
mod shorthands;
pub mod statements;
/// Test databases: tests and the `testkit` feature only.
#[cfg(any(test, feature = "testkit"))]
pub mod testing;
#[cfg(test)]
pub(crate) mod tests;
mod transition;

pub use entities::*;
pub use error::DbError;
pub use group::{DEFAULT_MAX as GROUP_COMMIT_MAX, GroupStats};
pub(crate) use listing::filter_condition;
pub use listing::{Cursor, InvalidCursor, ListFilter};
pub use model::{ArtifactRole, ArtifactRow, Document, NewDocument, State, TimelineEntry, UnknownState};
pub use observer::{Observer, StatusChange};

mod observer;

/// Prepared statements each PostgreSQL connection keeps (sqlx's default is 100). The
/// pipeline's reads and lone writes are a handful of texts, kept hot; a group commit's
/// statement of several writes varies with its writes, and 100 of those per connection
/// held about 3 MiB more at peak (`docs/performance.md`, 2026-12-08).
const STATEMENT_CACHE: usize = 24;

/// A pool of database connections; cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// Told of every state a document takes, after the write that recorded it.
    observer: Option<Observer>,
    /// Group commit (`with_group_commit`): transitions of a stage share transactions.
    group: Option<std::sync::Arc<group::GroupCommit>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("conn", &self.conn).field("observer", &self.observer.is_some()).finish()
    }
}

/// How long a pooled connection may sit idle before it is pinged on its next use.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(10);

/// Serializes concurrent `migrate` calls on one PostgreSQL database (any constant works;
/// this one spells "docflow").
const MIGRATION_LOCK: i64 = 0x0064_6f63_666c_6f77;

impl Db {
    /// Opens a bounded pool: never more than `database.max_connections` connections, on
    /// SQLite too. A SQLite file's directory is created and the file opened with
    /// `mode=rwc` unless the URL says otherwise; SQLite runs in WAL mode and waits up to
    /// `database.acquire_timeout` for a lock.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
        let sqlite = settings.url.starts_with("sqlite:");
        let url = if sqlite { sqlite_url(&settings.url)? } else { settings.url.clone() };
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(settings.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.acquire_timeout)
            // A connection is pinged before use only after sitting idle (a restarted
            // server drops idle ones); a ping on every acquire doubled the round trips.
            .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
            .sqlx_logging(false);
        if !sqlite {
            options.map_sqlx_postgres_opts(|o| o.statement_cache_capacity(STATEMENT_CACHE));
        }
        if sqlite {
            let busy_timeout = settings.acquire_timeout;
            options.map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(busy_timeout)
                    .foreign_keys(true)
            });
        }
        let mut conn = Database::connect(options).await.map_err(|cause| DbError::Connect {
            url: crate::redact::url(&settings.url),
            hint: if sqlite { "is its directory writable?" } else { "is PostgreSQL running and reachable?" },
            cause,
        })?;
        conn.set_metric_callback(statements::statement);
        Ok(Db { conn, observer: None, group: None })
    }

    /// Applies pending migrations; a no-op when the schema is current. Safe to run from
    /// several processes at once on PostgreSQL (an advisory lock serializes them).
    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrate = async {
            if self.backend() == DbBackend::Postgres {
                let txn = self.conn.begin().await?;
                statements::transaction();
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
                migration::Migrator::up(&txn, None).await?;
                txn.commit().await
            } else {
                migration::Migrator::up(&self.conn, None).await
            }
        };
        migrate.await.map_err(|cause| DbError::Migrate { cause })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
}

/// The SQLite URL to open: `mode=rwc` added when no mode is given, and the file's
/// directory created.
fn sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    if in_memory {
        return Ok(url.to_owned());
    }
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|cause| DbError::CreateDir { path: parent.display().to_string(), cause })?;
    }
    if query.split('&').any(|p| p.starts_with("mode=")) {
        Ok(url.to_owned())
    } else if query.is_empty() {
        Ok(format!("{}?mode=rwc", url.trim_end_matches('?')))
    } else {
        Ok(format!("{url}&mode=rwc"))
    }
}
