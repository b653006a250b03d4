//! What forgetting reads and writes in the database: the tombstones, the erasure audit,
//! and the deletion of every row that holds a document. Plain SQL with `$n` placeholders
//! (sqlx numbers them on SQLite too), so both backends share it.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value};

use crate::db::{Db, DbError, Document, documents};
use crate::ids::{DocumentId, JobId, UploaderId};
use crate::stages::ports::Lookup;

/// Every table holding rows of a document, by its `document_id` column, children first:
/// the ONE list to extend when a feature adds a table that names documents (reviews and
/// their comments, the mail outbox, ...). `documents` itself goes last, by `id`.
pub const DOCUMENT_TABLES: &[&str] =
    &["document_events", "artifacts", "submissions", "processed_events", "reviews", "mail_sent"];

/// An erasure's outcome in `erasures.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Requested, not finished: the message is on its way or being retried.
    Pending,
    /// Everything that held the document is gone, the provider's copy included.
    Erased,
    /// Everything docflow holds is gone; the provider refused to erase its copy (a
    /// permanent answer): an operator must take it up with the provider.
    ProviderRefused,
    /// The erasure stopped before the end (its message was dead-lettered).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Erased => "erased",
            Outcome::ProviderRefused => "provider_refused",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Pending, Outcome::Erased, Outcome::ProviderRefused, Outcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        self != Outcome::Pending
    }
}

/// One row of `erasures`.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    pub request_id: String,
    pub document_id: String,
    pub uploader_id: UploaderId,
    pub requested_by: String,
    pub with_upload: bool,
    pub provider: Option<String>,
    /// The provider's job ids of every submission round, recorded before the rows go.
    pub job_ids: Vec<JobId>,
    pub outcome: Outcome,
    pub detail: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn stmt(db: &Db, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.connection().get_database_backend(), sql, values)
}

/// True when the document was forgotten: nothing may record it again.
pub async fn is_forgotten(db: &Db, id: DocumentId) -> Result<bool, DbError> {
    let sql = "SELECT document_id FROM forgotten_documents WHERE document_id = $1";
    Ok(db.connection().query_one_raw(stmt(db, sql, vec![id.to_string().into()])).await?.is_some())
}

/// The document as a late message must see it ([`Lookup`]), in one read: its row with
/// whether it has a tombstone; the tombstone alone only when there is no row.
pub async fn lookup(db: &Db, id: DocumentId) -> Result<Lookup, DbError> {
    use sea_orm::FromQueryResult;
    let sql = "SELECT d.*, EXISTS (SELECT 1 FROM forgotten_documents f WHERE f.document_id = d.id) AS forgotten \
               FROM documents d WHERE d.id = $1";
    match db.connection().query_one_raw(stmt(db, sql, vec![id.to_string().into()])).await? {
        Some(row) if row.try_get::<bool>("", "forgotten")? => Ok(Lookup::Forgotten),
        Some(row) => Ok(Lookup::Found(Box::new(Document::try_from(documents::Model::from_query_result(&row, "")?)?))),
        None if is_forgotten(db, id).await? => Ok(Lookup::Forgotten),
        None => Ok(Lookup::Unknown),
    }
}

/// Writes the tombstone (once; a second call keeps the first time).
pub async fn tombstone(db: &Db, id: DocumentId) -> Result<(), DbError> {
    let sql = "INSERT INTO forgotten_documents (document_id, forgotten_at) VALUES ($1, $2) \
               ON CONFLICT (document_id) DO NOTHING";
    db.connection().execute_raw(stmt(db, sql, vec![id.to_string().into(), now().into()])).await?;
    Ok(())
}

/// Records a request for one document as `pending`; a second call (a redelivery, or the
/// stage after the command) changes nothing.
pub async fn record_request(db: &Db, erasure: &Erasure) -> Result<(), DbError> {
    let sql = "INSERT INTO erasures (request_id, document_id, uploader_id, requested_by, with_upload, provider, \
               job_ids, outcome, detail, requested_at, finished_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL) \
               ON CONFLICT (request_id, document_id) DO NOTHING";
    let values = vec![
        erasure.request_id.clone().into(),
        erasure.document_id.clone().into(),
        erasure.uploader_id.as_str().into(),
        erasure.requested_by.clone().into(),
        erasure.with_upload.into(),
        erasure.provider.clone().into(),
        joined(&erasure.job_ids, ",").into(),
        Outcome::Pending.as_str().into(),
        erasure.detail.clone().into(),
        erasure.requested_at.into(),
    ];
    db.connection().execute_raw(stmt(db, sql, values)).await?;
    Ok(())
}

/// Job ids as one text: `,` between them in `erasures.job_ids`, `, ` in a detail.
pub fn joined(jobs: &[JobId], separator: &str) -> String {
    jobs.iter().map(JobId::as_str).collect::<Vec<_>>().join(separator)
}

/// Notes the provider and its job ids, read from the rows before they go.
pub async fn note_jobs(
    db: &Db,
    request_id: &str,
    id: DocumentId,
    provider: &str,
    jobs: &[JobId],
) -> Result<(), DbError> {
    let sql = "UPDATE erasures SET provider = $3, job_ids = $4 WHERE request_id = $1 AND document_id = $2";
    let values = vec![request_id.into(), id.to_string().into(), provider.into(), joined(jobs, ",").into()];
    db.connection().execute_raw(stmt(db, sql, values)).await?;
    Ok(())
}

/// Notes what was erased so far (a retry after the rows went cannot count them again).
pub async fn note_detail(db: &Db, request_id: &str, id: DocumentId, detail: &str) -> Result<(), DbError> {
    let sql = "UPDATE erasures SET detail = $3 WHERE request_id = $1 AND document_id = $2";
    db.connection().execute_raw(stmt(db, sql, vec![request_id.into(), id.to_string().into(), detail.into()])).await?;
    Ok(())
}

/// Sets the outcome and what was erased.
pub async fn finish(db: &Db, request_id: &str, id: DocumentId, outcome: Outcome, detail: &str) -> Result<(), DbError> {
    let sql =
        "UPDATE erasures SET outcome = $3, detail = $4, finished_at = $5 WHERE request_id = $1 AND document_id = $2";
    let values = vec![request_id.into(), id.to_string().into(), outcome.as_str().into(), detail.into(), now().into()];
    db.connection().execute_raw(stmt(db, sql, values)).await?;
    Ok(())
}

const ERASURE_COLUMNS: &str = "request_id, document_id, uploader_id, requested_by, with_upload, provider, job_ids, \
                               outcome, detail, requested_at, finished_at";

/// The erasures of one request, by document id.
pub async fn erasures(db: &Db, request_id: &str) -> Result<Vec<Erasure>, DbError> {
    let sql = format!("SELECT {ERASURE_COLUMNS} FROM erasures WHERE request_id = $1 ORDER BY document_id");
    let rows = db.connection().query_all_raw(stmt(db, &sql, vec![request_id.into()])).await?;
    rows.iter().map(read_erasure).collect()
}

/// One document's erasure in one request.
pub async fn erasure(db: &Db, request_id: &str, id: DocumentId) -> Result<Option<Erasure>, DbError> {
    let sql = format!("SELECT {ERASURE_COLUMNS} FROM erasures WHERE request_id = $1 AND document_id = $2");
    let row = db.connection().query_one_raw(stmt(db, &sql, vec![request_id.into(), id.to_string().into()])).await?;
    row.as_ref().map(read_erasure).transpose()
}

fn read_erasure(row: &sea_orm::QueryResult) -> Result<Erasure, DbError> {
    let outcome: String = row.try_get("", "outcome")?;
    let job_ids: String = row.try_get("", "job_ids")?;
    Ok(Erasure {
        request_id: row.try_get("", "request_id")?,
        document_id: row.try_get("", "document_id")?,
        uploader_id: row.try_get::<String>("", "uploader_id").map(UploaderId::from)?,
        requested_by: row.try_get("", "requested_by")?,
        with_upload: row.try_get("", "with_upload")?,
        provider: row.try_get("", "provider")?,
        job_ids: job_ids.split(',').filter(|j| !j.is_empty()).map(JobId::from).collect(),
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| DbError::Decode { column: "erasures.outcome", value: outcome })?,
        detail: row.try_get("", "detail")?,
        requested_at: row.try_get("", "requested_at")?,
        finished_at: row.try_get("", "finished_at")?,
    })
}

/// The job ids of every submission round of the document (its submissions, and the
/// current job of the document row).
pub async fn job_ids(db: &Db, id: DocumentId, current: Option<&JobId>) -> Result<Vec<JobId>, DbError> {
    let sql = "SELECT job_id FROM submissions WHERE document_id = $1 AND job_id IS NOT NULL";
    let rows = db.connection().query_all_raw(stmt(db, sql, vec![id.to_string().into()])).await?;
    let mut jobs =
        rows.iter().map(|row| row.try_get::<String>("", "job_id").map(JobId::from)).collect::<Result<Vec<_>, _>>()?;
    jobs.extend(current.cloned());
    jobs.sort();
    jobs.dedup();
    Ok(jobs)
}

/// The ids of an uploader's documents.
pub async fn documents_of(db: &Db, uploader_id: &UploaderId) -> Result<Vec<DocumentId>, DbError> {
    let sql = "SELECT id FROM documents WHERE uploader_id = $1 ORDER BY id";
    let rows = db.connection().query_all_raw(stmt(db, sql, vec![uploader_id.as_str().into()])).await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("", "id")?;
            id.parse().map_err(|_| DbError::Decode { column: "documents.id", value: id })
        })
        .collect()
}

/// Deletes every row of the document in one transaction ([`DOCUMENT_TABLES`], then the
/// document); returns how many rows went. Deleting what is already gone deletes nothing.
pub async fn delete_rows(db: &Db, id: DocumentId) -> Result<u64, DbError> {
    let backend: DbBackend = db.connection().get_database_backend();
    let txn = db.connection().begin().await?;
    let mut deleted = 0;
    for table in DOCUMENT_TABLES {
        let sql = format!("DELETE FROM {table} WHERE document_id = $1");
        let statement = Statement::from_sql_and_values(backend, sql, [id.to_string().into()]);
        deleted += txn.execute_raw(statement).await?.rows_affected();
    }
    let statement =
        Statement::from_sql_and_values(backend, "DELETE FROM documents WHERE id = $1", [id.to_string().into()]);
    deleted += txn.execute_raw(statement).await?.rows_affected();
    txn.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::State;
    use crate::db::testing::{Target, new_document, on_both};
    use crate::stages::StageId;

    /// A lookup sees a tombstone before the rows (a late callback during an erasure is
    /// ignored, not recorded), after them, and tells an unknown document apart.
    async fn a_lookup_tells_found_forgotten_and_unknown_apart(target: Target) {
        let db = &target.db;
        let new = new_document();
        db.record_received(&new, StageId::Transfer, 1, Some(1)).await.unwrap();
        let found = lookup(db, new.id).await.unwrap();
        assert!(matches!(&found, Lookup::Found(d) if d.id == new.id && d.state == State::Received), "{found:?}");
        tombstone(db, new.id).await.unwrap();
        assert!(matches!(lookup(db, new.id).await.unwrap(), Lookup::Forgotten), "a tombstone, the rows still there");
        delete_rows(db, new.id).await.unwrap();
        assert!(matches!(lookup(db, new.id).await.unwrap(), Lookup::Forgotten), "the rows gone");
        let unknown = DocumentId(uuid::Uuid::new_v4());
        assert!(matches!(lookup(db, unknown).await.unwrap(), Lookup::Unknown));
    }

    on_both!(a_lookup_tells_found_forgotten_and_unknown_apart);
}
