//! `GET /v1/documents/counts?state=&kind=&uploader=&key=`: documents per tab
//! (`{"all", "to_review", "in_progress", "needs_attention", "reviewed"}`) under the
//! list's filters; tab, sort and paging parameters are accepted and ignored, so a client
//! may send the list's own query.
//!
//! `GET /v1/uploaders?prefix=&limit=`: uploader ids starting with `prefix`, with their
//! numbers of documents, `{"items": [{"uploader_id", "documents"}]}`: the list's
//! uploader picker.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::list::{MAX_VALUE, filter_only, pairs};
use super::query::{self, Counts};
use super::{EvaluatorState, authorize, db_error};
use crate::gateway::{ApiError, shown};

/// The most uploaders `GET /v1/uploaders` answers.
pub const MAX_UPLOADERS: u64 = 200;

pub(super) async fn counts(
    State(state): State<EvaluatorState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let answer = async {
        authorize(&state, &headers)?;
        let filter = filter_only(&pairs(query)?)?;
        query::counts(&state.db, &filter).await.map_err(|e| db_error(&e))
    };
    match answer.await {
        Ok(counts) => Json::<Counts>(counts).into_response(),
        Err(error) => error.into_response(),
    }
}

pub(super) async fn uploaders(
    State(state): State<EvaluatorState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let answer = async {
        authorize(&state, &headers)?;
        let (prefix, limit) = picker(&pairs(query)?)?;
        let found = query::uploaders(&state.db, &prefix, limit).await.map_err(|e| db_error(&e))?;
        let items: Vec<_> = found.into_iter().map(|(id, n)| json!({"uploader_id": id, "documents": n})).collect();
        Ok::<_, ApiError>(json!({ "items": items }))
    };
    match answer.await {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `prefix` and `limit` of the picker.
pub(crate) fn picker(pairs: &[(String, String)]) -> Result<(String, u64), ApiError> {
    let (mut prefix, mut limit) = (String::new(), MAX_UPLOADERS);
    for (name, value) in pairs {
        let field = |problem: &str| ApiError::invalid_field("invalid query parameter", &shown(name), problem);
        if value.len() > MAX_VALUE || value.chars().any(char::is_control) {
            return Err(field("too long or contains control characters"));
        }
        match name.as_str() {
            "prefix" => prefix = value.trim().to_owned(),
            "limit" => {
                limit = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_UPLOADERS).contains(n))
                    .ok_or_else(|| field("not a number from 1 to 200"))?;
            }
            _ => return Err(field("unknown parameter; expected prefix or limit")),
        }
    }
    Ok((prefix, limit))
}
