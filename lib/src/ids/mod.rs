//! Identities parsed once at the edge, so no stage re-checks them.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod stage;

pub use stage::{StageId, UnknownStage};

/// The namespace of document ids (UUIDv5 of `bucket/key` plus the object's version).
const DOCUMENT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a8e_3b4d_4c5e_9f60_7a8b_9c0d_1e2f);

/// A document's id: UUIDv5 of `bucket/key` and the object's version id (or its ETag when
/// the bucket is unversioned). The same upload notified twice is one document; a
/// re-upload under the same key is a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocumentId(pub Uuid);

impl DocumentId {
    pub fn derive(bucket: &str, key: &str, version: &ObjectVersion) -> DocumentId {
        let name = format!("{bucket}/{key}\n{}", version.as_identity());
        DocumentId(Uuid::new_v5(&DOCUMENT_NAMESPACE, name.as_bytes()))
    }

    /// The submission id sent as `Idempotency-Key`: the same on every retry of one
    /// document's submission to one provider.
    pub fn submission_id(&self, provider: &str) -> Uuid {
        self.submission_id_for_round(provider, 0)
    }

    /// The submission id of one submission round: a restarted document (replay, `docflow
    /// retry`, a new notification) is submitted anew under a new key; within a round every
    /// retry carries the same one. Round 0 keeps the key documents had before rounds existed.
    pub fn submission_id_for_round(&self, provider: &str, round: u32) -> Uuid {
        match round {
            0 => Uuid::new_v5(&self.0, format!("submission/{provider}").as_bytes()),
            n => Uuid::new_v5(&self.0, format!("submission/{provider}/round/{n}").as_bytes()),
        }
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for DocumentId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(DocumentId)
    }
}

/// Text that names something docflow does not choose, kept as it came: a type of its own
/// so one kind of id is never passed for another, the same text on the wire
/// (`#[serde(transparent)]`: JSON bodies and NATS messages are unchanged) and in the
/// database (the db layer converts its text columns in its row mapping). `Debug` is the
/// text's own (`"job_c5c1"`), so errors and logs that print one with `{:?}` read as before.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_id! {
    /// The provider's id of a submitted job (`job_c5c1...`): opaque text the provider
    /// chooses, answered to a submission and echoed in its callbacks and status.
    JobId
}

text_id! {
    /// Who uploaded a document (`teacher-8`): the first segment of its object key, and
    /// the id a signed-in teacher uploads and reads as in the web interface.
    UploaderId
}

/// What tells one upload of a key from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectVersion {
    VersionId(String),
    ETag(String),
}

impl ObjectVersion {
    pub fn new(version_id: Option<&str>, etag: Option<&str>) -> ObjectVersion {
        match version_id.filter(|v| !v.is_empty() && *v != "null") {
            Some(v) => ObjectVersion::VersionId(v.to_owned()),
            None => ObjectVersion::ETag(etag.unwrap_or_default().trim_matches('"').to_owned()),
        }
    }

    fn as_identity(&self) -> String {
        match self {
            ObjectVersion::VersionId(v) => format!("version:{v}"),
            ObjectVersion::ETag(e) => format!("etag:{e}"),
        }
    }
}

/// A document's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Document,
    Video,
}

const VIDEO_EXTENSIONS: [&str; 10] = ["mp4", "mov", "m4v", "mkv", "webm", "avi", "mpeg", "mpg", "wmv", "3gp"];

impl Kind {
    /// The object's `kind` metadata when set, else `video` for `video/*` content types or
    /// video file extensions, else `document`.
    pub fn infer(metadata_kind: Option<&str>, content_type: Option<&str>, key: &str) -> Kind {
        match metadata_kind.map(|k| k.trim().to_ascii_lowercase()) {
            Some(k) if k == "video" => return Kind::Video,
            Some(k) if k == "document" => return Kind::Document,
            _ => {}
        }
        if content_type.is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("video/")) {
            return Kind::Video;
        }
        let extension = key.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
        if extension.is_some_and(|ext| VIDEO_EXTENSIONS.contains(&ext.as_str())) {
            return Kind::Video;
        }
        Kind::Document
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Document => "document",
            Kind::Video => "video",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "document" => Ok(Kind::Document),
            "video" => Ok(Kind::Video),
            other => Err(format!("unknown kind {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_upload_is_one_document_and_a_reupload_another() {
        let a = DocumentId::derive("uploads", "t/x.pdf", &ObjectVersion::new(None, Some("\"abc\"")));
        let b = DocumentId::derive("uploads", "t/x.pdf", &ObjectVersion::new(None, Some("abc")));
        let c = DocumentId::derive("uploads", "t/x.pdf", &ObjectVersion::new(None, Some("abd")));
        let d = DocumentId::derive("uploads", "t/x.pdf", &ObjectVersion::new(Some("v1"), Some("abc")));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn each_submission_round_has_its_own_key_and_round_zero_keeps_the_old_one() {
        let id = DocumentId::derive("uploads", "t/x.pdf", &ObjectVersion::new(None, Some("abc")));
        assert_eq!(id.submission_id("sim"), id.submission_id_for_round("sim", 0));
        assert_eq!(id.submission_id("sim"), Uuid::new_v5(&id.0, b"submission/sim"));
        let keys: std::collections::BTreeSet<Uuid> = (0..4).map(|r| id.submission_id_for_round("sim", r)).collect();
        assert_eq!(keys.len(), 4, "every round has its own key");
        assert_eq!(id.submission_id_for_round("sim", 2), id.submission_id_for_round("sim", 2));
        assert_ne!(id.submission_id_for_round("sim", 1), id.submission_id_for_round("other", 1));
    }

    #[test]
    fn job_and_uploader_ids_are_their_text_unchanged_on_the_wire() {
        let job: JobId = serde_json::from_str(r#""job_c5c1""#).unwrap();
        assert_eq!(job, "job_c5c1");
        assert_eq!((job.as_str(), job.to_string()), ("job_c5c1", "job_c5c1".to_owned()));
        assert_eq!(serde_json::to_string(&job).unwrap(), r#""job_c5c1""#);
        assert_eq!(format!("{job:?}"), r#""job_c5c1""#);
        let uploader = UploaderId::from("teacher-8");
        assert_eq!(serde_json::to_string(&uploader).unwrap(), r#""teacher-8""#);
        assert_eq!(serde_json::from_str::<UploaderId>(r#""teacher-8""#).unwrap(), uploader);
    }

    #[test]
    fn kind_comes_from_metadata_then_content_type_then_extension() {
        assert_eq!(Kind::infer(Some("video"), Some("application/pdf"), "a.pdf"), Kind::Video);
        assert_eq!(Kind::infer(None, Some("video/quicktime"), "a.bin"), Kind::Video);
        assert_eq!(Kind::infer(None, Some("application/octet-stream"), "a.MOV"), Kind::Video);
        assert_eq!(Kind::infer(None, None, "plan.docx"), Kind::Document);
    }
}
