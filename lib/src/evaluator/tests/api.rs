//! `GET /v1/documents` and `GET /v1/documents/{id}` on both databases.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use super::*;
use crate::db::{ArtifactRow, State, documents};
use crate::lifecycle::FailureCause;

on_both!(
    filters_select_by_state_kind_and_uploader,
    the_key_filter_selects_text_in_the_key_whatever_its_case_and_literally,
    pages_cover_every_document_once_even_when_documents_arrive_meanwhile,
    documents_created_in_the_same_microsecond_are_paged_by_id,
    requests_without_the_right_token_are_refused,
    unknown_and_malformed_ids_are_answered_404_and_400,
    known_tokens_of_another_role_are_refused_with_403,
    query_values_that_can_never_match_are_400_and_never_reach_the_database,
    a_normalized_document_has_its_timeline_content_and_artifact_links,
    failed_and_rejected_documents_carry_their_error,
);

/// The fields of a document's summary: every list item has them, and a document's own
/// answer has them and its details.
const SUMMARY_FIELDS: [&str; 14] = [
    "id",
    "state",
    "kind",
    "uploader_id",
    "bucket",
    "key",
    "size",
    "content_type",
    "provider",
    "provider_job_id",
    "attempts",
    "created_at",
    "updated_at",
    "error",
];

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn list(router: &Router, query: &str) -> Value {
    let (status, body) = get(router, &format!("/v1/documents{query}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Every page from the first, following `next_cursor`, with `limit` per page.
async fn all_pages(router: &Router, filter: &str, limit: u64) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit={limit}{filter}&cursor={c}"),
            None => format!("?limit={limit}{filter}"),
        };
        let page = list(router, &query).await;
        pages.push(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

async fn filters_select_by_state_kind_and_uploader(t: Target) {
    let a = t.receive("teacher-1", Kind::Document, "a.pdf").await;
    let b = t.receive("teacher-1", Kind::Video, "b.mp4").await;
    let c = t.receive("teacher-2", Kind::Document, "c.pdf").await;
    t.db.mark_failed(c, "transfer", 3, FailureCause::SubmissionRefused, "provider refused the file").await.unwrap();
    let router = t.router();

    let everything = list(&router, "").await;
    assert_eq!(sorted(ids(&everything)), sorted(vec![a.to_string(), b.to_string(), c.to_string()]));
    assert_eq!(everything["next_cursor"], Value::Null);
    let item = &everything["items"][0];
    for field in SUMMARY_FIELDS {
        assert!(item.get(field).is_some(), "list item lacks {field}: {item}");
    }
    assert!(item.get("timeline").is_none(), "list items carry the first fields only");

    assert_eq!(ids(&list(&router, "?state=failed").await), [c.to_string()]);
    assert_eq!(ids(&list(&router, "?kind=video").await), [b.to_string()]);
    assert_eq!(sorted(ids(&list(&router, "?uploader=teacher-1").await)), sorted(vec![a.to_string(), b.to_string()]));
    assert_eq!(ids(&list(&router, "?uploader=teacher-1&kind=document&state=received").await), [a.to_string()]);
    assert!(ids(&list(&router, "?uploader=nobody").await).is_empty());

    for (query, field) in
        [("?state=done", "state"), ("?kind=audio", "kind"), ("?limit=501", "limit"), ("?cursor=xyz", "cursor")]
    {
        let (status, body) = get(&router, &format!("/v1/documents{query}"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["detail"]["field"], field, "{body}");
        assert!(body["error"].is_string());
    }
}

/// `key=`: documents whose key contains the text, ignoring ASCII case; `%` and `_` are
/// themselves, not patterns; with the other filters and paging.
async fn the_key_filter_selects_text_in_the_key_whatever_its_case_and_literally(t: Target) {
    let week = t.receive("teacher-1", Kind::Document, "Fractions-Week3.pdf").await.to_string();
    let percent = t.receive("teacher-1", Kind::Document, "100%_done.pdf").await.to_string();
    let video = t.receive("teacher-2", Kind::Video, "fractions.mp4").await.to_string();
    t.receive("teacher-2", Kind::Document, "1000 done.pdf").await;
    let router = t.router();
    assert_eq!(sorted(ids(&list(&router, "?key=FRACTIONS").await)), sorted(vec![week, video.clone()]));
    assert_eq!(ids(&list(&router, "?key=fractions&kind=video").await), [video]);
    assert_eq!(ids(&list(&router, "?key=%25_").await), [percent], "`%_` matched literally");
    assert!(ids(&list(&router, "?key=week4").await).is_empty());
    // Every key has the uploader's folder: `week3/` matches all four, two per page.
    let pages = all_pages(&router, "&key=week3%2F", 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
    let (status, body) = get(&router, "/v1/documents?key=a&key=b", Some(TOKEN)).await;
    assert_eq!((status, body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("key")), "{body}");
}

async fn pages_cover_every_document_once_even_when_documents_arrive_meanwhile(t: Target) {
    let mut before = Vec::new();
    for i in 0..7 {
        before.push(t.receive("teacher-1", Kind::Document, &format!("{i}.pdf")).await.to_string());
    }
    let router = t.router();

    let pages = all_pages(&router, "", 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    let seen: Vec<String> = pages.concat();
    assert_eq!(sorted(seen.clone()), sorted(before.clone()));

    // Newest first: the reverse of insertion (each insert is a later microsecond or,
    // at worst, the same one; then id decides, which the next test checks).
    let page = list(&router, "?limit=500").await;
    let times: Vec<DateTime<Utc>> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["created_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Documents arriving between two pages come before the cursor: the pages after it
    // still hold exactly the remaining older documents.
    let first = list(&router, "?limit=3").await;
    for i in 0..4 {
        t.receive("teacher-1", Kind::Document, &format!("late-{i}.pdf")).await;
    }
    let mut rest = Vec::new();
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
    loop {
        let page = list(&router, &format!("?limit=3&cursor={cursor}")).await;
        rest.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut combined = ids(&first);
    combined.extend(rest);
    assert_eq!(combined, seen, "no duplicates, no gaps, same order");
}

async fn documents_created_in_the_same_microsecond_are_paged_by_id(t: Target) {
    let at: DateTime<Utc> = "2026-01-05T10:00:00.123456Z".parse().unwrap();
    let mut expected = HashSet::new();
    for i in 0..5 {
        let document = new_document("teacher-9", Kind::Document, &format!("{i}.pdf"));
        expected.insert(document.id.to_string());
        let row = documents::ActiveModel {
            id: Set(document.id.to_string()),
            state: Set("received".into()),
            kind: Set("document".into()),
            uploader_id: Set(document.uploader_id.into()),
            bucket: Set(document.bucket),
            key: Set(document.key),
            version_id: Set(None),
            etag: Set(document.etag),
            size: Set(document.size),
            content_type: Set(document.content_type),
            provider: Set(document.provider),
            provider_job_id: Set(None),
            submission_id: Set(None),
            error_stage: Set(None),
            error_reason: Set(None),
            failure_cause: Set(None),
            attempts: Set(json!({"transfer": 1})),
            normalized: Set(None),
            submission_round: Set(0),
            round_origin: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        };
        documents::Entity::insert(row).exec(t.db.connection()).await.unwrap();
    }
    // One document elsewhere in time.
    let other = new_document("teacher-9", Kind::Document, "other.pdf");
    t.db.record_received(&other, StageId::Transfer, 1, None).await.unwrap();
    let router = t.router();

    for limit in [1, 2, 4] {
        let pages = all_pages(&router, "&uploader=teacher-9", limit).await;
        let seen: Vec<String> = pages.concat();
        assert_eq!(seen.len(), 6, "limit {limit}: {seen:?}");
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), 6, "limit {limit}: duplicates in {seen:?}");
        // Whichever side of the tie `other` falls on (it is created now), the five
        // tied rows are all there, each once.
        let tied: HashSet<_> = seen.iter().filter(|id| expected.contains(*id)).cloned().collect();
        assert_eq!(tied, expected);
    }
}

async fn requests_without_the_right_token_are_refused(t: Target) {
    let id = t.receive("teacher-1", Kind::Document, "a.pdf").await;
    let router = t.router();
    for uri in ["/v1/documents".to_owned(), format!("/v1/documents/{id}")] {
        for token in [None, Some("wrong")] {
            let (status, body) = get(&router, &uri, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {token:?}");
            assert!(body["error"].is_string(), "{body}");
        }
    }

    // No token configured: nobody gets in, and the answer says what to set.
    let locked = t.router_with(&[("DOCFLOW__GATEWAY__TOKENS", "")]);
    let (status, body) = get(&locked, "/v1/documents", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("gateway.tokens"), "{body}");
}

async fn known_tokens_of_another_role_are_refused_with_403(t: Target) {
    let id = t.receive("teacher-42", Kind::Document, "a.pdf").await;
    let router = t.router();
    for uri in ["/v1/documents".to_owned(), format!("/v1/documents/{id}")] {
        for token in [UPLOADS_TOKEN, TEACHER_TOKEN] {
            let (status, body) = get(&router, &uri, Some(token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{uri} {token}");
            assert_ne!(body["detail"]["role"], "evaluator", "{body}");
            assert!(body.get("items").is_none() && body.get("id").is_none(), "nothing is shown: {body}");
        }
        let (status, _) = get(&router, &uri, Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    // A token configured by its SHA-256 works as the token itself does.
    let hashed = format!(
        "[{{token_sha256 = \"{}\", role = \"evaluator\"}}]",
        crate::settings::tokens::sha256_hex("hashed-evaluator-token")
    );
    let router = t.router_with(&[("DOCFLOW__GATEWAY__TOKENS", &hashed)]);
    assert_eq!(get(&router, "/v1/documents", Some("hashed-evaluator-token")).await.0, StatusCode::OK);
    assert_eq!(get(&router, "/v1/documents", Some(TOKEN)).await.0, StatusCode::UNAUTHORIZED);
}

async fn query_values_that_can_never_match_are_400_and_never_reach_the_database(t: Target) {
    t.receive("teacher-42", Kind::Document, "a.pdf").await;
    let router = t.router();
    // The longest URI the http crate builds (a 450 kB one is refused before any handler).
    let long = "t".repeat(60_000);
    for query in [
        "uploader=%00".to_owned(),
        "uploader=a%00b".to_owned(),
        format!("uploader={long}"),
        format!("cursor={long}"),
        "cursor=%00".to_owned(),
        "kind=%0a".to_owned(),
        format!("{long}=1"),
    ] {
        let (status, body) = get(&router, &format!("/v1/documents?{query}"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", &query[..query.len().min(40)]);
        let text = body.to_string();
        assert!(!text.contains("UTF8") && !text.contains("0x00"), "{text}");
        assert!(text.len() < 1024, "the input is not echoed whole");
    }
    let page = list(&router, "?uploader=teacher-42").await;
    assert_eq!(ids(&page).len(), 1);
}

async fn unknown_and_malformed_ids_are_answered_404_and_400(t: Target) {
    let router = t.router();
    let unknown = uuid::Uuid::new_v4();
    let (status, body) = get(&router, &format!("/v1/documents/{unknown}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no such document");
    assert_eq!(body["detail"]["id"], unknown.to_string());

    for path in ["/v1/documents/not-a-uuid", "/v1/documents/%FF%FE", "/v1/documents/%00"] {
        let (status, body) = get(&router, path, Some(TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["detail"]["field"], "id", "{path}");
    }
}

fn artifact(role: &str, name: &str, id: DocumentId) -> ArtifactRow {
    ArtifactRow {
        role: role.parse().unwrap(),
        name: name.into(),
        key: format!("{id}/{role}/{name}"),
        size: 49102,
        sha256: "ab".repeat(32),
        content_type: "application/pdf".into(),
    }
}

async fn a_normalized_document_has_its_timeline_content_and_artifact_links(t: Target) {
    let id = t.receive("teacher-42", Kind::Document, "plan.pdf").await;
    let db = &t.db;
    let submission = id.submission_id("sim").to_string();
    assert!(db.mark_submitted_in_round(id, 0, "sim", &submission, "job_7f3c", "transfer", 1).await.unwrap());
    assert!(db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let artifacts = [artifact("corrected", "plan.corrected.pdf", id), artifact("findings", "findings.json", id)];
    assert!(db.record_validated(id, State::Processed, "evt-1", &artifacts, "validate", 2).await.unwrap());
    let normalized = json!({"schema_version": 1, "findings": [], "word_count": 1234, "language": "en"});
    assert!(db.store_normalized(id, &normalized, "normalize", 1).await.unwrap());
    let router = t.router();

    let (status, body) = get(&router, &format!("/v1/documents/{id}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields: HashSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    let details = ["findings", "review", "timeline", "normalized", "artifacts", "reviews", "versions"];
    let expected: HashSet<&str> = SUMMARY_FIELDS.into_iter().chain(details).collect();
    assert_eq!(fields, expected);
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["state"], "normalized");
    assert_eq!(body["kind"], "document");
    assert_eq!(body["uploader_id"], "teacher-42");
    assert_eq!(body["bucket"], "uploads");
    assert_eq!(body["key"], "teacher-42/week3/plan.pdf");
    assert_eq!(body["size"], 48213);
    assert_eq!(body["provider"], "sim");
    assert_eq!(body["provider_job_id"], "job_7f3c");
    assert_eq!(body["attempts"], json!({"transfer": 1, "validate": 2, "normalize": 1}));
    assert_eq!(body["error"], Value::Null);
    assert_eq!(body["normalized"], normalized);

    let timeline = body["timeline"].as_array().unwrap();
    let steps: Vec<(&str, &str, i64)> = timeline
        .iter()
        .map(|e| (e["state"].as_str().unwrap(), e["stage"].as_str().unwrap(), e["attempt"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("received", "transfer", 1),
            ("submitted", "transfer", 1),
            ("processed", "validate", 1),
            ("validated", "validate", 2),
            ("normalized", "normalize", 1),
        ]
    );
    assert_eq!(timeline[2]["reason"], Value::Null, "a callback accepted needs no reason");
    assert_eq!(timeline[0]["reason"], Value::Null);
    assert!(timeline[0]["at"].as_str().unwrap().parse::<DateTime<Utc>>().is_ok());

    let artifacts = body["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 2);
    let corrected = &artifacts[0];
    assert_eq!(corrected["role"], "corrected");
    assert_eq!(corrected["name"], "plan.corrected.pdf");
    assert_eq!(corrected["size"], 49102);
    assert_eq!(corrected["sha256"], "ab".repeat(32));
    assert_eq!(corrected["content_type"], "application/pdf");
    let url = corrected["url"].as_str().unwrap();
    assert!(url.starts_with(S3_ENDPOINT), "{url}");
    assert!(url.contains(&format!("/results/{id}/corrected/")), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    assert_eq!(artifacts[1]["role"], "findings");
}

async fn failed_and_rejected_documents_carry_their_error(t: Target) {
    let failed = t.receive("teacher-1", Kind::Video, "talk.mp4").await;
    t.db.mark_failed(
        failed,
        "transfer",
        8,
        FailureCause::SubmissionRefused,
        "provider answered 422: unsupported codec",
    )
    .await
    .unwrap();
    let rejected = t.receive("teacher-1", Kind::Document, "plan.pdf").await;
    let submission = rejected.submission_id("sim").to_string();
    t.db.mark_submitted_in_round(rejected, 0, "sim", &submission, "job_1", "transfer", 1).await.unwrap();
    t.db.transition(rejected, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap();
    t.db.transition(
        rejected,
        &[State::Processed],
        State::Rejected,
        "validate",
        1,
        Some("sha256 mismatch for findings.json"),
    )
    .await
    .unwrap();
    let router = t.router();

    let (_, body) = get(&router, &format!("/v1/documents/{failed}"), Some(TOKEN)).await;
    assert_eq!(body["state"], "failed");
    let reason = "provider answered 422: unsupported codec";
    assert_eq!(body["error"], json!({"stage": "transfer", "reason": reason, "cause": "submission_refused"}));
    assert_eq!(body["normalized"], Value::Null);
    assert_eq!(body["artifacts"], json!([]));
    assert_eq!(body["timeline"].as_array().unwrap().len(), 2);

    let (_, body) = get(&router, &format!("/v1/documents/{rejected}"), Some(TOKEN)).await;
    assert_eq!(body["state"], "rejected");
    let reason = "sha256 mismatch for findings.json";
    assert_eq!(body["error"], json!({"stage": "validate", "reason": reason, "cause": "results_invalid"}));
    assert_eq!(body["timeline"].as_array().unwrap().last().unwrap()["reason"], "sha256 mismatch for findings.json");

    // The list shows the error too.
    let page = list(&router, "?state=rejected").await;
    assert_eq!(page["items"][0]["error"]["stage"], "validate");
}
