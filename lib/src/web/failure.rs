//! Why a document stopped, in the words of the person reading it, and what they can do
//! next. The words come from the stored [`FailureCause`] (set by the stage that decided),
//! never from the stage where the document stopped: the same stage stops documents for
//! causes that call for opposite actions (a refused file is the teacher's to fix, results
//! that failed docflow's checks are not). The stage and the raw reason are detail.
//!
//! Shown on the document page ([`problem`]) and, through it, on the upload page's live
//! status (app.js reads the section of the document page once the upload ends failed).

use maud::{Markup, html};

use super::session::Session;
use crate::evaluator::{DocumentSummary, ErrorView};
use crate::ids::Kind;
use crate::lifecycle::{FailureCause, NextStep};
use crate::settings::tokens::Role;

/// A stopped document, worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// What the person reads first: for a refused file, pre-flight's own reason.
    pub headline: String,
    /// What it means for them, in a sentence or two.
    pub explanation: &'static str,
    /// Whether the file itself is the problem (the uploader acts) or not (staff retry).
    pub next_step: NextStep,
}

/// The words for `cause`; `None` (a row from before causes were stored) reads as
/// [`FailureCause::Unknown`]. `reason` is the stage's stored reason: only a refused file's
/// is shown first, as pre-flight words it for the person who uploaded the file.
pub fn words(cause: Option<FailureCause>, reason: &str) -> Words {
    let cause = cause.unwrap_or(FailureCause::Unknown);
    let fixed = |headline: &str, explanation: &'static str| Words {
        headline: headline.to_owned(),
        explanation,
        next_step: cause.next_step(),
    };
    match cause {
        FailureCause::FileRefused => Words {
            headline: sentence(reason)
                .unwrap_or_else(|| "docflow refused this file before sending it for processing.".to_owned()),
            explanation: "docflow checks every file before the provider sees it, and this one cannot be processed \
                          as it is. Nothing was sent to the provider.",
            next_step: cause.next_step(),
        },
        FailureCause::UploadUnreadable => fixed(
            "The uploaded file could not be read.",
            "It was removed from the upload store, or docflow may not read it. Upload the file again.",
        ),
        FailureCause::ProviderFailedJob => fixed(
            "The provider could not work on this file.",
            "It took the file and then reported that processing failed, which usually means the file is damaged \
             or of a kind it does not read. Its own message is in the technical detail.",
        ),
        FailureCause::SubmissionRefused => fixed(
            "The provider refused to take the file.",
            "This is not about your file: the provider refused docflow's request, which usually means a \
             setting between docflow and the provider needs fixing. Once it is fixed, the document can be retried.",
        ),
        FailureCause::SubmissionGaveUp => fixed(
            "docflow could not hand the file to the provider, even after several tries.",
            "The file was fine: the provider was unreachable or too busy. Retrying later may well go through.",
        ),
        FailureCause::ResultsInvalid => fixed(
            "The provider's results failed docflow's checks, so they are not shown.",
            "The file was fine: what the provider sent back was not (a checksum, size or format that did not \
             match). Nothing in the file needs changing; the document can be retried.",
        ),
        FailureCause::ResultsUnavailable => fixed(
            "The provider's results could not be collected.",
            "The file was fine: docflow could not fetch or store the results the provider announced. The \
             document can be retried.",
        ),
        FailureCause::CallbackLost => fixed(
            "The provider never said the work was done, and docflow stopped waiting.",
            "The file was fine: no answer came from the provider within its time limit. The document can be \
             retried.",
        ),
        FailureCause::NormalizeFailed => fixed(
            "The results could not be stored.",
            "The file was fine and the provider's results passed docflow's checks, but docflow could not store \
             them. The document can be retried.",
        ),
        FailureCause::Unknown => fixed(
            "Processing stopped before the results were ready.",
            "docflow did not record why (this document stopped before causes were kept). The technical detail \
             says where it stopped.",
        ),
    }
}

/// `reason` as a sentence: a capital first letter and a full stop; `None` when empty.
fn sentence(reason: &str) -> Option<String> {
    let reason = reason.trim();
    let mut chars = reason.chars();
    let first = chars.next()?;
    let mut text: String = first.to_uppercase().chain(chars).collect();
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    Some(text)
}

/// What a role may do about a stopped document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A teacher: upload a new version (the upload page, with the name and kind given).
    UploadNewVersion,
    /// An evaluator: restart it as `docflow retry` does (a form with CSRF).
    Retry,
    /// Nothing on this page (an evaluator facing a refused file: only a new file helps).
    None,
}

/// The action offered to `role` for a document stopped by `cause`.
pub fn action(role: &Role, cause: Option<FailureCause>) -> Action {
    let cause = cause.unwrap_or(FailureCause::Unknown);
    match role {
        Role::Uploader { .. } | Role::Uploads => Action::UploadNewVersion,
        Role::Evaluator if cause.retry_may_help() => Action::Retry,
        Role::Evaluator | Role::Admin => Action::None,
    }
}

/// What the teacher sees next to the action, by who can fix it.
fn for_teacher(next_step: NextStep) -> &'static str {
    match next_step {
        NextStep::UploadNewVersion => "Correct the file, then upload the new version.",
        NextStep::Retry => "You need not change anything: an evaluator can retry it. You may also upload it again.",
    }
}

/// The upload page's address for a new version of `key`'s file: its name (without the
/// web upload's `{uuid}-` prefix) and kind, shown and preselected there.
pub fn new_version_href(kind: Kind, key: &str) -> String {
    let name = original_name(key);
    let encode = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("/ui/upload?kind={}&replaces={}", kind.as_str(), encode(name))
}

/// A key's file name as the teacher named it: web uploads are stored as `{uuid}-{name}`.
pub fn original_name(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.split_at_checked(37) {
        Some((prefix, rest))
            if !rest.is_empty() && prefix.ends_with('-') && uuid::Uuid::parse_str(&prefix[..36]).is_ok() =>
        {
            rest
        }
        _ => name,
    }
}

/// The document page's problem section: the words first (from the stored cause, which
/// reads `unknown` for rows from before causes were stored), then the action for the
/// session's role, then the stage, cause and raw reason as detail.
pub fn problem(session: &Session, csrf: &str, document: &DocumentSummary, error: &ErrorView) -> Markup {
    let cause = error.cause;
    let (id, state, kind, key) = (document.id, document.state, document.kind, &document.key);
    let said = words(Some(cause), &error.reason);
    let action = action(&session.role, Some(cause));
    html! {
        section.problem aria-labelledby="why" data-cause=(cause.as_str()) {
            h2 id="why" { "What went wrong" }
            p.headline { strong { (said.headline) } }
            p.explanation { (said.explanation) }
            @match action {
                Action::UploadNewVersion => {
                    p.next { (for_teacher(said.next_step)) }
                    p { a.action href=(new_version_href(kind, key)) { "Upload a new version" } }
                }
                Action::Retry => {
                    form.retry method="post" action={ "/ui/documents/" (id) "/retry" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p.next { "The same file is sent again in a new round, as " code { "docflow retry" } " does." }
                        button type="submit" { "Retry" }
                    }
                }
                Action::None => {
                    p.next { "Only a new version of the file can go through: the teacher uploads it." }
                }
            }
            details {
                summary { "Technical detail" }
                p { "Stopped " (state.as_str()) " in stage " code { (error.stage) } ", cause "
                    code { (cause.as_str()) } ": " (error.reason) }
            }
        }
    }
}

#[cfg(test)]
#[path = "failure_tests.rs"]
mod tests;
