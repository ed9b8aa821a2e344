//! `bindery-client` against a primary and two real read nodes on PostgreSQL: failover past a
//! dead address and a stopped reader, a watch that survives its reader going away, and the
//! watch-driven cache.

use std::time::Duration;

use bindery_client::{Config, ReadClient};
use bindery_proto::v1;
use bindery_test_util::{TestPrimary, TestReader};
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn reads_fail_over_watches_resume_and_the_cache_follows() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "client/ranker").await;
    for i in 1..=3 {
        register(&mut registry, "client/ranker", &format!("r{i}")).await;
    }
    let first = bind(&mut registry, "client/ranker", "production", 1, None).await.unwrap();
    let mut reader_a = TestReader::start(&primary.db.url).await.unwrap();
    let reader_b = TestReader::start(&primary.db.url).await.unwrap();
    let dead =
        format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());

    let client = ReadClient::new(&Config::new([dead, reader_a.endpoint(), reader_b.endpoint()])).unwrap();
    let got = client
        .resolve(v1::ResolveRequest {
            model_name: "client/ranker".into(),
            binding: "production".into(),
            min_revision: first.revision,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.version, 1, "the dead address is passed over");
    assert!(!client.nodes()[0].healthy(), "and set aside");
    let missing = client.resolve_ref("client/ranker@canary", "").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "answers are not retried away: {missing}");
    assert_eq!(client.resolve_ref("no-at-sign", "").await.unwrap_err().code(), Code::InvalidArgument);

    let mut watch = client
        .watch(v1::WatchBindingsRequest { model_names: vec!["client/ranker".into()], ..Default::default() });
    let reset = watch.next().await.unwrap();
    assert!(reset.reset && reset.bindings.len() == 1);
    let cache = client.resolver(v1::WatchBindingsRequest::default());
    cache.wait_for(first.revision).await.unwrap();
    assert_eq!(cache.get("client/ranker", "production").map(|b| b.version), Some(1));
    assert!(cache.get("client/ranker", "staging").is_none());

    // The reader in use goes away; the watch moves to the other and misses nothing.
    reader_a.server.stop().await.unwrap();
    let second = bind(&mut registry, "client/ranker", "production", 2, None).await.unwrap();
    let third = bind(&mut registry, "client/ranker", "staging", 3, None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let update = tokio::time::timeout(Duration::from_secs(20), watch.next()).await.unwrap().unwrap();
        if update.reset {
            // A node that lacks the history answers with the whole state instead.
            seen = update.bindings.iter().map(|b| (b.binding.clone(), b.version)).collect();
            seen.sort();
            break;
        }
        seen.extend(update.bindings.iter().map(|b| (b.binding.clone(), b.version)));
    }
    seen.sort();
    assert_eq!(seen, [("production".to_owned(), 2), ("staging".to_owned(), 3)]);
    assert!(watch.reconnects >= 1);
    assert_eq!(watch.revision(), third.revision);

    // The cache followed too, and reads keep working through the remaining reader.
    tokio::time::timeout(Duration::from_secs(20), cache.wait_for(third.revision)).await.unwrap().unwrap();
    assert_eq!(cache.get("client/ranker", "production").map(|b| b.version), Some(2));
    assert_eq!(cache.get("client/ranker", "staging").map(|b| b.version), Some(3));
    let got = client
        .resolve(v1::ResolveRequest {
            model_name: "client/ranker".into(),
            binding: "production".into(),
            min_revision: second.revision,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.version, 2);

    // The example sidecar (crates/client/examples/sidecar.rs) resolves it too, past a dead node.
    let example = crate::dev::bindery_bin().with_file_name("examples").join("sidecar");
    assert!(
        example.exists(),
        "{} not found: `cargo build -p bindery-client --examples` (scripts/test.sh does)",
        example.display()
    );
    let mut child = std::process::Command::new(&example)
        .args(["client/ranker@production", "http://127.0.0.1:1", &reader_b.endpoint()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let first = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line).map(|_| line)
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("client/ranker@production -> v2 "), "{first}");
}
