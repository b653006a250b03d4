//! The teacher's e-mails, end to end: the whole pipeline with `[mail]` on, against a
//! local SMTP server (aiosmtpd). A teacher who opted in gets exactly one mail per
//! document and event, ready or needing a new version, also when the notice is delivered
//! twice and when the server first answers "try later"; a teacher without an address
//! gets none.

use std::time::Duration;

use docflow::db::State;
use docflow::ids::UploaderId;
use docflow::mail::notice::Notice;
use docflow::mail::store::{Contact, MailStore};

use crate::support::smtp_sink::SmtpSink;
use crate::support::{Sandbox, lesson_plan, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

async fn sandbox(sink: &SmtpSink) -> Sandbox {
    Sandbox::builder()
        .env("DOCFLOW__MAIL__ENABLED", "true")
        .env("DOCFLOW__MAIL__HOST", "127.0.0.1")
        .env("DOCFLOW__MAIL__PORT", &sink.port.to_string())
        .env("DOCFLOW__MAIL__FROM", "docflow <docflow@school.example>")
        .env("DOCFLOW__STAGES__MAIL__BACKOFF", "300ms,600ms,1s")
        .start()
        .await
}

/// The mails whose text contains `needle`.
fn mails_with(sink: &SmtpSink, needle: &str) -> Vec<String> {
    sink.messages().into_iter().filter(|m| m.contains(needle)).collect()
}

/// Waits until the notices stream is drained: every notice handled and acked.
async fn notices_handled(sandbox: &Sandbox) {
    wait_for("the notices handled", DEADLINE, || async {
        let mut stream = sandbox.js.get_stream(sandbox.stream("NOTIFY")).await.ok()?;
        (stream.info().await.ok()?.state.messages == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_who_opted_in_gets_one_mail_per_document_and_event() {
    // The first answer is "451 try later": the notice is naked and sent on redelivery.
    let sink = SmtpSink::start(1).await;
    let mut sandbox = sandbox(&sink).await;
    let contacts = MailStore::new(sandbox.db.clone());
    let opted_in = Contact { email: "teacher42@school.example".into(), opt_in: true };
    contacts.record_contact(&UploaderId::from("teacher-42"), &opted_in).await.unwrap();
    let not_opted = Contact { email: "teacher7@school.example".into(), opt_in: false };
    contacts.record_contact(&UploaderId::from("teacher-7"), &not_opted).await.unwrap();
    sandbox.start_all().await;

    let ready = sandbox.upload("teacher-42/week3/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let empty = sandbox.upload("teacher-42/week3/empty.txt", Vec::new(), "text/plain", &[]).await;
    let other = sandbox.upload("teacher-7/week3/plan.txt", lesson_plan(), "text/plain", &[]).await;
    let ready_doc = sandbox.wait_for_state(ready, State::Normalized, DEADLINE).await;
    let empty_doc = sandbox.wait_for_state(empty, State::Failed, DEADLINE).await;
    sandbox.wait_for_state(other, State::Normalized, DEADLINE).await;

    let got = wait_for("both mails", DEADLINE, || async {
        let mails = sink.messages();
        (mails.len() >= 2).then_some(mails)
    })
    .await;
    let ready_mail = mails_with(&sink, "Subject: Ready: plan.txt");
    assert_eq!(ready_mail.len(), 1, "{got:?}");
    assert!(ready_mail[0].contains("To: teacher42@school.example"), "{}", ready_mail[0]);
    assert!(ready_mail[0].contains(&format!("Message-ID: <{ready}.0.ready@school.example>")), "{}", ready_mail[0]);
    let refused = mails_with(&sink, "Subject: Needs a new version: empty.txt");
    assert_eq!(refused.len(), 1, "{got:?}");
    assert!(refused[0].contains("The file is empty"), "{}", refused[0]);

    // Both notices delivered again (a stage's redelivery after a crash publishes again;
    // a new message id gets past the stream's duplicate window): no second mail.
    assert_eq!(empty_doc.failure_cause, Some(docflow::lifecycle::FailureCause::FileRefused));
    for document in [&ready_doc, &empty_doc] {
        let notice = Notice::of(document).expect("a notice");
        let body = serde_json::to_vec(&notice).unwrap();
        sandbox.publish_raw(&notice.subject(&docflow::nats::Names::new(&sandbox.prefix)), body).await;
    }
    notices_handled(&sandbox).await;
    assert_eq!(sink.messages().len(), 2, "{:?}", sink.messages());
    assert!(mails_with(&sink, "teacher7@school.example").is_empty(), "teacher-7 did not opt in");
}
