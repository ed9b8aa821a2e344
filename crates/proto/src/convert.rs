//! Wire <-> domain. Requests decode with `TryFrom`, which validates every field and names the
//! offending one in `InvalidArgument`; domain values encode with `From`.

use std::time::{SystemTime, UNIX_EPOCH};

use bindery_core as core;
use bindery_core::{
    BindingAssignment, BindingName, DeleteBinding, Error, ModelName, ModelUpdate, NewModel, NewVersion,
    PageRequest, RollbackBinding, SetBinding, SetBindings, VersionKey, VersionLookup, VersionUpdate,
    validate, validate_reason,
};

use crate::v1;

pub fn to_timestamp(t: SystemTime) -> prost_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests -> domain

impl TryFrom<v1::CreateModelRequest> for NewModel {
    type Error = Error;
    fn try_from(r: v1::CreateModelRequest) -> Result<Self, Error> {
        let m = NewModel {
            name: ModelName::parse("name", r.name)?,
            description: r.description,
            owner: r.owner,
            tags: r.tags,
        };
        m.validate()?;
        Ok(m)
    }
}

impl TryFrom<v1::UpdateModelRequest> for (ModelName, ModelUpdate) {
    type Error = Error;
    fn try_from(r: v1::UpdateModelRequest) -> Result<Self, Error> {
        let name = ModelName::parse("name", r.name)?;
        let update = ModelUpdate {
            description: r.description,
            owner: r.owner,
            set_tags: r.set_tags,
            remove_tags: r.remove_tags,
        };
        update.validate()?;
        Ok((name, update))
    }
}

impl TryFrom<v1::Artifact> for core::Artifact {
    type Error = Error;
    fn try_from(a: v1::Artifact) -> Result<Self, Error> {
        // What the registry found on verification is never taken from a client.
        Ok(Self {
            uri: a.uri,
            sha256: a.sha256,
            size_bytes: a.size_bytes,
            format: a.format,
            ..Self::default()
        })
    }
}

impl TryFrom<v1::Lineage> for core::Lineage {
    type Error = Error;
    fn try_from(l: v1::Lineage) -> Result<Self, Error> {
        let parent_versions = l
            .parent_versions
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(core::VersionRef {
                    model_name: ModelName::parse(
                        &format!("lineage.parent_versions[{i}].model_name"),
                        p.model_name,
                    )?,
                    version: p.version,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            training_run_id: l.training_run_id,
            code_ref: l.code_ref,
            datasets: l
                .datasets
                .into_iter()
                .map(|d| core::DatasetRef { uri: d.uri, version: d.version })
                .collect(),
            parent_versions,
            environment: l.environment,
        })
    }
}

impl TryFrom<v1::RegisterVersionRequest> for NewVersion {
    type Error = Error;
    fn try_from(r: v1::RegisterVersionRequest) -> Result<Self, Error> {
        let upload_session_id = Some(r.upload_session_id).filter(|id| !id.is_empty());
        let artifact = match (r.artifact, &upload_session_id) {
            (Some(artifact), _) => artifact,
            (None, Some(_)) => v1::Artifact::default(),
            (None, None) => {
                return Err(Error::invalid(
                    "artifact",
                    "is required (at least artifact.uri), unless upload_session_id is set",
                ));
            }
        };
        let signature = r.signature.unwrap_or_default();
        let mut v = NewVersion {
            model: ModelName::parse("model_name", r.model_name)?,
            request_id: Some(r.request_id).filter(|id| !id.is_empty()),
            artifact: artifact.try_into()?,
            params: r.params,
            metrics: r.metrics,
            tags: r.tags,
            lineage: r.lineage.map(TryInto::try_into).transpose()?.unwrap_or_default(),
            signature: core::Signature {
                inputs_json: signature.inputs_json,
                outputs_json: signature.outputs_json,
            },
            description: r.description,
            upload_session_id,
            upload_files: None,
            deployment: r.deployment.map(deployment_from_wire).filter(|d| !d.is_empty()),
            verified_artifact: None,
        };
        v.validate()?;
        Ok(v)
    }
}

fn version_key(model_name: String, version: u64) -> Result<VersionKey, Error> {
    Ok(VersionKey {
        model: ModelName::parse("model_name", model_name)?,
        version: validate::version_number("version", version)?,
    })
}

impl TryFrom<v1::GetVersionRequest> for VersionLookup {
    type Error = Error;
    fn try_from(r: v1::GetVersionRequest) -> Result<Self, Error> {
        if r.binding.is_empty() {
            return version_key(r.model_name, r.version).map(Self::Number);
        }
        if r.version != 0 {
            return Err(Error::invalid("version", "give a version or a binding, not both"));
        }
        Ok(Self::Bound(
            ModelName::parse("model_name", r.model_name)?,
            BindingName::parse("binding", r.binding)?,
        ))
    }
}

impl TryFrom<v1::ArchiveVersionRequest> for VersionKey {
    type Error = Error;
    fn try_from(r: v1::ArchiveVersionRequest) -> Result<Self, Error> {
        version_key(r.model_name, r.version)
    }
}

impl TryFrom<v1::UpdateVersionRequest> for (VersionKey, VersionUpdate) {
    type Error = Error;
    fn try_from(r: v1::UpdateVersionRequest) -> Result<Self, Error> {
        let key = version_key(r.model_name, r.version)?;
        let update = VersionUpdate {
            description: r.description,
            set_tags: r.set_tags,
            remove_tags: r.remove_tags,
            add_metrics: r.add_metrics,
        };
        update.validate()?;
        Ok((key, update))
    }
}

impl TryFrom<v1::SetBindingRequest> for SetBinding {
    type Error = Error;
    fn try_from(r: v1::SetBindingRequest) -> Result<Self, Error> {
        validate_reason(&r.reason)?;
        let (version, traffic) =
            crate::traffic::decode_target("", r.version, r.traffic, r.deployment_override)?;
        Ok(Self {
            model: ModelName::parse("model_name", r.model_name)?,
            name: BindingName::parse("binding", r.binding)?,
            version,
            traffic,
            expected_generation: r.expected_generation,
            reason: r.reason,
        })
    }
}

impl TryFrom<v1::SetBindingsRequest> for SetBindings {
    type Error = Error;
    fn try_from(r: v1::SetBindingsRequest) -> Result<Self, Error> {
        let model = ModelName::parse("model_name", r.model_name)?;
        let bindings = r
            .bindings
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let (version, traffic) = crate::traffic::decode_target(
                    &format!("bindings[{i}]."),
                    b.version,
                    b.traffic,
                    b.deployment_override,
                )?;
                Ok(BindingAssignment {
                    name: BindingName::parse(&format!("bindings[{i}].binding"), b.binding)?,
                    version,
                    traffic,
                    expected_generation: b.expected_generation,
                })
            })
            .collect::<Result<_, Error>>()?;
        let req = SetBindings { model, bindings, reason: r.reason };
        req.validate()?;
        Ok(req)
    }
}

impl TryFrom<v1::DeleteBindingRequest> for DeleteBinding {
    type Error = Error;
    fn try_from(r: v1::DeleteBindingRequest) -> Result<Self, Error> {
        validate_reason(&r.reason)?;
        Ok(Self {
            model: ModelName::parse("model_name", r.model_name)?,
            name: BindingName::parse("binding", r.binding)?,
            expected_generation: r.expected_generation,
            reason: r.reason,
        })
    }
}

impl TryFrom<v1::RollbackBindingRequest> for RollbackBinding {
    type Error = Error;
    fn try_from(r: v1::RollbackBindingRequest) -> Result<Self, Error> {
        validate_reason(&r.reason)?;
        if r.to_generation == Some(0) {
            return Err(Error::invalid("to_generation", "generations are numbered from 1"));
        }
        Ok(Self {
            model: ModelName::parse("model_name", r.model_name)?,
            name: BindingName::parse("binding", r.binding)?,
            to_generation: r.to_generation,
            expected_generation: r.expected_generation,
            reason: r.reason,
        })
    }
}

impl TryFrom<v1::ListVersionsRequest> for (ModelName, PageRequest) {
    type Error = Error;
    fn try_from(r: v1::ListVersionsRequest) -> Result<Self, Error> {
        Ok((
            ModelName::parse("model_name", r.model_name)?,
            PageRequest::parse("versions", r.page_size, &r.page_token)?,
        ))
    }
}

impl TryFrom<v1::ListBindingHistoryRequest> for (ModelName, BindingName, PageRequest) {
    type Error = Error;
    fn try_from(r: v1::ListBindingHistoryRequest) -> Result<Self, Error> {
        Ok((
            ModelName::parse("model_name", r.model_name)?,
            BindingName::parse("binding", r.binding)?,
            PageRequest::parse("history", r.page_size, &r.page_token)?,
        ))
    }
}

impl TryFrom<v1::ResolveRequest> for (ModelName, BindingName) {
    type Error = Error;
    fn try_from(r: v1::ResolveRequest) -> Result<Self, Error> {
        core::traffic::validate_routing_key(&r.routing_key)?;
        Ok((ModelName::parse("model_name", r.model_name)?, BindingName::parse("binding", r.binding)?))
    }
}

pub fn deployment_from_wire(d: v1::DeploymentSpec) -> core::deployment::DeploymentSpec {
    core::deployment::DeploymentSpec {
        runtime: d.runtime,
        image: d.image,
        cpu: d.cpu,
        memory: d.memory,
        gpu: d.gpu,
        env: d.env.into_iter().collect(),
        min_replicas: d.min_replicas,
        max_replicas: d.max_replicas,
        config_json: d.config_json,
    }
}

// ---------------------------------------------------------------------------------------------
// Domain -> wire

/// A version's deployment spec on the wire (`None` when it has none).
pub fn deployment_to_wire(d: Option<&core::deployment::DeploymentSpec>) -> Option<v1::DeploymentSpec> {
    d.map(|d| v1::DeploymentSpec {
        runtime: d.runtime.clone(),
        image: d.image.clone(),
        cpu: d.cpu.clone(),
        memory: d.memory.clone(),
        gpu: d.gpu,
        env: d.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        min_replicas: d.min_replicas,
        max_replicas: d.max_replicas,
        config_json: d.config_json.clone(),
    })
}

impl From<core::Model> for v1::Model {
    fn from(m: core::Model) -> Self {
        Self {
            name: m.name.into_string(),
            description: m.description,
            owner: m.owner,
            tags: m.tags,
            created_at: Some(to_timestamp(m.created_at)),
            updated_at: Some(to_timestamp(m.updated_at)),
            latest_version: m.latest_version,
            created_by: m.created_by,
            updated_by: m.updated_by,
            revision: m.revision,
        }
    }
}

impl From<core::Artifact> for v1::Artifact {
    fn from(a: core::Artifact) -> Self {
        Self {
            uri: a.uri,
            sha256: a.sha256,
            size_bytes: a.size_bytes,
            format: a.format,
            etag: a.etag,
            last_modified: a.last_modified.map(to_timestamp),
            verified: a.verified,
            sha256_verified: a.sha256_verified,
            files: a
                .files
                .into_iter()
                .map(|f| v1::ArtifactFile {
                    path: f.path,
                    size_bytes: f.size_bytes,
                    etag: f.etag,
                    sha256: f.sha256,
                })
                .collect(),
        }
    }
}

impl From<core::PresignedRequest> for v1::PresignedRequest {
    fn from(r: core::PresignedRequest) -> Self {
        Self {
            method: r.method,
            url: r.url,
            headers: r.headers.into_iter().collect(),
            expires_at: Some(to_timestamp(r.expires_at)),
        }
    }
}

impl From<core::VersionStatus> for v1::VersionStatus {
    fn from(s: core::VersionStatus) -> Self {
        match s {
            core::VersionStatus::Ready => Self::Ready,
            core::VersionStatus::Archived => Self::Archived,
            core::VersionStatus::Deleted => Self::Deleted,
        }
    }
}

impl From<core::ModelVersion> for v1::ModelVersion {
    fn from(v: core::ModelVersion) -> Self {
        let l = v.lineage;
        Self {
            model_name: v.model_name.into_string(),
            version: v.version,
            status: v1::VersionStatus::from(v.status).into(),
            deployment: deployment_to_wire(v.artifact.deployment.as_deref()),
            artifact: Some(v.artifact.into()),
            params: v.params,
            metrics: v.metrics,
            tags: v.tags,
            lineage: Some(v1::Lineage {
                training_run_id: l.training_run_id,
                code_ref: l.code_ref,
                datasets: l
                    .datasets
                    .into_iter()
                    .map(|d| v1::DatasetRef { uri: d.uri, version: d.version })
                    .collect(),
                parent_versions: l
                    .parent_versions
                    .into_iter()
                    .map(|p| v1::VersionRef { model_name: p.model_name.into_string(), version: p.version })
                    .collect(),
                environment: l.environment,
            }),
            signature: Some(v1::Signature {
                inputs_json: v.signature.inputs_json,
                outputs_json: v.signature.outputs_json,
            }),
            description: v.description,
            created_at: Some(to_timestamp(v.created_at)),
            created_by: v.created_by,
            bindings: v.bindings,
            updated_at: Some(to_timestamp(v.updated_at)),
            updated_by: v.updated_by,
            request_id: v.request_id,
            revision: v.revision,
        }
    }
}

impl From<core::Binding> for v1::Binding {
    fn from(b: core::Binding) -> Self {
        Self {
            model_name: b.model_name.into_string(),
            name: b.name.as_str().to_owned(),
            version: b.version,
            traffic: b.traffic.as_ref().map(crate::traffic::encode),
            generation: b.generation,
            updated_at: Some(to_timestamp(b.updated_at)),
            updated_by: b.updated_by,
            revision: b.revision,
        }
    }
}

impl From<core::BindingWrite> for v1::SetBindingResponse {
    fn from(w: core::BindingWrite) -> Self {
        Self { binding: Some(w.binding.into()), revision: w.revision }
    }
}

impl From<core::BindingsWrite> for v1::SetBindingsResponse {
    fn from(w: core::BindingsWrite) -> Self {
        Self { bindings: w.bindings.into_iter().map(Into::into).collect(), revision: w.revision }
    }
}

impl From<&core::BindingChange> for v1::BindingState {
    fn from(c: &core::BindingChange) -> Self {
        let mut state = Self {
            model_name: c.model_name.as_str().to_owned(),
            binding: c.binding.as_str().to_owned(),
            generation: c.generation,
            deleted: c.target.is_none(),
            ..Default::default()
        };
        if let Some(target) = &c.target {
            state.version = target.version;
            state.artifact_uri.clone_from(&target.artifact.uri);
            state.sha256.clone_from(&target.artifact.sha256);
            state.size_bytes = target.artifact.size_bytes;
            state.artifact_format.clone_from(&target.artifact.format);
            state.deployment =
                crate::traffic::effective_deployment(&target.artifact, target.traffic.as_ref());
            if let Some(traffic) = &target.traffic {
                (state.sides, state.shadows) = crate::traffic::members(traffic, |v| target.artifact_of(v));
            }
        }
        state
    }
}

impl From<core::BindingAction> for v1::BindingAction {
    fn from(a: core::BindingAction) -> Self {
        match a {
            core::BindingAction::Set => Self::Set,
            core::BindingAction::Delete => Self::Delete,
            core::BindingAction::Rollback => Self::Rollback,
        }
    }
}

impl From<core::BindingHistoryEntry> for v1::BindingHistoryEntry {
    fn from(e: core::BindingHistoryEntry) -> Self {
        Self {
            model_name: e.model_name.into_string(),
            binding: e.binding.as_str().to_owned(),
            generation: e.generation,
            action: v1::BindingAction::from(e.action).into(),
            before_version: e.before_version,
            after_version: e.after_version,
            before_traffic: e.before_traffic.as_ref().map(crate::traffic::encode),
            after_traffic: e.after_traffic.as_ref().map(crate::traffic::encode),
            revision: e.revision,
            actor: e.actor,
            reason: e.reason,
            time: Some(to_timestamp(e.time)),
        }
    }
}

impl From<core::Registered> for v1::RegisterVersionResponse {
    fn from(r: core::Registered) -> Self {
        Self { version: Some(r.version.into()), revision: r.revision, created: r.created }
    }
}

// ---------------------------------------------------------------------------------------------
// Artifacts: deletes, upload sessions, downloads

impl TryFrom<v1::DeleteVersionRequest> for VersionKey {
    type Error = Error;
    fn try_from(r: v1::DeleteVersionRequest) -> Result<Self, Error> {
        version_key(r.model_name, r.version)
    }
}

impl TryFrom<v1::GetDownloadUrlsRequest> for (VersionKey, PageRequest) {
    type Error = Error;
    fn try_from(r: v1::GetDownloadUrlsRequest) -> Result<Self, Error> {
        Ok((version_key(r.model_name, r.version)?, PageRequest::parse("files", r.page_size, &r.page_token)?))
    }
}

impl TryFrom<v1::CreateUploadSessionRequest> for (ModelName, Vec<core::FileSpec>) {
    type Error = Error;
    fn try_from(r: v1::CreateUploadSessionRequest) -> Result<Self, Error> {
        let model = ModelName::parse("model_name", r.model_name)?;
        let files = r
            .files
            .into_iter()
            .map(|f| core::FileSpec { path: f.path, size_bytes: f.size_bytes, sha256: f.sha256 })
            .collect();
        Ok((model, files))
    }
}

/// The request a client sends to a presigned URL it was handed.
impl From<&v1::PresignedRequest> for core::PresignedRequest {
    fn from(r: &v1::PresignedRequest) -> Self {
        let expires_at = r.expires_at.as_ref().map_or(UNIX_EPOCH, |t| {
            UNIX_EPOCH
                + std::time::Duration::new(
                    u64::try_from(t.seconds).unwrap_or(0),
                    u32::try_from(t.nanos).unwrap_or(0),
                )
        });
        Self {
            method: r.method.clone(),
            url: r.url.clone(),
            headers: r.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            expires_at,
        }
    }
}

impl From<core::DownloadUrl> for v1::DownloadUrl {
    fn from(d: core::DownloadUrl) -> Self {
        Self { path: d.path, size_bytes: d.size_bytes, sha256: d.sha256, request: Some(d.request.into()) }
    }
}

impl From<core::SessionGrant> for v1::UploadSession {
    fn from(g: core::SessionGrant) -> Self {
        Self {
            id: g.session.id,
            model_name: g.session.model.into_string(),
            uri: g.session.location.uri(),
            expires_at: Some(to_timestamp(g.session.expires_at)),
            files: g
                .files
                .into_iter()
                .map(|f| v1::FileUpload {
                    path: f.path,
                    size_bytes: f.size_bytes,
                    put: f.put.map(Into::into),
                    parts: f
                        .parts
                        .into_iter()
                        .map(|p| v1::UploadPart {
                            part_number: p.part_number,
                            offset: p.offset,
                            size_bytes: p.size_bytes,
                            put: Some(p.put.into()),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
