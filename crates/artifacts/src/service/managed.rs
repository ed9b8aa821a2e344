//! Files under the managed prefix by their relative path, for front ends that move bytes on a
//! caller's behalf (the MLflow facade's `mlflow-artifacts` endpoints). The caller's right to the
//! path is decided before these are called; here the path is checked, and objects are write-once:
//! a file already there is never replaced, so a registered version's bytes cannot change under it.

use bindery_core::{Error, ObjectInfo, ObjectLocation, PresignedRequest, Result, hex};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{Artifacts, MAX_MANIFEST_FILES, validate_path};
use crate::Transfer;

impl Artifacts {
    /// The managed bucket and prefix, when this registry has one.
    pub fn managed_prefix(&self) -> Option<&ObjectLocation> {
        self.settings.managed.as_ref()
    }

    /// `rel` (a file path relative to the managed prefix) as an object.
    pub fn managed_object(&self, rel: &str) -> Result<ObjectLocation> {
        validate_path("path", rel)?;
        Ok(self.managed()?.1.join(rel))
    }

    /// The path of `uri` relative to the managed prefix, when it lies under it.
    pub fn managed_relative(&self, uri: &str) -> Option<String> {
        let location = ObjectLocation::from_uri(uri)?;
        let managed = self.settings.managed.as_ref()?;
        (location.bucket == managed.bucket)
            .then(|| location.key.strip_prefix(&managed.key).map(str::to_owned))
            .flatten()
            .filter(|rel| !rel.is_empty())
    }

    /// The files under directory `rel` ("" for the whole prefix is refused), at most
    /// [`MAX_MANIFEST_FILES`] + 1 so a caller can tell "too many".
    pub async fn list_managed(&self, rel_dir: &str) -> Result<Vec<ObjectInfo>> {
        let rel_dir = rel_dir.trim_end_matches('/');
        validate_path("path", rel_dir)?;
        let (store, managed) = self.managed()?;
        store.list(&managed.join(&format!("{rel_dir}/")), None, MAX_MANIFEST_FILES + 1).await
    }

    /// A GET of file `rel`, or `None` when there is no such file.
    pub async fn presign_managed_get(&self, rel: &str) -> Result<Option<PresignedRequest>> {
        let object = self.managed_object(rel)?;
        let (store, _) = self.managed()?;
        if store.head(&object).await?.is_none() {
            return Ok(None);
        }
        store.presign_get(&object, self.settings.download_ttl).await.map(Some)
    }

    /// Stores `body` as file `rel`, checked by the store against its SHA-256. `AlreadyExists`
    /// when a file is there: managed files are written once.
    pub async fn put_managed(&self, transfer: &Transfer, rel: &str, body: Bytes) -> Result<ObjectInfo> {
        let object = self.managed_object(rel)?;
        let (store, _) = self.managed()?;
        if store.head(&object).await?.is_some() {
            return Err(Error::AlreadyExists(format!(
                "{rel:?} is already stored; stored files are never replaced, upload under a new path"
            )));
        }
        let sha256 = hex(&Sha256::digest(&body));
        let put = store.presign_put(&object, &sha256, self.settings.upload_ttl).await?;
        let size_bytes = body.len() as u64;
        let reply = transfer
            .send(&put, body)
            .await
            .map_err(|e| Error::Unavailable(format!("storing {rel:?} in the object store: {e}")))?;
        if !(200..300).contains(&reply.status) {
            return Err(Error::Unavailable(format!(
                "the object store answered {} to storing {rel:?}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body).chars().take(200).collect::<String>()
            )));
        }
        Ok(ObjectInfo {
            location: object,
            size_bytes,
            etag: reply.etag.unwrap_or_default().trim_matches('"').to_owned(),
            last_modified: None,
            sha256: Some(sha256),
        })
    }
}
