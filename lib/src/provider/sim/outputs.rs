//! Deterministic results per kind: the same source bytes always give the same result
//! bytes, so tests can compare what they get across runs.
//!
//! document: `corrected` (the source with a small change that keeps its format readable)
//! and `findings`; video: `transcript` (WebVTT) and `summary`, plus a `rendition` when the
//! upload is a container a browser plays as it is (an MP4 whose movie box holds a track, or
//! a WebM): the upload's own bytes, so a page can play the video with its captions. Each is
//! written to `{results_dir}/{role}`.

use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::ids::Kind;
use crate::provider::protocol::{
    Chapter, Finding, FindingCategory, Findings, JobMetadata, Location, Role, Severity, Summary,
};

/// Sources up to this size are analysed and corrected whole; larger ones are copied.
const ANALYSE_LIMIT: u64 = 8 << 20;

/// Typos the "proofreader" knows, with their fixes.
const TYPOS: [(&str, &str); 8] = [
    ("teh", "the"),
    ("recieve", "receive"),
    ("seperate", "separate"),
    ("occured", "occurred"),
    ("definately", "definitely"),
    ("wich", "which"),
    ("untill", "until"),
    ("acheive", "achieve"),
];

const ZIP_COMMENT: &[u8] = b"proofread by docflow provider-sim";

pub(super) struct Output {
    pub role: Role,
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub size: u64,
}

pub(super) async fn produce(meta: &JobMetadata, source: &Path, results_dir: &Path) -> io::Result<Vec<Output>> {
    tokio::fs::create_dir_all(results_dir).await?;
    let size = tokio::fs::metadata(source).await?.len();
    let whole = size <= ANALYSE_LIMIT;
    let bytes = if whole { tokio::fs::read(source).await? } else { read_prefix(source, 1 << 20).await? };
    let seed: [u8; 32] = Sha256::digest(&bytes).into();
    let mut outputs = Vec::new();
    match meta.kind {
        Kind::Document => {
            let corrected_path = results_dir.join(Role::Corrected.as_str());
            if whole {
                tokio::fs::write(&corrected_path, correct(&bytes)).await?;
            } else {
                tokio::fs::copy(source, &corrected_path).await?;
            }
            outputs
                .push(output(Role::Corrected, corrected_name(&meta.file_name), &meta.content_type, results_dir).await?);
            // The text docflow shows (and counts offsets in): a PDF's or a Word file's too.
            let text = if whole {
                let source = bytes.clone();
                let extracted = tokio::task::spawn_blocking(move || crate::extract::text_of(&source)).await;
                extracted.ok().and_then(Result::ok).map(|t| t.text)
            } else {
                std::str::from_utf8(&bytes).ok().map(str::to_owned)
            };
            let findings =
                serde_json::to_vec_pretty(&findings(text.as_deref(), size, &seed)).expect("findings serialize");
            tokio::fs::write(results_dir.join(Role::Findings.as_str()), findings).await?;
            outputs.push(output(Role::Findings, "findings.json".into(), "application/json", results_dir).await?);
        }
        Kind::Video => {
            let duration = duration_of(size);
            tokio::fs::write(results_dir.join(Role::Transcript.as_str()), transcript(duration, &seed)).await?;
            outputs.push(output(Role::Transcript, "transcript.vtt".into(), "text/vtt", results_dir).await?);
            let summary = serde_json::to_vec_pretty(&summary(duration, &seed)).expect("a summary serializes");
            tokio::fs::write(results_dir.join(Role::Summary.as_str()), summary).await?;
            outputs.push(output(Role::Summary, "summary.json".into(), "application/json", results_dir).await?);
            if let Some(content_type) = playable_container(source, &bytes).await? {
                tokio::fs::copy(source, results_dir.join(Role::Rendition.as_str())).await?;
                let name = base_name(&meta.file_name).to_owned();
                outputs.push(output(Role::Rendition, name, content_type, results_dir).await?);
            }
        }
    }
    Ok(outputs)
}

async fn read_prefix(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    tokio::fs::File::open(path).await?.take(limit).read_to_end(&mut bytes).await?;
    Ok(bytes)
}

async fn output(role: Role, name: String, content_type: &str, results_dir: &Path) -> io::Result<Output> {
    let (size, sha256) = hash_file(&results_dir.join(role.as_str())).await?;
    Ok(Output { role, name, content_type: content_type.to_owned(), sha256, size })
}

async fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok((size, hex::encode(hash.finalize())));
        }
        hash.update(&buffer[..read]);
        size += read as u64;
    }
}

/// The container type of a video a browser plays as it is: an MP4 (or QuickTime) file
/// whose movie box holds at least one track, or a WebM. `head` is the file's first bytes.
/// Anything else (bytes that only start like an MP4, say) has no rendition.
async fn playable_container(source: &Path, head: &[u8]) -> io::Result<Option<&'static str>> {
    if infer::get(head).is_some_and(|found| found.mime_type() == "video/webm") {
        return Ok(Some("video/webm"));
    }
    if head.get(4..8) != Some(b"ftyp") {
        return Ok(None);
    }
    let mut file = tokio::fs::File::open(source).await?;
    let len = file.metadata().await?.len();
    let mut at = 0u64;
    // Top-level boxes: `size` (32 bits, 1 = a 64-bit size follows, 0 = to the end), `type`.
    for _ in 0..1024 {
        if at + 8 > len {
            break;
        }
        let mut header = [0u8; 16];
        file.seek(io::SeekFrom::Start(at)).await?;
        let read = file.read(&mut header).await?;
        let (size, header_len) = match u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) {
            0 => (len - at, 8),
            1 if read >= 16 => (u64::from_be_bytes(header[8..16].try_into().expect("8 bytes")), 16),
            size => (u64::from(size), 8),
        };
        if size < header_len || at.checked_add(size).is_none_or(|end| end > len) {
            break;
        }
        if &header[4..8] == b"moov" {
            // A movie box of a few MiB at most holds the tracks' tables of any short clip.
            let body_len = (size - header_len).min(16 << 20);
            let mut body = vec![0u8; body_len as usize];
            file.seek(io::SeekFrom::Start(at + header_len)).await?;
            file.read_exact(&mut body).await?;
            return Ok(has_track(&body).then_some("video/mp4"));
        }
        at += size;
    }
    Ok(None)
}

/// Whether a movie box's body holds a `trak` box among its children.
fn has_track(moov: &[u8]) -> bool {
    let mut at = 0usize;
    while let Some(header) = moov.get(at..at + 8) {
        let size = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        if &header[4..8] == b"trak" {
            return true;
        }
        if size < 8 {
            return false;
        }
        at += size;
    }
    false
}

fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name)
}

/// `lesson plan week 3.docx` -> `lesson plan week 3.corrected.docx`.
fn corrected_name(file_name: &str) -> String {
    let base = base_name(file_name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.corrected.{ext}"),
        _ => format!("{base}.corrected"),
    }
}

/// The "proofread" document: text gets its known typos fixed and a final newline; a Word
/// (.docx) or OpenDocument (.odt) file gets them fixed in its document's text, other ZIP
/// containers an archive comment; a PDF a trailing comment line; anything else stays as
/// it is. Each keeps its format and its magic bytes.
fn correct(bytes: &[u8]) -> Vec<u8> {
    if bytes.starts_with(b"PK\x03\x04")
        && let Some(corrected) = correct_office(bytes)
    {
        return corrected;
    }
    let eocd = bytes.len().checked_sub(22);
    if let Some(at) = eocd.filter(|&at| bytes.starts_with(b"PK\x03\x04") && bytes[at..at + 4] == *b"PK\x05\x06") {
        // The end-of-central-directory record closes the file when it has no comment:
        // giving it one leaves every entry readable.
        if bytes[at + 20..at + 22] == [0, 0] {
            let mut out = bytes.to_vec();
            out[at + 20..at + 22].copy_from_slice(&(ZIP_COMMENT.len() as u16).to_le_bytes());
            out.extend_from_slice(ZIP_COMMENT);
            return out;
        }
        return bytes.to_vec();
    }
    if bytes.starts_with(b"%PDF") {
        let mut out = bytes.to_vec();
        out.extend_from_slice(b"\n% proofread by docflow provider-sim\n");
        return out;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut fixed = fix_typos(text);
            if !fixed.ends_with('\n') {
                fixed.push('\n');
            }
            fixed.into_bytes()
        }
        Err(_) => bytes.to_vec(),
    }
}

/// A .docx or .odt with the typos of its document's text fixed, every other entry copied
/// as it is; `None` for any other ZIP, or one that does not read.
fn correct_office(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let part = ["word/document.xml", "content.xml"].into_iter().find(|p| archive.index_for_name(p).is_some())?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let entry = archive.by_index(i).ok()?;
        if entry.name() == part {
            let mut xml = String::new();
            entry.take(crate::extract::MAX_XML).read_to_string(&mut xml).ok()?;
            let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            out.start_file(part, options).ok()?;
            out.write_all(fix_xml_text(&xml).as_bytes()).ok()?;
        } else {
            out.raw_copy_file(entry).ok()?;
        }
    }
    out.set_comment(std::str::from_utf8(ZIP_COMMENT).expect("ASCII"));
    Some(out.finish().ok()?.into_inner())
}

/// [`fix_typos`] on an XML document's text, its markup left alone.
fn fix_xml_text(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        out.push_str(&fix_typos(&rest[..open]));
        let close = rest[open..].find('>').map_or(rest.len(), |at| open + at + 1);
        out.push_str(&rest[open..close]);
        rest = &rest[close..];
    }
    out.push_str(&fix_typos(rest));
    out
}

/// Replaces whole words of [`TYPOS`], keeping a leading capital.
fn fix_typos(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (is_word, piece) in words_and_gaps(text) {
        match is_word.then(|| fix_for(piece)).flatten() {
            Some(fix) if piece.starts_with(|c: char| c.is_uppercase()) => {
                let mut chars = fix.chars();
                out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            }
            Some(fix) => out.push_str(fix),
            None => out.push_str(piece),
        }
    }
    out
}

fn fix_for(word: &str) -> Option<&'static str> {
    let lower = word.to_lowercase();
    TYPOS.iter().find(|(typo, _)| *typo == lower).map(|(_, fix)| *fix)
}

/// Splits text into runs of letters (words) and everything between them.
fn words_and_gaps(text: &str) -> Vec<(bool, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, c) in text.char_indices() {
        let letter = c.is_alphabetic();
        match in_word {
            Some(w) if w != letter => {
                pieces.push((w, &text[start..i]));
                start = i;
            }
            _ => {}
        }
        in_word = Some(letter);
    }
    if let Some(w) = in_word {
        pieces.push((w, &text[start..]));
    }
    pieces
}

/// A word of the text, where it is: what a finding points at.
struct Spot<'t> {
    paragraph: &'t str,
    /// Byte range of the word in its paragraph.
    at: (usize, usize),
    /// Character offsets of the word in the whole text (protocol version 2).
    chars: (u64, u64),
    page: u32,
    /// Counted through the whole text, as lines (a page break also ends one).
    number: u32,
}

impl Spot<'_> {
    fn location(&self) -> Option<Location> {
        Some(Location {
            page: Some(self.page),
            paragraph: Some(self.number),
            start: Some(self.chars.0),
            end: Some(self.chars.1),
        })
    }

    fn excerpt(&self) -> Option<String> {
        Some(excerpt_around(self.paragraph, self.at))
    }
}

/// Every word of `text`, and every run of two spaces (with the words on either side).
fn spots(text: &str) -> (Vec<Spot<'_>>, Vec<Spot<'_>>) {
    let (mut words, mut doubles) = (Vec::new(), Vec::new());
    let (mut page, mut number, mut offset) = (1u32, 1u32, 0u64);
    let mut rest = text;
    loop {
        let end = rest.find(['\n', '\u{c}']).unwrap_or(rest.len());
        let paragraph = &rest[..end];
        let chars_to = |byte: usize| offset + paragraph[..byte].chars().count() as u64;
        let mut at = 0;
        for (is_word, piece) in words_and_gaps(paragraph) {
            let span = (at, at + piece.len());
            if is_word {
                words.push(Spot { paragraph, at: span, chars: (chars_to(span.0), chars_to(span.1)), page, number });
            }
            at = span.1;
        }
        if let Some(space) = paragraph.find("  ") {
            let from = paragraph[..space].rfind(char::is_whitespace).map_or(0, |i| i + 1);
            let after = space + paragraph[space..].find(|c: char| c != ' ').unwrap_or(paragraph.len() - space);
            let to = after + paragraph[after..].find(char::is_whitespace).unwrap_or(paragraph.len() - after);
            doubles.push(Spot { paragraph, at: (from, to), chars: (chars_to(from), chars_to(to)), page, number });
        }
        offset += paragraph.chars().count() as u64;
        let Some(separator) = rest[end..].chars().next() else { break };
        if separator == '\u{c}' {
            page += 1;
        }
        offset += 1;
        number += 1;
        rest = &rest[end + separator.len_utf8()..];
    }
    (words, doubles)
}

fn findings(text: Option<&str>, size: u64, seed: &[u8; 32]) -> Findings {
    let mut findings = Vec::new();
    let word_count = match text {
        Some(text) => text.split_whitespace().count() as u64,
        // A binary container: about six bytes a word of its compressed text.
        None => size / 6,
    };
    let (words, doubles) = text.map(spots).unwrap_or_default();
    for spot in &words {
        let word = &spot.paragraph[spot.at.0..spot.at.1];
        if let Some(fix) = fix_for(word) {
            findings.push(Finding {
                category: FindingCategory::Spelling,
                severity: Severity::Minor,
                message: format!("\"{word}\" is misspelled"),
                excerpt: spot.excerpt(),
                suggestion: Some(fix.to_owned()),
                location: spot.location(),
            });
        }
    }
    for spot in &doubles {
        findings.push(Finding {
            category: FindingCategory::Style,
            severity: Severity::Info,
            message: "two spaces between words".into(),
            excerpt: spot.excerpt(),
            suggestion: Some("use one space".into()),
            location: spot.location(),
        });
    }
    // Findings in text order, as a proofreader reports them.
    findings.sort_by_key(|f| f.location.and_then(|l| l.start));
    // A few more drawn from the content's hash, so every document has some.
    const CATEGORIES: [FindingCategory; 5] = [
        FindingCategory::Spelling,
        FindingCategory::Grammar,
        FindingCategory::Style,
        FindingCategory::Clarity,
        FindingCategory::Other,
    ];
    const SEVERITIES: [Severity; 3] = [Severity::Info, Severity::Minor, Severity::Major];
    for i in 0..(1 + seed[0] as usize % 3) {
        let category = CATEGORIES[seed[1 + i] as usize % CATEGORIES.len()];
        let severity = SEVERITIES[seed[4 + i] as usize % SEVERITIES.len()];
        let spot = (!words.is_empty()).then(|| &words[seed[7 + i] as usize * 31 % words.len()]);
        let (message, suggestion) = match category {
            FindingCategory::Spelling => ("check the spelling of this word", None),
            FindingCategory::Grammar => ("this sentence may lack a verb", None),
            FindingCategory::Style => ("consider a shorter sentence", Some("split the sentence in two")),
            FindingCategory::Clarity => {
                ("the learning objective is not stated", Some("state what pupils will be able to do"))
            }
            FindingCategory::Other => ("no date given for this lesson", None),
        };
        findings.push(Finding {
            category,
            severity,
            message: message.into(),
            excerpt: spot.and_then(Spot::excerpt),
            suggestion: suggestion.map(str::to_owned),
            location: match spot {
                Some(spot) => spot.location(),
                None => Some(Location {
                    page: Some(1 + seed[10 + i] as u32 % 3),
                    paragraph: Some(1 + seed[13 + i] as u32 % 12),
                    ..Location::default()
                }),
            },
        });
    }
    findings.truncate(50);
    Findings { findings, word_count, language: "en".into() }
}

/// The flagged words `at` (a byte range of `paragraph`) with up to 30 characters of the
/// paragraph on each side, cut at a space, `…` where it goes on: the flagged words are
/// never cut off, and two findings of one paragraph have excerpts of their own.
fn excerpt_around(paragraph: &str, (start, end): (usize, usize)) -> String {
    const SIDE: usize = 30;
    let head = &paragraph[..start];
    let before = match head.char_indices().rev().nth(SIDE) {
        Some((at, _)) => {
            let kept = &head[at..];
            format!("…{}", &kept[kept.find(' ').map_or(0, |i| i + 1)..])
        }
        None => head.to_owned(),
    };
    let tail = &paragraph[end..];
    let after = match tail.char_indices().nth(SIDE) {
        Some((at, _)) => {
            let kept = &tail[..at];
            format!("{}…", &kept[..kept.rfind(' ').unwrap_or(kept.len())])
        }
        None => tail.to_owned(),
    };
    format!("{before}{}{after}", &paragraph[start..end]).trim().to_owned()
}

/// A video's length, estimated from its size at about 1 Mbit/s, from 5 s to 2 h.
fn duration_of(size: u64) -> f64 {
    let seconds = (size as f64 / 125_000.0).clamp(5.0, 7_200.0);
    (seconds * 10.0).round() / 10.0
}

const LINES: [&str; 6] = [
    "Good morning, everyone, and welcome back.",
    "Today we look at how plants turn light into food.",
    "Please open your workbooks at page twelve.",
    "Who can tell me what photosynthesis needs?",
    "That's right: water, carbon dioxide and light.",
    "For next week, finish the worksheet on leaves.",
];

/// About one cue every six seconds, as a speech recogniser cuts them: at least three, at
/// most 1,200 (two hours).
fn cue_count(duration: f64, seed: &[u8; 32]) -> usize {
    ((duration / 6.0) as usize).clamp(3 + seed[0] as usize % 3, 1_200)
}

/// WebVTT with one cue per equal slice of the video, each in a voice span naming its
/// speaker (`<v Speaker 2>`) as a recogniser that tells voices apart writes them; a
/// speaker goes on for two cues at times, and every fifth cue runs over two lines.
fn transcript(duration: f64, seed: &[u8; 32]) -> String {
    let cues = cue_count(duration, seed);
    let speakers = speakers(seed);
    let run = 1 + seed[4] as usize % 2;
    let mut vtt = String::from("WEBVTT\n");
    for i in 0..cues {
        let start = duration * i as f64 / cues as f64;
        let end = duration * (i + 1) as f64 / cues as f64;
        let line = LINES[(seed[1] as usize + i) % LINES.len()];
        let text = if i % 5 == 4 { line.replacen(", ", ",\n", 1) } else { line.to_owned() };
        let speaker = 1 + (i / run) as u32 % speakers;
        vtt.push_str(&format!(
            "\n{}\n{} --> {}\n<v Speaker {speaker}>{text}\n",
            i + 1,
            timestamp(start),
            timestamp(end)
        ));
    }
    vtt
}

fn timestamp(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", millis / 3_600_000, millis / 60_000 % 60, millis / 1000 % 60, millis % 1000)
}

fn speakers(seed: &[u8; 32]) -> u32 {
    1 + seed[2] as u32 % 3
}

fn summary(duration: f64, seed: &[u8; 32]) -> Summary {
    const TITLES: [&str; 4] = ["Introduction", "Main activity", "Questions", "Homework"];
    let chapters = (0..2 + seed[3] as usize % 3)
        .map(|i| Chapter { start: (duration * i as f64 / 4.0 * 10.0).round() / 10.0, title: TITLES[i].into() })
        .collect();
    Summary { duration_seconds: duration, language: "en".into(), speakers: Some(speakers(seed)), chapters }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_fixed_as_whole_words_keeping_capitals() {
        assert_eq!(fix_typos("Teh cat saw teh tehran wich"), "The cat saw the tehran which");
    }

    #[test]
    fn text_is_corrected_and_ends_with_a_newline() {
        assert_eq!(correct(b"recieve it"), b"receive it\n");
        assert_eq!(correct(b"fine\n"), b"fine\n");
    }

    #[test]
    fn a_word_file_comes_back_a_word_file_with_its_typos_fixed() {
        let docx = crate::extract::samples::docx(&["Teh plan", "We recieve <the> worksheet"]);
        let corrected = correct(&docx);
        assert!(corrected.starts_with(b"PK\x03\x04"));
        assert_eq!(crate::extract::text_of(&corrected).unwrap().text, "The plan\nWe receive <the> worksheet");
    }

    #[test]
    fn a_zip_gets_a_comment_and_keeps_its_magic() {
        // The smallest ZIP: an empty archive is just its end record.
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(b"PK\x05\x06");
        zip.extend_from_slice(&[0; 18]);
        let out = correct(&zip);
        assert!(out.starts_with(b"PK\x03\x04"));
        assert_eq!(u16::from_le_bytes([out[zip.len() - 2], out[zip.len() - 1]]) as usize, ZIP_COMMENT.len());
        assert!(out.ends_with(ZIP_COMMENT));
    }

    #[test]
    fn findings_carry_offsets_of_the_flagged_words_and_excerpts_centred_on_them() {
        let text =
            "Titre\u{c}Année 5: the pupils will definately recieve a worksheet about fractions and decimals today.";
        let seed = [0u8; 32];
        let found = findings(Some(text), text.len() as u64, &seed);
        let chars: Vec<char> = text.chars().collect();
        let word = |f: &Finding| {
            let l = f.location.unwrap();
            chars[l.start.unwrap() as usize..l.end.unwrap() as usize].iter().collect::<String>()
        };
        let recieve = found.findings.iter().find(|f| f.suggestion.as_deref() == Some("receive")).unwrap();
        assert_eq!(word(recieve), "recieve");
        assert_eq!(recieve.location.unwrap().page, Some(2));
        assert_eq!(recieve.location.unwrap().paragraph, Some(2));
        let excerpt = recieve.excerpt.as_deref().unwrap();
        assert!(excerpt.starts_with('…') && excerpt.ends_with('…') && excerpt.contains(" recieve "), "{excerpt}");
        let definately = found.findings.iter().find(|f| f.suggestion.as_deref() == Some("definitely")).unwrap();
        assert_ne!(definately.excerpt, recieve.excerpt, "each finding has its own excerpt");
        // Every finding with offsets is placed by them in the text docflow shows.
        for f in &found.findings {
            let l = f.location.unwrap();
            assert!(l.end.unwrap() as usize <= chars.len() && l.start < l.end, "{f:?}");
        }
    }

    #[test]
    fn findings_are_deterministic_and_count_words() {
        let text = "Teh plan  for week three.\nWe recieve homework.";
        let seed: [u8; 32] = Sha256::digest(text).into();
        let a = findings(Some(text), text.len() as u64, &seed);
        assert_eq!(a, findings(Some(text), text.len() as u64, &seed));
        assert_eq!(a.word_count, 8);
        assert!(a.findings.iter().any(|f| f.suggestion.as_deref() == Some("the")));
        assert!(a.findings.iter().any(|f| f.suggestion.as_deref() == Some("receive")));
        assert!(a.findings.iter().any(|f| f.category == FindingCategory::Style));
    }

    async fn container_of(bytes: &[u8]) -> Option<&'static str> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("video");
        std::fs::write(&path, bytes).unwrap();
        playable_container(&path, bytes).await.unwrap()
    }

    #[tokio::test]
    async fn only_a_container_with_a_track_is_playable() {
        let clip = include_bytes!("../../../../samples/classroom-clip.mp4");
        assert_eq!(container_of(clip).await, Some("video/mp4"));
        // An `ftyp` box and then nothing a player could read.
        let mut fake = b"\0\0\0\x18ftypmp42".to_vec();
        fake.resize(4096, 7);
        assert_eq!(container_of(&fake).await, None);
        // A movie box without a track, as an empty recording has.
        let mut empty = b"\0\0\0\x10ftypisom\0\0\x02\0\0\0\0\x10moov\0\0\0\x08mvhd".to_vec();
        empty.extend_from_slice(b"\0\0\0\x08mdat");
        assert_eq!(container_of(&empty).await, None);
        // The EBML header of a WebM.
        let mut webm = vec![0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84];
        webm.extend_from_slice(b"webm");
        webm.resize(64, 0);
        assert_eq!(container_of(&webm).await, Some("video/webm"));
        assert_eq!(container_of(&[0x42; 300]).await, None);
    }

    #[test]
    fn a_transcript_is_webvtt_with_cues_inside_the_duration() {
        let seed = [7u8; 32];
        let vtt = transcript(95.5, &seed);
        assert!(vtt.starts_with("WEBVTT\n\n1\n00:00:00.000 --> "), "{vtt}");
        assert!(vtt.contains("--> 00:01:35.500\n"), "{vtt}");
        assert_eq!(timestamp(3_725.25), "01:02:05.250");
        // Every cue names its speaker, and a long video has many cues.
        assert_eq!(vtt.matches(" --> ").count(), vtt.matches("<v Speaker ").count());
        assert_eq!(transcript(600.0, &seed).matches(" --> ").count(), 100);
        assert_eq!(transcript(5.0, &seed).matches(" --> ").count(), 3 + 7 % 3);
    }
}
