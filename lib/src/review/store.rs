//! Reviews in the database, through SeaORM, and the versions of an upload.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{NewReview, Review, ReviewError, Verdict, entity, names};
use crate::db::{Db, DbError, State, documents};
use crate::ids::{DocumentId, UploaderId};

/// Records `review` of a `normalized` document; the stored review.
pub async fn add(db: &Db, review: NewReview) -> Result<Review, ReviewError> {
    let review = review.checked()?;
    let document = db.get(review.document_id).await?.ok_or(ReviewError::NoDocument)?;
    if document.state != State::Normalized {
        return Err(ReviewError::NotReady { state: document.state.as_str() });
    }
    let row = entity::ActiveModel {
        document_id: Set(review.document_id.to_string()),
        reviewer: Set(review.reviewer),
        principal: Set(review.principal),
        verdict: Set(review.verdict.as_str().to_owned()),
        comment: Set(review.comment),
        at: Set(Utc::now()),
        ..Default::default()
    };
    let inserted = entity::Entity::insert(row).exec_with_returning(db.connection()).await.map_err(DbError::from)?;
    Ok(from_row(inserted)?)
}

/// Every review of document `id`, oldest first.
pub async fn of_document(db: &Db, id: DocumentId) -> Result<Vec<Review>, DbError> {
    let rows = entity::Entity::find()
        .filter(entity::Column::DocumentId.eq(id.to_string()))
        .order_by_asc(entity::Column::Id)
        .all(db.connection())
        .await?;
    rows.into_iter().map(from_row).collect()
}

/// The latest review of each of `ids` that has one (a list page's, one query).
pub async fn latest_for(db: &Db, ids: &[DocumentId]) -> Result<HashMap<DocumentId, Review>, DbError> {
    let mut latest = HashMap::new();
    if ids.is_empty() {
        return Ok(latest);
    }
    let rows = entity::Entity::find()
        .filter(entity::Column::DocumentId.is_in(ids.iter().map(ToString::to_string)))
        .order_by_asc(entity::Column::Id)
        .all(db.connection())
        .await?;
    for row in rows {
        let review = from_row(row)?;
        latest.insert(review.document_id, review);
    }
    Ok(latest)
}

/// One upload of a file, among its versions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    pub id: DocumentId,
    /// 1 for the first upload.
    pub number: usize,
    pub created_at: DateTime<Utc>,
}

/// The uploads of the same file as `key` by `uploader` ([`names::lineage`]), oldest
/// first; the document itself among them.
pub async fn versions(db: &Db, uploader: &UploaderId, key: &str) -> Result<Vec<Version>, DbError> {
    let wanted = names::lineage(key);
    let rows: Vec<(String, String, DateTime<Utc>)> = documents::Entity::find()
        .select_only()
        .columns([documents::Column::Id, documents::Column::Key, documents::Column::CreatedAt])
        .filter(documents::Column::UploaderId.eq(uploader.as_str()))
        .order_by_asc(documents::Column::CreatedAt)
        .order_by_asc(documents::Column::Id)
        .into_tuple()
        .all(db.connection())
        .await?;
    let mut versions = Vec::new();
    for (id, other, created_at) in rows {
        if names::lineage(&other) == wanted {
            let id = id.parse().map_err(|_| DbError::decode("documents.id", &id))?;
            versions.push(Version { id, number: versions.len() + 1, created_at });
        }
    }
    Ok(versions)
}

fn from_row(row: entity::Model) -> Result<Review, DbError> {
    Ok(Review {
        id: row.id,
        document_id: row.document_id.parse().map_err(|_| DbError::decode("reviews.document_id", &row.document_id))?,
        reviewer: row.reviewer,
        verdict: Verdict::parse(&row.verdict).ok_or_else(|| DbError::decode("reviews.verdict", &row.verdict))?,
        comment: row.comment,
        at: row.at,
        principal: row.principal,
    })
}
