//! docflow: files go through an outside processing service and come back checked and
//! normalized. MinIO bucket notifications land in NATS JetStream; independent stages pull
//! from durable consumers; results are stored through SeaORM.

pub mod admin;
pub mod app;
pub mod db;
/// `docflow dev`: the `dev` feature (on in the shipped binary).
#[cfg(feature = "dev")]
pub mod dev;
pub mod evaluator;
pub mod events;
pub mod extract;
pub mod forget;
pub mod gateway;
pub mod ids;
pub mod lifecycle;
pub mod mail;
pub mod messages;
pub mod metrics;
pub mod nats;
pub mod ops;
pub mod provider;
pub mod redact;
pub mod review;
pub mod settings;
pub mod stages;
pub mod storage;
pub mod telemetry;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod topology;
pub mod web;
pub mod worker;
pub mod writable;
