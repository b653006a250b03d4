//! The test kit: what the tests of this crate, the integration tests (tests/it) and the
//! bench share to start servers and processes, build settings and wait on conditions.
//! Compiled for this crate's tests and with the `testkit` feature, which only
//! dev-dependencies and the bench turn on: never part of the shipped binary.
//!
//! - [`nats`]: the shared NATS (127.0.0.1:4222 or `DOCFLOW_TEST_NATS_URL`), a prefix per
//!   test, and nats-servers of a test's own ([`nats::OwnServer`], started by the one
//!   starter, [`crate::dev::nats_server`]).
//! - [`wait_for`] / [`try_wait_for`]: poll a condition until a deadline, never a sleep.
//! - [`TestSettings`]: the settings every test starts from (one provider, `sim`).
//! - [`Process`]: a child process with its output in a log file, killed on drop.
//! - [`crate::db::testing`]: a PostgreSQL database per test.

pub mod nats;
mod procs;
#[cfg(test)]
pub(crate) mod servers;
mod settings;
mod wait;

pub use crate::db::testing::{drop_postgres, fresh_postgres_url};
pub use nats::{OwnServer, SHARED_NATS, connect, delete_streams, nats_url};
pub use procs::{Launch, Process, ProcessError, s3s_fs, s3s_fs_binary, wait_for_port};
pub use settings::TestSettings;
pub use wait::{try_wait_for, wait_for};

/// A free loopback port for a server another process binds a moment later (see
/// [`crate::dev::ports`]); servers that can report their own port are better started on
/// port 0 or `-1`.
pub fn free_port() -> u16 {
    crate::dev::ports::unused_local_port().expect("a free loopback port")
}

/// `t` and ten random hex digits: a stream prefix, bucket or database suffix of one test.
pub fn random_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Settings with one provider, the given prefix and NATS url, and `extra` environment.
pub fn settings(url: &str, prefix: &str, extra: &[(&str, &str)]) -> crate::settings::Settings {
    TestSettings::new().nats(url, prefix).with(extra).load()
}
