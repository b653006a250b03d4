//! A normalized video's page through the router, its results in a real S3 server (s3s-fs
//! in process): the workspace with the transcript read from the stored WebVTT (cleaned,
//! by speaker, timed, each time a link that starts the player), the summary with the
//! language in words in the viewer's language, and what it shows when the transcript or
//! the record cannot be read.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sha2::Digest;

use super::{Page, get, router, send, sign_in};
use crate::db::{ArtifactRow, State};
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, sqlite};
use crate::ids::{DocumentId, Kind};
use crate::stages::normalize::record::{Artifact, Content, Original, Record, SCHEMA_VERSION};
use crate::stages::validate::checks::Chapter;
use crate::storage::testing::TestS3;

/// A transcript as a recogniser writes one: voice spans, styling, a dialogue cue, an
/// entity, a cue without a speaker.
pub(in crate::web) const VTT: &str = "WEBVTT\n\n\
    1\n00:00:00.000 --> 00:00:01.200\n<v Ms Lee>Good morning, <i>everyone</i>.\n\n\
    2\n00:00:01.200 --> 00:00:02.400\n<v Ms Lee>Today: halves &amp; quarters.\n\n\
    3\n00:00:02.400 --> 00:00:03.600\n<v Sam>Is a half<00:00:03.000> two quarters?\n\n\
    4\n00:00:03.600 --> 00:00:04.400\n<c.noise>(laughter)</c>\n\n\
    5\n00:00:04.400 --> 00:00:05.000\n<v Ms Lee>Yes!\n<v Sam>Great.\n";

/// The record's plain text of [`VTT`], as normalize keeps it (markup and all).
const RECORD_TEXT: &str = "<v Ms Lee>Good morning, <i>everyone</i>.\n<v Ms Lee>Today: halves &amp; quarters.\n\
    <v Sam>Is a half<00:00:03.000> two quarters?\n<c.noise>(laughter)</c>\n<v Ms Lee>Yes!\n<v Sam>Great.";

/// A normalized video of teacher-42, 5 s long in French, whose results `files` (role,
/// name, type, bytes) are in `s3`'s results bucket and named by its record as normalize
/// writes it. `stored`: whether the files' bytes are put in the bucket.
pub(in crate::web) async fn normalized_video(
    t: &Target,
    s3: &TestS3,
    files: &[(&str, &str, &str, &[u8])],
    stored: bool,
) -> DocumentId {
    let id = t.receive("teacher-42", Kind::Video, "fractions.mp4").await;
    let submission = id.submission_id("sim").to_string();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", &submission, "job_1", "transfer", 1).await.unwrap());
    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let rows: Vec<ArtifactRow> = files
        .iter()
        .map(|(role, name, content_type, bytes)| {
            let key = format!("{id}/{role}/{name}");
            if stored {
                s3.put_file("results", &key, bytes);
            }
            ArtifactRow {
                role: role.parse().expect("a result role"),
                name: (*name).into(),
                key,
                size: bytes.len() as i64,
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                content_type: (*content_type).into(),
            }
        })
        .collect();
    assert!(t.db.record_validated(id, State::Processed, &format!("evt-{id}"), &rows, "validate", 1).await.unwrap());
    let record = Record {
        schema_version: SCHEMA_VERSION,
        kind: Kind::Video,
        uploader_id: "teacher-42".into(),
        original: Original {
            bucket: "uploads".into(),
            key: "teacher-42/week3/fractions.mp4".into(),
            size: 41_851,
            content_type: "video/mp4".into(),
        },
        artifacts: rows
            .iter()
            .map(|r| Artifact {
                role: r.role,
                name: r.name.clone(),
                key: r.key.clone(),
                size: r.size,
                sha256: r.sha256.clone(),
                content_type: r.content_type.clone(),
            })
            .collect(),
        content: Content::Video {
            duration_seconds: 5.0,
            language: "fr".into(),
            speakers: Some(2),
            chapters: vec![
                Chapter { start: 0.0, title: "Halves".into() },
                Chapter { start: 2.4, title: "Quarters".into() },
            ],
            transcript: RECORD_TEXT.into(),
        },
    };
    let value = serde_json::to_value(&record).unwrap();
    assert!(t.db.store_normalized(id, &value, "normalize", 1).await.unwrap());
    id
}

fn with_store(s3: &TestS3) -> [(&'static str, &str); 1] {
    [("DOCFLOW__S3__ENDPOINT", s3.url.as_str())]
}

async fn page_in(router: &axum::Router, uri: &str, cookie: &str, language: &str) -> Page {
    let request = Request::get(uri)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, language)
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

const FILES: [(&str, &str, &str, &[u8]); 3] = [
    ("rendition", "fractions.mp4", "video/mp4", b"\0\0\0\x18ftypmp42"),
    ("transcript", "transcript.vtt", "text/vtt", VTT.as_bytes()),
    ("summary", "summary.json", "application/json", b"{}"),
];

#[tokio::test]
async fn a_videos_page_is_a_workspace_with_a_timed_transcript_by_speaker_without_markup() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let id = normalized_video(&t, &s3, &FILES, true).await;
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TEACHER_TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    for text in [
        format!("<video id=\"player\" controls preload=\"metadata\" src=\"/ui/documents/{id}/files/rendition\""),
        format!("src=\"/ui/documents/{id}/transcript.vtt\""),
        "<track kind=\"captions\" default label=\"Transcript\" srclang=\"fr\"".to_owned(),
        // The summary: length, the language in words, speakers; chapters that seek.
        "<dd>0:05</dd>".to_owned(),
        "<dd>French</dd>".to_owned(),
        "<dd>2</dd>".to_owned(),
        "<a class=\"at\" href=\"?t=2.4#player\" data-seek=\"2.4\"><span class=\"visually-hidden\">Play from </span>\
         <time datetime=\"PT2.4S\">0:02</time></a> Quarters"
            .to_owned(),
        // The cues: timed links, speakers where the voice changes, text without markup.
        "<ol class=\"cues\" aria-labelledby=\"transcript\">".to_owned(),
        "<li data-start=\"0\" data-end=\"1.2\"><a class=\"at\" href=\"?t=0#player\" data-seek=\"0\">".to_owned(),
        "<p><span class=\"speaker\">Ms Lee</span> Good morning, everyone.</p>".to_owned(),
        "<p>Today: halves &amp; quarters.</p>".to_owned(),
        "<p><span class=\"speaker\">Sam</span> Is a half two quarters?</p>".to_owned(),
        "<p>(laughter)</p>".to_owned(),
        "<p><span class=\"speaker\">Ms Lee</span> Yes!</p><p><span class=\"speaker\">Sam</span> Great.</p>".to_owned(),
    ] {
        assert!(body.contains(&text), "{text} missing: {body}");
    }
    assert_eq!(body.matches("<li data-start=").count(), 5, "{body}");
    for markup in ["&lt;v", "&lt;i&gt;", "&lt;c", "&amp;amp;", "00:00:03.000"] {
        assert!(!body.contains(markup), "{markup} shown: {body}");
    }
    assert!(!body.contains(&s3.url), "the page names no store address: {body}");
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(!csp.contains("http"), "the video plays from the gateway: {csp}");

    // In French: the words and the language's name.
    let french = page_in(&router, &format!("/ui/documents/{id}"), &session, "fr-FR,fr;q=0.9").await;
    for text in ["<h2 id=\"video\">Vidéo</h2>", "<dd>français</dd>", ">Transcription</h3>", "Lire à partir de"] {
        assert!(french.body.contains(text), "{text} missing: {}", french.body);
    }
}

#[tokio::test]
async fn a_time_link_starts_the_player_there_without_the_script() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let id = normalized_video(&t, &s3, &FILES, true).await;
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}?t=2.4"), Some(&session)).await;
    assert!(page.body.contains(&format!("src=\"/ui/documents/{id}/files/rendition#t=2.4\"")), "{}", page.body);
    for odd in ["?t=-3", "?t=NaN", "?t=soon"] {
        let page = get(&router, &format!("/ui/documents/{id}{odd}"), Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&format!("src=\"/ui/documents/{id}/files/rendition\"")), "{odd}: {}", page.body);
    }
}

#[tokio::test]
async fn without_its_stored_transcript_the_page_shows_the_records_text_cleaned() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    // The rows name the files, but the bucket does not hold them (erased, or a store
    // that lost them).
    let id = normalized_video(&t, &s3, &FILES, false).await;
    let router = router(&t, &with_store(&s3));
    let (session, _) = sign_in(&router, TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("The timed transcript could not be read"), "{body}");
    assert!(body.contains("<span class=\"speaker\">Sam</span> Is a half two quarters?"), "{body}");
    assert!(!body.contains("&lt;v") && !body.contains("<ol class=\"cues\""), "{body}");
}

#[tokio::test]
async fn a_record_that_cannot_be_read_is_said_and_the_video_still_plays() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Video, "fractions.mp4").await;
    let submission = id.submission_id("sim").to_string();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", &submission, "job_1", "transfer", 1).await.unwrap());
    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let rendition = ArtifactRow {
        role: crate::provider::protocol::Role::Rendition,
        name: "fractions.mp4".into(),
        key: format!("{id}/rendition/fractions.mp4"),
        size: 10,
        sha256: "ab".repeat(32),
        content_type: "video/mp4".into(),
    };
    assert!(t.db.record_validated(id, State::Processed, "evt-1", &[rendition], "validate", 1).await.unwrap());
    let partial = serde_json::json!({"schema_version": 1, "duration_seconds": 5.0, "language": "en"});
    assert!(t.db.store_normalized(id, &partial, "normalize", 1).await.unwrap());
    let router = router(&t, &[]);
    let (session, _) = sign_in(&router, TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}"), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("results cannot be read ("), "{}", page.body);
    assert!(page.body.contains(&format!("src=\"/ui/documents/{id}/files/rendition\"")), "{}", page.body);
}
