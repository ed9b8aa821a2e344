//! The write side of the fan-out protocol (design.md §3.1-3.2): one revision per write, in commit
//! order, a `changes` row per revision, a NOTIFY doorbell (the revision only) at commit, nothing on
//! failure.

use std::time::Duration;

use bindery_proto::v1;
use futures_util::StreamExt;
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn revision_strictly_increases_and_matches_registry_state() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    let mut last = db_revision(&primary.db).await;
    assert_eq!(last, 0);

    let model = create_model(&mut registry, "rev").await;
    assert_eq!(model.revision, last + 1);
    last = model.revision;
    assert_eq!(db_revision(&primary.db).await, last);
    for i in 1..=3u64 {
        let r = register(&mut registry, "rev", &format!("r{i}")).await;
        assert!(r.revision > last, "revision must increase");
        last = r.revision;
        assert_eq!(db_revision(&primary.db).await, last);
        let b = bind(&mut registry, "rev", "production", i, None).await.unwrap();
        assert!(b.revision > last);
        last = b.revision;
        assert_eq!(db_revision(&primary.db).await, last);
    }

    // Failed writes change nothing: no revision, no change row, no audit row.
    assert_status(registry.register_version(register_request("nope", "x")).await, Code::NotFound, &["nope"]);
    assert_status(bind(&mut registry, "rev", "production", 3, Some(1)).await, Code::Aborted, &[]);
    assert_status(
        registry.create_model(v1::CreateModelRequest { name: "rev".into(), ..Default::default() }).await,
        Code::AlreadyExists,
        &[],
    );
    assert_eq!(db_revision(&primary.db).await, last);

    // Concurrent writers to different models: still one revision each, no gaps.
    let mut writers = JoinSet::new();
    for i in 0..20 {
        let mut client = primary.registry().await.unwrap();
        writers.spawn(async move {
            client
                .create_model(v1::CreateModelRequest { name: format!("m{i}"), ..Default::default() })
                .await
                .map(|r| r.into_inner().revision)
        });
    }
    let mut revisions = Vec::new();
    while let Some(r) = writers.join_next().await {
        revisions.push(r.unwrap().unwrap());
    }
    revisions.sort_unstable();
    assert_eq!(revisions, ((last + 1)..=(last + 20)).collect::<Vec<_>>());
    last += 20;
    assert_eq!(db_revision(&primary.db).await, last);

    // The change log holds exactly one row per revision, 1..=last, and one audit row each.
    let client = primary.db.client().await.unwrap();
    let changes: Vec<i64> = client
        .query("SELECT revision FROM changes ORDER BY revision", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(changes, (1..=i64::try_from(last).unwrap()).collect::<Vec<_>>());
    let audited: i64 =
        client.query_one("SELECT count(DISTINCT revision) FROM audit_log", &[]).await.unwrap().get(0);
    assert_eq!(audited, i64::try_from(last).unwrap());
}

#[tokio::test]
async fn notify_is_a_doorbell_carrying_only_the_revision() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();

    // A dedicated LISTEN connection, as a read node has.
    let (listener, mut connection) =
        tokio_postgres::connect(&primary.db.url, tokio_postgres::NoTls).await.unwrap();
    let (tx, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    listener.batch_execute("LISTEN bindery_changes").await.unwrap();

    create_model(&mut registry, "notify").await;
    register(&mut registry, "notify", "small").await;
    let bound = bind(&mut registry, "notify", "production", 1, None).await.unwrap();

    let mut received = Vec::new();
    for _ in 0..3 {
        let (channel, payload) = tokio::time::timeout(Duration::from_secs(10), notifications.recv())
            .await
            .expect("notification within 10 s")
            .expect("listener alive");
        assert_eq!(channel, "bindery_changes");
        received.push(serde_json::from_str::<serde_json::Value>(&payload).unwrap());
    }
    assert_eq!(
        received,
        vec![
            serde_json::json!({"revision": 1}),
            serde_json::json!({"revision": 2}),
            serde_json::json!({"revision": bound.revision})
        ],
        "only revisions, in commit order: what changed is read from the change log"
    );
    let client = primary.db.client().await.unwrap();
    let row = client
        .query_one(
            "SELECT kind, payload FROM changes WHERE revision = $1",
            &[&i64::try_from(bound.revision).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "binding");
    let payload: serde_json::Value = row.get(1);
    assert_eq!(payload["bindings"][0]["target"]["version"], 1);
}

/// Any database role can NOTIFY on any channel. A forged notification, inline change and all,
/// from a second role that may only read, changes nothing a reader serves or trusts.
#[tokio::test]
async fn a_forged_notify_from_another_role_changes_nothing_readers_serve() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "victim").await;
    register(&mut registry, "victim", "v1").await;
    register(&mut registry, "victim", "v2").await;
    let bound = bind(&mut registry, "victim", "production", 1, None).await.unwrap();
    let reader = bindery_test_util::TestReader::start(&primary.db.url).await.unwrap();
    reader.wait_revision(bound.revision, Duration::from_secs(10)).await.unwrap();

    let role = format!("forger_{}", std::process::id());
    let admin = primary.db.client().await.unwrap();
    admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN")).await.unwrap();
    admin
        .batch_execute(&format!("GRANT CONNECT ON DATABASE \"{}\" TO {role}", primary.db.name))
        .await
        .unwrap();
    let forged_url = primary.db.url.replacen("postgres@", &format!("{role}@"), 1);
    let (forger, connection) = tokio_postgres::connect(&forged_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let next = bound.revision + 1;
    let rebind = serde_json::json!({
        "revision": next, "kind": "binding", "model": "victim", "binding": "production",
        "payload": {"bindings": [{"model_name": "victim", "binding": "production", "generation": 99,
            "target": {"version": 2, "artifact": {"uri": "s3://evil/model", "sha256": "", "size_bytes": 0, "format": ""}}}]}
    });
    let token = serde_json::json!({
        "revision": next + 1, "kind": "access", "model": "",
        "payload": {"op": "token_created", "hash": "00".repeat(32), "token": {"principal": "mallory"}}
    });
    for payload in [rebind, token, serde_json::json!({"revision": 1_000_000})] {
        forger.execute("SELECT pg_notify('bindery_changes', $1)", &[&payload.to_string()]).await.unwrap();
    }
    // A real write after the forgeries must still apply (the forged revision is not "taken").
    let real = bind(&mut registry, "victim", "canary", 2, None).await.unwrap();
    assert_eq!(real.revision, next);
    let status = reader.wait_revision(real.revision, Duration::from_secs(10)).await.unwrap();
    assert_eq!(status.applied_revision, db_revision(&primary.db).await, "the reader equals the database");
    let mut resolver = reader.resolver().await.unwrap();
    let production = resolver
        .resolve(v1::ResolveRequest {
            model_name: "victim".into(),
            binding: "production".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (production.version, production.artifact_uri.as_str()),
        (1, "s3://models/victim/v1/model.onnx")
    );
    drop(forger);
    drop(reader);
    let _ =
        admin.batch_execute(&format!("REVOKE CONNECT ON DATABASE \"{}\" FROM {role}", primary.db.name)).await;
    drop(admin);
    drop(primary);
    let (server, connection) =
        tokio_postgres::connect(&bindery_test_util::server_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let _ = server.batch_execute(&format!("DROP ROLE IF EXISTS {role}")).await;
}

/// A change this node cannot decode (here: a binding change shaped as a newer primary might
/// write it) neither wedges the reader in a reconnect loop nor skips it: the reader stays at the
/// last change it applied, serving, says so (status, metric, last error), turns NOT_SERVING once
/// staler than `--max-staleness-secs`, and recovers by itself once the change can be read.
#[tokio::test]
async fn an_undecodable_change_holds_the_reader_at_its_last_good_revision() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "m").await;
    register(&mut registry, "m", "v1").await;
    register(&mut registry, "m", "v2").await;
    let good = bind(&mut registry, "m", "production", 1, None).await.unwrap().revision;
    let reader = bindery_test_util::TestReader::start_with(&primary.db.url, |c| c.max_staleness_secs = 1)
        .await
        .unwrap();
    reader.wait_revision(good, Duration::from_secs(10)).await.unwrap();

    let client = primary.db.client().await.unwrap();
    client
        .batch_execute(
            "BEGIN;
             UPDATE registry_state SET revision = revision + 1;
             INSERT INTO changes (revision, kind, model, binding, payload)
                 SELECT revision, 'binding', 'm', 'production', '{\"bindings\": \"from-the-future\"}'
                 FROM registry_state;
             SELECT pg_notify('bindery_changes', json_build_object('revision', revision)::text) FROM registry_state;
             COMMIT;",
        )
        .await
        .unwrap();
    let bad = good + 1;
    let later = bind(&mut registry, "m", "canary", 2, None).await.unwrap().revision;
    assert_eq!(later, bad + 1);

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let stuck = loop {
        let status = reader.status().await.unwrap();
        if status.stuck_at_revision != 0 || std::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((stuck.stuck_at_revision, stuck.applied_revision), (bad, good), "{stuck:?}");
    assert!(stuck.connected, "{stuck:?}");
    assert!(stuck.last_error.contains(&format!("change {bad}")), "{}", stuck.last_error);
    // Still serving what it had.
    let resolve = |binding: &str| v1::ResolveRequest {
        model_name: "m".into(),
        binding: binding.into(),
        ..Default::default()
    };
    let mut resolver = reader.resolver().await.unwrap();
    assert_eq!(resolver.resolve(resolve("production")).await.unwrap().into_inner().version, 1);
    // No reconnect storm, and retries back off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = reader.status().await.unwrap();
    assert_eq!(after.reconnects, stuck.reconnects, "the reader reconnected over a bad change");
    assert!(after.apply_failures <= stuck.apply_failures + 4, "{} retries in 2 s", after.apply_failures);
    assert_eq!(after.applied_revision, good);
    reader
        .wait_health(
            tonic_health::pb::health_check_response::ServingStatus::NotServing,
            Duration::from_secs(5),
        )
        .await
        .unwrap();

    // Once the change reads (an upgraded node, here a repaired row), the reader catches up alone.
    client
        .execute(
            "UPDATE changes SET kind = 'version', binding = NULL, payload = '{}' WHERE revision = $1",
            &[&i64::try_from(bad).unwrap()],
        )
        .await
        .unwrap();
    let caught_up = reader.wait_revision(later, Duration::from_secs(30)).await.unwrap();
    assert_eq!(caught_up.stuck_at_revision, 0);
    reader.wait_serving(Duration::from_secs(5)).await.unwrap();
    assert_eq!(resolver.resolve(resolve("canary")).await.unwrap().into_inner().version, 2);
}

/// A read node runs on the read-only role of deploy/postgres/reader-role.sql: it loads, follows
/// writes, and cannot write anything itself.
#[tokio::test]
async fn a_reader_runs_on_the_read_only_role_the_deploy_docs_create() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "m").await;
    register(&mut registry, "m", "v1").await;
    let admin = primary.db.client().await.unwrap();
    admin.batch_execute(include_str!("../../deploy/postgres/reader-role.sql")).await.unwrap();
    let url = primary.db.url.replacen("postgres@", "bindery_reader@", 1);
    let reader = bindery_test_util::TestReader::start(&url).await.unwrap();
    let bound = bind(&mut registry, "m", "production", 1, None).await.unwrap();
    reader.wait_revision(bound.revision, Duration::from_secs(10)).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let write = client.execute("UPDATE registry_state SET revision = revision + 1", &[]).await;
    let denied = write.as_ref().err().and_then(|e| e.as_db_error()).map(|e| e.message().to_owned());
    assert!(
        denied.as_deref().is_some_and(|m| m.contains("permission denied")),
        "the reader role wrote: {write:?}"
    );
}
