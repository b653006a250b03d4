//! The web interface in real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver): sign in, see the list, open a lesson plan's
//! page. Saves the screenshots of `docs/screenshots/`.
//!
//! Ignored by default, as it needs the browser installed:
//! `apt-get install -y chromium chromium-driver`, then
//! `cargo test -p docflow --lib web::browser -- --ignored`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use super::{WebState, routes};
use crate::db::{ArtifactRow, State};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TOKEN, settings, sqlite};
use crate::ids::Kind;
use crate::storage::Store;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn screenshot(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"]
async fn in_chromium_an_evaluator_signs_in_sees_the_list_and_opens_a_lesson_plan() {
    // Two documents: a corrected lesson plan and a video that failed.
    let t = sqlite().await;
    let plan = t.receive("teacher-42", Kind::Document, "lesson plan week 3.docx").await;
    let db = &t.db;
    let submission = plan.submission_id("sim").to_string();
    assert!(db.mark_submitted(plan, "sim", &submission, "job_1", "transfer", 1).await.unwrap());
    assert!(db.transition(plan, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let artifact = |role: &str, name: &str| ArtifactRow {
        role: role.into(),
        name: name.into(),
        key: format!("{plan}/{role}/{name}"),
        size: 49102,
        sha256: "ab".repeat(32),
        content_type: "application/octet-stream".into(),
    };
    let artifacts = [artifact("corrected", "lesson plan week 3.corrected.docx"), artifact("findings", "findings.json")];
    assert!(db.record_validated(plan, State::Processed, "evt-1", &artifacts, "validate", 1).await.unwrap());
    let normalized = json!({"schema_version": 1, "word_count": 1234, "language": "en", "findings": [
        {"category": "spelling", "severity": "minor", "message": "Misspelt word", "excerpt": "recieve", "suggestion": "receive"},
        {"category": "structure", "severity": "major", "message": "The lesson has no stated objective", "suggestion": "Add one sentence saying what pupils will be able to do"}
    ]});
    assert!(db.store_normalized(plan, &normalized, "normalize", 1).await.unwrap());
    let video = t.receive("teacher-7", Kind::Video, "fractions.mp4").await;
    db.mark_failed(video, "validate", 1, "summary.json: chapters[0].start is negative").await.unwrap();

    let (base, server, mut driver, browser) = start(&t).await;
    let outcome = async {
        browser.goto(&format!("{base}/ui/")).await?;
        // Not signed in: sent to the sign-in page.
        browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("input#token"))
            .await?
            .send_keys(TOKEN)
            .await?;
        screenshot("sign-in.png", &browser.screenshot().await?);
        browser.find(Locator::Css("form.sign-in button")).await?.click().await?;
        let link = browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::LinkText("lesson plan week 3.docx"))
            .await?;
        let list = browser.source().await?;
        assert!(list.contains("fractions.mp4") && list.contains("state-failed"), "{list}");
        screenshot("list.png", &browser.screenshot().await?);
        link.click().await?;
        let heading = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("h2#findings")).await?;
        assert_eq!(heading.text().await?, "Findings");
        let page = browser.source().await?;
        for text in ["The lesson has no stated objective", "Download the corrected file", "checked and stored"] {
            assert!(page.contains(text), "{text}: {page}");
        }
        screenshot("lesson-plan.png", &browser.screenshot().await?);
        // Sign out through the form (with its CSRF token): back to the sign-in page.
        browser.find(Locator::Css("header form button")).await?.click().await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("input#token")).await?;
        browser.goto(&format!("{base}/ui/documents/{video}")).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("input#token")).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    browser.close().await.ok();
    driver.kill().await.ok();
    server.abort();
    outcome.expect("the browser session");
}

/// The interface on a real port over `t`'s database, chromedriver (ours alone, killed when
/// dropped) and a browser session.
async fn start(
    t: &crate::evaluator::tests::Target,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>, tokio::process::Child, fantoccini::Client) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "install the browser first: apt-get install -y chromium chromium-driver"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = Arc::new(settings(&[]));
    let store = Store::new(&settings.s3).unwrap();
    let app = routes(WebState::new(EvaluatorState::new(settings, t.db.clone(), store)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // chromedriver, ours alone (killed when dropped).
    let port = free_port();
    let driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let webdriver = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while reqwest::get(format!("{webdriver}/status")).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver does not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--window-size=1100,900"]}),
    );
    let browser =
        ClientBuilder::rustls().unwrap().capabilities(capabilities).connect(&webdriver).await.expect("a session");
    (base, server, driver, browser)
}

/// Signs in with the evaluator's token through the form.
async fn sign_in(browser: &fantoccini::Client, base: &str) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{base}/ui/sign-in")).await?;
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("input#token"))
        .await?
        .send_keys(TOKEN)
        .await?;
    browser.find(Locator::Css("form.sign-in button")).await?.click().await?;
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("h1")).await?;
    Ok(())
}

/// Page weight and first contentful paint of the list over 1,000 documents, printed (a
/// measurement, not a test: `-- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement in chromium: apt-get install -y chromium chromium-driver; run with --ignored --nocapture"]
async fn measure_the_list_over_1000_documents_in_chromium() {
    let t = sqlite().await;
    for i in 0..1000 {
        let kind = if i % 3 == 0 { Kind::Video } else { Kind::Document };
        t.receive(&format!("teacher-{}", i % 40), kind, &format!("plan-{i}.docx")).await;
    }
    let (base, server, mut driver, browser) = start(&t).await;
    let outcome = async {
        sign_in(&browser, &base).await?;
        for query in ["", "?limit=500"] {
            browser.goto(&format!("{base}/ui/{query}")).await?;
            browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("table")).await?;
            let numbers = browser
                .execute(
                    "const n = performance.getEntriesByType('navigation')[0]; \
                     const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint'); \
                     return [n.transferSize, n.decodedBodySize, n.responseEnd - n.requestStart, p ? p.startTime : -1, \
                             document.querySelectorAll('tbody tr').length];",
                    vec![],
                )
                .await?;
            eprintln!(
                "/ui/{query}: [transfer bytes, HTML bytes, request to last byte ms, first contentful paint ms, rows] = {numbers}"
            );
        }
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    browser.close().await.ok();
    driver.kill().await.ok();
    server.abort();
    outcome.expect("the browser session");
}
