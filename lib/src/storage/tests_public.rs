//! Two addresses of one store, against a real S3 server (s3s-fs in process,
//! [`super::testing::TestS3`]): docflow on `http://127.0.0.1:PORT`, browsers on
//! `http://localhost:PORT`, a name of the same server that is not docflow's.

use std::time::Duration;

use reqwest::multipart::{Form, Part};

use super::testing::TestS3;
use super::{StorageError, Store};
use crate::settings::S3Settings;

fn store(s3: &TestS3, public_endpoint: Option<String>) -> Store {
    Store::new(&S3Settings { public_endpoint, ..s3.settings() }).unwrap()
}

fn public(s3: &TestS3) -> String {
    format!("http://localhost:{}", s3.port)
}

#[tokio::test]
async fn a_form_signed_for_the_public_name_is_accepted_when_posted_there() {
    let s3 = TestS3::start(&["uploads", "results"]).await;
    let store = store(&s3, Some(public(&s3)));
    let key = "teacher-42/2026/12/0b5c-notes.txt";
    let form =
        store.presign_upload_form("uploads", key, "text/plain", 11, Duration::from_secs(900)).await.expect("a form");
    assert_eq!(form.url.trim_end_matches('/'), format!("{}/uploads", public(&s3)));
    assert!(!form.url.contains("127.0.0.1"), "{form:?}");
    let mut body = Form::new();
    for (name, value) in &form.fields {
        body = body.text(name.clone(), value.clone());
    }
    body = body.part("file", Part::bytes(&b"hello class"[..]).file_name("notes.txt").mime_str("text/plain").unwrap());
    let answer = reqwest::Client::new().post(&form.url).multipart(body).send().await.expect("the store answers");
    let status = answer.status();
    assert!(status.is_success(), "{status}: {}", answer.text().await.unwrap_or_default());
    // docflow reads it through its own address.
    assert_eq!(&store.read_small("uploads", key, 100).await.unwrap()[..], b"hello class");
}

#[tokio::test]
async fn a_link_is_signed_for_the_host_it_names_and_refused_at_another() {
    let s3 = TestS3::start(&["uploads", "results"]).await;
    let store = store(&s3, Some(public(&s3)));
    s3.put_file("results", "doc-1/corrected/plan.txt", b"corrected text");

    let link = store.presign_public_get("results", "doc-1/corrected/plan.txt", Duration::from_secs(60)).await.unwrap();
    assert!(link.starts_with(&format!("{}/results/doc-1/corrected/plan.txt?", public(&s3))), "{link}");
    let fetched = reqwest::get(&link).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(&fetched.bytes().await.unwrap()[..], b"corrected text");
    // The signature covers the host: the same link sent to docflow's address is refused,
    // so rewriting a URL after signing can never work.
    let rewritten = link.replacen(&public(&s3), &s3.url, 1);
    assert_eq!(reqwest::get(&rewritten).await.unwrap().status(), 403, "{rewritten}");

    // docflow's own links (the provider's `url` delivery) stay on `s3.endpoint`.
    let own = store.presign_get("results", "doc-1/corrected/plan.txt", Duration::from_secs(60)).await.unwrap();
    assert!(own.starts_with(&s3.url), "{own}");
    assert_eq!(reqwest::get(&own).await.unwrap().status(), 200);
}

#[tokio::test]
async fn without_a_public_endpoint_browsers_get_the_endpoint() {
    let s3 = TestS3::start(&["uploads"]).await;
    for unset in [None, Some(String::new())] {
        let store = store(&s3, unset);
        assert_eq!(store.public_endpoint(), s3.url);
        assert!(store.form_url("uploads").unwrap().starts_with(&s3.url));
    }
}

#[tokio::test]
async fn a_range_is_read_from_the_store_without_the_rest() {
    use futures_util::TryStreamExt;
    let s3 = TestS3::start(&["results"]).await;
    let store = store(&s3, None);
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_file("results", "doc-1/rendition/clip.mp4", &bytes);
    let (stream, length) = store.open_range("results", "doc-1/rendition/clip.mp4", 99_990, 10).await.unwrap();
    assert_eq!(length, 10);
    let read: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let read = read.concat();
    assert_eq!(read, bytes[99_990..]);
    match store.open_range("results", "doc-1/missing", 0, 10).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("{:?}", other.map(|(_, n)| n)),
    }
}
