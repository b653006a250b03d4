//! Content a browser would run: HTML, XHTML, SVG, XML (with its style sheets), scripts.
//! None of it is taken into the store or served from it. An uploaded page or a provider's
//! "corrected file" of such a type, opened by a browser, would run as whoever opened it,
//! on whichever origin served it (issue 21). So these types are refused when an upload is
//! presigned, at pre-flight, and in the provider's results at validation; and the gateway
//! serves anything it finds anyway (an object stored before these rules) as
//! `application/octet-stream`.
//!
//! Both the declared type and the file name's extension count: a store or a browser may
//! go by either.

/// What is accepted instead, in words for the person uploading.
pub const ACCEPTED: &str = "lesson plans as PDF, Word, OpenDocument, RTF or plain text, and videos";

/// Media types a browser renders as a page or runs, by their essence (lowercase, without
/// parameters). Any `+xml` type counts too (see [`is_active_type`]).
const ACTIVE_TYPES: [&str; 17] = [
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/xsl",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/ecmascript",
    "application/ecmascript",
    "text/jscript",
    "text/vbscript",
    "application/wasm",
    "application/hta",
    "application/x-shockwave-flash",
    "multipart/x-mixed-replace",
];

/// File name extensions of the same (lowercase, without the dot).
const ACTIVE_EXTENSIONS: [&str; 18] = [
    "html", "htm", "shtml", "xhtml", "xht", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt", "js", "mjs", "hta",
    "swf", "wasm", "vbs",
];

/// `text/html; charset=utf-8` -> `text/html`.
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether a browser would render or run content of this declared type.
pub fn is_active_type(content_type: &str) -> bool {
    let essence = essence(content_type);
    ACTIVE_TYPES.contains(&essence.as_str()) || essence.ends_with("+xml")
}

/// The extension of `file_name` when a browser would render or run a file so named.
pub fn active_extension(file_name: &str) -> Option<String> {
    let (_, extension) = file_name.rsplit_once('.')?;
    let extension = extension.trim().to_ascii_lowercase();
    ACTIVE_EXTENSIONS.contains(&extension.as_str()).then_some(extension)
}

/// Why a file of `content_type` named `file_name` is active (its type, else its
/// extension), or `None` when it is not.
pub fn active(content_type: &str, file_name: &str) -> Option<String> {
    if is_active_type(content_type) {
        return Some(essence(content_type));
    }
    active_extension(file_name).map(|extension| format!("a .{extension} file"))
}

/// The extension in what [`active`] says of a file refused by its name (`a .svg file`),
/// so that a page can say it in its reader's language; `None` for a media type.
pub fn named_extension(what: &str) -> Option<&str> {
    what.strip_prefix("a .")?.strip_suffix(" file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_of_a_file_refused_by_its_name_is_read_back() {
        let what = active("application/octet-stream", "plan.svg").unwrap();
        assert_eq!(named_extension(&what), Some("svg"));
        assert_eq!(named_extension(&active("text/html", "plan.pdf").unwrap()), None);
    }

    #[test]
    fn pages_images_that_hold_scripts_xml_and_scripts_are_active() {
        for content_type in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/rss+xml",
            "text/javascript",
            "application/javascript",
            " application/ecmascript ",
            "application/wasm",
        ] {
            assert!(is_active_type(content_type), "{content_type}");
        }
    }

    #[test]
    fn documents_videos_and_plain_text_are_not() {
        for content_type in [
            "application/pdf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.oasis.opendocument.text",
            "text/plain; charset=utf-8",
            "text/markdown",
            "text/vtt",
            "application/json",
            "video/mp4",
            "image/jpeg",
            "application/octet-stream",
        ] {
            assert!(!is_active_type(content_type), "{content_type}");
        }
    }

    #[test]
    fn the_file_name_counts_as_well_as_the_type() {
        assert_eq!(active("text/plain", "plan.HTML").as_deref(), Some("a .html file"));
        assert_eq!(active("application/octet-stream", "logo.svg").as_deref(), Some("a .svg file"));
        assert_eq!(active("text/html; charset=utf-8", "plan.txt").as_deref(), Some("text/html"));
        assert_eq!(active("application/pdf", "plan.pdf"), None);
        assert_eq!(active("text/plain", "notes"), None, "no extension");
        assert_eq!(active("text/plain", "week3.html.txt"), None, "only the last extension");
        assert_eq!(active("video/mp4", "lesson.mp4"), None);
    }
}
