//! `POST /v1/uploads`: presigned PUT URLs for uploading apps.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::support::*;

fn upload(body: &Value, token: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/v1/uploads").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
}

fn plan() -> Value {
    json!({"uploader_id": "teacher-42", "file_name": "lesson plan week 3.docx",
           "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "size": 48213})
}

#[tokio::test]
async fn an_app_with_a_token_gets_a_presigned_put_url_for_a_fresh_key() {
    let sandbox = Sandbox::new().await;
    let response = sandbox.send(upload(&plan(), Some(TOKEN))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json_of(response).await;
    assert_eq!(answer["method"], "PUT");
    assert_eq!(answer["headers"]["Content-Type"], plan()["content_type"]);
    let key = answer["key"].as_str().unwrap();
    let parts: Vec<&str> = key.splitn(4, '/').collect();
    let now = chrono::Utc::now();
    assert_eq!(parts[0], "teacher-42");
    assert_eq!(parts[1], now.format("%Y").to_string());
    assert_eq!(parts[2], now.format("%m").to_string());
    let (uuid, name) = parts[3].split_at(36);
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{key}");
    assert_eq!(name, "-lesson plan week 3.docx");
    let url = reqwest::Url::parse(answer["url"].as_str().unwrap()).unwrap();
    assert!(url.path().starts_with("/uploads/teacher-42/"), "{url}");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert!(query.contains_key("X-Amz-Signature"), "{url}");
    assert_eq!(query["X-Amz-Expires"], "900");
    let expires = chrono::DateTime::parse_from_rfc3339(answer["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.timestamp() - now.timestamp() - 900).abs() <= 5);
    // Two requests for the same name get two keys: an upload never overwrites another.
    let again = json_of(sandbox.send(upload(&plan(), Some(TOKEN))).await).await;
    assert_ne!(again["key"], answer["key"]);
}

#[tokio::test]
async fn without_a_valid_token_the_answer_is_401() {
    let sandbox = Sandbox::new().await;
    for token in [None, Some("wrong"), Some(INGEST_TOKEN)] {
        let response = sandbox.send(upload(&plan(), token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(json_of(response).await["error"].is_string());
    }
}

#[tokio::test]
async fn bad_fields_are_400_naming_the_field() {
    let sandbox = Sandbox::new().await;
    for (key, bad) in [
        ("uploader_id", json!("a/b")),
        ("uploader_id", json!("")),
        ("file_name", json!("../x.docx")),
        ("size", json!(0)),
        ("size", json!(6_000_000_000u64)),
    ] {
        let mut body = plan();
        body[key] = bad;
        let response = sandbox.send(upload(&body, Some(TOKEN))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{key}");
        assert_eq!(json_of(response).await["detail"]["field"], key);
    }
    let mut body = plan();
    body.as_object_mut().unwrap().remove("size");
    let response = sandbox.send(upload(&body, Some(TOKEN))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
