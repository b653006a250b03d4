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
