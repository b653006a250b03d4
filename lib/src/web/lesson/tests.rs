//! The lesson-plan workspace through the router, with the files in a real S3 server
//! (s3s-fs in process): the page places the findings in the original's text (a .docx, a
//! PDF, plain text), groups and counts them; the text route answers `text/plain;
//! charset=utf-8` to whoever may read the document and 404 to another teacher.

use axum::http::{StatusCode, header};
use sha2::Digest;

use crate::db::{ArtifactRow, State};
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, sqlite};
use crate::ids::{DocumentId, Kind};
use crate::provider::protocol::{Finding, FindingCategory, Findings, Location, Severity};
use crate::stages::normalize::record::{self, Artifact, Original, Record};
use crate::storage::testing::TestS3;
use crate::web::tests::{get, router, sign_in};

/// A lesson plan of `uploader`, normalized: `original` in the uploads bucket under
/// `{uploader}/week3/{name}`, `corrected` in the results bucket, and `findings` in its
/// record.
pub(in crate::web) async fn lesson_plan(
    t: &Target,
    s3: &TestS3,
    uploader: &str,
    (name, content_type, original): (&str, &str, &[u8]),
    corrected: &[u8],
    findings: Vec<Finding>,
) -> DocumentId {
    let id = t.receive(uploader, Kind::Document, name).await;
    let key = format!("{uploader}/week3/{name}");
    s3.put_file("uploads", &key, original);
    let submission = id.submission_id("sim").to_string();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", &submission, "job_1", "transfer", 1).await.unwrap());
    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let corrected_name = match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.corrected.{ext}"),
        None => format!("{name}.corrected"),
    };
    let corrected_key = format!("{id}/corrected/{corrected_name}");
    s3.put_file("results", &corrected_key, corrected);
    let row = ArtifactRow {
        role: crate::provider::protocol::Role::Corrected,
        name: corrected_name.clone(),
        key: corrected_key.clone(),
        size: corrected.len() as i64,
        sha256: hex::encode(sha2::Sha256::digest(corrected)),
        content_type: content_type.into(),
    };
    assert!(
        t.db.record_validated(id, State::Processed, &format!("evt-{id}"), std::slice::from_ref(&row), "validate", 1)
            .await
            .unwrap()
    );
    let record = Record {
        schema_version: record::SCHEMA_VERSION,
        kind: Kind::Document,
        uploader_id: uploader.into(),
        original: Original {
            bucket: "uploads".into(),
            key,
            size: original.len() as i64,
            content_type: content_type.into(),
        },
        artifacts: vec![Artifact {
            role: row.role,
            name: row.name,
            key: row.key,
            size: row.size,
            sha256: row.sha256,
            content_type: row.content_type,
        }],
        content: record::document_content(Findings { findings, word_count: 40, language: "en".into() }),
    };
    let json = serde_json::to_value(&record).unwrap();
    assert!(t.db.store_normalized(id, &json, "normalize", 1).await.unwrap());
    id
}

/// The normalized record of a lesson plan `uploads/{key}` with result `artifacts` and
/// `findings` (JSON, as a provider sends them), as the normalize stage stores it.
pub(in crate::web) fn record_json(
    uploader: &str,
    key: &str,
    artifacts: &[ArtifactRow],
    findings: serde_json::Value,
) -> serde_json::Value {
    let findings: Vec<Finding> = serde_json::from_value(findings).expect("findings of the protocol's shape");
    let record = Record {
        schema_version: record::SCHEMA_VERSION,
        kind: Kind::Document,
        uploader_id: uploader.into(),
        original: Original {
            bucket: "uploads".into(),
            key: key.into(),
            size: 48213,
            content_type: "application/pdf".into(),
        },
        artifacts: artifacts
            .iter()
            .map(|a| Artifact {
                role: a.role,
                name: a.name.clone(),
                key: a.key.clone(),
                size: a.size,
                sha256: a.sha256.clone(),
                content_type: a.content_type.clone(),
            })
            .collect(),
        content: record::document_content(Findings { findings, word_count: 900, language: "en".into() }),
    };
    serde_json::to_value(&record).unwrap()
}

pub(in crate::web) fn finding(
    category: FindingCategory,
    severity: Severity,
    message: &str,
    excerpt: Option<&str>,
    location: Location,
) -> Finding {
    Finding {
        category,
        severity,
        message: message.into(),
        excerpt: excerpt.map(str::to_owned),
        suggestion: None,
        location: Some(location),
    }
}

fn paragraph(n: u32) -> Location {
    Location { paragraph: Some(n), ..Location::default() }
}

pub(in crate::web) const PLAN: [&str; 4] = [
    "Year 5 · Fractions, week 3",
    "Teh pupils will compare fractions with the same denominator.",
    "Each pupil will recieve a worksheet and work in pairs untill the bell.",
    "Homework: teh worksheet on equivalent fractions.",
];

/// The findings of [`PLAN`]: a v2 finding with offsets, v1 findings placed by excerpt
/// (exactly, and ignoring case and spacing), and one not in the text.
pub(in crate::web) fn plan_findings() -> Vec<Finding> {
    let text = PLAN.join("\n");
    let at = text.find("recieve").unwrap();
    let start = text[..at].chars().count() as u64;
    let offsets = Location { paragraph: Some(3), start: Some(start), end: Some(start + 7), ..Location::default() };
    vec![
        finding(FindingCategory::Spelling, Severity::Minor, "\"recieve\" is misspelled", Some("recieve"), offsets),
        finding(FindingCategory::Spelling, Severity::Minor, "\"teh\" is misspelled", Some("teh"), paragraph(4)),
        finding(
            FindingCategory::Grammar,
            Severity::Major,
            "until, not untill",
            Some("pairs untill the bell"),
            paragraph(3),
        ),
        finding(
            FindingCategory::Clarity,
            Severity::Major,
            "the learning objective is not stated",
            Some("learning objective"),
            paragraph(1),
        ),
        finding(
            FindingCategory::Style,
            Severity::Info,
            "consider a shorter sentence",
            Some("EACH PUPIL  will"),
            paragraph(3),
        ),
    ]
}

#[tokio::test]
async fn a_docx_lesson_plans_page_places_groups_and_counts_its_findings() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["uploads", "results"]).await;
    let docx = crate::extract::samples::docx(&PLAN);
    let corrected = crate::extract::samples::docx(
        &PLAN
            .map(|p| {
                p.replace("Teh", "The").replace("teh", "the").replace("recieve", "receive").replace("untill", "until")
            })
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    let id = lesson_plan(&t, &s3, "teacher-42", ("plan.docx", DOCX, &docx), &corrected, plan_findings()).await;
    let router = router(&t, &crate::web::tests::files::with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;

    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    // Four of five placed, each a mark in the original's text; the corrected text beside it.
    assert_eq!(body.matches("<mark class=\"place").count(), 4, "{body}");
    assert!(body.contains("<mark class=\"place severity-minor\" id=\"mark-3\" tabindex=\"-1\" data-findings=\"finding-1\">teh</mark> worksheet"), "{body}");
    assert!(body.contains("Each pupil will receive a worksheet"), "the corrected text: {body}");
    // Grouped, most severe first, with counts; the unplaced one said and kept.
    let major = body.find("id=\"group-major\"").unwrap();
    let minor = body.find("id=\"group-minor\"").unwrap();
    let info = body.find("id=\"group-info\"").unwrap();
    assert!(major < minor && minor < info, "{body}");
    assert!(body.contains("5 findings (1 not found in the text)"), "{body}");
    assert!(body.contains("Not found in the text") && body.contains("<blockquote>learning objective</blockquote>"));
    // A card centres its flagged words in their sentence and links to the mark.
    assert!(
        body.contains(
            "Each pupil will <mark class=\"flagged\">recieve</mark> a worksheet and work in pairs untill the bell."
        ),
        "{body}"
    );
    assert!(body.contains("href=\"#mark-2\""), "{body}");
    // The text links and the corrected file, through the gateway.
    for link in ["text/original", "text/corrected", "files/corrected"] {
        assert!(body.contains(&format!("/ui/documents/{id}/{link}")), "{link}: {body}");
    }

    // In French.
    let request = axum::http::Request::get(format!("/ui/documents/{id}"))
        .header(header::COOKIE, &session)
        .header(header::ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9")
        .body(axum::body::Body::empty())
        .unwrap();
    let french = crate::web::tests::send(&router, request).await;
    assert!(french.body.contains("5 remarques (1 introuvable dans le texte)"), "{}", french.body);
    assert!(french.body.contains("Texte corrigé"), "{}", french.body);
}

#[tokio::test]
async fn a_pdf_lesson_plans_text_is_extracted_and_shown() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["uploads", "results"]).await;
    let pdf = crate::extract::samples::pdf(&["Teh lesson plan", "Pupils recieve a worksheet"]);
    let recieve = finding(FindingCategory::Spelling, Severity::Minor, "misspelled", Some("recieve"), paragraph(2));
    let id = lesson_plan(&t, &s3, "teacher-42", ("plan.pdf", "application/pdf", &pdf), &pdf, vec![recieve]).await;
    let router = router(&t, &crate::web::tests::files::with_store(&s3));
    let (session, _) = sign_in(&router, TEACHER_TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert!(page.body.contains("data-findings=\"finding-0\">recieve</mark> a worksheet"), "{}", page.body);
}

#[tokio::test]
async fn the_text_route_answers_utf8_text_to_its_readers_and_404_to_another_teacher() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["uploads", "results"]).await;
    let original = "Year 5 · Fractions\nWe recieve teh plan.\n".as_bytes();
    let corrected = "Year 5 · Fractions\nWe receive the plan.\n".as_bytes();
    let own = lesson_plan(&t, &s3, "teacher-42", ("plan.md", "text/markdown", original), corrected, vec![]).await;
    let other = lesson_plan(&t, &s3, "teacher-7", ("plan.md", "text/markdown", original), corrected, vec![]).await;
    let router = router(&t, &crate::web::tests::files::with_store(&s3));
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;

    for (which, bytes, name) in
        [("original", original, "plan.md.txt"), ("corrected", corrected, "plan.corrected.md.txt")]
    {
        let text = get(&router, &format!("/ui/documents/{own}/text/{which}"), Some(&teacher)).await;
        assert_eq!(text.status, StatusCode::OK, "{which}: {}", text.body);
        assert_eq!(text.body.as_bytes(), bytes, "{which}");
        assert_eq!(text.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        let disposition = text.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(disposition.starts_with(&format!("inline; filename=\"{name}\"")), "{disposition}");
        assert_eq!(text.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    // The corrected file itself, through the gateway: its type with the charset, as a download.
    let file = get(&router, &format!("/ui/documents/{own}/files/corrected"), Some(&teacher)).await;
    assert_eq!(file.headers[header::CONTENT_TYPE], "text/markdown; charset=utf-8");
    assert!(file.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment;"));
    assert!(file.body.contains("Year 5 · Fractions"));

    // Another teacher's document, an unknown text, no session.
    assert_eq!(
        get(&router, &format!("/ui/documents/{other}/text/original"), Some(&teacher)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&router, &format!("/ui/documents/{own}/text/findings"), Some(&teacher)).await.status,
        StatusCode::NOT_FOUND
    );
    let anonymous = get(&router, &format!("/ui/documents/{own}/text/original"), None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    // The evaluator reads both.
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    assert_eq!(
        get(&router, &format!("/ui/documents/{other}/text/original"), Some(&evaluator)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_format_without_text_is_said_and_its_file_still_offered() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["uploads", "results"]).await;
    let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0, 0xff, 0xfe];
    let id = lesson_plan(&t, &s3, "teacher-42", ("plan.rtf", "application/rtf", &png), &png, vec![]).await;
    let router = router(&t, &crate::web::tests::files::with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert!(
        page.body.contains("This file&#39;s format has no text")
            || page.body.contains("This file's format has no text"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("/ui/documents/{id}/files/corrected")), "{}", page.body);
    assert_eq!(
        get(&router, &format!("/ui/documents/{id}/text/original"), Some(&session)).await.status,
        StatusCode::NOT_FOUND
    );
}
