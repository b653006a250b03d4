//! The initial schema. Portable column types only (no PostgreSQL enums, ids as
//! strings) so PostgreSQL and SQLite share entities and SQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    State,
    Kind,
    UploaderId,
    Bucket,
    Key,
    VersionId,
    Etag,
    Size,
    ContentType,
    Provider,
    ProviderJobId,
    SubmissionId,
    ErrorStage,
    ErrorReason,
    Attempts,
    Normalized,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DocumentEvents {
    Table,
    Id,
    DocumentId,
    At,
    State,
    Stage,
    Attempt,
    Reason,
}

#[derive(DeriveIden)]
enum Submissions {
    Table,
    Id,
    DocumentId,
    Provider,
    JobId,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    DocumentId,
    Role,
    Name,
    Key,
    Size,
    Sha256,
    ContentType,
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Table,
    EventId,
    DocumentId,
    At,
}

/// A document id column: the UUID's 36-character text form.
fn document_id<T: IntoIden>(name: T) -> ColumnDef {
    string_len(name, 36)
}

fn to_document(table: impl IntoIden, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("document_id"))
        .to(Documents::Table, Documents::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn index(name: &str, table: impl IntoIden, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(Alias::new(*column));
    }
    index
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .if_not_exists()
                    .col(document_id(Documents::Id).primary_key())
                    .col(string_len(Documents::State, 16))
                    .col(string_len(Documents::Kind, 16))
                    .col(string(Documents::UploaderId))
                    .col(string(Documents::Bucket))
                    .col(text(Documents::Key))
                    .col(string_null(Documents::VersionId))
                    .col(string_null(Documents::Etag))
                    .col(big_integer(Documents::Size))
                    .col(string(Documents::ContentType))
                    .col(string(Documents::Provider))
                    .col(string_null(Documents::ProviderJobId))
                    .col(string_null(Documents::SubmissionId))
                    .col(string_null(Documents::ErrorStage))
                    .col(text_null(Documents::ErrorReason))
                    .col(json_binary(Documents::Attempts))
                    .col(json_binary_null(Documents::Normalized))
                    .col(timestamp_with_time_zone(Documents::CreatedAt))
                    .col(timestamp_with_time_zone(Documents::UpdatedAt))
                    .take(),
            )
            .await?;
        // Listing filters by one of state/kind/uploader and pages by (created_at, id).
        for (name, columns) in [
            ("documents_created_at_id", &["created_at", "id"][..]),
            ("documents_state_created_at_id", &["state", "created_at", "id"][..]),
            ("documents_kind_created_at_id", &["kind", "created_at", "id"][..]),
            ("documents_uploader_created_at_id", &["uploader_id", "created_at", "id"][..]),
            ("documents_bucket_key", &["bucket", "key"][..]),
        ] {
            manager.create_index(index(name, Documents::Table, columns)).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(DocumentEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DocumentEvents::Id))
                    .col(document_id(DocumentEvents::DocumentId))
                    .col(timestamp_with_time_zone(DocumentEvents::At))
                    .col(string_len(DocumentEvents::State, 16))
                    .col(string(DocumentEvents::Stage))
                    .col(integer(DocumentEvents::Attempt))
                    .col(text_null(DocumentEvents::Reason))
                    .foreign_key(&mut to_document(DocumentEvents::Table, "document_events_document"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("document_events_document_id", DocumentEvents::Table, &["document_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Submissions::Table)
                    .if_not_exists()
                    .col(string(Submissions::Id).primary_key())
                    .col(document_id(Submissions::DocumentId))
                    .col(string(Submissions::Provider))
                    .col(string_null(Submissions::JobId))
                    .col(string_len(Submissions::Status, 16))
                    .col(timestamp_with_time_zone(Submissions::CreatedAt))
                    .col(timestamp_with_time_zone(Submissions::UpdatedAt))
                    .foreign_key(&mut to_document(Submissions::Table, "submissions_document"))
                    .take(),
            )
            .await?;
        manager.create_index(index("submissions_document_id", Submissions::Table, &["document_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Artifacts::Table)
                    .if_not_exists()
                    .col(document_id(Artifacts::DocumentId))
                    .col(string(Artifacts::Role))
                    .col(string(Artifacts::Name))
                    .col(text(Artifacts::Key))
                    .col(big_integer(Artifacts::Size))
                    .col(string_len(Artifacts::Sha256, 64))
                    .col(string(Artifacts::ContentType))
                    .primary_key(Index::create().col(Artifacts::DocumentId).col(Artifacts::Role).col(Artifacts::Name))
                    .foreign_key(&mut to_document(Artifacts::Table, "artifacts_document"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProcessedEvents::Table)
                    .if_not_exists()
                    .col(string(ProcessedEvents::EventId).primary_key())
                    .col(document_id(ProcessedEvents::DocumentId))
                    .col(timestamp_with_time_zone(ProcessedEvents::At))
                    .take(),
            )
            .await?;
        // Old entries are pruned by age.
        manager.create_index(index("processed_events_at", ProcessedEvents::Table, &["at"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProcessedEvents::Table.into_iden(),
            Artifacts::Table.into_iden(),
            Submissions::Table.into_iden(),
            DocumentEvents::Table.into_iden(),
            Documents::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
