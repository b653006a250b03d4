//! `Db::apply`: one guarded write per transition, built with sea-query.
//!
//! `UPDATE documents ... WHERE id = ? AND state IN (from) [AND the round or origin guard]
//! RETURNING ...` decides; the timeline entry and whatever the transition records besides
//! (submission, artifacts, event id) are inserts that select their document id from the
//! updated row, so they write nothing when it matched none. On PostgreSQL all of it is one
//! statement: the update is a data-modifying CTE (`m_<document id>`) the inserts select
//! from. SQLite has no data-modifying CTEs: one `BEGIN IMMEDIATE` transaction runs the
//! update and, only when it returned a row, the same inserts selecting from that row of
//! `documents`. With group commit (`group.rs`) the stage's transitions of the moment share
//! one transaction: on PostgreSQL their CTEs make one statement.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, InsertStatement, OnConflict, Order, Query, SelectStatement,
    UpdateStatement, Value, ValueTuple,
};
use sea_orm::{DbBackend, DbErr, QueryResult};

use super::entities::{artifacts, document_events, documents, processed_events, submissions};
use super::group::Prepared;
use super::repository::{clamp, now};
use super::{Db, DbError, State, StatusChange};
use crate::ids::{DocumentId, UploaderId};
use crate::lifecycle::{By, Guard, Transition};

/// The rows of a `VALUES` list (columns `column1`, `column2`, ...).
const ROWS: &str = "v";

/// What the guarded update returns for the observer (the rest it knows already); the id
/// tells a shared statement's moved rows apart.
pub(super) const RETURNED: [documents::Column; 4] =
    [documents::Column::Id, documents::Column::UploaderId, documents::Column::Kind, documents::Column::Key];

/// Where the inserts read the moved document's id from.
#[derive(Clone, Copy)]
enum Source {
    /// PostgreSQL: the CTE of the document's update ([`moved`]).
    Moved(DocumentId),
    /// SQLite, in the transaction, after the update matched: the document's row.
    Row(DocumentId),
}

/// The name of the CTE that updates document `id`: unique in a statement that writes
/// distinct documents. Every CTE of a write is named after its document's id in this
/// simple form, which `group.rs` turns into the write's position in the statement.
pub(super) fn moved(id: DocumentId) -> Alias {
    Alias::new(format!("m_{}", id.0.simple()))
}

/// A named CTE of `query` (built in place: a builder's `to_owned` would copy the query).
fn cte(query: impl Into<sea_orm::sea_query::SubQueryStatement>, name: Alias) -> CommonTableExpression {
    let mut cte = CommonTableExpression::new();
    cte.query(query).table_name(name);
    cte
}

impl Source {
    fn id(self) -> Expr {
        match self {
            Source::Moved(id) => Expr::col((moved(id), documents::Column::Id)),
            Source::Row(_) => Expr::col((documents::Entity, documents::Column::Id)),
        }
    }

    /// `SELECT <exprs> FROM <source>`.
    fn select(self, exprs: impl IntoIterator<Item = Expr>) -> SelectStatement {
        let mut select = Query::select();
        select.exprs(exprs);
        match self {
            Source::Moved(id) => select.from(moved(id)),
            // The `WHERE` also keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
            Source::Row(id) => select
                .from(documents::Entity)
                .and_where(Expr::col((documents::Entity, documents::Column::Id)).eq(id.to_string())),
        };
        select
    }
}

/// One transition about to be written.
struct Write<'a> {
    id: DocumentId,
    transition: Transition<'a>,
    by: By,
    at: DateTime<Utc>,
    backend: DbBackend,
}

impl Db {
    /// Applies `transition` to the document, as `by` (the stage and its attempt): moves it
    /// when its state is one of the transition's from-states and the transition's guard
    /// holds, with the timeline entry and what the transition records. `Ok(false)` when it
    /// did not match (or the document does not exist): nothing changed.
    pub async fn apply(&self, id: DocumentId, transition: Transition<'_>, by: By) -> Result<bool, DbError> {
        if transition.from_states().is_empty() {
            return Ok(false);
        }
        let write = Write { id, transition, by, at: now(), backend: self.backend() };
        let update = write.update()?;
        let backend = write.backend;
        let prepared = if backend == DbBackend::Postgres {
            let name = moved(id);
            let mut ctes = vec![cte(update, name)];
            for (n, insert) in write.inserts(Source::Moved(id))?.into_iter().enumerate() {
                ctes.push(cte(insert, Alias::new(format!("i{n}_{}", id.0.simple()))));
            }
            Prepared::Ctes(ctes)
        } else {
            let inserts = write.inserts(Source::Row(id))?;
            Prepared::Statements {
                first: backend.build(&update),
                then: inserts.iter().map(|i| backend.build(i)).collect(),
            }
        };
        let moved = if let Some(group) = &self.group {
            group.apply(by.stage, id, prepared).await?
        } else {
            self.write(vec![(id, prepared)]).await?.pop().flatten()
        };
        self.observe_moved(&write, moved.as_ref());
        Ok(moved.is_some())
    }

    /// Tells the observer of the states a matched transition recorded (`processed` first
    /// when the write recorded it too); nothing when it matched no row.
    fn observe_moved(&self, write: &Write<'_>, row: Option<&QueryResult>) {
        let Some(row) = row else { return };
        if self.observer.is_none() {
            return;
        }
        let fields = (
            row.try_get::<String>("", "uploader_id").map(UploaderId::from),
            row.try_get::<String>("", "kind"),
            row.try_get::<String>("", "key"),
        );
        let (Ok(uploader), Ok(kind), Ok(key)) = fields else {
            tracing::warn!(id = %write.id, "the transition's row came back without its uploader, kind or key; not observed");
            return;
        };
        let Ok(kind) = kind.parse() else { return };
        let (id, at) = (write.id, write.at);
        let change = |state| StatusChange { id, state, at, uploader: uploader.clone(), kind, key: key.clone() };
        if write.transition.processed_first() {
            self.observe(|| change(State::Processed));
        }
        self.observe(|| change(write.transition.to()));
    }
}

impl Write<'_> {
    /// The guarded update: state, attempts, error and cause, what the transition sets on
    /// the document, and its guard.
    fn update(&self) -> Result<UpdateStatement, DbError> {
        use documents::Column as C;
        let (to, stage) = (self.transition.to(), self.by.stage.as_str());
        let failure = to.is_failure();
        let attempt = clamp(self.by.attempt);
        // `{stage: attempt}` merged into the JSON object (stage names come from `StageId`).
        let attempts = match self.backend {
            DbBackend::Postgres => Expr::cust_with_values(
                "attempts || jsonb_build_object($1::text, $2::int)",
                [Value::from(stage), Value::from(attempt)],
            ),
            _ => Expr::cust_with_values(
                "json_set(attempts, ?, ?)",
                [Value::from(format!("$.\"{stage}\"")), Value::from(attempt)],
            ),
        };
        let mut update = Query::update();
        update
            .table(documents::Entity)
            .value(C::State, to.as_str())
            .value(C::UpdatedAt, self.at)
            .value(C::Attempts, attempts)
            .value(C::ErrorStage, failure.then(|| stage.to_owned()))
            .value(C::ErrorReason, self.transition.reason().filter(|_| failure).map(str::to_owned))
            .value(C::FailureCause, self.transition.cause().filter(|_| failure).map(|c| c.as_str().to_owned()))
            .and_where(Expr::col(C::Id).eq(self.id.to_string()))
            .and_where(Expr::col(C::State).is_in(self.transition.from_states().iter().map(State::as_str)));
        match self.transition {
            Transition::Submit { submission_id, job_id, .. } => {
                update.value(C::SubmissionId, submission_id).value(C::ProviderJobId, job_id.as_str());
            }
            Transition::Restarted { origin, .. } => {
                update
                    .value(C::SubmissionRound, Expr::col(C::SubmissionRound).add(1))
                    .value(C::RoundOrigin, origin_of(origin))
                    .value(C::SubmissionId, Option::<String>::None)
                    .value(C::ProviderJobId, Option::<String>::None);
            }
            Transition::Normalized { json } => {
                // Bound as text; PostgreSQL casts it to its `jsonb`.
                let value = match self.backend {
                    DbBackend::Postgres => Expr::val(json).cast_as(Alias::new("jsonb")),
                    _ => Expr::val(json),
                };
                update.value(C::Normalized, value);
            }
            Transition::Processed
            | Transition::Validated { .. }
            | Transition::Failed { .. }
            | Transition::Rejected { .. } => {}
        }
        match self.transition.guard() {
            Guard::None => {}
            Guard::Round(round) => {
                update.and_where(Expr::col(C::SubmissionRound).eq(clamp(round)));
            }
            Guard::NotOrigin(origin) => {
                let origin = origin_of(origin);
                update.and_where(Expr::col(C::RoundOrigin).is_null().or(Expr::col(C::RoundOrigin).ne(origin)));
            }
        }
        update.returning(Query::returning().columns(RETURNED));
        Ok(update)
    }

    /// The rows the transition records besides the document, each an insert selecting the
    /// moved document's id from `source`: the timeline entry (after a `processed` one for
    /// `validated` from `submitted`), and the submission, the callback's event id and the
    /// artifacts.
    fn inserts(&self, source: Source) -> Result<Vec<InsertStatement>, DbError> {
        let mut inserts = vec![self.timeline(source)?];
        match self.transition {
            Transition::Submit { provider, submission_id, job_id, .. } => {
                use submissions::Column as C;
                let mut insert = Query::insert();
                insert
                    .into_table(submissions::Entity)
                    .columns([C::Id, C::DocumentId, C::Provider, C::JobId, C::Status, C::CreatedAt, C::UpdatedAt])
                    .select_from(source.select([
                        Expr::val(submission_id),
                        source.id(),
                        Expr::val(provider),
                        Expr::val(job_id.as_str()),
                        Expr::val("submitted"),
                        Expr::val(self.at),
                        Expr::val(self.at),
                    ]))
                    .map_err(query_error)?
                    .on_conflict(
                        OnConflict::column(C::Id).update_columns([C::JobId, C::Status, C::UpdatedAt]).to_owned(),
                    );
                inserts.push(insert);
            }
            Transition::Validated { event_id, artifacts, .. } => {
                use processed_events::Column as C;
                let mut seen = Query::insert();
                seen.into_table(processed_events::Entity)
                    .columns([C::EventId, C::DocumentId, C::At])
                    .select_from(source.select([Expr::val(event_id), source.id(), Expr::val(self.at)]))
                    .map_err(query_error)?
                    .on_conflict(OnConflict::column(C::EventId).do_nothing().to_owned());
                inserts.push(seen);
                if !artifacts.is_empty() {
                    inserts.push(self.artifacts(source, artifacts)?);
                }
            }
            _ => {}
        }
        Ok(inserts)
    }

    /// The timeline entry (ids follow the insert order, which `ORDER BY` fixes when
    /// `processed` comes first).
    fn timeline(&self, source: Source) -> Result<InsertStatement, DbError> {
        use document_events::Column as C;
        let reason = Expr::val(self.transition.reason().map(str::to_owned));
        let (stage, attempt) = (Expr::val(self.by.stage.as_str()), Expr::val(clamp(self.by.attempt)));
        let to = self.transition.to().as_str();
        let select = if self.transition.processed_first() {
            let mut select = source.select([
                source.id(),
                Expr::val(self.at),
                Expr::col((Alias::new(ROWS), Alias::new("column2"))),
                stage,
                attempt,
                reason,
            ]);
            let rows = [(1, State::Processed.as_str()), (2, to)];
            select.from_values(rows, Alias::new(ROWS)).order_by((Alias::new(ROWS), Alias::new("column1")), Order::Asc);
            select
        } else {
            source.select([source.id(), Expr::val(self.at), Expr::val(to), stage, attempt, reason])
        };
        let mut insert = Query::insert();
        insert
            .into_table(document_events::Entity)
            .columns([C::DocumentId, C::At, C::State, C::Stage, C::Attempt, C::Reason])
            .select_from(select)
            .map_err(query_error)?;
        Ok(insert)
    }

    /// The checked artifacts, replacing rows of the same role and name.
    fn artifacts(&self, source: Source, rows: &[crate::db::ArtifactRow]) -> Result<InsertStatement, DbError> {
        use artifacts::Column as C;
        let values = rows.iter().map(|a| {
            ValueTuple::Many(vec![
                a.role.as_str().into(),
                a.name.as_str().into(),
                a.key.as_str().into(),
                a.size.into(),
                a.sha256.as_str().into(),
                a.content_type.as_str().into(),
            ])
        });
        let column = |n: usize| Expr::col((Alias::new(ROWS), Alias::new(format!("column{n}"))));
        let mut select = source.select(std::iter::once(source.id()).chain((1..=6).map(column)));
        select.from_values(values, Alias::new(ROWS));
        let mut insert = Query::insert();
        insert
            .into_table(artifacts::Entity)
            .columns([C::DocumentId, C::Role, C::Name, C::Key, C::Size, C::Sha256, C::ContentType])
            .select_from(select)
            .map_err(query_error)?
            .on_conflict(
                OnConflict::columns([C::DocumentId, C::Role, C::Name])
                    .update_columns([C::Key, C::Size, C::Sha256, C::ContentType])
                    .to_owned(),
            );
        Ok(insert)
    }
}

/// A new document's insert as a write of the group (PostgreSQL): the document in state
/// `received` unless it exists or was forgotten (its tombstone), named by [`moved`] and
/// returning [`RETURNED`] only when inserted, and its timeline entry selecting from it.
pub(super) fn received(
    doc: &crate::db::NewDocument,
    stage: crate::ids::StageId,
    attempt: u32,
    origin: Option<u64>,
    at: DateTime<Utc>,
    attempts: serde_json::Value,
) -> Result<Prepared, DbError> {
    use documents::Column as C;
    let (id, attempt) = (doc.id, clamp(attempt));
    let forgotten = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new("forgotten_documents"))
        .and_where(Expr::col(Alias::new("document_id")).eq(id.to_string()))
        .to_owned();
    let mut row = Query::select();
    row.exprs([
        Expr::val(id.to_string()),
        Expr::val(State::Received.as_str()),
        Expr::val(doc.kind.as_str()),
        Expr::val(doc.uploader_id.as_str()),
        Expr::val(doc.bucket.as_str()),
        Expr::val(doc.key.as_str()),
        Expr::val(doc.version_id.clone()),
        Expr::val(doc.etag.clone()),
        Expr::val(doc.size),
        Expr::val(doc.content_type.as_str()),
        Expr::val(doc.provider.as_str()),
        Expr::val(attempts),
        Expr::val(at),
        Expr::val(at),
        Expr::val(0),
        Expr::val(origin.map(origin_of)),
    ])
    .and_where(Expr::exists(forgotten).not());
    let mut insert = Query::insert();
    insert
        .into_table(documents::Entity)
        .columns([
            C::Id,
            C::State,
            C::Kind,
            C::UploaderId,
            C::Bucket,
            C::Key,
            C::VersionId,
            C::Etag,
            C::Size,
            C::ContentType,
            C::Provider,
            C::Attempts,
            C::CreatedAt,
            C::UpdatedAt,
            C::SubmissionRound,
            C::RoundOrigin,
        ])
        .select_from(row)
        .map_err(query_error)?
        .on_conflict(OnConflict::column(C::Id).do_nothing().to_owned())
        .returning(Query::returning().columns(RETURNED));
    let source = Source::Moved(id);
    let timeline = {
        use document_events::Column as E;
        let mut timeline = Query::insert();
        timeline
            .into_table(document_events::Entity)
            .columns([E::DocumentId, E::At, E::State, E::Stage, E::Attempt, E::Reason])
            .select_from(source.select([
                source.id(),
                Expr::val(at),
                Expr::val(State::Received.as_str()),
                Expr::val(stage.as_str()),
                Expr::val(attempt),
                Expr::val(Option::<String>::None),
            ]))
            .map_err(query_error)?;
        timeline
    };
    Ok(Prepared::Ctes(vec![cte(insert, moved(id)), cte(timeline, Alias::new(format!("r_{}", id.0.simple())))]))
}

fn origin_of(origin: u64) -> i64 {
    i64::try_from(origin).unwrap_or(i64::MAX)
}

/// A statement sea-query refused to build (a column count that does not match): a bug.
fn query_error(error: sea_orm::sea_query::error::Error) -> DbError {
    DbErr::Custom(format!("building a transition's statement: {error}")).into()
}
