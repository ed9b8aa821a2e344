//! Tier-2 read nodes: a read node following two tier-1 read nodes (`--upstream`) instead of
//! PostgreSQL. It serves what tier 1 serves (bindings, tokens, grants), only ever a prefix of the
//! primary's history (every watch message is exactly the primary's change at that revision, or
//! its whole state at that revision), read-your-writes with `min_revision`, and it fails over
//! when its upstream is killed in the middle of a burst of writes (twice: three tier-1 nodes).

use std::collections::BTreeMap;
use std::time::Duration;

use bindery_proto::v1;
use bindery_proto::v1::replication_service_client::ReplicationServiceClient;
use bindery_test_util::TestReader;
use tonic::Code;

use crate::access::{create_token, grant, set_binding, setup_model, with};
use crate::helpers::*;

const SECRET: &str = "tier-two-replication-secret-for-tests-only";
const MODELS: usize = 4;
const VERSIONS: u64 = 5;

async fn tier1(url: &str) -> TestReader {
    TestReader::start_with(url, |c| {
        c.auth = bindery_server::AuthArg::Tokens;
        c.replication_secret = Some(SECRET.into());
    })
    .await
    .unwrap()
}

async fn tier2(upstreams: &[&TestReader]) -> TestReader {
    let urls = upstreams.iter().map(|r| format!("http://{}", r.addr)).collect();
    TestReader::start_with("postgres://nobody@127.0.0.1:1/never-used", move |c| {
        c.auth = bindery_server::AuthArg::Tokens;
        c.upstream = urls;
        c.upstream_secret = Some(SECRET.into());
        c.poll_interval_ms = 100;
    })
    .await
    .unwrap()
}

async fn resolve(
    reader: &TestReader,
    token: &str,
    model: &str,
    min_revision: u64,
) -> Result<u64, tonic::Status> {
    let req = v1::ResolveRequest {
        model_name: model.into(),
        binding: "production".into(),
        min_revision,
        ..Default::default()
    };
    let mut resolver = reader.resolver().await.unwrap();
    resolver.resolve(with(req, Some(token))).await.map(|r| r.into_inner().version)
}

/// Waits until `reader` has applied `revision` (its status asked with `token`).
async fn wait_applied(reader: &TestReader, token: &str, revision: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let st = status(reader, token).await;
        if st.applied_revision >= revision {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "stuck below {revision}: {st:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(reader: &TestReader, token: &str) -> v1::ReaderStatus {
    let mut resolver = reader.resolver().await.unwrap();
    resolver.get_reader_status(with(v1::GetReaderStatusRequest {}, Some(token))).await.unwrap().into_inner()
}

#[tokio::test]
async fn a_tier2_node_follows_tier1_nodes_serves_a_prefix_and_fails_over() {
    // The harness's registry with API tokens (its own reader is not used here).
    let (secured, admin) = TestRegistry::start_secured(Backend::Postgres).await.unwrap();
    let TestRegistry::Postgres { primary, .. } = &secured else { unreachable!("a PostgreSQL backend") };
    let mut registry = primary.registry().await.unwrap();
    let models: Vec<String> = (0..MODELS).map(|i| format!("tier/m{i}")).collect();
    for m in &models {
        setup_model(&mut registry, &admin, m, VERSIONS).await;
    }
    let mut last = 0;
    for m in &models {
        last = set_binding(&mut registry, &admin, m, "production", 1).await.unwrap().revision;
    }
    let url = primary.db.url.clone();
    let (a, b, d) = (tier1(&url).await, tier1(&url).await, tier1(&url).await);
    let c = tier2(&[&a, &b, &d]).await;
    wait_applied(&c, &admin, last).await;

    // Tokens came through the replication stream: the admin's works, a made-up one does not.
    assert_eq!(resolve(&c, &admin, &models[0], last).await.unwrap(), 1);
    let fake = format!("bdy_{}", "0".repeat(64));
    assert_eq!(resolve(&c, &fake, &models[0], 0).await.unwrap_err().code(), Code::Unauthenticated);
    let st = status(&c, &admin).await;
    assert_eq!(st.upstream, format!("http://{}", a.addr), "{st:?}");
    assert!(st.serving && st.applied_revision >= last, "{st:?}");

    // A new token and a grant, made after the tier-2 node started, reach it as changes.
    let vera = create_token(&mut registry, &admin, "vera").await;
    let r = grant(&mut registry, &admin, "vera", v1::Role::Viewer, "tier/m1").await;
    assert_eq!(resolve(&c, &vera, &models[1], r).await.unwrap(), 1, "read-your-writes on tier 2");
    assert_eq!(resolve(&c, &vera, &models[0], r).await.unwrap_err().code(), Code::PermissionDenied);

    // Watch everything on the tier-2 node while the primary takes a burst of binding changes
    // and the tier-2 node's upstream is killed in the middle of it.
    let mut watch = {
        let mut resolver = c.resolver().await.unwrap();
        let req = v1::WatchBindingsRequest { since_revision: 0, ..Default::default() };
        resolver.watch_bindings(with(req, Some(&admin))).await.unwrap().into_inner()
    };
    let first = watch.message().await.unwrap().unwrap();
    assert!(first.reset && !first.continues);
    // What the primary did at each revision: (model, version) of production.
    let mut expected: BTreeMap<u64, (String, u64)> = BTreeMap::new();
    let mut state: BTreeMap<String, u64> = models.iter().map(|m| (m.clone(), 1)).collect();
    let start_state = state.clone();
    let start_revision = first.revision;
    // The node it follows is killed twice: it moves on to the second, then to the third.
    let mut doomed = vec![b, a];
    for i in 0..60u64 {
        let model = &models[(i as usize) % MODELS];
        let version = 1 + (i % VERSIONS);
        let at = set_binding(&mut registry, &admin, model, "production", version).await.unwrap().revision;
        expected.insert(at, (model.clone(), version));
        last = at;
        if i == 20 || i == 40 {
            let mut killed = doomed.pop().unwrap_or_else(|| unreachable!());
            killed.server.stop().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_applied(&c, &admin, last).await;
    let st = status(&c, &admin).await;
    assert_eq!(
        st.upstream,
        format!("http://{}", d.addr),
        "failed over twice, to the third tier-1 node: {st:?}"
    );

    // Every watch message is the primary's history: a change is exactly what the primary did at
    // that revision; a reset (after a snapshot) is exactly its state at that revision.
    let mut seen = start_revision;
    let mut view = start_state.clone();
    while seen < last {
        let m =
            tokio::time::timeout(Duration::from_secs(10), watch.message()).await.unwrap().unwrap().unwrap();
        assert!(
            m.revision > seen || (m.reset && m.revision >= seen),
            "revisions go forward: {} after {seen}",
            m.revision
        );
        if m.reset {
            let mut at = start_state.clone();
            for (_, (model, version)) in expected.range(..=m.revision) {
                at.insert(model.clone(), *version);
            }
            view = m.bindings.iter().map(|b| (b.model_name.clone(), b.version)).collect();
            assert_eq!(view, at, "reset at {} is the primary's state then", m.revision);
        } else {
            let (model, version) =
                expected.get(&m.revision).unwrap_or_else(|| panic!("no write at {}", m.revision));
            assert_eq!(m.bindings.len(), 1);
            assert_eq!((&m.bindings[0].model_name, m.bindings[0].version), (model, *version));
            view.insert(model.clone(), *version);
        }
        seen = m.revision;
    }
    for (model, version) in expected.values() {
        state.insert(model.clone(), *version);
    }
    assert_eq!(view, state, "the watcher's view ends at the primary's state");
    for (model, version) in &state {
        assert_eq!(resolve(&c, &admin, model, last).await.unwrap(), *version, "{model}");
    }
    drop(c);
}

#[tokio::test]
async fn replication_needs_the_secret_and_bounds_its_requests() {
    let (secured, _admin) = TestRegistry::start_secured(Backend::Postgres).await.unwrap();
    let TestRegistry::Postgres { primary, .. } = &secured else { unreachable!("a PostgreSQL backend") };
    let url = primary.db.url.clone();
    let open = tier1(&url).await;
    let closed = TestReader::start(&url).await.unwrap();
    let client = |reader: &TestReader| {
        let addr = reader.addr;
        async move {
            ReplicationServiceClient::new(
                tonic::transport::Channel::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap(),
            )
        }
    };
    let changes = |after, limit| v1::GetChangesRequest { after_revision: after, limit };
    let mut c = client(&open).await;
    for token in [None, Some("bdy_0000"), Some("tier-two-replication-secret-but-not-this-one")] {
        let status = c.get_changes(with(changes(0, 10), token)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}: {status:?}");
    }
    let status = c.get_snapshot(with(v1::GetSnapshotRequest::default(), None)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = c.get_changes(with(changes(0, 5_000), Some(SECRET))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("at most 1000"), "{status:?}");
    let ok = c.get_changes(with(changes(0, 0), Some(SECRET))).await.unwrap().into_inner();
    assert!(ok.changes.is_empty() && ok.revision > 0);
    // A node without a replication secret refuses everyone.
    let status = client(&closed).await.get_changes(with(changes(0, 10), Some(SECRET))).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("--replication-secret"), "{status:?}");
}
