//! [`ArtifactStore`] on a local directory, for `bindery dev`: `s3://bucket/key` is the file
//! `<root>/<bucket>/<key>`, so the same URIs, upload sessions and downloads work without S3.
//!
//! Presigned requests are URLs on a small HTTP/1.1 server ([`serve_local`]) signed with
//! HMAC-SHA256 over (operation, bucket, key, expiry, upload id, part, sha256) under a per-process
//! secret: a tampered or expired URL gets 403, like S3's. A PUT carries the file's SHA-256 in its
//! signed URL and is refused (400) when the body hashes differently; nothing is written then.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bindery_core::{
    ArtifactStore, Error, ObjectInfo, ObjectLocation, PendingUpload, PresignedRequest, Result, hex,
};
use bytes::Bytes;
use futures_util::TryStreamExt;
use hmac::{Hmac, Mac};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Objects up to this size report their SHA-256 on `head` (hashed on demand), standing in for
/// S3's stored checksum; larger ones are hashed only when an upload session asks.
const HEAD_HASH_LIMIT: u64 = 64 * 1024 * 1024;
/// Multipart uploads in progress live here, outside every bucket (bucket names cannot start
/// with a dot).
const UPLOADS_DIR: &str = ".bindery-uploads";

type HmacSha256 = Hmac<Sha256>;

pub struct LocalStore {
    root: PathBuf,
    /// e.g. `http://127.0.0.1:50080`, where [`serve_local`] answers.
    base_url: String,
    secret: [u8; 32],
}

impl LocalStore {
    /// A store on `root` (created if missing) whose presigned URLs point at `base_url`.
    pub fn new(root: &Path, base_url: &str) -> Result<Self> {
        std::fs::create_dir_all(root.join(UPLOADS_DIR)).map_err(|e| {
            Error::Unavailable(format!("creating artifact directory {}: {e}", root.display()))
        })?;
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Ok(Self { root: root.to_owned(), base_url: base_url.trim_end_matches('/').to_owned(), secret })
    }

    fn path(&self, object: &ObjectLocation) -> Result<PathBuf> {
        safe_key(&object.bucket, &object.key)?;
        Ok(self.root.join(&object.bucket).join(&object.key))
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf> {
        bindery_core::validate::uuid("upload_id", upload_id)?;
        Ok(self.root.join(UPLOADS_DIR).join(upload_id))
    }

    fn signature(&self, grant: &Grant) -> String {
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            grant.op, grant.bucket, grant.key, grant.expires, grant.upload, grant.part, grant.sha256
        );
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.secret) else { return String::new() };
        mac.update(canonical.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    fn presign(&self, method: &str, grant: &Grant, ttl: Duration) -> PresignedRequest {
        let signature = self.signature(grant);
        let url = format!(
            "{}/{}/{}?op={}&expires={}&upload={}&part={}&sha256={}&signature={signature}",
            self.base_url,
            grant.bucket,
            encode(&grant.key),
            grant.op,
            grant.expires,
            grant.upload,
            grant.part,
            grant.sha256
        );
        PresignedRequest {
            method: method.to_owned(),
            url,
            headers: Vec::new(),
            expires_at: SystemTime::now() + ttl,
        }
    }

    fn grant(op: &'static str, object: &ObjectLocation, ttl: Duration) -> Grant {
        let expires = (SystemTime::now() + ttl).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Grant {
            op: op.to_owned(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            expires,
            upload: String::new(),
            part: 0,
            sha256: String::new(),
        }
    }

    async fn info(&self, object: &ObjectLocation, path: &Path, hash: bool) -> Result<Option<ObjectInfo>> {
        let meta = match tokio::fs::metadata(path).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(object, &e)),
        };
        let modified = meta.modified().ok();
        let nanos = modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        let sha256 = if hash && meta.len() <= HEAD_HASH_LIMIT { Some(hash_file(path).await?) } else { None };
        Ok(Some(ObjectInfo {
            location: object.clone(),
            size_bytes: meta.len(),
            etag: format!("{:x}-{nanos:x}", meta.len()),
            last_modified: modified,
            sha256,
        }))
    }
}

fn io(object: &ObjectLocation, e: &std::io::Error) -> Error {
    Error::unavailable(format!("the artifact store failed on {object}; retry later"), e)
}

async fn hash_file(path: &Path) -> Result<String> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| {
        Error::unavailable(
            "the artifact store failed reading a file; retry later",
            format!("{}: {e}", path.display()),
        )
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(|e| {
            Error::unavailable(
                "the artifact store failed reading a file; retry later",
                format!("{}: {e}", path.display()),
            )
        })?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&hasher.finalize()))
}

/// Bucket and key may name only a path inside the root.
fn safe_key(bucket: &str, key: &str) -> Result<()> {
    let bad_bucket = bucket.is_empty() || bucket.starts_with('.') || bucket.contains('/');
    let bad_key = key.starts_with('/') || key.split('/').any(|s| s == "." || s == "..") || key.contains('\\');
    if bad_bucket || bad_key {
        return Err(Error::InvalidArgument(format!("s3://{bucket}/{key} is not a valid object location")));
    }
    Ok(())
}

/// What a presigned URL allows.
struct Grant {
    op: String,
    bucket: String,
    key: String,
    expires: u64,
    upload: String,
    part: u32,
    sha256: String,
}

#[async_trait]
impl ArtifactStore for LocalStore {
    async fn head(&self, object: &ObjectLocation) -> Result<Option<ObjectInfo>> {
        let path = self.path(object)?;
        self.info(object, &path, true).await
    }

    async fn list(
        &self,
        prefix: &ObjectLocation,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>> {
        let bucket_root = self.root.join(&prefix.bucket);
        safe_key(&prefix.bucket, &prefix.key)?;
        // Walk from the deepest directory the prefix names.
        let dir_part = prefix.key.rsplit_once('/').map_or("", |(d, _)| d);
        let mut pending = vec![bucket_root.join(dir_part)];
        let mut found = Vec::new();
        while let Some(dir) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(prefix, &e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| io(prefix, &e))? {
                let path = entry.path();
                let kind = entry.file_type().await.map_err(|e| io(prefix, &e))?;
                if kind.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Ok(relative) = path.strip_prefix(&bucket_root) else { continue };
                let Some(key) = relative.to_str().map(|k| k.replace(std::path::MAIN_SEPARATOR, "/")) else {
                    continue;
                };
                if !key.starts_with(&prefix.key)
                    || key.contains("/.tmp-")
                    || key.starts_with(".tmp-")
                    || start_after.is_some_and(|after| key.as_str() <= after)
                {
                    continue;
                }
                let object = ObjectLocation::new(&prefix.bucket, key);
                if let Some(info) = self.info(&object, &path, false).await? {
                    found.push(info);
                }
            }
        }
        // A directory walk has no key order: sort, then keep the first `limit` (dev's store only).
        found.sort_by(|a, b| a.location.key.cmp(&b.location.key));
        found.truncate(limit);
        Ok(found)
    }

    async fn hash_sha256(&self, object: &ObjectLocation) -> Result<String> {
        let path = self.path(object)?;
        if tokio::fs::metadata(&path).await.is_err() {
            return Err(Error::FailedPrecondition(format!("artifact not found at {object}")));
        }
        hash_file(&path).await
    }

    async fn delete(&self, object: &ObjectLocation) -> Result<()> {
        let path = self.path(object)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(object, &e)),
        }
        // Tidy now-empty directories up to the bucket (remove_dir fails on non-empty ones).
        let bucket_root = self.root.join(&object.bucket);
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == bucket_root || tokio::fs::remove_dir(&d).await.is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    async fn presign_get(&self, object: &ObjectLocation, ttl: Duration) -> Result<PresignedRequest> {
        safe_key(&object.bucket, &object.key)?;
        Ok(self.presign("GET", &Self::grant("get", object, ttl), ttl))
    }

    async fn presign_put(
        &self,
        object: &ObjectLocation,
        sha256: &str,
        ttl: Duration,
    ) -> Result<PresignedRequest> {
        safe_key(&object.bucket, &object.key)?;
        let grant = Grant { sha256: sha256.to_owned(), ..Self::grant("put", object, ttl) };
        Ok(self.presign("PUT", &grant, ttl))
    }

    async fn create_multipart(&self, object: &ObjectLocation) -> Result<String> {
        safe_key(&object.bucket, &object.key)?;
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.upload_dir(&id)?;
        tokio::fs::create_dir_all(&dir).await.map_err(|e| io(object, &e))?;
        tokio::fs::write(dir.join("target"), object.uri()).await.map_err(|e| io(object, &e))?;
        Ok(id)
    }

    async fn presign_part(
        &self,
        object: &ObjectLocation,
        upload_id: &str,
        part_number: u32,
        ttl: Duration,
    ) -> Result<PresignedRequest> {
        self.upload_dir(upload_id)?;
        let grant =
            Grant { upload: upload_id.to_owned(), part: part_number, ..Self::grant("part", object, ttl) };
        Ok(self.presign("PUT", &grant, ttl))
    }

    async fn complete_multipart(&self, object: &ObjectLocation, upload_id: &str, parts: u32) -> Result<()> {
        let dir = self.upload_dir(upload_id)?;
        if tokio::fs::metadata(&dir).await.is_err() {
            return Err(Error::FailedPrecondition(format!("multipart upload of {object} no longer exists")));
        }
        let missing: Vec<u32> = (1..=parts).filter(|n| !dir.join(format!("part-{n}")).is_file()).collect();
        if !missing.is_empty() {
            return Err(object.parts_missing(&missing));
        }
        let target = self.path(object)?;
        let staged = dir.join("assembled");
        {
            let mut out = tokio::fs::File::create(&staged).await.map_err(|e| io(object, &e))?;
            for n in 1..=parts {
                let mut part =
                    tokio::fs::File::open(dir.join(format!("part-{n}"))).await.map_err(|e| io(object, &e))?;
                tokio::io::copy(&mut part, &mut out).await.map_err(|e| io(object, &e))?;
            }
            out.sync_all().await.map_err(|e| io(object, &e))?;
        }
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| io(object, &e))?;
        }
        tokio::fs::rename(&staged, &target).await.map_err(|e| io(object, &e))?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(())
    }

    async fn abort_multipart(&self, object: &ObjectLocation, upload_id: &str) -> Result<()> {
        let dir = self.upload_dir(upload_id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(object, &e)),
        }
    }

    async fn list_multipart_uploads(
        &self,
        prefix: &ObjectLocation,
        limit: usize,
    ) -> Result<Vec<PendingUpload>> {
        let mut entries = match tokio::fs::read_dir(self.root.join(UPLOADS_DIR)).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(prefix, &e)),
        };
        let mut found = Vec::new();
        while found.len() < limit
            && let Some(entry) = entries.next_entry().await.map_err(|e| io(prefix, &e))?
        {
            let target = entry.path().join("target");
            let (Ok(uri), Ok(meta)) =
                (tokio::fs::read_to_string(&target).await, tokio::fs::metadata(&target).await)
            else {
                continue;
            };
            let (Some(location), Some(upload_id)) =
                (ObjectLocation::from_uri(&uri), entry.file_name().to_str().map(str::to_owned))
            else {
                continue;
            };
            if prefix.covers(&location) {
                found.push(PendingUpload { location, upload_id, initiated: meta.modified().ok() });
            }
        }
        Ok(found)
    }
}

// ---------------------------------------------------------------------------------------------
// Percent-encoding of keys in URL paths

fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'%') => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            Some(&b) => {
                out.push(b);
                i += 1;
            }
            None => break,
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// The HTTP side of presigned URLs

type HttpResponse = Response<BoxBody<Bytes, std::io::Error>>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(Full::new(body.into()).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    r
}

/// Serves presigned GETs and PUTs for `store` on `listener` until the task is dropped.
pub async fn serve_local(store: Arc<LocalStore>, listener: TcpListener) {
    let limits = crate::HttpLimits::default();
    crate::serve_http1(listener, limits, move |req| {
        let store = store.clone();
        async move { handle(&store, req, limits.body_idle_timeout).await }
    })
    .await;
}

fn parse_grant(req: &Request<Incoming>) -> Option<(Grant, String)> {
    parse_grant_uri(req.uri().path(), req.uri().query())
}

/// The grant and signature a presigned URL's path and query carry; `None` when malformed.
fn parse_grant_uri(path: &str, query: Option<&str>) -> Option<(Grant, String)> {
    let path = path.strip_prefix('/')?;
    let (bucket, key) = path.split_once('/')?;
    let mut grant = Grant {
        op: String::new(),
        bucket: bucket.to_owned(),
        key: decode(key)?,
        expires: 0,
        upload: String::new(),
        part: 0,
        sha256: String::new(),
    };
    let mut signature = String::new();
    for pair in query.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "op" => v.clone_into(&mut grant.op),
            "expires" => grant.expires = v.parse().ok()?,
            "upload" => v.clone_into(&mut grant.upload),
            "part" => grant.part = v.parse().ok()?,
            "sha256" => v.clone_into(&mut grant.sha256),
            "signature" => v.clone_into(&mut signature),
            _ => {}
        }
    }
    Some((grant, signature))
}

async fn handle(store: &LocalStore, req: Request<Incoming>, idle: Duration) -> HttpResponse {
    let Some((grant, signature)) = parse_grant(&req) else {
        return reply(StatusCode::BAD_REQUEST, "malformed artifact URL\n");
    };
    let expected = store.signature(&grant);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let method_ok = matches!(
        (req.method(), grant.op.as_str()),
        (&Method::GET | &Method::HEAD, "get") | (&Method::PUT, "put" | "part")
    );
    if signature.is_empty() || !constant_time_eq(signature.as_bytes(), expected.as_bytes()) || !method_ok {
        return reply(StatusCode::FORBIDDEN, "signature does not match\n");
    }
    if grant.expires < now {
        return reply(StatusCode::FORBIDDEN, "request has expired\n");
    }
    let object = ObjectLocation::new(&grant.bucket, &grant.key);
    let declared = if req.method() == Method::PUT {
        let length = req.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
        match length.map(str::parse::<u64>) {
            Some(Ok(n)) if n <= MAX_PUT_BYTES => n,
            Some(Ok(_)) => {
                return reply(StatusCode::PAYLOAD_TOO_LARGE, "EntityTooLarge: at most 5 GiB per PUT\n");
            }
            _ => return reply(StatusCode::LENGTH_REQUIRED, "MissingContentLength: send Content-Length\n"),
        }
    } else {
        0
    };
    let body = Upload { declared, idle };
    let result = match grant.op.as_str() {
        "get" => get(store, &object, req.method() == Method::HEAD).await,
        "put" => {
            let Ok(path) = store.path(&object) else { return reply(StatusCode::BAD_REQUEST, "bad key\n") };
            put(req.into_body(), body, &path, Some(&grant.sha256)).await
        }
        _ => {
            let Ok(dir) = store.upload_dir(&grant.upload) else {
                return reply(StatusCode::BAD_REQUEST, "bad upload\n");
            };
            if !dir.is_dir() {
                return reply(StatusCode::NOT_FOUND, "no such upload\n");
            }
            put(req.into_body(), body, &dir.join(format!("part-{}", grant.part)), None).await
        }
    };
    result.unwrap_or_else(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn get(store: &LocalStore, object: &ObjectLocation, head_only: bool) -> std::io::Result<HttpResponse> {
    let Ok(path) = store.path(object) else { return Ok(reply(StatusCode::BAD_REQUEST, "bad key\n")) };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(reply(StatusCode::NOT_FOUND, "no such key\n"));
        }
        Err(e) => return Err(e),
    };
    let len = file.metadata().await?.len();
    let mut r = if head_only {
        reply(StatusCode::OK, Vec::new())
    } else {
        // Streamed: dev artifacts can be larger than memory should hold.
        let frames = tokio_util::io::ReaderStream::new(file).map_ok(Frame::data);
        Response::new(StreamBody::new(frames).boxed())
    };
    if let Ok(v) = hyper::header::HeaderValue::from_str(&len.to_string()) {
        r.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
    }
    Ok(r)
}

/// S3's largest single PUT (an object or a part).
const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// What a PUT said it would send, and how long it may go quiet.
#[derive(Clone, Copy)]
struct Upload {
    declared: u64,
    idle: Duration,
}

/// Streams the body to a temporary file next to `path` (never more than its declared
/// Content-Length, each frame within the idle timeout), checks its SHA-256 when one is given,
/// then renames it into place: a refused or broken upload leaves nothing behind.
async fn put(
    mut body: Incoming,
    upload: Upload,
    path: &Path,
    sha256: Option<&str>,
) -> std::io::Result<HttpResponse> {
    let Some(parent) = path.parent() else { return Ok(reply(StatusCode::BAD_REQUEST, "bad key\n")) };
    tokio::fs::create_dir_all(parent).await?;
    let temp = parent.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let mut file = tokio::fs::File::create(&temp).await?;
    let mut hasher = Sha256::new();
    let copied: std::io::Result<()> = async {
        let mut received = 0u64;
        while let Some(frame) = crate::next_frame(&mut body, upload.idle).await? {
            if let Some(data) = frame.data_ref() {
                received += data.len() as u64;
                if received > upload.declared {
                    return Err(std::io::Error::other("the body is longer than its Content-Length"));
                }
                hasher.update(data);
                file.write_all(data).await?;
            }
        }
        file.sync_all().await
    }
    .await;
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e);
    }
    let actual = hex(&hasher.finalize());
    if let Some(expected) = sha256
        && !expected.eq_ignore_ascii_case(&actual)
    {
        let _ = tokio::fs::remove_file(&temp).await;
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            format!("BadDigest: the body's SHA-256 is {actual}, the URL was signed for {expected}\n"),
        ));
    }
    tokio::fs::rename(&temp, path).await?;
    let mut r = reply(StatusCode::OK, Vec::new());
    if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("\"{actual}\"")) {
        r.headers_mut().insert(hyper::header::ETAG, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_urls() {
        for key in ["a/b.onnx", "m/with space/ü.bin", "x%y"] {
            assert_eq!(decode(&encode(key)).as_deref(), Some(key));
        }
        assert_eq!(encode("a b"), "a%20b");
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        assert!(safe_key("b", "a/../../etc/passwd").is_err());
        assert!(safe_key(".bindery-uploads", "x").is_err());
        assert!(safe_key("b", "/abs").is_err());
        assert!(safe_key("b", "models/x/y.bin").is_ok());
    }

    #[tokio::test]
    async fn listing_pages_in_key_order_and_stops_at_the_limit() {
        let dir = std::env::temp_dir().join(format!("bindery-local-list-{}", std::process::id()));
        let store = LocalStore::new(&dir, "http://127.0.0.1:1").unwrap();
        for i in 0..25 {
            let path = dir.join("b").join("p").join(format!("{i:02}"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        let prefix = ObjectLocation::new("b", "p/");
        let keys = |page: &[ObjectInfo]| page.iter().map(|o| o.location.key.clone()).collect::<Vec<_>>();
        let first = store.list(&prefix, None, 10).await.unwrap();
        assert_eq!(keys(&first), (0..10).map(|i| format!("p/{i:02}")).collect::<Vec<_>>());
        let next = store.list(&prefix, Some("p/09"), 10).await.unwrap();
        assert_eq!(keys(&next).first().map(String::as_str), Some("p/10"));
        assert_eq!(store.list(&prefix, Some("p/19"), 10).await.unwrap().len(), 5);
        std::fs::remove_dir_all(&dir).ok();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

        /// Whatever a stranger sends as a presigned URL, parsing never panics, and a parsed
        /// key never climbs out of the store's root.
        #[test]
        fn presigned_urls_parse_without_panicking(path in ".{0,200}", query in proptest::option::of(".{0,200}")) {
            if let Some((grant, _)) = parse_grant_uri(&path, query.as_deref()) {
                let _ = safe_key(&grant.bucket, &grant.key);
            }
            let _ = decode(&path);
        }
    }
}
