//! `GET /v1/documents?state=&kind=&uploader=&key=&limit=&cursor=`: documents newest first,
//! `{"items": [...], "next_cursor": "..." | null}`.
//!
//! Every parameter is optional and an empty value counts as absent. A value that cannot
//! be used (control characters, longer than [`MAX_VALUE`] bytes, an unknown state, a bad
//! cursor), an unknown parameter (a typo would otherwise silently list everything) or a
//! parameter given twice is answered 400 naming it, before any query reaches the database.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{DEFAULT_LIMIT, DocumentSummary, EvaluatorState, MAX_LIMIT, authorize, db_error};
use crate::db::{Cursor, ListFilter};
use crate::gateway::{ApiError, shown};

const INVALID: &str = "invalid query parameter";
/// Longest value of any parameter, in bytes: an uploader id is a key's first segment,
/// and a key is at most 1024 bytes.
pub const MAX_VALUE: usize = 1024;

/// A parsed, validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListRequest {
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
    let Query(pairs) = query.map_err(|_| {
        ApiError::bad_request("malformed query string")
            .detail("expected name=value pairs separated by `&`, percent-encoded UTF-8")
    })?;
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

pub(crate) fn parse(pairs: &[(String, String)]) -> Result<ListRequest, ApiError> {
    let mut request = ListRequest { filter: ListFilter::default(), limit: DEFAULT_LIMIT, cursor: None };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        let field = |problem: String| ApiError::invalid_field(INVALID, &shown(name), problem);
        if seen.contains(&name.as_str()) {
            return Err(field("given more than once".to_owned()));
        }
        seen.push(name);
        if value.len() > MAX_VALUE {
            return Err(field(format!("longer than {MAX_VALUE} bytes")));
        }
        if value.chars().any(char::is_control) {
            return Err(field("contains control characters".to_owned()));
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "state" => {
                request.filter.state = Some(value.parse().map_err(|_| {
                    field(format!(
                        "unknown state \"{}\"; expected one of received, submitted, processed, validated, normalized, failed, rejected",
                        shown(value)
                    ))
                })?);
            }
            "kind" => {
                request.filter.kind =
                    Some(value.parse().map_err(|_| {
                        field(format!("unknown kind \"{}\"; expected document or video", shown(value)))
                    })?);
            }
            "uploader" => {
                if value.contains('/') {
                    return Err(field("an uploader id is a key's first segment: it has no `/`".to_owned()));
                }
                request.filter.uploader = Some(value.to_owned());
            }
            "key" => request.filter.key = Some(value.to_owned()),
            "limit" => {
                request.limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| field(format!("\"{}\" is not a number from 1 to {MAX_LIMIT}", shown(value))))?;
            }
            "cursor" => {
                request.cursor = Some(Cursor::decode(value).map_err(|e| field(e.to_string()))?);
            }
            _ => {
                return Err(field(
                    "unknown parameter; expected state, kind, uploader, key, limit or cursor".to_owned(),
                ));
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

    #[test]
    fn values_that_can_never_match_are_refused_before_the_database() {
        let long = "t".repeat(450_000);
        assert_eq!(field_of(&[("uploader", "\0")]), "uploader");
        assert_eq!(field_of(&[("uploader", "teacher\u{1b}[31m")]), "uploader");
        assert_eq!(field_of(&[("uploader", &long)]), "uploader");
        assert_eq!(field_of(&[("uploader", "a/b")]), "uploader");
        assert_eq!(field_of(&[("cursor", &long)]), "cursor");
        assert_eq!(field_of(&[("state", "\0")]), "state");
        let echoed = parse(&pairs(&[(&long, "x")])).unwrap_err();
        assert!(echoed.detail["field"].as_str().unwrap().len() < 100, "a long name is not echoed whole");
        assert_eq!(
            parse(&pairs(&[("uploader", &"t".repeat(MAX_VALUE))])).unwrap().filter.uploader.unwrap().len(),
            MAX_VALUE
        );
    }
}
