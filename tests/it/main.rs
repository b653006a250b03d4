//! docflow's integration tests: real NATS, real PostgreSQL (or SQLite with
//! DOCFLOW_TEST_DB=sqlite), a real S3 server (s3s-fs) and the real provider-sim process.

mod admin;
mod boundary;
mod deploy_nats;
mod dev;
mod faults;
mod forget;
mod isolation;
mod mail;
mod ops;
mod pipeline;
mod restart;
mod secrets;
mod security;
mod settings;
mod support;
mod trace;
mod transfer;
