//! Sign-in through a real OpenID provider (npm's oidc-provider, `tests/oidc/provider.js`),
//! over HTTP as a browser would: people see their names and what their role allows; a
//! wrong audience, an expired ID token, another sign-in's nonce, a bad `state` and a
//! person without a role are refused in words and open nothing; an open session is
//! replaced only once the person says so; sign-out ends the session at the provider too.
//! Then the same through the provider's real login page in Chromium.
//!
//! Ignored by default: they need Node.js and npm (the provider's packages are installed
//! outside the repository on first use). `make test-oidc` runs them.

use fantoccini::Locator;
use reqwest::StatusCode;

use super::testkit::{Browser, Docflow, PROVIDER_NAME, attribute, docflow, refresh};
use crate::evaluator::tests::{TOKEN, sqlite};
use crate::ids::Kind;

/// The session cookie of the web interface over plain http.
const SESSION: &str = "docflow_session";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn an_evaluator_signs_in_at_the_provider_sees_every_document_and_is_shown_by_name() {
    let t = sqlite().await;
    t.receive("maths%2Fbob", Kind::Document, "fractions week 2.docx").await;
    t.receive("teacher-7", Kind::Video, "photosynthesis.mp4").await;
    let d = docflow(&t, None).await;
    let browser = Browser::new();
    let list = d.sign_in(&browser, "ada").await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert!(list.url.ends_with("/ui/"), "{list:?}");
    assert!(list.body.contains("Signed in as Ada Lovelace (evaluator)"), "{}", list.body);
    // An evaluator lands on "To review"; every document is under "All".
    let all = browser.get(&format!("{}/ui/?tab=all", d.base)).await;
    for name in ["fractions week 2.docx", "photosynthesis.mp4"] {
        assert!(all.body.contains(name), "an evaluator reads every document: {name}");
    }
    assert!(!list.body.contains("href=\"/ui/upload\""), "evaluators do not upload");
    // The session is a person's: no token involved, the ID token kept for the sign-out.
    let cookie = browser.cookie(SESSION).expect("a session");
    let session =
        d.web.key.verify_with(&cookie, &[], d.web.issuer_tag.as_deref(), std::time::SystemTime::now(), d.web.lifetimes);
    let session = session.expect("a person's session, valid without any token");
    assert_eq!(session.display_name(), "Ada Lovelace");
    assert_eq!(session.email(), Some("ada@school.example"));
    assert!(d.web.revocations.hint(&session.id).await.unwrap().is_some(), "the ID token is kept as hint.{{id}}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn a_teacher_with_a_slash_in_their_name_uploads_under_a_mapped_id_and_sees_only_their_own() {
    let t = sqlite().await;
    t.receive("maths%2Fbob", Kind::Document, "fractions week 2.docx").await;
    t.receive("maths", Kind::Document, "not bob's.docx").await;
    let d = docflow(&t, None).await;
    let browser = Browser::new();
    let list = d.sign_in(&browser, "maths/bob").await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert!(list.body.contains("Signed in as Bob Teacher (teacher)"), "{}", list.body);
    assert!(list.body.contains("fractions week 2.docx"), "{}", list.body);
    assert!(!list.body.contains("not bob"), "a '/' did not make bob a folder of `maths`: {}", list.body);
    assert!(list.body.contains("href=\"/ui/upload\""), "teachers upload");
    let upload = browser.get(&format!("{}/ui/upload", d.base)).await;
    assert_eq!(upload.status, StatusCode::OK, "{upload:?}");
    // The e-mails go to the address the provider's claims gave, once the teacher opts in.
    assert!(upload.body.contains("bob@school.example"), "the page offers the claims' address: {}", upload.body);
    let csrf = attribute(&upload.body, "id=\"upload\"", "data-csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("file_name", "week 3.docx"),
        ("content_type", ""),
        ("size", "1200"),
        ("notify", "1"),
    ];
    let presigned = browser.post(&format!("{}/ui/upload", d.base), &form).await;
    assert_eq!(presigned.status, StatusCode::OK, "{presigned:?}");
    let contact = crate::mail::store::MailStore::new(t.db.clone()).contact(&"maths%2Fbob".into()).await.unwrap();
    let contact = contact.expect("the teacher's e-mail choice is recorded");
    assert_eq!((contact.email.as_str(), contact.opt_in), ("bob@school.example", true));
    let key = serde_json::from_str::<serde_json::Value>(&presigned.body).unwrap()["key"].as_str().unwrap().to_owned();
    let key = crate::events::key::ObjectKey::parse(&key).unwrap();
    assert_eq!(key.uploader_id(), "maths%2Fbob", "one segment: {key}");
    assert!(key.file_name().ends_with("week 3.docx"), "{key}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn a_person_without_a_role_is_refused_in_words_and_gets_no_session() {
    let t = sqlite().await;
    let d = docflow(&t, None).await;
    let browser = Browser::new();
    let refused = d.through_provider(&browser, "nora").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    for words in ["docflow has no role for you", "Nora Norole", "Ask your administrator", "docflow-evaluators"] {
        assert!(refused.body.contains(words), "{words}: {}", refused.body);
    }
    assert_eq!(browser.cookie(SESSION), None);
    let finish = browser.get(&format!("{}/ui/oidc/finish", d.base)).await;
    assert_eq!(finish.status, StatusCode::BAD_REQUEST, "nothing to finish: {finish:?}");

    // The same refusal to a French browser, in French.
    let french = Browser::speaking("fr-FR,fr;q=0.9");
    let refused = d.through_provider(&french, "nora").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    for words in ["pas de rôle pour vous", "Nora Norole", "Demandez à votre administrateur", "docflow-evaluators"] {
        assert!(refused.body.contains(words), "{words}: {}", refused.body);
    }
    let finish = french.get(&format!("{}/ui/oidc/finish", d.base)).await;
    assert!(finish.body.contains("Cette connexion ne peut pas aboutir"), "{}", finish.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn an_id_token_for_another_audience_expired_of_another_sign_in_or_forged_is_refused() {
    let t = sqlite().await;
    for (tamper, detail) in [("aud", "audience"), ("exp", "Expired"), ("nonce", "nonce"), ("sig", "signature")] {
        let d = docflow(&t, Some(tamper)).await;
        let browser = Browser::new();
        let refused = d.through_provider(&browser, "ada").await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{tamper}: {refused:?}");
        assert!(refused.body.contains("could not be trusted"), "{tamper}: {}", refused.body);
        assert!(refused.body.to_lowercase().contains(&detail.to_lowercase()), "{tamper}: {}", refused.body);
        assert_eq!(browser.cookie(SESSION), None, "{tamper}");
        let finish = browser.get(&format!("{}/ui/oidc/finish", d.base)).await;
        assert_eq!(finish.status, StatusCode::BAD_REQUEST, "{tamper}: nothing to finish");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn after_the_provider_rotates_its_signing_key_people_still_sign_in() {
    let t = sqlite().await;
    let mut d = docflow(&t, None).await;
    let first = d.sign_in(&Browser::new(), "ada").await;
    assert!(first.body.contains("Signed in as Ada Lovelace (evaluator)"), "{first:?}");
    // The same issuer on the same port, with a key docflow's discovery has not seen.
    let base = d.base.clone();
    d.op.restart(&base).await;
    let again = d.sign_in(&Browser::new(), "ada").await;
    assert!(again.body.contains("Signed in as Ada Lovelace (evaluator)"), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn a_callback_whose_state_is_not_this_browsers_is_refused() {
    let t = sqlite().await;
    let d = docflow(&t, None).await;
    let callback = format!("{}/ui/oidc/callback", d.base);
    let browser = Browser::new();
    let start = browser.get(&format!("{}/ui/oidc/sign-in", d.base)).await;
    let login_page = browser.follow(start, |_| false).await;
    let action = attribute(&login_page.body, "<form", "action");
    let action = if action.starts_with("http") { action } else { format!("{}{action}", d.op.issuer) };
    let signed = browser.post(&action, &[("prompt", "login"), ("login", "ada"), ("password", "x")]).await;
    // Stopped where the provider sends the browser back with the code.
    let back = browser.follow(signed, |next| next.starts_with(&callback)).await;
    let location = back.location.expect("the redirect back");
    let url = reqwest::Url::parse(&location).unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let forged = location.replace(&format!("state={state}"), "state=another-sign-ins-state");
    assert_ne!(forged, location);
    let refused = browser.get(&forged).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    assert!(refused.body.contains("does not belong to the sign-in started in this browser"), "{}", refused.body);
    assert_eq!(browser.cookie(SESSION), None);
    // The flow is spent: the right state no longer works either.
    let again = browser.get(&location).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{again:?}");
    // Another browser, with the code and state but not the flow cookie: refused.
    let other = Browser::new();
    assert_eq!(other.get(&location).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn with_a_token_session_open_the_provider_sign_in_asks_before_switching() {
    let t = sqlite().await;
    let d = docflow(&t, None).await;
    let browser = Browser::new();
    // The token form is still there, under the provider's button.
    let form = browser.get(&format!("{}/ui/sign-in", d.base)).await;
    assert!(form.body.contains(&format!("Sign in with {PROVIDER_NAME}")) && form.body.contains("id=\"token\""));
    let csrf = attribute(&form.body, "form class=\"sign-in\"", "value");
    let token = browser.post(&format!("{}/ui/sign-in", d.base), &[("csrf", &csrf), ("token", TOKEN)]).await;
    assert_eq!(token.status, StatusCode::SEE_OTHER, "{token:?}");
    let token_session = browser.cookie(SESSION).unwrap();

    let callback = d.through_provider(&browser, "ada").await;
    let asked = browser.get(&format!("{}{}", d.base, refresh(&callback.body))).await;
    assert_eq!(asked.status, StatusCode::CONFLICT, "{asked:?}");
    assert!(asked.body.contains("Switch to Ada Lovelace?") && asked.body.contains("an evaluator"), "{}", asked.body);
    assert_eq!(browser.cookie(SESSION).as_deref(), Some(token_session.as_str()), "nothing replaced yet");
    let csrf = attribute(&asked.body, "form class=\"sign-in-switch\"", "value");
    let switched = browser.post(&format!("{}/ui/oidc/finish", d.base), &[("csrf", &csrf), ("switch", "1")]).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{switched:?}");
    let list = browser.follow(switched, |_| false).await;
    assert!(list.body.contains("Signed in as Ada Lovelace (evaluator)"), "{}", list.body);
    // The token's session was revoked, not merely forgotten by this browser.
    let old = Browser::new();
    old.jar.lock().unwrap().insert(SESSION.into(), token_session);
    assert_eq!(old.get(&format!("{}/ui/", d.base)).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and npm (and the npm registry once): make test-oidc"]
async fn signing_out_ends_the_session_here_and_at_the_provider() {
    let t = sqlite().await;
    let d = docflow(&t, None).await;
    let browser = Browser::new();
    let list = d.sign_in(&browser, "ada").await;
    let session = browser.cookie(SESSION).unwrap();
    let csrf = attribute(&list.body, "action=\"/ui/sign-out\"", "value");
    let out = browser.post(&format!("{}/ui/sign-out", d.base), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    let end = refresh(&out.body);
    assert!(end.starts_with(&format!("{}/session/end?", d.op.issuer)), "{end}");
    let url = reqwest::Url::parse(&end).unwrap();
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert!(params.get("id_token_hint").is_some_and(|hint| hint.split('.').count() == 3), "{params:?}");
    assert_eq!(params.get("post_logout_redirect_uri"), Some(&format!("{}/ui/sign-in", d.base)));
    assert_eq!(browser.cookie(SESSION), None, "the cookie is cleared");
    // At the provider: its confirmation, then back to docflow's sign-in page.
    let confirm = browser.get(&end).await;
    assert_eq!(confirm.status, StatusCode::OK, "{confirm:?}");
    let action = attribute(&confirm.body, "<form", "action");
    let action = if action.starts_with("http") { action } else { format!("{}{action}", d.op.issuer) };
    let xsrf = attribute(&confirm.body, "name=\"xsrf\"", "value");
    let back = browser.follow(browser.post(&action, &[("xsrf", &xsrf), ("logout", "yes")]).await, |_| false).await;
    assert!(back.url.starts_with(&format!("{}/ui/sign-in", d.base)), "{back:?}");
    // Revoked here: the old cookie opens nothing.
    let old = Browser::new();
    old.jar.lock().unwrap().insert(SESSION.into(), session);
    assert_eq!(old.get(&format!("{}/ui/", d.base)).await.status, StatusCode::SEE_OTHER);
    // Ended there: signing in again asks for the login again.
    let start = browser.follow(browser.get(&format!("{}/ui/oidc/sign-in", d.base)).await, |_| false).await;
    assert!(start.url.starts_with(&d.op.issuer) && start.body.contains("name=\"login\""), "{start:?}");
}

/// In Chromium, from the sign-in page's button through the provider's own login page,
/// submitted as `login`.
async fn chromium_sign_in(browser: &fantoccini::Client, d: &Docflow, login: &str) -> Outcome {
    let wait = std::time::Duration::from_secs(20);
    browser.goto(&format!("{}/ui/sign-in", d.base)).await?;
    browser.wait().at_most(wait).for_element(Locator::Css("#oidc-sign-in")).await?.click().await?;
    let name = browser.wait().at_most(wait).for_element(Locator::Css("input[name=login]")).await?;
    assert!(browser.current_url().await?.as_str().starts_with(&d.op.issuer), "the provider's own page");
    name.send_keys(login).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys("any password").await?;
    browser.find(Locator::Css("button[type=submit]")).await?.click().await
}

/// The "Signed in as" line once docflow's page shows it, and the page's source.
async fn signed_in_as(browser: &fantoccini::Client) -> Result<(String, String), fantoccini::error::CmdError> {
    let wait = std::time::Duration::from_secs(20);
    let who = browser.wait().at_most(wait).for_element(Locator::Css("span.who")).await?.text().await?;
    Ok((who, browser.source().await?))
}

/// Chromium on a docflow holding a lesson plan of `maths%2Fbob` and a video of
/// `teacher-7`, after `login` submitted the provider's own login page; then `then`. The
/// browser is closed whatever happens.
async fn in_chromium(login: &str, then: impl AsyncFnOnce(&fantoccini::Client, &Docflow) -> Outcome) {
    let t = sqlite().await;
    t.receive("maths%2Fbob", Kind::Document, "fractions week 2.docx").await;
    t.receive("teacher-7", Kind::Video, "photosynthesis.mp4").await;
    let d = docflow(&t, None).await;
    let (mut driver, browser) = crate::web::browser::chromium().await;
    let outcome = async {
        chromium_sign_in(&browser, &d, login).await?;
        then(&browser, &d).await
    }
    .await;
    browser.close().await.ok();
    driver.kill().await.ok();
    outcome.expect("the browser session");
}

type Outcome = Result<(), fantoccini::error::CmdError>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js, npm, chromium and chromium-driver: make test-oidc"]
async fn in_chromium_an_evaluator_signs_in_on_the_providers_page_and_out_of_both() {
    in_chromium("ada", async |browser: &fantoccini::Client, d: &Docflow| {
        let (who, _) = signed_in_as(browser).await?;
        assert_eq!(who, "Signed in as Ada Lovelace (evaluator)");
        // An evaluator lands on "To review"; every document is under "All".
        browser.goto(&format!("{}/ui/?tab=all", d.base)).await?;
        let (_, page) = signed_in_as(browser).await?;
        assert!(page.contains("fractions week 2.docx") && page.contains("photosynthesis.mp4"), "{page}");
        // Sign-out: docflow's page sends the browser on to the provider, which asks.
        browser.find(Locator::Css("header form button")).await?.click().await?;
        let wait = std::time::Duration::from_secs(20);
        let yes = browser.wait().at_most(wait).for_element(Locator::Css("button[name=logout]")).await?;
        assert!(browser.current_url().await?.as_str().starts_with(&d.op.issuer));
        yes.click().await?;
        browser.wait().at_most(wait).for_element(Locator::Css("#oidc-sign-in")).await?;
        assert!(browser.current_url().await?.as_str().starts_with(&format!("{}/ui/sign-in", d.base)));
        crate::web::browser::screenshot("sign-in-provider.png", &browser.screenshot().await?);
        // Signed out at the provider too: its login page asks again.
        browser.find(Locator::Css("#oidc-sign-in")).await?.click().await?;
        browser.wait().at_most(wait).for_element(Locator::Css("input[name=login]")).await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js, npm, chromium and chromium-driver: make test-oidc"]
async fn in_chromium_a_teacher_signs_in_on_the_providers_page_and_sees_only_their_own() {
    in_chromium("maths/bob", async |browser: &fantoccini::Client, _: &Docflow| {
        let (who, page) = signed_in_as(browser).await?;
        assert_eq!(who, "Signed in as Bob Teacher (teacher)");
        assert!(page.contains("fractions week 2.docx") && !page.contains("photosynthesis.mp4"), "{page}");
        assert!(page.contains("href=\"/ui/upload\""), "a teacher may upload: {page}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js, npm, chromium and chromium-driver: make test-oidc"]
async fn in_chromium_a_person_without_a_role_reads_why_and_what_to_ask() {
    in_chromium("nora", async |browser: &fantoccini::Client, _: &Docflow| {
        let wait = std::time::Duration::from_secs(20);
        // Back at docflow (its header), not the provider's page still showing.
        browser.wait().at_most(wait).for_element(Locator::Css("header a.brand")).await?;
        assert_eq!(browser.find(Locator::Css("h1")).await?.text().await?, "docflow has no role for you");
        let words = browser.find(Locator::Css("main p")).await?.text().await?;
        assert!(words.contains("Nora Norole") && words.contains("Ask your administrator"), "{words}");
        assert!(browser.find_all(Locator::Css("span.who")).await?.is_empty(), "nobody is signed in");
        crate::web::browser::screenshot("sign-in-no-role.png", &browser.screenshot().await?);
        Ok(())
    })
    .await;
}
