//! The list page's template: tabs with counts, filters that fold on a phone, sortable
//! column headers, previous and next pages, the CSV export of the same view. Each cell
//! carries its column's name (`data-label`) for the phone layout, where rows stack.

use std::collections::HashMap;

use chrono::Utc;
use maud::{Markup, html};

use super::pages::{age, badge, kind_word, layout};
use super::session::Session;
use crate::db::State;
use crate::evaluator::DocumentSummary;
use crate::evaluator::query::{Counts, Listing, Tab};
use crate::evaluator::sort::{Direction, Sort};
use crate::ids::Kind;
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
            parts.push(format!("uploader={}", encode(uploader)));
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
    fn uploader_href(&self, uploader: &str) -> String {
        format!("?uploader={}", encode(uploader))
    }
}

/// A sortable column header: a link that sorts by it (or turns the order around when
/// it is the current one), with `aria-sort` on the current one.
fn header(view: &View, sort: Sort, label: &str) -> Markup {
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
                (label) @if current { span aria-hidden="true" { (arrow) } }
            }
        }
    }
}

pub(super) fn render(session: &Session, csrf: &str, view: &View, items: &[DocumentSummary]) -> Markup {
    let now = Utc::now();
    let evaluator = matches!(session.role, Role::Evaluator);
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
    let tab_name = view.listing.tab.map_or("All documents", Tab::words);
    layout(
        "Documents",
        Some((session, csrf)),
        html! {
            h1 { @if evaluator { "Documents" } @else { "Your documents" } }
            nav.tabs aria-label="Queues" {
                ul {
                    @for tab in tabs {
                        li {
                            a href=(view.href("/ui/", tab, view.listing.sort, view.listing.direction, None))
                                aria-current=[(tab == view.listing.tab).then_some("page")] data-tab=(tab.map_or("all", Tab::as_str)) {
                                (tab.map_or("All", Tab::words)) " " span.count { (view.counts.of(tab)) }
                            }
                        }
                    }
                }
            }
            details.fold open {
                summary { "Filters" }
                form.filters method="get" action="/ui/" role="search" aria-label="Filter the documents" {
                    @if view.listing.tab != view.default_tab {
                        input type="hidden" name="tab" value=(view.listing.tab.map_or("all", Tab::as_str));
                    }
                    @if (view.listing.sort, view.listing.direction) != (Sort::CreatedAt, Direction::Desc) {
                        input type="hidden" name="sort" value=(view.listing.sort.as_str());
                        input type="hidden" name="direction" value=(view.listing.direction.as_str());
                    }
                    div {
                        label for="state" { "State" }
                        select id="state" name="state" {
                            option value="" selected[filter.state.is_none()] { "any" }
                            @for state in State::ALL {
                                option value=(state.as_str()) selected[filter.state == Some(state)] { (state.as_str()) }
                            }
                        }
                    }
                    div {
                        label for="kind" { "Kind" }
                        select id="kind" name="kind" {
                            option value="" selected[filter.kind.is_none()] { "any" }
                            option value="document" selected[filter.kind == Some(Kind::Document)] { "lesson plan" }
                            option value="video" selected[filter.kind == Some(Kind::Video)] { "video" }
                        }
                    }
                    @if evaluator {
                        div {
                            label for="uploader" { "Uploader" }
                            input id="uploader" name="uploader" type="text" list="uploaders" autocomplete="off"
                                value=(filter.uploader.as_deref().unwrap_or(""));
                            // Filled by app.js from /ui/uploaders as the evaluator types.
                            datalist id="uploaders" {}
                        }
                    }
                    div {
                        label for="key" { "File name contains" }
                        input id="key" name="key" type="search" value=(filter.key.as_deref().unwrap_or(""));
                    }
                    button type="submit" { "Filter" }
                }
            }
            p.export { a href=(view.here("/ui/documents.csv", None)) download="documents.csv" { "Export this view as CSV" } }
            p.empty hidden[!items.is_empty()] { "No document matches." }
            // The first page in the default order takes new documents as they arrive (app.js).
            table hidden[items.is_empty()] data-live=[live.then_some("list")] data-tab=(view.listing.tab.map_or("all", Tab::as_str)) {
                caption.visually-hidden { (tab_name) ", sorted by " (view.listing.sort.as_str()) }
                thead { tr {
                    (header(view, Sort::Name, "File")) (header(view, Sort::State, "State"))
                    th scope="col" { "Kind" }
                    (header(view, Sort::Uploader, "Uploader")) (header(view, Sort::Findings, "Findings"))
                    th scope="col" { "Review" }
                    (header(view, Sort::CreatedAt, "Uploaded"))
                } }
                tbody {
                    @for item in items {
                        @let name = names::display_name(&item.key);
                        tr data-id=(item.id) {
                            td data-label="File" {
                                a href={ "/ui/documents/" (item.id) } { (name) }
                                @if seen.get(name).is_some_and(|n| *n > 1) && !names::folder(&item.key).is_empty() {
                                    " " span.folder { "in " (names::folder(&item.key)) }
                                }
                            }
                            td data-label="State" { (badge(item.state)) }
                            td data-label="Kind" { (kind_word(item.kind)) }
                            td data-label="Uploader" {
                                @if evaluator { a href=(view.uploader_href(&item.uploader_id)) { (item.uploader_id) } }
                                @else { (item.uploader_id) }
                            }
                            td data-label="Findings" { @if let Some(n) = item.findings { (n) } @else { "—" } }
                            td data-label="Review" {
                                @if let Some(review) = &item.review { span.reviewed { (review.verdict.words()) } }
                            }
                            td data-label="Uploaded" {
                                // app.js titles it with the time in the viewer's zone.
                                time datetime=(item.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (age(now, item.created_at)) }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="Pages" {
                @if view.listing.position.is_some() { a href=(view.here("/ui/", None)) { "First page" } }
                @if let Some(prev) = &view.prev { a rel="prev" href=(view.here("/ui/", Some(prev))) { "Previous page" } }
                @if let Some(next) = &view.next { a rel="next" href=(view.here("/ui/", Some(next))) { "Next page" } }
            }
        },
    )
}
