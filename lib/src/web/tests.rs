//! The web interface through its router (tower's `oneshot`) on SQLite: sign-in and its
//! cookie, CSRF refusals, what each role sees, and the headers of every page. Downloads
//! through the gateway: [`files`].

pub(in crate::web) mod files;
pub(in crate::web) mod retry;
pub(in crate::web) mod reviews;
pub(in crate::web) mod video;
pub(in crate::web) mod words;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use super::live::Live;
use super::{WebState, routes};
use crate::db::{ArtifactRow, State};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, UPLOADS_TOKEN, settings, sqlite};
use crate::ids::{DocumentId, Kind};
use crate::lifecycle::FailureCause;
use crate::storage::Store;

pub(super) fn router(t: &Target, extra: &[(&str, &str)]) -> Router {
    live_router(t, extra).0
}

/// The router, and the feed its `/ui/events` streams from.
pub(super) fn live_router(t: &Target, extra: &[(&str, &str)]) -> (Router, Live) {
    let settings = Arc::new(settings(extra));
    let store = Store::new(&settings.s3).expect("store");
    let live = Live::default();
    (routes(WebState::new(EvaluatorState::new(settings, t.db.clone(), store)).with_live(live.clone())), live)
}

pub(super) struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub(super) async fn send(router: &Router, request: Request<Body>) -> Page {
    let response = router.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Page { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

pub(super) async fn get(router: &Router, uri: &str, cookie: Option<&str>) -> Page {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

pub(super) async fn post(router: &Router, uri: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Page {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(router, request.body(Body::from(body)).unwrap()).await
}

/// The `Set-Cookie` header that sets `name`, whole.
pub(super) fn set_cookie(page: &Page, name: &str) -> Option<String> {
    page.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// `name=value` of a `Set-Cookie` header, as a `Cookie` header sends it back.
pub(super) fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The hidden `csrf` field of a page's form.
pub(super) fn csrf_field(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form with a csrf field") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

/// Signs in with `token`; the session's `Cookie` header value and the page's CSRF token.
pub(super) async fn sign_in(router: &Router, token: &str) -> (String, String) {
    let form = get(router, "/ui/sign-in", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf_cookie = pair(&set_cookie(&form, "docflow_csrf").expect("the double-submit cookie"));
    let csrf = csrf_field(&form.body);
    let signed = post(router, "/ui/sign-in", Some(&csrf_cookie), &[("token", token), ("csrf", &csrf)]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.headers[header::LOCATION], "/ui/");
    let session = pair(&set_cookie(&signed, "docflow_session").expect("a session cookie"));
    let list = get(router, "/ui/", Some(&session)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let csrf = csrf_field(&list.body);
    (session, csrf)
}

pub(super) fn assert_secured(page: &Page) {
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_that_is_not_the_token() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let form = get(&router, "/ui/sign-in", None).await;
    assert_secured(&form);
    assert!(form.body.contains("type=\"password\"") && form.body.contains("<label for=\"token\""), "{}", form.body);
    let csrf_cookie = set_cookie(&form, "docflow_csrf").unwrap();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");

    let csrf = csrf_field(&form.body);
    let signed = post(&router, "/ui/sign-in", Some(&pair(&csrf_cookie)), &[("token", TOKEN), ("csrf", &csrf)]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let cookie = set_cookie(&signed, "docflow_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "; Path=/;", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "http public_url: no Secure flag ({cookie})");
    assert!(!cookie.contains(TOKEN) && !cookie.contains(&crate::settings::tokens::sha256_hex(TOKEN)[..16]));

    // Behind https, Secure and `__Host-` prefixed (session/tests.rs).
    let https = self::router(&t, &[("DOCFLOW__GATEWAY__PUBLIC_URL", "https://docflow.school.example")]);
    let form = get(&https, "/ui/sign-in", None).await;
    let csrf_cookie = set_cookie(&form, "__Host-docflow_csrf").unwrap();
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
    let signed =
        post(&https, "/ui/sign-in", Some(&pair(&csrf_cookie)), &[("token", TOKEN), ("csrf", &csrf_field(&form.body))])
            .await;
    assert!(set_cookie(&signed, "__Host-docflow_session").unwrap().contains("; Secure"));
}

#[tokio::test]
async fn a_wrong_token_is_401_and_opens_no_session() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let form = get(&router, "/ui/sign-in", None).await;
    let csrf_cookie = pair(&set_cookie(&form, "docflow_csrf").unwrap());
    let csrf = csrf_field(&form.body);
    let refused = post(&router, "/ui/sign-in", Some(&csrf_cookie), &[("token", "guess"), ("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&refused, "docflow_session").is_none());
    assert!(refused.body.contains("not one of this gateway"), "{}", refused.body);
    assert_secured(&refused);
    // A forged or foreign session cookie is no session.
    let page = get(&router, "/ui/", Some("docflow_session=v1.evaluator..99999999999.00.00.00")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/ui/sign-in");
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused_with_403() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let form = get(&router, "/ui/sign-in", None).await;
    let csrf_cookie = pair(&set_cookie(&form, "docflow_csrf").unwrap());
    let csrf = csrf_field(&form.body);
    // Sign-in: no field, no cookie, or the two differing.
    for (cookie, fields) in [
        (Some(csrf_cookie.as_str()), vec![("token", TOKEN)]),
        (None, vec![("token", TOKEN), ("csrf", csrf.as_str())]),
        (Some(csrf_cookie.as_str()), vec![("token", TOKEN), ("csrf", "0000")]),
    ] {
        let refused = post(&router, "/ui/sign-in", cookie, &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(set_cookie(&refused, "docflow_session").is_none());
        assert_secured(&refused);
    }

    // Sign-out: refused without the session's token (and the session still works), then
    // accepted with it, which clears the cookie.
    let (session, csrf) = sign_in(&router, TOKEN).await;
    for fields in [vec![], vec![("csrf", "nope")], vec![("csrf", csrf_field(&form.body).as_str())]] {
        let refused = post(&router, "/ui/sign-out", Some(&session), &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{fields:?}");
    }
    assert_eq!(get(&router, "/ui/", Some(&session)).await.status, StatusCode::OK);
    let out = post(&router, "/ui/sign-out", Some(&session), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.headers[header::LOCATION], "/ui/sign-in");
    let cleared = set_cookie(&out, "docflow_session").unwrap();
    assert!(cleared.starts_with("docflow_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn evaluators_see_every_document_and_a_teacher_only_their_own() {
    let t = sqlite().await;
    let own = t.receive("teacher-42", Kind::Document, "plan-42.pdf").await;
    let other = t.receive("teacher-7", Kind::Video, "lesson-7.mp4").await;
    t.db.mark_failed(other, "transfer", 3, FailureCause::SubmissionRefused, "provider refused the file").await.unwrap();
    let router = router(&t, &[]);

    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let list = get(&router, "/ui/?tab=all", Some(&evaluator)).await;
    assert_secured(&list);
    assert!(list.body.contains("plan-42.pdf") && list.body.contains("lesson-7.mp4"), "{}", list.body);
    assert!(list.body.contains("state-failed") && list.body.contains("teacher-7"));
    assert!(list.body.contains(&format!("/ui/documents/{own}")));
    // Filters go through the evaluator API's parser.
    let failed = get(&router, "/ui/?tab=all&state=failed&kind=&uploader=", Some(&evaluator)).await;
    assert!(failed.body.contains("lesson-7.mp4") && !failed.body.contains("plan-42.pdf"), "{}", failed.body);
    let by_uploader = get(&router, "/ui/?tab=all&uploader=teacher-42", Some(&evaluator)).await;
    assert!(by_uploader.body.contains("plan-42.pdf") && !by_uploader.body.contains("lesson-7.mp4"));
    let bad = get(&router, "/ui/?state=done", Some(&evaluator)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("unknown state"), "{}", bad.body);

    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    for uri in ["/ui/", "/ui/?uploader=teacher-7", "/ui/?kind=video"] {
        let list = get(&router, uri, Some(&teacher)).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(!list.body.contains("lesson-7.mp4") && !list.body.contains("teacher-7"), "{uri}: {}", list.body);
    }
    assert!(get(&router, "/ui/", Some(&teacher)).await.body.contains("plan-42.pdf"));
}

#[tokio::test]
async fn a_teacher_cannot_open_another_teachers_document() {
    let t = sqlite().await;
    let own = t.receive("teacher-42", Kind::Document, "plan-42.pdf").await;
    let other = t.receive("teacher-7", Kind::Document, "plan-7.pdf").await;
    let router = router(&t, &[]);
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{own}"), Some(&teacher)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("plan-42.pdf"));
    for uri in [format!("/ui/documents/{other}"), format!("/ui/documents/{}", DocumentId(uuid::Uuid::new_v4()))] {
        let page = get(&router, &uri, Some(&teacher)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!page.body.contains("plan-7.pdf"));
        assert_secured(&page);
    }
    let track = get(&router, &format!("/ui/documents/{other}/transcript.vtt"), Some(&teacher)).await;
    assert_eq!(track.status, StatusCode::NOT_FOUND);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    assert_eq!(get(&router, &format!("/ui/documents/{other}"), Some(&evaluator)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn pages_need_a_session_and_an_uploading_app_reads_nothing() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Document, "plan.pdf").await;
    let router = router(&t, &[]);
    for uri in ["/ui/".to_owned(), format!("/ui/documents/{id}")] {
        let page = get(&router, &uri, None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(page.headers[header::LOCATION], "/ui/sign-in");
        assert_secured(&page);
    }
    let (app, _) = sign_in_refused_list(&router).await;
    for uri in ["/ui/".to_owned(), format!("/ui/documents/{id}")] {
        let page = get(&router, &uri, Some(&app)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(!page.body.contains("plan.pdf"));
        assert!(page.body.contains("action=\"/ui/sign-out\""), "an app's session can still sign out");
    }
    let style = get(&router, "/ui/style.css", None).await;
    assert_eq!(style.status, StatusCode::OK);
    assert_eq!(style.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
}

/// Signs in with the uploads token (whose list is 403): the session cookie.
async fn sign_in_refused_list(router: &Router) -> (String, ()) {
    let form = get(router, "/ui/sign-in", None).await;
    let csrf_cookie = pair(&set_cookie(&form, "docflow_csrf").unwrap());
    let signed =
        post(router, "/ui/sign-in", Some(&csrf_cookie), &[("token", UPLOADS_TOKEN), ("csrf", &csrf_field(&form.body))])
            .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    (pair(&set_cookie(&signed, "docflow_session").unwrap()), ())
}

fn artifact(role: &str, name: &str, id: DocumentId) -> ArtifactRow {
    ArtifactRow {
        role: role.parse().unwrap(),
        name: name.into(),
        key: format!("{id}/{role}/{name}"),
        size: 49102,
        sha256: "ab".repeat(32),
        content_type: "application/octet-stream".into(),
    }
}

#[tokio::test]
async fn a_lesson_plans_page_shows_its_findings_download_and_timeline_in_words() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Document, "plan.docx").await;
    let db = &t.db;
    let submission = id.submission_id("sim").to_string();
    assert!(db.mark_submitted_in_round(id, 0, "sim", &submission, "job_1", "transfer", 1).await.unwrap());
    assert!(db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let artifacts = [artifact("corrected", "plan.corrected.docx", id), artifact("findings", "findings.json", id)];
    assert!(db.record_validated(id, State::Processed, "evt-1", &artifacts, "validate", 1).await.unwrap());
    let normalized = super::lesson::tests::record_json(
        "teacher-42",
        "teacher-42/week3/plan.docx",
        &artifacts,
        json!([
            {"category": "spelling", "severity": "minor", "message": "Misspelt word <b>", "excerpt": "recieve", "suggestion": "receive"}
        ]),
    );
    assert!(db.store_normalized(id, &normalized, "normalize", 1).await.unwrap());
    let failed = t.receive("teacher-42", Kind::Video, "broken.mp4").await;
    db.mark_failed(failed, "validate", 1, FailureCause::ResultsInvalid, "summary.json: chapters[0].start is negative")
        .await
        .unwrap();
    let router = router(&t, &[]);
    let (session, _) = sign_in(&router, TOKEN).await;

    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for text in [
        "spelling",
        "minor",
        "recieve",
        "Suggested: receive",
        "Download the corrected file",
        "sent to the provider",
        "checked and stored",
    ] {
        assert!(page.body.contains(text), "{text} missing: {}", page.body);
    }
    assert!(page.body.contains("Misspelt word &lt;b&gt;"), "provider text is escaped");
    // The download goes through the gateway: no link to the store, no other origin allowed.
    assert!(page.body.contains(&format!("href=\"/ui/documents/{id}/files/corrected\"")), "{}", page.body);
    assert!(!page.body.contains(crate::evaluator::tests::S3_ENDPOINT), "{}", page.body);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(!csp.contains("http"), "{csp}");
    assert_secured(&page);

    let page = get(&router, &format!("/ui/documents/{failed}"), Some(&session)).await;
    assert!(page.body.contains("failed docflow's checks") && page.body.contains("The file was fine"), "{}", page.body);
    assert!(page.body.contains("<details>") && page.body.contains("chapters[0].start is negative"));
}

#[tokio::test]
async fn the_list_pages_with_the_evaluator_apis_cursor_and_keeps_its_filters() {
    let t = sqlite().await;
    let mut names = Vec::new();
    for i in 0..5 {
        let name = format!("plan-{i}.pdf");
        t.receive("teacher-42", Kind::Document, &name).await;
        names.push(name);
    }
    t.receive("teacher-42", Kind::Video, "lesson.mp4").await;
    let router = router(&t, &[]);
    let (session, _) = sign_in(&router, TEACHER_TOKEN).await;
    let mut seen = Vec::new();
    let mut uri = "/ui/?kind=document&limit=2".to_owned();
    for _ in 0..10 {
        let page = get(&router, &uri, Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("lesson.mp4"), "the filter holds on every page");
        seen.extend(names.iter().filter(|n| page.body.contains(n.as_str())).cloned());
        let Some(at) = page.body.find("rel=\"next\" href=\"") else { break };
        let href = page.body[at + 17..].split('"').next().unwrap().replace("&amp;", "&");
        assert!(href.contains("kind=document") && href.contains("limit=2") && href.contains("cursor="), "{href}");
        uri = href;
    }
    seen.sort();
    assert_eq!(seen, names, "every document once, over three pages");
}

/// `GET /ui/events` with `cookie`: the status code, and the stream's body when 200.
pub(super) async fn open_events(
    router: &Router,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<axum::body::BodyDataStream>) {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    if status != StatusCode::OK {
        return (status, None);
    }
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    (status, Some(response.into_body().into_data_stream()))
}

/// The next `status` event's data from a stream (keep-alive comments skipped), within 10 s.
pub(super) async fn next_change(stream: &mut axum::body::BodyDataStream) -> serde_json::Value {
    use futures_util::StreamExt;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                assert!(frame.contains("event: status"), "{frame}");
                return serde_json::from_str(data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await.expect("an event within 10 s");
        text.push_str(std::str::from_utf8(&chunk.expect("the stream is open").unwrap()).unwrap());
    }
}

pub(super) fn change(uploader: &str, key: &str, state: State) -> crate::db::StatusChange {
    crate::db::StatusChange {
        id: DocumentId(uuid::Uuid::new_v4()),
        state,
        at: chrono::Utc::now(),
        uploader: uploader.into(),
        kind: Kind::Document,
        key: key.into(),
    }
}

#[tokio::test]
async fn live_events_reach_an_evaluator_all_and_a_teacher_only_their_own() {
    let t = sqlite().await;
    let (router, live) = live_router(&t, &[]);
    assert_eq!(open_events(&router, "/ui/events", None).await.0, StatusCode::UNAUTHORIZED);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    let mut all = open_events(&router, "/ui/events", Some(&evaluator)).await.1.unwrap();
    // A teacher's `uploader=` in the address changes nothing.
    let mut own = open_events(&router, "/ui/events?uploader=teacher-7", Some(&teacher)).await.1.unwrap();
    let other = change("teacher-7", "teacher-7/2025/01/x-other.pdf", State::Received);
    let mine = change("teacher-42", "teacher-42/2025/01/x-mine.pdf", State::Submitted);
    live.send(other.clone());
    live.send(mine.clone());
    assert_eq!(next_change(&mut all).await["id"], other.id.to_string());
    let heard = next_change(&mut all).await;
    assert_eq!(
        (heard["id"].as_str(), heard["state"].as_str()),
        (Some(mine.id.to_string().as_str()), Some("submitted"))
    );
    assert_eq!(heard["key"], "teacher-42/2025/01/x-mine.pdf");
    assert_eq!(next_change(&mut own).await["id"], mine.id.to_string(), "the other teacher's change is not sent");

    // An uploading app reads no stream but the upload it follows, with the page's watch token.
    let app = sign_in_refused_list(&router).await.0;
    for uri in ["/ui/events", "/ui/events?key=teacher-7/2025/01/x-other.pdf&watch=00"] {
        assert_eq!(open_events(&router, uri, Some(&app)).await.0, StatusCode::FORBIDDEN, "{uri}");
    }
}

#[tokio::test]
async fn a_stream_that_falls_behind_ends_so_that_its_page_reconnects_and_reads_again() {
    use futures_util::StreamExt;
    let t = sqlite().await;
    let (router, live) = live_router(&t, &[]);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let mut behind = open_events(&router, "/ui/events", Some(&evaluator)).await.1.unwrap();
    // Not read while more changes than the fan-out holds go by.
    for _ in 0..=super::live::FAN_OUT {
        live.send(change("teacher-7", "teacher-7/2025/01/x-many.pdf", State::Received));
    }
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Some(chunk) = tokio::time::timeout_at(deadline, behind.next()).await.expect("the stream ends within 10 s")
    {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert!(!text.contains("event: status"), "no change after a gap: {text}");
    // A stream that keeps up is not ended.
    let mut current = open_events(&router, "/ui/events", Some(&evaluator)).await.1.unwrap();
    let next = change("teacher-7", "teacher-7/2025/01/x-next.pdf", State::Submitted);
    live.send(next.clone());
    assert_eq!(next_change(&mut current).await["id"], next.id.to_string());
}

/// The upload page's form: a presigned POST for a key under the teacher's own folder, its
/// watch token opening a stream of that key only; refused without CSRF or for an evaluator.
#[tokio::test]
async fn the_upload_page_presigns_for_the_teacher_and_allows_the_stores_origin_only() {
    let t = sqlite().await;
    let (router, live) = live_router(&t, &[]);
    let (teacher, csrf) = sign_in(&router, TEACHER_TOKEN).await;
    let page = get(&router, "/ui/upload", Some(&teacher)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("type=\"file\"") && page.body.contains("<progress") && !page.body.contains("id=\"teacher\"")
    );
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    let store = crate::evaluator::tests::S3_ENDPOINT;
    assert!(
        csp.contains(&format!("connect-src 'self' {store};")) && csp.contains(&format!("form-action 'self' {store}")),
        "{csp}"
    );
    assert_eq!(csp.matches("form-action").count(), 1, "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains('*'), "{csp}");

    let form = [
        ("csrf", csrf.as_str()),
        ("file_name", "plan week 3.pdf"),
        ("content_type", "application/pdf"),
        ("size", "1234"),
    ];
    let granted = post(&router, "/ui/upload", Some(&teacher), &form).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let grant: serde_json::Value = serde_json::from_str(&granted.body).unwrap();
    let key = grant["key"].as_str().unwrap();
    assert!(key.starts_with("teacher-42/") && key.ends_with("-plan week 3.pdf"), "{key}");
    assert_eq!(grant["fields"]["key"], key);
    assert_eq!(grant["fields"]["Content-Type"], "application/pdf");
    assert!(grant["url"].as_str().unwrap().starts_with(store), "{grant}");

    // Without the CSRF token, with a bad size, or as an evaluator: refused.
    let refused = post(&router, "/ui/upload", Some(&teacher), &form[1..]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad =
        post(&router, "/ui/upload", Some(&teacher), &[("csrf", &csrf), ("file_name", "a.pdf"), ("size", "0")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("size"), "{}", bad.body);
    let (evaluator, evaluator_csrf) = sign_in(&router, TOKEN).await;
    assert_eq!(get(&router, "/ui/upload", Some(&evaluator)).await.status, StatusCode::FORBIDDEN);
    let mut as_evaluator = form;
    as_evaluator[0].1 = &evaluator_csrf;
    assert_eq!(post(&router, "/ui/upload", Some(&evaluator), &as_evaluator).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post(&router, "/ui/upload", None, &form).await.status, StatusCode::UNAUTHORIZED);

    // An uploading app names the teacher, and follows that upload only.
    let app = sign_in_refused_list(&router).await.0;
    let app_page = get(&router, "/ui/upload", Some(&app)).await;
    assert!(app_page.body.contains("id=\"teacher\""), "{}", app_page.body);
    let app_csrf = csrf_field(&app_page.body);
    let for_teacher = [
        ("csrf", app_csrf.as_str()),
        ("teacher", "teacher-9"),
        ("file_name", "clip.mp4"),
        ("content_type", "video/mp4"),
        ("size", "99"),
    ];
    let granted = post(&router, "/ui/upload", Some(&app), &for_teacher).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let grant: serde_json::Value = serde_json::from_str(&granted.body).unwrap();
    let key = grant["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("teacher-9/"), "{key}");
    let watch = grant["watch"].as_str().unwrap();
    let uri = format!(
        "/ui/events?key={}&watch={watch}",
        percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut stream = open_events(&router, &uri, Some(&app)).await.1.expect("the upload's stream");
    let unrelated = change("teacher-9", "teacher-9/2025/01/other.mp4", State::Received);
    let followed = change("teacher-9", &key, State::Received);
    live.send(unrelated);
    live.send(followed.clone());
    assert_eq!(next_change(&mut stream).await["id"], followed.id.to_string());
    // The watch token of one session is not another's.
    assert_eq!(open_events(&router, &uri, Some(&sign_in_refused_list(&router).await.0)).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_list_filters_on_text_in_the_key_and_keeps_it_in_its_pages() {
    let t = sqlite().await;
    for i in 0..3 {
        t.receive("teacher-42", Kind::Document, &format!("fractions-{i}.pdf")).await;
    }
    t.receive("teacher-42", Kind::Document, "decimals.pdf").await;
    let router = router(&t, &[]);
    let (session, _) = sign_in(&router, TOKEN).await;
    let page = get(&router, "/ui/?tab=all&key=FRACTIONS&limit=2", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("decimals.pdf") && page.body.contains("fractions-2.pdf"), "{}", page.body);
    assert!(page.body.contains("value=\"FRACTIONS\""), "the filter shows what was asked");
    assert!(page.body.contains("tab=all&amp;key=FRACTIONS&amp;limit=2&amp;cursor="), "{}", page.body);
    assert!(page.body.contains("data-live=\"list\""), "the first page takes live rows");
    let none = get(&router, "/ui/?tab=all&key=algebra", Some(&session)).await;
    assert!(none.body.contains("No document matches.") && !none.body.contains("fractions"));
}

#[tokio::test]
async fn the_script_is_served_same_origin_and_every_page_loads_it() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let script = get(&router, "/ui/app.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    for needed in ["new EventSource(", "/ui/events", "upload.addEventListener(\"progress\"", "data-seek", "#token="] {
        assert!(script.body.contains(needed), "{needed}");
    }
    assert!(!script.body.contains("http://") && !script.body.contains("https://"), "no third-party request");
    let sign_in = get(&router, "/ui/sign-in", None).await;
    assert!(sign_in.body.contains("<script src=\"/ui/app.js\" defer>"), "{}", sign_in.body);
}

#[tokio::test]
async fn gateways_configured_with_one_session_secret_share_sessions() {
    let t = sqlite().await;
    let secret = [("DOCFLOW__GATEWAY__SESSION_SECRET", "0123456789abcdef0123456789abcdef-shared")];
    let (first, second) = (router(&t, &secret), router(&t, &secret));
    let (session, _) = sign_in(&first, TOKEN).await;
    assert_eq!(get(&second, "/ui/", Some(&session)).await.status, StatusCode::OK);
    // Without the secret each process has its own key: signed out elsewhere.
    let unconfigured = router(&t, &[]);
    assert_eq!(get(&unconfigured, "/ui/", Some(&session)).await.status, StatusCode::SEE_OTHER);
    // A short secret is refused by the settings' check, naming the key.
    let short = std::panic::catch_unwind(|| settings(&[("DOCFLOW__GATEWAY__SESSION_SECRET", "short")]));
    let error = short.expect_err("a short secret does not load");
    let message = error.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("gateway.session_secret"), "{message}");
}
