//! Why a document stopped: the cause the stage that decided it stores with the `failed` or
//! `rejected` transition. The words people read are built from it (the web pages, the
//! e-mail to the teacher); the stage where it stopped and the reason string are detail.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who can do something about a stopped document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    /// The uploader: the file itself is the problem, a new version is the fix.
    UploadNewVersion,
    /// Staff (an evaluator, an operator): the cause is docflow's or the provider's, and the
    /// same file restarted (`docflow retry`, or Retry on the page) may well go through.
    Retry,
}

/// The cause of a `failed` or `rejected` document, chosen by the stage that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    /// Pre-flight refused the upload before it reached the provider: empty, not the kind
    /// it claims to be, too large, active content. The reason is worded for the uploader.
    FileRefused,
    /// The upload could not be read from the store for good (deleted, access denied).
    UploadUnreadable,
    /// The provider accepted the job and then reported that it failed (its error code and
    /// message are the reason).
    ProviderFailedJob,
    /// The provider refused the submission for good (a 4xx that is not about the file:
    /// an unknown key, a misconfiguration).
    SubmissionRefused,
    /// docflow could not hand the file to the provider within its attempts (network,
    /// 5xx, 429, an open circuit breaker).
    SubmissionGaveUp,
    /// The provider's results failed docflow's checks (size, SHA-256, content type,
    /// schema, a missing role): the file was fine, the results were not.
    ResultsInvalid,
    /// The results could not be fetched from the provider or stored within the attempts.
    ResultsUnavailable,
    /// No callback came within the provider's `callback_timeout` and the watchdog gave up.
    CallbackLost,
    /// The normalized record could not be built or stored within the attempts.
    NormalizeFailed,
    /// Stopped before causes were stored (rows from an older docflow).
    Unknown,
}

impl FailureCause {
    pub const ALL: [FailureCause; 10] = [
        FailureCause::FileRefused,
        FailureCause::UploadUnreadable,
        FailureCause::ProviderFailedJob,
        FailureCause::SubmissionRefused,
        FailureCause::SubmissionGaveUp,
        FailureCause::ResultsInvalid,
        FailureCause::ResultsUnavailable,
        FailureCause::CallbackLost,
        FailureCause::NormalizeFailed,
        FailureCause::Unknown,
    ];

    /// The stored and serialized name (`file_refused`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureCause::FileRefused => "file_refused",
            FailureCause::UploadUnreadable => "upload_unreadable",
            FailureCause::ProviderFailedJob => "provider_failed_job",
            FailureCause::SubmissionRefused => "submission_refused",
            FailureCause::SubmissionGaveUp => "submission_gave_up",
            FailureCause::ResultsInvalid => "results_invalid",
            FailureCause::ResultsUnavailable => "results_unavailable",
            FailureCause::CallbackLost => "callback_lost",
            FailureCause::NormalizeFailed => "normalize_failed",
            FailureCause::Unknown => "unknown",
        }
    }

    /// Who can act on it. A job the provider failed is the file's problem as far as anyone
    /// can tell (an unsupported or damaged file is what providers report), so the uploader
    /// acts; staff may still retry it.
    pub fn next_step(&self) -> NextStep {
        match self {
            FailureCause::FileRefused | FailureCause::UploadUnreadable | FailureCause::ProviderFailedJob => {
                NextStep::UploadNewVersion
            }
            FailureCause::SubmissionRefused
            | FailureCause::SubmissionGaveUp
            | FailureCause::ResultsInvalid
            | FailureCause::ResultsUnavailable
            | FailureCause::CallbackLost
            | FailureCause::NormalizeFailed
            | FailureCause::Unknown => NextStep::Retry,
        }
    }

    /// Whether an evaluator's Retry (the same restart as `docflow retry`) is offered: the
    /// cause is docflow's or the provider's, not the file's. A refused file restarted
    /// would be refused again by the same pre-flight.
    pub fn retry_may_help(&self) -> bool {
        !matches!(self, FailureCause::FileRefused | FailureCause::UploadUnreadable)
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown failure cause {0:?}")]
pub struct UnknownCause(pub String);

impl FromStr for FailureCause {
    type Err = UnknownCause;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FailureCause::ALL.into_iter().find(|cause| cause.as_str() == s).ok_or_else(|| UnknownCause(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_reads_back_from_its_stored_name_and_its_json() {
        for cause in FailureCause::ALL {
            assert_eq!(cause.as_str().parse::<FailureCause>().unwrap(), cause);
            let json = serde_json::to_string(&cause).unwrap();
            assert_eq!(json, format!("\"{}\"", cause.as_str()));
        }
        assert!("nonsense".parse::<FailureCause>().is_err());
    }

    #[test]
    fn a_refused_file_is_the_uploaders_to_fix_and_no_retry_is_offered() {
        assert_eq!(FailureCause::FileRefused.next_step(), NextStep::UploadNewVersion);
        assert!(!FailureCause::FileRefused.retry_may_help());
        assert_eq!(FailureCause::ResultsInvalid.next_step(), NextStep::Retry);
        assert!(FailureCause::ResultsInvalid.retry_may_help());
        assert!(FailureCause::CallbackLost.retry_may_help());
    }
}
