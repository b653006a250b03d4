//! The baselines every figure is divided by, measured on the same nats-server and
//! PostgreSQL as docflow: a relay through three JetStream work-queue streams that does no
//! work, and single-row upserts on a 4-connection pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use crate::pg;
use crate::rig::Services;

const STAGES: usize = 3;

/// Messages per second through three work-queue streams: each stage consumes, publishes
/// to the next stream awaiting the publish ack, then acks. `in_flight` messages at once
/// per stage (1: the serial relay).
pub async fn relay(services: &Services, messages: usize, in_flight: usize, body: &[u8]) -> Result<f64> {
    let js = services.jetstream().await?;
    let prefix = format!("relay{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let subject = |i: usize| format!("{prefix}.s{i}");
    let mut consumers = Vec::new();
    for i in 0..=STAGES {
        let retention = if i < STAGES { stream::RetentionPolicy::WorkQueue } else { stream::RetentionPolicy::Limits };
        let stream = js
            .create_stream(stream::Config {
                name: format!("{}_S{i}", prefix.to_uppercase()),
                subjects: vec![subject(i)],
                retention,
                ..Default::default()
            })
            .await?;
        if i < STAGES {
            let consumer = stream
                .create_consumer(pull::Config {
                    durable_name: Some("relay".into()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    max_ack_pending: (in_flight * 4).max(64) as i64,
                    ..Default::default()
                })
                .await?;
            consumers.push(consumer);
        }
    }
    // Loaded before the clock starts: the relay, not the publisher, is measured.
    let loads = futures_util::stream::iter((0..messages).map(|_| {
        let js = js.clone();
        let (subject, body) = (subject(0), body.to_vec());
        async move { js.publish(subject, body.into()).await?.await.map(drop).map_err(anyhow::Error::from) }
    }))
    .buffer_unordered(256)
    .collect::<Vec<_>>()
    .await;
    loads.into_iter().collect::<Result<Vec<()>>>()?;

    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, consumer) in consumers.into_iter().enumerate() {
        let (js, next, done) = (js.clone(), subject(i + 1), done.clone());
        tasks.push(tokio::spawn(async move {
            let messages =
                consumer.stream().max_messages_per_batch(in_flight).expires(Duration::from_secs(5)).messages().await?;
            messages
                .for_each_concurrent(in_flight, |message| {
                    let (js, next, done) = (js.clone(), next.clone(), done.clone());
                    async move {
                        let Ok(message) = message else { return };
                        let published = match js.publish(next, message.payload.clone()).await {
                            Ok(ack) => ack.await.is_ok(),
                            Err(_) => false,
                        };
                        if published && message.ack().await.is_ok() && i == STAGES - 1 {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
                .await;
            anyhow::Ok(())
        }));
    }
    let deadline = Duration::from_secs(120 + messages as u64 / 10);
    while done.load(Ordering::Relaxed) < messages {
        if start.elapsed() > deadline {
            bail!("the relay moved {} of {messages} messages in {deadline:?}", done.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = messages as f64 / start.elapsed().as_secs_f64();
    for task in tasks {
        task.abort();
    }
    for i in 0..=STAGES {
        let _ = js.delete_stream(format!("{}_S{i}", prefix.to_uppercase())).await;
    }
    Ok(rate)
}

/// Rows per second of single-row upserts, each in its own transaction, by `tasks`
/// concurrent writers on a 4-connection pool (docflow's default pool), in a database of
/// their own. Half the upserts insert, half update.
pub async fn upserts(services: &Services, rows: usize, tasks: usize) -> Result<f64> {
    let (name, url) = services.admin.fresh_database().await?;
    let result = async {
        let conn = pg::connect(&url, 4).await?;
        conn.execute_unprepared(
            "CREATE TABLE bench_upsert (id text PRIMARY KEY, state text NOT NULL, attempts jsonb NOT NULL, updated_at timestamptz NOT NULL)",
        )
        .await?;
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let writers = (0..tasks).map(|_| {
            let (conn, next) = (conn.clone(), next.clone());
            async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= rows {
                        return anyhow::Ok(());
                    }
                    let id = format!("{:036}", i % rows.div_ceil(2));
                    let txn = conn.begin().await?;
                    txn.execute_raw(Statement::from_sql_and_values(
                        txn.get_database_backend(),
                        "INSERT INTO bench_upsert (id, state, attempts, updated_at) VALUES ($1, $2, $3, now()) \
                         ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, updated_at = excluded.updated_at",
                        [id.into(), "submitted".into(), serde_json::json!({"transfer": i % 3 + 1}).into()],
                    ))
                    .await?;
                    txn.commit().await?;
                }
            }
        });
        futures_util::future::try_join_all(writers).await?;
        let rate = rows as f64 / start.elapsed().as_secs_f64();
        conn.close().await.ok();
        anyhow::Ok(rate)
    }
    .await
    .context("the upsert baseline failed");
    services.admin.drop_database(&name).await;
    result
}
