//! `/api/2.0/mlflow/registered-models/*`: models, their tags, aliases and latest versions.

use bindery_proto::v1;
use bindery_proto::v1::registry_service_server::RegistryService;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::filter::{self, Target};
use crate::shapes::{self, Stage};
use crate::{Call, Facade};

/// Versions looked at (newest first) for a model's latest version in stage None or Archived.
const LATEST_WINDOW: u32 = 100;
/// MLflow's largest page of a registered-model search.
const MAX_MODEL_RESULTS: u64 = 1_000;

pub(crate) fn rename_refused() -> ApiError {
    ApiError::not_implemented(
        "Bindery does not rename models: serving configs resolve by name and the audit trail records it. \
         Create the new model and copy versions into it (`bindery version copy <model> <version> <new model>`).",
    )
}

impl Facade {
    pub(crate) async fn create_model(&self, call: Call) -> ApiResult<Value> {
        let request = v1::CreateModelRequest {
            name: call.str("name")?,
            description: call.opt_str("description")?.unwrap_or_default(),
            owner: String::new(),
            tags: call.tags()?.into_iter().collect(),
        };
        let model = self.primary.create_model(self.request(&call, request)).await?.into_inner();
        Ok(json!({ "registered_model": shapes::registered_model(&model, &[], Vec::new()) }))
    }

    pub(crate) async fn get_model(&self, call: Call) -> ApiResult<Value> {
        let name = call.str("name")?;
        let model = self.model(&call, &name).await?;
        Ok(json!({ "registered_model": self.decorated(&call, &model).await? }))
    }

    pub(crate) async fn update_model(&self, call: Call) -> ApiResult<Value> {
        let request = v1::UpdateModelRequest {
            name: call.str("name")?,
            description: Some(call.opt_str("description")?.unwrap_or_default()),
            ..Default::default()
        };
        let model = self.primary.update_model(self.request(&call, request)).await?.into_inner();
        Ok(json!({ "registered_model": self.decorated(&call, &model).await? }))
    }

    pub(crate) async fn delete_model(&self, call: Call) -> ApiResult<Value> {
        let request = v1::DeleteModelRequest { name: call.str("name")? };
        self.primary.delete_model(self.request(&call, request)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn model_tag(&self, call: Call, set: bool) -> ApiResult<Value> {
        let key = call.str("key")?;
        let mut request = v1::UpdateModelRequest { name: call.str("name")?, ..Default::default() };
        if set {
            request.set_tags.insert(key, call.opt_str("value")?.unwrap_or_default());
        } else {
            request.remove_tags.push(key);
        }
        self.primary.update_model(self.request(&call, request)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn search_models(&self, call: Call) -> ApiResult<Value> {
        let max = call.opt_u64("max_results")?.unwrap_or(100);
        if max == 0 || max > MAX_MODEL_RESULTS {
            return Err(ApiError::invalid(format!(
                "Invalid value {max} for parameter 'max_results': it must be between 1 and {MAX_MODEL_RESULTS}"
            )));
        }
        let filter = filter::translate(Target::Models, &call.opt_str("filter")?.unwrap_or_default())?;
        let order_by = filter::order_by(Target::Models, &call.list("order_by")?)?;
        let request = v1::ListModelsRequest {
            page_size: u32::try_from(max).unwrap_or(1_000),
            page_token: call.opt_str("page_token")?.unwrap_or_default(),
            filter,
            order_by,
        };
        let page = self.primary.list_models(self.request(&call, request)).await?.into_inner();
        let mut models = Vec::with_capacity(page.models.len());
        for model in &page.models {
            models.push(self.decorated(&call, model).await?);
        }
        let mut out = serde_json::Map::new();
        if !models.is_empty() {
            out.insert("registered_models".into(), Value::Array(models));
        }
        if !page.next_page_token.is_empty() {
            out.insert("next_page_token".into(), json!(page.next_page_token));
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn latest_versions(&self, call: Call) -> ApiResult<Value> {
        let name = call.str("name")?;
        let stages = call
            .list("stages")?
            .iter()
            .map(|s| {
                Stage::parse(s).ok_or_else(|| {
                    ApiError::invalid(format!("Invalid Model Version stage: {s}. Value must be one of None, Staging, Production, Archived."))
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        // The model must exist (and be visible) even when it has no versions.
        self.model(&call, &name).await?;
        let bindings = self.bindings(&call, &name).await?;
        let versions = self.latest(&call, &name, &bindings, &stages).await?;
        Ok(if versions.is_empty() { json!({}) } else { json!({ "model_versions": versions }) })
    }

    pub(crate) async fn set_alias(&self, call: Call) -> ApiResult<Value> {
        let alias = alias(&call)?;
        let request = v1::SetBindingRequest {
            model_name: call.str("name")?,
            binding: alias,
            version: call.version()?,
            reason: "MLflow: set registered model alias".into(),
            ..Default::default()
        };
        self.primary.set_binding(self.request(&call, request)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn delete_alias(&self, call: Call) -> ApiResult<Value> {
        let request = v1::DeleteBindingRequest {
            model_name: call.str("name")?,
            binding: alias(&call)?,
            expected_generation: None,
            reason: "MLflow: delete registered model alias".into(),
        };
        let model = request.model_name.clone();
        match self.primary.delete_binding(self.request(&call, request)).await {
            Ok(_) => Ok(json!({})),
            // MLflow deletes an alias that is not there without complaint; the model must exist.
            Err(status) if status.code() == tonic::Code::NotFound => {
                self.model(&call, &model).await?;
                Ok(json!({}))
            }
            Err(status) => Err(status.into()),
        }
    }

    pub(crate) async fn get_by_alias(&self, call: Call) -> ApiResult<Value> {
        let name = call.str("name")?;
        let alias = call.str("alias")?;
        // One read: the version with the binding (what serving fleets call at deploy time).
        let request =
            v1::GetVersionRequest { model_name: name.clone(), binding: alias.clone(), ..Default::default() };
        match self.primary.get_version(self.request(&call, request)).await {
            Ok(version) => Ok(json!({ "model_version": self.version_json(&version.into_inner()) })),
            Err(status) if status.code() == tonic::Code::NotFound => {
                // A missing model is 404; a missing alias is MLflow's own 400.
                self.model(&call, &name).await?;
                Err(ApiError::invalid(format!("Registered model alias {alias} not found.")))
            }
            Err(status) => Err(status.into()),
        }
    }

    // -----------------------------------------------------------------------------------------

    pub(crate) async fn model(&self, call: &Call, name: &str) -> ApiResult<v1::Model> {
        let request = v1::GetModelRequest { name: name.to_owned() };
        Ok(self.primary.get_model(self.request(call, request)).await?.into_inner())
    }

    pub(crate) async fn bindings(&self, call: &Call, name: &str) -> ApiResult<Vec<v1::Binding>> {
        let request = v1::ListBindingsRequest { model_name: name.to_owned() };
        Ok(self.primary.list_bindings(self.request(call, request)).await?.into_inner().bindings)
    }

    /// A model as MLflow shows it: with its aliases and its latest version in each stage.
    async fn decorated(&self, call: &Call, model: &v1::Model) -> ApiResult<Value> {
        let bindings = self.bindings(call, &model.name).await?;
        let latest = self.latest(call, &model.name, &bindings, &[]).await?;
        Ok(shapes::registered_model(model, &bindings, latest))
    }

    /// The newest version in each of `stages` (all four when empty), as MLflow lists them.
    async fn latest(
        &self,
        call: &Call,
        name: &str,
        bindings: &[v1::Binding],
        stages: &[Stage],
    ) -> ApiResult<Vec<Value>> {
        let all = [Stage::None, Stage::Staging, Stage::Production, Stage::Archived];
        let stages = if stages.is_empty() { &all[..] } else { stages };
        let request = v1::ListVersionsRequest {
            model_name: name.to_owned(),
            page_size: LATEST_WINDOW,
            ..Default::default()
        };
        let recent = self.primary.list_versions(self.request(call, request)).await?.into_inner().versions;
        let mut out = Vec::new();
        for stage in stages {
            let found = match stage.binding() {
                Some(binding) => match bindings.iter().find(|b| b.name == binding) {
                    Some(b) => match recent.iter().find(|v| v.version == b.version) {
                        Some(v) => Some(v.clone()),
                        None => Some(self.version(call, name, b.version).await?),
                    },
                    None => None,
                },
                None => recent.iter().find(|v| Stage::of(v) == *stage).cloned(),
            };
            if let Some(version) = found
                && Stage::of(&version) == *stage
            {
                out.push(self.version_json(&version));
            }
        }
        Ok(out)
    }
}

/// The alias argument: a binding name that is not one of the two MLflow shows as stages.
fn alias(call: &Call) -> ApiResult<String> {
    let alias = call.str("alias")?;
    if !shapes::is_alias(&alias) {
        return Err(ApiError::invalid(format!(
            "'{alias}' is a stage here, not an alias: Bindery's `{alias}` binding is MLflow's {} stage; \
             use transition-stage, or another alias name",
            if alias == shapes::STAGING { "Staging" } else { "Production" }
        )));
    }
    Ok(alias)
}
