//! The pipeline's stages, one folder each: structs that own their clients (behind the
//! narrow traits of [`ports`]) and the settings they read, with one step function per
//! message (see `crate::worker`). A stage's [`StageId`] selects its `[stages.NAME]`
//! settings, its durable consumer and its dead-letter subject.

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod memory;
pub mod normalize;
pub mod ports;
#[cfg(test)]
mod read_only_tests;
pub mod transfer;
pub mod validate;
pub mod watchdog;

/// A stage's identity lives below the stages, the worker runtime and the topology (`crate::ids`).
pub use crate::ids::{StageId, UnknownStage};
