//! The normalize stage: a validated document's results become one canonical, versioned
//! record in the database. Idempotent: a document already normalized is left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::record::{self, Record};
use crate::db::State;
use crate::ids::{DocumentId, Kind};
use crate::lifecycle::{By, FailureCause, Transition};
use crate::messages::{NormalizeInputs, NormalizeRequest};
use crate::provider::protocol::Role;
use crate::settings::Settings;
use crate::stages::StageId;
use crate::stages::ports::{Documents, Objects, Ports};
use crate::stages::validate::checks;
use crate::worker::{self, Delivery, Outcome, Stage, Step, StepError};

pub const STAGE: StageId = StageId::Normalize;

pub struct Normalize {
    db: Arc<dyn Documents>,
    store: Arc<dyn Objects>,
    settings: Arc<Settings>,
}

impl Normalize {
    pub fn new(settings: Arc<Settings>, ports: &Ports) -> Normalize {
        Normalize { db: ports.documents.clone(), store: ports.objects.clone(), settings }
    }

    /// The inputs of a request that carries none: the document and its artifacts from the
    /// database. `None` when the document is not (or no longer) `validated`.
    async fn load(&self, id: DocumentId) -> Result<Option<NormalizeInputs>, StepError> {
        let document = self.db.get(id).await?.ok_or_else(|| StepError::fail(format!("unknown document {id}")))?;
        if document.state != State::Validated {
            // Normalized already (a redelivery), or ended: nothing to do.
            return Ok(None);
        }
        let artifacts = self.db.artifacts(id).await?;
        Ok(Some(NormalizeInputs::of(&document, artifacts, BTreeMap::new())))
    }

    /// The checked text of a role: carried by the request, else read from the results
    /// bucket.
    async fn read(&self, inputs: &mut NormalizeInputs, role: Role) -> Result<Bytes, StepError> {
        if let Some(text) = inputs.contents.remove(role.as_str()) {
            return Ok(Bytes::from(text));
        }
        let artifact = inputs
            .artifacts
            .iter()
            .find(|a| a.role == role)
            .ok_or_else(|| StepError::fail(format!("the validated results have no {role}")))?;
        Ok(self.store.read_small(&self.settings.s3.results_bucket, &artifact.key, checks::CONTENT_LIMIT).await?)
    }

    async fn build(&self, mut inputs: NormalizeInputs) -> Result<Record, StepError> {
        let invalid = |r: checks::Refusal| StepError::fail(format!("a validated result no longer parses: {r}"));
        let content = match inputs.kind {
            Kind::Document => {
                let findings =
                    checks::parse_findings(&self.read(&mut inputs, Role::Findings).await?).map_err(invalid)?;
                record::document_content(findings)
            }
            Kind::Video => {
                let summary = checks::parse_summary(&self.read(&mut inputs, Role::Summary).await?).map_err(invalid)?;
                let transcript =
                    checks::parse_webvtt(&self.read(&mut inputs, Role::Transcript).await?).map_err(invalid)?;
                record::video_content(summary, transcript)
            }
        };
        Ok(Record {
            schema_version: record::SCHEMA_VERSION,
            kind: inputs.kind,
            uploader_id: inputs.uploader_id,
            original: inputs.original,
            artifacts: inputs.artifacts,
            content,
        })
    }

    async fn normalize(&self, delivery: &Delivery) -> Step {
        let request: NormalizeRequest = serde_json::from_slice(&delivery.payload)
            .map_err(|e| StepError::fail(format!("not a normalize request: {e}")))?;
        let id = request.document_id;
        // Carried inputs skip the reads: the guarded write below leaves a document that is
        // no longer `validated` alone either way.
        let inputs = match request.inputs {
            Some(inputs) => inputs,
            None => match self.load(id).await? {
                Some(inputs) => inputs,
                None => return Ok(Outcome::Done),
            },
        };
        let record = self.build(inputs).await?;
        let json = serde_json::to_string(&record)
            .map_err(|e| StepError::fail(format!("the normalized record does not serialize: {e}")))?;
        self.db.apply(id, Transition::Normalized { json: &json }, By::new(STAGE, delivery.attempt as u32)).await?;
        Ok(Outcome::Done)
    }
}

impl Stage for Normalize {
    fn id(&self) -> StageId {
        STAGE
    }

    async fn step(&self, delivery: &Delivery) -> Outcome {
        worker::settled(self.normalize(delivery).await)
    }

    /// Whatever stopped it, the record was not built or stored: normalize failed.
    async fn on_dead_letter(&self, delivery: &Delivery, reason: &str, _cause: Option<FailureCause>) {
        let failed = Transition::Failed { cause: FailureCause::NormalizeFailed, reason };
        let by = By::new(STAGE, delivery.attempt as u32);
        if let Ok(request) = serde_json::from_slice::<NormalizeRequest>(&delivery.payload)
            && let Err(error) = self.db.apply(request.document_id, failed, by).await
        {
            tracing::error!(document_id = %request.document_id, error = %error, "cannot mark the document failed");
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
