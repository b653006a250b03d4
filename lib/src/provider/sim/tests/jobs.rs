//! Finished jobs: callbacks, their signatures and retries, result files.

use super::*;

#[tokio::test]
async fn a_completed_document_calls_back_signed_with_results_matching_their_sha256() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let sim = RunningSim::start(SimOptions::default()).await;
    let client = sim.client();
    let meta = meta(Kind::Document, "lesson plan week 3.txt", "text/plain", PLAN.len(), &callback_url);
    let job = client.submit("k", &meta, upload(PLAN)).await.unwrap();

    let received = receiver.wait_for_callbacks(1).await;
    let callback = checked_callback(&received, 0);
    assert_eq!(callback.job_id, job.job_id);
    assert_eq!(callback.reference.to_string(), REFERENCE);
    assert_eq!(callback.status, CallbackStatus::Completed);
    assert!(callback.event_id.starts_with("evt_"));
    let roles: Vec<Role> = callback.results.iter().map(|r| r.role).collect();
    assert_eq!(roles, vec![Role::Corrected, Role::Findings]);

    for result in &callback.results {
        let bytes = download(&result.url).await;
        assert_eq!(bytes.len() as u64, result.size, "{}", result.name);
        assert_eq!(sha256(&bytes), result.sha256, "{}", result.name);
    }
    let corrected = &callback.results[0];
    assert_eq!(corrected.name, "lesson plan week 3.corrected.txt");
    assert_eq!(corrected.content_type, "text/plain");
    assert_eq!(
        download(&corrected.url).await,
        &b"Week 3: the water cycle.\nPupils receive a worksheet  and draw clouds.\n"[..]
    );
    let findings: Findings = serde_json::from_slice(&download(&callback.results[1].url).await).unwrap();
    assert_eq!(findings.word_count, 12);
    assert_eq!(findings.language, "en");
    assert!(findings.findings.iter().any(|f| f.suggestion.as_deref() == Some("receive")));

    // The status route carries the same callback, for a watchdog that missed it.
    let status = client.job_status(&job.job_id).await.unwrap();
    assert_eq!(status.status, JobState::Completed);
    assert_eq!(status.into_callback(), Some(callback));
    let listed = wait_for("callbacks_sent to be 1", || async {
        let job = sim.job(&job.job_id).await;
        (job["callbacks_sent"] == 1).then_some(job)
    })
    .await;
    assert_eq!(listed["status"], "completed");
}

#[tokio::test]
async fn a_video_gets_a_webvtt_transcript_and_a_summary() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let sim =
        RunningSim::start(SimOptions { callback_url_override: Some(callback_url), ..SimOptions::default() }).await;
    let video = vec![0x42u8; 300_000];
    // The override wins over the submission's callback_url.
    let meta = meta(Kind::Video, "lesson.mp4", "video/mp4", video.len(), "http://127.0.0.1:9/nowhere");
    sim.client().submit("k", &meta, upload(&video)).await.unwrap();
    let callback = checked_callback(&receiver.wait_for_callbacks(1).await, 0);
    let roles: Vec<Role> = callback.results.iter().map(|r| r.role).collect();
    assert_eq!(roles, vec![Role::Transcript, Role::Summary]);
    let transcript = download(&callback.results[0].url).await;
    assert!(transcript.starts_with(b"WEBVTT\n"));
    assert_eq!(callback.results[0].content_type, "text/vtt");
    let summary: Summary = serde_json::from_slice(&download(&callback.results[1].url).await).unwrap();
    assert_eq!(summary.duration_seconds, 5.0);
    assert!(summary.speakers.is_some_and(|s| s >= 1) && !summary.chapters.is_empty());
}

#[tokio::test]
async fn a_playable_video_comes_back_as_its_own_rendition() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let sim = RunningSim::start(SimOptions::default()).await;
    let clip = include_bytes!("../../../../../samples/classroom-clip.mp4");
    let meta = meta(Kind::Video, "uploads/classroom-clip.mp4", "video/mp4", clip.len(), &callback_url);
    sim.client().submit("k", &meta, upload(clip)).await.unwrap();
    let callback = checked_callback(&receiver.wait_for_callbacks(1).await, 0);
    let roles: Vec<Role> = callback.results.iter().map(|r| r.role).collect();
    assert_eq!(roles, vec![Role::Transcript, Role::Summary, Role::Rendition]);
    let rendition = &callback.results[2];
    assert_eq!((rendition.name.as_str(), rendition.content_type.as_str()), ("classroom-clip.mp4", "video/mp4"));
    assert_eq!(download(&rendition.url).await, &clip[..]);
}

#[tokio::test]
async fn url_mode_fetches_the_source_and_an_unreachable_source_fails_the_job() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let source = serve(Router::new().route("/plan.txt", get(|| async { PLAN }))).await;
    let sim = RunningSim::start(SimOptions::default()).await;
    let client = sim.client();

    let mut fetched = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), &callback_url);
    fetched.source_url = Some(format!("http://{source}/plan.txt"));
    let job = client.submit("fetched", &fetched, SubmitBody::Url).await.unwrap();
    let callback = checked_callback(&receiver.wait_for_callbacks(1).await, 0);
    assert_eq!(callback.status, CallbackStatus::Completed);
    let listed = sim.job(&job.job_id).await;
    assert_eq!(listed["delivery"], "url");
    assert_eq!(listed["sha256"], sha256(PLAN));

    let mut unreachable = fetched.clone();
    unreachable.source_url = Some(format!("http://{source}/gone.txt"));
    let job = client.submit("unreachable", &unreachable, SubmitBody::Url).await.unwrap();
    let callback = checked_callback(&receiver.wait_for_callbacks(2).await, 1);
    assert_eq!(callback.job_id, job.job_id);
    assert_eq!(callback.status, CallbackStatus::Failed);
    assert_eq!(callback.error.unwrap().code, "source_unreachable");
    assert!(callback.results.is_empty());

    // A URL-mode submission without a source URL is not sent at all.
    let missing =
        client.submit("none", &meta(Kind::Document, "a", "text/plain", 1, &callback_url), SubmitBody::Url).await;
    assert!(matches!(missing, Err(SubmitError::Permanent { status: 0, .. })), "{missing:?}");
}

#[tokio::test]
async fn corrupt_results_keep_their_size_but_not_their_sha256() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let sim = RunningSim::start(SimOptions { corrupt_results: true, ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), &callback_url);
    sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    let callback = checked_callback(&receiver.wait_for_callbacks(1).await, 0);
    for result in &callback.results {
        let bytes = download(&result.url).await;
        assert_eq!(bytes.len() as u64, result.size);
        assert_ne!(sha256(&bytes), result.sha256);
    }
}

#[tokio::test]
async fn a_refused_callback_is_retried_and_duplicates_repeat_the_event() {
    let (receiver, callback_url) = Receiver::start(vec![StatusCode::SERVICE_UNAVAILABLE]).await;
    let sim = RunningSim::start(SimOptions { duplicate_callbacks: 2, ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), &callback_url);
    let job = sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    let received = receiver.wait_for_callbacks(3).await;
    let events: Vec<String> = (0..3).map(|i| checked_callback(&received, i).event_id).collect();
    assert!(events.iter().all(|e| *e == events[0]), "{events:?}");
    let listed = wait_for("3 deliveries in 4 attempts", || async {
        let job = sim.job(&job.job_id).await;
        (job["callbacks_sent"] == 3).then_some(job)
    })
    .await;
    assert_eq!(listed["callback_attempts"], 4);
}

#[tokio::test]
async fn dropped_callbacks_leave_the_result_to_the_status_route() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let sim = RunningSim::start(SimOptions { drop_callbacks: 1.0, ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), &callback_url);
    let job = sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    wait_for("the callback to be dropped", || async {
        (sim.job(&job.job_id).await["callback_dropped"] == true).then_some(())
    })
    .await;
    assert!(receiver.received().is_empty());
    let status = sim.client().job_status(&job.job_id).await.unwrap();
    assert_eq!(status.status, JobState::Completed);
    assert_eq!(status.results.len(), 2);
}

#[tokio::test]
async fn failed_jobs_call_back_with_an_error_and_no_results() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let sim = RunningSim::start(SimOptions { fail_jobs: 1.0, ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), &callback_url);
    sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    let callback = checked_callback(&receiver.wait_for_callbacks(1).await, 0);
    assert_eq!(callback.status, CallbackStatus::Failed);
    assert_eq!(callback.error.unwrap().code, "processing_failed");
    assert!(callback.results.is_empty());
}

#[tokio::test]
async fn a_job_lists_its_own_time_once_it_has_called_back() {
    let (receiver, callback_url) = Receiver::start(vec![]).await;
    let delay = Duration::from_millis(500);
    let sim = RunningSim::start(SimOptions { processing_delay: delay, ..SimOptions::default() }).await;
    let meta = meta(Kind::Document, "plan.txt", "text/plain", PLAN.len(), &callback_url);
    let job = sim.client().submit("k", &meta, upload(PLAN)).await.unwrap();
    assert!(sim.job(&job.job_id).await["own_time_ms"].is_null(), "no callback yet, no own time");
    receiver.wait_for_callbacks(1).await;
    let own = sim.job(&job.job_id).await["own_time_ms"].as_f64().expect("own time after the callback");
    assert!(own >= delay.as_secs_f64() * 1000.0, "{own} ms, the processing delay is {delay:?}");
}
