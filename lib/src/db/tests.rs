//! Every test body runs twice: on SQLite (a temporary file) and on PostgreSQL (a fresh
//! database, dropped afterwards).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement};

use sea_orm_migration::MigratorTrait;

use super::*;
use crate::ids::{DocumentId, JobId, Kind, ObjectVersion, StageId};
use crate::lifecycle::FailureCause;

use super::testing::{MAX_CONNECTIONS, Target, on_both, settings};

on_both!(
    migrating_twice_is_a_no_op,
    a_document_received_twice_at_once_is_inserted_once,
    transitions_happen_only_from_the_states_named,
    the_timeline_lists_transitions_in_order,
    validated_straight_from_submitted_records_processed_first_in_one_write,
    mark_failed_records_the_stage_and_reason,
    a_reupload_under_the_same_key_is_found_as_the_latest,
    the_pool_never_holds_more_than_max_connections,
    a_constraint_violation_is_not_transient,
    statements_are_counted_under_the_stage_that_sent_them,
    a_failed_document_restarts_in_a_new_round_once_per_message,
    the_observer_hears_every_state_recorded_and_nothing_else,
);

/// The observer hears each state the database recorded, in order, after its write; a
/// duplicate creation or a transition whose guard did not match is not heard.
async fn the_observer_hears_every_state_recorded_and_nothing_else(t: Target) {
    let heard = Arc::new(std::sync::Mutex::new(Vec::<StatusChange>::new()));
    let sink = heard.clone();
    let db =
        t.db.clone().with_observer(Arc::new(move |change: &StatusChange| sink.lock().unwrap().push(change.clone())));
    let doc = new_document("observed.pdf");
    let id = doc.id;
    db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
    db.record_received(&doc, StageId::Transfer, 2, None).await.unwrap();
    assert!(db.mark_submitted_in_round(id, 0, "sim", "sub-1", "job-1", "transfer", 1).await.unwrap());
    assert!(!db.transition(id, &[State::Processed], State::Rejected, "validate", 1, Some("bad")).await.unwrap());
    assert!(
        db.record_validated(id, State::Submitted, "evt-1", &[artifact("findings", "f.json")], "validate", 1)
            .await
            .unwrap()
    );
    assert!(db.store_normalized(id, &serde_json::json!({"findings": []}), "normalize", 1).await.unwrap());
    // Through the pool without the observer: not heard.
    let other = new_document("unobserved.pdf");
    t.db.record_received(&other, StageId::Transfer, 1, None).await.unwrap();

    let heard = heard.lock().unwrap().clone();
    let states: Vec<State> = heard.iter().map(|c| c.state).collect();
    assert_eq!(states, [State::Received, State::Submitted, State::Processed, State::Validated, State::Normalized]);
    let timeline = db.timeline(id).await.unwrap();
    for change in &heard {
        assert_eq!(
            (change.id, change.kind, change.uploader.as_str(), change.key.as_str()),
            (id, Kind::Document, "teacher-42", doc.key.as_str())
        );
        assert!(timeline.iter().any(|e| e.state == change.state && e.at == change.at), "{change:?} is in the timeline");
    }
}

fn new_document(name: &str) -> NewDocument {
    let key = format!("teacher-42/week3/{name}");
    NewDocument {
        id: DocumentId::derive("uploads", &key, &ObjectVersion::new(None, Some(name))),
        kind: Kind::Document,
        uploader_id: "teacher-42".into(),
        bucket: "uploads".into(),
        key,
        version_id: None,
        etag: Some(name.into()),
        size: 48213,
        content_type: "application/pdf".into(),
        provider: "sim".into(),
    }
}

/// The pool's own counter (`docflow_db_statements_total`): each statement under the stage
/// that sent it, a SQLite transaction with its `BEGIN` and `COMMIT`.
async fn statements_are_counted_under_the_stage_that_sent_them(t: Target) {
    crate::metrics::init();
    // A label of this test's own: tests in this binary run at once, on the same recorder.
    let (stage, recording) = match t.db.backend() {
        // One statement: the document and its timeline entry in one CTE.
        DbBackend::Postgres => ("test_counted_postgres", 1),
        // BEGIN, the document, its timeline entry, COMMIT.
        _ => ("test_counted_sqlite", 4),
    };
    let doc = new_document("counted.pdf");
    let before = statements_counted(stage);

    statements::in_stage(stage, t.db.get(doc.id)).await.unwrap();
    assert_eq!(statements_counted(stage) - before, 1, "a read is one statement");

    statements::in_stage(stage, t.db.record_received(&doc, StageId::Transfer, 1, None)).await.unwrap();
    assert_eq!(statements_counted(stage) - before, 1 + recording);

    let outside = statements_counted(statements::NO_STAGE);
    t.db.get(doc.id).await.unwrap();
    assert_eq!(statements_counted(stage) - before, 1 + recording, "a statement outside the stage is not its");
    assert!(statements_counted(statements::NO_STAGE) > outside, "it counts under {:?}", statements::NO_STAGE);
}

/// `docflow_db_statements_total{stage}` as `/metrics` renders it (0 before the first).
fn statements_counted(stage: &str) -> u64 {
    let prefix = format!("{}{{stage=\"{stage}\"}} ", crate::metrics::DB_STATEMENTS);
    crate::metrics::render().lines().find_map(|line| line.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
}

async fn migrating_twice_is_a_no_op(t: Target) {
    t.db.migrate().await.unwrap();
    let again = Db::connect(&settings(&t.url)).await.unwrap();
    again.migrate().await.unwrap();
    let applied = migration_rows(&t.db).await;
    assert_eq!(applied, migration::Migrator::migrations().len() as i64);
    assert_eq!(t.db.count_documents().await.unwrap(), 0);
}

async fn migration_rows(db: &Db) -> i64 {
    let conn = db.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT count(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

async fn a_document_received_twice_at_once_is_inserted_once(t: Target) {
    let doc = new_document("plan.pdf");
    let (a, b) = tokio::join!(
        t.db.record_received(&doc, StageId::Transfer, 1, None),
        t.db.record_received(&doc, StageId::Transfer, 2, None)
    );
    let ((a, a_inserted), (b, b_inserted)) = (a.unwrap(), b.unwrap());
    assert!(a_inserted ^ b_inserted, "exactly one insert: {a_inserted} {b_inserted}");
    assert_eq!(a, b, "both callers see the stored row");
    assert_eq!(t.db.get(doc.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(a.state, State::Received);
    assert_eq!(a.key, "teacher-42/week3/plan.pdf");
    assert_eq!(t.db.timeline(doc.id).await.unwrap().len(), 1);
    assert_eq!(t.db.count_documents().await.unwrap(), 1);

    let (again, inserted) = t.db.record_received(&doc, StageId::Transfer, 3, None).await.unwrap();
    assert!(!inserted);
    assert_eq!(again, a);
}

async fn transitions_happen_only_from_the_states_named(t: Target) {
    let doc = new_document("essay.docx");
    t.db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
    let id = doc.id;

    assert!(!t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    assert!(!t.db.record_validated(id, State::Received, "evt-0", &[], "validate", 1).await.unwrap());
    let unknown = new_document("nothing").id;
    assert!(!t.db.mark_failed(unknown, "transfer", 1, FailureCause::FileRefused, "gone").await.unwrap());
    assert!(!t.db.mark_submitted_in_round(unknown, 0, "sim", "sub-0", "job-0", "transfer", 1).await.unwrap());

    let submission_id = id.submission_id("sim").to_string();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", &submission_id, "job_7f3c", "transfer", 2).await.unwrap());
    assert!(!t.db.mark_submitted_in_round(id, 0, "sim", &submission_id, "job_other", "transfer", 3).await.unwrap());
    let d = t.db.get(id).await.unwrap().unwrap();
    assert_eq!(d.state, State::Submitted);
    assert_eq!(d.provider_job_id, Some(JobId::from("job_7f3c")));
    assert_eq!(d.submission_id.as_deref(), Some(submission_id.as_str()));
    assert_eq!(d.attempts, serde_json::json!({"transfer": 2}));
    assert!(d.updated_at >= d.created_at);
    let submission =
        submissions::Entity::find_by_id(submission_id.clone()).one(t.db.connection()).await.unwrap().unwrap();
    assert_eq!((submission.job_id.as_deref(), submission.status.as_str()), (Some("job_7f3c"), "submitted"));
    assert_eq!(submission.document_id, id.to_string());

    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    assert!(!t.db.transition(id, &[State::Submitted], State::Processed, "validate", 2, None).await.unwrap());
    let d = t.db.get(id).await.unwrap().unwrap();
    assert_eq!(d.state, State::Processed);
    assert_eq!(d.attempts, serde_json::json!({"transfer": 2, "validate": 1}));
    assert_eq!((d.error_stage, d.error_reason), (None, None));
    assert_eq!(t.db.timeline(id).await.unwrap().len(), 3);
}

async fn the_timeline_lists_transitions_in_order(t: Target) {
    let doc = new_document("lesson.mp4");
    let id = doc.id;
    t.db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", "sub-1", "job-1", "transfer", 1).await.unwrap());
    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    let artifacts = [artifact("transcript", "lesson.vtt"), artifact("summary", "summary.json")];
    assert!(t.db.record_validated(id, State::Processed, "evt-1", &artifacts, "validate", 2).await.unwrap());
    assert!(!t.db.record_validated(id, State::Processed, "evt-2", &[], "validate", 3).await.unwrap());
    let normalized = serde_json::json!({"schema_version": 1, "language": "en", "duration_seconds": 61.5});
    assert!(t.db.store_normalized(id, &normalized, "normalize", 1).await.unwrap());
    assert!(!t.db.store_normalized(id, &serde_json::json!({}), "normalize", 2).await.unwrap());

    let timeline = t.db.timeline(id).await.unwrap();
    let steps: Vec<_> = timeline.iter().map(|e| (e.state, e.stage.as_str(), e.attempt)).collect();
    assert_eq!(
        steps,
        [
            (State::Received, "transfer", 1),
            (State::Submitted, "transfer", 1),
            (State::Processed, "validate", 1),
            (State::Validated, "validate", 2),
            (State::Normalized, "normalize", 1),
        ]
    );
    assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
    let d = t.db.get(id).await.unwrap().unwrap();
    assert!(d.state.is_terminal());
    assert_eq!(d.normalized, Some(normalized));
    let mut stored = t.db.artifacts(id).await.unwrap();
    stored.sort_by(|a, b| a.role.as_str().cmp(b.role.as_str()));
    assert_eq!(stored, [artifacts[1].clone(), artifacts[0].clone()]);
    let seen = processed_events::Entity::find().all(t.db.connection()).await.unwrap();
    let seen: Vec<_> = seen.iter().map(|e| (e.event_id.as_str(), e.document_id.clone())).collect();
    assert_eq!(seen, [("evt-1", id.to_string())]);
    assert_eq!(d.attempts, serde_json::json!({"transfer": 1, "validate": 2, "normalize": 1}));
    assert_eq!(d.updated_at, timeline.last().unwrap().at);
    // A terminal document fails no more.
    assert!(!t.db.mark_failed(id, "watchdog", 1, FailureCause::CallbackLost, "late").await.unwrap());
}

async fn validated_straight_from_submitted_records_processed_first_in_one_write(t: Target) {
    let doc = new_document("plan.pdf");
    let id = doc.id;
    t.db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", "sub-1", "job-1", "transfer", 1).await.unwrap());
    let artifacts = [artifact("corrected", "plan.pdf"), artifact("findings", "findings.json")];
    // The guard is the state the caller read: a stale read changes nothing.
    assert!(!t.db.record_validated(id, State::Processed, "evt-1", &artifacts, "validate", 1).await.unwrap());
    assert!(!t.db.record_validated(id, State::Received, "evt-1", &artifacts, "validate", 1).await.unwrap());
    assert!(t.db.record_validated(id, State::Submitted, "evt-1", &artifacts, "validate", 1).await.unwrap());
    assert!(!t.db.record_validated(id, State::Submitted, "evt-1", &artifacts, "validate", 2).await.unwrap());

    let timeline = t.db.timeline(id).await.unwrap();
    let steps: Vec<_> = timeline.iter().map(|e| (e.state, e.stage.as_str(), e.reason.clone())).collect();
    assert_eq!(
        steps,
        [
            (State::Received, "transfer", None),
            (State::Submitted, "transfer", None),
            (State::Processed, "validate", None),
            (State::Validated, "validate", None),
        ]
    );
    assert_eq!(t.db.get(id).await.unwrap().unwrap().state, State::Validated);
    assert_eq!(t.db.artifacts(id).await.unwrap().len(), 2);
}

fn artifact(role: &str, name: &str) -> ArtifactRow {
    ArtifactRow {
        role: role.parse().unwrap(),
        name: name.into(),
        key: format!("doc/{role}/{name}"),
        size: 1234,
        sha256: "ab".repeat(32),
        content_type: "text/plain".into(),
    }
}

async fn mark_failed_records_the_stage_and_reason(t: Target) {
    let doc = new_document("broken.pdf");
    t.db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
    assert!(
        t.db.mark_failed(
            doc.id,
            "transfer",
            8,
            FailureCause::SubmissionRefused,
            "provider refused: 422 unsupported format"
        )
        .await
        .unwrap()
    );
    assert!(!t.db.mark_failed(doc.id, "transfer", 9, FailureCause::SubmissionRefused, "again").await.unwrap());
    let d = t.db.get(doc.id).await.unwrap().unwrap();
    assert_eq!(d.state, State::Failed);
    assert_eq!(d.error_stage.as_deref(), Some("transfer"));
    assert_eq!(d.error_reason.as_deref(), Some("provider refused: 422 unsupported format"));
    assert_eq!(d.failure_cause, Some(FailureCause::SubmissionRefused));
    assert_eq!(d.attempts, serde_json::json!({"transfer": 8}));
    let last = t.db.timeline(doc.id).await.unwrap().pop().unwrap();
    assert_eq!((last.state, last.attempt), (State::Failed, 8));
    assert_eq!(last.reason.as_deref(), Some("provider refused: 422 unsupported format"));

    let other = new_document("bad-results.pdf");
    t.db.record_received(&other, StageId::Transfer, 1, None).await.unwrap();
    t.db.mark_submitted_in_round(other.id, 0, "sim", "sub-2", "job-2", "transfer", 1).await.unwrap();
    t.db.transition(other.id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap();
    let rejected = FailureCause::ResultsInvalid;
    let (from, to) = (&[State::Processed], State::Rejected);
    assert!(t.db.transition(other.id, from, to, "validate", 1, Some("missing transcript")).await.unwrap());
    let d = t.db.get(other.id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.error_stage.as_deref(), d.error_reason.as_deref(), d.failure_cause),
        (State::Rejected, Some("validate"), Some("missing transcript"), Some(rejected))
    );
    // A restart clears the cause with the error.
    assert!(t.db.restart(other.id, 5, "retried", "transfer", 1).await.unwrap());
    let d = t.db.get(other.id).await.unwrap().unwrap();
    assert_eq!((d.state, d.error_reason, d.failure_cause), (State::Received, None, None));
}

async fn a_reupload_under_the_same_key_is_found_as_the_latest(t: Target) {
    let first = new_document("plan.pdf");
    let mut second = first.clone();
    second.etag = Some("other".into());
    second.id = DocumentId::derive("uploads", &second.key, &ObjectVersion::new(None, Some("other")));
    t.db.record_received(&first, StageId::Transfer, 1, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await; // distinct created_at
    t.db.record_received(&second, StageId::Transfer, 1, None).await.unwrap();
    let latest = t.db.find_latest_by_key("uploads", &first.key).await.unwrap().unwrap();
    assert_eq!(latest.id, second.id);
    assert!(t.db.find_latest_by_key("uploads", "nobody/none.pdf").await.unwrap().is_none());
}

async fn the_pool_never_holds_more_than_max_connections(t: Target) {
    let stop = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicI64::new(0));
    // PostgreSQL's own view of the connections to this database, sampled throughout.
    let sampler = (t.db.backend() == DbBackend::Postgres).then(|| {
        let (stop, most, url) = (stop.clone(), most.clone(), t.url.clone());
        tokio::spawn(async move {
            let name = url.rsplit('/').next().unwrap().to_owned();
            let admin =
                Db::connect(&DatabaseSettings { max_connections: 1, ..settings(&url.replace(&name, "postgres")) })
                    .await
                    .unwrap();
            let sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1";
            while !stop.load(Ordering::Relaxed) {
                let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, [name.clone().into()]);
                let row = admin.connection().query_one_raw(stmt).await.unwrap().unwrap();
                most.fetch_max(row.try_get::<i64>("", "n").unwrap(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    });

    let work = (0..50).map(|i| {
        let db = t.db.clone();
        tokio::spawn(async move {
            let doc = new_document(&format!("load-{i}.pdf"));
            db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
            assert!(
                db.mark_submitted_in_round(doc.id, 0, "sim", &format!("sub-{i}"), "job", "transfer", 1).await.unwrap()
            );
            assert!(db.transition(doc.id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
            db.timeline(doc.id).await.unwrap();
            pool_size(&db)
        })
    });
    let sizes = futures_util::future::join_all(work).await;
    stop.store(true, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        sampler.await.unwrap();
        let most = most.load(Ordering::Relaxed);
        assert!((1..=i64::from(MAX_CONNECTIONS)).contains(&most), "{most} server connections");
    }
    let largest = sizes.into_iter().map(Result::unwrap).max().unwrap();
    assert!(largest <= MAX_CONNECTIONS, "pool grew to {largest}");
    assert_eq!(t.db.count_documents().await.unwrap(), 50);
}

fn pool_size(db: &Db) -> u32 {
    match db.backend() {
        DbBackend::Postgres => db.connection().get_postgres_connection_pool().size(),
        _ => db.connection().get_sqlite_connection_pool().size(),
    }
}

async fn a_constraint_violation_is_not_transient(t: Target) {
    let doc = new_document("plan.pdf");
    t.db.record_received(&doc, StageId::Transfer, 1, None).await.unwrap();
    let row = documents::Entity::find_by_id(doc.id.to_string()).one(t.db.connection()).await.unwrap().unwrap();
    let duplicate = documents::ActiveModel::from(row).reset_all();
    let error = DbError::from(documents::Entity::insert(duplicate).exec(t.db.connection()).await.unwrap_err());
    assert!(!error.is_transient(), "{error}");
    assert_eq!(documents::Entity::find().count(t.db.connection()).await.unwrap(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_error_that_names_the_url() {
    let settings = DatabaseSettings {
        acquire_timeout: Duration::from_secs(2),
        ..settings("postgres://postgres@127.0.0.1:1/docflow")
    };
    let error = Db::connect(&settings).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("postgres://postgres@127.0.0.1:1/docflow"), "{message}");
    assert!(message.contains("database.url"), "{message}");
    assert!(error.is_transient(), "{message}");
}

#[test]
fn sqlite_urls_get_mode_rwc_and_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/a/b/docflow.db", dir.path().display());
    assert_eq!(sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
    assert!(dir.path().join("a/b").is_dir());
    assert_eq!(sqlite_url(&format!("{url}?mode=ro")).unwrap(), format!("{url}?mode=ro"));
    assert_eq!(sqlite_url(&format!("{url}?cache=shared")).unwrap(), format!("{url}?cache=shared&mode=rwc"));
    assert_eq!(sqlite_url("sqlite::memory:").unwrap(), "sqlite::memory:");
}

#[test]
fn states_round_trip_through_their_names() {
    for state in State::ALL {
        assert_eq!(state.as_str().parse::<State>().unwrap(), state);
    }
    assert!("done".parse::<State>().is_err());
    assert!(State::Rejected.is_terminal() && !State::Validated.is_terminal());
}

async fn a_failed_document_restarts_in_a_new_round_once_per_message(t: Target) {
    let doc = new_document("restart.docx");
    let id = doc.id;
    let (recorded, _) = t.db.record_received(&doc, StageId::Transfer, 1, Some(10)).await.unwrap();
    assert_eq!((recorded.submission_round, recorded.round_origin), (0, Some(10)));
    // Nothing restarts a document in flight.
    assert!(!t.db.restart(id, 11, "notified again", "transfer", 1).await.unwrap());
    let round0 = id.submission_id_for_round("sim", 0).to_string();
    assert!(t.db.mark_submitted_in_round(id, 0, "sim", &round0, "job-0", "transfer", 1).await.unwrap());
    let failed = FailureCause::ResultsUnavailable;
    assert!(t.db.mark_failed(id, "validate", 1, failed, "provider failed").await.unwrap());

    // The message that started round 0, redelivered, does not restart it.
    assert!(!t.db.restart(id, 10, "notified again", "transfer", 2).await.unwrap());
    assert!(t.db.restart(id, 11, "replayed", "transfer", 1).await.unwrap());
    let d = t.db.get(id).await.unwrap().unwrap();
    assert_eq!(d.state, State::Received);
    assert_eq!((d.submission_round, d.round_origin), (1, Some(11)));
    assert_eq!(d.round_submission_id(), id.submission_id_for_round("sim", 1));
    assert_eq!((d.provider_job_id, d.submission_id, d.error_stage, d.error_reason), (None, None, None, None));
    // Its redelivery changes nothing more.
    assert!(!t.db.restart(id, 11, "replayed", "transfer", 2).await.unwrap());

    // A late step of round 0 cannot record its job as round 1's.
    assert!(!t.db.mark_submitted_in_round(id, 0, "sim", &round0, "job-0", "transfer", 3).await.unwrap());
    let round1 = id.submission_id_for_round("sim", 1).to_string();
    assert!(t.db.mark_submitted_in_round(id, 1, "sim", &round1, "job-1", "transfer", 1).await.unwrap());
    assert_eq!(t.db.submission_of_job(id, &JobId::from("job-0")).await.unwrap(), Some(round0));
    assert_eq!(t.db.submission_of_job(id, &JobId::from("job-1")).await.unwrap(), Some(round1));
    assert_eq!(t.db.submission_of_job(id, &JobId::from("job-x")).await.unwrap(), None);

    assert!(t.db.transition(id, &[State::Submitted], State::Processed, "validate", 1, None).await.unwrap());
    assert!(
        t.db.transition(id, &[State::Processed], State::Rejected, "validate", 1, Some("bad results")).await.unwrap()
    );
    let rejected = t.db.in_states_since(&[State::Rejected], None).await.unwrap();
    assert_eq!(rejected.iter().map(|d| d.id).collect::<Vec<_>>(), [id]);
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(t.db.in_states_since(&[State::Rejected], Some(later)).await.unwrap().is_empty());
    assert!(t.db.restart(id, 12, "retried", "transfer", 1).await.unwrap());
    let reasons: Vec<Option<String>> = t.db.timeline(id).await.unwrap().into_iter().map(|e| e.reason).collect();
    assert_eq!(reasons.iter().flatten().filter(|r| ["replayed", "retried"].contains(&r.as_str())).count(), 2);
    assert_eq!(t.db.get(id).await.unwrap().unwrap().submission_round, 2);
}
