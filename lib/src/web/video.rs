//! The video's part of its document page, a workspace: the player held in view (sticky on
//! a wide screen, stacked on a phone) beside the transcript, with the summary and the
//! chapters under the player.
//!
//! The transcript is the stored WebVTT artifact read on the server ([`super::webvtt`]):
//! cleaned of cue markup, labelled by speaker, each cue timestamped. Each cue's and
//! chapter's time is a link to this page with `?t=SECONDS#player`, which starts the player
//! there (a media fragment) without the script; with it (`app.js`, block "video") a click
//! seeks in place, and the cue being said is highlighted (`aria-current`) and kept in view
//! as the video plays. When the artifact cannot be read, the record's plain text is shown.

use std::time::Duration;

use maud::{Markup, html};
use serde::Deserialize;

use super::WebState;
use super::i18n::{Lang, tr, tr_with};
use super::webvtt::{self, Cue, Part};
use crate::evaluator::DocumentResource;
use crate::ids::Kind;
use crate::provider::protocol::Role;
use crate::stages::normalize::record::{Content, Record};

/// How long a page waits for the transcript artifact before showing the record's text.
const READ_FOR: Duration = Duration::from_secs(5);

/// What the video section shows, read before the page is drawn.
pub(super) struct Workspace {
    record: Result<Record, String>,
    transcript: Transcript,
    /// `?t=`: where the player starts, in seconds.
    at: Option<f64>,
}

enum Transcript {
    Cues(Vec<Cue>),
    /// No transcript artifact, or one that could not be read or held no cue.
    Unavailable,
}

/// The `?t=` of a page address: seconds, finite and not negative.
pub(super) fn start_at(pairs: &[(String, String)]) -> Option<f64> {
    let value = pairs.iter().find_map(|(k, v)| (k == "t").then_some(v))?;
    value.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0)
}

/// The workspace of a normalized video; `None` for anything else.
pub(super) async fn load(state: &WebState, resource: &DocumentResource, at: Option<f64>) -> Option<Workspace> {
    let value = resource.normalized.as_ref().filter(|_| resource.summary.kind == Kind::Video)?;
    let record = Record::deserialize(value).map_err(|e| e.to_string());
    let transcript = match &record {
        Ok(record) => read_transcript(state, record).await,
        Err(_) => Transcript::Unavailable,
    };
    Some(Workspace { record, transcript, at })
}

async fn read_transcript(state: &WebState, record: &Record) -> Transcript {
    let Some(artifact) = record.artifacts.iter().find(|a| a.role == Role::Transcript) else {
        return Transcript::Unavailable;
    };
    let bucket = &state.evaluator.settings.s3.results_bucket;
    let read = state.evaluator.store.read_small(bucket, &artifact.key, super::MAX_TRANSCRIPT);
    match tokio::time::timeout(READ_FOR, read).await {
        Ok(Ok(bytes)) => {
            let mut cues = webvtt::cues(&String::from_utf8_lossy(&bytes));
            cues.sort_by(|a, b| a.start.total_cmp(&b.start));
            if cues.is_empty() { Transcript::Unavailable } else { Transcript::Cues(cues) }
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, key = %artifact.key, "cannot read a transcript for a video's page");
            Transcript::Unavailable
        }
        Err(_) => {
            tracing::warn!(key = %artifact.key, "the store did not answer in time for a video's transcript");
            Transcript::Unavailable
        }
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub(super) fn clock(seconds: f64) -> String {
    let total = if seconds.is_finite() { seconds.max(0.0) as u64 } else { 0 };
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

/// A number of seconds as an attribute: `12.5`, `95`.
fn seconds_attr(seconds: f64) -> String {
    let rounded = (seconds.max(0.0) * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// A language tag in words, in the viewer's language: `English`, `anglais (en-GB)`; an
/// unknown tag as it is.
pub(super) fn language_name(lang: Lang, tag: &str) -> String {
    let primary = tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    let name = tr_with(lang, "video-language-name", &[("code", primary.as_str().into())]);
    if name == primary || primary.is_empty() {
        tag.to_owned()
    } else if primary.len() == tag.len() {
        name
    } else {
        format!("{name} ({tag})")
    }
}

/// A time; with a player, a link that seeks it: to `?t=`, with the script's `data-seek`.
fn time_of(lang: Lang, seconds: f64, seeks: bool) -> Markup {
    let at = seconds_attr(seconds);
    let time = html! { time datetime={ "PT" (at) "S" } { (clock(seconds)) } };
    html! {
        @if seeks {
            a.at href={ "?t=" (at) "#player" } data-seek=(at) {
                span.visually-hidden { (tr(lang, "video-play-from")) " " }
                (time)
            }
        } @else {
            span.at { (time) }
        }
    }
}

pub(super) fn section(lang: Lang, resource: &DocumentResource, workspace: &Workspace) -> Markup {
    let summary = &resource.summary;
    let artifact = |role: Role| resource.artifacts.iter().find(|a| a.role == role);
    let video = match &workspace.record {
        Ok(Record {
            content: Content::Video { duration_seconds, language, speakers, chapters, transcript }, ..
        }) => Some((*duration_seconds, language.as_str(), *speakers, chapters.as_slice(), transcript.as_str())),
        _ => None,
    };
    let language = video.map(|v| v.1).unwrap_or("");
    let playable = artifact(Role::Rendition);
    html! {
        section.video aria-labelledby="video" {
            h2 id="video" { (tr(lang, "video-heading")) }
            @if let Err(error) = &workspace.record {
                p.problem { (tr_with(lang, "video-record-unreadable", &[("error", error.as_str().into())])) }
            }
            div.workspace {
                div.stage {
                    @if let Some(rendition) = playable {
                        @let src = match workspace.at {
                            Some(at) => format!("{}#t={}", rendition.url, seconds_attr(at)),
                            None => rendition.url.clone(),
                        };
                        video #player controls preload="metadata" src=(src)
                            poster=[artifact(Role::Thumbnail).map(|t| t.url.as_str())] {
                            @if artifact(Role::Transcript).is_some() && !language.is_empty() {
                                track kind="captions" default label=(tr(lang, "video-captions")) srclang=(language)
                                    src={ "/ui/documents/" (summary.id) "/transcript.vtt" };
                            }
                            a href=(rendition.url) download=(rendition.name) { (tr(lang, "video-download")) }
                        }
                    } @else {
                        p { (tr(lang, "video-no-copy")) }
                    }
                    @if let Some((duration, language, speakers, chapters, _)) = video {
                        h3 { (tr(lang, "video-summary")) }
                        dl.facts {
                            dt { (tr(lang, "video-length")) } dd { (clock(duration)) }
                            dt { (tr(lang, "video-language")) } dd { (language_name(lang, language)) }
                            @if let Some(speakers) = speakers { dt { (tr(lang, "video-speakers")) } dd { (speakers) } }
                        }
                        @if !chapters.is_empty() {
                            h3 { (tr(lang, "video-chapters")) }
                            ol.chapters {
                                @for chapter in chapters {
                                    li { (time_of(lang, chapter.start, playable.is_some())) " " (chapter.title) }
                                }
                            }
                        }
                    }
                }
                @if let Some((.., text)) = video {
                    div.said {
                        h3 id="transcript" { (tr(lang, "video-transcript")) }
                        @match &workspace.transcript {
                            Transcript::Cues(cues) => { (cue_list(lang, cues, playable.is_some())) }
                            Transcript::Unavailable => { (plain(lang, text)) }
                        }
                    }
                }
            }
        }
    }
}

/// The cues, a speaker named where the voice changes; times link to the player when
/// there is one.
fn cue_list(lang: Lang, cues: &[Cue], seeks: bool) -> Markup {
    let mut last: Option<&str> = None;
    html! {
        ol.cues aria-labelledby="transcript" {
            @for cue in cues {
                li data-start=(seconds_attr(cue.start)) data-end=(seconds_attr(cue.end)) {
                    (time_of(lang, cue.start, seeks))
                    div.lines {
                        @for part in &cue.parts {
                            (said(part, &mut last))
                        }
                    }
                }
            }
        }
    }
}

fn said<'c>(part: &'c Part, last: &mut Option<&'c str>) -> Markup {
    let speaker = part.speaker.as_deref();
    let changed = speaker.is_some() && speaker != *last;
    *last = speaker.or(*last);
    html! {
        p {
            @if let (true, Some(name)) = (changed, speaker) {
                span.speaker { (name) } " "
            }
            (part.text)
        }
    }
}

/// The record's transcript (its text cue by cue, without times), cleaned the same way.
fn plain(lang: Lang, text: &str) -> Markup {
    let mut last: Option<&str> = None;
    let parts: Vec<Part> = text.lines().flat_map(webvtt::clean).collect();
    html! {
        p.hint { (tr(lang, "video-transcript-untimed")) }
        div.cues-plain {
            @for part in &parts { (said(part, &mut last)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_clock() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(95.9), "1:35");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(clock(f64::NAN), "0:00");
        assert_eq!(clock(-3.0), "0:00");
        assert_eq!(seconds_attr(12.5), "12.5");
        assert_eq!(seconds_attr(95.0), "95");
        assert_eq!(seconds_attr(1.666_666_7), "1.667");
    }

    #[test]
    fn a_language_is_named_in_the_viewers_language() {
        assert_eq!(language_name(Lang::En, "en"), "English");
        assert_eq!(language_name(Lang::Fr, "en"), "anglais");
        assert_eq!(language_name(Lang::En, "fr"), "French");
        assert_eq!(language_name(Lang::Fr, "fr-CA"), "français (fr-CA)");
        assert_eq!(language_name(Lang::En, "DE"), "German");
        assert_eq!(language_name(Lang::En, "tlh"), "tlh", "an unknown tag as it is");
        assert_eq!(language_name(Lang::En, ""), "");
    }

    #[test]
    fn the_start_comes_from_t_when_it_is_a_time() {
        let pairs = |t: &str| vec![("x".to_owned(), "1".to_owned()), ("t".to_owned(), t.to_owned())];
        assert_eq!(start_at(&pairs("12.5")), Some(12.5));
        assert_eq!(start_at(&pairs("-1")), None);
        assert_eq!(start_at(&pairs("NaN")), None);
        assert_eq!(start_at(&pairs("inf")), None);
        assert_eq!(start_at(&pairs("soon")), None);
        assert_eq!(start_at(&[]), None);
    }

    #[test]
    fn a_speaker_is_named_where_the_voice_changes() {
        let cue = |start: f64, speaker: Option<&str>, text: &str| Cue {
            start,
            end: start + 1.0,
            parts: vec![Part { speaker: speaker.map(str::to_owned), text: text.to_owned() }],
        };
        let cues = [
            cue(0.0, Some("Ms Lee"), "Hello."),
            cue(1.0, Some("Ms Lee"), "Sit down."),
            cue(2.0, None, "(noise)"),
            cue(3.0, Some("Sam"), "Hi!"),
        ];
        let html = cue_list(Lang::En, &cues, true).into_string();
        assert_eq!(html.matches("<span class=\"speaker\">Ms Lee</span>").count(), 1, "{html}");
        assert_eq!(html.matches("<span class=\"speaker\">Sam</span>").count(), 1, "{html}");
        assert!(html.contains("href=\"?t=2#player\" data-seek=\"2\""), "{html}");
        assert!(html.contains("<time datetime=\"PT3S\">0:03</time>"), "{html}");
        assert!(!cue_list(Lang::En, &cues, false).into_string().contains("data-seek"), "no player, no seeking");
    }

    #[test]
    fn the_records_text_is_shown_cleaned_when_the_cues_cannot_be_read() {
        let html =
            plain(Lang::En, "<v Speaker 1>Good morning.\n<v Speaker 1>Sit down.\n<v Speaker 2><i>Hi</i> &amp; bye")
                .into_string();
        assert!(!html.contains("&lt;v") && !html.contains("<i>"), "{html}");
        assert_eq!(html.matches("Speaker 1</span>").count(), 1, "{html}");
        assert!(html.contains("Hi &amp; bye"), "{html}");
    }
}
