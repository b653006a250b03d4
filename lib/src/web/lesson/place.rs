//! Where each finding is in the lesson plan's text, and what of the text its card shows.
//! Pure functions over the text (as `crate::extract` reads it) and the findings.
//!
//! A finding is placed, in this order:
//! 1. by its character offsets (protocol version 2), when they fall inside the text and,
//!    if the finding has an excerpt, inside an occurrence of the excerpt: offsets that do
//!    not agree with the text (a provider that read a PDF differently, say) are not
//!    trusted;
//! 2. by its excerpt, found exactly, else ignoring case and runs of whitespace (a
//!    provider that reflowed the text); a trailing `…` or `...` (an excerpt cut short) is
//!    not part of it. Several occurrences are told apart by the finding's paragraph and
//!    page when it gives them, then by whole words, then the first wins;
//! 3. else it is not placed: listed with its excerpt as the provider gave it, never
//!    dropped.
//!
//! Paragraphs are lines (`\n`), counted through the whole text and within each page
//! (pages are separated by `\u{c}`): a provider may count either way.

use std::collections::BTreeMap;

use crate::provider::protocol::{Finding, Location, Severity};

/// How a finding was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Offsets,
    Exact,
    Loose,
}

/// A finding's place: byte offsets `start..end` in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub start: usize,
    pub end: usize,
    pub how: How,
}

/// The most occurrences of one excerpt considered.
const MAX_OCCURRENCES: usize = 2000;

/// Each finding's place in `text`, in the findings' order.
pub fn place_all(text: &str, findings: &[Finding]) -> Vec<Option<Place>> {
    let index = Index::new(text);
    findings.iter().map(|finding| place(&index, finding)).collect()
}

fn place(index: &Index<'_>, finding: &Finding) -> Option<Place> {
    let location = finding.location.unwrap_or_default();
    let excerpt = finding.excerpt.as_deref().and_then(clean_excerpt);
    if let Some((start, end)) = offsets(index.text, location) {
        let agrees = excerpt.is_none_or(|excerpt| index.loose(excerpt).iter().any(|&(s, e)| s <= start && end <= e));
        if agrees {
            return Some(Place { start, end, how: How::Offsets });
        }
    }
    let excerpt = excerpt?;
    let exact: Vec<(usize, usize)> =
        index.text.match_indices(excerpt).take(MAX_OCCURRENCES).map(|(at, found)| (at, at + found.len())).collect();
    let (found, how) = if exact.is_empty() { (index.loose(excerpt), How::Loose) } else { (exact, How::Exact) };
    let (start, end) = index.best(&found, location)?;
    Some(Place { start, end, how })
}

/// An excerpt without surrounding space and without the mark of a cut (`…`, `...`) at
/// either end; `None` when nothing is left.
fn clean_excerpt(excerpt: &str) -> Option<&str> {
    let mut text = excerpt.trim();
    for mark in ["…", "..."] {
        text = text.strip_suffix(mark).unwrap_or(text).trim_end();
        text = text.strip_prefix(mark).unwrap_or(text).trim_start();
    }
    (!text.is_empty()).then_some(text)
}

/// Character offsets as byte offsets into `text`, when both are there and inside it.
fn offsets(text: &str, location: Location) -> Option<(usize, usize)> {
    let (start, end) = (usize::try_from(location.start?).ok()?, usize::try_from(location.end?).ok()?);
    if start >= end {
        return None;
    }
    let mut bytes = text.char_indices().map(|(at, _)| at).chain(std::iter::once(text.len()));
    let start_byte = bytes.nth(start)?;
    let end_byte = bytes.nth(end - start - 1)?;
    Some((start_byte, end_byte))
}

/// The text with what finding it needs: its line and page starts, and (made on first
/// use) a folded copy for the loose search.
struct Index<'t> {
    text: &'t str,
    /// Byte offsets of every `\n` and `\u{c}`, and of every `\u{c}`.
    breaks: Vec<usize>,
    pages: Vec<usize>,
    folded: std::cell::OnceCell<Folded>,
}

/// The text lowercased with each run of whitespace as one space, and for each of its
/// bytes the original bytes it came from.
struct Folded {
    text: String,
    origin: Vec<(u32, u32)>,
}

fn fold(text: &str) -> Folded {
    let mut folded = String::with_capacity(text.len());
    let mut origin: Vec<(u32, u32)> = Vec::with_capacity(text.len());
    let mut space = false;
    for (at, c) in text.char_indices() {
        let from = (at as u32, (at + c.len_utf8()) as u32);
        if c.is_whitespace() {
            if space {
                // The run's one space now stands for all of it.
                if let Some(last) = origin.last_mut() {
                    last.1 = from.1;
                }
                continue;
            }
            space = true;
            folded.push(' ');
            origin.push(from);
            continue;
        }
        space = false;
        for lower in c.to_lowercase() {
            folded.push(lower);
            origin.extend(std::iter::repeat_n(from, lower.len_utf8()));
        }
    }
    Folded { text: folded, origin }
}

impl<'t> Index<'t> {
    fn new(text: &'t str) -> Index<'t> {
        let breaks = text.match_indices(['\n', '\u{c}']).map(|(at, _)| at).collect();
        let pages = text.match_indices('\u{c}').map(|(at, _)| at).collect();
        Index { text, breaks, pages, folded: std::cell::OnceCell::new() }
    }

    /// The occurrences of `needle`, ignoring case and runs of whitespace, as byte ranges
    /// of the text.
    fn loose(&self, needle: &str) -> Vec<(usize, usize)> {
        let folded = self.folded.get_or_init(|| fold(self.text));
        let needle = fold(needle.trim()).text;
        if needle.is_empty() {
            return Vec::new();
        }
        folded
            .text
            .match_indices(needle.as_str())
            .take(MAX_OCCURRENCES)
            .map(|(at, found)| (folded.origin[at].0 as usize, folded.origin[at + found.len() - 1].1 as usize))
            .collect()
    }

    /// 1-based page, paragraph in the text and paragraph in its page of byte `at`.
    fn position(&self, at: usize) -> (u32, u32, u32) {
        let page_start = self.pages.partition_point(|&p| p < at);
        let line = self.breaks.partition_point(|&b| b < at);
        let line_of_page_start = match page_start {
            0 => 0,
            n => self.breaks.partition_point(|&b| b <= self.pages[n - 1]),
        };
        (1 + page_start as u32, 1 + line as u32, 1 + (line - line_of_page_start) as u32)
    }

    fn whole_words(&self, (start, end): (usize, usize)) -> bool {
        let before = self.text[..start].chars().next_back();
        let after = self.text[end..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    }

    /// The occurrence that best fits `location`: in its paragraph, on its page, whole
    /// words, then the first.
    fn best(&self, found: &[(usize, usize)], location: Location) -> Option<(usize, usize)> {
        let score = |&span: &(usize, usize)| {
            let (page, paragraph, in_page) = self.position(span.0);
            let on_page = location.page.is_some_and(|p| p == page);
            let in_paragraph = location.paragraph.is_some_and(|p| {
                p == paragraph || (p == in_page && (on_page || location.page.is_none()) && !self.pages.is_empty())
            });
            4 * u8::from(in_paragraph) + 2 * u8::from(on_page) + u8::from(self.whole_words(span))
        };
        // The first of the best: `max_by_key` keeps the last, so reverse.
        found.iter().rev().max_by_key(|span| score(span)).copied()
    }
}

/// The text a finding's card shows: the flagged words with up to `radius` characters of
/// their paragraph on each side, cut at a word boundary; `cut_before` / `cut_after` when
/// the paragraph goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt<'t> {
    pub before: &'t str,
    pub flagged: &'t str,
    pub after: &'t str,
    pub cut_before: bool,
    pub cut_after: bool,
}

pub fn around(text: &str, place: Place, radius: usize) -> Excerpt<'_> {
    let is_break = |c: char| c == '\n' || c == '\u{c}';
    let head = &text[..place.start];
    let paragraph_start = head.rfind(is_break).map_or(0, |at| at + 1);
    let head = &head[paragraph_start..];
    let (before, cut_before) = match head.char_indices().rev().nth(radius) {
        // Longer than the radius: keep the last `radius` characters, from a word start.
        Some((at, _)) => {
            let kept = &head[at..];
            let from = if head[..at].ends_with(char::is_whitespace) {
                0
            } else {
                kept.find(char::is_whitespace).map_or(0, |s| s + 1)
            };
            (kept[from..].trim_start(), true)
        }
        None => (head, false),
    };
    let tail = &text[place.end..];
    let tail = &tail[..tail.find(is_break).unwrap_or(tail.len())];
    let (after, cut_after) = match tail.char_indices().nth(radius) {
        Some((at, _)) => {
            let kept = &tail[..at];
            let to = if tail[at..].starts_with(char::is_whitespace) {
                kept.len()
            } else {
                kept.rfind(char::is_whitespace).unwrap_or(kept.len())
            };
            (kept[..to].trim_end(), true)
        }
        None => (tail, false),
    };
    Excerpt { before, flagged: &text[place.start..place.end], after, cut_before, cut_after }
}

/// A highlighted stretch of the text: the union of overlapping places. `findings` are
/// the findings it stands for, the first of them (in text order) naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub start: usize,
    pub end: usize,
    pub findings: Vec<usize>,
}

/// The marks of `places`, in text order and never overlapping, and for each finding the
/// mark it is in (`None` when unplaced).
pub fn marks(places: &[Option<Place>]) -> (Vec<Mark>, Vec<Option<usize>>) {
    let mut order: Vec<(usize, Place)> =
        places.iter().enumerate().filter_map(|(i, place)| place.map(|p| (i, p))).collect();
    order.sort_by_key(|(i, p)| (p.start, std::cmp::Reverse(p.end), *i));
    let mut marks: Vec<Mark> = Vec::new();
    let mut of = vec![None; places.len()];
    for (i, place) in order {
        match marks.last_mut() {
            Some(last) if place.start < last.end => {
                last.end = last.end.max(place.end);
                last.findings.push(i);
            }
            _ => marks.push(Mark { start: place.start, end: place.end, findings: vec![i] }),
        }
        of[i] = Some(marks.len() - 1);
    }
    (marks, of)
}

/// The findings by severity, most severe first, each group in text order (unplaced
/// findings last, in the provider's order).
pub fn by_severity(findings: &[Finding], places: &[Option<Place>]) -> Vec<(Severity, Vec<usize>)> {
    let mut groups: BTreeMap<std::cmp::Reverse<Severity>, Vec<usize>> = BTreeMap::new();
    for (i, finding) in findings.iter().enumerate() {
        groups.entry(std::cmp::Reverse(finding.severity)).or_default().push(i);
    }
    groups
        .into_iter()
        .map(|(std::cmp::Reverse(severity), mut members)| {
            members.sort_by_key(|&i| (places.get(i).copied().flatten().map_or(usize::MAX, |p| p.start), i));
            (severity, members)
        })
        .collect()
}

/// How many of each key.
pub fn counts<K: Ord>(keys: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::protocol::FindingCategory;

    fn finding(excerpt: Option<&str>, location: Location) -> Finding {
        Finding {
            category: FindingCategory::Spelling,
            severity: Severity::Minor,
            message: "m".into(),
            excerpt: excerpt.map(str::to_owned),
            suggestion: None,
            location: Some(location),
        }
    }

    fn at(paragraph: u32) -> Location {
        Location { paragraph: Some(paragraph), ..Location::default() }
    }

    fn offsets_at(start: u64, end: u64) -> Location {
        Location { start: Some(start), end: Some(end), ..Location::default() }
    }

    fn placed<'t>(text: &'t str, finding: &Finding) -> Option<(&'t str, How)> {
        place_all(text, std::slice::from_ref(finding))[0].map(|p| (&text[p.start..p.end], p.how))
    }

    #[test]
    fn an_excerpt_is_found_exactly_then_ignoring_case_and_spacing() {
        let text = "Year 5 · Fractions\nWe  will\tRECIEVE the\nworksheets.";
        assert_eq!(placed(text, &finding(Some("Fractions"), at(1))), Some(("Fractions", How::Exact)));
        let loose = placed(text, &finding(Some("we will recieve"), at(2))).unwrap();
        assert_eq!(loose, ("We  will\tRECIEVE", How::Loose));
        assert_eq!(placed(text, &finding(Some("recieve the worksheets…"), at(2))).unwrap().1, How::Loose);
        assert_eq!(placed(text, &finding(Some("  · Fractions "), at(1))), Some(("· Fractions", How::Exact)));
    }

    #[test]
    fn several_occurrences_are_told_apart_by_paragraph_then_page_then_whole_words() {
        let text = "teh start\nthere is teh cat\nteh end";
        let place = |location| place_all(text, &[finding(Some("teh"), location)])[0].unwrap().start;
        assert_eq!(place(at(2)), text.find("is teh").unwrap() + 3);
        assert_eq!(place(at(3)), text.rfind("teh").unwrap());
        assert_eq!(place(Location::default()), 0, "no location: the first");
        // Pages: paragraph 1 of page 2 is the text's third line.
        let pages = "the plan\nthe aim\u{c}the plan again";
        let page2 = Location { page: Some(2), paragraph: Some(1), ..Location::default() };
        assert_eq!(
            place_all(pages, &[finding(Some("the plan"), page2)])[0].unwrap().start,
            pages.rfind("the plan").unwrap()
        );
        // Whole words before a word that only contains it.
        let words = "other the";
        assert_eq!(place_all(words, &[finding(Some("the"), Location::default())])[0].unwrap().start, 6);
    }

    #[test]
    fn offsets_are_used_when_they_agree_with_the_text_and_the_excerpt() {
        let text = "Année 5: teh plan, teh end";
        // Character offsets, not bytes: "é" is two bytes.
        let second = text.rfind("teh").unwrap();
        let chars = text[..second].chars().count() as u64;
        let f = finding(Some("teh end"), offsets_at(chars, chars + 3));
        assert_eq!(placed(text, &f), Some(("teh", How::Offsets)));
        assert_eq!(place_all(text, &[f])[0].unwrap().start, second);
        // Without an excerpt, offsets inside the text are enough.
        assert_eq!(placed(text, &finding(None, offsets_at(0, 5))), Some(("Année", How::Offsets)));
    }

    #[test]
    fn offsets_that_disagree_or_fall_outside_fall_back_to_the_excerpt() {
        let text = "We recieve the plan.";
        assert_eq!(placed(text, &finding(Some("recieve"), offsets_at(0, 2))), Some(("recieve", How::Exact)));
        assert_eq!(placed(text, &finding(Some("recieve"), offsets_at(15, 900))), Some(("recieve", How::Exact)));
        assert_eq!(placed(text, &finding(None, offsets_at(15, 900))), None);
    }

    #[test]
    fn a_finding_not_in_the_text_is_unplaced() {
        let text = "We receive the plan.";
        assert_eq!(placed(text, &finding(Some("photosynthesis"), at(1))), None);
        assert_eq!(placed(text, &finding(Some(" … "), at(1))), None);
        assert_eq!(placed(text, &finding(None, at(1))), None);
        assert_eq!(placed("", &finding(Some("x"), Location::default())), None);
    }

    #[test]
    fn the_card_centres_the_flagged_words_in_their_paragraph() {
        let text = "First line.\nThe pupils will definately recieve a worksheet about fractions today.\nLast.";
        let start = text.find("recieve").unwrap();
        let place = Place { start, end: start + 7, how: How::Exact };
        let whole = around(text, place, 200);
        assert_eq!(
            (whole.before, whole.flagged, whole.after),
            ("The pupils will definately ", "recieve", " a worksheet about fractions today.")
        );
        assert!(!whole.cut_before && !whole.cut_after, "the paragraph alone, whole");
        let short = around(text, place, 12);
        assert_eq!((short.before, short.flagged, short.after), ("definately ", "recieve", " a worksheet"));
        assert!(short.cut_before && short.cut_after);
        // At the start of the text, nothing before.
        let first = around(text, Place { start: 0, end: 5, how: How::Exact }, 10);
        assert_eq!((first.before, first.flagged, first.cut_before), ("", "First", false));
    }

    #[test]
    fn overlapping_places_share_one_mark() {
        let p = |start, end| Some(Place { start, end, how: How::Exact });
        let (marks, of) = marks(&[p(10, 20), None, p(0, 4), p(12, 30), p(40, 41)]);
        assert_eq!(
            marks,
            vec![
                Mark { start: 0, end: 4, findings: vec![2] },
                Mark { start: 10, end: 30, findings: vec![0, 3] },
                Mark { start: 40, end: 41, findings: vec![4] },
            ]
        );
        assert_eq!(of, vec![Some(1), None, Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn findings_are_grouped_most_severe_first_in_text_order() {
        let with = |severity, excerpt: &str| Finding { severity, ..finding(Some(excerpt), Location::default()) };
        let findings = [
            with(Severity::Minor, "b"),
            with(Severity::Major, "x"),
            with(Severity::Minor, "a"),
            with(Severity::Info, "c"),
        ];
        let places = [
            Some(Place { start: 5, end: 6, how: How::Exact }),
            None,
            Some(Place { start: 1, end: 2, how: How::Exact }),
            None,
        ];
        let groups = by_severity(&findings, &places);
        assert_eq!(groups, vec![(Severity::Major, vec![1]), (Severity::Minor, vec![2, 0]), (Severity::Info, vec![3])]);
        assert_eq!(counts(findings.iter().map(|f| f.severity))[&Severity::Minor], 2);
    }
}
