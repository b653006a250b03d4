//! The notice a terminal transition publishes on `{prefix}.notify.{event}` (stream
//! `DOCFLOW_NOTIFY`, work queue, consumer `mail`): what the mail component needs to write
//! the teacher, without reading the document again. `Nats-Msg-Id` is
//! `{document}.{round}.{event}`, so the notice published again by a redelivered stage
//! message (the transition found already applied) is dropped by the stream's duplicate
//! window, and the `mail_sent` claim stops any copy that still gets through.

use async_nats::jetstream;
use serde::{Deserialize, Serialize};

use crate::db::{Document, State};
use crate::ids::{DocumentId, Kind, UploaderId};
use crate::lifecycle::{FailureCause, NextStep};
use crate::messages::{self, PublishError};
use crate::nats::Names;

/// What happened to the document, from the teacher's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `normalized`: the results can be read.
    Ready,
    /// `failed` or `rejected` for a cause only a new version of the file can fix.
    NeedsAction,
}

impl Event {
    pub fn as_str(&self) -> &'static str {
        match self {
            Event::Ready => "ready",
            Event::NeedsAction => "needs_action",
        }
    }
}

/// `{prefix}.notify.{event}`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    #[serde(default = "messages::version_1")]
    pub v: u32,
    pub document_id: DocumentId,
    /// The submission round that ended: a document restarted and ended again is told of
    /// again.
    pub round: u32,
    pub event: Event,
    pub uploader_id: UploaderId,
    pub key: String,
    pub kind: Kind,
    #[serde(default)]
    pub cause: Option<FailureCause>,
    /// The stage's reason (a refused file's is worded for the teacher).
    #[serde(default)]
    pub reason: Option<String>,
}

impl Notice {
    /// The notice `document` calls for in its current state: `None` while it is in
    /// flight, and for a stop the teacher cannot act on (staff retry those).
    pub fn of(document: &Document) -> Option<Notice> {
        let cause = document.failure_cause;
        let event = match document.state {
            State::Normalized => Event::Ready,
            State::Failed | State::Rejected => {
                let cause = cause.unwrap_or(FailureCause::Unknown);
                if cause.next_step() != NextStep::UploadNewVersion {
                    return None;
                }
                Event::NeedsAction
            }
            _ => return None,
        };
        let failed = event == Event::NeedsAction;
        Some(Notice {
            v: messages::VERSION,
            document_id: document.id,
            round: document.submission_round,
            event,
            uploader_id: document.uploader_id.clone(),
            key: document.key.clone(),
            kind: document.kind,
            cause: if failed { cause } else { None },
            reason: if failed { document.error_reason.clone() } else { None },
        })
    }

    /// `{document}.{round}.{event}`: the stream's duplicate key and the mail's claim.
    pub fn message_id(&self) -> String {
        format!("{}.{}.{}", self.document_id, self.round, self.event.as_str())
    }

    /// `{prefix}.notify.{event}`.
    pub fn subject(&self, names: &Names) -> String {
        names.subject(&format!("notify.{}", self.event.as_str()))
    }

    /// Publishes it and waits for the stream's ack (a duplicate is acked too).
    pub async fn publish(&self, js: &jetstream::Context, names: &Names) -> Result<(), PublishError> {
        let body = serde_json::to_vec(self).expect("a notice serializes");
        messages::publish(js, self.subject(names), &self.message_id(), Some(self.document_id), None, body)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn document(state: State) -> Document {
        let mut document = crate::mail::tests::document("teacher-42", "teacher-42/week3/plan.docx");
        document.state = state;
        document
    }

    #[test]
    fn a_normalized_document_is_ready_and_one_in_flight_is_nothing() {
        let notice = Notice::of(&document(State::Normalized)).unwrap();
        assert_eq!(notice.event, Event::Ready);
        assert_eq!(notice.message_id(), format!("{}.2.ready", notice.document_id));
        assert_eq!(notice.subject(&Names::new("docflow")), "docflow.notify.ready");
        for state in State::NON_TERMINAL {
            assert_eq!(Notice::of(&document(state)), None, "{state}");
        }
    }

    #[test]
    fn only_a_stop_the_teacher_can_fix_needs_their_action() {
        for cause in FailureCause::ALL {
            let mut failed = document(State::Failed);
            failed.failure_cause = Some(cause);
            assert_eq!(Notice::of(&failed).is_some(), cause.next_step() == NextStep::UploadNewVersion, "{cause}");
        }
        assert_eq!(Notice::of(&document(State::Failed)), None, "no cause stored: staff's to look at");
        let mut rejected = document(State::Rejected);
        rejected.failure_cause = Some(FailureCause::FileRefused);
        let refused = Notice::of(&rejected).unwrap();
        assert_eq!(refused.event, Event::NeedsAction);
        assert_eq!(refused.cause, Some(FailureCause::FileRefused));
        assert_eq!(refused.message_id(), format!("{}.2.needs_action", refused.document_id));
        let text = serde_json::to_string(&refused).unwrap();
        assert_eq!(serde_json::from_str::<Notice>(&text).unwrap(), refused);
    }
}
