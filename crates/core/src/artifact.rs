//! Object storage as the registry sees it (design.md §4): where a version's bytes live, the facts a
//! store reports about them, and the [`ArtifactStore`] trait that S3 and the local directory of
//! `bindery dev` implement. The registry stores pointers; the bytes never pass through it, except
//! when it hashes an upload whose SHA-256 the object store cannot vouch for.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, ModelName, Result};

/// One object (`key` without a trailing slash) or every object under a prefix (`key` ending in
/// `/`) in a bucket: the parsed form of `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectLocation {
    pub bucket: String,
    pub key: String,
}

impl ObjectLocation {
    /// `Some` for an `s3://` URI (already validated by `validate::artifact_uri`), `None` for any
    /// other scheme.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/')?;
        Some(Self { bucket: bucket.to_owned(), key: key.to_owned() })
    }

    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self { bucket: bucket.into(), key: key.into() }
    }

    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// The object `path` under this prefix.
    pub fn join(&self, path: &str) -> Self {
        Self { bucket: self.bucket.clone(), key: format!("{}{path}", self.key) }
    }

    /// Whether `other` is this object, or lies under this prefix.
    pub fn covers(&self, other: &Self) -> bool {
        self.bucket == other.bucket
            && if self.is_prefix() { other.key.starts_with(&self.key) } else { other.key == self.key }
    }

    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// A multipart upload of this object cannot complete: these parts were never uploaded (an
    /// empty list: the store holds parts beyond the expected count).
    pub fn parts_missing(&self, missing: &[u32]) -> Error {
        let parts = if missing.is_empty() {
            "beyond the expected count".to_owned()
        } else {
            missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        };
        Error::FailedPrecondition(format!(
            "{self} is not fully uploaded: part(s) {parts} missing; upload them to their presigned URLs"
        ))
    }
}

impl std::fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Where artifacts may live (design.md §4): the registry uses its object-store credentials on
/// these locations only, so a caller cannot make it read, list or presign anything else those
/// credentials reach (a confused deputy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedLocations {
    /// Anywhere (`--artifact-allowed '*'`, or no object store configured).
    Any,
    /// Under one of these: a whole bucket (empty key) or a prefix (key ending in `/`).
    Only(Vec<ObjectLocation>),
}

impl AllowedLocations {
    /// `entries` (`s3://bucket`, `s3://bucket/prefix/`, or `*` for anywhere) plus, always, the
    /// whole `managed` bucket.
    pub fn parse(entries: &[String], managed: Option<&ObjectLocation>) -> Result<Self> {
        let mut allowed: Vec<ObjectLocation> =
            managed.map(|m| ObjectLocation::new(m.bucket.clone(), "")).into_iter().collect();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if entry == "*" {
                return Ok(Self::Any);
            }
            let bad = |why: &str| {
                Error::invalid(
                    "artifact_allowed",
                    format!("{entry:?} {why}: use s3://bucket or s3://bucket/prefix/"),
                )
            };
            let rest = entry.strip_prefix("s3://").ok_or_else(|| bad("is not an s3:// location"))?;
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if !key.is_empty() && !key.ends_with('/') {
                return Err(bad("names an object, not a prefix (end it with '/')"));
            }
            crate::validate::artifact_uri("artifact_allowed", &format!("s3://{bucket}/{key}x"))?;
            allowed.push(ObjectLocation::new(bucket, key));
        }
        allowed.sort();
        allowed.dedup();
        Ok(Self::Only(allowed))
    }

    pub fn allows(&self, location: &ObjectLocation) -> bool {
        match self {
            Self::Any => true,
            Self::Only(allowed) => {
                allowed.iter().any(|a| a.bucket == location.bucket && location.key.starts_with(&a.key))
            }
        }
    }

    /// `INVALID_ARGUMENT` naming the allowed locations when `location` is outside them.
    pub fn check(&self, field: &str, location: &ObjectLocation) -> Result<()> {
        if self.allows(location) {
            return Ok(());
        }
        let listed = match self {
            Self::Only(allowed) if !allowed.is_empty() => {
                allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            }
            _ => "none (set --artifact-bucket or --artifact-allowed)".to_owned(),
        };
        Err(Error::invalid(
            field,
            format!("{location} is outside the locations this registry may read artifacts from: {listed}"),
        ))
    }
}

/// What versions and sessions reference (design.md §4), for a lookup per object instead of a scan: objects by
/// location, prefixes by location (an object is covered by any prefix its key starts with).
pub struct ArtifactReferences {
    objects: HashSet<ObjectLocation>,
    prefixes: HashSet<ObjectLocation>,
}

impl ArtifactReferences {
    pub fn new(uris: &[String]) -> Self {
        let (prefixes, objects) =
            uris.iter().filter_map(|uri| ObjectLocation::from_uri(uri)).partition(ObjectLocation::is_prefix);
        Self { objects, prefixes }
    }

    pub fn cover(&self, object: &ObjectLocation) -> bool {
        self.objects.contains(object)
            || object.key.match_indices('/').any(|(i, _)| {
                self.prefixes.contains(&ObjectLocation::new(object.bucket.clone(), &object.key[..=i]))
            })
    }
}

/// How long a garbage-collection tombstone blocks registering onto its object: longer than any
/// registration takes from verifying an object to committing its version.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(3_600);

/// A registration whose artifact is, or covers, an object garbage collection is deleting.
pub fn artifact_being_collected(uri: &str, object: &str) -> Error {
    Error::FailedPrecondition(format!(
        "{uri} cannot be registered: garbage collection is deleting {object}, which nothing referenced \
         past the grace period; upload the artifact again and register the new location"
    ))
}

/// What an object store reports about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub location: ObjectLocation,
    pub size_bytes: u64,
    /// Without the quotes S3 puts around it.
    pub etag: String,
    pub last_modified: Option<SystemTime>,
    /// Lowercase hex SHA-256 of the whole object, where the store keeps one (S3's
    /// `ChecksumSHA256` of a single-part upload). Composite multipart checksums are not reported.
    pub sha256: Option<String>,
}

/// An HTTP request a client without credentials may send until `expires_at`. Every header listed
/// must be sent as given: it is part of the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: SystemTime,
}

/// The object storage the registry verifies, presigns and garbage-collects against.
///
/// Errors: an unreachable store is `Unavailable`; access denied and missing buckets are
/// `FailedPrecondition` naming the bucket and key.
#[async_trait]
pub trait ArtifactStore: Send + Sync + 'static {
    /// `None` when no such object exists.
    async fn head(&self, object: &ObjectLocation) -> Result<Option<ObjectInfo>>;
    /// Objects whose key starts with `prefix.key`, in key order: the first `limit` after the key
    /// `start_after` (from the start when `None`). Stops reading once it has `limit`.
    async fn list(
        &self,
        prefix: &ObjectLocation,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>>;
    /// Reads the object and returns its lowercase hex SHA-256.
    async fn hash_sha256(&self, object: &ObjectLocation) -> Result<String>;
    async fn delete(&self, object: &ObjectLocation) -> Result<()>;

    /// A GET of the object. Local signing: no round trip to the store.
    async fn presign_get(&self, object: &ObjectLocation, ttl: Duration) -> Result<PresignedRequest>;
    /// A PUT of exactly these bytes: the store refuses a body whose SHA-256 differs.
    async fn presign_put(
        &self,
        object: &ObjectLocation,
        sha256: &str,
        ttl: Duration,
    ) -> Result<PresignedRequest>;

    /// Starts a multipart upload; returns its upload id.
    async fn create_multipart(&self, object: &ObjectLocation) -> Result<String>;
    /// A PUT of part `part_number` (1-based) of a multipart upload.
    async fn presign_part(
        &self,
        object: &ObjectLocation,
        upload_id: &str,
        part_number: u32,
        ttl: Duration,
    ) -> Result<PresignedRequest>;
    /// Completes a multipart upload from the parts the store holds (the caller need not know
    /// their ETags). `FailedPrecondition` when parts are missing.
    async fn complete_multipart(&self, object: &ObjectLocation, upload_id: &str, parts: u32) -> Result<()>;
    async fn abort_multipart(&self, object: &ObjectLocation, upload_id: &str) -> Result<()>;
    /// Multipart uploads in progress whose key starts with `prefix.key` (at most `limit`).
    async fn list_multipart_uploads(
        &self,
        prefix: &ObjectLocation,
        limit: usize,
    ) -> Result<Vec<PendingUpload>>;
}

/// A multipart upload the object store holds open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub location: ObjectLocation,
    pub upload_id: String,
    pub initiated: Option<SystemTime>,
}

/// One file of a prefix artifact, as recorded when the version was registered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArtifactFile {
    /// Relative to the artifact's prefix.
    pub path: String,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    /// Lowercase hex SHA-256 where known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

/// A file an upload session accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadFile {
    pub path: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// Set when the file is uploaded in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<Multipart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multipart {
    pub upload_id: String,
    pub part_size: u64,
    pub parts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadSessionState {
    Open,
    /// Consumed by `RegisterVersion`, which created this version.
    Registered(u64),
    /// Expired before registration; its multipart uploads were aborted.
    Expired,
}

impl UploadSessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Registered(_) => "REGISTERED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str, version: Option<u64>) -> Option<Self> {
        match (s, version) {
            ("OPEN", _) => Some(Self::Open),
            ("REGISTERED", Some(v)) => Some(Self::Registered(v)),
            ("EXPIRED", _) => Some(Self::Expired),
            _ => None,
        }
    }
}

/// Files a client uploads under a registry-managed prefix, then registers as one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// A UUID.
    pub id: String,
    pub model: ModelName,
    /// `<bucket>/<managed prefix>/<model>/<id>/`.
    pub location: ObjectLocation,
    pub files: Vec<UploadFile>,
    pub state: UploadSessionState,
    pub created_at: SystemTime,
    pub created_by: String,
    pub expires_at: SystemTime,
}

impl ObjectInfo {
    /// What the audit log records about a garbage-collected object, and under which target.
    pub fn audit(&self) -> (String, serde_json::Value) {
        let before = serde_json::json!({
            "size_bytes": self.size_bytes,
            "etag": self.etag,
            "last_modified": self.last_modified
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        });
        (self.location.uri(), before)
    }
}

impl UploadSession {
    /// What the audit log records about the session, and under which target.
    pub fn audit(&self) -> (String, serde_json::Value) {
        let after = serde_json::json!({
            "location": self.location.uri(),
            "files": self.files,
            "state": self.state.as_str(),
            "expires_at": self.expires_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        });
        (format!("models/{}/upload_sessions/{}", self.model, self.id), after)
    }

    pub fn check_open(&self, now: SystemTime) -> Result<()> {
        match self.state {
            UploadSessionState::Registered(v) => Err(Error::FailedPrecondition(format!(
                "upload session {} was already registered as version {v} of model '{}'",
                self.id, self.model
            ))),
            UploadSessionState::Expired => Err(Error::FailedPrecondition(format!(
                "upload session {} expired; create a new one and upload again",
                self.id
            ))),
            UploadSessionState::Open if now >= self.expires_at => Err(Error::FailedPrecondition(format!(
                "upload session {} expired; create a new one and upload again",
                self.id
            ))),
            UploadSessionState::Open => Ok(()),
        }
    }
}

/// A file a client wants to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: String,
    pub size_bytes: u64,
    pub sha256: String,
}

/// How to upload one file: one PUT, or one PUT per part.
#[derive(Debug, Clone)]
pub struct FileGrant {
    pub path: String,
    pub size_bytes: u64,
    pub put: Option<PresignedRequest>,
    pub parts: Vec<PartGrant>,
}

#[derive(Debug, Clone)]
pub struct PartGrant {
    pub part_number: u32,
    pub offset: u64,
    pub size_bytes: u64,
    pub put: PresignedRequest,
}

#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub session: UploadSession,
    pub files: Vec<FileGrant>,
}

/// Where to download one file of an artifact.
#[derive(Debug, Clone)]
pub struct DownloadUrl {
    pub path: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub request: PresignedRequest,
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Bytes first, then one UTF-8 check (every Resolve answered from a compact artifact does
    // this for its digest).
    let mut s = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)]);
        s.push(DIGITS[usize::from(b & 0x0f)]);
    }
    String::from_utf8(s).unwrap_or_default()
}

/// A SHA-256 spelled as [`hex`] spells it (64 lowercase hex characters), as its 32 bytes; `None`
/// for anything else (uppercase would not spell back the same).
pub fn sha256_bytes(s: &str) -> Option<[u8; 32]> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(*bytes.get(2 * i)?)? << 4 | digit(*bytes.get(2 * i + 1)?)?;
    }
    Some(out)
}

/// Parses lowercase or uppercase hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_cover() {
        let p = ObjectLocation::from_uri("s3://b/models/x/").unwrap_or_else(|| ObjectLocation::new("", ""));
        assert!(p.is_prefix());
        assert!(p.covers(&ObjectLocation::new("b", "models/x/a.bin")));
        assert!(!p.covers(&ObjectLocation::new("b", "models/xy/a.bin")));
        assert!(!p.covers(&ObjectLocation::new("c", "models/x/a.bin")));
        let o = ObjectLocation::new("b", "k.bin");
        assert!(o.covers(&o.clone()) && !o.is_prefix());
        assert_eq!(o.uri(), "s3://b/k.bin");
        assert_eq!(ObjectLocation::from_uri("file:///x"), None);
    }

    #[test]
    fn allowed_locations_keep_the_registry_in_its_buckets() {
        let managed = ObjectLocation::new("ml-models", "bindery/");
        let entries = vec!["s3://shared/teams/fraud/".to_owned(), "s3://archive".to_owned()];
        let allowed = AllowedLocations::parse(&entries, Some(&managed)).unwrap();
        for ok in ["s3://ml-models/anything/m.onnx", "s3://shared/teams/fraud/m/", "s3://archive/x"] {
            let location = ObjectLocation::from_uri(ok).unwrap();
            assert!(allowed.check("artifact.uri", &location).is_ok(), "{ok}");
        }
        for denied in ["s3://shared/teams/search/m.onnx", "s3://shared/teams/fraudulent/m", "s3://secrets/k"]
        {
            let location = ObjectLocation::from_uri(denied).unwrap();
            let err = allowed.check("artifact.uri", &location).unwrap_err();
            assert!(matches!(&err, Error::InvalidArgument(_)), "{err:?}");
            assert!(err.to_string().contains("s3://shared/teams/fraud/"), "{err}");
        }
        let none = AllowedLocations::parse(&[], None).unwrap();
        assert!(none.check("artifact.uri", &managed).unwrap_err().to_string().contains("--artifact-allowed"));
        assert_eq!(AllowedLocations::parse(&["*".to_owned()], None).unwrap(), AllowedLocations::Any);
        for bad in ["gs://b/", "s3://b/object.bin", "s3://", "s3://B_/x/"] {
            assert!(AllowedLocations::parse(&[bad.to_owned()], None).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_cover_their_objects_and_everything_under_their_prefixes() {
        let refs = ArtifactReferences::new(&["s3://b/m/1/model.onnx".into(), "s3://b/m/2/".into()]);
        for covered in ["m/1/model.onnx", "m/2/a.bin", "m/2/deep/er/b.bin"] {
            assert!(refs.cover(&ObjectLocation::new("b", covered)), "{covered}");
        }
        for free in ["m/1/model.onnx.bak", "m/1/other", "m/22/a.bin", "m/2"] {
            assert!(!refs.cover(&ObjectLocation::new("b", free)), "{free}");
        }
        assert!(!refs.cover(&ObjectLocation::new("c", "m/2/a.bin")), "another bucket");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        let digest: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        assert_eq!(sha256_bytes(&hex(&digest)), Some(digest));
        assert_eq!(sha256_bytes(&hex(&digest).to_uppercase()), None, "not spelled as hex() spells it");
        assert_eq!(sha256_bytes("ab"), None);
    }
}
