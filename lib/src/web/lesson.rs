//! The lesson plan's part of its document page, a workspace: the findings grouped by
//! severity with their counts (and, with the script, filtered by severity and category),
//! each card showing the flagged words in the middle of their sentence; beside them the
//! original text with every placed finding highlighted, and the corrected text. A finding's
//! card links to its place in the text (`#mark-N`: the browser scrolls there and `:target`
//! shows it; the script also moves the focus). Findings that are not found in the text are
//! listed all the same, with the provider's excerpt.
//!
//! - `place`: where each finding is (pure, unit-tested);
//! - `text`: the two texts, extracted by `crate::extract` off the async threads, cached,
//!   and served as `text/plain; charset=utf-8` at `/ui/documents/{id}/text/{original|corrected}`.

mod place;
pub(super) mod text;

use maud::{Markup, html};

use self::place::{Excerpt, Mark, Place};
use self::text::{Shown, Texts, Unavailable};
use super::i18n::{Lang, tr, tr_with};
use crate::evaluator::DocumentResource;
use crate::provider::protocol::Role;
use crate::provider::protocol::{Finding, FindingCategory, Severity};
use crate::stages::normalize::record::{Content, Record};

pub(super) use self::text::texts;

/// Characters of the paragraph shown on each side of the flagged words on a card.
const CARD_RADIUS: usize = 60;

pub(super) fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Major => "major",
        Severity::Minor => "minor",
        Severity::Info => "info",
    }
}

pub(super) fn category_word(category: FindingCategory) -> &'static str {
    match category {
        FindingCategory::Spelling => "spelling",
        FindingCategory::Grammar => "grammar",
        FindingCategory::Style => "style",
        FindingCategory::Clarity => "clarity",
        FindingCategory::Other => "other",
    }
}

/// `record`: the document's normalized record, `None` when it does not read as one (a
/// record of another shape); `texts`: the original's and the corrected file's text.
pub(super) fn section(lang: Lang, resource: &DocumentResource, record: Option<&Record>, texts: &Texts) -> Markup {
    let id = resource.summary.id;
    let corrected = resource.artifacts.iter().find(|a| a.role == Role::Corrected);
    let findings: &[Finding] = match record.map(|r| &r.content) {
        Some(Content::Document { findings, .. }) => findings,
        _ => &[],
    };
    html! {
        section.lesson aria-labelledby="findings" {
            h2 id="findings" { (tr(lang, "lesson-findings")) }
            p.downloads {
                @if let Some(corrected) = corrected {
                    a.download href=(corrected.url) download=(corrected.name) {
                        (tr_with(lang, "lesson-download-corrected", &[("name", corrected.name.as_str().into())]))
                    }
                }
                @for which in ["original", "corrected"] {
                    @if matches!(texts.get(which), Shown::Text(_)) {
                        " " a.text-link href={ "/ui/documents/" (id) "/text/" (which) } { (tr(lang, &format!("lesson-open-{which}-text"))) }
                    }
                }
            }
            @if record.is_none() {
                p.problem { (tr(lang, "lesson-record-unreadable")) }
            } @else if findings.is_empty() {
                p { (tr(lang, "lesson-no-findings")) }
            }
            @let original = match texts.get("original") { Shown::Text(text) => Some(text.text.as_str()), _ => None };
            @let places = original.map(|t| place::place_all(t, findings)).unwrap_or_else(|| vec![None; findings.len()]);
            @let (marks, mark_of) = place::marks(&places);
            div.lesson-workspace {
                @if !findings.is_empty() {
                    (findings_column(lang, findings, original, &places, &mark_of))
                }
                div.lesson-texts {
                    (text_column(lang, "original", texts, &marks, findings))
                    (text_column(lang, "corrected", texts, &[], findings))
                }
            }
        }
    }
}

fn findings_column(
    lang: Lang,
    findings: &[Finding],
    original: Option<&str>,
    places: &[Option<Place>],
    mark_of: &[Option<usize>],
) -> Markup {
    let by_severity = place::counts(findings.iter().map(|f| std::cmp::Reverse(f.severity)));
    let by_category = place::counts(findings.iter().map(|f| category_word(f.category)));
    let placed = places.iter().flatten().count();
    html! {
        div.lesson-findings {
            p.lesson-count {
                (tr_with(lang, "lesson-count", &[("count", findings.len().into())]))
                // Only said when there is a text to find them in.
                @if original.is_some() && placed < findings.len() {
                    " " (tr_with(lang, "lesson-count-unplaced", &[("count", (findings.len() - placed).into())]))
                }
            }
            // Shown by the script, which does the filtering; without it every finding shows.
            form.lesson-filters hidden data-lesson-filters aria-label=(tr(lang, "lesson-filters")) {
                fieldset {
                    legend { (tr(lang, "lesson-filter-severity")) }
                    @for (std::cmp::Reverse(severity), count) in &by_severity {
                        @let word = severity_word(*severity);
                        label.check { input type="checkbox" name="severity" value=(word) checked;
                            " " (tr(lang, &format!("lesson-severity-{word}"))) " " span.count { (count) } }
                    }
                }
                fieldset {
                    legend { (tr(lang, "lesson-filter-category")) }
                    @for (word, count) in &by_category {
                        label.check { input type="checkbox" name="category" value=(word) checked;
                            " " (tr(lang, &format!("lesson-category-{word}"))) " " span.count { (count) } }
                    }
                }
                p.lesson-none hidden role="status" { (tr(lang, "lesson-no-filter-match")) }
            }
            @for (severity, members) in place::by_severity(findings, places) {
                @let word = severity_word(severity);
                section.severity-group data-severity=(word) aria-labelledby={ "group-" (word) } {
                    h3 id={ "group-" (word) } {
                        span class={ "severity severity-" (word) } { (tr(lang, &format!("lesson-severity-{word}"))) }
                        " " span.count { (members.len()) }
                    }
                    ol.findings {
                        @for i in members {
                            (card(lang, i, &findings[i], original, places[i], mark_of[i]))
                        }
                    }
                }
            }
        }
    }
}

fn card(
    lang: Lang,
    i: usize,
    finding: &Finding,
    original: Option<&str>,
    place: Option<Place>,
    mark: Option<usize>,
) -> Markup {
    let severity = severity_word(finding.severity);
    let category = category_word(finding.category);
    let location = finding.location.unwrap_or_default();
    html! {
        li.finding id={ "finding-" (i) } data-severity=(severity) data-category=(category) {
            p.meta {
                span.category { (tr(lang, &format!("lesson-category-{category}"))) }
                " · " span class={ "severity severity-" (severity) } { (tr(lang, &format!("lesson-severity-{severity}"))) }
                @if let Some(page) = location.page { " · " (tr_with(lang, "lesson-page", &[("page", page.into())])) }
                @if let Some(paragraph) = location.paragraph { " · " (tr_with(lang, "lesson-paragraph", &[("paragraph", paragraph.into())])) }
            }
            p.message { (finding.message) }
            @match (original, place, mark) {
                (Some(text), Some(place), Some(mark)) => {
                    @let excerpt = place::around(text, place, CARD_RADIUS);
                    p.excerpt {
                        a.to-text href={ "#mark-" (mark) } title=(tr_with(lang, "lesson-show-in-text", &[("words", excerpt.flagged.into())])) {
                            (excerpt_markup(&excerpt))
                        }
                    }
                }
                _ => {
                    @if let Some(excerpt) = finding.excerpt.as_deref().filter(|e| !e.trim().is_empty()) {
                        blockquote { (excerpt) }
                    }
                    @if original.is_some() { p.unplaced { (tr(lang, "lesson-unplaced")) } }
                }
            }
            @if let Some(suggestion) = finding.suggestion.as_deref().filter(|s| !s.trim().is_empty()) {
                p.suggestion { (tr_with(lang, "lesson-suggested", &[("suggestion", suggestion.into())])) }
            }
        }
    }
}

fn excerpt_markup(excerpt: &Excerpt<'_>) -> Markup {
    html! {
        @if excerpt.cut_before { "… " }
        (excerpt.before) mark.flagged { (excerpt.flagged) } (excerpt.after)
        @if excerpt.cut_after { " …" }
    }
}

/// One text, with `marks` highlighted (each a target of the findings' links).
fn text_column(lang: Lang, which: &str, texts: &Texts, marks: &[Mark], findings: &[Finding]) -> Markup {
    let title = format!("{which}-title");
    html! {
        section.lesson-text aria-labelledby=(title) {
            h3 id=(title) { (tr(lang, &format!("lesson-{which}-text"))) }
            @match texts.get(which) {
                Shown::Text(text) => {
                    @if text.truncated {
                        p.hint { (tr_with(lang, "lesson-text-truncated", &[("mib", (crate::extract::MAX_TEXT >> 20).into())])) }
                    }
                    div.text id={ (which) "-text" } tabindex="0" role="region" aria-labelledby=(title) {
                        (marked(&text.text, marks, findings))
                    }
                }
                Shown::Unavailable(why) => {
                    p.hint { (unavailable(lang, which, why)) }
                }
            }
        }
    }
}

/// The text with its marks. Page breaks (form feeds) show as a blank line.
fn marked(text: &str, marks: &[Mark], findings: &[Finding]) -> Markup {
    let plain = |from: usize, to: usize| text[from..to].replace('\u{c}', "\n\n");
    let mut pieces = Vec::with_capacity(2 * marks.len() + 1);
    let mut at = 0;
    for mark in marks {
        pieces.push((None, plain(at, mark.start)));
        pieces.push((Some(mark), plain(mark.start, mark.end)));
        at = mark.end;
    }
    pieces.push((None, plain(at, text.len())));
    let severity = |mark: &Mark| mark.findings.iter().map(|&i| findings[i].severity).max().unwrap_or(Severity::Info);
    let ids = |mark: &Mark| mark.findings.iter().map(|i| format!("finding-{i}")).collect::<Vec<_>>().join(" ");
    html! {
        @for (m, (mark, words)) in pieces.iter().enumerate() {
            @if let Some(mark) = *mark {
                mark class={ "place severity-" (severity_word(severity(mark))) } id={ "mark-" (m / 2) } tabindex="-1"
                    data-findings=(ids(mark)) { (words) }
            } @else {
                (words)
            }
        }
    }
}

fn unavailable(lang: Lang, which: &str, why: &Unavailable) -> String {
    match why {
        Unavailable::NoFile => tr(lang, &format!("lesson-no-{which}-file")),
        Unavailable::Unsupported => tr(lang, "lesson-text-unsupported"),
        Unavailable::Unreadable { format } => tr_with(lang, "lesson-text-unreadable", &[("format", (*format).into())]),
        Unavailable::TooLarge => {
            tr_with(lang, "lesson-text-too-large", &[("mib", (crate::extract::MAX_SOURCE >> 20).into())])
        }
        Unavailable::Store => tr(lang, "lesson-text-store"),
    }
}

#[cfg(test)]
pub(super) mod tests;
