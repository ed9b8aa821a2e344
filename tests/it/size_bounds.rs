//! What one request can make the registry store and send is bounded: a version's metadata in
//! total, a prefix artifact's manifest (so RegisterVersion and GetVersion answers fit a
//! message), and the change log carries no copy of a version's metadata.

use bindery_proto::v1;
use bindery_test_util::ArtifactFixture;
use tonic::Code;

use crate::helpers::*;

pub(crate) async fn a_versions_metadata_is_bounded_as_a_whole(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, "m").await;
    // Each entry is within its own bounds (100 entries of 5,000 bytes); together they are not.
    let big: std::collections::BTreeMap<String, String> =
        (0..100).map(|i| (format!("k{i}"), "v".repeat(5_000))).collect();
    let request = v1::RegisterVersionRequest { params: big.clone(), ..register_request("m", "big") };
    assert_status(r.register_version(request).await, Code::InvalidArgument, &["together", "262144"]);
    let fine = v1::RegisterVersionRequest {
        params: big.into_iter().take(20).collect(),
        ..register_request("m", "ok")
    };
    let v = r.register_version(fine).await.unwrap().into_inner();
    // The change log says which version changed, not what it holds.
    let rows = registry
        .rows(&format!("SELECT revision, payload::text FROM changes WHERE revision = {}", v.revision))
        .await
        .unwrap_or_default();
    let rows = if rows.is_empty() {
        registry
            .rows(&format!("SELECT revision, payload FROM changes WHERE revision = {}", v.revision))
            .await
            .unwrap()
    } else {
        rows
    };
    let payload = &rows[0].1[0];
    assert!(payload.contains("\"version\"") && !payload.contains("vvvv"), "{payload}");
}

pub(crate) async fn a_manifest_over_its_byte_bound_is_refused_before_registering(backend: Backend) {
    if backend != Backend::Sqlite {
        return; // the bound is the shared Artifacts service's; dev's store fills a prefix fast
    }
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut r = f.registry.registry().await.unwrap();
    create_model(&mut r, "m").await;
    let deep = ["d".repeat(200), "e".repeat(200), "f".repeat(200), "g".repeat(200)].join("/");
    for i in 0..2_600 {
        f.put_object(&format!("wide/{deep}/file-{i:05}.bin"), b"x", false).await.unwrap();
    }
    let request = v1::RegisterVersionRequest {
        model_name: "m".into(),
        artifact: Some(v1::Artifact { uri: format!("s3://{}/wide/", f.bucket), ..Default::default() }),
        ..Default::default()
    };
    assert_status(
        r.register_version(request).await,
        Code::FailedPrecondition,
        &["manifest", "2600 files", "2097152"],
    );
    let model = r.get_model(v1::GetModelRequest { name: "m".into() }).await.unwrap().into_inner();
    assert_eq!(model.latest_version, 0);
}

/// A watch reset larger than a message arrives in parts (the first flagged `reset`, all but the
/// last `continues`), together the whole state.
pub(crate) async fn a_large_watch_reset_comes_in_parts(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, "m").await;
    let long_uri = format!("s3://models/{}/model.onnx", "p".repeat(1_900));
    let request = v1::RegisterVersionRequest {
        model_name: "m".into(),
        artifact: Some(v1::Artifact { uri: long_uri, format: "onnx".into(), ..Default::default() }),
        ..Default::default()
    };
    r.register_version(request).await.unwrap();
    let mut revision = 0;
    for batch in 0..8 {
        let bindings = (0..100)
            .map(|i| v1::BindingAssignment {
                binding: format!("b{batch}-{i}"),
                version: 1,
                expected_generation: None,
                ..Default::default()
            })
            .collect();
        let req = v1::SetBindingsRequest { model_name: "m".into(), bindings, reason: String::new() };
        revision = r.set_bindings(req).await.unwrap().into_inner().revision;
    }
    registry.read_side().wait_revision(revision, std::time::Duration::from_secs(10)).await.unwrap();
    let mut resolver = registry.resolver().await.unwrap();
    let mut stream = resolver.watch_bindings(v1::WatchBindingsRequest::default()).await.unwrap().into_inner();
    let mut parts = Vec::new();
    loop {
        let part = stream.message().await.unwrap().unwrap();
        let more = part.continues;
        parts.push(part);
        if !more {
            break;
        }
    }
    assert!(parts.len() >= 2, "800 bindings of 2 KB came in one message");
    assert!(parts[0].reset && parts[1..].iter().all(|p| !p.reset), "only the first part says reset");
    assert!(parts.iter().all(|p| p.revision == revision));
    assert_eq!(parts.iter().map(|p| p.bindings.len()).sum::<usize>(), 800);
}

/// GetDownloadUrls pages through a large prefix; Resolve{presign} refuses one larger than a page.
pub(crate) async fn download_urls_come_a_page_at_a_time(backend: Backend) {
    if backend != Backend::Sqlite {
        return; // paging is the shared service's; dev's store fills a prefix fast
    }
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut r = f.registry.registry().await.unwrap();
    create_model(&mut r, "m").await;
    for i in 0..2_500 {
        f.put_object(&format!("many/f{i:05}.bin"), b"x", false).await.unwrap();
    }
    let request = v1::RegisterVersionRequest {
        model_name: "m".into(),
        artifact: Some(v1::Artifact { uri: format!("s3://{}/many/", f.bucket), ..Default::default() }),
        ..Default::default()
    };
    r.register_version(request).await.unwrap();
    let bound = bind(&mut r, "m", "production", 1, None).await.unwrap();
    let (mut token, mut sizes, mut paths) = (String::new(), Vec::new(), std::collections::BTreeSet::new());
    loop {
        let req = v1::GetDownloadUrlsRequest {
            model_name: "m".into(),
            version: 1,
            page_size: 1_000,
            page_token: token,
        };
        let page = r.get_download_urls(req).await.unwrap().into_inner();
        sizes.push(page.files.len());
        paths.extend(page.files.into_iter().map(|f| f.path));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!((sizes, paths.len()), (vec![1_000, 1_000, 500], 2_500));
    let bad = v1::GetDownloadUrlsRequest {
        model_name: "m".into(),
        version: 1,
        page_size: 5_000,
        page_token: String::new(),
    };
    assert_status(r.get_download_urls(bad).await, Code::InvalidArgument, &["page_size"]);
    let resolve = v1::ResolveRequest {
        model_name: "m".into(),
        binding: "production".into(),
        min_revision: bound.revision,
        presign: true,
        ..Default::default()
    };
    let mut resolver = f.registry.resolver().await.unwrap();
    assert_status(
        resolver.resolve(resolve).await,
        Code::FailedPrecondition,
        &["2500 files", "GetDownloadUrls"],
    );
}

/// Ten bindings moved to one prefix version carry its manifest once in the change log, and the
/// read side still presigns every file of it.
pub(crate) async fn a_manifest_travels_once_per_version(backend: Backend) {
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut r = f.registry.registry().await.unwrap();
    create_model(&mut r, "m").await;
    for name in ["weights-a.bin", "weights-b.bin", "config.json"] {
        f.put_object(&format!("bundle/{name}"), b"x", false).await.unwrap();
    }
    let request = v1::RegisterVersionRequest {
        model_name: "m".into(),
        artifact: Some(v1::Artifact { uri: format!("s3://{}/bundle/", f.bucket), ..Default::default() }),
        ..Default::default()
    };
    r.register_version(request).await.unwrap();
    let bindings = (0..10)
        .map(|i| v1::BindingAssignment {
            binding: format!("b{i}"),
            version: 1,
            expected_generation: None,
            ..Default::default()
        })
        .collect();
    let written = r
        .set_bindings(v1::SetBindingsRequest { model_name: "m".into(), bindings, reason: String::new() })
        .await
        .unwrap()
        .into_inner();
    let sql = format!(
        "SELECT revision, {} FROM changes WHERE revision = {}",
        match backend {
            Backend::Postgres => "payload::text",
            Backend::Sqlite => "payload",
        },
        written.revision
    );
    let payload = f.registry.rows(&sql).await.unwrap()[0].1[0].clone();
    assert_eq!(payload.matches("weights-a.bin").count(), 1, "{payload}");
    let mut resolver = f.registry.resolver().await.unwrap();
    let resolve = v1::ResolveRequest {
        model_name: "m".into(),
        binding: "b7".into(),
        min_revision: written.revision,
        presign: true,
        ..Default::default()
    };
    let answer = resolver.resolve(resolve).await.unwrap().into_inner();
    assert_eq!(answer.download_urls.len(), 3);
    // Lists leave manifests out; GetVersion has them.
    let listed = r
        .list_versions(v1::ListVersionsRequest { model_name: "m".into(), ..Default::default() })
        .await
        .unwrap();
    let listed = listed.into_inner().versions.remove(0).artifact.unwrap();
    assert!(listed.files.is_empty() && listed.verified, "{listed:?}");
    let got = r
        .get_version(v1::GetVersionRequest { model_name: "m".into(), version: 1, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(got.into_inner().artifact.unwrap().files.len(), 3);
}

/// A page of large items ends early and continues where it stopped: no answer outgrows a
/// message, whatever the page size asked for.
pub(crate) async fn list_answers_stay_under_the_message_limit(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, "m").await;
    let params: std::collections::BTreeMap<String, String> =
        (0..40).map(|i| (format!("k{i}"), "v".repeat(5_000))).collect();
    for i in 0..25 {
        let request =
            v1::RegisterVersionRequest { params: params.clone(), ..register_request("m", &format!("r{i}")) };
        r.register_version(request).await.unwrap();
    }
    let (mut token, mut pages, mut seen) = (String::new(), 0, 0);
    loop {
        let request = v1::ListVersionsRequest {
            model_name: "m".into(),
            page_size: 1_000,
            page_token: token,
            ..Default::default()
        };
        let page = r.list_versions(request).await.unwrap().into_inner();
        pages += 1;
        seen += page.versions.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, 25);
    assert!(pages >= 2, "5 MB of versions came in one answer");
}
