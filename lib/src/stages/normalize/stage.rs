//! The normalize stage: a validated document's results become one canonical, versioned
//! record in the database. Idempotent: a document already normalized is left alone.

use std::sync::Arc;

use super::record::{self, Artifact, Original, Record};
use crate::db::{ArtifactRow, Db, Document, State};
use crate::ids::Kind;
use crate::messages::NormalizeRequest;
use crate::settings::Settings;
use crate::stages::validate::checks;
use crate::storage::Store;
use crate::worker::{Delivery, Outcome, Stage};

pub const STAGE: &str = "normalize";

/// The largest JSON or WebVTT result read whole.
const SMALL_RESULT_LIMIT: u64 = 16 * 1024 * 1024;

pub struct Normalize {
    db: Db,
    store: Store,
    settings: Arc<Settings>,
}

impl Normalize {
    pub fn new(settings: Arc<Settings>, db: Db, store: Store) -> Normalize {
        Normalize { db, store, settings }
    }

    async fn read(&self, artifacts: &[ArtifactRow], role: &str) -> Result<bytes::Bytes, Outcome> {
        let artifact = artifacts
            .iter()
            .find(|a| a.role == role)
            .ok_or_else(|| Outcome::fail(format!("the validated results have no {role}")))?;
        self.store
            .read_small(&self.settings.s3.results_bucket, &artifact.key, SMALL_RESULT_LIMIT)
            .await
            .map_err(|e| Outcome::from_error(&e))
    }

    async fn build(&self, document: &Document, artifacts: &[ArtifactRow]) -> Result<Record, Outcome> {
        let invalid = |r: checks::Refusal| Outcome::fail(format!("a validated result no longer parses: {r}"));
        let content = match document.kind {
            Kind::Document => {
                let findings = checks::parse_findings(&self.read(artifacts, "findings").await?).map_err(invalid)?;
                record::document_content(findings)
            }
            Kind::Video => {
                let summary = checks::parse_summary(&self.read(artifacts, "summary").await?).map_err(invalid)?;
                let transcript = checks::parse_webvtt(&self.read(artifacts, "transcript").await?).map_err(invalid)?;
                record::video_content(summary, transcript)
            }
        };
        Ok(Record {
            schema_version: record::SCHEMA_VERSION,
            kind: document.kind,
            uploader_id: document.uploader_id.clone(),
            original: Original {
                bucket: document.bucket.clone(),
                key: document.key.clone(),
                size: document.size,
                content_type: document.content_type.clone(),
            },
            artifacts: artifacts
                .iter()
                .map(|a| Artifact {
                    role: a.role.clone(),
                    name: a.name.clone(),
                    key: a.key.clone(),
                    size: a.size,
                    sha256: a.sha256.clone(),
                    content_type: a.content_type.clone(),
                })
                .collect(),
            content,
        })
    }
}

impl Stage for Normalize {
    fn name(&self) -> &'static str {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        let request: NormalizeRequest = match serde_json::from_slice(&delivery.payload) {
            Ok(request) => request,
            Err(e) => return Outcome::fail(format!("not a normalize request: {e}")),
        };
        let id = request.document_id;
        let document = match self.db.get(id).await {
            Ok(Some(document)) => document,
            Ok(None) => return Outcome::fail(format!("unknown document {id}")),
            Err(e) => return Outcome::from_error(&e),
        };
        if document.state != State::Validated {
            // Normalized already (a redelivery), or ended: nothing to do.
            return Outcome::Done;
        }
        let artifacts = match self.db.artifacts(id).await {
            Ok(artifacts) => artifacts,
            Err(e) => return Outcome::from_error(&e),
        };
        let record = match self.build(&document, &artifacts).await {
            Ok(record) => record,
            Err(outcome) => return outcome,
        };
        let value = serde_json::to_value(&record).expect("a record serializes");
        match self.db.store_normalized(id, value, STAGE, delivery.attempt as u32).await {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::from_error(&e),
        }
    }

    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str) {
        if let Ok(request) = serde_json::from_slice::<NormalizeRequest>(&delivery.payload)
            && let Err(error) = self.db.mark_failed(request.document_id, STAGE, delivery.attempt as u32, reason).await
        {
            tracing::error!(document_id = %request.document_id, error = %error, "cannot mark the document failed");
        }
    }
}
