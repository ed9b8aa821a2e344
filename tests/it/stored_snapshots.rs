//! Read nodes starting from the compact snapshot the primary stores (issue 20, README "Read node
//! cold start"): used when it is there, the change log after it replayed, and never trusted
//! further than it should be (unreadable, or the log no longer reaching back to it: the tables
//! are read instead).
//!
//! Which source a reader started from is made visible by changing a bound version's URI in the
//! tables behind the registry's back after the snapshot was stored: a reader that read the
//! tables sees the new URI, one that loaded the snapshot the old one.

use std::time::Duration;

use bindery_proto::v1;
use bindery_store_postgres::{PgStore, PoolOptions, SnapshotPolicy};
use bindery_test_util::TestReader;

use crate::helpers::*;

const CONVERGE: Duration = Duration::from_secs(30);

fn store(db: &TestDb) -> PgStore {
    let pg = bindery_store_postgres::parse_config(&db.url, Duration::from_secs(5)).unwrap();
    PgStore::new(pg, &PoolOptions::default()).unwrap()
}

const NOW: SnapshotPolicy = SnapshotPolicy { min_changes: 1, max_age: Duration::ZERO };

async fn uri(reader: &TestReader, model: &str, binding: &str) -> String {
    let request =
        v1::ResolveRequest { model_name: model.into(), binding: binding.into(), ..Default::default() };
    reader.resolver().await.unwrap().resolve(request).await.unwrap().into_inner().artifact_uri
}

/// A primary that stores no snapshot on its own, with `snap/a` (`production`, `staging`, and a
/// canary split) and `snap/empty` (no bindings).
async fn setup() -> (TestPrimary, Registry) {
    let primary = TestPrimary::start_with(TestDb::create().await.unwrap(), |c| c.snapshot_interval_secs = 0)
        .await
        .unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "snap/a").await;
    create_model(&mut registry, "snap/empty").await;
    for i in 1..=3 {
        register(&mut registry, "snap/a", &format!("r{i}")).await;
    }
    bind(&mut registry, "snap/a", "production", 1, None).await.unwrap();
    bind(&mut registry, "snap/a", "staging", 2, None).await.unwrap();
    let side = |version, weight| v1::TrafficSide { version, weight, ..Default::default() };
    registry
        .set_binding(v1::SetBindingRequest {
            model_name: "snap/a".into(),
            binding: "canary".into(),
            traffic: Some(v1::Traffic { sides: vec![side(1, 9_000), side(3, 1_000)], ..Default::default() }),
            reason: "canary".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    (primary, registry)
}

/// Sets version 1's URI in the tables, without a change-log entry.
async fn set_v1_uri(primary: &TestPrimary, uri: &str) {
    let client = primary.db.client().await.unwrap();
    client
        .execute(
            "UPDATE versions SET artifact_uri = $1
             WHERE version = 1 AND model_id = (SELECT id FROM models WHERE name = 'snap/a')",
            &[&uri],
        )
        .await
        .unwrap();
}

const TAMPERED: &str = "s3://models/tampered/model.onnx";
const REGISTERED: &str = "s3://models/snap/a/r1/model.onnx";

async fn tamper(primary: &TestPrimary) {
    set_v1_uri(primary, TAMPERED).await;
}

#[tokio::test]
async fn a_reader_starts_from_the_stored_snapshot_and_replays_the_log_after_it() {
    let (primary, mut registry) = setup().await;
    let stored = store(&primary.db).write_snapshot(NOW).await.unwrap().expect("a snapshot is due");
    assert_eq!(stored.bindings, 3);
    assert_eq!(stored.revision, db_revision(&primary.db).await);
    assert!(store(&primary.db).write_snapshot(NOW).await.unwrap().is_none(), "nothing changed: none due");
    // After the snapshot: a rebind, a removal and a new model, all in the change log only.
    bind(&mut registry, "snap/a", "production", 2, None).await.unwrap();
    unbind(&mut registry, "snap/a", "staging", None).await.unwrap();
    create_model(&mut registry, "snap/later").await;
    register(&mut registry, "snap/later", "l1").await;
    bind(&mut registry, "snap/later", "production", 1, None).await.unwrap();
    tamper(&primary).await;

    let reader = TestReader::start(&primary.db.url).await.unwrap();
    let revision = db_revision(&primary.db).await;
    let status = reader.wait_revision(revision, CONVERGE).await.unwrap();
    assert_eq!(status.bindings_cached, 3, "canary, production, and snap/later's production");
    assert_eq!(uri(&reader, "snap/a", "production").await, "s3://models/snap/a/r2/model.onnx");
    assert_eq!(uri(&reader, "snap/later", "production").await, "s3://models/snap/later/l1/model.onnx");
    // The canary split came from the snapshot: version 1's artifact as it was stored.
    assert_eq!(uri(&reader, "snap/a", "canary").await, REGISTERED);
    let staging = reader
        .resolver()
        .await
        .unwrap()
        .resolve(v1::ResolveRequest {
            model_name: "snap/a".into(),
            binding: "staging".into(),
            ..Default::default()
        })
        .await;
    assert_status(staging, tonic::Code::NotFound, &["staging"]);

    // Newer snapshots replace older ones.
    let newer = store(&primary.db).write_snapshot(NOW).await.unwrap().expect("changes since: due");
    assert_eq!(newer.revision, revision);
    let kept = primary.db.client().await.unwrap().query("SELECT revision FROM snapshots", &[]).await.unwrap();
    assert_eq!(kept.len(), 1);
}

#[tokio::test]
async fn a_stored_snapshot_is_not_used_when_unreadable_or_past_the_change_log() {
    let (primary, mut registry) = setup().await;
    store(&primary.db).write_snapshot(NOW).await.unwrap().expect("a snapshot is due");
    bind(&mut registry, "snap/a", "production", 2, None).await.unwrap();
    tamper(&primary).await;
    let client = primary.db.client().await.unwrap();

    // Unreadable: the reader falls back to the tables (and sees the tampered URI there).
    client.execute("UPDATE snapshot_parts SET data = '\\x4253314e00'::bytea", &[]).await.unwrap();
    let reader = TestReader::start(&primary.db.url).await.unwrap();
    reader.wait_revision(db_revision(&primary.db).await, CONVERGE).await.unwrap();
    assert_eq!(uri(&reader, "snap/a", "staging").await, "s3://models/snap/a/r2/model.onnx");
    let canary = uri(&reader, "snap/a", "canary").await;
    assert_eq!(canary, TAMPERED, "read from the tables");

    // Readable again, but the change log no longer reaches back to it: the tables again.
    client.execute("DELETE FROM snapshots", &[]).await.unwrap();
    // (Version 1's URI back as registered, so that the snapshot holds it.)
    set_v1_uri(&primary, REGISTERED).await;
    let stored = store(&primary.db).write_snapshot(NOW).await.unwrap().expect("due");
    bind(&mut registry, "snap/a", "staging", 3, None).await.unwrap();
    tamper(&primary).await;
    client
        .execute("DELETE FROM changes WHERE revision = $1", &[&i64::try_from(stored.revision + 1).unwrap()])
        .await
        .unwrap();
    let reader = TestReader::start(&primary.db.url).await.unwrap();
    reader.wait_revision(db_revision(&primary.db).await, CONVERGE).await.unwrap();
    assert_eq!(uri(&reader, "snap/a", "staging").await, "s3://models/snap/a/r3/model.onnx");
    assert_eq!(uri(&reader, "snap/a", "canary").await, TAMPERED, "read from the tables");

    // And with the log intact, the same snapshot is used (the tampering is not seen).
    client.execute("DELETE FROM snapshots", &[]).await.unwrap();
    set_v1_uri(&primary, REGISTERED).await;
    store(&primary.db).write_snapshot(NOW).await.unwrap().expect("due");
    tamper(&primary).await;
    let reader = TestReader::start(&primary.db.url).await.unwrap();
    reader.wait_revision(db_revision(&primary.db).await, CONVERGE).await.unwrap();
    assert_eq!(uri(&reader, "snap/a", "canary").await, REGISTERED, "from the snapshot");
}

#[tokio::test]
async fn the_primary_stores_snapshots_on_its_own() {
    let primary = TestPrimary::start_with(TestDb::create().await.unwrap(), |c| {
        c.snapshot_interval_secs = 1;
        c.snapshot_min_changes = 1;
    })
    .await
    .unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "snap/auto").await;
    register(&mut registry, "snap/auto", "a1").await;
    bind(&mut registry, "snap/auto", "production", 1, None).await.unwrap();
    let revision = i64::try_from(db_revision(&primary.db).await).unwrap();
    let client = primary.db.client().await.unwrap();
    let deadline = std::time::Instant::now() + CONVERGE;
    loop {
        let rows =
            client.query("SELECT bindings FROM snapshots WHERE revision = $1", &[&revision]).await.unwrap();
        if let Some(row) = rows.first() {
            assert_eq!(row.get::<_, i64>(0), 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot stored at revision {revision}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
