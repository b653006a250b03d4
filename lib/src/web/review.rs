//! The document page's review section: the reviews of this version with their comments
//! (what the teacher reads), the links to the file's other versions, and, for an
//! evaluator, the form that records a review (`POST /ui/documents/{id}/reviews`, with the
//! form token and the evaluator role checked).

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::i18n::{Lang, tr, tr_with};
use super::session::{Principal, Session};
use super::sign_in::{SignedForm, signed_form};
use super::{WebState, api_error, field, pages};
use crate::db::State as DocState;
use crate::evaluator::DocumentResource;
use crate::ids::DocumentId;
use crate::review::{NewReview, ReviewError, Verdict};
use crate::settings::tokens::Role;

/// The name a review made in this session is signed with: the person's name from the
/// OpenID provider, or "evaluator (token)" for a token session.
pub fn reviewer_of(session: &Session) -> String {
    session.display_name()
}

/// The stable key of who reviewed (never shown to teachers).
fn principal_of(session: &Session) -> String {
    match &session.by {
        Principal::Token { tag } => format!("session-token:{tag}"),
        Principal::Person { issuer_tag, subject, .. } => format!("person:{issuer_tag}:{subject}"),
    }
}

/// A verdict in words.
pub(super) fn verdict_word(lang: Lang, verdict: Verdict) -> String {
    match verdict {
        Verdict::Reviewed => tr(lang, "review-verdict-reviewed"),
        Verdict::ChangesRequested => tr(lang, "review-verdict-changes-requested"),
    }
}

/// The review section of a document's page.
pub(super) fn section(lang: Lang, session: &Session, csrf: &str, resource: &DocumentResource) -> Markup {
    let summary = &resource.summary;
    let evaluator = matches!(session.role, Role::Evaluator);
    let versions = &resource.versions;
    let this = versions.iter().find(|v| v.id == summary.id);
    // Nothing to say of a document not ready to read that has no review and no other
    // version: a stopped document's page leads with what went wrong, not with "not reviewed".
    if summary.state != DocState::Normalized && resource.reviews.is_empty() && versions.len() <= 1 {
        return html! {};
    }
    html! {
        section.review aria-labelledby="review" id="review-section" {
            h2 id="review" { (tr(lang, "review-title")) }
            @if let (Some(this), true) = (this, versions.len() > 1) {
                nav.versions aria-label=(tr(lang, "review-versions")) {
                    p { (tr_with(lang, "review-version-of", &[("n", this.number.into()), ("total", versions.len().into())])) }
                    ol {
                        @for version in versions {
                            li {
                                @if version.id == summary.id { span aria-current="page" { (tr_with(lang, "review-version-this", &[("n", version.number.into())])) } }
                                @else { a href={ "/ui/documents/" (version.id) } { (tr_with(lang, "review-version", &[("n", version.number.into())])) } }
                                " · " (pages::when(lang, version.created_at))
                            }
                        }
                    }
                }
            }
            @if resource.reviews.is_empty() {
                p.not-reviewed { @if evaluator { (tr(lang, "review-not-yet")) } @else { (tr(lang, "review-not-yet-teacher")) } }
            } @else {
                ol.reviews {
                    @for review in resource.reviews.iter().rev() {
                        li {
                            p.meta { (pages::tr_markup(lang, "review-by", &[
                                ("verdict", html! { strong { (verdict_word(lang, review.verdict)) } }),
                                ("who", html! { (review.reviewer) }),
                                ("when", pages::when(lang, review.at)),
                            ])) }
                            @if !review.comment.is_empty() { blockquote.comment { (review.comment) } }
                        }
                    }
                }
            }
            @if evaluator && summary.state == DocState::Normalized {
                form.review-form method="post" action={ "/ui/documents/" (summary.id) "/reviews" } {
                    input type="hidden" name="csrf" value=(csrf);
                    div {
                        label for="comment" { (tr(lang, "review-comment")) }
                        textarea id="comment" name="comment" rows="5" maxlength="10000" {}
                    }
                    fieldset {
                        legend { (tr(lang, "review-verdict")) }
                        label.choice { input type="radio" name="verdict" value="reviewed" checked; " " (tr(lang, "review-verdict-reviewed")) }
                        label.choice { input type="radio" name="verdict" value="changes_requested"; " " (tr(lang, "review-choice-changes")) }
                    }
                    button type="submit" { (tr(lang, "review-mark")) }
                }
            } @else if evaluator {
                p.hint { (tr(lang, "review-once-ready")) }
            }
        }
    }
}

/// `POST /ui/documents/{id}/reviews`: `csrf`, `comment`, `verdict`; back to the page.
pub(super) async fn create(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let SignedForm { session, csrf, fields: form } = match signed_form(&state, lang, &headers, form) {
        Ok(signed) => signed,
        Err(answer) => return *answer,
    };
    let nav = Some((&session, csrf.as_str()));
    if !matches!(session.role, Role::Evaluator) {
        return pages::error_tr(
            lang,
            nav,
            StatusCode::FORBIDDEN,
            "review-only-evaluators",
            "review-only-evaluators-why",
        );
    }
    let Some(id) = id.ok().and_then(|Path(id)| id.parse::<DocumentId>().ok()) else {
        return pages::error_tr(
            lang,
            nav,
            StatusCode::NOT_FOUND,
            "common-no-such-document",
            "common-no-such-document-why",
        );
    };
    let review = NewReview {
        document_id: id,
        reviewer: reviewer_of(&session),
        principal: principal_of(&session),
        verdict: Verdict::parse(field(&form, "verdict")).unwrap_or(Verdict::Reviewed),
        comment: field(&form, "comment").to_owned(),
    };
    let error = match crate::review::add(&state.evaluator.db, review).await {
        Ok(_) => return Redirect::to(&format!("/ui/documents/{id}#review")).into_response(),
        Err(ReviewError::Db(error)) => return api_error(lang, nav, crate::evaluator::db_error(&error)),
        Err(error) => error,
    };
    let (status, title) = match error {
        ReviewError::NoDocument => (StatusCode::NOT_FOUND, "common-no-such-document"),
        ReviewError::NotReady { .. } => (StatusCode::CONFLICT, "review-not-ready"),
        _ => (StatusCode::BAD_REQUEST, "review-not-recorded"),
    };
    // The error's own words are English (the API says them too).
    let message = tr_with(lang, "review-go-back", &[("error", error.to_string().into())]);
    pages::error(lang, nav, status, &tr(lang, title), &message)
}
