//! The readable text of a lesson plan, whatever its format: UTF-8 text as it is, a PDF's
//! pages (lopdf), a Word (.docx) or OpenDocument (.odt) file's paragraphs (zip and
//! quick-xml). The lesson-plan page shows it beside the corrected text, with the findings
//! placed in it (`web::lesson`); `provider-sim` reads the same text to make its findings.
//!
//! The text's shape is part of what finding offsets mean (docs/provider-protocol.md,
//! version 2): one line per paragraph (`\n`), pages separated by a form feed (`\u{c}`),
//! nothing else added or taken away (a leading byte-order mark aside).
//!
//! Synchronous and CPU-bound: callers on an async runtime run it in `spawn_blocking`.
//! Bounded: the caller caps the file's size ([`MAX_SOURCE`]); a compressed part is read up
//! to [`MAX_XML`] bytes (no zip bomb), and the text is cut at [`MAX_TEXT`] bytes.

use std::io::Read;

/// The largest file whose text is extracted.
pub const MAX_SOURCE: u64 = 16 << 20;
/// The most of a .docx/.odt's document XML read, decompressed.
pub const MAX_XML: u64 = 32 << 20;
/// The longest text kept, in bytes; the rest is cut (at a character boundary).
pub const MAX_TEXT: usize = 2 << 20;
/// A PDF's pages read, at most.
const MAX_PAGES: u32 = 500;

/// Why a file has no text to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("this file's format has no text docflow can read (it reads text, PDF, .docx and .odt)")]
    Unsupported,
    #[error("the file could not be read as {format}: {reason}")]
    Unreadable { format: &'static str, reason: String },
    #[error("the file is over {} MiB: its text is not extracted", MAX_SOURCE >> 20)]
    TooLarge,
}

/// The extracted text, and whether it was cut at [`MAX_TEXT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    pub truncated: bool,
}

/// The text of `bytes`, by their format (magic bytes first, so a mislabelled file is
/// still read as what it is).
pub fn text_of(bytes: &[u8]) -> Result<Text, ExtractError> {
    if bytes.len() as u64 > MAX_SOURCE {
        return Err(ExtractError::TooLarge);
    }
    let text = if bytes.starts_with(b"%PDF") {
        pdf(bytes)?
    } else if bytes.starts_with(b"PK\x03\x04") {
        office(bytes)?
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| ExtractError::Unsupported)?;
        text.trim_start_matches('\u{feff}').to_owned()
    };
    Ok(cut(text))
}

fn cut(mut text: String) -> Text {
    if text.len() <= MAX_TEXT {
        return Text { text, truncated: false };
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    Text { text, truncated: true }
}

fn unreadable(format: &'static str, reason: impl std::fmt::Display) -> ExtractError {
    ExtractError::Unreadable { format, reason: reason.to_string() }
}

/// A PDF's pages in order, separated by form feeds; each page's text as lopdf gives it,
/// its lines trimmed at the end.
fn pdf(bytes: &[u8]) -> Result<String, ExtractError> {
    let document = lopdf::Document::load_mem(bytes).map_err(|e| unreadable("PDF", e))?;
    if document.is_encrypted() {
        return Err(unreadable("PDF", "it is encrypted"));
    }
    let pages: Vec<u32> = document.get_pages().keys().copied().take(MAX_PAGES as usize).collect();
    let mut out = Vec::with_capacity(pages.len());
    for page in pages {
        // A page lopdf cannot read (an unusual font encoding) is left empty, not fatal.
        let text = document.extract_text(&[page]).unwrap_or_default();
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        out.push(lines.join("\n").trim_matches('\n').to_owned());
    }
    Ok(out.join("\u{c}"))
}

/// A .docx (`word/document.xml`) or .odt (`content.xml`): one line per paragraph.
fn office(bytes: &[u8]) -> Result<String, ExtractError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable("a ZIP file", e))?;
    let (format, part, flavour) = if archive.index_for_name("word/document.xml").is_some() {
        ("Word (.docx)", "word/document.xml", Flavour::Word)
    } else if archive.index_for_name("content.xml").is_some() {
        ("OpenDocument (.odt)", "content.xml", Flavour::Open)
    } else {
        return Err(ExtractError::Unsupported);
    };
    let entry = archive.by_name(part).map_err(|e| unreadable(format, e))?;
    let mut xml = Vec::new();
    entry.take(MAX_XML).read_to_end(&mut xml).map_err(|e| unreadable(format, e))?;
    paragraphs(&xml, flavour).map_err(|e| unreadable(format, e))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// WordprocessingML: `w:p` paragraphs, `w:t` text, `w:tab`, `w:br`.
    Word,
    /// OpenDocument: `text:p`/`text:h` paragraphs, text in them, `text:s`, `text:tab`,
    /// `text:line-break`.
    Open,
}

/// The text of a document XML, one line per paragraph.
fn paragraphs(xml: &[u8], flavour: Flavour) -> Result<String, quick_xml::Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut out = String::new();
    let mut line = String::new();
    let mut lines: Vec<String> = Vec::new();
    // Word keeps text only in `w:t`; OpenDocument's paragraphs hold text directly.
    let mut in_text = 0usize;
    let mut in_paragraph = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf)?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                match (flavour, e.local_name().as_ref()) {
                    (Flavour::Word, b"t") if !empty => in_text += 1,
                    (Flavour::Word, b"tab") | (Flavour::Open, b"tab") => line.push('\t'),
                    (Flavour::Word, b"br" | b"cr") | (Flavour::Open, b"line-break") => line.push(' '),
                    (Flavour::Open, b"s") => {
                        let count = e
                            .try_get_attribute("text:c")
                            .ok()
                            .flatten()
                            .and_then(|a| std::str::from_utf8(&a.value).ok()?.parse::<usize>().ok())
                            .unwrap_or(1);
                        line.extend(std::iter::repeat_n(' ', count.min(64)));
                    }
                    (Flavour::Word, b"p") | (Flavour::Open, b"p" | b"h") => {
                        if empty {
                            lines.push(String::new());
                        } else {
                            in_paragraph += 1;
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) => match (flavour, e.local_name().as_ref()) {
                (Flavour::Word, b"t") => in_text = in_text.saturating_sub(1),
                (Flavour::Word, b"p") | (Flavour::Open, b"p" | b"h") => {
                    in_paragraph = in_paragraph.saturating_sub(1);
                    if in_paragraph == 0 {
                        lines.push(std::mem::take(&mut line));
                    }
                }
                _ => {}
            },
            Event::Text(t) if reading(flavour, in_text, in_paragraph) => line.push_str(&t.xml_content()?),
            Event::CData(t) if reading(flavour, in_text, in_paragraph) => line.push_str(&t.decode()?),
            Event::GeneralRef(r) if reading(flavour, in_text, in_paragraph) => {
                if let Some(c) = r.resolve_char_ref()? {
                    line.push(c);
                } else {
                    line.push_str(match r.decode()?.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !line.is_empty() {
        lines.push(line);
    }
    out.push_str(&lines.join("\n"));
    Ok(out)
}

fn reading(flavour: Flavour, in_text: usize, in_paragraph: usize) -> bool {
    match flavour {
        Flavour::Word => in_text > 0,
        Flavour::Open => in_paragraph > 0,
    }
}

/// Test files in the formats [`text_of`] reads, built here so that the tests need no
/// binary fixture: a .docx and a one-page PDF of the given paragraphs.
#[cfg(any(test, feature = "testkit"))]
pub mod samples {
    use std::io::Write;

    /// A minimal .docx whose body holds `paragraphs`.
    pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|p| {
                let escaped = p.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
                format!("<w:p><w:r><w:t xml:space=\"preserve\">{escaped}</w:t></w:r></w:p>")
            })
            .collect();
        let document = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
             <w:body>{body}</w:body></w:document>"
        );
        let types = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
            <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
            <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
            <Override PartName=\"/word/document.xml\" \
            ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>\
            </Types>";
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("[Content_Types].xml", options).unwrap();
        zip.write_all(types.as_bytes()).unwrap();
        zip.start_file("word/document.xml", options).unwrap();
        zip.write_all(document.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    /// A one-page PDF (Helvetica) with one line of text per paragraph (ASCII only).
    pub fn pdf(paragraphs: &[&str]) -> Vec<u8> {
        use lopdf::content::{Content, Operation};
        use lopdf::{Document, Object, Stream, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
        });
        let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let mut operations = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("TL", vec![16.into()]),
            Operation::new("Td", vec![50.into(), 780.into()]),
        ];
        for paragraph in paragraphs {
            operations.push(Operation::new("Tj", vec![Object::string_literal(*paragraph)]));
            operations.push(Operation::new("T*", vec![]));
        }
        operations.push(Operation::new("ET", vec![]));
        let content = Content { operations };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
                "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_it_is_without_its_byte_order_mark() {
        let text = text_of("\u{feff}Année 5 · fractions\nteh plan\n".as_bytes()).unwrap();
        assert_eq!(text.text, "Année 5 · fractions\nteh plan\n");
        assert!(!text.truncated);
    }

    #[test]
    fn a_docx_gives_one_line_per_paragraph_with_entities_decoded() {
        let docx = samples::docx(&["Week 3: fractions & decimals", "We recieve <homework>."]);
        assert_eq!(text_of(&docx).unwrap().text, "Week 3: fractions & decimals\nWe recieve <homework>.");
    }

    #[test]
    fn an_odt_paragraph_keeps_its_spaces_and_tabs() {
        let xml = br#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text>
            <text:h>Plan</text:h><text:p>a<text:s text:c="2"/>b<text:tab/>c</text:p></office:text></office:body>
            </office:document-content>"#;
        assert_eq!(paragraphs(xml, Flavour::Open).unwrap(), "Plan\na  b\tc");
    }

    #[test]
    fn a_pdf_gives_its_page_text() {
        let pdf = samples::pdf(&["Teh lesson plan", "Pupils recieve a worksheet"]);
        let text = text_of(&pdf).unwrap().text;
        assert!(text.contains("Teh lesson plan") && text.contains("Pupils recieve a worksheet"), "{text:?}");
    }

    #[test]
    fn what_is_not_a_readable_format_says_why() {
        assert_eq!(text_of(&[0xff, 0xfe, 0x00, 0x41]), Err(ExtractError::Unsupported));
        assert!(matches!(text_of(b"%PDF-1.7 then nothing"), Err(ExtractError::Unreadable { format: "PDF", .. })));
        assert!(matches!(text_of(b"PK\x03\x04broken"), Err(ExtractError::Unreadable { .. })));
        let big = vec![b'a'; MAX_SOURCE as usize + 1];
        assert_eq!(text_of(&big), Err(ExtractError::TooLarge));
    }

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let cut = cut(long);
        assert!(cut.truncated && cut.text.len() <= MAX_TEXT && cut.text.chars().all(|c| c == 'é'));
    }
}
