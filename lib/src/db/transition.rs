//! The one guarded write behind every state transition.
//!
//! `UPDATE documents ... WHERE id = $1 AND state IN (from)` decides; the timeline entry
//! and whatever the transition records besides (submission, artifacts, event id,
//! normalized content) are written only when it matched. On PostgreSQL all of it is one
//! statement: the update is a CTE the other writes select from, so they write nothing
//! when it matched no row. On SQLite it is one `BEGIN IMMEDIATE` transaction.
//!
//! Parameters: $1 id, $2 new state, $3 now, $4 stage, $5 attempt, $6 error stage,
//! $7 error reason, $8 timeline reason, then the extra's from $9.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};

use super::repository::{clamp, now, pg, stmt};
use super::{ArtifactRow, Db, DbError, State, StatusChange};
use crate::ids::DocumentId;
use crate::lifecycle::FailureCause;

/// What the guarded update returns for the observer (the rest it knows already).
const RETURNED: &str = r#"uploader_id, kind, "key""#;

/// What a transition records besides state, attempts, error and timeline.
pub(super) enum Extra<'a> {
    None,
    /// `received -> submitted`: $9 submission id, $10 job id, $11 provider; with a round,
    /// $12 the submission round the document must still be in.
    Submission {
        provider: &'a str,
        submission_id: &'a str,
        job_id: &'a str,
        round: Option<u32>,
    },
    /// `failed|rejected -> received`, the next submission round: $9 the uploads stream
    /// sequence of the message restarting it, which must not be the one that started the
    /// current round.
    Restart {
        origin: i64,
    },
    /// `processed -> validated`: $9 callback event id, then six parameters per artifact.
    /// With `processed_first` (from `submitted`), a `processed` timeline entry precedes
    /// the `validated` one.
    Validated {
        event_id: &'a str,
        artifacts: &'a [ArtifactRow],
        processed_first: bool,
    },
    /// `validated -> normalized`: $9 the normalized content, as JSON text (bound as text
    /// and cast, so the content is serialized once and never copied as a JSON tree).
    Normalized(&'a str),
}

const EVENT_COLUMNS: &str = "INSERT INTO document_events (document_id, at, state, stage, attempt, reason)";
const SUBMISSION_COLUMNS: &str =
    "INSERT INTO submissions (id, document_id, provider, job_id, status, created_at, updated_at)";
const SUBMISSION_CONFLICT: &str = "ON CONFLICT (id) DO UPDATE SET job_id = excluded.job_id, \
    status = excluded.status, updated_at = excluded.updated_at";
const PROCESSED_COLUMNS: &str = "INSERT INTO processed_events (event_id, document_id, at)";
const ARTIFACT_COLUMNS: &str = r#"INSERT INTO artifacts (document_id, role, name, "key", size, sha256, content_type)"#;
const ARTIFACT_CONFLICT: &str = r#"ON CONFLICT (document_id, role, name) DO UPDATE SET "key" = excluded."key", size = excluded.size, sha256 = excluded.sha256, content_type = excluded.content_type"#;

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply(
        &self,
        id: DocumentId,
        from: &[State],
        to: State,
        stage: &str,
        attempt: u32,
        reason: Option<&str>,
        cause: Option<FailureCause>,
        extra: Extra<'_>,
    ) -> Result<bool, DbError> {
        if from.is_empty() {
            return Ok(false);
        }
        let at = now();
        let (error_stage, error_reason) = if to.is_failure() { (Some(stage), reason) } else { (None, None) };
        // Like the states, a cause's name comes from `FailureCause::as_str`, never from input.
        let failure_cause = match cause.filter(|_| to.is_failure()) {
            Some(cause) => format!("'{}'", cause.as_str()),
            None => "NULL".to_owned(),
        };
        let mut values: Vec<Value> = vec![
            id.to_string().into(),
            to.as_str().into(),
            at.into(),
            stage.into(),
            clamp(attempt).into(),
            error_stage.map(str::to_owned).into(),
            error_reason.map(str::to_owned).into(),
            reason.map(str::to_owned).into(),
        ];
        let backend = self.backend();
        let mut set = String::new();
        let mut condition = String::new();
        let mut artifact_rows = Vec::new();
        match &extra {
            Extra::None => {}
            Extra::Submission { provider, submission_id, job_id, round } => {
                values.extend([(*submission_id).into(), (*job_id).into(), (*provider).into()]);
                set.push_str(", submission_id = $9, provider_job_id = $10");
                if let Some(round) = round {
                    values.push(clamp(*round).into());
                    condition.push_str(" AND submission_round = $12");
                }
            }
            Extra::Restart { origin } => {
                values.push((*origin).into());
                set.push_str(
                    ", submission_round = submission_round + 1, round_origin = $9, submission_id = NULL, \
                     provider_job_id = NULL",
                );
                condition.push_str(" AND (round_origin IS NULL OR round_origin <> $9)");
            }
            Extra::Validated { event_id, artifacts, .. } => {
                values.push((*event_id).into());
                for a in artifacts.iter() {
                    let n = values.len();
                    artifact_rows.push(format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5,
                        n + 6
                    ));
                    values.extend([
                        a.role.as_str().into(),
                        a.name.as_str().into(),
                        a.key.as_str().into(),
                        a.size.into(),
                        a.sha256.as_str().into(),
                        a.content_type.as_str().into(),
                    ]);
                }
            }
            Extra::Normalized(normalized) => {
                values.push((*normalized).into());
                set.push_str(match backend {
                    DbBackend::Postgres => ", normalized = $9::jsonb",
                    _ => ", normalized = $9",
                });
            }
        }
        // The states come from `State::as_str`, never from input, so they are inlined.
        let guard = from.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
        let attempts = match backend {
            DbBackend::Postgres => "attempts || jsonb_build_object($4::text, $5::int)",
            _ => r#"json_set(attempts, '$."' || $4 || '"', $5)"#,
        };
        let update = format!(
            "UPDATE documents SET state = $2, updated_at = $3, attempts = {attempts}, \
             error_stage = $6, error_reason = $7, failure_cause = {failure_cause}{set} WHERE id = $1 AND state IN ({guard}){condition}"
        );

        let processed_first = matches!(extra, Extra::Validated { processed_first: true, .. });
        if backend == DbBackend::Postgres {
            // Timeline ids follow the insert order, which `ORDER BY` fixes.
            let events = if processed_first {
                format!(
                    "{EVENT_COLUMNS} SELECT id, $3, e.state, $4, $5, e.reason FROM moved CROSS JOIN \
                     (VALUES (1, 'processed', NULL), (2, $2, $8)) AS e(n, state, reason) ORDER BY e.n"
                )
            } else {
                format!("{EVENT_COLUMNS} SELECT id, $3, $2, $4, $5, $8 FROM moved")
            };
            let mut sql = format!("WITH moved AS ({update} RETURNING id, {RETURNED}), event AS ({events})");
            match &extra {
                Extra::None | Extra::Normalized(_) | Extra::Restart { .. } => {}
                Extra::Submission { .. } => sql.push_str(&format!(
                    ", submission AS ({SUBMISSION_COLUMNS} SELECT $9, id, $11, $10, 'submitted', $3, $3 \
                     FROM moved {SUBMISSION_CONFLICT})"
                )),
                Extra::Validated { .. } => {
                    sql.push_str(&format!(
                        ", seen AS ({PROCESSED_COLUMNS} SELECT $9, id, $3 FROM moved ON CONFLICT (event_id) DO NOTHING)"
                    ));
                    if !artifact_rows.is_empty() {
                        sql.push_str(&format!(
                            ", stored AS ({ARTIFACT_COLUMNS} SELECT moved.id, a.role, a.name, a.key, a.size, a.sha256, \
                             a.content_type FROM moved CROSS JOIN (VALUES {}) AS a(role, name, key, size, sha256, \
                             content_type) {ARTIFACT_CONFLICT})",
                            artifact_rows.join(", ")
                        ));
                    }
                }
            }
            // Data-modifying CTEs run to completion whether or not the query reads them.
            sql.push_str(&format!(" SELECT id, {RETURNED} FROM moved"));
            let moved = self.conn.query_one_raw(pg(sql, values)).await?;
            self.observe_moved(id, to, at, processed_first, moved.as_ref());
            return Ok(moved.is_some());
        }

        let txn = self.begin_write().await?;
        let returned = txn.query_one_raw(stmt(backend, &format!("{update} RETURNING {RETURNED}"), &values)).await?;
        let moved = returned.is_some();
        if moved {
            if processed_first {
                let event = format!("{EVENT_COLUMNS} VALUES ($1, $3, 'processed', $4, $5, NULL)");
                txn.execute_raw(stmt(backend, &event, &values)).await?;
            }
            let event = format!("{EVENT_COLUMNS} VALUES ($1, $3, $2, $4, $5, $8)");
            txn.execute_raw(stmt(backend, &event, &values)).await?;
            match &extra {
                Extra::None | Extra::Normalized(_) | Extra::Restart { .. } => {}
                Extra::Submission { .. } => {
                    let sql = format!(
                        "{SUBMISSION_COLUMNS} VALUES ($9, $1, $11, $10, 'submitted', $3, $3) {SUBMISSION_CONFLICT}"
                    );
                    txn.execute_raw(stmt(backend, &sql, &values)).await?;
                }
                Extra::Validated { .. } => {
                    let sql = format!("{PROCESSED_COLUMNS} VALUES ($9, $1, $3) ON CONFLICT (event_id) DO NOTHING");
                    txn.execute_raw(stmt(backend, &sql, &values)).await?;
                    if !artifact_rows.is_empty() {
                        let rows = artifact_rows.iter().map(|r| r.replacen('(', "($1, ", 1)).collect::<Vec<_>>();
                        let sql = format!("{ARTIFACT_COLUMNS} VALUES {} {ARTIFACT_CONFLICT}", rows.join(", "));
                        txn.execute_raw(stmt(backend, &sql, &values)).await?;
                    }
                }
            }
        }
        txn.commit().await?;
        self.observe_moved(id, to, at, processed_first, returned.as_ref());
        Ok(moved)
    }

    /// Tells the observer of the states a matched transition recorded (`processed` first
    /// when the write recorded it too); nothing when it matched no row.
    fn observe_moved(
        &self,
        id: DocumentId,
        to: State,
        at: chrono::DateTime<chrono::Utc>,
        processed_first: bool,
        row: Option<&QueryResult>,
    ) {
        let Some(row) = row else { return };
        if self.observer.is_none() {
            return;
        }
        let fields = (
            row.try_get::<String>("", "uploader_id"),
            row.try_get::<String>("", "kind"),
            row.try_get::<String>("", "key"),
        );
        let (Ok(uploader), Ok(kind), Ok(key)) = fields else {
            tracing::warn!(%id, "the transition's row came back without its uploader, kind or key; not observed");
            return;
        };
        let Ok(kind) = kind.parse() else { return };
        let change = |state| StatusChange { id, state, at, uploader: uploader.clone(), kind, key: key.clone() };
        if processed_first {
            self.observe(|| change(State::Processed));
        }
        self.observe(|| change(to));
    }
}
