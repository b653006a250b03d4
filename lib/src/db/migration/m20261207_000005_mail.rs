//! The e-mail to the teacher (`crate::mail`):
//! - `uploader_contacts`: the address and opt-in of an uploader who signed in through
//!   OpenID Connect, recorded when they upload through the web (token uploaders' come from
//!   `[[mail.uploaders]]` in the settings instead);
//! - `mail_sent`: one row per `(document, round, event)` claimed before its mail is sent,
//!   so a redelivered notice never sends a second mail; `sent_at` is set once the SMTP
//!   server took it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UploaderContacts {
    Table,
    UploaderId,
    Email,
    OptIn,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MailSent {
    Table,
    DocumentId,
    Round,
    Event,
    MessageId,
    Recipient,
    ClaimedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UploaderContacts::Table)
                    .if_not_exists()
                    .col(string(UploaderContacts::UploaderId).primary_key())
                    .col(string(UploaderContacts::Email))
                    .col(boolean(UploaderContacts::OptIn))
                    .col(timestamp_with_time_zone(UploaderContacts::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailSent::Table)
                    .if_not_exists()
                    .col(string_len(MailSent::DocumentId, 36))
                    .col(integer(MailSent::Round))
                    .col(string(MailSent::Event))
                    .col(string(MailSent::MessageId))
                    .col(string(MailSent::Recipient))
                    .col(timestamp_with_time_zone(MailSent::ClaimedAt))
                    .col(timestamp_with_time_zone_null(MailSent::SentAt))
                    .primary_key(Index::create().col(MailSent::DocumentId).col(MailSent::Round).col(MailSent::Event))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MailSent::Table).take()).await?;
        manager.drop_table(Table::drop().table(UploaderContacts::Table).take()).await
    }
}
