//! `GET /ui/` (the documents, in tabs, sorted and paged) and `GET /ui/documents.csv`
//! (the same view as a spreadsheet). Both take the API's list parameters
//! ([`crate::evaluator::list`]); an evaluator's default tab is "To review", a teacher's
//! is all their documents, and a teacher's list is their own whatever the address says.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n::{Lang, tr};
use super::list_page::{self, View};
use super::pages::{Phase, Viewer};
use super::session::Session;
use super::{Refused, WebState, api_error, pages, readable, refused, to_sign_in};
use crate::evaluator::query::{self, Listing, Tab};
use crate::evaluator::{DEFAULT_LIMIT, DocumentSummary, db_error};
use crate::ids::{Kind, UploaderId};
use crate::review::names;
use crate::settings::tokens::Role;

/// The most rows one CSV export holds.
pub const MAX_CSV_ROWS: u64 = 10_000;

/// What the address asks for, after the session's own rules.
struct Asked {
    listing: Listing,
    /// The tab a bare address shows this session.
    default_tab: Option<Tab>,
    /// `limit` when the address gave it (kept in the pages' links).
    given_limit: Option<u64>,
}

fn asked(role: &Role, own: Option<UploaderId>, pairs: &[(String, String)]) -> Result<Asked, String> {
    let mut listing = crate::evaluator::list::parse(pairs).map_err(|error| error.to_string())?;
    let default_tab = matches!(role, Role::Evaluator).then_some(Tab::ToReview);
    let tab_given = pairs.iter().any(|(k, v)| matches!(k.as_str(), "tab" | "review") && !v.trim().is_empty());
    if !tab_given {
        listing.tab = default_tab;
    }
    if let Some(own) = own {
        listing.filter.uploader = Some(own);
    }
    let given_limit = pairs.iter().any(|(k, v)| k == "limit" && !v.trim().is_empty()).then_some(listing.limit);
    Ok(Asked { listing, default_tab, given_limit })
}

/// The session of a request that reads documents, the uploader it is kept to (`None`
/// for an evaluator) and its form token; else the answer (sign in, or refused).
fn reader(
    state: &WebState,
    lang: Lang,
    headers: &HeaderMap,
) -> Result<(Session, Option<UploaderId>, String), Box<Response>> {
    let Some(session) = state.session(headers) else { return Err(Box::new(to_sign_in())) };
    let own = match readable(&session) {
        Ok(own) => own.cloned(),
        Err(Refused) => return Err(Box::new(refused(lang, &state.key, &session))),
    };
    let csrf = state.key.csrf(&session);
    Ok((session, own, csrf))
}

pub(super) async fn list(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    // An operator's page is the pipeline (sign-in lands everyone on /ui/).
    if state.session(&headers).is_some_and(|session| session.role == Role::Admin) {
        return Redirect::to("/ui/pipeline").into_response();
    }
    let (session, own, csrf) = match reader(&state, lang, &headers) {
        Ok(reader) => reader,
        Err(response) => return *response,
    };
    let bad = |message: &str| {
        pages::error(lang, Some((&session, &csrf)), StatusCode::BAD_REQUEST, &tr(lang, "list-bad-filters"), message)
    };
    let Ok(Query(pairs)) = query else { return bad(&tr(lang, "list-bad-query")) };
    let mut asked = match asked(&session.role, own, &pairs) {
        Ok(asked) => asked,
        Err(message) => return bad(&message),
    };
    asked.listing.limit = asked.given_limit.unwrap_or(DEFAULT_LIMIT);
    let db = &state.evaluator.db;
    let loaded = async {
        let (listed, counts) =
            tokio::try_join!(query::page(db, &asked.listing), query::counts(db, &asked.listing.filter))
                .map_err(|e| db_error(&e))?;
        let items = crate::evaluator::list::summaries(&state.evaluator, listed.documents).await?;
        Ok::<_, crate::gateway::ApiError>((listed.next, listed.prev, counts, items))
    };
    let (next, prev, counts, items) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return api_error(lang, Some((&session, &csrf)), error),
    };
    // A teacher with documents in processing reads how long each kind usually takes.
    let mut waits = Vec::new();
    if Viewer::of(&session.role) == Viewer::Teacher {
        for kind in [Kind::Document, Kind::Video] {
            let processing = items.iter().any(|i| i.kind == kind && Phase::of(i.state) == Phase::Processing);
            if processing && let Some(wait) = super::wait::said(db, lang, kind).await {
                waits.push(wait);
            }
        }
    }
    let view = View {
        listing: &asked.listing,
        default_tab: asked.default_tab,
        limit: asked.given_limit,
        counts,
        next: next.map(|p| p.encode()),
        prev: prev.map(|p| p.encode()),
    };
    list_page::render(lang, &session, &csrf, &view, &items, &waits).into_response()
}

/// `GET /ui/uploaders?prefix=`: the uploader picker's choices for an evaluator's session,
/// `["teacher-1", ...]` (the API's `GET /v1/uploaders` takes a bearer token).
pub(super) async fn uploaders(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some(session) = state.session(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    if !matches!(session.role, Role::Evaluator) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let (prefix, limit) = match crate::evaluator::counts::picker(&pairs) {
        Ok(picked) => picked,
        Err(error) => return error.into_response(),
    };
    match query::uploaders(&state.evaluator.db, &prefix, limit).await {
        Ok(found) => axum::Json(found.into_iter().map(|(id, _)| id).collect::<Vec<_>>()).into_response(),
        Err(error) => db_error(&error).into_response(),
    }
}

/// `GET /ui/documents.csv?...`: every row of the view the same query shows (all its
/// pages, up to [`MAX_CSV_ROWS`]), one line each. Its header and its state and kind cells
/// are the API's names, in every language: a spreadsheet's columns and filters stay the
/// same whoever exports.
pub(super) async fn csv(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let (session, own, csrf) = match reader(&state, lang, &headers) {
        Ok(reader) => reader,
        Err(response) => return *response,
    };
    let pairs: Vec<(String, String)> = match query {
        Ok(Query(pairs)) => pairs.into_iter().filter(|(k, _)| k != "cursor" && k != "limit").collect(),
        Err(_) => Vec::new(),
    };
    let mut asked = match asked(&session.role, own, &pairs) {
        Ok(asked) => asked,
        Err(message) => {
            return pages::error(
                lang,
                Some((&session, &csrf)),
                StatusCode::BAD_REQUEST,
                &tr(lang, "list-bad-filters"),
                &message,
            );
        }
    };
    asked.listing.limit = crate::evaluator::MAX_LIMIT;
    let mut rows: Vec<DocumentSummary> = Vec::new();
    loop {
        let listed = match query::page(&state.evaluator.db, &asked.listing).await {
            Ok(listed) => listed,
            Err(error) => return api_error(lang, Some((&session, &csrf)), db_error(&error)),
        };
        match crate::evaluator::list::summaries(&state.evaluator, listed.documents).await {
            Ok(items) => rows.extend(items),
            Err(error) => return api_error(lang, Some((&session, &csrf)), error),
        }
        match listed.next {
            Some(next) if (rows.len() as u64) < MAX_CSV_ROWS => asked.listing.position = Some(next),
            _ => break,
        }
    }
    rows.truncate(MAX_CSV_ROWS as usize);
    let mut body =
        String::from("file,folder,state,kind,uploader,findings,review,reviewer,reviewed_at,uploaded_at,id\r\n");
    for item in &rows {
        let review = item.review.as_ref();
        let cells = [
            names::display_name(&item.key).to_owned(),
            names::folder(&item.key).to_owned(),
            item.state.as_str().to_owned(),
            item.kind.as_str().to_owned(),
            item.uploader_id.to_string(),
            item.findings.map(|n| n.to_string()).unwrap_or_default(),
            review.map(|r| r.verdict.as_str().to_owned()).unwrap_or_default(),
            review.map(|r| r.reviewer.clone()).unwrap_or_default(),
            review.map(|r| r.at.to_rfc3339()).unwrap_or_default(),
            item.created_at.to_rfc3339(),
            item.id.to_string(),
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        body.push_str(&line.join(","));
        body.push_str("\r\n");
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"documents.csv\""));
    response
}

/// One CSV cell. A cell a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return: file names come from teachers) gets a leading
/// `'`, which spreadsheets show as text (OWASP's "CSV injection"); then RFC 4180 quoting.
pub fn cell(value: &str) -> String {
    let guarded =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_a_spreadsheet_would_run_are_escaped_and_quoted() {
        assert_eq!(cell("plan.pdf"), "plan.pdf");
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("\rx"), "\"'\rx\"");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(cell("x=1"), "x=1", "only a leading sign is a formula");
        assert_eq!(cell(""), "");
    }
}
