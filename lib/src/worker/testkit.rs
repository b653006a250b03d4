//! The runtime's and topology's tests use the crate's test kit ([`crate::testkit`]).

pub use crate::testkit::nats::{OwnServer, SHARED_NATS, connect, delete_streams, nats_url};
pub use crate::testkit::{random_prefix, wait_for};

use crate::settings::Settings;

/// Settings with one provider, the given prefix and NATS url, and `extra` environment.
pub fn settings(url: &str, prefix: &str, extra: &[(&str, &str)]) -> Settings {
    crate::testkit::TestSettings::new().nats(url, prefix).with(extra).load()
}
