//! The normalize stage's branches, on in-memory ports: no service, milliseconds.

use super::*;
use crate::db::ArtifactRow;
use crate::messages::{self, Artifact as WireArtifact};
use crate::stages::memory::{World, store_down};
use crate::stages::ports::Documents;

const FINDINGS: &str = r#"{"findings":[{"category":"spelling","severity":"minor","message":"a"},{"category":"style","severity":"info","message":"b"}],"word_count":120,"language":"en"}"#;

fn artifact(id: DocumentId, role: &str, name: &str) -> ArtifactRow {
    ArtifactRow {
        role: role.parse().unwrap(),
        name: name.into(),
        key: format!("{id}/{role}/{name}"),
        size: 3,
        sha256: "ab".into(),
        content_type: "application/json".into(),
    }
}

/// A validated document with its two artifacts recorded (and the findings stored).
async fn validated(world: &World) -> DocumentId {
    let id = world.document(Some("job-1")).await;
    let validate = StageId::Validate;
    let artifacts = [artifact(id, "corrected", "plan.txt"), artifact(id, "findings", "findings.json")];
    assert!(
        world
            .db
            .apply(
                id,
                Transition::Validated { from: State::Submitted, event_id: "evt", artifacts: &artifacts },
                By::new(validate, 1)
            )
            .await
            .unwrap()
    );
    world.store.put("results", &format!("{id}/findings/findings.json"), FINDINGS);
    id
}

fn request(world: &World, request: &NormalizeRequest, attempt: u64) -> Delivery {
    world.delivery(STAGE, "normalize", &serde_json::to_vec(request).unwrap(), attempt, 5)
}

fn stage(world: &World) -> Normalize {
    Normalize::new(world.settings.clone(), &world.ports())
}

fn normalized(world: &World, id: DocumentId) -> serde_json::Value {
    world.db.document(id).normalized.expect("normalized")
}

#[tokio::test]
async fn carried_inputs_make_the_record_without_reading_the_results_bucket() {
    let world = World::new(&[]);
    let id = validated(&world).await;
    let document = world.db.document(id);
    let artifacts = world.db.stored_artifacts(id);
    let inputs = NormalizeInputs::of(&document, artifacts, [("findings".to_owned(), FINDINGS.to_owned())].into());
    world.store.delete("results", &format!("{id}/findings/findings.json")).await.unwrap();
    let carried = NormalizeRequest { v: messages::VERSION, document_id: id, inputs: Some(inputs) };
    assert_eq!(stage(&world).step(&request(&world, &carried, 1)).await, Outcome::Done);
    assert_eq!(world.db.state(id), State::Normalized);
    let record = normalized(&world, id);
    assert_eq!(record["findings_by_category"]["spelling"], 1);
    assert_eq!(record["original"]["key"], "teacher-42/plan.txt");
    assert_eq!(record["artifacts"][1]["key"], format!("{id}/findings/findings.json"));
}

#[tokio::test]
async fn a_bare_request_reads_the_row_and_the_results_bucket() {
    let world = World::new(&[]);
    let id = validated(&world).await;
    let bare = NormalizeRequest { v: messages::VERSION, document_id: id, inputs: None };
    assert_eq!(stage(&world).step(&request(&world, &bare, 1)).await, Outcome::Done);
    assert_eq!(normalized(&world, id)["word_count"], 120);
}

#[tokio::test]
async fn a_request_of_the_previous_release_is_handled() {
    let world = World::new(&[]);
    let id = validated(&world).await;
    let old = format!(r#"{{"document_id":"{id}"}}"#);
    let delivery = world.delivery(STAGE, "normalize", old.as_bytes(), 1, 5);
    assert_eq!(stage(&world).step(&delivery).await, Outcome::Done);
    assert_eq!(world.db.state(id), State::Normalized);
}

#[tokio::test]
async fn a_redelivery_after_the_record_is_stored_changes_nothing() {
    let world = World::new(&[]);
    let id = validated(&world).await;
    let normalize = stage(&world);
    let bare = NormalizeRequest { v: messages::VERSION, document_id: id, inputs: None };
    assert_eq!(normalize.step(&request(&world, &bare, 1)).await, Outcome::Done);
    let first = world.db.document(id);
    world.db.take_calls();
    assert_eq!(normalize.step(&request(&world, &bare, 2)).await, Outcome::Done);
    assert_eq!(world.db.take_calls(), ["get"], "nothing read past the state, nothing written");
    assert_eq!(world.db.document(id), first);
}

#[tokio::test]
async fn a_results_bucket_that_is_down_retries_and_a_missing_result_fails() {
    let world = World::new(&[]);
    let id = validated(&world).await;
    let normalize = stage(&world);
    let bare = NormalizeRequest { v: messages::VERSION, document_id: id, inputs: None };
    world.store.fail_next(store_down());
    assert!(matches!(normalize.step(&request(&world, &bare, 1)).await, Outcome::Retry { after: None, .. }));
    world.store.delete("results", &format!("{id}/findings/findings.json")).await.unwrap();
    assert!(
        matches!(normalize.step(&request(&world, &bare, 2)).await, Outcome::Fail { reason, .. } if reason.contains("does not exist"))
    );
    assert_eq!(world.db.state(id), State::Validated);
}

#[tokio::test]
async fn inputs_that_no_longer_parse_or_lack_a_role_fail_and_the_dead_letter_fails_the_document() {
    let world = World::new(&[]);
    let id = validated(&world).await;
    let normalize = stage(&world);
    let document = world.db.document(id);
    let mut inputs = NormalizeInputs::of(&document, vec![], Default::default());
    let lacking = NormalizeRequest { v: messages::VERSION, document_id: id, inputs: Some(inputs.clone()) };
    assert!(
        matches!(normalize.step(&request(&world, &lacking, 1)).await, Outcome::Fail { reason, .. } if reason.contains("have no findings"))
    );
    inputs.contents.insert("findings".into(), "{".into());
    inputs.artifacts.push(WireArtifact::from(artifact(id, "findings", "findings.json")));
    let broken = NormalizeRequest { v: messages::VERSION, document_id: id, inputs: Some(inputs) };
    let delivery = request(&world, &broken, 1);
    assert!(
        matches!(normalize.step(&delivery).await, Outcome::Fail { reason, .. } if reason.contains("no longer parses"))
    );
    normalize.on_dead_letter(&delivery, "no longer parses", None).await;
    let document = world.db.document(id);
    assert_eq!(document.error_stage.as_deref(), Some("normalize"));
    assert_eq!(document.failure_cause, Some(crate::lifecycle::FailureCause::NormalizeFailed));
}

#[tokio::test]
async fn requests_for_nothing_known_fail() {
    let world = World::new(&[]);
    let normalize = stage(&world);
    let unknown =
        NormalizeRequest { v: messages::VERSION, document_id: DocumentId(uuid::Uuid::new_v4()), inputs: None };
    assert!(
        matches!(normalize.step(&request(&world, &unknown, 1)).await, Outcome::Fail { reason, .. } if reason.starts_with("unknown document"))
    );
    let garbage = world.delivery(STAGE, "normalize", b"[]", 1, 5);
    assert!(
        matches!(normalize.step(&garbage).await, Outcome::Fail { reason, .. } if reason.starts_with("not a normalize request"))
    );
}
