//! The canonical, versioned record of a document's results: what evaluators read. Built
//! from results already validated, so building it cannot fail on their content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{Kind, UploaderId};
use crate::stages::validate::checks::{Chapter, Finding, Findings, Summary};

/// Bumped when the record's shape changes; readers branch on it.
pub const SCHEMA_VERSION: u32 = 1;

/// The record's original and artifacts are the messages' own: one shape on the wire and in
/// the stored record.
pub use crate::messages::{Artifact, Original};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    pub kind: Kind,
    pub uploader_id: UploaderId,
    pub original: Original,
    pub artifacts: Vec<Artifact>,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Document {
        findings: Vec<Finding>,
        /// Counts per category and per severity, for lists and dashboards.
        findings_by_category: BTreeMap<String, u64>,
        findings_by_severity: BTreeMap<String, u64>,
        word_count: u64,
        language: String,
    },
    Video {
        duration_seconds: f64,
        language: String,
        speakers: Option<u32>,
        chapters: Vec<Chapter>,
        /// The transcript's plain text, cue by cue.
        transcript: String,
    },
}

fn label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

pub fn document_content(findings: Findings) -> Content {
    let mut by_category = BTreeMap::new();
    let mut by_severity = BTreeMap::new();
    for f in &findings.findings {
        *by_category.entry(label(&f.category)).or_insert(0) += 1;
        *by_severity.entry(label(&f.severity)).or_insert(0) += 1;
    }
    Content::Document {
        findings: findings.findings,
        findings_by_category: by_category,
        findings_by_severity: by_severity,
        word_count: findings.word_count,
        language: findings.language,
    }
}

pub fn video_content(summary: Summary, transcript: String) -> Content {
    let mut chapters = summary.chapters;
    chapters.sort_by(|a, b| a.start.total_cmp(&b.start));
    Content::Video {
        duration_seconds: summary.duration_seconds,
        language: summary.language,
        speakers: summary.speakers,
        chapters,
        transcript,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::validate::checks::{parse_findings, parse_summary, parse_webvtt};

    fn record(kind: Kind, content: Content) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            kind,
            uploader_id: "teacher-42".into(),
            original: Original {
                bucket: "uploads".into(),
                key: "teacher-42/plan.docx".into(),
                size: 10,
                content_type: "x".into(),
            },
            artifacts: vec![],
            content,
        }
    }

    #[test]
    fn a_document_record_counts_its_findings() {
        let findings = parse_findings(br#"{"findings":[{"category":"spelling","severity":"minor","message":"a"},{"category":"spelling","severity":"major","message":"b"},{"category":"style","severity":"info","message":"c"}],"word_count":120,"language":"en"}"#).unwrap();
        let value = serde_json::to_value(record(Kind::Document, document_content(findings))).unwrap();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["findings_by_category"]["spelling"], 2);
        assert_eq!(value["findings_by_severity"]["major"], 1);
        assert_eq!(value["word_count"], 120);
        assert_eq!(value["findings"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_video_record_has_its_transcript_and_chapters_in_order() {
        let summary = parse_summary(
            br#"{"duration_seconds":90,"language":"fr","chapters":[{"start":60,"title":"B"},{"start":0,"title":"A"}]}"#,
        )
        .unwrap();
        let transcript = parse_webvtt(b"WEBVTT\n\n00:00.000 --> 00:01.000\nBonjour\n").unwrap();
        let value = serde_json::to_value(record(Kind::Video, video_content(summary, transcript))).unwrap();
        assert_eq!(value["transcript"], "Bonjour");
        assert_eq!(value["chapters"][0]["title"], "A");
        assert_eq!(value["duration_seconds"], 90.0);
        let back: Record = serde_json::from_value(value).unwrap();
        assert!(matches!(back.content, Content::Video { .. }));
    }
}
