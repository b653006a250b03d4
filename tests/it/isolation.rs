//! Provider isolation (provider-protocol.md, "Timeouts and isolation", "Circuit breaker"):
//! provider `a` hung, then down (503), while provider `sim`'s documents flow; `a`'s
//! documents wait without spending attempts and complete once it is back.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use docflow::db::State;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Process, Sandbox, docflow_binary, wait_for};

const HUNG: u8 = 0;
const DOWN: u8 = 1;
const UP: u8 = 2;

/// Provider `a` as the test wants it: a TCP front that accepts and never answers
/// (`HUNG`), answers 503 (`DOWN`), or forwards to a real provider-sim (`UP`). The mode is
/// read when a connection is accepted.
async fn front(mode: Arc<AtomicU8>, target: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let target = target.clone();
            let mode = mode.load(Ordering::SeqCst);
            tokio::spawn(async move {
                match mode {
                    HUNG => {
                        let mut sink = vec![0; 64 * 1024];
                        while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                        std::future::pending::<()>().await;
                    }
                    DOWN => {
                        let mut head = Vec::new();
                        let mut buffer = vec![0; 16 * 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buffer[..n]),
                            }
                        }
                        let body = br#"{"error":"maintenance"}"#;
                        let answer = format!(
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(answer.as_bytes()).await;
                        let _ = socket.write_all(body).await;
                        let _ = socket.shutdown().await;
                    }
                    _ => {
                        if let Ok(mut upstream) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
                        }
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

/// The value of a sample of the gateway's `/metrics`, 0 when absent.
async fn metric(sandbox: &Sandbox, name: &str, labels: &str) -> f64 {
    let text = sandbox.metrics(0).await;
    text.lines()
        .filter(|line| line.starts_with(name) && labels.split(',').all(|l| line.contains(l)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_hung_then_down_provider_holds_only_its_own_documents_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let sim_a_dir = dir.path().join("sim-a");
    let (_sim_a, sim_a_url) = Process::spawn_announcing(
        "provider-sim a",
        docflow_binary(),
        &["provider-sim", "--listen", "127.0.0.1:0", "--data-dir", sim_a_dir.to_str().unwrap()],
        &[],
        "listening on ",
    )
    .await;
    let mode = Arc::new(AtomicU8::new(HUNG));
    let a_url = front(mode.clone(), sim_a_url.trim_start_matches("http://").to_owned()).await;
    let a_host = sim_a_url.trim_start_matches("http://").to_owned();
    let mut sandbox = Sandbox::builder()
        .env("DOCFLOW__ROUTING__DEFAULT", "sim")
        .env("DOCFLOW__PROVIDERS__A__BASE_URL", &a_url)
        .env("DOCFLOW__PROVIDERS__A__API_KEY", "sim-api-key")
        .env("DOCFLOW__PROVIDERS__A__CALLBACK_SECRET", "sim-callback-secret")
        .env("DOCFLOW__PROVIDERS__A__RESULT_HOSTS", &a_host)
        .env("DOCFLOW__PROVIDERS__A__IDLE_TIMEOUT", "500ms")
        .env("DOCFLOW__PROVIDERS__A__CONNECT_TIMEOUT", "1s")
        .env("DOCFLOW__PROVIDERS__A__CONCURRENCY", "4")
        .env("DOCFLOW__PROVIDERS__A__BREAKER__FAILURES", "3")
        .env("DOCFLOW__PROVIDERS__A__BREAKER__PROBE_AFTER", "300ms")
        .env("DOCFLOW__PROVIDERS__A__BREAKER__MAX_PROBE_AFTER", "1s")
        .start()
        .await;
    sandbox.start_all().await;

    const EACH: usize = 40;
    let plan = crate::support::lesson_plan();
    let mut a_docs = Vec::new();
    for n in 0..EACH {
        let key = format!("teacher-a/{n:03}/plan.txt");
        a_docs.push(sandbox.upload(&key, plan.clone(), "text/plain", &[("kind", "document"), ("provider", "a")]).await);
    }
    let mut b_docs = Vec::new();
    for n in 0..EACH {
        let key = format!("teacher-b/{n:03}/plan.txt");
        b_docs.push(sandbox.upload(&key, plan.clone(), "text/plain", &[("kind", "document")]).await);
    }

    // Provider a hangs: sim's documents, behind all of a's in the stream, still flow.
    for id in &b_docs {
        sandbox.wait_for_state(*id, State::Normalized, Duration::from_secs(90)).await;
    }
    wait_for("a's breaker to open", Duration::from_secs(30), || async {
        (metric(&sandbox, "docflow_provider_breaker_state", "provider=\"a\"").await >= 1.0).then_some(())
    })
    .await;

    // Then it answers 503. Held long enough that counted holds would have dead-lettered
    // every document several times over (max_deliver 5).
    mode.store(DOWN, Ordering::SeqCst);
    let held_before = metric(&sandbox, "docflow_provider_held_total", "provider=\"a\",reason=\"breaker\"").await;
    wait_for("a's documents to be held many times", Duration::from_secs(60), || async {
        let held = metric(&sandbox, "docflow_provider_held_total", "provider=\"a\",reason=\"breaker\"").await;
        (held - held_before >= (EACH * 6) as f64).then_some(())
    })
    .await;
    for id in &a_docs {
        let document = sandbox.db.get(*id).await.unwrap().expect("a's document is recorded");
        assert_eq!(document.state, State::Received, "{id} while a is down: {:?}", document.error_reason);
    }
    assert!(sandbox.stream_messages("DEAD").await.is_empty(), "nothing is dead-lettered during the outage");

    // a is back: every one of its documents completes, one job each.
    mode.store(UP, Ordering::SeqCst);
    for id in &a_docs {
        sandbox.wait_for_state(*id, State::Normalized, Duration::from_secs(90)).await;
    }
    assert!(sandbox.stream_messages("DEAD").await.is_empty(), "no dead letter at all");
    // Holds spent no attempt: at most the one real failure of a submission in flight when
    // the breaker opened (concurrency 4, failures 3) precedes the one that succeeded.
    for id in &a_docs {
        let timeline = sandbox.db.timeline(*id).await.unwrap();
        let submitted = timeline.iter().find(|e| e.state == State::Submitted).expect("submitted once");
        assert!(submitted.attempt <= 2, "{id} submitted at attempt {}: {timeline:?}", submitted.attempt);
    }
    let jobs: Vec<serde_json::Value> =
        reqwest::get(format!("{sim_a_url}/v1/_sim/jobs")).await.unwrap().json().await.unwrap();
    let mut per_reference: HashMap<String, usize> = HashMap::new();
    for job in &jobs {
        *per_reference.entry(job["reference"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    for id in &a_docs {
        assert_eq!(per_reference.get(&id.to_string()), Some(&1), "one job at a for {id}");
    }
    assert_eq!(metric(&sandbox, "docflow_provider_breaker_state", "provider=\"a\"").await, 0.0, "closed again");
}
