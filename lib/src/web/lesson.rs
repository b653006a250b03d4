//! The lesson plan's part of its document page: the findings and the corrected file.

use maud::{Markup, html};
use serde_json::Value;

use super::i18n::Lang;
use super::pages::text;
use crate::evaluator::DocumentResource;

pub(super) fn section(_lang: Lang, resource: &DocumentResource, record: &Value) -> Markup {
    let artifact = |role: &str| resource.artifacts.iter().find(|a| a.role == role);
    html! {
        section aria-labelledby="findings" {
            h2 id="findings" { "Findings" }
            @if let Some(corrected) = artifact("corrected") {
                p { a.download href=(corrected.url) download=(corrected.name) { "Download the corrected file (" (corrected.name) ")" } }
            }
            @let findings = record.get("findings").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            @if findings.is_empty() {
                p { "No finding: nothing to correct." }
            } @else {
                ol.findings {
                    @for finding in findings {
                        li {
                            p.meta { span.category { (text(finding, "category")) } " · " span class={ "severity severity-" (text(finding, "severity")) } { (text(finding, "severity")) } }
                            p { (text(finding, "message")) }
                            @if !text(finding, "excerpt").is_empty() { blockquote { (text(finding, "excerpt")) } }
                            @if !text(finding, "suggestion").is_empty() { p.suggestion { "Suggested: " (text(finding, "suggestion")) } }
                        }
                    }
                }
            }
        }
    }
}
