//! `GET /v1/documents?state=&kind=&uploader=&limit=&cursor=`: documents newest first,
//! `{"items": [...], "next_cursor": "..." | null}`.
//!
//! Every parameter is optional and an empty value counts as absent. A value that cannot
//! be used, an unknown parameter (a typo would otherwise silently list everything) or a
//! parameter given twice is answered 400 naming it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{DEFAULT_LIMIT, DocumentSummary, EvaluatorState, MAX_LIMIT, authorize, db_error};
use crate::db::{Cursor, ListFilter};
use crate::gateway::ApiError;

const INVALID: &str = "invalid query parameter";

/// A parsed, validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListRequest {
    pub filter: ListFilter,
    pub limit: u64,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Serialize)]
struct Page {
    items: Vec<DocumentSummary>,
    next_cursor: Option<String>,
}

pub(super) async fn list(
    State(state): State<EvaluatorState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    match handle(&state, &headers, query).await {
        Ok(page) => Json(page).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &EvaluatorState,
    headers: &HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Page, ApiError> {
    authorize(state, headers)?;
    let Query(pairs) = query.map_err(|e| ApiError::bad_request("malformed query string").detail(e.body_text()))?;
    let request = parse(&pairs)?;
    let (documents, next) = state
        .db
        .list_documents(&request.filter, request.limit, request.cursor.as_ref())
        .await
        .map_err(|e| db_error(&e))?;
    Ok(Page {
        items: documents.into_iter().map(DocumentSummary::from).collect(),
        next_cursor: next.map(|cursor| cursor.encode()),
    })
}

pub(super) fn parse(pairs: &[(String, String)]) -> Result<ListRequest, ApiError> {
    let mut request = ListRequest { filter: ListFilter::default(), limit: DEFAULT_LIMIT, cursor: None };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        let field = |problem: String| ApiError::invalid_field(INVALID, name, problem);
        if seen.contains(&name.as_str()) {
            return Err(field("given more than once".to_owned()));
        }
        seen.push(name);
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "state" => {
                request.filter.state = Some(value.parse().map_err(|_| {
                    field(format!(
                        "unknown state {value:?}; expected one of received, submitted, processed, validated, normalized, failed, rejected"
                    ))
                })?);
            }
            "kind" => {
                request.filter.kind = Some(
                    value.parse().map_err(|_| field(format!("unknown kind {value:?}; expected document or video")))?,
                );
            }
            "uploader" => request.filter.uploader = Some(value.to_owned()),
            "limit" => {
                request.limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| field(format!("{value:?} is not a number from 1 to {MAX_LIMIT}")))?;
            }
            "cursor" => {
                request.cursor = Some(Cursor::decode(value).map_err(|e| field(e.to_string()))?);
            }
            _ => {
                return Err(field("unknown parameter; expected state, kind, uploader, limit or cursor".to_owned()));
            }
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::State;
    use crate::ids::Kind;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn field_of(list: &[(&str, &str)]) -> String {
        let error = parse(&pairs(list)).unwrap_err();
        assert_eq!(error.status, axum::http::StatusCode::BAD_REQUEST);
        error.detail["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn no_parameters_list_everything_fifty_at_a_time() {
        let request = parse(&[]).unwrap();
        assert_eq!(request.filter, ListFilter::default());
        assert_eq!(request.limit, DEFAULT_LIMIT);
        assert_eq!(request.cursor, None);
    }

    #[test]
    fn filters_are_parsed_and_empty_values_ignored() {
        let request = parse(&pairs(&[
            ("state", "failed"),
            ("kind", "video"),
            ("uploader", "teacher-42"),
            ("limit", "500"),
            ("cursor", ""),
        ]))
        .unwrap();
        assert_eq!(request.filter.state, Some(State::Failed));
        assert_eq!(request.filter.kind, Some(Kind::Video));
        assert_eq!(request.filter.uploader.as_deref(), Some("teacher-42"));
        assert_eq!(request.limit, 500);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(field_of(&[("state", "done")]), "state");
        assert_eq!(field_of(&[("kind", "audio")]), "kind");
        assert_eq!(field_of(&[("limit", "0")]), "limit");
        assert_eq!(field_of(&[("limit", "501")]), "limit");
        assert_eq!(field_of(&[("limit", "ten")]), "limit");
        assert_eq!(field_of(&[("cursor", "not-a-cursor")]), "cursor");
        assert_eq!(field_of(&[("status", "failed")]), "status");
        assert_eq!(field_of(&[("state", "failed"), ("state", "rejected")]), "state");
    }
}
