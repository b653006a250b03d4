//! A TCP proxy the test controls, between docflow and one of its services (PostgreSQL, a
//! provider): it passes bytes, refuses connections, black-holes them, or answers every new
//! connection with canned bytes (an HTTP 503) — switched at any moment with [`TcpProxy::set`].
//!
//! - `Pass`: bytes flow both ways; connections held by a black hole resume.
//! - `Refuse`: the listening socket is closed (a connect is refused, as a server that is
//!   down) and every open connection is closed.
//! - `BlackHole`: connections are accepted and kept open, and no byte moves either way on
//!   new or open ones (a hung peer, or a network that drops packets) until `Pass` again.
//! - `Respond(bytes)`: open connections are closed; each new one reads a request's head,
//!   gets `bytes`, and the rest of its input is read and discarded until the client closes
//!   (so the answer is not lost to a reset).

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Refuse,
    BlackHole,
    Respond(Vec<u8>),
}

impl Mode {
    /// What an HTTP server that is down behind a load balancer answers.
    pub fn http_503() -> Mode {
        let body = r#"{"error":{"code":"unavailable","message":"down for maintenance"}}"#;
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        Mode::Respond([head.as_bytes(), body.as_bytes()].concat())
    }
}

pub struct TcpProxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let port = super::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("the proxy binds its port");
        let (mode, modes) = watch::channel(Mode::Pass);
        let task = tokio::spawn(serve(listener, port, target, modes));
        TcpProxy { port, mode, task }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut listener: TcpListener, port: u16, target: SocketAddr, mut modes: watch::Receiver<Mode>) {
    loop {
        if *modes.borrow_and_update() == Mode::Refuse {
            // Nothing listens while refusing: connects get a reset from the kernel.
            drop(listener);
            if modes.wait_for(|m| *m != Mode::Refuse).await.is_err() {
                return;
            }
            listener = rebind(port).await;
            continue;
        }
        tokio::select! {
            changed = modes.changed() => if changed.is_err() { return },
            conn = listener.accept() => {
                let Ok((client, _)) = conn else { continue };
                let _ = client.set_nodelay(true);
                let modes = modes.clone();
                match modes.borrow().clone() {
                    Mode::Respond(bytes) => { tokio::spawn(respond(client, bytes)); }
                    _ => { tokio::spawn(forward(client, target, modes.clone())); }
                }
            }
        }
    }
}

/// Binds the proxy's port again after a refusing period (SO_REUSEADDR is set by tokio, so
/// connections left in TIME_WAIT do not stop it).
async fn rebind(port: u16) -> TcpListener {
    let mut last = None;
    for _ in 0..100 {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(e) => last = Some(e),
        }
        // The port was free a moment ago; another bind raced for it. Not synchronisation:
        // a bounded pause before asking the kernel again.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the proxy cannot bind port {port} again: {last:?}");
}

async fn respond(mut client: TcpStream, bytes: Vec<u8>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if client.write_all(&bytes).await.is_err() {
        return;
    }
    let _ = client.shutdown().await;
    // Drain what the client still sends (a body) until it closes.
    while let Ok(n) = client.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

async fn forward(client: TcpStream, target: SocketAddr, mut modes: watch::Receiver<Mode>) {
    // A black hole accepts and then says nothing: the upstream connection waits too.
    if modes.wait_for(|m| *m != Mode::BlackHole).await.is_err() {
        return;
    }
    if *modes.borrow() != Mode::Pass {
        return;
    }
    let Ok(upstream) = TcpStream::connect(target).await else { return };
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let up = pump(client_read, upstream_write, modes.clone());
    let down = pump(upstream_read, client_write, modes.clone());
    // Either direction ending (EOF, error, refuse) ends the connection.
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = async { let _ = modes.wait_for(|m| matches!(m, Mode::Refuse | Mode::Respond(_))).await; } => {}
    }
}

/// Copies `from` to `to` while the mode is `Pass`; holds still while it is `BlackHole`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut modes: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match modes.wait_for(|m| *m != Mode::BlackHole).await {
            Ok(mode) if *mode == Mode::Pass => {}
            _ => return,
        }
        tokio::select! {
            // A mode change while reading: look at the mode again (reads are cancel-safe).
            changed = modes.changed() => if changed.is_err() { return },
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => { let _ = to.shutdown().await; return }
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An echo server: what the proxy forwards to.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = socket.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(stream: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
        stream.write_all(bytes).await.unwrap();
        let mut out = vec![0u8; bytes.len()];
        stream.read_exact(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_proxy_passes_refuses_black_holes_and_responds() {
        let proxy = TcpProxy::start(echo().await).await;
        let mut held = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(roundtrip(&mut held, b"ping").await, b"ping");

        // Black hole: the open connection stays open and silent, a new one is accepted.
        proxy.set(Mode::BlackHole);
        held.write_all(b"held").await.unwrap();
        let mut out = [0u8; 4];
        let silent = tokio::time::timeout(Duration::from_millis(300), held.read_exact(&mut out)).await;
        assert!(silent.is_err(), "a black hole answered");
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        fresh.write_all(b"new!").await.unwrap();
        // Healed: the held bytes arrive, on both connections.
        proxy.set(Mode::Pass);
        held.read_exact(&mut out).await.unwrap();
        assert_eq!(&out, b"held");
        fresh.read_exact(&mut out).await.unwrap();
        assert_eq!(&out, b"new!");

        // Refuse: open connections close, new ones are refused; then it listens again.
        proxy.set(Mode::Refuse);
        let mut closed = [0u8; 1];
        assert_eq!(held.read(&mut closed).await.unwrap_or(0), 0, "the open connection was closed");
        crate::support::wait_for("connects to be refused", Duration::from_secs(5), || async {
            TcpStream::connect(proxy.addr()).await.is_err().then_some(())
        })
        .await;
        proxy.set(Mode::Pass);
        let mut again = crate::support::wait_for("the proxy to listen again", Duration::from_secs(5), || async {
            TcpStream::connect(proxy.addr()).await.ok()
        })
        .await;
        assert_eq!(roundtrip(&mut again, b"back").await, b"back");

        // Respond: an HTTP answer of the test's choosing.
        proxy.set(Mode::http_503());
        let mut http = TcpStream::connect(proxy.addr()).await.unwrap();
        http.write_all(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").await.unwrap();
        let mut answer = String::new();
        http.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    }
}
