//! MinIO's bucket notification payload (`event.Log`), exactly as its NATS and webhook
//! targets send it: top-level `EventName`, `Key`, `Records`. Parsed here once; the
//! transfer stage sees [`Upload`]s only.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, Kind, ObjectVersion};

/// The event names that create content; every other event is acknowledged and ignored.
pub const CREATING_EVENTS: [&str; 4] = [
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventLog {
    pub event_name: String,
    pub key: String,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub event_version: String,
    pub event_source: String,
    pub aws_region: String,
    pub event_time: String,
    pub event_name: String,
    pub user_identity: Identity,
    pub request_parameters: BTreeMap<String, String>,
    pub response_elements: BTreeMap<String, String>,
    pub s3: S3,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub principal_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3 {
    pub s3_schema_version: String,
    pub configuration_id: String,
    pub bucket: Bucket,
    pub object: Object,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub name: String,
    pub owner_identity: Identity,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// Escaped as Go's `url.QueryEscape` escapes it.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub sequencer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub host: String,
    pub port: String,
    pub user_agent: String,
}

/// An upload that starts work: one creating record of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub event_name: String,
    pub bucket: String,
    /// Unescaped object name.
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub content_type: Option<String>,
    /// User metadata with lowercase keys and the `x-amz-meta-` prefix removed.
    pub metadata: BTreeMap<String, String>,
}

impl Upload {
    pub fn document_id(&self) -> DocumentId {
        let version = ObjectVersion::new(self.version_id.as_deref(), self.etag.as_deref());
        DocumentId::derive(&self.bucket, &self.key, &version)
    }

    /// The first path segment: the teacher's or trainee's id.
    pub fn uploader_id(&self) -> &str {
        self.key.split('/').next().unwrap_or_default()
    }

    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }

    pub fn kind(&self) -> Kind {
        Kind::infer(self.metadata.get("kind").map(String::as_str), self.content_type.as_deref(), &self.key)
    }

    /// The provider the object's metadata names, if any.
    pub fn requested_provider(&self) -> Option<&str> {
        self.metadata.get("provider").map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not a MinIO event: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("object key {0:?} is not valid percent-encoded UTF-8")]
    BadKey(String),
}

/// Parses a notification body into the uploads it announces; records that create no
/// content (deletes, tagging, retention, ...) are left out.
pub fn parse(body: &[u8]) -> Result<Vec<Upload>, EventError> {
    let log: EventLog = serde_json::from_slice(body)?;
    let mut uploads = Vec::new();
    for record in log.records {
        if !CREATING_EVENTS.contains(&record.event_name.as_str()) {
            continue;
        }
        let object = record.s3.object;
        let key = query_unescape(&object.key).ok_or_else(|| EventError::BadKey(object.key.clone()))?;
        let metadata = object
            .user_metadata
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| {
                let k = k.to_ascii_lowercase();
                k.strip_prefix("x-amz-meta-").map(|name| (name.to_owned(), v))
            })
            .collect();
        uploads.push(Upload {
            event_name: record.event_name,
            bucket: record.s3.bucket.name,
            key,
            size: object.size.unwrap_or_default(),
            etag: object.e_tag,
            version_id: object.version_id,
            content_type: object.content_type,
            metadata,
        });
    }
    Ok(uploads)
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
pub fn query_unescape(escaped: &str) -> Option<String> {
    let spaced = escaped.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8().ok().map(|s| s.into_owned())
}

/// Everything but `A-Za-z0-9-_.~` is escaped, as Go's `url.QueryEscape` does.
const QUERY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Go's `url.QueryEscape`: space becomes `+`, the rest as [`QUERY_ESCAPE`].
pub fn query_escape(raw: &str) -> String {
    raw.split(' ').map(|part| utf8_percent_encode(part, QUERY_ESCAPE).to_string()).collect::<Vec<_>>().join("+")
}

/// What a store knows of a new object, to build the event MinIO would send for it.
#[derive(Debug, Clone)]
pub struct CreatedObject<'a> {
    pub event_name: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
    pub etag: &'a str,
    pub content_type: &'a str,
    /// `X-Amz-Meta-*` headers, canonicalised (`X-Amz-Meta-Kind`).
    pub user_metadata: BTreeMap<String, String>,
    pub version_id: Option<&'a str>,
    pub principal_id: &'a str,
    pub source_ip: &'a str,
    pub user_agent: &'a str,
    pub request_id: &'a str,
    pub event_time: chrono::DateTime<chrono::Utc>,
}

/// Builds the `event.Log` MinIO's NATS target publishes for a created object, field for
/// field (the fixtures under `tests/fixtures/minio` are the reference).
pub fn created_event(o: &CreatedObject<'_>) -> EventLog {
    let identity = || Identity { principal_id: o.principal_id.to_owned() };
    let mut metadata = o.user_metadata.clone();
    metadata.insert("content-type".into(), o.content_type.to_owned());
    let mut response = BTreeMap::new();
    if o.event_name.ends_with("CompleteMultipartUpload") {
        response.insert("content-length".into(), "351".into());
    }
    response.insert("x-amz-id-2".into(), "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8".into());
    response.insert("x-amz-request-id".into(), o.request_id.to_owned());
    response.insert("x-minio-deployment-id".into(), "00000000-0000-0000-0000-000000000000".into());
    response.insert("x-minio-origin-endpoint".into(), String::new());
    let nanos = o.event_time.timestamp_nanos_opt().unwrap_or_default();
    EventLog {
        event_name: o.event_name.to_owned(),
        key: format!("{}/{}", o.bucket, o.key),
        records: vec![Record {
            event_version: "2.0".into(),
            event_source: "minio:s3".into(),
            aws_region: String::new(),
            event_time: o.event_time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            event_name: o.event_name.to_owned(),
            user_identity: identity(),
            request_parameters: BTreeMap::from([
                ("principalId".into(), o.principal_id.to_owned()),
                ("region".into(), String::new()),
                ("sourceIPAddress".into(), o.source_ip.to_owned()),
            ]),
            response_elements: response,
            s3: S3 {
                s3_schema_version: "1.0".into(),
                configuration_id: "Config".into(),
                bucket: Bucket {
                    name: o.bucket.to_owned(),
                    owner_identity: identity(),
                    arn: format!("arn:aws:s3:::{}", o.bucket),
                },
                object: Object {
                    key: query_escape(o.key),
                    size: Some(o.size),
                    e_tag: Some(o.etag.trim_matches('"').to_owned()),
                    content_type: Some(o.content_type.to_owned()),
                    user_metadata: Some(metadata),
                    version_id: o.version_id.map(str::to_owned),
                    sequencer: format!("{nanos:X}"),
                },
            },
            source: Source { host: o.source_ip.to_owned(), port: String::new(), user_agent: o.user_agent.to_owned() },
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/fixtures/minio/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const FIXTURES: [&str; 6] = [
        "put-document.json",
        "multipart-video-versioned.json",
        "put-unicode-plus-percent.json",
        "copy-video-no-kind-metadata.json",
        "delete-ignored.json",
        "put-tagging-ignored.json",
    ];

    #[test]
    fn a_put_of_a_lesson_plan_is_one_document_upload() {
        let uploads = parse(&fixture("put-document.json")).unwrap();
        assert_eq!(uploads.len(), 1);
        let u = &uploads[0];
        assert_eq!(u.key, "teacher-42/week3/lesson plan.docx");
        assert_eq!(u.uploader_id(), "teacher-42");
        assert_eq!(u.file_name(), "lesson plan.docx");
        assert_eq!(u.kind(), Kind::Document);
        assert_eq!(u.size, 48213);
        assert_eq!(u.metadata.get("kind").map(String::as_str), Some("document"));
    }

    #[test]
    fn a_multipart_video_keeps_its_version() {
        let u = &parse(&fixture("multipart-video-versioned.json")).unwrap()[0];
        assert_eq!(u.key, "trainee-7/observations/clip 01.mp4");
        assert_eq!(u.kind(), Kind::Video);
        assert_eq!(u.version_id.as_deref(), Some("3e8a6b8d-0a0e-4c1f-9c55-5f9c5f0f2b11"));
        assert!(u.etag.as_deref().unwrap().ends_with("-3"));
    }

    #[test]
    fn unicode_plus_and_percent_are_unescaped_as_go_escapes_them() {
        let u = &parse(&fixture("put-unicode-plus-percent.json")).unwrap()[0];
        assert_eq!(u.key, "teacher-9/Plan de leçon + notes 100%.pdf");
        assert_eq!(query_escape(&u.key), "teacher-9%2FPlan+de+le%C3%A7on+%2B+notes+100%25.pdf");
    }

    #[test]
    fn a_copy_without_kind_metadata_is_a_video_by_its_content_type() {
        let u = &parse(&fixture("copy-video-no-kind-metadata.json")).unwrap()[0];
        assert_eq!(u.kind(), Kind::Video);
    }

    #[test]
    fn deletes_and_tagging_start_no_work() {
        assert!(parse(&fixture("delete-ignored.json")).unwrap().is_empty());
        assert!(parse(&fixture("put-tagging-ignored.json")).unwrap().is_empty());
    }

    #[test]
    fn every_fixture_round_trips_through_the_model_unchanged() {
        for name in FIXTURES {
            let raw: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
            let log: EventLog = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(serde_json::to_value(&log).unwrap(), raw, "{name}");
        }
    }

    #[test]
    fn a_built_event_has_the_fixture_shape() {
        let raw: serde_json::Value = serde_json::from_slice(&fixture("put-document.json")).unwrap();
        let built = created_event(&CreatedObject {
            event_name: "s3:ObjectCreated:Put",
            bucket: "uploads",
            key: "teacher-42/week3/lesson plan.docx",
            size: 48213,
            etag: "f1671feacb8bbf7b0397c6e9364e8c92",
            content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            user_metadata: BTreeMap::from([("X-Amz-Meta-Kind".into(), "document".into())]),
            version_id: None,
            principal_id: "minioadmin",
            source_ip: "172.18.0.1",
            user_agent: "x",
            request_id: "185E0F8C2B9A7D41",
            event_time: chrono::Utc::now(),
        });
        let built = serde_json::to_value(&built).unwrap();
        let (a, b) = (&built["Records"][0]["s3"]["object"], &raw["Records"][0]["s3"]["object"]);
        for field in ["key", "size", "eTag", "contentType", "userMetadata"] {
            assert_eq!(a[field], b[field], "{field}");
        }
        assert_eq!(built["Key"], raw["Key"]);
        assert_eq!(shape(&built), shape(&raw));
    }

    /// The JSON's keys, recursively, without values.
    fn shape(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
            serde_json::Value::Array(a) => a.iter().map(shape).collect(),
            _ => serde_json::Value::Null,
        }
    }

    #[test]
    fn garbage_is_a_malformed_event() {
        assert!(matches!(parse(b"{\"nope\":1}"), Err(EventError::Malformed(_))));
    }
}
