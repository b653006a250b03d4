//! `POST /v1/uploads`: presigned form uploads for uploading apps, by token role. That the
//! store enforces the form is proven against a real S3 server in tests/it/security.rs.

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
async fn an_app_with_a_token_gets_a_presigned_form_for_a_fresh_key() {
    let sandbox = Sandbox::new().await;
    let response = sandbox.send(upload(&plan(), Some(TOKEN))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json_of(response).await;
    assert_eq!(answer["method"], "POST");
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
    assert_eq!(url.path().trim_end_matches('/'), "/uploads", "{url}");
    // The form binds the key, the content type and the size (policy conditions).
    let fields = &answer["fields"];
    assert_eq!(fields["key"], key);
    assert_eq!(fields["Content-Type"], plan()["content_type"]);
    assert!(fields["X-Amz-Signature"].is_string(), "{fields}");
    let policy = base64_decode(fields["policy"].as_str().unwrap());
    let policy: Value = serde_json::from_slice(&policy).unwrap();
    let conditions = policy["conditions"].as_array().unwrap();
    assert!(conditions.contains(&json!(["content-length-range", 48213, 48213])), "{policy}");
    assert!(conditions.contains(&json!(["eq", "$Content-Type", plan()["content_type"]])), "{policy}");
    assert!(conditions.contains(&json!(["eq", "$key", key])), "{policy}");
    let expires = chrono::DateTime::parse_from_rfc3339(answer["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.timestamp() - now.timestamp() - 900).abs() <= 5);
    // Two requests for the same name get two keys: an upload never overwrites another.
    let again = json_of(sandbox.send(upload(&plan(), Some(TOKEN))).await).await;
    assert_ne!(again["key"], answer["key"]);
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let values: Vec<u32> =
        text.bytes().filter(|b| *b != b'=').map(|b| ALPHABET.iter().position(|a| *a == b).unwrap() as u32).collect();
    let mut out = Vec::new();
    for chunk in values.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, v)| n | v << (18 - 6 * i));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[tokio::test]
async fn without_a_known_token_the_answer_is_401() {
    let sandbox = Sandbox::new().await;
    for token in [None, Some("wrong"), Some(INGEST_TOKEN), Some("")] {
        let response = sandbox.send(upload(&plan(), token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(json_of(response).await["error"].is_string());
    }
}

#[tokio::test]
async fn each_role_may_upload_only_what_it_is_for() {
    let sandbox = Sandbox::new().await;
    let for_uploader = |id: &str| {
        let mut body = plan();
        body["uploader_id"] = json!(id);
        body
    };
    let table = [
        (TOKEN, "teacher-42", StatusCode::OK),
        (TOKEN, "someone-else", StatusCode::OK),
        (TEACHER_TOKEN, "teacher-42", StatusCode::OK),
        (TEACHER_TOKEN, "someone-else", StatusCode::FORBIDDEN),
        (TEACHER_TOKEN, "teacher-4", StatusCode::FORBIDDEN),
        (EVALUATOR_TOKEN, "teacher-42", StatusCode::FORBIDDEN),
    ];
    for (token, uploader, status) in table {
        let response = sandbox.send(upload(&for_uploader(uploader), Some(token))).await;
        assert_eq!(response.status(), status, "{token} for {uploader}");
        let body = json_of(response).await;
        if status == StatusCode::FORBIDDEN {
            assert!(body["error"].is_string() && body["detail"]["role"].is_string(), "{body}");
        } else {
            assert!(body["key"].as_str().unwrap().starts_with(&format!("{uploader}/")), "{body}");
        }
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
        ("size", json!(-1)),
        ("size", json!("10")),
        ("uploader_id", json!("teacher\u{0}42")),
        ("uploader_id", json!("t".repeat(450_000))),
        ("file_name", json!("plan\u{0}.docx")),
        ("content_type", json!("text/plain\r\nX-Evil: 1")),
        ("content_type", json!(7)),
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
    assert_eq!(json_of(response).await["detail"]["field"], "size");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_in_our_words() {
    let sandbox = Sandbox::new().await;
    for raw in [&b"{\"uploader_id\": "[..], b"not json", b"[1, 2]", b"\xff\xfe"] {
        let request = Request::post("/v1/uploads")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::from(raw.to_vec()))
            .unwrap();
        let response = sandbox.send(request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = json_of(response).await;
        let text = body.to_string();
        assert!(body["error"].is_string(), "{text}");
        for serde_words in ["EOF", "invalid type", "at line", "expected value", "trailing"] {
            assert!(!text.contains(serde_words), "serde's own text leaked: {text}");
        }
    }
}

#[tokio::test]
async fn the_form_is_made_for_the_stores_public_address_and_is_not_cached() {
    let extra = [
        ("DOCFLOW__S3__ENDPOINT", "http://minio-internal.test:9000"),
        ("DOCFLOW__S3__PUBLIC_ENDPOINT", "https://s3.school.example"),
    ];
    let sandbox = Sandbox::with(&nats_url(), &extra, false).await;
    let response = sandbox.send(upload(&plan(), Some(TOKEN))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let answer = json_of(response).await;
    assert_eq!(answer["url"].as_str().unwrap().trim_end_matches('/'), "https://s3.school.example/uploads");
    assert!(!answer.to_string().contains("minio-internal"), "{answer}");
}

#[tokio::test]
async fn a_type_a_browser_would_run_or_an_invisible_character_is_400() {
    let sandbox = Sandbox::new().await;
    for (key, value, words) in [
        ("content_type", "text/html", "text/html is refused"),
        ("content_type", "image/svg+xml", "image/svg+xml is refused"),
        ("file_name", "lesson.xhtml", "a .xhtml file is refused"),
        ("file_name", "plan\u{202E}xcod.exe", "invisible"),
    ] {
        let mut body = plan();
        body[key] = json!(value);
        let response = sandbox.send(upload(&body, Some(TOKEN))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{value}");
        let answer = json_of(response).await;
        assert_eq!(answer["detail"]["field"], key, "{answer}");
        let problem = answer["detail"]["problem"].as_str().unwrap();
        assert!(problem.contains(words), "{problem}");
        if key == "content_type" {
            assert!(problem.contains("Accepted: lesson plans as PDF, Word"), "{problem}");
        }
    }
}
