//! Read nodes against a real PostgreSQL: propagation, read-your-writes, gaps, duplicates, outages,
//! atomic apply, watch fan-out, and a randomized convergence check.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_test_util::{TempCluster, TestReader};
use futures_util::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// `(model, binding, generation, version, artifact_uri)` of every binding.
type Dump = BTreeSet<(String, String, u64, u64, String)>;

/// The primary's state, straight from the database.
async fn db_dump(db: &TestDb) -> (Dump, u64) {
    let client = db.client().await.unwrap();
    let tx_rows = client
        .query(
            "SELECT m.name, b.name, b.generation, b.version, v.artifact_uri,
                    (SELECT revision FROM registry_state)
             FROM bindings b JOIN models m ON m.id = b.model_id
             JOIN versions v ON v.model_id = b.model_id AND v.version = b.version",
            &[],
        )
        .await
        .unwrap();
    let revision = db_revision(db).await;
    let dump = tx_rows
        .iter()
        .map(|r| {
            let generation: i64 = r.get(2);
            let version: i64 = r.get(3);
            (
                r.get(0),
                r.get(1),
                u64::try_from(generation).unwrap(),
                u64::try_from(version).unwrap(),
                r.get(4),
            )
        })
        .collect();
    (dump, revision)
}

/// A reader's full state and revision, from the reset message of a fresh watch.
async fn reader_dump(reader: &TestReader) -> (Dump, u64) {
    let mut stream = reader
        .resolver()
        .await
        .unwrap()
        .watch_bindings(v1::WatchBindingsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.reset);
    let dump = first
        .bindings
        .into_iter()
        .map(|b| (b.model_name, b.binding, b.generation, b.version, b.artifact_uri))
        .collect();
    (dump, first.revision)
}

/// Waits until `reader` has applied the database's current revision, then compares full state.
async fn assert_converged(primary: &TestPrimary, reader: &TestReader) {
    let (expected, revision) = db_dump(&primary.db).await;
    reader.wait_revision(revision, CONVERGE).await.unwrap();
    let (actual, at) = reader_dump(reader).await;
    assert_eq!(at, revision);
    assert_eq!(actual, expected, "reader state differs from the primary's at revision {revision}");
}

async fn resolve(
    reader: &TestReader,
    model: &str,
    binding: &str,
    min_revision: u64,
) -> Result<v1::ResolveResponse, tonic::Status> {
    let mut client = reader.resolver().await.unwrap();
    let request = v1::ResolveRequest {
        model_name: model.into(),
        binding: binding.into(),
        min_revision,
        presign: false,
        ..Default::default()
    };
    client.resolve(request).await.map(tonic::Response::into_inner)
}

/// Terminates the LISTEN connections of every reader of this database.
async fn kill_feed_connections(db: &TestDb) -> u64 {
    kill_feed_connections_with(&db.client().await.unwrap()).await
}

/// The same, on a connection the caller already holds.
async fn kill_feed_connections_with(client: &tokio_postgres::Client) -> u64 {
    let rows = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'bindery-reader'",
            &[],
        )
        .await
        .unwrap();
    rows.len() as u64
}

async fn setup(model: &str, versions: u64) -> (TestPrimary, Registry) {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, model).await;
    for i in 1..=versions {
        register(&mut registry, model, &format!("r{i}")).await;
    }
    (primary, registry)
}

#[tokio::test]
async fn set_binding_propagates_to_three_readers_with_read_your_writes() {
    let (primary, mut registry) = setup("fraud", 5).await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(TestReader::start(&primary.db.url).await.unwrap());
    }
    assert_status(
        resolve(&readers[0], "fraud", "production", 0).await,
        Code::NotFound,
        &["binding 'production'"],
    );
    assert_status(resolve(&readers[0], "nope", "production", 0).await, Code::NotFound, &["model 'nope'"]);

    for round in 0..10u64 {
        let version = round % 5 + 1;
        let written = bind(&mut registry, "fraud", "production", version, None).await.unwrap();
        for reader in &readers {
            // min_revision from the write: the reader waits until it has applied it.
            let r = resolve(reader, "fraud", "production", written.revision).await.unwrap();
            assert_eq!(r.version, version);
            assert!(r.revision >= written.revision);
            assert_eq!(r.artifact_uri, format!("s3://models/fraud/r{version}/model.onnx"));
        }
    }

    // A revision that does not exist yet: bounded wait, then UNAVAILABLE saying how far behind.
    let ahead = db_revision(&primary.db).await + 100;
    let mut client = readers[0].resolver().await.unwrap();
    let mut request = tonic::Request::new(v1::ResolveRequest {
        model_name: "fraud".into(),
        binding: "production".into(),
        min_revision: ahead,
        presign: false,
        ..Default::default()
    });
    request.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    assert_status(client.resolve(request).await, Code::Unavailable, &["behind", &ahead.to_string()]);
    assert!(started.elapsed() < Duration::from_secs(3), "the wait honours the call deadline");

    // A change too big for NOTIFY (revision-only notification) still reaches every reader.
    for i in 0..10 {
        let mut req = register_request("fraud", &format!("long{i}"));
        req.artifact.as_mut().unwrap().uri = format!("s3://models/{}/{i}.bin", "x".repeat(1_500));
        registry.register_version(req).await.unwrap();
    }
    let big = registry
        .set_bindings(v1::SetBindingsRequest {
            model_name: "fraud".into(),
            bindings: (0..10)
                .map(|i| v1::BindingAssignment {
                    binding: format!("shard-{i}"),
                    version: 6 + i,
                    expected_generation: None,
                    ..Default::default()
                })
                .collect(),
            reason: "sharded rollout".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let notified: String = primary
        .db
        .client()
        .await
        .unwrap()
        .query_one(
            "SELECT payload::text FROM changes WHERE revision = $1",
            &[&i64::try_from(big.revision).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(notified.len() > 8_000, "the change is larger than a NOTIFY payload");
    for reader in &readers {
        let r = resolve(reader, "fraud", "shard-9", big.revision).await.unwrap();
        assert_eq!(r.version, 15);
        assert_converged(&primary, reader).await;
    }

    // Writes sent to a reader are refused with the primary's address.
    let redirected =
        TestReader::start_with(&primary.db.url, |c| c.primary_address = Some("primary.bindery:50051".into()))
            .await
            .unwrap();
    let mut wrong =
        v1::registry_service_client::RegistryServiceClient::new(redirected.channel().await.unwrap());
    let refused = wrong
        .create_model(v1::CreateModelRequest { name: "x".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("primary.bindery:50051"), "{}", refused.message());
    assert_eq!(
        refused.metadata().get("x-bindery-primary").and_then(|v| v.to_str().ok()),
        Some("primary.bindery:50051")
    );

    let status = readers[0].status().await.unwrap();
    assert!(status.connected && status.serving);
    assert_eq!(status.lag, 0);
    assert_eq!(status.bindings_cached, 11);
    assert!(status.last_sync_time.is_some());
}

#[tokio::test]
async fn readers_converge_after_their_listen_connections_are_killed() {
    let (primary, mut registry) = setup("gap", 4).await;
    let readers = [
        TestReader::start(&primary.db.url).await.unwrap(),
        TestReader::start(&primary.db.url).await.unwrap(),
    ];

    let writer = {
        let mut registry = primary.registry().await.unwrap();
        tokio::spawn(async move {
            for i in 0..150u64 {
                bind(&mut registry, "gap", &format!("b{}", i % 7), i % 4 + 1, None).await.unwrap();
            }
        })
    };
    let mut killed = 0;
    while !writer.is_finished() {
        killed += kill_feed_connections(&primary.db).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    writer.await.unwrap();
    assert!(killed >= 2, "connections were killed while writes went on ({killed})");
    bind(&mut registry, "gap", "final", 1, None).await.unwrap();
    for reader in &readers {
        assert_converged(&primary, reader).await;
        let status = reader.status().await.unwrap();
        assert!(status.reconnects > 0, "{status:?}");
    }
}

#[tokio::test]
async fn a_reader_behind_a_pruned_change_log_reloads_a_snapshot() {
    let db = TestDb::create().await.unwrap();
    // Retention 0: every change-log entry but the newest is pruned as soon as it is written.
    let primary = TestPrimary::start_with(db, |c| {
        c.changes_retention_secs = 0;
        c.prune_interval_ms = 50;
    })
    .await
    .unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "pruned").await;
    for i in 1..=3 {
        register(&mut registry, "pruned", &format!("r{i}")).await;
    }
    let reader = TestReader::start(&primary.db.url).await.unwrap();
    let first = bind(&mut registry, "pruned", "production", 1, None).await.unwrap();
    reader.wait_revision(first.revision, CONVERGE).await.unwrap();

    // Keep the reader out (no new connections to this database), cut its feed, and write on.
    let admin =
        tokio_postgres::connect(&bindery_test_util::server_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(admin.1);
    let name = &primary.db.name;
    // Opened before connections are refused: used to cut the feed and to watch the pruning.
    let client = primary.db.client().await.unwrap();
    admin.0.batch_execute(&format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false")).await.unwrap();
    assert!(kill_feed_connections_with(&client).await >= 1);
    let mut last = first.revision;
    for i in 0..10u64 {
        // The primary cannot open new connections either: a write may be UNAVAILABLE until a
        // pooled connection is free. Clients retry those.
        last = loop {
            match bind(&mut registry, "pruned", &format!("b{i}"), i % 3 + 1, None).await {
                Ok(written) => break written.revision,
                Err(s) if s.code() == Code::Unavailable => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(s) => panic!("{s:?}"),
            }
        };
    }
    // Wait until the log no longer holds what the reader needs next.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let oldest: i64 = client.query_one("SELECT min(revision) FROM changes", &[]).await.unwrap().get(0);
        if u64::try_from(oldest).unwrap() > first.revision + 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the change log was never pruned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admin.0.batch_execute(&format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true")).await.unwrap();

    reader.wait_revision(last, CONVERGE).await.unwrap();
    assert_converged(&primary, &reader).await;
    let status = reader.status().await.unwrap();
    assert_eq!(status.snapshots_loaded, 2, "the reload went through a snapshot: {status:?}");
}

#[tokio::test]
async fn duplicate_and_out_of_order_notifications_leave_state_equal_to_the_primary() {
    let (primary, mut registry) = setup("dup", 3).await;
    let reader = TestReader::start(&primary.db.url).await.unwrap();
    for i in 0..21u64 {
        // Every call a real change: each binding moves to the next version.
        bind(&mut registry, "dup", &format!("b{}", i % 3), (i / 3) % 3 + 1, None).await.unwrap();
    }
    assert_converged(&primary, &reader).await;
    let admin = primary.db.client().await.unwrap();

    // Replay every past change, newest first (duplicates, out of order), as inline notifications.
    admin
        .batch_execute(
            "SELECT pg_notify('bindery_changes', json_build_object(
                 'revision', revision, 'kind', kind, 'model', model, 'binding', binding, 'payload', payload)::text)
             FROM (SELECT * FROM changes ORDER BY revision DESC) c",
        )
        .await
        .unwrap();
    // Announce revisions that do not exist yet (a gap the log cannot fill yet).
    let now = db_revision(&primary.db).await;
    for ahead in [now + 3, now + 1, now + 2] {
        admin
            .execute("SELECT pg_notify('bindery_changes', $1)", &[&format!("{{\"revision\":{ahead}}}")])
            .await
            .unwrap();
    }
    // Then the real writes with those revisions.
    for i in 0..3u64 {
        bind(&mut registry, "dup", "fresh", i + 1, None).await.unwrap();
    }
    assert_converged(&primary, &reader).await;
    let status = reader.status().await.unwrap();
    assert!(status.duplicates_dropped >= now, "every replayed change was dropped: {status:?}");
    assert_eq!(status.lag, 0, "forged notifications do not fake lag: {status:?}");
    assert!(status.gaps_filled >= 1, "{status:?}");
}

#[tokio::test]
async fn reader_serves_its_last_state_through_a_postgres_restart() {
    let cluster = TempCluster::start().unwrap();
    let db = TestDb::create_on(&cluster.url()).await.unwrap();
    let primary = TestPrimary::start_with(db, |c| c.readiness_interval_ms = 100).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "steady").await;
    register(&mut registry, "steady", "r1").await;
    register(&mut registry, "steady", "r2").await;
    let written = bind(&mut registry, "steady", "production", 1, None).await.unwrap();

    let patient = TestReader::start(&primary.db.url).await.unwrap();
    let strict = TestReader::start_with(&primary.db.url, |c| c.max_staleness_secs = 2).await.unwrap();
    for reader in [&patient, &strict] {
        reader.wait_revision(written.revision, CONVERGE).await.unwrap();
    }

    cluster.stop().unwrap();
    let down = Instant::now();
    // Connected turns false once the feed notices; the cache keeps answering the whole time.
    loop {
        let r = resolve(&patient, "steady", "production", 0).await.unwrap();
        assert_eq!(r.version, 1);
        let status = patient.status().await.unwrap();
        if !status.connected {
            assert_eq!(status.applied_revision, written.revision);
            assert!(!status.last_error.is_empty());
            break;
        }
        assert!(down.elapsed() < CONVERGE, "never reported disconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past max_staleness the strict reader is NOT_SERVING; the patient one stays SERVING.
    strict.wait_health(ServingStatus::NotServing, Duration::from_secs(15)).await.unwrap();
    assert_eq!(patient.health("").await.unwrap(), ServingStatus::Serving as i32);
    assert_eq!(resolve(&strict, "steady", "production", 0).await.unwrap().version, 1, "still answers");

    cluster.start_again().unwrap();
    primary.wait_serving(CONVERGE).await.unwrap();
    let moved = loop {
        match bind(&mut registry, "steady", "production", 2, None).await {
            Ok(w) => break w,
            Err(s) if s.code() == Code::Unavailable => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(s) => panic!("{s:?}"),
        }
    };
    for reader in [&patient, &strict] {
        let r = resolve(reader, "steady", "production", moved.revision).await.unwrap();
        assert_eq!(r.version, 2);
        assert_converged(&primary, reader).await;
    }
    strict.wait_serving(CONVERGE).await.unwrap();
    assert!(patient.status().await.unwrap().connected);
}

/// xorshift64*: deterministic, dependency-free randomness for the property test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test]
async fn random_writes_drops_duplicates_and_reconnects_always_converge() {
    for seed in [0x5EED_0001_u64, 0xB1AD_E12E, 0x00DD_BA11] {
        let (primary, mut registry) = setup("prop-a", 3).await;
        create_model(&mut registry, "prop-b").await;
        for i in 1..=3 {
            register(&mut registry, "prop-b", &format!("r{i}")).await;
        }
        let readers = [
            TestReader::start(&primary.db.url).await.unwrap(),
            TestReader::start(&primary.db.url).await.unwrap(),
        ];
        let admin = primary.db.client().await.unwrap();
        let mut rng = Rng(seed);
        for step in 0..120 {
            let model = if rng.below(2) == 0 { "prop-a" } else { "prop-b" };
            let binding = format!("b{}", rng.below(4));
            match rng.below(10) {
                0..=3 => {
                    bind(&mut registry, model, &binding, rng.below(3) + 1, None).await.unwrap();
                }
                4 => {
                    let _ = unbind(&mut registry, model, &binding, None).await;
                }
                5 => {
                    let request = v1::SetBindingsRequest {
                        model_name: model.into(),
                        bindings: (0..rng.below(3) + 1)
                            .map(|i| v1::BindingAssignment {
                                binding: format!("m{i}"),
                                version: rng.below(3) + 1,
                                expected_generation: None,
                                ..Default::default()
                            })
                            .collect(),
                        reason: format!("step {step}"),
                    };
                    registry.set_bindings(request).await.unwrap();
                }
                6 => {
                    let _ = rollback(&mut registry, model, &binding).await;
                }
                7 => {
                    kill_feed_connections(&primary.db).await;
                }
                8 => {
                    // Duplicate of a random past change.
                    let revision = i64::try_from(rng.below(db_revision(&primary.db).await) + 1).unwrap();
                    admin
                        .execute(
                            "SELECT pg_notify('bindery_changes', json_build_object('revision', revision,
                                 'kind', kind, 'model', model, 'binding', binding, 'payload', payload)::text)
                             FROM changes WHERE revision = $1",
                            &[&revision],
                        )
                        .await
                        .unwrap();
                }
                _ => {
                    // A notification from the future: must not move a reader past the log.
                    let ahead = db_revision(&primary.db).await + rng.below(5) + 1;
                    admin
                        .execute(
                            "SELECT pg_notify('bindery_changes', $1)",
                            &[&format!("{{\"revision\":{ahead}}}")],
                        )
                        .await
                        .unwrap();
                }
            }
        }
        for reader in &readers {
            assert_converged(&primary, reader).await;
        }
    }
}
