//! One row per review (`m20261207_000004_reviews`). `reviewer` is the display name shown
//! to the teacher, `principal` the stable key of who signed it (a token's or a person's),
//! `verdict` one of [`super::Verdict`]'s strings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "String(StringLen::N(36))")]
    pub document_id: String,
    pub reviewer: String,
    pub principal: String,
    pub verdict: String,
    #[sea_orm(column_type = "Text")]
    pub comment: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
