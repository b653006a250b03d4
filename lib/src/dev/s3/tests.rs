//! The notifying endpoint against the NATS at 127.0.0.1:4222 (or `DOCFLOW_TEST_NATS_URL`):
//! every test has its own prefix, stream, directory and port.

use minio::s3::MinioClient;
use minio::s3::builders::ObjectContent;
use minio::s3::client::MinioClientBuilder;
use minio::s3::creds::StaticProvider;
use minio::s3::types::S3Api;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Notifier, NotifyingStore, canonical_header_key, serve, service};
use crate::nats::Names;
use crate::testkit::{connect, nats_url, random_prefix};

const ACCESS_KEY: &str = "minioadmin";
const SECRET_KEY: &str = "minioadmin-secret";

/// The only origin whose browsers may post cross-origin.
const GATEWAY_ORIGIN: &str = "http://127.0.0.1:8080";

struct Endpoint {
    url: String,
    _dir: tempfile::TempDir,
    js: async_nats::jetstream::Context,
    names: Names,
    s3: MinioClient,
    shutdown: CancellationToken,
}

impl Endpoint {
    /// An endpoint on port 0 announcing to `{prefix}.uploads.minio`; with `stream`, a
    /// `{PREFIX}_UPLOADS` stream takes `{prefix}.uploads.>`.
    async fn start(stream: bool) -> Endpoint {
        Endpoint::start_with(stream, false).await
    }

    /// With `private`, as `docflow dev` runs it.
    async fn start_with(stream: bool, private: bool) -> Endpoint {
        let names = Names::new(&random_prefix());
        let (_client, js) = connect(&nats_url()).await;
        if stream {
            js.create_stream(async_nats::jetstream::stream::Config {
                name: names.stream("uploads"),
                subjects: vec![names.subject("uploads.>")],
                ..Default::default()
            })
            .await
            .expect("the test stream is created");
        }
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let notifier = Notifier::new(js.clone(), names.subject("uploads.minio"), url.clone()).for_buckets(["uploads"]);
        let store = NotifyingStore::new(&dir.path().join("s3"), notifier).unwrap();
        let store = if private { store.private() } else { store };
        let shutdown = CancellationToken::new();
        let origins = vec![GATEWAY_ORIGIN.to_owned()];
        tokio::spawn(serve(service(store, ACCESS_KEY, SECRET_KEY), listener, origins, shutdown.clone()));
        let s3 = MinioClientBuilder::new(url.parse().unwrap())
            .provider(Some(StaticProvider::new(ACCESS_KEY, SECRET_KEY, None)))
            .skip_region_lookup(true)
            .build()
            .unwrap();
        for bucket in ["uploads", "results"] {
            s3.create_bucket(bucket).unwrap().build().send().await.expect("the bucket is created");
        }
        Endpoint { url, _dir: dir, js, names, s3, shutdown }
    }

    async fn put(
        &self,
        key: &str,
        size: usize,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), minio::s3::error::Error> {
        self.put_into("uploads", key, size, content_type, metadata).await
    }

    async fn put_into(
        &self,
        bucket: &str,
        key: &str,
        size: usize,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), minio::s3::error::Error> {
        let mut meta = minio::s3::multimap_ext::Multimap::new();
        for (k, v) in metadata {
            meta.insert(format!("x-amz-meta-{k}"), v.to_string());
        }
        self.s3
            .put_object_content(bucket, key, ObjectContent::from(vec![b'x'; size]))
            .unwrap()
            .content_type(content_type.to_owned())
            .user_metadata(Some(meta))
            .part_size(Some(5 * 1024 * 1024))
            .build()
            .send()
            .await
            .map(|_| ())
    }

    /// The last message of the uploads subject, as JSON.
    async fn last_event(&self) -> Value {
        let stream = self.js.get_stream(self.names.stream("uploads")).await.unwrap();
        let message = stream
            .get_last_raw_message_by_subject(&self.names.subject("uploads.minio"))
            .await
            .expect("an event was published");
        assert!(message.headers.is_empty(), "MinIO sends no headers: {:?}", message.headers);
        serde_json::from_slice(&message.payload).unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.js.delete_stream(self.names.stream("uploads")).await;
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/minio/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// The event with what differs from one upload to the next blanked: times, ids, ETags,
/// request ids, the client's and the server's addresses and the user agent.
fn comparable(mut event: Value) -> Value {
    let record = &mut event["Records"][0];
    record["eventTime"] = Value::Null;
    record["requestParameters"]["sourceIPAddress"] = Value::Null;
    for field in ["x-amz-id-2", "x-amz-request-id", "x-minio-deployment-id", "x-minio-origin-endpoint"] {
        record["responseElements"][field] = Value::Null;
    }
    record["s3"]["object"]["eTag"] = Value::Null;
    record["s3"]["object"]["sequencer"] = Value::Null;
    record["source"] = Value::Null;
    event
}

#[tokio::test]
async fn a_put_is_announced_exactly_as_minio_announces_it() {
    let endpoint = Endpoint::start(true).await;
    let content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    endpoint.put("teacher-42/week3/lesson plan.docx", 48213, content_type, &[("kind", "document")]).await.unwrap();
    let event = endpoint.last_event().await;
    assert_eq!(event["Records"][0]["s3"]["object"]["eTag"].as_str().unwrap().len(), 32, "{event}");
    assert_eq!(event["Records"][0]["source"]["host"], "127.0.0.1");
    assert_eq!(comparable(event), comparable(fixture("put-document.json")));
    endpoint.stop().await;
}

#[tokio::test]
async fn a_key_with_unicode_plus_and_percent_is_escaped_as_go_escapes_it() {
    let endpoint = Endpoint::start(true).await;
    endpoint.put("teacher-9/Plan de leçon + notes 100%.pdf", 9120, "application/pdf", &[]).await.unwrap();
    let event = endpoint.last_event().await;
    assert_eq!(comparable(event), comparable(fixture("put-unicode-plus-percent.json")));
    endpoint.stop().await;
}

#[tokio::test]
async fn a_multipart_upload_is_announced_once_complete() {
    let endpoint = Endpoint::start(true).await;
    endpoint.put("trainee-7/observations/clip 01.mp4", 15 * 1024 * 1024, "video/mp4", &[]).await.unwrap();
    let event = endpoint.last_event().await;
    let etag = event["Records"][0]["s3"]["object"]["eTag"].as_str().unwrap().to_owned();
    assert!(etag.ends_with("-3"), "a three-part ETag: {etag}");
    // The built-in store keeps no versions: the fixture's bucket is versioned.
    let mut expected = fixture("multipart-video-versioned.json");
    expected["Records"][0]["s3"]["object"].as_object_mut().unwrap().remove("versionId");
    assert_eq!(comparable(event), comparable(expected));
    endpoint.stop().await;
}

#[tokio::test]
async fn a_copy_into_the_bucket_is_announced_exactly_as_minio_announces_it() {
    let endpoint = Endpoint::start(true).await;
    // The source is in a bucket that is not announced; the copy lands in `uploads`.
    endpoint.put_into("results", "staging/intro.mov", 2 * 1024 * 1024, "video/quicktime", &[]).await.unwrap();
    let source = minio::s3::builders::CopySource::builder()
        .bucket(minio::s3::types::BucketName::new("results").unwrap())
        .object(minio::s3::types::ObjectKey::new("staging/intro.mov").unwrap())
        .build();
    endpoint.s3.copy_object("uploads", "teacher-3/intro.mov").unwrap().source(source).build().send().await.unwrap();
    let event = endpoint.last_event().await;
    assert_eq!(event["Records"][0]["eventName"], "s3:ObjectCreated:Copy", "{event}");
    assert_eq!(comparable(event), comparable(fixture("copy-video-no-kind-metadata.json")));
    endpoint.stop().await;
}

#[tokio::test]
async fn an_upload_whose_event_cannot_be_stored_is_refused() {
    let endpoint = Endpoint::start(false).await;
    let error = endpoint.put("teacher-1/a.txt", 10, "text/plain", &[]).await.unwrap_err();
    assert!(error.to_string().to_lowercase().contains("serviceunavailable"), "{error}");
    endpoint.stop().await;
}

#[tokio::test]
async fn objects_of_other_buckets_are_not_announced() {
    let endpoint = Endpoint::start(true).await;
    endpoint.put_into("results", "r/a.json", 10, "application/json", &[]).await.unwrap();
    endpoint.put("teacher-1/b.txt", 10, "text/plain", &[]).await.unwrap();
    let stream = endpoint.js.get_stream(endpoint.names.stream("uploads")).await.unwrap();
    let first = stream.get_raw_message(1).await.unwrap();
    let event: Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(event["Key"], "uploads/teacher-1/b.txt", "the first event is the uploads bucket's");
    endpoint.stop().await;
}

#[test]
fn metadata_names_are_canonicalised_as_go_does() {
    assert_eq!(canonical_header_key("x-amz-meta-kind"), "X-Amz-Meta-Kind");
    assert_eq!(canonical_header_key("x-amz-meta-my-KEY"), "X-Amz-Meta-My-Key");
}

/// The web interface's upload page posts from the gateway's origin: its preflight is
/// answered and its responses readable; another origin gets neither.
#[tokio::test]
async fn the_gateways_origin_may_post_cross_origin_and_no_other() {
    let endpoint = Endpoint::start(false).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{}/uploads", endpoint.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let allowed = preflight(GATEWAY_ORIGIN).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(allowed.headers()["access-control-allow-origin"], GATEWAY_ORIGIN);
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert_eq!(allowed.headers()["access-control-allow-headers"], "content-type");
    let other = preflight("http://elsewhere.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let listed = http.get(format!("{}/uploads", endpoint.url)).header("Origin", GATEWAY_ORIGIN).send().await.unwrap();
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        GATEWAY_ORIGIN,
        "an answer (here a refusal) is readable"
    );
    endpoint.shutdown.cancel();
}

/// A private endpoint makes each stored object and its folders private, and touches
/// nothing else: checking the whole tree at each upload cost more with every object stored.
#[tokio::test]
async fn a_private_endpoint_makes_the_stored_object_private_and_nothing_else() {
    use std::os::unix::fs::PermissionsExt;
    let endpoint = Endpoint::start_with(true, true).await;
    let root = endpoint._dir.path().join("s3");
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let elsewhere = root.join("results").join("left-open.txt");
    std::fs::write(&elsewhere, b"x").unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).unwrap();
    endpoint.put("teacher-42/week3/plan.txt", 10, "text/plain", &[]).await.unwrap();
    let object = root.join("uploads/teacher-42/week3/plan.txt");
    assert_eq!(mode(&object), 0o600);
    for folder in ["uploads", "uploads/teacher-42", "uploads/teacher-42/week3"] {
        assert_eq!(mode(&root.join(folder)), 0o700, "{folder}");
    }
    assert_eq!(mode(&elsewhere), 0o644, "a file the upload did not write is left as it was");
    endpoint.stop().await;
}
