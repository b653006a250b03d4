//! Whether docflow can write its database. A SQLite file left owned by root (a `docflow
//! setup` run with sudo) or a PostgreSQL role without rights lets docflow read and look
//! healthy while every write fails; these checks make that visible:
//! - [`check`] at start: refuses with the file and its owner, or the role and the missing
//!   privilege, and the command that fixes it;
//! - [`Probe`] for `/readyz`: a write that changes nothing, at most every few seconds;
//! - [`hand_over`] after `docflow setup` as root: what setup created in a directory of
//!   another user becomes that user's.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, TransactionTrait};

use crate::db::Db;

/// The tables docflow writes.
const TABLES: [&str; 5] = ["documents", "document_events", "submissions", "artifacts", "processed_events"];
/// What docflow needs on each of them.
const PRIVILEGES: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];

#[derive(Debug, thiserror::Error)]
pub enum NotWritable {
    #[error(
        "cannot write the SQLite database: {file} is owned by {owner} and not writable by {user}, which docflow runs \
         as; fix: `chown {user}:{group} {file}` (and its -wal and -shm files and directory), or run docflow as {owner}"
    )]
    SqliteOwner { file: String, owner: String, user: String, group: String },
    #[error("cannot write the SQLite database {file}: {cause}; check database.url (mode=ro?) and the file system")]
    Sqlite { file: String, cause: String },
    #[error(
        "the PostgreSQL role {role} lacks {missing}; fix: `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN \
         SCHEMA {schema} TO {role}; GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role};` (as the tables' \
         owner), or set database.url to the role that ran `docflow setup`"
    )]
    Privileges { role: String, schema: String, missing: String },
    #[error(
        "the PostgreSQL database is read-only for role {role} (a standby, or default_transaction_read_only); point \
         database.url at the primary"
    )]
    ReadOnly { role: String },
    #[error("cannot write the database: {0}")]
    Other(String),
}

/// A write that changes nothing: it fails where docflow's writes would (a read-only file
/// or connection, a role without UPDATE, a read-only transaction), and costs one
/// statement.
pub async fn probe(db: &Db) -> Result<(), DbErr> {
    let conn = db.connection();
    let txn = conn.begin().await?;
    let result = txn.execute_unprepared("UPDATE documents SET state = state WHERE 1 = 0").await;
    txn.rollback().await.ok();
    result.map(|_| ())
}

/// Refuses a database docflow cannot write, saying why and how to fix it. `url` is
/// `database.url`.
pub async fn check(db: &Db, url: &str) -> Result<(), NotWritable> {
    match db.connection().get_database_backend() {
        DbBackend::Postgres => check_postgres(db).await,
        _ => match probe(db).await {
            Ok(()) => Ok(()),
            Err(error) => Err(explain_sqlite(url, &error.to_string())),
        },
    }
}

async fn check_postgres(db: &Db) -> Result<(), NotWritable> {
    let conn = db.connection();
    let other = |e: DbErr| NotWritable::Other(crate::redact::text(&e.to_string()));
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS role, current_schema()::text AS schema, \
             current_setting('transaction_read_only') AS read_only",
        ))
        .await
        .map_err(other)?
        .ok_or_else(|| NotWritable::Other("no answer to SELECT current_user".into()))?;
    let role: String = row.try_get("", "role").map_err(other)?;
    let schema: String = row.try_get("", "schema").map_err(other)?;
    let read_only: String = row.try_get("", "read_only").map_err(other)?;
    if read_only == "on" {
        return Err(NotWritable::ReadOnly { role });
    }
    let tables = TABLES.map(|t| format!("'{t}'")).join(", ");
    let privileges = PRIVILEGES.map(|p| format!("'{p}'")).join(", ");
    let missing = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT p.privilege || ' on table ' || c.relname AS missing \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 CROSS JOIN unnest(ARRAY[{privileges}]) AS p(privilege) \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname IN ({tables}) \
                 AND NOT has_table_privilege(c.oid, p.privilege) \
                 UNION ALL \
                 SELECT 'USAGE on sequence ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() \
                 AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(c.oid, 'USAGE') ELSE false END \
                 ORDER BY 1"
            ),
        ))
        .await
        .map_err(other)?;
    let missing: Vec<String> = missing.iter().filter_map(|row| row.try_get("", "missing").ok()).collect();
    if !missing.is_empty() {
        return Err(NotWritable::Privileges { role, schema, missing: missing.join(", ") });
    }
    probe(db).await.map_err(|e| NotWritable::Other(crate::redact::text(&e.to_string())))
}

/// The SQLite file of `url`; `None` in memory.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    (!in_memory).then(|| PathBuf::from(path))
}

/// The file SQLite needs to write and this process cannot, with its owner; else the
/// driver's words.
fn explain_sqlite(url: &str, cause: &str) -> NotWritable {
    owner_problem(url).unwrap_or_else(|| NotWritable::Sqlite {
        file: sqlite_file(url).map_or_else(|| url.to_owned(), |f| f.display().to_string()),
        cause: cause.to_owned(),
    })
}

/// The first of the SQLite file of `url`, its -wal, its -shm and its directory that
/// exists and that this process may not write, named with its owner and the fix.
pub fn owner_problem(url: &str) -> Option<NotWritable> {
    let file = sqlite_file(url)?;
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned();
    let with_suffix = |suffix: &str| PathBuf::from(format!("{}{suffix}", file.display()));
    [file.clone(), with_suffix("-wal"), with_suffix("-shm"), dir].into_iter().find_map(|path| {
        let metadata = std::fs::metadata(&path).ok()?;
        let writable =
            rustix::fs::accessat(rustix::fs::CWD, &path, rustix::fs::Access::WRITE_OK, rustix::fs::AtFlags::EACCESS)
                .is_ok();
        (!writable).then(|| NotWritable::SqliteOwner {
            file: path.display().to_string(),
            owner: format!("{}:{}", user_name(metadata.uid()), group_name(metadata.gid())),
            user: user_name(rustix::process::geteuid().as_raw()),
            group: group_name(rustix::process::getegid().as_raw()),
        })
    })
}

/// The name of a user or group id from `/etc/passwd` or `/etc/group`; the number when
/// it has none.
fn name_of(file: &str, id: u32) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let found: u32 = fields.nth(1)?.parse().ok()?;
            (found == id).then(|| name.to_owned())
        })
        .next()
        .unwrap_or_else(|| id.to_string())
}

fn user_name(uid: u32) -> String {
    name_of("/etc/passwd", uid)
}

fn group_name(gid: u32) -> String {
    name_of("/etc/group", gid)
}

/// After `docflow setup` as root: the SQLite file of `url`, its -wal and -shm, and the
/// directories setup created for it become the owner's of the nearest directory that
/// already existed (`existing`, found before connecting with [`existing_ancestor`]), so
/// that the service, running as that user, can write them. Nothing happens when not root
/// or when that directory is root's. Returns what was handed over.
pub fn hand_over(url: &str, existing: Option<&Path>) -> std::io::Result<Vec<PathBuf>> {
    let (Some(file), Some(existing)) = (sqlite_file(url), existing) else { return Ok(Vec::new()) };
    if !rustix::process::geteuid().is_root() {
        return Ok(Vec::new());
    }
    let owner = std::fs::metadata(existing)?;
    if owner.uid() == 0 {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> =
        file.ancestors().skip(1).take_while(|dir| *dir != existing).map(Path::to_owned).collect();
    paths.extend(["", "-wal", "-shm", "-journal"].map(|suffix| PathBuf::from(format!("{}{suffix}", file.display()))));
    let mut handed = Vec::new();
    for path in paths {
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.uid() == 0 && !metadata.file_type().is_symlink() => {
                std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))?;
                handed.push(path);
            }
            _ => {}
        }
    }
    Ok(handed)
}

/// The nearest directory of the SQLite file of `url` that exists now.
pub fn existing_ancestor(url: &str) -> Option<PathBuf> {
    let file = sqlite_file(url)?;
    let file = if file.is_absolute() { file } else { std::env::current_dir().ok()?.join(file) };
    file.ancestors().skip(1).find(|dir| dir.is_dir()).map(Path::to_owned)
}

/// [`probe`] for `/readyz`, its answer kept for `every` so that frequent probes cost
/// one write probe every few seconds.
#[derive(Debug)]
pub struct Probe {
    every: Duration,
    last: Mutex<Option<(Instant, bool)>>,
}

impl Probe {
    pub fn new(every: Duration) -> Probe {
        Probe { every, last: Mutex::new(None) }
    }

    /// Whether the database can be written, as of at most `every` ago.
    pub async fn writable(&self, db: &Db) -> bool {
        if let Some((at, writable)) = *self.last.lock().expect("not poisoned")
            && at.elapsed() < self.every
        {
            return writable;
        }
        let writable = match probe(db).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %crate::redact::text(&error.to_string()), "readyz: the database cannot be written");
                false
            }
        };
        *self.last.lock().expect("not poisoned") = Some((Instant::now(), writable));
        writable
    }
}

#[cfg(test)]
mod tests;
