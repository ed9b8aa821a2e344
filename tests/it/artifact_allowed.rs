//! The registry's object-store credentials stay where artifacts may live (`--artifact-allowed`
//! plus the managed bucket): verification and presigning refuse anything else before any call
//! to the store, so a caller cannot make the registry read, list or sign URLs for other objects.

use bindery_proto::v1;
use bindery_test_util::ArtifactFixture;
use tonic::Code;

use crate::helpers::{Backend, assert_status, bind, create_model};

fn register(uri: &str) -> v1::RegisterVersionRequest {
    v1::RegisterVersionRequest {
        model_name: "fraud".into(),
        artifact: Some(v1::Artifact { uri: uri.into(), format: "onnx".into(), ..Default::default() }),
        ..Default::default()
    }
}

pub(crate) async fn registering_outside_the_allowed_locations_is_refused(backend: Backend) {
    let f = ArtifactFixture::start(backend, |a| a.artifact_allowed = vec!["s3://shared/teams/fraud/".into()])
        .await
        .unwrap();
    let mut registry = f.registry.registry().await.unwrap();
    create_model(&mut registry, "fraud").await;
    let data = b"weights".to_vec();
    for (bucket, key) in [
        ("shared", "teams/fraud/m.bin"),
        ("shared", "teams/fraudulent/m.bin"),
        ("shared", "teams/search/m.bin"),
        ("secrets", "db/creds.json"),
    ] {
        f.put_object_in(bucket, key, &data, true).await.unwrap();
    }
    f.put_object("own/m.bin", &data, true).await.unwrap();

    // Inside: the allowed prefix and the managed bucket are verified as before.
    for uri in ["s3://shared/teams/fraud/m.bin".to_owned(), format!("s3://{}/own/m.bin", f.bucket)] {
        let v = registry.register_version(register(&uri)).await.unwrap().into_inner().version.unwrap();
        assert!(v.artifact.unwrap().verified, "{uri}");
    }
    // Outside, even where the objects exist and the credentials could read them: INVALID_ARGUMENT
    // naming where artifacts may live (objects, prefixes, a look-alike prefix).
    let managed = format!("s3://{}/", f.bucket);
    for uri in [
        "s3://secrets/db/creds.json",
        "s3://secrets/db/",
        "s3://shared/teams/search/m.bin",
        "s3://shared/teams/fraudulent/m.bin",
    ] {
        assert_status(
            registry.register_version(register(uri)).await,
            Code::InvalidArgument,
            &[uri, "outside the locations", "s3://shared/teams/fraud/", &managed],
        );
    }
    let model = registry.get_model(v1::GetModelRequest { name: "fraud".into() }).await.unwrap().into_inner();
    assert_eq!(model.latest_version, 2, "a refused registration consumed a version number");
}

/// A version registered without verification (so without the check) still gets no presigned
/// URL outside the allowed locations, from the primary or the read side.
pub(crate) async fn presigning_refuses_versions_outside_the_allowed_locations(backend: Backend) {
    let f = ArtifactFixture::start(backend, |a| a.verify_artifacts = false).await.unwrap();
    let mut registry = f.registry.registry().await.unwrap();
    create_model(&mut registry, "fraud").await;
    f.put_object_in("secrets", "db/creds.json", b"secret", true).await.unwrap();
    let uri = "s3://secrets/db/creds.json";
    let v = registry.register_version(register(uri)).await.unwrap().into_inner().version.unwrap();
    assert!(!v.artifact.unwrap().verified);

    let urls = registry
        .get_download_urls(v1::GetDownloadUrlsRequest {
            model_name: "fraud".into(),
            version: 1,
            ..Default::default()
        })
        .await;
    assert_status(urls, Code::InvalidArgument, &[uri, "outside the locations"]);
    let bound = bind(&mut registry, "fraud", "production", 1, None).await.unwrap();
    let mut resolver = f.registry.resolver().await.unwrap();
    let resolve = v1::ResolveRequest {
        model_name: "fraud".into(),
        binding: "production".into(),
        min_revision: bound.revision,
        presign: true,
        ..Default::default()
    };
    assert_status(resolver.resolve(resolve).await, Code::InvalidArgument, &[uri, "outside the locations"]);
}
