//! What the registry does with object storage (design.md §4): verify what a version points at,
//! hand out presigned upload and download requests, complete uploads, and collect the garbage
//! under its managed prefix. Store-agnostic: it talks to an [`ArtifactStore`] and a [`Store`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bindery_core::{
    AllowedLocations, Artifact, ArtifactFile, ArtifactStore, DownloadUrl, Error, FileGrant, FileSpec,
    MAX_PAGE_SIZE, ModelName, Multipart, NewVersion, ObjectInfo, ObjectLocation, Page, PageRequest,
    PartGrant, PresignedRequest, Result, SessionGrant, Store, UploadFile, UploadSession, UploadSessionState,
    WriteContext, validate,
};

mod gc;
mod managed;

pub use gc::{GC_ACTOR, GcReport};

/// S3 allows at most 10,000 parts per upload, each at least 5 MiB except the last.
const MAX_PARTS: u64 = 10_000;
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest object.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
const MAX_SESSION_FILES: usize = 1_000;
/// Part URLs one session hands out at most: part sizes grow (up to S3's 5 GiB) so that even a
/// 5 TiB file fits, and the answer stays well under the 4 MiB a gRPC message carries.
const MAX_SESSION_PARTS: u64 = 2_000;
/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// What the presigned requests of one session may weigh in its answer.
pub const MAX_GRANT_BYTES: u64 = 3 * 1024 * 1024;
/// A presigned request's size beyond its bucket and key (query string, signature, upload id).
const PRESIGNED_OVERHEAD_BYTES: u64 = 640;
/// A prefix artifact's manifest is stored with the version and cached by readers.
const MAX_MANIFEST_FILES: usize = 10_000;
const MAX_PATH_BYTES: usize = 1_024;

#[derive(Debug, Clone)]
pub struct ArtifactSettings {
    /// Check every `RegisterVersion` against the object store; off records `verified = false`.
    pub verify: bool,
    /// Where upload sessions put files (`key` ends in `/`); garbage collection never looks
    /// outside it.
    pub managed: Option<ObjectLocation>,
    /// Files above this size are uploaded in parts.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Lifetime of upload URLs and of the session itself.
    pub upload_ttl: Duration,
    pub download_ttl: Duration,
    /// Objects of deleted versions and expired sessions stay this long before collection.
    pub gc_grace: Duration,
    /// Where the registry may use its credentials: verification and presigning refuse anything
    /// else before calling the store.
    pub allowed: AllowedLocations,
}

impl Default for ArtifactSettings {
    fn default() -> Self {
        Self {
            verify: true,
            managed: None,
            multipart_threshold: 64 * 1024 * 1024,
            part_size: 64 * 1024 * 1024,
            upload_ttl: Duration::from_secs(3_600),
            download_ttl: Duration::from_secs(900),
            gc_grace: Duration::from_secs(24 * 3_600),
            allowed: AllowedLocations::Any,
        }
    }
}

/// The artifact side of the registry: optional object store plus settings.
#[derive(Clone)]
pub struct Artifacts {
    store: Option<Arc<dyn ArtifactStore>>,
    settings: ArtifactSettings,
}

impl Artifacts {
    pub fn new(store: Option<Arc<dyn ArtifactStore>>, settings: ArtifactSettings) -> Self {
        Self { store, settings }
    }

    /// No object store and no verification: versions are recorded as declared.
    pub fn unverified() -> Self {
        Self::new(None, ArtifactSettings { verify: false, ..ArtifactSettings::default() })
    }

    pub fn settings(&self) -> &ArtifactSettings {
        &self.settings
    }

    fn store(&self, purpose: &str) -> Result<&Arc<dyn ArtifactStore>> {
        self.store.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "{purpose} needs an object store, and this node has none configured (see --s3-endpoint and \
                 --artifact-bucket)"
            ))
        })
    }

    fn managed(&self) -> Result<(&Arc<dyn ArtifactStore>, &ObjectLocation)> {
        let store = self.store("upload sessions")?;
        let managed = self.settings.managed.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "upload sessions need a registry-managed bucket and prefix (--artifact-bucket, --artifact-prefix)"
                    .into(),
            )
        })?;
        Ok((store, managed))
    }

    // -----------------------------------------------------------------------------------------
    // Registration

    /// Fills in `new.verified_artifact`: for a plain URI, what the store reports about it; for an
    /// upload session, the completed and checked files. Errors leave nothing registered.
    pub async fn prepare(&self, registry: &dyn Store, new: &mut NewVersion) -> Result<()> {
        match new.upload_session_id.clone() {
            Some(id) => self.prepare_session(registry, new, &id).await,
            None => {
                new.verified_artifact = Some(self.verify(&new.artifact).await?);
                Ok(())
            }
        }
    }

    /// The artifact to record for `declared`: verified against the store, or as declared with
    /// `verified = false` when verification is off.
    pub async fn verify(&self, declared: &Artifact) -> Result<Artifact> {
        let unverified = Artifact { verified: false, ..declared.clone() };
        if !self.settings.verify {
            return Ok(unverified);
        }
        let Some(location) = ObjectLocation::from_uri(&declared.uri) else {
            return Err(Error::FailedPrecondition(format!(
                "artifact.uri {:?}: the registry verifies s3:// artifacts only; use s3:// or register on a \
                 registry with verification off (--verify-artifacts=false)",
                declared.uri
            )));
        };
        self.settings.allowed.check("artifact.uri", &location)?;
        let store = self.store("artifact verification")?;
        if location.is_prefix() {
            // One more than allowed tells "too many" without reading the rest.
            let objects = store.list(&location, None, MAX_MANIFEST_FILES + 1).await?;
            if objects.is_empty() {
                return Err(Error::FailedPrecondition(format!(
                    "artifact not found at {location}: no objects under this prefix"
                )));
            }
            if objects.len() > MAX_MANIFEST_FILES {
                return Err(Error::FailedPrecondition(format!(
                    "{location} holds more than {MAX_MANIFEST_FILES} objects, the most one artifact may have"
                )));
            }
            let total: u64 = objects.iter().map(|o| o.size_bytes).sum();
            check_size(declared.size_bytes, total, &location, Some(objects.len()))?;
            let files: Vec<ArtifactFile> = objects.iter().map(|o| manifest_entry(&location, o)).collect();
            let manifest_bytes = serde_json::to_vec(&files).map_or(usize::MAX, |v| v.len());
            if manifest_bytes > validate::MAX_MANIFEST_BYTES {
                return Err(Error::FailedPrecondition(format!(
                    "the manifest of {location} ({} files) would take {manifest_bytes} bytes, at most {} allowed: \
                     register a smaller prefix, shorter paths, or an archive",
                    files.len(),
                    validate::MAX_MANIFEST_BYTES
                )));
            }
            return Ok(Artifact {
                size_bytes: total,
                last_modified: objects.iter().filter_map(|o| o.last_modified).max(),
                verified: true,
                sha256_verified: false,
                files,
                ..unverified
            });
        }
        let info = store
            .head(&location)
            .await?
            .ok_or_else(|| Error::FailedPrecondition(format!("artifact not found at {location}")))?;
        check_size(declared.size_bytes, info.size_bytes, &location, None)?;
        let (sha256, sha256_verified) = match &info.sha256 {
            Some(actual) => {
                check_sha256(&declared.sha256, actual, &location, "the object store reports")?;
                (actual.clone(), true)
            }
            None => (declared.sha256.clone(), false),
        };
        Ok(Artifact {
            sha256,
            size_bytes: info.size_bytes,
            etag: info.etag,
            last_modified: info.last_modified,
            verified: true,
            sha256_verified,
            files: Vec::new(),
            ..unverified
        })
    }

    async fn prepare_session(&self, registry: &dyn Store, new: &mut NewVersion, id: &str) -> Result<()> {
        let session = registry.get_upload_session(id).await?;
        if let (UploadSessionState::Registered(_), Some(_)) = (session.state, &new.request_id) {
            // Possibly a retry of the registration that consumed it: the store answers (the
            // original version, or why not) without touching the object store again.
            return Ok(());
        }
        if session.model != new.model {
            return Err(Error::FailedPrecondition(format!(
                "upload session {id} belongs to model '{}', not '{}'",
                session.model, new.model
            )));
        }
        session.check_open(SystemTime::now())?;
        let (store, _) = self.managed()?;
        let mut files = Vec::with_capacity(session.files.len());
        for file in &session.files {
            let object = session.location.join(&file.path);
            let mut info = store.head(&object).await?;
            if info.is_none()
                && let Some(m) = &file.multipart
            {
                store.complete_multipart(&object, &m.upload_id, m.parts).await?;
                info = store.head(&object).await?;
            }
            let info = info.ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "file {:?} of upload session {id} was not uploaded (nothing at {object})",
                    file.path
                ))
            })?;
            check_size(file.size_bytes, info.size_bytes, &object, None)?;
            let actual = match info.sha256 {
                Some(sha) => sha,
                None => store.hash_sha256(&object).await?,
            };
            check_sha256(&file.sha256, &actual, &object, "the uploaded bytes hash to")?;
            files.push(ArtifactFile {
                path: file.path.clone(),
                size_bytes: info.size_bytes,
                etag: info.etag,
                sha256: actual,
            });
        }
        let total: u64 = files.iter().map(|f| f.size_bytes).sum();
        let declared = &new.artifact;
        let artifact = match files.as_slice() {
            [only] => {
                let object = session.location.join(&only.path);
                check_size(declared.size_bytes, only.size_bytes, &object, None)?;
                check_sha256(&declared.sha256, &only.sha256, &object, "the uploaded bytes hash to")?;
                Artifact {
                    uri: object.uri(),
                    sha256: only.sha256.clone(),
                    size_bytes: only.size_bytes,
                    format: declared.format.clone(),
                    etag: only.etag.clone(),
                    last_modified: Some(SystemTime::now()),
                    verified: true,
                    sha256_verified: true,
                    files: Vec::new(),
                    ..Default::default()
                }
            }
            _ => {
                check_size(declared.size_bytes, total, &session.location, Some(files.len()))?;
                Artifact {
                    uri: session.location.uri(),
                    sha256: declared.sha256.clone(),
                    size_bytes: total,
                    format: declared.format.clone(),
                    etag: String::new(),
                    last_modified: Some(SystemTime::now()),
                    verified: true,
                    sha256_verified: false,
                    files,
                    ..Default::default()
                }
            }
        };
        new.verified_artifact = Some(artifact);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Upload sessions

    pub async fn create_upload_session(
        &self,
        registry: &dyn Store,
        ctx: &WriteContext,
        model: ModelName,
        files: Vec<FileSpec>,
    ) -> Result<SessionGrant> {
        let files = validate_files(files)?;
        let (store, managed) = self.managed()?;
        registry.get_model(&model).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let location = managed.join(&format!("{model}/{id}/"));
        // Every bound is checked before any multipart upload exists or anything is recorded.
        let files = plan_session(&self.settings, &location, files)?;
        let now = SystemTime::now();
        let ttl = self.settings.upload_ttl;
        let mut session = UploadSession {
            id,
            model,
            location,
            files: Vec::with_capacity(files.len()),
            state: UploadSessionState::Open,
            created_at: now,
            created_by: ctx.actor.clone(),
            expires_at: now + ttl,
        };
        let mut grants = Vec::with_capacity(files.len());
        let granted = self.grant_files(store, &mut session, &mut grants, files).await;
        let recorded = match granted {
            Ok(()) => registry.create_upload_session(ctx, &session).await,
            Err(e) => Err(e),
        };
        if let Err(e) = recorded {
            // Nothing may be left half-open: abort what was started.
            for f in &session.files {
                if let Some(m) = &f.multipart {
                    let _ = store.abort_multipart(&session.location.join(&f.path), &m.upload_id).await;
                }
            }
            return Err(e);
        }
        Ok(SessionGrant { session, files: grants })
    }

    async fn grant_files(
        &self,
        store: &Arc<dyn ArtifactStore>,
        session: &mut UploadSession,
        grants: &mut Vec<FileGrant>,
        files: Vec<PlannedFile>,
    ) -> Result<()> {
        let ttl = self.settings.upload_ttl;
        let mut weight = 0u64;
        let mut weigh = |r: &PresignedRequest| {
            weight += (r.url.len() + r.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()) as u64;
            if weight > MAX_GRANT_BYTES {
                return Err(Error::invalid(
                    "files",
                    format!(
                        "the upload URLs for these files exceed the {} MiB one answer carries; upload fewer \
                         files per session",
                        MAX_GRANT_BYTES / (1024 * 1024)
                    ),
                ));
            }
            Ok(())
        };
        for PlannedFile { spec, part_size } in files {
            let object = session.location.join(&spec.path);
            let Some(part_size) = part_size else {
                let put = store.presign_put(&object, &spec.sha256, ttl).await?;
                weigh(&put)?;
                grants.push(FileGrant {
                    path: spec.path.clone(),
                    size_bytes: spec.size_bytes,
                    put: Some(put),
                    parts: vec![],
                });
                session.files.push(UploadFile {
                    path: spec.path,
                    size_bytes: spec.size_bytes,
                    sha256: spec.sha256,
                    multipart: None,
                });
                continue;
            };
            let parts = u32::try_from(spec.size_bytes.div_ceil(part_size))
                .map_err(|_| Error::invalid("files", "too many parts"))?;
            let upload_id = store.create_multipart(&object).await?;
            session.files.push(UploadFile {
                path: spec.path.clone(),
                size_bytes: spec.size_bytes,
                sha256: spec.sha256,
                multipart: Some(Multipart { upload_id: upload_id.clone(), part_size, parts }),
            });
            let mut part_grants = Vec::with_capacity(parts as usize);
            for n in 1..=parts {
                let offset = u64::from(n - 1) * part_size;
                let put = store.presign_part(&object, &upload_id, n, ttl).await?;
                weigh(&put)?;
                part_grants.push(PartGrant {
                    part_number: n,
                    offset,
                    size_bytes: part_size.min(spec.size_bytes - offset),
                    put,
                });
            }
            grants.push(FileGrant {
                path: spec.path,
                size_bytes: spec.size_bytes,
                put: None,
                parts: part_grants,
            });
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Downloads

    /// Presigned GETs for the files of `artifact` in `page` (the cursor is a position in the
    /// manifest).
    pub async fn download_urls(&self, artifact: &Artifact, page: &PageRequest) -> Result<Page<DownloadUrl>> {
        let location = ObjectLocation::from_uri(&artifact.uri).ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "{:?} is not an s3:// artifact; nothing to presign",
                artifact.uri
            ))
        })?;
        // Versions registered before the allow-list (or without verification) are refused too.
        self.settings.allowed.check("artifact.uri", &location)?;
        let store = self.store("presigning")?;
        let ttl = self.settings.download_ttl;
        if !location.is_prefix() {
            let path = location.key.rsplit('/').next().unwrap_or_default().to_owned();
            let request = store.presign_get(&location, ttl).await?;
            let url = DownloadUrl {
                path,
                size_bytes: artifact.size_bytes,
                sha256: artifact.sha256.clone(),
                request,
            };
            return Ok(Page { items: vec![url], next: None });
        }
        if artifact.files.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "{location} is a prefix registered without verification, so the registry has no file list to \
                 presign; register it on a registry with verification on"
            )));
        }
        let files = Page::of_slice(&artifact.files, page);
        let mut urls = Vec::with_capacity(files.items.len());
        for f in files.items {
            let request = store.presign_get(&location.join(&f.path), ttl).await?;
            urls.push(DownloadUrl {
                path: f.path.clone(),
                size_bytes: f.size_bytes,
                sha256: f.sha256.clone(),
                request,
            });
        }
        Ok(Page { items: urls, next: files.next })
    }

    /// Every file's presigned GET, for answers without paging (Resolve): refused past one page.
    pub async fn all_download_urls(&self, artifact: &Artifact) -> Result<Vec<DownloadUrl>> {
        let first = PageRequest { size: MAX_PAGE_SIZE, after: None };
        let page = self.download_urls(artifact, &first).await?;
        if page.next.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "{} holds {} files, more than one answer presigns ({MAX_PAGE_SIZE}); page through GetDownloadUrls",
                artifact.uri,
                artifact.files.len(),
            )));
        }
        Ok(page.items)
    }
}

fn manifest_entry(prefix: &ObjectLocation, o: &ObjectInfo) -> ArtifactFile {
    ArtifactFile {
        path: o.location.key.strip_prefix(&prefix.key).unwrap_or(&o.location.key).to_owned(),
        size_bytes: o.size_bytes,
        etag: o.etag.clone(),
        sha256: o.sha256.clone().unwrap_or_default(),
    }
}

/// A declared size of 0 means "unknown"; any other must match.
fn check_size(declared: u64, actual: u64, location: &ObjectLocation, objects: Option<usize>) -> Result<()> {
    if declared == 0 || declared == actual {
        return Ok(());
    }
    let what = match objects {
        Some(n) => format!("the {n} objects under {location} total {actual} bytes"),
        None => format!("{location} is {actual} bytes"),
    };
    Err(Error::FailedPrecondition(format!("size_bytes is {declared} but {what}")))
}

fn check_sha256(declared: &str, actual: &str, location: &ObjectLocation, source: &str) -> Result<()> {
    if declared.is_empty() || declared.eq_ignore_ascii_case(actual) {
        return Ok(());
    }
    Err(Error::FailedPrecondition(format!("sha256 is {declared} but {source} {actual} for {location}")))
}

/// A file of a new session and, when it goes in parts, their size.
#[derive(Debug)]
struct PlannedFile {
    spec: FileSpec,
    part_size: Option<u64>,
}

/// How each file will be uploaded, or `INVALID_ARGUMENT` when the session would need more part
/// URLs than [`MAX_SESSION_PARTS`] of at most 5 GiB, or an answer heavier than
/// [`MAX_GRANT_BYTES`] (estimated from the keys: nothing is presigned or created yet).
fn plan_session(
    settings: &ArtifactSettings,
    location: &ObjectLocation,
    files: Vec<FileSpec>,
) -> Result<Vec<PlannedFile>> {
    let in_parts = |f: &FileSpec| f.size_bytes > settings.multipart_threshold;
    let multipart_bytes: u64 = files.iter().filter(|f| in_parts(f)).map(|f| f.size_bytes).sum();
    // The smallest part size that keeps the whole session within its part budget.
    let floor = multipart_bytes.div_ceil(MAX_SESSION_PARTS);
    if floor > MAX_PART_SIZE {
        return Err(Error::invalid(
            "files",
            format!(
                "{multipart_bytes} bytes to upload in parts in one session; at most {} ({MAX_SESSION_PARTS} parts \
                 of 5 GiB): split the files across sessions",
                MAX_SESSION_PARTS * MAX_PART_SIZE
            ),
        ));
    }
    let mut weight = 0u64;
    let planned: Vec<PlannedFile> = files
        .into_iter()
        .map(|spec| {
            let part_size = in_parts(&spec).then(|| {
                settings
                    .part_size
                    .max(spec.size_bytes.div_ceil(MAX_PARTS))
                    .max(MIN_PART_SIZE)
                    .max(floor)
                    .min(MAX_PART_SIZE)
            });
            let urls = part_size.map_or(1, |p| spec.size_bytes.div_ceil(p));
            let key = (location.bucket.len() + location.key.len() + spec.path.len()) as u64;
            weight = weight.saturating_add(urls.saturating_mul(PRESIGNED_OVERHEAD_BYTES + 2 * key));
            PlannedFile { spec, part_size }
        })
        .collect();
    if weight > MAX_GRANT_BYTES {
        return Err(Error::invalid(
            "files",
            format!(
                "the upload URLs for these files would take about {} KiB, over the {} MiB one answer \
                 carries; upload fewer files per session (or use shorter paths)",
                weight / 1024,
                MAX_GRANT_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(planned)
}

fn validate_files(files: Vec<FileSpec>) -> Result<Vec<FileSpec>> {
    if files.is_empty() {
        return Err(Error::invalid("files", "is required: at least one file to upload"));
    }
    if files.len() > MAX_SESSION_FILES {
        return Err(Error::invalid(
            "files",
            format!("has {} entries, at most {MAX_SESSION_FILES} allowed", files.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    files
        .into_iter()
        .enumerate()
        .map(|(i, mut f)| {
            let field = format!("files[{i}]");
            validate_path(&format!("{field}.path"), &f.path)?;
            if !seen.insert(f.path.clone()) {
                return Err(Error::invalid(
                    &format!("{field}.path"),
                    format!("{:?} is listed twice", f.path),
                ));
            }
            if f.size_bytes > MAX_OBJECT_SIZE {
                return Err(Error::invalid(
                    &format!("{field}.size_bytes"),
                    format!("{} exceeds the 5 TiB object limit", f.size_bytes),
                ));
            }
            f.sha256 = validate::sha256(&format!("{field}.sha256"), &f.sha256)?;
            if f.sha256.is_empty() {
                return Err(Error::invalid(
                    &format!("{field}.sha256"),
                    "is required: uploads are checked against it",
                ));
            }
            Ok(f)
        })
        .collect()
}

fn validate_path(field: &str, path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    validate::text(field, path, MAX_PATH_BYTES)?;
    if path.starts_with('/') || path.ends_with('/') {
        return Err(Error::invalid(
            field,
            format!("{path:?} must be relative and name a file (no leading or trailing '/')"),
        ));
    }
    if path.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(Error::invalid(field, format!("{path:?} contains an empty, '.' or '..' segment")));
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(Error::invalid(field, format!("{path:?} contains a control character or backslash")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_grow_parts_to_stay_within_their_budget() {
        const TIB: u64 = 1 << 40;
        let settings = ArtifactSettings::default();
        let at = ObjectLocation::new("models", "bindery/m/3f2a/");
        let sized = |size_bytes| FileSpec { size_bytes, ..spec("model.bin") };
        for size in [300_000_000_000, 5 * TIB] {
            let plan = plan_session(&settings, &at, vec![sized(size)]).unwrap();
            let part = plan[0].part_size.unwrap();
            assert!(part <= MAX_PART_SIZE && size.div_ceil(part) <= MAX_SESSION_PARTS, "{size}: {part}");
        }
        assert_eq!(plan_session(&settings, &at, vec![sized(1_000)]).unwrap()[0].part_size, None);
        let many = (0..3).map(|i| FileSpec { size_bytes: 5 * TIB, ..spec(&format!("{i}")) }).collect();
        assert!(plan_session(&settings, &at, many).is_err(), "15 TiB is over a session's 2,000 × 5 GiB");
    }

    fn spec(path: &str) -> FileSpec {
        FileSpec { path: path.into(), size_bytes: 1, sha256: "a".repeat(64) }
    }

    #[test]
    fn file_specs_are_checked_and_name_the_field() {
        assert!(validate_files(vec![spec("model.onnx"), spec("tok/vocab.json")]).is_ok());
        for bad in ["", "/abs", "dir/", "a/../b", "a//b", "./a"] {
            let err = validate_files(vec![spec(bad)]).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.starts_with("files[0].path"), "{bad:?}: {err}");
        }
        let twice =
            validate_files(vec![spec("a"), spec("a")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(twice.contains("listed twice"), "{twice}");
        let no_sha = FileSpec { sha256: String::new(), ..spec("a") };
        let err = validate_files(vec![no_sha]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("files[0].sha256: is required"), "{err}");
        assert!(validate_files(vec![]).is_err());
    }

    #[test]
    fn size_and_sha_mismatches_name_both_values() {
        let loc = ObjectLocation::new("b", "k");
        assert!(check_size(0, 5, &loc, None).is_ok());
        let e = check_size(4, 5, &loc, None).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "size_bytes is 4 but s3://b/k is 5 bytes");
        let e = check_sha256("aa", "bb", &loc, "S3 reports").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "sha256 is aa but S3 reports bb for s3://b/k");
    }
}
