//! Forgetting a document (`docflow forget`, the answer to an erasure request). The request
//! is itself a message, one per document, on `{prefix}.forget` (stream `{PREFIX}_FORGET`,
//! consumer `forget`): the `forget` component erases everything that holds the document,
//! and JetStream's redelivery finishes an erasure a crash or an unreachable provider
//! interrupted. `design.md` beside this file says why each step may run twice.
//!
//! - [`records`]: the tombstones, the `erasures` audit and the row deletion (its
//!   [`records::DOCUMENT_TABLES`] is the one list of tables that name documents);
//! - [`streams`]: dead letters and watch timers of the document;
//! - [`stage`]: the step function;
//! - [`request`]: what the command does: check, record, publish, wait.

pub mod records;
pub mod request;
mod stage;
pub mod streams;

use serde::{Deserialize, Serialize};

pub use stage::Forget;

use crate::ids::{DocumentId, StageId};

pub const STAGE: StageId = StageId::Forget;

/// The subject erasure requests are published on, after the prefix.
pub const SUBJECT: &str = "forget";

/// One document to forget, on `{prefix}.forget`. Holds no content: ids, a flag and who
/// asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgetRequest {
    #[serde(default = "crate::messages::version_1")]
    pub v: u32,
    /// One `docflow forget` invocation; its documents share it.
    pub request_id: String,
    pub document_id: DocumentId,
    /// Delete the uploaded object from the uploads bucket too.
    #[serde(default)]
    pub with_upload: bool,
    /// Who asked (the operator's user name, or `--by`), for the audit.
    pub requested_by: String,
}
