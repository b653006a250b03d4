//! Pre-flight: an upload that cannot be processed is refused before anything is sent to
//! the provider, with a reason the person who uploaded it understands. An empty file; a
//! "document" that is a picture, a video, a program or unreadable bytes (by its magic
//! bytes, and by its extension when the extension names a format with magic bytes); a
//! file over the provider's `providers.<name>.max_size`. Every submission round is
//! checked (`admission.rs`): a refused round fails its message, a dead letter and the
//! document `failed` with the reason (the stage's `on_dead_letter`), and the provider
//! never sees it.
//!
//! Cost: a document's first bytes are read from the bucket (one GET, at most
//! [`HEAD_BYTES`] read); a video is checked on its size only.

use crate::events::minio::Upload;
use crate::ids::Kind;
use crate::stages::ports::Objects;

/// How much of a document is read to recognise it.
pub const HEAD_BYTES: usize = 8192;

/// Why an upload is refused, worded for the person who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is empty (0 bytes): nothing arrived; please upload it again")]
    Empty,
    #[error(
        "the file is {}, more than the {} the processing service accepts (providers.{provider}.max_size); \
         please send a shorter or smaller file",
        human(*size),
        human(*limit)
    )]
    TooLarge { size: u64, limit: u64, provider: String },
    #[error(
        "this file is {} ({extension}), not a document; please upload the lesson plan as PDF, Word, OpenDocument or \
         plain text",
        kind.english()
    )]
    NotADocument { kind: Foreign, extension: String },
    #[error(
        "this file is named .{extension} but is not a {format} file (it may be damaged or was not saved in that \
         format); please save it again and upload it"
    )]
    Mismatch { extension: String, format: &'static str },
    #[error(
        "this file cannot be read as a document (it is neither text, PDF, Word nor OpenDocument); please upload \
         the lesson plan in one of those formats"
    )]
    Unreadable,
    /// A web page, an SVG picture, XML or a script: a browser opening it would run it.
    #[error(
        "this file is {what}, which a web browser would open as a page or run as a program, so docflow does not \
         take it; please upload {}",
        crate::storage::active::ACCEPTED
    )]
    Active { what: String },
}

/// What a file that is not a document is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    Picture,
    Video,
    Sound,
    Program,
    Archive,
    Font,
    Unknown,
}

impl Foreign {
    pub const ALL: [Foreign; 7] = [
        Foreign::Picture,
        Foreign::Video,
        Foreign::Sound,
        Foreign::Program,
        Foreign::Archive,
        Foreign::Font,
        Foreign::Unknown,
    ];

    pub fn english(self) -> &'static str {
        match self {
            Foreign::Picture => "a picture",
            Foreign::Video => "a video (upload it as a video)",
            Foreign::Sound => "a sound recording",
            Foreign::Program => "a program",
            Foreign::Archive => "a compressed archive",
            Foreign::Font => "a font",
            Foreign::Unknown => "of an unknown kind",
        }
    }

    /// Its name in the web interface's catalogue (`refusal-kind-...`).
    pub fn as_str(self) -> &'static str {
        match self {
            Foreign::Picture => "picture",
            Foreign::Video => "video",
            Foreign::Sound => "sound",
            Foreign::Program => "program",
            Foreign::Archive => "archive",
            Foreign::Font => "font",
            Foreign::Unknown => "unknown",
        }
    }
}

impl Refusal {
    /// The refusal a stored reason is the English of (the stage stores [`Refusal`]'s
    /// `Display`), so that a page can say it in its reader's language; `None` for any
    /// other text. `Display` then gives the reason back word for word (tested).
    pub fn from_reason(reason: &str) -> Option<Refusal> {
        let reason = reason.trim();
        for simple in [Refusal::Empty, Refusal::Unreadable] {
            if reason == simple.to_string() {
                return Some(simple);
            }
        }
        if let Some(rest) = reason.strip_prefix("the file is ")
            && let Some((size, rest)) = rest.split_once(", more than the ")
            && let Some((limit, rest)) = rest.split_once(" the processing service accepts (providers.")
            && let Some((provider, _)) = rest.split_once(".max_size)")
        {
            let refusal = Refusal::TooLarge {
                size: parse_human(size)?,
                limit: parse_human(limit)?,
                provider: provider.to_owned(),
            };
            return (refusal.to_string() == reason).then_some(refusal);
        }
        if let Some(rest) = reason.strip_prefix("this file is named .")
            && let Some((extension, rest)) = rest.split_once(" but is not a ")
            && let Some((format, _)) = rest.split_once(" file (")
            && let Some((_, format, _)) = FORMATS.iter().find(|(_, f, _)| *f == format)
        {
            let refusal = Refusal::Mismatch { extension: extension.to_owned(), format };
            return (refusal.to_string() == reason).then_some(refusal);
        }
        let rest = reason.strip_prefix("this file is ")?;
        if let Some((what, _)) = rest.split_once(", which a web browser would open as a page") {
            let refusal = Refusal::Active { what: what.to_owned() };
            return (refusal.to_string() == reason).then_some(refusal);
        }
        let (what, _) = rest.split_once(", not a document;")?;
        let (kind, extension) = Foreign::ALL.iter().find_map(|kind| {
            let extension = what.strip_prefix(kind.english())?.strip_prefix(" (")?.strip_suffix(')')?;
            Some((*kind, extension))
        })?;
        let refusal = Refusal::NotADocument { kind, extension: extension.to_owned() };
        (refusal.to_string() == reason).then_some(refusal)
    }
}

/// [`human`] back to bytes (`1.5 GB`, `700 KB`, `12 bytes`).
fn parse_human(text: &str) -> Option<u64> {
    let (value, unit) = text.split_once(' ')?;
    let factor: u64 = match unit {
        "GB" => 1 << 30,
        "MB" => 1 << 20,
        "KB" => 1 << 10,
        "bytes" => return value.parse().ok(),
        _ => return None,
    };
    Some((value.parse::<f64>().ok()? * factor as f64) as u64)
}

/// The rule on what an upload declares (its content type and its name), for every kind:
/// nothing a browser would run ([`crate::storage::active`]) goes further.
pub fn check_active(content_type: Option<&str>, file_name: &str) -> Result<(), Refusal> {
    match crate::storage::active::active(content_type.unwrap_or_default(), file_name) {
        Some(what) => Err(Refusal::Active { what }),
        None => Ok(()),
    }
}

/// `1.5 GB`, `700 KB`, `12 bytes`.
pub fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")];
    for (factor, unit) in UNITS {
        if bytes >= factor {
            let value = bytes as f64 / factor as f64;
            return if value < 10.0 { format!("{value:.1} {unit}") } else { format!("{value:.0} {unit}") };
        }
    }
    format!("{bytes} bytes")
}

/// The rules that need only the size: empty, over the provider's limit.
pub fn check_size(size: u64, provider: &str, max_size: Option<u64>) -> Result<(), Refusal> {
    if size == 0 {
        return Err(Refusal::Empty);
    }
    match max_size {
        Some(limit) if size > limit => Err(Refusal::TooLarge { size, limit, provider: provider.to_owned() }),
        _ => Ok(()),
    }
}

/// Extensions of formats recognisable by their first bytes: what the content must be.
const FORMATS: [(&str, &str, &[&str]); 6] = [
    ("pdf", "PDF", &["application/pdf"]),
    ("docx", "Word", &["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"]),
    ("doc", "Word", &["application/msword"]),
    ("odt", "OpenDocument", &["application/vnd.oasis.opendocument.text", "application/zip"]),
    ("rtf", "RTF", &["application/rtf"]),
    ("epub", "EPUB", &["application/epub+zip", "application/zip"]),
];

/// Office formats are ZIP files: when the first bytes show only the ZIP, the name decides.
const ZIP_DOCUMENTS: [&str; 6] = ["docx", "odt", "pptx", "odp", "epub", "pages"];

/// The rule on a document's first bytes (`head`) and its file name.
pub fn check_document(file_name: &str, head: &[u8]) -> Result<(), Refusal> {
    let extension = file_name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    let detected = infer::get(head);
    if let Some((_, format, mimes)) = FORMATS.iter().find(|(ext, _, _)| *ext == extension)
        && !detected.is_some_and(|t| mimes.contains(&t.mime_type()))
    {
        return Err(Refusal::Mismatch { extension, format });
    }
    let Some(detected) = detected else {
        return if looks_like_text(head) { Ok(()) } else { Err(Refusal::Unreadable) };
    };
    use infer::MatcherType as T;
    let kind = match detected.matcher_type() {
        T::Doc | T::Text | T::Book => return Ok(()),
        T::Archive if matches!(detected.mime_type(), "application/pdf" | "application/rtf") => return Ok(()),
        T::Archive if detected.mime_type() == "application/zip" && ZIP_DOCUMENTS.contains(&extension.as_str()) => {
            return Ok(());
        }
        T::Image => Foreign::Picture,
        T::Video => Foreign::Video,
        T::Audio => Foreign::Sound,
        T::App => Foreign::Program,
        T::Archive => Foreign::Archive,
        T::Font => Foreign::Font,
        T::Custom => Foreign::Unknown,
    };
    Err(Refusal::NotADocument { kind, extension: detected.extension().to_ascii_uppercase() })
}

/// Text in any ASCII-compatible encoding: no NUL byte and hardly any control character.
fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)).count();
    control * 100 <= head.len()
}

/// Pre-flight of one submission round: the refusal when the upload must not reach the
/// provider. Every round passes here (see `admission.rs`), the first and each restart.
/// A document that cannot be read here (gone, S3 down) passes: the submission meets the
/// same error and handles it as it always has (failed, or retried).
pub async fn check(
    store: &dyn Objects,
    upload: &Upload,
    kind: Kind,
    provider: &str,
    max_size: Option<u64>,
) -> Option<Refusal> {
    if let Err(refusal) = check_size(upload.size, provider, max_size)
        .and_then(|()| check_active(upload.content_type.as_deref(), upload.file_name()))
    {
        return Some(refusal);
    }
    if kind != Kind::Document {
        return None;
    }
    let head = read_head(store, upload).await?;
    // The bucket's size is the truth when the event said otherwise.
    if head.is_empty() { Some(Refusal::Empty) } else { check_document(upload.file_name(), &head).err() }
}

/// Up to [`HEAD_BYTES`] of the object (a range request: the rest is not sent); `None`
/// when it cannot be read.
async fn read_head(store: &dyn Objects, upload: &Upload) -> Option<bytes::Bytes> {
    store.read_head(&upload.bucket, &upload.key, upload.version_id.as_deref(), HEAD_BYTES as u64).await.ok()
}

/// One refusal of each shape (tests here and of the web interface's words).
#[cfg(test)]
pub(crate) fn every_refusal() -> Vec<Refusal> {
    let mut all = vec![
        Refusal::Empty,
        Refusal::Unreadable,
        Refusal::TooLarge { size: 3 << 30, limit: 2 << 30, provider: "acme".into() },
        Refusal::TooLarge { size: 1_572_864_000, limit: 700 << 10, provider: "sim".into() },
        Refusal::TooLarge { size: 12, limit: 10, provider: "a.b".into() },
        Refusal::Mismatch { extension: "pdf".into(), format: "PDF" },
        Refusal::Mismatch { extension: "docx".into(), format: "Word" },
        Refusal::Active { what: "text/html".into() },
        Refusal::Active { what: "a .svg file".into() },
    ];
    all.extend(Foreign::ALL.map(|kind| Refusal::NotADocument { kind, extension: "JPG".into() }));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01];
    const MP4: &[u8] = &[0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'i', b's', b'o', b'm', 0, 0, 2, 0];
    const ZIP: &[u8] = &[b'P', b'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    #[test]
    fn an_empty_file_is_refused_in_plain_words() {
        let refusal = check_size(0, "sim", None).unwrap_err();
        assert_eq!(refusal, Refusal::Empty);
        assert!(refusal.to_string().contains("empty (0 bytes)"), "{refusal}");
        assert_eq!(check_size(1, "sim", None), Ok(()));
    }

    #[test]
    fn a_file_over_the_providers_limit_is_refused_with_both_sizes() {
        let refusal = check_size(3 << 30, "acme", Some(2 << 30)).unwrap_err();
        let text = refusal.to_string();
        assert!(
            text.contains("3.0 GB") && text.contains("2.0 GB") && text.contains("providers.acme.max_size"),
            "{text}"
        );
        assert_eq!(check_size(2 << 30, "acme", Some(2 << 30)), Ok(()), "the limit itself is allowed");
        assert_eq!(check_size(u64::MAX, "acme", None), Ok(()), "no limit configured");
    }

    #[test]
    fn documents_by_their_first_bytes_are_accepted() {
        assert_eq!(check_document("plan.pdf", PDF), Ok(()));
        assert_eq!(check_document("plan.md", "# Week 3\nFractions — élèves\n".as_bytes()), Ok(()));
        assert_eq!(check_document("plan.txt", b"Latin-1 \xe9l\xe8ve\r\n"), Ok(()), "text in another encoding");
        assert_eq!(check_document("plan", b"no extension, plain text"), Ok(()));
        assert_eq!(check_document("plan.docx", ZIP), Ok(()), "a Word file whose first bytes show only the ZIP");
        assert_eq!(check_document("plan.rtf", b"{\\rtf1\\ansi hello}"), Ok(()));
    }

    #[test]
    fn what_is_not_a_document_is_named() {
        let mut elf = vec![0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3E, 0];
        elf.resize(64, 0);
        for (name, bytes, what) in [
            ("plan.docx.jpg", JPEG, Foreign::Picture),
            ("plan.txt", JPEG, Foreign::Picture),
            ("lesson", MP4, Foreign::Video),
            ("plan.bin", &elf, Foreign::Program),
            ("plans.zip", ZIP, Foreign::Archive),
        ] {
            match check_document(name, bytes) {
                Err(Refusal::NotADocument { kind, .. }) => assert_eq!(kind, what, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let text = check_document("photo.png", JPEG).unwrap_err().to_string();
        assert!(text.starts_with("this file is a picture (JPG), not a document"), "{text}");
        assert!(text.contains("PDF, Word"), "{text}");
    }

    #[test]
    fn an_extension_that_promises_a_format_must_keep_it() {
        assert_eq!(
            check_document("plan.pdf", b"just some text"),
            Err(Refusal::Mismatch { extension: "pdf".into(), format: "PDF" })
        );
        assert_eq!(
            check_document("Plan.DOCX", PDF),
            Err(Refusal::Mismatch { extension: "docx".into(), format: "Word" })
        );
        let text = check_document("plan.pdf", b"x").unwrap_err().to_string();
        assert!(text.contains("named .pdf but is not a PDF file"), "{text}");
    }

    #[test]
    fn unknown_binary_bytes_are_unreadable() {
        assert_eq!(check_document("plan.txt", &[0x00, 0x01, 0x02, 0x9c, 0x00, 0x11]), Err(Refusal::Unreadable));
        assert_eq!(check_document("plan.txt", &[0x01; 40]), Err(Refusal::Unreadable), "control characters");
    }

    #[test]
    fn pages_pictures_with_scripts_and_scripts_are_refused_in_a_teachers_words() {
        for (content_type, name, what) in [
            (Some("text/html"), "plan.txt", "text/html"),
            (Some("image/svg+xml; charset=utf-8"), "diagram", "image/svg+xml"),
            (Some("application/xml"), "plan", "application/xml"),
            (Some("text/plain"), "plan.xhtml", "a .xhtml file"),
            (None, "lesson.html", "a .html file"),
            (Some("application/octet-stream"), "run.js", "a .js file"),
        ] {
            let refusal = check_active(content_type, name).unwrap_err();
            assert_eq!(refusal, Refusal::Active { what: what.into() }, "{content_type:?} {name}");
            let text = refusal.to_string();
            assert!(text.contains(what) && text.contains("web browser") && text.contains("PDF, Word"), "{text}");
        }
        assert_eq!(check_active(Some("application/pdf"), "plan.pdf"), Ok(()));
        assert_eq!(check_active(Some("video/mp4"), "lesson.mp4"), Ok(()));
        assert_eq!(check_active(None, "notes.txt"), Ok(()));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(0), "0 bytes");
        assert_eq!(human(1536), "1.5 KB");
        assert_eq!(human(700 << 20), "700 MB");
    }

    /// Every refusal, as stored, is recognised again, so the web interface can word it
    /// in its reader's language; other text is not mistaken for one.
    #[test]
    fn a_stored_reason_is_read_back_as_its_refusal() {
        for refusal in every_refusal() {
            let stored = refusal.to_string();
            let read = Refusal::from_reason(&stored).unwrap_or_else(|| panic!("not recognised: {stored}"));
            assert_eq!(read.to_string(), stored);
            if !matches!(refusal, Refusal::TooLarge { .. }) {
                assert_eq!(read, refusal);
            }
        }
        for other in [
            "",
            "the file is empty",
            "results failed docflow's checks",
            "this file is named .pdf but is not a PDF",
            "this file is a picture, not a document; please upload the lesson plan as PDF",
        ] {
            assert_eq!(Refusal::from_reason(other), None, "{other}");
        }
    }
}
