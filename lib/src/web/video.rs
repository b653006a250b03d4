//! The video's part of its document page: the player, its summary, chapters and transcript.

use maud::{Markup, html};
use serde_json::Value;

use super::i18n::Lang;
use super::pages::{seconds, text};
use crate::evaluator::DocumentResource;

pub(super) fn section(_lang: Lang, resource: &DocumentResource, record: &Value) -> Markup {
    let summary = &resource.summary;
    let artifact = |role: &str| resource.artifacts.iter().find(|a| a.role == role);
    html! {
        section aria-labelledby="video" {
            h2 id="video" { "Video" }
            @if let Some(rendition) = artifact("rendition") {
                video controls preload="metadata" src=(rendition.url)
                    poster=[artifact("thumbnail").map(|t| t.url.as_str())] {
                    @if artifact("transcript").is_some() {
                        track kind="captions" default label="Transcript" srclang=(text(record, "language"))
                            src={ "/ui/documents/" (summary.id) "/transcript.vtt" };
                    }
                    a href=(rendition.url) download=(rendition.name) { "Download the video" }
                }
            } @else {
                p { "The provider made no playable copy of this video." }
            }
            h3 { "Summary" }
            dl.facts {
                dt { "Length" } dd { (seconds(record.get("duration_seconds").and_then(Value::as_f64).unwrap_or(0.0))) }
                dt { "Language" } dd { (text(record, "language")) }
                @if let Some(speakers) = record.get("speakers").and_then(Value::as_u64) { dt { "Speakers" } dd { (speakers) } }
            }
            @let chapters = record.get("chapters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            @if !chapters.is_empty() {
                h3 { "Chapters" }
                ol.chapters {
                    @for chapter in chapters {
                        @let start = chapter.get("start").and_then(Value::as_f64).unwrap_or(0.0).max(0.0);
                        li { a href="#video" data-seek=(start) { span.at { (seconds(start)) } " " (text(chapter, "title")) } }
                    }
                }
            }
            h3 { "Transcript" }
            div.transcript { (text(record, "transcript")) }
        }
    }
}
