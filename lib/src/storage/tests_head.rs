//! `Store::read_head` against a real S3 server (s3s-fs in process): the first bytes of an
//! object by a range request, all of a smaller one, none of an empty one.

use super::testing::TestS3;
use super::{StorageError, Store};
use crate::settings::S3Settings;

const HEAD: u64 = 8192;

fn store(s3: &TestS3) -> Store {
    Store::new(&s3.settings()).unwrap()
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

/// Accepts connections on a port of its own and relays each to `target`, counting them.
async fn counting_relay(target: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (port, accepted)
}

/// The head's answer is read to its end, so its connection serves the next request: the
/// pre-flight of one document after another opens one connection, not one each (a whole
/// object's answer dropped half read closes its connection).
#[tokio::test]
async fn heads_read_one_after_another_share_one_connection() {
    let s3 = TestS3::start(&["uploads"]).await;
    s3.put_file("uploads", "t/large.txt", &pattern(64 * 1024));
    let (port, accepted) = counting_relay(s3.port).await;
    let store = Store::new(&S3Settings { endpoint: format!("http://127.0.0.1:{port}"), ..s3.settings() }).unwrap();
    for _ in 0..10 {
        assert_eq!(store.read_head("uploads", "t/large.txt", None, HEAD).await.unwrap().len(), HEAD as usize);
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "connections for 10 heads");
}
