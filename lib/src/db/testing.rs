//! Per-test PostgreSQL databases, so tests run in parallel against one server.
//! The server is `DOCFLOW_TEST_POSTGRES` (an URL of a database to connect to for
//! `CREATE DATABASE`), by default `postgres://postgres@127.0.0.1/postgres`.

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1/postgres";

fn admin_url() -> String {
    std::env::var("DOCFLOW_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

async fn admin() -> (String, DatabaseConnection) {
    let url = admin_url();
    let mut options = ConnectOptions::new(url.clone());
    options.max_connections(1).sqlx_logging(false);
    match Database::connect(options).await {
        Ok(conn) => (url, conn),
        Err(e) => {
            panic!("cannot connect to the test PostgreSQL at {url}: {e}; start PostgreSQL or set DOCFLOW_TEST_POSTGRES")
        }
    }
}

/// Creates an empty database `docflow_test_<random>` and returns its URL.
pub async fn fresh_postgres_url() -> String {
    let (url, conn) = admin().await;
    let name = format!("docflow_test_{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await {
        panic!("cannot create the test database {name} on {url}: {e}");
    }
    conn.close().await.ok();
    let base = url.split('?').next().unwrap_or(&url);
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}")
}

/// Drops a database made by [`fresh_postgres_url`], closing its remaining connections.
pub async fn drop_postgres(url: &str) {
    let name = url.split('?').next().unwrap_or(url).rsplit('/').next().unwrap_or_default();
    assert!(name.starts_with("docflow_test_"), "refusing to drop {name:?}: not a test database");
    let (admin_url, conn) = admin().await;
    if let Err(e) = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await {
        panic!("cannot drop the test database {name} on {admin_url}: {e}");
    }
    conn.close().await.ok();
}

/// Connections of a test's pool.
#[cfg(test)]
pub(crate) const MAX_CONNECTIONS: u32 = 4;

/// A test's database settings for `url`.
#[cfg(test)]
pub(crate) fn settings(url: &str) -> crate::settings::DatabaseSettings {
    let acquire_timeout = std::time::Duration::from_secs(10);
    crate::settings::DatabaseSettings { url: url.to_owned(), max_connections: MAX_CONNECTIONS, acquire_timeout }
}

/// One test's migrated database, on one backend: for the database tests, the evaluator's
/// and the documents port's conformance suite (`stages/conformance.rs`).
#[cfg(test)]
pub struct Target {
    pub db: super::Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

#[cfg(test)]
impl Target {
    /// The same database with group commit (`group.rs`), as `docflow run` applies
    /// transitions.
    pub fn grouped(mut self) -> Target {
        self.db = self.db.with_group_commit(super::GROUP_COMMIT_MAX);
        self
    }
}

/// A new plain-text document of teacher-42's, under an id of its own.
#[cfg(test)]
pub fn new_document() -> super::NewDocument {
    let id = crate::ids::DocumentId(uuid::Uuid::new_v4());
    super::NewDocument {
        id,
        kind: crate::ids::Kind::Document,
        uploader_id: "teacher-42".into(),
        bucket: "uploads".into(),
        key: format!("teacher-42/{id}.txt"),
        version_id: None,
        etag: Some("etag".into()),
        size: 19,
        content_type: "text/plain".into(),
        provider: "sim".into(),
    }
}

/// A SQLite file in a directory that does not exist yet (connecting creates it).
#[cfg(test)]
pub async fn sqlite() -> Target {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/docflow.db", dir.path().display());
    let db = super::Db::connect(&settings(&url)).await.unwrap();
    db.migrate().await.unwrap();
    Target { db, url, _dir: Some(dir) }
}

/// A fresh PostgreSQL database; [`on_both!`] drops it after the test.
#[cfg(test)]
pub async fn postgres() -> Target {
    let url = fresh_postgres_url().await;
    let db = super::Db::connect(&settings(&url)).await.unwrap();
    db.migrate().await.unwrap();
    Target { db, url, _dir: None }
}

/// Runs `body` on a fresh PostgreSQL database, then drops the database, also when `body`
/// panics (the panic goes on once the database is gone).
#[cfg(test)]
pub async fn with_postgres<F: std::future::Future<Output = ()> + Send + 'static>(body: impl FnOnce(Target) -> F) {
    let target = postgres().await;
    let url = target.url.clone();
    let outcome = tokio::spawn(body(target)).await;
    drop_postgres(&url).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// Runs each named `async fn(Target)` against SQLite and PostgreSQL, as two tests
/// (`NAME::sqlite`, `NAME::postgres`); the PostgreSQL database is dropped afterwards, also
/// when the test panics.
#[cfg(test)]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::db::testing::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::db::testing::with_postgres(super::$name).await;
            }
        }
    )*};
}
#[cfg(test)]
pub(crate) use on_both;
