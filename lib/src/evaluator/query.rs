//! The sorted, tabbed listing and its counts, on PostgreSQL and SQLite.
//!
//! Orders that are not a column (the shown file name, the pipeline order of states, the
//! number of findings) are SQL expressions, written once per backend; the keyset
//! condition compares the same expression, so paging never scans an OFFSET. The
//! expression orders have no index: at a school's scale (thousands of documents) the
//! planner sorts the filtered rows, which the 1,000-document test measures.

use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use super::sort::{Direction, Position, Sort, SortKey};
use crate::db::{Db, DbError, Document, ListFilter, State, documents, filter_condition};
use crate::ids::UploaderId;

/// Which of the evaluator's queues; `None` in a request means all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    ToReview,
    InProgress,
    NeedsAttention,
    Reviewed,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::ToReview, Tab::InProgress, Tab::NeedsAttention, Tab::Reviewed];

    pub fn as_str(self) -> &'static str {
        match self {
            Tab::ToReview => "to_review",
            Tab::InProgress => "in_progress",
            Tab::NeedsAttention => "needs_attention",
            Tab::Reviewed => "reviewed",
        }
    }

    pub fn parse(text: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.as_str() == text)
    }

    pub fn words(self) -> &'static str {
        match self {
            Tab::ToReview => "To review",
            Tab::InProgress => "In progress",
            Tab::NeedsAttention => "Needs attention",
            Tab::Reviewed => "Reviewed",
        }
    }
}

/// A list request past its parsing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub filter: ListFilter,
    pub tab: Option<Tab>,
    pub sort: Sort,
    pub direction: Direction,
    pub limit: u64,
    pub position: Option<Position>,
}

/// One page and the cursors around it.
#[derive(Debug)]
pub struct Listed {
    pub documents: Vec<Document>,
    pub next: Option<Position>,
    pub prev: Option<Position>,
}

/// Documents per tab for a filter (`all` is their sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub all: u64,
    pub to_review: u64,
    pub in_progress: u64,
    pub needs_attention: u64,
    pub reviewed: u64,
}

impl Counts {
    pub fn of(&self, tab: Option<Tab>) -> u64 {
        match tab {
            None => self.all,
            Some(Tab::ToReview) => self.to_review,
            Some(Tab::InProgress) => self.in_progress,
            Some(Tab::NeedsAttention) => self.needs_attention,
            Some(Tab::Reviewed) => self.reviewed,
        }
    }
}

const REVIEWED: &str = "EXISTS (SELECT 1 FROM reviews WHERE reviews.document_id = documents.id)";
const IN_FLIGHT: [State; 4] = [State::Received, State::Submitted, State::Processed, State::Validated];

fn tab_condition(tab: Tab) -> Condition {
    let states = |states: &[State]| documents::Column::State.is_in(states.iter().map(|s| s.as_str()));
    match tab {
        Tab::ToReview => Condition::all()
            .add(documents::Column::State.eq(State::Normalized.as_str()))
            .add(Expr::cust(REVIEWED).not()),
        Tab::InProgress => Condition::all().add(states(&IN_FLIGHT)),
        Tab::NeedsAttention => Condition::all().add(states(&[State::Failed, State::Rejected])),
        Tab::Reviewed => Condition::all().add(Expr::cust(REVIEWED)),
    }
}

/// The SQL of a sort that is not a plain column.
fn expression(sort: Sort, backend: DbBackend) -> SimpleExpr {
    match (sort, backend) {
        (Sort::CreatedAt, _) => Expr::col((documents::Entity, documents::Column::CreatedAt)),
        (Sort::UpdatedAt, _) => Expr::col((documents::Entity, documents::Column::UpdatedAt)),
        (Sort::Uploader, _) => Expr::col((documents::Entity, documents::Column::UploaderId)),
        (Sort::State, _) => {
            let arms: String =
                State::ALL.iter().enumerate().map(|(i, s)| format!(" WHEN '{}' THEN {i}", s.as_str())).collect();
            Expr::cust(format!("CAST((CASE documents.state{arms} ELSE 99 END) AS BIGINT)"))
        }
        // The key's last segment without a leading `{uuid}-` (review::names::display_name).
        (Sort::Name, DbBackend::Postgres) => Expr::cust(
            "lower(regexp_replace(documents.key, '^.*/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}-)?', ''))",
        ),
        (Sort::Name, _) => {
            // SQLite has no regexp: rtrim strips every character that is not `/` from
            // the end, leaving the folders, whose length gives the last segment.
            let last = "substr(documents.key, length(rtrim(documents.key, replace(documents.key, '/', ''))) + 1)";
            let dashes: String =
                [9, 14, 19, 24, 37].iter().map(|i| format!(" AND substr({last}, {i}, 1) = '-'")).collect();
            Expr::cust(format!("lower(CASE WHEN length({last}) > 37{dashes} THEN substr({last}, 38) ELSE {last} END)"))
        }
        (Sort::Findings, DbBackend::Postgres) => Expr::cust(
            "CAST((CASE WHEN jsonb_typeof(documents.normalized -> 'findings') = 'array' \
             THEN jsonb_array_length(documents.normalized -> 'findings') ELSE -1 END) AS BIGINT)",
        ),
        (Sort::Findings, _) => Expr::cust(
            "CAST((CASE WHEN json_type(documents.normalized, '$.findings') = 'array' \
             THEN json_array_length(documents.normalized, '$.findings') ELSE -1 END) AS BIGINT)",
        ),
    }
}

/// The sort key of `document`, for a cursor. An expression's value is read back from
/// the database rather than recomputed here, so that a cursor compares exactly as the
/// database orders (its `lower()`, its JSON functions).
async fn key_of(db: &Db, sort: Sort, document: &Document) -> Result<SortKey, DbError> {
    Ok(match sort {
        Sort::CreatedAt => SortKey::Time(document.created_at),
        Sort::UpdatedAt => SortKey::Time(document.updated_at),
        Sort::Uploader => SortKey::Text(document.uploader_id.to_string()),
        Sort::Name => SortKey::Text(computed::<String>(db, sort, document).await?),
        Sort::State | Sort::Findings => SortKey::Number(computed::<i64>(db, sort, document).await?),
    })
}

async fn computed<T: sea_orm::TryGetableMany>(db: &Db, sort: Sort, document: &Document) -> Result<T, DbError> {
    let backend = db.connection().get_database_backend();
    documents::Entity::find_by_id(document.id.to_string())
        .select_only()
        .column_as(expression(sort, backend), "k")
        .into_tuple::<T>()
        .one(db.connection())
        .await?
        .ok_or_else(|| DbError::decode("documents.id", &document.id.to_string()))
}

/// Rows strictly past `position` in its order (`(e, id) > (k, i)` ascending), spelled so
/// that `e >= k` bounds an index range where one exists.
fn past(position: &Position, backend: DbBackend) -> Condition {
    let e = expression(position.sort, backend);
    let ascending = (position.direction == Direction::Asc) != position.backward;
    let value: sea_orm::Value = match &position.key {
        SortKey::Time(at) => (*at).into(),
        SortKey::Number(n) => (*n).into(),
        SortKey::Text(text) => text.clone().into(),
    };
    let id = position.id.to_string();
    let id_col = Expr::col((documents::Entity, documents::Column::Id));
    if ascending {
        Condition::all().add(e.clone().gte(value.clone())).add(Condition::any().add(e.gt(value)).add(id_col.gt(id)))
    } else {
        Condition::all().add(e.clone().lte(value.clone())).add(Condition::any().add(e.lt(value)).add(id_col.lt(id)))
    }
}

fn selected(listing: &Listing) -> Condition {
    let mut condition = filter_condition(&listing.filter);
    if let Some(tab) = listing.tab {
        condition = condition.add(tab_condition(tab));
    }
    condition
}

/// One page of `listing`, with the cursors of the pages before and after it.
pub async fn page(db: &Db, listing: &Listing) -> Result<Listed, DbError> {
    let backend = db.connection().get_database_backend();
    let limit = std::cmp::max(listing.limit, 1);
    let (sort, direction) = match &listing.position {
        Some(p) => (p.sort, p.direction),
        None => (listing.sort, listing.direction),
    };
    let backward = listing.position.as_ref().is_some_and(|p| p.backward);
    let mut condition = selected(listing);
    if let Some(position) = &listing.position {
        condition = condition.add(past(position, backend));
    }
    let ascending = (direction == Direction::Asc) != backward;
    let order = if ascending { Order::Asc } else { Order::Desc };
    let rows = documents::Entity::find()
        .filter(condition)
        .order_by(expression(sort, backend), order.clone())
        .order_by(documents::Column::Id, order)
        .limit(limit.saturating_add(1))
        .all(db.connection())
        .await?;
    let more = rows.len() as u64 > limit;
    let mut documents = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(Document::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    if backward {
        documents.reverse();
    }
    // Going forward there is a previous page when this one was reached by a cursor;
    // going backward there is a next page (the one we came from).
    let (next_row, prev_row) = if backward {
        (documents.last(), if more { documents.first() } else { None })
    } else {
        (if more { documents.last() } else { None }, listing.position.as_ref().and(documents.first()))
    };
    let mut next = None;
    if let Some(row) = next_row {
        next = Some(Position { sort, direction, backward: false, key: key_of(db, sort, row).await?, id: row.id });
    }
    let mut prev = None;
    if let Some(row) = prev_row {
        prev = Some(Position { sort, direction, backward: true, key: key_of(db, sort, row).await?, id: row.id });
    }
    Ok(Listed { documents, next, prev })
}

/// Documents per tab among those `filter` selects (tab and paging aside).
pub async fn counts(db: &Db, filter: &ListFilter) -> Result<Counts, DbError> {
    let per_state: Vec<(String, i64)> = documents::Entity::find()
        .select_only()
        .column(documents::Column::State)
        .column_as(documents::Column::Id.count(), "n")
        .filter(filter_condition(filter))
        .group_by(documents::Column::State)
        .into_tuple()
        .all(db.connection())
        .await?;
    let reviewed = documents::Entity::find()
        .filter(filter_condition(filter).add(Expr::cust(REVIEWED)))
        .count(db.connection())
        .await?;
    let mut counts = Counts { reviewed, ..Counts::default() };
    for (state, n) in per_state {
        let n = std::cmp::max(n, 0) as u64;
        counts.all += n;
        match state.parse::<State>() {
            Ok(State::Normalized) => counts.to_review += n,
            Ok(State::Failed | State::Rejected) => counts.needs_attention += n,
            _ => counts.in_progress += n,
        }
    }
    // Only normalized documents are reviewed (review::add).
    counts.to_review = counts.to_review.saturating_sub(reviewed);
    Ok(counts)
}

/// Uploaders whose id starts with `prefix`, alphabetically, with their number of
/// documents: the list's uploader picker.
pub async fn uploaders(db: &Db, prefix: &str, limit: u64) -> Result<Vec<(UploaderId, u64)>, DbError> {
    let mut query = documents::Entity::find()
        .select_only()
        .column(documents::Column::UploaderId)
        .column_as(documents::Column::Id.count(), "n")
        .group_by(documents::Column::UploaderId)
        .order_by_asc(documents::Column::UploaderId)
        .limit(limit);
    if !prefix.is_empty() {
        // `!` escapes, as in the key filter.
        let escaped = prefix.replace('!', "!!").replace('%', "!%").replace('_', "!_");
        let column = Expr::col((documents::Entity, documents::Column::UploaderId));
        query = query.filter(column.like(sea_orm::sea_query::LikeExpr::new(format!("{escaped}%")).escape('!')));
    }
    let rows: Vec<(String, i64)> = query.into_tuple().all(db.connection()).await?;
    Ok(rows.into_iter().map(|(id, n)| (UploaderId::from(id), std::cmp::max(n, 0) as u64)).collect())
}
