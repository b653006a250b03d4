//! The lesson-plan workspace in headless Chromium: a finding clicked in the findings list
//! takes the reader to its place in the original's text (the mark is the URL's target,
//! has the focus and is scrolled into view in its pane), and the filters hide the
//! findings of an unticked severity and dim their marks. axe-core runs on the page before
//! and after, and must find no serious or critical violation. Saves
//! `docs/screenshots/lesson-workspace.png`.
//!
//! Ignored by default, as it needs the browser and axe-core: `make test-browser`.

use std::sync::Arc;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::axe;
use super::{chromium, finish, screenshot, until};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TOKEN, settings, sqlite};
use crate::storage::Store;
use crate::storage::testing::TestS3;
use crate::web::{WebState, routes};

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver, and axe-core from `make test-browser`"]
async fn in_chromium_a_finding_clicked_in_the_list_is_highlighted_in_the_text() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["uploads", "results"]).await;
    // A long plan, so that the text pane scrolls: the findings sit in its last lines.
    let mut paragraphs: Vec<String> =
        (1..=60).map(|n| format!("Step {n}: the pupils work through exercise {n} of the booklet.")).collect();
    paragraphs.extend(crate::web::lesson::tests::PLAN.iter().map(|p| (*p).to_owned()));
    let paragraphs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
    let corrected: Vec<String> =
        paragraphs.iter().map(|p| p.replace("recieve", "receive").replace("untill", "until")).collect();
    let corrected: Vec<&str> = corrected.iter().map(String::as_str).collect();
    let findings = crate::web::lesson::tests::plan_findings()
        .into_iter()
        .map(|mut f| {
            // The plan's paragraphs come after 60 others; offsets are recomputed by excerpt.
            if let Some(l) = f.location.as_mut() {
                l.paragraph = l.paragraph.map(|p| p + 60);
                (l.start, l.end) = (None, None);
            }
            f
        })
        .collect();
    let id = crate::web::lesson::tests::lesson_plan(
        &t,
        &s3,
        "teacher-42",
        ("plan.docx", DOCX, &crate::extract::samples::docx(&paragraphs)),
        &crate::extract::samples::docx(&corrected),
        findings,
    )
    .await;
    let settings = Arc::new(settings(&crate::web::tests::files::with_store(&s3)));
    let store = Store::new(&settings.s3).unwrap();
    let app = routes(WebState::new(EvaluatorState::new(settings, t.db.clone(), store)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (driver, browser) = chromium().await;
    let outcome = async {
        browser.set_window_size(1400, 900).await?;
        browser.goto(&format!("{base}/ui/sign-in")).await?;
        let token = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("input#token")).await?;
        token.send_keys(TOKEN).await?;
        browser.find(Locator::Css("form.sign-in button")).await?.click().await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("nav.tabs")).await?;
        browser.goto(&format!("{base}/ui/documents/{id}")).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#finding-2 a.to-text")).await?;
        // The filters are the script's: shown once it ran.
        until(&browser, "the filters shown", 10, "return !document.querySelector('form[data-lesson-filters]').hidden;")
            .await?;
        axe(&browser, "the lesson-plan workspace").await?;
        let pane_top = browser.execute("return document.getElementById('original-text').scrollTop;", vec![]).await?;
        assert_eq!(pane_top, json!(0), "the text starts at its top");

        // "untill" (a major finding, placed by its excerpt in paragraph 63).
        let link = browser.find(Locator::Css("#finding-2 a.to-text")).await?;
        let target = link.attr("href").await?.expect("the card links to its place");
        let mark = target.trim_start_matches('#').to_owned();
        link.click().await?;
        let check = format!(
            "const m = document.getElementById({mark:?}); const pane = document.getElementById('original-text'); \
             const r = m.getBoundingClientRect(), p = pane.getBoundingClientRect(); \
             return document.activeElement === m && m.matches(':target') && m.classList.contains('current') \
               && pane.scrollTop > 0 && r.top >= p.top && r.bottom <= p.bottom;"
        );
        until(&browser, "the clicked finding's mark focused, targeted and in view", 10, &check).await?;
        let words = browser.find(Locator::Css(&format!("mark#{mark}"))).await?.text().await?;
        assert_eq!(words, "pairs untill the bell");
        assert_eq!(browser.current_url().await?.fragment(), Some(mark.as_str()));
        // The workspace at the top of the window for the picture; the pane keeps its scroll.
        browser.execute("window.scrollTo(0, document.querySelector('.lesson').offsetTop);", vec![]).await?;
        screenshot("lesson-workspace.png", &browser.screenshot().await?);

        // Untick "Minor": its findings leave the list and their marks are dimmed.
        browser.find(Locator::Css("input[name=severity][value=minor]")).await?.click().await?;
        let filtered = "return document.getElementById('finding-0').hidden \
            && !document.getElementById('finding-2').hidden \
            && document.querySelector('mark[data-findings=\"finding-0\"]').classList.contains('dim') \
            && !document.querySelector('mark[data-findings=\"finding-2\"]').classList.contains('dim');";
        until(&browser, "minor findings hidden and dimmed", 10, filtered).await?;
        axe(&browser, "the lesson-plan workspace, filtered").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(browser, driver, server, outcome).await;
}
