//! Object-store failures against a real S3-compatible server: every one a clear status, and
//! nothing registered. Plus `bindery gc --dry-run` as the command runs it.

use bindery_proto::v1;
use bindery_test_util::{Backend, TestRegistry, TestS3};
use tonic::Code;

use crate::helpers::{assert_status, create_model};

fn register(uri: &str) -> v1::RegisterVersionRequest {
    v1::RegisterVersionRequest {
        model_name: "m".into(),
        artifact: Some(v1::Artifact { uri: uri.into(), ..Default::default() }),
        ..Default::default()
    }
}

#[tokio::test]
async fn object_store_errors_map_to_clear_statuses_and_register_nothing() {
    let s3 = TestS3::start().await.unwrap();
    s3.create_bucket("models").unwrap();
    s3.client()
        .put_object()
        .bucket("models")
        .key("x.bin")
        .body(b"weights".to_vec().into())
        .send()
        .await
        .unwrap();

    // Wrong credentials: access denied, naming bucket and key.
    let mut denied = s3.artifact_args("models");
    denied.s3_secret_access_key = Some(bindery_server::Secret::new("wrong"));
    let registry = TestRegistry::start_with(Backend::Postgres, Some(denied)).await.unwrap();
    let mut client = registry.registry().await.unwrap();
    create_model(&mut client, "m").await;
    let refused = client.register_version(register("s3://models/x.bin")).await;
    assert_status(
        refused,
        Code::FailedPrecondition,
        &["access denied to s3://models/x.bin", "bucket 'models'"],
    );
    let session = client
        .create_upload_session(v1::CreateUploadSessionRequest {
            model_name: "m".into(),
            files: vec![v1::UploadFileSpec {
                path: "a".into(),
                size_bytes: 10 * 1024 * 1024 * 1024,
                sha256: "a".repeat(64),
            }],
        })
        .await;
    assert_status(session, Code::FailedPrecondition, &["access denied"]);

    // A bucket that does not exist (but that artifacts may live in).
    let mut allowed = s3.artifact_args("models");
    allowed.artifact_allowed = vec!["s3://no-such-bucket".into()];
    let good = TestRegistry::start_with(Backend::Postgres, Some(allowed)).await.unwrap();
    let mut client = good.registry().await.unwrap();
    create_model(&mut client, "m").await;
    let no_bucket = client.register_version(register("s3://no-such-bucket/prefix/")).await;
    assert_status(no_bucket, Code::FailedPrecondition, &["bucket 'no-such-bucket' does not exist"]);

    // The store unreachable: UNAVAILABLE (retry later), not a verdict on the artifact.
    let mut away = s3.artifact_args("models");
    away.s3_endpoint = Some("http://127.0.0.1:1".into());
    let unreachable = TestRegistry::start_with(Backend::Postgres, Some(away)).await.unwrap();
    let mut client = unreachable.registry().await.unwrap();
    create_model(&mut client, "m").await;
    let down = client.register_version(register("s3://models/x.bin")).await;
    // The endpoint and the driver's words are in the log, under the id the message gives.
    let message = down.as_ref().err().map(|s| s.message().to_owned()).unwrap_or_default();
    assert!(!message.contains("127.0.0.1:1") && !message.contains("dispatch"), "{message}");
    assert_status(down, Code::Unavailable, &["unreachable", "s3://models/x.bin", "error id"]);

    for registry in [&registry, &good, &unreachable] {
        let mut client = registry.registry().await.unwrap();
        let listed = client
            .list_versions(v1::ListVersionsRequest { model_name: "m".into(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert!(listed.versions.is_empty(), "a failed registration left a version");
    }
}

#[tokio::test]
async fn bindery_gc_dry_run_lists_and_keeps() {
    let s3 = TestS3::start().await.unwrap();
    s3.create_bucket("models").unwrap();
    let mut args = s3.artifact_args("models");
    args.gc_grace_secs = 0;
    let registry = TestRegistry::start_with(Backend::Postgres, Some(args.clone())).await.unwrap();
    // An object under the managed prefix that nothing references, and one outside it.
    for key in ["bindery/m/orphan/a.bin", "elsewhere/b.bin"] {
        s3.client().put_object().bucket("models").key(key).body(b"x".to_vec().into()).send().await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let url = registry.postgres().unwrap().url.clone();
    let gc = |dry_run| bindery_server::GcArgs {
        database: bindery_server::config::DatabaseArgs {
            database_url: bindery_server::DatabaseUrl::new(url.clone()),
            database_timeout_secs: 5,
            create_database: false,
        },
        artifacts: args.clone(),
        dry_run,
    };
    let out = bindery_server::run_gc(&gc(true)).await.unwrap();
    assert!(out.starts_with("would delete 1 object(s)"), "{out}");
    assert!(out.contains("s3://models/bindery/m/orphan/a.bin"), "{out}");
    let head = |key: &'static str| {
        let client = s3.client();
        async move { client.head_object().bucket("models").key(key).send().await.is_ok() }
    };
    assert!(head("bindery/m/orphan/a.bin").await, "a dry run deleted");
    let out = bindery_server::run_gc(&gc(false)).await.unwrap();
    assert!(out.starts_with("deleted 1 object(s)"), "{out}");
    assert!(!head("bindery/m/orphan/a.bin").await);
    assert!(head("elsewhere/b.bin").await, "an object outside the managed prefix was deleted");
}
