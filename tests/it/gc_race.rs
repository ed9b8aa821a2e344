//! Garbage collection cannot delete bytes a version is being registered onto: it tombstones what
//! it will delete under the registry's write lock after re-reading the references, and a
//! registration checks the tombstones under the same lock. Every deletion is audited.

use std::time::{Duration, SystemTime};

use bindery_core::ObjectLocation;
use bindery_proto::v1;
use tonic::Code;

use crate::helpers::*;

fn register(uri: &str) -> v1::RegisterVersionRequest {
    v1::RegisterVersionRequest {
        model_name: "gc".into(),
        artifact: Some(v1::Artifact { uri: uri.into(), format: "onnx".into(), ..Default::default() }),
        ..Default::default()
    }
}

pub(crate) async fn collection_and_registration_never_interleave(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, "gc").await;
    let store = registry.store().unwrap();
    let cutoff = SystemTime::now() + Duration::from_secs(60);
    let raced = ObjectLocation::new("models", "bindery/gc/raced/model.onnx");
    let doomed = ObjectLocation::new("models", "bindery/gc/doomed/model.onnx");

    // A registration that commits between GC's listing and its marking keeps its object: the
    // marking re-reads the references under the write lock.
    r.register_version(register(&raced.uri())).await.unwrap();
    let marked = store.mark_garbage(cutoff, &[raced.clone(), doomed.clone()]).await.unwrap();
    assert_eq!(marked, vec![doomed.clone()], "a just-registered object was marked for deletion");

    // Once marked, nothing may be registered onto it, alone or under a prefix.
    for uri in [doomed.uri(), "s3://models/bindery/gc/doomed/".to_owned(), "s3://models/bindery/".to_owned()]
    {
        assert_status(
            r.register_version(register(&uri)).await,
            Code::FailedPrecondition,
            &["garbage collection is deleting", &doomed.uri()],
        );
    }
    let model = r.get_model(v1::GetModelRequest { name: "gc".into() }).await.unwrap().into_inner();
    assert_eq!(model.latest_version, 1, "a refused registration consumed a version number");
    // Other locations are unaffected.
    r.register_version(register("s3://models/bindery/gc/other/model.onnx")).await.unwrap();

    // Deletions are audited, one row each, by the collector.
    let info = bindery_core::ObjectInfo {
        location: doomed.clone(),
        size_bytes: 7,
        etag: "e".into(),
        last_modified: None,
        sha256: None,
    };
    let ctx = bindery_core::WriteContext::new(bindery_artifacts::GC_ACTOR);
    store.record_collected(&ctx, &[info]).await.unwrap();
    let audit = registry
        .rows("SELECT id, action, actor, target FROM audit_log ORDER BY id DESC LIMIT 1")
        .await
        .unwrap();
    assert_eq!(audit[0].1, vec!["artifact.delete".to_owned(), "bindery-gc".to_owned(), doomed.uri()]);
}

/// A multipart upload no open session owns — its session row never written (a crash between
/// starting the upload and recording the session) — is aborted by the next collection once past
/// the grace period; an open session's upload is left alone. (Run on `bindery dev`'s store:
/// the S3 test server, s3s-fs, does not implement ListMultipartUploads.)
#[tokio::test]
async fn orphaned_multipart_uploads_are_swept() {
    let f = bindery_test_util::ArtifactFixture::start(Backend::Sqlite, |a| {
        a.gc_grace_secs = 1;
        a.multipart_threshold_bytes = 5 * 1024 * 1024;
        a.multipart_part_bytes = 5 * 1024 * 1024;
    })
    .await
    .unwrap();
    let mut r = f.registry.registry().await.unwrap();
    create_model(&mut r, "gc").await;
    let session = |path: &str| v1::CreateUploadSessionRequest {
        model_name: "gc".into(),
        files: vec![v1::UploadFileSpec {
            path: path.into(),
            size_bytes: 12 * 1024 * 1024,
            sha256: "ab".repeat(32),
        }],
    };
    let orphan = r.create_upload_session(session("a.bin")).await.unwrap().into_inner();
    let open = r.create_upload_session(session("b.bin")).await.unwrap().into_inner();
    assert_eq!(f.multipart_uploads_in_progress().unwrap(), 2);
    f.registry.execute(&format!("DELETE FROM upload_sessions WHERE id = '{}'", orphan.id)).await.unwrap();

    let early = f.collect_garbage(false).await.unwrap();
    assert_eq!(early.aborted_uploads, 0, "an upload younger than the grace period was aborted");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let report = f.collect_garbage(false).await.unwrap();
    assert_eq!(report.aborted_uploads, 1, "{report:?}");
    assert_eq!(f.multipart_uploads_in_progress().unwrap(), 1, "the open session's upload went too");
    assert!(!open.files[0].parts.is_empty());
}
