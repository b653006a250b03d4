//! Reviews: an evaluator's judgement of one document (one version of an upload), kept
//! apart from the pipeline's states. A document may be reviewed more than once; the
//! latest review is the one shown. Reviews go when their document goes (cascade).
//!
//! Also two indexes for the list's other sort orders (`updated_at`, `uploader`), each
//! ending in `id` like the keyset cursor.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    DocumentId,
    Reviewer,
    Principal,
    Verdict,
    Comment,
    At,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
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
                    .table(Reviews::Table)
                    .if_not_exists()
                    .col(big_integer(Reviews::Id).auto_increment().primary_key())
                    .col(string_len(Reviews::DocumentId, 36))
                    .col(string(Reviews::Reviewer))
                    .col(string(Reviews::Principal))
                    .col(string_len(Reviews::Verdict, 32))
                    .col(text(Reviews::Comment))
                    .col(timestamp_with_time_zone(Reviews::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("reviews_document")
                            .from(Reviews::Table, Reviews::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager.create_index(index("reviews_document_id", Reviews::Table, &["document_id", "id"])).await?;
        for (name, columns) in [
            ("documents_updated_at_id", &["updated_at", "id"][..]),
            ("documents_uploader_id_id", &["uploader_id", "id"][..]),
        ] {
            manager.create_index(index(name, Documents::Table, columns)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["documents_updated_at_id", "documents_uploader_id_id"] {
            manager.drop_index(Index::drop().name(name).table(Documents::Table).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(Reviews::Table).take()).await
    }
}
