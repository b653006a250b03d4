//! The pipeline's stages, one folder each: structs that own their clients and the settings
//! they read, with one step function per message (see `crate::worker`). A stage's name
//! selects its `[stages.NAME]` settings, its durable consumer and its dead-letter subject.

pub mod normalize;
pub mod transfer;
pub mod validate;
pub mod watchdog;
