//! `POST /ui/documents/{id}/retry` through the router, on SQLite and the shared NATS (a
//! prefix of the test's own): refused without the form's token, for a teacher, for a
//! document that is not stopped; accepted for an evaluator, whose request the transfer
//! stage (the real one, as for `docflow retry`) turns into a new round in `received`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use axum::Router;
use axum::http::{StatusCode, header};
use futures_util::StreamExt;

use super::{get, post, sign_in};
use crate::db::State;
use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, settings, sqlite};
use crate::ids::{DocumentId, Kind, StageId};
use crate::lifecycle::FailureCause;
use crate::nats::Names;
use crate::settings::Settings;
use crate::stages::ports::Ports;
use crate::stages::transfer::Transfer;
use crate::storage::Store;
use crate::web::retry::Restarts;
use crate::web::{WebState, routes};
use crate::worker::{Delivery, Stage};

/// The router with Retry publishing on the test's own streams.
struct World {
    t: Target,
    settings: Arc<Settings>,
    js: async_nats::jetstream::Context,
    names: Names,
    router: Router,
}

impl World {
    async fn new() -> World {
        let t = sqlite().await;
        // Nothing listens there: a store read fails at once.
        let settings = Arc::new(settings(&[("DOCFLOW__S3__ENDPOINT", "http://127.0.0.1:9")]));
        let (_, js) = crate::testkit::nats::connect(&settings.nats.url).await;
        crate::topology::apply(&js, &settings).await.expect("topology");
        let names = Names::new(&settings.nats.prefix);
        let store = Store::new(&settings.s3).unwrap();
        let web = WebState::new(EvaluatorState::new(settings.clone(), t.db.clone(), store))
            .with_restarts(Restarts { js: js.clone(), names: names.clone() });
        World { t, settings: settings.clone(), js, names, router: routes(web) }
    }

    /// A document stopped in `validate` (results that failed docflow's checks).
    async fn failed(&self) -> DocumentId {
        let id = self.t.receive("teacher-42", Kind::Document, "plan.pdf").await;
        let cause = FailureCause::ResultsInvalid;
        assert!(self.t.db.mark_failed(id, "validate", 1, cause, "corrected: sha256 mismatch").await.unwrap());
        id
    }

    /// The restart requests waiting for the transfer stage.
    async fn waiting(&self) -> u64 {
        let mut stream = self.js.get_stream(self.names.stream(StageId::Transfer.stream())).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    async fn drop_streams(&self) {
        crate::testkit::nats::delete_streams(&self.js, &self.settings.nats.prefix).await;
    }
}

fn retry(id: DocumentId) -> String {
    format!("/ui/documents/{id}/retry")
}

#[tokio::test]
async fn retry_is_refused_without_the_forms_token_and_for_a_teacher() {
    let w = World::new().await;
    let id = w.failed().await;
    let (evaluator, csrf) = sign_in(&w.router, TOKEN).await;
    for form in [vec![], vec![("csrf", "0000")]] {
        let refused = post(&w.router, &retry(id), Some(&evaluator), &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{form:?}");
    }
    let (teacher, teacher_csrf) = sign_in(&w.router, TEACHER_TOKEN).await;
    let refused = post(&w.router, &retry(id), Some(&teacher), &[("csrf", &teacher_csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("new version"), "{}", refused.body);
    // Another session's token is no token.
    let crossed = post(&w.router, &retry(id), Some(&evaluator), &[("csrf", &teacher_csrf)]).await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    // Signed out: to the sign-in page.
    let out = post(&w.router, &retry(id), None, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(w.waiting().await, 0, "nothing was asked");
    assert_eq!(w.t.db.get(id).await.unwrap().unwrap().state, State::Failed);
    w.drop_streams().await;
}

#[tokio::test]
async fn retry_of_a_refused_file_is_refused_and_the_teacher_is_offered_a_new_version() {
    let w = World::new().await;
    let id = w.t.receive("teacher-42", Kind::Document, "plan.pdf").await;
    let reason = "the file is empty (0 bytes): nothing arrived; please upload it again";
    assert!(w.t.db.mark_failed(id, "transfer", 1, FailureCause::FileRefused, reason).await.unwrap());
    let (evaluator, csrf) = sign_in(&w.router, TOKEN).await;
    let page = get(&w.router, &format!("/ui/documents/{id}"), Some(&evaluator)).await;
    assert!(!page.body.contains("/retry\""), "no Retry for a refused file: {}", page.body);
    assert!(page.body.contains("The file is empty (0 bytes)"), "{}", page.body);
    // The form sent anyway: refused, nothing asked.
    let refused = post(&w.router, &retry(id), Some(&evaluator), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("would not help"), "{}", refused.body);
    assert_eq!(w.waiting().await, 0);
    assert_eq!(w.t.db.get(id).await.unwrap().unwrap().state, State::Failed);
    // The teacher reads pre-flight's reason first and gets the upload page for a new version.
    let (teacher, _) = sign_in(&w.router, TEACHER_TOKEN).await;
    let page = get(&w.router, &format!("/ui/documents/{id}"), Some(&teacher)).await;
    let reason_at = page.body.find("The file is empty (0 bytes)").expect("the reason");
    assert!(reason_at < page.body.find("<details").expect("the detail"), "{}", page.body);
    assert!(page.body.contains("href=\"/ui/upload?kind=document&amp;replaces=plan%2Epdf\""), "{}", page.body);
    let upload = get(&w.router, "/ui/upload?kind=document&replaces=plan.pdf", Some(&teacher)).await;
    assert!(upload.body.contains("A new version of <strong>plan.pdf</strong>"), "{}", upload.body);
    w.drop_streams().await;
}

#[tokio::test]
async fn retry_of_a_document_in_flight_is_refused_in_words() {
    let w = World::new().await;
    let id = w.t.receive("teacher-42", Kind::Document, "plan.pdf").await;
    let (evaluator, csrf) = sign_in(&w.router, TOKEN).await;
    let refused = post(&w.router, &retry(id), Some(&evaluator), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("received now"), "{}", refused.body);
    let unknown = post(&w.router, &retry(DocumentId(uuid::Uuid::new_v4())), Some(&evaluator), &[("csrf", &csrf)]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(w.waiting().await, 0);
    w.drop_streams().await;
}

#[tokio::test]
async fn an_evaluators_retry_restarts_the_document_in_a_new_round() {
    let w = World::new().await;
    let id = w.failed().await;
    let (evaluator, csrf) = sign_in(&w.router, TOKEN).await;
    let page = get(&w.router, &format!("/ui/documents/{id}"), Some(&evaluator)).await;
    assert!(page.body.contains(&format!("action=\"/ui/documents/{id}/retry\"")), "{}", page.body);

    let asked = post(&w.router, &retry(id), Some(&evaluator), &[("csrf", &csrf)]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.headers[header::LOCATION], format!("/ui/documents/{id}?retried=1"));
    let shown = get(&w.router, &format!("/ui/documents/{id}?retried=1"), Some(&evaluator)).await;
    assert!(shown.body.contains("Retry asked") && shown.body.contains("data-restarting"), "{}", shown.body);
    // Asked twice in the same round: one request (the same Nats-Msg-Id as `docflow retry`).
    post(&w.router, &retry(id), Some(&evaluator), &[("csrf", &csrf)]).await;
    assert_eq!(w.waiting().await, 1);

    // The transfer stage takes it as it takes `docflow retry`'s.
    transfer_takes_the_request(&w.settings, &w.t.db, &w.js, &w.names).await;
    let document = w.t.db.get(id).await.unwrap().unwrap();
    assert_eq!((document.state, document.submission_round), (State::Received, 1));
    let timeline = w.t.db.timeline(id).await.unwrap();
    assert!(timeline.iter().any(|e| e.reason.as_deref() == Some("retried")), "{timeline:?}");
    w.drop_streams().await;
}

/// The transfer stage (the real one, over `db`) handles the next message of the uploads
/// stream, as `docflow run transfer` would. Whatever its submission then does (the store
/// is unreachable in these tests), a restart request has restarted its document by then.
pub(in crate::web) async fn transfer_takes_the_request(
    settings: &Arc<Settings>,
    db: &crate::db::Db,
    js: &async_nats::jetstream::Context,
    names: &Names,
) {
    let consumer: PullConsumer = js
        .get_consumer_from_stream(StageId::Transfer.consumer(), names.stream(StageId::Transfer.stream()))
        .await
        .unwrap();
    let mut messages = consumer.fetch().max_messages(1).expires(Duration::from_secs(5)).messages().await.unwrap();
    let message = messages.next().await.expect("the restart request").unwrap();
    let info = message.info().unwrap();
    let delivery = Delivery {
        subject: message.subject.to_string(),
        headers: message.headers.clone().unwrap_or_default(),
        payload: message.payload.clone(),
        attempt: 1,
        delivered: info.delivered as u64,
        max_deliver: 8,
        stream_sequence: info.stream_sequence,
    };
    let ports = Ports::connect(settings, db.clone(), Store::new(&settings.s3).unwrap(), js.clone(), true).unwrap();
    let _ = Transfer::new(settings.clone(), &ports).step(&delivery).await;
    message.ack().await.ok();
}
