//! A database docflow can read but not write (a SQLite file left root's by `sudo docflow
//! setup`, a role without rights): the transfer stage waits for the fix, the upload is
//! never dead-lettered meanwhile.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::events::Boundary;
use crate::events::minio::{self, CreatedObject, created_event};
use crate::settings::DatabaseSettings;
use crate::stages::StageId;
use crate::stages::memory::World;
use crate::stages::transfer::Transfer;
use crate::worker::{Outcome, Stage};

#[tokio::test]
async fn an_upload_on_a_read_only_database_is_retried_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/docflow.db", dir.path().display());
    let settings = |url: String| DatabaseSettings { url, max_connections: 1, acquire_timeout: Duration::from_secs(2) };
    Db::connect(&settings(url.clone())).await.unwrap().migrate().await.unwrap();
    let read_only = Db::connect(&settings(format!("{url}?mode=ro"))).await.unwrap();

    let world = World::new(&[]);
    let key = "teacher-42/plan.txt";
    let text = b"Week 3: fractions.\n";
    world.store.put("uploads", key, text.to_vec());
    let log = created_event(&CreatedObject {
        event_name: "s3:ObjectCreated:Put",
        bucket: "uploads",
        key,
        size: text.len() as u64,
        etag: "d41d8cd98f00b204e9800998ecf8427e",
        content_type: "text/plain",
        user_metadata: Default::default(),
        version_id: None,
        principal_id: "teacher-42",
        source_ip: "127.0.0.1",
        user_agent: "test",
        request_id: "req-1",
        event_time: chrono::Utc::now(),
    });
    minio::admit(&log.records[0], &Boundary::from_settings(&world.settings.s3)).unwrap();
    let mut ports = world.ports();
    ports.documents = Arc::new(read_only);
    let transfer = Transfer::new(world.settings.clone(), &ports);
    let body = serde_json::to_vec(&log).unwrap();
    let outcome = transfer.step(&world.delivery(StageId::Transfer, "uploads.minio", &body, 1, 7)).await;
    assert!(matches!(&outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert_eq!(world.provider.submissions(), 0);
}
