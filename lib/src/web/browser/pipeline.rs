//! The pipeline page (`/ui/pipeline`, role `admin`) in real headless Chromium (the pattern
//! of `browser.rs`): over a database with documents in several states, the real topology
//! of a prefix of its own on NATS and a dead letter, an operator signs in and sees the
//! pipeline drawn with those counts. Saves `docs/screenshots/pipeline.png`.
//!
//! Ignored by default, as it needs the browser installed (`make test-browser`).

use std::sync::Arc;
use std::time::Duration;

use fantoccini::Locator;

use super::{axe, chromium, finish, screenshot};
use crate::db::State;
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{settings, sqlite};
use crate::ids::Kind;
use crate::lifecycle::FailureCause;
use crate::nats::Names;
use crate::storage::Store;
use crate::web::{WebState, routes};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"]
async fn in_chromium_an_operator_sees_the_pipeline_drawn_with_its_counts_and_dead_letters() {
    let t = sqlite().await;
    let db = &t.db;
    // Two documents waiting for transfer, one at the provider, one normalized, one failed.
    t.receive("teacher-42", Kind::Document, "week 1.docx").await;
    t.receive("teacher-42", Kind::Document, "week 2.docx").await;
    let submitted = t.receive("teacher-7", Kind::Video, "lesson.mp4").await;
    let job = submitted.submission_id("sim").to_string();
    assert!(db.mark_submitted_in_round(submitted, 0, "sim", &job, "job_1", "transfer", 1).await.unwrap());
    let done = t.receive("teacher-7", Kind::Document, "plan.docx").await;
    let job = done.submission_id("sim").to_string();
    assert!(db.mark_submitted_in_round(done, 0, "sim", &job, "job_2", "transfer", 1).await.unwrap());
    assert!(db.transition(done, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    assert!(db.record_validated(done, State::Processed, "evt-1", &[], "validate", 2).await.unwrap());
    let normalized = serde_json::json!({"schema_version": 1, "findings": [], "word_count": 12, "language": "en"});
    assert!(db.store_normalized(done, &normalized, "normalize", 1).await.unwrap());
    let failed = t.receive("teacher-42", Kind::Document, "scan.pdf").await;
    db.mark_failed(failed, "transfer", 1, FailureCause::FileRefused, "the file is empty (0 bytes)").await.unwrap();

    let tokens = "[{token = \"ops-token\", role = \"admin\"}]";
    let settings = Arc::new(settings(&[("DOCFLOW__GATEWAY__TOKENS", tokens)]));
    let (client, js) = crate::testkit::connect(&crate::testkit::nats_url()).await;
    crate::topology::apply(&js, &settings).await.unwrap();
    // A dead letter of transfer, on its subject (the overview counts them by subject).
    let names = Names::new(&settings.nats.prefix);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(crate::worker::dead_letter::STAGE, "transfer");
    js.publish_with_headers(names.dead_subject("transfer"), headers, "{}".into()).await.unwrap().await.unwrap();

    let store = Store::new(&settings.s3).unwrap();
    let ops = crate::ops::Ops::new(client, t.db.clone(), &settings);
    let web = WebState::new(EvaluatorState::new(settings.clone(), t.db.clone(), store)).with_ops(ops);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = routes(web);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (driver, browser) = chromium().await;
    let outcome = async {
        browser.set_window_size(1280, 900).await?;
        browser.goto(&format!("{base}/ui/sign-in")).await?;
        browser.wait().at_most(WAIT).for_element(Locator::Css("input#token")).await?.send_keys("ops-token").await?;
        browser.find(Locator::Css("form.sign-in button")).await?.click().await?;
        // An operator lands on the pipeline.
        let drawing = browser.wait().at_most(WAIT).for_element(Locator::Css("main")).await?;
        let text = drawing.text().await?;
        let url = browser.current_url().await?;
        axe(&browser, "the pipeline page").await?;
        let png = browser.screenshot().await?;
        Ok::<_, fantoccini::error::CmdError>((url, text, png))
    }
    .await;
    let (url, text, png) = finish(browser, driver, server, outcome).await;
    crate::testkit::delete_streams(&js, &settings.nats.prefix).await;
    assert_eq!(url.path(), "/ui/pipeline");
    for (place, count) in [("received", "2"), ("submitted", "1"), ("normalized", "1"), ("failed", "1")] {
        assert!(text.contains(&format!("{count} {place}")), "{count} {place} in:\n{text}");
    }
    assert!(text.contains("One dead letter"), "the dead letter of transfer in:\n{text}");
    screenshot("pipeline.png", &png);
}
