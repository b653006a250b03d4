//! The baselines every figure is divided by, measured on the same nats-server and
//! PostgreSQL as docflow: a relay through three JetStream work-queue streams that does no
//! work, single-row upserts on a 4-connection pool, and, for latency, the relay with one
//! upsert per stage at a steady rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

use crate::pg;
use crate::rig::{self, Services};

const STAGES: usize = 3;

/// Messages per second through three work-queue streams: each stage consumes, publishes
/// to the next stream awaiting the publish ack, then acks. `in_flight` messages at once
/// per stage (1: the serial relay).
pub async fn relay(services: &Services, messages: usize, in_flight: usize, body: &[u8]) -> Result<f64> {
    let js = services.jetstream().await?;
    let relay = Relay::create(&js, in_flight).await?;
    // Loaded before the clock starts: the relay, not the publisher, is measured.
    let loads = futures_util::stream::iter((0..messages).map(|_| {
        let js = js.clone();
        let (subject, body) = (relay.subject(0), body.to_vec());
        async move { js.publish(subject, body.into()).await?.await.map(drop).map_err(anyhow::Error::from) }
    }))
    .buffer_unordered(256)
    .collect::<Vec<_>>()
    .await;
    loads.into_iter().collect::<Result<Vec<()>>>()?;

    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    // Dropped on every way out, which aborts the stages.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, consumer) in relay.consumers.iter().cloned().enumerate() {
        let (js, next, done) = (js.clone(), relay.subject(i + 1), done.clone());
        tasks.spawn(async move {
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
        });
    }
    let deadline = Duration::from_secs(120 + messages as u64 / 10);
    while done.load(Ordering::Relaxed) < messages {
        if start.elapsed() > deadline {
            bail!("the relay moved {} of {messages} messages in {deadline:?}", done.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = messages as f64 / start.elapsed().as_secs_f64();
    tasks.abort_all();
    relay.delete(&js).await;
    Ok(rate)
}

/// The relay's streams: `STAGES` work queues with a durable pull consumer each, and the
/// stream the last stage publishes to.
struct Relay {
    prefix: String,
    consumers: Vec<jetstream::consumer::PullConsumer>,
}

impl Relay {
    async fn create(js: &jetstream::Context, in_flight: usize) -> Result<Relay> {
        let prefix = format!("relay{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let mut relay = Relay { prefix, consumers: Vec::new() };
        for i in 0..=STAGES {
            let retention =
                if i < STAGES { stream::RetentionPolicy::WorkQueue } else { stream::RetentionPolicy::Limits };
            let stream = js
                .create_stream(stream::Config {
                    name: relay.stream(i),
                    subjects: vec![relay.subject(i)],
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
                relay.consumers.push(consumer);
            }
        }
        Ok(relay)
    }

    fn subject(&self, i: usize) -> String {
        format!("{}.s{i}", self.prefix)
    }

    fn stream(&self, i: usize) -> String {
        format!("{}_S{i}", self.prefix.to_uppercase())
    }

    async fn delete(&self, js: &jetstream::Context) {
        for i in 0..=STAGES {
            let _ = js.delete_stream(self.stream(i)).await;
        }
    }
}

/// The floor under scenario 2, on this machine and in this run: messages published at
/// `rate` for `duration` through the relay's streams, each stage committing one
/// single-row upsert (its own transaction, 4-connection pool) before it publishes on and
/// acks, `concurrency` messages at once per stage. Milliseconds from publication to the
/// last stage's commit.
pub async fn relay_latency(
    services: &Services,
    rate: f64,
    duration: Duration,
    concurrency: usize,
    body: &[u8],
) -> Result<Vec<f64>> {
    let (name, url) = services.admin.fresh_database().await?;
    let js = services.jetstream().await?;
    let relay = Relay::create(&js, concurrency).await?;
    let result = async {
        let conn = pg::connect(&url, 4).await?;
        conn.execute_unprepared(UPSERT_TABLE).await?;
        let origin = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
        // Dropped on every way out of this block, which aborts the stages.
        let mut tasks = tokio::task::JoinSet::new();
        for (i, consumer) in relay.consumers.iter().cloned().enumerate() {
            let (js, next, conn, tx) = (js.clone(), relay.subject(i + 1), conn.clone(), tx.clone());
            tasks.spawn(async move {
                let messages = consumer
                    .stream()
                    .max_messages_per_batch(concurrency)
                    .expires(Duration::from_secs(5))
                    .messages()
                    .await?;
                messages
                    .for_each_concurrent(concurrency, |message| {
                        let (js, next, conn, tx) = (js.clone(), next.clone(), conn.clone(), tx.clone());
                        async move {
                            // Not acked on failure: redelivered after the ack wait, which the
                            // figures then show.
                            let Ok(message) = message else { return };
                            let (Some(published), Some(n)) = (word(&message.payload, 0), word(&message.payload, 1))
                            else {
                                return;
                            };
                            if upsert(&conn, format!("{n:036}"), STATE[i], i as u64 + 1).await.is_err() {
                                return;
                            }
                            if i + 1 < STAGES {
                                let published = match js.publish(next, message.payload.clone()).await {
                                    Ok(ack) => ack.await.is_ok(),
                                    Err(_) => false,
                                };
                                if published {
                                    let _ = message.ack().await;
                                }
                            } else {
                                let _ = tx.send((origin.elapsed().as_micros() as f64 - published as f64) / 1000.0);
                                let _ = message.ack().await;
                            }
                        }
                    })
                    .await;
                anyhow::Ok(())
            });
        }
        drop(tx);
        let count = ((rate * duration.as_secs_f64()).round() as usize).max(1);
        rig::publish_paced(&js, rate, count, |n| {
            let mut payload = (origin.elapsed().as_micros() as u64).to_le_bytes().to_vec();
            payload.extend_from_slice(&(n as u64).to_le_bytes());
            payload.extend_from_slice(body);
            (relay.subject(0), payload)
        })
        .await?;
        let mut latencies = Vec::with_capacity(count);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while latencies.len() < count {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(ms)) => latencies.push(ms),
                _ => bail!("the latency relay committed {} of {count} messages", latencies.len()),
            }
        }
        tasks.abort_all();
        conn.close().await.ok();
        anyhow::Ok(latencies)
    }
    .await
    .context("the latency baseline failed");
    relay.delete(&js).await;
    services.admin.drop_database(&name).await;
    result
}

/// The `index`th little-endian u64 of a latency relay message.
fn word(payload: &[u8], index: usize) -> Option<u64> {
    Some(u64::from_le_bytes(payload.get(index * 8..index * 8 + 8)?.try_into().ok()?))
}

/// The state each relay stage writes, as a pipeline's stages would.
const STATE: [&str; STAGES] = ["submitted", "validated", "normalized"];

const UPSERT_TABLE: &str = "CREATE TABLE bench_upsert (id text PRIMARY KEY, state text NOT NULL, attempts jsonb NOT NULL, updated_at timestamptz NOT NULL)";

/// One single-row upsert in its own transaction.
async fn upsert(conn: &DatabaseConnection, id: String, state: &str, attempt: u64) -> Result<()> {
    let txn = conn.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO bench_upsert (id, state, attempts, updated_at) VALUES ($1, $2, $3, now()) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, updated_at = excluded.updated_at",
        [id.into(), state.into(), serde_json::json!({ "relay": attempt }).into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Rows per second of single-row upserts, each in its own transaction, by `tasks`
/// concurrent writers on a 4-connection pool (docflow's default pool), in a database of
/// their own. Half the upserts insert, half update.
pub async fn upserts(services: &Services, rows: usize, tasks: usize) -> Result<f64> {
    let (name, url) = services.admin.fresh_database().await?;
    let result = async {
        let conn = pg::connect(&url, 4).await?;
        conn.execute_unprepared(UPSERT_TABLE).await?;
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
                    upsert(&conn, format!("{:036}", i % rows.div_ceil(2)), "submitted", (i % 3 + 1) as u64).await?;
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
