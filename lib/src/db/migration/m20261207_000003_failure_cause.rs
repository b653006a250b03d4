//! Why a document stopped: `failure_cause`, one of [`crate::lifecycle::FailureCause`]'s
//! names, set by the stage that moved it to `failed` or `rejected` and cleared by any
//! other transition (a restart among them). Rows that stopped before this migration keep
//! it null and read as no cause (the pages word that as unknown).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    FailureCause,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column_if_not_exists(text_null(Documents::FailureCause))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Documents::Table).drop_column(Documents::FailureCause).take()).await
    }
}
