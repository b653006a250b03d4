//! The validate stage: see `design.md`.

pub mod checks;
pub mod fetch;
mod stage;

pub use stage::{STAGE, Validate};
