//! The words people read, in real headless Chromium (the pattern of `browser.rs`): a
//! French browser in New Zealand, on a phone's width, reads French, its own local times,
//! a teacher's phases (live updates included) with the usual wait, labelled rows and
//! folded filters; the gateway's root leads to the interface and the favicon is served.
//! The operators' pipeline page, drawn and checked by axe-core. axe-core runs on every
//! page and must find no serious or critical violation. Saves `list-phone-fr.png`,
//! `document-fr.png` and `pipeline.png` into `docs/screenshots/`.
//!
//! Ignored by default, as it needs the browser and axe-core (`make test-browser`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Timelike;
use fantoccini::Locator;
use serde_json::json;

use super::{axe, chromium_in, screenshot, until};
use crate::db::{Db, StatusChange};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TEACHER_TOKEN, settings, sqlite};
use crate::ids::Kind;
use crate::lifecycle::FailureCause;
use crate::storage::Store;
use crate::web::live::Live;
use crate::web::tests::reviews::normalize;
use crate::web::tests::words::took;
use crate::web::{WebState, routes};

const WAIT: Duration = Duration::from_secs(20);
/// New Zealand's daylight time in December: UTC+13, no day without a change of date.
const ZONE: &str = "Pacific/Auckland";
const ZONE_OFFSET_HOURS: u32 = 13;

/// Serves `web` on a port of its own; its address and the task to abort.
async fn serve(web: WebState) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = routes(web);
    (base, tokio::spawn(async move { axum::serve(listener, app).await }))
}

async fn sign_in(browser: &fantoccini::Client, base: &str, token: &str) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{base}/ui/sign-in")).await?;
    browser.wait().at_most(WAIT).for_element(Locator::Css("input#token")).await?.send_keys(token).await?;
    browser.find(Locator::Css("form.sign-in button")).await?.click().await?;
    browser.wait().at_most(WAIT).for_element(Locator::Css("nav.tabs")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver, and axe-core from `make test-browser`"]
async fn in_chromium_a_french_teacher_on_a_phone_reads_french_local_times_and_phases() {
    let t = sqlite().await;
    // Lesson plans made ready in 1, 3 and 4 minutes: usually about 3 minutes.
    for minutes in [1, 3, 4] {
        let id = t.receive("teacher-7", Kind::Document, &format!("done-{minutes}.md")).await;
        normalize(&t, id, 0).await;
        took(&t, id, minutes).await;
    }
    let plan = t.receive("teacher-42", Kind::Document, "fractions semaine 5.md").await;
    let created = t.db.get(plan).await.unwrap().unwrap().created_at;
    // The pages hear of changes as a gateway would: every change the database makes.
    let live = Live::default();
    let feed = live.clone();
    let db: Db = t.db.clone().with_observer(Arc::new(move |change: &StatusChange| feed.send(change.clone())));
    let settings = Arc::new(settings(&[]));
    let store = Store::new(&settings.s3).unwrap();
    let (base, server) = serve(WebState::new(EvaluatorState::new(settings, db.clone(), store)).with_live(live)).await;
    let (driver, browser) = chromium_in(Some("fr-FR,fr"), Some(ZONE)).await;
    let outcome = async {
        // The gateway's bare address leads to the interface (then to sign-in).
        browser.goto(&format!("{base}/")).await?;
        browser.wait().at_most(WAIT).for_element(Locator::Css("input#token")).await?;
        assert_eq!(browser.current_url().await?.as_str(), format!("{base}/ui/sign-in"));
        assert_eq!(browser.find(Locator::Css("h1")).await?.text().await?, "Connexion");
        let lang = browser.execute("return document.documentElement.lang", vec![]).await?;
        assert_eq!(lang, json!("fr"));
        let icon = browser
            .execute(
                "return fetch(document.querySelector('link[rel=icon]').href).then(r => [r.status, r.headers.get('content-type')])",
                vec![],
            )
            .await?;
        assert_eq!(icon, json!([200, "image/svg+xml"]));
        axe(&browser, "the sign-in page in French").await?;
        sign_in(&browser, &base, TEACHER_TOKEN).await?;

        // On a phone: the rows labelled in French, the filters folded, the phase and the wait.
        browser.set_window_size(390, 844).await?;
        browser.goto(&format!("{base}/ui/")).await?;
        browser.wait().at_most(WAIT).for_element(Locator::Css("td[data-label=Fichier]")).await?;
        let folded = browser.execute("return !document.querySelector('details.fold').open", vec![]).await?;
        assert_eq!(folded, json!(true), "the filters fold on a phone");
        let badge = format!("return document.querySelector('tr[data-id=\"{plan}\"] .badge').textContent");
        assert_eq!(browser.execute(&badge, vec![]).await?, json!("Traitement en cours"));
        let wait = browser.find(Locator::Css("p.wait")).await?.text().await?;
        assert_eq!(wait, "Une fiche de préparation est en général prête en 3 minutes environ.");
        // A label stands before each value in the phone's layout.
        let label = browser
            .execute(
                "const td = document.querySelector('td[data-label]'); \
                 return [getComputedStyle(td, '::before').content, getComputedStyle(document.querySelector('thead')).display]",
                vec![],
            )
            .await?;
        assert_eq!(label, json!(["\"Fichier\u{a0}: \"", "none"]), "French puts a no-break space before a colon");
        axe(&browser, "the teacher's list on a phone, in French").await?;
        screenshot("list-phone-fr.png", &browser.screenshot().await?);
        // The document stops: the open list says so in the teacher's words, without a reload.
        browser.execute("window.sameDocument = true; return true;", vec![]).await?;
        let refusal = crate::stages::transfer::preflight::Refusal::Empty.to_string();
        assert!(db.mark_failed(plan, "transfer", 1, FailureCause::FileRefused, &refusal).await.unwrap());
        let stopped = format!("{badge} === 'Action requise'");
        until(&browser, "the row's badge in the teacher's words", 20, &stopped).await?;
        // A new upload arrives on the open list, labelled and worded as the others.
        let new = crate::evaluator::tests::new_document("teacher-42", Kind::Video, "classe.mp4");
        db.record_received(&new, crate::stages::StageId::Transfer, 1, None).await.unwrap();
        let arrived = format!(
            "const r = document.querySelector('tr[data-id=\"{}\"]'); return !!r && \
             Array.from(r.cells).map(c => c.getAttribute('data-label') + '=' + c.textContent.trim()).join('|')",
            new.id
        );
        until(&browser, "the new upload on the open list", 20, &format!("{arrived}.length > 0")).await?;
        let row = browser.execute(&arrived, vec![]).await?;
        let row = row.as_str().unwrap_or_default();
        for cell in ["Fichier=classe.mp4", "État=Traitement en cours", "Type=vidéo", "Déposé=à l'instant"] {
            assert!(row.contains(cell), "{cell} in {row}");
        }
        assert_eq!(browser.execute("return window.sameDocument === true", vec![]).await?, json!(true));

        // The document's times in the viewer's zone and language; UTC kept as the title.
        browser.set_window_size(1100, 900).await?;
        browser.goto(&format!("{base}/ui/documents/{plan}")).await?;
        browser.wait().at_most(WAIT).for_element(Locator::Css("time.at[data-local]")).await?;
        let time = browser
            .execute("const t = document.querySelector('dd time.at'); return [t.textContent, t.title]", vec![])
            .await?;
        let local = created + chrono::Duration::hours(ZONE_OFFSET_HOURS.into());
        let hour = format!("{:02}:{:02}", local.hour(), local.minute());
        let (text, title) = (time[0].as_str().unwrap_or(""), time[1].as_str().unwrap_or(""));
        assert!(text.contains(&hour) && !text.contains("UTC"), "{text} should say {hour} in {ZONE}");
        assert!(title.ends_with("UTC"), "{title}");
        let source = browser.source().await?;
        assert!(source.contains("Ce qui s'est passé"));
        // Pre-flight's refusal, stored in English, read in French.
        assert!(source.contains("Le fichier est vide (0 octet)"), "{source}");
        axe(&browser, "a stopped document in French").await?;
        screenshot("document-fr.png", &browser.screenshot().await?);
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    super::finish(browser, driver, server, outcome).await;
}
