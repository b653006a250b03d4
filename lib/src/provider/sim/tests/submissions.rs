//! Submissions: idempotency, injected faults, refusals, a job's life and the flags.

use super::*;

#[tokio::test]
async fn an_upload_makes_one_job_and_repeats_of_its_key_answer_that_job() {
    let sim = RunningSim::start(SimOptions::default()).await;
    let client = sim.client();
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/v1/callbacks/sim");

    let first = client.submit("key-1", &meta, upload(PLAN)).await.unwrap();
    let again = client.submit("key-1", &meta, upload(PLAN)).await.unwrap();
    assert_eq!(first, again);
    assert!(first.job_id.as_str().starts_with("job_"));

    // Concurrent first submissions of one key make one job too.
    let concurrent = futures_util::future::join_all((0..4).map(|_| client.submit("key-2", &meta, upload(PLAN)))).await;
    let ids: Vec<JobId> = concurrent.into_iter().map(|r| r.unwrap().job_id).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_ne!(ids[0], first.job_id);

    let stats = sim.get_json("/v1/_sim/stats").await;
    assert_eq!(stats["jobs_created"], 2);
    assert_eq!(stats["submissions_received"], 6);
    assert_eq!(stats["responses_by_status"]["202"], 2);
    assert_eq!(stats["responses_by_status"]["200"], 4);
    let job = sim.job(&first.job_id).await;
    assert_eq!(job["idempotency_key"], "key-1");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["size"], PLAN.len());
    assert_eq!(job["sha256"], sha256(PLAN));
    assert_eq!(job["reference"], REFERENCE);
    assert_eq!(job["kind"], "document");
}

#[tokio::test]
async fn fail_first_two_answers_transient_twice_then_accepts() {
    let sim = RunningSim::start(SimOptions { fail_first: 2, ..SimOptions::default() }).await;
    let client = sim.client();
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    for _ in 0..2 {
        match client.submit("k", &meta, upload(PLAN)).await {
            Err(SubmitError::Transient { detail }) => {
                assert!(detail.contains("answered 503"), "{detail}")
            }
            other => panic!("expected a transient failure, got {other:?}"),
        }
    }
    let job = client.submit("k", &meta, upload(PLAN)).await.unwrap();
    assert_eq!(sim.job(&job.job_id).await["attempts"], 3);
    // Another key starts its own count.
    assert!(matches!(client.submit("other", &meta, upload(PLAN)).await, Err(SubmitError::Transient { .. })));
}

#[tokio::test]
async fn throttling_answers_throttled_with_the_retry_after() {
    let sim = RunningSim::start(SimOptions { throttle_first: 1, retry_after: 7, ..SimOptions::default() }).await;
    let client = sim.client();
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    match client.submit("k", &meta, upload(PLAN)).await {
        Err(SubmitError::Throttled { retry_after, detail }) => {
            assert_eq!(retry_after, Duration::from_secs(7));
            assert!(detail.starts_with("provider sim answered 429"), "{detail}");
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    client.submit("k", &meta, upload(PLAN)).await.unwrap();
}

#[tokio::test]
async fn a_rejected_submission_is_permanent_with_the_providers_body() {
    let sim = RunningSim::start(SimOptions { reject_status: Some(422), ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    match sim.client().submit("k", &meta, upload(PLAN)).await {
        Err(SubmitError::Permanent { status, detail }) => {
            assert_eq!(status, 422);
            assert!(detail.starts_with("provider sim answered 422: {"), "{detail}");
            assert!(detail.contains("\"code\":\"unprocessable\""), "{detail}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert_eq!(sim.get_json("/v1/_sim/stats").await["jobs_created"], 0);
}

#[tokio::test]
async fn a_wrong_api_key_or_a_wrong_size_is_permanent() {
    let sim = RunningSim::start(SimOptions::default()).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    let wrong_key = sim.client_with_key("nope").submit("k", &meta, upload(PLAN)).await;
    assert!(matches!(wrong_key, Err(SubmitError::Permanent { status: 401, .. })), "{wrong_key:?}");

    let short = JobMetadata { size: PLAN.len() as u64 + 1, ..meta.clone() };
    match sim.client().submit("k", &short, upload(PLAN)).await {
        Err(SubmitError::Permanent { status: 400, detail }) => assert!(detail.contains("size_mismatch"), "{detail}"),
        other => panic!("expected 400, got {other:?}"),
    }
    // The failed attempt made no job: the same key can still create one.
    sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    assert_eq!(sim.get_json("/v1/_sim/stats").await["jobs_created"], 1);

    let missing = sim.client().job_status(&JobId::from("job_missing")).await;
    assert!(matches!(missing, Err(SubmitError::Permanent { status: 404, .. })), "{missing:?}");
}

#[tokio::test]
async fn an_unreachable_or_silent_provider_is_transient() {
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let client = provider_client(&format!("http://{closed}"), "k", "10s");
    match client.submit("k", &meta, upload(PLAN)).await {
        Err(SubmitError::Transient { detail }) => {
            assert!(detail.contains("cannot connect"), "{detail}")
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }

    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let client = provider_client(&format!("http://{address}"), "k", "300ms");
    match client.job_status(&JobId::from("job_1")).await {
        Err(SubmitError::Transient { detail }) => assert!(detail.contains("timed out"), "{detail}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Which of ten keys an error rate of one half answers 503 on their first attempt.
async fn failing_keys(seed: u64) -> Vec<usize> {
    let sim = RunningSim::start(SimOptions { error_rate: 0.5, seed, ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    let mut failing = Vec::new();
    for i in 0..10 {
        match sim.client().submit(&format!("key-{i}"), &meta, upload(PLAN)).await {
            Ok(_) => {}
            Err(SubmitError::Transient { .. }) => failing.push(i),
            Err(other) => panic!("{other:?}"),
        }
    }
    failing
}

#[tokio::test]
async fn the_error_rate_is_deterministic_for_a_seed() {
    let first = failing_keys(7).await;
    assert_eq!(first, failing_keys(7).await);
    assert!(!first.is_empty() && first.len() < 10, "{first:?}");
}

#[tokio::test]
async fn a_job_is_queued_until_its_processing_delay_has_passed() {
    let sim =
        RunningSim::start(SimOptions { processing_delay: Duration::from_millis(600), ..SimOptions::default() }).await;
    let client = sim.client();
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    let job = client.submit("k", &meta, upload(PLAN)).await.unwrap();
    let status = client.job_status(&job.job_id).await.unwrap();
    assert_eq!(status.status, JobState::Queued);
    assert!(status.results.is_empty() && status.event_id.is_none());
    let done = wait_for("the job to complete", || async {
        let status = client.job_status(&job.job_id).await.unwrap();
        status.status.is_final().then_some(status)
    })
    .await;
    assert_eq!(done.status, JobState::Completed);
}

#[tokio::test]
async fn the_sim_stops_when_its_token_is_cancelled() {
    let mut sim =
        RunningSim::start(SimOptions { processing_delay: Duration::from_secs(3600), ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), "http://127.0.0.1:9/cb");
    sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    sim.shutdown.cancel();
    let task = sim.task.take().unwrap();
    tokio::time::timeout(DEADLINE, task).await.expect("the sim stops in time").unwrap().unwrap();
}

#[test]
fn the_flags_parse_and_default_like_default() {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimOptions,
    }
    let parsed = Cli::try_parse_from(["provider-sim"]).unwrap().sim;
    let default = SimOptions::default();
    assert_eq!(parsed.listen, default.listen);
    assert_eq!(parsed.api_key, default.api_key);
    assert_eq!(parsed.callback_secrets, default.callback_secrets);
    assert_eq!(parsed.retry_after, default.retry_after);
    assert_eq!(parsed.callback_attempts, default.callback_attempts);
    assert_eq!(parsed.processing_delay, default.processing_delay);

    let parsed = Cli::try_parse_from([
        "provider-sim",
        "--fail-first",
        "2",
        "--processing-delay",
        "1s 500ms",
        "--callback-secret",
        "a",
        "--callback-secret",
        "b",
        "--error-rate",
        "0.25",
        "--reject-status",
        "422",
        "--corrupt-results",
    ])
    .unwrap()
    .sim;
    assert_eq!(parsed.fail_first, 2);
    assert_eq!(parsed.processing_delay, Duration::from_millis(1500));
    assert_eq!(parsed.callback_secrets, vec!["a", "b"]);
    assert_eq!(parsed.error_rate, 0.25);
    assert_eq!(parsed.reject_status, Some(422));
    assert!(parsed.corrupt_results);

    for bad in [&["--error-rate", "1.5"][..], &["--reject-status", "200"], &["--processing-delay", "soon"]] {
        assert!(Cli::try_parse_from(std::iter::once("provider-sim").chain(bad.iter().copied())).is_err(), "{bad:?}");
    }
}
