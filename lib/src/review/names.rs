//! How people name an upload: the file name without the UUID the browser upload puts
//! before it (`{uploader}/{yyyy}/{mm}/{uuid}-{name}`, see `gateway::uploads`), and the
//! folder between the uploader and the name. Two uploads are versions of one file when
//! they have the same uploader, folder and name ([`lineage`]); for browser uploads the
//! year/month folder is the upload's date, not a place the teacher chose, so it is left
//! out of the lineage.

/// The file name as the teacher gave it: the key's last segment without a leading
/// `{uuid}-`.
pub fn display_name(key: &str) -> &str {
    let last = key.rsplit('/').next().unwrap_or(key);
    strip_uuid(last).unwrap_or(last)
}

/// The folders between the uploader and the file name (`""` when none).
pub fn folder(key: &str) -> &str {
    let Some((_, rest)) = key.split_once('/') else { return "" };
    rest.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// What makes two uploads of one uploader versions of the same file: the folder the
/// teacher chose and the name. A browser upload's `yyyy/mm` folder is dropped.
pub fn lineage(key: &str) -> (&str, &str) {
    let last = key.rsplit('/').next().unwrap_or(key);
    let folder = folder(key);
    match strip_uuid(last) {
        Some(name) if is_date_folder(folder) => ("", name),
        Some(name) => (folder, name),
        None => (folder, last),
    }
}

fn is_date_folder(folder: &str) -> bool {
    let mut parts = folder.split('/');
    let year = parts.next().is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
    let month = parts.next().is_some_and(|m| m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()));
    year && month && parts.next().is_none()
}

/// `name` without a leading hyphenated lowercase UUID and `-`; `None` when it has none
/// (or nothing follows it).
fn strip_uuid(name: &str) -> Option<&str> {
    let (head, rest) = (name.get(..37)?, name.get(37..)?);
    let bytes = head.as_bytes();
    let shaped = bytes.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 | 36 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    });
    (shaped && !rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER: &str = "teacher-1/2026/12/0b9f3c1e-5d2a-4c3b-9a1e-7f00aa11bb22-Plan week 3.pdf";

    #[test]
    fn a_browser_upload_is_named_without_its_uuid_and_its_date_folder() {
        assert_eq!(display_name(BROWSER), "Plan week 3.pdf");
        assert_eq!(folder(BROWSER), "2026/12");
        assert_eq!(lineage(BROWSER), ("", "Plan week 3.pdf"));
    }

    #[test]
    fn other_keys_keep_their_folder_and_name() {
        assert_eq!(display_name("teacher-1/week3/plan.docx"), "plan.docx");
        assert_eq!(folder("teacher-1/week3/drafts/plan.docx"), "week3/drafts");
        assert_eq!(folder("teacher-1/plan.docx"), "");
        assert_eq!(lineage("teacher-1/week3/plan.docx"), ("week3", "plan.docx"));
        // Something that only looks like a UUID stays.
        assert_eq!(
            display_name("t/0b9f3c1e-5d2a-4c3b-9a1e-7f00aa11bb2z-x.pdf"),
            "0b9f3c1e-5d2a-4c3b-9a1e-7f00aa11bb2z-x.pdf"
        );
        assert_eq!(display_name("t/0b9f3c1e-5d2a-4c3b-9a1e-7f00aa11bb22-"), "0b9f3c1e-5d2a-4c3b-9a1e-7f00aa11bb22-");
        // A chosen folder of a browser-shaped name is kept.
        assert_eq!(lineage("t/week3/0b9f3c1e-5d2a-4c3b-9a1e-7f00aa11bb22-a.pdf"), ("week3", "a.pdf"));
        assert_eq!(display_name("é/ü"), "ü");
    }
}
