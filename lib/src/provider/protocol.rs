//! The wire types of `docs/provider-protocol.md` v2 (v1 with optional finding offsets).
//! Both docflow (client, callback gateway, validation) and the simulator (server)
//! serialize through these, so the two sides cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, JobId, Kind};

/// Section 1: the submission's metadata; the `metadata` part in `upload` mode, the whole
/// JSON body (with `source_url`) in `url` mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMetadata {
    /// docflow's document id (a UUID); the provider echoes it in callbacks.
    pub reference: String,
    pub kind: Kind,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub callback_url: String,
    /// `url` mode only: a presigned GET URL of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
}

/// Section 1: the answer to an accepted (201/202) or repeated (200) submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAccepted {
    pub job_id: JobId,
}

/// Section 2: where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Processing,
    Completed,
    Failed,
}

impl JobState {
    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Processing => "processing",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
}

/// Section 2: `GET /v1/jobs/{job_id}`. A `completed` or `failed` job also carries the
/// fields of its callback, so a lost callback can be recovered with [`JobStatus::into_callback`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job_id: JobId,
    pub status: JobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProviderError>,
}

impl JobStatus {
    /// The callback a final job stands for; `None` while the job is not final or when the
    /// provider left out a field a callback needs (or its reference is no document id).
    pub fn into_callback(self) -> Option<Callback> {
        let status = match self.status {
            JobState::Completed => CallbackStatus::Completed,
            JobState::Failed => CallbackStatus::Failed,
            JobState::Queued | JobState::Processing => return None,
        };
        Some(Callback {
            event_id: self.event_id?,
            job_id: self.job_id,
            reference: self.reference?.parse().ok()?,
            status,
            completed_at: self.completed_at?,
            results: self.results,
            error: self.error,
        })
    }
}

/// Section 3: how a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackStatus {
    Completed,
    Failed,
}

/// Section 3: the body the provider posts to `/v1/callbacks/{provider}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    /// Unique per event: the gateway and the validation stage deduplicate on it.
    pub event_id: String,
    pub job_id: JobId,
    /// docflow's document id, as sent in [`JobMetadata::reference`]: parsed once, with the
    /// callback (a reference that is not a UUID fails the callback's schema).
    pub reference: DocumentId,
    pub status: CallbackStatus,
    pub completed_at: DateTime<Utc>,
    #[serde(default)]
    pub results: Vec<ResultFile>,
    /// Set on a `failed` job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProviderError>,
}

/// Why the provider failed a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: String,
    pub message: String,
}

/// One result file of a completed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultFile {
    pub role: Role,
    pub name: String,
    pub url: String,
    /// 64 lowercase hex digits; checked by the validation stage while it downloads.
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
}

/// The result roles of section 3. An unknown role fails the callback's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Corrected,
    Findings,
    Transcript,
    Summary,
    Rendition,
    Thumbnail,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Corrected => "corrected",
            Role::Findings => "findings",
            Role::Transcript => "transcript",
            Role::Summary => "summary",
            Role::Rendition => "rendition",
            Role::Thumbnail => "thumbnail",
        }
    }

    /// The roles a completed job of `kind` must deliver (section 4).
    pub fn required_for(kind: Kind) -> &'static [Role] {
        match kind {
            Kind::Document => &[Role::Corrected, Role::Findings],
            Kind::Video => &[Role::Transcript, Role::Summary],
        }
    }

    /// The roles a completed job of `kind` may deliver (section 4).
    pub fn known_for(kind: Kind) -> &'static [Role] {
        match kind {
            Kind::Document => &[Role::Corrected, Role::Findings],
            Kind::Video => &[Role::Transcript, Role::Summary, Role::Rendition, Role::Thumbnail],
        }
    }

    /// Whether the role's content is parsed and checked against a schema (JSON, WebVTT),
    /// rather than only its size, digest and magic bytes.
    pub fn has_checked_content(self) -> bool {
        matches!(self, Role::Findings | Role::Summary | Role::Transcript)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role that is none of section 3's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a result role (corrected, findings, transcript, summary, rendition, thumbnail)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(name: &str) -> Result<Role, UnknownRole> {
        const ALL: [Role; 6] =
            [Role::Corrected, Role::Findings, Role::Transcript, Role::Summary, Role::Rendition, Role::Thumbnail];
        ALL.into_iter().find(|role| role.as_str() == name).ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

/// The `findings` result (role of a document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    pub findings: Vec<Finding>,
    pub word_count: u64,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub category: FindingCategory,
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingCategory {
    Spelling,
    Grammar,
    Style,
    Clarity,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Minor,
    Major,
}

/// Where a finding is; a format without pages or paragraphs leaves them out.
/// Protocol version 2 adds `start` and `end`: the flagged words' character offsets
/// (Unicode scalar values, `end` exclusive) in the upload's text as
/// [`crate::extract::text_of`] reads it. Both or neither; a version 1 provider sends
/// neither, and the finding is placed by its excerpt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
}

/// The `summary` result (role of a video).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub duration_seconds: f64,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speakers: Option<u32>,
    #[serde(default)]
    pub chapters: Vec<Chapter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chapter {
    pub start: f64,
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_callback_of_the_protocol_parses() {
        let body = r#"{
          "event_id": "evt_01HZX3K8Q2", "job_id": "job_7f3c",
          "reference": "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b", "status": "completed",
          "completed_at": "2026-11-24T10:15:00Z",
          "results": [
            {"role": "corrected", "name": "lesson plan week 3.corrected.docx",
             "url": "https://files.provider.example/r/abc", "sha256": "00", "size": 49102,
             "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
            {"role": "findings", "name": "findings.json", "url": "https://files.provider.example/r/abd",
             "sha256": "00", "size": 2210, "content_type": "application/json"}
          ]
        }"#;
        let callback: Callback = serde_json::from_str(body).unwrap();
        assert_eq!(callback.status, CallbackStatus::Completed);
        assert_eq!(callback.results[1].role, Role::Findings);
        assert!(callback.error.is_none());
    }

    #[test]
    fn a_final_job_status_is_a_callback_and_a_queued_one_is_not() {
        let status: JobStatus = serde_json::from_str(
            r#"{"job_id":"j","status":"failed","event_id":"evt_j","reference":"5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b",
                "completed_at":"2026-11-24T10:15:00Z","error":{"code":"unsupported_media","message":"no"}}"#,
        )
        .unwrap();
        let callback = status.into_callback().unwrap();
        assert_eq!(callback.status, CallbackStatus::Failed);
        assert_eq!(callback.error.unwrap().code, "unsupported_media");
        let queued: JobStatus = serde_json::from_str(r#"{"job_id":"j","status":"queued"}"#).unwrap();
        assert!(queued.into_callback().is_none());
    }

    #[test]
    fn metadata_leaves_out_an_absent_source_url() {
        let meta = JobMetadata {
            reference: "r".into(),
            kind: Kind::Video,
            file_name: "a.mp4".into(),
            content_type: "video/mp4".into(),
            size: 3,
            callback_url: "http://x/v1/callbacks/sim".into(),
            source_url: None,
        };
        let json = serde_json::to_value(&meta).unwrap();
        assert_eq!(json["kind"], "video");
        assert!(json.get("source_url").is_none());
    }

    #[test]
    fn a_role_is_its_name_in_json_and_in_the_database() {
        for name in ["corrected", "findings", "transcript", "summary", "rendition", "thumbnail"] {
            let role: Role = name.parse().unwrap();
            assert_eq!(role.as_str(), name);
            assert_eq!(serde_json::to_value(role).unwrap(), name);
        }
        assert_eq!("poem".parse::<Role>(), Err(UnknownRole("poem".into())));
        for kind in [Kind::Document, Kind::Video] {
            assert!(Role::required_for(kind).iter().all(|r| Role::known_for(kind).contains(r)));
        }
    }

    #[test]
    fn a_callback_whose_reference_is_no_document_id_fails_its_schema() {
        let callback = r#"{"event_id": "e", "job_id": "j", "reference": "plan.txt", "status": "failed",
            "completed_at": "2026-11-24T10:15:00Z"}"#;
        assert!(serde_json::from_str::<Callback>(callback).is_err());
        let status: JobStatus = serde_json::from_str(
            r#"{"job_id":"j","status":"failed","event_id":"e","reference":"plan.txt","completed_at":"2026-11-24T10:15:00Z"}"#,
        )
        .unwrap();
        assert_eq!(status.into_callback(), None, "no callback stands for it");
    }
}
