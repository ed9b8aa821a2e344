//! `/api/2.0/mlflow-artifacts/artifacts`: list, download and upload files of the registry's
//! managed store by path, as MLflow's artifact proxy does, so `load_model("models:/m@alias")`
//! needs no object-store credentials. A path starts with its model's name (`<model>/...` or
//! `<namespace>/<model>/...`, as upload sessions lay files out): listing and downloading need
//! VIEWER on that model, uploading CONTRIBUTOR, and a stored file is never replaced.

use std::collections::BTreeMap;

use bindery_core::{ModelName, Role};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tonic::metadata::MetadataMap;

use crate::error::{ApiError, ApiResult};
use crate::{Body, Facade, credentials, json_response, read_body, respond};

const PREFIX: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// The managed-store path of an MLflow artifact location: `mlflow-artifacts:/<path>`,
/// `mlflow-artifacts://<host>/<path>` or `http(s)://<host>/api/2.0/mlflow-artifacts/artifacts/<path>`.
pub(crate) fn mlflow_artifacts_path(source: &str) -> Option<String> {
    let rest = if let Some(rest) = source.strip_prefix("mlflow-artifacts:") {
        match rest.strip_prefix("//") {
            Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, p)| p),
            None => rest,
        }
    } else if source.starts_with("http://") || source.starts_with("https://") {
        source.split_once(PREFIX).map(|(_, p)| p)?
    } else {
        return None;
    };
    let path = rest.trim_matches('/');
    (!path.is_empty()).then(|| path.to_owned())
}

impl Facade {
    pub(crate) async fn artifacts_endpoint(&self, req: Request<Incoming>) -> ApiResult<Response<Body>> {
        let metadata = credentials(req.headers())?;
        let raw = req.uri().path().strip_prefix(PREFIX).unwrap_or("").trim_start_matches('/');
        let path = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| ApiError::invalid("the artifact path is not UTF-8"))?
            .into_owned();
        if !path.is_empty() {
            // Relative, no `.`/`..` or empty segments: checked before anything is looked up.
            self.artifacts.managed_object(&path)?;
        }
        match (req.method().clone(), path.is_empty()) {
            (Method::GET, true) => {
                let query = crate::query_args(req.uri().query().unwrap_or(""));
                let dir =
                    query.get("path").and_then(Value::as_str).unwrap_or("").trim_matches('/').to_owned();
                self.list_artifacts(&metadata, &dir).await.map(json_response)
            }
            (Method::GET, false) => self.download_artifact(&metadata, &path).await,
            (Method::PUT, false) => {
                self.model_of(&metadata, &path, Role::Contributor, "MlflowArtifacts.Upload").await?;
                let body = read_body(req.into_body(), self.limits, self.max_upload_bytes).await.map_err(|e| {
                    if e.http == 413 {
                        ApiError::too_large(format!(
                            "{path:?} is larger than the {} bytes one MLflow upload may carry here; upload large \
                             files with `bindery upload` (in parts)",
                            self.max_upload_bytes
                        ))
                    } else {
                        e
                    }
                })?;
                self.artifacts.put_managed(&self.transfer, &path, body).await?;
                Ok(json_response(json!({})))
            }
            (method, _) => Err(ApiError::endpoint_not_found(method.as_str(), req.uri().path())),
        }
    }

    /// The files and directories directly under `dir`, with names relative to it.
    async fn list_artifacts(&self, metadata: &MetadataMap, dir: &str) -> ApiResult<Value> {
        if dir.is_empty() {
            return Err(ApiError::invalid(
                "list a path that starts with a model name (`?path=<model>/...`); the store's root is not listed",
            ));
        }
        self.model_of(metadata, &format!("{dir}/x"), Role::Viewer, "MlflowArtifacts.List").await?;
        let objects = self.artifacts.list_managed(dir).await?;
        let base = format!("{}{dir}/", self.artifacts.managed_prefix().map_or("", |m| m.key.as_str()));
        let mut entries: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for object in &objects {
            let Some(rel) = object.location.key.strip_prefix(&base) else { continue };
            match rel.split_once('/') {
                Some((subdir, _)) => {
                    entries.insert(subdir.to_owned(), None);
                }
                None => {
                    entries.insert(rel.to_owned(), Some(object.size_bytes));
                }
            }
        }
        let files: Vec<Value> = entries
            .into_iter()
            .map(|(path, size)| match size {
                Some(size) => json!({ "path": path, "is_dir": false, "file_size": size }),
                None => json!({ "path": path, "is_dir": true }),
            })
            .collect();
        Ok(if files.is_empty() { json!({}) } else { json!({ "files": files }) })
    }

    /// Streams file `path` from the object store.
    async fn download_artifact(&self, metadata: &MetadataMap, path: &str) -> ApiResult<Response<Body>> {
        self.model_of(metadata, path, Role::Viewer, "MlflowArtifacts.Download").await?;
        let Some(get) = self.artifacts.presign_managed_get(path).await? else {
            return Err(ApiError::not_found(format!("no artifact at {path:?}")));
        };
        let response = self.transfer.open(&get).await.map_err(|e| ApiError {
            code: "TEMPORARILY_UNAVAILABLE",
            http: 503,
            message: format!("reading {path:?} from the object store: {e}"),
        })?;
        if response.status() != hyper::StatusCode::OK {
            return Err(ApiError {
                code: "TEMPORARILY_UNAVAILABLE",
                http: 503,
                message: format!("the object store answered {} for {path:?}", response.status()),
            });
        }
        let body =
            response.into_body().map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).boxed();
        Ok(respond(200, "application/octet-stream", body))
    }

    /// The model file `path` belongs to (its first two segments, else its first, name it), once
    /// the caller is found to hold `need` on it.
    async fn model_of(
        &self,
        metadata: &MetadataMap,
        path: &str,
        need: Role,
        method: &'static str,
    ) -> ApiResult<ModelName> {
        let segments: Vec<&str> = path.split('/').collect();
        let candidates: Vec<ModelName> = [2, 1]
            .into_iter()
            .filter(|take| segments.len() > *take)
            .filter_map(|take| ModelName::parse("path", segments[..take].join("/")).ok())
            .collect();
        match self.primary.authorize_first_existing(metadata, method, need, &candidates).await? {
            Some(model) => Ok(model),
            None => Err(ApiError::not_found(format!(
                "artifact path {path:?}: paths start with the name of an existing model (`<model>/...` or \
                 `<namespace>/<model>/...`)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_artifact_locations_name_a_path_in_the_managed_store() {
        assert_eq!(
            mlflow_artifacts_path("mlflow-artifacts:/fraud/run-1/model").as_deref(),
            Some("fraud/run-1/model")
        );
        assert_eq!(
            mlflow_artifacts_path("mlflow-artifacts://host:5000/fraud/m/").as_deref(),
            Some("fraud/m")
        );
        assert_eq!(
            mlflow_artifacts_path("http://h:5000/api/2.0/mlflow-artifacts/artifacts/fraud/m").as_deref(),
            Some("fraud/m")
        );
        assert_eq!(mlflow_artifacts_path("s3://b/k"), None);
        assert_eq!(mlflow_artifacts_path("mlflow-artifacts:/"), None);
        assert_eq!(mlflow_artifacts_path("runs:/abc/model"), None);
    }
}
