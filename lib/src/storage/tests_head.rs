//! `Store::read_head` against a real S3 server (s3s-fs in process): the first bytes of an
//! object by a range request, all of a smaller one, none of an empty one.

use std::time::Duration;

use super::testing::{ACCESS_KEY, SECRET_KEY, TestS3};
use super::{StorageError, Store};
use crate::settings::S3Settings;

const HEAD: u64 = 8192;

fn store(s3: &TestS3) -> Store {
    Store::new(&S3Settings {
        endpoint: s3.url.clone(),
        public_endpoint: None,
        region: "us-east-1".into(),
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.to_owned().into(),
        uploads_bucket: "uploads".into(),
        results_bucket: "results".into(),
        request_timeout: Duration::from_secs(20),
    })
    .unwrap()
}

/// Bytes that differ along the object, so that a head taken elsewhere shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|n| (n % 251) as u8).collect()
}

#[tokio::test]
async fn the_head_is_the_objects_first_bytes_or_all_of_a_smaller_one_or_none_of_an_empty_one() {
    let s3 = TestS3::start(&["uploads"]).await;
    let store = store(&s3);
    let large = pattern(64 * 1024);
    s3.put_file("uploads", "t/large.txt", &large);
    s3.put_file("uploads", "t/small.txt", &large[..100]);
    s3.put_file("uploads", "t/exact.txt", &large[..HEAD as usize]);
    s3.put_file("uploads", "t/empty.txt", b"");
    for round in 0..2 {
        let head = store.read_head("uploads", "t/large.txt", None, HEAD).await.unwrap();
        assert_eq!(&head[..], &large[..HEAD as usize], "round {round}");
        let head = store.read_head("uploads", "t/small.txt", None, HEAD).await.unwrap();
        assert_eq!(&head[..], &large[..100], "round {round}");
        let head = store.read_head("uploads", "t/exact.txt", None, HEAD).await.unwrap();
        assert_eq!(&head[..], &large[..HEAD as usize], "round {round}");
        let head = store.read_head("uploads", "t/empty.txt", None, HEAD).await.unwrap();
        assert!(head.is_empty(), "round {round}: {} bytes", head.len());
    }
    let missing = store.read_head("uploads", "t/gone.txt", None, HEAD).await.unwrap_err();
    assert!(matches!(missing, StorageError::NotFound { .. }), "{missing:?}");
}
