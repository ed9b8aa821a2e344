//! The full lifecycle of a model through the primary, as a user drives it.

use bindery_proto::v1::{self, VersionStatus};
use tonic::Code;

use crate::helpers::*;

pub(crate) async fn full_lifecycle(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    let mut resolver = primary.resolver().await.unwrap();

    // Create, read, update a model.
    let created = registry
        .create_model(as_actor(
            v1::CreateModelRequest {
                name: "fraud/detector".into(),
                description: "card fraud".into(),
                owner: "risk-team".into(),
                tags: [("tier".to_owned(), "1".to_owned())].into(),
            },
            "alice",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.name, "fraud/detector");
    assert_eq!(created.created_by, "alice");
    assert_eq!(created.latest_version, 0);
    assert!(created.revision > 0);
    assert_status(
        registry
            .create_model(v1::CreateModelRequest { name: "fraud/detector".into(), ..Default::default() })
            .await,
        Code::AlreadyExists,
        &["fraud/detector"],
    );

    let updated = registry
        .update_model(v1::UpdateModelRequest {
            name: "fraud/detector".into(),
            description: Some("card-not-present fraud".into()),
            owner: None,
            set_tags: [("pii".to_owned(), "no".to_owned())].into(),
            remove_tags: vec!["tier".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.description, "card-not-present fraud");
    assert_eq!(updated.owner, "risk-team");
    assert_eq!(updated.tags, [("pii".to_owned(), "no".to_owned())].into());
    assert!(updated.revision > created.revision);

    // Register two versions; read them back with everything that was sent.
    let v1r = register(&mut registry, "fraud/detector", "run-1").await;
    assert!(v1r.created);
    let version1 = v1r.version.unwrap();
    assert_eq!(version1.version, 1);
    assert_eq!(version1.status, VersionStatus::Ready as i32);
    let v2 = register(&mut registry, "fraud/detector", "run-2").await.version.unwrap();
    assert_eq!(v2.version, 2);

    let got = registry
        .get_version(v1::GetVersionRequest {
            model_name: "fraud/detector".into(),
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let sent = register_request("fraud/detector", "run-1");
    assert_eq!(got.artifact, sent.artifact);
    assert_eq!(got.params, sent.params);
    assert_eq!(got.metrics, sent.metrics);
    assert_eq!(got.lineage, sent.lineage);
    assert_eq!(got.signature, sent.signature);
    assert_eq!(got.request_id, "run-1");
    assert_eq!(got.created_by, "anonymous");
    assert_eq!(
        registry
            .get_model(v1::GetModelRequest { name: "fraud/detector".into() })
            .await
            .unwrap()
            .into_inner()
            .latest_version,
        2
    );

    let listed = registry
        .list_versions(v1::ListVersionsRequest {
            model_name: "fraud/detector".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2], "newest first");
    let rest = registry
        .list_versions(v1::ListVersionsRequest {
            model_name: "fraud/detector".into(),
            page_size: 1,
            page_token: listed.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1]);
    assert!(rest.next_page_token.is_empty());

    // Metrics are append-only.
    let added = registry
        .update_version(v1::UpdateVersionRequest {
            model_name: "fraud/detector".into(),
            version: 1,
            add_metrics: [("f1".to_owned(), 0.8)].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.metrics.get("f1"), Some(&0.8));
    assert_eq!(added.metrics.get("auc"), Some(&0.91));
    assert_status(
        registry
            .update_version(v1::UpdateVersionRequest {
                model_name: "fraud/detector".into(),
                version: 1,
                add_metrics: [("auc".to_owned(), 0.99)].into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        &["auc", "append-only"],
    );

    // Bind, resolve, and see the binding on the version.
    let bound = bind(&mut registry, "fraud/detector", "production", 1, Some(0)).await.unwrap();
    let binding = bound.binding.unwrap();
    assert_eq!((binding.version, binding.generation), (1, 1));
    let resolved = resolver
        .resolve(v1::ResolveRequest {
            model_name: "fraud/detector".into(),
            binding: "production".into(),
            min_revision: bound.revision,
            presign: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.version, 1);
    assert_eq!(resolved.artifact_uri, "s3://models/fraud/detector/run-1/model.onnx");
    assert_eq!(resolved.sha256, "ab".repeat(32));
    assert_eq!(resolved.size_bytes, 1_024);
    assert_eq!(resolved.generation, 1);
    assert!(resolved.revision >= bound.revision);
    let mut ahead = tonic::Request::new(v1::ResolveRequest {
        model_name: "fraud/detector".into(),
        binding: "production".into(),
        min_revision: resolved.revision + 5,
        presign: false,
        ..Default::default()
    });
    ahead.set_timeout(std::time::Duration::from_millis(500));
    assert_status(resolver.resolve(ahead).await, Code::Unavailable, &["behind"]);
    let got = registry
        .get_version(v1::GetVersionRequest {
            model_name: "fraud/detector".into(),
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.bindings, vec!["production".to_owned()]);

    // A bound version cannot be archived; an archived one cannot be bound.
    assert_status(
        registry
            .archive_version(v1::ArchiveVersionRequest { model_name: "fraud/detector".into(), version: 1 })
            .await,
        Code::FailedPrecondition,
        &["production"],
    );
    let archived = registry
        .archive_version(v1::ArchiveVersionRequest { model_name: "fraud/detector".into(), version: 2 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(archived.status, VersionStatus::Archived as i32);
    assert_status(
        bind(&mut registry, "fraud/detector", "production", 2, None).await,
        Code::FailedPrecondition,
        &["ARCHIVED"],
    );
    assert_status(
        bind(&mut registry, "fraud/detector", "production", 9, None).await,
        Code::NotFound,
        &["version 9"],
    );

    // A model with bindings cannot be deleted; once unbound it can, and is gone.
    assert_status(
        registry.delete_model(v1::DeleteModelRequest { name: "fraud/detector".into() }).await,
        Code::FailedPrecondition,
        &["production"],
    );
    let unbound = unbind(&mut registry, "fraud/detector", "production", Some(1)).await.unwrap();
    assert_status(
        resolver
            .resolve(v1::ResolveRequest {
                model_name: "fraud/detector".into(),
                binding: "production".into(),
                // Read-your-writes: the read side may be a node that has not applied it yet.
                min_revision: unbound.revision,
                presign: false,
                ..Default::default()
            })
            .await,
        Code::NotFound,
        &["production", "fraud/detector"],
    );
    let deleted = registry
        .delete_model(v1::DeleteModelRequest { name: "fraud/detector".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.revision > 0);
    assert_status(
        registry.get_model(v1::GetModelRequest { name: "fraud/detector".into() }).await,
        Code::NotFound,
        &["fraud/detector"],
    );
    assert_status(
        registry
            .create_model(v1::CreateModelRequest { name: "fraud/detector".into(), ..Default::default() })
            .await,
        Code::AlreadyExists,
        &["deleted"],
    );
    assert_status(
        registry.register_version(register_request("fraud/detector", "run-3")).await,
        Code::NotFound,
        &["fraud/detector"],
    );

    // Every mutation left exactly one audit row, tied to its revision.
    let audit = primary.audit().await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "model.create",
            "model.update",
            "version.register",
            "version.register",
            "version.update",
            "binding.set",
            "version.archive",
            "binding.delete",
            "model.delete"
        ]
    );
    assert_eq!(audit[0].2, "alice");
    let revisions: Vec<u64> = audit.iter().map(|a| a.0).collect();
    assert_eq!(revisions, (1..=9).collect::<Vec<u64>>());
    assert_eq!(primary.revision().await.unwrap(), 9);
}

pub(crate) async fn list_models_paginates_in_name_order(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    for name in ["delta", "alpha", "team/beta", "charlie", "echo"] {
        create_model(&mut registry, name).await;
    }
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = registry
            .list_models(v1::ListModelsRequest { page_size: 2, page_token: token, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.models.len() <= 2);
        names.extend(page.models.into_iter().map(|m| m.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["alpha", "charlie", "delta", "echo", "team/beta"]);
    assert_eq!(pages, 3);
    assert_status(
        registry
            .list_models(v1::ListModelsRequest {
                page_size: 2,
                page_token: "not-a-token".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["page_token"],
    );
}

pub(crate) async fn health_and_reflection_are_served(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    for service in ["", "bindery.v1.RegistryService", "bindery.v1.ResolverService"] {
        assert_eq!(
            primary.health(service).await.unwrap(),
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    // Server reflection (v1) lists the bindery services, so grpcurl-style tools work.
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(primary.channel().await.unwrap());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies =
        reflection.server_reflection_info(futures_util::stream::iter([request])).await.unwrap().into_inner();
    let reply = futures_util::StreamExt::next(&mut replies).await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply: {reply:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["bindery.v1.RegistryService", "bindery.v1.ResolverService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}
