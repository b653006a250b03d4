//! Signing in through the OpenID provider of `[oidc]` (design: `design.md`, "OpenID
//! Connect"). Three steps, because the session cookie is `SameSite=Strict` and the
//! provider's redirect back is a cross-site navigation that does not carry it:
//! 1. `GET /ui/oidc/sign-in` draws `state`, `nonce` and a PKCE verifier, keeps them in a
//!    signed, ten-minute, `SameSite=Lax` flow cookie (the one cookie the callback gets),
//!    and sends the browser to the provider;
//! 2. `GET /ui/oidc/callback` checks `state` against that cookie, exchanges the code with
//!    the verifier, checks the ID token (`oidc_client.rs`), maps its claims to a role and
//!    an uploader id (`oidc_claims.rs`; a person without a role is refused in words), keeps
//!    the ID token in the session bucket as `hint.{id}` for the sign-out, and answers a
//!    page that continues at once, from docflow's own origin, to
//! 3. `/ui/oidc/finish`, which now sees any open session: none, the new one is opened;
//!    one, it asks first (409, like a token's sign-in) and `POST` with `switch=1` (and the
//!    double-submit CSRF token) revokes the old one and opens the new one.
//!
//! Sign-out of a person ends the session at the provider too ([`provider_sign_out`]).
//!
//! Its own pages are still worded here, in English (`Lang::En`, so that `<html lang>` stays
//! true); the sign-in page's button follows the browser's language.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fluent_bundle::FluentValue;
use maud::{Markup, html};

use super::i18n::{Lang, tr, tr_with};
use super::oidc_claims::{self, Refusal, UploaderIdError};
use super::oidc_client::{OidcError, Provider};
use super::pages::tr_markup;
use super::session::{self, Principal, Session, unix};
use super::{WebState, field, pages, sign_in, sole_cookie};
use crate::settings::tokens::Role;

/// How long a person may take at the provider's login page.
const FLOW_TTL: u64 = 600;
/// How long the callback's result waits for step 3.
const DONE_TTL: u64 = 300;

/// Step 1's secrets, as the flow cookie holds them.
struct Flow {
    state: String,
    nonce: String,
    pkce_verifier: String,
}

/// Step 2's result, as the done cookie holds it: the session to open.
struct Done {
    id: String,
    role: Role,
    subject: String,
    name: String,
    email: Option<String>,
}

/// `GET /ui/oidc/sign-in`: to the provider.
pub(super) async fn start(State(state): State<WebState>, lang: Lang) -> Response {
    let Some(provider) = state.oidc.clone() else { return not_configured(lang) };
    let started = match provider.start().await {
        Ok(started) => started,
        Err(error) => return failed(lang, &provider, &error),
    };
    let expires = unix(state.now()) + FLOW_TTL;
    let payload = format!("o1.{}.{}.{}.{expires}", started.state, started.nonce, started.pkce_verifier);
    let value = state.key.signed(b"oidc-flow", payload);
    let mut response = Redirect::to(&started.url).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, lax(state.cookie(state.cookies.oidc_flow, &value, Some(FLOW_TTL))));
    response
}

/// `GET /ui/oidc/callback?code=&state=` (or `?error=`): checks, then step 3.
pub(super) async fn callback(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some(provider) = state.oidc.clone() else { return not_configured(lang) };
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let mut response = checked(&state, lang, &provider, &headers, &pairs).await;
    // The flow is over whatever happened: its secrets are spent.
    response.headers_mut().append(header::SET_COOKIE, lax(state.cookie(state.cookies.oidc_flow, "", Some(0))));
    response
}

async fn checked(
    state: &WebState,
    lang: Lang,
    provider: &Provider,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Response {
    let shown = provider.settings().display_name();
    let Some(flow) = sole_cookie(headers, state.cookies.oidc_flow).and_then(|value| read_flow(state, value)) else {
        return start_again(lang, &shown, "oidc-why-expired");
    };
    if !field(pairs, "error").is_empty() {
        let why = [field(pairs, "error_description"), field(pairs, "error")].into_iter().find(|s| !s.is_empty());
        let answer = why.unwrap_or_default().to_owned();
        return pages::error(
            lang,
            None,
            StatusCode::FORBIDDEN,
            &tr_with(lang, "oidc-did-not-sign-in", &[("provider", shown.clone().into())]),
            &tr_with(lang, "oidc-did-not-sign-in-why", &[("answer", answer.into())]),
        );
    }
    let state_ok = bool::from(subtle::ConstantTimeEq::ct_eq(field(pairs, "state").as_bytes(), flow.state.as_bytes()));
    if !state_ok || field(pairs, "code").is_empty() {
        return start_again(lang, &shown, "oidc-why-other-browser");
    }
    let verified = match provider.finish(field(pairs, "code"), &flow.pkce_verifier, &flow.nonce).await {
        Ok(verified) => verified,
        Err(error) => return failed(lang, provider, &error),
    };
    let person = match oidc_claims::person(provider.settings(), &verified.claims) {
        Ok(person) => person,
        Err(refusal) => return refused(lang, provider, &verified.claims, &refusal),
    };
    let id = session::new_id();
    let until = unix(state.now()) + state.lifetimes.absolute.as_secs() + DONE_TTL;
    if let Err(error) = state.revocations.put_hint(&id, until, &verified.id_token).await {
        // Signing in still works; signing out will end the docflow session only.
        tracing::error!(%error, "cannot keep the ID token for the sign-out at the provider");
    }
    let email = person.email.as_deref().map(hex::encode).unwrap_or_default();
    let payload = format!(
        "d1.{}.{id}.{}.{}.{}.{}.{email}",
        unix(state.now()) + DONE_TTL,
        person.role.name(),
        session::uploader_hex(&person.role),
        hex::encode(&person.subject),
        hex::encode(&person.name),
    );
    let value = state.key.signed(b"oidc-done", payload);
    let page = pages::layout(
        lang,
        &tr(lang, "oidc-signing-in"),
        None,
        html! {
            meta http-equiv="refresh" content="0;url=/ui/oidc/finish";
            h1 { (tr(lang, "oidc-signing-in")) }
            p {
                (tr_markup(lang, "oidc-signed-in-at", &[("provider", html! { (shown) }), ("name", html! { strong { (person.name) } })]))
                " " a href="/ui/oidc/finish" { (tr(lang, "oidc-continue")) }
            }
        },
    );
    let mut response = (StatusCode::OK, page).into_response();
    response.headers_mut().append(header::SET_COOKIE, state.cookie(state.cookies.oidc_done, &value, Some(DONE_TTL)));
    response
}

/// `GET /ui/oidc/finish`: opens the session, or asks first when one is open.
pub(super) async fn finish(State(state): State<WebState>, lang: Lang, headers: HeaderMap) -> Response {
    let Some(done) = sole_cookie(&headers, state.cookies.oidc_done).and_then(|v| read_done(&state, v)) else {
        return start_again(lang, &tr(lang, "oidc-the-provider"), "oidc-why-late");
    };
    match state.session(&headers) {
        None => open(&state, lang, done, None).await,
        Some(current) => switch_page(&state, lang, &current, &done),
    }
}

/// `POST /ui/oidc/finish` (`csrf`, `switch=1`): ends the open session, opens the new one.
pub(super) async fn switch(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return sign_in::forbidden_form(lang, None) };
    let csrf_ok = session::double_submit_ok(sole_cookie(&headers, state.cookies.csrf), field(&form, "csrf"));
    if !csrf_ok || field(&form, "switch") != "1" {
        return sign_in::forbidden_form(lang, None);
    }
    let Some(done) = sole_cookie(&headers, state.cookies.oidc_done).and_then(|v| read_done(&state, v)) else {
        return start_again(lang, &tr(lang, "oidc-the-provider"), "oidc-why-late");
    };
    let current = state.session(&headers);
    open(&state, lang, done, current.as_ref()).await
}

async fn open(state: &WebState, lang: Lang, done: Done, current: Option<&Session>) -> Response {
    let Some(issuer_tag) = state.issuer_tag.clone() else { return not_configured(lang) };
    if let Some(current) = current {
        sign_in::revoke(state, current).await;
    }
    let by = Principal::Person { issuer_tag, subject: done.subject, name: done.name, email: done.email };
    let value = state.key.open_id(&done.id, &done.role, &by, state.now());
    let mut response = Redirect::to("/ui/").into_response();
    let cookies = [
        state.cookie(state.cookies.session, &value, Some(state.lifetimes.absolute.as_secs())),
        state.cookie(state.cookies.oidc_done, "", Some(0)),
        state.cookie(state.cookies.csrf, "", Some(0)),
    ];
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn switch_page(state: &WebState, lang: Lang, current: &Session, done: &Done) -> Response {
    let nonce = session::sign_in_nonce();
    let who = pages::signed_in_as(lang, current);
    let to = || FluentValue::from(done.name.clone());
    let page = pages::layout(
        lang,
        &tr(lang, "sign-in-title"),
        None,
        html! {
            h1 { (tr_with(lang, "sign-in-switch-question", &[("who", to())])) }
            p.current { (tr_markup(lang, "sign-in-current-switching", &[("who", html! { strong { (who) } }), ("to", html! { (done.name) })])) }
            p { a href="/ui/" { (tr_with(lang, "sign-in-stay", &[("who", who.clone().into())])) } }
            form.sign-in-switch method="post" action="/ui/oidc/finish" {
                input type="hidden" name="csrf" value=(nonce);
                input type="hidden" name="switch" value="1";
                button type="submit" { (tr_with(lang, "sign-in-switch-to", &[("who", to())])) }
            }
        },
    );
    (StatusCode::CONFLICT, [(header::SET_COOKIE, state.cookie(state.cookies.csrf, &nonce, None))], page).into_response()
}

/// For `POST /ui/sign-out` of a person: the page that sends the browser on to the
/// provider's end-session endpoint, with the ID token kept at sign-in as its hint. `None`
/// when the session is a token's, or the provider has no such endpoint.
pub(super) async fn provider_sign_out(state: &WebState, lang: Lang, session: &Session) -> Option<Response> {
    let (Principal::Person { .. }, Some(provider)) = (&session.by, state.oidc.as_ref()) else { return None };
    let hint = state.revocations.hint(&session.id).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read the ID token kept for the sign-out: the provider may ask to confirm");
        None
    });
    let url = provider.end_session(hint.as_deref()).await?;
    let shown = provider.settings().display_name();
    // A page, not a redirect: the sign-out form's `form-action 'self'` would stop a
    // redirect to another origin.
    let page = pages::layout(
        lang,
        &tr(lang, "oidc-signed-out"),
        None,
        html! {
            meta http-equiv="refresh" content={ "0;url=" (url) };
            h1 { (tr(lang, "oidc-signed-out-of-docflow")) }
            p {
                (tr_with(lang, "oidc-signing-out-at", &[("provider", shown.into())]))
                " " a #provider-sign-out href=(url) { (tr(lang, "oidc-continue")) }
            }
        },
    );
    Some((StatusCode::OK, page).into_response())
}

/// The sign-in page's button, when a provider is configured.
pub(super) fn button(lang: Lang, state: &WebState) -> Option<Markup> {
    let provider = state.oidc.as_ref()?;
    let name = provider.settings().display_name();
    Some(html! {
        p.provider { a.button #oidc-sign-in href="/ui/oidc/sign-in" { (tr_with(lang, "sign-in-with-provider", &[("provider", name.into())])) } }
    })
}

fn read_flow(state: &WebState, value: &str) -> Option<Flow> {
    let payload = state.key.payload(b"oidc-flow", value)?;
    let ["o1", flow_state, nonce, verifier, expires] = payload.split('.').collect::<Vec<_>>()[..] else { return None };
    (unix(state.now()) < expires.parse::<u64>().ok()?).then(|| Flow {
        state: flow_state.to_owned(),
        nonce: nonce.to_owned(),
        pkce_verifier: verifier.to_owned(),
    })
}

fn read_done(state: &WebState, value: &str) -> Option<Done> {
    let payload = state.key.payload(b"oidc-done", value)?;
    let ["d1", expires, id, role, uploader, subject, name, email] = payload.split('.').collect::<Vec<_>>()[..] else {
        return None;
    };
    if unix(state.now()) >= expires.parse::<u64>().ok()? {
        return None;
    }
    let text = |hex_text: &str| String::from_utf8(hex::decode(hex_text).ok()?).ok();
    Some(Done {
        id: id.to_owned(),
        role: session::role_of(role, uploader)?,
        subject: text(subject)?,
        name: text(name)?,
        email: if email.is_empty() { None } else { Some(text(email)?) },
    })
}

/// The flow cookie must come back on the provider's cross-site redirect: `Lax`, which
/// sends it on top-level `GET` navigations only.
fn lax(strict: HeaderValue) -> HeaderValue {
    let text = strict.to_str().unwrap_or_default().replace("SameSite=Strict", "SameSite=Lax");
    HeaderValue::from_str(&text).unwrap_or(strict)
}

fn not_configured(lang: Lang) -> Response {
    pages::error_tr(lang, None, StatusCode::NOT_FOUND, "oidc-not-configured", "oidc-not-configured-why")
}

/// `why`: the catalogue's reason (`oidc-why-...`).
fn start_again(lang: Lang, shown: &str, why: &str) -> Response {
    let why = tr(lang, why);
    pages::error(
        lang,
        None,
        StatusCode::BAD_REQUEST,
        &tr(lang, "oidc-start-again"),
        &tr_with(lang, "oidc-start-again-why", &[("why", why.into()), ("provider", shown.to_owned().into())]),
    )
}

fn failed(lang: Lang, provider: &Provider, error: &OidcError) -> Response {
    let shown = || FluentValue::from(provider.settings().display_name());
    let (status, title, message) = match error {
        OidcError::Unreachable(_) => (
            StatusCode::BAD_GATEWAY,
            tr_with(lang, "oidc-unreachable", &[("provider", shown())]),
            tr(lang, "oidc-unreachable-why"),
        ),
        OidcError::Refused(_) | OidcError::Untrusted(_) => (
            StatusCode::UNAUTHORIZED,
            tr(lang, "oidc-untrusted"),
            tr_with(lang, "oidc-untrusted-why", &[("provider", shown())]),
        ),
    };
    tracing::warn!(%error, "an OpenID sign-in failed");
    let detail = tr_with(lang, "oidc-detail", &[("error", error.to_string().into())]);
    pages::error(lang, None, status, &title, &format!("{message} {detail}"))
}

/// A person the provider signed in, without a docflow role or a usable uploader id.
fn refused(lang: Lang, provider: &Provider, claims: &serde_json::Value, refusal: &Refusal) -> Response {
    let settings = provider.settings();
    let name = claims.get(&settings.name_claim).and_then(|v| v.as_str()).map(str::to_owned);
    let name = name.unwrap_or_else(|| tr(lang, "oidc-someone"));
    let list = |values: &[String]| FluentValue::from(values.join(", "));
    let mut args: Vec<(&str, FluentValue<'_>)> =
        vec![("provider", settings.display_name().into()), ("name", name.into())];
    let (title, message) = match refusal {
        Refusal::NoRole { claim, .. } => {
            args.extend([
                ("claim", FluentValue::from(claim.clone())),
                ("evaluators", list(&settings.evaluator_values)),
                ("teachers", list(&settings.uploader_values)),
            ]);
            ("oidc-no-role", "oidc-no-role-why")
        }
        Refusal::NoUploaderId { claim, problem } => {
            let problem = match problem {
                UploaderIdError::Empty => tr(lang, "oidc-uploader-id-empty"),
                UploaderIdError::Unprintable => tr(lang, "oidc-uploader-id-unprintable"),
                UploaderIdError::TooLong => tr_with(
                    lang,
                    "oidc-uploader-id-too-long",
                    &[("max", crate::settings::tokens::MAX_UPLOADER_ID.into())],
                ),
            };
            args.extend([("claim", FluentValue::from(claim.clone())), ("problem", FluentValue::from(problem))]);
            ("oidc-no-uploader-id", "oidc-no-uploader-id-why")
        }
    };
    tracing::info!(%refusal, "an OpenID sign-in was refused");
    pages::error(lang, None, StatusCode::FORBIDDEN, &tr(lang, title), &tr_with(lang, message, &args))
}

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
