//! The claims and contacts on SQLite and PostgreSQL, and the mail's words.

use chrono::Utc;

use super::notice::{Event, Notice};
use super::store::{Claim, Contact, MailStore};
use crate::db::{Document, State};
use crate::evaluator::tests::{postgres, sqlite};
use crate::ids::{DocumentId, Kind, UploaderId};
use crate::lifecycle::FailureCause;

/// A document of `uploader`'s at `key`, in its third round (2).
pub(crate) fn document(uploader: &str, key: &str) -> Document {
    Document {
        id: DocumentId(uuid::Uuid::new_v4()),
        state: State::Received,
        kind: Kind::Document,
        uploader_id: uploader.into(),
        bucket: "uploads".to_owned(),
        key: key.to_owned(),
        version_id: None,
        etag: None,
        size: 10,
        content_type: "application/pdf".to_owned(),
        provider: "sim".to_owned(),
        provider_job_id: None,
        submission_id: None,
        error_stage: None,
        error_reason: None,
        failure_cause: None,
        attempts: serde_json::json!({}),
        normalized: None,
        submission_round: 2,
        round_origin: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn ready() -> Notice {
    let mut document = document("teacher-42", "teacher-42/plan.pdf");
    document.state = State::Normalized;
    Notice::of(&document).unwrap()
}

async fn claims_make_one_mail_per_document_round_and_event(store: MailStore) {
    let notice = ready();
    let id = "<x@school.example>";
    assert_eq!(store.claim(&notice, "t@school.example", id).await.unwrap(), Claim::Ours);
    // A second delivery while the first sends, or after it failed: not its to send...
    assert_eq!(store.claim(&notice, "t@school.example", id).await.unwrap(), Claim::Unsent);
    assert!(!store.take_over(&notice, Utc::now() - chrono::Duration::minutes(1)).await.unwrap(), "still leased");
    // ...until the first releases it (a transient failure) or its lease runs out.
    store.release(&notice).await.unwrap();
    assert!(store.take_over(&notice, Utc::now() - chrono::Duration::minutes(1)).await.unwrap());
    assert!(!store.take_over(&notice, Utc::now() - chrono::Duration::minutes(1)).await.unwrap(), "taken once");
    store.mark_sent(&notice).await.unwrap();
    assert_eq!(store.claim(&notice, "t@school.example", id).await.unwrap(), Claim::Sent);
    assert_eq!(store.sent_count(&notice).await.unwrap(), 1);
    // Another round, or another event, is another mail.
    let mut next = notice.clone();
    next.round += 1;
    assert_eq!(store.claim(&next, "t@school.example", id).await.unwrap(), Claim::Ours);
    let mut failed = notice.clone();
    failed.event = Event::NeedsAction;
    assert_eq!(store.claim(&failed, "t@school.example", id).await.unwrap(), Claim::Ours);
}

async fn a_contact_is_recorded_and_replaced(store: MailStore) {
    let teacher = UploaderId::from("t-1");
    assert_eq!(store.contact(&teacher).await.unwrap(), None);
    let first = Contact { email: "a@school.example".into(), opt_in: true };
    store.record_contact(&teacher, &first).await.unwrap();
    assert_eq!(store.contact(&teacher).await.unwrap(), Some(first));
    let second = Contact { email: "b@school.example".into(), opt_in: false };
    store.record_contact(&teacher, &second).await.unwrap();
    assert_eq!(store.contact(&teacher).await.unwrap(), Some(second));
}

#[tokio::test]
async fn on_sqlite_claims_make_one_mail_per_document_round_and_event() {
    let t = sqlite().await;
    claims_make_one_mail_per_document_round_and_event(MailStore::new(t.db.clone())).await;
    a_contact_is_recorded_and_replaced(MailStore::new(t.db.clone())).await;
}

#[tokio::test]
async fn on_postgres_claims_make_one_mail_per_document_round_and_event() {
    let t = postgres().await;
    claims_make_one_mail_per_document_round_and_event(MailStore::new(t.db.clone())).await;
    a_contact_is_recorded_and_replaced(MailStore::new(t.db.clone())).await;
    crate::db::testing::drop_postgres(&t.url).await;
}

#[test]
fn the_mail_of_a_refused_file_says_why_first_and_links_a_new_version() {
    let settings = crate::evaluator::tests::settings(&[
        ("DOCFLOW__GATEWAY__PUBLIC_URL", "https://docflow.school.example"),
        ("DOCFLOW__MAIL__FROM", "docflow <docflow@school.example>"),
    ]);
    let mut document = document("teacher-42", "teacher-42/week3/plan.docx");
    document.state = State::Failed;
    document.error_reason = Some("the file is empty (0 bytes): nothing arrived; please upload it again".into());
    document.failure_cause = Some(FailureCause::FileRefused);
    let notice = Notice::of(&document).unwrap();
    let (subject, body) = super::smtp::words(&settings, &notice);
    assert_eq!(subject, "Needs a new version: plan.docx");
    assert!(body.contains("The file is empty (0 bytes)"), "{body}");
    assert!(body.contains("https://docflow.school.example/ui/upload?kind=document&replaces=plan%2Edocx"), "{body}");
    let (subject, body) = super::smtp::words(&settings, &ready());
    assert_eq!(subject, "Ready: plan.pdf");
    assert!(body.contains("https://docflow.school.example/ui/documents/"), "{body}");
}

/// A notice a delivery holds when its document is forgotten sends nothing: the mail
/// server here refuses every connection, so a send attempt would end in a retry.
#[tokio::test]
async fn a_notice_of_a_forgotten_document_is_dropped_without_a_mail() {
    use crate::worker::{Outcome, Stage};
    let target = sqlite().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let port = closed.to_string();
    let settings = std::sync::Arc::new(crate::evaluator::tests::settings(&[
        ("DOCFLOW__MAIL__ENABLED", "true"),
        ("DOCFLOW__MAIL__HOST", "127.0.0.1"),
        ("DOCFLOW__MAIL__PORT", port.as_str()),
        ("DOCFLOW__MAIL__FROM", "docflow <docflow@school.example>"),
    ]));
    let store = MailStore::new(target.db.clone());
    store
        .record_contact(&UploaderId::from("teacher-42"), &Contact { email: "t42@school.example".into(), opt_in: true })
        .await
        .unwrap();
    let mail = super::Mail::new(settings, target.db.clone());
    let notice = ready();
    let delivery = crate::worker::Delivery {
        subject: "test.notify.ready".into(),
        headers: Default::default(),
        payload: serde_json::to_vec(&notice).unwrap().into(),
        attempt: 1,
        delivered: 1,
        max_deliver: 5,
        stream_sequence: 1,
    };
    // Not forgotten: the send is tried and fails (the proof that it would be).
    let outcome = mail.step(&delivery).await;
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    crate::forget::records::tombstone(&target.db, notice.document_id).await.unwrap();
    let outcome = mail.step(&delivery).await;
    assert!(matches!(outcome, Outcome::Done), "{outcome:?}");
}
