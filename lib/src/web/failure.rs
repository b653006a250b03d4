//! Why a document stopped, in the words of the person reading it, and what they can do
//! next. The words come from the stored [`FailureCause`] (set by the stage that decided),
//! never from the stage where the document stopped: the same stage stops documents for
//! causes that call for opposite actions (a refused file is the teacher's to fix, results
//! that failed docflow's checks are not). The stage and the raw reason are detail.
//!
//! Shown on the document page ([`problem`]) and, through it, on the upload page's live
//! status (app.js reads the section of the document page once the upload ends failed).

use fluent_bundle::FluentValue;
use maud::{Markup, html};

use super::i18n::{Lang, tr, tr_with};
use super::pages::tr_markup;
use super::session::Session;
use crate::evaluator::{DocumentSummary, ErrorView};
use crate::ids::Kind;
use crate::lifecycle::{FailureCause, NextStep};
use crate::settings::tokens::Role;
use crate::stages::transfer::preflight::{Refusal, human};

/// A stopped document, worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// What the person reads first: for a refused file, pre-flight's own reason.
    pub headline: String,
    /// What it means for them, in a sentence or two.
    pub explanation: String,
    /// Whether the file itself is the problem (the uploader acts) or not (staff retry).
    pub next_step: NextStep,
}

/// The words for `cause` in English (the e-mails'); see [`words_in`].
pub fn words(cause: Option<FailureCause>, reason: &str) -> Words {
    words_in(Lang::En, cause, reason)
}

/// The words for `cause` in `lang`; `None` (a row from before causes were stored) reads
/// as [`FailureCause::Unknown`]. `reason` is the stage's stored reason: only a refused
/// file's is shown first, as pre-flight words it for the person who uploaded the file (in
/// English: the stage writes it).
pub fn words_in(lang: Lang, cause: Option<FailureCause>, reason: &str) -> Words {
    let cause = cause.unwrap_or(FailureCause::Unknown);
    let id = format!("failure-{}", cause.as_str().replace('_', "-"));
    let headline = match cause {
        FailureCause::FileRefused => match Refusal::from_reason(reason) {
            Some(refusal) => refusal_words(lang, &refusal),
            None => sentence(reason).unwrap_or_else(|| tr(lang, &id)),
        },
        _ => tr(lang, &id),
    };
    Words { headline, explanation: tr(lang, &format!("{id}-why")), next_step: cause.next_step() }
}

/// Pre-flight's refusal in `lang` (the catalogue's `refusal-...` messages; in English, the
/// stored reason as a sentence).
fn refusal_words(lang: Lang, refusal: &Refusal) -> String {
    let text = |s: &str| FluentValue::from(s.to_owned());
    match refusal {
        Refusal::Empty => tr(lang, "refusal-empty"),
        Refusal::Unreadable => tr(lang, "refusal-unreadable"),
        // The sizes as pre-flight writes them ("1.5 GB"): the same figures in every language.
        Refusal::TooLarge { size, limit, provider } => tr_with(
            lang,
            "refusal-too-large",
            &[("size", text(&human(*size))), ("limit", text(&human(*limit))), ("provider", text(provider))],
        ),
        Refusal::NotADocument { kind, extension } => {
            let what = tr(lang, &format!("refusal-kind-{}", kind.as_str()));
            tr_with(lang, "refusal-not-a-document", &[("what", text(&what)), ("extension", text(extension))])
        }
        Refusal::Mismatch { extension, format } => {
            tr_with(lang, "refusal-mismatch", &[("extension", text(extension)), ("format", text(format))])
        }
        Refusal::Active { what } => {
            let what = match crate::storage::active::named_extension(what) {
                Some(extension) => tr_with(lang, "refusal-active-extension", &[("extension", text(extension))]),
                None => what.clone(),
            };
            tr_with(lang, "refusal-active", &[("what", text(&what))])
        }
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
fn for_teacher(lang: Lang, next_step: NextStep) -> String {
    match next_step {
        NextStep::UploadNewVersion => tr(lang, "failure-teacher-new-version"),
        NextStep::Retry => tr(lang, "failure-teacher-retry"),
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
pub fn problem(lang: Lang, session: &Session, csrf: &str, document: &DocumentSummary, error: &ErrorView) -> Markup {
    let cause = error.cause;
    let (id, state, kind, key) = (document.id, document.state, document.kind, &document.key);
    let said = words_in(lang, Some(cause), &error.reason);
    let action = action(&session.role, Some(cause));
    html! {
        section.problem aria-labelledby="why" data-cause=(cause.as_str()) {
            h2 id="why" { (tr(lang, "failure-what-went-wrong")) }
            p.headline { strong { (said.headline) } }
            p.explanation { (said.explanation) }
            @match action {
                Action::UploadNewVersion => {
                    p.next { (for_teacher(lang, said.next_step)) }
                    p { a.action href=(new_version_href(kind, key)) { (tr(lang, "failure-upload-new-version")) } }
                }
                Action::Retry => {
                    form.retry method="post" action={ "/ui/documents/" (id) "/retry" } {
                        input type="hidden" name="csrf" value=(csrf);
                        p.next { (tr_markup(lang, "failure-retry-explained", &[("command", html! { code { "docflow retry" } })])) }
                        button type="submit" { (tr(lang, "failure-retry")) }
                    }
                }
                Action::None => {
                    p.next { (tr(lang, "failure-only-new-version")) }
                }
            }
            details {
                summary { (tr(lang, "failure-technical-detail")) }
                p { (tr_markup(lang, "failure-detail", &[
                    ("state", html! { (state.as_str()) }),
                    ("stage", html! { code { (error.stage) } }),
                    ("cause", html! { code { (cause.as_str()) } }),
                    ("reason", html! { (error.reason) }),
                ])) }
            }
        }
    }
}

#[cfg(test)]
#[path = "failure_tests.rs"]
mod tests;
