//! The review workflow in headless Chromium, keyboard only: an evaluator signs in, opens
//! the document from the "To review" tab, writes a comment and marks it reviewed; the
//! teacher then reads the comment on their document page. axe-core runs on every page
//! the test visits and must find no serious or critical violation.
//!
//! axe-core comes from npm (`tests/browser/package.json`, locked), installed outside the
//! repository by `make test-browser`; `super::axe` runs it.

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::json;

use super::{axe, screenshot, start};
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, sqlite};
use crate::ids::Kind;

type Outcome<T> = Result<T, fantoccini::error::CmdError>;

/// Presses Tab until the focused element matches `css` (at most `max` presses).
async fn tab_to(browser: &fantoccini::Client, css: &str, max: usize) -> Outcome<()> {
    let check = format!("return document.activeElement && document.activeElement.matches({css:?});");
    for _ in 0..max {
        if browser.execute(&check, vec![]).await?.as_bool() == Some(true) {
            return Ok(());
        }
        browser.active_element().await?.send_keys(&Key::Tab.to_string()).await?;
    }
    panic!("{css} never took the focus within {max} presses of Tab:\n{}", browser.source().await?);
}

/// Types `text` where the focus is.
async fn type_here(browser: &fantoccini::Client, text: &str) -> Outcome<()> {
    browser.active_element().await?.send_keys(text).await
}

async fn sign_in_by_keyboard(browser: &fantoccini::Client, base: &str, token: &str) -> Outcome<()> {
    browser.goto(&format!("{base}/ui/sign-in")).await?;
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("input#token")).await?;
    tab_to(browser, "input#token", 10).await?;
    type_here(browser, &format!("{token}{}", Key::Enter)).await?;
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("nav.tabs")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver, and axe-core from `make test-browser`"]
async fn in_chromium_an_evaluator_reviews_by_keyboard_and_the_teacher_reads_the_comment() {
    let t = sqlite().await;
    let plan = t.receive("teacher-42", Kind::Document, "lesson plan week 3.docx").await;
    crate::web::tests::reviews::normalize(&t, plan, 1).await;
    // Others in the other tabs, and a name clash that shows its folder.
    t.receive("teacher-7", Kind::Video, "fractions.mp4").await;
    let failed = t.receive("teacher-7", Kind::Document, "lesson plan week 3.docx").await;
    t.db.mark_failed(
        failed,
        "transfer",
        3,
        crate::lifecycle::FailureCause::SubmissionRefused,
        "provider refused the file",
    )
    .await
    .unwrap();
    let comment = "Clear objectives. Add a plenary at the end.";

    let (base, server, driver, browser) = start(&t).await;
    let outcome = async {
        browser.goto(&format!("{base}/ui/sign-in")).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("input#token")).await?;
        axe(&browser, "sign-in").await?;
        sign_in_by_keyboard(&browser, &base, TOKEN).await?;
        // The evaluator lands on "To review", which holds the normalized plan only.
        let current = browser.find(Locator::Css("nav.tabs a[aria-current=page]")).await?.text().await?;
        assert_eq!(current, "To review 1");
        axe(&browser, "the list, To review").await?;
        screenshot("list-to-review.png", &browser.screenshot().await?);
        let all = format!("{base}/ui/?tab=all");
        browser.goto(&all).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("table")).await?;
        axe(&browser, "the list, all").await?;
        browser.set_window_size(390, 844).await?;
        // Loaded at a phone's width, the filters start folded and the rows are labelled.
        browser.goto(&all).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("td[data-label=File]")).await?;
        let folded = browser.execute("return !document.querySelector('details.fold').open;", vec![]).await?;
        assert_eq!(folded, json!(true), "the filters fold on a phone");
        axe(&browser, "the list on a phone").await?;
        screenshot("list-phone.png", &browser.screenshot().await?);
        browser.set_window_size(1100, 900).await?;

        browser.goto(&format!("{base}/ui/")).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("table")).await?;
        tab_to(&browser, &format!("a[href='/ui/documents/{plan}']"), 40).await?;
        type_here(&browser, &Key::Enter.to_string()).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("form.review-form")).await?;
        axe(&browser, "the document, before the review").await?;
        tab_to(&browser, "textarea#comment", 60).await?;
        type_here(&browser, comment).await?;
        tab_to(&browser, "form.review-form button", 10).await?;
        screenshot("review-form.png", &browser.screenshot().await?);
        type_here(&browser, &Key::Enter.to_string()).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("ol.reviews")).await?;
        let page = browser.source().await?;
        assert!(page.contains(comment) && page.contains("reviewed by evaluator (token)"), "{page}");
        axe(&browser, "the document, reviewed").await?;

        // The teacher, in a fresh session, reads the comment on their page.
        browser.delete_all_cookies().await?;
        sign_in_by_keyboard(&browser, &base, TEACHER_TOKEN).await?;
        axe(&browser, "the teacher's list").await?;
        browser.goto(&format!("{base}/ui/documents/{plan}")).await?;
        let review = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("ol.reviews")).await?;
        let text = review.text().await?;
        assert!(text.contains(comment) && text.contains("Reviewed by evaluator (token)"), "{text}");
        assert!(browser.find(Locator::Css("form.review-form")).await.is_err(), "no form for a teacher");
        axe(&browser, "the teacher's document").await?;
        screenshot("review-teacher.png", &browser.screenshot().await?);
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    super::finish(browser, driver, server, outcome).await;
}
