//! Local TCP servers that misbehave on purpose, for the tests of error classification:
//! real connection errors without a real server behind them.

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server that accepts, waits for the request and closes with it unread (the kernel
/// answers with a reset); returns its port. It runs until the test's runtime ends.
pub async fn accept_and_close() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.readable().await;
            drop(stream);
        }
    });
    port
}

/// A server that accepts every connection and never answers; abort the handle to close them.
pub async fn black_hole() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    (port, held)
}
