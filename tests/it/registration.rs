//! RegisterVersion: numbering under concurrency, idempotency under racing retries, lineage.

use std::collections::BTreeSet;

use bindery_proto::v1;
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::*;

pub(crate) async fn idempotent_register_under_20_concurrent_retries(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "churn").await;

    let mut retries = JoinSet::new();
    for _ in 0..20 {
        // Separate connections, so the calls really race on the server.
        let mut client = primary.registry().await.unwrap();
        retries.spawn(async move { client.register_version(register_request("churn", "train-42")).await });
    }
    let mut created = 0;
    let mut versions = BTreeSet::new();
    let mut revisions = BTreeSet::new();
    while let Some(result) = retries.join_next().await {
        let response = result.unwrap().unwrap().into_inner();
        created += usize::from(response.created);
        versions.insert(response.version.unwrap().version);
        revisions.insert(response.revision);
    }
    assert_eq!(created, 1, "exactly one call creates the version");
    assert_eq!(versions, BTreeSet::from([1]), "every retry gets the same version");
    assert_eq!(revisions.len(), 1, "every retry reports the same revision");

    let page = registry
        .list_versions(v1::ListVersionsRequest { model_name: "churn".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.versions.len(), 1);

    // The same key with a different payload is a conflict that names what differs.
    let mut different = register_request("churn", "train-42");
    different.metrics.insert("auc".into(), 0.5);
    different.description = "other".into();
    assert_status(
        registry.register_version(different).await,
        Code::AlreadyExists,
        &["train-42", "version 1", "metrics", "description"],
    );
    // A new key is a new version.
    assert_eq!(register(&mut registry, "churn", "train-43").await.version.unwrap().version, 2);
}

pub(crate) async fn fifty_concurrent_registrations_get_1_to_50(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "ranker").await;

    let mut calls = JoinSet::new();
    for i in 0..50 {
        let mut client = primary.registry().await.unwrap();
        calls.spawn(
            async move { client.register_version(register_request("ranker", &format!("run-{i}"))).await },
        );
    }
    let mut numbers = Vec::new();
    while let Some(result) = calls.join_next().await {
        let response = result.unwrap().unwrap().into_inner();
        assert!(response.created);
        numbers.push(response.version.unwrap().version);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>(), "no gap, no duplicate");
    let model = registry.get_model(v1::GetModelRequest { name: "ranker".into() }).await.unwrap().into_inner();
    assert_eq!(model.latest_version, 50);
}

pub(crate) async fn versions_without_request_id_are_never_deduplicated(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "plain").await;
    let a = registry.register_version(register_request("plain", "")).await.unwrap().into_inner();
    let b = registry.register_version(register_request("plain", "")).await.unwrap().into_inner();
    assert_eq!((a.version.unwrap().version, b.version.unwrap().version), (1, 2));
    assert!(a.created && b.created);
}

pub(crate) async fn lineage_parents_must_exist(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "base").await;
    create_model(&mut registry, "finetuned").await;
    register(&mut registry, "base", "b1").await;

    let mut child = register_request("finetuned", "f1");
    child.lineage.as_mut().unwrap().parent_versions =
        vec![v1::VersionRef { model_name: "base".into(), version: 1 }];
    let created = registry.register_version(child).await.unwrap().into_inner();
    assert_eq!(created.version.unwrap().lineage.unwrap().parent_versions[0].model_name, "base");

    let mut orphan = register_request("finetuned", "f2");
    orphan.lineage.as_mut().unwrap().parent_versions =
        vec![v1::VersionRef { model_name: "base".into(), version: 7 }];
    assert_status(
        registry.register_version(orphan).await,
        Code::NotFound,
        &["lineage.parent_versions[0]", "version 7", "base"],
    );
    assert_status(
        registry.register_version(register_request("missing", "x")).await,
        Code::NotFound,
        &["missing", "CreateModel"],
    );
}
