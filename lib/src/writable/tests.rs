use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use super::*;
use crate::settings::DatabaseSettings;

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings { url: url.to_owned(), max_connections: 2, acquire_timeout: Duration::from_secs(2) }
}

/// A migrated SQLite database in `dir`; its URL without a mode.
async fn sqlite(dir: &Path) -> String {
    let url = format!("sqlite://{}/docflow.db", dir.display());
    let db = Db::connect(&settings(&url)).await.unwrap();
    db.migrate().await.unwrap();
    url
}

#[test]
fn the_sqlite_file_is_read_from_the_url() {
    assert_eq!(
        sqlite_file("sqlite:///var/lib/docflow/docflow.db?mode=rwc"),
        Some("/var/lib/docflow/docflow.db".into())
    );
    assert_eq!(sqlite_file("sqlite:var/docflow.db"), Some("var/docflow.db".into()));
    assert_eq!(sqlite_file("sqlite::memory:"), None);
    assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
    assert_eq!(sqlite_file("postgres://db/docflow"), None);
}

#[test]
fn user_and_group_names_come_from_the_system_files() {
    assert_eq!(user_name(0), "root");
    assert_eq!(group_name(0), "root");
    assert_eq!(user_name(4_000_000_000), "4000000000");
}

#[tokio::test]
async fn a_read_only_sqlite_database_fails_the_probe_with_a_transient_error_and_the_check_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite(dir.path()).await;
    let writable = Db::connect(&settings(&url)).await.unwrap();
    assert!(probe(&writable).await.is_ok());
    check(&writable, &url).await.unwrap();

    let read_only_url = format!("{url}?mode=ro");
    let read_only = Db::connect(&settings(&read_only_url)).await.unwrap();
    let error = probe(&read_only).await.unwrap_err();
    assert!(error.to_string().contains("readonly"), "{error}");
    // A write docflow cannot make now is retried, never dead-lettered.
    assert!(crate::db::DbError::from(error).is_transient());
    let refused = check(&read_only, &read_only_url).await.unwrap_err().to_string();
    assert!(refused.contains(&format!("{}/docflow.db", dir.path().display())), "{refused}");
}

#[tokio::test]
async fn readiness_probes_are_kept_for_a_while() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite(dir.path()).await;
    let db = Db::connect(&settings(&url)).await.unwrap();
    let kept = Probe::new(Duration::from_secs(3600));
    let fresh = Probe::new(Duration::ZERO);
    assert!(kept.writable(&db).await && fresh.writable(&db).await);
    // The table goes: a probe now fails, the kept answer stands.
    db.connection().execute_unprepared("DROP TABLE documents").await.unwrap();
    assert!(kept.writable(&db).await);
    assert!(!fresh.writable(&db).await);
}

#[tokio::test]
async fn setup_as_root_hands_what_it_created_to_the_owner_of_the_directory() {
    assert!(rustix::process::geteuid().is_root(), "this test runs as root, as CI does");
    let dir = tempfile::tempdir().unwrap();
    let nobody = 65534;
    std::os::unix::fs::chown(dir.path(), Some(nobody), Some(nobody)).unwrap();
    let url = format!("sqlite://{}/state/docflow.db", dir.path().display());
    let existing = existing_ancestor(&url);
    assert_eq!(existing.as_deref(), Some(dir.path()));
    let db = Db::connect(&settings(&url)).await.unwrap();
    db.migrate().await.unwrap();
    let handed = hand_over(&url, existing.as_deref()).unwrap();
    let file = dir.path().join("state").join("docflow.db");
    assert!(handed.contains(&file) && handed.contains(&dir.path().join("state")), "{handed:?}");
    for path in [dir.path().join("state"), file.clone(), PathBuf::from(format!("{}-wal", file.display()))] {
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (nobody, nobody), "{}", path.display());
    }
    // A root-owned directory keeps root's files root's.
    let root_dir = tempfile::tempdir().unwrap();
    let url = sqlite(root_dir.path()).await;
    assert!(hand_over(&url, Some(root_dir.path())).unwrap().is_empty());
}

#[tokio::test]
async fn a_postgres_role_with_only_select_is_refused_naming_the_role_and_the_privilege() {
    let url = crate::testkit::fresh_postgres_url().await;
    let owner = Db::connect(&settings(&url)).await.unwrap();
    owner.migrate().await.unwrap();
    check(&owner, &url).await.unwrap();
    let role = format!("docflow_ro_{}", uuid::Uuid::new_v4().simple());
    let database = url.rsplit('/').next().unwrap();
    for statement in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT CONNECT ON DATABASE {database} TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
    ] {
        owner.connection().execute_unprepared(&statement).await.unwrap();
    }
    let role_url = url.replacen("postgres@", &format!("{role}@"), 1);
    let reader = Db::connect(&settings(&role_url)).await.unwrap();
    let refused = check(&reader, &role_url).await.unwrap_err();
    let text = refused.to_string();
    assert!(text.contains(&role) && text.contains("INSERT on table documents") && text.contains("GRANT"), "{text}");
    let error = probe(&reader).await.unwrap_err();
    assert!(crate::db::DbError::from(error).is_transient(), "a role without rights is waited for, not dead-lettered");
    drop(reader);
    owner.connection().execute_unprepared(&format!("DROP OWNED BY {role}")).await.unwrap();
    drop(owner);
    crate::testkit::drop_postgres(&url).await;
    let admin = Db::connect(&settings("postgres://postgres@127.0.0.1/postgres")).await.unwrap();
    admin.connection().execute_unprepared(&format!("DROP ROLE {role}")).await.unwrap();
}
