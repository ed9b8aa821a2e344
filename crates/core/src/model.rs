//! The registry's entities and the inputs that create or change them. Inputs are validated by
//! their `validate` methods (called by the gRPC edge right after decoding), so a store only ever
//! sees well-formed requests.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::validate::{self, MAX_DESCRIPTION_BYTES, MAX_SHORT_TEXT_BYTES, MAX_URI_BYTES};
use crate::{ArtifactFile, Error, ModelName, Result};

/// Who is writing, and the ids that tie the write to its request in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteContext {
    pub actor: String,
    pub request_id: String,
    pub trace_id: String,
}

impl WriteContext {
    pub const ANONYMOUS: &'static str = "anonymous";

    pub fn new(actor: impl Into<String>) -> Self {
        Self { actor: actor.into(), request_id: String::new(), trace_id: String::new() }
    }
}

// ---------------------------------------------------------------------------------------------
// Models

#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    pub name: ModelName,
    pub description: String,
    pub owner: String,
    pub tags: BTreeMap<String, String>,
}

impl NewModel {
    pub fn validate(&self) -> Result<()> {
        validate::text("description", &self.description, MAX_DESCRIPTION_BYTES)?;
        validate::text("owner", &self.owner, MAX_SHORT_TEXT_BYTES)?;
        validate::string_map("tags", &self.tags)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    pub name: ModelName,
    pub description: String,
    pub owner: String,
    pub tags: BTreeMap<String, String>,
    #[serde(with = "unix_micros")]
    pub created_at: SystemTime,
    pub created_by: String,
    #[serde(with = "unix_micros")]
    pub updated_at: SystemTime,
    pub updated_by: String,
    pub latest_version: u64,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelUpdate {
    pub description: Option<String>,
    pub owner: Option<String>,
    pub set_tags: BTreeMap<String, String>,
    pub remove_tags: Vec<String>,
}

impl ModelUpdate {
    pub fn validate(&self) -> Result<()> {
        if let Some(d) = &self.description {
            validate::text("description", d, MAX_DESCRIPTION_BYTES)?;
        }
        if let Some(o) = &self.owner {
            validate::text("owner", o, MAX_SHORT_TEXT_BYTES)?;
        }
        validate::string_map("set_tags", &self.set_tags)?;
        validate::removals("remove_tags", &self.remove_tags, &self.set_tags)
    }

    /// The model after this update, or `None` when it changes nothing (then nothing is written).
    pub fn apply(&self, model: &Model) -> Result<Option<Model>> {
        let mut after = model.clone();
        if let Some(d) = &self.description {
            after.description.clone_from(d);
        }
        if let Some(o) = &self.owner {
            after.owner.clone_from(o);
        }
        apply_tag_edits(&mut after.tags, &self.set_tags, &self.remove_tags)?;
        let same = (&after.description, &after.owner, &after.tags)
            == (&model.description, &model.owner, &model.tags);
        Ok((!same).then_some(after))
    }
}

impl Model {
    /// Soft delete is refused while bindings point into the model.
    pub fn check_deletable(&self, bound: &[String]) -> Result<()> {
        if bound.is_empty() {
            return Ok(());
        }
        Err(Error::FailedPrecondition(format!(
            "model '{}' cannot be deleted while bindings point into it ({}); delete those bindings first",
            self.name,
            bound.join(", ")
        )))
    }
}

fn apply_tag_edits(
    tags: &mut BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<()> {
    for k in remove {
        tags.remove(k);
    }
    tags.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    if tags.len() > validate::MAX_MAP_ENTRIES {
        return Err(Error::invalid(
            "set_tags",
            format!("would leave {} tags, at most {} allowed", tags.len(), validate::MAX_MAP_ENTRIES),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Versions

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionStatus {
    Ready,
    Archived,
    Deleted,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Archived => "ARCHIVED",
            Self::Deleted => "DELETED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "READY" => Some(Self::Ready),
            "ARCHIVED" => Some(Self::Archived),
            "DELETED" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// Where a version's bytes live. `uri`, `sha256`, `size_bytes` and `format` are what the client
/// declared (filled in from the object store where it left them empty); the rest is what the
/// registry found when it verified the artifact. Empty fields are left out of the JSON, so
/// payloads of unverified artifacts keep their original shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Artifact {
    pub uri: String,
    pub sha256: String,
    pub size_bytes: u64,
    pub format: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_unix_micros")]
    pub last_modified: Option<SystemTime>,
    /// The registry saw the object(s) in the store and their sizes agree with the declaration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
    /// `sha256` was checked against the store's checksum or the bytes themselves.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sha256_verified: bool,
    /// For a prefix (`uri` ending in `/`): every object under it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ArtifactFile>,
    /// How to serve it (issue 15): registered with the version and immutable like the bytes, so
    /// it travels wherever the artifact does. Stored with the verification facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Box<crate::deployment::DeploymentSpec>>,
}

impl Artifact {
    /// Everything but the manifest (what watchers and change summaries need).
    pub fn without_manifest(&self) -> Self {
        Self {
            uri: self.uri.clone(),
            sha256: self.sha256.clone(),
            size_bytes: self.size_bytes,
            format: self.format.clone(),
            etag: self.etag.clone(),
            last_modified: self.last_modified,
            verified: self.verified,
            sha256_verified: self.sha256_verified,
            files: Vec::new(),
            deployment: self.deployment.clone(),
        }
    }

    /// The fields the registry adds on verification, as stored next to the declared ones.
    pub fn verification_json(&self) -> serde_json::Value {
        let facts = Self {
            uri: String::new(),
            sha256: String::new(),
            size_bytes: 0,
            format: String::new(),
            ..self.clone()
        };
        serde_json::to_value(facts).unwrap_or(serde_json::Value::Null)
    }

    /// Restores the fields [`Artifact::verification_json`] stored.
    pub fn with_verification_json(mut self, json: serde_json::Value) -> Result<Self> {
        if json.is_null() {
            return Ok(self);
        }
        let facts: Self = serde_json::from_value(json)
            .map_err(|e| Error::Internal(format!("stored artifact verification is unreadable: {e}")))?;
        self.etag = facts.etag;
        self.last_modified = facts.last_modified;
        self.verified = facts.verified;
        self.sha256_verified = facts.sha256_verified;
        self.files = facts.files;
        self.deployment = facts.deployment;
        Ok(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DatasetRef {
    pub uri: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub model_name: ModelName,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lineage {
    pub training_run_id: String,
    pub code_ref: String,
    pub datasets: Vec<DatasetRef>,
    pub parent_versions: Vec<VersionRef>,
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Signature {
    pub inputs_json: String,
    pub outputs_json: String,
}

/// A `RegisterVersion` request. Serialized (canonically, maps sorted) it is the payload that an
/// idempotent retry must match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewVersion {
    #[serde(skip)]
    pub model: ModelName,
    #[serde(skip)]
    pub request_id: Option<String>,
    pub artifact: Artifact,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub lineage: Lineage,
    pub signature: Signature,
    pub description: String,
    /// The upload session whose files become this version's artifact (`artifact.uri` is then
    /// left empty: the registry sets it to the session's prefix). Not part of the payload:
    /// `upload_files` is.
    #[serde(skip)]
    pub upload_session_id: Option<String>,
    /// With an upload session, the files it declared (set by the registry from the session, see
    /// [`NewVersion::declare_session`]). They, not the session's id, are what a retry must match:
    /// a job whose answer was lost uploads the same files through a new session and gets its
    /// original version back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_files: Option<Vec<DeclaredFile>>,
    /// How to serve the version (empty fields: unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<crate::deployment::DeploymentSpec>,
    /// The artifact as verified against the object store, which is what gets stored; `None`
    /// stores `artifact` as declared, unverified.
    #[serde(skip)]
    pub verified_artifact: Option<Artifact>,
}

/// One file of an upload session as the idempotency payload compares it (the session's
/// multipart bookkeeping differs between sessions and is left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredFile {
    pub path: String,
    pub size_bytes: u64,
    pub sha256: String,
}

impl NewVersion {
    /// Records the files `session` declared as this registration's payload (see `upload_files`).
    pub fn declare_session(&mut self, session: &crate::artifact::UploadSession) {
        let mut files: Vec<DeclaredFile> = session
            .files
            .iter()
            .map(|f| DeclaredFile {
                path: f.path.clone(),
                size_bytes: f.size_bytes,
                sha256: f.sha256.clone(),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        self.upload_files = Some(files);
    }

    /// The artifact a store records, with the deployment spec it is served with.
    pub fn recorded_artifact(&self) -> Artifact {
        let mut artifact = self.verified_artifact.as_ref().unwrap_or(&self.artifact).clone();
        artifact.deployment = self.deployment.clone().filter(|d| !d.is_empty()).map(Box::new);
        artifact
    }

    /// Validates every field and normalises the sha256 to lowercase.
    pub fn validate(&mut self) -> Result<()> {
        if let Some(id) = &self.request_id {
            validate::text("request_id", id, MAX_SHORT_TEXT_BYTES)?;
        }
        match &self.upload_session_id {
            Some(id) => {
                validate::uuid("upload_session_id", id)?;
                if !self.artifact.uri.is_empty() {
                    return Err(Error::invalid(
                        "artifact.uri",
                        "must be empty with upload_session_id: the registry sets it to the session's prefix",
                    ));
                }
            }
            None => validate::artifact_uri("artifact.uri", &self.artifact.uri)?,
        }
        self.artifact.sha256 = validate::sha256("artifact.sha256", &self.artifact.sha256)?;
        if i64::try_from(self.artifact.size_bytes).is_err() {
            return Err(Error::invalid("artifact.size_bytes", "is out of range"));
        }
        validate::text("artifact.format", &self.artifact.format, 64)?;
        validate::string_map("params", &self.params)?;
        validate::metrics("metrics", &self.metrics)?;
        validate::string_map("tags", &self.tags)?;
        validate::text("description", &self.description, MAX_DESCRIPTION_BYTES)?;
        let l = &self.lineage;
        validate::text("lineage.training_run_id", &l.training_run_id, MAX_SHORT_TEXT_BYTES)?;
        validate::text("lineage.code_ref", &l.code_ref, MAX_URI_BYTES)?;
        validate::list_len("lineage.datasets", l.datasets.len())?;
        for (i, d) in l.datasets.iter().enumerate() {
            let field = format!("lineage.datasets[{i}].uri");
            if d.uri.is_empty() {
                return Err(Error::invalid(&field, "is required"));
            }
            validate::text(&field, &d.uri, MAX_URI_BYTES)?;
            validate::text(&format!("lineage.datasets[{i}].version"), &d.version, MAX_SHORT_TEXT_BYTES)?;
        }
        validate::list_len("lineage.parent_versions", l.parent_versions.len())?;
        for (i, p) in l.parent_versions.iter().enumerate() {
            validate::version_number(&format!("lineage.parent_versions[{i}].version"), p.version)?;
        }
        validate::string_map("lineage.environment", &l.environment)?;
        validate::json_document("signature.inputs_json", &self.signature.inputs_json)?;
        validate::json_document("signature.outputs_json", &self.signature.outputs_json)?;
        if let Some(d) = &self.deployment {
            d.validate("deployment")?;
        }
        // The declared artifact carries no deployment of its own: `deployment` is the one.
        self.artifact.deployment = None;
        // Each field is bounded; together they are bounded too, since a version is copied into
        // the change log and the audit log.
        let total = self.payload_json().to_string().len();
        if total > validate::MAX_VERSION_METADATA_BYTES {
            return Err(Error::invalid(
                "version",
                format!(
                    "params, metrics, tags, lineage, signature and description take {total} bytes together, at \
                     most {} allowed; keep large documents in the artifact",
                    validate::MAX_VERSION_METADATA_BYTES
                ),
            ));
        }
        Ok(())
    }

    /// The canonical JSON of the payload (everything but model and request id).
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The answer to a retry whose `request_id` already registered `version` with
    /// `existing` as payload: `Ok` when identical, else `AlreadyExists` naming what differs.
    pub fn check_retry(&self, existing: &serde_json::Value, version: u64) -> Result<()> {
        let mut payload = self.payload_json();
        // Registrations stored before `upload_files` existed recorded the session's id instead.
        if let (Some(_), Some(map)) = (existing.get("upload_session_id"), payload.as_object_mut()) {
            map.remove("upload_files");
            if let Some(id) = &self.upload_session_id {
                map.insert("upload_session_id".into(), id.clone().into());
            }
        }
        if *existing == payload {
            return Ok(());
        }
        let differing = match (existing.as_object(), payload.as_object()) {
            (Some(a), Some(b)) => {
                let mut keys: Vec<&str> = a.keys().chain(b.keys()).map(String::as_str).collect();
                keys.sort_unstable();
                keys.dedup();
                keys.retain(|k| a.get(*k) != b.get(*k));
                keys.join(", ")
            }
            _ => String::new(),
        };
        let differing = if differing.is_empty() { "payload".to_owned() } else { differing };
        Err(Error::AlreadyExists(format!(
            "request_id {:?} already registered version {version} of model '{}' with a different {differing}; \
             retries must resend the same payload, a new version needs a new request_id",
            self.request_id.as_deref().unwrap_or_default(),
            self.model
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    pub model_name: ModelName,
    pub version: u64,
    pub status: VersionStatus,
    pub artifact: Artifact,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub lineage: Lineage,
    pub signature: Signature,
    pub description: String,
    #[serde(with = "unix_micros")]
    pub created_at: SystemTime,
    pub created_by: String,
    #[serde(with = "unix_micros")]
    pub updated_at: SystemTime,
    pub updated_by: String,
    pub request_id: String,
    pub bindings: Vec<String>,
    pub revision: u64,
}

impl ModelVersion {
    /// What the change log carries for a version change: read nodes cache no version data, so
    /// only which version and its status (not its metadata or manifest a second time).
    pub fn change_payload(&self) -> serde_json::Value {
        serde_json::json!({ "version": self.version, "status": self.status })
    }

    /// What the audit log records of a version: everything but the manifest's entries, which
    /// are counted (the manifest stays in the version itself).
    pub fn audit_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(files) = value.pointer_mut("/artifact/files")
            && let Some(list) = files.as_array()
        {
            *files = serde_json::json!({ "count": list.len() });
        }
        value
    }
}

impl ModelVersion {
    /// Whether a (soft) delete should write: `Ok(false)` when already deleted, an error while
    /// bindings point at the version.
    pub fn check_deletable(&self) -> Result<bool> {
        if self.status == VersionStatus::Deleted {
            return Ok(false);
        }
        if !self.bindings.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "version {} of model '{}' is bound by {}; rebind or delete those bindings before deleting it",
                self.version,
                self.model_name,
                self.bindings.join(", ")
            )));
        }
        Ok(true)
    }

    /// Whether archiving should write: `Ok(false)` when already archived (a no-op), an error when
    /// deleted or still bound.
    pub fn check_archivable(&self) -> Result<bool> {
        match self.status {
            VersionStatus::Archived => return Ok(false),
            VersionStatus::Deleted => {
                return Err(Error::FailedPrecondition(format!(
                    "version {} of model '{}' is deleted and cannot be archived",
                    self.version, self.model_name
                )));
            }
            VersionStatus::Ready => {}
        }
        if !self.bindings.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "version {} of model '{}' is bound by {}; rebind or delete those bindings before archiving it",
                self.version,
                self.model_name,
                self.bindings.join(", ")
            )));
        }
        Ok(true)
    }
}

/// Addresses one version of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionKey {
    pub model: ModelName,
    pub version: u64,
}

/// What `GetVersion` names: a version by number, or the version a binding points at (for a
/// split, its first side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionLookup {
    Number(VersionKey),
    Bound(ModelName, crate::BindingName),
}

impl VersionLookup {
    pub fn model(&self) -> &ModelName {
        match self {
            Self::Number(key) => &key.model,
            Self::Bound(model, _) => model,
        }
    }
}

/// The outcome of `RegisterVersion`.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub version: ModelVersion,
    pub revision: u64,
    /// False when the call was a retry of an identical earlier registration.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VersionUpdate {
    pub description: Option<String>,
    pub set_tags: BTreeMap<String, String>,
    pub remove_tags: Vec<String>,
    pub add_metrics: BTreeMap<String, f64>,
}

impl VersionUpdate {
    pub fn validate(&self) -> Result<()> {
        if let Some(d) = &self.description {
            validate::text("description", d, MAX_DESCRIPTION_BYTES)?;
        }
        validate::string_map("set_tags", &self.set_tags)?;
        validate::removals("remove_tags", &self.remove_tags, &self.set_tags)?;
        validate::metrics("add_metrics", &self.add_metrics)
    }

    /// Applies the edit to `version`. Metrics are append-only: an existing key is refused.
    pub fn apply(&self, version: &mut ModelVersion) -> Result<()> {
        if let Some(k) = self.add_metrics.keys().find(|k| version.metrics.contains_key(*k)) {
            return Err(Error::FailedPrecondition(format!(
                "add_metrics: metric {k:?} of version {} of model '{}' is already recorded as {}; \
                 metrics are append-only, record the new evaluation under a new key",
                version.version, version.model_name, version.metrics[k]
            )));
        }
        if version.metrics.len() + self.add_metrics.len() > validate::MAX_MAP_ENTRIES {
            return Err(Error::invalid(
                "add_metrics",
                format!(
                    "would leave {} metrics, at most {} allowed",
                    version.metrics.len() + self.add_metrics.len(),
                    validate::MAX_MAP_ENTRIES
                ),
            ));
        }
        version.metrics.extend(self.add_metrics.iter().map(|(k, v)| (k.clone(), *v)));
        apply_tag_edits(&mut version.tags, &self.set_tags, &self.remove_tags)?;
        if let Some(d) = &self.description {
            version.description.clone_from(d);
        }
        Ok(())
    }
}

/// Optional timestamps as microseconds since the Unix epoch, both ways.
pub(crate) mod opt_unix_micros {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::unix_micros::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(|micros| UNIX_EPOCH + Duration::from_micros(micros)))
    }
}

/// Timestamps in change payloads and audit rows: microseconds since the Unix epoch.
pub(crate) mod unix_micros {
    use std::time::{SystemTime, UNIX_EPOCH};

    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let micros = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        s.serialize_u64(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{ObjectLocation, UploadFile, UploadSession, UploadSessionState};

    fn session(id: &str, files: &[(&str, u64, &str)]) -> UploadSession {
        UploadSession {
            id: id.into(),
            model: ModelName::parse("model", "fraud/detector".to_owned()).unwrap(),
            location: ObjectLocation::from_uri(&format!("s3://models/bindery/fraud/detector/{id}/")).unwrap(),
            files: files
                .iter()
                .map(|(path, size, sha)| UploadFile {
                    path: (*path).into(),
                    size_bytes: *size,
                    sha256: (*sha).into(),
                    multipart: None,
                })
                .collect(),
            state: UploadSessionState::Open,
            created_at: SystemTime::UNIX_EPOCH,
            created_by: "ci".into(),
            expires_at: SystemTime::UNIX_EPOCH,
        }
    }

    fn registration(session_id: &str) -> NewVersion {
        NewVersion {
            model: ModelName::parse("model", "fraud/detector".to_owned()).unwrap(),
            request_id: Some("run-7".into()),
            artifact: Artifact::default(),
            params: BTreeMap::new(),
            metrics: BTreeMap::from([("auc".to_owned(), 0.93)]),
            tags: BTreeMap::new(),
            lineage: Lineage::default(),
            signature: Signature::default(),
            description: String::new(),
            upload_session_id: Some(session_id.into()),
            upload_files: None,
            deployment: None,
            verified_artifact: None,
        }
    }

    const A: &str = "aa";
    const B: &str = "bb";

    #[test]
    fn a_retry_through_a_new_session_with_the_same_files_is_the_same_payload() {
        let mut first = registration("s1");
        first.declare_session(&session("s1", &[("model.onnx", 10, A), ("config.json", 2, B)]));
        let stored = first.payload_json();
        assert!(stored.get("upload_session_id").is_none(), "the session id is not part of the payload");

        let mut retry = registration("s2");
        retry.declare_session(&session("s2", &[("config.json", 2, B), ("model.onnx", 10, A)]));
        retry.check_retry(&stored, 1).unwrap();

        let mut changed = registration("s3");
        changed.declare_session(&session("s3", &[("model.onnx", 10, B), ("config.json", 2, B)]));
        let err = changed.check_retry(&stored, 1).unwrap_err().to_string();
        assert!(err.contains("upload_files"), "{err}");
    }

    #[test]
    fn payloads_stored_with_a_session_id_still_match_a_retry_with_that_id() {
        let mut legacy = serde_json::to_value(registration("s1")).unwrap();
        legacy.as_object_mut().unwrap().insert("upload_session_id".into(), "s1".into());

        let mut same = registration("s1");
        same.declare_session(&session("s1", &[("model.onnx", 10, A)]));
        same.check_retry(&legacy, 1).unwrap();

        let mut other = registration("s2");
        other.declare_session(&session("s2", &[("model.onnx", 10, A)]));
        let err = other.check_retry(&legacy, 1).unwrap_err().to_string();
        assert!(err.contains("upload_session_id"), "{err}");
    }
}
