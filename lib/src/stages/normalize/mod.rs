//! The normalize stage: validated results become one canonical, versioned record.

pub mod record;
mod stage;

pub use stage::{Normalize, STAGE};
