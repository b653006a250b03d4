//! The normalize stage: a validated document's results become one canonical, versioned
//! record in the database. Idempotent: a document already normalized is left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::record::{self, Artifact, Original, Record};
use crate::db::{Db, State};
use crate::ids::{DocumentId, Kind};
use crate::messages::{NormalizeInputs, NormalizeRequest};
use crate::settings::Settings;
use crate::stages::validate::checks;
use crate::storage::Store;
use crate::stages::StageId;
use crate::worker::{Delivery, Outcome, Stage};

pub const STAGE: StageId = StageId::Normalize;

pub struct Normalize {
    db: Db,
    store: Store,
    settings: Arc<Settings>,
}

impl Normalize {
    pub fn new(settings: Arc<Settings>, db: Db, store: Store) -> Normalize {
        Normalize { db, store, settings }
    }

    /// The inputs of a request that carries none: the document and its artifacts from the
    /// database. `None` when the document is not (or no longer) `validated`.
    async fn load(&self, id: DocumentId) -> Result<Option<NormalizeInputs>, Outcome> {
        let document = match self.db.get(id).await {
            Ok(Some(document)) => document,
            Ok(None) => return Err(Outcome::fail(format!("unknown document {id}"))),
            Err(e) => return Err(Outcome::from_error(&e)),
        };
        if document.state != State::Validated {
            // Normalized already (a redelivery), or ended: nothing to do.
            return Ok(None);
        }
        let artifacts = self.db.artifacts(id).await.map_err(|e| Outcome::from_error(&e))?;
        Ok(Some(NormalizeInputs {
            kind: document.kind,
            uploader_id: document.uploader_id,
            original: Original {
                bucket: document.bucket,
                key: document.key,
                size: document.size,
                content_type: document.content_type,
            },
            artifacts,
            contents: BTreeMap::new(),
        }))
    }

    /// The checked text of a role: carried by the request, else read from the results
    /// bucket.
    async fn read(&self, inputs: &mut NormalizeInputs, role: &str) -> Result<Bytes, Outcome> {
        if let Some(text) = inputs.contents.remove(role) {
            return Ok(Bytes::from(text));
        }
        let artifact = inputs
            .artifacts
            .iter()
            .find(|a| a.role == role)
            .ok_or_else(|| Outcome::fail(format!("the validated results have no {role}")))?;
        self.store
            .read_small(&self.settings.s3.results_bucket, &artifact.key, checks::CONTENT_LIMIT)
            .await
            .map_err(|e| Outcome::from_error(&e))
    }

    async fn build(&self, mut inputs: NormalizeInputs) -> Result<Record, Outcome> {
        let invalid = |r: checks::Refusal| Outcome::fail(format!("a validated result no longer parses: {r}"));
        let content = match inputs.kind {
            Kind::Document => {
                let findings = checks::parse_findings(&self.read(&mut inputs, "findings").await?).map_err(invalid)?;
                record::document_content(findings)
            }
            Kind::Video => {
                let summary = checks::parse_summary(&self.read(&mut inputs, "summary").await?).map_err(invalid)?;
                let transcript = checks::parse_webvtt(&self.read(&mut inputs, "transcript").await?).map_err(invalid)?;
                record::video_content(summary, transcript)
            }
        };
        Ok(Record {
            schema_version: record::SCHEMA_VERSION,
            kind: inputs.kind,
            uploader_id: inputs.uploader_id,
            original: inputs.original,
            artifacts: inputs
                .artifacts
                .into_iter()
                .map(|a| Artifact {
                    role: a.role,
                    name: a.name,
                    key: a.key,
                    size: a.size,
                    sha256: a.sha256,
                    content_type: a.content_type,
                })
                .collect(),
            content,
        })
    }
}

impl Stage for Normalize {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        let request: NormalizeRequest = match serde_json::from_slice(&delivery.payload) {
            Ok(request) => request,
            Err(e) => return Outcome::fail(format!("not a normalize request: {e}")),
        };
        let id = request.document_id;
        // Carried inputs skip the reads: the guarded write below leaves a document that is
        // no longer `validated` alone either way.
        let inputs = match request.inputs {
            Some(inputs) => inputs,
            None => match self.load(id).await {
                Ok(Some(inputs)) => inputs,
                Ok(None) => return Outcome::Done,
                Err(outcome) => return outcome,
            },
        };
        let record = match self.build(inputs).await {
            Ok(record) => record,
            Err(outcome) => return outcome,
        };
        match self.db.store_normalized(id, &record, STAGE.as_str(), delivery.attempt as u32).await {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::from_error(&e),
        }
    }

    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str) {
        if let Ok(request) = serde_json::from_slice::<NormalizeRequest>(&delivery.payload)
            && let Err(error) = self.db.mark_failed(request.document_id, STAGE.as_str(), delivery.attempt as u32, reason).await
        {
            tracing::error!(document_id = %request.document_id, error = %error, "cannot mark the document failed");
        }
    }
}
