//! The evaluator API through its router (tower's `oneshot`), on SQLite and PostgreSQL;
//! and the gateway component as `app::run` starts it.

mod api;
mod reviews;
mod run;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::{EvaluatorState, routes};
use crate::db::NewDocument;
use crate::ids::{DocumentId, Kind, StageId};
use crate::settings::Settings;
use crate::storage::Store;

pub const TOKEN: &str = "evaluator-token";
/// Role `uploads`: known, but not allowed on the evaluator API.
pub const UPLOADS_TOKEN: &str = "uploads-token";
/// Role `uploader` for `teacher-42`: known, but not allowed on the evaluator API.
pub const TEACHER_TOKEN: &str = "teacher-42-token";
pub const TOKENS: &str = "[{token = \"evaluator-token\", role = \"evaluator\"}, {token = \"uploads-token\", role = \"uploads\"}, \
     {token = \"teacher-42-token\", role = \"uploader\", uploader_id = \"teacher-42\"}]";
/// Presigning is computed locally: nothing listens there.
pub const S3_ENDPOINT: &str = "http://s3.example.test:9000";

/// Settings for one test: its own NATS prefix, the test token, `extra` on top.
pub fn settings(extra: &[(&str, &str)]) -> Settings {
    let prefix = format!("evt-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    crate::testkit::TestSettings::new()
        .nats(&crate::testkit::nats::nats_url(), &prefix)
        .with(&[
            ("DOCFLOW__GATEWAY__TOKENS", TOKENS),
            ("DOCFLOW__INGEST__TOKEN", "ingest-token"),
            ("DOCFLOW__SHUTDOWN__GRACE", "2s"),
            ("DOCFLOW__ADMIN__LISTEN", "127.0.0.1:0"),
            ("DOCFLOW__S3__ENDPOINT", S3_ENDPOINT),
            ("DOCFLOW__S3__RESULTS_BUCKET", "results"),
        ])
        .with(extra)
        .load()
}

pub(crate) use crate::db::testing::{Target, on_both, postgres, sqlite};

impl Target {
    /// The evaluator routes over this database, with `extra` settings.
    pub fn router_with(&self, extra: &[(&str, &str)]) -> Router {
        let settings = Arc::new(settings(extra));
        let store = Store::new(&settings.s3).expect("store");
        routes(EvaluatorState::new(settings, self.db.clone(), store))
    }

    pub fn router(&self) -> Router {
        self.router_with(&[])
    }

    /// A new document in state `received`, its id random.
    pub async fn receive(&self, uploader: &str, kind: Kind, name: &str) -> DocumentId {
        let document = new_document(uploader, kind, name);
        let (_, inserted) = self.db.record_received(&document, StageId::Transfer, 1, None).await.unwrap();
        assert!(inserted);
        document.id
    }
}

pub fn new_document(uploader: &str, kind: Kind, name: &str) -> NewDocument {
    NewDocument {
        id: DocumentId(uuid::Uuid::new_v4()),
        kind,
        uploader_id: uploader.into(),
        bucket: "uploads".into(),
        key: format!("{uploader}/week3/{name}"),
        version_id: None,
        etag: Some(uuid::Uuid::new_v4().simple().to_string()),
        size: 48213,
        content_type: match kind {
            Kind::Document => "application/pdf".into(),
            Kind::Video => "video/mp4".into(),
        },
        provider: "sim".into(),
    }
}

/// `GET uri` with `token` as bearer token (none when `None`): status and JSON body.
pub async fn get(router: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.expect("router is infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}
