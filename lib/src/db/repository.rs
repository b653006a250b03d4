//! Reads, and recording a new document (the transitions are `Db::apply`, in
//! `transition.rs`).
//!
//! Statement budget (the pipeline's cost per document): on PostgreSQL every write is one
//! statement (data-modifying CTEs), the insert of a new document too, and with group
//! commit a stage's writes of the moment share one (`group.rs`): `received -> submitted
//! -> (processed ->) validated -> normalized` costs four writes (`processed` is written
//! with `validated` unless validate has to retry), plus validate's read of the document
//! and one `SELECT` when an upload event is duplicated. On SQLite a write is `BEGIN
//! IMMEDIATE`, the guarded `UPDATE` (or `INSERT`), the timeline `INSERT` and any rows
//! recorded alongside (only when the guard matched), and `COMMIT`.
//!
//! The insert of a new document is plain SQL with `$n` placeholders on SQLite (sqlx's
//! SQLite driver numbers `$n` like PostgreSQL); on PostgreSQL it is built with sea-query,
//! as the transitions, to share their statement.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Select, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

use super::entities::artifacts;
use super::entities::{document_events, documents, submissions};
use super::{ArtifactRow, Db, DbError, Document, NewDocument, State, TimelineEntry, statements};
use crate::ids::{DocumentId, JobId, StageId};

/// A forgotten document (`crate::forget`: its tombstone) is never inserted again; the
/// `WHERE` costs no statement of its own.
const INSERT_DOCUMENT: &str = r#"INSERT INTO documents
    (id, state, kind, uploader_id, bucket, "key", version_id, etag, size, content_type, provider, attempts, created_at, updated_at, submission_round, round_origin)
    SELECT $1, 'received', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 0, $15
    WHERE NOT EXISTS (SELECT 1 FROM forgotten_documents WHERE document_id = $1)
    ON CONFLICT (id) DO NOTHING"#;

const INSERT_RECEIVED_EVENT: &str = "INSERT INTO document_events (document_id, at, state, stage, attempt, reason) \
    VALUES ($1, $12, 'received', $13, $14, NULL)";

impl Db {
    /// Inserts the document in state `received` with a timeline entry, if absent
    /// (`INSERT ... ON CONFLICT DO NOTHING`, race-safe when two workers get the same
    /// event), noting `origin` (the uploads stream sequence of the message that recorded
    /// it) as the message that started round 0. Returns the current row and whether it
    /// was inserted.
    pub async fn record_received(
        &self,
        doc: &NewDocument,
        stage: StageId,
        attempt: u32,
        origin: Option<u64>,
    ) -> Result<(Document, bool), DbError> {
        let now = now();
        let attempts = serde_json::json!({ stage.as_str(): clamp(attempt) });
        let inserted = match self.backend() {
            DbBackend::Postgres => {
                // As a transition's write: with group commit, one statement with the
                // stage's other writes of the moment.
                let write = super::transition::received(doc, stage, attempt, origin, now, attempts.clone())?;
                let row = match &self.group {
                    Some(group) => group.apply(stage, doc.id, write).await?,
                    None => self.write(vec![(doc.id, write)]).await?.pop().flatten(),
                };
                row.is_some()
            }
            backend => {
                let values: Vec<Value> = vec![
                    doc.id.to_string().into(),
                    doc.kind.as_str().into(),
                    doc.uploader_id.as_str().into(),
                    doc.bucket.as_str().into(),
                    doc.key.as_str().into(),
                    doc.version_id.clone().into(),
                    doc.etag.clone().into(),
                    doc.size.into(),
                    doc.content_type.as_str().into(),
                    doc.provider.as_str().into(),
                    attempts.clone().into(),
                    now.into(),
                    stage.as_str().into(),
                    clamp(attempt).into(),
                    origin.and_then(|o| i64::try_from(o).ok()).into(),
                ];
                let txn = self.begin_write().await?;
                let inserted = txn.execute_raw(stmt(backend, INSERT_DOCUMENT, &values)).await?.rows_affected() == 1;
                if inserted {
                    txn.execute_raw(stmt(backend, INSERT_RECEIVED_EVENT, &values)).await?;
                }
                txn.commit().await?;
                inserted
            }
        };
        if !inserted {
            let current =
                self.get(doc.id).await?.ok_or_else(|| DbError::decode("documents.id", &doc.id.to_string()))?;
            return Ok((current, false));
        }
        self.observe(|| super::StatusChange {
            id: doc.id,
            state: State::Received,
            at: now,
            uploader: doc.uploader_id.clone(),
            kind: doc.kind,
            key: doc.key.clone(),
        });
        let document = Document {
            id: doc.id,
            state: State::Received,
            kind: doc.kind,
            uploader_id: doc.uploader_id.clone(),
            bucket: doc.bucket.clone(),
            key: doc.key.clone(),
            version_id: doc.version_id.clone(),
            etag: doc.etag.clone(),
            size: doc.size,
            content_type: doc.content_type.clone(),
            provider: doc.provider.clone(),
            provider_job_id: None,
            submission_id: None,
            error_stage: None,
            error_reason: None,
            failure_cause: None,
            attempts,
            normalized: None,
            submission_round: 0,
            round_origin: origin,
            created_at: now,
            updated_at: now,
        };
        Ok((document, true))
    }

    pub async fn get(&self, id: DocumentId) -> Result<Option<Document>, DbError> {
        let row = documents::Entity::find_by_id(id.to_string()).one(&self.conn).await?;
        row.map(Document::try_from).transpose()
    }

    /// The most recent document of an object key (a re-upload under the same key is a
    /// new document).
    pub async fn find_latest_by_key(&self, bucket: &str, key: &str) -> Result<Option<Document>, DbError> {
        let row = documents::Entity::find()
            .filter(documents::Column::Bucket.eq(bucket))
            .filter(documents::Column::Key.eq(key))
            .order_by_desc(documents::Column::CreatedAt)
            .order_by_desc(documents::Column::Id)
            .one(&self.conn)
            .await?;
        row.map(Document::try_from).transpose()
    }

    /// The document's transitions, oldest first.
    pub async fn timeline(&self, id: DocumentId) -> Result<Vec<TimelineEntry>, DbError> {
        let query = document_events::Entity::find()
            .filter(document_events::Column::DocumentId.eq(id.to_string()))
            .order_by_asc(document_events::Column::Id);
        self.all(query).await
    }

    /// The submission id under which `job_id` was recorded for the document, if it was.
    pub async fn submission_of_job(&self, id: DocumentId, job_id: &JobId) -> Result<Option<String>, DbError> {
        let row = submissions::Entity::find()
            .filter(submissions::Column::DocumentId.eq(id.to_string()))
            .filter(submissions::Column::JobId.eq(job_id.as_str()))
            .one(&self.conn)
            .await?;
        Ok(row.map(|row| row.id))
    }

    /// Documents in one of `states` last changed at or after `since`, oldest change first
    /// (`docflow retry --state`).
    pub async fn in_states_since(
        &self,
        states: &[State],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Document>, DbError> {
        let mut query =
            documents::Entity::find().filter(documents::Column::State.is_in(states.iter().map(State::as_str)));
        if let Some(since) = since {
            query = query.filter(documents::Column::UpdatedAt.gte(since));
        }
        self.all(query.order_by_asc(documents::Column::UpdatedAt).order_by_asc(documents::Column::Id)).await
    }

    /// Every row `query` selects, each read into a `T`.
    async fn all<E, T>(&self, query: Select<E>) -> Result<Vec<T>, DbError>
    where
        E: EntityTrait,
        T: TryFrom<E::Model, Error = DbError>,
    {
        query.all(&self.conn).await?.into_iter().map(T::try_from).collect()
    }

    /// The document's artifacts, by role and name.
    pub async fn artifacts(&self, id: DocumentId) -> Result<Vec<ArtifactRow>, DbError> {
        let rows = artifacts::Entity::find()
            .filter(artifacts::Column::DocumentId.eq(id.to_string()))
            .order_by_asc(artifacts::Column::Role)
            .order_by_asc(artifacts::Column::Name)
            .all(&self.conn)
            .await?;
        rows.into_iter().map(ArtifactRow::try_from).collect()
    }

    pub async fn count_documents(&self) -> Result<u64, DbError> {
        Ok(documents::Entity::find().count(&self.conn).await?)
    }

    /// A SQLite write transaction that takes the write lock up front, so two writers
    /// wait on `busy_timeout` instead of failing to upgrade a read lock.
    pub(super) async fn begin_write(&self) -> Result<DatabaseTransaction, DbError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = self.conn.begin_with_options(options).await?;
        statements::transaction();
        Ok(txn)
    }
}

/// Timestamps at the databases' precision (microseconds), so a row read back equals
/// the one written.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(super) fn clamp(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

pub(super) fn stmt(backend: DbBackend, sql: &str, values: &[Value]) -> Statement {
    Statement::from_sql_and_values(backend, sql, values.iter().cloned())
}
