//! nats-server processes of a test's own, which the test may kill and start again on the
//! same port and store: one server, or a three-node cluster on loopback.
//! The binary is `NATS_SERVER_BIN`, else Debian's /usr/sbin/nats-server, else `nats-server`.

use std::path::PathBuf;
use std::time::Duration;

use super::{Process, free_port, wait_for};

const CLUSTER_NAME: &str = "docflow-faults";

pub fn nats_server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("NATS_SERVER_BIN") {
        return path.into();
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    if debian.exists() { debian } else { "nats-server".into() }
}

/// One nats-server with JetStream, its store in a directory that outlives its restarts.
pub struct NatsNode {
    pub name: String,
    pub port: u16,
    pub url: String,
    cluster_port: Option<u16>,
    routes: Vec<u16>,
    dir: tempfile::TempDir,
    process: Option<Process>,
}

impl NatsNode {
    /// A single server on a free port, running.
    pub async fn single() -> NatsNode {
        let mut node = NatsNode::new("n1", None, Vec::new());
        node.start().await;
        node
    }

    fn new(name: &str, cluster_port: Option<u16>, routes: Vec<u16>) -> NatsNode {
        let port = free_port();
        NatsNode {
            name: name.to_owned(),
            port,
            url: format!("nats://127.0.0.1:{port}"),
            cluster_port,
            routes,
            dir: tempfile::tempdir().expect("a store directory"),
            process: None,
        }
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let store = self.dir.path().display().to_string();
        let mut args: Vec<String> =
            ["-js", "-a", "127.0.0.1", "-p", &port, "-sd", &store, "-n", &self.name].map(String::from).to_vec();
        if let Some(cluster_port) = self.cluster_port {
            args.extend(["--cluster_name".into(), CLUSTER_NAME.into()]);
            args.extend(["--cluster".into(), format!("nats://127.0.0.1:{cluster_port}")]);
            let routes: Vec<String> = self.routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
            args.extend(["--routes".into(), routes.join(",")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.process = Some(Process::spawn(&format!("nats-server {}", self.name), nats_server_binary(), &args, &[]));
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub async fn start(&mut self) {
        self.spawn();
        let url = self.url.clone();
        wait_for(&format!("nats-server {} to accept connections", self.name), Duration::from_secs(20), || {
            let url = url.clone();
            async move { async_nats::connect(&url).await.ok().map(drop) }
        })
        .await;
    }

    /// SIGKILL, as a crash; the store stays for the next [`NatsNode::start`].
    pub async fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().await;
        }
    }
}

/// Waits until JetStream answers an account query at `url` (in a cluster: a meta leader).
pub async fn wait_for_jetstream(url: &str, deadline: Duration) {
    let last = std::sync::Mutex::new(String::new());
    let answered = super::try_wait_for(deadline, || async {
        let client = match async_nats::connect(url).await {
            Ok(client) => client,
            Err(e) => {
                *last.lock().unwrap() = e.to_string();
                return None;
            }
        };
        // The raw account info request: its answer has an `error` until JetStream (in a
        // cluster, its meta leader) is up.
        match client.request("$JS.API.INFO", "".into()).await {
            Ok(answer) => {
                let body: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap_or_default();
                if body.get("error").is_none() && body.get("type").is_some() {
                    return Some(());
                }
                *last.lock().unwrap() = String::from_utf8_lossy(&answer.payload).into_owned();
                None
            }
            Err(e) => {
                *last.lock().unwrap() = e.to_string();
                None
            }
        }
    })
    .await;
    if answered.is_none() {
        panic!("JetStream at {url} did not answer within {deadline:?}: {}", last.lock().unwrap());
    }
}

/// Three nats-servers clustered on loopback, JetStream on each.
pub struct NatsCluster {
    pub nodes: Vec<NatsNode>,
}

impl NatsCluster {
    pub async fn start() -> NatsCluster {
        let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes: Vec<NatsNode> = (0..3)
            .map(|i| {
                let routes = cluster_ports.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p).collect();
                NatsNode::new(&format!("n{}", i + 1), Some(cluster_ports[i]), routes)
            })
            .collect();
        for node in &mut nodes {
            node.spawn();
        }
        for node in &mut nodes {
            let url = node.url.clone();
            wait_for(&format!("nats-server {} to accept connections", node.name), Duration::from_secs(20), || {
                let url = url.clone();
                async move { async_nats::connect(&url).await.ok().map(drop) }
            })
            .await;
        }
        let cluster = NatsCluster { nodes };
        wait_for_jetstream(&cluster.nodes[0].url, Duration::from_secs(30)).await;
        cluster
    }

    /// The URL clients are given (they learn the other nodes from it).
    pub fn url(&self) -> String {
        self.nodes[0].url.clone()
    }

    pub fn node(&mut self, name: &str) -> &mut NatsNode {
        self.nodes.iter_mut().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    }
}
