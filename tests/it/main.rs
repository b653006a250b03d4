//! docflow's integration tests: real NATS, real PostgreSQL (or SQLite with
//! DOCFLOW_TEST_DB=sqlite), a real S3 server (s3s-fs) and the real provider-sim process.

mod dev;
mod isolation;
mod pipeline;
mod support;
mod transfer;
