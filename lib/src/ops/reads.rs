//! The overview's reads: each stage's consumer info, the dead letters counted per subject,
//! and two aggregate queries on the documents. None of them walks messages or rows one by
//! one.

use std::collections::BTreeMap;

use async_nats::jetstream;
use futures_util::TryStreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::OpsError;
use super::overview::{OldestInFlight, StageBacklog, waits_at};
use crate::db::{Db, State, documents};
use crate::ids::StageId;
use crate::nats::Names;

/// Each stage's consumer, in pipeline order.
pub async fn backlogs(js: &jetstream::Context, names: &Names) -> Result<Vec<StageBacklog>, OpsError> {
    let mut out = Vec::with_capacity(StageId::ALL.len());
    for stage in StageId::ALL {
        let stream_name = names.stream(stage.stream());
        let stream = js
            .get_stream(&stream_name)
            .await
            .map_err(|e| OpsError::JetStream { what: format!("stream {stream_name}"), detail: e.to_string() })?;
        let info = stream.consumer_info(stage.consumer()).await.map_err(|e| OpsError::JetStream {
            what: format!("consumer {stream_name}/{}", stage.consumer()),
            detail: e.to_string(),
        })?;
        out.push(StageBacklog {
            stage: stage.as_str(),
            stream: stream_name,
            consumer: stage.consumer().to_owned(),
            pending: info.num_pending,
            in_flight: info.num_ack_pending as u64,
            redelivered: info.num_redelivered as u64,
            waiting: info.num_waiting as u64,
            last_sequence: stream.cached_info().state.last_sequence,
        });
    }
    Ok(out)
}

/// Dead letters per stage (every stage, zero included), from the stream's count per
/// subject (`subjects_filter`: nats-server 2.9 and current releases answer it alike).
/// Subjects of no known stage are counted under their own last token.
pub async fn dead_letters(js: &jetstream::Context, names: &Names) -> Result<BTreeMap<String, u64>, OpsError> {
    let mut out: BTreeMap<String, u64> = StageId::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    let stream_name = names.stream("dead");
    let failed = |e: &dyn std::fmt::Display| OpsError::JetStream {
        what: format!("stream {stream_name}"),
        detail: e.to_string(),
    };
    let stream = js.get_stream(&stream_name).await.map_err(|e| failed(&e))?;
    let prefix = names.subject("dead.");
    let mut subjects = stream.info_with_subjects(names.subject("dead.>")).await.map_err(|e| failed(&e))?;
    while let Some((subject, count)) = subjects.try_next().await.map_err(|e| failed(&e))? {
        let stage = subject.strip_prefix(&prefix).unwrap_or(&subject).to_owned();
        *out.entry(stage).or_default() += count as u64;
    }
    Ok(out)
}

/// Documents per state: one `GROUP BY` (an index-only scan of the state index on
/// PostgreSQL). Unknown state strings are skipped.
pub async fn documents_per_state(db: &Db) -> Result<Vec<(State, u64)>, OpsError> {
    let rows: Vec<(String, i64)> = documents::Entity::find()
        .select_only()
        .column(documents::Column::State)
        .column_as(documents::Column::Id.count(), "n")
        .group_by(documents::Column::State)
        .into_tuple()
        .all(db.connection())
        .await
        .map_err(OpsError::database)?;
    Ok(rows.into_iter().filter_map(|(state, n)| Some((state.parse::<State>().ok()?, n.max(0) as u64))).collect())
}

/// The oldest document still on its way: one row through the (state, created_at) index.
pub async fn oldest_in_flight(db: &Db) -> Result<Option<OldestInFlight>, OpsError> {
    let moving: Vec<&str> = State::NON_TERMINAL.iter().map(State::as_str).collect();
    let row = documents::Entity::find()
        .select_only()
        .columns([
            documents::Column::Id,
            documents::Column::State,
            documents::Column::CreatedAt,
            documents::Column::UpdatedAt,
        ])
        .filter(documents::Column::State.is_in(moving))
        .order_by_asc(documents::Column::CreatedAt)
        .order_by_asc(documents::Column::Id)
        .limit(1)
        .into_tuple::<(String, String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>()
        .one(db.connection())
        .await
        .map_err(OpsError::database)?;
    Ok(row.and_then(|(id, state, created_at, since)| {
        let state = state.parse::<State>().ok()?;
        Some(OldestInFlight { id, state: state.as_str(), waits_at: waits_at(state)?, created_at, since })
    }))
}
