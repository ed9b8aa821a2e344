//! Sending presigned requests: what a client without object-store credentials does with the URLs
//! the registry hands out. Used by the `bindery upload`/`download` commands and the tests.

use std::path::Path;

use bindery_core::{PresignedRequest, hex};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// An HTTP(S) client for presigned URLs.
#[derive(Clone)]
pub struct Transfer {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// The answer to a presigned request.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Bytes,
}

impl Transfer {
    pub fn new() -> anyhow::Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(https) })
    }

    /// Sends `request` with `body`, exactly as presigned (method, URL, every signed header).
    pub async fn send(&self, request: &PresignedRequest, body: Bytes) -> anyhow::Result<Reply> {
        let response = self.start(request, body).await?;
        let status = response.status().as_u16();
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, etag, body })
    }

    /// Sends `request` with `body` and reads at most `max_bytes` of the answer: for small JSON
    /// documents from servers the registry does not control (a JWKS, an identity provider's
    /// token endpoint), where a longer answer is refused rather than buffered.
    pub async fn send_limited(
        &self,
        request: &PresignedRequest,
        body: Bytes,
        max_bytes: usize,
    ) -> anyhow::Result<Reply> {
        let response = self.start(request, body).await?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer (at most {max_bytes} bytes): {e}"))?
            .to_bytes();
        Ok(Reply { status, etag: None, body })
    }

    async fn start(
        &self,
        request: &PresignedRequest,
        body: Bytes,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let mut builder = Request::builder().method(request.method.as_str()).uri(&request.url);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        Ok(self.client.request(builder.body(Full::new(body))?).await?)
    }

    /// PUTs bytes `[offset, offset + len)` of `file`.
    pub async fn put_range(
        &self,
        request: &PresignedRequest,
        file: &Path,
        offset: u64,
        len: u64,
    ) -> anyhow::Result<Reply> {
        let mut f = tokio::fs::File::open(file).await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        let mut buf = Vec::with_capacity(usize::try_from(len)?);
        f.take(len).read_to_end(&mut buf).await?;
        self.send(request, Bytes::from(buf)).await
    }

    /// Sends the GET of `request` and returns the answer with its body unread, to stream on.
    pub async fn open(
        &self,
        request: &PresignedRequest,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        self.start(request, Bytes::new()).await
    }

    /// Streams the GET of `request` into `dest`; returns the status and the SHA-256 of what
    /// arrived (empty unless 200; nothing is written then).
    pub async fn download(&self, request: &PresignedRequest, dest: &Path) -> anyhow::Result<(u16, String)> {
        let response = self.open(request).await?;
        let status = response.status().as_u16();
        if status != 200 {
            return Ok((status, String::new()));
        }
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let mut f = tokio::fs::File::create(dest).await?;
        let mut hasher = Sha256::new();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                hasher.update(&data);
                f.write_all(&data).await?;
            }
        }
        f.sync_all().await?;
        Ok((status, hex(&hasher.finalize())))
    }
}

/// Size and lowercase hex SHA-256 of a local file.
pub async fn describe_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok((size, hex(&hasher.finalize())))
}
