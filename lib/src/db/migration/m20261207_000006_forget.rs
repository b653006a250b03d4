//! Forgetting (`docflow forget`): a tombstone per forgotten document, so a late callback
//! or event does not bring it back, and the audit of every erasure request. Neither holds
//! any of the document's content: no file name, key, findings or text.
//!
//! - `forgotten_documents`: the document id and when it was forgotten;
//! - `erasures`: one row per document of a request: who asked, when, whether the upload
//!   went too, the provider and its job ids (the provider's own identifiers, needed to
//!   erase its copy after the document's rows are gone), the outcome and what was erased.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ForgottenDocuments {
    Table,
    DocumentId,
    ForgottenAt,
}

#[derive(DeriveIden)]
enum Erasures {
    Table,
    Id,
    RequestId,
    DocumentId,
    UploaderId,
    RequestedBy,
    WithUpload,
    Provider,
    JobIds,
    Outcome,
    Detail,
    RequestedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ForgottenDocuments::Table)
                    .if_not_exists()
                    .col(string_len(ForgottenDocuments::DocumentId, 36).primary_key())
                    .col(timestamp_with_time_zone(ForgottenDocuments::ForgottenAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Erasures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Erasures::Id))
                    .col(string_len(Erasures::RequestId, 36))
                    .col(string_len(Erasures::DocumentId, 36))
                    .col(string(Erasures::UploaderId))
                    .col(string(Erasures::RequestedBy))
                    .col(boolean(Erasures::WithUpload))
                    .col(string_null(Erasures::Provider))
                    .col(text(Erasures::JobIds).default(""))
                    .col(string_len(Erasures::Outcome, 16))
                    .col(text(Erasures::Detail).default(""))
                    .col(timestamp_with_time_zone(Erasures::RequestedAt))
                    .col(timestamp_with_time_zone_null(Erasures::FinishedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("erasures_request_document")
                    .table(Erasures::Table)
                    .col(Erasures::RequestId)
                    .col(Erasures::DocumentId)
                    .unique()
                    .if_not_exists()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Erasures::Table).if_exists().take()).await?;
        manager.drop_table(Table::drop().table(ForgottenDocuments::Table).if_exists().take()).await
    }
}
