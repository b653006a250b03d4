//! Reviews, the sorted and tabbed list, its counts and its cursors, on both databases.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use sea_orm::{ColumnTrait, QueryFilter};

use crate::db::{State, documents};

on_both!(
    every_order_pages_forward_and_back_over_the_same_rows,
    counts_per_tab_follow_states_and_reviews,
    a_review_needs_an_evaluator_token_a_normalized_document_and_a_fitting_comment,
    uploads_of_the_same_file_are_versions_and_each_keeps_its_reviews,
    a_thousand_documents_are_counted_sorted_and_paged_both_ways,
);

const STATES: [&str; 7] = ["received", "submitted", "processed", "validated", "normalized", "failed", "rejected"];

// `..Default::default()` keeps this compiling when a migration adds a nullable column.
#[allow(clippy::needless_update)]
/// `n` documents inserted directly: uploaders, names, states, findings and times vary;
/// every fifth name repeats so that ties are broken by id. Their ids.
async fn seed(t: &Target, n: usize) -> Vec<String> {
    let start: DateTime<Utc> = "2026-11-01T08:00:00Z".parse().unwrap();
    let mut rows = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = uuid::Uuid::new_v4().to_string();
        let uploader = format!("teacher-{:02}", i % 13);
        let state = STATES[i % STATES.len()];
        let name = if i % 5 == 0 { "Plan.docx".to_owned() } else { format!("plan-{:04}.docx", (i * 7919) % n) };
        let key = if i % 4 == 0 {
            format!("{uploader}/2026/11/{}-{name}", uuid::Uuid::new_v4())
        } else {
            format!("{uploader}/week{}/{name}", i % 3)
        };
        let normalized = (state == "normalized")
            .then(|| json!({"schema_version": 1, "findings": vec![json!({}); i % 9], "word_count": 10}));
        let created = start + Duration::seconds(((i * 37) % n) as i64);
        rows.push(documents::ActiveModel {
            id: Set(id.clone()),
            state: Set(state.into()),
            kind: Set(if i % 6 == 0 { "video" } else { "document" }.into()),
            uploader_id: Set(uploader),
            bucket: Set("uploads".into()),
            key: Set(key),
            version_id: Set(None),
            etag: Set(Some(id.clone())),
            size: Set(1000),
            content_type: Set("application/pdf".into()),
            provider: Set("sim".into()),
            provider_job_id: Set(None),
            submission_id: Set(None),
            error_stage: Set(None),
            error_reason: Set(None),
            attempts: Set(json!({})),
            normalized: Set(normalized),
            submission_round: Set(0),
            round_origin: Set(None),
            created_at: Set(created),
            updated_at: Set(created + Duration::seconds((i % 11) as i64 * 1000)),
            ..Default::default()
        });
        ids.push(id);
    }
    for chunk in rows.chunks(100) {
        documents::Entity::insert_many(chunk.to_vec()).exec(t.db.connection()).await.unwrap();
    }
    ids
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

async fn list(router: &Router, query: &str) -> Value {
    let (status, body) = get(router, &format!("/v1/documents?{query}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// Every page forward from the first, then every page back from the last one by
/// `prev_cursor`: both must be the whole listing, in order, each row once.
async fn walk(router: &Router, query: &str, limit: u64) -> Vec<String> {
    let mut forward = Vec::new();
    let mut page = list(router, &format!("{query}&limit={limit}")).await;
    assert_eq!(page["prev_cursor"], Value::Null, "the first page has no previous one");
    let mut last = page.clone();
    forward.extend(ids(&page));
    while let Some(next) = page["next_cursor"].as_str() {
        page = list(router, &format!("{query}&limit={limit}&cursor={next}")).await;
        assert!(!ids(&page).is_empty(), "a next page is never empty");
        forward.extend(ids(&page));
        last = page.clone();
        assert!(forward.len() < 5000, "pagination does not end");
    }
    let mut backward = ids(&last);
    let mut page = last;
    while let Some(prev) = page["prev_cursor"].as_str() {
        page = list(router, &format!("{query}&limit={limit}&cursor={prev}")).await;
        let mut earlier = ids(&page);
        assert!(!earlier.is_empty(), "a previous page is never empty");
        earlier.extend(backward);
        backward = earlier;
        assert!(page["next_cursor"].is_string(), "a previous page has a next one");
    }
    assert_eq!(backward, forward, "{query}: back and forth agree");
    let unique: HashSet<_> = forward.iter().collect();
    assert_eq!(unique.len(), forward.len(), "{query}: no row twice");
    forward
}

async fn every_order_pages_forward_and_back_over_the_same_rows(t: Target) {
    let all = seed(&t, 61).await;
    let router = t.router();
    for sort in ["created_at", "updated_at", "name", "uploader", "state", "findings"] {
        for direction in ["asc", "desc"] {
            let query = format!("sort={sort}&direction={direction}");
            let whole = ids(&list(&router, &format!("{query}&limit=500")).await);
            assert_eq!(whole.len(), all.len());
            assert_eq!(walk(&router, &query, 7).await, whole, "{query}");
        }
    }
    // The orders are what they say, where Rust can tell without the database's collation.
    let whole = list(&router, "sort=findings&direction=desc&limit=500").await;
    let findings: Vec<i64> =
        whole["items"].as_array().unwrap().iter().map(|i| i["findings"].as_i64().unwrap_or(-1)).collect();
    assert!(findings.windows(2).all(|w| w[0] >= w[1]), "{findings:?}");
    assert_eq!(findings[0], 8);
    let whole = list(&router, "sort=state&limit=500").await;
    let states: Vec<usize> = whole["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| STATES.iter().position(|s| *s == i["state"]).unwrap())
        .collect();
    assert!(states.windows(2).all(|w| w[0] <= w[1]), "state sorts in pipeline order by default ascending");
    let whole = list(&router, "sort=created_at&direction=asc&limit=500").await;
    let times: Vec<&str> =
        whole["items"].as_array().unwrap().iter().map(|i| i["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // A name sorts without the browser upload's UUID: "Plan.docx" ones are together.
    let whole = list(&router, "sort=name&limit=500").await;
    let names: Vec<bool> = whole["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["key"].as_str().unwrap().ends_with("/Plan.docx") || i["key"].as_str().unwrap().ends_with("-Plan.docx")
        })
        .collect();
    let first = names.iter().position(|b| *b).unwrap();
    let run = names[first..].iter().take_while(|b| **b).count();
    assert_eq!(run, names.iter().filter(|b| **b).count(), "same names sort together, UUID or not");
    // A cursor continues its own order; naming another is refused.
    let page = list(&router, "sort=name&limit=5").await;
    let next = page["next_cursor"].as_str().unwrap();
    let (status, body) = get(&router, &format!("/v1/documents?sort=uploader&cursor={next}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["detail"]["field"], "cursor");
    for (query, field) in
        [("sort=size", "sort"), ("direction=up", "direction"), ("tab=done", "tab"), ("tab=all&review=all", "review")]
    {
        let (status, body) = get(&router, &format!("/v1/documents?{query}"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["detail"]["field"], field, "{body}");
    }
}

/// `POST /v1/documents/{id}/reviews` with `token` and a JSON body.
async fn review(router: &Router, id: &str, token: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut request =
        Request::post(format!("/v1/documents/{id}/reviews")).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router.clone().oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn normalized_of(t: &Target) -> Vec<String> {
    let router = t.router();
    ids(&list(&router, "state=normalized&limit=500").await)
}

async fn counts(router: &Router, query: &str) -> Value {
    let (status, body) = get(router, &format!("/v1/documents/counts?{query}"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn counts_per_tab_follow_states_and_reviews(t: Target) {
    seed(&t, 28).await; // four of each state
    let router = t.router();
    assert_eq!(
        counts(&router, "").await,
        json!({"all": 28, "to_review": 4, "in_progress": 16, "needs_attention": 8, "reviewed": 0})
    );
    let normalized = normalized_of(&t).await;
    for id in &normalized[..3] {
        assert_eq!(review(&router, id, Some(TOKEN), r#"{"comment": "Clear aims."}"#).await.0, StatusCode::CREATED);
    }
    // A second review of one document counts once.
    let (status, again) =
        review(&router, &normalized[0], Some(TOKEN), r#"{"comment": "And again.", "verdict": "changes_requested"}"#)
            .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(
        counts(&router, "tab=to_review&sort=name").await,
        json!({"all": 28, "to_review": 1, "in_progress": 16, "needs_attention": 8, "reviewed": 3})
    );
    let reviewed: HashSet<String> = ids(&list(&router, "tab=reviewed").await).into_iter().collect();
    assert_eq!(reviewed, normalized[..3].iter().cloned().collect());
    assert_eq!(ids(&list(&router, "review=to_review").await), [normalized[3].clone()]);
    assert_eq!(ids(&list(&router, "tab=needs_attention&limit=500").await).len(), 8);
    assert_eq!(ids(&list(&router, "tab=all&limit=500").await).len(), 28);
    let kinds = counts(&router, "kind=video").await;
    assert_eq!(kinds["all"], 5, "counts follow the other filters: {kinds}");
    let item = list(&router, "tab=reviewed&sort=created_at").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == normalized[0].as_str())
        .cloned()
        .unwrap();
    assert_eq!(item["review"]["verdict"], "changes_requested", "the latest review: {item}");
    // The uploader picker.
    let (status, picker) = get(&router, "/v1/uploaders?prefix=teacher-1", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let found: Vec<&str> =
        picker["items"].as_array().unwrap().iter().map(|i| i["uploader_id"].as_str().unwrap()).collect();
    assert_eq!(found, ["teacher-10", "teacher-11", "teacher-12"]);
    assert_eq!(get(&router, "/v1/uploaders?prefix=%25", Some(TOKEN)).await.1["items"], json!([]), "% is literal");
    assert_eq!(get(&router, "/v1/documents/counts", Some(TEACHER_TOKEN)).await.0, StatusCode::FORBIDDEN);
}

async fn a_review_needs_an_evaluator_token_a_normalized_document_and_a_fitting_comment(t: Target) {
    seed(&t, 14).await;
    let router = t.router();
    let normalized = normalized_of(&t).await;
    let id = normalized[0].as_str();
    let received = ids(&list(&router, "state=received").await)[0].clone();
    let ok = r#"{"comment": "Good pacing.\nAdd a plenary."}"#;
    assert_eq!(review(&router, id, None, ok).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(review(&router, id, Some(TEACHER_TOKEN), ok).await.0, StatusCode::FORBIDDEN);
    assert_eq!(review(&router, id, Some(UPLOADS_TOKEN), ok).await.0, StatusCode::FORBIDDEN);
    assert_eq!(review(&router, &uuid::Uuid::new_v4().to_string(), Some(TOKEN), ok).await.0, StatusCode::NOT_FOUND);
    assert_eq!(review(&router, "not-an-id", Some(TOKEN), ok).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(review(&router, &received, Some(TOKEN), ok).await.0, StatusCode::CONFLICT);
    assert_eq!(
        review(&router, id, Some(TOKEN), r#"{"comment": "x", "verdict": "great"}"#).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(review(&router, id, Some(TOKEN), r#"{"comment": "bell\u0007"}"#).await.0, StatusCode::BAD_REQUEST);
    let long = json!({"comment": "x".repeat(10_001)}).to_string();
    assert_eq!(review(&router, id, Some(TOKEN), &long).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(review(&router, id, Some(TOKEN), r#"{"text": "x"}"#).await.0, StatusCode::BAD_REQUEST);
    let (_, unchanged) = get(&router, &format!("/v1/documents/{id}"), Some(TOKEN)).await;
    assert_eq!(unchanged["reviews"], json!([]), "nothing refused was stored");

    let (status, stored) = review(&router, id, Some(TOKEN), ok).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["reviewer"], "evaluator (token)");
    assert_eq!(stored["verdict"], "reviewed");
    assert!(stored.get("principal").is_none(), "the reviewer's key is not shown");
    let (_, document) = get(&router, &format!("/v1/documents/{id}"), Some(TOKEN)).await;
    assert_eq!(document["reviews"][0]["comment"], "Good pacing.\nAdd a plenary.");
    assert_eq!(document["review"]["reviewer"], "evaluator (token)");
    assert_eq!(document["state"], "normalized", "a review is not a pipeline state");
    assert_eq!(document["timeline"].as_array().unwrap().len(), 0, "nor a timeline state of the API");
}

async fn uploads_of_the_same_file_are_versions_and_each_keeps_its_reviews(t: Target) {
    let first = t.receive("teacher-42", Kind::Document, "plan.docx").await;
    let second = t.receive("teacher-42", Kind::Document, "plan.docx").await;
    let elsewhere = t.receive("teacher-7", Kind::Document, "plan.docx").await;
    let other = t.receive("teacher-42", Kind::Document, "other.docx").await;
    let router = t.router();
    let (_, document) = get(&router, &format!("/v1/documents/{second}"), Some(TOKEN)).await;
    let versions: Vec<(&str, u64)> = document["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap(), v["number"].as_u64().unwrap()))
        .collect();
    assert_eq!(versions, [(first.to_string().as_str(), 1), (second.to_string().as_str(), 2)]);
    for lone in [elsewhere, other] {
        let (_, document) = get(&router, &format!("/v1/documents/{lone}"), Some(TOKEN)).await;
        assert_eq!(document["versions"].as_array().unwrap().len(), 1, "{lone}");
    }
    // Reviews stay with the version they judged.
    normalize(&t, first).await;
    normalize(&t, second).await;
    assert_eq!(review(&router, &first.to_string(), Some(TOKEN), r#"{"comment": "v1"}"#).await.0, StatusCode::CREATED);
    let (_, document) = get(&router, &format!("/v1/documents/{second}"), Some(TOKEN)).await;
    assert_eq!(document["reviews"], json!([]));
    assert_eq!(document["review"], Value::Null);
}

async fn a_thousand_documents_are_counted_sorted_and_paged_both_ways(t: Target) {
    seed(&t, 1000).await;
    let router = t.router();
    let counts = counts(&router, "").await;
    assert_eq!(counts["all"], 1000);
    assert_eq!(
        counts["to_review"].as_u64().unwrap()
            + counts["in_progress"].as_u64().unwrap()
            + counts["needs_attention"].as_u64().unwrap(),
        1000
    );
    for query in ["sort=created_at", "sort=name", "sort=findings&direction=asc", "tab=in_progress&sort=uploader"] {
        let started = std::time::Instant::now();
        let rows = walk(&router, query, 50).await;
        let expected =
            if query.starts_with("tab=in_progress") { counts["in_progress"].as_u64().unwrap() } else { 1000 };
        assert_eq!(rows.len() as u64, expected, "{query}");
        eprintln!("{query}: {} pages each way in {:?}", rows.len().div_ceil(50), started.elapsed());
    }
}

/// Moves `id` to `normalized` directly (the pipeline's own path is tested elsewhere).
async fn normalize(t: &Target, id: DocumentId) {
    documents::Entity::update_many()
        .col_expr(documents::Column::State, sea_orm::sea_query::Expr::value(State::Normalized.as_str()))
        .filter(documents::Column::Id.eq(id.to_string()))
        .exec(t.db.connection())
        .await
        .unwrap();
}
