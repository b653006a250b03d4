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

use futures_util::StreamExt;

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
        "this file is {what}, not a document; please upload the lesson plan as PDF, Word, OpenDocument or plain text"
    )]
    NotADocument { what: String },
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

/// The rule on what an upload declares (its content type and its name), for every kind:
/// nothing a browser would run ([`crate::storage::active`]) goes further.
pub fn check_active(content_type: Option<&str>, file_name: &str) -> Result<(), Refusal> {
    match crate::storage::active::active(content_type.unwrap_or_default(), file_name) {
        Some(what) => Err(Refusal::Active { what }),
        None => Ok(()),
    }
}

/// `1.5 GB`, `700 KB`, `12 bytes`.
fn human(bytes: u64) -> String {
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
    let what = match detected.matcher_type() {
        T::Doc | T::Text | T::Book => return Ok(()),
        T::Archive if matches!(detected.mime_type(), "application/pdf" | "application/rtf") => return Ok(()),
        T::Archive if detected.mime_type() == "application/zip" && ZIP_DOCUMENTS.contains(&extension.as_str()) => {
            return Ok(());
        }
        T::Image => "a picture",
        T::Video => "a video (upload it as a video)",
        T::Audio => "a sound recording",
        T::App => "a program",
        T::Archive => "a compressed archive",
        T::Font => "a font",
        T::Custom => "of an unknown kind",
    };
    Err(Refusal::NotADocument { what: format!("{what} ({})", detected.extension().to_ascii_uppercase()) })
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

/// Up to [`HEAD_BYTES`] of the object (the rest is not read); `None` when it cannot be read.
async fn read_head(store: &dyn Objects, upload: &Upload) -> Option<Vec<u8>> {
    let (mut stream, _) = store.open(&upload.bucket, &upload.key, upload.version_id.as_deref()).await.ok()?;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    while head.len() < HEAD_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk[..chunk.len().min(HEAD_BYTES - head.len())]),
            Some(Err(_)) => return None,
            None => break,
        }
    }
    Some(head)
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
            ("plan.docx.jpg", JPEG, "a picture (JPG)"),
            ("plan.txt", JPEG, "a picture"),
            ("lesson", MP4, "a video"),
            ("plan.bin", &elf, "a program"),
            ("plans.zip", ZIP, "a compressed archive"),
        ] {
            match check_document(name, bytes) {
                Err(Refusal::NotADocument { what: got }) => assert!(got.starts_with(what), "{name}: {got}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let text = check_document("photo.png", JPEG).unwrap_err().to_string();
        assert!(text.contains("not a document") && text.contains("PDF, Word"), "{text}");
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
}
