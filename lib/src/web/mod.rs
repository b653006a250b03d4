//! The web interface, part of the `gateway` component: server-rendered pages for the
//! people who read documents in a browser (issue 17). Same process and same tokens as the
//! evaluator API; merged into the gateway's public router with
//! [`crate::gateway::GatewayState::with_routes`].
//! - `GET /ui/sign-in`, `POST /ui/sign-in`, `POST /ui/sign-out` ([`session`]);
//! - `GET /ui/`: the list of documents (role `evaluator`: all of them; role `uploader`:
//!   its own), filtered and paged with the evaluator API's parser and cursor;
//! - `GET /ui/documents/{id}`: one document, its timeline in words, its findings or its
//!   video; `GET /ui/documents/{id}/transcript.vtt`: the caption track, same-origin;
//!   `GET /ui/documents/{id}/files/{role}`: its result files, through the gateway ([`files`]);
//! - `GET /ui/events`: state changes as server-sent events, filtered by role ([`live`]);
//! - `GET /ui/upload`, `POST /ui/upload`: a teacher's upload page and its presigned form;
//! - `GET /ui/style.css`, `GET /ui/app.js`: the only stylesheet and script. No
//!   third-party request.
//!
//! Every response carries a strict Content-Security-Policy (`default-src 'self'`: a
//! document's files and video come through the gateway; the upload page adds the store's
//! public origin, `s3.public_endpoint`, for `connect-src` and `form-action`),
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
//! `frame-ancestors 'none'`. Not built yet: OpenID Connect.

#[cfg(test)]
mod browser;
mod files;
pub mod live;
mod pages;
pub mod session;
mod upload;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use self::session::{SESSION_COOKIE, SESSION_TTL, SIGN_IN_CSRF_COOKIE, Session, SessionKey};
use crate::db::Cursor;
use crate::evaluator::{DEFAULT_LIMIT, DocumentSummary, EvaluatorState};
use crate::gateway::auth::find_token;
use crate::gateway::tokens::Role;
use crate::ids::DocumentId;

/// The interface's path prefix; the cookies' `Path`.
pub const PREFIX: &str = "/ui";
/// Largest caption track served, in bytes.
const MAX_TRANSCRIPT: u64 = 4 << 20;

/// The policy of every page but a document's (which adds its artifacts' origin).
pub(super) const CSP: &str =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// What the pages share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WebState {
    pub evaluator: EvaluatorState,
    pub key: SessionKey,
    /// Cookies are `Secure` when `gateway.public_url` is https.
    pub secure: bool,
    /// The state changes `GET /ui/events` streams.
    pub live: live::Live,
}

impl WebState {
    /// With the session key of `gateway.session_secret`, or a fresh random one when it is
    /// unset (sessions then end when the process does).
    pub fn new(evaluator: EvaluatorState) -> WebState {
        let gateway = &evaluator.settings.gateway;
        let secure = gateway.public_url.to_ascii_lowercase().starts_with("https://");
        let key = match &gateway.session_secret {
            Some(secret) => SessionKey::from_secret(secrecy::ExposeSecret::expose_secret(secret)),
            None => SessionKey::random(),
        };
        WebState { evaluator, key, secure, live: live::Live::default() }
    }

    /// Streams the changes `live` hears (the gateway feeds it from NATS).
    pub fn with_live(mut self, live: live::Live) -> WebState {
        self.live = live;
        self
    }

    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = cookie(headers, SESSION_COOKIE)?;
        self.key.verify(value, &self.evaluator.settings.gateway.tokens, SystemTime::now())
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut text = format!("{name}={value}; Path={PREFIX}; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            text.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            text.push_str("; Secure");
        }
        HeaderValue::from_str(&text).expect("cookie values are hex and dots")
    }
}

/// The pages, with their state and headers, for [`crate::gateway::GatewayState::with_routes`].
pub fn routes(state: WebState) -> Router {
    Router::new()
        .route(PREFIX, get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(list))
        .route("/ui/style.css", get(style))
        .route("/ui/app.js", get(script))
        .route("/ui/events", get(events))
        .route("/ui/upload", get(upload::page).post(upload::presign))
        .route("/ui/sign-in", get(sign_in_form).post(sign_in))
        .route("/ui/sign-out", axum::routing::post(sign_out))
        .route("/ui/documents/{id}", get(document))
        .route("/ui/documents/{id}/transcript.vtt", get(transcript))
        .route("/ui/documents/{id}/files/{role}", get(files::download))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The value of cookie `name`, from any `Cookie` header.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

fn field<'f>(form: &'f [(String, String)], name: &str) -> &'f str {
    form.iter().find_map(|(k, v)| (k == name).then_some(v.as_str())).unwrap_or("")
}

fn to_sign_in() -> Response {
    Redirect::to("/ui/sign-in").into_response()
}

/// A session whose role reads no document (an uploading app's).
struct Refused;

/// Which uploader's documents a session may read: `Ok(None)` for all (evaluator).
fn readable(session: &Session) -> Result<Option<&str>, Refused> {
    match &session.role {
        Role::Evaluator => Ok(None),
        Role::Uploader { uploader_id } => Ok(Some(uploader_id)),
        Role::Uploads => Err(Refused),
    }
}

/// The page of [`Refused`].
fn refused(key: &SessionKey, session: &Session) -> Response {
    pages::error(
        Some((session, &key.csrf(session))),
        StatusCode::FORBIDDEN,
        "Not available to this role",
        "You signed in with an uploading app's token (role uploads): it may upload for any teacher but \
         not read documents. Sign in with an evaluator's token, or with a teacher's own token.",
    )
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], pages::STYLE)
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        pages::SCRIPT,
    )
        .into_response()
}

/// `GET /ui/events`: the state changes of the documents this session may read, as
/// server-sent events (`event: status`, data a [`crate::db::StatusChange`]), until the
/// session expires or the gateway stops. 401 without a session. Role `uploads` reads no
/// document: it may follow only the upload it just made, with `?key=K&watch=W` from the
/// upload page (`W` binds the key to the session), and is 403 otherwise.
async fn events(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let seen = match readable(&session) {
        Ok(None) => live::Seen::All,
        Ok(Some(own)) => live::Seen::Uploader(own.to_owned()),
        Err(Refused) => {
            let (key, watch) = (field(&pairs, "key"), field(&pairs, "watch"));
            if key.is_empty() || !state.key.watch_ok(&session, key, watch) {
                return StatusCode::FORBIDDEN.into_response();
            }
            live::Seen::Key(key.to_owned())
        }
    };
    let mut response = state.live.events(seen, session.expires).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

async fn sign_in_form(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if state.session(&headers).is_some() {
        return Redirect::to("/ui/").into_response();
    }
    sign_in_page(&state, StatusCode::OK, None)
}

fn sign_in_page(state: &WebState, status: StatusCode, problem: Option<&str>) -> Response {
    let nonce = session::sign_in_nonce();
    let cookie = state.cookie(SIGN_IN_CSRF_COOKIE, &nonce, None);
    (status, [(header::SET_COOKIE, cookie)], pages::sign_in(&nonce, problem)).into_response()
}

async fn sign_in(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return forbidden_form(None) };
    if !session::double_submit_ok(cookie(&headers, SIGN_IN_CSRF_COOKIE), field(&form, "csrf")) {
        return forbidden_form(None);
    }
    let tokens = &state.evaluator.settings.gateway.tokens;
    let Some(token) = find_token(field(&form, "token").trim(), tokens) else {
        let problem = if tokens.is_empty() {
            "This gateway has no tokens configured: an operator adds [[gateway.tokens]] tables first."
        } else {
            "That is not one of this gateway's tokens. Check it and try again."
        };
        return sign_in_page(&state, StatusCode::UNAUTHORIZED, Some(problem));
    };
    let value = state.key.open(token, SystemTime::now(), SESSION_TTL);
    let session = state.cookie(SESSION_COOKIE, &value, Some(SESSION_TTL.as_secs()));
    let spent = state.cookie(SIGN_IN_CSRF_COOKIE, "", Some(0));
    let mut response = Redirect::to("/ui/").into_response();
    response.headers_mut().append(header::SET_COOKIE, session);
    response.headers_mut().append(header::SET_COOKIE, spent);
    response
}

fn forbidden_form(nav: Option<(&Session, &str)>) -> Response {
    pages::error(
        nav,
        StatusCode::FORBIDDEN,
        "This form cannot be accepted",
        "It did not carry this site's form token (it may have expired, or come from another site). Go back, \
         reload the page and try again.",
    )
}

async fn sign_out(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    let csrf = state.key.csrf(&session);
    let Ok(Form(form)) = form else { return forbidden_form(Some((&session, &csrf))) };
    if !state.key.csrf_ok(&session, field(&form, "csrf")) {
        return forbidden_form(Some((&session, &csrf)));
    }
    let mut response = to_sign_in();
    response.headers_mut().append(header::SET_COOKIE, state.cookie(SESSION_COOKIE, "", Some(0)));
    response
}

async fn list(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    let own = match readable(&session) {
        Ok(own) => own.map(str::to_owned),
        Err(Refused) => return refused(&state.key, &session),
    };
    let csrf = state.key.csrf(&session);
    let bad = |message: &str| {
        pages::error(Some((&session, &csrf)), StatusCode::BAD_REQUEST, "Cannot use these filters", message)
    };
    let Ok(Query(pairs)) = query else { return bad("The address's query is malformed.") };
    let mut request = match crate::evaluator::list::parse(&pairs) {
        Ok(request) => request,
        Err(error) => {
            let problem = error.detail.get("problem").and_then(|p| p.as_str()).unwrap_or("").to_owned();
            let name = error.detail.get("field").and_then(|p| p.as_str()).unwrap_or("").to_owned();
            return bad(&format!("{name}: {problem}"));
        }
    };
    if let Some(own) = own {
        // A teacher's list is their own, whatever the address says.
        request.filter.uploader = Some(own);
    }
    // Kept in the pages' links when the address gave it.
    let given_limit = pairs.iter().any(|(k, v)| k == "limit" && !v.trim().is_empty()).then_some(request.limit);
    let limit = given_limit.unwrap_or(DEFAULT_LIMIT);
    let listed = state.evaluator.db.list_documents(&request.filter, limit, request.cursor.as_ref()).await;
    let (documents, next) = match listed {
        Ok(page) => page,
        Err(error) => return api_error(Some((&session, &csrf)), crate::evaluator::db_error(&error)),
    };
    let items: Vec<DocumentSummary> = documents.into_iter().map(DocumentSummary::from).collect();
    pages::list(
        &session,
        &csrf,
        &request.filter,
        given_limit,
        &items,
        next.as_ref().map(Cursor::encode).as_deref(),
        request.cursor.is_some(),
    )
    .into_response()
}

fn api_error(nav: Option<(&Session, &str)>, error: crate::gateway::ApiError) -> Response {
    let detail = error.detail.as_str().unwrap_or("").to_owned();
    pages::error(nav, error.status, &error.error, &detail)
}

fn not_found(session: &Session, csrf: &str) -> Response {
    pages::error(
        Some((session, csrf)),
        StatusCode::NOT_FOUND,
        "No such document",
        "There is no document at this address that you may read.",
    )
}

async fn document(
    State(state): State<WebState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    let own = match readable(&session) {
        Ok(own) => own,
        Err(Refused) => return refused(&state.key, &session),
    };
    let csrf = state.key.csrf(&session);
    let Some(id) = id.ok().and_then(|Path(id)| id.parse::<DocumentId>().ok()) else {
        return not_found(&session, &csrf);
    };
    let links = crate::evaluator::show::Links::Gateway;
    let resource = match crate::evaluator::show::load(&state.evaluator, id, own, links).await {
        Ok(Some(resource)) => resource,
        Ok(None) => return not_found(&session, &csrf),
        Err(error) => return api_error(Some((&session, &csrf)), error),
    };
    // The files are the gateway's own (`files.rs`): the policy needs no other origin.
    pages::document(&session, &csrf, &resource, chrono::Utc::now()).into_response()
}

/// `scheme://host[:port]` of a URL, for the policy; `None` for anything odd.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok = matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The transcript artifact, from the results bucket, as the page's caption track: served
/// same-origin so that the `<track>` needs no CORS on the store.
async fn transcript(
    State(state): State<WebState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let Ok(own) = readable(&session) else { return StatusCode::FORBIDDEN.into_response() };
    let Some(id) = id.ok().and_then(|Path(id)| id.parse::<DocumentId>().ok()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let db = &state.evaluator.db;
    let document = match db.get(id).await {
        Ok(Some(document)) if own.is_none_or(|own| own == document.uploader_id) => document,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return crate::evaluator::db_error(&error).into_response(),
    };
    let artifacts = match db.artifacts(document.id).await {
        Ok(artifacts) => artifacts,
        Err(error) => return crate::evaluator::db_error(&error).into_response(),
    };
    let Some(track) = artifacts.iter().find(|a| a.role == "transcript") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let bucket = &state.evaluator.settings.s3.results_bucket;
    match state.evaluator.store.read_small(bucket, &track.key, MAX_TRANSCRIPT).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/vtt; charset=utf-8")], bytes).into_response(),
        Err(error) => {
            tracing::warn!(%error, %id, "cannot read a transcript for the web interface");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}
