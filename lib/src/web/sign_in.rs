//! Signing in and out. Nothing signs a person in without their own click, and an open
//! session is never replaced without their saying so:
//! - a token in the address's fragment (`#token=`) only fills the form; the script asks
//!   [`preview`] who it would sign in as, and who is signed in now, and says both;
//! - `docflow dev`'s links carry a single-use code (`?code=`, never a token): the page says
//!   who it signs in as, the click exchanges it once ([`super::revocations`]); a used
//!   link changes nothing and says so;
//! - a sign-in posted while a session is open, without `switch=1`, is answered with a
//!   page that asks first (409), so the cross-site form of a login CSRF cannot do it;
//! - switching and signing out revoke the session they end, on every gateway.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use fluent_bundle::FluentValue;
use maud::{Markup, html};

use super::i18n::{Lang, tr, tr_with};
use super::pages::tr_markup;
use super::session::{self, Link, Session};
use super::{WebState, field, pages, sole_cookie, to_sign_in};
use crate::gateway::auth::find_token;
use crate::settings::tokens::GatewayToken;

/// What a sign-in form names: a token typed or filled in, or a link's code.
enum Target<'t> {
    Token(&'t GatewayToken),
    Link(Link<'t>),
}

impl Target<'_> {
    fn token(&self) -> &GatewayToken {
        match self {
            Target::Token(token) => token,
            Target::Link(link) => link.token,
        }
    }
}

/// `GET /ui/sign-in[?code=C]`.
pub(super) async fn form(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let current = state.session(&headers);
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let code = field(&pairs, "code");
    if code.is_empty() {
        return page(&state, lang, StatusCode::OK, current.as_ref(), Shown::Token { problem: None });
    }
    let tokens = &state.evaluator.settings.gateway.tokens;
    match state.key.verify_link(code, tokens, state.now()) {
        None => link_invalid(&state, lang, current.as_ref()),
        Some(link) if state.revocations.link_used(&link.nonce) => link_used(&state, lang, current.as_ref()),
        Some(link) => page(&state, lang, StatusCode::OK, current.as_ref(), Shown::Confirm { code, to: link.token }),
    }
}

/// `POST /ui/sign-in`: `csrf` (the double-submit cookie's), `token` or `code`, and
/// `switch=1` to replace an open session.
pub(super) async fn sign_in(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return forbidden_form(lang, None) };
    if !double_submit(&state, &headers, &form) {
        return forbidden_form(lang, None);
    }
    let current = state.session(&headers);
    let tokens = &state.evaluator.settings.gateway.tokens;
    let code = field(&form, "code");
    let target = if code.is_empty() {
        match find_token(field(&form, "token").trim(), tokens) {
            Some(token) => Target::Token(token),
            None => {
                let problem = if tokens.is_empty() { "sign-in-no-tokens" } else { "sign-in-wrong-token" };
                return page(
                    &state,
                    lang,
                    StatusCode::UNAUTHORIZED,
                    current.as_ref(),
                    Shown::Token { problem: Some(tr(lang, problem)) },
                );
            }
        }
    } else {
        match state.key.verify_link(code, tokens, state.now()) {
            Some(link) => Target::Link(link),
            None => return link_invalid(&state, lang, current.as_ref()),
        }
    };
    if let Some(current) = &current
        && field(&form, "switch") != "1"
    {
        return page(
            &state,
            lang,
            StatusCode::CONFLICT,
            Some(current),
            Shown::Switch { form: &form, to: target.token() },
        );
    }
    if let Target::Link(link) = &target {
        match state.revocations.use_link(&link.nonce, link.expires).await {
            Ok(true) => {}
            Ok(false) => return link_used(&state, lang, current.as_ref()),
            Err(error) => {
                tracing::error!(%error, "cannot record a sign-in link as used");
                return unavailable(lang);
            }
        }
    }
    if let Some(current) = &current {
        revoke(&state, current).await;
    }
    let value = state.key.open(target.token(), state.now());
    let names = state.cookies;
    let session = state.cookie(names.session, &value, Some(state.lifetimes.absolute.as_secs()));
    let spent = state.cookie(names.csrf, "", Some(0));
    let mut response = Redirect::to("/ui/").into_response();
    response.headers_mut().append(header::SET_COOKIE, session);
    response.headers_mut().append(header::SET_COOKIE, spent);
    response
}

/// `POST /ui/sign-in/preview` (`csrf`, `token`): who the token would sign in as, and who
/// is signed in now, for the page to say before anyone clicks. JSON `{"as", "current"}`,
/// or 401 `{"problem"}`. It opens nothing.
pub(super) async fn preview(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return StatusCode::FORBIDDEN.into_response() };
    if !double_submit(&state, &headers, &form) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let current = state.session(&headers).map(|s| pages::signed_in_as(lang, &s));
    match find_token(field(&form, "token").trim(), &state.evaluator.settings.gateway.tokens) {
        Some(token) => {
            Json(serde_json::json!({"as": pages::who(lang, &token.role), "current": current})).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"problem": tr(lang, "sign-in-js-unknown"), "current": current})),
        )
            .into_response(),
    }
}

/// `POST /ui/sign-out` (`csrf`): revokes the session on every gateway, clears the cookie.
pub(super) async fn sign_out(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let session = match signed_form(&state, lang, &headers, form) {
        Ok(signed) => signed.session,
        Err(answer) => return *answer,
    };
    revoke(&state, &session).await;
    // A person's session ends at the provider too.
    let mut response = super::oidc::provider_sign_out(&state, lang, &session).await.unwrap_or_else(to_sign_in);
    response.headers_mut().append(header::SET_COOKIE, state.cookie(state.cookies.session, "", Some(0)));
    response
}

/// Revoked here at once; an error means the other gateways were not told (logged: the
/// cookie is cleared and this gateway refuses it all the same).
pub(super) async fn revoke(state: &WebState, session: &Session) {
    if let Err(error) = state.revocations.revoke(&session.id, session.expires).await {
        tracing::error!(%error, "sign-out not recorded in the session bucket: other gateways accept the session until it expires");
    }
}

fn double_submit(state: &WebState, headers: &HeaderMap, form: &[(String, String)]) -> bool {
    session::double_submit_ok(sole_cookie(headers, state.cookies.csrf), field(form, "csrf"))
}

/// A page's POST from a signed-in session carrying its CSRF token.
pub(super) struct SignedForm {
    pub session: Session,
    /// The session's CSRF token, for the answer's page.
    pub csrf: String,
    pub fields: Vec<(String, String)>,
}

/// The [`SignedForm`] of a request; otherwise the answer: the sign-in page, or the
/// refused form.
pub(super) fn signed_form(
    state: &WebState,
    lang: Lang,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<SignedForm, Box<Response>> {
    let Some(session) = state.session(headers) else { return Err(Box::new(to_sign_in())) };
    let csrf = state.key.csrf(&session);
    match form {
        Ok(Form(fields)) if state.key.csrf_ok(&session, field(&fields, "csrf")) => {
            Ok(SignedForm { session, csrf, fields })
        }
        _ => Err(Box::new(forbidden_form(lang, Some((&session, &csrf))))),
    }
}

pub(super) fn forbidden_form(lang: Lang, nav: Option<(&Session, &str)>) -> Response {
    pages::error_tr(lang, nav, StatusCode::FORBIDDEN, "sign-in-form-refused", "sign-in-form-refused-why")
}

fn unavailable(lang: Lang) -> Response {
    pages::error_tr(lang, None, StatusCode::SERVICE_UNAVAILABLE, "sign-in-unavailable", "sign-in-unavailable-why")
}

fn link_invalid(state: &WebState, lang: Lang, current: Option<&Session>) -> Response {
    let problem = tr(lang, "sign-in-link-invalid");
    page(state, lang, StatusCode::BAD_REQUEST, current, Shown::Token { problem: Some(problem) })
}

fn link_used(state: &WebState, lang: Lang, current: Option<&Session>) -> Response {
    let problem = tr(lang, "sign-in-link-used");
    page(state, lang, StatusCode::GONE, current, Shown::Token { problem: Some(problem) })
}

/// The sign-in page's form.
enum Shown<'a> {
    /// A token to type (or filled in from the fragment by the script).
    Token { problem: Option<String> },
    /// A link's code, with who it signs in as.
    Confirm { code: &'a str, to: &'a GatewayToken },
    /// The form posted again with `switch=1`, once the person has read who they are.
    Switch { form: &'a [(String, String)], to: &'a GatewayToken },
}

/// The page, with a fresh double-submit cookie for its form.
fn page(state: &WebState, lang: Lang, status: StatusCode, current: Option<&Session>, form: Shown<'_>) -> Response {
    let nonce = session::sign_in_nonce();
    let cookie = state.cookie(state.cookies.csrf, &nonce, None);
    let markup = markup(lang, &nonce, current, &form, super::oidc::button(lang, state));
    (status, [(header::SET_COOKIE, cookie)], markup).into_response()
}

/// What the script says of a token in the address (`data-words` on the form); `{as}` and
/// `{current}` stand for the names the preview answers.
fn script_words(lang: Lang) -> String {
    let with = |id: &str, names: &[&str]| {
        let args: Vec<(&str, FluentValue<'_>)> = names.iter().map(|n| (*n, format!("{{{n}}}").into())).collect();
        tr_with(lang, id, &args)
    };
    serde_json::json!({
        "as": with("sign-in-js-as", &["as"]),
        "unknown": tr(lang, "sign-in-js-unknown"),
        "current": with("sign-in-js-current", &["current"]),
        "switch": with("sign-in-switch-to", &["who"]).replace("{who}", "{as}"),
        "sign-in": with("sign-in-as", &["who"]).replace("{who}", "{as}"),
    })
    .to_string()
}

fn markup(lang: Lang, csrf: &str, current: Option<&Session>, form: &Shown<'_>, provider: Option<Markup>) -> Markup {
    let current_who = current.map(|session| pages::signed_in_as(lang, session));
    let switch = current.is_some();
    let strong = |who: &str| html! { strong { (who) } };
    let body = match form {
        Shown::Token { problem } => html! {
            h1 { @if switch { (tr(lang, "sign-in-you-are-signed-in")) } @else { (tr(lang, "sign-in-title")) } }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            @if let Some(who) = &current_who {
                p.current { (tr_markup(lang, "sign-in-current", &[("who", strong(who))])) " "
                    a href="/ui/" { (tr(lang, "sign-in-go-to-documents")) } }
                h2 { (tr(lang, "sign-in-as-someone-else")) }
                p { (tr_with(lang, "sign-in-ends-session", &[("who", who.clone().into())])) }
            }
            @if let Some(button) = &provider {
                (button)
                h2 { (tr(lang, "sign-in-with-token")) }
            }
            p #sign-in-as hidden role="status" {}
            form.sign-in method="post" action="/ui/sign-in" data-words=(script_words(lang)) {
                input type="hidden" name="csrf" value=(csrf);
                @if switch { input type="hidden" name="switch" value="1"; }
                label for="token" { (tr(lang, "sign-in-token")) }
                input id="token" name="token" type="password" autocomplete="current-password" required aria-describedby="token-hint";
                p.hint #token-hint { (tr(lang, "sign-in-token-hint")) }
                button type="submit" { @if switch { (tr(lang, "sign-in-switch")) } @else { (tr(lang, "sign-in-title")) } }
            }
        },
        Shown::Confirm { code, to } => html! {
            h1 { (tr_with(lang, "sign-in-as-question", &[("who", pages::who(lang, &to.role).into())])) }
            @if let Some(who) = &current_who {
                p.current { (tr_markup(lang, "sign-in-current-continuing", &[("who", strong(who))])) " "
                    a href="/ui/" { (tr_with(lang, "sign-in-stay", &[("who", who.clone().into())])) } }
            }
            p { (tr(lang, "sign-in-link-once")) }
            form.sign-in-link method="post" action="/ui/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="code" value=(code);
                @if switch { input type="hidden" name="switch" value="1"; }
                button type="submit" autofocus { (tr_with(lang, "sign-in-as", &[("who", pages::who(lang, &to.role).into())])) }
            }
        },
        Shown::Switch { form, to } => html! {
            h1 { (tr_with(lang, "sign-in-switch-question", &[("who", pages::who(lang, &to.role).into())])) }
            @if let Some(who) = &current_who {
                p.current { (tr_markup(lang, "sign-in-current-switching", &[("who", strong(who)), ("to", html! { (pages::who(lang, &to.role)) })])) }
                p { a href="/ui/" { (tr_with(lang, "sign-in-stay", &[("who", who.clone().into())])) } }
            }
            form.sign-in-switch method="post" action="/ui/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                @for name in ["token", "code"] {
                    @if !field(form, name).is_empty() { input type="hidden" name=(name) value=(field(form, name)); }
                }
                input type="hidden" name="switch" value="1";
                button type="submit" { (tr_with(lang, "sign-in-switch-to", &[("who", pages::who(lang, &to.role).into())])) }
            }
        },
    };
    pages::layout(lang, &tr(lang, "sign-in-title"), None, body)
}
