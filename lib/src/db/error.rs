//! Database errors, classified by what the caller does next: retry later
//! ([`DbError::is_transient`]) or give up.

use sea_orm::{DbErr, RuntimeErr};

/// The cause is part of each message (one line names the problem and the fix), so these
/// errors expose no `source()`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database at {url}: {cause}; {hint} set database.url")]
    Connect { url: String, hint: &'static str, cause: DbErr },
    #[error(
        "cannot create the directory {path} for the SQLite database: {cause}; set database.url to a writable place"
    )]
    CreateDir { path: String, cause: std::io::Error },
    #[error("database migration failed: {cause}; check that the database user may create tables and indexes")]
    Migrate { cause: DbErr },
    #[error(
        "no database connection free within database.acquire_timeout ({cause}); raise database.max_connections or database.acquire_timeout, or check for slow queries"
    )]
    PoolTimeout { cause: DbErr },
    #[error("database query failed: {cause}")]
    Query { cause: DbErr },
    #[error("unexpected value {value:?} in {column}; was the row written by another docflow version?")]
    Decode { column: &'static str, value: String },
}

impl DbError {
    pub(crate) fn decode(column: &'static str, value: &str) -> DbError {
        DbError::Decode { column, value: value.to_owned() }
    }

    /// Whether the same call may succeed later: connection, pool and I/O trouble, lock
    /// contention and serialization failures. Constraint violations, decoding errors and
    /// bad SQL are not.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Connect { cause, .. } => {
                !matches!(cause, DbErr::Conn(RuntimeErr::SqlxError(e)) if matches!(**e, sea_orm::sqlx::Error::Configuration(_)))
            }
            DbError::PoolTimeout { .. } => true,
            DbError::Query { cause } | DbError::Migrate { cause } => is_transient(cause),
            DbError::CreateDir { .. } | DbError::Decode { .. } => false,
        }
    }
}

impl From<DbErr> for DbError {
    fn from(cause: DbErr) -> DbError {
        match cause {
            DbErr::ConnectionAcquire(_) => DbError::PoolTimeout { cause },
            cause => DbError::Query { cause },
        }
    }
}

fn is_transient(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            Sqlx::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
            _ => false,
        },
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs and SQLite result codes that say "try again".
fn transient_code(code: &str) -> bool {
    // PostgreSQL: 08 connection exception, 40001 serialization failure, 40P01 deadlock,
    // 53 insufficient resources (too many connections, disk full), 55P03 lock not
    // available, 57P01-57P03 server shutting down or starting.
    // A database docflow cannot write (a read-only standby 25006, a role without rights
    // 42501, a SQLite file it does not own) is an operator's fix away: wait for it rather
    // than dead-letter every upload meanwhile.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "25006" | "42501")
        // SQLite (numeric, at most 4 digits): SQLITE_BUSY (5), SQLITE_LOCKED (6),
        // SQLITE_READONLY (8), SQLITE_FULL (13) and SQLITE_CANTOPEN (14), with their
        // extended codes.
        || (code.len() <= 4 && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 13 | 14)))
}

impl crate::worker::Transience for DbError {
    fn is_transient(&self) -> bool {
        DbError::is_transient(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sea_orm::sqlx;

    use super::*;
    use crate::db::Db;
    use crate::settings::DatabaseSettings;

    fn settings(port: u16, acquire_timeout: Duration) -> DatabaseSettings {
        DatabaseSettings {
            url: format!("postgres://docflow:secret@127.0.0.1:{port}/docflow"),
            max_connections: 1,
            acquire_timeout,
        }
    }

    fn query_error(error: sqlx::Error) -> DbError {
        DbError::from(DbErr::Query(RuntimeErr::SqlxError(Arc::new(error))))
    }

    #[tokio::test]
    async fn a_server_that_accepts_and_closes_is_a_transient_connection_loss() {
        let port = crate::testkit::servers::accept_and_close().await;
        let error = Db::connect(&settings(port, Duration::from_secs(5))).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        let text = error.to_string();
        assert!(!text.contains("secret") && text.contains("database.url"), "{text}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_transient_timeout() {
        let (port, held) = crate::testkit::servers::black_hole().await;
        let error = Db::connect(&settings(port, Duration::from_millis(300))).await.unwrap_err();
        held.abort();
        assert!(error.is_transient(), "{error}");
    }

    #[test]
    fn io_errors_on_a_query_are_transient() {
        for kind in [
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::ConnectionAborted,
            std::io::ErrorKind::UnexpectedEof,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::TimedOut,
        ] {
            let error = query_error(sqlx::Error::Io(std::io::Error::from(kind)));
            assert!(error.is_transient(), "{kind:?}: {error}");
        }
        assert!(query_error(sqlx::Error::PoolTimedOut).is_transient());
        assert!(query_error(sqlx::Error::PoolClosed).is_transient());
        assert!(query_error(sqlx::Error::WorkerCrashed).is_transient());
    }

    #[test]
    fn a_pool_with_no_free_connection_is_a_transient_pool_timeout() {
        let error = DbError::from(DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout));
        assert!(matches!(error, DbError::PoolTimeout { .. }), "{error:?}");
        assert!(error.is_transient());
        assert!(error.to_string().contains("database.max_connections"), "{error}");
    }

    #[test]
    fn a_lost_connection_is_transient_and_a_bad_url_not() {
        let lost =
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()))));
        assert!(DbError::Connect { url: String::new(), hint: "", cause: lost }.is_transient());
        let bad = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Configuration("bad url".into()))));
        assert!(!DbError::Connect { url: String::new(), hint: "", cause: bad }.is_transient());
        assert!(!DbError::decode("state", "nonsense").is_transient());
        assert!(!query_error(sqlx::Error::RowNotFound).is_transient());
    }

    #[test]
    fn busy_and_serialization_failures_are_transient_constraint_violations_not() {
        assert!(transient_code("40001"));
        assert!(transient_code("08006"));
        assert!(transient_code("5"));
        assert!(transient_code("517"));
        assert!(transient_code("8"), "SQLITE_READONLY");
        assert!(transient_code("1032"), "SQLITE_READONLY_DBMOVED");
        assert!(transient_code("42501"), "insufficient_privilege");
        assert!(transient_code("25006"), "read_only_sql_transaction");
        assert!(!transient_code("23505"));
        assert!(!transient_code("1555"));
        assert!(!transient_code("19"));
    }
}
