//! The pipeline's stages, one folder each: settings-free structs that own their clients
//! and one step function per message (see `crate::worker`).

pub mod normalize;
pub mod transfer;
pub mod validate;
pub mod watchdog;
