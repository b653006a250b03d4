//! The object keys that may start work (interfaces contract, "What an event may start"),
//! checked once where an event comes in: a stage holding an [`ObjectKey`] never re-checks.

use std::fmt;

use crate::ids::UploaderId;

/// The longest key accepted, in bytes (S3's own limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// A key that passed the contract's rules: valid UTF-8, at most [`MAX_KEY_BYTES`] bytes, no
/// control character (NUL included) and no invisible formatting character ([`is_invisible`]),
/// no empty, `.` or `..` path segment, so a non-empty first segment: the uploader's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// Why a key can never start work. Permanent: the same key is refused on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("it is not valid UTF-8")]
    NotUtf8,
    #[error("it is {len} bytes long, more than the {MAX_KEY_BYTES} allowed")]
    TooLong { len: usize },
    #[error("it holds the control character {found:?} at byte {at}")]
    ControlCharacter { at: usize, found: char },
    #[error("it holds the invisible character U+{:04X} at byte {at}", u32::from(*found))]
    InvisibleCharacter { at: usize, found: char },
    #[error("its first path segment, the uploader id, is empty")]
    NoUploader,
    #[error("it has an empty path segment (`//` or a trailing `/`)")]
    EmptySegment,
    #[error("it has a `{segment}` path segment")]
    DotSegment { segment: &'static str },
}

impl KeyError {
    /// A fixed label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            KeyError::NotUtf8 => "key_not_utf8",
            KeyError::TooLong { .. } => "key_too_long",
            KeyError::ControlCharacter { .. } => "key_control_character",
            KeyError::InvisibleCharacter { .. } => "key_invisible_character",
            KeyError::NoUploader => "key_no_uploader",
            KeyError::EmptySegment => "key_empty_segment",
            KeyError::DotSegment { .. } => "key_dot_segment",
        }
    }
}

impl ObjectKey {
    /// Checks raw bytes (an unescaped event key may be any bytes).
    pub fn from_bytes(raw: &[u8]) -> Result<ObjectKey, KeyError> {
        // The length first: a huge key is refused without being scanned.
        if raw.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong { len: raw.len() });
        }
        let key = std::str::from_utf8(raw).map_err(|_| KeyError::NotUtf8)?;
        ObjectKey::parse(key)
    }

    pub fn parse(key: &str) -> Result<ObjectKey, KeyError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong { len: key.len() });
        }
        if let Some((at, found)) = key.char_indices().find(|(_, c)| c.is_control()) {
            return Err(KeyError::ControlCharacter { at, found });
        }
        if let Some((at, found)) = key.char_indices().find(|(_, c)| is_invisible(*c)) {
            return Err(KeyError::InvisibleCharacter { at, found });
        }
        if key.split('/').next().is_none_or(str::is_empty) {
            return Err(KeyError::NoUploader);
        }
        for segment in key.split('/') {
            match segment {
                "" => return Err(KeyError::EmptySegment),
                "." => return Err(KeyError::DotSegment { segment: "." }),
                ".." => return Err(KeyError::DotSegment { segment: ".." }),
                _ => {}
            }
        }
        Ok(ObjectKey(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first path segment: the teacher's or trainee's id (never empty).
    pub fn uploader_id(&self) -> UploaderId {
        UploaderId::from(self.0.split('/').next().unwrap_or_default())
    }

    /// The last path segment (never empty).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

/// Characters that change how a name reads without showing themselves: bidirectional
/// overrides and isolates (`evil\u{202E}fdp.exe` shows as `evilexe.pdf`), zero-width spaces
/// and joiners, the byte order mark, line and paragraph separators, tags. Unicode's
/// format characters (category Cf) and the separators Zl and Zp: none belongs in a file
/// name or an object key, and `char::is_control` (Cc only) lets them through.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for ObjectKey {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ObjectKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ObjectKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> String {
        key.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_key_is_accepted_with_its_uploader_and_file_name() {
        let key = ObjectKey::parse("teacher-42/week3/lesson plan.docx").unwrap();
        assert_eq!(key.uploader_id(), "teacher-42");
        assert_eq!(key.file_name(), "lesson plan.docx");
        let unicode = ObjectKey::parse("teacher-9/Plan de leçon + notes 100%.pdf").unwrap();
        assert_eq!(unicode.file_name(), "Plan de leçon + notes 100%.pdf");
        assert_eq!(ObjectKey::parse("t/..a/b..").unwrap(), "t/..a/b..", "dots inside a name are fine");
        assert_eq!(ObjectKey::parse("solo").unwrap().uploader_id(), "solo");
    }

    #[test]
    fn a_key_that_is_not_utf8_is_refused() {
        assert_eq!(ObjectKey::from_bytes(b"teacher-1/\xff\xfe.txt"), Err(KeyError::NotUtf8));
        assert!(ObjectKey::from_bytes("teacher-1/é.txt".as_bytes()).is_ok());
    }

    #[test]
    fn a_key_longer_than_1024_bytes_is_refused_and_one_of_1024_accepted() {
        let at_limit = format!("t/{}", "a".repeat(MAX_KEY_BYTES - 2));
        assert!(ObjectKey::parse(&at_limit).is_ok());
        let over = format!("t/{}", "é".repeat(512));
        assert_eq!(ObjectKey::parse(&over), Err(KeyError::TooLong { len: 1026 }));
        let huge = vec![b'a'; 450_000];
        assert_eq!(ObjectKey::from_bytes(&huge), Err(KeyError::TooLong { len: 450_000 }));
    }

    #[test]
    fn control_characters_nul_included_are_refused() {
        assert_eq!(ObjectKey::parse("t/a\0b"), Err(KeyError::ControlCharacter { at: 3, found: '\0' }));
        for key in ["t/line\nbreak", "t/tab\there", "t/del\x7f", "t/c1\u{85}", "t/\r"] {
            assert!(matches!(ObjectKey::parse(key), Err(KeyError::ControlCharacter { .. })), "{key:?}");
        }
    }

    #[test]
    fn bidi_overrides_and_other_invisible_characters_are_refused() {
        assert_eq!(
            ObjectKey::parse("t/evil\u{202E}fdp.exe"),
            Err(KeyError::InvisibleCharacter { at: 6, found: '\u{202E}' })
        );
        for c in
            ['\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{200F}', '\u{FEFF}', '\u{061C}', '\u{2028}']
        {
            let key = format!("teacher-1/plan{c}.pdf");
            assert!(
                matches!(ObjectKey::parse(&key), Err(KeyError::InvisibleCharacter { found, .. }) if found == c),
                "{c:?}"
            );
            assert!(ObjectKey::from_bytes(key.as_bytes()).is_err(), "{c:?}");
        }
        let text = ObjectKey::parse("t/a\u{2067}b").unwrap_err().to_string();
        assert!(text.contains("U+2067"), "{text}");
        // Visible non-ASCII stays welcome: accents, Arabic and Hebrew letters, emoji.
        for key in ["t/Plan de leçon.pdf", "t/خطة الدرس.pdf", "t/תוכנית.pdf", "t/ok 👍\u{FE0F}.pdf"] {
            assert!(ObjectKey::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn a_missing_uploader_is_refused() {
        for key in ["", "/teacher-1/a.txt", "/"] {
            assert_eq!(ObjectKey::parse(key), Err(KeyError::NoUploader), "{key:?}");
        }
    }

    #[test]
    fn empty_segments_are_refused() {
        for key in ["t//a.txt", "t/a/", "t/"] {
            assert_eq!(ObjectKey::parse(key), Err(KeyError::EmptySegment), "{key:?}");
        }
    }

    #[test]
    fn dot_and_dot_dot_segments_are_refused_wherever_they_are() {
        assert_eq!(ObjectKey::parse("t/../secret.txt"), Err(KeyError::DotSegment { segment: ".." }));
        assert_eq!(ObjectKey::parse("../results/x"), Err(KeyError::DotSegment { segment: ".." }));
        assert_eq!(ObjectKey::parse("t/a/.."), Err(KeyError::DotSegment { segment: ".." }));
        assert_eq!(ObjectKey::parse("t/./a"), Err(KeyError::DotSegment { segment: "." }));
        assert_eq!(ObjectKey::parse("."), Err(KeyError::DotSegment { segment: "." }));
    }

    #[test]
    fn every_refusal_has_a_fixed_metric_label() {
        let errors = [
            KeyError::NotUtf8,
            KeyError::TooLong { len: 2000 },
            KeyError::ControlCharacter { at: 0, found: '\0' },
            KeyError::InvisibleCharacter { at: 0, found: '\u{202E}' },
            KeyError::NoUploader,
            KeyError::EmptySegment,
            KeyError::DotSegment { segment: ".." },
        ];
        let labels: std::collections::BTreeSet<_> = errors.iter().map(KeyError::reason).collect();
        assert_eq!(labels.len(), errors.len());
        assert!(labels.iter().all(|l| l.starts_with("key_")));
    }
}
