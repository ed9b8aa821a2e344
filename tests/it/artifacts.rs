//! Artifacts (design.md §4) against a real S3-compatible server (`s3s-fs`, SigV4-checking) on
//! PostgreSQL, and against `bindery dev`'s local directory: the same suite on both. Uploads and
//! downloads go through the presigned URLs with a plain HTTP client.

use std::time::Duration;

use bindery_artifacts::Transfer;
use bindery_proto::v1;
use bindery_test_util::ArtifactFixture;
use clap::Parser;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::helpers::{Backend, Registry, assert_status, bind, create_model};

const MIB: usize = 1024 * 1024;

fn sha256(bytes: &[u8]) -> String {
    bindery_core::hex(&Sha256::digest(bytes))
}

/// Deterministic bytes that differ per `seed` (and are not trivially compressible).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn presigned(r: Option<&v1::PresignedRequest>) -> bindery_core::PresignedRequest {
    r.expect("a presigned request").into()
}

async fn fixture(
    backend: Backend,
    tweak: impl FnOnce(&mut bindery_server::ArtifactArgs),
) -> (ArtifactFixture, Registry) {
    bindery_test_util::init_test_logging();
    let f = ArtifactFixture::start(backend, tweak).await.expect("artifact fixture");
    let registry = f.registry.registry().await.expect("registry client");
    (f, registry)
}

fn register_uri(model: &str, uri: &str, size_bytes: u64, sha256: &str) -> v1::RegisterVersionRequest {
    v1::RegisterVersionRequest {
        model_name: model.into(),
        artifact: Some(v1::Artifact {
            uri: uri.into(),
            size_bytes,
            sha256: sha256.into(),
            format: "onnx".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn register_session(model: &str, session: &str, request_id: &str) -> v1::RegisterVersionRequest {
    v1::RegisterVersionRequest {
        model_name: model.into(),
        request_id: request_id.into(),
        upload_session_id: session.into(),
        artifact: Some(v1::Artifact { format: "safetensors".into(), ..Default::default() }),
        ..Default::default()
    }
}

async fn versions(registry: &mut Registry, model: &str) -> Vec<v1::ModelVersion> {
    registry
        .list_versions(v1::ListVersionsRequest { model_name: model.into(), ..Default::default() })
        .await
        .expect("list versions")
        .into_inner()
        .versions
}

/// Uploads every file of `session` from `files` (path -> bytes) through its presigned URLs;
/// multipart files part by part, last part first (any order is allowed).
async fn upload(session: &v1::UploadSession, files: &[(&str, Vec<u8>)]) {
    let http = Transfer::new().expect("http client");
    for grant in &session.files {
        let data = &files.iter().find(|(p, _)| *p == grant.path).expect("granted file").1;
        if grant.put.is_some() {
            let reply = http.send(&presigned(grant.put.as_ref()), data.clone().into()).await.expect("PUT");
            assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
            continue;
        }
        for part in grant.parts.iter().rev() {
            let start = usize::try_from(part.offset).unwrap();
            let end = start + usize::try_from(part.size_bytes).unwrap();
            let reply = http
                .send(&presigned(part.put.as_ref()), data[start..end].to_vec().into())
                .await
                .expect("PUT part");
            assert_eq!(
                reply.status,
                200,
                "part {}: {}",
                part.part_number,
                String::from_utf8_lossy(&reply.body)
            );
        }
    }
}

async fn create_session(
    registry: &mut Registry,
    model: &str,
    files: &[(&str, Vec<u8>)],
) -> v1::UploadSession {
    let specs = files
        .iter()
        .map(|(path, data)| v1::UploadFileSpec {
            path: (*path).into(),
            size_bytes: data.len() as u64,
            sha256: sha256(data),
        })
        .collect();
    registry
        .create_upload_session(v1::CreateUploadSessionRequest { model_name: model.into(), files: specs })
        .await
        .expect("create upload session")
        .into_inner()
}

async fn download_urls(registry: &mut Registry, model: &str, version: u64) -> Vec<v1::DownloadUrl> {
    registry
        .get_download_urls(v1::GetDownloadUrlsRequest {
            model_name: model.into(),
            version,
            ..Default::default()
        })
        .await
        .expect("download urls")
        .into_inner()
        .files
}

/// Downloads every URL and returns path -> bytes.
async fn download_all(urls: &[v1::DownloadUrl]) -> Vec<(String, Vec<u8>)> {
    let http = Transfer::new().expect("http client");
    let mut out = Vec::new();
    for u in urls {
        let reply = http.send(&presigned(u.request.as_ref()), Vec::new().into()).await.expect("GET");
        assert_eq!(reply.status, 200, "GET {}: {}", u.path, String::from_utf8_lossy(&reply.body));
        out.push((u.path.clone(), reply.body.to_vec()));
    }
    out
}

pub async fn verified_register_records_what_the_store_reports(backend: Backend) {
    let (f, mut registry) = fixture(backend, |_| {}).await;
    create_model(&mut registry, "fraud").await;
    let data = bytes(70_000, 1);
    f.put_object("runs/1/model.onnx", &data, true).await.unwrap();
    let uri = format!("s3://{}/runs/1/model.onnx", f.bucket);

    // Nothing declared: size and checksum come from the store.
    let v = registry.register_version(register_uri("fraud", &uri, 0, "")).await.unwrap().into_inner();
    let a = v.version.unwrap().artifact.unwrap();
    assert!(a.verified && a.sha256_verified, "{a:?}");
    assert_eq!((a.size_bytes, a.sha256.as_str()), (data.len() as u64, sha256(&data).as_str()));
    assert!(!a.etag.is_empty() && a.last_modified.is_some(), "{a:?}");
    assert!(a.files.is_empty());

    // Declared and right: accepted, and GetVersion returns the same facts.
    let v = registry
        .register_version(register_uri("fraud", &uri, data.len() as u64, &sha256(&data).to_uppercase()))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let got = registry
        .get_version(v1::GetVersionRequest {
            model_name: "fraud".into(),
            version: v.version,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.artifact, v.artifact);
    assert!(got.artifact.unwrap().verified);
}

pub async fn mismatches_and_missing_objects_are_refused_and_nothing_is_registered(backend: Backend) {
    let (f, mut registry) = fixture(backend, |_| {}).await;
    create_model(&mut registry, "fraud").await;
    let data = bytes(4_096, 2);
    f.put_object("m.bin", &data, true).await.unwrap();
    let uri = format!("s3://{}/m.bin", f.bucket);

    let wrong_size = registry.register_version(register_uri("fraud", &uri, 4_000, "")).await;
    assert_status(wrong_size, Code::FailedPrecondition, &["size_bytes is 4000", "is 4096 bytes", &uri]);
    let wrong_sha = "0".repeat(64);
    let mismatch = registry.register_version(register_uri("fraud", &uri, 0, &wrong_sha)).await;
    assert_status(mismatch, Code::FailedPrecondition, &[&wrong_sha, &sha256(&data), &uri]);
    let missing = format!("s3://{}/no/such/model.onnx", f.bucket);
    let gone = registry.register_version(register_uri("fraud", &missing, 0, "")).await;
    assert_status(gone, Code::FailedPrecondition, &["artifact not found at", &missing]);
    let empty_prefix = format!("s3://{}/nothing-here/", f.bucket);
    let none = registry.register_version(register_uri("fraud", &empty_prefix, 0, "")).await;
    assert_status(none, Code::FailedPrecondition, &["no objects under this prefix"]);
    let local = registry.register_version(register_uri("fraud", "file:///tmp/model.onnx", 0, "")).await;
    assert_status(local, Code::FailedPrecondition, &["verifies s3:// artifacts only"]);

    assert!(
        versions(&mut registry, "fraud").await.is_empty(),
        "a refused registration left a version behind"
    );
    let model = registry.get_model(v1::GetModelRequest { name: "fraud".into() }).await.unwrap().into_inner();
    assert_eq!(model.latest_version, 0, "a refused registration consumed a version number");
}

pub async fn a_prefix_is_registered_with_its_manifest(backend: Backend) {
    let (f, mut registry) = fixture(backend, |_| {}).await;
    create_model(&mut registry, "llm").await;
    let files = [
        ("weights/model-00001.safetensors", bytes(3_000, 3)),
        ("config.json", bytes(120, 4)),
        ("tok/vocab.txt", bytes(999, 5)),
    ];
    for (path, data) in &files {
        f.put_object(&format!("llm/7/{path}"), data, false).await.unwrap();
    }
    // A sibling prefix sharing the first characters is not part of it.
    f.put_object("llm/70/other.bin", &bytes(10, 6), false).await.unwrap();
    let total: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
    let uri = format!("s3://{}/llm/7/", f.bucket);

    let wrong = registry.register_version(register_uri("llm", &uri, total + 1, "")).await;
    assert_status(wrong, Code::FailedPrecondition, &["the 3 objects under", &format!("total {total} bytes")]);

    let v = registry
        .register_version(register_uri("llm", &uri, total, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let got = registry
        .get_version(v1::GetVersionRequest {
            model_name: "llm".into(),
            version: v.version,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .artifact
        .unwrap();
    assert!(got.verified);
    assert_eq!(got.size_bytes, total);
    let mut expected: Vec<(String, u64)> =
        files.iter().map(|(p, d)| ((*p).to_owned(), d.len() as u64)).collect();
    expected.sort();
    let manifest: Vec<(String, u64)> = got.files.iter().map(|m| (m.path.clone(), m.size_bytes)).collect();
    assert_eq!(manifest, expected);

    // Every file of the prefix downloads byte for byte.
    let urls = download_urls(&mut registry, "llm", v.version).await;
    for (path, body) in download_all(&urls).await {
        let want = &files.iter().find(|(p, _)| *p == path).unwrap().1;
        assert!(body == *want, "{path} differs");
    }
}

pub async fn upload_session_single_part_register_and_download(backend: Backend) {
    let (f, mut registry) = fixture(backend, |_| {}).await;
    create_model(&mut registry, "team/ranker").await;
    let files = [("model.onnx", bytes(200_000, 7)), ("meta/labels.json", bytes(300, 8))];
    let session = create_session(&mut registry, "team/ranker", &files).await;
    assert!(
        session.uri.starts_with(&format!("s3://{}/bindery/team/ranker/{}/", f.bucket, session.id)),
        "{}",
        session.uri
    );
    assert!(session.files.iter().all(|g| g.put.is_some() && g.parts.is_empty()));

    // A body that is not the declared file is refused by the store itself.
    let http = Transfer::new().unwrap();
    let grant = session.files.iter().find(|g| g.path == "model.onnx").unwrap();
    let wrong = http.send(&presigned(grant.put.as_ref()), bytes(200_000, 99).into()).await.unwrap();
    assert_eq!(
        wrong.status,
        400,
        "a body with another SHA-256 was accepted: {}",
        String::from_utf8_lossy(&wrong.body)
    );

    // Registering now fails and names the file: it was never stored (S3, local) or, where the
    // server kept the refused body anyway (s3s-fs stores it before checking), it hashes wrong.
    let early = registry.register_version(register_session("team/ranker", &session.id, "")).await;
    let message = early.as_ref().err().map(|s| s.message().to_owned()).unwrap_or_default();
    assert!(
        message.contains("was not uploaded") || message.contains("the uploaded bytes hash to"),
        "{message}"
    );
    assert_status(early, Code::FailedPrecondition, &["model.onnx"]);

    upload(&session, &files).await;
    let registered = registry
        .register_version(register_session("team/ranker", &session.id, "ranker-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(registered.created);
    let v = registered.version.unwrap();
    let a = v.artifact.clone().unwrap();
    assert_eq!(a.uri, session.uri);
    assert!(a.verified);
    assert_eq!(a.format, "safetensors");
    let mut manifest: Vec<(String, String)> =
        a.files.iter().map(|m| (m.path.clone(), m.sha256.clone())).collect();
    manifest.sort();
    let mut want: Vec<(String, String)> = files.iter().map(|(p, d)| ((*p).to_owned(), sha256(d))).collect();
    want.sort();
    assert_eq!(manifest, want);

    // An idempotent retry returns the same version; a second registration of the session fails.
    let retry = registry
        .register_version(register_session("team/ranker", &session.id, "ranker-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(!retry.created);
    assert_eq!(retry.version.unwrap().version, v.version);
    let again = registry.register_version(register_session("team/ranker", &session.id, "")).await;
    assert_status(again, Code::FailedPrecondition, &["already registered as version"]);

    // A job whose answer was lost uploads the same files again through a new session and retries
    // with its request id: the same version. Other files under that id are ALREADY_EXISTS.
    let second = create_session(&mut registry, "team/ranker", &files).await;
    upload(&second, &files).await;
    let retry = registry
        .register_version(register_session("team/ranker", &second.id, "ranker-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(!retry.created);
    assert_eq!(retry.version.unwrap().version, v.version);
    let other = [("model.onnx", bytes(200_000, 9))];
    let third = create_session(&mut registry, "team/ranker", &other).await;
    upload(&third, &other).await;
    let differs = registry.register_version(register_session("team/ranker", &third.id, "ranker-1")).await;
    assert_status(differs, Code::AlreadyExists, &["upload_files"]);

    // Presigned GETs, from the primary and (after binding) from the read side.
    let urls = download_urls(&mut registry, "team/ranker", v.version).await;
    assert_eq!(urls.len(), 2);
    for (path, body) in download_all(&urls).await {
        assert!(body == files.iter().find(|(p, _)| *p == path).unwrap().1, "{path} differs");
    }
    let bound = bind(&mut registry, "team/ranker", "production", v.version, None).await.unwrap();
    let mut resolver = f.registry.resolver().await.unwrap();
    let resolved = resolver
        .resolve(v1::ResolveRequest {
            model_name: "team/ranker".into(),
            binding: "production".into(),
            min_revision: bound.revision,
            presign: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.download_urls.len(), 2);
    for (path, body) in download_all(&resolved.download_urls).await {
        assert!(body == files.iter().find(|(p, _)| *p == path).unwrap().1, "{path} differs");
    }

    // A tampered URL is refused.
    let mut tampered = presigned(resolved.download_urls[0].request.as_ref());
    tampered.url = tampered.url.replacen("ranker", "rankes", 1);
    let refused = http.send(&tampered, Vec::new().into()).await.unwrap();
    assert_eq!(refused.status, 403, "{}", String::from_utf8_lossy(&refused.body));
}

pub async fn upload_session_multipart(backend: Backend) {
    let (_f, mut registry) = fixture(backend, |a| {
        a.multipart_threshold_bytes = 6 * MIB as u64;
        a.multipart_part_bytes = 5 * MIB as u64;
    })
    .await;
    create_model(&mut registry, "big").await;
    let big = bytes(12 * MIB + 12_345, 9);
    let files = [("model.bin", big.clone()), ("small.txt", bytes(10, 10))];
    let session = create_session(&mut registry, "big", &files).await;
    let grant = session.files.iter().find(|g| g.path == "model.bin").unwrap();
    assert!(grant.put.is_none());
    let parts: Vec<(u32, u64, u64)> =
        grant.parts.iter().map(|p| (p.part_number, p.offset, p.size_bytes)).collect();
    let part = 5 * MIB as u64;
    assert_eq!(parts, vec![(1, 0, part), (2, part, part), (3, 2 * part, big.len() as u64 - 2 * part)]);

    // Missing a part: refused, naming it; the upload stays open to finish.
    let http = Transfer::new().unwrap();
    for p in &grant.parts[..2] {
        let (start, end) =
            (usize::try_from(p.offset).unwrap(), usize::try_from(p.offset + p.size_bytes).unwrap());
        let reply = http.send(&presigned(p.put.as_ref()), big[start..end].to_vec().into()).await.unwrap();
        assert_eq!(reply.status, 200);
    }
    let small = session.files.iter().find(|g| g.path == "small.txt").unwrap();
    assert_eq!(
        http.send(&presigned(small.put.as_ref()), files[1].1.clone().into()).await.unwrap().status,
        200
    );
    let incomplete = registry.register_version(register_session("big", &session.id, "big-1")).await;
    assert_status(incomplete, Code::FailedPrecondition, &["part(s) 3 missing"]);

    upload(&session, &files).await;
    let v = registry
        .register_version(register_session("big", &session.id, "big-1"))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let a = v.artifact.unwrap();
    let file = a.files.iter().find(|m| m.path == "model.bin").unwrap();
    assert_eq!((file.size_bytes, file.sha256.clone()), (big.len() as u64, sha256(&big)));
    let urls = download_urls(&mut registry, "big", v.version).await;
    let downloaded = download_all(&urls).await;
    assert!(
        downloaded.iter().any(|(p, b)| p == "model.bin" && *b == big),
        "multipart file differs after download"
    );
}

pub async fn presigned_urls_and_sessions_expire(backend: Backend) {
    let (f, mut registry) = fixture(backend, |a| {
        // SigV4 dates are whole seconds, so a URL lives between ttl - 1 and ttl seconds.
        a.download_ttl_secs = 3;
        a.upload_ttl_secs = 3;
        a.gc_grace_secs = 1;
        a.multipart_threshold_bytes = 5 * MIB as u64;
        a.multipart_part_bytes = 5 * MIB as u64;
    })
    .await;
    create_model(&mut registry, "m").await;
    let data = bytes(1_000, 11);
    f.put_object("expiring.bin", &data, true).await.unwrap();
    let uri = format!("s3://{}/expiring.bin", f.bucket);
    let v = registry
        .register_version(register_uri("m", &uri, 0, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let urls = download_urls(&mut registry, "m", v.version).await;
    let big = bytes(6 * MIB, 18);
    let session_files =
        [("early.bin", bytes(100, 12)), ("late.bin", bytes(100, 17)), ("big.bin", big.clone())];
    let session = create_session(&mut registry, "m", &session_files).await;
    let http = Transfer::new().unwrap();
    let early = session.files.iter().find(|g| g.path == "early.bin").unwrap();
    let late = session.files.iter().find(|g| g.path == "late.bin").unwrap();
    assert_eq!(
        http.send(&presigned(early.put.as_ref()), session_files[0].1.clone().into()).await.unwrap().status,
        200
    );
    // Half of a multipart upload: the store holds it open until the session expires.
    let part = &session.files.iter().find(|g| g.path == "big.bin").unwrap().parts[0];
    let first = big[..usize::try_from(part.size_bytes).unwrap()].to_vec();
    assert_eq!(http.send(&presigned(part.put.as_ref()), first.into()).await.unwrap().status, 200);
    assert_eq!(f.multipart_uploads_in_progress().unwrap(), 1);
    let fresh = http.send(&presigned(urls[0].request.as_ref()), Vec::new().into()).await.unwrap();
    assert_eq!(fresh.status, 200);

    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let stale = http.send(&presigned(urls[0].request.as_ref()), Vec::new().into()).await.unwrap();
    assert_eq!(stale.status, 403, "an expired URL still works: {}", String::from_utf8_lossy(&stale.body));
    let late_put = http.send(&presigned(late.put.as_ref()), session_files[1].1.clone().into()).await.unwrap();
    assert_eq!(late_put.status, 403, "an expired upload URL still works");
    let register = registry.register_version(register_session("m", &session.id, "")).await;
    assert_status(register, Code::FailedPrecondition, &["expired"]);

    // Garbage collection expires the session and, past the grace period, removes its objects;
    // the registered version's object stays.
    let early_key = format!("{}early.bin", session.uri.splitn(4, '/').nth(3).unwrap());
    assert!(f.object_exists(&early_key).await.unwrap());
    let report = f.collect_garbage(false).await.unwrap();
    assert_eq!(report.expired_sessions, 1);
    assert_eq!(
        f.multipart_uploads_in_progress().unwrap(),
        0,
        "the expired session's multipart upload was not aborted"
    );
    assert_eq!(
        report.garbage.iter().map(|o| o.location.key.clone()).collect::<Vec<_>>(),
        vec![early_key.clone()]
    );
    assert!(!f.object_exists(&early_key).await.unwrap());
    assert!(f.object_exists("expiring.bin").await.unwrap());
}

pub async fn gc_deletes_only_unreferenced_managed_objects(backend: Backend) {
    let (f, mut registry) = fixture(backend, |a| a.gc_grace_secs = 1).await;
    create_model(&mut registry, "gc").await;
    let one = [("a.bin", bytes(500, 13))];
    let two = [("b.bin", bytes(600, 14))];
    let s1 = create_session(&mut registry, "gc", &one).await;
    upload(&s1, &one).await;
    let v1 = registry
        .register_version(register_session("gc", &s1.id, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let s2 = create_session(&mut registry, "gc", &two).await;
    upload(&s2, &two).await;
    let v2 = registry
        .register_version(register_session("gc", &s2.id, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    // Another version points at v1's object.
    let v1_uri = v1.artifact.as_ref().unwrap().uri.clone();
    let v3 = registry
        .register_version(register_uri("gc", &v1_uri, 0, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    // An object outside the managed prefix, whose version is deleted too.
    f.put_object("outside/x.bin", &bytes(50, 15), false).await.unwrap();
    let outside_uri = format!("s3://{}/outside/x.bin", f.bucket);
    let v4 = registry
        .register_version(register_uri("gc", &outside_uri, 0, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    // A session not registered yet (and not expired): its objects are kept.
    let pending = [("c.bin", bytes(70, 16))];
    let s3 = create_session(&mut registry, "gc", &pending).await;
    upload(&s3, &pending).await;

    let key = |uri: &str| uri.splitn(4, '/').nth(3).unwrap().to_owned();
    let (k1, k2, k_pending) =
        (key(&v1_uri), key(&v2.artifact.unwrap().uri), format!("{}c.bin", key(&s3.uri)));

    // A bound version cannot be deleted.
    bind(&mut registry, "gc", "production", v2.version, None).await.unwrap();
    let bound = registry
        .delete_version(v1::DeleteVersionRequest { model_name: "gc".into(), version: v2.version })
        .await;
    assert_status(bound, Code::FailedPrecondition, &["bound by production"]);
    registry
        .delete_binding(v1::DeleteBindingRequest {
            model_name: "gc".into(),
            binding: "production".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    for version in [v1.version, v2.version, v4.version] {
        registry.delete_version(v1::DeleteVersionRequest { model_name: "gc".into(), version }).await.unwrap();
    }
    let deleted = registry
        .get_version(v1::GetVersionRequest {
            model_name: "gc".into(),
            version: v2.version,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.status, v1::VersionStatus::Deleted as i32);
    let urls = registry
        .get_download_urls(v1::GetDownloadUrlsRequest {
            model_name: "gc".into(),
            version: v2.version,
            ..Default::default()
        })
        .await;
    assert_status(urls, Code::FailedPrecondition, &["deleted"]);

    // Within the grace period nothing goes.
    let early = f.collect_garbage(false).await.unwrap();
    assert!(early.garbage.is_empty(), "{:?}", early.garbage);
    assert!(f.object_exists(&k2).await.unwrap());

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let dry = f.collect_garbage(true).await.unwrap();
    let listed: Vec<String> = dry.garbage.iter().map(|o| o.location.key.clone()).collect();
    assert_eq!(listed, vec![k2.clone()], "dry run lists v2's object, nothing else");
    assert!(f.object_exists(&k2).await.unwrap(), "a dry run deleted something");

    let real = f.collect_garbage(false).await.unwrap();
    assert_eq!(real.garbage.len(), 1, "{:?}", real.garbage);
    assert!(!f.object_exists(&k2).await.unwrap(), "v2's object survived");
    let audit = f.registry.audit().await.unwrap();
    let deletions =
        audit.iter().filter(|(_, action, actor)| action == "artifact.delete" && actor == "bindery-gc");
    assert_eq!(deletions.count(), 1, "each deletion is audited: {audit:?}");
    assert!(f.object_exists(&k_pending).await.unwrap(), "an open session's object was deleted");
    assert!(f.object_exists(&k1).await.unwrap(), "v1's object went while v3 still references it");
    assert!(
        f.object_exists("outside/x.bin").await.unwrap(),
        "an object outside the managed prefix was deleted"
    );

    // Once the last reference is deleted too, it goes after the grace period.
    registry
        .delete_version(v1::DeleteVersionRequest { model_name: "gc".into(), version: v3.version })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let last = f.collect_garbage(false).await.unwrap();
    assert_eq!(last.garbage.iter().map(|o| o.location.key.clone()).collect::<Vec<_>>(), vec![k1.clone()]);
    assert!(!f.object_exists(&k1).await.unwrap());
    assert!(f.object_exists("outside/x.bin").await.unwrap());
}

pub async fn verification_off_records_unverified_versions(backend: Backend) {
    let (f, mut registry) = fixture(backend, |a| a.verify_artifacts = false).await;
    create_model(&mut registry, "m").await;
    let uri = format!("s3://{}/not/there/", f.bucket);
    let v = registry
        .register_version(register_uri("m", &uri, 5, ""))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let a = v.artifact.unwrap();
    assert!(!a.verified && a.files.is_empty(), "{a:?}");
    assert_eq!(a.size_bytes, 5);
    let urls = registry
        .get_download_urls(v1::GetDownloadUrlsRequest {
            model_name: "m".into(),
            version: v.version,
            ..Default::default()
        })
        .await;
    assert_status(urls, Code::FailedPrecondition, &["without verification"]);
}

pub async fn cli_uploads_a_directory_and_downloads_it_back(backend: Backend) {
    let (f, _registry) = fixture(backend, |_| {}).await;
    let work = std::env::temp_dir().join(format!("bindery-cli-upload-{}-{backend:?}", std::process::id()));
    let (src, dest) = (work.join("model"), work.join("fetched"));
    let files = [("model.onnx", bytes(150_000, 20)), ("tokenizer/vocab.txt", bytes(2_000, 21))];
    for (path, data) in &files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let endpoint = f.registry.endpoint();
    let bindery = |argv: Vec<String>| {
        let endpoint = endpoint.clone();
        async move {
            let mut full =
                vec!["bindery".to_owned(), "--server".into(), endpoint, "--actor".into(), "ci".into()];
            full.extend(argv);
            let cli = bindery_server::cli::ClientCli::try_parse_from(full)?;
            bindery_server::cli::run(cli.args, cli.command).await
        }
    };
    let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    bindery(args("model create cli")).await.unwrap();
    let out = bindery(vec![
        "upload".into(),
        "cli".into(),
        src.display().to_string(),
        "--request-id".into(),
        "r1".into(),
    ])
    .await
    .unwrap();
    assert!(out.contains("uploaded 2 file(s) and registered"), "{out}");
    bindery(args("bind cli production 1")).await.unwrap();
    let out = bindery(vec![
        "download".into(),
        "cli".into(),
        "--binding".into(),
        "production".into(),
        "--to".into(),
        dest.display().to_string(),
    ])
    .await
    .unwrap();
    assert!(out.contains("downloaded 2 file(s)"), "{out}");
    for (path, data) in &files {
        assert!(std::fs::read(dest.join(path)).unwrap() == *data, "{path} differs after the round trip");
    }
    let _ = std::fs::remove_dir_all(&work);
}
