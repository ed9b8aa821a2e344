//! [`ArtifactStore`] on S3 and S3-compatible servers (MinIO, Ceph, R2, GCS interop), through
//! `aws-sdk-s3`. Credentials come from the configuration or the standard AWS chain (environment,
//! profile, web identity, instance metadata).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bindery_core::{
    ArtifactStore, Error, ObjectInfo, ObjectLocation, PendingUpload, PresignedRequest, Result, hex, unhex,
};
use sha2::{Digest, Sha256};

/// How to reach the object store.
#[derive(Clone, Default)]
pub struct S3Config {
    /// e.g. `http://127.0.0.1:9000`; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// `None`: from the AWS chain, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), as most S3-compatible servers need.
    pub force_path_style: bool,
    /// Static credentials; `None` uses the AWS credential chain.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

pub struct S3Store {
    client: Client,
    endpoint: String,
}

impl S3Store {
    pub async fn connect(config: &S3Config) -> Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "bindery-config"));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.force_path_style)
            // Checksums only where the caller asks: a presigned PUT carries the file's SHA-256,
            // nothing else, and S3-compatible servers need not know the CRC variants.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.clone());
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            endpoint: config.endpoint.clone().unwrap_or_else(|| "AWS S3".to_owned()),
        })
    }

    /// Maps an SDK error on `object` to a domain error a caller can act on.
    fn error<E: ProvideErrorMetadata>(&self, op: &str, object: &ObjectLocation, e: &SdkError<E>) -> Error {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().unwrap_or_default();
        match (e, status) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => Error::unavailable(
                format!("the object store is unreachable ({op} {object}); retry later"),
                format!("endpoint {}: {e}", self.endpoint),
            ),
            (_, Some(403)) => Error::FailedPrecondition(format!(
                "access denied to {object} ({op}: {code}); grant the registry's credentials access to bucket '{}'",
                object.bucket
            )),
            (_, Some(404)) if code == "NoSuchBucket" => Error::FailedPrecondition(format!(
                "bucket '{}' does not exist ({op} {object})",
                object.bucket
            )),
            (_, Some(404)) if code == "NoSuchUpload" => {
                Error::FailedPrecondition(format!("multipart upload of {object} no longer exists ({op})"))
            }
            (_, Some(404)) => Error::FailedPrecondition(format!("artifact not found at {object}")),
            (_, Some(s)) if s >= 500 => Error::unavailable(
                format!("the object store failed {op} {object} ({s}); retry later"),
                format!("endpoint {}: {code}", self.endpoint),
            ),
            _ => Error::FailedPrecondition(format!(
                "object store refused {op} {object}: {}",
                e.message().map_or_else(|| format!("{e}"), str::to_owned)
            )),
        }
    }
}

fn presigning(ttl: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(ttl)
        .map_err(|e| Error::InvalidArgument(format!("presigned URL lifetime: {e}")))
}

fn presigned(r: &aws_sdk_s3::presigning::PresignedRequest, ttl: Duration) -> PresignedRequest {
    PresignedRequest {
        method: r.method().to_owned(),
        url: r.uri().to_owned(),
        headers: r.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        expires_at: SystemTime::now() + ttl,
    }
}

fn etag(raw: Option<&str>) -> String {
    raw.unwrap_or_default().trim_matches('"').to_owned()
}

fn size(raw: Option<i64>) -> u64 {
    raw.and_then(|s| u64::try_from(s).ok()).unwrap_or(0)
}

fn time(raw: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<SystemTime> {
    raw.and_then(|t| SystemTime::try_from(*t).ok())
}

/// S3 reports SHA-256 checksums base64-encoded; a composite (multipart) one ends in `-N` and is
/// not the object's SHA-256.
fn sha256_of_checksum(raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    if raw.contains('-') {
        return None;
    }
    let bytes = BASE64.decode(raw).ok()?;
    (bytes.len() == 32).then(|| hex(&bytes))
}

#[async_trait]
impl ArtifactStore for S3Store {
    async fn head(&self, object: &ObjectLocation) -> Result<Option<ObjectInfo>> {
        let out = self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        match out {
            Ok(o) => Ok(Some(ObjectInfo {
                location: object.clone(),
                size_bytes: size(o.content_length()),
                etag: etag(o.e_tag()),
                last_modified: time(o.last_modified()),
                sha256: sha256_of_checksum(o.checksum_sha256()),
            })),
            Err(e)
                if e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                    && e.code() != Some("NoSuchBucket") =>
            {
                Ok(None)
            }
            Err(e) => Err(self.error("HeadObject", object, &e)),
        }
    }

    async fn list(
        &self,
        prefix: &ObjectLocation,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>> {
        let page_size = i32::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&prefix.bucket)
            .prefix(&prefix.key)
            .set_start_after(start_after.map(str::to_owned))
            .max_keys(page_size)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while found.len() < limit
            && let Some(page) = pages.next().await
        {
            let page = page.map_err(|e| self.error("ListObjectsV2", prefix, &e))?;
            for o in page.contents().iter().take(limit - found.len()) {
                let Some(key) = o.key() else { continue };
                found.push(ObjectInfo {
                    location: ObjectLocation::new(&prefix.bucket, key),
                    size_bytes: size(o.size()),
                    etag: etag(o.e_tag()),
                    last_modified: time(o.last_modified()),
                    sha256: None,
                });
            }
        }
        found.sort_by(|a, b| a.location.key.cmp(&b.location.key));
        Ok(found)
    }

    async fn hash_sha256(&self, object: &ObjectLocation) -> Result<String> {
        let out = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| self.error("GetObject", object, &e))?;
        let mut body = out.body;
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                Error::unavailable(
                    format!("reading {object} from the object store failed; retry later"),
                    format!("endpoint {}: {e}", self.endpoint),
                )
            })?;
            hasher.update(&chunk);
        }
        Ok(hex(&hasher.finalize()))
    }

    async fn delete(&self, object: &ObjectLocation) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| self.error("DeleteObject", object, &e))?;
        Ok(())
    }

    async fn presign_get(&self, object: &ObjectLocation, ttl: Duration) -> Result<PresignedRequest> {
        let r = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| self.error("presign GetObject", object, &e))?;
        Ok(presigned(&r, ttl))
    }

    async fn presign_put(
        &self,
        object: &ObjectLocation,
        sha256: &str,
        ttl: Duration,
    ) -> Result<PresignedRequest> {
        let digest = unhex(sha256).ok_or_else(|| Error::invalid("sha256", "is not hex"))?;
        let r = self
            .client
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .checksum_sha256(BASE64.encode(digest))
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| self.error("presign PutObject", object, &e))?;
        Ok(presigned(&r, ttl))
    }

    async fn create_multipart(&self, object: &ObjectLocation) -> Result<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| self.error("CreateMultipartUpload", object, &e))?;
        out.upload_id().map(str::to_owned).ok_or_else(|| {
            Error::Internal(format!("CreateMultipartUpload of {object} returned no upload id"))
        })
    }

    async fn presign_part(
        &self,
        object: &ObjectLocation,
        upload_id: &str,
        part_number: u32,
        ttl: Duration,
    ) -> Result<PresignedRequest> {
        let part = i32::try_from(part_number).map_err(|_| Error::invalid("part_number", "out of range"))?;
        let r = self
            .client
            .upload_part()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .part_number(part)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| self.error("presign UploadPart", object, &e))?;
        Ok(presigned(&r, ttl))
    }

    async fn complete_multipart(&self, object: &ObjectLocation, upload_id: &str, parts: u32) -> Result<()> {
        let mut listed = Vec::new();
        let mut pages = self
            .client
            .list_parts()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("ListParts", object, &e))?;
            for p in page.parts() {
                if let Some(n) = p.part_number() {
                    listed.push((n, p.e_tag().map(str::to_owned)));
                }
            }
        }
        listed.sort_by_key(|p| p.0);
        listed.dedup_by_key(|p| p.0);
        let numbers: Vec<i32> = listed.iter().map(|p| p.0).collect();
        let expected: Vec<i32> = (1..=i32::try_from(parts).unwrap_or(i32::MAX)).collect();
        if numbers != expected {
            let missing: Vec<u32> = expected
                .iter()
                .filter(|n| !numbers.contains(n))
                .filter_map(|n| u32::try_from(*n).ok())
                .collect();
            return Err(object.parts_missing(&missing));
        }
        let completed = listed
            .into_iter()
            .map(|(n, e)| CompletedPart::builder().part_number(n).set_e_tag(e).build())
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
            .send()
            .await
            .map_err(|e| self.error("CompleteMultipartUpload", object, &e))?;
        Ok(())
    }

    async fn abort_multipart(&self, object: &ObjectLocation, upload_id: &str) -> Result<()> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&object.bucket)
            .key(&object.key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already completed or aborted: nothing left to abort.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(()),
            Err(e) => Err(self.error("AbortMultipartUpload", object, &e)),
        }
    }

    async fn list_multipart_uploads(
        &self,
        prefix: &ObjectLocation,
        limit: usize,
    ) -> Result<Vec<PendingUpload>> {
        let mut found = Vec::new();
        let (mut key_marker, mut upload_marker) = (None::<String>, None::<String>);
        while found.len() < limit {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&prefix.bucket)
                .prefix(&prefix.key)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_marker.take())
                .send()
                .await
                .map_err(|e| self.error("ListMultipartUploads", prefix, &e))?;
            for upload in page.uploads().iter().take(limit - found.len()) {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else { continue };
                found.push(PendingUpload {
                    location: ObjectLocation::new(&prefix.bucket, key),
                    upload_id: id.to_owned(),
                    initiated: time(upload.initiated()),
                });
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            upload_marker = page.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        Ok(found)
    }
}
