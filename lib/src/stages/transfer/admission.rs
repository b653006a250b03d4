//! One admission for every submission round. A document reaches the provider only through
//! `Transfer::submit_current_round`, and that asks here first, whatever started the
//! round: the first notification, a new notification of the same object, the replay of a
//! dead letter or `docflow retry`. So a file refused once is refused every time it is
//! asked for again, before a byte is sent (see `design.md`, "Admission").
//!
//! The checks: the trust boundary (the row's bucket is still the uploads bucket; its key
//! passed the key rules when the upload or the row was read), the provider is still
//! configured, and pre-flight (`preflight.rs`) on the object as the bucket holds it now.

use super::{Transfer, preflight};
use crate::db::Document;
use crate::events::minio::Upload;
use crate::lifecycle::FailureCause;
use crate::settings::parse_size;
use crate::worker::StepError;

impl Transfer {
    /// `Ok` when the current round of `document` (which is `received`) may be submitted;
    /// else the error that fails its message. The document stays `received` in that round
    /// for `on_dead_letter` to fail with the reason, and a redelivery is refused again.
    pub(super) async fn admit(&self, upload: &Upload, document: &Document) -> Result<(), StepError> {
        // The row's bucket or provider no longer configured: docflow's settings, not the file.
        let misconfigured = FailureCause::SubmissionRefused;
        self.boundary.admit_bucket(&upload.bucket).map_err(|refused| self.refuse(refused).caused_by(misconfigured))?;
        let Some(provider) = self.settings.providers.get(&document.provider) else {
            return Err(StepError::refuse(
                misconfigured,
                format!(
                    "document {} went to provider {:?}, which is no longer configured",
                    document.id, document.provider
                ),
            ));
        };
        let max_size = provider.max_size.as_deref().and_then(parse_size).map(|m| m as u64);
        let refusal = preflight::check(&*self.store, upload, document.kind, &document.provider, max_size).await;
        let Some(refusal) = refusal else { return Ok(()) };
        tracing::info!(
            document_id = %document.id,
            round = document.submission_round,
            reason = %refusal,
            "upload refused before submission"
        );
        Err(StepError::refuse(FailureCause::FileRefused, refusal.to_string()))
    }
}
