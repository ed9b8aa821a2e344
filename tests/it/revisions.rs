//! The write side of the fan-out protocol (DESIGN.md §3.1-3.2): one revision per write, in commit
//! order, a `changes` row per revision, NOTIFY at commit (inline when small), nothing on failure.

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
async fn notify_carries_small_changes_inline_and_large_ones_by_revision() {
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

    let mut big = register_request("notify", "big");
    big.params = (0..10).map(|i| (format!("p{i}"), "x".repeat(1_000))).collect();
    let big = registry.register_version(big).await.unwrap().into_inner();

    let mut received = Vec::new();
    for _ in 0..4 {
        let (channel, payload) = tokio::time::timeout(Duration::from_secs(10), notifications.recv())
            .await
            .expect("notification within 10 s")
            .expect("listener alive");
        assert_eq!(channel, "bindery_changes");
        received.push(serde_json::from_str::<serde_json::Value>(&payload).unwrap());
    }
    let revisions: Vec<u64> = received.iter().map(|n| n["revision"].as_u64().unwrap()).collect();
    assert_eq!(revisions, vec![1, 2, 3, 4], "delivered in commit order");

    let binding = &received[2];
    assert_eq!(binding["kind"], "binding");
    assert_eq!(binding["model"], "notify");
    assert_eq!(binding["binding"], "production");
    assert_eq!(binding["payload"]["bindings"][0]["target"]["version"], 1);
    assert_eq!(
        binding["payload"]["bindings"][0]["target"]["artifact"]["uri"],
        "s3://models/notify/small/model.onnx"
    );
    assert_eq!(binding["revision"].as_u64(), Some(bound.revision));

    // Over 8000 bytes: the revision alone; the change itself is in the `changes` table.
    assert_eq!(received[3], serde_json::json!({ "revision": big.revision }));
    let client = primary.db.client().await.unwrap();
    let row = client
        .query_one(
            "SELECT kind, payload FROM changes WHERE revision = $1",
            &[&i64::try_from(big.revision).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "version");
    let payload: serde_json::Value = row.get(1);
    assert_eq!(payload["params"]["p9"].as_str().map(str::len), Some(1_000));
}
