//! Stopped documents in real headless Chromium (the pattern of `browser.rs`): each cause
//! shows its own words and its action, to a teacher and to an evaluator; an evaluator
//! retries from the page and sees the document restarted (the real transfer stage takes
//! the request); a teacher uploads a new version from the page. Saves the failure pages'
//! screenshots into `docs/screenshots/`.
//!
//! Ignored by default, as it needs the browser installed (`make test-browser`).

use std::sync::Arc;
use std::time::Duration;

use fantoccini::Locator;

use super::{axe, chromium, screenshot, until};
use crate::db::{Db, StatusChange};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, settings, sqlite};
use crate::ids::Kind;
use crate::lifecycle::FailureCause;
use crate::nats::Names;
use crate::storage::Store;
use crate::web::live::Live;
use crate::web::retry::Restarts;
use crate::web::{WebState, routes};

const WAIT: Duration = Duration::from_secs(20);

/// Serves `web` on a port of its own until the task is aborted; its address.
async fn serve(web: WebState) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_on(web, listener)
}

fn serve_on(
    web: WebState,
    listener: tokio::net::TcpListener,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = routes(web);
    (base, tokio::spawn(async move { axum::serve(listener, app).await }))
}

/// Ends the browser session, its chromedriver and the server.
async fn close(
    browser: fantoccini::Client,
    mut driver: tokio::process::Child,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
) {
    browser.close().await.ok();
    driver.kill().await.ok();
    server.abort();
}

/// Signs in with `token` through the form.
async fn sign_in_as(browser: &fantoccini::Client, base: &str, token: &str) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{base}/ui/sign-in")).await?;
    browser.wait().at_most(WAIT).for_element(Locator::Css("input#token")).await?.send_keys(token).await?;
    browser.find(Locator::Css("form.sign-in button")).await?.click().await?;
    browser.wait().at_most(WAIT).for_element(Locator::Css("table, p.empty")).await?;
    Ok(())
}

async fn sign_out(browser: &fantoccini::Client) -> Result<(), fantoccini::error::CmdError> {
    browser.find(Locator::Css("header form button")).await?.click().await?;
    browser.wait().at_most(WAIT).for_element(Locator::Css("input#token")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"]
async fn in_chromium_each_cause_shows_its_own_words_and_its_action() {
    let t = sqlite().await;
    // (cause, stage, stored reason, words the teacher reads first, retry offered, screenshot)
    let cases = [
        (
            FailureCause::FileRefused,
            "transfer",
            "the file is empty (0 bytes): nothing arrived; please upload it again",
            "The file is empty (0 bytes): nothing arrived; please upload it again.",
            false,
            "failure-file-refused.png",
        ),
        (
            FailureCause::ProviderFailedJob,
            "validate",
            "E_UNREADABLE: the document could not be parsed",
            "The provider could not work on this file.",
            true,
            "failure-provider-failed.png",
        ),
        (
            FailureCause::ResultsInvalid,
            "validate",
            "corrected: sha256 mismatch",
            "The provider's results failed docflow's checks, so they are not shown.",
            true,
            "failure-results-invalid.png",
        ),
        (
            FailureCause::CallbackLost,
            "watchdog",
            "no callback within 6h; the job status says running",
            "The provider never said the work was done, and docflow stopped waiting.",
            true,
            "failure-callback-lost.png",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (cause, stage, reason, ..)) in cases.iter().enumerate() {
        let id = t.receive("teacher-42", Kind::Document, &format!("plan {i}.docx")).await;
        // Where the stage that decides each cause finds the document: a lost callback is
        // given up on a submitted document, a job the provider failed once it is processed.
        if matches!(cause, FailureCause::CallbackLost | FailureCause::ProviderFailedJob) {
            let job = format!("job-{i}");
            assert!(t.db.mark_submitted_in_round(id, 0, "sim", "submission", &job, "transfer", 1).await.unwrap());
        }
        if *cause == FailureCause::ProviderFailedJob {
            let processed = crate::lifecycle::Transition::Processed;
            let by = crate::lifecycle::By::new(crate::ids::StageId::Validate, 1);
            assert!(t.db.apply(id, processed, by).await.unwrap());
        }
        assert!(t.db.mark_failed(id, stage, 1, *cause, reason).await.unwrap());
        ids.push(id);
    }
    let settings = Arc::new(settings(&[]));
    let store = Store::new(&settings.s3).unwrap();
    let (base, server) = serve(WebState::new(EvaluatorState::new(settings, t.db.clone(), store))).await;
    let (driver, browser) = chromium().await;
    let outcome = async {
        for ((cause, _, reason, first, retry, shot), id) in cases.iter().zip(&ids) {
            let (teacher, evaluator) = both_views(&browser, &base, *id, shot).await?;
            // The words the person acts on come first, the raw reason only as detail.
            let headline = teacher.find("class=\"headline\"").expect("a headline");
            let detail = teacher.find("<details").expect("the technical detail");
            assert!(teacher[headline..detail].contains(first), "{cause}: {teacher}");
            if *cause != FailureCause::FileRefused {
                assert!(!teacher[..detail].contains(reason), "{cause}: the raw reason is detail: {teacher}");
            }
            assert!(teacher.contains("Upload a new version"), "{cause}: {teacher}");
            assert!(!teacher.contains("class=\"retry\""), "{cause}: {teacher}");
            assert_eq!(evaluator.contains("class=\"retry\""), *retry, "{cause}: {evaluator}");
            assert!(!evaluator.contains("Upload a new version"), "{cause}: {evaluator}");
        }
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    close(browser, driver, server).await;
    outcome.expect("the browser session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"]
async fn in_chromium_an_evaluator_retries_a_stopped_document_and_sees_it_restarted() {
    let t = sqlite().await;
    // The pages hear of the restart as a gateway would: every change the database makes.
    let live = Live::default();
    let feed = live.clone();
    let db: Db = t.db.clone().with_observer(Arc::new(move |change: &StatusChange| feed.send(change.clone())));
    let settings = Arc::new(settings(&[("DOCFLOW__S3__ENDPOINT", "http://127.0.0.1:9")]));
    let (_, js) = crate::testkit::nats::connect(&settings.nats.url).await;
    crate::topology::apply(&js, &settings).await.expect("topology");
    let names = Names::new(&settings.nats.prefix);
    let id = t.receive("teacher-42", Kind::Document, "plan week 3.docx").await;
    let cause = FailureCause::ResultsInvalid;
    assert!(db.mark_failed(id, "validate", 1, cause, "corrected: sha256 mismatch").await.unwrap());
    let store = Store::new(&settings.s3).unwrap();
    let web = WebState::new(EvaluatorState::new(settings.clone(), db.clone(), store))
        .with_live(live)
        .with_restarts(Restarts { js: js.clone(), names: names.clone() });
    let (base, server) = serve(web).await;
    let (driver, browser) = chromium().await;
    let outcome = async {
        sign_in_as(&browser, &base, TOKEN).await?;
        browser.goto(&format!("{base}/ui/documents/{id}")).await?;
        let button = browser.wait().at_most(WAIT).for_element(Locator::Css("form.retry button")).await?;
        assert_eq!(button.text().await?, "Retry");
        button.click().await?;
        let notice = browser.wait().at_most(WAIT).for_element(Locator::Css("p.notice")).await?;
        assert!(notice.text().await?.starts_with("Retry asked"));
        assert!(browser.find(Locator::Css("section.problem")).await.is_err(), "the stop is no longer shown");
        // The transfer stage takes the request, as `docflow retry`'s; the open page follows.
        crate::web::tests::retry::transfer_takes_the_request(&settings, &db, &js, &names).await;
        until(
            &browser,
            "the page read again, restarted",
            30,
            "const f = document.querySelector('dl[data-document]'); \
             return !!f && f.getAttribute('data-state') === 'received' && !document.querySelector('p.notice')",
        )
        .await?;
        let page = browser.source().await?;
        assert!(page.contains("received from the upload store") && !page.contains("What went wrong"), "{page}");
        axe(&browser, "a restarted document").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    close(browser, driver, server).await;
    crate::testkit::nats::delete_streams(&js, &settings.nats.prefix).await;
    outcome.expect("the browser session");
    let document = t.db.get(id).await.unwrap().unwrap();
    assert_eq!(document.submission_round, 1, "a new round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"]
async fn in_chromium_a_teacher_uploads_a_new_version_of_a_stopped_document() {
    let t = sqlite().await;
    // The store answers the browser's CORS preflight for the gateway's origin.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let s3_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(s3_dir.path().join("uploads")).unwrap();
    let fs = s3s_fs::FileSystem::new(s3_dir.path()).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    let (access, secret) = (crate::storage::testing::ACCESS_KEY, crate::storage::testing::SECRET_KEY);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access.to_owned(), secret.to_owned()));
    let s3_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s3_url = format!("http://{}", s3_listener.local_addr().unwrap());
    let s3_stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::dev::s3::serve(builder.build(), s3_listener, vec![origin.clone()], s3_stop.clone()));

    let settings = Arc::new(settings(&[("DOCFLOW__S3__ENDPOINT", &s3_url), ("DOCFLOW__GATEWAY__PUBLIC_URL", &origin)]));
    let id = t.receive("teacher-42", Kind::Document, "plan week 3.docx").await;
    let refusal = "this file is a picture (PNG), not a document; please upload the lesson plan as PDF, Word, \
                   OpenDocument or plain text";
    assert!(t.db.mark_failed(id, "transfer", 1, FailureCause::FileRefused, refusal).await.unwrap());
    let store = Store::new(&settings.s3).unwrap();
    // The page hears of the new version's states as a gateway would.
    let live = Live::default();
    let feed = live.clone();
    let db: Db = t.db.clone().with_observer(Arc::new(move |change: &StatusChange| feed.send(change.clone())));
    let web = WebState::new(EvaluatorState::new(settings.clone(), db.clone(), store)).with_live(live);
    let (base, server) = serve_on(web, listener);
    let file_dir = tempfile::tempdir().unwrap();
    let corrected = file_dir.path().join("plan week 3.docx");
    std::fs::write(&corrected, "Lesson plan, week 3, corrected: fractions with pizza slices.\n").unwrap();
    let (driver, browser) = chromium().await;
    let outcome = async {
        sign_in_as(&browser, &base, TEACHER_TOKEN).await?;
        browser.goto(&format!("{base}/ui/documents/{id}")).await?;
        let link = browser.wait().at_most(WAIT).for_element(Locator::Css("section.problem a.action")).await?;
        assert_eq!(link.text().await?, "Upload a new version");
        assert!(browser.find(Locator::Css("form.retry")).await.is_err(), "a teacher does not retry");
        link.click().await?;
        let replaces = browser.wait().at_most(WAIT).for_element(Locator::Css("p.replaces")).await?;
        assert!(replaces.text().await?.contains("plan week 3.docx"));
        let checked = browser.execute("return document.querySelector('input[value=document]').checked", vec![]).await?;
        assert_eq!(checked, serde_json::json!(true));
        axe(&browser, "the upload page of a new version").await?;
        browser.find(Locator::Css("input#file")).await?.send_keys(corrected.to_str().unwrap()).await?;
        browser.find(Locator::Css("form#upload button")).await?.click().await?;
        until(
            &browser,
            "the new version sent to the store",
            30,
            "return document.getElementById('sent').value === 100 && \
             document.getElementById('status').textContent.indexOf('Uploaded.') === 0",
        )
        .await?;
        // The new version is in the uploads bucket, under the teacher's folder.
        let uploads = s3_dir.path().join("uploads");
        let stored = walk(&uploads.join("teacher-42"))
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with("-plan week 3.docx"))
            .expect("the new version in the uploads bucket");
        // It is refused too (as pre-flight would): the open page says why, in words.
        let key = stored.strip_prefix(&uploads).unwrap().to_string_lossy().into_owned();
        let mut new = crate::evaluator::tests::new_document("teacher-42", Kind::Document, "x");
        new.key = key;
        let (row, _) = db.record_received(&new, crate::ids::StageId::Transfer, 1, None).await.unwrap();
        let empty = "the file is empty (0 bytes): nothing arrived; please upload it again";
        assert!(db.mark_failed(row.id, "transfer", 1, FailureCause::FileRefused, empty).await.unwrap());
        until(
            &browser,
            "the stop worded on the upload page",
            30,
            "return document.getElementById('status').textContent.indexOf('It stopped. The file is empty') === 0 \
             && !document.getElementById('again').hidden",
        )
        .await?;
        let status = browser.find(Locator::Css("#status")).await?.text().await?;
        assert!(!status.contains('{') && status.contains("Correct the file"), "{status}");
        axe(&browser, "the upload page, stopped").await?;
        screenshot("upload-stopped.png", &browser.screenshot().await?);
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    close(browser, driver, server).await;
    s3_stop.cancel();
    outcome.expect("the browser session");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// The teacher's and the evaluator's view of one stopped document (the problem section's
/// HTML), with the teacher's page as `docs/screenshots/{screenshot_name}`.
async fn both_views(
    browser: &fantoccini::Client,
    base: &str,
    id: crate::ids::DocumentId,
    screenshot_name: &str,
) -> Result<(String, String), fantoccini::error::CmdError> {
    sign_in_as(browser, base, TEACHER_TOKEN).await?;
    browser.goto(&format!("{base}/ui/documents/{id}")).await?;
    let section = browser.wait().at_most(WAIT).for_element(Locator::Css("section.problem")).await?;
    let teacher = section.html(false).await?;
    axe(browser, &format!("{screenshot_name}: the teacher's page")).await?;
    screenshot(screenshot_name, &browser.screenshot().await?);
    sign_out(browser).await?;
    sign_in_as(browser, base, TOKEN).await?;
    browser.goto(&format!("{base}/ui/documents/{id}")).await?;
    let section = browser.wait().at_most(WAIT).for_element(Locator::Css("section.problem")).await?;
    let evaluator = section.html(false).await?;
    axe(browser, &format!("{screenshot_name}: the evaluator's page")).await?;
    sign_out(browser).await?;
    Ok((teacher, evaluator))
}
