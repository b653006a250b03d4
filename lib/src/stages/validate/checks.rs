//! The checks of a callback's results (docs/provider-protocol.md, section 4) that need no I/O:
//! where a result may be fetched from, which roles a kind needs, whether a result is
//! something a browser would run, whether bytes look like their declared content type,
//! and the schemas of the JSON and WebVTT roles.

use std::net::IpAddr;

use crate::ids::Kind;
use crate::provider::protocol::Role;

/// A reason a result is refused; its text goes into the document's timeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse(text: impl Into<String>) -> Refusal {
    Refusal(text.into())
}

/// The largest JSON or WebVTT result accepted: these are parsed whole (by validate and
/// again by normalize), so they are bounded.
pub const CONTENT_LIMIT: u64 = 16 * 1024 * 1024;

/// The names of `roles`, joined by commas.
fn names(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

/// Checks the roles present against the kind ([`Role::required_for`], [`Role::known_for`]):
/// all required ones, none of another kind's, no role twice.
pub fn check_roles(kind: Kind, roles: impl IntoIterator<Item = Role>) -> Result<(), Refusal> {
    let roles: Vec<Role> = roles.into_iter().collect();
    for role in &roles {
        if !Role::known_for(kind).contains(role) {
            return Err(refuse(format!(
                "result role {:?} is not one of a {}'s ({})",
                role.as_str(),
                kind.as_str(),
                names(Role::known_for(kind))
            )));
        }
        if roles.iter().filter(|r| *r == role).count() > 1 {
            return Err(refuse(format!("result role {:?} appears more than once", role.as_str())));
        }
    }
    let missing: Vec<Role> = Role::required_for(kind).iter().copied().filter(|r| !roles.contains(r)).collect();
    if !missing.is_empty() {
        return Err(refuse(format!("results lack the required role(s) {} for a {}", names(&missing), kind.as_str())));
    }
    Ok(())
}

/// A result's name and declared type: nothing a browser would run (HTML, SVG, XML,
/// scripts: [`crate::storage::active`]), and no invisible character in the name (it
/// becomes the download's file name).
pub fn check_result_file(role: Role, name: &str, content_type: &str) -> Result<(), Refusal> {
    if let Some(what) = crate::storage::active::active(content_type, name) {
        return Err(refuse(format!(
            "result {role} ({name:?}) is {what}, which a browser would run as a page or a script; refused"
        )));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || crate::events::key::is_invisible(*c)) {
        return Err(refuse(format!(
            "result {role} name {:?} holds the invisible or control character U+{:04X}",
            name.escape_default().to_string(),
            u32::from(c)
        )));
    }
    Ok(())
}

/// A result URL may be fetched only over http(s) from a host in the provider's
/// `result_hosts` (`host` or `host:port`). Loopback, link-local and private addresses are
/// refused unless listed: no SSRF.
pub fn check_result_url(url: &str, allowed_hosts: &[String]) -> Result<reqwest::Url, Refusal> {
    let parsed = reqwest::Url::parse(url).map_err(|e| refuse(format!("result URL {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refuse(format!("result URL {url:?} is not http(s)")));
    }
    let host = parsed.host_str().ok_or_else(|| refuse(format!("result URL {url:?} has no host")))?.to_ascii_lowercase();
    let host_port = format!("{host}:{}", parsed.port_or_known_default().unwrap_or(0));
    let listed = allowed_hosts.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        allowed == host || allowed == host_port
    });
    if listed {
        return Ok(parsed);
    }
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    if ip.is_some_and(is_internal) || host == "localhost" || host.ends_with(".localhost") {
        return Err(refuse(format!(
            "result URL {url:?} points at an internal address not in result_hosts; not fetched"
        )));
    }
    Err(refuse(format!("result URL {url:?}: host {host_port} is not in the provider's result_hosts; not fetched")))
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link-local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// Checks the first bytes of a result against its declared content type, where the type
/// has a signature. Types without one (text, JSON, WebVTT) pass here and are checked by
/// their parsers.
pub fn check_magic(declared: &str, head: &[u8]) -> Result<(), Refusal> {
    let declared = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let expects_signature = declared.starts_with("image/")
        || declared.starts_with("video/")
        || declared.starts_with("audio/")
        || matches!(declared.as_str(), "application/pdf" | "application/zip")
        || declared.starts_with("application/vnd.openxmlformats-officedocument.")
        || declared.starts_with("application/vnd.oasis.opendocument.");
    if !expects_signature {
        return Ok(());
    }
    let Some(found) = infer::get(head) else {
        return Err(refuse(format!("content does not look like {declared}: no known signature in its first bytes")));
    };
    let found_mime = found.mime_type();
    let zip_family = |m: &str| {
        m == "application/zip"
            || m.starts_with("application/vnd.openxmlformats-officedocument.")
            || m.starts_with("application/vnd.oasis.opendocument.")
    };
    let same_family = found_mime == declared
        || (zip_family(&declared) && zip_family(found_mime))
        || (declared.starts_with("video/") && (found_mime.starts_with("video/") || found_mime == "audio/mp4"))
        || (declared == "audio/mp4" && found_mime.starts_with("video/"));
    if same_family {
        Ok(())
    } else {
        Err(refuse(format!("content is {found_mime} by its signature, declared {declared}")))
    }
}

/// The schemas of the JSON roles are the protocol's wire types.
pub use crate::provider::protocol::{Chapter, Finding, FindingCategory as Category, Findings, Severity, Summary};

fn check_language(role: &str, language: &str) -> Result<(), Refusal> {
    let ok = (2..=35).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok { Ok(()) } else { Err(refuse(format!("{role}: language {language:?} is not a language tag"))) }
}

pub fn parse_findings(bytes: &[u8]) -> Result<Findings, Refusal> {
    let findings: Findings =
        serde_json::from_slice(bytes).map_err(|e| refuse(format!("findings.json breaks the findings schema: {e}")))?;
    check_language("findings", &findings.language)?;
    if let Some((i, _)) = findings.findings.iter().enumerate().find(|(_, f)| f.message.trim().is_empty()) {
        return Err(refuse(format!("findings.json breaks the findings schema: findings[{i}].message is empty")));
    }
    // Version 2's offsets: their shape only. Whether they fall inside the text and agree
    // with the excerpt is known where the text is, when the finding is placed
    // (`web::lesson::place`): a finding whose offsets do not fit is placed by its excerpt.
    for (i, finding) in findings.findings.iter().enumerate() {
        let Some(location) = finding.location else { continue };
        match (location.start, location.end) {
            (None, None) => {}
            (Some(start), Some(end)) if start < end => {}
            (start, end) => {
                return Err(refuse(format!(
                    "findings.json breaks the findings schema: findings[{i}].location has start {} and end {}: \
                     give both character offsets, start before end (protocol version 2), or neither",
                    start.map_or("absent".to_owned(), |s| s.to_string()),
                    end.map_or("absent".to_owned(), |e| e.to_string()),
                )));
            }
        }
    }
    Ok(findings)
}

pub fn parse_summary(bytes: &[u8]) -> Result<Summary, Refusal> {
    let summary: Summary =
        serde_json::from_slice(bytes).map_err(|e| refuse(format!("summary breaks the summary schema: {e}")))?;
    check_language("summary", &summary.language)?;
    if !summary.duration_seconds.is_finite() || summary.duration_seconds < 0.0 {
        return Err(refuse("summary breaks the summary schema: duration_seconds must be a non-negative number"));
    }
    if summary.chapters.iter().any(|c| !c.start.is_finite() || c.start < 0.0 || c.start > summary.duration_seconds) {
        return Err(refuse("summary breaks the summary schema: a chapter starts outside the video"));
    }
    Ok(summary)
}

/// A WebVTT file: the `WEBVTT` header, then cues `start --> end` with text. Returns the
/// transcript's plain text, cue by cue.
pub fn parse_webvtt(bytes: &[u8]) -> Result<String, Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|_| refuse("transcript is not UTF-8 WebVTT"))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !(header == "WEBVTT" || header.starts_with("WEBVTT ") || header.starts_with("WEBVTT\t")) {
        return Err(refuse("transcript is not WebVTT: it does not start with WEBVTT"));
    }
    let mut cues = 0;
    let mut words = Vec::new();
    let mut in_cue = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            in_cue = false;
        } else if let Some((start, end)) = line.split_once("-->") {
            let end = end.split_whitespace().next().unwrap_or_default();
            if parse_timestamp(start.trim()).is_none() || parse_timestamp(end).is_none() {
                return Err(refuse(format!("transcript is not WebVTT: bad cue timing {line:?}")));
            }
            cues += 1;
            in_cue = true;
        } else if in_cue {
            words.push(line.to_owned());
        }
    }
    if cues == 0 {
        return Err(refuse("transcript is not WebVTT: it has no cue"));
    }
    Ok(words.join("\n"))
}

/// `hh:mm:ss.ttt` or `mm:ss.ttt`, in seconds (also read by the web interface's transcript).
pub(crate) fn parse_timestamp(text: &str) -> Option<f64> {
    let (clock, millis) = text.split_once('.')?;
    if millis.len() != 3 || !millis.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<u32> = clock.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let seconds = match parts.as_slice() {
        [m, s] if *s < 60 => m * 60 + s,
        [h, m, s] if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(seconds as f64 + millis.parse::<f64>().ok()? / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec!["127.0.0.1:9100".into(), "files.provider.example".into()]
    }

    #[test]
    fn listed_hosts_are_allowed_and_internal_ones_are_not() {
        assert!(check_result_url("http://127.0.0.1:9100/r/1", &hosts()).is_ok());
        assert!(check_result_url("https://files.provider.example/r/abc", &hosts()).is_ok());
        for url in [
            "http://127.0.0.1:9200/r/1",
            "http://localhost/x",
            "http://10.0.0.8/x",
            "http://169.254.169.254/latest",
            "http://[::1]:9100/x",
            "http://192.168.1.2/x",
        ] {
            let err = check_result_url(url, &hosts()).unwrap_err();
            assert!(err.0.contains("internal address"), "{url}: {err}");
        }
        assert!(
            check_result_url("https://evil.example/x", &hosts())
                .unwrap_err()
                .0
                .contains("not in the provider's result_hosts")
        );
        assert!(check_result_url("file:///etc/passwd", &hosts()).is_err());
    }

    #[test]
    fn results_a_browser_would_run_are_refused_with_the_reason() {
        for (name, content_type, what) in [
            ("plan.corrected.html", "text/html", "text/html"),
            ("plan.docx", "text/html; charset=utf-8", "text/html"),
            ("thumb.svg", "image/svg+xml", "image/svg+xml"),
            ("page.xhtml", "application/xhtml+xml", "application/xhtml+xml"),
            ("data", "application/xml", "application/xml"),
            ("plan.corrected.htm", "application/octet-stream", "a .htm file"),
            ("script.js", "text/plain", "a .js file"),
        ] {
            let refusal = check_result_file(Role::Corrected, name, content_type).unwrap_err();
            assert!(refusal.0.contains(what) && refusal.0.contains("refused"), "{name}: {refusal}");
        }
        assert!(check_result_file(Role::Corrected, "plan.corrected.docx", "application/zip").is_ok());
        assert!(check_result_file(Role::Transcript, "transcript.vtt", "text/vtt").is_ok());
        assert!(check_result_file(Role::Thumbnail, "thumb.jpg", "image/jpeg").is_ok());
    }

    #[test]
    fn result_names_with_invisible_characters_are_refused() {
        let refusal = check_result_file(Role::Corrected, "plan\u{202E}xcod.exe", "application/pdf").unwrap_err();
        assert!(refusal.0.contains("U+202E"), "{refusal}");
        assert!(check_result_file(Role::Corrected, "plan\u{200B}.pdf", "application/pdf").is_err());
        assert!(check_result_file(Role::Corrected, "plan\n.pdf", "application/pdf").is_err());
        assert!(check_result_file(Role::Corrected, "plan de leçon.pdf", "application/pdf").is_ok());
    }

    #[test]
    fn roles_are_checked_per_kind() {
        assert!(check_roles(Kind::Document, [Role::Corrected, Role::Findings]).is_ok());
        assert!(check_roles(Kind::Video, [Role::Transcript, Role::Summary, Role::Thumbnail]).is_ok());
        assert!(check_roles(Kind::Document, [Role::Corrected]).unwrap_err().0.contains("findings"));
        assert!(check_roles(Kind::Document, [Role::Corrected, Role::Findings, Role::Transcript]).is_err());
        assert!(check_roles(Kind::Video, [Role::Transcript, Role::Summary, Role::Summary]).is_err());
    }

    #[test]
    fn magic_bytes_must_match_the_declared_type() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
        assert!(check_magic("image/png", &png).is_ok());
        assert!(check_magic("image/jpeg", &png).unwrap_err().0.contains("image/png"));
        assert!(check_magic("application/pdf", b"hello").is_err());
        assert!(check_magic("application/pdf", b"%PDF-1.7\n").is_ok());
        assert!(check_magic("text/plain", b"anything").is_ok());
        let mp4 = [0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'm', b'p', b'4', b'2', 0, 0, 0, 0];
        assert!(check_magic("video/mp4", &mp4).is_ok());
    }

    #[test]
    fn findings_follow_their_schema() {
        let good = br#"{"findings":[{"category":"spelling","severity":"minor","message":"teh","excerpt":"teh","suggestion":"the","location":{"page":1,"paragraph":4}}],"word_count":12,"language":"en"}"#;
        assert_eq!(parse_findings(good).unwrap().findings[0].category, Category::Spelling);
        let bad =
            br#"{"findings":[{"category":"typo","severity":"minor","message":"x"}],"word_count":1,"language":"en"}"#;
        assert!(parse_findings(bad).unwrap_err().0.contains("schema"));
        assert!(parse_findings(br#"{"findings":[],"language":"en"}"#).is_err());
    }

    #[test]
    fn finding_offsets_come_in_pairs_with_start_before_end() {
        let with = |location: &str| {
            format!(
                r#"{{"findings":[{{"category":"spelling","severity":"minor","message":"m","excerpt":"teh","location":{location}}}],"word_count":3,"language":"en"}}"#
            )
        };
        let v2 = parse_findings(with(r#"{"paragraph":1,"start":4,"end":7}"#).as_bytes()).unwrap();
        assert_eq!(v2.findings[0].location.unwrap().start, Some(4));
        assert!(parse_findings(with(r#"{"paragraph":1}"#).as_bytes()).is_ok(), "version 1: no offsets");
        for bad in [r#"{"start":4}"#, r#"{"end":7}"#, r#"{"start":7,"end":4}"#, r#"{"start":4,"end":4}"#] {
            let refusal = parse_findings(with(bad).as_bytes()).unwrap_err();
            assert!(refusal.0.contains("findings[0].location") && refusal.0.contains("version 2"), "{bad}: {refusal}");
        }
        assert!(parse_findings(with(r#"{"start":-1,"end":4}"#).as_bytes()).is_err(), "offsets are not negative");
    }

    #[test]
    fn summaries_follow_their_schema() {
        let good =
            br#"{"duration_seconds":512.4,"language":"en","speakers":2,"chapters":[{"start":0.0,"title":"Intro"}]}"#;
        assert_eq!(parse_summary(good).unwrap().chapters.len(), 1);
        assert!(parse_summary(br#"{"duration_seconds":-1,"language":"en"}"#).is_err());
        assert!(
            parse_summary(br#"{"duration_seconds":10,"language":"en","chapters":[{"start":11,"title":"x"}]}"#).is_err()
        );
    }

    #[test]
    fn webvtt_needs_its_header_and_cues() {
        let vtt = b"WEBVTT\n\n00:00.000 --> 00:02.500\nHello class.\n\n00:00:02.500 --> 00:00:05.000 align:start\nToday: fractions.\n";
        assert_eq!(parse_webvtt(vtt).unwrap(), "Hello class.\nToday: fractions.");
        assert!(parse_webvtt(b"1\n00:00:01,000 --> 00:00:02,000\nSRT\n").is_err());
        assert!(parse_webvtt(b"WEBVTT\n\nno cues here\n").is_err());
        assert!(parse_webvtt(b"WEBVTT\n\n00:00.0 --> 00:01.000\nx\n").is_err());
    }
}
