//! Upload sessions are bounded up front: a request that would need millions of presigned URLs,
//! or an answer over the message limit, is refused before any multipart upload exists or any
//! row is written; a legitimate very large file gets bigger parts instead of too many.

use bindery_proto::v1;
use bindery_test_util::ArtifactFixture;
use prost::Message;
use tonic::Code;

use crate::helpers::{Backend, assert_status, create_model};

const GIB: u64 = 1024 * 1024 * 1024;
const TIB: u64 = 1024 * GIB;

fn file(path: String, size_bytes: u64) -> v1::UploadFileSpec {
    v1::UploadFileSpec { path, size_bytes, sha256: "ab".repeat(32) }
}

pub(crate) async fn oversized_sessions_are_refused_before_anything_is_created(backend: Backend) {
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut registry = f.registry.registry().await.unwrap();
    create_model(&mut registry, "llm").await;
    let session = |files| v1::CreateUploadSessionRequest { model_name: "llm".into(), files };

    // 1,000 files of 5 TiB: once about 10 million part URLs; now refused at once.
    let huge = (0..1_000).map(|i| file(format!("shard-{i}.bin"), 5 * TIB)).collect();
    assert_status(
        registry.create_upload_session(session(huge)).await,
        Code::InvalidArgument,
        &["in one session", "split the files across sessions"],
    );
    // A file in 2,000 parts under a very long path: the answer would outgrow a message.
    let long = vec![file(format!("{}/model.bin", "d".repeat(1_000)), TIB)];
    assert_status(
        registry.create_upload_session(session(long)).await,
        Code::InvalidArgument,
        &["MiB one answer carries", "fewer files per session"],
    );
    assert_eq!(f.multipart_uploads_in_progress().unwrap(), 0, "a refused session started an upload");
    let sessions = f.registry.rows("SELECT count(*) FROM upload_sessions").await.unwrap();
    assert_eq!(sessions[0].0, 0, "a refused session was recorded");

    // One 300 GB file and one of 5 TiB: larger parts, at most 2,000 URLs, an answer that fits.
    for size in [300_000_000_000, 5 * TIB] {
        let grant = registry
            .create_upload_session(session(vec![file("model.safetensors".into(), size)]))
            .await
            .unwrap()
            .into_inner();
        let parts = &grant.files[0].parts;
        assert!(parts.len() <= 2_000, "{} parts for {size} bytes", parts.len());
        assert_eq!(parts.iter().map(|p| p.size_bytes).sum::<u64>(), size);
        assert!(parts.iter().all(|p| p.size_bytes <= 5 * GIB));
        assert!(grant.encoded_len() < 4 * 1024 * 1024, "answer of {} bytes", grant.encoded_len());
    }
}

/// `bindery dev`'s presigned-URL server takes a PUT only with a Content-Length of at most 5 GiB,
/// and never reads past it (S3 does the same).
pub(crate) async fn dev_uploads_need_a_bounded_content_length(backend: Backend) {
    if backend != Backend::Sqlite {
        return; // the S3 server enforces this itself
    }
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut registry = f.registry.registry().await.unwrap();
    create_model(&mut registry, "llm").await;
    let request =
        v1::CreateUploadSessionRequest { model_name: "llm".into(), files: vec![file("a.bin".into(), 4)] };
    let grant = registry.create_upload_session(request).await.unwrap().into_inner();
    let url = grant.files[0].put.as_ref().unwrap().url.clone();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let send = |head: String| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 256];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&answer[..n]).into_owned()
    };
    let chunked =
        send(format!("PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n"))
            .await;
    assert!(chunked.starts_with("HTTP/1.1 411"), "{chunked}");
    let huge =
        send(format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 6000000000\r\n\r\nabcd")).await;
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
}
