//! A document's lifecycle: its states, the guarded transitions between them, and why a
//! document stopped. See `design.md` beside this file.

pub mod cause;
pub mod transition;

pub use cause::{FailureCause, NextStep};
pub use transition::{By, Guard, Transition};
