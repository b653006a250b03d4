//! Property tests ("fuzzing", bounded to a fixed number of cases so they run in every
//! `cargo test`) of the parsers that take input from outside: the MinIO event, the
//! `Docflow-Signature` header, the callback body, the list cursor, the upload request and
//! the bearer header. Each must answer every input with a value or an error, never a
//! panic, and what it accepts must keep its invariants. A crash found here is kept below
//! as a plain regression test.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::support::callback_body;
use crate::db::Cursor;
use crate::events::minio::{self, CreatedObject};
use crate::gateway::{auth, callbacks, uploads};
use crate::ids::DocumentId;
use crate::provider::signature::{self, Signature, SignatureError};

/// Cases per property: enough to find the shallow crashes on every run, few enough to
/// keep `cargo test` fast. `PROPTEST_CASES` raises it for a longer hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(".{0,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys as S3 allows them and beyond: control characters, `%`, `+`, `..`, long ones.
fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![".{0,64}", "[a-z0-9/%+ .]{0,64}", "\\PC{0,2000}", Just("../..//%00\u{0}".to_owned())]
}

fn created(event_name: &str, bucket: &str, key: &str, metadata: BTreeMap<String, String>) -> Vec<u8> {
    let event = minio::created_event(&CreatedObject {
        event_name,
        bucket,
        key,
        size: 10,
        etag: "0123456789abcdef",
        content_type: "text/plain",
        user_metadata: metadata,
        version_id: None,
        principal_id: "minio",
        source_ip: "127.0.0.1",
        user_agent: "fuzz",
        request_id: "1",
        event_time: chrono::Utc::now(),
    });
    serde_json::to_vec(&event).unwrap()
}

/// The event of `body` with the value at `path` replaced.
fn with(mut event: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut event;
    for step in path {
        at = match step.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*step],
        };
    }
    *at = value;
    event
}

fn bearer_headers(value: &[u8]) -> Option<HeaderMap> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    Some(headers)
}

proptest! {
    #![proptest_config(config())]

    // MinIO events.

    #[test]
    fn a_minio_event_of_any_bytes_is_parsed_or_refused(body in vec(any::<u8>(), 0..1024)) {
        let _ = minio::parse(&body);
    }

    #[test]
    fn a_minio_event_with_any_key_bucket_name_and_metadata_is_parsed_or_refused(
        event_name in prop_oneof![Just("s3:ObjectCreated:Put".to_owned()), Just("s3:ObjectRemoved:Delete".to_owned()), ".{0,30}"],
        bucket in ".{0,70}",
        key in any_key(),
        metadata in btree_map(".{0,20}", ".{0,40}", 0..4),
    ) {
        let _ = minio::parse(&created(&event_name, &bucket, &key, metadata));
    }

    #[test]
    fn a_minio_event_with_any_value_in_any_field_is_parsed_or_refused(
        path in prop_oneof![
            Just(vec!["Records"]),
            Just(vec!["Records", "0"]),
            Just(vec!["Records", "0", "eventName"]),
            Just(vec!["Records", "0", "s3"]),
            Just(vec!["Records", "0", "s3", "bucket", "name"]),
            Just(vec!["Records", "0", "s3", "object"]),
            Just(vec!["Records", "0", "s3", "object", "key"]),
            Just(vec!["Records", "0", "s3", "object", "size"]),
            Just(vec!["Records", "0", "s3", "object", "userMetadata"]),
            Just(vec!["Records", "0", "s3", "object", "versionId"]),
        ],
        value in any_json(),
    ) {
        let event: Value = serde_json::from_slice(&created("s3:ObjectCreated:Put", "uploads", "t/a.txt", BTreeMap::new())).unwrap();
        let body = serde_json::to_vec(&with(event, &path, value)).unwrap();
        let _ = minio::parse(&body);
    }

    #[test]
    fn a_key_survives_minio_escaping(key in "\\PC{0,200}") {
        prop_assert_eq!(minio::query_unescape(&minio::query_escape(&key)), Some(key));
    }

    // Docflow-Signature.

    #[test]
    fn a_signature_header_of_any_text_is_parsed_or_refused(text in ".{0,200}") {
        if let Ok(signature) = Signature::parse(&text) {
            // Whatever parsed, verifying it is safe too, whatever the clock says.
            let _ = signature.verify(b"{}", &[b"secret"], i64::MAX, Duration::from_secs(300));
            let _ = signature.verify(b"{}", &[b"secret"], i64::MIN, Duration::MAX);
        }
    }

    #[test]
    fn a_signature_header_of_shuffled_parts_is_parsed_or_refused(
        parts in vec(prop_oneof![
            any::<i64>().prop_map(|t| format!("t={t}")),
            "[0-9a-fA-F]{0,70}".prop_map(|h| format!("v1={h}")),
            ".{0,10}".prop_map(|v| format!("v0={v}")),
            Just(String::new()),
            Just("=".to_owned()),
            Just(" t = 1 ".to_owned()),
        ], 0..6),
    ) {
        let _ = Signature::parse(&parts.join(","));
    }

    #[test]
    fn a_signed_body_verifies_with_its_secret_only(
        secret in vec(any::<u8>(), 1..64),
        other in vec(any::<u8>(), 1..64),
        body in vec(any::<u8>(), 0..512),
        t in 0i64..4_000_000_000,
    ) {
        let header = signature::sign(&secret, t, &body);
        let parsed = Signature::parse(&header).unwrap();
        prop_assert_eq!(parsed.t, t);
        prop_assert_eq!(parsed.verify(&body, &[&secret], t, Duration::from_secs(300)), Ok(()));
        if other != secret {
            prop_assert_eq!(parsed.verify(&body, &[&other], t, Duration::from_secs(300)), Err(SignatureError::Mismatch));
        }
        let mut tampered = body.clone();
        tampered.push(b' ');
        prop_assert_eq!(parsed.verify(&tampered, &[&secret], t, Duration::from_secs(300)), Err(SignatureError::Mismatch));
    }

    // Callback bodies.

    #[test]
    fn a_callback_body_of_any_bytes_is_accepted_or_answered_400(body in vec(any::<u8>(), 0..1024)) {
        if let Err(error) = callbacks::parse(&body) {
            prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_callback_with_any_value_in_any_field_is_accepted_or_answered_400(
        path in prop_oneof![
            Just(vec!["event_id"]), Just(vec!["job_id"]), Just(vec!["reference"]), Just(vec!["status"]),
            Just(vec!["completed_at"]), Just(vec!["results"]), Just(vec!["results", "0"]),
            Just(vec!["results", "0", "url"]), Just(vec!["results", "0", "sha256"]),
            Just(vec!["results", "0", "size"]), Just(vec!["results", "0", "name"]),
            Just(vec!["results", "0", "role"]), Just(vec!["results", "1", "content_type"]),
            Just(vec!["error"]),
        ],
        value in any_json(),
    ) {
        let body: Value = serde_json::from_slice(&callback_body("evt-1")).unwrap();
        let body = serde_json::to_vec(&with(body, &path, value)).unwrap();
        match callbacks::parse(&body) {
            Ok(callback) => prop_assert!(!callback.event_id.is_empty()),
            Err(error) => prop_assert_eq!(error.status, StatusCode::BAD_REQUEST),
        }
    }

    // List cursors.

    #[test]
    fn a_cursor_of_any_text_is_decoded_or_refused(text in prop_oneof![".{0,64}", "[A-Za-z0-9_=-]{0,40}"]) {
        let _ = Cursor::decode(&text);
    }

    #[test]
    fn a_cursor_survives_encoding(
        micros in -8_000_000_000_000_000i64..8_000_000_000_000_000,
        id in any::<[u8; 16]>(),
    ) {
        let created_at = chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let cursor = Cursor { created_at, id: DocumentId(uuid::Uuid::from_bytes(id)) };
        prop_assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }

    // Upload requests and bearer headers.

    #[test]
    fn an_upload_request_of_any_bytes_is_accepted_or_answered_400(body in vec(any::<u8>(), 0..512)) {
        if let Err(error) = uploads::parse(&body) {
            prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn an_accepted_upload_request_has_no_control_characters_or_separators(
        uploader_id in ".{0,140}", file_name in ".{0,210}", content_type in ".{0,40}", size in any::<u64>(),
    ) {
        let body = json!({"uploader_id": uploader_id, "file_name": file_name, "content_type": content_type, "size": size});
        if let Ok(request) = uploads::parse(&serde_json::to_vec(&body).unwrap()) {
            prop_assert!(!request.uploader_id.as_str().contains('/') && !request.file_name.contains('/'));
            prop_assert!(!uploader_id.chars().any(char::is_control) && !file_name.chars().any(char::is_control));
            prop_assert!(!content_type.contains(['\r', '\n']));
        }
    }

    #[test]
    fn a_bearer_header_of_any_bytes_is_read_or_ignored(value in vec(any::<u8>(), 0..100)) {
        if let Some(headers) = bearer_headers(&value)
            && let Some(token) = auth::bearer(&headers)
        {
            prop_assert!(!token.is_empty());
        }
    }
}

// Regression tests: inputs these properties (or the issue) found, kept as plain tests.

#[test]
fn a_nul_in_a_callback_field_is_a_400() {
    let body: Value = serde_json::from_slice(&callback_body("evt-1")).unwrap();
    let body = serde_json::to_vec(&with(body, &["event_id"], json!("evt\u{0}1"))).unwrap();
    assert_eq!(callbacks::parse(&body).unwrap_err().status, StatusCode::BAD_REQUEST);
}
