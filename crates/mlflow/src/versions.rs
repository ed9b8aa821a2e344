//! `/api/2.0/mlflow/model-versions/*`: versions, their tags, download URIs and stages.

use bindery_proto::v1;
use bindery_proto::v1::registry_service_server::RegistryService;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::filter::{self, Target};
use crate::shapes::{self, Stage};
use crate::{Call, Facade};

/// MLflow's default (and Bindery's largest) answer to a model-version search.
const MAX_VERSION_RESULTS: u64 = 10_000;
const PAGE: u64 = 1_000;

impl Facade {
    pub(crate) async fn create_version(&self, call: Call) -> ApiResult<Value> {
        let name = call.str("name")?;
        // A missing model is MLflow's RESOURCE_DOES_NOT_EXIST, before the source is looked at.
        self.model(&call, &name).await?;
        let uri = self.artifact_uri(&call.str("source")?)?;
        let run_id = call.opt_str("run_id")?.unwrap_or_default();
        let request = v1::RegisterVersionRequest {
            model_name: name,
            artifact: Some(v1::Artifact { uri, ..Default::default() }),
            tags: call.tags()?.into_iter().collect(),
            description: call.opt_str("description")?.unwrap_or_default(),
            lineage: (!run_id.is_empty())
                .then(|| v1::Lineage { training_run_id: run_id, ..Default::default() }),
            ..Default::default()
        };
        let registered = self.primary.register_version(self.request(&call, request)).await?.into_inner();
        let version =
            registered.version.ok_or_else(|| ApiError::from(tonic::Status::internal("no version")))?;
        Ok(json!({ "model_version": self.version_json(&version) }))
    }

    pub(crate) async fn get_version(&self, call: Call) -> ApiResult<Value> {
        let version = self.version(&call, &call.str("name")?, call.version()?).await?;
        Ok(json!({ "model_version": self.version_json(&version) }))
    }

    pub(crate) async fn update_version(&self, call: Call) -> ApiResult<Value> {
        let request = v1::UpdateVersionRequest {
            model_name: call.str("name")?,
            version: call.version()?,
            description: Some(call.opt_str("description")?.unwrap_or_default()),
            ..Default::default()
        };
        let version = self.primary.update_version(self.request(&call, request)).await?.into_inner();
        Ok(json!({ "model_version": self.version_json(&version) }))
    }

    pub(crate) async fn delete_version(&self, call: Call) -> ApiResult<Value> {
        let request = v1::DeleteVersionRequest { model_name: call.str("name")?, version: call.version()? };
        self.primary.delete_version(self.request(&call, request)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn version_tag(&self, call: Call, set: bool) -> ApiResult<Value> {
        let key = call.str("key")?;
        let mut request = v1::UpdateVersionRequest {
            model_name: call.str("name")?,
            version: call.version()?,
            ..Default::default()
        };
        if set {
            request.set_tags.insert(key, call.opt_str("value")?.unwrap_or_default());
        } else {
            request.remove_tags.push(key);
        }
        self.primary.update_version(self.request(&call, request)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn search_versions(&self, call: Call) -> ApiResult<Value> {
        let max = call.opt_u64("max_results")?.unwrap_or(MAX_VERSION_RESULTS);
        if max == 0 || max > MAX_VERSION_RESULTS {
            return Err(ApiError::invalid(format!(
                "Invalid value {max} for parameter 'max_results': it must be between 1 and {MAX_VERSION_RESULTS}"
            )));
        }
        let filter = filter::translate(Target::Versions, &call.opt_str("filter")?.unwrap_or_default())?;
        let order_by = filter::order_by(Target::Versions, &call.list("order_by")?)?;
        let mut token = call.opt_str("page_token")?.unwrap_or_default();
        let mut versions = Vec::new();
        // Pages of up to 1,000 until `max`: the last page asked for is exactly what is left, so
        // the token handed back continues right after the last version answered.
        loop {
            let left = max - versions.len() as u64;
            let request = v1::ListVersionsRequest {
                page_size: u32::try_from(left.min(PAGE)).unwrap_or(1_000),
                page_token: std::mem::take(&mut token),
                filter: filter.clone(),
                order_by: order_by.clone(),
                ..Default::default()
            };
            let page = self.primary.list_versions(self.request(&call, request)).await?.into_inner();
            let live = page.versions.iter().filter(|v| v.status != v1::VersionStatus::Deleted as i32);
            versions.extend(live.map(|v| self.version_json(v)));
            token = page.next_page_token;
            if token.is_empty() || versions.len() as u64 >= max {
                break;
            }
        }
        let mut out = serde_json::Map::new();
        if !versions.is_empty() {
            out.insert("model_versions".into(), Value::Array(versions));
        }
        if !token.is_empty() {
            out.insert("next_page_token".into(), json!(token));
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn download_uri(&self, call: Call) -> ApiResult<Value> {
        let version = self.version(&call, &call.str("name")?, call.version()?).await?;
        Ok(json!({ "artifact_uri": self.source_of(&version) }))
    }

    /// MLflow's stages on Bindery's `staging` and `production` bindings (every move audited and
    /// behind the binding's protection and gates); Archived is ArchiveVersion.
    pub(crate) async fn transition_stage(&self, call: Call) -> ApiResult<Value> {
        let name = call.str("name")?;
        let number = call.version()?;
        let raw = call.str("stage")?;
        let stage = Stage::parse(&raw).ok_or_else(|| {
            ApiError::invalid(format!("Invalid Model Version stage: {raw}. Value must be one of None, Staging, Production, Archived."))
        })?;
        let archive_existing = call.bool("archive_existing_versions")?;
        let version = self.version(&call, &name, number).await?;
        let reason = format!("MLflow: transition version {number} to {}", stage.name());
        match stage.binding() {
            Some(binding) => {
                let current = self.bindings(&call, &name).await?.into_iter().find(|b| b.name == binding);
                let previous = current.map(|b| b.version).filter(|v| *v != number);
                // Archiving the version this replaces must be possible before anything moves.
                let previous = match (archive_existing, previous) {
                    (true, Some(p)) => {
                        let prev = self.version(&call, &name, p).await?;
                        if let Some(other) = prev.bindings.iter().find(|b| b.as_str() != binding) {
                            return Err(ApiError {
                                code: "BAD_REQUEST",
                                http: 400,
                                message: format!(
                                    "archive_existing_versions: version {p} is also bound as '{other}', so it cannot be \
                                     archived; move or delete that binding first, or transition without archiving"
                                ),
                            });
                        }
                        Some(p)
                    }
                    _ => None,
                };
                let request = v1::SetBindingRequest {
                    model_name: name.clone(),
                    binding: binding.to_owned(),
                    version: number,
                    reason: reason.clone(),
                    ..Default::default()
                };
                self.primary.set_binding(self.request(&call, request)).await?;
                if let Some(p) = previous {
                    let request = v1::ArchiveVersionRequest { model_name: name.clone(), version: p };
                    self.primary.archive_version(self.request(&call, request)).await?;
                }
            }
            None => {
                if Stage::of(&version) == Stage::Archived && stage == Stage::None {
                    return Err(ApiError {
                        code: "BAD_REQUEST",
                        http: 400,
                        message: format!(
                            "version {number} is archived, and archived versions stay archived in Bindery"
                        ),
                    });
                }
                if stage == Stage::Archived
                    && let Some(alias) = version.bindings.iter().find(|b| shapes::is_alias(b))
                {
                    return Err(ApiError {
                        code: "BAD_REQUEST",
                        http: 400,
                        message: format!(
                            "version {number} is bound to alias '{alias}': move or delete the alias before archiving it"
                        ),
                    });
                }
                // Leaving Staging/Production: delete the stage bindings that point at it.
                for binding in version.bindings.iter().filter(|b| !shapes::is_alias(b)) {
                    let request = v1::DeleteBindingRequest {
                        model_name: name.clone(),
                        binding: binding.clone(),
                        expected_generation: None,
                        reason: reason.clone(),
                    };
                    self.primary.delete_binding(self.request(&call, request)).await?;
                }
                if stage == Stage::Archived && Stage::of(&version) != Stage::Archived {
                    let request = v1::ArchiveVersionRequest { model_name: name.clone(), version: number };
                    self.primary.archive_version(self.request(&call, request)).await?;
                }
            }
        }
        let version = self.version(&call, &name, number).await?;
        Ok(json!({ "model_version": self.version_json(&version) }))
    }

    // -----------------------------------------------------------------------------------------

    pub(crate) async fn version(&self, call: &Call, name: &str, version: u64) -> ApiResult<v1::ModelVersion> {
        let request = v1::GetVersionRequest { model_name: name.to_owned(), version, ..Default::default() };
        let found = self.primary.get_version(self.request(call, request)).await?.into_inner();
        // Bindery keeps deleted versions (soft delete, for the audit trail); MLflow has none.
        if found.status == v1::VersionStatus::Deleted as i32 {
            return Err(ApiError::not_found(format!(
                "Model Version (name={name}, version={version}) not found"
            )));
        }
        Ok(found)
    }

    pub(crate) fn version_json(&self, version: &v1::ModelVersion) -> Value {
        shapes::model_version(version, &self.source_of(version))
    }

    /// The `source` MLflow sees: `mlflow-artifacts:/<path>` for files in the registry's managed
    /// store (downloadable through this facade without object-store credentials), else the
    /// artifact's URI, a prefix without its trailing `/`.
    pub(crate) fn source_of(&self, version: &v1::ModelVersion) -> String {
        let uri = version.artifact.as_ref().map_or("", |a| a.uri.as_str());
        match self.artifacts.managed_relative(uri) {
            Some(rel) => format!("mlflow-artifacts:/{}", rel.trim_end_matches('/')),
            None if uri.starts_with("s3://") => uri.trim_end_matches('/').to_owned(),
            None => uri.to_owned(),
        }
    }

    /// The artifact URI to register for MLflow source `source`. MLflow model sources are
    /// directories, so an `s3://` source is registered as a prefix.
    fn artifact_uri(&self, source: &str) -> ApiResult<String> {
        if let Some(rel) = crate::artifacts::mlflow_artifacts_path(source) {
            let object = self.artifacts.managed_object(&rel)?;
            return Ok(format!("{}/", object.uri()));
        }
        if let Some(rest) = source.strip_prefix("s3://") {
            if rest.split_once('/').is_none_or(|(_, key)| key.is_empty()) {
                return Err(ApiError::invalid(format!(
                    "source {source:?}: an s3:// source names a bucket and a key"
                )));
            }
            return Ok(if source.ends_with('/') { source.to_owned() } else { format!("{source}/") });
        }
        Err(ApiError::invalid(format!(
            "source {source:?}: Bindery registers s3:// locations and mlflow-artifacts:/<model>/<path> files uploaded \
             through this server. runs:/ and models:/ URIs need MLflow's tracking server, which Bindery is not, and a \
             local path is not reachable from the registry."
        )))
    }
}
