//! PostgreSQL as the bench sees it: fresh databases, and what the server counts for one
//! database (transactions, rows, statements when pg_stat_statements is loaded, and
//! connections). The bench's own queries carry `application_name=docflow-bench` and a
//! `/* docflow-bench */` comment, so they can be told apart from docflow's.

use std::time::Duration;

use anyhow::{Context, Result};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

pub const BENCH_APP: &str = "docflow-bench";

pub fn admin_url() -> String {
    std::env::var("DOCFLOW_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/postgres".to_owned())
}

pub async fn connect(url: &str, max: u32) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(max).min_connections(0).sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    Database::connect(options).await.with_context(|| format!("cannot connect to PostgreSQL at {url}"))
}

/// `url` with the bench's application name, for the bench's own connections.
pub fn bench_url(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={BENCH_APP}")
}

pub struct Admin {
    conn: DatabaseConnection,
    server: String,
}

/// What the server counted for one database; deltas of two samples are what happened
/// in between (the server flushes a backend's counters within about a second of a
/// transaction and at most 10 s later when it goes idle, hence the settle waits).
#[derive(Debug, Clone, Copy, Default)]
pub struct DbCounters {
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    /// Calls of docflow's statements, when pg_stat_statements is loaded.
    pub statements: Option<i64>,
}

impl DbCounters {
    pub fn minus(&self, before: &DbCounters) -> DbCounters {
        DbCounters {
            xact_commit: self.xact_commit - before.xact_commit,
            xact_rollback: self.xact_rollback - before.xact_rollback,
            tup_inserted: self.tup_inserted - before.tup_inserted,
            tup_updated: self.tup_updated - before.tup_updated,
            tup_deleted: self.tup_deleted - before.tup_deleted,
            statements: self.statements.zip(before.statements).map(|(a, b)| a - b),
        }
    }
    pub fn rows_written(&self) -> i64 {
        self.tup_inserted + self.tup_updated + self.tup_deleted
    }
}

impl Admin {
    pub async fn connect() -> Result<Admin> {
        let url = admin_url();
        let conn = connect(&bench_url(&url), 1).await?;
        let base = url.split('?').next().unwrap_or(&url);
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server).to_owned();
        Ok(Admin { conn, server })
    }

    /// Creates an empty database `docflow_bench_<random>`; returns its name and URL.
    pub async fn fresh_database(&self) -> Result<(String, String)> {
        let name = format!("docflow_bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        self.conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        Ok((name.clone(), format!("{}/{name}", self.server)))
    }

    pub async fn drop_database(&self, name: &str) {
        let _ = self.conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }

    async fn scalar_i64(&self, sql: &str) -> Result<i64> {
        let row = self.conn.query_one_raw(Statement::from_string(self.conn.get_database_backend(), sql)).await?;
        Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
    }

    /// Connections to `database` other than the bench's own.
    pub async fn connections(&self, database: &str) -> Result<i64> {
        self.scalar_i64(&format!(
            "/* docflow-bench */ SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = '{database}' AND coalesce(application_name, '') <> '{BENCH_APP}'"
        ))
        .await
    }

    pub async fn counters(&self, database: &str, stats: Option<&DatabaseConnection>) -> Result<DbCounters> {
        let row = self
            .conn
            .query_one_raw(Statement::from_string(
                self.conn.get_database_backend(),
                format!(
                    "/* docflow-bench */ SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '{database}'"
                ),
            ))
            .await?
            .context("the database has no statistics row")?;
        let statements = match stats {
            Some(conn) => statement_calls(conn).await.ok(),
            None => None,
        };
        Ok(DbCounters {
            xact_commit: row.try_get_by_index(0)?,
            xact_rollback: row.try_get_by_index(1)?,
            tup_inserted: row.try_get_by_index(2)?,
            tup_updated: row.try_get_by_index(3)?,
            tup_deleted: row.try_get_by_index(4)?,
            statements,
        })
    }
}

/// Whether pg_stat_statements works on this server: it must be in
/// `shared_preload_libraries` (a server restart) before the extension answers. Creates it
/// in the bench database when it does.
pub async fn try_statement_stats(conn: &DatabaseConnection) -> bool {
    let preload = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), "SHOW shared_preload_libraries"))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    if !preload.contains("pg_stat_statements") {
        return false;
    }
    conn.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.is_ok()
        && statement_calls(conn).await.is_ok()
}

/// Calls of every statement in this database, except the bench's own.
async fn statement_calls(conn: &DatabaseConnection) -> Result<i64> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "/* docflow-bench */ SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%docflow-bench%'",
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
}
