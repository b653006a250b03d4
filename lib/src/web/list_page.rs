//! The list page's template: tabs with counts, filters that fold on a phone, sortable
//! column headers, previous and next pages, the CSV export of the same view. Each cell
//! carries its column's name (`data-label`) for the phone layout, where rows stack.

use std::collections::HashMap;

use chrono::Utc;
use maud::{Markup, html};

use super::i18n::{Lang, tr, tr_with};
use super::pages::{Viewer, age, badge, kind_word, layout, state_words};
use super::session::Session;
use crate::db::State;
use crate::evaluator::DocumentSummary;
use crate::evaluator::query::{Counts, Listing, Tab};
use crate::evaluator::sort::{Direction, Sort};
use crate::ids::{Kind, UploaderId};
use crate::review::names;
use crate::settings::tokens::Role;

/// What the page shows besides its rows.
pub(super) struct View<'a> {
    pub listing: &'a Listing,
    pub default_tab: Option<Tab>,
    pub limit: Option<u64>,
    pub counts: Counts,
    pub next: Option<String>,
    pub prev: Option<String>,
}

fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl View<'_> {
    /// The address of this view with another tab, order, cursor or uploader.
    fn href(&self, path: &str, tab: Option<Tab>, sort: Sort, direction: Direction, cursor: Option<&str>) -> String {
        let filter = &self.listing.filter;
        let mut parts = Vec::new();
        if tab != self.default_tab {
            parts.push(format!("tab={}", tab.map_or("all", Tab::as_str)));
        }
        if let Some(state) = filter.state {
            parts.push(format!("state={}", state.as_str()));
        }
        if let Some(kind) = filter.kind {
            parts.push(format!("kind={}", kind.as_str()));
        }
        if let Some(uploader) = &filter.uploader {
            parts.push(format!("uploader={}", encode(uploader.as_str())));
        }
        if let Some(key) = &filter.key {
            parts.push(format!("key={}", encode(key)));
        }
        if (sort, direction) != (Sort::CreatedAt, Direction::Desc) {
            parts.push(format!("sort={}&direction={}", sort.as_str(), direction.as_str()));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            parts.push(format!("cursor={}", encode(cursor)));
        }
        if parts.is_empty() { path.to_owned() } else { format!("{path}?{}", parts.join("&")) }
    }

    fn here(&self, path: &str, cursor: Option<&str>) -> String {
        self.href(path, self.listing.tab, self.listing.sort, self.listing.direction, cursor)
    }

    /// Relative and short: rows cost bytes at 500 a page.
    fn uploader_href(&self, uploader: &UploaderId) -> String {
        format!("?uploader={}", encode(uploader.as_str()))
    }
}

/// The catalogue's name of a tab (`None`: all of them).
pub(super) fn tab_word(lang: Lang, tab: Option<Tab>) -> String {
    tr(lang, &format!("list-tab-{}", tab.map_or("all", Tab::as_str).replace('_', "-")))
}

/// The column a sort orders by, as its header says it.
fn sort_word(lang: Lang, sort: Sort) -> String {
    tr(lang, &format!("list-column-{}", sort.as_str().replace('_', "-")))
}

/// A sortable column header: a link that sorts by it (or turns the order around when
/// it is the current one), with `aria-sort` on the current one.
fn header(lang: Lang, view: &View, sort: Sort) -> Markup {
    let current = view.listing.sort == sort;
    let direction = if current { view.listing.direction.reversed() } else { sort.natural() };
    let aria = current.then_some(match view.listing.direction {
        Direction::Asc => "ascending",
        Direction::Desc => "descending",
    });
    let arrow = match (current, view.listing.direction) {
        (false, _) => "",
        (true, Direction::Asc) => " ▲",
        (true, Direction::Desc) => " ▼",
    };
    html! {
        th scope="col" aria-sort=[aria] {
            a href=(view.href("/ui/", view.listing.tab, sort, direction, None)) {
                (sort_word(lang, sort)) @if current { span aria-hidden="true" { (arrow) } }
            }
        }
    }
}

/// What the list's script says, in the page's language (`data-words` on the table): the
/// badges' words for this viewer and "just now". Kept small (it is on every first page):
/// the script reads the columns' labels from the table's header and the kinds' words from
/// the kind filter.
fn script_words(lang: Lang, viewer: Viewer) -> String {
    serde_json::json!({
        "badges": serde_json::from_str::<serde_json::Value>(&state_words(lang, viewer)).unwrap_or_default(),
        "now": tr(lang, "common-age-now"),
    })
    .to_string()
}

/// The columns' names, in order (the phone layout's row labels).
const LABELS: [&str; 7] = [
    "list-column-name",
    "list-column-state",
    "list-column-kind",
    "list-column-uploader",
    "list-column-findings",
    "list-column-review",
    "list-column-created-at",
];

/// `waits`: for a teacher with documents in processing, how long each kind usually takes.
pub(super) fn render(
    lang: Lang,
    session: &Session,
    csrf: &str,
    view: &View,
    items: &[DocumentSummary],
    waits: &[String],
) -> Markup {
    let now = Utc::now();
    let evaluator = matches!(session.role, Role::Evaluator);
    let viewer = Viewer::of(&session.role);
    let filter = &view.listing.filter;
    let tabs: [Option<Tab>; 5] =
        [Some(Tab::ToReview), Some(Tab::InProgress), Some(Tab::NeedsAttention), Some(Tab::Reviewed), None];
    // Names that appear twice on the page show their folder.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for item in items {
        *seen.entry(names::display_name(&item.key)).or_default() += 1;
    }
    let live = view.listing.position.is_none()
        && (view.listing.sort, view.listing.direction) == (Sort::CreatedAt, Direction::Desc);
    let label = |i: usize| tr(lang, LABELS[i]);
    let labels: Vec<String> = (0..LABELS.len()).map(label).collect();
    let any = tr(lang, "list-any");
    layout(
        lang,
        &tr(lang, "list-title"),
        Some((session, csrf)),
        html! {
            h1 { @if evaluator { (tr(lang, "list-title")) } @else { (tr(lang, "list-title-own")) } }
            @for wait in waits { p.wait { (wait) } }
            nav.tabs aria-label=(tr(lang, "list-queues")) {
                ul {
                    @for tab in tabs {
                        li {
                            a href=(view.href("/ui/", tab, view.listing.sort, view.listing.direction, None))
                                aria-current=[(tab == view.listing.tab).then_some("page")] data-tab=(tab.map_or("all", Tab::as_str)) {
                                (tab_word(lang, tab)) " " span.count { (view.counts.of(tab)) }
                            }
                        }
                    }
                }
            }
            details.fold open {
                summary { (tr(lang, "list-filters")) }
                form.filters method="get" action="/ui/" role="search" aria-label=(tr(lang, "list-filter-the-documents")) {
                    @if view.listing.tab != view.default_tab {
                        input type="hidden" name="tab" value=(view.listing.tab.map_or("all", Tab::as_str));
                    }
                    @if (view.listing.sort, view.listing.direction) != (Sort::CreatedAt, Direction::Desc) {
                        input type="hidden" name="sort" value=(view.listing.sort.as_str());
                        input type="hidden" name="direction" value=(view.listing.direction.as_str());
                    }
                    // A teacher reads phases, not states: no filter by state.
                    @if evaluator { div {
                        label for="state" { (labels[1]) }
                        select id="state" name="state" {
                            option value="" selected[filter.state.is_none()] { (any) }
                            @for state in State::ALL {
                                option value=(state.as_str()) selected[filter.state == Some(state)] { (tr(lang, &format!("state-{}", state.as_str()))) }
                            }
                        }
                    } }
                    div {
                        label for="kind" { (labels[2]) }
                        select id="kind" name="kind" {
                            option value="" selected[filter.kind.is_none()] { (any) }
                            option value="document" selected[filter.kind == Some(Kind::Document)] { (kind_word(lang, Kind::Document)) }
                            option value="video" selected[filter.kind == Some(Kind::Video)] { (kind_word(lang, Kind::Video)) }
                        }
                    }
                    @if evaluator {
                        div {
                            label for="uploader" { (labels[3]) }
                            input id="uploader" name="uploader" type="text" list="uploaders" autocomplete="off"
                                value=(filter.uploader.as_ref().map_or("", UploaderId::as_str));
                            // Filled by app.js from /ui/uploaders as the evaluator types.
                            datalist id="uploaders" {}
                        }
                    }
                    div {
                        label for="key" { (tr(lang, "list-name-contains")) }
                        input id="key" name="key" type="search" value=(filter.key.as_deref().unwrap_or(""));
                    }
                    button type="submit" { (tr(lang, "list-filter")) }
                }
            }
            p.export { a href=(view.here("/ui/documents.csv", None)) download="documents.csv" { (tr(lang, "list-export")) } }
            p.empty hidden[!items.is_empty()] { (tr(lang, "list-empty")) }
            // The first page in the default order takes new documents as they arrive (app.js).
            table hidden[items.is_empty()] data-live=[live.then_some("list")] data-tab=(view.listing.tab.map_or("all", Tab::as_str))
                data-words=[live.then(|| script_words(lang, viewer))] {
                caption.visually-hidden { (tr_with(lang, "list-caption", &[("tab", tab_word(lang, view.listing.tab).into()), ("column", sort_word(lang, view.listing.sort).into())])) }
                thead { tr {
                    (header(lang, view, Sort::Name)) (header(lang, view, Sort::State))
                    th scope="col" { (labels[2]) }
                    (header(lang, view, Sort::Uploader)) (header(lang, view, Sort::Findings))
                    th scope="col" { (labels[5]) }
                    (header(lang, view, Sort::CreatedAt))
                } }
                tbody {
                    @for item in items {
                        @let name = names::display_name(&item.key);
                        tr data-id=(item.id) {
                            td data-label=(labels[0]) {
                                a href={ "/ui/documents/" (item.id) } { (name) }
                                @if seen.get(name).is_some_and(|n| *n > 1) && !names::folder(&item.key).is_empty() {
                                    " " span.folder { (tr_with(lang, "list-in-folder", &[("folder", names::folder(&item.key).to_owned().into())])) }
                                }
                            }
                            td data-label=(labels[1]) { (badge(lang, viewer, item.state)) }
                            td data-label=(labels[2]) { (kind_word(lang, item.kind)) }
                            td data-label=(labels[3]) {
                                @if evaluator { a href=(view.uploader_href(&item.uploader_id)) { (item.uploader_id) } }
                                @else { (item.uploader_id) }
                            }
                            td data-label=(labels[4]) { @if let Some(n) = item.findings { (n) } @else { "—" } }
                            td data-label=(labels[5]) {
                                @if let Some(review) = &item.review { span.reviewed { (super::review::verdict_word(lang, review.verdict)) } }
                                @else { "—" }
                            }
                            td data-label=(labels[6]) {
                                // app.js titles it with the time in the viewer's zone.
                                time datetime=(item.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (age(lang, now, item.created_at)) }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label=(tr(lang, "list-pages")) {
                @if view.listing.position.is_some() { a href=(view.here("/ui/", None)) { (tr(lang, "list-first-page")) } }
                @if let Some(prev) = &view.prev { a rel="prev" href=(view.here("/ui/", Some(prev))) { (tr(lang, "list-previous-page")) } }
                @if let Some(next) = &view.next { a rel="next" href=(view.here("/ui/", Some(next))) { (tr(lang, "list-next-page")) } }
            }
        },
    )
}
