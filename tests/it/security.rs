//! Who may call what, against the real gateway process and the real S3 server (s3s-fs):
//! every token role on every token route (401 / 403 / 200), a presigned upload the store
//! refuses when the body differs from what was declared, 400 in our own words for input
//! that can never be valid, and the start-up error of the old `tokens = [...]` form.

use std::time::Duration;

use minio::s3::response_traits::HasS3Fields;
use minio::s3::types::S3Api;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{Process, Sandbox, TEACHER_TOKEN, TOKEN, UPLOAD_TOKEN, docflow_binary};

/// `POST /v1/uploads` for `uploader_id` with `token`: status and body.
async fn presign(sandbox: &Sandbox, token: Option<&str>, request: &Value) -> (u16, Value) {
    let mut call = reqwest::Client::new().post(format!("{}/v1/uploads", sandbox.gateway_url)).json(request);
    if let Some(token) = token {
        call = call.bearer_auth(token);
    }
    let response = call.send().await.expect("the gateway answers");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn upload_request(uploader_id: &str, content_type: &str, size: u64) -> Value {
    json!({"uploader_id": uploader_id, "file_name": "notes.txt", "content_type": content_type, "size": size})
}

/// `GET path` with `token`: status and body.
async fn get(sandbox: &Sandbox, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut call = reqwest::Client::new().get(format!("{}{path}", sandbox.gateway_url));
    if let Some(token) = token {
        call = call.bearer_auth(token);
    }
    let response = call.send().await.expect("the gateway answers");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// Posts the form `answer` describes, as a browser would: its fields (with `overrides`
/// replacing some), then the file.
async fn post_form(
    answer: &Value,
    overrides: &[(&str, &str)],
    file: Vec<u8>,
    file_type: &str,
) -> reqwest::Result<reqwest::Response> {
    let mut form = Form::new();
    for (name, value) in answer["fields"].as_object().expect("the answer has form fields") {
        let value = match overrides.iter().find(|(n, _)| n == name) {
            Some((_, replaced)) => replaced.to_string(),
            None => value.as_str().unwrap().to_owned(),
        };
        form = form.text(name.clone(), value);
    }
    let part = Part::bytes(file).file_name("notes.txt").mime_str(file_type).unwrap();
    form = form.part("file", part);
    reqwest::Client::new().post(answer["url"].as_str().unwrap()).multipart(form).send().await
}

/// True when the store refused the form: a 4xx, or (for a body far larger than the policy
/// allows) an answer before the body was taken, which the client sees as the connection
/// closing while it still writes.
fn refused(outcome: &reqwest::Result<reqwest::Response>) -> bool {
    match outcome {
        Ok(response) => response.status().is_client_error(),
        Err(error) => error.is_request() && !error.is_connect(),
    }
}

async fn stored(sandbox: &Sandbox, key: &str) -> Option<(Vec<u8>, Option<String>)> {
    let response = sandbox.s3.get_object("uploads", key).unwrap().build().send().await.ok()?;
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.into_bytes().await.ok()?;
    Some((bytes.to_vec(), content_type))
}

#[tokio::test]
async fn every_token_role_gets_401_403_or_its_answer_on_every_token_route() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    let unknown_id = "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b";
    // (token, GET /v1/documents, GET /v1/documents/{id}, POST /v1/uploads for teacher-42,
    //  POST /v1/uploads for someone-else)
    let table: [(Option<&str>, u16, u16, u16, u16); 6] = [
        (None, 401, 401, 401, 401),
        (Some("not-a-token"), 401, 401, 401, 401),
        (Some(TOKEN), 200, 404, 403, 403),
        (Some(UPLOAD_TOKEN), 403, 403, 200, 200),
        // Configured by its SHA-256 only.
        (Some(TEACHER_TOKEN), 403, 403, 200, 403),
        (Some("Bearer"), 401, 401, 401, 401),
    ];
    for (token, list, show, own, other) in table {
        let (status, body) = get(&sandbox, "/v1/documents", token).await;
        assert_eq!(status, list, "list with {token:?}: {body}");
        assert!(body["error"].is_string() || status == 200, "{body}");
        let (status, body) = get(&sandbox, &format!("/v1/documents/{unknown_id}"), token).await;
        assert_eq!(status, show, "show with {token:?}: {body}");
        let (status, body) = presign(&sandbox, token, &upload_request("teacher-42", "text/plain", 11)).await;
        assert_eq!(status, own, "upload for teacher-42 with {token:?}: {body}");
        let (status, body) = presign(&sandbox, token, &upload_request("someone-else", "text/plain", 11)).await;
        assert_eq!(status, other, "upload for someone-else with {token:?}: {body}");
        if status == 403 {
            assert!(body["detail"]["role"].is_string(), "{body}");
        }
    }
}

#[tokio::test]
async fn the_store_refuses_an_upload_of_another_size_or_content_type_than_declared() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    let declare = |size| upload_request("teacher-42", "text/plain", size);

    // 3 MiB where 10 bytes were declared.
    let (status, answer) = presign(&sandbox, Some(TEACHER_TOKEN), &declare(10)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["method"], "POST");
    let outcome = post_form(&answer, &[], vec![b'x'; 3 * 1024 * 1024], "text/plain").await;
    assert!(refused(&outcome), "3 MiB on size=10: {outcome:?}");
    // Fewer bytes than declared.
    let outcome = post_form(&answer, &[], b"short".to_vec(), "text/plain").await;
    assert!(refused(&outcome), "5 bytes on size=10: {outcome:?}");
    // The declared size with another content type.
    let outcome = post_form(&answer, &[("Content-Type", "text/html")], b"0123456789".to_vec(), "text/html").await;
    assert!(refused(&outcome), "text/html on text/plain: {outcome:?}");
    // Another key than the one presigned.
    let other_key = format!("someone-else/{}", answer["key"].as_str().unwrap());
    let outcome = post_form(&answer, &[("key", &other_key)], b"0123456789".to_vec(), "text/plain").await;
    assert!(refused(&outcome), "another key: {outcome:?}");
    let key = answer["key"].as_str().unwrap();
    assert!(stored(&sandbox, key).await.is_none(), "nothing was stored under {key}");
    assert!(stored(&sandbox, &other_key).await.is_none(), "nothing was stored under {other_key}");

    // What was declared goes through, stored with the declared type.
    let response = post_form(&answer, &[], b"0123456789".to_vec(), "text/plain").await.expect("the store answers");
    assert!(response.status().is_success(), "the declared upload: {}", response.status());
    let (bytes, content_type) = stored(&sandbox, key).await.expect("the declared upload is stored");
    assert_eq!(bytes, b"0123456789");
    assert_eq!(content_type.as_deref(), Some("text/plain"));
}

#[tokio::test]
async fn input_that_can_never_be_valid_is_a_400_in_our_own_words() {
    let mut sandbox = Sandbox::builder().start().await;
    sandbox.start_all().await;
    let long = "t".repeat(4096);
    let paths = [
        "/v1/documents?uploader=%00".to_owned(),
        "/v1/documents?uploader=teacher%1b%5b31m".to_owned(),
        format!("/v1/documents?uploader={long}"),
        "/v1/documents?cursor=not-a-cursor".to_owned(),
        format!("/v1/documents?cursor={long}"),
        "/v1/documents?state=%00".to_owned(),
        "/v1/documents?limit=99999999999999999999999".to_owned(),
        "/v1/documents?%00=1".to_owned(),
        "/v1/documents/%FF%FE".to_owned(),
        "/v1/documents/%00".to_owned(),
        "/v1/documents/not-a-uuid".to_owned(),
    ];
    for path in &paths {
        let (status, body) = get(&sandbox, path, Some(TOKEN)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
        let text = body.to_string();
        for foreign in ["UTF8", "0x00", "invalid byte sequence", "sqlx", "SQLSTATE", "Failed to deserialize"] {
            assert!(!text.contains(foreign), "{path}: a library's text leaked: {text}");
        }
        assert!(text.len() < 1024, "{path}: the answer does not echo the input whole: {} bytes", text.len());
    }
    for (field, value) in [
        ("uploader_id", json!("teacher\u{0}42")),
        ("file_name", json!("notes\u{0}.txt")),
        ("file_name", json!("n".repeat(450_000))),
        ("content_type", json!("text/plain\r\nX-Evil: 1")),
        ("size", json!(-1)),
    ] {
        let mut request = upload_request("teacher-42", "text/plain", 11);
        request[field] = value;
        let (status, body) = presign(&sandbox, Some(UPLOAD_TOKEN), &request).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert_eq!(body["detail"]["field"], field, "{body}");
    }
    // The database still answers: nothing above reached it as a failed query.
    let (status, body) = get(&sandbox, "/v1/documents?uploader=teacher-42", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_old_token_list_stops_docflow_at_start_saying_how_to_write_the_new_form() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docflow.toml");
    std::fs::write(&file, "[gateway]\ntokens = [\"old-secret-token\"]\n").unwrap();
    let base = docflow::testkit::TestSettings::new().pairs();
    let mut from_env = base.clone();
    from_env.push(("DOCFLOW__GATEWAY__TOKENS".into(), "old-secret-token,other-old-token".into()));
    let config = file.display().to_string();
    for (what, args, env) in [
        ("file", vec!["--config", config.as_str(), "run", "gateway"], base.clone()),
        ("environment", vec!["run", "gateway"], from_env),
    ] {
        let mut process = Process::spawn(&format!("docflow run ({what})"), docflow_binary(), &args, &env);
        let status = process.wait(Duration::from_secs(30)).await;
        let output = process.output();
        assert!(!status.success(), "{what}: docflow started with the old form:\n{output}");
        assert!(output.contains("[[gateway.tokens]]"), "{what}: {output}");
        assert!(output.contains("role = \"evaluator\""), "{what}: {output}");
        assert!(!output.contains("old-secret-token"), "{what}: a token was printed: {output}");
    }
}
