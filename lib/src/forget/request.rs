//! What `docflow forget` does before and after the `forget` component's work: find the
//! documents, record each request in the audit, publish one message per document, and
//! wait for the outcomes. The command only asks: the erasure itself runs in `docflow
//! run`, where redelivery finishes it whatever happens to the command.

use std::time::Duration;

use chrono::Utc;

use super::records::{self, Erasure, Outcome};
use super::{ForgetRequest, SUBJECT};
use crate::db::{Db, DbError};
use crate::ids::{DocumentId, UploaderId};
use crate::messages::{self, PublishError};
use crate::nats::Names;
use crate::settings::Settings;

/// How often the command reads the audit while it waits.
const POLL: Duration = Duration::from_millis(250);

/// Why a request could not be made or followed; each names the thing and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error("{0:?} is not a document id (a UUID, as `docflow status` and the API show it)")]
    NotAnId(String),
    #[error("unknown document {0}: no document has this id; check it with `docflow status {0}`")]
    Unknown(DocumentId),
    #[error("document {0} was already forgotten")]
    AlreadyForgotten(DocumentId),
    #[error("uploader {0:?} has no documents")]
    NoDocuments(UploaderId),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Nats(#[from] crate::nats::ConnectError),
    #[error("{0}; is `docflow setup` done and NATS reachable?")]
    Publish(#[from] PublishError),
    #[error(
        "no outcome for {pending} document(s) within {waited:?}: is a `docflow run` process with the forget component running? \
         The requests stay queued and are carried out when it runs"
    )]
    Timeout { pending: usize, waited: Duration },
}

/// What to forget: documents by id, or every document of an uploader.
#[derive(Debug, Clone)]
pub enum Target {
    Documents(Vec<String>),
    Uploader(UploaderId),
}

/// A document to forget, with the uploader it belongs to (for the audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: DocumentId,
    pub uploader_id: UploaderId,
}

/// The documents `target` names; an id that names no document is an error naming it.
pub async fn resolve(db: &Db, target: &Target) -> Result<Vec<Found>, ForgetError> {
    let ids = match target {
        Target::Documents(texts) => texts
            .iter()
            .map(|t| t.trim().parse().map_err(|_| ForgetError::NotAnId(t.clone())))
            .collect::<Result<Vec<DocumentId>, _>>()?,
        Target::Uploader(uploader) => {
            let ids = records::documents_of(db, uploader).await?;
            if ids.is_empty() {
                return Err(ForgetError::NoDocuments(uploader.clone()));
            }
            ids
        }
    };
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        match db.get(id).await? {
            Some(document) => found.push(Found { id, uploader_id: document.uploader_id }),
            None if records::is_forgotten(db, id).await? => return Err(ForgetError::AlreadyForgotten(id)),
            None => return Err(ForgetError::Unknown(id)),
        }
    }
    found.sort_by_key(|f| f.id);
    found.dedup_by_key(|f| f.id);
    Ok(found)
}

/// Records the request of each document in the audit (`pending`) and publishes it;
/// returns the request id to [`wait`] on.
pub async fn submit(
    settings: &Settings,
    db: &Db,
    documents: &[Found],
    with_upload: bool,
    requested_by: &str,
) -> Result<String, ForgetError> {
    let client = crate::nats::connect(&settings.nats, "docflow forget").await?;
    let js = async_nats::jetstream::new(client.clone());
    let names = Names::new(&settings.nats.prefix);
    let request_id = uuid::Uuid::new_v4().to_string();
    for found in documents {
        let erasure = Erasure {
            request_id: request_id.clone(),
            document_id: found.id.to_string(),
            uploader_id: found.uploader_id.clone(),
            requested_by: requested_by.to_owned(),
            with_upload,
            provider: None,
            job_ids: Vec::new(),
            outcome: Outcome::Pending,
            detail: String::new(),
            requested_at: Utc::now(),
            finished_at: None,
        };
        records::record_request(db, &erasure).await?;
        let request = ForgetRequest {
            v: messages::VERSION,
            request_id: request_id.clone(),
            document_id: found.id,
            with_upload,
            requested_by: requested_by.to_owned(),
        };
        let body = serde_json::to_vec(&request).expect("a request serializes");
        let message_id = format!("forget:{request_id}:{}", found.id);
        messages::publish(&js, names.subject(SUBJECT), &message_id, Some(found.id), None, body).await?;
    }
    client.flush().await.ok();
    Ok(request_id)
}

/// Waits until every document of the request has its outcome, calling `progress` with
/// each erasure that finished since the last call; at most `deadline`.
pub async fn wait(
    db: &Db,
    request_id: &str,
    deadline: Duration,
    mut progress: impl FnMut(&Erasure),
) -> Result<Vec<Erasure>, ForgetError> {
    let started = tokio::time::Instant::now();
    let mut reported = std::collections::BTreeSet::new();
    loop {
        let erasures = records::erasures(db, request_id).await?;
        for erasure in erasures.iter().filter(|e| e.outcome.is_final()) {
            if reported.insert(erasure.document_id.clone()) {
                progress(erasure);
            }
        }
        let pending = erasures.iter().filter(|e| !e.outcome.is_final()).count();
        if pending == 0 {
            return Ok(erasures);
        }
        if started.elapsed() >= deadline {
            return Err(ForgetError::Timeout { pending, waited: deadline });
        }
        tokio::time::sleep(POLL).await;
    }
}
