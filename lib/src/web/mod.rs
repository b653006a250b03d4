//! The web interface, part of the `gateway` component: server-rendered pages for the
//! people who read documents in a browser (issue 17). Same process and same tokens as the
//! evaluator API; merged into the gateway's public router with
//! [`crate::gateway::GatewayState::with_routes`].
//! - `GET /ui/sign-in`, `POST /ui/sign-in`, `POST /ui/sign-in/preview`, `POST /ui/sign-out`
//!   ([`sign_in`]; sessions: [`session`], sign-out on every gateway: [`revocations`];
//!   the design, with what OpenID Connect adds: `design.md`);
//! - `GET /ui/`: the list of documents (role `evaluator`: all of them; role `uploader`:
//!   its own), filtered and paged with the evaluator API's parser and cursor;
//! - `GET /ui/documents/{id}[?t=SECONDS]`: one document, its timeline in words, its findings
//!   or its video workspace ([`video`], `t` where the player starts);
//!   `GET /ui/documents/{id}/transcript.vtt`: the caption track, same-origin;
//!   `GET /ui/documents/{id}/files/{role}`: its result files, through the gateway ([`files`]);
//!   `GET /ui/documents/{id}/text/{original|corrected}`: a lesson plan's texts ([`lesson`]);
//! - `GET /ui/events`: state changes as server-sent events, filtered by role ([`live`]);
//! - `POST /ui/documents/{id}/retry`: an evaluator's Retry of a stopped document ([`retry`]);
//! - `GET /ui/upload`, `POST /ui/upload`: a teacher's upload page and its presigned form;
//! - `GET /ui/pipeline`: the pipeline overview for an operator (role `admin`, [`pipeline`]);
//! - `GET /ui/style.css`, `GET /ui/app.js`, `GET /ui/favicon.svg` (also at
//!   `/favicon.ico`): the only stylesheet, script and icon. No third-party request;
//! - `GET /`: to `/ui/` (303), so that the gateway's bare address leads somewhere.
//!
//! Every page speaks the language the browser's `Accept-Language` prefers among the
//! catalogues' ([`i18n`]), English otherwise.
//!
//! Every response carries a strict Content-Security-Policy (`default-src 'self'`: a
//! document's files and video come through the gateway; the upload page adds the store's
//! public origin, `s3.public_endpoint`, for `connect-src` and `form-action`),
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
//! `frame-ancestors 'none'`. Every request passes [`guard`] first: two session cookies
//! are refused, and nothing is answered before the sign-outs of other gateways are known.
//! - `GET /ui/oidc/sign-in`, `GET /ui/oidc/callback`, `GET|POST /ui/oidc/finish`: sign-in
//!   through the OpenID provider of `[oidc]` ([`oidc`]: the flow; `oidc_client`: the
//!   provider and the ID token's checks; `oidc_claims`: roles and uploader ids).

#[cfg(test)]
mod browser;
pub mod failure;
mod files;
pub mod i18n;
mod lesson;
mod list;
mod list_page;
pub mod live;
mod oidc;
pub mod oidc_claims;
pub mod oidc_client;
mod pages;
mod pipeline;
pub mod retry;
pub mod review;
pub mod revocations;
pub mod session;
mod sign_in;
mod upload;
mod video;
mod wait;
mod webvtt;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use self::revocations::Revocations;
use self::session::{Clock, CookieNames, Lifetimes, Session, SessionKey};
use crate::evaluator::EvaluatorState;
use crate::ids::{DocumentId, UploaderId};
use crate::settings::tokens::Role;

/// The interface's path prefix. The cookies' `Path` is `/` (a `__Host-` cookie must
/// have it); the API under `/v1` reads no cookie, only its bearer tokens.
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
    /// Cookies are `Secure` and `__Host-` prefixed when `gateway.public_url` is https.
    pub secure: bool,
    pub cookies: CookieNames,
    pub lifetimes: Lifetimes,
    pub clock: Clock,
    /// The state changes `GET /ui/events` streams.
    pub live: live::Live,
    /// Signed-out sessions and used sign-in links, as every gateway sees them.
    pub revocations: Revocations,
    /// The OpenID provider of `[oidc]`, when configured.
    pub oidc: Option<std::sync::Arc<oidc_client::Provider>>,
    /// Its sessions' tag ([`SessionKey::issuer_tag`]).
    pub issuer_tag: Option<String>,
    /// Where an evaluator's Retry publishes (`retry.rs`); `None`: Retry answers 503.
    pub restarts: Option<retry::Restarts>,
    /// What the operators' pipeline page reads (`/ui/pipeline`); none in tests that do
    /// not draw it.
    pub ops: Option<crate::ops::Ops>,
    /// Lesson plans' texts, extracted once per file ([`lesson::text`]).
    lesson_texts: lesson::text::TextCache,
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
        let lifetimes =
            Lifetimes { idle: gateway.session_idle.min(gateway.session_lifetime), absolute: gateway.session_lifetime };
        let settings = &evaluator.settings.oidc;
        let oidc = settings
            .enabled()
            .then(|| oidc_client::Provider::new(settings, &gateway.public_url))
            .and_then(|made| made.inspect_err(|error| tracing::error!(%error, "OpenID sign-in is off")).ok())
            .map(std::sync::Arc::new);
        let issuer_tag = oidc.is_some().then(|| key.issuer_tag(&settings.issuer, &settings.client_id));
        WebState {
            evaluator,
            key,
            secure,
            cookies: CookieNames::new(secure),
            lifetimes,
            clock: Clock::system(),
            live: live::Live::default(),
            revocations: Revocations::default(),
            oidc,
            issuer_tag,
            restarts: None,
            ops: None,
            lesson_texts: lesson::text::TextCache::default(),
        }
    }

    /// Retry publishes restart requests through `restarts` (the gateway's JetStream).
    pub fn with_restarts(mut self, restarts: retry::Restarts) -> WebState {
        self.restarts = Some(restarts);
        self
    }

    /// Reads the pipeline overview through `ops` for the `admin` role's page.
    pub fn with_ops(mut self, ops: crate::ops::Ops) -> WebState {
        self.ops = Some(ops);
        self
    }

    /// Sign-outs shared with every gateway through NATS ([`Revocations::watch`]); without
    /// it, this process's memory only.
    pub fn with_revocations(mut self, revocations: Revocations) -> WebState {
        self.revocations = revocations;
        self
    }

    /// Reads the time from `clock` (tests).
    pub fn with_clock(mut self, clock: Clock) -> WebState {
        self.clock = clock;
        self
    }

    /// Streams the changes `live` hears (the gateway feeds it from NATS).
    pub fn with_live(mut self, live: live::Live) -> WebState {
        self.live = live;
        self
    }

    /// The request's session: its one session cookie, signed, neither idle nor expired,
    /// its token (or OpenID provider) still configured, and not signed out on any gateway.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = sole_cookie(headers, self.cookies.session)?;
        let tokens = &self.evaluator.settings.gateway.tokens;
        let issuer = self.issuer_tag.as_deref();
        let session = self.key.verify_with(value, tokens, issuer, self.clock.now(), self.lifetimes)?;
        (!self.revocations.is_revoked(&session.id)).then_some(session)
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
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
    table()
        .into_router()
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// The paths [`routes`] serves.
pub fn paths() -> Vec<&'static str> {
    table().paths()
}

fn table() -> crate::gateway::RouteTable<WebState> {
    crate::gateway::RouteTable::new()
        .route(PREFIX, get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(list::list))
        .route("/ui/documents.csv", get(list::csv))
        .route("/ui/uploaders", get(list::uploaders))
        .route("/ui/style.css", get(style))
        .route("/ui/app.js", get(script))
        .route("/ui/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/events", get(events))
        .route("/ui/upload", get(upload::page).post(upload::presign))
        .route("/ui/pipeline", get(pipeline::page))
        .route("/ui/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .route("/ui/sign-in/preview", axum::routing::post(sign_in::preview))
        .route("/ui/sign-out", axum::routing::post(sign_in::sign_out))
        .route("/ui/oidc/sign-in", get(oidc::start))
        .route(crate::settings::oidc::CALLBACK_PATH, get(oidc::callback))
        .route("/ui/oidc/finish", get(oidc::finish).post(oidc::switch))
        .route("/ui/documents/{id}", get(document))
        .route("/ui/documents/{id}/retry", axum::routing::post(retry::retry))
        .route("/ui/documents/{id}/reviews", axum::routing::post(review::create))
        .route("/ui/documents/{id}/transcript.vtt", get(transcript))
        .route("/ui/documents/{id}/files/{role}", get(files::download))
        .route("/ui/documents/{id}/text/{which}", get(lesson::text::serve))
}

/// Before every page: a request with two session (or sign-in) cookies is refused, as one
/// of them was planted by another origin and neither can be trusted; nothing is answered
/// before this gateway knows the sign-outs of the others (503). After it: a session in
/// use is signed again with a later idle deadline (not by `/ui/events`, which a page
/// left open would otherwise keep alive without anyone using it).
async fn guard(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if matches!(path.as_str(), "/ui/style.css" | "/ui/app.js" | "/ui/favicon.svg" | "/favicon.ico" | "/") {
        return next.run(request).await;
    }
    let names = state.cookies;
    let headers = request.headers();
    let lang = i18n::Lang::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    if cookies(headers, names.session).len() > 1 || cookies(headers, names.csrf).len() > 1 {
        return two_cookies(lang, &state);
    }
    if !state.revocations.ready() {
        return pages::error_tr(lang, None, StatusCode::SERVICE_UNAVAILABLE, "common-starting", "common-starting-why");
    }
    let touch = (path != "/ui/events").then(|| state.session(headers)).flatten();
    let mut response = next.run(request).await;
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&format!("{}=", names.session))));
    if let Some(session) = touch
        && !sets_session
        && let Some(value) = state.key.touch(&session, state.now())
    {
        let cookie = state.cookie(names.session, &value, Some(state.lifetimes.absolute.as_secs()));
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// 400 for two session cookies: both are cleared (at every path one may have been
/// planted with), and the person signs in again.
fn two_cookies(lang: i18n::Lang, state: &WebState) -> Response {
    let mut response =
        pages::error_tr(lang, None, StatusCode::BAD_REQUEST, "sign-in-two-cookies", "sign-in-two-cookies-why");
    for name in [state.cookies.session, state.cookies.csrf] {
        for path in ["/", "/ui", "/ui/"] {
            let mut text = format!("{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict");
            if state.secure {
                text.push_str("; Secure");
            }
            if let Ok(value) = HeaderValue::from_str(&text) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
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

/// The value of cookie `name` when the request carries exactly one.
fn sole_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    match cookies(headers, name).as_slice() {
        [value] => Some(value),
        _ => None,
    }
}

/// Every value of cookie `name`, from every `Cookie` header (a browser sends one per
/// path and host that set it).
fn cookies<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter_map(|(k, v)| (k == name).then_some(v))
        .collect()
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
fn readable(session: &Session) -> Result<Option<&UploaderId>, Refused> {
    match &session.role {
        Role::Evaluator => Ok(None),
        Role::Uploader { uploader_id } => Ok(Some(uploader_id)),
        Role::Uploads | Role::Admin => Err(Refused),
    }
}

/// The page of [`Refused`].
fn refused(lang: i18n::Lang, key: &SessionKey, session: &Session) -> Response {
    let csrf = key.csrf(session);
    pages::error_tr(
        lang,
        Some((session, &csrf)),
        StatusCode::FORBIDDEN,
        "common-not-for-this-role",
        "common-uploads-reads-nothing",
    )
}

/// The favicon, at `/ui/favicon.svg` and at `/favicon.ico` for browsers that ask there.
async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], pages::FAVICON)
        .into_response()
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
        Ok(Some(own)) => live::Seen::Uploader(own.clone()),
        Err(Refused) => {
            let (key, watch) = (field(&pairs, "key"), field(&pairs, "watch"));
            if key.is_empty() || !state.key.watch_ok(&session, key, watch) {
                return StatusCode::FORBIDDEN.into_response();
            }
            live::Seen::Key(key.to_owned())
        }
    };
    // Ends at the session's idle or absolute end, or at once when it is signed out.
    let ends = state.revocations.revoked(&session.id);
    let mut response = state.live.events(seen, session.idle_until, ends).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// An API error as a page: the API's own words (English, as the API says them) under
/// the page's language.
fn api_error(lang: i18n::Lang, nav: Option<(&Session, &str)>, error: crate::gateway::ApiError) -> Response {
    let detail = error.detail.as_str().unwrap_or("").to_owned();
    pages::error(lang, nav, error.status, &error.error, &detail)
}

fn not_found(lang: i18n::Lang, session: &Session, csrf: &str) -> Response {
    pages::error_tr(
        lang,
        Some((session, csrf)),
        StatusCode::NOT_FOUND,
        "common-no-such-document",
        "common-no-such-document-why",
    )
}

async fn document(
    State(state): State<WebState>,
    lang: i18n::Lang,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let retried = pairs.iter().any(|(k, _)| k == retry::RETRIED);
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    // An operator's page is the pipeline (sign-in lands everyone on /ui/).
    if session.role == Role::Admin {
        return Redirect::to("/ui/pipeline").into_response();
    }
    let own = match readable(&session) {
        Ok(own) => own,
        Err(Refused) => return refused(lang, &state.key, &session),
    };
    let csrf = state.key.csrf(&session);
    let Some(id) = id.ok().and_then(|Path(id)| id.parse::<DocumentId>().ok()) else {
        return not_found(lang, &session, &csrf);
    };
    let links = crate::evaluator::show::Links::Gateway;
    let resource = match crate::evaluator::show::load(&state.evaluator, id, own, links).await {
        Ok(Some(resource)) => resource,
        Ok(None) => return not_found(lang, &session, &csrf),
        Err(error) => return api_error(lang, Some((&session, &csrf)), error),
    };
    // A teacher whose document is processing reads how long it usually takes.
    let summary = &resource.summary;
    let processing = pages::Phase::of(summary.state) == pages::Phase::Processing;
    let wait = match pages::Viewer::of(&session.role) {
        pages::Viewer::Teacher if processing => wait::said(&state.evaluator.db, lang, summary.kind).await,
        _ => None,
    };
    let texts = lesson::texts(&state, &resource).await;
    // The files are the gateway's own (`files.rs`): the policy needs no other origin.
    let video = video::load(&state, &resource, video::start_at(&pairs)).await;
    let view = pages::DocumentView {
        resource: &resource,
        texts: &texts,
        video: video.as_ref(),
        wait,
        retried,
        now: chrono::Utc::now(),
    };
    pages::document(lang, &session, &csrf, view).into_response()
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
        Ok(Some(document)) if own.is_none_or(|own| *own == document.uploader_id) => document,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return crate::evaluator::db_error(&error).into_response(),
    };
    let artifacts = match db.artifacts(document.id).await {
        Ok(artifacts) => artifacts,
        Err(error) => return crate::evaluator::db_error(&error).into_response(),
    };
    let Some(track) = artifacts.iter().find(|a| a.role == crate::db::ArtifactRole::Transcript) else {
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
