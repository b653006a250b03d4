//! A video's transcript for reading: the WebVTT artifact's cues, each with its times, its
//! speakers and its text cleaned of cue markup (voice spans `<v Speaker 1>`, classes
//! `<c.x>`, `<i>`, `<b>`, `<u>`, `<lang>`, ruby, timestamp tags) and character references.
//!
//! No WebVTT crate on crates.io reads cue text's voice spans and is kept up; this reader
//! is small and lenient on purpose: validate (`stages::validate::checks::parse_webvtt`)
//! already refused files that are not WebVTT, so here a cue whose timing does not parse is
//! skipped, stray markup is dropped or kept as text, and nothing panics.

use crate::stages::validate::checks::parse_timestamp;

/// One cue of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// Seconds from the start of the video.
    pub start: f64,
    pub end: f64,
    /// What is said, by whom: one part per voice, in order (a cue may hold a dialogue).
    pub parts: Vec<Part>,
}

/// Text said by one voice (`None`: the cue names no speaker).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub speaker: Option<String>,
    pub text: String,
}

/// The cues of a WebVTT file, in the file's order; those with a timing that does not parse
/// or no text are left out. The header, `NOTE`, `STYLE` and `REGION` blocks carry no cue.
pub fn cues(vtt: &str) -> Vec<Cue> {
    let vtt = vtt.trim_start_matches('\u{feff}').replace("\r\n", "\n").replace('\r', "\n");
    let mut found = Vec::new();
    for block in vtt.split("\n\n") {
        let mut lines = block.lines().skip_while(|line| !line.contains("-->"));
        let Some(timing) = lines.next() else { continue };
        let Some((start, end)) = timing.split_once("-->") else { continue };
        let end = end.split_whitespace().next().unwrap_or_default();
        let (Some(start), Some(end)) = (parse_timestamp(start.trim()), parse_timestamp(end)) else { continue };
        let payload: Vec<&str> = lines.collect();
        let parts = clean(&payload.join("\n"));
        if !parts.is_empty() {
            found.push(Cue { start, end: end.max(start), parts });
        }
    }
    found
}

/// A cue's text (its payload, lines joined by `\n`) without markup: the parts said by each
/// voice, whitespace collapsed. A voice span lasts to its `</v>`, to the next voice span or
/// to the end of the cue; a line break ends none. Ruby annotations (`<rt>`) are dropped, as
/// they repeat the base text. A `<` without its `>` is kept as text.
pub fn clean(payload: &str) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut speaker: Option<String> = None;
    let mut text = String::new();
    let mut ruby_text = 0usize;
    let mut rest = payload;
    let flush = |parts: &mut Vec<Part>, speaker: &Option<String>, text: &mut String| {
        let said = collapse(&decode(text));
        text.clear();
        if said.is_empty() {
            return;
        }
        match parts.last_mut() {
            Some(last) if last.speaker == *speaker => {
                last.text.push(' ');
                last.text.push_str(&said);
            }
            _ => parts.push(Part { speaker: speaker.clone(), text: said }),
        }
    };
    while let Some(open) = rest.find('<') {
        if ruby_text == 0 {
            text.push_str(&rest[..open]);
        }
        let Some(close) = rest[open..].find('>') else {
            // Not a tag: the rest is text.
            if ruby_text == 0 {
                text.push_str(&rest[open..]);
            }
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let (name, annotation) = match tag.split_once(|c: char| c.is_whitespace()) {
            Some((name, annotation)) => (name, annotation.trim()),
            None => (tag, ""),
        };
        // `v.loud` is a `v` with a class.
        let base = name.split('.').next().unwrap_or_default();
        match base {
            "v" => {
                flush(&mut parts, &speaker, &mut text);
                let name = collapse(&decode(annotation));
                speaker = (!name.is_empty()).then_some(name);
            }
            "/v" => {
                flush(&mut parts, &speaker, &mut text);
                speaker = None;
            }
            "rt" => ruby_text += 1,
            "/rt" => ruby_text = ruby_text.saturating_sub(1),
            // Other tags (`c`, `i`, `b`, `u`, `lang`, `ruby`, timestamps) only style text:
            // a word boundary is kept where a timestamp tag sat between two words.
            _ if base.starts_with(|c: char| c.is_ascii_digit()) => text.push(' '),
            _ => {}
        }
    }
    if ruby_text == 0 {
        text.push_str(rest);
    }
    flush(&mut parts, &speaker, &mut text);
    parts
}

/// Runs of whitespace (line breaks included) as one space, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// WebVTT's character references: the named ones cue text uses, and numeric ones. An
/// unknown or malformed reference stays as written.
fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.char_indices().take(12).find(|(_, c)| *c == ';').map(|(i, _)| i);
        let decoded = end.and_then(|end| reference(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn reference(name: &str) -> Option<char> {
    let number = |digits: &str, radix| u32::from_str_radix(digits, radix).ok().and_then(char::from_u32);
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        "lrm" => Some('\u{200e}'),
        "rlm" => Some('\u{200f}'),
        _ => match name.strip_prefix('#')? {
            hex if hex.starts_with(['x', 'X']) => number(&hex[1..], 16),
            decimal => number(decimal, 10),
        }
        .filter(|c| *c != '\0'),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn speaker(cue: &Cue) -> Option<&str> {
        cue.parts[0].speaker.as_deref()
    }

    fn part(speaker: Option<&str>, text: &str) -> Part {
        Part { speaker: speaker.map(str::to_owned), text: text.to_owned() }
    }

    #[test]
    fn a_voice_span_names_the_speaker_and_leaves_the_text() {
        assert_eq!(clean("<v Speaker 1>Good morning, everyone."), [part(Some("Speaker 1"), "Good morning, everyone.")]);
        assert_eq!(clean("<v.loud Ms Dupont>Silence!</v>"), [part(Some("Ms Dupont"), "Silence!")]);
    }

    #[test]
    fn a_cue_without_a_voice_has_no_speaker() {
        assert_eq!(clean("Please open your workbooks."), [part(None, "Please open your workbooks.")]);
        assert_eq!(clean("<v>Nobody named</v>"), [part(None, "Nobody named")]);
    }

    #[test]
    fn styling_tags_timestamps_and_ruby_text_are_dropped() {
        assert_eq!(
            clean("<c.yellow>Who</c> can <i>tell</i> <b>me</b> <u>what</u> <lang fr>photosynthèse</lang> needs?"),
            [part(None, "Who can tell me what photosynthèse needs?")]
        );
        assert_eq!(clean("Water,<00:00:01.500>carbon dioxide"), [part(None, "Water, carbon dioxide")]);
        assert_eq!(clean("<ruby>漢<rt>kan</rt>字<rt>ji</rt></ruby>"), [part(None, "漢字")]);
    }

    #[test]
    fn character_references_are_decoded_and_unknown_ones_kept() {
        assert_eq!(
            clean("Fish &amp; chips &lt;3 &#233;t&#xE9; &nbsp;&lrm;x &bogus; a & b &#0;"),
            [part(None, "Fish & chips <3 été \u{200e}x &bogus; a & b &#0;")]
        );
        assert_eq!(clean("<v Tom &amp; Jerry>Hi"), [part(Some("Tom & Jerry"), "Hi")]);
    }

    #[test]
    fn a_dialogue_in_one_cue_keeps_each_speaker() {
        assert_eq!(
            clean("<v Teacher>Who knows?\n<v Pupil>Me!"),
            [part(Some("Teacher"), "Who knows?"), part(Some("Pupil"), "Me!")]
        );
        // Lines of one voice are one part.
        assert_eq!(clean("<v A>one\ntwo</v>\nthree"), [part(Some("A"), "one two"), part(None, "three")]);
    }

    #[test]
    fn a_lone_angle_bracket_is_text() {
        assert_eq!(clean("3 < 4"), [part(None, "3 < 4")]);
        assert_eq!(clean("a <b> c"), [part(None, "a c")]);
        assert!(clean("<i></i>   ").is_empty());
    }

    #[test]
    fn cues_come_with_their_times_in_file_order() {
        let vtt = "\u{feff}WEBVTT - a lesson\r\n\r\nNOTE made by hand\r\n\r\nSTYLE\n::cue { color: red }\n\n\
                   1\n00:00:00.000 --> 00:00:02.500 align:start\n<v Speaker 1>Hello class.\nToday: fractions.\n\n\
                   00:02.500 --> 00:05.000\n<v Speaker 2>Halves first.\n\n\
                   00:05.000 --> bad\nskipped\n\n\
                   01:00:01.000 --> 01:00:02.000\n<i></i>\n\n\
                   01:00:02.000 --> 01:00:03.000\nNo speaker here.\n";
        let found = cues(vtt);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!((found[0].start, found[0].end), (0.0, 2.5));
        assert_eq!(found[0].parts, [part(Some("Speaker 1"), "Hello class. Today: fractions.")]);
        assert_eq!(speaker(&found[1]), Some("Speaker 2"));
        assert_eq!((found[2].start, speaker(&found[2])), (3602.0, None));
    }

    #[test]
    fn the_provider_simulators_transcript_reads_with_speakers() {
        let vtt = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.667\n<v Speaker 1>Good morning, everyone.\n\n\
                   2\n00:00:01.667 --> 00:00:03.333\n<v Speaker 2>Who can tell me?\n";
        let found = cues(vtt);
        assert_eq!(found.iter().map(|c| speaker(c).unwrap()).collect::<Vec<_>>(), ["Speaker 1", "Speaker 2"]);
        assert!(found.iter().all(|c| !c.parts[0].text.contains('<')));
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panicking_and_without_markup(text in ".{0,300}") {
            let _ = cues(&text);
            for part in clean(&text) {
                prop_assert!(!part.text.is_empty());
                prop_assert_eq!(part.text.trim(), part.text.as_str());
            }
        }

        #[test]
        fn a_cue_of_tags_and_words_keeps_every_word(words in prop::collection::vec("[a-z]{1,8}", 1..12), tags in prop::collection::vec(prop::sample::select(vec!["<i>", "</i>", "<c.x>", "</c>", "<b>", "<v S>", "</v>", "<00:00:01.000>", "\n"]), 12)) {
            let mut payload = String::new();
            for (word, tag) in words.iter().zip(tags.iter().cycle()) {
                payload.push_str(tag);
                payload.push_str(word);
                payload.push(' ');
            }
            let said: Vec<String> = clean(&payload).iter().flat_map(|p| p.text.split(' ').map(str::to_owned).collect::<Vec<_>>()).collect();
            prop_assert_eq!(said, words);
        }
    }
}
