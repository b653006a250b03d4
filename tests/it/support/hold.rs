//! An HTTP proxy in front of a service docflow calls (the S3 store, a provider) that
//! forwards every request except the ones the test chose to hold: those get no answer,
//! ever, and are reported. When [`HoldingProxy::next_held`] returns, the caller has got
//! exactly that far and is waiting there, so the test can kill it at that point (a crash
//! between two steps) without guessing with sleeps.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::Response;
use tokio::sync::{Mutex, mpsc};

/// Which requests to hold, by method and path.
pub type Hold = fn(&Method, &str) -> bool;

struct Shared {
    target: String,
    hold: Hold,
    held: mpsc::UnboundedSender<String>,
    client: reqwest::Client,
}

pub struct HoldingProxy {
    /// `http://127.0.0.1:PORT`, to give docflow instead of the service's address.
    pub url: String,
    held: Mutex<mpsc::UnboundedReceiver<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl HoldingProxy {
    /// Listens on a loopback port and forwards to `target` (`http://host:port`).
    pub async fn start(target: &str, hold: Hold) -> HoldingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds a port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (held, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared { target: target.trim_end_matches('/').to_owned(), hold, held, client: client() });
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HoldingProxy { url, held: Mutex::new(receiver), task }
    }

    /// Waits for the next held request (`METHOD /path`), at most `deadline`.
    pub async fn next_held(&self, deadline: Duration) -> String {
        let mut held = self.held.lock().await;
        match tokio::time::timeout(deadline, held.recv()).await {
            Ok(Some(request)) => request,
            _ => panic!("no request to hold reached the proxy in front of {} within {deadline:?}", self.url),
        }
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
}

/// Headers of one hop, not of the message: the proxy's own connections set them.
fn hop_by_hop(name: &HeaderName) -> bool {
    [header::CONNECTION, header::TRANSFER_ENCODING, header::CONTENT_LENGTH, header::UPGRADE].contains(name)
        || name.as_str() == "keep-alive"
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    if (shared.hold)(&parts.method, &path) {
        let _ = shared.held.send(format!("{} {path}", parts.method));
        // No answer: the caller waits here until it gives up or is killed.
        std::future::pending::<()>().await;
    }
    let bad_gateway = |e: String| Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::from(e)).unwrap();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let target = format!("{}{}", shared.target, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    // The Host header goes through unchanged: an S3 request's signature covers it.
    let mut outgoing = shared.client.request(parts.method, target).body(body);
    for (name, value) in parts.headers.iter().filter(|(name, _)| !hop_by_hop(name)) {
        outgoing = outgoing.header(name, value);
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers().iter().filter(|(name, _)| !hop_by_hop(name)) {
        response = response.header(name, value);
    }
    match answer.bytes().await {
        Ok(bytes) => response.body(Body::from(bytes)).unwrap(),
        Err(e) => bad_gateway(e.to_string()),
    }
}
