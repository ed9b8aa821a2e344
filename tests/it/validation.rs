//! Every malformed input is INVALID_ARGUMENT naming the field, and changes nothing.

use bindery_proto::v1;
use tonic::Code;

use crate::helpers::*;

pub(crate) async fn invalid_arguments_name_the_field(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "valid").await;
    let before = primary.revision().await.unwrap();

    // Names.
    for (name, why) in [
        ("", "empty"),
        ("Upper", "uppercase"),
        ("-dash", "leading dash"),
        ("dash-", "trailing dash"),
        ("a b", "space"),
        ("a/b/c", "two namespaces"),
        ("x".repeat(129).as_str(), "too long"),
    ]
    .map(|(n, w)| (n.to_owned(), w))
    {
        assert_status(
            registry.create_model(v1::CreateModelRequest { name: name.clone(), ..Default::default() }).await,
            Code::InvalidArgument,
            &["name"],
        );
        let _ = why;
    }
    assert_status(bind(&mut registry, "valid", "Prod", 1, None).await, Code::InvalidArgument, &["binding"]);
    assert_status(
        bind(&mut registry, "valid", "eu/prod", 1, None).await,
        Code::InvalidArgument,
        &["binding"],
    );
    assert_status(
        bind(&mut registry, "valid", "production", 0, None).await,
        Code::InvalidArgument,
        &["version"],
    );

    // Tags, params, metrics bounds.
    let big_key: std::collections::BTreeMap<String, String> = [("k".repeat(251), "v".to_owned())].into();
    assert_status(
        registry
            .create_model(v1::CreateModelRequest { name: "t1".into(), tags: big_key, ..Default::default() })
            .await,
        Code::InvalidArgument,
        &["tags", "250"],
    );
    let big_value: std::collections::BTreeMap<String, String> = [("k".to_owned(), "v".repeat(5_001))].into();
    assert_status(
        registry
            .create_model(v1::CreateModelRequest { name: "t2".into(), tags: big_value, ..Default::default() })
            .await,
        Code::InvalidArgument,
        &["tags", "5000"],
    );
    let many: std::collections::BTreeMap<String, String> =
        (0..101).map(|i| (format!("k{i}"), String::new())).collect();
    let mut req = register_request("valid", "p");
    req.params = many;
    assert_status(registry.register_version(req).await, Code::InvalidArgument, &["params", "101"]);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut req = register_request("valid", "m");
        req.metrics.insert("loss".into(), bad);
        assert_status(
            registry.register_version(req).await,
            Code::InvalidArgument,
            &["metrics", "loss", "finite"],
        );
    }
    assert_status(
        registry
            .update_version(v1::UpdateVersionRequest {
                model_name: "valid".into(),
                version: 1,
                add_metrics: [("x".to_owned(), f64::NAN)].into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["add_metrics"],
    );

    // Artifact.
    for (uri, needle) in [
        ("", "artifact.uri"),
        ("gs://bucket/key", "scheme"),
        ("s3://bucket", "object key"),
        ("s3://Bad_Bucket/key", "bucket"),
        ("file://relative/path", "file:///"),
        ("not a uri", "artifact.uri"),
    ] {
        let mut req = register_request("valid", "u");
        req.artifact.as_mut().unwrap().uri = uri.into();
        assert_status(registry.register_version(req).await, Code::InvalidArgument, &["artifact.uri", needle]);
    }
    let mut req = register_request("valid", "s");
    req.artifact.as_mut().unwrap().sha256 = "xyz".into();
    assert_status(registry.register_version(req).await, Code::InvalidArgument, &["artifact.sha256"]);
    let mut req = register_request("valid", "a");
    req.artifact = None;
    assert_status(registry.register_version(req).await, Code::InvalidArgument, &["artifact"]);
    let mut req = register_request("valid", "j");
    req.signature.as_mut().unwrap().inputs_json = "{not json".into();
    assert_status(registry.register_version(req).await, Code::InvalidArgument, &["signature.inputs_json"]);
    let mut req = register_request("valid", "l");
    req.lineage.as_mut().unwrap().parent_versions =
        vec![v1::VersionRef { model_name: "BAD".into(), version: 1 }];
    assert_status(
        registry.register_version(req).await,
        Code::InvalidArgument,
        &["lineage.parent_versions[0].model_name"],
    );

    // Pagination and updates.
    assert_status(
        registry.list_models(v1::ListModelsRequest { page_size: 1_001, ..Default::default() }).await,
        Code::InvalidArgument,
        &["page_size", "1000"],
    );
    assert_status(
        registry
            .update_model(v1::UpdateModelRequest {
                name: "valid".into(),
                set_tags: [("a".to_owned(), "1".to_owned())].into(),
                remove_tags: vec!["a".into()],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["remove_tags", "both set and removed"],
    );
    assert_status(
        registry
            .get_version(v1::GetVersionRequest {
                model_name: "valid".into(),
                version: 0,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["version"],
    );
    assert_status(
        registry
            .create_model(as_actor(
                v1::CreateModelRequest { name: "hdr".into(), ..Default::default() },
                &"a".repeat(300),
            ))
            .await,
        Code::InvalidArgument,
        &["x-bindery-actor"],
    );

    assert_eq!(primary.revision().await.unwrap(), before, "rejected requests wrote nothing");
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let db = TestDb::create().await.unwrap();
    let primary = TestPrimary::start_with(db, |c| c.max_message_bytes = 64 * 1024).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "big").await;
    let mut req = register_request("big", "huge");
    req.description = "x".repeat(100 * 1024);
    let status = registry.register_version(req).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument),
        "{status:?}"
    );
    assert_eq!(db_revision(&primary.db).await, 1, "only the model was written");
}
