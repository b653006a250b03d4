//! nats-server processes of a test's own, which the test may kill and start again on the
//! same port and store: one server, or a three-node cluster on loopback. Started by
//! docflow's one starter (`docflow::dev::nats_server`): each server picks its client port
//! and reports it. The binary is `docflow::testkit::nats::nats_server_binary`.

use std::time::Duration;

use docflow::dev::nats_server::{NatsServer, NatsServerOptions};
use docflow::testkit::nats::nats_server_binary;

use super::free_port;

const CLUSTER_NAME: &str = "docflow-faults";

/// One nats-server with JetStream, its store in a directory that outlives its restarts.
pub struct NatsNode {
    pub name: String,
    pub url: String,
    server: NatsServer,
    _dir: tempfile::TempDir,
}

impl NatsNode {
    /// A single server on a port it picks, running.
    pub async fn single() -> NatsNode {
        NatsNode::launch("n1", None, &[]).await
    }

    /// Starts a server and waits until it accepts connections; in a cluster when
    /// `cluster_port` is given, with routes to `routes`.
    async fn launch(name: &str, cluster_port: Option<u16>, routes: &[u16]) -> NatsNode {
        let dir = tempfile::tempdir().expect("a store directory");
        let mut options = NatsServerOptions::new(nats_server_binary(), dir.path());
        options.args = vec!["-n".into(), name.into()];
        if let Some(cluster_port) = cluster_port {
            options.args.extend(["--cluster_name".into(), CLUSTER_NAME.into()]);
            options.args.extend(["--cluster".into(), format!("nats://127.0.0.1:{cluster_port}")]);
            let routes: Vec<String> = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
            options.args.extend(["--routes".into(), routes.join(",")]);
        }
        let server = NatsServer::launch(options).await.unwrap_or_else(|e| panic!("nats-server {name}: {e}"));
        NatsNode { name: name.to_owned(), url: server.url().to_owned(), server, _dir: dir }
    }

    /// Starts the server again (same port and store) and waits until it accepts connections.
    pub async fn start(&mut self) {
        self.server.restart().await.unwrap_or_else(|e| panic!("nats-server {}: {e}", self.name));
    }

    /// SIGKILL, as a crash; the store stays for the next [`NatsNode::start`].
    pub async fn kill(&mut self) {
        self.server.kill().await;
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
        // The route ports must be known to every node before it starts.
        let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for (i, port) in cluster_ports.iter().enumerate() {
            let routes: Vec<u16> = cluster_ports.iter().filter(|p| *p != port).copied().collect();
            nodes.push(NatsNode::launch(&format!("n{}", i + 1), Some(*port), &routes).await);
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
