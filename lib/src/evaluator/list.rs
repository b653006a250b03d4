//! `GET /v1/documents?state=&kind=&uploader=&key=&tab=&sort=&direction=&limit=&cursor=`:
//! `{"items": [...], "next_cursor": "..." | null, "prev_cursor": "..." | null}`.
//!
//! Newest first unless `sort` (created_at, updated_at, name, uploader, state, findings) and
//! `direction` (asc, desc; each sort has a natural one) say otherwise; `tab` (or its
//! synonym `review`) picks one of the evaluators' queues ([`Tab`]). A cursor carries
//! its order, so `cursor=` alone continues the listing it came from, and the cursors
//! clients held before sorting existed still work ([`super::sort`]).
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

use super::query::{self, Listing, Tab};
use super::sort::{Direction, Position, Sort};
use super::{DEFAULT_LIMIT, DocumentSummary, EvaluatorState, MAX_LIMIT, authorize, db_error};
use crate::db::{Document, ListFilter};
use crate::gateway::{ApiError, shown};
use crate::ids::UploaderId;

const INVALID: &str = "invalid query parameter";
/// Longest value of any parameter but `cursor`, in bytes: an uploader id is a key's
/// first segment, and a key is at most 1024 bytes.
pub const MAX_VALUE: usize = 1024;
/// Longest cursor: a name's sort key in hex, with room to spare.
const MAX_CURSOR: usize = 4 * MAX_VALUE;
const PARAMETERS: &str = "state, kind, uploader, key, tab, sort, direction, limit or cursor";
const NAMES: [&str; 10] = ["state", "kind", "uploader", "key", "tab", "review", "sort", "direction", "limit", "cursor"];

#[derive(Debug, Serialize)]
struct Page {
    items: Vec<DocumentSummary>,
    next_cursor: Option<String>,
    prev_cursor: Option<String>,
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

/// The pairs of a query string, or 400.
pub(super) fn pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    query.map(|Query(pairs)| pairs).map_err(|_| {
        ApiError::bad_request("malformed query string")
            .detail("expected name=value pairs separated by `&`, percent-encoded UTF-8")
    })
}

async fn handle(
    state: &EvaluatorState,
    headers: &HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Page, ApiError> {
    authorize(state, headers)?;
    let listing = parse(&pairs(query)?)?;
    let listed = query::page(&state.db, &listing).await.map_err(|e| db_error(&e))?;
    Ok(Page {
        items: summaries(state, listed.documents).await?,
        next_cursor: listed.next.map(|p| p.encode()),
        prev_cursor: listed.prev.map(|p| p.encode()),
    })
}

/// List items, each with its latest review.
pub(crate) async fn summaries(
    state: &EvaluatorState,
    documents: Vec<Document>,
) -> Result<Vec<DocumentSummary>, ApiError> {
    let ids: Vec<_> = documents.iter().map(|d| d.id).collect();
    let mut reviews = crate::review::latest_for(&state.db, &ids).await.map_err(|e| db_error(&e))?;
    Ok(documents
        .into_iter()
        .map(|document| {
            let review = reviews.remove(&document.id);
            DocumentSummary::from(document).with_review(review.as_ref())
        })
        .collect())
}

/// A query parameter that cannot be used: its name (shortened when echoed) and why. The
/// API answers it 400 ([`ApiError::invalid_field`]); the web pages say it in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidParameter {
    pub field: String,
    pub problem: String,
}

impl From<InvalidParameter> for ApiError {
    fn from(InvalidParameter { field, problem }: InvalidParameter) -> ApiError {
        ApiError::invalid_field(INVALID, &field, problem)
    }
}

/// Parses a list request. `limit` is [`DEFAULT_LIMIT`] unless given.
pub(crate) fn parse(pairs: &[(String, String)]) -> Result<Listing, InvalidParameter> {
    let mut listing = Listing { limit: DEFAULT_LIMIT, ..Listing::default() };
    let (mut sort, mut direction) = (None, None);
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        let field = |problem: String| InvalidParameter { field: shown(name), problem };
        // `review` is `tab` under another name: both count as one parameter.
        let canonical = if name == "review" { "tab" } else { name.as_str() };
        if seen.contains(&canonical) {
            return Err(field("given more than once".to_owned()));
        }
        seen.push(canonical);
        let max = if name == "cursor" { MAX_CURSOR } else { MAX_VALUE };
        if value.len() > max {
            return Err(field(format!("longer than {max} bytes")));
        }
        if value.chars().any(char::is_control) {
            return Err(field("contains control characters".to_owned()));
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match canonical {
            "state" => {
                listing.filter.state = Some(value.parse().map_err(|_| {
                    field(format!(
                        "unknown state \"{}\"; expected one of received, submitted, processed, validated, normalized, failed, rejected",
                        shown(value)
                    ))
                })?);
            }
            "kind" => {
                listing.filter.kind =
                    Some(value.parse().map_err(|_| {
                        field(format!("unknown kind \"{}\"; expected document or video", shown(value)))
                    })?);
            }
            "uploader" => {
                if value.contains('/') {
                    return Err(field("an uploader id is a key's first segment: it has no `/`".to_owned()));
                }
                listing.filter.uploader = Some(UploaderId::from(value));
            }
            "key" => listing.filter.key = Some(value.to_owned()),
            "tab" if value == "all" => listing.tab = None,
            "tab" => {
                listing.tab = Some(Tab::parse(value).ok_or_else(|| {
                    field(format!(
                        "unknown tab \"{}\"; expected to_review, in_progress, needs_attention, reviewed or all",
                        shown(value)
                    ))
                })?);
            }
            "sort" => {
                sort = Some(Sort::parse(value).ok_or_else(|| {
                    field(format!(
                        "unknown sort \"{}\"; expected created_at, updated_at, name, uploader, state or findings",
                        shown(value)
                    ))
                })?);
            }
            "direction" => {
                direction = Some(
                    Direction::parse(value)
                        .ok_or_else(|| field(format!("\"{}\" is neither asc nor desc", shown(value))))?,
                );
            }
            "limit" => {
                listing.limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| field(format!("\"{}\" is not a number from 1 to {MAX_LIMIT}", shown(value))))?;
            }
            "cursor" => {
                listing.position = Some(Position::decode(value).map_err(|e| field(e.to_string()))?);
            }
            _ => return Err(field(format!("unknown parameter; expected {PARAMETERS}"))),
        }
    }
    listing.sort = sort.unwrap_or_default();
    listing.direction = direction.unwrap_or_else(|| listing.sort.natural());
    if let Some(position) = &listing.position {
        // A cursor continues its own order; naming another one is a mistake to report.
        let clash = sort.is_some_and(|s| s != position.sort) || direction.is_some_and(|d| d != position.direction);
        if clash {
            return Err(InvalidParameter {
                field: "cursor".to_owned(),
                problem: format!(
                    "this cursor continues sort={}&direction={}; drop sort and direction, or the cursor",
                    position.sort.as_str(),
                    position.direction.as_str()
                ),
            });
        }
        listing.sort = position.sort;
        listing.direction = position.direction;
    }
    Ok(listing)
}

/// A filter's query string without tab, sort and paging (counts, the CSV's own filters).
pub(crate) fn filter_only(pairs: &[(String, String)]) -> Result<ListFilter, InvalidParameter> {
    let kept: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| matches!(k.as_str(), "state" | "kind" | "uploader" | "key")).cloned().collect();
    if let Some((name, _)) = pairs.iter().find(|(k, _)| !NAMES.contains(&k.as_str())) {
        let problem = format!("unknown parameter; expected {PARAMETERS}");
        return Err(InvalidParameter { field: shown(name), problem });
    }
    Ok(parse(&kept)?.filter)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::db::State;
    use crate::ids::Kind;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn field_of(list: &[(&str, &str)]) -> String {
        let error = parse(&pairs(list)).unwrap_err();
        let answer = ApiError::from(error.clone());
        assert_eq!(answer.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!((&answer.detail["field"], &answer.detail["problem"]), (&json!(error.field), &json!(error.problem)));
        error.field
    }

    #[test]
    fn no_parameters_list_everything_fifty_at_a_time() {
        let request = parse(&[]).unwrap();
        assert_eq!(request.filter, ListFilter::default());
        assert_eq!(request.limit, DEFAULT_LIMIT);
        assert_eq!(request.position, None);
        assert_eq!((request.sort, request.direction, request.tab), (Sort::CreatedAt, Direction::Desc, None));
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
        assert_eq!(request.filter.uploader, Some(UploaderId::from("teacher-42")));
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
        assert!(echoed.field.len() < 100, "a long name is not echoed whole");
        assert_eq!(
            parse(&pairs(&[("uploader", &"t".repeat(MAX_VALUE))])).unwrap().filter.uploader.unwrap().as_str().len(),
            MAX_VALUE
        );
    }

    #[test]
    fn sort_direction_and_tab_are_parsed_and_a_cursor_keeps_its_order() {
        let request = parse(&pairs(&[("sort", "name"), ("review", "to_review")])).unwrap();
        assert_eq!((request.sort, request.direction, request.tab), (Sort::Name, Direction::Asc, Some(Tab::ToReview)));
        let request = parse(&pairs(&[("sort", "findings"), ("direction", "asc"), ("tab", "all")])).unwrap();
        assert_eq!((request.sort, request.direction, request.tab), (Sort::Findings, Direction::Asc, None));
        assert_eq!(field_of(&[("tab", "reviewed"), ("review", "reviewed")]), "review");
        let position = Position {
            sort: Sort::Uploader,
            direction: Direction::Desc,
            backward: true,
            key: super::super::sort::SortKey::Text("teacher-7".into()),
            id: crate::ids::DocumentId(uuid::Uuid::new_v4()),
        };
        let cursor = position.encode();
        // Alone, or with its own order, the cursor continues that order.
        let alone = parse(&pairs(&[("cursor", &cursor)])).unwrap();
        assert_eq!((alone.sort, alone.direction, alone.position), (Sort::Uploader, Direction::Desc, Some(position)));
        assert!(parse(&pairs(&[("cursor", &cursor), ("sort", "uploader"), ("direction", "desc")])).is_ok());
        assert_eq!(field_of(&[("cursor", &cursor), ("sort", "name")]), "cursor");
        assert_eq!(field_of(&[("cursor", &cursor), ("direction", "asc")]), "cursor");
    }
}
