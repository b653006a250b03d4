//! A stage's identity: its name, the durable consumer it pulls from, the stream that
//! consumer reads, its dead-letter subject and its `[stages.NAME]` settings. The only
//! place a stage's name is written; everything else asks a [`StageId`]. It lives here, below
//! the stages, the worker runtime and the topology, which all need it.

use std::fmt;
use std::str::FromStr;

use crate::nats::Names;
use crate::settings::{StageSettings, StagesSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageId {
    Transfer,
    Validate,
    Normalize,
    Watchdog,
    /// Not a pipeline stage but run like one: the teacher's e-mails (`crate::mail`).
    Mail,
    /// Not a pipeline stage: erasure requests (`crate::forget`), run by the same runtime.
    Forget,
}

impl StageId {
    /// Every stage, in pipeline order.
    pub const ALL: [StageId; 6] =
        [StageId::Transfer, StageId::Validate, StageId::Normalize, StageId::Watchdog, StageId::Mail, StageId::Forget];

    /// The name of its settings (`[stages.NAME]`), consumer, dead letters and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            StageId::Transfer => "transfer",
            StageId::Validate => "validate",
            StageId::Normalize => "normalize",
            StageId::Watchdog => "watchdog",
            StageId::Mail => "mail",
            StageId::Forget => "forget",
        }
    }

    /// The short name of the stream its consumer reads; the full name is
    /// `Names::stream(short)` (`DOCFLOW_UPLOADS` for `uploads`).
    pub const fn stream(self) -> &'static str {
        match self {
            StageId::Transfer => "uploads",
            StageId::Validate => "callbacks",
            StageId::Normalize => "normalize",
            StageId::Watchdog => "watch",
            StageId::Mail => "notify",
            StageId::Forget => "forget",
        }
    }

    /// Its durable consumer, named after the stage (`nats/consumers/*.json`).
    pub const fn consumer(self) -> &'static str {
        self.as_str()
    }

    /// Where its dead letters go: `{prefix}.dead.{stage}`.
    pub fn dead_subject(self, names: &Names) -> String {
        names.dead_subject(self.as_str())
    }

    /// Its `[stages.NAME]` settings.
    pub fn settings(self, stages: &StagesSettings) -> &StageSettings {
        match self {
            StageId::Transfer => &stages.transfer,
            StageId::Validate => &stages.validate,
            StageId::Normalize => &stages.normalize,
            StageId::Watchdog => &stages.watchdog,
            StageId::Mail => &stages.mail,
            StageId::Forget => &stages.forget,
        }
    }

    /// `transfer, validate, normalize, watchdog, mail, forget`: for messages that list the stages.
    pub fn listed() -> String {
        StageId::ALL.map(StageId::as_str).join(", ")
    }
}

impl fmt::Display for StageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no stage's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a stage; the stages are {}", StageId::listed())]
pub struct UnknownStage {
    pub name: String,
}

impl FromStr for StageId {
    type Err = UnknownStage;
    fn from_str(name: &str) -> Result<StageId, UnknownStage> {
        StageId::ALL.into_iter().find(|id| id.as_str() == name).ok_or_else(|| UnknownStage { name: name.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_parses_from_its_name() {
        for id in StageId::ALL {
            assert_eq!(id.as_str().parse::<StageId>(), Ok(id));
            assert_eq!(id.consumer(), id.as_str());
        }
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_valid_ones() {
        let error = "transfr".parse::<StageId>().unwrap_err().to_string();
        assert_eq!(
            error,
            "\"transfr\" is not a stage; the stages are transfer, validate, normalize, watchdog, mail, forget"
        );
    }

    #[test]
    fn a_stage_knows_its_stream_and_dead_letter_subject() {
        let names = Names::new("docflow");
        assert_eq!(names.stream(StageId::Validate.stream()), "DOCFLOW_CALLBACKS");
        assert_eq!(StageId::Watchdog.dead_subject(&names), "docflow.dead.watchdog");
    }
}
