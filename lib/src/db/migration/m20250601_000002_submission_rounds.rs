//! Submission rounds: a `failed` or `rejected` document can be restarted (a dead letter's
//! replay, `docflow retry`, a new notification), and each restart is a new round submitted
//! under its own `Idempotency-Key`.
//!
//! - `submission_round`: 0 for the first submission, one more per restart;
//! - `round_origin`: the stream sequence of the uploads message that started the current
//!   round, so that message's own redelivery never restarts the round it started.
//!
//! Two `ALTER TABLE`s: SQLite takes one column per statement.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    SubmissionRound,
    RoundOrigin,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column_if_not_exists(integer(Documents::SubmissionRound).default(0))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column_if_not_exists(big_integer_null(Documents::RoundOrigin))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Documents::RoundOrigin, Documents::SubmissionRound] {
            manager.alter_table(Table::alter().table(Documents::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
