//! The pages' templates (maud: checked when the crate compiles, escaped by default), the
//! stylesheet and the one small script (live updates, chapters that seek, the upload's
//! progress). Everything reads without JavaScript; only uploading needs it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::i18n::Lang;
use super::session::{Principal, Session};
use crate::db::State;
use crate::evaluator::{DocumentResource, TimelineView};
use crate::ids::Kind;
use crate::settings::tokens::Role;

/// The only stylesheet, served at `/ui/style.css`. Colours meet WCAG AA contrast on white.
pub const STYLE: &str = include_str!("style.css");
/// The only script, served at `/ui/app.js`: no library, no build step.
pub const SCRIPT: &str = include_str!("app.js");

pub(super) fn layout(title: &str, session: Option<(&Session, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · docflow" }
                link rel="stylesheet" href="/ui/style.css";
                script src="/ui/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    a.brand href="/ui/" { "docflow" }
                    @if let Some((session, csrf)) = session {
                        nav aria-label="Account" {
                            @if matches!(session.role, Role::Uploads | Role::Uploader { .. }) { a href="/ui/upload" { "Upload" } }
                            @if matches!(session.role, Role::Admin) { a href="/ui/pipeline" { "Pipeline" } }
                            span.who { "Signed in as " (signed_in_as(session)) }
                            form method="post" action="/ui/sign-out" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The "Signed in as" words: a person by name (and role), a token by its role.
pub(super) fn signed_in_as(session: &Session) -> String {
    match (&session.by, &session.role) {
        (Principal::Person { name, .. }, Role::Evaluator) => format!("{name} (evaluator)"),
        (Principal::Person { name, .. }, Role::Uploader { .. }) => format!("{name} (teacher)"),
        (Principal::Person { name, .. }, Role::Uploads) => format!("{name} (uploading app)"),
        (Principal::Person { name, .. }, Role::Admin) => format!("{name} (operator)"),
        (Principal::Token { .. }, role) => who(role),
    }
}

pub(super) fn who(role: &Role) -> String {
    match role {
        Role::Evaluator => "an evaluator".to_owned(),
        Role::Uploads => "an uploading app".to_owned(),
        Role::Uploader { uploader_id } => format!("teacher {uploader_id}"),
        Role::Admin => "an operator".to_owned(),
    }
}

pub fn error(session: Option<(&Session, &str)>, status: StatusCode, title: &str, message: &str) -> Response {
    let page = layout(
        title,
        session,
        html! {
            h1 { (title) }
            p { (message) }
            @if session.is_some() { p { a href="/ui/" { "Back to the documents" } } }
            @else { p { a href="/ui/sign-in" { "Sign in" } } }
        },
    );
    (status, page).into_response()
}

pub(super) fn badge(state: State) -> Markup {
    html! { span class={ "badge state-" (state.as_str()) } { (state.as_str()) } }
}

pub(super) fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Document => "lesson plan",
        Kind::Video => "video",
    }
}

/// The file name as the teacher gave it (without a browser upload's UUID).
fn file_name(key: &str) -> &str {
    crate::review::names::display_name(key)
}

/// "5 min ago" and the like.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86400 => format!("{} h ago", seconds / 3600),
        _ if seconds < 2 * 86400 => "yesterday".to_owned(),
        _ => format!("{} days ago", seconds / 86400),
    }
}

pub(super) fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%-d %b %Y, %H:%M UTC")) } }
}

/// A timeline entry in words.
fn step(entry: &TimelineView) -> String {
    let what = match entry.state {
        State::Received => "received from the upload store",
        State::Submitted => "sent to the provider",
        State::Processed => "processed by the provider",
        State::Validated => "results checked",
        State::Normalized => "checked and stored: ready to read",
        State::Failed => "stopped: it failed",
        State::Rejected => "refused by the provider",
    };
    if entry.attempt > 1 { format!("{what} (attempt {})", entry.attempt) } else { what.to_owned() }
}

pub(super) fn text<'v>(value: &'v Value, name: &str) -> &'v str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

/// `retried`: the page follows an evaluator's Retry: it says so and follows the restart.
/// `video`: a normalized video's workspace ([`super::video::load`]).
pub fn document(
    lang: Lang,
    session: &Session,
    csrf: &str,
    resource: &DocumentResource,
    texts: &super::lesson::text::Texts,
    now: DateTime<Utc>,
    retried: bool,
    video: Option<&super::video::Workspace>,
) -> Markup {
    let summary = &resource.summary;
    let name = file_name(&summary.key);
    let normalized = resource.normalized.as_ref();
    layout(
        name,
        Some((session, csrf)),
        html! {
            p { a href="/ui/" { "← All documents" } }
            h1 { (name) }
            @if retried {
                p.notice role="status" { "Retry asked: the document goes back to received in a new round, and this page follows it." }
            }
            dl.facts data-document=(summary.id) data-state=(summary.state.as_str()) data-restarting[retried] {
                dt { "State" } dd { (badge(summary.state)) }
                dt { "Kind" } dd { (kind_word(summary.kind)) }
                dt { "Uploader" } dd { (summary.uploader_id) }
                dt { "Uploaded" } dd { (when(summary.created_at)) " (" (age(now, summary.created_at)) ")" }
            }
            @if let (Some(error), false) = (&summary.error, retried) {
                (super::failure::problem(session, csrf, summary, error))
            }
            @if let (Kind::Document, Some(_)) = (summary.kind, normalized) {
                (super::lesson::section(lang, resource, super::lesson::text::record_of(resource).as_ref(), texts))
            }
            @if let Some(video) = video {
                (super::video::section(lang, resource, video))
            }
            (super::review::section(session, csrf, resource))
            section aria-labelledby="timeline" {
                h2 id="timeline" { "What happened" }
                ol.timeline aria-live="polite" {
                    @for entry in &resource.timeline {
                        li { (when(entry.at)) ": " (step(entry)) }
                    }
                    // Reviews are not pipeline states; they follow `normalized`, the only
                    // state a document is reviewed in.
                    @for review in &resource.reviews {
                        li.review-entry { (when(review.at)) ": reviewed by " (review.reviewer) }
                    }
                }
            }
        },
    )
}

/// The upload page: `teacher` is the session's own uploader, `None` for an uploading app
/// (which names the teacher). Uploading needs the script; without it the page says so.
/// `replaces`: the kind and file name of a stopped document this upload is a new version
/// of (the document page's "Upload a new version"), said and preselected.
/// `email`: the address the teacher's sign-in gave, offered for the e-mails (`crate::mail`).
pub fn upload(
    session: &Session,
    csrf: &str,
    teacher: Option<&str>,
    replaces: Option<(Kind, &str)>,
    email: Option<&str>,
) -> Markup {
    let video = matches!(replaces, Some((Kind::Video, _)));
    layout(
        "Upload",
        Some((session, csrf)),
        html! {
            h1 { "Upload a lesson plan or a video" }
            @if let Some((_, name)) = replaces {
                p.replaces { "A new version of " strong { (name) } ": choose the corrected file below." }
            }
            noscript { p.problem { "Uploading needs JavaScript: the file goes straight from your browser to the store." } }
            form #upload method="post" action="/ui/upload" data-csrf=(csrf) {
                fieldset {
                    legend { "What are you sending?" }
                    label { input type="radio" name="what" value="document" checked[!video]; " A lesson plan" }
                    label { input type="radio" name="what" value="video" checked[video]; " A video" }
                }
                @if teacher.is_none() {
                    div {
                        label for="teacher" { "For teacher" }
                        input #teacher name="teacher" type="text" required autocomplete="off";
                        p.hint { "The teacher's id, as their documents are filed." }
                    }
                }
                div {
                    label for="file" { "File" }
                    input #file name="file" type="file" required
                        accept=".pdf,.doc,.docx,.odt,.md,.txt,.rtf,application/pdf,text/*";
                }
                @if let Some(email) = email {
                    label.check { input #notify name="notify" type="checkbox" value="1" checked;
                        " E-mail me at " (email) " when it is ready or needs a new version" }
                }
                button type="submit" { "Upload" }
            }
            section #progress hidden aria-labelledby="progress-title" {
                h2 #progress-title { "Progress" }
                label for="sent" { "Sent to the store" }
                progress #sent max="100" value="0" {}
                p #status role="status" aria-live="polite" {}
                p #follow hidden { a href="" { "Open the document" } }
                p #again hidden { a.action href="/ui/upload" { "Upload a new version" } }
            }
        },
    )
}
