//! The write-primary's gRPC services. Handlers stay thin: decode and validate the request into
//! domain types (`TryFrom`), call the [`Store`], encode the answer (`From`).

mod access;
mod annotations;
mod auth;
mod delivery;
mod lineage;
mod promotion;
mod resolver;
mod rollout;
mod search;
mod webhook;

use std::sync::Arc;

use bindery_artifacts::Artifacts;
use bindery_core::{
    Cursor, MAX_ANSWER_BYTES, ModelName, PageRequest, Registered, Role, Store, VersionStatus,
};
use bindery_proto::auth::AuthMode;
use bindery_proto::status_from_error;
use bindery_proto::v1::{self, registry_service_server::RegistryService};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::auth::Caller;
pub use crate::auth::{bootstrap_admin, verify_audit};
pub use crate::delivery::{DeliveryWorker, Sender, WebhookSettings, delivery_loop, spawn_delivery_loop};
pub use crate::rollout::{ROLLOUT_ACTOR, rollout_loop};
pub use crate::webhook::Webhooks;
pub use bindery_proto::auth::{ACTOR_HEADER, REQUEST_ID_HEADER};

/// `RegistryService` and `ResolverService` over a [`Store`], with [`Artifacts`] for what lives
/// in object storage. Every call is authenticated (unless `auth` is off) and needs a role.
#[derive(Clone)]
pub struct Primary {
    store: Arc<dyn Store>,
    artifacts: Arc<Artifacts>,
    auth: AuthMode,
    jwt: Option<Arc<bindery_auth::JwtVerifier>>,
    certs: Arc<bindery_auth::ClientCertPrincipals>,
    promotion_ttl: std::time::Duration,
    webhooks: Arc<Webhooks>,
}

impl Primary {
    /// Whether `req` changes only the shadows of its binding's current target and the caller is
    /// a CONTRIBUTOR on the model: then it is pinned to the generation that was checked, so a
    /// concurrent move of the sides makes it ABORTED instead of slipping through.
    async fn shadows_only(
        &self,
        caller: &Caller,
        req: &mut bindery_core::SetBinding,
    ) -> Result<bool, Status> {
        if caller.require(Role::Contributor, &req.model).is_err() {
            return Ok(false);
        }
        let bindings = self.store.list_bindings(&req.model).await.map_err(status_from_error)?;
        let Some(current) = bindings.into_iter().find(|b| b.name == req.name) else { return Ok(false) };
        if req.expected_generation.is_some_and(|g| g != current.generation) {
            return Ok(false);
        }
        let before =
            current.traffic.unwrap_or_else(|| bindery_core::traffic::Traffic::single(current.version));
        let after =
            req.traffic.clone().unwrap_or_else(|| bindery_core::traffic::Traffic::single(req.version));
        if !after.only_shadows_differ(&before) {
            return Ok(false);
        }
        req.expected_generation = Some(current.generation);
        Ok(true)
    }
    pub fn new(store: Arc<dyn Store>, artifacts: Arc<Artifacts>, auth: AuthMode) -> Self {
        Self {
            store,
            artifacts,
            auth,
            jwt: None,
            certs: Arc::default(),
            promotion_ttl: bindery_core::promotion::DEFAULT_REQUEST_TTL,
            webhooks: Arc::new(Webhooks::new(WebhookSettings::default())),
        }
    }

    /// Webhook settings (allowed hosts, retries) for the RPCs; the same `webhooks` should drive
    /// [`delivery_loop`].
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Arc<Webhooks>) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// How long a promotion request waits for its approvals before it expires.
    #[must_use]
    pub fn with_promotion_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.promotion_ttl = ttl;
        self
    }

    /// Also accepts JWTs this verifier accepts.
    #[must_use]
    pub fn with_jwt(mut self, jwt: Option<Arc<bindery_auth::JwtVerifier>>) -> Self {
        self.jwt = jwt;
        self
    }

    /// The artifact side this primary verifies and presigns with.
    pub fn artifacts(&self) -> &Arc<Artifacts> {
        &self.artifacts
    }

    /// Authenticates a call that carries `metadata` (as method `method`) and finds the first of
    /// `candidates` that exists, once the caller is found to hold `need` on it. For front ends
    /// that move object-store bytes for a caller by path (the MLflow facade's artifact endpoints,
    /// where `fraud/detector/...` may belong to model `fraud/detector` or `fraud`): existence is
    /// looked up regardless of the caller's view, so a model the caller may not see is denied,
    /// never skipped for a shorter name. `None` when no candidate exists (after checking the
    /// caller holds `need` on the last, so a refusal does not depend on what exists).
    pub async fn authorize_first_existing(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        method: &'static str,
        need: Role,
        candidates: &[ModelName],
    ) -> Result<Option<ModelName>, Status> {
        let caller =
            auth::authenticate(self.store.as_ref(), self.auth, self.jwt.as_deref(), metadata, None, method)
                .await?;
        for name in candidates {
            match self.store.get_model(name).await {
                Ok(_) => {
                    caller.require(need, name)?;
                    return Ok(Some(name.clone()));
                }
                Err(bindery_core::Error::NotFound(_)) => {}
                Err(e) => return Err(status_from_error(e)),
            }
        }
        if let Some(last) = candidates.last() {
            caller.require(need, last)?;
        }
        Ok(None)
    }

    /// The highest role the caller of `metadata` holds on `model`, decided by the same policy
    /// every RPC uses; for front ends that show only what the caller may do (the web console).
    pub async fn role_on_model(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        model: &ModelName,
    ) -> Result<Option<Role>, Status> {
        let caller = auth::authenticate(
            self.store.as_ref(),
            self.auth,
            self.jwt.as_deref(),
            metadata,
            None,
            "RoleOnModel",
        )
        .await?;
        Ok(caller.role_on(model))
    }

    async fn caller<T>(&self, request: &Request<T>, method: &'static str) -> Result<Caller, Status> {
        let peer_certs = request.peer_certs();
        let client_cert = peer_certs.as_deref().and_then(|c| c.first()).map(|c| self.certs.principal(c));
        auth::authenticate(
            self.store.as_ref(),
            self.auth,
            self.jwt.as_deref(),
            request.metadata(),
            client_cert,
            method,
        )
        .await
    }
}

impl Primary {
    /// Registers `version` for `caller` (RegisterVersion and CopyVersion): a retry is answered
    /// from the store; else the artifact is verified, then the version is written.
    async fn register(
        &self,
        caller: &Caller,
        mut version: bindery_core::NewVersion,
    ) -> RpcResult<v1::RegisterVersionResponse> {
        // An upload session's files, not its id, are part of the payload a retry must match.
        if let Some(id) = &version.upload_session_id {
            let session = self.store.get_upload_session(id).await.map_err(status_from_error)?;
            version.declare_session(&session);
        }
        // A retry of an earlier registration gets the original version without touching the
        // object store (the object may have moved since, or the store may be briefly down).
        if let Some(request_id) = &version.request_id {
            let found = self.store.find_registration(&version.model, request_id).await;
            if let Some((existing, payload)) = found.map_err(status_from_error)? {
                version.check_retry(&payload, existing.version).map_err(status_from_error)?;
                let retry = Registered { revision: existing.revision, version: existing, created: false };
                return Ok(Response::new(retry.into()));
            }
        }
        // Verify (or complete an upload session) before the transaction: a version never points
        // at nothing, and nothing is registered when the object store says no.
        self.artifacts.prepare(self.store.as_ref(), &mut version).await.map_err(status_from_error)?;
        let registered =
            self.store.register_version(&caller.ctx, version).await.map_err(status_from_error)?;
        Ok(Response::new(registered.into()))
    }
}

/// Decodes a request into a domain value, mapping validation errors to `InvalidArgument`.
fn decode<T, D>(message: T) -> Result<D, Status>
where
    D: TryFrom<T, Error = bindery_core::Error>,
{
    D::try_from(message).map_err(status_from_error)
}

fn name(field: &str, value: String) -> Result<ModelName, Status> {
    ModelName::parse(field, value).map_err(status_from_error)
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl RegistryService for Primary {
    #[tracing::instrument(skip_all, fields(model = %request.get_ref().name))]
    async fn create_model(&self, request: Request<v1::CreateModelRequest>) -> RpcResult<v1::Model> {
        let caller = self.caller(&request, "CreateModel").await?;
        let model: bindery_core::NewModel = decode(request.into_inner())?;
        caller.require(Role::Contributor, &model.name)?;
        let created = self.store.create_model(&caller.ctx, model).await.map_err(status_from_error)?;
        Ok(Response::new(created.into()))
    }

    async fn get_model(&self, request: Request<v1::GetModelRequest>) -> RpcResult<v1::Model> {
        let caller = self.caller(&request, "GetModel").await?;
        let name = name("name", request.into_inner().name)?;
        caller.require(Role::Viewer, &name)?;
        let model = self.store.get_model(&name).await.map_err(status_from_error)?;
        Ok(Response::new(model.into()))
    }

    /// The models the caller may view (a page may hold fewer than `page_size` when some are
    /// hidden; follow `next_page_token` to the end).
    async fn list_models(
        &self,
        request: Request<v1::ListModelsRequest>,
    ) -> RpcResult<v1::ListModelsResponse> {
        let caller = self.caller(&request, "ListModels").await?;
        caller.require_any()?;
        let r = request.into_inner();
        if !r.filter.is_empty() || !r.order_by.is_empty() {
            return search::models(self, &caller, r).await;
        }
        let page = PageRequest::parse("models", r.page_size, &r.page_token).map_err(status_from_error)?;
        let mut page = self.store.list_models(page).await.map_err(status_from_error)?;
        page.items.retain(|m| caller.can_view(&m.name));
        let (models, next_page_token) =
            page.into_answer("models", MAX_ANSWER_BYTES, v1::Model::from, Message::encoded_len, |m| {
                Cursor::Name(m.name.as_str().to_owned())
            });
        Ok(Response::new(v1::ListModelsResponse { models, next_page_token }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().name))]
    async fn update_model(&self, request: Request<v1::UpdateModelRequest>) -> RpcResult<v1::Model> {
        let caller = self.caller(&request, "UpdateModel").await?;
        let (name, update): (ModelName, bindery_core::ModelUpdate) = decode(request.into_inner())?;
        caller.require(Role::Contributor, &name)?;
        let model = self.store.update_model(&caller.ctx, &name, update).await.map_err(status_from_error)?;
        Ok(Response::new(model.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().name))]
    async fn delete_model(
        &self,
        request: Request<v1::DeleteModelRequest>,
    ) -> RpcResult<v1::DeleteModelResponse> {
        let caller = self.caller(&request, "DeleteModel").await?;
        let name = name("name", request.into_inner().name)?;
        caller.require(Role::Admin, &name)?;
        let revision = self.store.delete_model(&caller.ctx, &name).await.map_err(status_from_error)?;
        Ok(Response::new(v1::DeleteModelResponse { revision }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name))]
    async fn register_version(
        &self,
        request: Request<v1::RegisterVersionRequest>,
    ) -> RpcResult<v1::RegisterVersionResponse> {
        let caller = self.caller(&request, "RegisterVersion").await?;
        let version: bindery_core::NewVersion = decode(request.into_inner())?;
        caller.require(Role::Contributor, &version.model)?;
        self.register(&caller, version).await
    }

    async fn get_lineage(
        &self,
        request: Request<v1::GetLineageRequest>,
    ) -> RpcResult<v1::GetLineageResponse> {
        let caller = self.caller(&request, "GetLineage").await?;
        lineage::get_lineage(self, &caller, request.into_inner()).await
    }

    async fn copy_version(
        &self,
        request: Request<v1::CopyVersionRequest>,
    ) -> RpcResult<v1::RegisterVersionResponse> {
        let caller = self.caller(&request, "CopyVersion").await?;
        let version = lineage::copy_request(self, &caller, request.into_inner()).await?;
        self.register(&caller, version).await
    }

    async fn set_card(&self, request: Request<v1::SetCardRequest>) -> RpcResult<v1::Card> {
        let caller = self.caller(&request, "SetCard").await?;
        annotations::set_card(self, &caller, request.into_inner()).await
    }

    async fn get_card(&self, request: Request<v1::GetCardRequest>) -> RpcResult<v1::Card> {
        let caller = self.caller(&request, "GetCard").await?;
        annotations::get_card(self, &caller, request.into_inner()).await
    }

    async fn list_card_history(
        &self,
        request: Request<v1::ListCardHistoryRequest>,
    ) -> RpcResult<v1::ListCardHistoryResponse> {
        let caller = self.caller(&request, "ListCardHistory").await?;
        annotations::card_history(self, &caller, request.into_inner()).await
    }

    async fn add_annotation(&self, request: Request<v1::AddAnnotationRequest>) -> RpcResult<v1::Annotation> {
        let caller = self.caller(&request, "AddAnnotation").await?;
        annotations::add(self, &caller, request.into_inner()).await
    }

    async fn list_annotations(
        &self,
        request: Request<v1::ListAnnotationsRequest>,
    ) -> RpcResult<v1::ListAnnotationsResponse> {
        let caller = self.caller(&request, "ListAnnotations").await?;
        annotations::list(self, &caller, request.into_inner()).await
    }

    async fn remove_annotation(
        &self,
        request: Request<v1::RemoveAnnotationRequest>,
    ) -> RpcResult<v1::RemoveAnnotationResponse> {
        let caller = self.caller(&request, "RemoveAnnotation").await?;
        annotations::remove(self, &caller, request.into_inner()).await
    }

    async fn get_version(&self, request: Request<v1::GetVersionRequest>) -> RpcResult<v1::ModelVersion> {
        let caller = self.caller(&request, "GetVersion").await?;
        let lookup: bindery_core::VersionLookup = decode(request.into_inner())?;
        caller.require(Role::Viewer, lookup.model())?;
        let version = match &lookup {
            bindery_core::VersionLookup::Number(key) => self.store.get_version(key).await,
            bindery_core::VersionLookup::Bound(model, binding) => {
                self.store.get_bound_version(model, binding).await
            }
        }
        .map_err(status_from_error)?;
        Ok(Response::new(version.into()))
    }

    async fn list_versions(
        &self,
        request: Request<v1::ListVersionsRequest>,
    ) -> RpcResult<v1::ListVersionsResponse> {
        let caller = self.caller(&request, "ListVersions").await?;
        let r = request.into_inner();
        if !r.filter.is_empty() || !r.order_by.is_empty() || r.model_name.is_empty() {
            return search::versions(self, &caller, r).await;
        }
        let (model, page): (ModelName, PageRequest) = decode(r)?;
        caller.require(Role::Viewer, &model)?;
        let (versions, next_page_token) = self
            .store
            .list_versions(&model, page)
            .await
            .map_err(status_from_error)?
            .into_answer("versions", MAX_ANSWER_BYTES, v1::ModelVersion::from, Message::encoded_len, |v| {
                Cursor::Number(v.version)
            });
        Ok(Response::new(v1::ListVersionsResponse { versions, next_page_token }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, version = request.get_ref().version))]
    async fn update_version(
        &self,
        request: Request<v1::UpdateVersionRequest>,
    ) -> RpcResult<v1::ModelVersion> {
        let caller = self.caller(&request, "UpdateVersion").await?;
        let (key, update): (bindery_core::VersionKey, bindery_core::VersionUpdate) =
            decode(request.into_inner())?;
        caller.require(Role::Contributor, &key.model)?;
        let version =
            self.store.update_version(&caller.ctx, &key, update).await.map_err(status_from_error)?;
        Ok(Response::new(version.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, version = request.get_ref().version))]
    async fn archive_version(
        &self,
        request: Request<v1::ArchiveVersionRequest>,
    ) -> RpcResult<v1::ModelVersion> {
        let caller = self.caller(&request, "ArchiveVersion").await?;
        let key: bindery_core::VersionKey = decode(request.into_inner())?;
        caller.require(Role::Contributor, &key.model)?;
        let version = self.store.archive_version(&caller.ctx, &key).await.map_err(status_from_error)?;
        Ok(Response::new(version.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, version = request.get_ref().version))]
    async fn delete_version(
        &self,
        request: Request<v1::DeleteVersionRequest>,
    ) -> RpcResult<v1::DeleteVersionResponse> {
        let caller = self.caller(&request, "DeleteVersion").await?;
        let key: bindery_core::VersionKey = decode(request.into_inner())?;
        caller.require(Role::Admin, &key.model)?;
        let revision = self.store.delete_version(&caller.ctx, &key).await.map_err(status_from_error)?;
        Ok(Response::new(v1::DeleteVersionResponse { revision }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name))]
    async fn create_upload_session(
        &self,
        request: Request<v1::CreateUploadSessionRequest>,
    ) -> RpcResult<v1::UploadSession> {
        let caller = self.caller(&request, "CreateUploadSession").await?;
        let (model, files): (ModelName, _) = decode(request.into_inner())?;
        caller.require(Role::Contributor, &model)?;
        let grant = self
            .artifacts
            .create_upload_session(self.store.as_ref(), &caller.ctx, model, files)
            .await
            .map_err(status_from_error)?;
        Ok(Response::new(grant.into()))
    }

    async fn get_download_urls(
        &self,
        request: Request<v1::GetDownloadUrlsRequest>,
    ) -> RpcResult<v1::GetDownloadUrlsResponse> {
        let caller = self.caller(&request, "GetDownloadUrls").await?;
        let (key, page): (bindery_core::VersionKey, PageRequest) = decode(request.into_inner())?;
        caller.require(Role::Viewer, &key.model)?;
        let version = self.store.get_version(&key).await.map_err(status_from_error)?;
        if version.status == VersionStatus::Deleted {
            return Err(Status::failed_precondition(format!(
                "version {} of model '{}' is deleted; its files are not served",
                key.version, key.model
            )));
        }
        let urls = self.artifacts.download_urls(&version.artifact, &page).await.map_err(status_from_error)?;
        let next_page_token = urls.next_token("files");
        Ok(Response::new(v1::GetDownloadUrlsResponse {
            files: urls.items.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, binding = %request.get_ref().binding))]
    async fn set_binding(
        &self,
        request: Request<v1::SetBindingRequest>,
    ) -> RpcResult<v1::SetBindingResponse> {
        let caller = self.caller(&request, "SetBinding").await?;
        let mut req: bindery_core::SetBinding = decode(request.into_inner())?;
        if let Err(denied) = caller.require_bindings(&req.model, [&req.name]) {
            // Shadows serve no user: changing them alone needs only CONTRIBUTOR.
            if !self.shadows_only(&caller, &mut req).await? {
                return Err(denied);
            }
        }
        let written = self.store.set_binding(&caller.ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(written.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name))]
    async fn set_bindings(
        &self,
        request: Request<v1::SetBindingsRequest>,
    ) -> RpcResult<v1::SetBindingsResponse> {
        let caller = self.caller(&request, "SetBindings").await?;
        let req: bindery_core::SetBindings = decode(request.into_inner())?;
        caller.require_bindings(&req.model, req.bindings.iter().map(|b| &b.name))?;
        let written = self.store.set_bindings(&caller.ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(written.into()))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, binding = %request.get_ref().binding))]
    async fn delete_binding(
        &self,
        request: Request<v1::DeleteBindingRequest>,
    ) -> RpcResult<v1::DeleteBindingResponse> {
        let caller = self.caller(&request, "DeleteBinding").await?;
        let req: bindery_core::DeleteBinding = decode(request.into_inner())?;
        caller.require_bindings(&req.model, [&req.name])?;
        let revision = self.store.delete_binding(&caller.ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(v1::DeleteBindingResponse { revision }))
    }

    async fn list_bindings(
        &self,
        request: Request<v1::ListBindingsRequest>,
    ) -> RpcResult<v1::ListBindingsResponse> {
        let caller = self.caller(&request, "ListBindings").await?;
        let model = name("model_name", request.into_inner().model_name)?;
        caller.require(Role::Viewer, &model)?;
        let bindings = self.store.list_bindings(&model).await.map_err(status_from_error)?;
        Ok(Response::new(v1::ListBindingsResponse {
            bindings: bindings.into_iter().map(Into::into).collect(),
        }))
    }

    async fn list_binding_history(
        &self,
        request: Request<v1::ListBindingHistoryRequest>,
    ) -> RpcResult<v1::ListBindingHistoryResponse> {
        let caller = self.caller(&request, "ListBindingHistory").await?;
        let (model, binding, page): (ModelName, bindery_core::BindingName, PageRequest) =
            decode(request.into_inner())?;
        caller.require(Role::Viewer, &model)?;
        let (entries, next_page_token) =
            self.store.binding_history(&model, &binding, page).await.map_err(status_from_error)?.into_answer(
                "history",
                MAX_ANSWER_BYTES,
                v1::BindingHistoryEntry::from,
                Message::encoded_len,
                |e| Cursor::Number(e.generation),
            );
        Ok(Response::new(v1::ListBindingHistoryResponse { entries, next_page_token }))
    }

    #[tracing::instrument(skip_all, fields(model = %request.get_ref().model_name, binding = %request.get_ref().binding))]
    async fn rollback_binding(
        &self,
        request: Request<v1::RollbackBindingRequest>,
    ) -> RpcResult<v1::SetBindingResponse> {
        let caller = self.caller(&request, "RollbackBinding").await?;
        let req: bindery_core::RollbackBinding = decode(request.into_inner())?;
        caller.require_bindings(&req.model, [&req.name])?;
        promotion::check_rollback(self, &caller, &req).await?;
        let written = self.store.rollback_binding(&caller.ctx, req).await.map_err(status_from_error)?;
        Ok(Response::new(written.into()))
    }

    async fn create_token(
        &self,
        request: Request<v1::CreateTokenRequest>,
    ) -> RpcResult<v1::CreateTokenResponse> {
        access::create_token(self, request).await
    }

    async fn list_tokens(
        &self,
        request: Request<v1::ListTokensRequest>,
    ) -> RpcResult<v1::ListTokensResponse> {
        access::list_tokens(self, request).await
    }

    async fn revoke_token(
        &self,
        request: Request<v1::RevokeTokenRequest>,
    ) -> RpcResult<v1::RevokeTokenResponse> {
        access::revoke_token(self, request).await
    }

    async fn create_grant(
        &self,
        request: Request<v1::CreateGrantRequest>,
    ) -> RpcResult<v1::CreateGrantResponse> {
        access::create_grant(self, request).await
    }

    async fn delete_grant(
        &self,
        request: Request<v1::DeleteGrantRequest>,
    ) -> RpcResult<v1::DeleteGrantResponse> {
        access::delete_grant(self, request).await
    }

    async fn list_grants(
        &self,
        request: Request<v1::ListGrantsRequest>,
    ) -> RpcResult<v1::ListGrantsResponse> {
        access::list_grants(self, request).await
    }

    async fn who_am_i(&self, request: Request<v1::WhoAmIRequest>) -> RpcResult<v1::WhoAmIResponse> {
        access::who_am_i(self, request).await
    }

    async fn set_promotion_policy(
        &self,
        request: Request<v1::SetPromotionPolicyRequest>,
    ) -> RpcResult<v1::SetPromotionPolicyResponse> {
        promotion::set_policy(self, request).await
    }

    async fn get_promotion_policy(
        &self,
        request: Request<v1::GetPromotionPolicyRequest>,
    ) -> RpcResult<v1::GetPromotionPolicyResponse> {
        promotion::get_policy(self, request).await
    }

    async fn list_promotion_policies(
        &self,
        request: Request<v1::ListPromotionPoliciesRequest>,
    ) -> RpcResult<v1::ListPromotionPoliciesResponse> {
        promotion::list_policies(self, request).await
    }

    async fn delete_promotion_policy(
        &self,
        request: Request<v1::DeletePromotionPolicyRequest>,
    ) -> RpcResult<v1::DeletePromotionPolicyResponse> {
        promotion::delete_policy(self, request).await
    }

    async fn request_promotion(
        &self,
        request: Request<v1::RequestPromotionRequest>,
    ) -> RpcResult<v1::PromotionResponse> {
        promotion::request_promotion(self, request).await
    }

    async fn approve_promotion(
        &self,
        request: Request<v1::ApprovePromotionRequest>,
    ) -> RpcResult<v1::PromotionResponse> {
        let caller = self.caller(&request, "ApprovePromotion").await?;
        let r = request.into_inner();
        promotion::decide(self, caller, bindery_core::PromotionAct::Approve { id: r.id, comment: r.comment })
            .await
    }

    async fn reject_promotion(
        &self,
        request: Request<v1::RejectPromotionRequest>,
    ) -> RpcResult<v1::PromotionResponse> {
        let caller = self.caller(&request, "RejectPromotion").await?;
        let r = request.into_inner();
        promotion::decide(self, caller, bindery_core::PromotionAct::Reject { id: r.id, comment: r.comment })
            .await
    }

    async fn cancel_promotion(
        &self,
        request: Request<v1::CancelPromotionRequest>,
    ) -> RpcResult<v1::PromotionResponse> {
        let caller = self.caller(&request, "CancelPromotion").await?;
        let id = request.into_inner().id;
        promotion::decide(self, caller, bindery_core::PromotionAct::Cancel { id }).await
    }

    async fn evaluate_promotion(
        &self,
        request: Request<v1::EvaluatePromotionRequest>,
    ) -> RpcResult<v1::EvaluatePromotionResponse> {
        promotion::evaluate(self, request).await
    }

    async fn get_promotion_request(
        &self,
        request: Request<v1::GetPromotionRequestRequest>,
    ) -> RpcResult<v1::PromotionRequest> {
        promotion::get_request(self, request).await
    }

    async fn list_promotion_requests(
        &self,
        request: Request<v1::ListPromotionRequestsRequest>,
    ) -> RpcResult<v1::ListPromotionRequestsResponse> {
        promotion::list_requests(self, request).await
    }

    async fn set_binding_protection(
        &self,
        request: Request<v1::SetBindingProtectionRequest>,
    ) -> RpcResult<v1::SetBindingProtectionResponse> {
        access::set_binding_protection(self, request).await
    }

    async fn list_binding_protections(
        &self,
        request: Request<v1::ListBindingProtectionsRequest>,
    ) -> RpcResult<v1::ListBindingProtectionsResponse> {
        access::list_binding_protections(self, request).await
    }

    async fn list_audit_events(
        &self,
        request: Request<v1::ListAuditEventsRequest>,
    ) -> RpcResult<v1::ListAuditEventsResponse> {
        access::list_audit_events(self, request).await
    }

    async fn verify_audit_log(
        &self,
        request: Request<v1::VerifyAuditLogRequest>,
    ) -> RpcResult<v1::VerifyAuditLogResponse> {
        access::verify_audit_log(self, request).await
    }

    async fn start_rollout(&self, request: Request<v1::StartRolloutRequest>) -> RpcResult<v1::Rollout> {
        rollout::start(self, request).await
    }

    async fn pause_rollout(&self, request: Request<v1::PauseRolloutRequest>) -> RpcResult<v1::Rollout> {
        let caller = self.caller(&request, "PauseRollout").await?;
        let r = request.into_inner();
        rollout::act(self, &caller, r.id, bindery_core::rollout::RolloutAct::Pause, &r.reason).await
    }

    async fn resume_rollout(&self, request: Request<v1::ResumeRolloutRequest>) -> RpcResult<v1::Rollout> {
        let caller = self.caller(&request, "ResumeRollout").await?;
        let r = request.into_inner();
        rollout::act(self, &caller, r.id, bindery_core::rollout::RolloutAct::Resume, &r.reason).await
    }

    async fn abort_rollout(&self, request: Request<v1::AbortRolloutRequest>) -> RpcResult<v1::Rollout> {
        let caller = self.caller(&request, "AbortRollout").await?;
        let r = request.into_inner();
        rollout::act(self, &caller, r.id, bindery_core::rollout::RolloutAct::Abort, &r.reason).await
    }

    async fn get_rollout(&self, request: Request<v1::GetRolloutRequest>) -> RpcResult<v1::Rollout> {
        rollout::get(self, request).await
    }

    async fn list_rollouts(
        &self,
        request: Request<v1::ListRolloutsRequest>,
    ) -> RpcResult<v1::ListRolloutsResponse> {
        rollout::list(self, request).await
    }

    async fn create_webhook(
        &self,
        r: Request<v1::CreateWebhookRequest>,
    ) -> RpcResult<v1::CreateWebhookResponse> {
        webhook::create(self, r).await
    }

    async fn update_webhook(
        &self,
        r: Request<v1::UpdateWebhookRequest>,
    ) -> RpcResult<v1::UpdateWebhookResponse> {
        webhook::update(self, r).await
    }

    async fn delete_webhook(
        &self,
        r: Request<v1::DeleteWebhookRequest>,
    ) -> RpcResult<v1::DeleteWebhookResponse> {
        webhook::delete(self, r).await
    }

    async fn get_webhook(&self, r: Request<v1::GetWebhookRequest>) -> RpcResult<v1::Webhook> {
        webhook::get(self, r).await
    }

    async fn list_webhooks(
        &self,
        r: Request<v1::ListWebhooksRequest>,
    ) -> RpcResult<v1::ListWebhooksResponse> {
        webhook::list(self, r).await
    }

    async fn test_webhook(&self, r: Request<v1::TestWebhookRequest>) -> RpcResult<v1::TestWebhookResponse> {
        webhook::test(self, r).await
    }

    async fn list_webhook_deliveries(
        &self,
        r: Request<v1::ListWebhookDeliveriesRequest>,
    ) -> RpcResult<v1::ListWebhookDeliveriesResponse> {
        webhook::deliveries(self, r).await
    }

    async fn redeliver_webhook(
        &self,
        r: Request<v1::RedeliverWebhookRequest>,
    ) -> RpcResult<v1::RedeliverWebhookResponse> {
        webhook::redeliver(self, r).await
    }

    type WatchEventsStream = webhook::EventStream;

    async fn watch_events(&self, r: Request<v1::WatchEventsRequest>) -> RpcResult<Self::WatchEventsStream> {
        webhook::watch(self, r).await
    }
}
