//! docflow's integration tests: real NATS, real PostgreSQL (or SQLite with
//! DOCFLOW_TEST_DB=sqlite), a real S3 server (s3s-fs) and the real provider-sim process.

mod admin;
mod dev;
mod pipeline;
mod secrets;
mod support;
mod transfer;
