//! An idempotent retry of a registration is answered from the registry alone: it returns the
//! original version even when the object has moved since or the object store is unreachable.

use bindery_proto::v1;
use bindery_test_util::ArtifactFixture;
use tonic::Code;

use crate::helpers::{Backend, assert_status, create_model};

pub(crate) async fn a_retry_never_touches_the_object_store(backend: Backend) {
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut registry = f.registry.registry().await.unwrap();
    create_model(&mut registry, "fraud").await;
    f.put_object("runs/7/model.onnx", b"weights", true).await.unwrap();
    let request = v1::RegisterVersionRequest {
        model_name: "fraud".into(),
        request_id: "run-7".into(),
        artifact: Some(v1::Artifact {
            uri: format!("s3://{}/runs/7/model.onnx", f.bucket),
            format: "onnx".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let first = registry.register_version(request.clone()).await.unwrap().into_inner();
    assert!(first.created);

    // The object is gone: a new registration would fail verification, the retry does not.
    f.delete_object("runs/7/model.onnx").await.unwrap();
    let retry = registry.register_version(request.clone()).await.unwrap().into_inner();
    assert!(!retry.created);
    assert_eq!((retry.version, retry.revision), (first.version.clone(), first.revision));
    // A different payload under the same request id is still refused, naming what differs.
    let changed = v1::RegisterVersionRequest { description: "other".into(), ..request };
    assert_status(registry.register_version(changed).await, Code::AlreadyExists, &["run-7", "description"]);
    let fresh = v1::RegisterVersionRequest { request_id: "run-8".into(), ..Default::default() };
    let fresh = v1::RegisterVersionRequest {
        model_name: "fraud".into(),
        artifact: first.version.unwrap().artifact,
        ..fresh
    };
    assert_status(registry.register_version(fresh).await, Code::FailedPrecondition, &["artifact not found"]);
}
