//! One row per document (one upload of one object version). `state` is one of
//! [`crate::db::State`]'s strings; `attempts` is a JSON object `{stage: attempt}`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "String(StringLen::N(36))")]
    pub id: String,
    pub state: String,
    pub kind: String,
    pub uploader_id: String,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: i64,
    pub content_type: String,
    pub provider: String,
    pub provider_job_id: Option<String>,
    pub submission_id: Option<String>,
    pub error_stage: Option<String>,
    pub error_reason: Option<String>,
    /// A [`crate::lifecycle::FailureCause`] name while `failed` or `rejected`; else null.
    pub failure_cause: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub attempts: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub normalized: Option<Json>,
    /// 0 for the first submission; each restart adds one.
    pub submission_round: i32,
    /// The uploads stream sequence of the message that started the current round.
    pub round_origin: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::document_events::Entity")]
    Events,
    #[sea_orm(has_many = "super::submissions::Entity")]
    Submissions,
    #[sea_orm(has_many = "super::artifacts::Entity")]
    Artifacts,
}

impl Related<super::document_events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Events.def()
    }
}

impl Related<super::submissions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Submissions.def()
    }
}

impl Related<super::artifacts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Artifacts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
