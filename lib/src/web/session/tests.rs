//! The web interface's boundary through its router (issue 21): cookie names and
//! attributes, two session cookies refused, sign-out that holds (the old cookie and its
//! open event stream), idle and absolute expiry on a clock the test moves, a switch of
//! session that needs the person's confirmation, and single-use sign-in links.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use tower::ServiceExt;

use super::{Clock, SessionKey};
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, settings, sqlite};
use crate::gateway::auth::find_token;
use crate::storage::Store;
use crate::web::tests::{Page, csrf_field, get, open_events, pair, post, router, set_cookie, sign_in};
use crate::web::{WebState, routes};

const SECRET: (&str, &str) = ("DOCFLOW__GATEWAY__SESSION_SECRET", "0123456789abcdef0123456789abcdef-sessions");

/// A router reading the time from a clock the test moves.
fn clocked(t: &Target) -> (Router, Arc<Mutex<SystemTime>>) {
    let now = Arc::new(Mutex::new(SystemTime::now()));
    let settings = Arc::new(settings(&[]));
    let store = Store::new(&settings.s3).expect("store");
    let web = WebState::new(EvaluatorState::new(settings, t.db.clone(), store)).with_clock(Clock::manual(now.clone()));
    (routes(web), now)
}

fn advance(now: &Mutex<SystemTime>, by: Duration) {
    *now.lock().unwrap() += by;
}

fn signed_in(page: &Page) -> bool {
    page.status == StatusCode::OK && page.body.contains("action=\"/ui/sign-out\"")
}

/// The sign-in form's double-submit cookie (`Cookie` header form) and its field.
async fn sign_in_form(router: &Router, cookie: Option<&str>, uri: &str) -> (Page, String, String) {
    let page = get(router, uri, cookie).await;
    let csrf_cookie = pair(&set_cookie(&page, "docflow_csrf").expect("a double-submit cookie"));
    let csrf = csrf_field(&page.body);
    (page, csrf_cookie, csrf)
}

fn both(session: &str, csrf_cookie: &str) -> String {
    format!("{session}; {csrf_cookie}")
}

#[tokio::test]
async fn over_https_both_cookies_are_host_prefixed_with_path_root_and_no_domain() {
    let t = sqlite().await;
    let https = router(&t, &[("DOCFLOW__GATEWAY__PUBLIC_URL", "https://docflow.school.example")]);
    let form = get(&https, "/ui/sign-in", None).await;
    let csrf = set_cookie(&form, "__Host-docflow_csrf").expect("a __Host- CSRF cookie");
    let signed =
        post(&https, "/ui/sign-in", Some(&pair(&csrf)), &[("token", TOKEN), ("csrf", &csrf_field(&form.body))]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let session = set_cookie(&signed, "__Host-docflow_session").expect("a __Host- session cookie");
    for cookie in [&csrf, &session] {
        for flag in ["; Path=/;", "; Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(cookie.contains(flag), "{flag}: {cookie}");
        }
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    assert!(set_cookie(&signed, "docflow_session").is_none(), "no unprefixed cookie over https");
    // The prefixed cookie is the session; an unprefixed one (which any origin of the host
    // may set) is not read at all.
    assert_eq!(get(&https, "/ui/", Some(&pair(&session))).await.status, StatusCode::OK);
    let planted = session.replacen("__Host-docflow_session", "docflow_session", 1);
    assert_eq!(get(&https, "/ui/", Some(&pair(&planted))).await.status, StatusCode::SEE_OTHER);

    // Plain http (`docflow dev`): unprefixed, not Secure, Path=/ all the same.
    let http = router(&t, &[]);
    let (session, _) = sign_in(&http, TOKEN).await;
    assert!(session.starts_with("docflow_session="), "{session}");
}

#[tokio::test]
async fn a_request_with_two_session_cookies_is_refused_and_both_are_cleared() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    // As a browser sends them when another origin of the host planted one with `path=/ui/`.
    for cookies in [format!("{teacher}; {evaluator}"), format!("{evaluator}; {teacher}")] {
        for uri in ["/ui/", "/ui/upload", "/ui/events", "/ui/sign-in"] {
            let page = get(&router, uri, Some(&cookies)).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}: {}", page.body);
            assert!(page.body.contains("two docflow session cookies"), "{}", page.body);
            assert!(!page.body.contains("Signed in as"), "neither session is used: {}", page.body);
        }
    }
    let page = get(&router, "/ui/", Some(&format!("{teacher}; {evaluator}"))).await;
    let cleared: Vec<_> = page.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    for path in ["Path=/;", "Path=/ui;", "Path=/ui/;"] {
        assert!(
            cleared.iter().any(|c| c.starts_with("docflow_session=;") && c.contains(path) && c.contains("Max-Age=0")),
            "{path}: {cleared:?}"
        );
    }
    // Two sign-in cookies: no sign-in either.
    let (_, csrf_cookie, csrf) = sign_in_form(&router, None, "/ui/sign-in").await;
    let twice = format!("{csrf_cookie}; docflow_csrf={csrf}");
    let refused = post(&router, "/ui/sign-in", Some(&twice), &[("token", TOKEN), ("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(set_cookie(&refused, "docflow_session").is_some_and(|c| c.contains("Max-Age=0")));
    // Each alone is still its session.
    assert!(signed_in(&get(&router, "/ui/", Some(&teacher)).await));
}

#[tokio::test]
async fn the_api_reads_no_cookie() {
    let t = sqlite().await;
    let settings = Arc::new(settings(&[]));
    let store = Store::new(&settings.s3).expect("store");
    let state = EvaluatorState::new(settings.clone(), t.db.clone(), store.clone());
    let (session, _) = sign_in(&routes(WebState::new(state.clone())), TOKEN).await;
    let api = crate::evaluator::routes(state);
    let request = Request::get("/v1/documents").header(header::COOKIE, &session).body(Body::empty()).unwrap();
    let response = api.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a session cookie is no bearer token");
}

#[tokio::test]
async fn after_sign_out_the_old_cookie_is_refused_and_its_open_stream_ends() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let (session, csrf) = sign_in(&router, TOKEN).await;
    let (status, stream) = open_events(&router, "/ui/events", Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    let mut stream = stream.unwrap();

    let out = post(&router, "/ui/sign-out", Some(&session), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The cookie, kept (copied, or put back), no longer answers anything.
    for uri in ["/ui/", "/ui/upload"] {
        let page = get(&router, uri, Some(&session)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(page.headers[header::LOCATION], "/ui/sign-in");
    }
    let presign = post(&router, "/ui/upload", Some(&session), &[("csrf", &csrf), ("file_name", "a.md")]).await;
    assert_ne!(presign.status, StatusCode::OK, "no presigned form: {}", presign.body);
    assert_eq!(open_events(&router, "/ui/events", Some(&session)).await.0, StatusCode::UNAUTHORIZED);
    // The stream opened before ends (keep-alive comments aside).
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived the sign-out");
}

#[tokio::test]
async fn a_session_ends_when_idle_unless_used_and_at_its_lifetime_however_used() {
    let t = sqlite().await;
    let (router, now) = clocked(&t);
    let (first, _) = sign_in(&router, TOKEN).await;
    // Used after 29 minutes: alive, and the cookie is signed again with a later deadline.
    advance(&now, Duration::from_secs(29 * 60));
    let page = get(&router, "/ui/", Some(&first)).await;
    assert!(signed_in(&page));
    let mut cookie = pair(&set_cookie(&page, "docflow_session").expect("a refreshed cookie"));
    // The first cookie, never refreshed, is idle 30 minutes after sign-in.
    advance(&now, Duration::from_secs(60));
    assert_eq!(get(&router, "/ui/", Some(&first)).await.status, StatusCode::SEE_OTHER, "idle");
    // Used every 29 minutes, the session lasts 8 hours from sign-in, not more.
    let mut used = Duration::from_secs(30 * 60);
    loop {
        let page = get(&router, "/ui/", Some(&cookie)).await;
        if !signed_in(&page) {
            break;
        }
        if let Some(fresh) = set_cookie(&page, "docflow_session") {
            cookie = pair(&fresh);
        }
        advance(&now, Duration::from_secs(29 * 60));
        used += Duration::from_secs(29 * 60);
    }
    assert!(used >= Duration::from_secs(8 * 3600) && used < Duration::from_secs(8 * 3600 + 29 * 60), "{used:?}");
    // An event stream is not a use: it does not sign the cookie again.
    let (fresh, _) = sign_in(&router, TOKEN).await;
    advance(&now, Duration::from_secs(10 * 60));
    let response = router
        .clone()
        .oneshot(Request::get("/ui/events").header(header::COOKIE, &fresh).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn signing_in_over_an_open_session_asks_first_and_then_revokes_the_old_one() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    // The sign-in page while signed in says who you are.
    let (page, csrf_cookie, csrf) = sign_in_form(&router, Some(&evaluator), "/ui/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("You are signed in as <strong>an evaluator</strong>"), "{}", page.body);
    // A cross-site form (the token of an attacker's teacher) posted without `switch`:
    // nothing changes, the page asks.
    let cookies = both(&evaluator, &csrf_cookie);
    let asked = post(&router, "/ui/sign-in", Some(&cookies), &[("token", TEACHER_TOKEN), ("csrf", &csrf)]).await;
    assert_eq!(asked.status, StatusCode::CONFLICT, "{}", asked.body);
    assert!(set_cookie(&asked, "docflow_session").is_none(), "no new session");
    assert!(asked.body.contains("Switch to teacher teacher-42"), "{}", asked.body);
    assert!(signed_in(&get(&router, "/ui/", Some(&evaluator)).await), "the session is as it was");
    // Confirmed: the new session, and the old one is signed out.
    let csrf_cookie = pair(&set_cookie(&asked, "docflow_csrf").unwrap());
    let fields = [("token", TEACHER_TOKEN), ("csrf", &csrf_field(&asked.body)), ("switch", "1")];
    let switched = post(&router, "/ui/sign-in", Some(&both(&evaluator, &csrf_cookie)), &fields).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.body);
    let teacher = pair(&set_cookie(&switched, "docflow_session").unwrap());
    assert!(get(&router, "/ui/", Some(&teacher)).await.body.contains("Signed in as teacher teacher-42"));
    assert_eq!(get(&router, "/ui/", Some(&evaluator)).await.status, StatusCode::SEE_OTHER, "the old one revoked");
}

#[tokio::test]
async fn the_preview_says_who_a_token_signs_in_as_and_who_is_signed_in_and_opens_nothing() {
    let t = sqlite().await;
    let router = router(&t, &[]);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let (_, csrf_cookie, csrf) = sign_in_form(&router, None, "/ui/sign-in").await;
    let preview = post(
        &router,
        "/ui/sign-in/preview",
        Some(&both(&evaluator, &csrf_cookie)),
        &[("token", TEACHER_TOKEN), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&preview.body).unwrap();
    assert_eq!(answer, serde_json::json!({"as": "teacher teacher-42", "current": "an evaluator"}));
    assert!(set_cookie(&preview, "docflow_session").is_none());
    assert_eq!(preview.headers[header::CACHE_CONTROL], "no-store");
    let unknown =
        post(&router, "/ui/sign-in/preview", Some(&csrf_cookie), &[("token", "guess"), ("csrf", &csrf)]).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let forged = post(&router, "/ui/sign-in/preview", None, &[("token", TEACHER_TOKEN), ("csrf", &csrf)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "not without the double-submit cookie");
}

#[tokio::test]
async fn a_sign_in_link_shows_who_signs_in_once_and_a_replay_changes_nothing() {
    let t = sqlite().await;
    let router = router(&t, &[SECRET]);
    let settings = settings(&[SECRET]);
    let token = find_token(TEACHER_TOKEN, &settings.gateway.tokens).unwrap();
    let code = SessionKey::from_secret(SECRET.1).link(token, SystemTime::now(), Duration::from_secs(600));
    assert!(!code.contains(TEACHER_TOKEN));
    let uri = format!("/ui/sign-in?code={code}");

    // Opening the link signs nobody in: the page says who, the click does it.
    let (page, csrf_cookie, csrf) = sign_in_form(&router, None, &uri).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign in as teacher teacher-42?"), "{}", page.body);
    assert!(set_cookie(&page, "docflow_session").is_none());
    let signed = post(&router, "/ui/sign-in", Some(&csrf_cookie), &[("code", &code), ("csrf", &csrf)]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let teacher = pair(&set_cookie(&signed, "docflow_session").unwrap());
    assert!(get(&router, "/ui/", Some(&teacher)).await.body.contains("Signed in as teacher teacher-42"));

    // Replayed (opened or posted again, signed in or not): nothing changes, in words.
    for cookie in [None, Some(teacher.as_str())] {
        let again = get(&router, &uri, cookie).await;
        assert_eq!(again.status, StatusCode::GONE, "{}", again.body);
        assert!(again.body.contains("This sign-in link was used already"), "{}", again.body);
    }
    let (_, csrf_cookie, csrf) = sign_in_form(&router, None, "/ui/sign-in").await;
    let replay = post(&router, "/ui/sign-in", Some(&csrf_cookie), &[("code", &code), ("csrf", &csrf)]).await;
    assert_eq!(replay.status, StatusCode::GONE);
    assert!(set_cookie(&replay, "docflow_session").is_none());

    // A link of another key, or a mangled one: refused, in words.
    let foreign = SessionKey::random().link(token, SystemTime::now(), Duration::from_secs(600));
    let refused = get(&router, &format!("/ui/sign-in?code={foreign}"), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("This sign-in link cannot be used"), "{}", refused.body);
}

mod people {
    use std::time::SystemTime;

    use super::keys::LIFE;
    use crate::settings::tokens::{GatewayToken, Role};
    use crate::web::session::{Principal, SessionKey};

    fn ada(tag: &str) -> Principal {
        Principal::Person {
            issuer_tag: tag.into(),
            subject: "248289761001".into(),
            name: "Ada Lovelace. Countess".into(),
            email: Some("ada@school.example".into()),
        }
    }

    /// A key, the tag of a provider under it, now, and the id and cookie value of a session of Ada.
    fn ada_signed_in() -> (SessionKey, String, SystemTime, String, String) {
        let key = SessionKey::random();
        let tag = key.issuer_tag("https://id.example", "docflow");
        let now = SystemTime::now();
        let (id, cookie) = key.open_as(&Role::Evaluator, &ada(&tag), now);
        (key, tag, now, id, cookie)
    }

    #[test]
    fn a_persons_session_carries_their_name_and_email_and_needs_no_token() {
        let (key, tag, now, id, cookie) = ada_signed_in();
        let session = key.verify_with(&cookie, &[], Some(tag.as_str()), now, LIFE).expect("valid without tokens");
        assert_eq!((session.id.as_str(), &session.role, &session.by), (id.as_str(), &Role::Evaluator, &ada(&tag)));
        assert_eq!(session.display_name(), "Ada Lovelace. Countess");
        assert_eq!(session.email(), Some("ada@school.example"));
        assert!(!cookie.contains("Ada") && !cookie.contains("ada@"), "hex, not free text, in the cookie");
        let teacher = Role::Uploader { uploader_id: "maths%2Fbob".into() };
        let bob = Principal::Person { issuer_tag: tag.clone(), subject: "s".into(), name: "Bob".into(), email: None };
        let cookie = key.open_id("0123", &teacher, &bob, now);
        let session = key.verify_with(&cookie, &[], Some(tag.as_str()), now, LIFE).unwrap();
        assert_eq!((session.id.as_str(), &session.role, session.email()), ("0123", &teacher, None));
    }

    #[test]
    fn a_persons_session_ends_with_its_provider_and_is_no_tokens_session() {
        let (key, tag, now, _, cookie) = ada_signed_in();
        assert!(key.verify(&cookie, &[], now, LIFE).is_none(), "no provider configured any more");
        let moved = key.issuer_tag("https://id.example", "another-client");
        assert!(key.verify_with(&cookie, &[], Some(moved.as_str()), now, LIFE).is_none(), "another client");
        assert!(key.verify_with(&cookie, &[], Some(tag.as_str()), now + LIFE.idle, LIFE).is_none(), "idle");
        let forged = cookie.replacen(".p.evaluator.", ".p.uploads.", 1);
        assert!(key.verify_with(&forged, &[], Some(tag.as_str()), now, LIFE).is_none(), "tampered");
        // A token's session names no person.
        let token = GatewayToken::new("t", Role::Evaluator);
        let session = key.verify_with(&key.open(&token, now), &[token], Some(tag.as_str()), now, LIFE).unwrap();
        assert_eq!((session.display_name().as_str(), session.email()), ("evaluator (token)", None));
    }
}

/// The session key's own rules, without the router.
mod keys {
    use std::time::{Duration, SystemTime};

    use super::super::*;
    use crate::settings::tokens::{GatewayToken, Role};

    pub(super) const LIFE: Lifetimes =
        Lifetimes { idle: Duration::from_secs(1800), absolute: Duration::from_secs(8 * 3600) };

    fn teacher() -> GatewayToken {
        GatewayToken::new("t", Role::Uploader { uploader_id: "teacher.42".into() })
    }

    #[test]
    fn a_session_round_trips_carries_an_id_and_holds_no_token() {
        let key = SessionKey::random();
        let token = teacher();
        let now = SystemTime::now();
        let cookie = key.open(&token, now);
        assert!(!cookie.contains(&token.sha256_hex()) && !cookie.contains(&token.sha256_hex()[..16]));
        let session = key.verify(&cookie, std::slice::from_ref(&token), now, LIFE).unwrap();
        assert_eq!(session.role, token.role);
        assert_eq!(session.id.len(), 32);
        assert_eq!(session.expires, unix(now) + LIFE.absolute.as_secs());
        assert!(key.csrf_ok(&session, &key.csrf(&session)));
        assert!(!key.csrf_ok(&session, ""));
        let other = key.verify(&key.open(&token, now), std::slice::from_ref(&token), now, LIFE).unwrap();
        assert_ne!(session.id, other.id, "every sign-in has an id of its own");
    }

    #[test]
    fn tampered_idle_expired_foreign_and_revoked_token_sessions_are_refused() {
        let key = SessionKey::random();
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let now = SystemTime::now();
        let cookie = key.open(&token, now);
        assert!(key.verify(&cookie, tokens, now + LIFE.idle, LIFE).is_none(), "idle");
        assert!(key.verify(&cookie, tokens, now + LIFE.idle - Duration::from_secs(1), LIFE).is_some());
        assert!(SessionKey::random().verify(&cookie, tokens, now, LIFE).is_none(), "another key");
        assert!(
            key.verify(&cookie, &[GatewayToken::new("other", token.role.clone())], now, LIFE).is_none(),
            "token gone"
        );
        let forged = cookie.replacen("uploader", "evaluator", 1);
        assert!(key.verify(&forged, tokens, now, LIFE).is_none(), "tampered");
        assert!(key.verify("", tokens, now, LIFE).is_none());
        assert!(key.verify("v2.x.1.1.t.evaluator...", tokens, now, LIFE).is_none());
    }

    #[test]
    fn use_moves_the_idle_deadline_but_never_the_absolute_one() {
        let key = SessionKey::random();
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let start = SystemTime::now();
        let mut cookie = key.open(&token, start);
        let session = key.verify(&cookie, tokens, start, LIFE).unwrap();
        assert_eq!(key.touch(&session, start + Duration::from_secs(5)), None, "not signed again at every request");
        // Used every 20 minutes: alive past the idle time, until the lifetime.
        let mut at = start;
        loop {
            at += Duration::from_secs(20 * 60);
            let Some(session) = key.verify(&cookie, tokens, at, LIFE) else { break };
            assert_eq!(session.issued, unix(start));
            cookie = key.touch(&session, at).expect("older than a minute");
        }
        let ended = at.duration_since(start).unwrap();
        assert!(ended >= LIFE.absolute && ended < LIFE.absolute + Duration::from_secs(20 * 60), "{ended:?}");
    }

    #[test]
    fn gateways_with_the_same_secret_share_sessions_and_others_do_not() {
        let token = teacher();
        let now = SystemTime::now();
        let secret = "a shared secret of more than thirty-two bytes";
        let cookie = SessionKey::from_secret(secret).open(&token, now);
        let tokens = std::slice::from_ref(&token);
        assert!(SessionKey::from_secret(secret).verify(&cookie, tokens, now, LIFE).is_some());
        assert!(
            SessionKey::from_secret("another secret of more than thirty-two")
                .verify(&cookie, tokens, now, LIFE)
                .is_none()
        );
        assert!(SessionKey::random().verify(&cookie, tokens, now, LIFE).is_none());
    }

    #[test]
    fn a_link_names_its_token_without_holding_it_and_expires() {
        let key = SessionKey::from_secret("a shared secret of more than thirty-two bytes");
        let token = teacher();
        let tokens = std::slice::from_ref(&token);
        let now = SystemTime::now();
        let code = key.link(&token, now, Duration::from_secs(60));
        assert!(!code.contains(&token.sha256_hex()[..16]), "no digest of the token");
        let link = key.verify_link(&code, tokens, now).unwrap();
        assert_eq!(link.token, &token);
        assert!(key.verify_link(&code, tokens, now + Duration::from_secs(60)).is_none(), "expired");
        assert!(SessionKey::random().verify_link(&code, tokens, now).is_none(), "another key");
        assert!(key.verify_link(&code.replacen("uploader", "evaluator", 1), tokens, now).is_none(), "tampered");
        assert!(key.verify(&code, tokens, now, LIFE).is_none(), "a link is no session");
        assert_ne!(key.link(&token, now, Duration::from_secs(60)), code, "a nonce each");
    }

    #[test]
    fn the_double_submit_check_needs_both_equal_and_present() {
        assert!(double_submit_ok(Some("abc"), "abc"));
        assert!(!double_submit_ok(Some("abc"), "abd"));
        assert!(!double_submit_ok(None, ""));
        assert!(!double_submit_ok(Some(""), ""));
    }

    #[test]
    fn cookie_names_are_host_prefixed_over_https_only() {
        assert_eq!(CookieNames::new(true).session, "__Host-docflow_session");
        assert_eq!(CookieNames::new(true).csrf, "__Host-docflow_csrf");
        assert_eq!(CookieNames::new(false).session, "docflow_session");
    }
}
