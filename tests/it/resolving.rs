//! The read side on every store: atomic apply of multi-binding writes, watch fan-out and resume.
//! On Postgres it is a read node following the database; on SQLite the `bindery dev` cache.

use std::time::Duration;

use bindery_proto::v1::{self, resolve_result::Outcome};
use futures_util::StreamExt;
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::*;

const CONVERGE: Duration = Duration::from_secs(30);

async fn setup(backend: Backend, model: &str, versions: u64) -> (TestRegistry, Registry) {
    let registry_under_test = TestRegistry::start(backend).await.unwrap();
    let mut registry = registry_under_test.registry().await.unwrap();
    create_model(&mut registry, model).await;
    for i in 1..=versions {
        register(&mut registry, model, &format!("r{i}")).await;
    }
    (registry_under_test, registry)
}

/// The read side's bindings of `model` equal the store's (ListBindings), at the store's revision.
async fn assert_read_side_matches(reader: &TestRegistry, registry: &mut Registry, model: &str) {
    let revision = reader.revision().await.unwrap();
    reader.read_side().wait_revision(revision, CONVERGE).await.unwrap();
    let stored = registry
        .list_bindings(v1::ListBindingsRequest { model_name: model.into() })
        .await
        .unwrap()
        .into_inner()
        .bindings;
    let mut watch = reader
        .resolver()
        .await
        .unwrap()
        .watch_bindings(v1::WatchBindingsRequest { model_names: vec![model.into()], ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let state = watch.next().await.unwrap().unwrap();
    assert!(state.reset);
    let cached: Vec<(String, u64, u64)> =
        state.bindings.into_iter().map(|b| (b.binding, b.version, b.generation)).collect();
    let expected: Vec<(String, u64, u64)> =
        stored.into_iter().map(|b| (b.name, b.version, b.generation)).collect();
    assert_eq!(cached, expected);
}

pub(crate) async fn a_write_of_two_bindings_is_never_seen_half_applied(backend: Backend) {
    let (reader, mut registry) = setup(backend, "pair", 2).await;
    let pair = |version: u64| v1::SetBindingsRequest {
        model_name: "pair".into(),
        bindings: ["blue", "green"]
            .map(|b| v1::BindingAssignment {
                binding: b.into(),
                version,
                expected_generation: None,
                ..Default::default()
            })
            .to_vec(),
        reason: "move both".into(),
    };
    let first = registry.set_bindings(pair(1)).await.unwrap().into_inner();
    assert_eq!(first.bindings.len(), 2);
    reader.read_side().wait_revision(first.revision, CONVERGE).await.unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut hammers = JoinSet::new();
    for _ in 0..4 {
        let mut client = reader.resolver().await.unwrap();
        let stop = stop.clone();
        hammers.spawn(async move {
            let request = v1::ResolveManyRequest {
                requests: ["blue", "green"]
                    .map(|b| v1::ResolveRequest {
                        model_name: "pair".into(),
                        binding: b.into(),
                        min_revision: 0,
                        presign: false,
                        ..Default::default()
                    })
                    .to_vec(),
            };
            let mut seen = 0u64;
            let mut last_revision = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let reply = client.resolve_many(request.clone()).await.unwrap().into_inner();
                let versions: Vec<u64> = reply
                    .results
                    .iter()
                    .map(|r| match &r.outcome {
                        Some(Outcome::Response(r)) => r.version,
                        other => panic!("{other:?}"),
                    })
                    .collect();
                assert_eq!(
                    versions[0], versions[1],
                    "half-applied write seen at revision {}",
                    reply.revision
                );
                assert!(reply.revision >= last_revision, "revisions never go back");
                last_revision = reply.revision;
                seen += 1;
            }
            seen
        });
    }
    let mut last = first.revision;
    for i in 0..200u64 {
        last = registry.set_bindings(pair(i % 2 + 1)).await.unwrap().into_inner().revision;
        // Let the resolvers interleave with the writes (the test runtime has one thread).
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    reader.read_side().wait_revision(last, CONVERGE).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while let Some(seen) = hammers.join_next().await {
        assert!(seen.unwrap() > 10);
    }
    // All-or-nothing on the primary too: one bad expectation aborts the whole request.
    let mut bad = pair(1);
    bad.bindings[1].expected_generation = Some(1);
    assert_status(registry.set_bindings(bad).await, Code::Aborted, &["green"]);
    assert_read_side_matches(&reader, &mut registry, "pair").await;
}

pub(crate) async fn a_thousand_watchers_each_get_every_change_once_in_order_and_can_resume(backend: Backend) {
    let (reader, mut registry) = setup(backend, "watched", 2).await;
    let start = bind(&mut registry, "watched", "production", 1, None).await.unwrap();
    reader.read_side().wait_revision(start.revision, CONVERGE).await.unwrap();

    const WATCHERS: usize = 1_000;
    const CHANGES: usize = 200;
    let mut channels = Vec::new();
    for _ in 0..20 {
        channels.push(reader.read_side().channel().await.unwrap());
    }
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(WATCHERS);
    let mut watchers = JoinSet::new();
    for i in 0..WATCHERS {
        let mut client =
            v1::resolver_service_client::ResolverServiceClient::new(channels[i % channels.len()].clone());
        let ready = ready_tx.clone();
        watchers.spawn(async move {
            let request =
                v1::WatchBindingsRequest { model_names: vec!["watched".into()], ..Default::default() };
            let mut stream = client.watch_bindings(request).await.unwrap().into_inner();
            let reset = stream.next().await.unwrap().unwrap();
            assert!(reset.reset);
            assert_eq!(reset.bindings.len(), 1);
            ready.send(()).await.unwrap();
            let mut revisions = Vec::with_capacity(CHANGES);
            while revisions.len() < CHANGES {
                let message = tokio::time::timeout(Duration::from_secs(60), stream.next())
                    .await
                    .expect("change within 60 s")
                    .unwrap()
                    .unwrap();
                assert!(!message.reset, "no watcher should fall behind here");
                assert_eq!(message.bindings.len(), 1);
                revisions.push(message.revision);
            }
            (reset.revision, revisions)
        });
    }
    for _ in 0..WATCHERS {
        ready_rx.recv().await.unwrap();
    }
    assert_eq!(reader.read_side().status().await.unwrap().watchers, WATCHERS as u64);

    let mut written = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES as u64 {
        // Alternate 2, 1, 2, …: every write a real change (1 is bound already).
        written.push(
            bind(&mut registry, "watched", "production", (i + 1) % 2 + 1, None).await.unwrap().revision,
        );
    }
    while let Some(result) = watchers.join_next().await {
        let (from, revisions) = result.unwrap();
        assert_eq!(from, start.revision);
        assert_eq!(revisions, written, "every change exactly once, in revision order");
    }

    // Resume from the middle: exactly the changes after since_revision, then live ones.
    let since = written[CHANGES / 2 - 1];
    let mut stream = reader
        .resolver()
        .await
        .unwrap()
        .watch_bindings(v1::WatchBindingsRequest {
            model_names: vec!["watched".into()],
            since_revision: since,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut resumed = Vec::new();
    for _ in 0..CHANGES / 2 {
        let message =
            tokio::time::timeout(Duration::from_secs(30), stream.next()).await.unwrap().unwrap().unwrap();
        assert!(!message.reset);
        resumed.push(message.revision);
    }
    assert_eq!(resumed, written[CHANGES / 2..].to_vec());
    // The last write bound version 1; a live change moves it to 2.
    let live = bind(&mut registry, "watched", "production", 2, None).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(next.revision, live.revision);
    assert_eq!(next.bindings[0].version, 2);
}

/// Large ResolveMany calls on the primary are one set-based query each and together hold at
/// most three quarters of the pool: writes keep their connections however many run.
#[tokio::test]
async fn resolve_many_on_the_primary_cannot_starve_writes() {
    let primary =
        TestPrimary::start_with(TestDb::create().await.unwrap(), |c| c.pool_size = 4).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "m").await;
    register(&mut registry, "m", "r1").await;
    bind(&mut registry, "m", "production", 1, None).await.unwrap();
    let keys: Vec<v1::ResolveRequest> = (0..1_000)
        .map(|i| v1::ResolveRequest {
            model_name: if i % 3 == 0 { "missing".into() } else { "m".into() },
            binding: if i % 2 == 0 { "production".into() } else { format!("b{i}") },
            ..Default::default()
        })
        .collect();
    let answer = primary
        .resolver()
        .await
        .unwrap()
        .resolve_many(v1::ResolveManyRequest { requests: keys.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.results.len(), 1_000);
    // In order, each with its own answer: found, model missing, binding missing.
    let outcome = |i: usize| answer.results[i].outcome.clone();
    assert!(matches!(outcome(2), Some(Outcome::Response(r)) if r.version == 1));
    assert!(matches!(outcome(3), Some(Outcome::Error(e)) if e.message.contains("model 'missing'")));
    assert!(matches!(outcome(1), Some(Outcome::Error(e)) if e.message.contains("binding 'b1'")));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = JoinSet::new();
    for _ in 0..12 {
        let (mut client, keys, stop) = (primary.resolver().await.unwrap(), keys.clone(), stop.clone());
        readers.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = client.resolve_many(v1::ResolveManyRequest { requests: keys.clone() }).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..20 {
        bind(&mut registry, "m", &format!("w{i}"), 1, None)
            .await
            .unwrap_or_else(|e| panic!("write {i} starved: {e:?}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while readers.join_next().await.is_some() {}
}
