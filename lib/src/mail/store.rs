//! The mail component's two tables (migration `m20261207_000005_mail`): the addresses of
//! uploaders who signed in through OpenID Connect, and the claims that make one mail per
//! `(document, round, event)`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement, Value};

use super::notice::Notice;
use crate::db::{Db, DbError};
use crate::ids::UploaderId;

/// Where an uploader's mail goes, and whether they want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub email: String,
    pub opt_in: bool,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This delivery claimed it: send, then [`MailStore::mark_sent`].
    Ours,
    /// A claim exists and its mail was not confirmed sent: a delivery that failed
    /// transiently or crashed, or one still sending now ([`MailStore::take_over`]).
    Unsent,
    /// Its mail was sent: nothing to do.
    Sent,
}

/// The tables, on the pipeline's database.
#[derive(Clone, Debug)]
pub struct MailStore {
    db: Db,
}

fn statement(db: &Db, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.connection().get_database_backend(), sql, values)
}

/// Timestamps at the databases' precision (microseconds).
fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

impl MailStore {
    pub fn new(db: Db) -> MailStore {
        MailStore { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records (or replaces) the address and opt-in of `uploader_id`, as their sign-in
    /// gave it.
    pub async fn record_contact(&self, uploader_id: &UploaderId, contact: &Contact) -> Result<(), DbError> {
        let sql = "INSERT INTO uploader_contacts (uploader_id, email, opt_in, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (uploader_id) DO UPDATE SET email = excluded.email, opt_in = excluded.opt_in, \
                   updated_at = excluded.updated_at";
        let values =
            vec![uploader_id.as_str().into(), contact.email.as_str().into(), contact.opt_in.into(), now().into()];
        self.db.connection().execute_raw(statement(&self.db, sql, values)).await.map_err(DbError::from)?;
        Ok(())
    }

    /// Erases the address recorded for `uploader_id` (`docflow forget --uploader`); true
    /// when there was one.
    pub async fn forget_contact(&self, uploader_id: &UploaderId) -> Result<bool, DbError> {
        let sql = "DELETE FROM uploader_contacts WHERE uploader_id = $1";
        let done = self.db.connection().execute_raw(statement(&self.db, sql, vec![uploader_id.as_str().into()])).await;
        Ok(done.map_err(DbError::from)?.rows_affected() > 0)
    }

    /// The address recorded for `uploader_id`, if any.
    pub async fn contact(&self, uploader_id: &UploaderId) -> Result<Option<Contact>, DbError> {
        let sql = "SELECT email, opt_in FROM uploader_contacts WHERE uploader_id = $1";
        let row = self
            .db
            .connection()
            .query_one_raw(statement(&self.db, sql, vec![uploader_id.as_str().into()]))
            .await
            .map_err(DbError::from)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Contact {
            email: row.try_get("", "email").map_err(DbError::from)?,
            opt_in: row.try_get("", "opt_in").map_err(DbError::from)?,
        }))
    }

    /// Claims `notice`'s mail to `recipient` under `message_id`, or says who has.
    pub async fn claim(&self, notice: &Notice, recipient: &str, message_id: &str) -> Result<Claim, DbError> {
        let insert = "INSERT INTO mail_sent (document_id, round, event, message_id, recipient, claimed_at, sent_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, NULL) ON CONFLICT (document_id, round, event) DO NOTHING";
        let values = vec![
            notice.document_id.to_string().into(),
            (notice.round as i32).into(),
            notice.event.as_str().into(),
            message_id.into(),
            recipient.into(),
            now().into(),
        ];
        let inserted =
            self.db.connection().execute_raw(statement(&self.db, insert, values)).await.map_err(DbError::from)?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Ours);
        }
        let select = "SELECT sent_at FROM mail_sent WHERE document_id = $1 AND round = $2 AND event = $3";
        let row = self
            .db
            .connection()
            .query_one_raw(statement(&self.db, select, key(notice)))
            .await
            .map_err(DbError::from)?
            .ok_or_else(|| DbError::decode("mail_sent", "a claim that vanished"))?;
        let sent: Option<DateTime<Utc>> = row.try_get("", "sent_at").map_err(DbError::from)?;
        if sent.is_some() {
            return Ok(Claim::Sent);
        }
        Ok(Claim::Unsent)
    }

    /// Takes over an unsent claim made before `cutoff` (its sender failed or crashed):
    /// true when this delivery now holds it, false when another holds it or it was sent.
    pub async fn take_over(&self, notice: &Notice, cutoff: DateTime<Utc>) -> Result<bool, DbError> {
        let sql = "UPDATE mail_sent SET claimed_at = $4 WHERE document_id = $1 AND round = $2 AND event = $3 \
                   AND sent_at IS NULL AND claimed_at < $5";
        let mut values = key(notice);
        values.extend([now().into(), cutoff.into()]);
        let updated =
            self.db.connection().execute_raw(statement(&self.db, sql, values)).await.map_err(DbError::from)?;
        Ok(updated.rows_affected() == 1)
    }

    /// Releases a claim whose mail could not be sent, so the next delivery sends at once.
    pub async fn release(&self, notice: &Notice) -> Result<(), DbError> {
        let sql = "UPDATE mail_sent SET claimed_at = $4 WHERE document_id = $1 AND round = $2 AND event = $3 \
                   AND sent_at IS NULL";
        let mut values = key(notice);
        values.push(DateTime::<Utc>::UNIX_EPOCH.into());
        self.db.connection().execute_raw(statement(&self.db, sql, values)).await.map_err(DbError::from)?;
        Ok(())
    }

    /// The SMTP server took the mail.
    pub async fn mark_sent(&self, notice: &Notice) -> Result<(), DbError> {
        let sql = "UPDATE mail_sent SET sent_at = $4 WHERE document_id = $1 AND round = $2 AND event = $3";
        let mut values = key(notice);
        values.push(now().into());
        self.db.connection().execute_raw(statement(&self.db, sql, values)).await.map_err(DbError::from)?;
        Ok(())
    }

    /// Mails sent for `notice`'s document (tests and `docflow status`).
    pub async fn sent_count(&self, notice: &Notice) -> Result<u64, DbError> {
        let sql = "SELECT COUNT(*) AS n FROM mail_sent WHERE document_id = $1 AND sent_at IS NOT NULL";
        let row = self
            .db
            .connection()
            .query_one_raw(statement(&self.db, sql, vec![notice.document_id.to_string().into()]))
            .await
            .map_err(DbError::from)?;
        let n: i64 = row.map(|r| r.try_get("", "n")).transpose().map_err(DbError::from)?.unwrap_or(0);
        Ok(n as u64)
    }
}

fn key(notice: &Notice) -> Vec<Value> {
    vec![notice.document_id.to_string().into(), (notice.round as i32).into(), notice.event.as_str().into()]
}
