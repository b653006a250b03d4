//! Schema migrations, run programmatically by `docflow setup` and at start
//! ([`crate::db::Db::migrate`]). Applied migrations are recorded in `seaql_migrations`;
//! running them again is a no-op. A released migration is never edited: add a new one.

use sea_orm_migration::prelude::*;

mod m20250101_000001_initial;
mod m20250601_000002_submission_rounds;
mod m20261207_000003_failure_cause;
mod m20261207_000004_reviews;
mod m20261207_000005_mail;
mod m20261207_000006_forget;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_initial::Migration),
            Box::new(m20250601_000002_submission_rounds::Migration),
            Box::new(m20261207_000003_failure_cause::Migration),
            Box::new(m20261207_000004_reviews::Migration),
            Box::new(m20261207_000005_mail::Migration),
            Box::new(m20261207_000006_forget::Migration),
        ]
    }
}
