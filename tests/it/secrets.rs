//! Secrets are never printed: a full pipeline with a distinctive value for every secret,
//! one `docflow run` at `info` and one at `debug`, NATS (requiring a password) restarted
//! once under them, then everything docflow printed and served is searched for each value.

use std::time::Duration;

use docflow::db::State;
use docflow::dev::nats_server::{NatsServer, default_binary};

use crate::support::{ACCESS_KEY, Process, SECRET_KEY, Sandbox, TOKEN, docflow_binary, lesson_plan, wait_for};

const NATS_USER: &str = "natsuser-k4q";
const NATS_PASSWORD: &str = "natspw-Zr8x2";
const DB_PASSWORD: &str = "dbpw-Hq71v";
const API_KEY: &str = "apikey-Wm3p9";
const CALLBACK_SECRET: &str = "cbsecret-Tn6d4";
const INGEST_TOKEN: &str = "ingesttok-Lb5s8";
const DEADLINE: Duration = Duration::from_secs(60);

fn nats_config() -> String {
    format!(r#"authorization {{ user: "{NATS_USER}", password: "{NATS_PASSWORD}" }}"#)
}

/// GET `url`: status and body.
async fn fetch(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn no_secret_is_printed_or_served_at_info_or_debug_with_nats_restarted() {
    let nats_dir = tempfile::tempdir().unwrap();
    let store = nats_dir.path().join("nats");
    let server = NatsServer::start_configured(&default_binary(), &store, None, &nats_config()).await.unwrap();
    let port = server.port();
    let nats_url = format!("nats://{NATS_USER}:{NATS_PASSWORD}@127.0.0.1:{port}");

    let mut sandbox = Sandbox::builder()
        .sim(&["--api-key", API_KEY, "--callback-secret", CALLBACK_SECRET])
        .database_password(DB_PASSWORD)
        .env("DOCFLOW__NATS__URL", &nats_url)
        .env("DOCFLOW__PROVIDERS__SIM__API_KEY", API_KEY)
        .env("DOCFLOW__PROVIDERS__SIM__CALLBACK_SECRET", CALLBACK_SECRET)
        .env("DOCFLOW__INGEST__TOKEN", INGEST_TOKEN)
        .start()
        .await;
    let mut printed: Vec<(String, String)> = Vec::new();
    let env: Vec<(String, String)> = sandbox.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut setup_env = env.clone();
    setup_env.push(("RUST_LOG".into(), "debug".into()));
    let mut setup = Process::spawn("setup at debug", docflow_binary(), &["setup"], &setup_env);
    assert!(setup.wait(DEADLINE).await.success(), "{}", setup.output());
    printed.push(("docflow setup (debug)".into(), setup.output()));

    // One process with every component at info, one with the stages at debug.
    let info = sandbox.start_worker_with(&[], &[("RUST_LOG", "info")]);
    let debug = sandbox.start_worker_with(&["transfer", "validate", "normalize", "watchdog"], &[("RUST_LOG", "debug")]);
    sandbox.wait_ready(info).await;
    sandbox.wait_ready(debug).await;
    let first = sandbox.upload("teacher-1/a.txt", lesson_plan(), "text/plain", &[]).await;
    sandbox.wait_for_state(first, State::Normalized, DEADLINE).await;

    // NATS goes away: /readyz says so without the URL, the user or the password.
    server.stop().await;
    for index in [info, debug] {
        let url = format!("{}/readyz", sandbox.admin_url(index));
        let body = wait_for("/readyz to report NATS down", DEADLINE, || async {
            let (status, body) = fetch(&url).await;
            (status == 503).then_some(body)
        })
        .await;
        assert!(body.contains(r#""nats":"disconnected""#) || body.contains(r#""nats":"connecting""#), "{body}");
        assert!(!body.contains(NATS_USER) && !body.contains("nats://"), "{body}");
        printed.push((format!("/readyz of worker {index} with NATS down"), body));
    }
    let _server = NatsServer::start_configured(&default_binary(), &store, Some(port), &nats_config()).await.unwrap();
    sandbox.wait_ready(info).await;
    sandbox.wait_ready(debug).await;

    let mut documents = Vec::new();
    for n in 0..4 {
        documents.push(sandbox.upload(&format!("teacher-2/plan-{n}.txt"), lesson_plan(), "text/plain", &[]).await);
    }
    for id in &documents {
        sandbox.wait_for_state(*id, State::Normalized, DEADLINE).await;
    }
    let (status, body) = sandbox.api(&format!("/v1/documents/{first}")).await;
    assert_eq!(status, 200, "{body}");

    for index in [info, debug] {
        for path in ["/readyz", "/metrics"] {
            let (status, body) = fetch(&format!("{}{path}", sandbox.admin_url(index))).await;
            assert_eq!(status, 200, "{path}: {body}");
            printed.push((format!("{path} of worker {index}"), body));
        }
    }
    // Command output, with every secret in the environment.
    let first_id = first.to_string();
    for args in [vec!["status", first_id.as_str()], vec!["dlq", "list"]] {
        let mut command = Process::spawn(&format!("docflow {}", args.join(" ")), docflow_binary(), &args, &env);
        command.wait(DEADLINE).await;
        printed.push((format!("docflow {}", args.join(" ")), command.output()));
    }
    for index in [info, debug] {
        sandbox.workers[index].terminate();
        sandbox.workers[index].wait(DEADLINE).await;
        printed.push((format!("docflow run (worker {index})"), sandbox.workers[index].output()));
    }

    // The logs are real: the debug process logged at debug, both saw NATS go and come back.
    let debug_log = &printed.iter().find(|(what, _)| what == &format!("docflow run (worker {debug})")).unwrap().1;
    assert!(debug_log.contains("DEBUG"), "the debug process logged nothing at debug:\n{debug_log}");
    for (what, text) in printed.iter().filter(|(what, _)| what.starts_with("docflow run")) {
        assert!(text.contains("nats disconnected"), "{what} did not see NATS go:\n{text}");
    }
    let secrets = [
        NATS_PASSWORD,
        DB_PASSWORD,
        API_KEY,
        CALLBACK_SECRET,
        INGEST_TOKEN,
        SECRET_KEY,
        TOKEN,
        // The NATS URL with its credentials, in any form.
        &format!("{NATS_USER}:"),
    ];
    for (what, text) in &printed {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} printed by {what}:\n{text}");
        }
    }
    // The S3 access key is no secret (it names the account), but a URL with it is.
    assert!(!printed.iter().any(|(_, text)| text.contains(&format!("{ACCESS_KEY}:"))));
}
