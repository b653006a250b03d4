//! The pages' templates (maud: checked when the crate compiles, escaped by default), the
//! stylesheet and the one small script (live updates, chapters that seek, the upload's
//! progress). Everything reads without JavaScript; only uploading needs it. Every word is
//! the catalogue's (`i18n/*.ftl`), in the language the browser asked for.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use fluent_bundle::FluentValue;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use super::i18n::{Lang, tr, tr_with};
use super::session::{Principal, Session};
use crate::db::State;
use crate::evaluator::{DocumentResource, TimelineView};
use crate::ids::{Kind, UploaderId};
use crate::settings::tokens::Role;

/// The only stylesheet, served at `/ui/style.css`. Colours meet WCAG AA contrast on white.
pub const STYLE: &str = include_str!("style.css");
/// The only script, served at `/ui/app.js`: no library, no build step.
pub const SCRIPT: &str = include_str!("app.js");
/// The icon of every page, served at `/ui/favicon.svg` and `/favicon.ico`.
pub const FAVICON: &str = include_str!("favicon.svg");

pub(super) fn layout(lang: Lang, title: &str, session: Option<(&Session, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · docflow" }
                link rel="icon" type="image/svg+xml" href="/ui/favicon.svg";
                link rel="stylesheet" href="/ui/style.css";
                script src="/ui/app.js" defer {}
            }
            body {
                a.skip href="#main" { (tr(lang, "skip-to-content")) }
                header {
                    a.brand href="/ui/" { "docflow" }
                    @if let Some((session, csrf)) = session {
                        nav aria-label=(tr(lang, "common-account")) {
                            @if matches!(session.role, Role::Uploads | Role::Uploader { .. }) { a href="/ui/upload" { (tr(lang, "common-upload")) } }
                            @if matches!(session.role, Role::Admin) { a href="/ui/pipeline" { (tr(lang, "common-pipeline")) } }
                            span.who { (tr_with(lang, "signed-in-as", &[("who", signed_in_as(lang, session).into())])) }
                            form method="post" action="/ui/sign-out" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { (tr(lang, "common-sign-out")) }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A message whose variables are markup (a name in bold, a link): the message's own text
/// is escaped, the variables are inserted as they are. Each variable stands in the
/// formatted text as a private-use marker, then is put in place of it after escaping.
pub(super) fn tr_markup(lang: Lang, id: &str, args: &[(&str, Markup)]) -> Markup {
    tr_markup_counted(lang, id, &[], args)
}

/// [`tr_markup`] with numbers besides the markup: the message's plurals select on them
/// (`{ $count -> [one] ... }`), which markup, a string to Fluent, cannot do.
pub(super) fn tr_markup_counted(lang: Lang, id: &str, counts: &[(&str, u64)], args: &[(&str, Markup)]) -> Markup {
    let markers: Vec<String> = (0..args.len()).map(|i| format!("\u{E000}{i}\u{E001}")).collect();
    let values: Vec<(&str, FluentValue<'_>)> = args
        .iter()
        .zip(&markers)
        .map(|((name, _), marker)| (*name, marker.clone().into()))
        .chain(counts.iter().map(|(name, n)| (*name, (*n).into())))
        .collect();
    let escaped = html! { (tr_with(lang, id, &values)) }.into_string();
    let filled = args.iter().zip(&markers).fold(escaped, |text, ((_, markup), marker)| text.replace(marker, &markup.0));
    PreEscaped(filled)
}

/// Who reads a page, for the words of a document's state: a teacher sees where their
/// document is (Processing, Ready, Needs your action); staff see the pipeline's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Viewer {
    Teacher,
    Staff,
}

impl Viewer {
    pub(super) fn of(role: &Role) -> Viewer {
        match role {
            Role::Uploader { .. } | Role::Uploads => Viewer::Teacher,
            Role::Evaluator | Role::Admin => Viewer::Staff,
        }
    }
}

/// Where a document is, in a teacher's words. `Uploading` is the upload page's own, before
/// docflow has the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Processing,
    Ready,
    NeedsAction,
}

impl Phase {
    pub(super) fn of(state: State) -> Phase {
        match state {
            State::Received | State::Submitted | State::Processed | State::Validated => Phase::Processing,
            State::Normalized => Phase::Ready,
            State::Failed | State::Rejected => Phase::NeedsAction,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Phase::Processing => "state-phase-processing",
            Phase::Ready => "state-phase-ready",
            Phase::NeedsAction => "state-phase-needs-action",
        }
    }
}

/// The word of a state on its badge: the phase for a teacher, the state for staff.
pub(super) fn state_word(lang: Lang, viewer: Viewer, state: State) -> String {
    match viewer {
        Viewer::Teacher => tr(lang, Phase::of(state).id()),
        Viewer::Staff => tr(lang, &format!("state-{}", state.as_str())),
    }
}

/// The badge words for this viewer, as JSON for the script (live updates): only those
/// that are not the state's own name (the script shows the name otherwise), so that an
/// English evaluator's pages carry none.
pub(super) fn state_words(lang: Lang, viewer: Viewer) -> String {
    let words: serde_json::Map<String, Value> = State::ALL
        .iter()
        .map(|s| (s.as_str(), state_word(lang, viewer, *s)))
        .filter(|(name, word)| name != word)
        .map(|(name, word)| (name.to_owned(), Value::String(word)))
        .collect();
    Value::Object(words).to_string()
}

/// The "Signed in as" words: a person by name (and role), a token by its role.
pub(super) fn signed_in_as(lang: Lang, session: &Session) -> String {
    let person = |id: &str, name: &str| tr_with(lang, id, &[("name", name.to_owned().into())]);
    match (&session.by, &session.role) {
        (Principal::Person { name, .. }, Role::Evaluator) => person("common-person-evaluator", name),
        (Principal::Person { name, .. }, Role::Uploader { .. }) => person("common-person-teacher", name),
        (Principal::Person { name, .. }, Role::Uploads) => person("common-person-uploads", name),
        (Principal::Person { name, .. }, Role::Admin) => person("common-person-admin", name),
        (Principal::Token { .. }, role) => who(lang, role),
    }
}

pub(super) fn who(lang: Lang, role: &Role) -> String {
    match role {
        Role::Evaluator => tr(lang, "common-who-evaluator"),
        Role::Uploads => tr(lang, "common-who-uploads"),
        Role::Uploader { uploader_id } => {
            tr_with(lang, "common-who-teacher", &[("id", uploader_id.to_string().into())])
        }
        Role::Admin => tr(lang, "common-who-admin"),
    }
}

pub fn error(
    lang: Lang,
    session: Option<(&Session, &str)>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let page = layout(
        lang,
        title,
        session,
        html! {
            h1 { (title) }
            p { (message) }
            @if session.is_some() { p { a href="/ui/" { (tr(lang, "common-back-to-documents")) } } }
            @else { p { a href="/ui/sign-in" { (tr(lang, "common-sign-in")) } } }
        },
    );
    (status, page).into_response()
}

/// An error page whose title and message are catalogue messages.
pub(super) fn error_tr(
    lang: Lang,
    session: Option<(&Session, &str)>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    error(lang, session, status, &tr(lang, title), &tr(lang, message))
}

pub(super) fn badge(lang: Lang, viewer: Viewer, state: State) -> Markup {
    html! { span class={ "badge state-" (state.as_str()) } { (state_word(lang, viewer, state)) } }
}

pub(super) fn kind_word(lang: Lang, kind: Kind) -> String {
    match kind {
        Kind::Document => tr(lang, "common-kind-document"),
        Kind::Video => tr(lang, "common-kind-video"),
    }
}

/// The file name as the teacher gave it (without a browser upload's UUID).
fn file_name(key: &str) -> &str {
    crate::review::names::display_name(key)
}

/// "5 min ago" and the like.
pub fn age(lang: Lang, now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    let n = |id: &str, n: i64| tr_with(lang, id, &[("n", n.into())]);
    match seconds {
        0..60 => tr(lang, "common-age-now"),
        60..3600 => n("common-age-minutes", seconds / 60),
        3600..86400 => n("common-age-hours", seconds / 3600),
        _ if seconds < 2 * 86400 => tr(lang, "common-age-yesterday"),
        _ => n("common-age-days", seconds / 86400),
    }
}

/// A moment: `datetime` in UTC, its text in UTC and said so (the page reads without the
/// script); app.js rewrites the text to the viewer's own zone (`time.at`) and keeps the
/// UTC text as its title.
pub(super) fn when(lang: Lang, at: DateTime<Utc>) -> Markup {
    let text = match lang {
        Lang::En => at.format("%-d %b %Y, %H:%M UTC").to_string(),
        Lang::Fr => at.format("%d/%m/%Y %H:%M UTC").to_string(),
    };
    html! { time.at datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (text) } }
}

/// The timeline's words for a state (also the script's, for live updates).
fn step_word(lang: Lang, state: State) -> String {
    tr(lang, &format!("common-step-{}", state.as_str()))
}

/// Every state's timeline words, as JSON for the script.
pub(super) fn step_words(lang: Lang) -> String {
    let words: serde_json::Map<String, Value> =
        State::ALL.iter().map(|s| (s.as_str().to_owned(), Value::String(step_word(lang, *s)))).collect();
    Value::Object(words).to_string()
}

/// A timeline entry in words.
fn step(lang: Lang, entry: &TimelineView) -> String {
    let what = step_word(lang, entry.state);
    if entry.attempt > 1 {
        tr_with(lang, "common-step-attempt", &[("what", what.into()), ("n", entry.attempt.into())])
    } else {
        what
    }
}

/// What a document's page shows besides the session's own parts.
pub struct DocumentView<'a> {
    pub resource: &'a DocumentResource,
    /// A lesson plan's texts ([`super::lesson::texts`]).
    pub texts: &'a super::lesson::text::Texts,
    /// A normalized video's workspace ([`super::video::load`]).
    pub video: Option<&'a super::video::Workspace>,
    /// For a teacher's document in processing, how long it usually takes ([`super::wait`]).
    pub wait: Option<String>,
    /// The page follows an evaluator's Retry: it says so and follows the restart.
    pub retried: bool,
    pub now: DateTime<Utc>,
}

pub fn document(lang: Lang, session: &Session, csrf: &str, view: DocumentView<'_>) -> Markup {
    let DocumentView { resource, texts, video, wait, retried, now } = view;
    // Between a timeline entry's time and its step (French puts a no-break space before it).
    let colon = tr(lang, "common-colon");
    let summary = &resource.summary;
    let name = file_name(&summary.key);
    let normalized = resource.normalized.as_ref();
    let viewer = Viewer::of(&session.role);
    layout(
        lang,
        name,
        Some((session, csrf)),
        html! {
            p { a href="/ui/" { (tr(lang, "common-all-documents")) } }
            h1 { (name) }
            @if retried {
                p.notice role="status" { (tr(lang, "failure-retry-asked")) }
            }
            dl.facts data-document=(summary.id) data-state=(summary.state.as_str()) data-restarting[retried]
                data-badges=(state_words(lang, viewer)) {
                dt { (tr(lang, "common-state")) } dd { (badge(lang, viewer, summary.state)) }
                dt { (tr(lang, "common-kind")) } dd { (kind_word(lang, summary.kind)) }
                dt { (tr(lang, "common-uploader")) } dd { (summary.uploader_id) }
                dt { (tr(lang, "common-uploaded")) } dd { (when(lang, summary.created_at)) " (" (age(lang, now, summary.created_at)) ")" }
            }
            @if let Some(wait) = wait { p.wait { (wait) } }
            @if let (Some(error), false) = (&summary.error, retried) {
                (super::failure::problem(lang, session, csrf, summary, error))
            }
            @if let (Kind::Document, Some(_)) = (summary.kind, normalized) {
                (super::lesson::section(lang, resource, texts.record.as_ref(), texts))
            }
            @if let Some(video) = video {
                (super::video::section(lang, resource, video))
            }
            (super::review::section(lang, session, csrf, resource))
            section aria-labelledby="timeline" {
                h2 id="timeline" { (tr(lang, "common-what-happened")) }
                ol.timeline aria-live="polite" data-steps=(step_words(lang)) data-colon=(colon) {
                    @for entry in &resource.timeline {
                        li { (when(lang, entry.at)) (colon) (step(lang, entry)) }
                    }
                    // Reviews are not pipeline states; they follow `normalized`, the only
                    // state a document is reviewed in.
                    @for review in &resource.reviews {
                        li.review-entry { (when(lang, review.at)) (colon)
                            (tr_with(lang, "review-timeline-entry", &[("who", review.reviewer.clone().into())])) }
                    }
                }
            }
        },
    )
}

/// What the upload page's script says, in the page's language (`data-words` on the form).
fn upload_words(lang: Lang, waits: &[(Kind, Option<String>)]) -> String {
    let mut words = serde_json::Map::new();
    for id in [
        "upload-js-preparing",
        "upload-js-sent",
        "upload-js-ready",
        "upload-js-stopped",
        "upload-js-reading-why",
        "upload-js-unreachable",
        "state-phase-uploading",
        "state-phase-processing",
    ] {
        words.insert(id.to_owned(), Value::String(tr(lang, id)));
    }
    let with = |id: &str, name: &str| tr_with(lang, id, &[(name, format!("{{{name}}}").into())]);
    words.insert("upload-js-sending".into(), Value::String(with("upload-js-sending", "n")));
    words.insert("upload-js-cannot-start".into(), Value::String(with("upload-js-cannot-start", "why")));
    words.insert("upload-js-store-refused".into(), Value::String(with("upload-js-store-refused", "status")));
    words.insert("upload-js-processing".into(), Value::String(with("upload-js-processing", "step")));
    for (kind, wait) in waits {
        if let Some(wait) = wait {
            words.insert(format!("wait-{}", kind.as_str()), Value::String(wait.clone()));
        }
    }
    words.insert("steps".into(), serde_json::from_str(&step_words(lang)).unwrap_or_default());
    Value::Object(words).to_string()
}

/// What the upload page knows besides the session: who it uploads for, what it replaces,
/// the address for e-mails, and the usual wait of each kind.
pub struct UploadPage<'a> {
    /// The session's own uploader, `None` for an uploading app (which names the teacher).
    pub teacher: Option<&'a UploaderId>,
    /// The kind and file name of a stopped document this upload is a new version of (the
    /// document page's "Upload a new version"), said and preselected.
    pub replaces: Option<(Kind, &'a str)>,
    /// The address the teacher's sign-in gave, offered for the e-mails (`crate::mail`).
    pub email: Option<&'a str>,
    /// How long processing usually takes, per kind ([`super::wait`]).
    pub waits: Vec<(Kind, Option<String>)>,
}

/// The upload page. Uploading needs the script; without it the page says so.
pub fn upload(lang: Lang, session: &Session, csrf: &str, page: &UploadPage<'_>) -> Markup {
    let video = matches!(page.replaces, Some((Kind::Video, _)));
    layout(
        lang,
        &tr(lang, "upload-title"),
        Some((session, csrf)),
        html! {
            h1 { (tr(lang, "upload-heading")) }
            @if let Some((_, name)) = page.replaces {
                p.replaces { (tr_markup(lang, "upload-replaces", &[("name", html! { strong { (name) } })])) }
            }
            noscript { p.problem { (tr(lang, "upload-needs-script")) } }
            form #upload method="post" action="/ui/upload" data-csrf=(csrf) data-words=(upload_words(lang, &page.waits)) {
                fieldset {
                    legend { (tr(lang, "upload-what")) }
                    label { input type="radio" name="what" value="document" checked[!video]; " " (tr(lang, "upload-a-lesson-plan")) }
                    label { input type="radio" name="what" value="video" checked[video]; " " (tr(lang, "upload-a-video")) }
                }
                @if page.teacher.is_none() {
                    div {
                        label for="teacher" { (tr(lang, "upload-for-teacher")) }
                        input #teacher name="teacher" type="text" required autocomplete="off" aria-describedby="teacher-hint";
                        p.hint #teacher-hint { (tr(lang, "upload-for-teacher-hint")) }
                    }
                }
                div {
                    label for="file" { (tr(lang, "upload-file")) }
                    input #file name="file" type="file" required
                        accept=".pdf,.doc,.docx,.odt,.md,.txt,.rtf,application/pdf,text/*";
                }
                @if let Some(email) = page.email {
                    label.check { input #notify name="notify" type="checkbox" value="1" checked;
                        " " (tr_with(lang, "upload-email-me", &[("email", email.to_owned().into())])) }
                }
                button type="submit" { (tr(lang, "upload-button")) }
            }
            section #progress hidden aria-labelledby="progress-title" {
                h2 #progress-title { (tr(lang, "upload-progress")) }
                label for="sent" { (tr(lang, "upload-sent-to-store")) }
                progress #sent max="100" value="0" {}
                p #status role="status" aria-live="polite" {}
                p #follow hidden { a href="" { (tr(lang, "upload-open-document")) } }
                p #again hidden { a.action href="/ui/upload" { (tr(lang, "failure-upload-new-version")) } }
            }
        },
    )
}
