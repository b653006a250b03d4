//! `POST /ui/documents/{id}/retry`: an evaluator's Retry on a stopped document's page. The
//! same restart as `docflow retry` ([`crate::stages::transfer::restart::ask`]): a restart
//! request on the uploads stream, which the transfer stage turns into a new submission
//! round. Refused without the session's CSRF token (403), for any role but `evaluator`
//! (403), for a cause a restart cannot help (a refused file: 409, the teacher uploads a new
//! version) and for a document that is not failed or rejected (409). On success, back to
//! the document's page (303), which says the retry was asked and follows the restart.

use async_nats::jetstream;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n::{Lang, tr, tr_with};
use super::{WebState, not_found, pages};
use crate::ids::DocumentId;
use crate::lifecycle::FailureCause;
use crate::nats::Names;
use crate::settings::tokens::Role;
use crate::stages::transfer::restart::{self, RetryError};

/// Where Retry publishes: the gateway's JetStream context and names. Without it (a web
/// interface built on a database alone) Retry answers 503.
#[derive(Clone, Debug)]
pub struct Restarts {
    pub js: jetstream::Context,
    pub names: Names,
}

/// The query the page is shown with after a retry: it says so, and follows the restart.
pub const RETRIED: &str = "retried";

pub(super) async fn retry(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let super::sign_in::SignedForm { session, csrf, .. } =
        match super::sign_in::signed_form(&state, lang, &headers, form) {
            Ok(signed) => signed,
            Err(answer) => return *answer,
        };
    let nav = Some((&session, csrf.as_str()));
    if !matches!(session.role, Role::Evaluator) {
        return pages::error_tr(
            lang,
            nav,
            StatusCode::FORBIDDEN,
            "common-not-for-this-role",
            "failure-retry-evaluators",
        );
    }
    let Some(id) = id.ok().and_then(|Path(id)| id.parse::<DocumentId>().ok()) else {
        return not_found(lang, &session, &csrf);
    };
    let document = match state.evaluator.db.get(id).await {
        Ok(Some(document)) => document,
        Ok(None) => return not_found(lang, &session, &csrf),
        Err(error) => return super::api_error(lang, nav, crate::evaluator::db_error(&error)),
    };
    let cause = cause_of(&document);
    if !cause.retry_may_help() {
        return pages::error_tr(lang, nav, StatusCode::CONFLICT, "failure-retry-useless", "failure-retry-useless-why");
    }
    let Some(restarts) = &state.restarts else {
        return pages::error_tr(
            lang,
            nav,
            StatusCode::SERVICE_UNAVAILABLE,
            "failure-retry-unavailable",
            "failure-retry-unavailable-why",
        );
    };
    match restart::ask(&restarts.js, &restarts.names, &document).await {
        Ok(()) => {
            tracing::info!(document_id = %id, cause = %cause, "retry asked from the web interface");
            Redirect::to(&format!("/ui/documents/{id}?{RETRIED}=1")).into_response()
        }
        Err(RetryError::NotRestartable { state: now, .. }) => pages::error(
            lang,
            nav,
            StatusCode::CONFLICT,
            &tr(lang, "failure-not-stopped"),
            &tr_with(lang, "failure-not-stopped-why", &[("state", now.to_string().into())]),
        ),
        Err(error) => {
            tracing::warn!(document_id = %id, %error, "retry from the web interface not published");
            pages::error_tr(
                lang,
                nav,
                StatusCode::SERVICE_UNAVAILABLE,
                "failure-retry-failed",
                "failure-retry-failed-why",
            )
        }
    }
}

/// The stored cause of a stopped document; `Unknown` when none was stored.
fn cause_of(document: &crate::db::Document) -> FailureCause {
    document.failure_cause.unwrap_or(FailureCause::Unknown)
}
