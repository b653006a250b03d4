//! Classification from real errors: the `minio` client against local sockets that refuse,
//! reset, black-hole or answer a canned S3 error. No S3 server needed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{StorageError, Store};
use crate::settings::S3Settings;

fn store(port: u16, timeout: Duration) -> Store {
    Store::new(&S3Settings {
        endpoint: format!("http://127.0.0.1:{port}"),
        public_endpoint: None,
        region: "us-east-1".into(),
        access_key: "test".into(),
        secret_key: "test-secret".to_owned().into(),
        uploads_bucket: "uploads".into(),
        results_bucket: "results".into(),
        request_timeout: timeout,
    })
    .unwrap()
}

async fn open(store: &Store) -> StorageError {
    match store.open("uploads", "teacher-1/plan.txt", None).await {
        Ok(_) => panic!("the object opened"),
        Err(e) => e,
    }
}

fn assert_transient(error: &StorageError) {
    assert!(matches!(error, StorageError::Transient { .. }), "expected transient, got {error:?}");
}

fn assert_permanent(error: &StorageError) {
    assert!(matches!(error, StorageError::Permanent { .. }), "expected permanent, got {error:?}");
}

/// Reads one request head (the requests here carry no body).
async fn read_head(stream: &mut tokio::net::TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// A server answering every request with `status`, `content_type` and `body`.
async fn answering(status: &str, content_type: &str, body: &str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut response = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if !content_type.is_empty() {
        response.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                read_head(&mut stream).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

fn s3_error(code: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>told by the test</Message>\
         <Resource>/uploads/teacher-1/plan.txt</Resource><RequestId>1</RequestId><HostId>h</HostId></Error>"
    )
}

async fn answered(status: &str, code: &str) -> StorageError {
    let port = answering(status, "application/xml", &s3_error(code)).await;
    open(&store(port, Duration::from_secs(5))).await
}

#[tokio::test]
async fn a_store_refusing_connections_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = open(&store(port, Duration::from_secs(5))).await;
    assert_transient(&error);
    let text = error.to_string();
    assert!(text.contains("cannot connect") && text.contains("s3.endpoint"), "{text}");
}

#[tokio::test]
async fn a_connection_reset_mid_request_is_transient() {
    // Closing with the request unread makes the kernel answer with a reset.
    let port = crate::testkit::servers::accept_and_close().await;
    assert_transient(&open(&store(port, Duration::from_secs(5))).await);
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            read_head(&mut stream).await;
            let _ = stream.shutdown().await;
        }
    });
    assert_transient(&open(&store(port, Duration::from_secs(5))).await);
}

#[tokio::test]
async fn a_store_that_never_answers_is_a_transient_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let error = open(&store(port, Duration::from_millis(300))).await;
    held.abort();
    assert_transient(&error);
    assert!(error.to_string().contains("no answer within"), "{error}");
}

#[tokio::test]
async fn slow_down_internal_error_and_unavailable_are_transient() {
    for (status, code) in [
        ("503 Slow Down", "SlowDown"),
        ("500 Internal Server Error", "InternalError"),
        ("503 Service Unavailable", "ServiceUnavailable"),
        ("400 Bad Request", "RequestTimeout"),
        ("503 Service Unavailable", "XMinioServerNotInitialized"),
    ] {
        let error = answered(status, code).await;
        assert_transient(&error);
        assert!(error.to_string().to_lowercase().contains(&code.to_lowercase()), "{error}");
    }
}

#[tokio::test]
async fn a_5xx_without_an_s3_body_is_transient() {
    let port = answering("503 Service Unavailable", "", "").await;
    assert_transient(&open(&store(port, Duration::from_secs(5))).await);
    let port = answering("502 Bad Gateway", "text/html", "<html>bad gateway</html>").await;
    assert_transient(&open(&store(port, Duration::from_secs(5))).await);
}

#[tokio::test]
async fn a_missing_object_or_bucket_is_not_found() {
    for code in ["NoSuchKey", "NoSuchBucket", "NoSuchVersion"] {
        let error = answered("404 Not Found", code).await;
        assert!(matches!(error, StorageError::NotFound { .. }), "{code}: {error:?}");
        assert!(!error.is_transient());
    }
    let port = answering("404 Not Found", "", "").await;
    assert!(matches!(open(&store(port, Duration::from_secs(5))).await, StorageError::NotFound { .. }));
}

#[tokio::test]
async fn access_denied_and_refused_credentials_are_permanent_and_say_what_to_check() {
    for code in ["AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"] {
        let error = answered("403 Forbidden", code).await;
        assert_permanent(&error);
        assert!(error.to_string().contains("s3.secret_key"), "{error}");
    }
}

#[tokio::test]
async fn a_request_the_store_calls_invalid_is_permanent() {
    for code in ["InvalidArgument", "XMinioInvalidObjectName", "KeyTooLongError", "InvalidBucketName"] {
        assert_permanent(&answered("400 Bad Request", code).await);
    }
}

#[tokio::test]
async fn a_request_the_client_refuses_to_send_is_permanent() {
    // The minio client refuses an empty key itself; no server is asked.
    let port = answering("200 OK", "", "").await;
    let error = match store(port, Duration::from_secs(5)).open("uploads", "", None).await {
        Ok(_) => panic!("an empty key opened"),
        Err(e) => e,
    };
    assert_permanent(&error);
}
