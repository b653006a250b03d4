//! `GET /ui/documents/{id}/files/{role}` through the router, with the result files in a
//! real S3 server (s3s-fs in process): who may read, the headers, ranges (206 with the
//! exact bytes, 416), a large file streamed; and no address of the store in anything a
//! browser is handed.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::json;
use sha2::Digest;
use tower::ServiceExt;

use super::{router, sign_in, sign_in_refused_list};
use crate::db::{ArtifactRow, State};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, sqlite};
use crate::ids::{DocumentId, Kind};
use crate::storage::Store;
use crate::storage::testing::TestS3;

/// A result file of a test: role, name, declared type, bytes.
pub(in crate::web) type File<'a> = (&'a str, &'a str, &'a str, &'a [u8]);

/// A document of `uploader` whose results `files` passed validation: the rows in the
/// database, the bytes in `s3`'s results bucket under `{id}/{role}/{name}`.
pub(in crate::web) async fn validated(
    t: &Target,
    s3: &TestS3,
    uploader: &str,
    kind: Kind,
    files: &[File<'_>],
) -> DocumentId {
    let id = t.receive(uploader, kind, "upload.bin").await;
    let submission = id.submission_id("sim").to_string();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", &submission, "job_1", "transfer", 1).await.unwrap());
    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let rows: Vec<ArtifactRow> = files
        .iter()
        .map(|(role, name, content_type, bytes)| {
            let key = format!("{id}/{role}/{name}");
            s3.put_file("results", &key, bytes);
            ArtifactRow {
                role: role.parse().unwrap(),
                name: (*name).into(),
                key,
                size: bytes.len() as i64,
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                content_type: (*content_type).into(),
            }
        })
        .collect();
    assert!(t.db.record_validated(id, State::Processed, &format!("evt-{id}"), &rows, "validate", 1).await.unwrap());
    let normalized = match kind {
        Kind::Document => json!({"schema_version": 1, "findings": [], "word_count": 5, "language": "en"}),
        Kind::Video => json!({"schema_version": 1, "duration_seconds": 1.0, "language": "en", "chapters": [],
            "transcript": "Hello."}),
    };
    assert!(t.db.store_normalized(id, &normalized, "normalize", 1).await.unwrap());
    id
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn fetch(router: &Router, uri: &str, cookie: Option<&str>, extra: &[(header::HeaderName, &str)]) -> Answer {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in extra {
        request = request.header(name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Answer { status, headers, body }
}

fn value_of(answer: &Answer, name: header::HeaderName) -> &str {
    answer.headers.get(&name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("no {name}"))
}

pub(in crate::web) fn with_store(s3: &TestS3) -> [(&'static str, &str); 1] {
    [("DOCFLOW__S3__ENDPOINT", s3.url.as_str())]
}

const PLAN: &[u8] = "Week 3: fractions — corrected.\n".as_bytes();

#[tokio::test]
async fn a_result_file_comes_through_the_gateway_as_an_attachment_that_nothing_runs() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let files: [File; 2] = [
        ("corrected", "plan.corrected.txt", "text/plain", PLAN),
        ("findings", "findings.json", "application/json", &b"{\"findings\":[]}"[..]),
    ];
    let id = validated(&t, &s3, "teacher-42", Kind::Document, &files).await;
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TEACHER_TOKEN).await;

    let file = fetch(&router, &format!("/ui/documents/{id}/files/corrected"), Some(&session), &[]).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, PLAN);
    assert_eq!(value_of(&file, header::CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(value_of(&file, header::CONTENT_LENGTH), PLAN.len().to_string());
    assert_eq!(
        value_of(&file, header::CONTENT_DISPOSITION),
        "attachment; filename=\"plan.corrected.txt\"; filename*=UTF-8''plan%2Ecorrected%2Etxt"
    );
    assert_eq!(value_of(&file, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(value_of(&file, header::CACHE_CONTROL), "private, no-store");
    assert_eq!(value_of(&file, header::ACCEPT_RANGES), "bytes");
    assert_eq!(value_of(&file, header::ETAG), format!("\"{}\"", hex::encode(sha2::Sha256::digest(PLAN))));
    assert!(value_of(&file, header::CONTENT_SECURITY_POLICY).contains("sandbox"));

    let findings = fetch(&router, &format!("/ui/documents/{id}/files/findings"), Some(&session), &[]).await;
    assert_eq!(value_of(&findings, header::CONTENT_TYPE), "application/json; charset=utf-8");
    assert!(value_of(&findings, header::CONTENT_DISPOSITION).starts_with("attachment;"));
    let missing = fetch(&router, &format!("/ui/documents/{id}/files/rendition"), Some(&session), &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_range_is_answered_206_with_exactly_those_bytes() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let id = validated(&t, &s3, "teacher-42", Kind::Document, &[("corrected", "plan.txt", "text/plain", PLAN)]).await;
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;
    let uri = format!("/ui/documents/{id}/files/corrected");
    let size = PLAN.len();

    let part = fetch(&router, &uri, Some(&session), &[(header::RANGE, "bytes=0-7")]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, &PLAN[0..8]);
    assert_eq!(value_of(&part, header::CONTENT_RANGE), format!("bytes 0-7/{size}"));
    assert_eq!(value_of(&part, header::CONTENT_LENGTH), "8");
    assert_eq!(value_of(&part, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(value_of(&part, header::CONTENT_DISPOSITION).starts_with("attachment;"));

    let tail = fetch(&router, &uri, Some(&session), &[(header::RANGE, "bytes=-11")]).await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.body, &PLAN[size - 11..]);
    assert_eq!(value_of(&tail, header::CONTENT_RANGE), format!("bytes {}-{}/{size}", size - 11, size - 1));

    let beyond = fetch(&router, &uri, Some(&session), &[(header::RANGE, &format!("bytes={size}-"))]).await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(value_of(&beyond, header::CONTENT_RANGE), format!("bytes */{size}"));
    assert!(beyond.body.is_empty());

    // `If-Range` with the file's own ETag keeps the range; with another, the whole file.
    let etag = value_of(&part, header::ETAG).to_owned();
    let same = fetch(&router, &uri, Some(&session), &[(header::RANGE, "bytes=8-"), (header::IF_RANGE, &etag)]).await;
    assert_eq!((same.status, same.body.as_slice()), (StatusCode::PARTIAL_CONTENT, &PLAN[8..]));
    let stale =
        fetch(&router, &uri, Some(&session), &[(header::RANGE, "bytes=8-"), (header::IF_RANGE, "\"other\"")]).await;
    assert_eq!((stale.status, stale.body.as_slice()), (StatusCode::OK, PLAN));
    // Several ranges at once: the whole file.
    let several = fetch(&router, &uri, Some(&session), &[(header::RANGE, "bytes=0-1,4-5")]).await;
    assert_eq!((several.status, several.body.as_slice()), (StatusCode::OK, PLAN));
}

#[tokio::test]
async fn only_who_may_read_the_document_gets_its_files() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let files: [File; 1] = [("corrected", "plan.txt", "text/plain", PLAN)];
    let own = validated(&t, &s3, "teacher-42", Kind::Document, &files).await;
    let other = validated(&t, &s3, "teacher-7", Kind::Document, &files).await;
    let router = router(&t, &with_store(&s3));
    let file = |id: DocumentId| format!("/ui/documents/{id}/files/corrected");

    let anonymous = fetch(&router, &file(own), None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(value_of(&anonymous, header::LOCATION), "/ui/sign-in");
    assert!(anonymous.body.is_empty());

    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    assert_eq!(fetch(&router, &file(own), Some(&teacher), &[]).await.body, PLAN);
    for uri in [
        file(other),
        file(DocumentId(uuid::Uuid::new_v4())),
        "/ui/documents/not-an-id/files/corrected".to_owned(),
        format!("/ui/documents/{own}/files/..%2F..%2Fuploads"),
    ] {
        let refused = fetch(&router, &uri, Some(&teacher), &[]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(refused.body.is_empty(), "{uri}");
    }

    let (evaluator, _) = sign_in(&router, TOKEN).await;
    assert_eq!(fetch(&router, &file(other), Some(&evaluator), &[]).await.body, PLAN);

    let app = sign_in_refused_list(&router).await.0;
    assert_eq!(fetch(&router, &file(own), Some(&app), &[]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_video_and_its_poster_play_inline_and_an_active_type_is_served_as_bytes() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let mp4: &[u8] = &[0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'm', b'p', b'4', b'2', 0, 0, 0, 0];
    let files: [File; 4] = [
        ("rendition", "clip.720p.mp4", "video/mp4", mp4),
        ("thumbnail", "thumb.jpg", "image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0][..]),
        // Stored before such types were refused at validation.
        ("transcript", "transcript.html", "text/html", &b"<script>alert(1)</script>"[..]),
        ("summary", "summary.svg", "image/svg+xml", &b"<svg onload=alert(1)>"[..]),
    ];
    let id = validated(&t, &s3, "teacher-42", Kind::Video, &files).await;
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;
    let uri = |role: &str| format!("/ui/documents/{id}/files/{role}");

    let video = fetch(&router, &uri("rendition"), Some(&session), &[]).await;
    assert_eq!(value_of(&video, header::CONTENT_TYPE), "video/mp4");
    assert!(value_of(&video, header::CONTENT_DISPOSITION).starts_with("inline; filename=\"clip.720p.mp4\""));
    let poster = fetch(&router, &uri("thumbnail"), Some(&session), &[]).await;
    assert_eq!(value_of(&poster, header::CONTENT_TYPE), "image/jpeg");
    assert!(value_of(&poster, header::CONTENT_DISPOSITION).starts_with("inline;"));
    for role in ["transcript", "summary"] {
        let active = fetch(&router, &uri(role), Some(&session), &[]).await;
        assert_eq!(active.status, StatusCode::OK);
        assert_eq!(value_of(&active, header::CONTENT_TYPE), "application/octet-stream", "{role}");
        assert!(value_of(&active, header::CONTENT_DISPOSITION).starts_with("attachment;"), "{role}");
        assert_eq!(value_of(&active, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }
}

/// Bytes `0..size` of a file no test holds whole twice: byte `i` is `i % 251`.
fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn a_large_video_is_streamed_whole_and_in_ranges() {
    use futures_util::StreamExt;
    const SIZE: usize = 24 << 20;
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let video = pattern(SIZE);
    let id =
        validated(&t, &s3, "teacher-42", Kind::Video, &[("rendition", "lesson.mp4", "video/mp4", video.as_slice())])
            .await;
    drop(video);
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;
    let uri = format!("/ui/documents/{id}/files/rendition");

    // The whole file, read chunk by chunk as it arrives: many chunks, every byte in place.
    let request = Request::get(&uri).header(header::COOKIE, &session).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], SIZE.to_string());
    let mut stream = response.into_body().into_data_stream();
    let (mut seen, mut chunks) = (0usize, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.iter().enumerate().all(|(i, b)| *b == ((seen + i) % 251) as u8), "byte {seen} on");
        seen += chunk.len();
        chunks += 1;
    }
    assert_eq!(seen, SIZE);
    assert!(chunks > 64, "streamed in {chunks} chunks, not as one buffer");

    // A player's seek near the end: exactly the bytes asked for.
    let (start, end) = (SIZE - 5_000_123, SIZE - 4_000_000);
    let seek = fetch(&router, &uri, Some(&session), &[(header::RANGE, &format!("bytes={start}-{end}"))]).await;
    assert_eq!(seek.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(value_of(&seek, header::CONTENT_RANGE), format!("bytes {start}-{end}/{SIZE}"));
    assert_eq!(seek.body.len(), end - start + 1);
    assert!(seek.body.iter().enumerate().all(|(i, b)| *b == ((start + i) % 251) as u8));
}

/// With `s3.endpoint` an address only docflow reaches and `s3.public_endpoint` the store's
/// public name: the upload page, its form, a document's page and the API's artifact links
/// name the public address or the gateway, never the internal one.
#[tokio::test]
async fn no_browser_facing_url_carries_the_internal_endpoint() {
    const INTERNAL: &str = "http://minio-internal.test:9000";
    const PUBLIC: &str = "https://s3.school.example";
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let id = validated(&t, &s3, "teacher-42", Kind::Document, &[("corrected", "plan.txt", "text/plain", PLAN)]).await;
    let video =
        validated(&t, &s3, "teacher-42", Kind::Video, &[("rendition", "clip.mp4", "video/mp4", &b"x"[..])]).await;
    let extra = [("DOCFLOW__S3__ENDPOINT", INTERNAL), ("DOCFLOW__S3__PUBLIC_ENDPOINT", PUBLIC)];
    let router = router(&t, &extra);
    let internal_host = "minio-internal";

    let (teacher, csrf) = sign_in(&router, TEACHER_TOKEN).await;
    let page = super::get(&router, "/ui/upload", Some(&teacher)).await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains(&format!("connect-src 'self' {PUBLIC};")) && csp.contains(&format!("form-action 'self' {PUBLIC}"))
    );
    assert!(!csp.contains(internal_host) && !page.body.contains(internal_host), "{csp}");
    let form = [("csrf", csrf.as_str()), ("file_name", "plan.pdf"), ("content_type", "application/pdf"), ("size", "9")];
    let grant = super::post(&router, "/ui/upload", Some(&teacher), &form).await;
    assert_eq!(grant.status, StatusCode::OK, "{}", grant.body);
    assert!(grant.body.contains(&format!("\"url\":\"{PUBLIC}/uploads")), "{}", grant.body);
    assert!(!grant.body.contains(internal_host), "{}", grant.body);

    for document in [id, video] {
        let page = super::get(&router, &format!("/ui/documents/{document}"), Some(&teacher)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&format!("/ui/documents/{document}/files/")), "{}", page.body);
        for host in [internal_host, "s3.school.example", "X-Amz-"] {
            assert!(!page.body.contains(host), "{host} in {}", page.body);
            assert!(!page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains(host));
        }
    }

    // The API keeps presigned links, signed for the public address, and is not cached.
    let settings = Arc::new(crate::evaluator::tests::settings(&extra));
    let store = Store::new(&settings.s3).unwrap();
    let api = crate::evaluator::routes(EvaluatorState::new(settings, t.db.clone(), store));
    let request = Request::get(format!("/v1/documents/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let url = document["artifacts"][0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{PUBLIC}/results/{id}/corrected/plan.txt?")), "{url}");
    assert!(!String::from_utf8_lossy(&body).contains(internal_host));
}

#[tokio::test]
async fn answers_that_carry_a_link_a_form_or_a_secret_are_not_stored() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Document, "plan.pdf").await;
    let router = router(&t, &[]);
    let sign_in_page = super::get(&router, "/ui/sign-in", None).await;
    assert_eq!(sign_in_page.headers[header::CACHE_CONTROL], "no-store");
    let (teacher, csrf) = sign_in(&router, TEACHER_TOKEN).await;
    let form = [("csrf", csrf.as_str()), ("file_name", "plan.pdf"), ("content_type", "application/pdf"), ("size", "9")];
    let grant = super::post(&router, "/ui/upload", Some(&teacher), &form).await;
    assert_eq!(grant.status, StatusCode::OK, "{}", grant.body);
    assert_eq!(grant.headers[header::CACHE_CONTROL], "no-store");
    let page = super::get(&router, &format!("/ui/documents/{id}"), Some(&teacher)).await;
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    // An upload of a page is refused before any form is made, naming the type.
    let html = [("csrf", csrf.as_str()), ("file_name", "plan.html"), ("content_type", "text/html"), ("size", "9")];
    let refused = super::post(&router, "/ui/upload", Some(&teacher), &html).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("text/html is refused") && !refused.body.contains("X-Amz"), "{}", refused.body);
}
