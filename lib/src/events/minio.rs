//! MinIO's bucket notification payload (`event.Log`), exactly as its NATS and webhook
//! targets send it: top-level `EventName`, `Key`, `Records`. Parsed here once; the
//! transfer stage sees [`Upload`]s only.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Boundary, ObjectKey, Refused};
use crate::ids::{DocumentId, Kind, ObjectVersion, UploaderId};

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

/// An upload that starts work: one creating record of an event, past the boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub event_name: String,
    pub bucket: String,
    /// Unescaped object name, checked against the key rules.
    pub key: ObjectKey,
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
    pub fn uploader_id(&self) -> UploaderId {
        self.key.uploader_id()
    }

    pub fn file_name(&self) -> &str {
        self.key.file_name()
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
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// True for the records that create content; every other is acknowledged and ignored.
pub fn is_creating(record: &Record) -> bool {
    CREATING_EVENTS.contains(&record.event_name.as_str())
}

/// Parses a notification body into the uploads it announces; records that create no
/// content (deletes, tagging, retention, ...) are left out. A creating record whose key
/// breaks the key rules fails the whole body: a stage goes record by record with
/// [`admit`] instead.
pub fn parse(body: &[u8]) -> Result<Vec<Upload>, EventError> {
    let log: EventLog = serde_json::from_slice(body)?;
    let mut uploads = Vec::new();
    for record in log.records.iter().filter(|r| is_creating(r)) {
        uploads.push(upload(record)?);
    }
    Ok(uploads)
}

/// One creating record through the trust boundary: the bucket first (a foreign record's
/// key is not even unescaped), then the key rules.
pub fn admit(record: &Record, boundary: &Boundary) -> Result<Upload, Refused> {
    boundary.admit_bucket(&record.s3.bucket.name)?;
    upload(record)
}

/// The record as an upload, if its key passes the rules (the bucket is not checked).
fn upload(record: &Record) -> Result<Upload, Refused> {
    let object = &record.s3.object;
    let key = ObjectKey::from_bytes(&query_unescape_bytes(&object.key)).map_err(|error| Refused::Key {
        bucket: record.s3.bucket.name.clone(),
        key: object.key.chars().take(200).collect(),
        error,
    })?;
    let metadata = object
        .user_metadata
        .iter()
        .flatten()
        .filter_map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            k.strip_prefix("x-amz-meta-").map(|name| (name.to_owned(), v.clone()))
        })
        .collect();
    Ok(Upload {
        event_name: record.event_name.clone(),
        bucket: record.s3.bucket.name.clone(),
        key,
        size: object.size.unwrap_or_default(),
        etag: object.e_tag.clone(),
        version_id: object.version_id.clone(),
        content_type: object.content_type.clone(),
        metadata,
    })
}

/// The `Nats-Msg-Id` of one record: `s3-` and the SHA-256 of what identifies the event
/// (event name, bucket, escaped key, version, ETag, sequencer). The same event delivered
/// twice has the same id; two uploads of one key differ by version, ETag or sequencer
/// (so a re-upload of the same bytes, same document, is not taken for a duplicate).
pub fn record_message_id(record: &Record) -> String {
    let mut hash = Sha256::new();
    let object = &record.s3.object;
    for part in [
        record.event_name.as_str(),
        record.s3.bucket.name.as_str(),
        object.key.as_str(),
        object.version_id.as_deref().unwrap_or_default(),
        object.e_tag.as_deref().unwrap_or_default(),
        object.sequencer.as_str(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    format!("s3-{}", hex::encode(hash.finalize()))
}

/// One creating record of a notification as a message of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Single {
    pub message_id: String,
    /// Set when the boundary admits the record: the document it will be.
    pub document_id: Option<DocumentId>,
    /// An `event.Log` holding this record only.
    pub body: Vec<u8>,
}

/// The creating records of `log`, one message each, so that each is accepted, refused
/// or retried on its own. Records that create no content are left out.
pub fn split(log: &EventLog, boundary: &Boundary) -> Vec<Single> {
    log.records
        .iter()
        .filter(|r| is_creating(r))
        .map(|record| {
            let name = String::from_utf8_lossy(&query_unescape_bytes(&record.s3.object.key)).into_owned();
            let single = EventLog {
                event_name: record.event_name.clone(),
                key: format!("{}/{name}", record.s3.bucket.name),
                records: vec![record.clone()],
            };
            Single {
                message_id: record_message_id(record),
                document_id: admit(record, boundary).ok().map(|u| u.document_id()),
                body: serde_json::to_vec(&single).expect("an event log serializes"),
            }
        })
        .collect()
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
pub fn query_unescape(escaped: &str) -> Option<String> {
    String::from_utf8(query_unescape_bytes(escaped)).ok()
}

/// [`query_unescape`] without the UTF-8 check: the bytes the key stands for.
pub fn query_unescape_bytes(escaped: &str) -> Vec<u8> {
    let spaced = escaped.replace('+', " ");
    percent_decode_str(&spaced).collect()
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

    fn record(bucket: &str, escaped_key: &str, etag: &str) -> Record {
        let mut log = created_event(&CreatedObject {
            event_name: "s3:ObjectCreated:Put",
            bucket,
            key: "placeholder/x",
            size: 10,
            etag,
            content_type: "text/plain",
            user_metadata: BTreeMap::new(),
            version_id: None,
            principal_id: "minioadmin",
            source_ip: "127.0.0.1",
            user_agent: "x",
            request_id: "1",
            event_time: chrono::Utc::now(),
        });
        log.records[0].s3.object.key = escaped_key.to_owned();
        log.records.remove(0)
    }

    fn boundary() -> Boundary {
        Boundary::new("uploads", "results")
    }

    #[test]
    fn a_record_in_the_uploads_bucket_with_a_good_key_is_admitted() {
        let upload = admit(&record("uploads", "teacher-1%2Fplan+1.txt", "e1"), &boundary()).unwrap();
        assert_eq!(upload.key, "teacher-1/plan 1.txt");
        assert_eq!(upload.uploader_id(), "teacher-1");
    }

    #[test]
    fn records_naming_another_bucket_are_refused_before_their_key_is_looked_at() {
        let refused = admit(&record("results", "teacher-1%2Fplan.txt", "e1"), &boundary()).unwrap_err();
        assert_eq!(refused.reason(), "results_bucket");
        // Even a key that breaks the rules is refused for its bucket first.
        let refused = admit(&record("secret-bucket", "..%2Fx", "e1"), &boundary()).unwrap_err();
        assert_eq!(refused.reason(), "foreign_bucket");
    }

    #[test]
    fn escaped_keys_that_break_the_rules_are_refused_with_the_rule() {
        let cases = [
            ("teacher-1%2F..%2Fresults%2Fx", "key_dot_segment"),
            ("teacher-1%2Fa%00b", "key_control_character"),
            ("teacher-1%2Fevil%E2%80%AEfdp.exe", "key_invisible_character"),
            ("teacher-1%2F%FF%FE", "key_not_utf8"),
            ("%2Fteacher-1%2Fa", "key_no_uploader"),
            ("teacher-1%2F%2Fa", "key_empty_segment"),
        ];
        for (escaped, reason) in cases {
            let refused = admit(&record("uploads", escaped, "e1"), &boundary()).unwrap_err();
            assert_eq!(refused.reason(), reason, "{escaped}");
            assert!(refused.to_string().contains(escaped), "the reason names the key: {refused}");
        }
        let long = "a%2F".to_owned() + &"b".repeat(1100);
        assert_eq!(admit(&record("uploads", &long, "e1"), &boundary()).unwrap_err().reason(), "key_too_long");
    }

    #[test]
    fn a_notification_of_several_records_splits_into_one_message_per_creating_record() {
        let mut log = created_event(&CreatedObject {
            event_name: "s3:ObjectCreated:Put",
            bucket: "uploads",
            key: "t/a.txt",
            size: 1,
            etag: "e0",
            content_type: "text/plain",
            user_metadata: BTreeMap::new(),
            version_id: None,
            principal_id: "p",
            source_ip: "127.0.0.1",
            user_agent: "x",
            request_id: "1",
            event_time: chrono::Utc::now(),
        });
        log.records.push(record("uploads", "t%2Fb.txt", "e1"));
        log.records.push(record("secret-bucket", "t%2Fc.txt", "e2"));
        let mut removed = record("uploads", "t%2Fd.txt", "e3");
        removed.event_name = "s3:ObjectRemoved:Delete".into();
        log.records.push(removed);

        let singles = split(&log, &boundary());
        assert_eq!(singles.len(), 3, "the delete is left out");
        let ids: std::collections::BTreeSet<_> = singles.iter().map(|s| s.message_id.clone()).collect();
        assert_eq!(ids.len(), 3, "each record has its own message id");
        assert!(singles[0].document_id.is_some() && singles[1].document_id.is_some());
        assert_eq!(singles[2].document_id, None, "a refused record names no document");
        for (single, original) in singles.iter().zip(&log.records) {
            let back: EventLog = serde_json::from_slice(&single.body).unwrap();
            assert_eq!(back.records, vec![original.clone()]);
            assert_eq!(single.message_id, record_message_id(original));
        }
        let second = parse(&singles[1].body).unwrap();
        assert_eq!(second[0].key, "t/b.txt");
        assert_eq!(Some(second[0].document_id()), singles[1].document_id);
        // Splitting again gives the same messages: a re-split after a crash deduplicates.
        assert_eq!(split(&log, &boundary()), singles);
    }

    #[test]
    fn a_reupload_of_the_same_bytes_has_another_message_id() {
        let first = record("uploads", "t%2Fa.txt", "e1");
        let mut again = first.clone();
        again.s3.object.sequencer = "17F00000000000FF".into();
        assert_ne!(record_message_id(&first), record_message_id(&again));
        assert_eq!(record_message_id(&first), record_message_id(&first.clone()));
    }

    #[test]
    fn garbage_is_a_malformed_event() {
        assert!(matches!(parse(b"{\"nope\":1}"), Err(EventError::Malformed(_))));
    }
}
